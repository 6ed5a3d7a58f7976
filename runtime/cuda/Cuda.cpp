//===- Cuda.cpp - The CUDA backend as the engine sees it ------------------===//

#include "runtime/cuda/Cuda.h"
#include "runtime/cuda/CudaDriver.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace zamba2 {

using namespace cuda;

namespace {

/// The driver with the context current, or null with `err` set (the error
/// is taken from the record, not left there for cudaTakeError).
const DriverApi *readyOrExplain(const char *caller, std::string &err) {
  std::string why;
  const DriverApi *api = driver(&why);
  if (!api) {
    err = why;
    return nullptr;
  }
  if (!enterContext(caller)) {
    if (!takeError(err))
      err = std::string(caller) + ": no CUDA context";
    return nullptr;
  }
  return api;
}

bool deviceAttribute(const DriverApi *api, int attribute, int &value,
                     std::string &err) {
  CUdevice device = 0;
  if (CUresult r = api->cuDeviceGet(&device, currentDevice())) {
    err = formatError(nullptr, "cuDeviceGet", r);
    return false;
  }
  if (CUresult r = api->cuDeviceGetAttribute(&value, attribute, device)) {
    err = formatError(nullptr, "cuDeviceGetAttribute", r);
    return false;
  }
  return true;
}

std::string deviceName(const DriverApi *api) {
  char name[256] = {0};
  CUdevice device = 0;
  if (api->cuDeviceGet(&device, currentDevice()) != CUDA_SUCCESS ||
      api->cuDeviceGetName(name, sizeof(name) - 1, device) != CUDA_SUCCESS)
    return "CUDA device " + std::to_string(currentDevice());
  return name;
}

} // namespace

bool cudaAvailable(std::string &why) {
  // CUDA packages use device memory only (docs/PACKAGE.md).
  return readyOrExplain("cudaAvailable", why) != nullptr;
}

void *cudaAllocManaged(size_t bytes, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaAllocManaged", err);
  if (!api)
    return nullptr;
  CUdeviceptr p = 0;
  if (CUresult r =
          api->cuMemAllocManaged(&p, bytes ? bytes : 1, CU_MEM_ATTACH_GLOBAL)) {
    err = formatError("cudaAllocManaged", "cuMemAllocManaged", r) + " (" +
          std::to_string(bytes) + " bytes)";
    return nullptr;
  }
  return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
}

void cudaFree(void *p) {
  if (!p)
    return;
  if (!enterContext("cudaFree"))
    return;
  const DriverApi *api = driver();
  CUresult r =
      api->cuMemFree(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p)));
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_DEINITIALIZED)
    recordError("cudaFree", "cuMemFree_v2", r);
}

bool cudaSynchronize(std::string &err) {
  const DriverApi *api = readyOrExplain("cudaSynchronize", err);
  if (!api)
    return false;
  if (CUresult r = api->cuCtxSynchronize()) {
    err = formatError("cudaSynchronize", "cuCtxSynchronize", r);
    return false;
  }
  return true;
}

bool cudaTakeError(std::string &message) { return takeError(message); }

bool cudaComputeCapability(int &major, int &minor, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaComputeCapability", err);
  if (!api)
    return false;
  return deviceAttribute(api, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                         major, err) &&
         deviceAttribute(api, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                         minor, err);
}

