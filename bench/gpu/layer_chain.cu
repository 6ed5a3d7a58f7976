// What one kernel a Mamba layer would save over three, measured on a chain
// of 38 layers of the 1.2B shape at batch 1 (a decode step's Mamba layers),
// replayed from a CUDA graph with programmatic dependent launch: the
// question behind the 2x goal of int4 over bf16, whose step is a chain of
// 176 kernels of which 114 are the Mamba layers' in_proj, scan and out_proj
// (docs/GPU-DECODE.md, "Where a call's time goes, by GPU events"). Not
// zamba2c's kernels: kernels of the layer's math, bytes and dependences, the
// same code in both structures, for the difference between the structures.
//
// A layer (the spec's Mamba2 mixer and its residual, one token; d_model
// 2048, 64 heads of 64 rows, state 128, one group, 4 taps):
//   xn = x / rms(x) * norm;  p = Win xn (8512 channels: z, xBC, dt);
//   xBC = SiLU(conv_bias + the 4 taps over the conv state and xBC);
//   dt = softplus(dt + dt_bias);  S = exp(dt A) S + dt outer(xs, B);
//   y = (S C + D xs) SiLU(z);  y = y / rms(y) * gate_norm (eps 1e-5);
//   x' = x + Wout y.
// Win (8512 x 2048) and Wout (2048 x 4096) are int4 with an f16 scale a
// group of 64; a channel's row is laid out so that a warp's lanes read x
// without bank conflicts (lane l holds the weights of x's elements 32 m + l,
// m = 32 c + 8 p + q at nibble q of word p of its 16-byte chunk c; a group
// is a lane's two chunks), taken as the halves of f16 pairs as zamba2c's
// one-row kernels do. The state (2 MB a layer, f32) and the conv state are
// read and written every step; every layer has its own weights and state
// (38 x 18.0 MB: from DRAM).
//
// Structures:
//   - "3 kernels" (zamba2c's now): the in_proj (266 blocks of 8 warps, a
//     warp 4 channels, their weights in registers before the dependent-launch
//     wait; after it the block stages xn; the conv in the epilogue), the
//     scan (512 blocks of 4 warps, a warp 2 rows of a head, their state
//     loaded before the wait), the out_proj (256 blocks of 8 warps, a warp a
//     channel; y staged and normalised by every block; the residual added).
//   - "1 kernel": the layer in one kernel of one block an SM (16 warps, at
//     most 64 registers, so that the next layer's blocks fit beside it and
//     load their weights while it runs), its three phases apart by grid-wide
//     barriers (an arrival count a barrier: a release add, then acquire
//     loads until every block has arrived). Before the wait each block
//     copies its in_proj channels' weights (64-65 channels, 68-69 KiB) into
//     shared memory, and loads into registers its warps' out_proj channel
//     (a warp one), scan rows (a warp two) and conv taps; after it the three
//     phases are those of the kernels above, on the same data, with the
//     layer's intermediate rows read from L2.
//   - "1 kernel/2": the same in two blocks an SM of 8 warps each (half the
//     in_proj channels a block).
//   - "no barrier": the one kernel without its barriers: a bound for what
//     they cost (nothing orders its phases across blocks, so its phases may
//     read rows that other blocks have not written yet, and its check may
//     fail).
// Every kernel signals its dependent launch at its start. Each structure's
// step is first checked against a float64 evaluation on the host ("max
// err": the largest difference of the last layer's output row and state
// over their largest magnitude, at most 1e-5 or the bench stops), from the
// same initial state and with every row a layer computes NaN before it.
//
// Prints the cost of a layer (replay time over the layers, median of the
// replays) of each structure in two rounds, the registers and shared memory
// of the kernels, the layer's bytes over --gbps (default 3350, the H100's
// HBM3), and the one-kernel layer's phases in a step of a build of it that
// stamps them (thread 0 of each block reads %globaltimer at each phase's
// end). Build where nvcc is (bench/gpu/chain_floor.sh OUT), run on
// the GPU machine: OUT/layer_chain [--gbps 3350]
#include "graph_timing.cuh"

#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>

