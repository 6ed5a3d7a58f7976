// What a chain of one-row int4 GEMVs of the 1.2B Mamba in_proj's shape
// costs a kernel, by the kernel's form: the question behind the 2x goal of
// int4 over bf16 at batch 1, where the step is a chain of ~190 dependent
// kernels and each costs about twice its weights' bytes (docs/GPU-DECODE.md,
// "The chain floor"). Not zamba2c's kernels: kernels of the same shape, the
// same arithmetic and the same dependences, for the difference between
// forms.
//
// Every kernel computes out = (W (x * g)) / rms(x * g) for a row x of 2048
// floats (the first 2048 outputs of the kernel before it), g a norm's
// weights, W 8512 x 2048 int4 weights (symmetric: the stored field u is
// q + 8) with one f16 scale a group of 64: 8.7 MB of weights and 0.5 MB of
// scales a launch, a new part of a 2 GiB buffer each launch (from DRAM, as
// a step reads its layers). Each kernel signals its dependent launch at its
// start, so that the next kernel's blocks may be resident, loading their
// weights, while it runs. Forms:
//   - "regs": zamba2c's form. 1064 blocks of 4 warps, each warp 2 channels
//     (8 fields a little-endian word, weight i at bits 4i); a lane's
//     16-byte steps (32 weights of one group) and their scales loaded into
//     registers before the dependent-launch wait; after it the block stages
//     x * g in shared memory and sums its squares, and each warp its
//     channels' products, the fields taken two at a time as the halves of
//     an f16 pair and multiplied in f32 as zamba2c's integerFields does (per
//     8 weights a shift, 4 and-ors, 4 f16x2 operations, 8 widenings, 8
//     FMAs). "regs 9/SM" caps it at 56 registers (one wave, some spills);
//     "regs 1 wave" launches 1056 blocks (8 an SM at 64 registers), its
//     last 64 channels not computed: a bound on what one wave gives.
//   - "staged": a block a contiguous range of channels, their weights and
//     scales copied into shared memory (cp.async) before the wait: few
//     registers hold them, and the blocks of two kernels fit an SM. Its
//     warps split the row in halves, a lane holding its step's 32 floats of
//     x * g; the lanes' parts of each channel's sum meet in shared memory.
//     "2/SM": blocks of half the channels, two an SM. "free": the products
//     without fields (each word's bits as one float);
//     "none": no products (the copy, x and the stores): bounds, wrong sums.
//   - "imma": the integer tensor cores (mma.sync m16n8k32, u8 x s8 -> s32),
//     the weights packed in the order of its A fragments (immaWordAt), x * g
//     as integers of 30 bits split in four signed 8-bit digits (B's columns
//     0-3): every product and group sum exact, about 5 times fewer
//     instructions than the fields. "imma staged": the staged form's
//     copies, 4-5 tiles of 16 channels a block, warps by k slices (8 warps,
//     or 16 for "512"); "imma
//     regs": a block of 8 warps one tile, warp w its k slice of 256 in
//     registers before the wait, no block-wide step before the products
//     (each warp scales its own slice); "5/SM" caps it at 48 registers (8
//     bytes of spills),
//     "1 wave" leaves the last 4 tiles out (a bound).
//   - "L2 ...": the form with every launch reading the same weights, which
//     stay in L2: its cost when its weights come quickly.
// The first launch of every form is checked against a float64 evaluation
// on the host ("max err": largest difference over largest magnitude).
//
// Prints, per form, the cost of a kernel in a chain of 200 replayed from a
// CUDA graph (median of the replays) with dependent launch and without it,
// the form's registers and shared memory, how many of its blocks an SM
// holds, and the bytes' floor at --gbps (default 3350, the H100's HBM3);
// then a probe of each form: a chain of 24 launches of its kernel built
// with stamps (kProbe: thread 0 of each block reads %globaltimer, about
// 0.26 us a tick on the H100; the timed kernels have none), and for
// launches 8-15 the times from the end of the launch before to its first
// block's start, and its blocks' median wait release, x ready, products
// done, and its last block's end (medians over the launches), as thread 0
// sees them (in zamba2c's form, its own warp's products and end).
// Build where nvcc is (bench/gpu/chain_floor.sh OUT), run on the GPU
// machine: OUT/gemv_chain [--gbps 3350]
#include "graph_timing.cuh"

#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace {

constexpr int kChain = 200, kReplays = 15;
constexpr int kRow = 2048, kChannels = 8512, kGroup = 64;
constexpr int kSteps = kRow / 32;      // 16-byte steps of a row: 64
constexpr int kGroups = kRow / kGroup; // scales of a row: 32
constexpr int kStepsPerGroup = kGroup / 32;
constexpr size_t kRowBytes = kRow / 2; // 1 KB
constexpr size_t kWeightBytes = size_t(2) << 30;
constexpr int kSlots = int(kWeightBytes / (kChannels * kRowBytes)); // 246
constexpr float kEps = 1e-5f;
/// x * g is staged by 16-byte steps of 8 float4s, each step padded by one
/// float4 so that the 8 lanes of a 16-byte load's phase fall in different
/// banks.
constexpr int kPaddedStep = 9;

/// Probe runs: thread 0 of each block records the global timer at 5 points
/// (start, after the dependent-launch wait, once x and the weights are
/// ready, after its products, at its end: as thread 0 sees them) in
/// `stamps` (this launch's: [block][phase]), in the kernels built for
/// probes (kProbe); the timed kernels have none of it.
constexpr int kPhases = 5, kMaxBlocks = 1064, kProbeLaunches = 24;
template <bool kProbe>
__device__ __forceinline__ void stamp(unsigned long long *stamps, int phase) {
  if constexpr (!kProbe)
    return;
  if (threadIdx.x != 0)
    return;
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t)::"memory");
  stamps[blockIdx.x * kPhases + phase] = t;
}

/// The f16 pair whose halves are 1024 + the fields of `word` under `mask`
/// (at the same place of both 16-bit halves).
__device__ __half2 fieldPair(unsigned word, unsigned mask) {
  unsigned bits = (word & mask) | 0x64006400u;
  __half2 h;
  std::memcpy(&h, &bits, 4);
  return h;
}