std::string cudaDeviceDescription() {
  std::string why;
  if (!cudaAvailable(why))
    return "no CUDA GPU: " + why;
  const DriverApi *api = driver();
  int major = 0, minor = 0, sms = 0, count = 0, version = 0;
  std::string err;
  cudaComputeCapability(major, minor, err);
  deviceAttribute(api, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, sms, err);
  api->cuDeviceGetCount(&count);
  api->cuDriverGetVersion(&version);
  size_t total = 0;
  CUdevice device = 0;
  if (api->cuDeviceGet(&device, currentDevice()) == CUDA_SUCCESS)
    api->cuDeviceTotalMem(&total, device);
  char memory[32];
  std::snprintf(memory, sizeof(memory), "%.1f GiB",
                static_cast<double>(total) / (1024.0 * 1024.0 * 1024.0));
  return deviceName(api) + " (device " + std::to_string(currentDevice()) +
         " of " + std::to_string(count) + "): compute capability " +
         std::to_string(major) + "." + std::to_string(minor) + " (sm_" +
         std::to_string(major) + std::to_string(minor) + "), " + memory + ", " +
         std::to_string(sms) + " SMs, driver CUDA " +
         std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

bool cudaCheckTarget(const std::string &gpu, bool ptx, std::string &why) {
  // "sm_" digits, then an optional "a" or "f" suffix.
  size_t i = 3;
  int number = 0;
  bool digits = false;
  if (gpu.compare(0, 3, "sm_") == 0)
    for (; i < gpu.size() && std::isdigit(static_cast<unsigned char>(gpu[i]));
         ++i, digits = true)
      number = number * 10 + (gpu[i] - '0');
  std::string suffix = digits ? gpu.substr(i) : "";
  if (!digits || number < 10 || number > 10000 ||
      !(suffix.empty() || suffix == "a" || suffix == "f")) {
    why = "unknown GPU target '" + gpu + "' (expected e.g. sm_90)";
    return false;
  }
  int major = 0, minor = 0;
  if (!cudaComputeCapability(major, minor, why))
    return false;
  int wantMajor = number / 10, wantMinor = number % 10;
  bool ok;
  if (suffix == "a")
    ok = major == wantMajor && minor == wantMinor;
  else if (ptx)
    ok = major > wantMajor || (major == wantMajor && minor >= wantMinor);
  else
    ok = major == wantMajor && minor >= wantMinor;
  if (!ok) {
    why = "the package's GPU code is for " + gpu + ", but this GPU (" +
          deviceName(driver()) + ") is sm_" + std::to_string(major) +
          std::to_string(minor);
    return false;
  }
  return true;
}

void cudaSetDriverLibrary(const std::string &name) {
  setDriverLibraryName(name);
}

} // namespace zamba2

namespace zamba2 {

namespace {
CUdeviceptr toDevice(const void *p) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
}
} // namespace

void *cudaAllocDevice(size_t bytes, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaAllocDevice", err);
  if (!api)
    return nullptr;
  CUdeviceptr p = 0;
  if (CUresult r = api->cuMemAlloc(&p, bytes ? bytes : 1)) {
    err = formatError("cudaAllocDevice", "cuMemAlloc_v2", r) + " (" +
          std::to_string(bytes) + " bytes)";
    return nullptr;
  }
  return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
}

bool cudaCopyToDevice(void *dst, const void *src, size_t bytes, void *stream,
                      std::string &err) {
  const DriverApi *api = readyOrExplain("cudaCopyToDevice", err);
  if (!api)
    return false;
  CUresult r = stream ? api->cuMemcpyHtoDAsync(toDevice(dst), src, bytes,
                                               static_cast<CUstream>(stream))
                      : api->cuMemcpyHtoD(toDevice(dst), src, bytes);
  if (r != CUDA_SUCCESS)
    err = formatError("cudaCopyToDevice", "cuMemcpyHtoD", r);
  return r == CUDA_SUCCESS;
}

bool cudaCopyToHost(void *dst, const void *src, size_t bytes, void *stream,
                    std::string &err) {
  const DriverApi *api = readyOrExplain("cudaCopyToHost", err);
  if (!api)
    return false;
  CUresult r = stream ? api->cuMemcpyDtoHAsync(dst, toDevice(src), bytes,
                                               static_cast<CUstream>(stream))
                      : api->cuMemcpyDtoH(dst, toDevice(src), bytes);
  if (r != CUDA_SUCCESS)
    err = formatError("cudaCopyToHost", "cuMemcpyDtoH", r);
  return r == CUDA_SUCCESS;
}

bool cudaPinHost(void *p, size_t bytes, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaPinHost", err);
  if (!api)
    return false;
  CUresult r = api->cuMemHostRegister(p, bytes, 0);
  if (r != CUDA_SUCCESS)
    err = formatError("cudaPinHost", "cuMemHostRegister", r);
  return r == CUDA_SUCCESS;
}

