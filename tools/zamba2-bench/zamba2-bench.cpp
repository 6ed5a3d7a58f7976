//===- zamba2-bench.cpp - a package's speed against the memory floor ------===//
//
// zamba2-bench PKG [--prefill 128,512] [--decode N] [--context C] [--repeat R]
//
// Measures, on this machine and in this run:
//   - memory bandwidth: a parallel read of a 1 GiB buffer (the decode step's
//     access pattern) and a 1 GiB memcpy, best of 5;
//   - prefill tokens/s at each length (batch 1, median of R runs);
//   - decode ms/token after a C-token prompt (median over N steps);
//   - peak resident memory.
// and prints the decode floor: bytes a decode step must read (weights, conv
// and SSM state read and written, the KV cache read) over the measured read
// bandwidth, and the ratio of the measured step to it. On the GPU also the
// kernel launches of a decode step and their own floor: a CUDA graph of as
// many empty kernels, launched as the package's are, timed in the same run;
// with --phases, where a decode call's time goes (GPU events around and in
// its graph).
//
//===----------------------------------------------------------------------===//
#include "runtime/core/ThreadPool.h"
#include "runtime/cuda/Cuda.h"
#include "runtime/engine/Manifest.h"
#include "runtime/engine/Package.h"
#include "runtime/engine/Session.h"
#include "runtime/format/ModelConfig.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace zamba2;