/// How a kernel computes its products: as zamba2c does, or bounds that give
/// wrong numbers: each word's bits taken as a float, no fields (kFree); no
/// products at all (kNone).
enum Math : int { kFields = 0, kFree = 1, kNone = 2 };

/// One 16-byte step's dot product: 32 weights (4 words of 8 fields) against
/// the 32 floats x[0..7] (8 per word, float4 pairs).
template <int kMath = kFields>
__device__ float stepDot(uint4 w, const float4 *x) {
  const __half2 bias = __floats2half2_rn(1032.f, 1032.f);        // 1024 + 8
  const __half2 sixteenth = __floats2half2_rn(0.0625f, 0.0625f); // field << 4
  const __half2 bias16 = __floats2half2_rn(-72.f, -72.f);        // 64 + 8
  unsigned words[4] = {w.x, w.y, w.z, w.w};
  // One sum a word (4 independent chains of 8 FMAs, as zamba2c's vector
  // accumulators), added at the end.
  float sums[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    float4 a = x[2 * i], b = x[2 * i + 1];
    float v[8];
    if (kMath == kFree) {
      float f = __uint_as_float(words[i] & 0x3fffffffu);
      for (int j = 0; j < 8; ++j)
        v[j] = f;
    } else {
      unsigned lo = words[i], hi = lo >> 8;
      // Weights 0..3 of the word in the low halves, 4..7 in the high ones.
      __half2 q0 = __hsub2(fieldPair(lo, 0x000F000Fu), bias);
      __half2 q1 = __hfma2(fieldPair(lo, 0x00F000F0u), sixteenth, bias16);
      __half2 q2 = __hsub2(fieldPair(hi, 0x000F000Fu), bias);
      __half2 q3 = __hfma2(fieldPair(hi, 0x00F000F0u), sixteenth, bias16);
      v[0] = __low2float(q0);
      v[1] = __low2float(q1);
      v[2] = __low2float(q2);
      v[3] = __low2float(q3);
      v[4] = __high2float(q0);
      v[5] = __high2float(q1);
      v[6] = __high2float(q2);
      v[7] = __high2float(q3);
    }
    float sum = v[0] * a.x;
    sum = fmaf(v[1], a.y, sum);
    sum = fmaf(v[2], a.z, sum);
    sum = fmaf(v[3], a.w, sum);
    sum = fmaf(v[4], b.x, sum);
    sum = fmaf(v[5], b.y, sum);
    sum = fmaf(v[6], b.z, sum);
    sum = fmaf(v[7], b.w, sum);
    sums[i] = sum;
  }
  return (sums[0] + sums[1]) + (sums[2] + sums[3]);
}

/// One 16-byte cp.async copy from global to shared memory (waited for by
/// cp.async.wait_all).
__device__ void copyAsync16(void *dst, const void *src) {
  unsigned to = unsigned(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(to), "l"(src)
               : "memory");
}

__device__ float4 times(float4 a, float4 b) {
  return make_float4(a.x * b.x, a.y * b.y, a.z * b.z, a.w * b.w);
}
__device__ float squares(float4 a) {
  return a.x * a.x + a.y * a.y + a.z * a.z + a.w * a.w;
}

/// zamba2c's form: 4 warps a block, 2 channels a warp, a lane's steps
/// lane and lane + 32 of both rows in registers before the wait.
constexpr int kRegsThreads = 128, kRegsPerWarp = 2;
constexpr int kRegsBlocks = kChannels / (kRegsPerWarp * kRegsThreads / 32);

template <int kMinBlocks = 8, bool kProbe = false>
__global__ void __launch_bounds__(kRegsThreads, kMinBlocks)
    regsKernel(const float *__restrict__ in, const float *__restrict__ g,
               float *__restrict__ out, const uint4 *__restrict__ weights,
               const __half *__restrict__ scales, int,
               unsigned long long *stamps) {
  __shared__ float4 staged[kSteps * kPaddedStep];
  __shared__ float warpSquares[kRegsThreads / 32];
  signalDependents();
  stamp<kProbe>(stamps, 0);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int n0 = (blockIdx.x * (kRegsThreads / 32) + warp) * kRegsPerWarp;
  uint4 w[kRegsPerWarp][2];
  float scale[kRegsPerWarp][2];
#pragma unroll
  for (int c = 0; c < kRegsPerWarp; ++c)
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      int step = lane + 32 * j;
      w[c][j] = weights[size_t(n0 + c) * kSteps + step];
      scale[c][j] =
          __half2float(scales[(n0 + c) * kGroups + step / kStepsPerGroup]);
    }
  waitForGrid();
  stamp<kProbe>(stamps, 1);
  const float4 *in4 = reinterpret_cast<const float4 *>(in);
  const float4 *g4 = reinterpret_cast<const float4 *>(g);
  float sq = 0.f;
  for (int f = threadIdx.x; f < kRow / 4; f += kRegsThreads) {
    float4 v = times(in4[f], g4[f]);
    sq += squares(v);
    staged[(f / 8) * kPaddedStep + f % 8] = v;
  }
  sq = warpSum(sq);
  if (lane == 0)
    warpSquares[warp] = sq;
  __syncthreads();
  stamp<kProbe>(stamps, 2);
  float total = 0.f;
  for (int i = 0; i < kRegsThreads / 32; ++i)
    total += warpSquares[i];
  float rinv = rsqrtf(total / kRow + kEps);
#pragma unroll
  for (int c = 0; c < kRegsPerWarp; ++c) {
    float acc = 0.f;
#pragma unroll
    for (int j = 0; j < 2; ++j)
      acc += scale[c][j] *
             stepDot(w[c][j], &staged[(lane + 32 * j) * kPaddedStep]);
    acc = warpSum(acc);
    if (lane == 0)
      out[n0 + c] = acc * rinv;
  }
  stamp<kProbe>(stamps, 3);
  stamp<kProbe>(stamps, 4);
}

/// x * g into shared memory by the block, at padded 16-byte steps
/// (kPaddedStep).
__device__ void stageRow(const float *in, const float *g, float4 *staged) {
  const float4 *in4 = reinterpret_cast<const float4 *>(in);
  const float4 *g4 = reinterpret_cast<const float4 *>(g);
  for (int f = threadIdx.x; f < kRow / 4; f += blockDim.x)
    staged[(f / 8) * kPaddedStep + f % 8] = times(in4[f], g4[f]);
}

