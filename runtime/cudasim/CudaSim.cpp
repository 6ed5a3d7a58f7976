//===- CudaSim.cpp - A CUDA driver that runs PTX on the CPU ---------------===//
//
// libzamba2_cudasim.so exports the driver functions runtime/cuda loads
// (runtime/cuda/DriverFunctions.def), so that pointing the runtime at it
// ($ZAMBA2_LIBCUDA) runs a CUDA package on a machine without a GPU:
//
//   ZAMBA2_LIBCUDA=libzamba2_cudasim.so zamba2-run PKG ...
//
// for a package compiled with `zamba2-compile --target cuda
// --gpu-binary=ptx` (the simulator reads PTX, not cubin). Device memory is
// host memory; every operation runs when it is issued (streams are in order
// anyway, and events time the simulation); a stream capture records the
// operations and a graph launch replays them. Kernels run in the
// interpreter (PtxInterpreter.cpp), which checks every global access
// against the memory this driver handed out or was given
// (cuMemHostRegister) and fails the launch on any other, with the kernel,
// block, thread and PTX line in the error text (cuGetErrorString of the
// failure), as it does for a shared-memory race (two threads of a block
// touching a word between two barriers, one of them writing), a race
// between the blocks of a launch (two blocks touching a byte of global
// memory, one of them storing, unless both atomically or ordered by
// release/acquire: GlobalRaces), a deadlock and a spin that nothing can end
// (the blocks of a launch run one after another). Fresh device memory and
// shared memory hold NaN bits (0xff), so that reading what nobody wrote
// shows.
//
// Not a performance model: it says whether kernels compute the right
// numbers, not how fast. One device, compute capability 9.0.
// $ZAMBA2_CUDASIM_STATS=1 prints, at exit, each kernel's launches and the
// PTX instructions its threads ran; $ZAMBA2_CUDASIM_RACES=0 turns the race
// check between blocks off (faster).
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/CudaDriver.h"
#include "runtime/cudasim/Ptx.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

using namespace zamba2::ptxsim;
// The driver API's types and constants, as the runtime that loads this
// library declares them.
using namespace zamba2::cuda;

