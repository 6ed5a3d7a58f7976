// What one kernel of a chain of dependent kernels costs at least on this
// GPU, by the shape of its grid: the floor under a decode step that runs as
// ~190 kernels, each waiting for the one before (programmatic dependent
// launch, replayed from a CUDA graph), as zamba2c's CUDA packages do.
//
// Each configuration is a chain of kChain launches of one kernel, captured
// in a graph and replayed; the cost of a kernel is the replay's time over
// kChain (median of the replays). A kernel:
//   - loads `words` 16-byte words of weights per thread before its
//     dependent-launch wait (from a buffer far larger than L2, a new part
//     of it each launch, so they come from DRAM), as the linear kernels
//     preload theirs;
//   - waits (griddepcontrol.wait);
//   - with `row`, reads a row of 2048 floats that the kernel before wrote
//     (every block the whole row, from L2, as a GEMV stages x; at least 128
//     threads a block, each thread's loads all issued before its adds) and
//     sums it over the block;
//   - stores one float per thread (its weights' sum plus the row's).
// Variants of the weights' path: "+ L2 ..." kernels first ask L2 for the
// weights of the launch one (or two) after them (Prefetch: bulk, bulk
// with an evict_last policy, line by line, or loads), so that it finds
// them in L2 instead of DRAM; "L2-resident" launches all read the same
// weights, which stay in L2 (the floor such a prefetch could reach).
// "early ..." kernels signal the dependent launch at their start
// (griddepcontrol.launch_dependents), so that the next kernel's blocks can
// be resident, loading their weights, while this one runs: into registers
// ("early regs", chainKernel) or into shared memory ("ld/st": loads into
// registers, 8 words a thread at a time, then stores; "async": cp.async
// 16-byte copies), every block its slice (stagedKernel; "smem ld/st" is
// the same without the early signal).
// Columns: the cost per kernel with the dependent launch and without it
// (each kernel then starts after the one before ends), and the weights'
// DRAM floor per kernel at the bandwidth given by --gbps.
//
// Build where nvcc is (bench/gpu/chain_floor.sh OUT does it), run on the
// GPU machine (a driver is enough: the CUDA runtime is linked statically):
//   nvcc -O3 -arch=sm_90 -o chain_floor bench/gpu/chain_floor.cu
//   ./chain_floor [--gbps 3350]
#include "graph_timing.cuh"

#include <cstring>

