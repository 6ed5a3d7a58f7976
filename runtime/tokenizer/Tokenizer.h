//===- Tokenizer.h - Hugging Face tokenizer.json (BPE) ----------*- C++ -*-===//
//
// Encoding and decoding with the `tokenizer.json` files that Zamba2 checkpoints
// ship: a BPE model with byte fallback and <unk> fusing, added/special tokens,
// a Prepend+Replace normalizer or a Metaspace pre-tokenizer, a
// TemplateProcessing post-processor, and the matching decoders (Replace,
// ByteFallback, Fuse, Strip, Metaspace). Results match the Hugging Face
// `tokenizers` library id for id and byte for byte.
//
// No exceptions: loading returns false and a one-line message naming the file
// and the JSON field; encoding and decoding cannot fail.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_TOKENIZER_TOKENIZER_H
#define ZAMBA2_RUNTIME_TOKENIZER_TOKENIZER_H

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zamba2 {

class Tokenizer {
public:
  /// Loads `path`. On failure returns false and sets `err` to one line of the
  /// form "PATH: field 'model.merges[3]': token 'xy' is not in the vocabulary".
  static bool load(const std::string &path, Tokenizer &out, std::string &err);
  /// Same from an in-memory document; `name` stands for the file in messages.
  static bool loadFromString(std::string_view json, const std::string &name,
                             Tokenizer &out, std::string &err);

  /// Whether a tokenizer has been loaded into this object.
  bool loaded() const { return impl != nullptr; }

  /// Encodes `text` (any bytes; invalid UTF-8 bytes go through byte fallback).
  /// `addSpecial` applies the post-processor template (e.g. a leading <s>).
  std::vector<int32_t> encode(std::string_view text, bool addSpecial) const;

  /// The BPE merge loop applied to the symbols of one pre-tokenized word.
  /// encode() uses a heap-based loop; benchmarks plug in a reference one.
  using WordMerger =
      std::function<void(const Tokenizer &, std::vector<int32_t> &symbols)>;
  /// encode() with `merger` in place of the built-in merge loop.
  std::vector<int32_t> encodeWith(std::string_view text, bool addSpecial,
                                  const WordMerger &merger) const;
  /// The merge of the adjacent pair (left, right): its rank (lower merges
  /// first) and the merged token. False when the pair does not merge.
  bool findMerge(int32_t left, int32_t right, uint32_t &rank,
                 int32_t &merged) const;

  /// Decodes `ids`; ids with no token are dropped, as Hugging Face does.
  std::string decode(const std::vector<int32_t> &ids, bool skipSpecial) const;
  /// Token strings of `ids` ("" for an id with no token).
  std::vector<std::string> tokens(const std::vector<int32_t> &ids) const;

  /// Id of the first special token the post-processor adds (<s>), else of
  /// "<s>"; -1 when there is none.
  int32_t bosId() const;
  /// Id of "</s>"; -1 when there is none.
  int32_t eosId() const;
  /// Id of the model's unk_token; -1 when there is none.
  int32_t unkId() const;
  /// One past the largest id of the model vocabulary and added tokens.
  int32_t vocabSize() const;
  /// -1 when `token` is neither an added token nor in the vocabulary.
  int32_t tokenToId(std::string_view token) const;
  /// nullptr when `id` has no token.
  const std::string *idToToken(int32_t id) const;
  /// Whether `id` is an added token marked special (skipped by decoding).
  bool isSpecial(int32_t id) const;

  struct Impl;

private:
  friend class StreamDecoder;
  void tokenizeWord(std::string_view word, std::vector<int32_t> &out,
                    const WordMerger *merger,
                    std::vector<int32_t> &symbols) const;
  // Immutable once loaded, so copies of a Tokenizer share it.
  std::shared_ptr<const Impl> impl;
};

/// Incremental decoding for generation: push ids one at a time and get back
/// the text that is final. Every returned piece is complete UTF-8, and the
/// pieces (finish() included) concatenate to exactly
/// Tokenizer::decode(allIds, skipSpecial).
///
/// Text is held back only where the full decode still depends on what comes
/// next: a run of byte-fallback tokens until the run ends (one invalid byte
/// turns the whole run into U+FFFD), trailing characters a Strip decoder may
/// remove, and a possible prefix of a Replace pattern after Fuse.
class StreamDecoder {
public:
  /// `tok` must outlive the decoder.
  StreamDecoder(const Tokenizer &tok, bool skipSpecial);
  ~StreamDecoder();
  StreamDecoder(const StreamDecoder &) = delete;
  StreamDecoder &operator=(const StreamDecoder &) = delete;

  /// Adds one id; returns the text that became final (often empty).
  std::string push(int32_t id);
  /// Ends the sequence; returns the rest. The decoder can then be reused.
  std::string finish();

  struct State;

private:
  const Tokenizer &tok;
  bool skipSpecial;
  std::unique_ptr<State> state;
};

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_TOKENIZER_TOKENIZER_H