namespace {

constexpr int kLayers = 38, kReplays = 20;
constexpr double kMostErr = 1e-5; // a structure's step against float64
constexpr int kModel = 2048, kHeads = 64, kHeadDim = 64, kState = 128;
constexpr int kInner = kHeads * kHeadDim;           // 4096
constexpr int kConv = kInner + 2 * kState;          // 4352 conv channels
constexpr int kInProj = kInner + kConv + kHeads;    // 8512
constexpr int kTaps = 4, kKeep = kTaps - 1;         // conv state: 3 rows
constexpr float kNormEps = 1e-6f, kGateEps = 1e-5f; // rms_norm_eps, gated
constexpr int kInChunks = kModel / 1024;            // 16-byte chunks a lane
constexpr int kOutChunks = kInner / 1024;           // a lane's 4
constexpr int kWarps3 = 8, kInPerWarp = 4;          // 3 kernels: in_proj
constexpr int kInBlocks = kInProj / (kWarps3 * kInPerWarp);            // 266
constexpr int kScanWarps = 4, kScanBlocks = kInner / (2 * kScanWarps); // 512
constexpr int kOutBlocks = kModel / kWarps3;                           // 256
constexpr int kWarps1 = 16, kMostIn = 5; // 1 kernel a layer

/// One layer's buffers (device).
struct Layer {
  const uint4 *inW;               // [8512][2 chunks][32 lanes]
  const __half *inS;              // [8512][32 lanes]: a lane's group
  const uint4 *outW;              // [2048][4][32]
  const __half *outS;             // [2048][2 groups][32]
  const float *norm;              // [2048]
  const float *convW;             // [4352][4]
  const float *convBias;          // [4352]
  float *convState;               // [4352][3], oldest first
  const float *aLog, *d, *dtBias; // [64]
  const float *gateNorm;          // [4096]
  float *state;                   // [4096 rows][128]
  const float *x;                 // the layer's input row
  float *next;                    // its output row
  float *proj;                // the in_proj's outputs, the conv applied to xBC
  float *y;                   // the gated y, before its norm
  unsigned *arrived;          // 2 counters: the one-kernel layer's barriers
  unsigned long long *stamps; // the probe's: kStamps a block
};

/// What the probe's one-kernel layers stamp, a block each (thread 0 reads
/// %globaltimer): its start, the wait released, its in_proj channels
/// stored, the first barrier passed, its scan rows done, the second barrier
/// passed, its out_proj channels stored.
enum Stamp {
  kStart,
  kReleased,
  kProjected,
  kBarrier1,
  kScanned,
  kBarrier2,
  kEnd,
  kStamps
};
__device__ void stamp(const Layer &l, Stamp what) {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)::"memory");
  if (threadIdx.x == 0)
    l.stamps[blockIdx.x * kStamps + what] = t;
}

__device__ float silu(float v) { return v / (1.f + __expf(-v)); }

/// The block's sum of v over its threads (every thread gets it). `scratch`:
/// 32 floats of shared memory, free again when it returns.
__device__ float blockSum(float v, float *scratch) {
  v = warpSum(v);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0)
    scratch[warp] = v;
  __syncthreads();
  float total = 0.f;
  for (int w = 0; w < int(blockDim.x / 32); ++w)
    total += scratch[w];
  __syncthreads();
  return total;
}

/// row = in / rms(in) * weight, n floats staged in shared memory by the
/// block; `in` is read from L2 (another block may have written it).
template <int n>
__device__ void stageNormed(const float *in, const float *weight, float eps,
                            float *row, float *scratch) {
  float squares = 0.f;
  for (int k = threadIdx.x; k < n; k += blockDim.x) {
    float v = __ldcg(in + k);
    row[k] = v;
    squares += v * v;
  }
  float scale = rsqrtf(blockSum(squares, scratch) / n + eps);
  for (int k = threadIdx.x; k < n; k += blockDim.x)
    row[k] *= scale * weight[k];
  __syncthreads();
}

/// A word's 8 int4 weights (two's complement, weight q at bits 4q) against
/// x[32 (8p + q)] (xs points at m = 8p): the fields taken two at a time as
/// an f16 pair (1024 + u or 1024 + 16u, u = q + 8), exact.
__device__ float wordDot(unsigned word, const float *xs) {
  unsigned u = word ^ 0x88888888u, u8 = u >> 8;
  auto pair = [](unsigned bits) { return *reinterpret_cast<__half2 *>(&bits); };
  const __half2 low = __float2half2_rn(-1032.f),
                sixteenth = __float2half2_rn(0.0625f),
                high = __float2half2_rn(-72.f);
  float2 q04 =
      __half22float2(__hadd2(pair((u & 0x000F000Fu) | 0x64006400u), low));
  float2 q15 = __half22float2(
      __hfma2(pair((u & 0x00F000F0u) | 0x64006400u), sixteenth, high));
  float2 q26 =
      __half22float2(__hadd2(pair((u8 & 0x000F000Fu) | 0x64006400u), low));
  float2 q37 = __half22float2(
      __hfma2(pair((u8 & 0x00F000F0u) | 0x64006400u), sixteenth, high));
  return q04.x * xs[0] + q15.x * xs[32] + q26.x * xs[64] + q37.x * xs[96] +
         q04.y * xs[128] + q15.y * xs[160] + q26.y * xs[192] + q37.y * xs[224];
}

/// A lane's 16-byte chunk c against the staged row (its x at 1024 c + lane).
__device__ float chunkDot(uint4 w, const float *row, int c, int lane) {
  const float *xs = row + 1024 * c + lane;
  return wordDot(w.x, xs) + wordDot(w.y, xs + 256) + wordDot(w.z, xs + 512) +
         wordDot(w.w, xs + 768);
}