namespace {

constexpr int kChain = 200;
constexpr int kReplays = 15;
constexpr int kRow = 2048;
constexpr size_t kWeightBytes = size_t(2) << 30; // 2 GiB: not L2-resident

/// How a kernel asks L2 for a later launch's weights (`ahead`), so that
/// the launch finds them there: each block its share, before its own
/// weights.
enum Prefetch : int {
  kBulk = 1,     // cp.async.bulk.prefetch.L2 from the first warp
  kBulkKeep = 2, // the same with an evict_last L2 policy
  kLines = 3,    // prefetch.global.L2, each thread its 128-byte lines
  kLoads = 4,    // a word of each 256-byte piece loaded (.L2::256B), kept
};

/// Every block reads the row of kRow floats the kernel before wrote (from
/// L2, as a GEMV stages x: each thread's loads all in flight before its
/// first add) and sums it over the block.
__device__ float rowSum(const float *__restrict__ in) {
  __shared__ float warpSums[32];
  float v[kRow / 128];
#pragma unroll
  for (int i = 0; i < kRow / 128; ++i) {
    int k = threadIdx.x + i * blockDim.x;
    v[i] = k < kRow ? in[k] : 0.f;
  }
  float part = 0.f;
#pragma unroll
  for (int i = 0; i < kRow / 128; ++i)
    part += v[i];
  for (int o = 16; o > 0; o /= 2)
    part += __shfl_xor_sync(0xffffffffu, part, o);
  if (threadIdx.x % 32 == 0)
    warpSums[threadIdx.x / 32] = part;
  __syncthreads();
  float sum = 0.f;
  for (int i = 0; i < int(blockDim.x / 32); ++i)
    sum += warpSums[i];
  return sum;
}

__global__ void chainKernel(const float *__restrict__ in,
                            float *__restrict__ out,
                            const uint4 *__restrict__ weights, int words,
                            int row, const uint4 *ahead, int how, int early) {
  if (early)
    asm volatile("griddepcontrol.launch_dependents;");
  int gid = blockIdx.x * blockDim.x + threadIdx.x;
  size_t threads = size_t(gridDim.x) * blockDim.x;
  size_t aheadBytes = threads * words * 16;
  const char *aheadBase = reinterpret_cast<const char *>(ahead);
  unsigned touched = 0;
  if (ahead && (how == kBulk || how == kBulkKeep) && threadIdx.x < 32) {
    unsigned chunk = blockDim.x * words * 16 / 32;
    const char *p = aheadBase + (size_t(blockIdx.x) * 32 + threadIdx.x) * chunk;
    if (how == kBulkKeep) {
      unsigned long long policy;
      asm volatile("createpolicy.fractional.L2::evict_last.b64 %0, 1.0;"
                   : "=l"(policy));
      asm volatile("cp.async.bulk.prefetch.L2.global.L2::cache_hint [%0], "
                   "%1, %2;" ::"l"(p),
                   "r"(chunk), "l"(policy)
                   : "memory");
    } else {
      asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p),
                   "r"(chunk)
                   : "memory");
    }
  } else if (ahead && how == kLines) {
    for (size_t l = gid; l < aheadBytes / 128; l += threads)
      asm volatile("prefetch.global.L2 [%0];" ::"l"(aheadBase + l * 128));
  } else if (ahead && how == kLoads) {
    for (size_t l = gid; l < aheadBytes / 256; l += threads) {
      unsigned v;
      asm volatile("ld.global.nc.L1::no_allocate.L2::256B.u32 %0, [%1];"
                   : "=r"(v)
                   : "l"(aheadBase + l * 256));
      touched ^= v; // kept, so the loads are not dropped
    }
  }
  // Weights first (at most 16 words per thread: the registers of a GEMV
  // lane's preloaded chunks), each thread's words contiguous.
  uint4 w[16];
  const uint4 *mine = weights + size_t(gid) * words;
#pragma unroll
  for (int i = 0; i < 16; ++i)
    if (i < words)
      w[i] = mine[i];
  asm volatile("griddepcontrol.wait;" ::: "memory");
  unsigned bits = 0;
#pragma unroll
  for (int i = 0; i < 16; ++i)
    if (i < words)
      bits ^= w[i].x ^ w[i].y ^ w[i].z ^ w[i].w;
  float sum = float((bits ^ touched) & 0xff);
  if (row)
    sum += rowSum(in);
  out[gid] = sum * 1e-30f;
}

/// How a block stages its weights in shared memory before its wait.
enum Staging : int {
  kLoadStore = 0, // loads into registers, 8 words a thread at a time, stored
  kCpAsync = 1,   // cp.async 16-byte copies, all in flight at once
};

/// The block's `words` * blockDim.x words of weights copied into dynamic
/// shared memory before the dependent-launch wait (word i of the block's
/// slice at staged[i]: coalesced), then summed from there after it.
__global__ void stagedKernel(const float *__restrict__ in,
                             float *__restrict__ out,
                             const uint4 *__restrict__ weights, int words,
                             int row, int how, int early) {
  extern __shared__ uint4 staged[];
  if (early)
    asm volatile("griddepcontrol.launch_dependents;");
  int n = blockDim.x * words;
  const uint4 *mine = weights + size_t(blockIdx.x) * n;
  if (how == kCpAsync) {
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
      unsigned dst = unsigned(__cvta_generic_to_shared(staged + i));
      asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst),
                   "l"(mine + i)
                   : "memory");
    }
    asm volatile("cp.async.wait_all;" ::: "memory");
  } else {
    for (int base = 0; base < n; base += 8 * blockDim.x) {
      uint4 w[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        int i = base + j * blockDim.x + threadIdx.x;
        if (i < n)
          w[j] = mine[i];
      }
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        int i = base + j * blockDim.x + threadIdx.x;
        if (i < n)
          staged[i] = w[j];
      }
    }
  }
  asm volatile("griddepcontrol.wait;" ::: "memory");
  __syncthreads();
  unsigned bits = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x)
    bits ^= staged[i].x ^ staged[i].y ^ staged[i].z ^ staged[i].w;
  float sum = float(bits & 0xff);
  if (row)
    sum += rowSum(in);
  out[blockIdx.x * blockDim.x + threadIdx.x] = sum * 1e-30f;
}

