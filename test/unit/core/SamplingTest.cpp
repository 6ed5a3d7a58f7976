//===- SamplingTest.cpp - Tests of the token sampler ----------------------===//
//
// Golden values are derived by hand from the logits: frequency checks draw
// N samples with a fixed seed and require every count within 3 sigma of
// N * p, sigma = sqrt(N p (1 - p)), p the renormalised softmax.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/Sampling.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <set>
#include <vector>

using namespace zamba2;

namespace {

const float kInf = std::numeric_limits<float>::infinity();
const float kNaN = std::numeric_limits<float>::quiet_NaN();

SamplingParams params(float t, int32_t k, float p, uint64_t seed = 1) {
  SamplingParams s;
  s.temperature = t;
  s.topK = k;
  s.topP = p;
  s.seed = seed;
  return s;
}

std::vector<int> histogram(Sampler &s, const std::vector<float> &logits,
                           int n) {
  std::vector<int> h(logits.size(), 0);
  for (int i = 0; i < n; ++i) {
    int32_t id = s.sample(logits.data(), static_cast<int32_t>(logits.size()));
    EXPECT_GE(id, 0) << s.lastError();
    if (id < 0)
      return h;
    ++h[id];
  }
  return h;
}

// Every count within 3 sigma of n * expected[i]; zero-probability ids never.
void expectFrequencies(const std::vector<int> &h,
                       const std::vector<double> &expected, int n) {
  ASSERT_EQ(h.size(), expected.size());
  for (size_t i = 0; i < h.size(); ++i) {
    double pr = expected[i];
    if (pr == 0) {
      EXPECT_EQ(h[i], 0) << "id " << i << " must never be drawn";
      continue;
    }
    double mean = n * pr, sigma = std::sqrt(n * pr * (1 - pr));
    EXPECT_NEAR(h[i], mean, 3 * sigma) << "id " << i << " p=" << pr;
  }
}

std::vector<float> randomLogits(size_t n, uint64_t seed, float scale) {
  Xoshiro256 r(seed);
  std::vector<float> v(n);
  for (float &x : v)
    x = static_cast<float>((r.uniform() * 2 - 1) * scale);
  return v;
}

} // namespace

TEST(Sampling, GreedyPicksArgmaxAndLowestIdOnTies) {
  Sampler s(params(0, 0, 1));
  std::vector<float> a = {1, 3, 2};
  EXPECT_EQ(s.sample(a.data(), 3), 1);
  std::vector<float> b = {5, 1, 5, 5};
  EXPECT_EQ(s.sample(b.data(), 4), 0);
  std::vector<float> c = {-kInf, kNaN, 2, 7, 7};
  EXPECT_EQ(s.sample(c.data(), 5), 3);
  std::vector<float> d = {-3, -2, -kInf};
  EXPECT_EQ(s.sample(d.data(), 3), 1);
  EXPECT_TRUE(s.lastError().empty());
}

TEST(Sampling, TemperatureZeroIsGreedyWhateverTheOtherParams) {
  std::vector<float> l = {0.5f, 2.0f, 1.9f, 2.0f, -1};
  for (uint64_t seed : {0ull, 1ull, 99ull}) {
    Sampler s(params(0, 3, 0.5f, seed));
    for (int i = 0; i < 100; ++i)
      ASSERT_EQ(s.sample(l.data(), 5), 1);
  }
}

TEST(Sampling, SameSeedSameSequenceDifferentSeedDifferent) {
  std::vector<float> l(100, 0.0f); // uniform over 100 ids
  Sampler a(params(1, 0, 1, 42)), b(params(1, 0, 1, 42)),
      c(params(1, 0, 1, 43));
  std::vector<int32_t> sa, sb, sc;
  for (int i = 0; i < 200; ++i) {
    sa.push_back(a.sample(l.data(), 100));
    sb.push_back(b.sample(l.data(), 100));
    sc.push_back(c.sample(l.data(), 100));
  }
  EXPECT_EQ(sa, sb);
  EXPECT_NE(sa, sc); // equal with probability 100^-200
  std::set<int32_t> distinct(sa.begin(), sa.end());
  EXPECT_GT(distinct.size(), 50u); // not stuck on a few ids
  a.reseed(42);
  for (int i = 0; i < 200; ++i)
    ASSERT_EQ(a.sample(l.data(), 100), sa[i]);
}