/// A channel's sum over the warp: the lane's `chunks` chunks (groups of 2
/// with their scales) against the staged row.
template <int chunks>
__device__ float channelSum(const uint4 *w, const __half *scales,
                            const float *row, int lane) {
  float acc = 0.f;
#pragma unroll
  for (int g = 0; g < chunks / 2; ++g)
    acc += __half2float(scales[g]) *
           (chunkDot(w[2 * g], row, 2 * g, lane) +
            chunkDot(w[2 * g + 1], row, 2 * g + 1, lane));
  return warpSum(acc);
}

/// An in_proj channel's conv taps, bias and state, held by one lane from
/// before the wait (xBC channels only).
struct ConvTaps {
  float w[kTaps], bias, keep[kKeep];
};
__device__ ConvTaps loadTaps(const Layer &l, int channel) {
  ConvTaps t{};
  int c = channel - kInner;
  if (c >= 0 && c < kConv) {
    for (int k = 0; k < kTaps; ++k)
      t.w[k] = l.convW[c * kTaps + k];
    t.bias = l.convBias[c];
    for (int k = 0; k < kKeep; ++k)
      t.keep[k] = l.convState[c * kKeep + k];
  }
  return t;
}

/// Stores in_proj channel `channel`'s output v: through the conv for xBC
/// (its state moved on by one row), as it is for z and dt.
__device__ void storeChannel(const Layer &l, int channel, float v,
                             const ConvTaps &t) {
  int c = channel - kInner;
  if (c >= 0 && c < kConv) {
    float acc = t.bias + t.w[kTaps - 1] * v;
    for (int k = 0; k < kKeep; ++k)
      acc += t.w[k] * t.keep[k];
    for (int k = 0; k + 1 < kKeep; ++k)
      l.convState[c * kKeep + k] = t.keep[k + 1];
    l.convState[c * kKeep + kKeep - 1] = v;
    v = silu(acc);
  }
  l.proj[channel] = v;
}

/// A warp's two scan rows (row0, row0 + 1: one head), their state (a
/// lane's 4 columns of each) loaded before the wait.
struct ScanRows {
  int row0;
  float s[2][4], a, d, bias;
};
__device__ ScanRows loadRows(const Layer &l, int row0, int lane) {
  ScanRows r;
  r.row0 = row0;
  int h = row0 / kHeadDim;
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 4; ++j)
      r.s[i][j] = l.state[size_t(row0 + i) * kState + lane + 32 * j];
  r.a = -__expf(l.aLog[h]);
  r.d = l.d[h];
  r.bias = l.dtBias[h];
  return r;
}
/// The rows' state update and their gated y, from the in_proj's outputs
/// (read from L2).
__device__ void scanRows(const Layer &l, ScanRows &r, int lane) {
  int h = r.row0 / kHeadDim;
  float dtRaw = __ldcg(l.proj + kInner + kConv + h) + r.bias;
  float dt = dtRaw > 20.f ? dtRaw : log1pf(__expf(dtRaw));
  float decay = __expf(dt * r.a);
  float b[4], c[4];
  for (int j = 0; j < 4; ++j) {
    b[j] = __ldcg(l.proj + 2 * kInner + lane + 32 * j);
    c[j] = __ldcg(l.proj + 2 * kInner + kState + lane + 32 * j);
  }
  for (int i = 0; i < 2; ++i) {
    int row = r.row0 + i;
    float x = __ldcg(l.proj + kInner + row), z = __ldcg(l.proj + row);
    float part = 0.f;
    for (int j = 0; j < 4; ++j) {
      r.s[i][j] = r.s[i][j] * decay + dt * x * b[j];
      part += r.s[i][j] * c[j];
      l.state[size_t(row) * kState + lane + 32 * j] = r.s[i][j];
    }
    float y = warpSum(part) + r.d * x;
    if (lane == 0)
      l.y[row] = y * silu(z);
  }
}

/// An out_proj channel's weights, a lane's 4 chunks and 2 scales.
struct OutChannel {
  uint4 w[kOutChunks];
  __half s[kOutChunks / 2];
};
__device__ OutChannel loadOut(const Layer &l, int channel, int lane) {
  OutChannel o;
  for (int c = 0; c < kOutChunks; ++c)
    o.w[c] = l.outW[(size_t(channel) * kOutChunks + c) * 32 + lane];
  for (int g = 0; g < kOutChunks / 2; ++g)
    o.s[g] = l.outS[(size_t(channel) * (kOutChunks / 2) + g) * 32 + lane];
  return o;
}
__device__ void outChannel(const Layer &l, int channel, const OutChannel &o,
                           const float *row, int lane) {
  float v = channelSum<kOutChunks>(o.w, o.s, row, lane);
  if (lane == 0)
    l.next[channel] = l.x[channel] + v;
}

// ---- 3 kernels a layer ----------------------------------------------------

