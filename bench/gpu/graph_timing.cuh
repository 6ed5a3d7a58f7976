// What the CUDA microbenchmarks of bench/gpu share: a check of every CUDA
// runtime call, a launch with programmatic dependent launch, and the
// timing of a captured graph's replays.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
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