namespace {

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

[[noreturn]] void fail(const std::string &message) {
  std::fprintf(stderr, "zamba2-bench: error: %s\n", message.c_str());
  std::exit(1);
}

struct ReadCtx {
  const float *data;
  std::vector<float> sums;
  int64_t chunk;
};

/// Sums floats [begin, end) of the buffer in chunks (8 independent lanes so
/// the loop is bound by memory, not by the add latency).
void readChunks(void *p, int64_t begin, int64_t end) {
  auto *ctx = static_cast<ReadCtx *>(p);
  for (int64_t c = begin; c < end; ++c) {
    const float *x = ctx->data + c * ctx->chunk;
    float acc[16] = {};
    for (int64_t i = 0; i < ctx->chunk; i += 16)
      for (int j = 0; j < 16; ++j)
        acc[j] += x[i + j];
    float s = 0;
    for (float a : acc)
      s += a;
    ctx->sums[c] = s;
  }
}

/// Read and copy bandwidth in GB/s (1e9 bytes), best of 5.
void measureBandwidth(double &readGBs, double &copyGBs) {
  const size_t bytes = size_t(1) << 30;
  const size_t n = bytes / sizeof(float);
  auto *a = static_cast<float *>(std::aligned_alloc(64, bytes));
  auto *b = static_cast<float *>(std::aligned_alloc(64, bytes));
  if (!a || !b)
    fail("cannot allocate 2 GiB for the bandwidth measurement");
  for (size_t i = 0; i < n; ++i)
    a[i] = static_cast<float>(i & 255);
  std::memset(b, 0, bytes);
  ReadCtx ctx{a, {}, 1 << 16};
  int64_t chunks = static_cast<int64_t>(n) / ctx.chunk;
  ctx.sums.assign(chunks, 0);
  double bestRead = 1e30, bestCopy = 1e30;
  for (int r = 0; r < 5; ++r) {
    double t = now();
    zamba2_runtime_parallel_for(readChunks, &ctx, 0, chunks);
    bestRead = std::min(bestRead, now() - t);
    t = now();
    std::memcpy(b, a, bytes);
    asm volatile("" : : "r"(b) : "memory"); // the copy must happen
    bestCopy = std::min(bestCopy, now() - t);
  }
  volatile float sink = ctx.sums[0] + b[n - 1];
  (void)sink;
  readGBs = bytes / bestRead / 1e9;
  copyGBs = 2.0 * bytes / bestCopy / 1e9; // bytes read + written
  std::free(a);
  std::free(b);
}

std::vector<int64_t> parseList(const char *text) {
  std::vector<int64_t> out;
  for (const char *p = text; *p;) {
    char *end = nullptr;
    long long v = std::strtoll(p, &end, 10);
    if (end == p || v <= 0)
      fail(std::string("bad list '") + text + "'");
    out.push_back(v);
    p = *end == ',' ? end + 1 : end;
  }
  return out;
}

int64_t parsePositive(const char *flag, const char *text) {
  char *end = nullptr;
  long long v = std::strtoll(text, &end, 10);
  if (!*text || *end || v <= 0)
    fail(std::string(flag) + ": expected a positive integer, got '" + text +
         "'");
  return v;
}

void check(const Status &s) {
  if (!s)
    fail(s.message());
}

/// Bytes one decode step of `batch` sequences must move: every weight as
/// often as the step reads it, the conv and SSM state read and written, the
/// KV cache read up to `position`.
struct StepBytes {
  double weights = 0, state = 0, kv = 0;
  double total() const { return weights + state + kv; }
};

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

/// Bytes of weights one decode step of `batch` sequences reads: a shared
/// block's weights once for each hybrid site that uses the block (its
/// adapters are per site), the embedding table's `batch` rows (the whole
/// table when it is also the lm_head, i.e. the package has no lm_head of
/// its own), every other weight once. `cfg` is the package's model config.
double stepWeightBytes(const PackageManifest &m, const ModelConfig &cfg,
                       int64_t batch) {
  std::set<std::string> names;
  for (const WeightSpec &w : m.weights)
    names.insert(w.name);
  HasTensorFn has = [&](const std::string &n) { return names.count(n) > 0; };
  // Readers of each shared-block prefix: the sites that use it.
  std::map<std::string, int64_t> sites;
  for (int64_t s = 0; s < cfg.numSites(); ++s)
    ++sites[sharedBlockPrefix(cfg, s, has)];
  bool ownLmHead = false;
  for (const std::string &n : names)
    ownLmHead = ownLmHead || startsWith(n, "lm_head.weight");
  double bytes = 0;
  for (const WeightSpec &w : m.weights) {
    double b = static_cast<double>(w.bytes);
    if (startsWith(w.name, "model.embed_tokens.weight")) {
      if (ownLmHead && m.vocabSize > 0)
        b *= std::min(1.0, static_cast<double>(batch) / m.vocabSize);
    } else if (w.name.find("_adapter_list.") == std::string::npos) {
      for (const auto &[prefix, count] : sites)
        if (startsWith(w.name, prefix))
          b *= static_cast<double>(count);
    }
    bytes += b;
  }
  return bytes;
}

/// What a decode step reads of the weights, against the package's weights.
void printWeightReads(const PackageManifest &m, const ModelConfig &cfg) {
  std::printf("weights     %.0f bytes read per decode step at batch 1 "
              "(weights.bin %llu: shared blocks read at each of their "
              "sites, the embedding table's row unless it is the lm_head)\n",
              stepWeightBytes(m, cfg, 1),
              static_cast<unsigned long long>(m.weightsBytes));
}

StepBytes decodeBytes(const PackageManifest &m, const ModelConfig &cfg,
                      int64_t batch, int64_t position) {
  StepBytes b;
  b.weights = stepWeightBytes(m, cfg, batch);
  for (const StateSpec &s : m.state) {
    double row = static_cast<double>(s.elementSize);
    bool isCache = false;
    for (size_t d = 1; d < s.shape.size(); ++d) {
      if (s.shape[d].kind == StateDim::Kind::Seq) {
        isCache = true;
        row *= static_cast<double>(position);
      } else {
        row *= static_cast<double>(s.shape[d].size);
      }
    }
    (isCache ? b.kv : b.state) += (isCache ? 1.0 : 2.0) * row * batch;
  }
  return b;
}

/// The package's model config (its manifest's copy of config.json).
ModelConfig modelConfig(const PackageManifest &m) {
  ModelConfig cfg;
  std::string error;
  if (!parseModelConfig(m.config, m.path + ": config", cfg, error))
    fail(error);
  return cfg;
}

/// 2 * (elements of every matrix weight) per token: the matmul FLOPs of a
/// forward pass, without attention's score and value products.
double matmulFlopsPerToken(const PackageManifest &m) {
  double elements = 0;
  for (const WeightSpec &w : m.weights)
    if (w.shape.size() == 2)
      elements += static_cast<double>(w.shape[0]) * w.shape[1];
  return 2.0 * elements;
}

struct Options {
  std::string pkgDir;
  std::vector<int64_t> prefillLens, batches;
  int64_t decodeSteps = 16, context = 128, repeat = 3;
  double matmulTflops = 0;
  bool phases = false;
};

std::vector<int64_t> promptIds(const PackageManifest &m, int64_t n) {
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i)
    ids[i] = 1 + (i * 7919) % (m.vocabSize - 1);
  return ids;
}

