//===- Options.cpp - Command line of zamba2-run ---------------------------===//
#include "tools/zamba2-run/Options.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

namespace zamba2::run {

const char kHelpText[] =
    R"(usage: zamba2-run [PKG] MODE [OPTIONS]

Runs a package written by zamba2-compile (a directory holding manifest.json,
model.so and weights.bin) on this CPU.

Modes (exactly one):
  --score IN --out OUT [--decode-from P]
      Reads input_ids (int64 [B, T]) from the safetensors file IN and writes
      logits (f32 [B, T, V]) to OUT. Without --decode-from: one prefill over
      the whole sequence. With --decode-from P (1 <= P <= T): one prefill of
      the first P tokens, then one single-token decode step per remaining
      token (teacher forcing); each position's logits come from the call that
      produced them.
  --prompt-ids IDS [--max-new-tokens N]
      Generates up to N tokens (default 16) after the prompt IDS (comma-
      separated, e.g. 1,2,3) and prints the generated ids comma-separated on
      one line. Greedy unless --temperature is given. Stops after the
      package's eos token (which is printed) unless --ignore-eos.
  --prompt TEXT [--max-new-tokens N] [--no-bos]
      Encodes TEXT with the package's tokenizer, with the BOS token in front
      unless --no-bos (as zamba2-tokenize --bos --encode does), generates as
      --prompt-ids does, and prints the text of the new tokens on stdout as
      soon as it is complete UTF-8, then a newline. Special tokens (e.g. the
      eos token) are not printed.
  --chat [--max-new-tokens N] [--no-bos]
      A conversation in one session: every non-empty line of stdin (until
      EOF) is a turn. Its text is encoded (the BOS token only in front of the
      first turn, unless --no-bos; no chat template: plain text), only its
      new tokens are prefilled on top of the conversation so far, and the
      reply (up to N tokens, default 16, stopping after eos) is printed as
      with --prompt. A reply's last token (its eos, say) is fed to the model
      with the next turn's tokens, so the state always covers the whole
      conversation and nothing is prefilled twice. A turn whose prompt and N
      new tokens would not fit in --max-seq (default 2048) is an error that
      ends the conversation.
  --greedy-from IN --prompt-len P --max-new-tokens N --out OUT
      Prefills input_ids[:, :P] of IN as one batch, then decodes N tokens
      greedily for every row (no eos stop) and writes greedy_ids (int64
      [B, N]) and greedy_logits (f32 [B, N, V], the logits that chose each
      token) to OUT.

--prompt and --chat need the tokenizer.json that zamba2-compile copies into
the package from the checkpoint (manifest field "tokenizer"); a package
compiled from a checkpoint without one can only run ids.

Sampling (with --prompt-ids, --prompt and --chat):
  --temperature T   > 0 samples, 0 is greedy (default 0)
  --top-k K         keep the K most likely tokens (0: all; default 0)
  --top-p P         keep the smallest set of probability >= P (default 1)
  --seed S          seed of the sampler (default 0; --chat draws one stream
                    for the whole conversation)
  --ignore-eos      do not stop at the eos token

Other options:
  --no-bos          with --prompt or --chat: no BOS token in front
  --max-seq N       the session's maximum sequence length (default: what the
                    mode needs: T, prompt + N - 1, or P + N - 1; 2048 for
                    --chat)
  --stats           print prefill and decode tokens/s and ms on stderr (time
                    spent in the model's entry points; --chat: all turns,
                    at EOF)
  --help            print this help and exit

Without PKG, the default package of this build is used; it is compiled
first (zamba2-compile, found next to zamba2-run) when it is missing or older
than its checkpoint or than zamba2-compile, with a progress line on stderr.
Without PKG and without a mode, zamba2-run generates 16 tokens greedily from
--prompt-ids 1.

Output files are written atomically (OUT.tmp, then renamed). Errors are one
line "zamba2-run: error: ..." on stderr and exit status 1.
)";

