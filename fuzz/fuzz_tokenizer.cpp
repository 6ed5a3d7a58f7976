//===- fuzz_tokenizer.cpp - libFuzzer target: tokenizer.json --------------===//
//
// Input: tokenizer.json text. Checks that loading never crashes and that a
// tokenizer that loads keeps its contracts on a few texts (byte fallback,
// invalid UTF-8, special tokens, the metaspace character): encoded ids are in
// the vocabulary, and the pieces a StreamDecoder returns concatenate to
// exactly decode() of the same ids, with and without special tokens skipped.
//
//===----------------------------------------------------------------------===//
#include "fuzz/FuzzChecks.h"
#include "runtime/tokenizer/Tokenizer.h"

#include <cstdlib>

using namespace zamba2;

namespace {

/// Aborts unless streaming `ids` through a StreamDecoder gives decode().
void checkStreamedDecode(const Tokenizer &tok, const std::vector<int32_t> &ids,
                         bool skipSpecial) {
  StreamDecoder stream(tok, skipSpecial);
  std::string pieces;
  for (int32_t id : ids)
    pieces += stream.push(id);
  pieces += stream.finish();
  if (pieces != tok.decode(ids, skipSpecial))
    std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string_view text(reinterpret_cast<const char *>(data), size);
  Tokenizer tok;
  std::string err;
  if (!Tokenizer::loadFromString(text, "fuzz.json", tok, err)) {
    fuzz::requireOneLineError(err);
    return 0;
  }
  const char *samples[] = {"Hello world", " a  b\n\xff\xc3", "<s>x</s>",
                           "\xe2\x96\x81z", ""};
  for (const char *sample : samples) {
    for (bool addSpecial : {false, true}) {
      std::vector<int32_t> ids = tok.encode(sample, addSpecial);
      for (int32_t id : ids)
        if (id < 0 || id >= tok.vocabSize())
          std::abort();
      (void)tok.tokens(ids);
      checkStreamedDecode(tok, ids, /*skipSpecial=*/false);
      checkStreamedDecode(tok, ids, /*skipSpecial=*/true);
    }
  }
  return 0;
}