/// Median prefill seconds of `len` tokens (batch 1).
double timePrefill(Session &session, const std::vector<int64_t> &ids,
                   int64_t len, int64_t repeat) {
  std::vector<double> times;
  for (int64_t r = 0; r < repeat; ++r) {
    session.resetAll();
    double t = now();
    check(session.prefill(1, len, ids.data(), nullptr));
    times.push_back(now() - t);
  }
  return median(times);
}

/// Where the timed decode calls (Session::timePhases) went, per call in
/// seconds: the GPU's phases, and the host's part (the call's time minus
/// the span of its events).
struct PhaseSamples {
  std::vector<double> start, kernels, end, copy, host;
};

/// Median decode step seconds of `batch` sequences after a `context`-token
/// prompt each.
/// `firstStepLaunches` (CUDA): the kernel launches of the first step, which
/// runs without a graph the first time a batch size is decoded (0 when it
/// was replayed). `phases`: the phases of the timed calls (PhaseSamples).
double timeDecode(Session &session, const std::vector<int64_t> &ids,
                  int64_t batch, int64_t context, int64_t steps,
                  uint64_t *firstStepLaunches = nullptr,
                  PhaseSamples *phases = nullptr) {
  session.resetAll();
  std::vector<int64_t> prompt(static_cast<size_t>(batch * context));
  for (int64_t b = 0; b < batch; ++b)
    std::copy(ids.begin(), ids.begin() + context, prompt.begin() + b * context);
  check(session.prefill(batch, context, prompt.data(), nullptr));
  std::vector<double> times;
  std::vector<int64_t> next(static_cast<size_t>(batch));
  for (int64_t i = 0; i < steps; ++i) {
    std::fill(next.begin(), next.end(), ids[context + i]);
    uint64_t launches = cudaKernelLaunches();
    double t = now();
    check(session.decode(batch, next.data(), nullptr));
    times.push_back(now() - t);
    Session::CallPhases ph;
    if (phases && session.lastPhases(ph)) {
      phases->start.push_back(ph.start);
      phases->kernels.push_back(ph.kernels);
      phases->end.push_back(ph.end);
      phases->copy.push_back(ph.copy);
      phases->host.push_back(times.back() -
                             (ph.start + ph.kernels + ph.end + ph.copy));
    }
    if (i == 0 && firstStepLaunches)
      *firstStepLaunches = cudaKernelLaunches() - launches;
  }
  return median(times);
}