namespace {

bool parseInt(const std::string &text, int64_t &out) {
  if (text.empty() || (text[0] != '-' && (text[0] < '0' || text[0] > '9')))
    return false;
  char *end = nullptr;
  errno = 0;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (errno != 0 || !end || *end != '\0')
    return false;
  out = v;
  return true;
}

bool parseFloat(const std::string &text, float &out) {
  if (text.empty())
    return false;
  char *end = nullptr;
  errno = 0;
  float v = std::strtof(text.c_str(), &end);
  if (errno != 0 || !end || *end != '\0' || !std::isfinite(v))
    return false;
  out = v;
  return true;
}

bool parseIds(const std::string &text, std::vector<int64_t> &ids,
              std::string &err) {
  ids.clear();
  size_t pos = 0;
  for (size_t item = 1;; ++item) {
    size_t comma = text.find(',', pos);
    std::string s = text.substr(
        pos, comma == std::string::npos ? std::string::npos : comma - pos);
    size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
    s = b == std::string::npos ? "" : s.substr(b, e - b + 1);
    int64_t id = 0;
    if (s.empty()) {
      err = "--prompt-ids '" + text + "': item " + std::to_string(item) +
            " is empty (expected comma-separated token ids, e.g. 1,2,3)";
      return false;
    }
    if (!parseInt(s, id) || id < 0) {
      err = "--prompt-ids '" + text + "': '" + s +
            "' is not a token id (an integer >= 0)";
      return false;
    }
    ids.push_back(id);
    if (comma == std::string::npos)
      return true;
    pos = comma + 1;
  }
}

std::string formatFloat(float v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", static_cast<double>(v));
  return buf;
}

const char *modeOption(Mode m) {
  switch (m) {
  case Mode::Score:
    return "--score";
  case Mode::Generate:
    return "--prompt-ids";
  case Mode::Greedy:
    return "--greedy-from";
  case Mode::Prompt:
    return "--prompt";
  case Mode::Chat:
    return "--chat";
  case Mode::None:
    break;
  }
  return "";
}

} // namespace