/// The staged form's shared memory: the block's weight rows and their
/// scales, x * g staged, every lane's part of each channel's sum over its
/// half of the row, and the halves' sums of squares.
size_t stagedBytes(int perBlock) {
  return size_t(perBlock) * (kRowBytes + kGroups * 2 + 2 * 32 * 4) +
         kSteps * kPaddedStep * 16 + 2 * 4;
}

/// The staged form: block b the channels [b perBlock, (b + 1) perBlock),
/// perBlock = ceil(8512 / blocks).
template <int kThreads, int kMath = kFields, bool kProbe = false>
__global__ void __launch_bounds__(kThreads)
    stagedKernel(const float *__restrict__ in, const float *__restrict__ g,
                 float *__restrict__ out, const uint4 *__restrict__ weights,
                 const __half *__restrict__ scales, int blocks,
                 unsigned long long *stamps) {
  constexpr int kWarps = kThreads / 32;
  int perBlock = (kChannels + blocks - 1) / blocks;
  extern __shared__ uint4 smem[];
  uint4 *rows = smem;
  __half *rowScales = reinterpret_cast<__half *>(rows + perBlock * kSteps);
  float4 *staged = reinterpret_cast<float4 *>(rowScales + perBlock * kGroups);
  float *lanes = reinterpret_cast<float *>(staged + kSteps * kPaddedStep);
  float *halfSquares = lanes + 2 * perBlock * 32;
  signalDependents();
  stamp<kProbe>(stamps, 0);
  int first = blockIdx.x * perBlock;
  int count = min(perBlock, kChannels - first);
  // The block's rows and scales are contiguous: one copy of 16-byte pieces.
  for (int i = threadIdx.x; i < count * kSteps; i += kThreads)
    copyAsync16(rows + i, weights + size_t(first) * kSteps + i);
  const uint4 *scaleSrc = reinterpret_cast<const uint4 *>(scales) +
                          size_t(first) * (kGroups * 2 / 16);
  for (int i = threadIdx.x; i < count * (kGroups * 2 / 16); i += kThreads)
    copyAsync16(reinterpret_cast<uint4 *>(rowScales) + i, scaleSrc + i);
  asm volatile("cp.async.commit_group;" ::: "memory");
  waitForGrid();
  stamp<kProbe>(stamps, 1);
  stageRow(in, g, staged);
  asm volatile("cp.async.wait_all;" ::: "memory");
  __syncthreads();
  stamp<kProbe>(stamps, 2);
  // Warp w: half w % 2 of the row (a lane its step there), every
  // (kWarps / 2)-th channel from w / 2.
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int half = warp % 2, group = warp / 2;
  int step = half * 32 + lane;
  float4 x[8];
  float sq = 0.f;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    x[i] = staged[step * kPaddedStep + i];
    sq += squares(x[i]);
  }
  if (group == 0) {
    sq = warpSum(sq);
    if (lane == 0)
      halfSquares[half] = sq;
  }
  // Each lane's part of a channel's sum goes to shared memory, added over
  // the lanes once after all channels (not 5 dependent shuffles a channel).
#pragma unroll 2
  for (int c = group; kMath != kNone && c < count; c += kWarps / 2) {
    float scale = __half2float(rowScales[c * kGroups + step / kStepsPerGroup]);
    lanes[(half * perBlock + c) * 32 + lane] =
        scale * stepDot<kMath>(rows[c * kSteps + step], x);
  }
  __syncthreads();
  stamp<kProbe>(stamps, 3);
  float rinv = rsqrtf((halfSquares[0] + halfSquares[1]) / kRow + kEps);
  for (int c = warp; c < count; c += kWarps) {
    float sum =
        warpSum(lanes[c * 32 + lane] + lanes[(perBlock + c) * 32 + lane]);
    if (lane == 0)
      out[first + c] = sum * rinv;
  }
  stamp<kProbe>(stamps, 4);
}

/// The tensor-core forms' tiles: 16 channels (mma.sync's rows).
constexpr int kTileRows = 16, kTiles = kChannels / kTileRows; // 532

constexpr int kMostTiles = 5; // tiles a block at most (532 over 132)

/// The block's tiles of weights (16-byte pieces in their packed order) and
/// their scales copied into shared memory (cp.async, one group).
__device__ void copyTiles(uint4 *rows, __half *rowScales, const uint4 *weights,
                          const __half *scales, int firstTile, int tiles) {
  constexpr int kTileSteps = kGroups * 32; // 16-byte pieces a tile
  for (int i = threadIdx.x; i < tiles * kTileSteps; i += blockDim.x)
    copyAsync16(rows + i, weights + size_t(firstTile) * kTileSteps + i);
  constexpr int kTileScalePieces = kTileRows * kGroups * 2 / 16;
  const uint4 *scaleSrc = reinterpret_cast<const uint4 *>(scales) +
                          size_t(firstTile) * kTileScalePieces;
  for (int i = threadIdx.x; i < tiles * kTileScalePieces; i += blockDim.x)
    copyAsync16(reinterpret_cast<uint4 *>(rowScales) + i, scaleSrc + i);
  asm volatile("cp.async.commit_group;" ::: "memory");
}

