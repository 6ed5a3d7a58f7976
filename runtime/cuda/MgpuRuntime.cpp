//===- MgpuRuntime.cpp - The mgpu* runtime ABI on the CUDA driver ---------===//
//
// Each function makes the primary context of the thread's device current
// (cached per thread), calls the driver and records a failure instead of
// aborting (runtime/cuda/CudaDriver.h). Signatures are those MLIR 22 emits;
// see MgpuRuntime.h.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/MgpuRuntime.h"
#include "runtime/cuda/CudaDriver.h"

#include <cstring>
#include <limits>
#include <string>

using namespace zamba2::cuda;

namespace {

/// The driver, with the thread's context current; null (error recorded)
/// when there is none.
const DriverApi *ready(const char *caller) {
  return enterContext(caller) ? driver() : nullptr;
}

CUdeviceptr devptr(const void *p) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
}

bool check(CUresult result, const char *caller, const char *function) {
  if (result == CUDA_SUCCESS)
    return true;
  recordError(caller, function, result);
  return false;
}

/// A hint for the load failures that mean "wrong package for this GPU".
void recordModuleLoadError(const char *caller, const char *function,
                           CUresult result, const char *log) {
  std::string m = formatError(caller, function, result);
  if (result == 209 /*CUDA_ERROR_NO_BINARY_FOR_GPU*/ ||
      result == 200 /*CUDA_ERROR_INVALID_IMAGE*/)
    m += " (is the package compiled for this GPU's architecture?)";
  else if (result == 222 /*CUDA_ERROR_UNSUPPORTED_PTX_VERSION*/)
    m += " (the PTX is newer than this NVIDIA driver supports)";
  if (log && *log) {
    std::string text(log);
    if (text.size() > 2000)
      text.resize(2000);
    m += "; JIT log: " + text;
  }
  recordMessage(m);
}

bool validDims(const char *caller, const intptr_t *dims, int n) {
  for (int i = 0; i < n; ++i) {
    if (dims[i] < 1 ||
        dims[i] > static_cast<intptr_t>(std::numeric_limits<unsigned>::max())) {
      std::string m = std::string(caller) + ": invalid launch dimensions (";
      for (int j = 0; j < n; ++j)
        m += (j ? ", " : "") + std::to_string(dims[j]);
      recordMessage(m + ")");
      return false;
    }
  }
  return true;
}

/// Opts the kernel into `smem` bytes of dynamic shared memory when that is
/// above the default 48 KiB, refusing (with a clear error) past the device's
/// limit.
bool prepareSharedMemory(const DriverApi *api, CUfunction function,
                         int32_t smem, const char *caller) {
  if (smem < 0) {
    recordMessage(std::string(caller) + ": negative dynamic shared memory " +
                  std::to_string(smem));
    return false;
  }
  if (smem <= 48 * 1024)
    return true;
  CUdevice device = 0;
  if (!check(api->cuDeviceGet(&device, currentDevice()), caller, "cuDeviceGet"))
    return false;
  int limit = 0;
  if (!check(api->cuDeviceGetAttribute(
                 &limit, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN,
                 device),
             caller, "cuDeviceGetAttribute"))
    return false;
  if (smem > limit) {
    recordMessage(std::string(caller) + ": the kernel asks for " +
                  std::to_string(smem) +
                  " bytes of dynamic shared memory, the device allows " +
                  std::to_string(limit));
    return false;
  }
  return check(
      api->cuFuncSetAttribute(
          function, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, smem),
      caller, "cuFuncSetAttribute");
}

/// The bytes a strided memref spans from its first element.
bool memrefSpan(int64_t rank, void *descriptor, int64_t elementSize,
                void *&begin, size_t &bytes) {
  if (!descriptor || rank < 0 || elementSize <= 0)
    return false;
  auto *words = static_cast<int64_t *>(descriptor);
  char *aligned;
  std::memcpy(&aligned, &words[1], sizeof(aligned));
  int64_t offset = words[2];
  int64_t extent = 1; // in elements: 1 + sum (size - 1) * stride
  for (int64_t d = 0; d < rank; ++d) {
    int64_t size = words[3 + d], stride = words[3 + rank + d];
    if (size <= 0) {
      extent = 0;
      break;
    }
    extent += (size - 1) * (stride < 0 ? -stride : stride);
  }
  begin = aligned + offset * elementSize;
  bytes = static_cast<size_t>(extent * elementSize);
  return true;
}

} // namespace

