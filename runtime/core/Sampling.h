//===- Sampling.h - Token sampler of the runtime ----------------*- C++ -*-===//
//
// Picks the next token from one row of logits, with the semantics of Hugging
// Face generate's warpers applied in this order:
//   1. temperature: logits / T (T <= 0 means greedy: argmax, ties -> lowest
//      id; top-k and top-p are then ignored, as with do_sample=False);
//   2. top-k: keep every token whose logit is >= the k-th largest (so ties
//      at the boundary are all kept, as HF does);
//   3. top-p: sort the survivors by probability (descending, ties -> lower id
//      first), keep the smallest prefix whose cumulative probability, renor-
//      malised over the survivors, is >= topP (always at least one token);
//   4. softmax in double (max subtracted) and one inverse-CDF draw from the
//      sampler's own PRNG (xoshiro256**, seeded through splitmix64).
// NaN logits count as -inf. +inf logits win outright: the draw is uniform
// over the +inf tokens. Errors do not throw: sample() returns -1 and
// lastError() says why.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_CORE_SAMPLING_H
#define ZAMBA2_RUNTIME_CORE_SAMPLING_H

#include <cstdint>
#include <string>
#include <vector>

namespace zamba2 {

struct SamplingParams {
  float temperature = 0; ///< <= 0: greedy. Must be finite and >= 0.
  int32_t topK = 0;      ///< <= 0: no top-k. Must be >= 0.
  float topP = 1;        ///< >= 1: no top-p. Must be in (0, 1].
  uint64_t seed = 0;     ///< PRNG seed; same seed -> same token sequence.
};

/// True when \p p is usable; otherwise false and \p err names the field.
bool validateSamplingParams(const SamplingParams &p, std::string &err);

/// Deterministic PRNG: xoshiro256**, state filled from splitmix64(seed).
class Xoshiro256 {
public:
  explicit Xoshiro256(uint64_t seed);
  uint64_t next();
  /// Uniform in [0, 1) with 53 random bits.
  double uniform();

private:
  uint64_t s[4];
};

class Sampler {
public:
  explicit Sampler(const SamplingParams &p);

  /// Picks one token id in [0, vocab) from \p logits (one row of \p vocab
  /// floats). Returns -1 on error (invalid params, null logits, vocab <= 0,
  /// every logit NaN or -inf); lastError() then says why. A sampling call
  /// (temperature > 0) draws exactly one uniform from the PRNG; a greedy
  /// call draws none.
  int32_t sample(const float *logits, int32_t vocab);

  /// Why the last sample() returned -1; empty after a successful call.
  const std::string &lastError() const { return error; }
  const SamplingParams &params() const { return p; }
  /// Restarts the PRNG stream as if constructed with \p seed.
  void reseed(uint64_t seed);

private:
  struct Candidate {
    int32_t id;
    float logit;
    double weight; ///< exp((logit - max) / T), filled by the top-p stage
  };
  int32_t fail(const char *why);
  int32_t greedy(const float *logits, int32_t vocab);

  SamplingParams p;
  std::string paramError; ///< non-empty when p is invalid
  Xoshiro256 rng;
  std::string error;
  std::vector<Candidate> cand; ///< scratch, reused between calls
};

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_CORE_SAMPLING_H