/// x * g staged in `xg`, the sum of its squares and the exponent of its
/// largest magnitude (largest < 2^exponent), over the block (`reduced`: 64
/// floats); waits for the tiles' copies and for the block (a barrier before
/// the block's sums are read).
__device__ void stageStats(const float *in, const float *g, float *xg,
                           float *reduced, float &total, int &exponent) {
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const float4 *in4 = reinterpret_cast<const float4 *>(in);
  const float4 *g4 = reinterpret_cast<const float4 *>(g);
  float sq = 0.f, most = 0.f;
  for (int f = threadIdx.x; f < kRow / 4; f += blockDim.x) {
    float4 v = times(in4[f], g4[f]);
    sq += squares(v);
    most = fmaxf(most, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)),
                             fmaxf(fabsf(v.z), fabsf(v.w))));
    reinterpret_cast<float4 *>(xg)[f] = v;
  }
  sq = warpSum(sq);
  for (int o = 16; o > 0; o /= 2)
    most = fmaxf(most, __shfl_xor_sync(0xffffffffu, most, o));
  if (lane == 0) {
    reduced[warp] = sq;
    reduced[32 + warp] = most;
  }
  asm volatile("cp.async.wait_all;" ::: "memory");
  __syncthreads();
  total = 0.f;
  most = 0.f;
  for (int i = 0; i < int(blockDim.x / 32); ++i) {
    total += reduced[i];
    most = fmaxf(most, reduced[32 + i]);
  }
  frexpf(most, &exponent);
}
/// The integer tensor-core form (mma.sync m16n8k32, u8 x s8 -> s32): the
/// weights packed in the order of its A fragments (immaWordAt): a lane's
/// two words of a 32-weight step hold rows g (low nibbles) and g + 8 (high
/// nibbles), k 4t..4t+3 and 16 + 4t..; one and (and a shift) makes four of
/// them bytes. x * g becomes integers X = rint(x g 2^e), |X| <= 2^30, split
/// in four signed 8-bit digits X = L0 + 2^8 L1 + 2^16 L2 + 2^24 L3: B's
/// columns 0-3, the other 4 zero. Every product and sum of a group is exact
/// (s32); with q = u - 8, a group's column n is D_n - 8 sum(L_n), exact too,
/// and only its f32 combination with the digit's weight and the group's
/// scale rounds. x g is represented to 2^-30 of its largest element.
__host__ __device__ inline void immaWordAt(int n, int k, size_t &word,
                                           int &nibble) {
  int tile = n / kTileRows, m = n % kTileRows, group = k / kGroup;
  int kk = k % kGroup, step = kk / 32, r = kk % 32;
  int lane = (m % 8) * 4 + (r % 16) / 4;
  nibble = 2 * (r % 4) + m / 8;
  word = ((size_t(tile) * kGroups + group) * 32 + lane) * 4 + 2 * step + r / 16;
}

__device__ void imma16832(int (&d)[4], const unsigned (&a)[4], unsigned b0,
                          unsigned b1) {
  asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
               : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

constexpr int kDigits = 4;
template <int kThreads> size_t immaBytes() {
  return size_t(kMostTiles) * (kTileRows * (kRowBytes + kGroups * 2)) +
         kRow * 4 + kDigits * kRow + kDigits * kGroups * 4 +
         (kThreads / 32) * kMostTiles * kTileRows * 4 + 2 * 32 * 4;
}

template <int kThreads, bool kProbe = false>
__global__ void __launch_bounds__(kThreads)
    immaKernel(const float *__restrict__ in, const float *__restrict__ g,
               float *__restrict__ out, const uint4 *__restrict__ weights,
               const __half *__restrict__ scales, int blocks,
               unsigned long long *stamps) {
  constexpr int kSlices = kThreads / 32, kSliceGroups = kGroups / kSlices;
  constexpr int kPerThread = kRow / kThreads; // x elements a thread digits
  constexpr int kGroupThreads = kGroup / kPerThread;
  extern __shared__ uint4 smem[];
  int firstTile = blockIdx.x * kTiles / blocks;
  int tiles = (blockIdx.x + 1) * kTiles / blocks - firstTile;
  uint4 *rows = smem; // [tile][group][lane] 16 bytes
  __half *rowScales =
      reinterpret_cast<__half *>(rows + kMostTiles * kGroups * 32);
  float *xg =
      reinterpret_cast<float *>(rowScales + kMostTiles * kTileRows * kGroups);
  unsigned *digits = reinterpret_cast<unsigned *>(xg + kRow); // [4][k/4]
  int *digitSums = reinterpret_cast<int *>(digits + kDigits * kRow / 4);
  float *partial = reinterpret_cast<float *>(digitSums + kDigits * kGroups);
  float *reduced = partial + kSlices * kMostTiles * kTileRows; // [2][32]
  signalDependents();
  stamp<kProbe>(stamps, 0);
  copyTiles(rows, rowScales, weights, scales, firstTile, tiles);
  waitForGrid();
  stamp<kProbe>(stamps, 1);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float total;
  int exponent;
  stageStats(in, g, xg, reduced, total, exponent);
  // Each thread's elements as integers, their digits, and each group's sum
  // of every digit (kGroupThreads threads a group).
  float up = ldexpf(1.f, 30 - exponent);
  int sums[kDigits] = {};
  unsigned packed[kDigits][kPerThread / 4] = {};
  int k0 = threadIdx.x * kPerThread;
#pragma unroll
  for (int i = 0; i < kPerThread; ++i) {
    int v = __float2int_rn(xg[k0 + i] * up);
#pragma unroll
    for (int n = 0; n < kDigits; ++n) {
      int digit = n + 1 < kDigits ? int(static_cast<signed char>(v & 0xff)) : v;
      v = (v - digit) >> 8;
      sums[n] += digit;
      packed[n][i / 4] |= (unsigned(digit) & 0xffu) << (8 * (i % 4));
    }
  }
#pragma unroll
  for (int n = 0; n < kDigits; ++n) {
    for (int i = 0; i < kPerThread / 4; ++i)
      digits[n * kRow / 4 + k0 / 4 + i] = packed[n][i];
    for (int o = kGroupThreads / 2; o > 0; o /= 2)
      sums[n] += __shfl_xor_sync(0xffffffffu, sums[n], o);
    if (lane % kGroupThreads == 0)
      digitSums[n * kGroups + k0 / kGroup] = sums[n];
  }
  __syncthreads();
  stamp<kProbe>(stamps, 2);
  int gRow = lane / 4, t = lane % 4;
  // Lanes t = 0, 1 hold D's columns 2t, 2t + 1: digits 2t and 2t + 1,
  // combined exactly in 32 bits (weights 1 and 2^8), then weighted 2^(16 t).
  float weight = t < 2 ? ldexpf(1.f, 16 * t) : 0.f;
  float acc[kMostTiles][2] = {};
  for (int group = warp * kSliceGroups; group < (warp + 1) * kSliceGroups;
       ++group) {
    // B: lane 4 n + t holds digit n of k 4t.. and 16 + 4t.. (n < 4).
    unsigned b[2][2] = {};
    if (gRow < kDigits)
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        const unsigned *d =
            digits + gRow * kRow / 4 + (group * kGroup + 32 * j) / 4;
        b[j][0] = d[t];
        b[j][1] = d[4 + t];
      }
    // Less 8 times the group's sum of each digit (q = u - 8).
    int off = t < 2 ? 8 * (digitSums[2 * t * kGroups + group] +
                           256 * digitSums[(2 * t + 1) * kGroups + group])
                    : 0;
#pragma unroll
    for (int tile = 0; tile < kMostTiles; ++tile) {
      if (tile >= tiles)
        break;
      uint4 words = rows[(tile * kGroups + group) * 32 + lane];
      unsigned w[4] = {words.x, words.y, words.z, words.w};
      int d[4] = {0, 0, 0, 0};
#pragma unroll
      for (int j = 0; j < 2; ++j) {
        unsigned a[4] = {w[2 * j] & 0x0f0f0f0fu, (w[2 * j] >> 4) & 0x0f0f0f0fu,
                         w[2 * j + 1] & 0x0f0f0f0fu,
                         (w[2 * j + 1] >> 4) & 0x0f0f0f0fu};
        imma16832(d, a, b[j][0], b[j][1]);
      }
      const __half *s = rowScales + tile * kTileRows * kGroups + group;
      float s0 = __half2float(s[gRow * kGroups]) * weight;
      float s1 = __half2float(s[(gRow + 8) * kGroups]) * weight;
      acc[tile][0] = fmaf(s0, float(d[0] + 256 * d[1] - off), acc[tile][0]);
      acc[tile][1] = fmaf(s1, float(d[2] + 256 * d[3] - off), acc[tile][1]);
    }
  }
  // Row gRow's sum is in lanes t = 0 and 1 (digits 0-1 and 2-3).
#pragma unroll
  for (int tile = 0; tile < kMostTiles; ++tile) {
    float r0 = acc[tile][0] + __shfl_xor_sync(0xffffffffu, acc[tile][0], 1);
    float r1 = acc[tile][1] + __shfl_xor_sync(0xffffffffu, acc[tile][1], 1);
    if (t == 0 && tile < tiles) {
      float *p = partial + warp * kMostTiles * kTileRows + tile * kTileRows;
      p[gRow] = r0;
      p[gRow + 8] = r1;
    }
  }
  __syncthreads();
  stamp<kProbe>(stamps, 3);
  float rinv = rsqrtf(total / kRow + kEps) / up;
  for (int c = threadIdx.x; c < tiles * kTileRows; c += kThreads) {
    float sum = 0.f;
    for (int w = 0; w < kSlices; ++w)
      sum += partial[w * kMostTiles * kTileRows + c];
    out[firstTile * kTileRows + c] = sum * rinv;
  }
  stamp<kProbe>(stamps, 4);
}