void cudaUnpinHost(void *p) {
  std::string ignored;
  if (const DriverApi *api = readyOrExplain("cudaUnpinHost", ignored))
    api->cuMemHostUnregister(p);
}

bool cudaZero(void *dst, size_t bytes, void *stream, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaZero", err);
  if (!api)
    return false;
  CUresult r = stream ? api->cuMemsetD8Async(toDevice(dst), 0, bytes,
                                             static_cast<CUstream>(stream))
                      : api->cuMemsetD8(toDevice(dst), 0, bytes);
  if (r != CUDA_SUCCESS)
    err = formatError("cudaZero", "cuMemsetD8", r);
  return r == CUDA_SUCCESS;
}

void *cudaCreateStream(std::string &err) {
  const DriverApi *api = readyOrExplain("cudaCreateStream", err);
  if (!api)
    return nullptr;
  CUstream stream = nullptr;
  if (CUresult r = api->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING)) {
    err = formatError("cudaCreateStream", "cuStreamCreate", r);
    return nullptr;
  }
  return stream;
}

void cudaDestroyStream(void *stream) {
  if (!stream || !enterContext("cudaDestroyStream"))
    return;
  const DriverApi *api = driver();
  auto s = static_cast<CUstream>(stream);
  api->cuStreamSynchronize(s);
  poolRelease(s);
  CUresult r = api->cuStreamDestroy(s);
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_DEINITIALIZED)
    recordError("cudaDestroyStream", "cuStreamDestroy_v2", r);
}

bool cudaStreamSync(void *stream, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaStreamSync", err);
  if (!api)
    return false;
  if (CUresult r = api->cuStreamSynchronize(static_cast<CUstream>(stream))) {
    err = formatError("cudaStreamSync", "cuStreamSynchronize", r);
    return false;
  }
  return true;
}

CudaCallScope::CudaCallScope(void *stream, bool dependentLaunch) {
  setCallStream(static_cast<CUstream>(stream));
  setDependentLaunch(dependentLaunch);
  poolBeginCall(static_cast<CUstream>(stream));
}

CudaCallScope::~CudaCallScope() {
  setCallStream(nullptr);
  setCapturingCall(false);
  setDependentLaunch(false);
}

CudaEvents::~CudaEvents() {
  const DriverApi *api = driver();
  for (void *e : events)
    if (e && api)
      api->cuEventDestroy(static_cast<CUevent>(e));
}

bool CudaEvents::record(size_t i, void *stream, bool inCapture,
                        std::string &err) {
  const char *caller = "CudaEvents::record";
  const DriverApi *api = readyOrExplain(caller, err);
  if (!api)
    return false;
  if (inCapture && !api->cuEventRecordWithFlags) {
    err = std::string(caller) +
          ": this NVIDIA driver cannot record an event in a CUDA graph";
    return false;
  }
  if (!events[i]) {
    CUevent e = nullptr;
    if (CUresult r = api->cuEventCreate(&e, CU_EVENT_DEFAULT)) {
      err = formatError(caller, "cuEventCreate", r);
      return false;
    }
    events[i] = e;
  }
  auto e = static_cast<CUevent>(events[i]);
  auto s = static_cast<CUstream>(stream);
  CUresult r = inCapture
                   ? api->cuEventRecordWithFlags(e, s, CU_EVENT_RECORD_EXTERNAL)
                   : api->cuEventRecord(e, s);
  if (r)
    err = formatError(
        caller, inCapture ? "cuEventRecordWithFlags" : "cuEventRecord", r);
  return !r;
}

bool CudaEvents::synchronize(size_t i, std::string &err) {
  const char *caller = "CudaEvents::synchronize";
  const DriverApi *api = readyOrExplain(caller, err);
  if (!api)
    return false;
  if (!events[i]) {
    err = std::string(caller) + ": the event was never recorded";
    return false;
  }
  if (CUresult r = api->cuEventSynchronize(static_cast<CUevent>(events[i]))) {
    err = formatError(caller, "cuEventSynchronize", r);
    return false;
  }
  return true;
}

