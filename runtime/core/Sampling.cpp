//===- Sampling.cpp - Token sampler of the runtime ------------------------===//
//
// See Sampling.h for the semantics. Cost per call: O(V) to gather the
// finite candidates, O(V) nth_element for top-k, and expected O(V) for top-p:
// a weighted quickselect finds the cut of the best-first order where the
// cumulative probability reaches topP; nothing is ever fully sorted (the
// kept set is drawn from in whatever order the selection left it).
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace zamba2 {

namespace {

/// Slack on the top-p threshold, relative to the total probability, so that
/// a cumulative sum that is mathematically equal to topP (e.g. 0.5 + 0.3
/// against 0.8f) is not lost to rounding.
constexpr double kTopPSlack = 1e-6;

uint64_t splitmix64(uint64_t &x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

} // namespace

bool validateSamplingParams(const SamplingParams &p, std::string &err) {
  if (!std::isfinite(p.temperature) || p.temperature < 0) {
    err = "sampling: field 'temperature': expected a finite number >= 0, "
          "found " +
          std::to_string(p.temperature);
    return false;
  }
  if (p.topK < 0) {
    err = "sampling: field 'topK': expected an integer >= 0, found " +
          std::to_string(p.topK);
    return false;
  }
  if (!(p.topP > 0 && p.topP <= 1)) {
    err = "sampling: field 'topP': expected a number in (0, 1], found " +
          std::to_string(p.topP);
    return false;
  }
  return true;
}

Xoshiro256::Xoshiro256(uint64_t seed) {
  uint64_t x = seed;
  for (uint64_t &w : s)
    w = splitmix64(x);
}

uint64_t Xoshiro256::next() {
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double Xoshiro256::uniform() {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

Sampler::Sampler(const SamplingParams &params) : p(params), rng(params.seed) {
  validateSamplingParams(p, paramError);
}

void Sampler::reseed(uint64_t seed) {
  p.seed = seed;
  rng = Xoshiro256(seed);
}

int32_t Sampler::fail(const char *why) {
  error = why;
  return -1;
}

int32_t Sampler::greedy(const float *logits, int32_t vocab) {
  // Strict '>' keeps the lowest id on ties; NaN and -inf never win.
  int32_t best = -1;
  float bestV = -std::numeric_limits<float>::infinity();
  for (int32_t i = 0; i < vocab; ++i) {
    if (logits[i] > bestV) {
      bestV = logits[i];
      best = i;
    }
  }
  if (best < 0)
    return fail("sampling: every logit is NaN or -inf");
  return best;
}

int32_t Sampler::sample(const float *logits, int32_t vocab) {
  error.clear();
  if (!paramError.empty()) {
    error = paramError;
    return -1;
  }
  if (!logits)
    return fail("sampling: null logits");
  if (vocab <= 0)
    return fail("sampling: vocab size must be > 0");
  if (p.temperature <= 0)
    return greedy(logits, vocab);

  const float inf = std::numeric_limits<float>::infinity();

  // Gather the candidates that can have non-zero probability.
  cand.clear();
  float maxV = -inf;
  for (int32_t i = 0; i < vocab; ++i) {
    float v = logits[i];
    if (std::isnan(v) || v == -inf)
      continue;
    cand.push_back({i, v, 0.0});
    maxV = std::max(maxV, v);
  }
  if (cand.empty())
    return fail("sampling: every logit is NaN or -inf");
  if (maxV == inf) {
    // +inf outweighs every finite logit: uniform over the +inf tokens.
    size_t n = 0;
    for (const Candidate &c : cand)
      if (c.logit == inf)
        cand[n++] = {c.id, 0.0f, 0.0};
    cand.resize(n);
    maxV = 0.0f;
  }

  // Top-k: keep every candidate whose logit is >= the k-th largest.
  // (Scaling by 1/T > 0 does not change the order, so raw logits suffice.)
  auto better = [](const Candidate &a, const Candidate &b) {
    return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
  };
  if (p.topK > 0 && static_cast<size_t>(p.topK) < cand.size()) {
    size_t k = static_cast<size_t>(p.topK);
    std::nth_element(cand.begin(), cand.begin() + (k - 1), cand.end(), better);
    float kth = cand[k - 1].logit;
    auto end =
        std::partition(cand.begin() + k, cand.end(),
                       [kth](const Candidate &c) { return c.logit >= kth; });
    cand.erase(end, cand.end());
  }

  // Softmax numerators in double, max subtracted before scaling.
  const double invT = 1.0 / static_cast<double>(p.temperature);
  double total = 0;
  for (Candidate &c : cand) {
    c.weight = std::exp((static_cast<double>(c.logit) - maxV) * invT);
    total += c.weight;
  }

  // Top-p over the survivors: find the shortest best-first prefix whose mass
  // reaches topP by a weighted quickselect (expected O(n)). Invariant: every
  // candidate in [0, lo) precedes every one in [lo, hi), which precede every
  // one in [hi, n); `above` is the mass of [0, lo), which is < target.
  if (p.topP < 1 && cand.size() > 1) {
    const double target = (static_cast<double>(p.topP) - kTopPSlack) * total;
    size_t lo = 0, hi = cand.size(), keep = cand.size();
    double above = 0;
    while (lo < hi) {
      // Median of three as pivot, moved to hi - 1.
      size_t mid = lo + (hi - lo) / 2;
      if (better(cand[mid], cand[lo]))
        std::swap(cand[mid], cand[lo]);
      if (better(cand[hi - 1], cand[lo]))
        std::swap(cand[hi - 1], cand[lo]);
      if (better(cand[mid], cand[hi - 1]))
        std::swap(cand[mid], cand[hi - 1]);
      const Candidate pivot = cand[hi - 1];
      size_t store = lo;
      double mass = 0;
      for (size_t i = lo; i + 1 < hi; ++i) {
        if (better(cand[i], pivot)) {
          mass += cand[i].weight;
          std::swap(cand[i], cand[store++]);
        }
      }
      std::swap(cand[store], cand[hi - 1]); // pivot at its final place
      if (above + mass >= target) {
        hi = store; // the cut lies strictly before the pivot
      } else if (above + mass + pivot.weight >= target) {
        keep = store + 1;
        break;
      } else {
        above += mass + pivot.weight;
        lo = store + 1;
      }
    }
    if (lo >= hi && lo < cand.size())
      keep = std::max<size_t>(lo, 1); // lo == hi: [0, lo) is the prefix
    cand.resize(keep);
    total = 0;
    for (const Candidate &c : cand)
      total += c.weight;
  }

  // One inverse-CDF draw.
  const double u = rng.uniform() * total;
  double acc = 0;
  int32_t last = cand.front().id;
  for (const Candidate &c : cand) {
    if (c.weight <= 0)
      continue;
    acc += c.weight;
    last = c.id;
    if (u < acc)
      return c.id;
  }
  return last; // u rounded up to the total
}

} // namespace zamba2
