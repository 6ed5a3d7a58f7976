//===- Options.h - Command line of zamba2-run -------------------*- C++ -*-===//
#ifndef ZAMBA2_TOOLS_RUN_OPTIONS_H
#define ZAMBA2_TOOLS_RUN_OPTIONS_H

#include "runtime/core/Sampling.h"

#include <cstdint>
#include <string>
#include <vector>

namespace zamba2::run {

enum class Mode {
  None,
  Score,    ///< --score IN --out OUT [--decode-from P]
  Generate, ///< --prompt-ids 1,2,3 [--max-new-tokens N] [sampling]
  Greedy,   ///< --greedy-from IN --prompt-len P --max-new-tokens N --out OUT
  Prompt,   ///< --prompt TEXT [--max-new-tokens N] [sampling] [--no-bos]
  Chat,     ///< --chat [--max-new-tokens N] [sampling] [--no-bos]
};

/// The session's max sequence of --chat without --max-seq.
constexpr int64_t kDefaultChatMaxSeq = 2048;

struct RunOptions {
  std::string package; ///< empty: the default package
  Mode mode = Mode::None;
  bool help = false;

  std::string input;       ///< --score IN or --greedy-from IN
  std::string output;      ///< --out
  int64_t decodeFrom = -1; ///< --decode-from (Score), -1 when absent

  std::vector<int64_t> promptIds; ///< --prompt-ids (Generate)
  std::string promptText;         ///< --prompt (Prompt)
  bool noBos = false;             ///< --no-bos (Prompt, Chat)
  int64_t maxNewTokens = -1;      ///< -1 when absent
  int64_t promptLen = -1;         ///< --prompt-len (Greedy)
  SamplingParams sampling;
  bool ignoreEos = false;

  int64_t maxSeq = -1; ///< -1: what the mode needs
  bool stats = false;
};

/// The text of --help.
extern const char kHelpText[];

/// Parses the arguments and checks that they form one valid mode (each
/// option belongs to a mode, required ones are present, values in range).
/// With no package and no mode, the mode is Generate from prompt "1" with 16
/// new tokens. False with one line in `err` on a bad command line.
bool parseRunOptions(int argc, char **argv, RunOptions &o, std::string &err);

} // namespace zamba2::run

#endif // ZAMBA2_TOOLS_RUN_OPTIONS_H