bool CudaEvents::elapsed(size_t from, size_t to, double &seconds,
                         std::string &err) {
  const char *caller = "CudaEvents::elapsed";
  const DriverApi *api = readyOrExplain(caller, err);
  if (!api)
    return false;
  if (!events[from] || !events[to]) {
    err = std::string(caller) + ": an event was never recorded";
    return false;
  }
  float ms = 0;
  if (CUresult r =
          api->cuEventElapsedTime(&ms, static_cast<CUevent>(events[from]),
                                  static_cast<CUevent>(events[to]))) {
    err = formatError(caller, "cuEventElapsedTime", r);
    return false;
  }
  seconds = ms * 1e-3;
  return true;
}

CudaGraph::~CudaGraph() {
  poolPin(blocks, false);
  const DriverApi *api = driver();
  if (!api)
    return;
  if (exec && api->cuGraphExecDestroy)
    api->cuGraphExecDestroy(static_cast<CUgraphExec>(exec));
  if (graph && api->cuGraphDestroy)
    api->cuGraphDestroy(static_cast<CUgraph>(graph));
}

bool CudaGraph::capture(void *stream, const std::function<void()> &body,
                        std::string &err) {
  const DriverApi *api = readyOrExplain("CudaGraph::capture", err);
  if (!api)
    return false;
  if (!api->cuStreamBeginCapture || !api->cuStreamEndCapture ||
      !api->cuGraphInstantiateWithFlags || !api->cuGraphLaunch) {
    err = "this NVIDIA driver has no CUDA graph API (CUDA 11.4+)";
    return false;
  }
  auto s = static_cast<CUstream>(stream);
  if (CUresult r =
          api->cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED)) {
    err = formatError("CudaGraph::capture", "cuStreamBeginCapture", r);
    return false;
  }
  setCapturingCall(true);
  std::vector<CUdeviceptr> used;
  poolLogCapture(&used);
  body();
  poolLogCapture(nullptr);
  setCapturingCall(false);
  // Pinned even when the capture fails below: the destructor unpins.
  blocks = used;
  poolPin(blocks, true);
  CUgraph captured = nullptr;
  CUresult r = api->cuStreamEndCapture(s, &captured);
  if (r != CUDA_SUCCESS || !captured) {
    err = formatError("CudaGraph::capture", "cuStreamEndCapture", r);
    return false;
  }
  graph = captured;
  CUgraphExec instance = nullptr;
  if (CUresult ri = api->cuGraphInstantiateWithFlags(&instance, captured, 0)) {
    err = formatError("CudaGraph::capture", "cuGraphInstantiateWithFlags", ri);
    return false;
  }
  exec = instance;
  return true;
}

bool CudaGraph::launch(void *stream, std::string &err) {
  const DriverApi *api = readyOrExplain("CudaGraph::launch", err);
  if (!api)
    return false;
  if (CUresult r = api->cuGraphLaunch(static_cast<CUgraphExec>(exec),
                                      static_cast<CUstream>(stream))) {
    err = formatError("CudaGraph::launch", "cuGraphLaunch", r);
    return false;
  }
  return true;
}

size_t cudaTemporaryBytes() { return poolPeakBytes(); }

bool cudaDeviceMemory(size_t &used, size_t &total, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaDeviceMemory", err);
  if (!api)
    return false;
  size_t free = 0;
  if (CUresult r = api->cuMemGetInfo(&free, &total)) {
    err = formatError("cudaDeviceMemory", "cuMemGetInfo_v2", r);
    return false;
  }
  used = total - free;
  return true;
}

namespace {

/// A stream and two events (CudaEvents) that time the work put on it (the
/// measurements below); all destroyed with it.
class TimedStream {
public:
  explicit TimedStream(const DriverApi *api) : api(api) {}
  ~TimedStream() {
    if (stream)
      api->cuStreamDestroy(stream);
  }
  TimedStream(const TimedStream &) = delete;
  TimedStream &operator=(const TimedStream &) = delete;