/// The integer tensor-core products with the weights in registers, loaded
/// before the wait as zamba2c's kernels do: a block of kWarps warps is one
/// tile of 16 channels, warp w its k slice w (2048 / kWarps weights of each
/// row, packed as immaWordAt: 16 bytes a lane a group). No block-wide step
/// before the products: a warp loads its slice of x and g, scales x g by a
/// power of two of its own (largest element of the slice under 2^30), makes
/// the digits and their group sums, and exchanges them through shared
/// memory within the warp; the warps' sums (each back to its scale) and
/// their squares meet in shared memory at the end. 532 blocks: one wave at 5
/// blocks an SM (4 at 64 registers: two waves).
template <int kWarps, int kMinBlocks, bool kProbe = false>
__global__ void __launch_bounds__(kWarps * 32, kMinBlocks)
    regsImmaKernel(const float *__restrict__ in, const float *__restrict__ g,
                   float *__restrict__ out, const uint4 *__restrict__ weights,
                   const __half *__restrict__ scales, int,
                   unsigned long long *stamps) {
  constexpr int kSlice = kRow / kWarps, kSliceGroups = kSlice / kGroup;
  constexpr int kPerLane = kSlice / 32, kGroupLanes = kGroup / kPerLane;
  __shared__ unsigned digits[kWarps][kDigits][kSlice / 4];
  __shared__ int digitSums[kWarps][kSliceGroups][kDigits];
  __shared__ float partial[kWarps][kTileRows + 1];
  signalDependents();
  stamp<kProbe>(stamps, 0);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  int gRow = lane / 4, t = lane % 4, tile = blockIdx.x;
  int firstGroup = warp * kSliceGroups;
  uint4 w[kSliceGroups];
#pragma unroll
  for (int q = 0; q < kSliceGroups; ++q)
    w[q] = weights[(size_t(tile) * kGroups + firstGroup + q) * 32 + lane];
  // The lane's rows' scales of the slice's groups (contiguous in a row).
  __half s0[kSliceGroups], s1[kSliceGroups];
  const __half *rowScales = scales + size_t(tile) * kTileRows * kGroups;
#pragma unroll
  for (int q = 0; q < kSliceGroups; ++q) {
    s0[q] = rowScales[gRow * kGroups + firstGroup + q];
    s1[q] = rowScales[(gRow + 8) * kGroups + firstGroup + q];
  }
  waitForGrid();
  stamp<kProbe>(stamps, 1);
  int k0 = warp * kSlice + lane * kPerLane;
  float xg[kPerLane];
  float sq = 0.f, most = 0.f;
#pragma unroll
  for (int i = 0; i < kPerLane; i += 4) {
    float4 v = times(*reinterpret_cast<const float4 *>(in + k0 + i),
                     *reinterpret_cast<const float4 *>(g + k0 + i));
    xg[i] = v.x;
    xg[i + 1] = v.y;
    xg[i + 2] = v.z;
    xg[i + 3] = v.w;
    sq += squares(v);
    most = fmaxf(most, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)),
                             fmaxf(fabsf(v.z), fabsf(v.w))));
  }
  for (int o = 16; o > 0; o /= 2)
    most = fmaxf(most, __shfl_xor_sync(0xffffffffu, most, o));
  int exponent;
  frexpf(most, &exponent);
  float up = ldexpf(1.f, 30 - exponent);
  int sums[kDigits] = {};
