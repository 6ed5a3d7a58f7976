//===- zamba2-tokenize.cpp - tokenizer.json from the command line ---------===//
//
// Encodes and decodes with a Hugging Face tokenizer.json. The output formats
// are a contract other tests rely on: --encode prints the ids comma-separated
// on one line, --decode prints the text followed by a newline. Errors are one
// line "error: ..." on stderr and exit status 1.
//
//===----------------------------------------------------------------------===//
#include "runtime/Json.h"
#include "runtime/Utf8.h"
#include "runtime/tokenizer/Tokenizer.h"
#include "tools/zamba2-tokenize/Bench.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

using namespace zamba2;

namespace {

const char kHelp[] =
    R"(usage: zamba2-tokenize TOKENIZER_JSON MODE [OPTIONS]

Encodes and decodes text with a Hugging Face tokenizer.json (BPE model with
byte fallback, Prepend/Replace normalizer or Metaspace pre-tokenizer,
TemplateProcessing post-processor), matching the Hugging Face tokenizers
library exactly.

Modes (exactly one):
  --encode TEXT         Print the ids of TEXT, comma-separated on one line
                        (an empty line for no ids). Special tokens written in
                        TEXT (e.g. "<s>") are recognized.
  --decode IDS          Print the text of IDS (comma-separated integers, e.g.
                        "1,2,3"; "" for none) followed by a newline. Special
                        tokens are skipped unless --keep-special is given.
  --bench-encode [FILE] Encode every line of FILE (a generated ~4 MB text with
                        words of growing length when FILE is omitted) with the
                        heap-based merge loop and with a naive quadratic one;
                        print MB/s of both, the speedup, and whether the ids
                        are identical (exit 1 when they are not).
  --info                Print the vocabulary size and the <s>, </s> and <unk>
                        ids.

Options:
  --bos                 With --encode: apply the post-processor template
                        (adds <s> in front).
  --tokens              With --encode: print the token strings as a JSON array
                        on one line instead of the ids.
  --keep-special        With --decode: keep special tokens (<s>, </s>, ...).
  --stream              With --decode: decode through the streaming decoder,
                        one id at a time, printing each piece as soon as it is
                        complete UTF-8 (same final text).
  --repeat N            With --bench-encode: time each loop N times and keep
                        the best (default 1).
  --help                Print this help and exit.

Exit status: 0 on success, 1 on any error (one line "error: ..." on stderr).
)";

int error(const std::string &msg) {
  std::fprintf(stderr, "error: %s\n", msg.c_str());
  return 1;
}

bool parseIds(const std::string &text, std::vector<int32_t> &ids,
              std::string &err) {
  size_t pos = 0;
  auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
  // All blank: no ids.
  if (text.find_first_not_of(" \t\n") == std::string::npos)
    return true;
  while (true) {
    size_t end = text.find(',', pos);
    std::string item = text.substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    size_t b = 0, e = item.size();
    while (b < e && isSpace(item[b]))
      ++b;
    while (e > b && isSpace(item[e - 1]))
      --e;
    item = item.substr(b, e - b);
    bool digits = !item.empty() && item.size() <= 10;
    for (char c : item)
      digits &= c >= '0' && c <= '9';
    long long v = digits ? std::strtoll(item.c_str(), nullptr, 10) : -1;
    if (!digits || v > 0x7FFFFFFF) {
      err = "--decode: '" + item + "' is not an id (expected e.g. 1,2,3)";
      return false;
    }
    ids.push_back(static_cast<int32_t>(v));
    if (end == std::string::npos)
      return true;
    pos = end + 1;
  }
}

} // namespace