extern "C" {

void *mgpuModuleLoad(void *data, size_t /*size*/) {
  const char *caller = "mgpuModuleLoad";
  const DriverApi *api = ready(caller);
  if (!api)
    return nullptr;
  CUmodule module = nullptr;
  CUresult r = api->cuModuleLoadData(&module, data);
  if (r != CUDA_SUCCESS) {
    recordModuleLoadError(caller, "cuModuleLoadData", r, nullptr);
    return nullptr;
  }
  return module;
}

void *mgpuModuleLoadJIT(void *data, int optLevel) {
  const char *caller = "mgpuModuleLoadJIT";
  const DriverApi *api = ready(caller);
  if (!api)
    return nullptr;
  char log[8192] = {0};
  int options[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                   CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {log, reinterpret_cast<void *>(sizeof(log)),
                    reinterpret_cast<void *>(static_cast<intptr_t>(optLevel))};
  CUmodule module = nullptr;
  CUresult r = api->cuModuleLoadDataEx(&module, data, 3, options, values);
  if (r != CUDA_SUCCESS) {
    log[sizeof(log) - 1] = 0;
    recordModuleLoadError(caller, "cuModuleLoadDataEx", r, log);
    return nullptr;
  }
  return module;
}

void mgpuModuleUnload(void *module) {
  if (!module)
    return; // its load failed, and said so
  const char *caller = "mgpuModuleUnload";
  const DriverApi *api = ready(caller);
  if (!api)
    return;
  CUresult r = api->cuModuleUnload(static_cast<CUmodule>(module));
  // At process exit the driver may be torn down before model.so's
  // destructors run; the module is gone with it.
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_DEINITIALIZED)
    recordError(caller, "cuModuleUnload", r);
}

void *mgpuModuleGetFunction(void *module, const char *name) {
  const char *caller = "mgpuModuleGetFunction";
  if (!module) {
    recordMessage(std::string(caller) + ": no GPU module for kernel '" +
                  (name ? name : "?") + "' (its load failed)");
    return nullptr;
  }
  const DriverApi *api = ready(caller);
  if (!api)
    return nullptr;
  CUfunction function = nullptr;
  CUresult r =
      api->cuModuleGetFunction(&function, static_cast<CUmodule>(module), name);
  if (r != CUDA_SUCCESS) {
    recordMessage(formatError(caller, "cuModuleGetFunction", r) + " (kernel '" +
                  (name ? name : "?") + "')");
    return nullptr;
  }
  nameFunction(function, name);
  return function;
}

namespace {
/// cuLaunchKernelEx of `dims` (grid x, y, z, then block x, y, z) with
/// `attrs`.
CUresult launchWithAttributes(const DriverApi *api, CUfunction f,
                              const intptr_t *dims, int32_t smem, void *stream,
                              void **params, void **extra,
                              CUlaunchAttribute *attrs, unsigned count) {
  CUlaunchConfig config;
  std::memset(&config, 0, sizeof(config));
  config.gridDimX = static_cast<unsigned>(dims[0]);
  config.gridDimY = static_cast<unsigned>(dims[1]);
  config.gridDimZ = static_cast<unsigned>(dims[2]);
  config.blockDimX = static_cast<unsigned>(dims[3]);
  config.blockDimY = static_cast<unsigned>(dims[4]);
  config.blockDimZ = static_cast<unsigned>(dims[5]);
  config.sharedMemBytes = static_cast<unsigned>(smem);
  config.hStream = static_cast<CUstream>(stream);
  config.attrs = attrs;
  config.numAttrs = count;
  return api->cuLaunchKernelEx(&config, f, params, extra);
}
} // namespace

void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream,
                      void **params, void **extra, size_t /*paramsCount*/) {
  const char *caller = "mgpuLaunchKernel";
  if (!function) {
    recordMessage(std::string(caller) + ": no kernel (its lookup failed)");
    return;
  }
  const intptr_t dims[] = {gridX, gridY, gridZ, blockX, blockY, blockZ};
  if (!validDims(caller, dims, 6))
    return;
  const DriverApi *api = ready(caller);
  if (!api)
    return;
  auto *f = static_cast<CUfunction>(function);
  if (!prepareSharedMemory(api, f, smem, caller))
    return;
  bool timed = profilingEnabled() && !capturingCall();
  if (timed)
    profileBefore(f, static_cast<CUstream>(stream));
  // The package's kernels begin by waiting for the grids before them
  // (zamba2-gpu-dependent-launch): launched as a dependent of the previous
  // kernel, this one's blocks are resident when that one ends.
  bool dependent = !timed && dependentLaunchNext() && api->cuLaunchKernelEx;
  const char *entry = dependent ? "cuLaunchKernelEx" : "cuLaunchKernel";
  CUresult r;
  if (dependent) {
    CUlaunchAttribute attr;
    std::memset(&attr, 0, sizeof(attr));
    attr.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    attr.value.programmaticStreamSerializationAllowed = 1;
    r = launchWithAttributes(api, f, dims, smem, stream, params, extra, &attr,
                             1);
  } else {
    r = api->cuLaunchKernel(
        f, static_cast<unsigned>(gridX), static_cast<unsigned>(gridY),
        static_cast<unsigned>(gridZ), static_cast<unsigned>(blockX),
        static_cast<unsigned>(blockY), static_cast<unsigned>(blockZ),
        static_cast<unsigned>(smem), static_cast<CUstream>(stream), params,
        extra);
  }
  if (timed)
    profileAfter(static_cast<CUstream>(stream));
  noteStreamWork(/*kernel=*/!timed && r == CUDA_SUCCESS);
  if (r == CUDA_SUCCESS)
    countKernelLaunch();
  else
    recordMessage(formatError(caller, entry, r) + " (grid " +
                  std::to_string(gridX) + "x" + std::to_string(gridY) + "x" +
                  std::to_string(gridZ) + ", block " + std::to_string(blockX) +
                  "x" + std::to_string(blockY) + "x" + std::to_string(blockZ) +
                  ", " + std::to_string(smem) + " bytes shared)");
}