TEST(Sampling, PrngIsXoshiro256StarStarFromSplitmix64) {
  // splitmix64(0) first output is 0xE220A8397B1DCDAF (reference value).
  // State for seed 0 is {E220A8397B1DCDAF, 6E789E6AA1B965F4, 06C45D188009454F,
  // F88BB8A8724C81EC}; the first xoshiro256** output is rotl(s1*5,7)*9.
  Xoshiro256 r(0);
  uint64_t s1 = 0x6E789E6AA1B965F4ull * 5;
  uint64_t expected = ((s1 << 7) | (s1 >> 57)) * 9;
  EXPECT_EQ(r.next(), expected);
  Xoshiro256 u(7);
  for (int i = 0; i < 1000; ++i) {
    double x = u.uniform();
    ASSERT_GE(x, 0.0);
    ASSERT_LT(x, 1.0);
  }
}

TEST(Sampling, TopK1EqualsGreedyAtAnyTemperature) {
  std::vector<float> l = randomLogits(500, 5, 4.0f); // unique max
  int32_t arg =
      static_cast<int32_t>(std::max_element(l.begin(), l.end()) - l.begin());
  for (float t : {0.1f, 1.0f, 10.0f, 1000.0f}) {
    Sampler s(params(t, 1, 1, 3));
    for (int i = 0; i < 200; ++i)
      ASSERT_EQ(s.sample(l.data(), 500), arg) << "T=" << t;
  }
}

TEST(Sampling, TopKKeepsExactlyTheKBest) {
  // ids 1 (2.0) and 3 (1.5) survive; p1 = 1 / (1 + e^-0.5) = 0.6225.
  std::vector<float> l = {0, 2, 1, 1.5f, -1, 0.5f};
  const int n = 20000;
  Sampler s(params(1, 2, 1, 11));
  double p1 = 1 / (1 + std::exp(-0.5));
  expectFrequencies(histogram(s, l, n), {0, p1, 0, 1 - p1, 0, 0}, n);
  // At T = 2 the gap halves: p1 = 1 / (1 + e^-0.25) = 0.5622.
  Sampler s2(params(2, 2, 1, 12));
  double q1 = 1 / (1 + std::exp(-0.25));
  expectFrequencies(histogram(s2, l, n), {0, q1, 0, 1 - q1, 0, 0}, n);
}

TEST(Sampling, TopKKeepsTiesAtTheBoundary) {
  // k = 2 on {3, 1, 2, 2}: the 2nd largest is 2, so ids 0, 2, 3 all stay
  // (HF keeps every logit >= the k-th largest): weights e^1 : 1 : 1.
  std::vector<float> l = {3, 1, 2, 2};
  const int n = 20000;
  Sampler s(params(1, 2, 1, 5));
  double e = std::exp(1.0), z = e + 2;
  expectFrequencies(histogram(s, l, n), {e / z, 0, 1 / z, 1 / z}, n);
}

TEST(Sampling, TopKLargerThanVocabIsNoOp) {
  std::vector<float> l = {0, std::log(3.0f)}; // probs 0.25, 0.75
  const int n = 20000;
  Sampler s(params(1, 10, 1, 8));
  expectFrequencies(histogram(s, l, n), {0.25, 0.75}, n);
}

TEST(Sampling, TopPBoundaries) {
  // Probabilities 0.5 (id 2), 0.3 (id 0), 0.2 (id 1), deliberately not in
  // id order.
  std::vector<float> l = {std::log(0.3f), std::log(0.2f), std::log(0.5f)};
  const int n = 20000;
  {
    Sampler s(params(1, 0, 0.5f, 21)); // 0.5 >= 0.5: only the first
    expectFrequencies(histogram(s, l, n), {0, 0, 1}, n);
  }
  {
    Sampler s(params(1, 0, 0.8f, 22)); // 0.5 + 0.3 >= 0.8: two
    expectFrequencies(histogram(s, l, n), {0.3 / 0.8, 0, 0.5 / 0.8}, n);
  }
  {
    Sampler s(params(1, 0, 0.81f, 23)); // needs all three
    expectFrequencies(histogram(s, l, n), {0.3, 0.2, 0.5}, n);
  }
  {
    Sampler s(params(1, 0, 0.49f, 24));
    expectFrequencies(histogram(s, l, n), {0, 0, 1}, n);
  }
  {
    Sampler s(params(1, 0, 1e-6f, 25)); // tiny topP still keeps one
    expectFrequencies(histogram(s, l, n), {0, 0, 1}, n);
  }
}

