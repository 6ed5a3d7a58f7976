//===- Modes.h - The modes of zamba2-run ------------------------*- C++ -*-===//
//
// Each mode runs on an opened package and returns false with one line in
// `err` on any failure; output files are written atomically, so a failed run
// leaves none behind.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_TOOLS_RUN_MODES_H
#define ZAMBA2_TOOLS_RUN_MODES_H

#include "runtime/engine/Package.h"
#include "runtime/engine/Session.h"
#include "runtime/format/Safetensors.h"
#include "tools/zamba2-run/Options.h"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace zamba2::run {

/// --score: logits of input_ids by one prefill, or prefill + decode steps.
bool runScore(const RunOptions &o, std::shared_ptr<Package> pkg,
              std::string &err);
/// --prompt-ids: generation (greedy or sampled), ids printed on stdout.
bool runGenerate(const RunOptions &o, std::shared_ptr<Package> pkg,
                 std::string &err);
/// --greedy-from: batched greedy continuation of input_ids[:, :P].
bool runGreedy(const RunOptions &o, std::shared_ptr<Package> pkg,
               std::string &err);
/// --prompt: text through the package's tokenizer, generated text streamed
/// on stdout.
bool runPrompt(const RunOptions &o, std::shared_ptr<Package> pkg,
               std::string &err);
/// --chat: one turn per line of stdin, in one session.
bool runChat(const RunOptions &o, std::shared_ptr<Package> pkg,
             std::string &err);

//===----------------------------------------------------------------------===//
// Shared by the modes
//===----------------------------------------------------------------------===//

/// input_ids of a safetensors file: int64 [B, T], B and T >= 1.
struct InputIds {
  int64_t batch = 0, len = 0;
  std::vector<int64_t> ids; ///< [batch, len] row-major
};
bool readInputIds(const std::string &path, InputIds &out, std::string &err);

/// The session's max sequence: `needed` unless --max-seq was given, which
/// must then be at least `needed` (`what` says what needs it).
bool chooseMaxSeq(const RunOptions &o, int64_t needed, const std::string &what,
                  int64_t &maxSeq, std::string &err);

/// "1 token", "5 tokens".
std::string tokens(int64_t n);
/// "a prompt of 3 tokens and 16 new tokens", for chooseMaxSeq.
std::string promptAndNewTokens(int64_t promptLen, int64_t newTokens);

/// A one-sequence session long enough for a prompt of `promptLen` tokens and
/// --max-new-tokens (or --max-seq).
bool createGenerationSession(const RunOptions &o, std::shared_ptr<Package> pkg,
                             int64_t promptLen,
                             std::unique_ptr<Session> &session,
                             std::string &err);
bool createSession(std::shared_ptr<Package> pkg, int64_t batch, int64_t maxSeq,
                   std::unique_ptr<Session> &out, std::string &err);

/// One tensor to write: name, dtype, shape, bytes.
struct OutTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data;
  size_t bytes;
};
/// Writes `tensors` to `path` atomically (SafetensorsWriter).
bool writeTensors(const std::string &path, const std::vector<OutTensor> &t,
                  std::string &err);

/// Time spent in the model and tokens it handled, for --stats.
struct Timing {
  double seconds = 0;
  int64_t tokens = 0;
  int64_t calls = 0;
};
/// "prefill: 20 tokens in 1.234 ms (16207.5 tokens/s)" on stderr.
void printTiming(const char *what, const Timing &t);

class Stopwatch {
public:
  Stopwatch() : start(std::chrono::steady_clock::now()) {}
  double seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                         start)
        .count();
  }

private:
  std::chrono::steady_clock::time_point start;
};

/// Runs a session call, timing it into `t` (`tokens` more tokens, one more
/// call) when it succeeds; else `err` is its message.
template <typename Call>
bool timed(Timing &t, int64_t tokens, const Call &call, std::string &err) {
  Stopwatch w;
  Status s = call();
  t.seconds += w.seconds();
  if (!s) {
    err = s.message();
    return false;
  }
  t.tokens += tokens;
  ++t.calls;
  return true;
}

} // namespace zamba2::run

#endif // ZAMBA2_TOOLS_RUN_MODES_H