int benchCpu(const Options &o) {
  std::shared_ptr<Package> pkg;
  check(Package::open(o.pkgDir, pkg));
  const PackageManifest &m = pkg->manifest();
  ModelConfig cfg = modelConfig(m);
  int64_t maxLen = o.context + o.decodeSteps;
  for (int64_t len : o.prefillLens)
    maxLen = std::max(maxLen, len);
  std::unique_ptr<Session> session;
  check(Session::create(pkg, 1, maxLen, session));

  std::printf("package     %s (%s, %s)\n", o.pkgDir.c_str(), m.cpu.c_str(),
              m.producer.c_str());
  std::printf("threads     %d\n", parallelThreadCount());
  printWeightReads(m, cfg);
  std::vector<int64_t> ids = promptIds(m, maxLen);
  // Warm-up: touch the weights and the code once.
  check(session->prefill(1, 4, ids.data(), nullptr));

  for (int64_t len : o.prefillLens) {
    double s = timePrefill(*session, ids, len, o.repeat);
    std::printf("prefill     %5lld tokens: %8.1f ms, %7.1f tokens/s\n",
                static_cast<long long>(len), s * 1e3, len / s);
  }
  double step = timeDecode(*session, ids, 1, o.context, o.decodeSteps);
  // Peak memory of the model alone (mapped weights, state, workspace), read
  // before the bandwidth buffers exist.
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double peakGB = usage.ru_maxrss / 1e6;

  double readGBs = 0, copyGBs = 0;
  measureBandwidth(readGBs, copyGBs);
  std::printf("bandwidth   read %.1f GB/s, copy %.1f GB/s (read+write)\n",
              readGBs, copyGBs);
  StepBytes bytes = decodeBytes(m, cfg, 1, o.context + o.decodeSteps / 2);
  double floorSec = bytes.total() / (readGBs * 1e9);
  std::printf("decode      %.1f ms/token, %.2f tokens/s (median of %lld "
              "steps after %lld tokens)\n",
              step * 1e3, 1.0 / step, static_cast<long long>(o.decodeSteps),
              static_cast<long long>(o.context));
  std::printf("floor       %.2f GB per step (weights %.2f, state r+w %.3f, "
              "KV read %.3f) / %.1f GB/s = %.1f ms\n",
              bytes.total() / 1e9, bytes.weights / 1e9, bytes.state / 1e9,
              bytes.kv / 1e9, readGBs, floorSec * 1e3);
  std::printf("ratio       decode step / floor = %.2fx\n", step / floorSec);
  std::printf("peak memory %.2f GB resident (weights mapped, state, "
              "temporaries)\n",
              peakGB);
  return 0;
}