TEST(Sampling, TopPSeesTemperatureScaledProbabilities) {
  // At T = 2 the probabilities 0.5, 0.3, 0.2 become proportional to their
  // square roots: 0.4155, 0.3218, 0.2628. topP = 0.5 now keeps two tokens
  // (at T = 1 it would keep one).
  std::vector<float> l = {std::log(0.3f), std::log(0.2f), std::log(0.5f)};
  const int n = 20000;
  Sampler s(params(2, 0, 0.5f, 31));
  double a = std::sqrt(0.5), b = std::sqrt(0.3);
  expectFrequencies(histogram(s, l, n), {b / (a + b), 0, a / (a + b)}, n);
}

TEST(Sampling, TopPRenormalisesAfterTopK) {
  // Probs 0.4, 0.3, 0.2, 0.1. top-k 2 leaves 0.4, 0.3 -> renormalised
  // 0.571, 0.429; topP 0.55 then keeps only id 0 (without renormalisation
  // 0.4 < 0.55 would keep two).
  std::vector<float> l = {std::log(0.4f), std::log(0.3f), std::log(0.2f),
                          std::log(0.1f)};
  const int n = 5000;
  Sampler s(params(1, 2, 0.55f, 41));
  expectFrequencies(histogram(s, l, n), {1, 0, 0, 0}, n);
  Sampler s2(params(1, 0, 0.55f, 42)); // top-p alone: 0.4 + 0.3
  expectFrequencies(histogram(s2, l, n), {0.4 / 0.7, 0.3 / 0.7, 0, 0}, n);
}

TEST(Sampling, TopPOnLargeVocabMatchesBruteForceNucleus) {
  // The nucleus spans far more than the first 64-token chunk.
  const int32_t v = 32000;
  std::vector<float> l = randomLogits(v, 77, 3.0f);
  const float topP = 0.6f, t = 0.7f;
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return l[a] != l[b] ? l[a] > l[b] : a < b;
  });
  double maxV = l[order[0]], total = 0;
  for (float x : l)
    total += std::exp((x - maxV) / t);
  std::vector<char> inNucleus(v, 0);
  double cum = 0;
  size_t m = 0;
  for (int32_t id : order) {
    inNucleus[id] = 1;
    ++m;
    cum += std::exp((l[id] - maxV) / t) / total;
    if (cum >= topP)
      break;
  }
  ASSERT_GT(m, 1000u);
  ASSERT_LT(m, static_cast<size_t>(v) - 1000);
  Sampler s(params(t, 0, topP, 9));
  int32_t maxRankSeen = 0;
  std::vector<int32_t> rank(v);
  for (int32_t i = 0; i < v; ++i)
    rank[order[i]] = i;
  for (int i = 0; i < 3000; ++i) {
    int32_t id = s.sample(l.data(), v);
    ASSERT_GE(id, 0) << s.lastError();
    ASSERT_TRUE(inNucleus[id]) << "id " << id << " rank " << rank[id];
    maxRankSeen = std::max(maxRankSeen, rank[id]);
  }
  // Draws reach near the end of the nucleus, i.e. it was not truncated.
  EXPECT_GT(maxRankSeen, static_cast<int32_t>(m * 9 / 10));
}

