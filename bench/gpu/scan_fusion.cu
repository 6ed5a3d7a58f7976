// What folding the Mamba2 scan of a decode step into the in_proj kernel
// would save, measured on a chain of synthetic layers of the 1.2B shape at
// batch 1 (d_model 2048, 64 heads of 64 rows, state 128, one group),
// captured in a CUDA graph with programmatic dependent launch, as zamba2c's
// CUDA packages run a step. Not zamba2c's kernels: kernels of their grids,
// bytes and dependences, for the difference between two structures.
//
// A layer, as zamba2c runs it now ("3 kernels"):
//   - in_proj: 1064 blocks of 4 warps, each warp 2 channels of 2048 int4
//     weights (8.7 MB a layer, loaded before the dependent-launch wait, from
//     a buffer far larger than L2); after the wait it stages the residual
//     row x (2048 floats), and each warp sums its channels' 8 products a
//     word against it, adds over the warp and stores its 2 outputs
//     (z, x, B, C, dt: 8512 channels);
//   - scan: 512 blocks of 4 warps, a warp 2 rows of a head's state (its
//     state, A, D and dt bias loaded before the wait); after it, dt, B, C,
//     x and z of the token, the state update, y = (C.s + D x) silu(z);
//   - out_proj: 256 blocks of 16 warps, two warps a channel of 4096 int4
//     weights (4.2 MB), after the wait y staged, the residual row stored.
// With the scan folded in ("2 kernels"), the in_proj's first 40 blocks
// compute B, C and dt and then count themselves done (a release add on a
// counter); each of the other 1024 computes the x and z channels of 4 rows
// of one head, waits until the 40 are done (an acquire load, spinning:
// they were dispatched first and wait for nobody), reads B, C and dt, and
// runs the scan of its 4 rows itself (their state loaded before the wait).
// The counter is zeroed by a memset at the graph's start. "no scan" is the
// chain without any scan: in_proj and out_proj alone.
//
// Prints the cost per layer (replay time over the layers, median of the
// replays) of each structure. Build where nvcc is (bench/gpu/chain_floor.sh
// OUT), run on the GPU machine: OUT/scan_fusion
#include "graph_timing.cuh"

namespace {

constexpr int kLayers = 38, kReplays = 15;
constexpr int kModel = 2048, kHeads = 64, kHeadDim = 64, kStateSize = 128;
constexpr int kInner = kHeads * kHeadDim;                     // 4096
constexpr int kInProj = 2 * kInner + 2 * kStateSize + kHeads; // 8512
constexpr int kInProjBlocks = kInProj / 8;                    // 1064
constexpr int kSideBlocks = (2 * kStateSize + kHeads) / 8;    // 40
constexpr int kInWords = 4;  // 16-byte words a lane: 2 rows of 2048 int4
constexpr int kOutWords = 2; // half a row of 4096 int4
constexpr int kOutBlocks = 256, kOutThreads = 512;
constexpr int kScanBlocks = kHeads * kHeadDim / 8, kThreads = 128;

/// One layer's buffers. Residual rows alternate between layers.
struct Layer {
  const uint4 *inWeights, *outWeights; // this layer's slice (DRAM)
  const float *residual;               // x of the in_proj
  float *proj;                         // the in_proj's 8512 outputs
  float *state;                        // [64, 64, 128]
  const float *aLog, *d, *dtBias;      // [64]
  float *y;                            // [4096]
  float *next;                         // the out_proj's output row
  unsigned *sideDone;                  // the fused in_proj's counter
};

__device__ float silu(float v) { return v / (1.f + __expf(-v)); }

/// The row of `n` floats staged in shared memory by the block.
template <int n> __device__ void stage(const float *in, float *row) {
  for (int k = threadIdx.x; k < n; k += blockDim.x)
    row[k] = in[k];
  __syncthreads();
}

/// A lane's part of a dot product: its `words` words of 8 int4 weights
/// against the staged row from `first` on (8 consecutive floats a word).
template <int words>
__device__ float dot(const uint4 (&w)[words], const float *row, int first) {
  float acc = 0.f;
#pragma unroll
  for (int i = 0; i < words; ++i) {
    unsigned parts[4] = {w[i].x, w[i].y, w[i].z, w[i].w};
#pragma unroll
    for (int p = 0; p < 4; ++p)
#pragma unroll
      for (int q = 0; q < 8; ++q)
        acc += float(int((parts[p] >> (4 * q)) & 15u) - 8) *
               row[first + (i * 4 + p) * 8 + q];
  }
  return acc;
}

/// The in_proj's products: warp w of the block computes channels 2w and
/// 2w+1 of the block's 8 (each lane half of a channel's row: a row is
/// 2048 weights, 64 words; lanes 0-15 the first channel, 16-31 the second,
/// 4 words each); returns the lane's channel sum (in all its half-warp's
/// lanes).
__device__ float inProjSums(const Layer &l, int block) {
  __shared__ float row[kModel];
  uint4 w[kInWords];
  const uint4 *mine =
      l.inWeights + (size_t(block) * kThreads + threadIdx.x) * kInWords;
#pragma unroll
  for (int i = 0; i < kInWords; ++i)
    w[i] = mine[i];
  waitForGrid();
  stage<kModel>(l.residual, row);
  int lane = threadIdx.x % 32;
  float acc = dot(w, row, (lane % 16) * kInWords * 32);
  for (int o = 8; o > 0; o /= 2)
    acc += __shfl_xor_sync(0xffffffffu, acc, o);
  return acc * 1e-6f;
}

/// The in_proj of the 3-kernel layer: channel 8 block + 2 warp + lane/16.
__global__ void inProj(Layer l) {
  signalDependents();
  float v = inProjSums(l, blockIdx.x);
  int lane = threadIdx.x % 32;
  if (lane % 16 == 0)
    l.proj[blockIdx.x * 8 + threadIdx.x / 32 * 2 + lane / 16] = v;
}

/// One row p of head h of the scan: the lane's 4 state columns `s`, the
/// token's x and z of the row; B, C, dt from `proj`.
__device__ void scanRow(const Layer &l, int h, int p, float (&s)[4], float x,
                        float z, float a, float dd, float bias) {
  int lane = threadIdx.x % 32;
  const float *b = l.proj + 2 * kInner, *c = b + kStateSize,
              *dt = c + kStateSize;
  float step = log1pf(__expf(dt[h] + bias));
  float decay = __expf(step * a);
  float part = 0.f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    int n = lane + 32 * i;
    s[i] = s[i] * decay + step * x * b[n];
    part += s[i] * c[n];
  }
  float y = warpSum(part);
  float *state = l.state + (size_t(h) * kHeadDim + p) * kStateSize;
#pragma unroll
  for (int i = 0; i < 4; ++i)
    state[lane + 32 * i] = s[i];
  if (lane == 0)
    l.y[h * kHeadDim + p] = (y + dd * x) * silu(z);
}