int benchCuda(const Options &o) {
  std::string err;
  size_t usedBefore = 0, total = 0;
  if (!cudaDeviceMemory(usedBefore, total, err))
    fail(err);
  std::printf("device      %s\n", cudaDeviceDescription().c_str());
  std::shared_ptr<Package> pkg;
  check(Package::open(o.pkgDir, pkg));
  const PackageManifest &m = pkg->manifest();
  ModelConfig cfg = modelConfig(m);
  printWeightReads(m, cfg);
  int64_t maxBatch = *std::max_element(o.batches.begin(), o.batches.end());
  int64_t maxLen = o.context + o.decodeSteps;
  for (int64_t len : o.prefillLens)
    maxLen = std::max(maxLen, len);
  std::unique_ptr<Session> session;
  check(Session::create(pkg, maxBatch, maxLen, session));
  session->timePhases(o.phases);
  std::printf("package     %s (cuda %s, %s)\n", o.pkgDir.c_str(),
              m.targetGpu.c_str(), m.producer.c_str());
  std::vector<int64_t> ids = promptIds(m, maxLen);
  check(session->prefill(1, 4, ids.data(), nullptr)); // loads the kernels

  double copyGBs = 0;
  if (!cudaMeasureCopyBandwidth(size_t(1) << 30, 5, copyGBs, err))
    fail(err);
  std::printf("bandwidth   device copy %.0f GB/s (read+write, 1 GiB, best "
              "of 5)\n",
              copyGBs);
  // The device memory in use, sampled after each measurement: its most is
  // the run's peak (the temporaries' blocks of one call are given back when
  // a later call needs another size).
  size_t peakUsed = usedBefore;
  auto sampleMemory = [&] {
    size_t used = 0, ignored = 0;
    std::string why;
    if (cudaDeviceMemory(used, ignored, why))
      peakUsed = std::max(peakUsed, used);
  };
  double flopsPerToken = matmulFlopsPerToken(m);
  for (int64_t len : o.prefillLens) {
    double s = timePrefill(*session, ids, len, o.repeat);
    sampleMemory();
    std::printf("prefill     %5lld tokens: %8.2f ms, %9.1f tokens/s",
                static_cast<long long>(len), s * 1e3, len / s);
    if (o.matmulTflops > 0) {
      double floorSec = flopsPerToken * len / (o.matmulTflops * 1e12);
      std::printf("; floor %.2f ms (%.2f TFLOP / %.0f TFLOP/s), %.1fx",
                  floorSec * 1e3, flopsPerToken * len / 1e12, o.matmulTflops,
                  s / floorSec);
    }
    std::printf("\n");
  }
  for (int64_t batch : o.batches) {
    uint64_t launches = 0;
    PhaseSamples phases;
    double step = timeDecode(*session, ids, batch, o.context, o.decodeSteps,
                             &launches, &phases);
    sampleMemory();
    StepBytes bytes = decodeBytes(m, cfg, batch, o.context + o.decodeSteps / 2);
    double floorSec = bytes.total() / (copyGBs * 1e9);
    std::printf("decode      batch %lld: %.3f ms/step, %.1f tokens/s; floor "
                "%.3f GB (weights %.3f, state r+w %.3f, KV %.3f) / %.0f "
                "GB/s = %.3f ms, %.2fx\n",
                static_cast<long long>(batch), step * 1e3, batch / step,
                bytes.total() / 1e9, bytes.weights / 1e9, bytes.state / 1e9,
                bytes.kv / 1e9, copyGBs, floorSec * 1e3, step / floorSec);
    // The second floor of a step: launching its kernels at all.
    double launchSec = 0;
    if (launches > 0 &&
        cudaMeasureLaunchFloor(static_cast<int64_t>(launches),
                               m.dependentLaunch, 20, launchSec, err))
      std::printf("            %llu kernel launches per step; launch floor "
                  "%.3f ms (a CUDA graph of as many empty kernels%s), "
                  "%.2fx\n",
                  static_cast<unsigned long long>(launches), launchSec * 1e3,
                  m.dependentLaunch && cudaDependentLaunchAllowed()
                      ? ", dependent launch"
                      : "",
                  step / launchSec);
    else if (launches > 0)
      std::printf("            %llu kernel launches per step; launch floor "
                  "not measured: %s\n",
                  static_cast<unsigned long long>(launches), err.c_str());
    if (o.phases && phases.kernels.empty())
      std::printf("phases      batch %lld: no call was timed (no CUDA graph "
                  "with events: see ZAMBA2_CUDA_VERBOSE=1)\n",
                  static_cast<long long>(batch));
    else if (o.phases)
      std::printf("phases      batch %lld, medians of %zu calls replayed from "
                  "the graph, us: launch and inputs' copy %.2f, kernels "
                  "%.2f, graph end %.2f, logits' copy %.2f (GPU events); "
                  "host %.2f (the rest of the call)\n",
                  static_cast<long long>(batch), phases.kernels.size(),
                  median(phases.start) * 1e6, median(phases.kernels) * 1e6,
                  median(phases.end) * 1e6, median(phases.copy) * 1e6,
                  median(phases.host) * 1e6);
  }
  std::printf("gpu memory  peak %.2f GB used by this run (weights %.2f GB, "
              "temporaries at most %.3f GB); device total %.1f GB\n",
              (peakUsed - usedBefore) / 1e9, m.weightsBytes / 1e9,
              cudaTemporaryBytes() / 1e9, total / 1e9);
  if (cudaProfiling()) {
    // One more decode step of the first batch size, kernel by kernel.
    int64_t batch = o.batches.front();
    session->resetAll();
    std::vector<int64_t> prompt(static_cast<size_t>(batch * o.context), 1);
    check(session->prefill(batch, o.context, prompt.data(), nullptr));
    cudaProfileReport(); // drops the timings of the runs so far
    std::vector<int64_t> next(static_cast<size_t>(batch), ids[0]);
    check(session->decode(batch, next.data(), nullptr));
    std::printf("profile     one decode step, batch %lld (no graph):\n%s",
                static_cast<long long>(batch), cudaProfileReport().c_str());
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0); // lines show as they come
  Options o;
  bool prefillGiven = false, batchGiven = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: zamba2-bench PKG [--prefill LENS] [--decode N]\n"
          "                    [--context C] [--repeat R] [--batch LIST]\n"
          "                    [--matmul-tflops T] [--phases]\n"
          "Benchmarks a package against the machine's limits measured in\n"
          "the same run. Prefill tokens/s per length (batch 1, median of R\n"
          "runs, default 3); decode ms/step (median of N steps, default 16,\n"
          "after a C-token prompt per sequence, default 128).\n"
          "CPU package: batch 1, prefill 128,512; read and copy bandwidth\n"
          "(a parallel 1 GiB read, a 1 GiB memcpy), the decode floor (bytes\n"
          "one step reads over the read bandwidth), peak resident memory.\n"
          "ZAMBA2_NUM_THREADS sets the threads.\n"
          "CUDA package: prefill 512,2048; decode at each batch of LIST\n"
          "(default 1,8); the device copy bandwidth (1 GiB device-to-device)\n"
          "and the decode floor (bytes one step moves over it); the\n"
          "kernel launches of a decode step and their launch floor (a CUDA\n"
          "graph of as many empty kernels, launched as the package's); with\n"
          "--matmul-tflops T (a bf16 matmul rate measured elsewhere in the\n"
          "same run, e.g. with torch) the prefill floor (matmul FLOPs over\n"
          "T); GPU memory used. With ZAMBA2_CUDA_PROFILE=1 also the time of\n"
          "each kernel of one decode step. With --phases, where a decode\n"
          "call replayed from its CUDA graph spends its time: the graph's\n"
          "launch and input copy, its kernels, its end, the logits' copy\n"
          "(events the stream and the graph record; the graphs then hold\n"
          "two event nodes) and the host's rest of the call.\n");
      return 0;
    } else if (a == "--prefill") {
      o.prefillLens = parseList(value());
      prefillGiven = true;
    } else if (a == "--batch") {
      o.batches = parseList(value());
      batchGiven = true;
    } else if (a == "--decode") {
      o.decodeSteps = parsePositive("--decode", value());
    } else if (a == "--context") {
      o.context = parsePositive("--context", value());
    } else if (a == "--repeat") {
      o.repeat = parsePositive("--repeat", value());
    } else if (a == "--phases") {
      o.phases = true;
    } else if (a == "--matmul-tflops") {
      const char *v = value();
      char *end = nullptr;
      o.matmulTflops = std::strtod(v, &end);
      if (!*v || *end || !(o.matmulTflops > 0))
        fail(std::string("--matmul-tflops: expected a positive number, got '") +
             v + "'");
    } else if (!a.empty() && a[0] == '-') {
      fail("unknown option " + a + " (see --help)");
    } else if (o.pkgDir.empty()) {
      o.pkgDir = a;
    } else {
      fail("more than one package given");
    }
  }
  if (o.pkgDir.empty())
    fail("no package given (see --help)");
  PackageManifest m;
  check(readManifestFile(o.pkgDir + "/manifest.json", m));
  bool cuda = m.targetKind == "cuda";
  if (!prefillGiven)
    o.prefillLens =
        cuda ? std::vector<int64_t>{512, 2048} : std::vector<int64_t>{128, 512};
  if (!batchGiven)
    o.batches = cuda ? std::vector<int64_t>{1, 8} : std::vector<int64_t>{1};
  if (!cuda && (o.batches.size() != 1 || o.batches[0] != 1))
    fail("--batch: CPU packages are benchmarked at batch 1");
  if (!cuda && o.phases)
    fail("--phases: times a CUDA package's decode calls; this is a CPU "
         "package");
  return cuda ? benchCuda(o) : benchCpu(o);
}