__global__ void __launch_bounds__(kWarps3 * 32) inProjKernel(Layer l) {
  signalDependents();
  __shared__ float row[kModel], scratch[32];
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int first = (blockIdx.x * kWarps3 + warp) * kInPerWarp;
  uint4 w[kInPerWarp][kInChunks];
  __half s[kInPerWarp];
#pragma unroll
  for (int j = 0; j < kInPerWarp; ++j) {
#pragma unroll
    for (int c = 0; c < kInChunks; ++c)
      w[j][c] = l.inW[(size_t(first + j) * kInChunks + c) * 32 + lane];
    s[j] = l.inS[size_t(first + j) * 32 + lane];
  }
  ConvTaps taps = loadTaps(l, first + (lane < kInPerWarp ? lane : 0));
  waitForGrid();
  stageNormed<kModel>(l.x, l.norm, kNormEps, row, scratch);
  float mine = 0.f;
#pragma unroll
  for (int j = 0; j < kInPerWarp; ++j) {
    float v = channelSum<kInChunks>(w[j], &s[j], row, lane);
    mine = lane == j ? v : mine;
  }
  if (lane < kInPerWarp)
    storeChannel(l, first + lane, mine, taps);
}

__global__ void __launch_bounds__(kScanWarps * 32) scanKernel(Layer l) {
  signalDependents();
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  ScanRows r = loadRows(l, (blockIdx.x * kScanWarps + warp) * 2, lane);
  waitForGrid();
  scanRows(l, r, lane);
}

__global__ void __launch_bounds__(kWarps3 * 32) outProjKernel(Layer l) {
  signalDependents();
  __shared__ float row[kInner], scratch[32];
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  OutChannel o = loadOut(l, blockIdx.x * kWarps3 + warp, lane);
  waitForGrid();
  stageNormed<kInner>(l.y, l.gateNorm, kGateEps, row, scratch);
  outChannel(l, blockIdx.x * kWarps3 + warp, o, row, lane);
}

// ---- 1 kernel a layer -----------------------------------------------------

/// Every block of the grid past this point (barrier `counter`): the block's
/// writes released by its arrival, the others' acquired. A bound on the
/// spin makes a grid that is not all resident fail instead of hanging.
__device__ void gridBarrier(unsigned *counter) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(counter)
                 : "memory");
    long long start = clock64();
    unsigned seen;
    do {
      asm volatile("ld.acquire.gpu.global.u32 %0, [%1];"
                   : "=r"(seen)
                   : "l"(counter)
                   : "memory");
      if (clock64() - start > (1ll << 32))
        __trap();
    } while (seen < gridDim.x);
  }
  __syncthreads();
}

/// The block's in_proj channels: [first, last).
__device__ int inFirst(int block) { return block * kInProj / gridDim.x; }

/// Shared memory of the one-kernel layer: its in_proj channels' weights and
/// scales, then a staged row (x, then y).
size_t layerSmem(int blocks) {
  int most = (kInProj + blocks - 1) / blocks;
  return size_t(most) * kInChunks * 32 * 16 + size_t(most) * 32 * 2 +
         kInner * 4;
}

template <int warps, bool barriers, bool probe = false>
__global__ void __launch_bounds__(warps * 32, 32 / warps) layerKernel(Layer l) {
  if (probe)
    stamp(l, kStart);
  signalDependents();
  extern __shared__ uint4 smem[];
  __shared__ float scratch[32];
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int first = inFirst(blockIdx.x), count = inFirst(blockIdx.x + 1) - first;
  uint4 *inW = smem;
  __half *inS = reinterpret_cast<__half *>(inW + count * kInChunks * 32);
  float *row = reinterpret_cast<float *>(
      inW + (count * kInChunks * 32 + (count * 64 + 15) / 16));
  // The block's in_proj weights (contiguous channels) into shared memory,
  // loads batched before their stores.
  {
    constexpr int kBatch = 8;
    const uint4 *from = l.inW + size_t(first) * kInChunks * 32;
    int n = count * kInChunks * 32;
    for (int base = 0; base < n; base += kBatch * warps * 32) {
      uint4 held[kBatch];
#pragma unroll
      for (int k = 0; k < kBatch; ++k) {
        int i = base + k * warps * 32 + threadIdx.x;
        if (i < n)
          held[k] = from[i];
      }
#pragma unroll
      for (int k = 0; k < kBatch; ++k) {
        int i = base + k * warps * 32 + threadIdx.x;
        if (i < n)
          inW[i] = held[k];
      }
    }
    const unsigned *scales =
        reinterpret_cast<const unsigned *>(l.inS + size_t(first) * 32);
    for (int i = threadIdx.x; i < count * 16; i += blockDim.x)
      reinterpret_cast<unsigned *>(inS)[i] = scales[i];
  }
  // A warp's in_proj channels: first + warp + warps j; lane j holds the
  // taps of its j-th.
  int mineIn = (count - warp + warps - 1) / warps;
  ConvTaps taps =
      loadTaps(l, first + warp + warps * (lane < mineIn ? lane : 0));
  int gw = blockIdx.x * warps + warp;
  bool scans = 2 * gw < kInner, projects = gw < kModel;
  ScanRows r = loadRows(l, scans ? 2 * gw : 0, lane);
  OutChannel o = loadOut(l, projects ? gw : 0, lane);
  waitForGrid();
  if (probe)
    stamp(l, kReleased);

  stageNormed<kModel>(l.x, l.norm, kNormEps, row, scratch);
  float mine = 0.f;
  for (int j = 0; j < kMostIn && j < mineIn; ++j) {
    int local = warp + warps * j;
    uint4 w[kInChunks];
    for (int c = 0; c < kInChunks; ++c)
      w[c] = inW[(local * kInChunks + c) * 32 + lane];
    __half s = inS[local * 32 + lane];
    float v = channelSum<kInChunks>(w, &s, row, lane);
    mine = lane == j ? v : mine;
  }
  if (lane < mineIn)
    storeChannel(l, first + warp + warps * lane, mine, taps);
  if (probe) {
    __syncthreads();
    stamp(l, kProjected);
  }
  if (barriers)
    gridBarrier(l.arrived);
  if (probe)
    stamp(l, kBarrier1);

  if (scans)
    scanRows(l, r, lane);
  if (probe) {
    __syncthreads();
    stamp(l, kScanned);
  }
  if (barriers)
    gridBarrier(l.arrived + 1);
  if (probe)
    stamp(l, kBarrier2);

  stageNormed<kInner>(l.y, l.gateNorm, kGateEps, row, scratch);
  if (projects)
    outChannel(l, gw, o, row, lane);
  if (probe) {
    __syncthreads();
    stamp(l, kEnd);
  }
}

