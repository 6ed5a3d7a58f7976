//===- Text.cpp - zamba2-run --prompt and --chat --------------------------===//
//
// Text in, text out: prompts go through the package's tokenizer.json, the
// new tokens through a StreamDecoder onto stdout, flushed piece by piece.
// Generation itself is the Generator's (Generator.h), as for --prompt-ids.
//
//===----------------------------------------------------------------------===//
#include "tools/zamba2-run/Generator.h"

#include "runtime/Utf8.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sys/types.h>

namespace zamba2::run {

namespace {

/// The package's tokenizer; an error naming the package when it has none.
bool loadTokenizer(const Package &pkg, Tokenizer &tok, std::string &err) {
  std::string path = pkg.tokenizerPath();
  if (path.empty()) {
    err = pkg.dir() + ": this package has no tokenizer (its checkpoint had no "
                      "tokenizer.json); use --prompt-ids";
    return false;
  }
  return Tokenizer::load(path, tok, err);
}

/// Encodes `text` (the BOS token in front when `bos`), checking that it is
/// UTF-8 and that every id is in the model's vocabulary; `what` names the
/// text in errors ("--prompt", "--chat: line 3").
bool encode(const Tokenizer &tok, const Package &pkg, const std::string &text,
            bool bos, const std::string &what, std::vector<int64_t> &ids,
            std::string &err) {
  if (!utf8::isValid(text)) {
    err = what + ": the text is not valid UTF-8";
    return false;
  }
  ids.clear();
  for (int32_t id : tok.encode(text, bos)) {
    if (id >= pkg.vocabSize()) {
      const std::string *token = tok.idToToken(id);
      err = what + ": the tokenizer gives token id " + std::to_string(id) +
            (token ? " ('" + *token + "')" : std::string()) +
            ", outside the vocabulary [0, " + std::to_string(pkg.vocabSize()) +
            ") of the model in " + pkg.dir() +
            " (its tokenizer.json does not match the model)";
      return false;
    }
    ids.push_back(id);
  }
  return true;
}

/// The text of one turn's new tokens on stdout, as soon as it is final;
/// special tokens are skipped.
class TextOut {
public:
  explicit TextOut(const Tokenizer &tok) : decoder(tok, /*skipSpecial=*/true) {}

  void push(int64_t id) {
    // Ids past the tokenizer's (a model vocabulary padded beyond it) have no
    // text, as Tokenizer::decode drops them.
    write(id <= INT32_MAX ? decoder.push(static_cast<int32_t>(id)) : "");
  }
  /// push() as a Generator's token sink.
  Generator::TokenSink sink() {
    return [this](int64_t id) { push(id); };
  }
  /// The rest of the turn's text and a newline.
  void finish() { write(decoder.finish() + "\n"); }

private:
  static void write(const std::string &piece) {
    if (piece.empty())
      return;
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
  }

  StreamDecoder decoder;
};

} // namespace

bool runPrompt(const RunOptions &o, std::shared_ptr<Package> pkg,
               std::string &err) {
  Tokenizer tok;
  std::vector<int64_t> ids;
  if (!loadTokenizer(*pkg, tok, err) ||
      !encode(tok, *pkg, o.promptText, !o.noBos, "--prompt", ids, err))
    return false;
  if (ids.empty()) {
    err = std::string("--prompt: the prompt is empty and ") +
          (o.noBos ? "--no-bos leaves" : "the tokenizer adds") +
          " no token to start from";
    return false;
  }
  const int64_t len = static_cast<int64_t>(ids.size());
  std::unique_ptr<Session> session;
  if (!createGenerationSession(o, pkg, len, session, err))
    return false;
  Generator gen(*session, o);
  TextOut out(tok);
  if (!gen.turn(ids, out.sink(), err))
    return false;
  out.finish();
  if (o.stats)
    gen.printStats();
  return true;
}

bool runChat(const RunOptions &o, std::shared_ptr<Package> pkg,
             std::string &err) {
  Tokenizer tok;
  if (!loadTokenizer(*pkg, tok, err))
    return false;
  const int64_t maxSeq = o.maxSeq < 0 ? kDefaultChatMaxSeq : o.maxSeq;
  std::unique_ptr<Session> session;
  if (!createSession(pkg, 1, maxSeq, session, err))
    return false;
  Generator gen(*session, o);
  TextOut out(tok);

  // One turn: the line's tokens on top of the conversation, then the reply.
  bool first = true;
  std::vector<int64_t> ids;
  auto turn = [&](const std::string &line, const std::string &what) {
    if (!encode(tok, *pkg, line, first && !o.noBos, what, ids, err))
      return false;
    first = false;
    const int64_t len = static_cast<int64_t>(ids.size());
    const int64_t needed = gen.positionsNeeded(len);
    if (needed > maxSeq) {
      err = what + ": the conversation would exceed --max-seq " +
            std::to_string(maxSeq) + ": its " + tokens(gen.historyLength()) +
            " so far, the line's " + tokens(len) + " and up to " +
            tokens(o.maxNewTokens) + " of reply need " +
            std::to_string(needed) +
            " positions (give a larger --max-seq or a smaller "
            "--max-new-tokens)";
      return false;
    }
    if (!gen.turn(ids, out.sink(), err))
      return false;
    out.finish();
    return true;
  };

  char *buf = nullptr;
  size_t cap = 0;
  ssize_t got;
  bool ok = true;
  for (int64_t lineNo = 1; ok && (got = ::getline(&buf, &cap, stdin)) >= 0;
       ++lineNo) {
    std::string line(buf, static_cast<size_t>(got));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    if (!line.empty())
      ok = turn(line, "--chat: line " + std::to_string(lineNo));
  }
  std::free(buf);
  if (ok && std::ferror(stdin)) {
    err = "--chat: error reading stdin";
    ok = false;
  }
  if (ok && o.stats)
    gen.printStats();
  return ok;
}

} // namespace zamba2::run
