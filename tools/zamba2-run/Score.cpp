//===- Score.cpp - zamba2-run --score and --greedy-from -------------------===//
//
// Both read input_ids [B, T] and run all B rows as one batch.
//
//===----------------------------------------------------------------------===//
#include "tools/zamba2-run/Modes.h"

#include "runtime/core/Sampling.h"

#include <algorithm>
#include <cstring>

namespace zamba2::run {

namespace {

/// Columns [from, to) of ids [B, T], as a contiguous [B, to - from].
std::vector<int64_t> columns(const InputIds &in, int64_t from, int64_t to) {
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(in.batch * (to - from)));
  for (int64_t b = 0; b < in.batch; ++b)
    out.insert(out.end(), in.ids.begin() + b * in.len + from,
               in.ids.begin() + b * in.len + to);
  return out;
}

} // namespace

bool runScore(const RunOptions &o, std::shared_ptr<Package> pkg,
              std::string &err) {
  InputIds in;
  if (!readInputIds(o.input, in, err))
    return false;
  const int64_t B = in.batch, T = in.len, V = pkg->vocabSize();
  int64_t split = o.decodeFrom < 0 ? T : o.decodeFrom;
  if (split > T) {
    err = "--decode-from " + std::to_string(split) + " is past the end of " +
          o.input + "'s input_ids (T = " + std::to_string(T) + ")";
    return false;
  }
  int64_t maxSeq;
  if (!chooseMaxSeq(o, T, "the " + tokens(T) + " of " + o.input, maxSeq, err))
    return false;
  std::unique_ptr<Session> session;
  if (!createSession(pkg, B, maxSeq, session, err))
    return false;

  std::vector<float> logits(static_cast<size_t>(B * T * V));
  Timing prefill, decode;
  if (split == T) {
    if (!timed(
            prefill, B * T,
            [&] {
              return session->prefill(B, T, in.ids.data(), logits.data());
            },
            err))
      return false;
  } else {
    // Prefill the first `split` tokens, then one decode step per token; each
    // call's logits go to their rows of [B, T, V].
    std::vector<int64_t> head = columns(in, 0, split);
    std::vector<float> part(static_cast<size_t>(B * split * V));
    if (!timed(
            prefill, B * split,
            [&] {
              return session->prefill(B, split, head.data(), part.data());
            },
            err))
      return false;
    for (int64_t b = 0; b < B; ++b)
      std::memcpy(&logits[b * T * V], &part[b * split * V],
                  sizeof(float) * split * V);
    std::vector<float> step(static_cast<size_t>(B * V));
    for (int64_t t = split; t < T; ++t) {
      std::vector<int64_t> ids = columns(in, t, t + 1);
      if (!timed(
              decode, B,
              [&] { return session->decode(B, ids.data(), step.data()); }, err))
        return false;
      for (int64_t b = 0; b < B; ++b)
        std::memcpy(&logits[(b * T + t) * V], &step[b * V], sizeof(float) * V);
    }
  }
  if (!writeTensors(o.output,
                    {{"logits",
                      DType::F32,
                      {B, T, V},
                      logits.data(),
                      logits.size() * sizeof(float)}},
                    err))
    return false;
  if (o.stats) {
    printTiming("prefill", prefill);
    if (decode.calls)
      printTiming("decode", decode);
  }
  return true;
}

bool runGreedy(const RunOptions &o, std::shared_ptr<Package> pkg,
               std::string &err) {
  InputIds in;
  if (!readInputIds(o.input, in, err))
    return false;
  const int64_t B = in.batch, T = in.len, V = pkg->vocabSize();
  const int64_t P = o.promptLen, N = o.maxNewTokens;
  if (P > T) {
    err = "--prompt-len " + std::to_string(P) + " is longer than " + o.input +
          "'s input_ids (T = " + std::to_string(T) + ")";
    return false;
  }
  int64_t maxSeq;
  if (!chooseMaxSeq(o, P + N - 1, promptAndNewTokens(P, N), maxSeq, err))
    return false;
  std::unique_ptr<Session> session;
  if (!createSession(pkg, B, maxSeq, session, err))
    return false;

  std::vector<int64_t> greedyIds(static_cast<size_t>(B * N));
  std::vector<float> greedyLogits(static_cast<size_t>(B * N * V));
  Sampler argmax{SamplingParams()};
  // Step k's logits rows [B, V] (row b at rows + b * rowStride) choose token
  // k of every row.
  auto choose = [&](int64_t k, const float *rows, int64_t rowStride) {
    for (int64_t b = 0; b < B; ++b) {
      const float *row = rows + b * rowStride;
      std::memcpy(&greedyLogits[(b * N + k) * V], row, sizeof(float) * V);
      int32_t id = argmax.sample(row, static_cast<int32_t>(V));
      if (id < 0) {
        err = "row " + std::to_string(b) + ", new token " + std::to_string(k) +
              ": " + argmax.lastError();
        return false;
      }
      greedyIds[b * N + k] = id;
    }
    return true;
  };

  Timing prefill, decode;
  std::vector<int64_t> prompt = columns(in, 0, P);
  std::vector<float> logits(static_cast<size_t>(B * P * V));
  if (!timed(
          prefill, B * P,
          [&] { return session->prefill(B, P, prompt.data(), logits.data()); },
          err))
    return false;
  if (!choose(0, &logits[(P - 1) * V], P * V))
    return false;
  std::vector<int64_t> step(static_cast<size_t>(B));
  std::vector<float> stepLogits(static_cast<size_t>(B * V));
  for (int64_t k = 1; k < N; ++k) {
    for (int64_t b = 0; b < B; ++b)
      step[b] = greedyIds[b * N + k - 1];
    if (!timed(
            decode, B,
            [&] { return session->decode(B, step.data(), stepLogits.data()); },
            err))
      return false;
    if (!choose(k, stepLogits.data(), V))
      return false;
  }
  if (!writeTensors(o.output,
                    {{"greedy_ids",
                      DType::I64,
                      {B, N},
                      greedyIds.data(),
                      greedyIds.size() * sizeof(int64_t)},
                     {"greedy_logits",
                      DType::F32,
                      {B, N, V},
                      greedyLogits.data(),
                      greedyLogits.size() * sizeof(float)}},
                    err))
    return false;
  if (o.stats) {
    printTiming("prefill", prefill);
    if (decode.calls)
      printTiming("decode", decode);
  }
  return true;
}

} // namespace zamba2::run