enum Structure { kThree, kOne, kOneFree, kOneHalf, kOneProbe };

/// Launches `kernel` as a dependent of the kernel before, unless `first`
/// (the step's first: a memset or nothing before it).
void launch(cudaStream_t stream, void (*kernel)(Layer), int blocks, int threads,
            size_t smem, const Layer &l, bool first) {
  cudaLaunchAttribute attr;
  cudaLaunchConfig_t config =
      launchConfig(blocks, threads, stream, /*dependent=*/!first, attr);
  config.dynamicSmemBytes = smem;
  CHECK(cudaLaunchKernelEx(&config, kernel, l));
}

/// A step: the layers of `structure` on `stream` (the one-kernel layers'
/// barrier counts zeroed first).
void step(Structure structure, const std::vector<Layer> &layers,
          unsigned *arrived, int sms, cudaStream_t stream) {
  if (structure == kOne || structure == kOneHalf || structure == kOneProbe)
    CHECK(cudaMemsetAsync(arrived, 0, 2 * kLayers * sizeof(unsigned), stream));
  for (const Layer &l : layers) {
    bool first = &l == &layers.front();
    if (structure == kOneHalf) {
      launch(stream, layerKernel<kWarps1 / 2, true>, 2 * sms, kWarps1 * 16,
             layerSmem(2 * sms), l, first);
    } else if (structure != kThree) {
      launch(stream,
             structure == kOne        ? layerKernel<kWarps1, true>
             : structure == kOneProbe ? layerKernel<kWarps1, true, true>
                                      : layerKernel<kWarps1, false>,
             sms, kWarps1 * 32, layerSmem(sms), l, first);
    } else {
      launch(stream, inProjKernel, kInBlocks, kWarps3 * 32, 0, l, first);
      launch(stream, scanKernel, kScanBlocks, kScanWarps * 32, 0, l, false);
      launch(stream, outProjKernel, kOutBlocks, kWarps3 * 32, 0, l, false);
    }
  }
}

// ---- the host's data and its float64 evaluation ---------------------------

/// The host's copy of every layer's parameters and initial state.
struct HostLayer {
  std::vector<uint4> inW, outW;
  std::vector<__half> inS, outS;
  std::vector<float> norm, convW, convBias, convState, aLog, d, dtBias,
      gateNorm, state;
};

/// Weight k of a channel's row in the layout above, as q * scale.
double weightAt(const std::vector<uint4> &w, const std::vector<__half> &s,
                int chunks, size_t channel, int k) {
  int lane = k % 32, m = k / 32, c = m / 32, p = m % 32 / 8, q = m % 8;
  const uint4 &chunk = w[(channel * chunks + c) * 32 + lane];
  unsigned word = p == 0   ? chunk.x
                  : p == 1 ? chunk.y
                  : p == 2 ? chunk.z
                           : chunk.w;
  int field = int((word >> (4 * q)) & 15u);
  int value = field >= 8 ? field - 16 : field;
  double scale = __half2float(s[(channel * (chunks / 2) + c / 2) * 32 + lane]);
  return value * scale;
}

double silu64(double v) { return v / (1.0 + std::exp(-v)); }