/// The scan kernel of the 3-kernel layer: a warp 2 rows.
__global__ void scan(Layer l) {
  signalDependents();
  int h = blockIdx.x / (kHeadDim / 8), warp = threadIdx.x / 32;
  int lane = threadIdx.x % 32;
  float a = -__expf(l.aLog[h]), dd = l.d[h], bias = l.dtBias[h];
  float s[2][4];
  for (int r = 0; r < 2; ++r) {
    int p = blockIdx.x % (kHeadDim / 8) * 8 + warp * 2 + r;
    for (int i = 0; i < 4; ++i)
      s[r][i] =
          l.state[(size_t(h) * kHeadDim + p) * kStateSize + lane + 32 * i];
  }
  waitForGrid();
  for (int r = 0; r < 2; ++r) {
    int p = blockIdx.x % (kHeadDim / 8) * 8 + warp * 2 + r;
    scanRow(l, h, p, s[r], l.proj[kInner + h * kHeadDim + p],
            l.proj[h * kHeadDim + p], a, dd, bias);
  }
}

/// The in_proj with the scan folded in: blocks 0-39 the B, C and dt
/// channels, then each block 4 rows of one head (warp w: the row's x and z
/// channels, then its scan).
__global__ void inProjScan(Layer l) {
  signalDependents();
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  if (blockIdx.x < kSideBlocks) {
    // Channels 8192 + 8 block + 2 warp + lane/16: B, C, dt.
    float v = inProjSums(l, kInProjBlocks - kSideBlocks + blockIdx.x);
    if (lane % 16 == 0)
      l.proj[2 * kInner + blockIdx.x * 8 + warp * 2 + lane / 16] = v;
    __syncthreads();
    if (threadIdx.x == 0) {
      __threadfence();
      atomicAdd(l.sideDone, 1u);
    }
    return;
  }
  int q = blockIdx.x - kSideBlocks;
  int h = q / (kHeadDim / 4), p = q % (kHeadDim / 4) * 4 + warp;
  float a = -__expf(l.aLog[h]), dd = l.d[h], bias = l.dtBias[h];
  float s[4];
  for (int i = 0; i < 4; ++i)
    s[i] = l.state[(size_t(h) * kHeadDim + p) * kStateSize + lane + 32 * i];
  // Lanes 0-15 the row's x channel, 16-31 its z.
  float v = inProjSums(l, q);
  float x = __shfl_sync(0xffffffffu, v, 0), z = __shfl_sync(0xffffffffu, v, 16);
  if (threadIdx.x == 0) {
    // (A bound on the spin, so that a wrong assumption about the order in
    // which blocks start fails instead of hanging.)
    long long start = clock64();
    unsigned done;
    do {
      asm volatile("ld.acquire.gpu.global.u32 %0, [%1];"
                   : "=r"(done)
                   : "l"(l.sideDone));
      if (clock64() - start > (1ll << 32))
        __trap();
    } while (done < kSideBlocks);
  }
  __syncthreads();
  scanRow(l, h, p, s, x, z, a, dd, bias);
}