int main(int argc, char **argv) {
  std::string path, mode, modeArg, benchFile;
  bool bos = false, tokens = false, keepSpecial = false, stream = false;
  int repeat = 1;
  bool haveRepeat = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto needValue = [&](std::string &out) {
      if (i + 1 >= argc)
        return false;
      out = argv[++i];
      return true;
    };
    auto setMode = [&](const std::string &m) {
      if (!mode.empty() && mode != m)
        return false;
      mode = m;
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    } else if (a == "--encode" || a == "--decode") {
      if (!setMode(a))
        return error("only one of --encode, --decode, --bench-encode, "
                     "--info may be given");
      if (!needValue(modeArg))
        return error(a + " needs a value");
    } else if (a == "--bench-encode") {
      if (!setMode(a))
        return error("only one of --encode, --decode, --bench-encode, "
                     "--info may be given");
      if (i + 1 < argc && std::strncmp(argv[i + 1], "--", 2) != 0 &&
          !path.empty())
        benchFile = argv[++i];
    } else if (a == "--info") {
      if (!setMode(a))
        return error("only one of --encode, --decode, --bench-encode, "
                     "--info may be given");
    } else if (a == "--bos") {
      bos = true;
    } else if (a == "--tokens") {
      tokens = true;
    } else if (a == "--keep-special") {
      keepSpecial = true;
    } else if (a == "--stream") {
      stream = true;
    } else if (a == "--repeat") {
      std::string v;
      if (!needValue(v))
        return error("--repeat needs a value");
      char *end = nullptr;
      long n = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || n < 1 || n > 1000)
        return error("--repeat: '" + v + "' is not a count in [1, 1000]");
      repeat = static_cast<int>(n);
      haveRepeat = true;
    } else if (a.size() > 1 && a[0] == '-') {
      return error("unknown option '" + a + "' (see --help)");
    } else if (path.empty()) {
      path = a;
    } else {
      return error("unexpected argument '" + a + "' (see --help)");
    }
  }
  if (path.empty())
    return error("no tokenizer.json given (see --help)");
  if (mode.empty())
    return error("no mode given: use --encode, --decode, --bench-encode or "
                 "--info (see --help)");
  if ((bos || tokens) && mode != "--encode")
    return error(std::string(bos ? "--bos" : "--tokens") +
                 " only applies to --encode");
  if ((keepSpecial || stream) && mode != "--decode")
    return error(std::string(keepSpecial ? "--keep-special" : "--stream") +
                 " only applies to --decode");
  if (haveRepeat && mode != "--bench-encode")
    return error("--repeat only applies to --bench-encode");

  Tokenizer tok;
  std::string err;
  if (!Tokenizer::load(path, tok, err))
    return error(err);

  if (mode == "--encode") {
    if (!utf8::isValid(modeArg))
      return error("--encode: the text is not valid UTF-8");
    std::vector<int32_t> ids = tok.encode(modeArg, bos);
    std::string line;
    if (tokens) {
      json::Value arr = json::Value::array();
      for (std::string &t : tok.tokens(ids))
        arr.push(json::Value::string(std::move(t)));
      line = json::write(arr);
    } else {
      for (size_t k = 0; k < ids.size(); ++k)
        line += (k ? "," : "") + std::to_string(ids[k]);
    }
    std::printf("%s\n", line.c_str());
    return 0;
  }
  if (mode == "--decode") {
    std::vector<int32_t> ids;
    if (!parseIds(modeArg, ids, err))
      return error(err);
    for (int32_t id : ids)
      if (!tok.idToToken(id))
        return error("--decode: id " + std::to_string(id) +
                     " has no token (vocabulary size " +
                     std::to_string(tok.vocabSize()) + ")");
    if (stream) {
      StreamDecoder dec(tok, !keepSpecial);
      for (int32_t id : ids) {
        std::string piece = dec.push(id);
        std::fwrite(piece.data(), 1, piece.size(), stdout);
        std::fflush(stdout);
      }
      std::string rest = dec.finish();
      std::fwrite(rest.data(), 1, rest.size(), stdout);
    } else {
      std::string text = tok.decode(ids, !keepSpecial);
      std::fwrite(text.data(), 1, text.size(), stdout);
    }
    std::fputc('\n', stdout);
    return 0;
  }
  if (mode == "--info") {
    std::printf("vocab_size: %d\nbos: %d\neos: %d\nunk: %d\n", tok.vocabSize(),
                tok.bosId(), tok.eosId(), tok.unkId());
    return 0;
  }
  return runEncodeBenchmark(tok, path, benchFile, repeat);
}