/// One step of a layer in float64: x becomes its output row; the state and
/// conv state (copies) move on.
void layer64(const HostLayer &h, std::vector<double> &x,
             std::vector<double> &state, std::vector<double> &convState) {
  double squares = 0;
  for (double v : x)
    squares += v * v;
  double scale = 1 / std::sqrt(squares / kModel + kNormEps);
  std::vector<double> xn(kModel), p(kInProj);
  for (int k = 0; k < kModel; ++k)
    xn[k] = x[k] * scale * h.norm[k];
  for (int n = 0; n < kInProj; ++n) {
    double acc = 0;
    for (int k = 0; k < kModel; ++k)
      acc += weightAt(h.inW, h.inS, kInChunks, n, k) * xn[k];
    p[n] = acc;
  }
  for (int c = 0; c < kConv; ++c) {
    double v = p[kInner + c], acc = h.convBias[c] + h.convW[c * kTaps + 3] * v;
    for (int k = 0; k < kKeep; ++k)
      acc += h.convW[c * kTaps + k] * convState[c * kKeep + k];
    for (int k = 0; k + 1 < kKeep; ++k)
      convState[c * kKeep + k] = convState[c * kKeep + k + 1];
    convState[c * kKeep + kKeep - 1] = v;
    p[kInner + c] = silu64(acc);
  }
  std::vector<double> y(kInner);
  for (int row = 0; row < kInner; ++row) {
    int head = row / kHeadDim;
    double raw = p[kInner + kConv + head] + h.dtBias[head];
    double dt = raw > 20 ? raw : std::log1p(std::exp(raw));
    double decay = std::exp(-dt * std::exp(double(h.aLog[head])));
    double xs = p[kInner + row], acc = 0;
    for (int n = 0; n < kState; ++n) {
      double &s = state[size_t(row) * kState + n];
      s = s * decay + dt * xs * p[2 * kInner + n];
      acc += s * p[2 * kInner + kState + n];
    }
    y[row] = (acc + h.d[head] * xs) * silu64(p[row]);
  }
  squares = 0;
  for (double v : y)
    squares += v * v;
  scale = 1 / std::sqrt(squares / kInner + kGateEps);
  for (int k = 0; k < kInner; ++k)
    y[k] *= scale * h.gateNorm[k];
  for (int n = 0; n < kModel; ++n) {
    double acc = 0;
    for (int k = 0; k < kInner; ++k)
      acc += weightAt(h.outW, h.outS, kOutChunks, n, k) * y[k];
    x[n] += acc;
  }
}

/// The largest difference of `got` from `want` over want's largest
/// magnitude; NaN when `got` holds a NaN.
double relativeError(const std::vector<float> &got,
                     const std::vector<double> &want) {
  double worst = 0, largest = 0;
  for (size_t k = 0; k < got.size(); ++k) {
    double d = std::fabs(got[k] - want[k]);
    if (std::isnan(d))
      return d;
    worst = std::max(worst, d);
    largest = std::max(largest, std::fabs(want[k]));
  }
  return worst / largest;
}