struct Config {
  const char *what;
  int blocks, threads, words, row;
  int ahead = 0;         // prefetch the weights of the launch this many ahead
  bool resident = false; // every launch reads the same weights (from L2)
  int how = kBulk;       // with `ahead`: how (Prefetch)
  bool early = false;    // the dependent launch signalled at the start
  int staging = -1;      // stagedKernel's Staging, or -1: chainKernel
};

// One chain of kChain launches captured as a graph; returns the median ms
// per kernel over kReplays replays.
double timeChain(const Config &c, bool dependent, float *buf[2],
                 const uint4 *weights) {
  size_t perLaunch = size_t(c.blocks) * c.threads * c.words; // uint4s
  size_t slots = perLaunch && !c.resident ? (kWeightBytes / 16) / perLaunch : 1;
  return medianReplayMs(kReplays, kChain, [&](cudaStream_t stream) {
    for (int i = 0; i < kChain; ++i) {
      cudaLaunchAttribute attr;
      cudaLaunchConfig_t config =
          launchConfig(c.blocks, c.threads, stream, dependent, attr);
      const uint4 *w = weights + (i % slots) * perLaunch;
      const uint4 *ahead =
          c.ahead ? weights + ((i + c.ahead) % slots) * perLaunch : nullptr;
      const float *in = buf[i % 2];
      float *out = buf[(i + 1) % 2];
      if (c.staging >= 0) {
        config.dynamicSmemBytes = size_t(c.threads) * c.words * 16;
        CHECK(cudaLaunchKernelEx(&config, stagedKernel, in, out, w, c.words,
                                 c.row, c.staging, int(c.early)));
      } else {
        CHECK(cudaLaunchKernelEx(&config, chainKernel, in, out, w, c.words,
                                 c.row, ahead, c.how, int(c.early)));
      }
    }
  });
}

} // namespace