#pragma unroll
  for (int i4 = 0; i4 < kPerLane / 4; ++i4) {
    unsigned packed[kDigits] = {};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      int v = __float2int_rn(xg[4 * i4 + i] * up);
#pragma unroll
      for (int n = 0; n < kDigits; ++n) {
        int digit =
            n + 1 < kDigits ? int(static_cast<signed char>(v & 0xff)) : v;
        v = (v - digit) >> 8;
        sums[n] += digit;
        packed[n] |= (unsigned(digit) & 0xffu) << (8 * i);
      }
    }
#pragma unroll
    for (int n = 0; n < kDigits; ++n)
      digits[warp][n][lane * kPerLane / 4 + i4] = packed[n];
  }
#pragma unroll
  for (int n = 0; n < kDigits; ++n) {
    for (int o = kGroupLanes / 2; o > 0; o /= 2)
      sums[n] += __shfl_xor_sync(0xffffffffu, sums[n], o);
    if (lane % kGroupLanes == 0)
      digitSums[warp][lane / kGroupLanes][n] = sums[n];
  }
  __syncwarp();
  stamp<kProbe>(stamps, 2);
  float weight = t < 2 ? ldexpf(1.f, 16 * t) : 0.f;
  float acc0 = 0.f, acc1 = 0.f;
#pragma unroll
  for (int q = 0; q < kSliceGroups; ++q) {
    unsigned words[4] = {w[q].x, w[q].y, w[q].z, w[q].w};
    int d[4] = {0, 0, 0, 0};
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      unsigned b0 = 0, b1 = 0;
      if (gRow < kDigits) {
        b0 = digits[warp][gRow][q * 16 + 8 * j + t];
        b1 = digits[warp][gRow][q * 16 + 8 * j + 4 + t];
      }
      unsigned a[4] = {words[2 * j] & 0x0f0f0f0fu,
                       (words[2 * j] >> 4) & 0x0f0f0f0fu,
                       words[2 * j + 1] & 0x0f0f0f0fu,
                       (words[2 * j + 1] >> 4) & 0x0f0f0f0fu};
      imma16832(d, a, b0, b1);
    }
    int off = t < 2 ? 8 * (digitSums[warp][q][2 * t] +
                           256 * digitSums[warp][q][2 * t + 1])
                    : 0;
    acc0 = fmaf(__half2float(s0[q]) * weight, float(d[0] + 256 * d[1] - off),
                acc0);
    acc1 = fmaf(__half2float(s1[q]) * weight, float(d[2] + 256 * d[3] - off),
                acc1);
  }
  // Rows gRow and gRow + 8: lanes t = 0 and 1 (digits 0-1, 2-3).
  acc0 += __shfl_xor_sync(0xffffffffu, acc0, 1);
  acc1 += __shfl_xor_sync(0xffffffffu, acc1, 1);
  sq = warpSum(sq);
  if (t == 0) {
    partial[warp][gRow] = acc0 / up;
    partial[warp][gRow + 8] = acc1 / up;
  }
  if (lane == 0)
    partial[warp][kTileRows] = sq;
  __syncthreads();
  stamp<kProbe>(stamps, 3);
  if (threadIdx.x < kTileRows) {
    float sum = 0.f, total = 0.f;
#pragma unroll
    for (int i = 0; i < kWarps; ++i) {
      sum += partial[i][threadIdx.x];
      total += partial[i][kTileRows];
    }
    out[tile * kTileRows + threadIdx.x] = sum * rsqrtf(total / kRow + kEps);
  }
  stamp<kProbe>(stamps, 4);
}

/// How a form's weights are packed.
enum Layout : int { kRowMajor, kImmaLayout };

struct Buffers {
  const uint4 *weights; // kSlots launches' rows
  const __half *scales;
  const float *g;
  float *rows[2]; // a kernel's input and output, alternating
};

/// Every form's kernel: (x, g, out, weights, scales, blocks, stamps).
using Kernel = void (*)(const float *, const float *, float *, const uint4 *,
                        const __half *, int, unsigned long long *);

struct Form {
  char what[32];
  int blocks, threads;
  Kernel kernel, probeKernel; // the same with kProbe
  size_t smem = 0;
  Layout layout = kRowMajor;
  bool resident = false; // every launch the same weights (from L2)
};

/// Launch i of a chain of `f`: slot i's weights (slot 0's when resident),
/// rows alternating; with `stamps` (probe runs, kProbeLaunches x kMaxBlocks
/// x kPhases), its timestamps go to launch i's part.
void launch(const Form &f, const Buffers &b, int i, cudaStream_t stream,
            bool dependent, unsigned long long *stamps = nullptr) {
  cudaLaunchAttribute attr;
  cudaLaunchConfig_t config =
      launchConfig(f.blocks, f.threads, stream, dependent, attr);
  config.dynamicSmemBytes = f.smem;
  int slot = f.resident ? 0 : i % kSlots;
  const uint4 *w = b.weights + size_t(slot) * kChannels * kSteps;
  const __half *s = b.scales + size_t(slot) * kChannels * kGroups;
  const float *in = b.rows[i % 2];
  float *out = b.rows[(i + 1) % 2];
  if (stamps)
    stamps += size_t(i) * kMaxBlocks * kPhases;
  CHECK(cudaLaunchKernelEx(&config, stamps ? f.probeKernel : f.kernel, in, b.g,
                           out, w, s, f.blocks, stamps));
}

/// Deterministic pseudo-random bits (no curand on the GPU machine).
__host__ __device__ unsigned mix(unsigned v) {
  v ^= v >> 16;
  v *= 0x7feb352du;
  v ^= v >> 15;
  v *= 0x846ca68bu;
  v ^= v >> 16;
  return v;
}
__global__ void fillWeights(unsigned *w, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    w[i] = mix(unsigned(i) * 2654435761u + 12345u);
}
__global__ void fillScales(__half *s, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    s[i] = __float2half(0.01f + 0.02f * float(mix(unsigned(i)) % 1000) / 1000);
}

