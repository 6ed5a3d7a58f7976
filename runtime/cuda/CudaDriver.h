//===- CudaDriver.h - The CUDA driver API, loaded at run time ---*- C++ -*-===//
//
// The CUDA backend talks to the GPU through the driver API only (no
// libcudart), and loads the driver itself (libcuda.so.1) with dlopen on first
// use, so that the runtime builds and runs on machines without the CUDA
// toolkit or an NVIDIA driver. The few driver types and constants it needs
// are declared here, with the values of the driver's cuda.h (which this code
// does not include).
//
// The module also keeps the backend's error record: the mgpu* functions that
// compiled models call return void, so a failing driver call is recorded
// (the first one since the engine last asked, with the function names and the
// driver's own text) for the engine to report after the model returns.
//
// Internal to runtime/cuda: the engine uses runtime/cuda/Cuda.h.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_CUDA_CUDADRIVER_H
#define ZAMBA2_RUNTIME_CUDA_CUDADRIVER_H

#include <cstddef>
#include <string>
#include <vector>

namespace zamba2 {
namespace cuda {

// Types of the driver API (cuda.h).
using CUresult = int;
using CUdevice = int;
using CUdeviceptr = unsigned long long;
using CUcontext = struct CUctx_st *;
using CUmodule = struct CUmod_st *;
using CUfunction = struct CUfunc_st *;
using CUstream = struct CUstream_st *;
using CUevent = struct CUevent_st *;
using CUgraph = struct CUgraph_st *;
using CUgraphExec = struct CUgraphExec_st *;

struct CUlaunchAttribute {
  int id;
  char pad[4];
  union {
    char bytes[64];
    struct {
      unsigned x, y, z;
    } clusterDim;
    int clusterSchedulingPolicyPreference;
    int programmaticStreamSerializationAllowed;
  } value;
};

struct CUlaunchConfig {
  unsigned gridDimX, gridDimY, gridDimZ;
  unsigned blockDimX, blockDimY, blockDimZ;
  unsigned sharedMemBytes;
  CUstream hStream;
  CUlaunchAttribute *attrs;
  unsigned numAttrs;
};

// Constants of the driver API (cuda.h), those used here only.
enum : int {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_DEINITIALIZED = 4,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_NOT_FOUND = 500,
};
enum : unsigned {
  CU_MEM_ATTACH_GLOBAL = 0x1,
  CU_STREAM_NON_BLOCKING = 0x1,
  CU_EVENT_DISABLE_TIMING = 0x2,
  CU_EVENT_DEFAULT = 0x0,
  CU_EVENT_RECORD_EXTERNAL = 0x1, // cuEventRecordWithFlags: a graph node
};
enum : int {
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY = 83,
  CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS = 89,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
  CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED = 14,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
  CU_JIT_OPTIMIZATION_LEVEL = 7,
  CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION = 4,
  CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE = 5,
  CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6,
  CU_CLUSTER_SCHEDULING_POLICY_SPREAD = 1,
  CU_STREAM_CAPTURE_MODE_RELAXED = 2,
};

/// The driver functions the backend uses. Those marked required must be
/// exported by the driver for it to count as available; the others are null
/// when the driver lacks them, and calling code checks (call() below).
struct DriverApi {
#define ZAMBA2_CUDA_FN(required, field, symbol, ret, params)                   \
  ret(*field) params = nullptr;
#include "runtime/cuda/DriverFunctions.def"
};

/// The loaded driver, loading it (and running cuInit) on the first call; null
/// when it cannot be used, with the reason in `why` (one line) when given.
const DriverApi *driver(std::string *why = nullptr);

/// Name of the library driver() opens: the one given to
/// setDriverLibraryName, else $ZAMBA2_LIBCUDA, else "libcuda.so.1".
std::string driverLibraryName();
/// Overrides the library name; takes effect at the next load (see
/// resetDriverForTesting). Empty restores the default.
void setDriverLibraryName(const std::string &name);
/// Forgets the loaded driver (dlclose) and the contexts, and clears the error
/// record, so that the next call loads again. Tests only: nothing of the
/// driver may be in use.
void resetDriverForTesting();

/// Makes the primary context of the calling thread's device current on this
/// thread (retaining it on first use). On failure records an error against
/// `caller` and returns false.
bool enterContext(const char *caller);
/// The calling thread's device (mgpuSetDefaultDevice), else
/// $ZAMBA2_CUDA_DEVICE, else 0.
int currentDevice();
void setThreadDevice(int device);

/// One line for a failed driver call, e.g. "mgpuMemAlloc: cuMemAlloc_v2
/// failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory". `caller` may be
/// null. Uses the driver's cuGetErrorName/String when loaded.
std::string formatError(const char *caller, const char *function,
                        CUresult result);

/// Records `message` if no error is recorded yet (else counts it).
void recordMessage(const std::string &message);
/// Records a failed driver call (formatError).
void recordError(const char *caller, const char *function, CUresult result);
/// Takes the first recorded error since the last take (with a count of the
/// later ones appended); false when none.
bool takeError(std::string &message);
/// Whether an error is recorded (cheap).
bool hasError();

/// A stream of the calling thread's device for mgpuStreamCreate: a cached
/// one when there is one (creating a stream costs microseconds, and the
/// lowering creates one per kernel launch), else a new non-blocking one.
/// Null (error recorded) on failure.
CUstream acquireStream(const char *caller);
/// Gives a stream of acquireStream back to the cache (mgpuStreamDestroy).
void releaseStream(CUstream stream, const char *caller);

/// The stream of the model call running on this thread (CudaCallScope in
/// Cuda.h), null outside one. mgpuStreamCreate hands it out, and its
/// synchronisation and destruction are left to the caller.
CUstream callStream();
/// Whether this thread's call stream is being captured into a CUDA graph.
bool capturingCall();
void setCallStream(CUstream stream);
void setCapturingCall(bool capturing);

/// Programmatic dependent launch. Inside a call of a package whose kernels
/// wait for their predecessor themselves (CudaCallScope's
/// `dependentLaunch`), a kernel may be launched as a dependent of the
/// previous work on the call stream when that work was a kernel:
/// dependentLaunchNext() says whether it was, and every mgpu* function
/// that puts work on the stream reports it (noteStreamWork).
/// $ZAMBA2_CUDA_DEPENDENT_LAUNCH=0 turns it off for every call.
void setDependentLaunch(bool on);
bool dependentLaunchAllowed();
bool dependentLaunchNext();
void noteStreamWork(bool kernel);

/// Kernels launched through mgpuLaunchKernel / mgpuLaunchClusterKernel
/// (graph replays launch none), for cudaKernelLaunches.
void countKernelLaunch();
uint64_t kernelLaunches();

/// The model's temporaries (runtime/cuda/CallContext.cpp; a compiled
/// model allocates one workspace per call): device blocks cached per
/// stream. A block freed on a stream is reused only by later work on that
/// stream, which runs after the work that used it. A request of a size no
/// idle block serves first gives back the idle blocks freed by earlier
/// calls on the stream, unless a CUDA graph uses them (pinned).
void *poolAlloc(size_t bytes, CUstream stream, const char *caller);
void poolFree(void *p, CUstream stream, const char *caller);
/// A model call on `stream` begins (CudaCallScope); the stream's earlier
/// calls have finished.
void poolBeginCall(CUstream stream);
/// Frees the idle blocks of `stream` (the caller has waited for it).
void poolRelease(CUstream stream);
/// The most device memory the cache has held at once.
size_t poolPeakBytes();
/// While `log` is set (non-null), the blocks handed out on this thread are
/// appended to it: a graph capture records the blocks its replays use.
void poolLogCapture(std::vector<CUdeviceptr> *log);
/// Pins (or unpins) blocks: a pinned block is never given back.
void poolPin(const std::vector<CUdeviceptr> &blocks, bool pin);

/// Kernel timing for $ZAMBA2_CUDA_PROFILE (CallContext.cpp).
bool profilingEnabled();
void nameFunction(CUfunction function, const char *name);
/// Brackets one launch with events (outside graph capture).
void profileBefore(CUfunction function, CUstream stream);
void profileAfter(CUstream stream);
std::string profileReport();

} // namespace cuda
} // namespace zamba2

#endif // ZAMBA2_RUNTIME_CUDA_CUDADRIVER_H