  /// Creates the stream; false with `err` (naming `caller`).
  bool create(const char *caller, std::string &err) {
    CUresult r = api->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING);
    if (r)
      err = formatError(caller, "cuStreamCreate", r);
    return !r;
  }
  /// The milliseconds of each of `repeats` runs of `enqueue` (which puts
  /// work on the stream and returns its driver result), after one run that
  /// warms up; false with `err` when a driver call fails.
  bool time(int repeats, const std::function<CUresult(CUstream)> &enqueue,
            std::vector<float> &ms, const char *caller, std::string &err) {
    enum { kStart, kEnd };
    for (int i = 0; i <= repeats; ++i) {
      if (!events.record(kStart, stream, /*inCapture=*/false, err))
        return false;
      if (CUresult r = enqueue(stream)) {
        err = formatError(caller, "the timed work", r);
        return false;
      }
      double seconds = 0;
      if (!events.record(kEnd, stream, /*inCapture=*/false, err) ||
          !events.synchronize(kEnd, err) ||
          !events.elapsed(kStart, kEnd, seconds, err))
        return false;
      if (i > 0)
        ms.push_back(static_cast<float>(seconds * 1e3));
    }
    return true;
  }
  CUstream get() const { return stream; }

private:
  const DriverApi *api;
  CUstream stream = nullptr;
  CudaEvents events{2};
};

/// An empty kernel as PTX, which the driver compiles for the device. The
/// dependent form waits for the grid before it and lets the next one start,
/// as every kernel of a package compiled with dependent launch does.
constexpr const char *kEmptyKernelPtx = ".version 7.8\n"
                                        ".target sm_80\n"
                                        ".address_size 64\n"
                                        ".visible .entry zamba2_empty()\n"
                                        "{\n"
                                        "  ret;\n"
                                        "}\n";
constexpr const char *kEmptyDependentKernelPtx =
    ".version 7.8\n"
    ".target sm_90\n"
    ".address_size 64\n"
    ".visible .entry zamba2_empty()\n"
    "{\n"
    "  griddepcontrol.wait;\n"
    "  griddepcontrol.launch_dependents;\n"
    "  ret;\n"
    "}\n";

/// Captures `kernels` launches of `empty` on `stream` (each after the first
/// a dependent launch when `dependent`) into `graph`.
CUresult captureEmptyKernels(const DriverApi *api, CUfunction empty,
                             CUstream stream, int64_t kernels, bool dependent,
                             CUgraph &graph, const char *&function) {
  function = "cuStreamBeginCapture";
  if (CUresult r =
          api->cuStreamBeginCapture(stream, CU_STREAM_CAPTURE_MODE_RELAXED))
    return r;
  CUresult launched = CUDA_SUCCESS;
  for (int64_t i = 0; i < kernels && launched == CUDA_SUCCESS; ++i) {
    CUlaunchAttribute attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    CUlaunchConfig config;
    std::memset(&config, 0, sizeof(config));
    config.gridDimX = config.gridDimY = config.gridDimZ = 1;
    config.blockDimX = 128;
    config.blockDimY = config.blockDimZ = 1;
    config.hStream = stream;
    config.attrs = &attr;
    config.numAttrs = dependent && i > 0 ? 1 : 0;
    launched = api->cuLaunchKernelEx
                   ? api->cuLaunchKernelEx(&config, empty, nullptr, nullptr)
                   : api->cuLaunchKernel(empty, 1, 1, 1, 128, 1, 1, 0, stream,
                                         nullptr, nullptr);
  }
  CUresult ended = api->cuStreamEndCapture(stream, &graph);
  function = "cuLaunchKernelEx";
  if (launched)
    return launched;
  function = "cuStreamEndCapture";
  return ended ? ended : graph ? CUDA_SUCCESS : CUDA_ERROR_NOT_FOUND;
}

} // namespace

