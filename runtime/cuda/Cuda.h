//===- Cuda.h - The CUDA backend as the engine sees it ----------*- C++ -*-===//
//
// What the runtime engine needs to run a package whose target.kind is
// "cuda" (docs/PACKAGE.md): whether this machine can, device memory and
// copies for the entry-point buffers, a stream per session and the scope
// that makes the model's calls use it, CUDA graphs, timing, and the errors
// that the model's GPU runtime calls (the mgpu* ABI of
// runtime/cuda/MgpuRuntime.h, which return void) recorded while it ran.
//
// The driver (libcuda.so.1) is loaded on first use; no CUDA toolkit is
// needed to build or run. Plain C++17, no exceptions; nothing here aborts or
// prints (set ZAMBA2_CUDA_VERBOSE to echo each recorded error to stderr).
// ZAMBA2_LIBCUDA names another driver library, ZAMBA2_CUDA_DEVICE another
// device than 0.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_CUDA_CUDA_H
#define ZAMBA2_RUNTIME_CUDA_CUDA_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace zamba2 {

/// Whether CUDA packages can run here: the driver loads, has a device, and
/// the device's primary context can be made current. Otherwise `why` says why
/// in one line, e.g. "libcuda.so.1 not found: this machine has no NVIDIA
/// driver".
bool cudaAvailable(std::string &why);

/// Managed (unified) memory of `bytes` bytes (at least 1), usable from host
/// code and kernels alike; null with `err` set on failure.
void *cudaAllocManaged(size_t bytes, std::string &err);
/// Frees memory of cudaAllocManaged (null is fine). A failure is recorded
/// for cudaTakeError.
void cudaFree(void *p);

/// Waits for all work on the device. On failure (e.g. a kernel faulted)
/// returns false with `err` set.
bool cudaSynchronize(std::string &err);
/// The first error recorded since the last call (by the mgpu* functions or
/// cudaFree), with a count of later ones; false when there was none.
bool cudaTakeError(std::string &message);

/// One line about the device, e.g. "NVIDIA H100 80GB HBM3 (device 0 of 1):
/// compute capability 9.0 (sm_90), 79.1 GiB, 132 SMs, driver CUDA 13.0";
/// or "no CUDA GPU: " and the reason.
std::string cudaDeviceDescription();
/// Compute capability of the device; false with `err` when there is none.
bool cudaComputeCapability(int &major, int &minor, std::string &err);
/// Whether GPU code compiled for `gpu` (the manifest's target.gpu, "sm_90",
/// "sm_90a", "sm_100f") runs on this device: cubin needs the same major
/// version and at least the minor one (exactly the same for "a" targets);
/// PTX (`ptx`) any device at least as new. Otherwise `why` names both.
bool cudaCheckTarget(const std::string &gpu, bool ptx, std::string &why);

/// Device memory of `bytes` bytes (at least 1), not host-accessible; null
/// with `err` set on failure. Freed with cudaFree.
void *cudaAllocDevice(size_t bytes, std::string &err);
/// Copies between host and device memory, ordered on `stream` (a
/// cudaCreateStream stream; null: synchronous). False with `err` on failure.
bool cudaCopyToDevice(void *dst, const void *src, size_t bytes, void *stream,
                      std::string &err);
bool cudaCopyToHost(void *dst, const void *src, size_t bytes, void *stream,
                    std::string &err);
/// Page-locks `bytes` bytes of host memory at `p` (cuMemHostRegister), so
/// that copies to and from it run as DMA without staging; false with `err`
/// where the driver refuses (the memory is then used as it is). Undone by
/// cudaUnpinHost before the memory is freed.
bool cudaPinHost(void *p, size_t bytes, std::string &err);
void cudaUnpinHost(void *p);
/// Zeroes `bytes` bytes of device memory, ordered on `stream` (null: now).
bool cudaZero(void *dst, size_t bytes, void *stream, std::string &err);

/// A stream for one session's model calls; null with `err` on failure.
void *cudaCreateStream(std::string &err);
/// Waits for the stream, frees the device memory the model's calls cached
/// for it, destroys it.
void cudaDestroyStream(void *stream);
/// Waits for the work on `stream`; false with `err` if it failed.
bool cudaStreamSync(void *stream, std::string &err);