namespace {

enum : int {
  kSuccess = CUDA_SUCCESS,
  kInvalidValue = CUDA_ERROR_INVALID_VALUE,
  kOutOfMemory = CUDA_ERROR_OUT_OF_MEMORY,
  kNotInitialized = CUDA_ERROR_NOT_INITIALIZED,
  // The runtime has no names for these.
  kInvalidDevice = 101,
  kNoBinaryForGpu = 209,
  kInvalidPtx = 218,
  kInvalidHandle = 400,
  kNotFound = CUDA_ERROR_NOT_FOUND,
  kLaunchFailed = 719,
  kNotSupported = 801,
};

struct SimModule;

struct SimFunction {
  SimModule *module = nullptr;
  const Function *kernel = nullptr;
};

struct SimModule {
  std::unique_ptr<Module> ptx;
  std::map<std::string, std::unique_ptr<SimFunction>> functions;
};

/// One operation of a captured stream.
struct Recorded {
  enum Kind { Launch, Copy, Set, Event } kind = Launch;
  SimFunction *function = nullptr;
  LaunchDims dims;
  std::vector<std::vector<uint8_t>> params;
  void *dst = nullptr; // Event: the SimEvent
  const void *src = nullptr;
  size_t bytes = 0;          // Copy: bytes; Set: elements
  unsigned value = 0;        // Set
  unsigned elementBytes = 1; // Set
  bool dependent = false;    // Launch: a programmatic dependent launch
};

/// The last operation run on a stream, when it was a kernel launch: the
/// launches a dependent launch after it may overlap (DependentLaunch), that
/// one first, with the global bytes each wrote.
struct LastLaunch {
  bool valid = false;
  std::vector<KernelWrites> running;
};

struct SimStream {
  bool capturing = false;
  std::vector<Recorded> captured;
  LastLaunch last;
};

struct SimGraph {
  std::vector<Recorded> ops;
};

struct SimEvent {
  std::chrono::steady_clock::time_point at;
};

std::mutex mutex;
bool initialized = false;
int contextToken;
MemoryMap memory;
/// The race check between the blocks of each launch (off with
/// $ZAMBA2_CUDASIM_RACES=0).
GlobalRaces races;
bool checkRaces = true;
/// Per kernel: launches and instructions run ($ZAMBA2_CUDASIM_STATS).
struct KernelStats {
  uint64_t launches = 0, instructions = 0;
};
std::map<std::string, KernelStats> *stats = nullptr;

void printStats() {
  uint64_t launches = 0, instructions = 0;
  for (const auto &[name, k] : *stats) {
    std::fprintf(stderr,
                 "zamba2 cudasim: %-28s %8llu launches %14llu instructions\n",
                 name.c_str(), static_cast<unsigned long long>(k.launches),
                 static_cast<unsigned long long>(k.instructions));
    launches += k.launches;
    instructions += k.instructions;
  }
  std::fprintf(stderr,
               "zamba2 cudasim: %-28s %8llu launches %14llu instructions\n",
               "total", static_cast<unsigned long long>(launches),
               static_cast<unsigned long long>(instructions));
}

/// The text of the last failure, for cuGetErrorString.
int lastErrorCode = 0;
std::string lastErrorText;

CUresult failWith(int code, const std::string &text) {
  lastErrorCode = code;
  lastErrorText = text;
  return code;
}

CUresult allocate(CUdeviceptr *p, size_t bytes) {
  if (!p || bytes == 0)
    return failWith(kInvalidValue, "cuMemAlloc of 0 bytes");
  void *q = std::malloc(bytes);
  if (!q)
    return failWith(kOutOfMemory, "cuMemAlloc of " + std::to_string(bytes) +
                                      " bytes: out of host memory");
  std::memset(q, 0xff, bytes);
  std::lock_guard<std::mutex> lock(mutex);
  memory.add(q, bytes);
  *p = reinterpret_cast<CUdeviceptr>(q);
  return kSuccess;
}

/// Whether [p, p + bytes) is device memory (an allocation or a registered
/// host range).
bool isDevice(const void *p, size_t bytes) {
  uint64_t start, end;
  std::lock_guard<std::mutex> lock(mutex);
  return bytes == 0 ||
         memory.contains(reinterpret_cast<uint64_t>(p), bytes, start, end);
}

/// The null stream's LastLaunch.
LastLaunch nullStreamLast;

/// Forgets every stream's last launch (a synchronisation or a free orders
/// what comes after it fully), under `mutex`.
std::vector<SimStream *> streams;
void forgetLastLaunches() {
  nullStreamLast.valid = false;
  for (SimStream *s : streams)
    s->last.valid = false;
}

/// Runs `r`; `last` is its stream's last launch (updated).
CUresult run(const Recorded &r, LastLaunch &last) {
  switch (r.kind) {
  case Recorded::Event: {
    // A node between two kernels ends their dependent launch, as on a GPU.
    std::lock_guard<std::mutex> lock(mutex);
    last.valid = false;
    static_cast<SimEvent *>(r.dst)->at = std::chrono::steady_clock::now();
    return kSuccess;
  }
  case Recorded::Copy: {
    std::lock_guard<std::mutex> lock(mutex);
    last.valid = false;
    std::memmove(r.dst, r.src, r.bytes);
    // Device to device: the destination is data kernels work on (copies
    // from the host, the weights among them, stay untracked until a kernel
    // stores to them).
    uint64_t start, end;
    if (r.bytes &&
        memory.contains(reinterpret_cast<uint64_t>(r.src), r.bytes, start,
                        end) &&
        memory.contains(reinterpret_cast<uint64_t>(r.dst), r.bytes, start, end))
      races.track(start);
    return kSuccess;
  }
  case Recorded::Set: {
    std::lock_guard<std::mutex> lock(mutex);
    last.valid = false;
    // A memset readies memory for kernels (the runtime zeroes its states
    // so): tracked from here, so that a launch's first stores to it are
    // checked against its earlier loads too.
    uint64_t start, end;
    if (r.bytes && memory.contains(reinterpret_cast<uint64_t>(r.dst),
                                   r.bytes * r.elementBytes, start, end))
      races.track(start);
    for (size_t i = 0; i < r.bytes; ++i)
      std::memcpy(static_cast<uint8_t *>(r.dst) + i * r.elementBytes, &r.value,
                  r.elementBytes);
    return kSuccess;
  }
  case Recorded::Launch: {
    std::vector<void *> params;
    for (const auto &p : r.params)
      params.push_back(const_cast<uint8_t *>(p.data()));
    std::string error;
    std::lock_guard<std::mutex> lock(mutex);
    uint64_t executed = 0;
    // A dependent launch may overlap the kernel launched just before it,
    // and the ones that kernel may overlap when it signalled its dependents
    // before its own wait (a copy or memset between them orders them
    // fully).
    DependentLaunch dependent;
    if (r.dependent && last.valid)
      dependent.running = &last.running;
    KernelWrites done{r.function->kernel->name, {}, {}};
    bool ok = launch(*r.function->module->ptx, *r.function->kernel, r.dims,
                     params.data(), memory, error, &executed, &dependent,
                     &done.written, checkRaces ? &races : nullptr, &done.read);
    advanceRunning(last.running, std::move(done),
                   dependent.running && dependent.triggeredEarly);
    last.valid = true;
    if (stats) {
      KernelStats &k = (*stats)[r.function->kernel->name];
      ++k.launches;
      k.instructions += executed;
    }
    if (!ok) {
      std::fprintf(stderr, "zamba2 cudasim: %s\n", error.c_str());
      return failWith(kLaunchFailed, error);
    }
    return kSuccess;
  }
  }
  return kSuccess;
}

/// Runs `r` now, or records it when `stream` is being captured.
CUresult issue(void *stream, Recorded r) {
  auto *s = static_cast<SimStream *>(stream);
  if (s && s->capturing) {
    s->captured.push_back(std::move(r));
    return kSuccess;
  }
  return run(r, s ? s->last : nullStreamLast);
}

/// A copy of `bytes`; `dstDevice` / `srcDevice` say which sides must be
/// device memory (checked, like a kernel's accesses).
CUresult copy(void *dst, const void *src, size_t bytes, void *stream,
              bool dstDevice, bool srcDevice) {
  if ((dstDevice && !isDevice(dst, bytes)) ||
      (srcDevice && !isDevice(src, bytes)))
    return failWith(kInvalidValue,
                    "a copy of " + std::to_string(bytes) +
                        " bytes touches device memory outside every "
                        "allocation");
  Recorded r;
  r.kind = Recorded::Copy;
  r.dst = dst;
  r.src = src;
  r.bytes = bytes;
  return issue(stream, std::move(r));
}

CUresult set(CUdeviceptr dst, unsigned value, unsigned elementBytes,
             size_t count, void *stream) {
  if (!isDevice(reinterpret_cast<void *>(dst), count * elementBytes))
    return failWith(kInvalidValue, "a memset of " +
                                       std::to_string(count * elementBytes) +
                                       " bytes outside every allocation");
  Recorded r;
  r.kind = Recorded::Set;
  r.dst = reinterpret_cast<void *>(dst);
  r.value = value;
  r.elementBytes = elementBytes;
  r.bytes = count;
  return issue(stream, std::move(r));
}

const char *errorName(CUresult r) {
  switch (r) {
  case kSuccess:
    return "CUDA_SUCCESS";
  case kInvalidValue:
    return "CUDA_ERROR_INVALID_VALUE";
  case kOutOfMemory:
    return "CUDA_ERROR_OUT_OF_MEMORY";
  case kNotInitialized:
    return "CUDA_ERROR_NOT_INITIALIZED";
  case kInvalidDevice:
    return "CUDA_ERROR_INVALID_DEVICE";
  case kNoBinaryForGpu:
    return "CUDA_ERROR_NO_BINARY_FOR_GPU";
  case kInvalidPtx:
    return "CUDA_ERROR_INVALID_PTX";
  case kInvalidHandle:
    return "CUDA_ERROR_INVALID_HANDLE";
  case kNotFound:
    return "CUDA_ERROR_NOT_FOUND";
  case kLaunchFailed:
    return "CUDA_ERROR_LAUNCH_FAILED";
  case kNotSupported:
    return "CUDA_ERROR_NOT_SUPPORTED";
  default:
    return nullptr;
  }
}

CUresult loadModule(void **out, const void *image, std::string &log) {
  if (!out || !image)
    return kInvalidValue;
  const auto *bytes = static_cast<const unsigned char *>(image);
  if ((bytes[0] == 0x7f && bytes[1] == 'E') ||
      (bytes[0] == 0x50 && bytes[1] == 0xed && bytes[2] == 0x55 &&
       bytes[3] == 0xba)) {
    log = "the CUDA simulator runs PTX, and this module is a cubin or "
          "fatbin: compile the package with --gpu-binary=ptx";
    return failWith(kNoBinaryForGpu, log);
  }
  std::string error;
  auto module = std::make_unique<SimModule>();
  module->ptx = parsePtx(static_cast<const char *>(image), error);
  if (!module->ptx) {
    log = "PTX " + error;
    return failWith(kInvalidPtx, log);
  }
  *out = module.release();
  return kSuccess;
}

} // namespace

