//===- Bench.cpp - Encode benchmark of zamba2-tokenize --------------------===//
//
// Measures encoding throughput of the tokenizer's heap-based BPE merge loop
// against the textbook loop kept here as the baseline: scan all adjacent
// pairs, merge the best one, repeat. With no pre-tokenizer splitting (the
// Llama normalizer form) a whole line is one BPE word, so the baseline is
// quadratic in line length; the table of single long words shows the growth.
//
//===----------------------------------------------------------------------===//
#include "tools/zamba2-tokenize/Bench.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

namespace zamba2 {
namespace {

/// The reference merge loop: O(n) scan per merge, O(n) merges, so O(n^2) per
/// word. Picks the lowest rank, leftmost on ties, as the heap loop does.
void naiveMerge(const Tokenizer &tok, std::vector<int32_t> &symbols) {
  while (symbols.size() > 1) {
    uint32_t bestRank = std::numeric_limits<uint32_t>::max();
    size_t bestPos = 0;
    int32_t bestId = -1;
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      uint32_t rank;
      int32_t merged;
      if (tok.findMerge(symbols[i], symbols[i + 1], rank, merged) &&
          rank < bestRank) {
        bestRank = rank;
        bestPos = i;
        bestId = merged;
      }
    }
    if (bestId < 0)
      break;
    symbols[bestPos] = bestId;
    symbols.erase(symbols.begin() + bestPos + 1);
  }
}

const char *const kSentences[] = {
    "Hello world",
    " leading space",
    "trailing space ",
    "double  space",
    "The Zamba2 model uses Mamba2 blocks.",
    "café naïve über",
    "日本語のテキスト",
    "emoji 😀🚀 end",
    "0123456789 3.14159",
    "def forward(self, hidden_states):    return x",
    "MixedCASE and UPPER",
    "repeat repeat repeat repeat",
    "</s> and <unk> in text",
    "A state space model keeps a fixed-size state per layer, so generation "
    "costs the same for every new token however long the context grows.",
    "The shared attention block is applied every few Mamba layers with its "
    "own LoRA adapters, which keeps the parameter count small.",
};

/// Deterministic pseudo-random generator (no <random> seeding differences).
struct Lcg {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  uint32_t next() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  }
};

/// A word of `bytes` letters with English-like letter pairs, so that merges
/// keep firing all along it.
std::string longWord(size_t bytes, Lcg &rng) {
  static const char kLetters[] = "etaoinshrdlucmfwypvbgk";
  std::string w;
  w.reserve(bytes);
  while (w.size() < bytes)
    w += kLetters[rng.next() % 22 < 11 ? rng.next() % 8 : rng.next() % 22];
  return w;
}

std::vector<std::string> generatedLines(size_t targetBytes) {
  std::vector<std::string> lines;
  Lcg rng;
  size_t total = 0;
  const size_t n = sizeof kSentences / sizeof kSentences[0];
  while (total < targetBytes) {
    // Lines of 1 to 6 sentences, like short paragraphs.
    std::string line;
    size_t count = 1 + rng.next() % 6;
    for (size_t k = 0; k < count; ++k) {
      if (k)
        line += ' ';
      line += kSentences[rng.next() % n];
    }
    total += line.size() + 1;
    lines.push_back(std::move(line));
  }
  return lines;
}

double seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

/// Best wall time of `repeat` runs of encoding every line with `merger`
/// (built-in heap loop when null); the ids of the last run go to `ids`.
double timeEncode(const Tokenizer &tok, const std::vector<std::string> &lines,
                  const Tokenizer::WordMerger &merger, int repeat,
                  std::vector<std::vector<int32_t>> &ids) {
  double best = std::numeric_limits<double>::infinity();
  for (int r = 0; r < repeat; ++r) {
    ids.clear();
    ids.reserve(lines.size());
    auto t0 = std::chrono::steady_clock::now();
    for (const std::string &line : lines)
      ids.push_back(tok.encodeWith(line, false, merger));
    best = std::min(best, seconds(std::chrono::steady_clock::now() - t0));
  }
  return best;
}

} // namespace