/// While alive, the model's mgpu* calls on this thread run on `stream`, and
/// its one synchronisation at the end of an entry point is left to the
/// caller (who waits for the stream, or launches what was captured).
/// Temporaries the model allocates come from a cache of device blocks kept
/// per stream (stream-ordered reuse, so a captured graph's addresses stay
/// valid: every block is free again when a call ends).
class CudaCallScope {
public:
  /// `dependentLaunch`: the package's kernels wait for their predecessor
  /// themselves (manifest target.dependent_launch), so each may be
  /// launched before the kernel before it ends.
  explicit CudaCallScope(void *stream, bool dependentLaunch = false);
  ~CudaCallScope();
  CudaCallScope(const CudaCallScope &) = delete;
  CudaCallScope &operator=(const CudaCallScope &) = delete;
};

/// One model call captured into a CUDA graph and instantiated.
class CudaGraph {
public:
  CudaGraph() = default;
  ~CudaGraph();
  CudaGraph(const CudaGraph &) = delete;
  CudaGraph &operator=(const CudaGraph &) = delete;
  /// Captures the GPU work `body` puts on `stream` (inside a CudaCallScope
  /// of that stream); false with `err` when the driver cannot capture it.
  bool capture(void *stream, const std::function<void()> &body,
               std::string &err);
  /// Replays it on `stream`.
  bool launch(void *stream, std::string &err);
  bool valid() const { return exec != nullptr; }

private:
  void *graph = nullptr, *exec = nullptr;
  /// The temporaries' blocks the replays use, pinned in the cache.
  std::vector<unsigned long long> blocks;
};

/// Events that time the phases of a call on the GPU (zamba2-bench
/// --phases): `count` of them, recorded on a stream, or as nodes of the
/// graph a stream is capturing (so that each replay records them).
class CudaEvents {
public:
  explicit CudaEvents(size_t count) : events(count, nullptr) {}
  ~CudaEvents();
  CudaEvents(const CudaEvents &) = delete;
  CudaEvents &operator=(const CudaEvents &) = delete;
  /// Records event `i` on `stream` (as a node of its capture when
  /// `inCapture`); false with `err` when the driver cannot.
  bool record(size_t i, void *stream, bool inCapture, std::string &err);
  /// Waits until event `i`, recorded, has completed; false with `err` when
  /// it was never recorded or the work before it failed.
  bool synchronize(size_t i, std::string &err);
  /// Seconds from event `from` to event `to`, both recorded and completed;
  /// false with `err` otherwise.
  bool elapsed(size_t from, size_t to, double &seconds, std::string &err);

private:
  std::vector<void *> events;
};

/// The most device memory (bytes) the temporaries' cache has held at once
/// over all streams, cached and in use.
size_t cudaTemporaryBytes();
/// Memory in use on the device by every process (total - free), and the
/// total; false with `err` when there is no device.
bool cudaDeviceMemory(size_t &used, size_t &total, std::string &err);

/// Device-to-device copy rate in GB/s (bytes read + written per second) of
/// a `bytes`-byte copy, best of `repeats`, timed with events; false with
/// `err` on failure.
bool cudaMeasureCopyBandwidth(size_t bytes, int repeats, double &gbPerSecond,
                              std::string &err);

/// Kernels launched so far by the packages' code (graph replays launch
/// none): the launches of a step run without a graph are the difference
/// around it.
uint64_t cudaKernelLaunches();

/// The launch floor of a step of `kernels` kernel launches: seconds per
/// replay (median of `repeats`) of a CUDA graph of that many empty
/// one-block kernels, each after the first launched as a dependent of the
/// one before (programmatic dependent launch, sm_90 and newer) when
/// `dependentLaunch` (and $ZAMBA2_CUDA_DEPENDENT_LAUNCH is not 0), as the
/// package's kernels are. False with `err` on failure.
bool cudaMeasureLaunchFloor(int64_t kernels, bool dependentLaunch, int repeats,
                            double &seconds, std::string &err);
/// Whether $ZAMBA2_CUDA_DEPENDENT_LAUNCH leaves dependent launch on.
bool cudaDependentLaunchAllowed();

/// Per-kernel timing ($ZAMBA2_CUDA_PROFILE set): each launch outside a
/// graph is timed with events. cudaProfileReport (after a synchronisation)
/// gives one line per kernel, by total time: calls, total and mean
/// microseconds, and the share of the total; and resets the counts.
bool cudaProfiling();
std::string cudaProfileReport();

/// The driver library to load (default "libcuda.so.1", or $ZAMBA2_LIBCUDA);
/// only before the first use. For tests.
void cudaSetDriverLibrary(const std::string &name);

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_CUDA_CUDA_H
