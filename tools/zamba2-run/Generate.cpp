//===- Generate.cpp - The generation loop, and zamba2-run --prompt-ids ----===//
#include "tools/zamba2-run/Generator.h"

#include <algorithm>
#include <cstdio>

namespace zamba2::run {

Generator::Generator(Session &session, const RunOptions &o)
    : session(session), maxNewTokens(o.maxNewTokens), ignoreEos(o.ignoreEos),
      eos(session.package().manifest().eosTokenIds), sampler(o.sampling) {}

int64_t Generator::historyLength() const {
  return session.position(0) + (holding ? 1 : 0);
}

int64_t Generator::positionsNeeded(int64_t newIds) const {
  return historyLength() + newIds + maxNewTokens - 1;
}

bool Generator::turn(const std::vector<int64_t> &ids, const TokenSink &sink,
                     std::string &err) {
  const int64_t V = session.vocabSize();
  prefillIds.clear();
  if (holding)
    prefillIds.push_back(held);
  prefillIds.insert(prefillIds.end(), ids.begin(), ids.end());
  const int64_t len = static_cast<int64_t>(prefillIds.size());
  if (len == 0) {
    err = "nothing to generate from (no prompt tokens)";
    return false;
  }
  logits.resize(static_cast<size_t>(len * V));
  if (!timed(
          prefill, len,
          [&] {
            return session.prefill(1, len, prefillIds.data(), logits.data());
          },
          err))
    return false;
  holding = false;
  const float *row = &logits[(len - 1) * V];
  for (int64_t k = 0;; ++k) {
    int32_t id = sampler.sample(row, static_cast<int32_t>(V));
    if (id < 0) {
      err = "new token " + std::to_string(k) + ": " + sampler.lastError();
      return false;
    }
    sink(id);
    bool last =
        k + 1 == maxNewTokens ||
        (!ignoreEos && std::find(eos.begin(), eos.end(), id) != eos.end());
    if (last) {
      holding = true;
      held = id;
      return true;
    }
    int64_t next = id;
    if (!timed(
            decode, 1, [&] { return session.decode(1, &next, logits.data()); },
            err))
      return false;
    row = logits.data();
  }
}

void Generator::printStats() const {
  printTiming("prefill", prefill);
  printTiming("decode", decode);
}

bool createGenerationSession(const RunOptions &o, std::shared_ptr<Package> pkg,
                             int64_t promptLen,
                             std::unique_ptr<Session> &session,
                             std::string &err) {
  int64_t maxSeq;
  // The last new token is never fed back.
  if (!chooseMaxSeq(o, promptLen + o.maxNewTokens - 1,
                    promptAndNewTokens(promptLen, o.maxNewTokens), maxSeq, err))
    return false;
  return createSession(pkg, 1, maxSeq, session, err);
}

bool runGenerate(const RunOptions &o, std::shared_ptr<Package> pkg,
                 std::string &err) {
  const int64_t V = pkg->vocabSize();
  const int64_t len = static_cast<int64_t>(o.promptIds.size());
  for (int64_t id : o.promptIds)
    if (id >= V) {
      err = "--prompt-ids: token id " + std::to_string(id) +
            " is outside the vocabulary [0, " + std::to_string(V) + ") of " +
            pkg->dir();
      return false;
    }
  std::unique_ptr<Session> session;
  if (!createGenerationSession(o, pkg, len, session, err))
    return false;
  Generator gen(*session, o);
  std::vector<int64_t> out;
  auto collect = [&](int64_t id) { out.push_back(id); };
  if (!gen.turn(o.promptIds, collect, err))
    return false;

  std::string line;
  for (size_t i = 0; i < out.size(); ++i)
    line += (i ? "," : "") + std::to_string(out[i]);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
  if (o.stats)
    gen.printStats();
  return true;
}

} // namespace zamba2::run