int main(int argc, char **argv) {
  double gbps = 3350; // H100 SXM HBM3
  if (!parseGbps(argc, argv, "chain_floor", gbps))
    return 2;
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  std::printf("chain_floor: %s, %d SMs; chains of %d kernels, median of %d "
              "replays\n",
              prop.name, prop.multiProcessorCount, kChain, kReplays);
  float *buf[2];
  int most = 4096 * 128;
  for (float *&b : buf) {
    CHECK(cudaMalloc(&b, most * sizeof(float)));
    CHECK(cudaMemset(b, 0, most * sizeof(float)));
  }
  uint4 *weights;
  CHECK(cudaMalloc(&weights, kWeightBytes));
  // The most shared memory a block may ask for on this device: staged
  // configurations that need more are skipped.
  CHECK(cudaFuncSetAttribute(stagedKernel,
                             cudaFuncAttributeMaxDynamicSharedMemorySize,
                             int(prop.sharedMemPerBlockOptin)));
  CHECK(cudaMemset(weights, 1, kWeightBytes));
  int sms = prop.multiProcessorCount;
  // Grids of the 1.2B int4 decode step's kernels: the norms (1 block), the
  // out_proj (256 blocks of 16 KB), the in_proj (about 1000 blocks), the
  // merged q/k/v (1536 blocks), and the same 8 MB of weights in fewer,
  // fatter blocks (one per SM, 512 threads).
  // A kernel of `words` words of weights a thread in registers that
  // signals its dependent launch at its start; one that stages them in
  // shared memory (Staging `how`), signalling early unless told not to.
  auto early = [](const char *what, int blocks, int threads, int words) {
    Config c{what, blocks, threads, words, 1};
    c.early = true;
    return c;
  };
  auto staged = [](const char *what, int blocks, int threads, int words,
                   Staging how, bool signalEarly = true) {
    Config c{what, blocks, threads, words, 1};
    c.early = signalEarly;
    c.staging = how;
    return c;
  };
  std::vector<Config> configs = {
      {"wait only", 1, 128, 0, 0},
      {"wait only", sms, 128, 0, 0},
      {"wait only", 1024, 128, 0, 0},
      {"wait only", 4096, 128, 0, 0},
      {"row", 1, 128, 0, 1},
      {"row", 256, 128, 0, 1},
      {"row", 1024, 128, 0, 1},
      {"row", 1536, 128, 0, 1},
      {"row + 4 MB", 256, 128, 8, 1},
      {"row + 8 MB", 1024, 128, 4, 1},
      {"row + 8 MB", 256, 128, 16, 1},
      {"row + 8 MB", sms, 512, 8, 1},
      {"row + 25 MB", 1536, 128, 8, 1},
      {"+ L2 next", 256, 128, 8, 1, 1},
      {"+ L2 next", 1024, 128, 4, 1, 1},
      {"+ L2 next", 256, 128, 16, 1, 1},
      {"+ L2 2 ahead", 1024, 128, 4, 1, 2},
      {"+ L2 next", 1536, 128, 8, 1, 1},
      {"+ L2 keep", 1024, 128, 4, 1, 1, false, kBulkKeep},
      {"+ L2 keep", 256, 128, 16, 1, 1, false, kBulkKeep},
      {"+ L2 lines", 1024, 128, 4, 1, 1, false, kLines},
      {"+ L2 lines", 256, 128, 16, 1, 1, false, kLines},
      {"+ L2 loads", 1024, 128, 4, 1, 1, false, kLoads},
      {"+ L2 loads", 256, 128, 16, 1, 1, false, kLoads},
      {"L2-resident", 1024, 128, 4, 1, 0, true},
      {"L2-resident", 256, 128, 16, 1, 0, true},
      {"L2-resident", 256, 128, 8, 1, 0, true},
      // The dependent launch signalled at each kernel's start, so that the
      // next kernel's blocks are resident, their weights loading, while
      // this one runs: weights in registers, or staged in shared memory.
      early("early regs", 1024, 128, 4),
      early("early regs", sms, 512, 8),
      early("early regs", 256, 128, 16),
      staged("smem ld/st", sms, 256, 16, kLoadStore, /*signalEarly=*/false),
      staged("early ld/st", sms, 256, 16, kLoadStore),
      staged("early ld/st", sms, 512, 8, kLoadStore),
      staged("early ld/st", 2 * sms, 256, 8, kLoadStore),
      staged("early ld/st", 2 * sms, 128, 16, kLoadStore),
      staged("early async", sms, 256, 16, kCpAsync),
      staged("early async", 2 * sms, 256, 8, kCpAsync),
      staged("early ld/st", sms, 256, 8, kLoadStore),
      staged("early async", sms, 256, 8, kCpAsync),
      staged("early ld/st", sms, 512, 24, kLoadStore),
      staged("early ld/st", 2 * sms, 512, 12, kLoadStore),
  };
  std::printf("%-12s %7s %8s %8s %14s %14s %12s\n", "kernel", "blocks",
              "threads", "MB", "us (depend.)", "us (serial)", "DRAM us");
  for (const Config &c : configs) {
    size_t smem = size_t(c.threads) * c.words * 16;
    if (c.staging >= 0 && smem > prop.sharedMemPerBlockOptin) {
      std::printf("%-12s %7d %8d: skipped, %zu bytes of shared memory a block "
                  "(at most %zu here)\n",
                  c.what, c.blocks, c.threads, smem,
                  size_t(prop.sharedMemPerBlockOptin));
      continue;
    }
    double mb = double(c.blocks) * c.threads * c.words * 16 / 1e6;
    double dependent = timeChain(c, true, buf, weights) * 1e3;
    double serial = timeChain(c, false, buf, weights) * 1e3;
    std::printf("%-12s %7d %8d %8.2f %14.2f %14.2f %12.2f\n", c.what, c.blocks,
                c.threads, mb, dependent, serial, mb / gbps * 1e3);
  }
  CHECK(cudaFree(weights));
  for (float *b : buf)
    CHECK(cudaFree(b));
  return 0;
}
