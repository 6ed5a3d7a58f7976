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
// bandwidth, and the ratio of the measured step to it.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/ThreadPool.h"
#include "runtime/engine/Package.h"
#include "runtime/engine/Session.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

} // namespace

int main(int argc, char **argv) {
  std::string pkgDir;
  std::vector<int64_t> prefillLens = {128, 512};
  int64_t decodeSteps = 16, context = 128, repeat = 3;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char * {
      if (i + 1 >= argc)
        fail(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::printf(
          "usage: zamba2-bench PKG [--prefill 128,512] [--decode N]\n"
          "                    [--context C] [--repeat R]\n"
          "Benchmarks a CPU package at batch 1 against this machine's\n"
          "memory bandwidth, measured in the same run (a parallel 1 GiB\n"
          "read and a 1 GiB memcpy). Prints prefill tokens/s per length\n"
          "(median of R runs, default 3), decode ms/token (median of N\n"
          "steps, default 16, after a C-token prompt, default 128), peak\n"
          "resident memory, and the decode floor: bytes one step reads\n"
          "over the read bandwidth. ZAMBA2_NUM_THREADS sets the threads.\n");
      return 0;
    } else if (a == "--prefill") {
      prefillLens = parseList(value());
    } else if (a == "--decode") {
      decodeSteps = parsePositive("--decode", value());
    } else if (a == "--context") {
      context = parsePositive("--context", value());
    } else if (a == "--repeat") {
      repeat = parsePositive("--repeat", value());
    } else if (!a.empty() && a[0] == '-') {
      fail("unknown option " + a + " (see --help)");
    } else if (pkgDir.empty()) {
      pkgDir = a;
    } else {
      fail("more than one package given");
    }
  }
  if (pkgDir.empty())
    fail("no package given (see --help)");

  std::shared_ptr<Package> pkg;
  check(Package::open(pkgDir, pkg));
  const PackageManifest &m = pkg->manifest();
  int64_t maxLen = context + decodeSteps;
  for (int64_t len : prefillLens)
    maxLen = std::max(maxLen, len);
  std::unique_ptr<Session> session;
  check(Session::create(pkg, 1, maxLen, session));

  std::printf("package     %s (%s, %s)\n", pkgDir.c_str(), m.cpu.c_str(),
              m.producer.c_str());
  std::printf("threads     %d\n", parallelThreadCount());

  std::vector<int64_t> ids(maxLen);
  for (int64_t i = 0; i < maxLen; ++i)
    ids[i] = 1 + (i * 7919) % (m.vocabSize - 1);

  // Warm-up: touch the weights and the code once.
  check(session->prefill(1, 4, ids.data(), nullptr));
  session->resetAll();

  for (int64_t len : prefillLens) {
    std::vector<double> times;
    for (int64_t r = 0; r < repeat; ++r) {
      session->resetAll();
      double t = now();
      check(session->prefill(1, len, ids.data(), nullptr));
      times.push_back(now() - t);
    }
    double s = median(times);
    std::printf("prefill     %5lld tokens: %8.1f ms, %7.1f tokens/s\n",
                static_cast<long long>(len), s * 1e3, len / s);
  }

  session->resetAll();
  check(session->prefill(1, context, ids.data(), nullptr));
  std::vector<double> steps;
  for (int64_t i = 0; i < decodeSteps; ++i) {
    double t = now();
    check(session->decode(1, &ids[context + i], nullptr));
    steps.push_back(now() - t);
  }
  double step = median(steps);
  // Peak memory of the model alone (mapped weights, state, workspace), read
  // before the bandwidth buffers exist.
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  double peakGB = usage.ru_maxrss / 1e6;

  double readGBs = 0, copyGBs = 0;
  measureBandwidth(readGBs, copyGBs);
  std::printf("bandwidth   read %.1f GB/s, copy %.1f GB/s (read+write)\n",
              readGBs, copyGBs);

  // Bytes one decode step (batch 1) must move: every weight once, the conv
  // and SSM state read and written, the KV cache read up to the position.
  uint64_t stateBytes = 0, kvBytes = 0;
  for (const StateSpec &s : m.state) {
    uint64_t row = s.elementSize;
    bool isCache = false;
    for (size_t d = 1; d < s.shape.size(); ++d) {
      if (s.shape[d].kind == StateDim::Kind::Seq) {
        isCache = true;
        row *= static_cast<uint64_t>(context + decodeSteps / 2);
      } else {
        row *= static_cast<uint64_t>(s.shape[d].size);
      }
    }
    (isCache ? kvBytes : stateBytes) += row;
  }
  double floorBytes = static_cast<double>(m.weightsBytes) + 2.0 * stateBytes +
                      static_cast<double>(kvBytes);
  double floorSec = floorBytes / (readGBs * 1e9);
  std::printf("decode      %.1f ms/token, %.2f tokens/s (median of %lld "
              "steps after %lld tokens)\n",
              step * 1e3, 1.0 / step, static_cast<long long>(decodeSteps),
              static_cast<long long>(context));
  std::printf("floor       %.2f GB per step (weights %.2f, state r+w %.3f, "
              "KV read %.3f) / %.1f GB/s = %.1f ms\n",
              floorBytes / 1e9, m.weightsBytes / 1e9, 2.0 * stateBytes / 1e9,
              kvBytes / 1e9, readGBs, floorSec * 1e3);
  std::printf("ratio       decode step / floor = %.2fx\n", step / floorSec);
  std::printf("peak memory %.2f GB resident (weights mapped, state, "
              "temporaries)\n",
              peakGB);
  return 0;
}