/// The out_proj: 2 warps a channel (each half of its row of 4096), 8
/// channels a block; y staged after the wait.
__global__ void outProj(Layer l) {
  signalDependents();
  __shared__ float row[kInner];
  __shared__ float halves[kOutThreads / 32];
  uint4 w[kOutWords];
  const uint4 *mine =
      l.outWeights +
      (size_t(blockIdx.x) * kOutThreads + threadIdx.x) * kOutWords;
#pragma unroll
  for (int i = 0; i < kOutWords; ++i)
    w[i] = mine[i];
  waitForGrid();
  stage<kInner>(l.y, row);
  int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  float acc = warpSum(dot(w, row, (warp % 2 * 32 + lane) * kOutWords * 32));
  if (lane == 0)
    halves[warp] = acc;
  __syncthreads();
  if (threadIdx.x < 8)
    l.next[blockIdx.x * 8 + threadIdx.x] =
        l.residual[blockIdx.x * 8 + threadIdx.x] +
        (halves[2 * threadIdx.x] + halves[2 * threadIdx.x + 1]) * 1e-6f;
}

enum Structure { kThree, kFused, kNoScan };

void launch(cudaStream_t stream, void (*kernel)(Layer), int blocks, int threads,
            const Layer &l) {
  cudaLaunchAttribute attr;
  cudaLaunchConfig_t config =
      launchConfig(blocks, threads, stream, /*dependent=*/true, attr);
  CHECK(cudaLaunchKernelEx(&config, kernel, l));
}

/// The median ms per layer of a graph of kLayers layers of `structure`.
double timeLayers(Structure structure, const std::vector<Layer> &layers,
                  unsigned *counters) {
  return medianReplayMs(kReplays, kLayers, [&](cudaStream_t stream) {
    if (structure == kFused)
      CHECK(cudaMemsetAsync(counters, 0, kLayers * sizeof(unsigned), stream));
    for (const Layer &l : layers) {
      if (structure == kFused) {
        launch(stream, inProjScan, kInProjBlocks, kThreads, l);
      } else {
        launch(stream, inProj, kInProjBlocks, kThreads, l);
        if (structure == kThree)
          launch(stream, scan, kScanBlocks, kThreads, l);
      }
      launch(stream, outProj, kOutBlocks, kOutThreads, l);
    }
  });
}

template <typename T> T *deviceArray(size_t n, int byte) {
  T *p;
  CHECK(cudaMalloc(&p, n * sizeof(T)));
  CHECK(cudaMemset(p, byte, n * sizeof(T)));
  return p;
}

} // namespace

int main() {
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("scan_fusion: %s, %d SMs; %d layers of the 1.2B Mamba shape "
              "at batch 1, median of %d replays\n",
              prop.name, prop.multiProcessorCount, kLayers, kReplays);
  size_t inWords = size_t(kInProjBlocks) * kThreads * kInWords;
  size_t outWords = size_t(kOutBlocks) * kOutThreads * kOutWords;
  uint4 *weights = deviceArray<uint4>((inWords + outWords) * kLayers, 0x11);
  float *rows[2] = {deviceArray<float>(kModel, 0),
                    deviceArray<float>(kModel, 0)};
  unsigned *counters = deviceArray<unsigned>(kLayers, 0);
  std::vector<Layer> layers;
  for (int i = 0; i < kLayers; ++i) {
    Layer l;
    l.inWeights = weights + (inWords + outWords) * i;
    l.outWeights = l.inWeights + inWords;
    l.residual = rows[i % 2];
    l.next = rows[(i + 1) % 2];
    l.proj = deviceArray<float>(kInProj, 0);
    l.state = deviceArray<float>(size_t(kInner) * kStateSize, 0);
    l.aLog = deviceArray<float>(kHeads, 0);
    l.d = deviceArray<float>(kHeads, 0);
    l.dtBias = deviceArray<float>(kHeads, 0);
    l.y = deviceArray<float>(kInner, 0);
    l.sideDone = counters + i;
    layers.push_back(l);
  }
  double mb = double(inWords + outWords) * 16 / 1e6;
  std::printf("%-10s %12s   (weights %.1f MB a layer)\n", "structure",
              "us a layer", mb);
  const std::pair<Structure, const char *> runs[] = {
      {kThree, "3 kernels"}, {kFused, "2 kernels"}, {kNoScan, "no scan"}};
  for (int round = 0; round < 2; ++round)
    for (auto [structure, name] : runs)
      std::printf("%-10s %12.2f\n", name,
                  timeLayers(structure, layers, counters) * 1e3);
  return 0;
}