bool cudaMeasureCopyBandwidth(size_t bytes, int repeats, double &gbPerSecond,
                              std::string &err) {
  const char *caller = "cudaMeasureCopyBandwidth";
  const DriverApi *api = readyOrExplain(caller, err);
  if (!api)
    return false;
  CUdeviceptr a = 0, b = 0;
  std::vector<float> ms;
  bool ok = false;
  {
    TimedStream timed(api);
    if (CUresult r = api->cuMemAlloc(&a, bytes))
      err = formatError(caller, "cuMemAlloc_v2", r);
    else if (CUresult r = api->cuMemAlloc(&b, bytes))
      err = formatError(caller, "cuMemAlloc_v2", r);
    else if (timed.create(caller, err)) {
      api->cuMemsetD8(a, 1, bytes);
      ok = timed.time(
          repeats,
          [&](CUstream s) { return api->cuMemcpyAsync(b, a, bytes, s); }, ms,
          caller, err);
    }
  }
  if (a)
    api->cuMemFree(a);
  if (b)
    api->cuMemFree(b);
  if (!ok || ms.empty())
    return false;
  float best = *std::min_element(ms.begin(), ms.end());
  gbPerSecond = 2.0 * static_cast<double>(bytes) / (best * 1e-3) / 1e9;
  return best > 0;
}

uint64_t cudaKernelLaunches() { return kernelLaunches(); }

bool cudaDependentLaunchAllowed() { return dependentLaunchAllowed(); }

bool cudaMeasureLaunchFloor(int64_t kernels, bool dependentLaunch, int repeats,
                            double &seconds, std::string &err) {
  const char *caller = "cudaMeasureLaunchFloor";
  dependentLaunch = dependentLaunch && dependentLaunchAllowed();
  const DriverApi *api = readyOrExplain(caller, err);
  if (!api)
    return false;
  if (kernels < 1 || repeats < 1) {
    err = std::string(caller) + ": needs at least one kernel and one repeat";
    return false;
  }
  if (!api->cuStreamBeginCapture || !api->cuStreamEndCapture ||
      !api->cuGraphInstantiateWithFlags || !api->cuGraphLaunch ||
      (dependentLaunch && !api->cuLaunchKernelEx)) {
    err = std::string(caller) +
          ": this NVIDIA driver lacks the graph or launch API it needs";
    return false;
  }
  CUmodule module = nullptr;
  CUgraph graph = nullptr;
  CUgraphExec exec = nullptr;
  std::vector<float> ms;
  bool ok = false;
  {
    TimedStream timed(api);
    CUfunction empty = nullptr;
    const char *function = "cuModuleLoadData";
    CUresult r = api->cuModuleLoadData(
        &module, dependentLaunch ? kEmptyDependentKernelPtx : kEmptyKernelPtx);
    if (!r) {
      function = "cuModuleGetFunction";
      r = api->cuModuleGetFunction(&empty, module, "zamba2_empty");
    }
    if (!r && timed.create(caller, err)) {
      r = captureEmptyKernels(api, empty, timed.get(), kernels, dependentLaunch,
                              graph, function);
      if (!r) {
        function = "cuGraphInstantiateWithFlags";
        r = api->cuGraphInstantiateWithFlags(&exec, graph, 0);
      }
      if (!r)
        ok = timed.time(
            repeats, [&](CUstream s) { return api->cuGraphLaunch(exec, s); },
            ms, caller, err);
    }
    if (r)
      err = formatError(caller, function, r);
  }
  if (exec && api->cuGraphExecDestroy)
    api->cuGraphExecDestroy(exec);
  if (graph && api->cuGraphDestroy)
    api->cuGraphDestroy(graph);
  if (module)
    api->cuModuleUnload(module);
  if (!ok || ms.empty())
    return false;
  std::sort(ms.begin(), ms.end());
  seconds = ms[ms.size() / 2] * 1e-3;
  return true;
}

bool cudaProfiling() { return profilingEnabled(); }

std::string cudaProfileReport() {
  if (!profilingEnabled() || !driver())
    return "";
  return profileReport();
}

} // namespace zamba2
