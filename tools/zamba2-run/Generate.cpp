//===- Generate.cpp - zamba2-run --prompt-ids -----------------------------===//
#include "tools/zamba2-run/Modes.h"

#include "runtime/core/Sampling.h"

#include <algorithm>
#include <cstdio>

namespace zamba2::run {

bool runGenerate(const RunOptions &o, std::shared_ptr<Package> pkg,
                 std::string &err) {
  const int64_t V = pkg->vocabSize();
  const int64_t len = static_cast<int64_t>(o.promptIds.size());
  const int64_t N = o.maxNewTokens;
  for (int64_t id : o.promptIds)
    if (id >= V) {
      err = "--prompt-ids: token id " + std::to_string(id) +
            " is outside the vocabulary [0, " + std::to_string(V) + ") of " +
            pkg->dir();
      return false;
    }
  int64_t maxSeq;
  // The last new token is never fed back.
  if (!chooseMaxSeq(o, len + N - 1,
                    "a prompt of " + tokens(len) + " and " + std::to_string(N) +
                        (N == 1 ? " new token" : " new tokens"),
                    maxSeq, err))
    return false;
  std::unique_ptr<Session> session;
  if (!createSession(pkg, 1, maxSeq, session, err))
    return false;
  const std::vector<int64_t> &eos = pkg->manifest().eosTokenIds;
  Sampler sampler(o.sampling);

  std::vector<int64_t> out;
  std::vector<float> logits(static_cast<size_t>(len * V));
  Timing prefill, decode;
  Stopwatch w;
  Status s = session->prefill(1, len, o.promptIds.data(), logits.data());
  prefill.seconds = w.seconds();
  if (!s) {
    err = s.message();
    return false;
  }
  prefill.tokens = len;
  prefill.calls = 1;
  const float *row = &logits[(len - 1) * V];
  while (true) {
    int32_t id = sampler.sample(row, static_cast<int32_t>(V));
    if (id < 0) {
      err = "new token " + std::to_string(out.size()) + ": " +
            sampler.lastError();
      return false;
    }
    out.push_back(id);
    if (!o.ignoreEos && std::find(eos.begin(), eos.end(), id) != eos.end())
      break;
    if (static_cast<int64_t>(out.size()) == N)
      break;
    int64_t next = id;
    Stopwatch step;
    s = session->decode(1, &next, logits.data());
    decode.seconds += step.seconds();
    if (!s) {
      err = s.message();
      return false;
    }
    ++decode.tokens;
    ++decode.calls;
    row = logits.data();
  }

  std::string line;
  for (size_t i = 0; i < out.size(); ++i)
    line += (i ? "," : "") + std::to_string(out[i]);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (o.stats) {
    printTiming("prefill", prefill);
    printTiming("decode", decode);
  }
  return true;
}

} // namespace zamba2::run