bool parseRunOptions(int argc, char **argv, RunOptions &o, std::string &err) {
  o = RunOptions();
  // Options seen, with the mode each belongs to (None: any mode).
  std::map<std::string, std::vector<Mode>> seen;
  auto setMode = [&](Mode m, const std::string &opt) {
    if (o.mode != Mode::None && o.mode != m) {
      err = std::string(modeOption(o.mode)) + " and " + opt +
            " are different modes; give one";
      return false;
    }
    if (o.mode == m) {
      err = opt + " given twice";
      return false;
    }
    o.mode = m;
    return true;
  };

  // The modes that generate, and so take the sampling options.
  const std::vector<Mode> generating = {Mode::Generate, Mode::Prompt,
                                        Mode::Chat};

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    bool hasInlineValue = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        hasInlineValue = true;
      }
    }
    auto next = [&](std::string &out) {
      if (hasInlineValue) {
        out = value;
        return true;
      }
      if (i + 1 >= argc) {
        err = arg + " needs a value (see --help)";
        return false;
      }
      out = argv[++i];
      return true;
    };
    auto intValue = [&](int64_t &out, int64_t minimum) {
      std::string v;
      if (!next(v))
        return false;
      if (!parseInt(v, out) || out < minimum) {
        err = arg + " '" + v +
              "': expected an integer >= " + std::to_string(minimum);
        return false;
      }
      return true;
    };
    auto floatValue = [&](float &out) {
      std::string v;
      if (!next(v))
        return false;
      if (!parseFloat(v, out)) {
        err = arg + " '" + v + "': expected a finite number";
        return false;
      }
      return true;
    };
    auto belongs = [&](std::vector<Mode> modes) {
      if (seen.count(arg)) {
        err = arg + " given twice";
        return false;
      }
      seen[arg] = std::move(modes);
      return true;
    };

    bool ok = true;
    if (arg == "--help" || arg == "-h") {
      o.help = true;
      return true;
    } else if (arg == "--score") {
      ok = setMode(Mode::Score, arg) && next(o.input);
    } else if (arg == "--greedy-from") {
      ok = setMode(Mode::Greedy, arg) && next(o.input);
    } else if (arg == "--prompt-ids") {
      std::string v;
      ok = setMode(Mode::Generate, arg) && next(v) &&
           parseIds(v, o.promptIds, err);
    } else if (arg == "--prompt") {
      ok = setMode(Mode::Prompt, arg) && next(o.promptText);
    } else if (arg == "--chat") {
      ok = setMode(Mode::Chat, arg);
    } else if (arg == "--out") {
      ok = belongs({Mode::Score, Mode::Greedy}) && next(o.output);
    } else if (arg == "--decode-from") {
      ok = belongs({Mode::Score}) && intValue(o.decodeFrom, 1);
    } else if (arg == "--prompt-len") {
      ok = belongs({Mode::Greedy}) && intValue(o.promptLen, 1);
    } else if (arg == "--max-new-tokens") {
      ok = belongs({Mode::Generate, Mode::Greedy, Mode::Prompt, Mode::Chat}) &&
           intValue(o.maxNewTokens, 1);
    } else if (arg == "--temperature") {
      ok = belongs(generating) && floatValue(o.sampling.temperature);
    } else if (arg == "--top-k") {
      int64_t k = 0;
      ok = belongs(generating) && intValue(k, 0);
      if (ok && k > INT32_MAX)
        k = INT32_MAX;
      o.sampling.topK = static_cast<int32_t>(k);
    } else if (arg == "--top-p") {
      ok = belongs(generating) && floatValue(o.sampling.topP);
    } else if (arg == "--seed") {
      int64_t s = 0;
      ok = belongs(generating) && intValue(s, 0);
      o.sampling.seed = static_cast<uint64_t>(s);
    } else if (arg == "--ignore-eos") {
      ok = belongs(generating);
    } else if (arg == "--no-bos") {
      ok = belongs({Mode::Prompt, Mode::Chat});
      o.noBos = true;
    } else if (arg == "--max-seq") {
      ok = belongs({}) && intValue(o.maxSeq, 1);
    } else if (arg == "--stats") {
      ok = belongs({});
      o.stats = true;
    } else if (!arg.empty() && arg[0] == '-') {
      err = "unknown option '" + arg + "' (see --help)";
      return false;
    } else if (o.package.empty()) {
      o.package = arg;
    } else {
      err = "more than one package given ('" + o.package + "', '" + arg + "')";
      return false;
    }
    if (!ok)
      return false;
    if (arg == "--ignore-eos")
      o.ignoreEos = true;
  }

  if (o.mode == Mode::None) {
    if (!o.package.empty() || !seen.empty()) {
      err = "no mode given: --score, --prompt-ids, --prompt, --chat or "
            "--greedy-from (see --help)";
      return false;
    }
    // The no-argument demo: the default package, 16 greedy tokens after 1.
    o.mode = Mode::Generate;
    o.promptIds = {1};
  }
  for (const auto &[opt, modes] : seen) {
    if (modes.empty())
      continue;
    bool fits = false;
    std::string names;
    for (size_t k = 0; k < modes.size(); ++k) {
      fits = fits || modes[k] == o.mode;
      names += (k == 0                  ? ""
                : k + 1 == modes.size() ? " or "
                                        : ", ") +
               std::string(modeOption(modes[k]));
    }
    if (!fits) {
      err = opt + " goes with " + names + ", not " + modeOption(o.mode);
      return false;
    }
  }
  switch (o.mode) {
  case Mode::Score:
    if (o.output.empty()) {
      err = "--score needs --out OUT.safetensors";
      return false;
    }
    break;
  case Mode::Greedy:
    if (o.output.empty() || o.promptLen < 0 || o.maxNewTokens < 0) {
      err = "--greedy-from needs --prompt-len P, --max-new-tokens N and --out "
            "OUT.safetensors";
      return false;
    }
    break;
  case Mode::Generate:
  case Mode::Prompt:
  case Mode::Chat:
    if (o.mode == Mode::Generate && o.promptIds.empty()) {
      err = "--prompt-ids: no ids";
      return false;
    }
    if (o.maxNewTokens < 0)
      o.maxNewTokens = 16;
    if (!(o.sampling.temperature >= 0)) {
      err = "--temperature " + formatFloat(o.sampling.temperature) +
            ": expected a number >= 0 (0 is greedy)";
      return false;
    }
    if (!(o.sampling.topP > 0 && o.sampling.topP <= 1)) {
      err = "--top-p " + formatFloat(o.sampling.topP) +
            ": expected a number in (0, 1]";
      return false;
    }
    if (!validateSamplingParams(o.sampling, err))
      return false;
    break;
  case Mode::None:
    break;
  }
  return true;
}

} // namespace zamba2::run