void mgpuLaunchClusterKernel(void *function, intptr_t clusterX,
                             intptr_t clusterY, intptr_t clusterZ,
                             intptr_t gridX, intptr_t gridY, intptr_t gridZ,
                             intptr_t blockX, intptr_t blockY, intptr_t blockZ,
                             int32_t smem, void *stream, void **params,
                             void **extra) {
  const char *caller = "mgpuLaunchClusterKernel";
  if (!function) {
    recordMessage(std::string(caller) + ": no kernel (its lookup failed)");
    return;
  }
  const intptr_t dims[] = {clusterX, clusterY, clusterZ, gridX, gridY,
                           gridZ,    blockX,   blockY,   blockZ};
  if (!validDims(caller, dims, 9))
    return;
  const DriverApi *api = ready(caller);
  if (!api)
    return;
  if (!api->cuLaunchKernelEx) {
    recordMessage(std::string(caller) +
                  ": this NVIDIA driver lacks cuLaunchKernelEx (CUDA 12+)");
    return;
  }
  auto *f = static_cast<CUfunction>(function);
  if (!prepareSharedMemory(api, f, smem, caller))
    return;
  if (clusterX * clusterY * clusterZ > 8 &&
      !check(api->cuFuncSetAttribute(
                 f, CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED, 1),
             caller, "cuFuncSetAttribute"))
    return;
  CUlaunchAttribute attrs[2];
  std::memset(attrs, 0, sizeof(attrs));
  attrs[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attrs[0].value.clusterDim.x = static_cast<unsigned>(clusterX);
  attrs[0].value.clusterDim.y = static_cast<unsigned>(clusterY);
  attrs[0].value.clusterDim.z = static_cast<unsigned>(clusterZ);
  attrs[1].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE;
  attrs[1].value.clusterSchedulingPolicyPreference =
      CU_CLUSTER_SCHEDULING_POLICY_SPREAD;
  if (check(launchWithAttributes(api, f, dims + 3, smem, stream, params, extra,
                                 attrs, 2),
            caller, "cuLaunchKernelEx"))
    countKernelLaunch();
  noteStreamWork(/*kernel=*/false);
}

// Inside a model call (CudaCallScope) the entry point's stream is the
// call's stream, which the caller synchronises (or captures) itself.
void *mgpuStreamCreate(void) {
  if (CUstream stream = callStream())
    return stream;
  return acquireStream("mgpuStreamCreate");
}

void mgpuStreamDestroy(void *stream) {
  if (stream && stream == callStream())
    return;
  releaseStream(static_cast<CUstream>(stream), "mgpuStreamDestroy");
}

void mgpuStreamSynchronize(void *stream) {
  if (stream && stream == callStream())
    return;
  const char *caller = "mgpuStreamSynchronize";
  if (const DriverApi *api = ready(caller))
    check(api->cuStreamSynchronize(static_cast<CUstream>(stream)), caller,
          "cuStreamSynchronize");
}

void mgpuStreamWaitEvent(void *stream, void *event) {
  const char *caller = "mgpuStreamWaitEvent";
  if (const DriverApi *api = ready(caller))
    check(api->cuStreamWaitEvent(static_cast<CUstream>(stream),
                                 static_cast<CUevent>(event), 0),
          caller, "cuStreamWaitEvent");
  noteStreamWork(/*kernel=*/false);
}

void *mgpuEventCreate(void) {
  const char *caller = "mgpuEventCreate";
  const DriverApi *api = ready(caller);
  if (!api)
    return nullptr;
  CUevent event = nullptr;
  if (!check(api->cuEventCreate(&event, CU_EVENT_DISABLE_TIMING), caller,
             "cuEventCreate"))
    return nullptr;
  return event;
}

void mgpuEventDestroy(void *event) {
  if (!event)
    return;
  const char *caller = "mgpuEventDestroy";
  if (const DriverApi *api = ready(caller))
    check(api->cuEventDestroy(static_cast<CUevent>(event)), caller,
          "cuEventDestroy_v2");
}

void mgpuEventSynchronize(void *event) {
  const char *caller = "mgpuEventSynchronize";
  if (const DriverApi *api = ready(caller))
    check(api->cuEventSynchronize(static_cast<CUevent>(event)), caller,
          "cuEventSynchronize");
}

void mgpuEventRecord(void *event, void *stream) {
  const char *caller = "mgpuEventRecord";
  if (const DriverApi *api = ready(caller))
    check(api->cuEventRecord(static_cast<CUevent>(event),
                             static_cast<CUstream>(stream)),
          caller, "cuEventRecord");
  noteStreamWork(/*kernel=*/false);
}

// Device temporaries come from the per-stream block cache
// (CallContext.cpp): no driver allocation once a call's sizes have been
// seen, and a graph capture records the same addresses every replay uses.
void *mgpuMemAlloc(uint64_t sizeBytes, void *stream, uint8_t isHostShared) {
  if (sizeBytes == 0)
    return nullptr;
  const char *caller = "mgpuMemAlloc";
  const DriverApi *api = ready(caller);
  if (!api)
    return nullptr;
  if (!isHostShared)
    return poolAlloc(sizeBytes, static_cast<CUstream>(stream), caller);
  CUdeviceptr p = 0;
  CUresult r = api->cuMemAllocManaged(&p, sizeBytes, CU_MEM_ATTACH_GLOBAL);
  if (r != CUDA_SUCCESS) {
    recordMessage(formatError(caller, "cuMemAllocManaged", r) + " (" +
                  std::to_string(sizeBytes) + " bytes)");
    return nullptr;
  }
  return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
}

void mgpuMemFree(void *ptr, void *stream) {
  if (!ptr)
    return;
  if (ready("mgpuMemFree"))
    poolFree(ptr, static_cast<CUstream>(stream), "mgpuMemFree");
}

void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *stream) {
  if (sizeBytes == 0)
    return;
  const char *caller = "mgpuMemcpy";
  if (const DriverApi *api = ready(caller))
    check(api->cuMemcpyAsync(devptr(dst), devptr(src), sizeBytes,
                             static_cast<CUstream>(stream)),
          caller, "cuMemcpyAsync");
  noteStreamWork(/*kernel=*/false);
}