#define EXPORT extern "C" __attribute__((visibility("default")))

EXPORT CUresult cuInit(unsigned) {
  const char *wantStats = std::getenv("ZAMBA2_CUDASIM_STATS");
  if (!initialized && wantStats && std::string(wantStats) == "1") {
    stats = new std::map<std::string, KernelStats>;
    std::atexit(printStats);
  }
  const char *wantRaces = std::getenv("ZAMBA2_CUDASIM_RACES");
  checkRaces = !wantRaces || std::string(wantRaces) != "0";
  initialized = true;
  return kSuccess;
}
EXPORT CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return kSuccess;
}
EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
  *s = errorName(r);
  return *s ? kSuccess : kInvalidValue;
}
EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
  if (r == lastErrorCode && !lastErrorText.empty()) {
    *s = lastErrorText.c_str();
    return kSuccess;
  }
  *s = errorName(r);
  return *s ? kSuccess : kInvalidValue;
}
EXPORT CUresult cuDeviceGetCount(int *n) {
  *n = initialized ? 1 : 0;
  return initialized ? kSuccess : kNotInitialized;
}
EXPORT CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return kInvalidDevice;
  *d = 0;
  return kSuccess;
}
EXPORT CUresult cuDeviceGetName(char *name, int len, int) {
  std::snprintf(name, size_t(len), "zamba2 CUDA simulator (PTX on the CPU)");
  return kSuccess;
}
EXPORT CUresult cuDeviceGetAttribute(int *v, int attribute, int) {
  switch (attribute) {
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT:
    *v = 132;
    return kSuccess;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR:
    *v = 9;
    return kSuccess;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR:
    *v = 0;
    return kSuccess;
  case CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY:
  case CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS:
    *v = 1;
    return kSuccess;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *v = 232448;
    return kSuccess;
  default:
    *v = 0;
    return kSuccess;
  }
}
EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, int) {
  *bytes = size_t(16) << 30;
  return kSuccess;
}
EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int) {
  *ctx = &contextToken;
  return kSuccess;
}
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int) { return kSuccess; }
EXPORT CUresult cuCtxSetCurrent(void *ctx) {
  return ctx == &contextToken ? kSuccess : kInvalidValue;
}
EXPORT CUresult cuCtxSynchronize() {
  std::lock_guard<std::mutex> lock(mutex);
  forgetLastLaunches();
  return kSuccess;
}
EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
  *free = *total = size_t(16) << 30;
  return kSuccess;
}
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
  return allocate(p, n);
}
EXPORT CUresult cuMemAllocManaged(CUdeviceptr *p, size_t n, unsigned) {
  return allocate(p, n);
}
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  if (!p)
    return kSuccess;
  void *q = reinterpret_cast<void *>(p);
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (!memory.remove(q))
      return failWith(kInvalidValue,
                      "cuMemFree of a pointer cuMemAlloc did not return");
    races.forget(p);
    forgetLastLaunches(); // synchronous: all work before it has ended
  }
  std::free(q);
  return kSuccess;
}
EXPORT CUresult cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return copy(reinterpret_cast<void *>(d), reinterpret_cast<const void *>(s), n,
              nullptr, true, true);
}
EXPORT CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n,
                              void *stream) {
  return copy(reinterpret_cast<void *>(d), reinterpret_cast<const void *>(s), n,
              stream, true, true);
}
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) {
  return copy(reinterpret_cast<void *>(d), s, n, nullptr, true, false);
}
EXPORT CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) {
  return copy(d, reinterpret_cast<const void *>(s), n, nullptr, false, true);
}
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n,
                                     void *stream) {
  return copy(reinterpret_cast<void *>(d), s, n, stream, true, false);
}
EXPORT CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n,
                                     void *stream) {
  return copy(d, reinterpret_cast<const void *>(s), n, stream, false, true);
}
EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
  return set(d, v, 1, n, nullptr);
}
EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n,
                                void *stream) {
  return set(d, v, 1, n, stream);
}
EXPORT CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n,
                                 void *stream) {
  return set(d, v, 2, n, stream);
}
EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n,
                                 void *stream) {
  return set(d, v, 4, n, stream);
}
EXPORT CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned) {
  std::lock_guard<std::mutex> lock(mutex);
  memory.add(p, n);
  return kSuccess;
}
EXPORT CUresult cuMemHostUnregister(void *p) {
  std::lock_guard<std::mutex> lock(mutex);
  memory.remove(p);
  races.forget(reinterpret_cast<uint64_t>(p));
  return kSuccess;
}
EXPORT CUresult cuModuleLoadData(void **m, const void *image) {
  std::string log;
  return loadModule(m, image, log);
}
EXPORT CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n,
                                   int *options, void **values) {
  std::string log;
  CUresult r = loadModule(m, image, log);
  if (r != kSuccess) {
    char *buffer = nullptr;
    size_t size = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (options[i] == CU_JIT_ERROR_LOG_BUFFER)
        buffer = static_cast<char *>(values[i]);
      else if (options[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
        size = reinterpret_cast<size_t>(values[i]);
    }
    if (buffer && size)
      std::snprintf(buffer, size, "%s", log.c_str());
  }
  return r;
}
EXPORT CUresult cuModuleUnload(void *m) {
  delete static_cast<SimModule *>(m);
  return kSuccess;
}
EXPORT CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  auto *module = static_cast<SimModule *>(m);
  if (!module || !f || !name)
    return kInvalidValue;
  const Function *kernel = module->ptx->kernel(name);
  if (!kernel)
    return failWith(kNotFound,
                    std::string("no kernel '") + name + "' in the module");
  auto &slot = module->functions[name];
  if (!slot) {
    slot = std::make_unique<SimFunction>();
    slot->module = module;
    slot->kernel = kernel;
  }
  *f = slot.get();
  return kSuccess;
}
EXPORT CUresult cuFuncSetAttribute(void *f, int, int) {
  return f ? kSuccess : kInvalidHandle;
}
CUresult launchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                      unsigned bx, unsigned by, unsigned bz, unsigned smem,
                      void *stream, void **params, void **extra,
                      bool dependent) {
  auto *fn = static_cast<SimFunction *>(f);
  if (!fn)
    return kInvalidHandle;
  if (extra)
    return failWith(kNotSupported,
                    "cuLaunchKernel's `extra` parameters are not simulated");
  Recorded r;
  r.kind = Recorded::Launch;
  r.function = fn;
  r.dims.grid[0] = gx;
  r.dims.grid[1] = gy;
  r.dims.grid[2] = gz;
  r.dims.block[0] = bx;
  r.dims.block[1] = by;
  r.dims.block[2] = bz;
  r.dims.dynamicShared = smem;
  r.dependent = dependent;
  const Function &k = *fn->kernel;
  for (size_t i = 0; i < k.params.size(); ++i) {
    if (!params || !params[i])
      return failWith(kInvalidValue, "kernel " + k.name + ": parameter " +
                                         std::to_string(i) + " not given");
    const auto *p = static_cast<const uint8_t *>(params[i]);
    r.params.emplace_back(p, p + k.params[i].size);
  }
  return issue(stream, std::move(r));
}
EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                               unsigned bx, unsigned by, unsigned bz,
                               unsigned smem, void *stream, void **params,
                               void **extra) {
  return launchKernel(f, gx, gy, gz, bx, by, bz, smem, stream, params, extra,
                      /*dependent=*/false);
}
/// Launch attributes change scheduling only (blocks run in turn here); a
/// programmatic dependent launch is checked for what its threads do before
/// griddepcontrol.wait (DependentLaunch in Ptx.h).
EXPORT CUresult cuLaunchKernelEx(const CUlaunchConfig *c, void *f,
                                 void **params, void **extra) {
  bool dependent = false;
  for (unsigned i = 0; i < c->numAttrs; ++i)
    if (c->attrs[i].id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION)
      dependent = c->attrs[i].value.programmaticStreamSerializationAllowed != 0;
  return launchKernel(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX,
                      c->blockDimY, c->blockDimZ, c->sharedMemBytes, c->hStream,
                      params, extra, dependent);
}
EXPORT CUresult cuStreamCreate(void **s, unsigned) {
  auto *stream = new SimStream;
  std::lock_guard<std::mutex> lock(mutex);
  streams.push_back(stream);
  *s = stream;
  return kSuccess;
}
EXPORT CUresult cuStreamSynchronize(void *) {
  std::lock_guard<std::mutex> lock(mutex);
  forgetLastLaunches();
  return kSuccess;
}
EXPORT CUresult cuStreamDestroy_v2(void *s) {
  std::lock_guard<std::mutex> lock(mutex);
  streams.erase(std::remove(streams.begin(), streams.end(), s), streams.end());
  delete static_cast<SimStream *>(s);
  return kSuccess;
}
EXPORT CUresult cuStreamWaitEvent(void *, void *, unsigned) { return kSuccess; }
EXPORT CUresult cuEventCreate(void **e, unsigned) {
  *e = new SimEvent;
  return kSuccess;
}
EXPORT CUresult cuEventRecord(void *e, void *) {
  static_cast<SimEvent *>(e)->at = std::chrono::steady_clock::now();
  return kSuccess;
}
/// With CU_EVENT_RECORD_EXTERNAL in a capture: a node of the graph.
EXPORT CUresult cuEventRecordWithFlags(void *e, void *stream, unsigned flags) {
  auto *s = static_cast<SimStream *>(stream);
  if (!(flags & 1) || !s || !s->capturing)
    return cuEventRecord(e, stream);
  Recorded r;
  r.kind = Recorded::Event;
  r.dst = e;
  return issue(stream, std::move(r));
}
EXPORT CUresult cuEventSynchronize(void *) { return kSuccess; }
EXPORT CUresult cuEventDestroy_v2(void *e) {
  delete static_cast<SimEvent *>(e);
  return kSuccess;
}
EXPORT CUresult cuEventElapsedTime_v2(float *ms, void *a, void *b) {
  auto d = static_cast<SimEvent *>(b)->at - static_cast<SimEvent *>(a)->at;
  *ms = std::chrono::duration<float, std::milli>(d).count();
  return kSuccess;
}
EXPORT CUresult cuStreamBeginCapture_v2(void *s, int) {
  auto *stream = static_cast<SimStream *>(s);
  if (!stream || stream->capturing)
    return kInvalidValue;
  stream->capturing = true;
  stream->captured.clear();
  return kSuccess;
}
EXPORT CUresult cuStreamEndCapture(void *s, void **graph) {
  auto *stream = static_cast<SimStream *>(s);
  if (!stream || !stream->capturing)
    return kInvalidValue;
  auto *g = new SimGraph;
  g->ops = std::move(stream->captured);
  stream->captured.clear();
  stream->capturing = false;
  *graph = g;
  return kSuccess;
}
EXPORT CUresult cuGraphInstantiateWithFlags(void **exec, void *graph,
                                            unsigned long long) {
  *exec = new SimGraph(*static_cast<SimGraph *>(graph));
  return kSuccess;
}
/// A graph's nodes in order; nothing of the stream before the graph
/// overlaps its first node, nor its last node what comes after it.
EXPORT CUresult cuGraphLaunch(void *exec, void *stream) {
  LastLaunch inGraph;
  for (const Recorded &r : static_cast<SimGraph *>(exec)->ops)
    if (CUresult e = run(r, inGraph))
      return e;
  if (auto *s = static_cast<SimStream *>(stream)) {
    std::lock_guard<std::mutex> lock(mutex);
    s->last.valid = false;
  } else {
    std::lock_guard<std::mutex> lock(mutex);
    nullStreamLast.valid = false;
  }
  return kSuccess;
}
EXPORT CUresult cuGraphExecDestroy(void *exec) {
  delete static_cast<SimGraph *>(exec);
  return kSuccess;
}
EXPORT CUresult cuGraphDestroy(void *graph) {
  delete static_cast<SimGraph *>(graph);
  return kSuccess;
}