/// A float64 evaluation of the first launch (slot 0) on row x.
std::vector<double> reference(const Buffers &b, const std::vector<float> &x,
                              const std::vector<float> &g, Layout layout) {
  std::vector<unsigned> w(kChannels * kRowBytes / 4);
  std::vector<__half> s(kChannels * kGroups);
  CHECK(cudaMemcpy(w.data(), b.weights, w.size() * 4, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(s.data(), b.scales, s.size() * 2, cudaMemcpyDeviceToHost));
  std::vector<double> xg(kRow);
  double sq = 0;
  for (int k = 0; k < kRow; ++k) {
    xg[k] = double(x[k]) * g[k];
    sq += xg[k] * xg[k];
  }
  double rinv = 1 / std::sqrt(sq / kRow + kEps);
  std::vector<double> out(kChannels);
  for (int n = 0; n < kChannels; ++n) {
    double acc = 0;
    for (int k = 0; k < kRow; ++k) {
      size_t at = size_t(n) * (kRow / 8) + k / 8;
      int nibble = k % 8;
      if (layout == kImmaLayout)
        immaWordAt(n, k, at, nibble);
      int q = int((w[at] >> (4 * nibble)) & 15u) - 8;
      acc += q * double(__half2float(s[n * kGroups + k / kGroup])) * xg[k];
    }
    out[n] = acc * rinv;
  }
  return out;
}

/// The largest difference of the first launch's outputs (on row x) from
/// `expected`, over the largest expected magnitude.
double checkFirst(const Form &f, const Buffers &b, const std::vector<float> &x,
                  const std::vector<double> &expected) {
  CHECK(cudaMemcpy(b.rows[0], x.data(), kRow * 4, cudaMemcpyHostToDevice));
  CHECK(cudaMemset(b.rows[1], 0, kChannels * 4));
  launch(f, b, 0, nullptr, false);
  CHECK(cudaDeviceSynchronize());
  std::vector<float> got(kChannels);
  CHECK(
      cudaMemcpy(got.data(), b.rows[1], kChannels * 4, cudaMemcpyDeviceToHost));
  double worst = 0, largest = 0;
  for (int n = 0; n < kChannels; ++n) {
    worst = std::max(worst, std::fabs(expected[n] - got[n]));
    largest = std::max(largest, std::fabs(expected[n]));
  }
  return worst / largest;
}

/// A probe chain of kProbeLaunches launches (a graph, dependent launch),
/// stamped: for launches 8..15, the medians over launches of the times from
/// the end of the launch before (its last block's end): its first block's
/// start, and its blocks' median wait release, readiness, products' end,
/// and its last block's end (the chain cost of a kernel). Prints them.
void probe(const Form &f, const Buffers &b) {
  unsigned long long *stamps;
  size_t n = size_t(kProbeLaunches) * kMaxBlocks * kPhases;
  CHECK(cudaMalloc(&stamps, n * 8));
  CHECK(cudaMemset(stamps, 0, n * 8));
  medianReplayMs(1, 1, [&](cudaStream_t stream) {
    for (int i = 0; i < kProbeLaunches; ++i)
      launch(f, b, i, stream, true, stamps);
  });
  std::vector<unsigned long long> host(n);
  CHECK(cudaMemcpy(host.data(), stamps, n * 8, cudaMemcpyDeviceToHost));
  CHECK(cudaFree(stamps));
  auto at = [&](int launch, int block, int phase) {
    return double(
        host[(size_t(launch) * kMaxBlocks + block) * kPhases + phase]);
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> cols[5];
  for (int l = 8; l < 16; ++l) {
    double prevEnd = 0, firstStart = 1e300, lastEnd = 0;
    for (int blk = 0; blk < f.blocks; ++blk) {
      prevEnd = std::max(prevEnd, at(l - 1, blk, 4));
      firstStart = std::min(firstStart, at(l, blk, 0));
      lastEnd = std::max(lastEnd, at(l, blk, 4));
    }
    std::vector<double> phase[3];
    for (int blk = 0; blk < f.blocks; ++blk)
      for (int p = 0; p < 3; ++p)
        phase[p].push_back(at(l, blk, p + 1) - prevEnd);
    cols[0].push_back(firstStart - prevEnd);
    for (int p = 0; p < 3; ++p)
      cols[p + 1].push_back(median(phase[p]));
    cols[4].push_back(lastEnd - prevEnd);
  }
  std::printf("  probe %-18s first start %7.2f  waited %5.2f  ready %5.2f  "
              "products %5.2f  end %5.2f us\n",
              f.what, median(cols[0]) / 1e3, median(cols[1]) / 1e3,
              median(cols[2]) / 1e3, median(cols[3]) / 1e3,
              median(cols[4]) / 1e3);
}
} // namespace

int main(int argc, char **argv) {
  double gbps = 3350;
  if (!parseGbps(argc, argv, "gemv_chain", gbps))
    return 2;
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  int sms = prop.multiProcessorCount;
  std::printf("gemv_chain: %s, %d SMs; int4 GEMVs of 2048 -> 8512 "
              "(group 64), chains of %d kernels, median of %d replays\n",
              prop.name, sms, kChain, kReplays);
  Buffers b;
  uint4 *weights;
  __half *scales;
  float *g;
  CHECK(cudaMalloc(&weights, size_t(kSlots) * kChannels * kRowBytes));
  CHECK(cudaMalloc(&scales, size_t(kSlots) * kChannels * kGroups * 2));
  CHECK(cudaMalloc(&g, kRow * 4));
  for (float *&r : b.rows)
    CHECK(cudaMalloc(&r, kChannels * 4));
  fillWeights<<<1024, 256>>>(reinterpret_cast<unsigned *>(weights),
                             size_t(kSlots) * kChannels * kRowBytes / 4);
  fillScales<<<1024, 256>>>(scales, size_t(kSlots) * kChannels * kGroups);
  CHECK(cudaGetLastError());
  std::vector<float> x(kRow), gh(kRow);
  for (int k = 0; k < kRow; ++k) {
    x[k] = float(int(mix(k + 7) % 2001) - 1000) / 500.f;
    gh[k] = 0.5f + float(mix(k + 99) % 1000) / 1000.f;
  }
  CHECK(cudaMemcpy(g, gh.data(), kRow * 4, cudaMemcpyHostToDevice));
  b.weights = weights;
  b.scales = scales;
  b.g = g;
  std::vector<double> expected[2] = {reference(b, x, gh, kRowMajor),
                                     reference(b, x, gh, kImmaLayout)};

  std::vector<Form> forms;
  auto add = [&](const char *what, int blocks, int threads, Kernel kernel,
                 Kernel probeKernel, size_t smem = 0,
                 Layout layout = kRowMajor) {
    Form f{};
    std::snprintf(f.what, sizeof f.what, "%s", what);
    f.blocks = blocks;
    f.threads = threads;
    f.kernel = kernel;
    f.probeKernel = probeKernel;
    f.smem = smem;
    f.layout = layout;
    forms.push_back(f);
  };
  // zamba2c's form; one wave of it at 9 blocks an SM (at most 56
  // registers), or 8 blocks fewer (1056 at 8 an SM: a bound, its last 64
  // channels not computed).
  add("regs", kRegsBlocks, kRegsThreads, regsKernel<8>, regsKernel<8, true>);
  add("regs 9/SM", kRegsBlocks, kRegsThreads, regsKernel<9>,
      regsKernel<9, true>);
  add("regs 1 wave", std::min(8 * sms, kRegsBlocks), kRegsThreads,
      regsKernel<8>, regsKernel<8, true>);
  // Weights staged in shared memory; with the products free (each word's
  // bits as a float: a bound) or none at all (the copy, x and the stores).
  int perBlock = (kChannels + sms - 1) / sms;
  add("staged", sms, 512, stagedKernel<512>, stagedKernel<512, kFields, true>,
      stagedBytes(perBlock));
  add("staged 2/SM", 2 * sms, 256, stagedKernel<256>,
      stagedKernel<256, kFields, true>,
      stagedBytes((kChannels + 2 * sms - 1) / (2 * sms)));
  add("staged free", sms, 512, stagedKernel<512, kFree>,
      stagedKernel<512, kFree, true>, stagedBytes(perBlock));
  add("staged none", sms, 512, stagedKernel<512, kNone>,
      stagedKernel<512, kNone, true>, stagedBytes(perBlock));
  // Integer tensor cores: weights staged, or in registers (one wave at 5
  // blocks an SM, 48 registers and 8 bytes of spills, or 4 tiles fewer: a
  // bound).
  add("imma staged", sms, 256, immaKernel<256>, immaKernel<256, true>,
      immaBytes<256>(), kImmaLayout);
  add("imma staged 512", sms, 512, immaKernel<512>, immaKernel<512, true>,
      immaBytes<512>(), kImmaLayout);
  add("imma regs", kTiles, 256, regsImmaKernel<8, 4>,
      regsImmaKernel<8, 4, true>, 0, kImmaLayout);
  add("imma regs 5/SM", kTiles, 256, regsImmaKernel<8, 5>,
      regsImmaKernel<8, 5, true>, 0, kImmaLayout);
  add("imma regs 1 wave", std::min(4 * sms, kTiles), 256, regsImmaKernel<8, 4>,
      regsImmaKernel<8, 4, true>, 0, kImmaLayout);
  // The same with the weights resident in L2 (every launch slot 0's): what
  // a kernel costs when its weights come quickly.
  for (const char *what : {"regs", "regs 1 wave", "staged", "staged none",
                           "imma staged", "imma regs"})
    for (size_t i = 0, n = forms.size(); i < n; ++i)
      if (!std::strcmp(forms[i].what, what)) {
        Form f = forms[i];
        std::snprintf(f.what, sizeof f.what, "L2 %.28s", what);
        f.resident = true;
        forms.push_back(f);
      }

  double mb = kChannels * (kRowBytes + kGroups * 2) / 1e6;
  std::printf("%-16s %6s %6s %5s %8s %7s %14s %12s %10s %9s\n", "form",
              "blocks", "thr.", "regs", "smem", "per SM", "us (depend.)",
              "us (serial)", "DRAM us", "max err");
  // Forms this GPU cannot run as built: more shared memory than a block may
  // have, or (the staged tensor-core form, fewer SMs) more tiles a block
  // than kMostTiles.
  auto runs = [&](const Form &f) {
    bool staged = f.kernel == immaKernel<256> || f.kernel == immaKernel<512>;
    return f.smem <= prop.sharedMemPerBlockOptin &&
           !(staged && (kTiles + f.blocks - 1) / f.blocks > kMostTiles);
  };
  for (const Form &f : forms) {
    if (!runs(f)) {
      std::printf("%-16s skipped: %zu bytes of shared memory a block, %d "
                  "blocks (at most %zu bytes and %d tiles a block)\n",
                  f.what, f.smem, f.blocks, prop.sharedMemPerBlockOptin,
                  kMostTiles);
      continue;
    }
    if (f.smem)
      for (Kernel k : {f.kernel, f.probeKernel})
        CHECK(cudaFuncSetAttribute(
            k, cudaFuncAttributeMaxDynamicSharedMemorySize, int(f.smem)));
    cudaFuncAttributes attrs;
    CHECK(cudaFuncGetAttributes(&attrs, f.kernel));
    int perSm = 0;
    CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&perSm, f.kernel,
                                                        f.threads, f.smem));
    double err = checkFirst(f, b, x, expected[f.layout]);
    auto chain = [&](bool dependent) {
      return medianReplayMs(kReplays, kChain,
                            [&](cudaStream_t stream) {
                              for (int i = 0; i < kChain; ++i)
                                launch(f, b, i, stream, dependent);
                            }) *
             1e3;
    };
    double dependent = chain(true), serial = chain(false);
    std::printf("%-16s %6d %6d %5d %8zu %7d %14.2f %12.2f %10.2f %9.1e\n",
                f.what, f.blocks, f.threads, attrs.numRegs,
                f.smem + attrs.sharedSizeBytes, perSm, dependent, serial,
                mb / gbps * 1e3, err);
  }
  std::printf(
      "from the end of the launch before, medians (blocks, launches):\n");
  for (const Form &f : forms)
    if (!f.resident && runs(f))
      probe(f, b);
  CHECK(cudaFree(weights));
  CHECK(cudaFree(scales));
  CHECK(cudaFree(g));
  for (float *r : b.rows)
    CHECK(cudaFree(r));
  return 0;
}