void mgpuMemset32(void *dst, uint32_t value, size_t count, void *stream) {
  if (count == 0)
    return;
  const char *caller = "mgpuMemset32";
  if (const DriverApi *api = ready(caller))
    check(api->cuMemsetD32Async(devptr(dst), value, count,
                                static_cast<CUstream>(stream)),
          caller, "cuMemsetD32Async");
  noteStreamWork(/*kernel=*/false);
}

void mgpuMemset16(void *dst, uint16_t value, size_t count, void *stream) {
  if (count == 0)
    return;
  const char *caller = "mgpuMemset16";
  if (const DriverApi *api = ready(caller))
    check(api->cuMemsetD16Async(devptr(dst), value, count,
                                static_cast<CUstream>(stream)),
          caller, "cuMemsetD16Async");
  noteStreamWork(/*kernel=*/false);
}

void mgpuMemHostRegister(void *ptr, uint64_t sizeBytes) {
  if (!ptr || sizeBytes == 0)
    return;
  const char *caller = "mgpuMemHostRegister";
  if (const DriverApi *api = ready(caller))
    check(api->cuMemHostRegister(ptr, sizeBytes, 0), caller,
          "cuMemHostRegister_v2");
}

void mgpuMemHostUnregister(void *ptr) {
  if (!ptr)
    return;
  const char *caller = "mgpuMemHostUnregister";
  if (const DriverApi *api = ready(caller))
    check(api->cuMemHostUnregister(ptr), caller, "cuMemHostUnregister");
}

void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor,
                               int64_t elementSizeBytes) {
  void *begin = nullptr;
  size_t bytes = 0;
  if (!memrefSpan(rank, descriptor, elementSizeBytes, begin, bytes)) {
    recordMessage("mgpuMemHostRegisterMemRef: invalid memref descriptor");
    return;
  }
  mgpuMemHostRegister(begin, bytes);
}

void mgpuMemHostUnregisterMemRef(int64_t rank, void *descriptor,
                                 int64_t elementSizeBytes) {
  void *begin = nullptr;
  size_t bytes = 0;
  if (!memrefSpan(rank, descriptor, elementSizeBytes, begin, bytes)) {
    recordMessage("mgpuMemHostUnregisterMemRef: invalid memref descriptor");
    return;
  }
  if (bytes)
    mgpuMemHostUnregister(begin);
}

void mgpuSetDefaultDevice(int32_t device) { setThreadDevice(device); }

} // extern "C"