TEST(Sampling, ValidationErrors) {
  std::string err;
  EXPECT_TRUE(validateSamplingParams(SamplingParams(), err));
  EXPECT_TRUE(validateSamplingParams(params(0.7f, 50, 0.9f), err));
  EXPECT_TRUE(validateSamplingParams(params(1, 0, 1), err));
  struct Bad {
    SamplingParams p;
    const char *field;
  } bad[] = {
      {params(-1, 0, 1), "temperature"},   {params(kNaN, 0, 1), "temperature"},
      {params(kInf, 0, 1), "temperature"}, {params(1, -1, 1), "topK"},
      {params(1, 0, 0), "topP"},           {params(1, 0, -0.1f), "topP"},
      {params(1, 0, 1.5f), "topP"},        {params(1, 0, kNaN), "topP"},
  };
  std::vector<float> l = {1, 2};
  for (const Bad &b : bad) {
    err.clear();
    EXPECT_FALSE(validateSamplingParams(b.p, err)) << b.field;
    EXPECT_NE(err.find(b.field), std::string::npos) << err;
    Sampler s(b.p); // an invalid sampler refuses to sample
    EXPECT_EQ(s.sample(l.data(), 2), -1);
    EXPECT_EQ(s.lastError(), err);
  }
}

TEST(Sampling, NaNAndNegInfAreNeverDrawn) {
  std::vector<float> l = {kNaN, 0, -kInf, 0, kNaN};
  const int n = 20000;
  Sampler s(params(1, 0, 1, 51));
  expectFrequencies(histogram(s, l, n), {0, 0.5, 0, 0.5, 0}, n);
  // With top-k 2 the NaNs must not take the top places.
  Sampler s2(params(1, 2, 1, 52));
  expectFrequencies(histogram(s2, l, n), {0, 0.5, 0, 0.5, 0}, n);
}

TEST(Sampling, PosInfWinsUniformly) {
  std::vector<float> l = {0, kInf, 5, kInf};
  const int n = 20000;
  Sampler s(params(1, 0, 1, 53));
  expectFrequencies(histogram(s, l, n), {0, 0.5, 0, 0.5}, n);
  Sampler g(params(0, 0, 1));
  EXPECT_EQ(g.sample(l.data(), 4), 1);
}

TEST(Sampling, AllNaNOrNegInfIsAnError) {
  std::vector<float> l = {kNaN, -kInf, kNaN};
  for (float t : {0.0f, 1.0f}) {
    Sampler s(params(t, 2, 0.9f, 1));
    EXPECT_EQ(s.sample(l.data(), 3), -1);
    EXPECT_NE(s.lastError().find("NaN or -inf"), std::string::npos)
        << s.lastError();
    // The sampler stays usable and a success clears the error.
    std::vector<float> ok = {0, 1};
    EXPECT_GE(s.sample(ok.data(), 2), 0);
    EXPECT_TRUE(s.lastError().empty());
  }
}

TEST(Sampling, BadArgumentsAreErrors) {
  Sampler s(params(1, 0, 1));
  std::vector<float> l = {1};
  EXPECT_EQ(s.sample(nullptr, 1), -1);
  EXPECT_FALSE(s.lastError().empty());
  EXPECT_EQ(s.sample(l.data(), 0), -1);
  EXPECT_FALSE(s.lastError().empty());
  EXPECT_EQ(s.sample(l.data(), -5), -1);
  EXPECT_EQ(s.sample(l.data(), 1), 0);
}

TEST(Sampling, TinyTemperatureDoesNotOverflow) {
  // logits / 1e-30 overflows float; subtracting the max first keeps it
  // finite. Only the argmax has non-negligible probability.
  std::vector<float> l = {1, 2, 1.5f};
  Sampler s(params(1e-30f, 0, 1, 61));
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(s.sample(l.data(), 3), 1) << s.lastError();
}

TEST(Sampling, Vocab32000) {
  const int32_t v = 32000;
  std::vector<float> l = randomLogits(v, 123, 10.0f);
  l[31999] = 50.0f;
  Sampler g(params(0, 0, 1));
  EXPECT_EQ(g.sample(l.data(), v), 31999);
  l[31999] = 0.0f;
  std::vector<int32_t> order(v);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return l[a] > l[b]; });
  std::set<int32_t> top50(order.begin(), order.begin() + 50);
  Sampler s(params(0.8f, 50, 0.9f, 7));
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) {
    int32_t id = s.sample(l.data(), v);
    ASSERT_TRUE(top50.count(id)) << id;
    seen.insert(id);
  }
  EXPECT_GT(seen.size(), 1u);
  Sampler full(params(1.0f, 0, 1, 8)); // no truncation at all
  for (int i = 0; i < 200; ++i) {
    int32_t id = full.sample(l.data(), v);
    ASSERT_GE(id, 0);
    ASSERT_LT(id, v);
  }
}