template <typename T> T *upload(const std::vector<T> &v) {
  T *p;
  CHECK(cudaMalloc(&p, v.size() * sizeof(T)));
  CHECK(cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}
template <typename T> void reload(T *to, const std::vector<T> &v) {
  CHECK(cudaMemcpy(to, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
}

HostLayer randomLayer(std::mt19937 &gen) {
  HostLayer h;
  std::uniform_int_distribution<unsigned> bits;
  std::uniform_real_distribution<float> unit(0.f, 1.f), sym(-1.f, 1.f);
  auto words = [&](size_t n) {
    std::vector<uint4> w(n);
    for (uint4 &v : w)
      v = make_uint4(bits(gen), bits(gen), bits(gen), bits(gen));
    return w;
  };
  auto halves = [&](size_t n, float around) {
    std::vector<__half> s(n);
    for (__half &v : s)
      v = __float2half(around * (0.5f + unit(gen)));
    return s;
  };
  auto floats = [&](size_t n, float lo, float hi) {
    std::vector<float> f(n);
    for (float &v : f)
      v = lo + (hi - lo) * unit(gen);
    return f;
  };
  // Scales that give the in_proj's outputs about unit size, and each
  // layer's out_proj about a third of that.
  h.inW = words(size_t(kInProj) * kInChunks * 32);
  h.inS = halves(size_t(kInProj) * 32, 0.005f);
  h.outW = words(size_t(kModel) * kOutChunks * 32);
  h.outS = halves(size_t(kModel) * (kOutChunks / 2) * 32, 0.001f);
  h.norm = floats(kModel, 0.5f, 1.5f);
  h.convW = floats(size_t(kConv) * kTaps, -0.5f, 0.5f);
  h.convBias = floats(kConv, -0.1f, 0.1f);
  h.convState = floats(size_t(kConv) * kKeep, -1.f, 1.f);
  h.aLog = floats(kHeads, 0.f, 2.7f);
  h.d = floats(kHeads, 0.5f, 1.5f);
  h.dtBias = floats(kHeads, -2.f, 0.f);
  h.gateNorm = floats(kInner, 0.5f, 1.5f);
  h.state = floats(size_t(kInner) * kState, -0.1f, 0.1f);
  return h;
}

/// The one-kernel layer's phases in a step of the probe's kernels (after
/// two that warm up): for the layers past the first 4 and before the last
/// 4, the medians over their blocks of each stamp from the end of the layer
/// before (its last block's), then the medians of those over the layers.
void probe(const std::vector<Layer> &layers, unsigned *arrived,
           unsigned long long *stamps, int sms) {
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  for (int i = 0; i < 3; ++i)
    step(kOneProbe, layers, arrived, sms, stream);
  CHECK(cudaStreamSynchronize(stream));
  CHECK(cudaStreamDestroy(stream));
  std::vector<unsigned long long> t(size_t(kLayers) * sms * kStamps);
  CHECK(cudaMemcpy(t.data(), stamps, t.size() * 8, cudaMemcpyDeviceToHost));
  auto at = [&](int layer, int block, int what) {
    return t[(size_t(layer) * sms + block) * kStamps + what];
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<std::vector<double>> perLayer(kStamps + 1);
  for (int layer = 4; layer < kLayers - 4; ++layer) {
    unsigned long long before = 0;
    for (int b = 0; b < sms; ++b)
      before = std::max(before, at(layer - 1, b, kEnd));
    unsigned long long last = 0;
    for (int what = 0; what < kStamps; ++what) {
      std::vector<double> blocks;
      for (int b = 0; b < sms; ++b) {
        blocks.push_back((double(at(layer, b, what)) - double(before)) / 1e3);
        last = std::max(last, at(layer, b, kEnd));
      }
      perLayer[what].push_back(median(blocks));
    }
    perLayer[kStamps].push_back((double(last) - double(before)) / 1e3);
  }
  const char *names[] = {"start",   "released",  "projected", "barrier 1",
                         "scanned", "barrier 2", "end",       "last end"};
  std::printf("1 kernel, probed (us from the layer before's last block's "
              "end; medians over blocks, then over layers 4-%d):\n",
              kLayers - 5);
  for (int what = 0; what <= kStamps; ++what)
    std::printf("  %-10s %7.2f\n", names[what], median(perLayer[what]));
}

} // namespace

int main(int argc, char **argv) {
  double gbps = 3350;
  if (!parseGbps(argc, argv, "layer_chain", gbps))
    return 2;
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  int sms = prop.multiProcessorCount;
  std::printf("layer_chain: %s, %d SMs; %d Mamba layers of the 1.2B shape at "
              "batch 1 (int4, group 64), median of %d replays\n",
              prop.name, sms, kLayers, kReplays);
  size_t smem = layerSmem(sms);
  if (smem > prop.sharedMemPerBlockOptin ||
      (kInProj + sms - 1) / sms > kWarps1 * kMostIn ||
      sms * kWarps1 * 2 < kInner || sms * kWarps1 < kModel) {
    std::fprintf(stderr,
                 "layer_chain: the one-kernel layer does not fit %d SMs "
                 "(%zu bytes of shared memory a block, %zu allowed)\n",
                 sms, smem, prop.sharedMemPerBlockOptin);
    return 1;
  }
  for (auto kernel :
       {layerKernel<kWarps1, true>, layerKernel<kWarps1, false>,
        layerKernel<kWarps1 / 2, true>, layerKernel<kWarps1, true, true>})
    CHECK(cudaFuncSetAttribute(
        kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  int perSm = 0, perSmHalf = 0;
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &perSm, layerKernel<kWarps1, true>, kWarps1 * 32, smem));
  CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(
      &perSmHalf, layerKernel<kWarps1 / 2, true>, kWarps1 * 16,
      layerSmem(2 * sms)));
  if (perSmHalf < 2) {
    std::fprintf(stderr, "layer_chain: two blocks of the one-kernel layer of "
                         "8 warps do not fit an SM\n");
    return 1;
  }
  if (perSm < 1) {
    std::fprintf(stderr, "layer_chain: the one-kernel layer's block does not "
                         "fit an SM\n");
    return 1;
  }

  std::mt19937 gen(2048);
  std::vector<HostLayer> host;
  std::vector<Layer> layers;
  float *rows[2];
  std::vector<float> x0(kModel);
  for (float &v : x0)
    v = std::uniform_real_distribution<float>(-1.f, 1.f)(gen);
  rows[0] = upload(x0);
  rows[1] = upload(std::vector<float>(kModel));
  unsigned *arrived = upload(std::vector<unsigned>(2 * kLayers));
  unsigned long long *stamps =
      upload(std::vector<unsigned long long>(size_t(kLayers) * sms * kStamps));
  for (int i = 0; i < kLayers; ++i) {
    host.push_back(randomLayer(gen));
    const HostLayer &h = host.back();
    Layer l;
    l.inW = upload(h.inW);
    l.inS = upload(h.inS);
    l.outW = upload(h.outW);
    l.outS = upload(h.outS);
    l.norm = upload(h.norm);
    l.convW = upload(h.convW);
    l.convBias = upload(h.convBias);
    l.convState = upload(h.convState);
    l.aLog = upload(h.aLog);
    l.d = upload(h.d);
    l.dtBias = upload(h.dtBias);
    l.gateNorm = upload(h.gateNorm);
    l.state = upload(h.state);
    l.x = rows[i % 2];
    l.next = rows[(i + 1) % 2];
    l.proj = upload(std::vector<float>(kInProj));
    l.y = upload(std::vector<float>(kInner));
    l.arrived = arrived + 2 * i;
    l.stamps = stamps + size_t(i) * sms * kStamps;
    layers.push_back(l);
  }

  // The float64 step: the last layer's output row and state.
  std::vector<double> x(x0.begin(), x0.end()), lastState;
  for (const HostLayer &h : host) {
    std::vector<double> state(h.state.begin(), h.state.end()),
        convState(h.convState.begin(), h.convState.end());
    layer64(h, x, state, convState);
    lastState = state;
  }
  // A step from the initial state, with every row a layer computes (the
  // in_proj's outputs, y, the odd layers' inputs) NaN before it, so that a
  // phase that reads one before it is written fails the check.
  auto check = [&](Structure structure) {
    reload(rows[0], x0);
    CHECK(cudaMemset(rows[1], 0xff, kModel * 4));
    for (int i = 0; i < kLayers; ++i) {
      reload(layers[i].state, host[i].state);
      reload(layers[i].convState, host[i].convState);
      CHECK(cudaMemset(layers[i].proj, 0xff, kInProj * 4));
      CHECK(cudaMemset(layers[i].y, 0xff, kInner * 4));
    }
    cudaStream_t stream;
    CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    step(structure, layers, arrived, sms, stream);
    CHECK(cudaStreamSynchronize(stream));
    CHECK(cudaStreamDestroy(stream));
    std::vector<float> out(kModel), state(lastState.size());
    CHECK(cudaMemcpy(out.data(), layers.back().next, kModel * 4,
                     cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(state.data(), layers.back().state, state.size() * 4,
                     cudaMemcpyDeviceToHost));
    double outErr = relativeError(out, x),
           stateErr = relativeError(state, lastState);
    return std::isnan(outErr) || std::isnan(stateErr)
               ? outErr + stateErr
               : std::max(outErr, stateErr);
  };

  auto registers = [](void (*kernel)(Layer)) {
    cudaFuncAttributes a;
    CHECK(cudaFuncGetAttributes(&a, kernel));
    return a.numRegs;
  };
  double mb = (double(kInProj) * (kInChunks * 512 + 64) +
               double(kModel) * (kOutChunks * 512 + kOutChunks * 32) +
               2.0 * kInner * kState * 4 + 2.0 * kConv * kKeep * 4) /
              1e6;
  std::printf("a layer's bytes: %.2f MB (weights, scales, state and conv "
              "state read and written): %.2f us at %.0f GB/s\n",
              mb, mb / gbps * 1e3, gbps);
  std::printf("3 kernels: in_proj %d x %d threads, %d registers; scan %d x %d, "
              "%d; out_proj %d x %d, %d\n",
              kInBlocks, kWarps3 * 32, registers(inProjKernel), kScanBlocks,
              kScanWarps * 32, registers(scanKernel), kOutBlocks, kWarps3 * 32,
              registers(outProjKernel));
  std::printf("1 kernel: %d x %d threads, %d registers, %zu bytes of shared "
              "memory, %d an SM\n",
              sms, kWarps1 * 32, registers(layerKernel<kWarps1, true>), smem,
              perSm);
  std::printf("1 kernel/2: %d x %d threads, %d registers, %zu bytes of "
              "shared memory, %d an SM\n",
              2 * sms, kWarps1 * 16, registers(layerKernel<kWarps1 / 2, true>),
              layerSmem(2 * sms), perSmHalf);
  const std::pair<Structure, const char *> runs[] = {{kThree, "3 kernels"},
                                                     {kOne, "1 kernel"},
                                                     {kOneHalf, "1 kernel/2"},
                                                     {kOneFree, "no barrier"}};
  for (const auto &run : runs) {
    double err = check(run.first);
    bool bound = run.first == kOneFree;
    std::printf("%-10s max err %.1e%s\n", run.second, err,
                bound ? " (a bound: not required to match)" : "");
    if (!bound && !(err <= kMostErr)) {
      std::fprintf(stderr,
                   "layer_chain: %s is %.1e from float64 (at most %.0e "
                   "allowed): not timed\n",
                   run.second, err, kMostErr);
      return 1;
    }
  }
  std::printf("%-10s %12s\n", "structure", "us a layer");
  for (int round = 0; round < 2; ++round)
    for (const auto &run : runs)
      std::printf("%-10s %12.2f\n", run.second,
                  medianReplayMs(kReplays, kLayers, [&](cudaStream_t stream) {
                    step(run.first, layers, arrived, sms, stream);
                  }) * 1e3);
  probe(layers, arrived, stamps, sms);
  return 0;
}
