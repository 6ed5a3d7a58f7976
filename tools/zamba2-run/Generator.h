//===- Generator.h - The generation loop of zamba2-run ----------*- C++ -*-===//
//
// The one generation loop behind --prompt-ids, --prompt and --chat: sequence
// 0 of a session, one prefill of the new ids of a turn, then one decode step
// per new token, sampled (or greedy) by one Sampler that lives as long as
// the generator, so a conversation draws one stream of random numbers.
//
// The last token of a turn is not fed to the model when the turn ends:
// nothing needs its logits yet, and a run that stops there would spend a
// decode step for nothing. It is held back and fed in front of the next
// turn's ids, in the same prefill, so that before the next turn's first new
// token the state covers the whole history (prompt 1, reply 1 up to and
// including its eos or last token, prompt 2, ...), exactly as one prefill
// of that history would, and nothing is ever prefilled twice.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_TOOLS_RUN_GENERATOR_H
#define ZAMBA2_TOOLS_RUN_GENERATOR_H

#include "runtime/core/Sampling.h"
#include "runtime/engine/Session.h"
#include "tools/zamba2-run/Modes.h"
#include "tools/zamba2-run/Options.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace zamba2::run {

class Generator {
public:
  /// Generates on sequence 0 of `session`, which must outlive the generator,
  /// with the sampling, --max-new-tokens and --ignore-eos of `o`.
  Generator(Session &session, const RunOptions &o);

  /// Receives each new token as soon as it is chosen.
  using TokenSink = std::function<void(int64_t id)>;

  /// One turn: feeds the token held back by the previous turn (if any) and
  /// `ids` in one prefill, then generates up to --max-new-tokens tokens,
  /// passing each to `sink`; stops after an eos token of the package (which
  /// is passed on too) unless --ignore-eos. `ids` must be in the vocabulary
  /// and may be empty only when a token is held back. The session needs
  /// positionsNeeded(ids.size()) positions; on a failure `err` says why.
  bool turn(const std::vector<int64_t> &ids, const TokenSink &sink,
            std::string &err);

  /// Tokens of the history so far, the held-back token included.
  int64_t historyLength() const;
  /// The positions the session needs for one more turn of `newIds` ids and
  /// --max-new-tokens new tokens (the last of which is not fed).
  int64_t positionsNeeded(int64_t newIds) const;

  /// "prefill: ..." and "decode: ..." lines of --stats on stderr: the time
  /// spent in the model by every turn so far.
  void printStats() const;

private:
  Session &session;
  const int64_t maxNewTokens;
  const bool ignoreEos;
  const std::vector<int64_t> &eos;
  Sampler sampler;
  bool holding = false; ///< whether `held` is still to be fed
  int64_t held = 0;
  std::vector<int64_t> prefillIds; ///< scratch: held token + ids
  std::vector<float> logits;       ///< scratch: logits of the last call
  Timing prefill, decode;
};

} // namespace zamba2::run

#endif // ZAMBA2_TOOLS_RUN_GENERATOR_H
