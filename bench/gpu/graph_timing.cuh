// What the CUDA microbenchmarks of bench/gpu share: a check of every CUDA
// runtime call, the --gbps option, the device side of programmatic
// dependent launch and a warp's sum, a launch with programmatic dependent
// launch, and the timing of a captured graph's replays.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

/// The call, or the program's exit with what failed.
#define CHECK(call)                                                            \
  do {                                                                         \
    cudaError_t err = (call);                                                  \
    if (err != cudaSuccess) {                                                  \
      std::fprintf(stderr, "%s: %s\n", #call, cudaGetErrorString(err));        \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

/// The GB/s of a `--gbps N` option (the only option `tool` takes), or
/// `gbps` as given when there is none; false (with a line on stderr) on
/// anything else or a number that is not positive.
inline bool parseGbps(int argc, char **argv, const char *tool, double &gbps) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--gbps") && i + 1 < argc) {
      gbps = std::strtod(argv[++i], nullptr);
      if (!(gbps > 0)) {
        std::fprintf(stderr, "%s: --gbps wants a positive number\n", tool);
        return false;
      }
    } else {
      std::fprintf(stderr, "usage: %s [--gbps GB_PER_S]\n", tool);
      return false;
    }
  }
  return true;
}

/// The device side of programmatic dependent launch: the wait for the
/// grids before, and the signal that lets the next one start.
__device__ inline void waitForGrid() {
  asm volatile("griddepcontrol.wait;" ::: "memory");
}
__device__ inline void signalDependents() {
  asm volatile("griddepcontrol.launch_dependents;");
}
/// The sum of v over the warp, in every lane.
__device__ inline float warpSum(float v) {
  for (int o = 16; o > 0; o /= 2)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/// A launch of `blocks` blocks of `threads` threads on `stream`, with
/// programmatic dependent launch when `dependent` (`attr`, which must
/// outlive the launch, holds its attribute).
inline cudaLaunchConfig_t launchConfig(int blocks, int threads,
                                       cudaStream_t stream, bool dependent,
                                       cudaLaunchAttribute &attr) {
  cudaLaunchConfig_t config = {};
  config.gridDim = dim3(blocks);
  config.blockDim = dim3(threads);
  config.stream = stream;
  attr.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr.val.programmaticStreamSerializationAllowed = 1;
  config.attrs = &attr;
  config.numAttrs = dependent ? 1 : 0;
  return config;
}

/// The graph that `capture` records on a fresh stream, replayed `replays`
/// times after two warm-up replays: the median ms of a replay over `units`
/// (the kernels or layers it holds).
template <typename Capture>
double medianReplayMs(int replays, int units, Capture capture) {
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  cudaGraph_t graph;
  CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal));
  capture(stream);
  CHECK(cudaStreamEndCapture(stream, &graph));
  cudaGraphExec_t exec;
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  CHECK(cudaGraphLaunch(exec, stream)); // warm-up
  CHECK(cudaGraphLaunch(exec, stream));
  std::vector<float> ms;
  for (int r = 0; r < replays; ++r) {
    CHECK(cudaEventRecord(start, stream));
    CHECK(cudaGraphLaunch(exec, stream));
    CHECK(cudaEventRecord(stop, stream));
    CHECK(cudaEventSynchronize(stop));
    float t;
    CHECK(cudaEventElapsedTime(&t, start, stop));
    ms.push_back(t / units);
  }
  std::sort(ms.begin(), ms.end());
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(graph));
  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
  CHECK(cudaStreamDestroy(stream));
  return ms[ms.size() / 2];
}