int runEncodeBenchmark(const Tokenizer &tok, const std::string &tokPath,
                       const std::string &file, int repeat) {
  std::vector<std::string> lines;
  if (file.empty()) {
    lines = generatedLines(4 << 20);
    // Words of growing length without spaces, up to one of 16 KiB.
    Lcg rng;
    for (size_t len = 1024; len <= 16384; len *= 2)
      lines.push_back(longWord(len, rng));
  } else {
    std::FILE *f = std::fopen(file.c_str(), "rb");
    if (!f) {
      std::fprintf(stderr, "error: %s: cannot open file\n", file.c_str());
      return 1;
    }
    std::string text;
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
      text.append(buf, n);
    std::fclose(f);
    size_t begin = 0;
    while (begin < text.size()) {
      size_t end = text.find('\n', begin);
      if (end == std::string::npos)
        end = text.size();
      lines.push_back(text.substr(begin, end - begin));
      begin = end + 1;
    }
  }
  size_t bytes = 0, longest = 0;
  for (const std::string &l : lines) {
    bytes += l.size();
    longest = std::max(longest, l.size());
  }
  double mb = static_cast<double>(bytes) / 1e6;

  std::vector<std::vector<int32_t>> heapIds, naiveIds;
  double heapS = timeEncode(tok, lines, nullptr, repeat, heapIds);
  double naiveS = timeEncode(tok, lines, naiveMerge, repeat, naiveIds);
  size_t idCount = 0;
  for (const auto &v : heapIds)
    idCount += v.size();
  size_t firstDiff = lines.size();
  for (size_t i = 0; i < lines.size() && firstDiff == lines.size(); ++i)
    if (heapIds[i] != naiveIds[i])
      firstDiff = i;

  std::printf("encode benchmark: %s\n", tokPath.c_str());
  std::printf("text: %.2f MB in %zu lines (%s; each line encoded alone; "
              "longest %zu bytes), best of %d\n",
              mb, lines.size(), file.empty() ? "generated" : file.c_str(),
              longest, repeat);
  std::printf("heap merge:            %10.2f MB/s  (%.3f s, %zu ids)\n",
              mb / heapS, heapS, idCount);
  std::printf("naive quadratic merge: %10.2f MB/s  (%.3f s)\n", mb / naiveS,
              naiveS);
  std::printf("speedup: %.1fx\n", naiveS / heapS);
  if (firstDiff != lines.size()) {
    std::printf("identical ids: no (first difference on line %zu)\n",
                firstDiff + 1);
    std::fprintf(stderr,
                 "error: the heap and naive merge loops disagree on line %zu\n",
                 firstDiff + 1);
    return 1;
  }
  std::printf("identical ids: yes\n");

  if (file.empty()) {
    // The growth with word length: the heap loop stays linear-ish, the naive
    // loop quadruples for every doubling.
    std::printf("one word without spaces:\n");
    std::printf("  %8s %12s %12s %9s\n", "bytes", "heap ms", "naive ms",
                "speedup");
    Lcg rng;
    double lastNaive = 0;
    for (size_t len = 1024; len <= 16384; len *= 2) {
      std::vector<std::string> one{longWord(len, rng)};
      std::vector<std::vector<int32_t>> a, b;
      double h = timeEncode(tok, one, nullptr, repeat, a);
      double q = timeEncode(tok, one, naiveMerge, repeat, b);
      std::printf("  %8zu %12.3f %12.3f %8.1fx%s\n", len, h * 1e3, q * 1e3,
                  q / h, a == b ? "" : "  (ids differ!)");
      lastNaive = q;
      if (a != b)
        return 1;
    }
    // Past the naive loop's reach: the heap loop alone on a 1 MiB word.
    std::vector<std::string> huge{longWord(1 << 20, rng)};
    std::vector<std::vector<int32_t>> a;
    double h = timeEncode(tok, huge, nullptr, repeat, a);
    std::printf("  %8d %12.3f %12s   (naive skipped: ~%.0f s extrapolated)\n",
                1 << 20, h * 1e3, "-", lastNaive * 64 * 64);
  }
  return 0;
}

} // namespace zamba2
