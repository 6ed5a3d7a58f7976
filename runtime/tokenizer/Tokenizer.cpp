//===- Tokenizer.cpp - Hugging Face tokenizer.json (BPE) ------------------===//
//
// Mirrors the Hugging Face `tokenizers` pipeline for the BPE tokenizers of
// Llama/Mistral lineage: added-token split -> normalizer -> pre-tokenizer ->
// BPE model -> post-processor, and the decoder chain back. Where the library's
// behaviour is subtle (merge order, byte fallback, unk fusing, U+FFFD on
// broken byte runs, the Metaspace "first" scheme) the code follows it
// literally and says so.
//
//===----------------------------------------------------------------------===//
#include "runtime/tokenizer/Tokenizer.h"

#include "runtime/Json.h"
#include "runtime/Utf8.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace zamba2 {
namespace tokdetail {

//===----------------------------------------------------------------------===//
// Character helpers (UTF-8 itself: runtime/Utf8.h, strict like Rust)
//===----------------------------------------------------------------------===//

/// Rust's char::is_whitespace (the Unicode White_Space property).
bool isWhitespace(uint32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

/// \w as used for single_word added tokens. ASCII is exact; every other
/// non-space character counts as a word character (no Unicode tables here).
bool isWordChar(uint32_t c) {
  if (c < 0x80)
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '_';
  return !isWhitespace(c);
}

/// Last character of valid UTF-8 `s` (s non-empty).
uint32_t lastChar(std::string_view s) {
  size_t i = s.size() - 1;
  while (i > 0 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80)
    --i;
  uint32_t cp;
  size_t len;
  return utf8::decode(s, i, cp, len) ? cp : 0xFFFD;
}

std::string replaceAll(std::string_view s, std::string_view pattern,
                       std::string_view with) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (true) {
    size_t hit = s.find(pattern, pos);
    if (hit == std::string_view::npos)
      break;
    out.append(s.substr(pos, hit - pos));
    out.append(with);
    pos = hit + pattern.size();
  }
  out.append(s.substr(pos));
  return out;
}

bool startsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

bool endsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() &&
         s.compare(s.size() - p.size(), p.size(), p) == 0;
}

int hexDigit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Whether `tok` is a byte-fallback token "<0xHH>", with the exact test of the
/// ByteFallback decoder (6 bytes, "<0x" ... ">", u8::from_str_radix on the
/// two middle characters, which also accepts a leading '+').
bool parseByteToken(std::string_view tok, uint8_t &byte) {
  if (tok.size() != 6 || !startsWith(tok, "<0x") || tok[5] != '>')
    return false;
  int hi = hexDigit(tok[3]), lo = hexDigit(tok[4]);
  if (tok[3] == '+' && lo >= 0) {
    byte = static_cast<uint8_t>(lo);
    return true;
  }
  if (hi < 0 || lo < 0)
    return false;
  byte = static_cast<uint8_t>(hi * 16 + lo);
  return true;
}

const char kReplacementChar[] = "\xEF\xBF\xBD"; // U+FFFD

/// What the ByteFallback decoder makes of a finished run of byte tokens: the
/// string when the run is valid UTF-8, otherwise one U+FFFD per byte token.
void flushByteRun(const std::string &run, std::vector<std::string> &out) {
  if (utf8::isValid(run)) {
    out.push_back(run);
    return;
  }
  for (size_t i = 0; i < run.size(); ++i)
    out.emplace_back(kReplacementChar);
}

/// A token string quoted for a one-line error message.
std::string quote(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    auto u = static_cast<uint8_t>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\' || c == '\'') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "'";
}

//===----------------------------------------------------------------------===//
// Pipeline components
//===----------------------------------------------------------------------===//

enum class PrependScheme { Always, First, Never };

struct NormalizerStep {
  enum Kind { Prepend, Replace } kind;
  std::string text;    // Prepend: what to prepend; Replace: the pattern.
  std::string content; // Replace: the replacement.
};

struct DecoderStep {
  enum Kind { Replace, ByteFallback, Fuse, Strip, Metaspace } kind;
  std::string pattern; // Replace pattern; Strip content; Metaspace replacement
  std::string content; // Replace content
  size_t start = 0, stop = 0;                   // Strip
  PrependScheme scheme = PrependScheme::Always; // Metaspace
  // Whether this step sees the single token made by an earlier Fuse; decides
  // how the streaming decoder runs it.
  bool fused = false;
};

struct AddedToken {
  std::string content;
  int32_t id = -1;
  bool special = false, normalized = false;
  bool lstrip = false, rstrip = false, singleWord = false;
};

/// Leftmost-longest matching over a set of added tokens, like the
/// aho-corasick automaton (MatchKind::LeftmostLongest) Hugging Face uses.
/// Added tokens are few, so candidates are bucketed by first byte.
struct AddedMatcher {
  std::vector<std::vector<uint32_t>>
      byFirstByte; // index into added, longest first
  bool empty = true;
};

struct MergeInfo {
  uint32_t rank;
  int32_t merged;
};

/// Merge table keyed by the (left, right) id pair packed in 64 bits: open
/// addressing with linear probing. The merge loop does a lookup per candidate
/// pair, and std::unordered_map's node chasing was the bulk of encode time.
class PairMap {
public:
  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n)
      cap *= 2;
    keys.assign(cap, kEmpty);
    values.assign(cap, MergeInfo{0, -1});
    mask = cap - 1;
    shift = 64;
    for (size_t c = cap; c > 1; c /= 2)
      --shift;
  }
  /// Inserts or overwrites. reserve() must have made room.
  void set(uint64_t key, MergeInfo v) {
    size_t i = slot(key);
    keys[i] = key;
    values[i] = v;
  }
  const MergeInfo *find(uint64_t key) const {
    if (keys.empty())
      return nullptr;
    size_t i = slot(key);
    return keys[i] == key ? &values[i] : nullptr;
  }

private:
  // Ids are below 2^24, so no real key has all bits set.
  static constexpr uint64_t kEmpty = ~0ull;
  std::vector<uint64_t> keys;
  std::vector<MergeInfo> values;
  size_t mask = 0;
  unsigned shift = 64;

  size_t slot(uint64_t key) const {
    // Fibonacci hashing: the top bits of the product depend on every key bit
    // (the low bits would ignore the left id of the pair).
    size_t i = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> shift);
    while (keys[i] != kEmpty && keys[i] != key)
      i = (i + 1) & mask;
    return i;
  }
};

} // namespace tokdetail

using namespace tokdetail;

struct Tokenizer::Impl {
  std::string name;
  // BPE model.
  std::unordered_map<std::string, int32_t> vocab;
  PairMap merges;
  // One-character tokens: a dense table for the Basic Multilingual Plane
  // (hot: every "▁" goes through it), a hash map above.
  std::vector<int32_t> bmpToId;
  std::unordered_map<uint32_t, int32_t> charToId;
  int32_t byteToId[256];
  int32_t unk = -1;
  bool fuseUnk = false, byteFallback = false, ignoreMerges = false;
  // Id -> token (added tokens override the model's) and flags.
  std::vector<std::string> idToTok;
  std::vector<uint8_t> hasTok, special;
  int32_t size = 0;
  // Added tokens.
  std::vector<AddedToken> added;
  std::unordered_map<std::string, int32_t> addedToId;
  AddedMatcher rawMatcher, normalizedMatcher;
  // Normalizer and pre-tokenizer.
  std::vector<NormalizerStep> normalizer;
  bool metaspace = false;
  std::string msReplacement;
  PrependScheme msScheme = PrependScheme::Always;
  bool msSplit = true;
  // Post-processor (the "single" template).
  std::vector<int32_t> prefixIds, suffixIds;
  int32_t bos = -1;
  // Decoder.
  bool hasDecoder = false;
  std::vector<DecoderStep> decoders;
};

//===----------------------------------------------------------------------===//
// Loading
//===----------------------------------------------------------------------===//

namespace {

using json::Value;

class Loader {
public:
  Loader(Tokenizer::Impl &m, std::string &err) : m(m), err(err) {}

  bool load(const Value &root);

private:
  Tokenizer::Impl &m;
  std::string &err;

  bool fail(const std::string &field, const std::string &what) {
    err = m.name + ": field '" + field + "': " + what;
    return false;
  }
  bool wrongKind(const std::string &field, const Value &v, const char *want) {
    return fail(field, std::string("expected ") + want + ", got " +
                           json::kindName(v.kind()));
  }
  /// Member `key` of `obj` (at `path`) that must be of kind `want`.
  /// Returns false after setting the error when it is missing (and required)
  /// or of another kind; `out` is nullptr for an absent optional member.
  bool member(const Value &obj, const std::string &path, std::string_view key,
              Value::Kind want, bool required, const Value *&out) {
    std::string field =
        path.empty() ? std::string(key) : path + "." + std::string(key);
    out = obj.get(key);
    if (!out || (!required && out->isNull())) {
      out = nullptr;
      return required ? fail(field, "missing") : true;
    }
    if (out->kind() != want)
      return wrongKind(field, *out, json::kindName(want));
    return true;
  }
  bool getString(const Value &obj, const std::string &path,
                 std::string_view key, bool required, std::string &out) {
    const Value *v;
    if (!member(obj, path, key, Value::Kind::String, required, v))
      return false;
    if (v)
      out = v->asString();
    return true;
  }
  bool getBool(const Value &obj, const std::string &path, std::string_view key,
               bool &out) {
    const Value *v;
    if (!member(obj, path, key, Value::Kind::Bool, false, v))
      return false;
    if (v)
      out = v->asBool();
    return true;
  }
  bool getCount(const Value &obj, const std::string &path, std::string_view key,
                bool required, size_t &out) {
    const Value *v;
    if (!member(obj, path, key, Value::Kind::Number, required, v))
      return false;
    if (!v)
      return true;
    if (!v->isInteger() || v->asInt() < 0)
      return fail(path + "." + std::string(key),
                  "expected a non-negative integer");
    out = static_cast<size_t>(v->asInt());
    return true;
  }
  bool getId(const Value &v, const std::string &field, int32_t &out) {
    // Ids index dense tables; 2^24 is far above any real vocabulary and keeps
    // a bad id from allocating gigabytes.
    if (!v.isNumber())
      return wrongKind(field, v, "integer id");
    if (!v.isInteger() || v.asInt() < 0 || v.asInt() >= (1 << 24))
      return fail(field, "expected an integer id in [0, 16777216)");
    out = static_cast<int32_t>(v.asInt());
    return true;
  }
  bool getType(const Value &v, const std::string &path, std::string &type) {
    if (!v.isObject())
      return wrongKind(path, v, "object");
    return getString(v, path, "type", true, type);
  }
  bool getSingleChar(const Value &obj, const std::string &path,
                     std::string_view key, std::string &out) {
    if (!getString(obj, path, key, true, out))
      return false;
    if (utf8::charCount(out) != 1)
      return fail(path + "." + std::string(key),
                  "expected a single character, got " + quote(out));
    return true;
  }
  bool getPattern(const Value &obj, const std::string &path, std::string &out) {
    const Value *p;
    if (!member(obj, path, "pattern", Value::Kind::Object, true, p))
      return false;
    if (p->get("Regex"))
      return fail(path + ".pattern",
                  "Regex patterns are not supported (only String)");
    if (!getString(*p, path + ".pattern", "String", true, out))
      return false;
    if (out.empty())
      return fail(path + ".pattern.String", "empty pattern");
    return true;
  }
  bool getPrependScheme(const Value &obj, const std::string &path,
                        PrependScheme &out) {
    std::string scheme;
    if (!getString(obj, path, "prepend_scheme", false, scheme))
      return false;
    // Older files carry add_prefix_space instead; false means "never".
    bool addPrefix = true;
    if (!getBool(obj, path, "add_prefix_space", addPrefix))
      return false;
    if (scheme.empty()) {
      out = addPrefix ? PrependScheme::Always : PrependScheme::Never;
    } else if (scheme == "always") {
      out = PrependScheme::Always;
    } else if (scheme == "first") {
      out = PrependScheme::First;
    } else if (scheme == "never") {
      out = PrependScheme::Never;
    } else {
      return fail(path + ".prepend_scheme",
                  "unknown prepend scheme " + quote(scheme) +
                      " (expected 'always', 'first' or 'never')");
    }
    if (!addPrefix && out != PrependScheme::Never)
      return fail(path + ".add_prefix_space",
                  "false does not match prepend_scheme " + quote(scheme));
    return true;
  }

  bool loadModel(const Value &model);
  bool loadAddedTokens(const Value &root);
  bool loadNormalizer(const Value &v, const std::string &path);
  bool loadPreTokenizer(const Value &v, const std::string &path);
  bool loadPostProcessor(const Value &v, const std::string &path);
  bool loadDecoder(const Value &v, const std::string &path);
  void buildTables();
};

bool Loader::load(const Value &root) {
  if (!root.isObject()) {
    err = m.name + ": expected a JSON object at the top level, got " +
          json::kindName(root.kind());
    return false;
  }
  const Value *model;
  if (!member(root, "", "model", Value::Kind::Object, true, model) ||
      !loadModel(*model) || !loadAddedTokens(root))
    return false;
  buildTables();
  if (const Value *n = root.get("normalizer"); n && !n->isNull())
    if (!loadNormalizer(*n, "normalizer"))
      return false;
  if (const Value *p = root.get("pre_tokenizer"); p && !p->isNull())
    if (!loadPreTokenizer(*p, "pre_tokenizer"))
      return false;
  if (const Value *p = root.get("post_processor"); p && !p->isNull())
    if (!loadPostProcessor(*p, "post_processor"))
      return false;
  if (const Value *d = root.get("decoder"); d && !d->isNull()) {
    m.hasDecoder = true;
    if (!loadDecoder(*d, "decoder"))
      return false;
    bool fused = false;
    for (DecoderStep &s : m.decoders) {
      s.fused = fused;
      fused |= s.kind == DecoderStep::Fuse;
    }
  }
  if (m.bos < 0) {
    auto it = m.addedToId.find("<s>");
    if (it != m.addedToId.end())
      m.bos = it->second;
    else if (auto v = m.vocab.find("<s>"); v != m.vocab.end())
      m.bos = v->second;
  }
  return true;
}

bool Loader::loadModel(const Value &model) {
  std::string type;
  if (!getString(model, "model", "type", false, type))
    return false;
  // Files written by old versions have no "type"; a vocab with merges is BPE.
  if (type.empty() && !model.get("merges"))
    return fail("model.type", "missing");
  if (!type.empty() && type != "BPE")
    return fail("model.type",
                "unsupported model type " + quote(type) + " (only 'BPE')");

  if (const Value *d = model.get("dropout"); d && !d->isNull()) {
    if (!d->isNumber())
      return wrongKind("model.dropout", *d, "number or null");
    // Dropout makes encoding random; it is a training-time option.
    if (d->asDouble() != 0)
      return fail("model.dropout", "BPE dropout is not supported");
  }
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    std::string s;
    if (!getString(model, "model", key, false, s))
      return false;
    if (!s.empty())
      return fail(std::string("model.") + key, "is not supported (only null)");
  }
  if (!getBool(model, "model", "fuse_unk", m.fuseUnk) ||
      !getBool(model, "model", "byte_fallback", m.byteFallback) ||
      !getBool(model, "model", "ignore_merges", m.ignoreMerges))
    return false;

  const Value *vocab;
  if (!member(model, "model", "vocab", Value::Kind::Object, true, vocab))
    return false;
  int32_t maxId = -1;
  std::unordered_map<int32_t, const std::string *> seen;
  for (const auto &[tok, idv] : vocab->members()) {
    std::string field = "model.vocab[" + quote(tok) + "]";
    int32_t id;
    if (!getId(idv, field, id))
      return false;
    if (!m.vocab.emplace(tok, id).second)
      return fail(field, "duplicate token");
    auto [it, fresh] = seen.emplace(id, &tok);
    if (!fresh)
      return fail(field, "id " + std::to_string(id) + " is also used by " +
                             quote(*it->second));
    maxId = std::max(maxId, id);
  }
  m.size = maxId + 1;

  std::string unk;
  if (!getString(model, "model", "unk_token", false, unk))
    return false;
  if (!unk.empty()) {
    auto it = m.vocab.find(unk);
    if (it == m.vocab.end())
      return fail("model.unk_token",
                  "token " + quote(unk) + " is not in the vocabulary");
    m.unk = it->second;
  }

  const Value *merges;
  if (!member(model, "model", "merges", Value::Kind::Array, true, merges))
    return false;
  const auto &items = merges->items();
  m.merges.reserve(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    std::string field = "model.merges[" + std::to_string(i) + "]";
    const Value &item = items[i];
    std::string a, b;
    if (item.isString()) {
      // The older form "a b": split at the first space, like Hugging Face.
      const std::string &s = item.asString();
      size_t sp = s.find(' ');
      if (sp == std::string::npos)
        return fail(field, "expected \"left right\", got " + quote(s));
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    } else if (item.isArray()) {
      const auto &pair = item.items();
      if (pair.size() != 2 || !pair[0].isString() || !pair[1].isString())
        return fail(field, "expected a pair of two strings");
      a = pair[0].asString();
      b = pair[1].asString();
    } else {
      return wrongKind(field, item, "[left, right] pair or \"left right\"");
    }
    auto ia = m.vocab.find(a), ib = m.vocab.find(b);
    if (ia == m.vocab.end())
      return fail(field, "token " + quote(a) + " is not in the vocabulary");
    if (ib == m.vocab.end())
      return fail(field, "token " + quote(b) + " is not in the vocabulary");
    auto im = m.vocab.find(a + b);
    if (im == m.vocab.end())
      return fail(field,
                  "merged token " + quote(a + b) + " is not in the vocabulary");
    uint64_t key =
        (static_cast<uint64_t>(static_cast<uint32_t>(ia->second)) << 32) |
        static_cast<uint32_t>(ib->second);
    // A repeated pair takes its last rank, as the library's HashMap does.
    m.merges.set(key, MergeInfo{static_cast<uint32_t>(i), im->second});
  }
  return true;
}

bool Loader::loadAddedTokens(const Value &root) {
  const Value *list;
  if (!member(root, "", "added_tokens", Value::Kind::Array, false, list))
    return false;
  if (!list)
    return true;
  const auto &items = list->items();
  for (size_t i = 0; i < items.size(); ++i) {
    std::string path = "added_tokens[" + std::to_string(i) + "]";
    const Value &t = items[i];
    if (!t.isObject())
      return wrongKind(path, t, "object");
    AddedToken a;
    const Value *idv;
    if (!member(t, path, "id", Value::Kind::Number, true, idv) ||
        !getId(*idv, path + ".id", a.id) ||
        !getString(t, path, "content", true, a.content))
      return false;
    if (a.content.empty())
      return fail(path + ".content", "empty token");
    if (!getBool(t, path, "special", a.special))
      return false;
    a.normalized = !a.special; // the library's default
    if (!getBool(t, path, "normalized", a.normalized) ||
        !getBool(t, path, "lstrip", a.lstrip) ||
        !getBool(t, path, "rstrip", a.rstrip) ||
        !getBool(t, path, "single_word", a.singleWord))
      return false;
    m.size = std::max(m.size, a.id + 1);
    m.addedToId[a.content] = a.id;
    m.added.push_back(std::move(a));
  }
  return true;
}

void Loader::buildTables() {
  m.idToTok.assign(m.size, std::string());
  m.hasTok.assign(m.size, 0);
  m.special.assign(m.size, 0);
  for (const auto &[tok, id] : m.vocab) {
    m.idToTok[id] = tok;
    m.hasTok[id] = 1;
  }
  std::unordered_set<std::string> specialSet;
  for (const AddedToken &a : m.added) {
    m.idToTok[a.id] = a.content;
    m.hasTok[a.id] = 1;
    if (a.special)
      specialSet.insert(a.content);
  }
  // Decoding skips an id when its token's text is a special token's, which
  // is how the library tests it.
  for (int32_t id = 0; id < m.size; ++id)
    m.special[id] = m.hasTok[id] && specialSet.count(m.idToTok[id]);

  m.bmpToId.assign(0x10000, -1);
  std::fill(std::begin(m.byteToId), std::end(m.byteToId), -1);
  for (const auto &[tok, id] : m.vocab) {
    uint32_t cp;
    size_t len;
    if (!tok.empty() && utf8::decode(tok, 0, cp, len) && len == tok.size()) {
      if (cp < 0x10000)
        m.bmpToId[cp] = id;
      else
        m.charToId[cp] = id;
    }
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    auto it = m.vocab.find(name);
    if (it != m.vocab.end())
      m.byteToId[b] = it->second;
  }

  auto build = [&](AddedMatcher &matcher, bool normalized) {
    matcher.byFirstByte.assign(256, {});
    for (uint32_t i = 0; i < m.added.size(); ++i) {
      if (m.added[i].normalized != normalized)
        continue;
      matcher.byFirstByte[static_cast<uint8_t>(m.added[i].content[0])]
          .push_back(i);
      matcher.empty = false;
    }
    for (auto &bucket : matcher.byFirstByte)
      std::sort(bucket.begin(), bucket.end(), [&](uint32_t x, uint32_t y) {
        size_t lx = m.added[x].content.size(), ly = m.added[y].content.size();
        return lx != ly ? lx > ly : x < y;
      });
  };
  build(m.rawMatcher, false);
  build(m.normalizedMatcher, true);
}

bool Loader::loadNormalizer(const Value &v, const std::string &path) {
  std::string type;
  if (!getType(v, path, type))
    return false;
  if (type == "Sequence") {
    const Value *list;
    if (!member(v, path, "normalizers", Value::Kind::Array, true, list))
      return false;
    for (size_t i = 0; i < list->items().size(); ++i)
      if (!loadNormalizer(list->items()[i],
                          path + ".normalizers[" + std::to_string(i) + "]"))
        return false;
    return true;
  }
  NormalizerStep s;
  if (type == "Prepend") {
    s.kind = NormalizerStep::Prepend;
    if (!getString(v, path, "prepend", true, s.text))
      return false;
  } else if (type == "Replace") {
    s.kind = NormalizerStep::Replace;
    if (!getPattern(v, path, s.text) ||
        !getString(v, path, "content", true, s.content))
      return false;
  } else {
    return fail(path + ".type", "unsupported normalizer " + quote(type) +
                                    " (supported: Sequence, Prepend, Replace)");
  }
  m.normalizer.push_back(std::move(s));
  return true;
}

bool Loader::loadPreTokenizer(const Value &v, const std::string &path) {
  std::string type;
  if (!getType(v, path, type))
    return false;
  if (type == "Sequence") {
    const Value *list;
    if (!member(v, path, "pretokenizers", Value::Kind::Array, true, list))
      return false;
    for (size_t i = 0; i < list->items().size(); ++i)
      if (!loadPreTokenizer(list->items()[i],
                            path + ".pretokenizers[" + std::to_string(i) + "]"))
        return false;
    return true;
  }
  if (type != "Metaspace")
    return fail(path + ".type", "unsupported pre-tokenizer " + quote(type) +
                                    " (supported: Metaspace)");
  if (m.metaspace)
    return fail(path, "only one Metaspace pre-tokenizer is supported");
  m.metaspace = true;
  return getSingleChar(v, path, "replacement", m.msReplacement) &&
         getPrependScheme(v, path, m.msScheme) &&
         getBool(v, path, "split", m.msSplit);
}

bool Loader::loadPostProcessor(const Value &v, const std::string &path) {
  std::string type;
  if (!getType(v, path, type))
    return false;
  if (type != "TemplateProcessing")
    return fail(path + ".type", "unsupported post-processor " + quote(type) +
                                    " (supported: TemplateProcessing)");
  const Value *single, *specials;
  if (!member(v, path, "single", Value::Kind::Array, true, single) ||
      !member(v, path, "special_tokens", Value::Kind::Object, true, specials))
    return false;
  bool sawSequence = false;
  for (size_t i = 0; i < single->items().size(); ++i) {
    std::string field = path + ".single[" + std::to_string(i) + "]";
    const Value &piece = single->items()[i];
    if (!piece.isObject())
      return wrongKind(field, piece, "object");
    if (const Value *seq = piece.get("Sequence")) {
      std::string id;
      if (!seq->isObject())
        return wrongKind(field + ".Sequence", *seq, "object");
      if (!getString(*seq, field + ".Sequence", "id", true, id))
        return false;
      if (id != "A")
        return fail(field + ".Sequence.id",
                    "a single-sequence template can only hold 'A'");
      if (sawSequence)
        return fail(field, "sequence 'A' appears twice");
      sawSequence = true;
      continue;
    }
    const Value *sp = piece.get("SpecialToken");
    if (!sp)
      return fail(field, "expected 'Sequence' or 'SpecialToken'");
    if (!sp->isObject())
      return wrongKind(field + ".SpecialToken", *sp, "object");
    std::string name;
    if (!getString(*sp, field + ".SpecialToken", "id", true, name))
      return false;
    const Value *entry = specials->get(name);
    std::string entryPath = path + ".special_tokens[" + quote(name) + "]";
    if (!entry)
      return fail(field + ".SpecialToken.id",
                  "special token " + quote(name) +
                      " is not in post_processor.special_tokens");
    if (!entry->isObject())
      return wrongKind(entryPath, *entry, "object");
    const Value *ids;
    if (!member(*entry, entryPath, "ids", Value::Kind::Array, true, ids))
      return false;
    for (size_t k = 0; k < ids->items().size(); ++k) {
      std::string idField = entryPath + ".ids[" + std::to_string(k) + "]";
      int32_t id;
      if (!getId(ids->items()[k], idField, id))
        return false;
      if (id >= m.size || !m.hasTok[id])
        return fail(idField, "id " + std::to_string(id) + " has no token");
      (sawSequence ? m.suffixIds : m.prefixIds).push_back(id);
    }
  }
  if (!sawSequence)
    return fail(path + ".single", "the template has no sequence 'A'");
  if (!m.prefixIds.empty())
    m.bos = m.prefixIds.front();
  return true;
}

bool Loader::loadDecoder(const Value &v, const std::string &path) {
  std::string type;
  if (!getType(v, path, type))
    return false;
  if (type == "Sequence") {
    const Value *list;
    if (!member(v, path, "decoders", Value::Kind::Array, true, list))
      return false;
    for (size_t i = 0; i < list->items().size(); ++i)
      if (!loadDecoder(list->items()[i],
                       path + ".decoders[" + std::to_string(i) + "]"))
        return false;
    return true;
  }
  DecoderStep s;
  if (type == "Replace") {
    s.kind = DecoderStep::Replace;
    if (!getPattern(v, path, s.pattern) ||
        !getString(v, path, "content", true, s.content))
      return false;
  } else if (type == "ByteFallback") {
    s.kind = DecoderStep::ByteFallback;
  } else if (type == "Fuse") {
    s.kind = DecoderStep::Fuse;
  } else if (type == "Strip") {
    s.kind = DecoderStep::Strip;
    if (!getSingleChar(v, path, "content", s.pattern) ||
        !getCount(v, path, "start", true, s.start) ||
        !getCount(v, path, "stop", true, s.stop))
      return false;
  } else if (type == "Metaspace") {
    s.kind = DecoderStep::Metaspace;
    bool split = true;
    if (!getSingleChar(v, path, "replacement", s.pattern) ||
        !getPrependScheme(v, path, s.scheme) ||
        !getBool(v, path, "split", split))
      return false;
  } else {
    return fail(path + ".type",
                "unsupported decoder " + quote(type) +
                    " (supported: Sequence, Replace, ByteFallback, Fuse, "
                    "Strip, Metaspace)");
  }
  m.decoders.push_back(std::move(s));
  return true;
}

} // namespace

bool Tokenizer::loadFromString(std::string_view text, const std::string &name,
                               Tokenizer &out, std::string &err) {
  json::Value root;
  std::string perr;
  if (!json::parse(text, root, perr)) {
    err = name + ": " + perr;
    return false;
  }
  auto m = std::make_shared<Impl>();
  m->name = name;
  Loader loader(*m, err);
  if (!loader.load(root))
    return false;
  out.impl = std::move(m);
  return true;
}

bool Tokenizer::load(const std::string &path, Tokenizer &out,
                     std::string &err) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    err = path + ": cannot open file: " + std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    text.append(buf, n);
  bool readError = std::ferror(f);
  std::fclose(f);
  if (readError) {
    err = path + ": read error";
    return false;
  }
  return loadFromString(text, path, out, err);
}

//===----------------------------------------------------------------------===//
// Encoding
//===----------------------------------------------------------------------===//

namespace {

/// Splits `text` on the added tokens of `matcher` (find_matches in
/// added_vocabulary.rs): calls emit(id, begin, end) in order, id -1 for the
/// text between tokens. lstrip/rstrip widen a match over adjacent whitespace;
/// a single_word token only matches between non-word characters.
template <typename Emit>
void splitOnAdded(const Tokenizer::Impl &m, const AddedMatcher &matcher,
                  std::string_view text, Emit emit) {
  if (matcher.empty) {
    emit(-1, 0, text.size());
    return;
  }
  size_t offset = 0; // end of what has been emitted
  size_t i = 0;
  while (i < text.size()) {
    const auto &bucket = matcher.byFirstByte[static_cast<uint8_t>(text[i])];
    const AddedToken *hit = nullptr;
    for (uint32_t k : bucket) {
      const std::string &c = m.added[k].content;
      if (text.compare(i, c.size(), c) == 0) {
        hit = &m.added[k];
        break; // longest first
      }
    }
    if (!hit) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + hit->content.size();
    i = stop; // matches never overlap
    if (hit->singleWord) {
      bool startOk = start == 0 || !isWordChar(lastChar(text.substr(0, start)));
      uint32_t next;
      size_t clen;
      bool stopOk = stop == text.size() ||
                    !(utf8::decode(text, stop, next, clen) && isWordChar(next));
      if (!startOk || !stopOk)
        continue;
    }
    if (hit->lstrip) {
      size_t s = start;
      while (s > offset) {
        size_t p = s - 1;
        while (p > 0 && (static_cast<uint8_t>(text[p]) & 0xC0) == 0x80)
          --p;
        uint32_t cp;
        size_t len;
        if (!utf8::decode(text, p, cp, len) || !isWhitespace(cp))
          break;
        s = p;
      }
      start = s;
    }
    if (hit->rstrip) {
      uint32_t cp;
      size_t len;
      while (stop < text.size() && utf8::decode(text, stop, cp, len) &&
             isWhitespace(cp))
        stop += len;
      i = stop;
    }
    if (offset < start)
      emit(-1, offset, start);
    emit(hit->id, start, stop);
    offset = stop;
  }
  if (offset < text.size() || text.empty())
    emit(-1, offset, text.size());
}

struct Symbol {
  int32_t id;
  int32_t prev, next;
  bool alive;
};

struct Candidate {
  uint32_t rank;
  uint32_t pos;
  int32_t merged;
};

/// Priority order of the library's Merge: lowest rank, then leftmost.
struct CandidateOrder {
  bool operator()(const Candidate &a, const Candidate &b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  }
};

inline uint64_t pairKey(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) |
         static_cast<uint32_t>(b);
}

/// Word::merge_all: a heap of adjacent pairs keyed by (rank, position) over a
/// linked list of symbols, O(n log n) in the word length. An entry is stale
/// when its left symbol was merged away or its pair no longer produces the
/// same token; the test is the library's, so results agree even for vocabs
/// where two different pairs merge into the same token.
void heapMerge(const Tokenizer::Impl &m, std::vector<int32_t> &ids) {
  size_t n = ids.size();
  if (n < 2)
    return;
  // Buffers kept per thread: encode() is const and may run concurrently, and
  // reallocating them for every word showed up in profiles.
  thread_local std::vector<Symbol> sym;
  thread_local std::vector<Candidate> heap;
  sym.resize(n);
  for (size_t i = 0; i < n; ++i)
    sym[i] = Symbol{ids[i], static_cast<int32_t>(i) - 1,
                    i + 1 < n ? static_cast<int32_t>(i + 1) : -1, true};
  heap.clear();
  CandidateOrder order;
  auto consider = [&](int32_t left) {
    int32_t right = sym[left].next;
    if (const MergeInfo *mi =
            m.merges.find(pairKey(sym[left].id, sym[right].id))) {
      heap.push_back(
          Candidate{mi->rank, static_cast<uint32_t>(left), mi->merged});
      std::push_heap(heap.begin(), heap.end(), order);
    }
  };
  for (size_t i = 0; i + 1 < n; ++i)
    consider(static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), order);
    Candidate top = heap.back();
    heap.pop_back();
    Symbol &left = sym[top.pos];
    if (!left.alive || left.next < 0)
      continue;
    Symbol &right = sym[left.next];
    const MergeInfo *mi = m.merges.find(pairKey(left.id, right.id));
    if (!mi || mi->merged != top.merged)
      continue;
    left.id = top.merged;
    right.alive = false;
    left.next = right.next;
    if (left.next >= 0)
      sym[left.next].prev = static_cast<int32_t>(top.pos);
    if (left.prev >= 0)
      consider(left.prev);
    if (left.next >= 0)
      consider(static_cast<int32_t>(top.pos));
  }
  ids.clear();
  for (int32_t i = 0; i >= 0; i = sym[i].next)
    ids.push_back(sym[i].id);
}

} // namespace

void Tokenizer::tokenizeWord(std::string_view word, std::vector<int32_t> &out,
                             const WordMerger *merger,
                             std::vector<int32_t> &symbols) const {
  const Impl &m = *impl;
  if (word.empty())
    return;
  if (m.ignoreMerges) {
    auto it = m.vocab.find(std::string(word));
    if (it != m.vocab.end()) {
      out.push_back(it->second);
      return;
    }
  }
  // BPE::merge_word: one symbol per character; a character missing from the
  // vocabulary becomes its byte tokens, else <unk>; consecutive unknowns fuse
  // into one <unk> with fuse_unk. Like the library, a pending <unk> is only
  // flushed by a known character, not by byte-fallback tokens.
  symbols.clear();
  bool pendingUnk = false;
  size_t len;
  for (size_t i = 0; i < word.size(); i += len) {
    uint32_t cp;
    int32_t id = -1;
    if (utf8::decode(word, i, cp, len)) {
      if (cp < 0x10000) {
        id = m.bmpToId[cp];
      } else {
        auto it = m.charToId.find(cp);
        if (it != m.charToId.end())
          id = it->second;
      }
    }
    if (id >= 0) {
      if (pendingUnk) {
        symbols.push_back(m.unk);
        pendingUnk = false;
      }
      symbols.push_back(id);
      continue;
    }
    if (m.byteFallback) {
      bool all = true;
      for (size_t k = 0; k < len; ++k)
        all &= m.byteToId[static_cast<uint8_t>(word[i + k])] >= 0;
      if (all) {
        for (size_t k = 0; k < len; ++k)
          symbols.push_back(m.byteToId[static_cast<uint8_t>(word[i + k])]);
        continue;
      }
    }
    if (m.unk >= 0) {
      if (pendingUnk && !m.fuseUnk)
        symbols.push_back(m.unk);
      pendingUnk = true;
    }
    // Without an unk token the character is dropped, as in the library.
  }
  if (pendingUnk)
    symbols.push_back(m.unk);

  if (merger)
    (*merger)(*this, symbols);
  else
    heapMerge(m, symbols);
  out.insert(out.end(), symbols.begin(), symbols.end());
}

std::vector<int32_t> Tokenizer::encode(std::string_view text,
                                       bool addSpecial) const {
  return encodeWith(text, addSpecial, nullptr);
}

std::vector<int32_t> Tokenizer::encodeWith(std::string_view text,
                                           bool addSpecial,
                                           const WordMerger &merger) const {
  std::vector<int32_t> out;
  if (!impl)
    return out;
  const Impl &m = *impl;
  const WordMerger *mergerPtr = merger ? &merger : nullptr;
  std::vector<int32_t> symbols;
  if (addSpecial)
    out.insert(out.end(), m.prefixIds.begin(), m.prefixIds.end());

  // Pre-tokenizer on one normalized piece; `atStart` says whether the piece
  // begins at offset 0 of the original text (Metaspace's "first" scheme).
  auto preTokenize = [&](std::string_view piece, bool atStart) {
    if (!m.metaspace) {
      tokenizeWord(piece, out, mergerPtr, symbols);
      return;
    }
    std::string s = replaceAll(piece, " ", m.msReplacement);
    bool prepend = m.msScheme == PrependScheme::Always ||
                   (m.msScheme == PrependScheme::First && atStart);
    if (prepend && !s.empty() && !startsWith(s, m.msReplacement))
      s.insert(0, m.msReplacement);
    if (!m.msSplit) {
      tokenizeWord(s, out, mergerPtr, symbols);
      return;
    }
    // SplitDelimiterBehavior::MergedWithNext: each replacement character
    // starts a new word.
    std::string_view sv = s;
    size_t begin = 0;
    while (begin < sv.size()) {
      size_t next = sv.find(m.msReplacement, begin + 1);
      if (next == std::string_view::npos)
        next = sv.size();
      tokenizeWord(sv.substr(begin, next - begin), out, mergerPtr, symbols);
      begin = next;
    }
  };

  // Text between raw-matched added tokens is normalized on its own, then
  // split again on the added tokens that match normalized text.
  splitOnAdded(m, m.rawMatcher, text, [&](int32_t id, size_t b, size_t e) {
    if (id >= 0) {
      out.push_back(id);
      return;
    }
    std::string norm(text.substr(b, e - b));
    for (const NormalizerStep &step : m.normalizer) {
      if (step.kind == NormalizerStep::Prepend) {
        if (!norm.empty())
          norm.insert(0, step.text);
      } else {
        norm = replaceAll(norm, step.text, step.content);
      }
    }
    bool segmentAtStart = b == 0;
    splitOnAdded(m, m.normalizedMatcher, norm,
                 [&](int32_t id2, size_t b2, size_t e2) {
                   if (id2 >= 0)
                     out.push_back(id2);
                   else
                     preTokenize(std::string_view(norm).substr(b2, e2 - b2),
                                 segmentAtStart && b2 == 0);
                 });
  });

  if (addSpecial)
    out.insert(out.end(), m.suffixIds.begin(), m.suffixIds.end());
  return out;
}

bool Tokenizer::findMerge(int32_t left, int32_t right, uint32_t &rank,
                          int32_t &merged) const {
  if (!impl)
    return false;
  const MergeInfo *mi = impl->merges.find(pairKey(left, right));
  if (!mi)
    return false;
  rank = mi->rank;
  merged = mi->merged;
  return true;
}

//===----------------------------------------------------------------------===//
// Vocabulary queries
//===----------------------------------------------------------------------===//

int32_t Tokenizer::bosId() const { return impl ? impl->bos : -1; }

int32_t Tokenizer::eosId() const { return tokenToId("</s>"); }

int32_t Tokenizer::unkId() const { return impl ? impl->unk : -1; }

int32_t Tokenizer::vocabSize() const { return impl ? impl->size : 0; }

int32_t Tokenizer::tokenToId(std::string_view token) const {
  if (!impl)
    return -1;
  std::string key(token);
  auto a = impl->addedToId.find(key);
  if (a != impl->addedToId.end())
    return a->second;
  auto v = impl->vocab.find(key);
  return v != impl->vocab.end() ? v->second : -1;
}

const std::string *Tokenizer::idToToken(int32_t id) const {
  if (!impl || id < 0 || id >= impl->size || !impl->hasTok[id])
    return nullptr;
  return &impl->idToTok[id];
}

bool Tokenizer::isSpecial(int32_t id) const {
  return impl && id >= 0 && id < impl->size && impl->special[id];
}

std::vector<std::string>
Tokenizer::tokens(const std::vector<int32_t> &ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string *t = idToToken(id);
    out.push_back(t ? *t : std::string());
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Decoding
//===----------------------------------------------------------------------===//

namespace {

/// Strip decoder on one token: up to `start` leading and `stop` trailing
/// `content` characters. The library panics when both cuts overlap; here the
/// token just becomes empty.
std::string stripToken(std::string_view tok, const DecoderStep &s) {
  const std::string &c = s.pattern;
  size_t begin = 0, end = tok.size();
  for (size_t k = 0; k < s.start && startsWith(tok.substr(begin), c); ++k)
    begin += c.size();
  for (size_t k = 0;
       k < s.stop && end >= begin + c.size() && endsWith(tok.substr(0, end), c);
       ++k)
    end -= c.size();
  return std::string(tok.substr(begin, end - begin));
}

/// Metaspace decoder on the token at `index`: the replacement becomes a
/// space, except in the first token, where every replacement character is
/// dropped unless the scheme is "never" (decode_chain in metaspace.rs).
std::string metaspaceToken(std::string_view tok, const DecoderStep &s,
                           size_t index) {
  bool drop = index == 0 && s.scheme != PrependScheme::Never;
  return replaceAll(tok, s.pattern, drop ? "" : " ");
}

} // namespace

std::string Tokenizer::decode(const std::vector<int32_t> &ids,
                              bool skipSpecial) const {
  std::string text;
  if (!impl)
    return text;
  const Impl &m = *impl;
  std::vector<std::string> toks;
  toks.reserve(ids.size());
  for (int32_t id : ids) {
    const std::string *t = idToToken(id);
    if (t && !(skipSpecial && m.special[id]))
      toks.push_back(*t);
  }
  if (!m.hasDecoder) {
    // Without a decoder the library joins tokens with spaces.
    for (size_t i = 0; i < toks.size(); ++i)
      text += (i ? " " : "") + toks[i];
    return text;
  }
  // Each step is the library's decode_chain: a list of tokens in and out.
  for (const DecoderStep &s : m.decoders) {
    std::vector<std::string> next;
    next.reserve(toks.size());
    switch (s.kind) {
    case DecoderStep::Replace:
      for (const std::string &t : toks)
        next.push_back(replaceAll(t, s.pattern, s.content));
      break;
    case DecoderStep::ByteFallback: {
      std::string run;
      bool inRun = false;
      for (std::string &t : toks) {
        uint8_t b;
        if (parseByteToken(t, b)) {
          run += static_cast<char>(b);
          inRun = true;
          continue;
        }
        if (inRun)
          flushByteRun(run, next);
        run.clear();
        inRun = false;
        next.push_back(std::move(t));
      }
      if (inRun)
        flushByteRun(run, next);
      break;
    }
    case DecoderStep::Fuse: {
      std::string all;
      for (const std::string &t : toks)
        all += t;
      next.push_back(std::move(all));
      break;
    }
    case DecoderStep::Strip:
      for (const std::string &t : toks)
        next.push_back(stripToken(t, s));
      break;
    case DecoderStep::Metaspace:
      for (size_t i = 0; i < toks.size(); ++i)
        next.push_back(metaspaceToken(toks[i], s, i));
      break;
    }
    toks = std::move(next);
  }
  for (const std::string &t : toks)
    text += t;
  return text;
}

//===----------------------------------------------------------------------===//
// Streaming decoding
//===----------------------------------------------------------------------===//

// Every decoder step runs as a small transducer. Before a Fuse, pieces are
// whole tokens, handled exactly as in decode(); after it, pieces are chunks of
// the one fused token, and a step holds back only what the rest of the
// stream may still change.
struct StreamDecoder::State {
  struct Stage {
    std::string held;     // bytes of a byte run; undecided text
    bool inRun = false;   // ByteFallback: a byte run is open
    bool decided = false; // ByteFallback after Fuse: not a byte token
    size_t index = 0;     // Metaspace: tokens seen
    size_t startLeft = 0; // Strip after Fuse: leading chars still cuttable
    size_t heldChars = 0; // Strip after Fuse: trailing content chars held
  };
  std::vector<Stage> stages;
  size_t tokensOut = 0; // no decoder: tokens joined with spaces

  void reset(const Tokenizer::Impl &m) {
    stages.assign(m.decoders.size(), Stage());
    for (size_t i = 0; i < m.decoders.size(); ++i)
      stages[i].startLeft = m.decoders[i].start;
    tokensOut = 0;
  }

  void feed(const Tokenizer::Impl &m, size_t i, std::string_view piece,
            std::string &out);
  void flush(const Tokenizer::Impl &m, size_t i, std::string &out);
};

void StreamDecoder::State::feed(const Tokenizer::Impl &m, size_t i,
                                std::string_view piece, std::string &out) {
  if (i == m.decoders.size()) {
    if (!m.hasDecoder && tokensOut++ > 0)
      out += ' ';
    out.append(piece);
    return;
  }
  const DecoderStep &s = m.decoders[i];
  Stage &st = stages[i];
  switch (s.kind) {
  case DecoderStep::Replace:
    if (!s.fused) {
      feed(m, i + 1, replaceAll(piece, s.pattern, s.content), out);
      return;
    }
    {
      // Replace what is complete; keep the longest tail that may still grow
      // into the pattern.
      st.held.append(piece);
      std::string_view h = st.held;
      std::string ready;
      size_t pos = 0;
      while (true) {
        size_t hit = h.find(s.pattern, pos);
        if (hit == std::string_view::npos)
          break;
        ready.append(h.substr(pos, hit - pos));
        ready.append(s.content);
        pos = hit + s.pattern.size();
      }
      size_t keep = std::min(h.size() - pos, s.pattern.size() - 1);
      while (keep > 0 &&
             !startsWith(s.pattern, h.substr(h.size() - keep, keep)))
        --keep;
      ready.append(h.substr(pos, h.size() - keep - pos));
      st.held = std::string(h.substr(h.size() - keep));
      if (!ready.empty())
        feed(m, i + 1, ready, out);
    }
    return;
  case DecoderStep::ByteFallback: {
    uint8_t b;
    if (!s.fused) {
      if (parseByteToken(piece, b)) {
        st.held += static_cast<char>(b);
        st.inRun = true;
        return;
      }
      flush(m, i, out);
      feed(m, i + 1, piece, out);
      return;
    }
    // After Fuse the whole text is one token; it is a byte token only if it
    // is exactly "<0xHH>", so hold the first 6 bytes.
    if (st.decided) {
      feed(m, i + 1, piece, out);
      return;
    }
    st.held.append(piece);
    if (st.held.size() > 6) {
      st.decided = true;
      std::string h = std::move(st.held);
      st.held.clear();
      feed(m, i + 1, h, out);
    }
    return;
  }
  case DecoderStep::Fuse:
    feed(m, i + 1, piece, out);
    return;
  case DecoderStep::Strip: {
    if (!s.fused) {
      feed(m, i + 1, stripToken(piece, s), out);
      return;
    }
    std::string ready;
    uint32_t cp;
    size_t len;
    for (size_t k = 0; k < piece.size(); k += len) {
      if (!utf8::decode(piece, k, cp, len))
        len = 1;
      std::string_view ch = piece.substr(k, len);
      bool isContent = ch == s.pattern;
      if (st.startLeft > 0) {
        if (isContent) {
          --st.startLeft;
          continue;
        }
        st.startLeft = 0;
      }
      if (s.stop == 0) {
        ready.append(ch);
      } else if (isContent) {
        st.held.append(ch);
        if (++st.heldChars > s.stop) {
          ready.append(s.pattern);
          st.held.erase(0, s.pattern.size());
          --st.heldChars;
        }
      } else {
        ready.append(st.held);
        ready.append(ch);
        st.held.clear();
        st.heldChars = 0;
      }
    }
    if (!ready.empty())
      feed(m, i + 1, ready, out);
    return;
  }
  case DecoderStep::Metaspace:
    if (!s.fused) {
      feed(m, i + 1, metaspaceToken(piece, s, st.index++), out);
      return;
    }
    feed(m, i + 1, metaspaceToken(piece, s, 0), out);
    return;
  }
}

void StreamDecoder::State::flush(const Tokenizer::Impl &m, size_t i,
                                 std::string &out) {
  const DecoderStep &s = m.decoders[i];
  Stage &st = stages[i];
  switch (s.kind) {
  case DecoderStep::Replace:
    if (s.fused && !st.held.empty()) {
      std::string h = std::move(st.held);
      st.held.clear();
      feed(m, i + 1, h, out);
    }
    return;
  case DecoderStep::ByteFallback: {
    if (!s.fused) {
      if (!st.inRun)
        return;
      std::vector<std::string> pieces;
      flushByteRun(st.held, pieces);
      st.held.clear();
      st.inRun = false;
      for (const std::string &p : pieces)
        feed(m, i + 1, p, out);
      return;
    }
    if (st.decided)
      return;
    std::string h = std::move(st.held);
    st.held.clear();
    st.decided = true;
    uint8_t b;
    if (parseByteToken(h, b)) {
      std::vector<std::string> pieces;
      flushByteRun(std::string(1, static_cast<char>(b)), pieces);
      h = pieces[0];
    }
    feed(m, i + 1, h, out);
    return;
  }
  case DecoderStep::Strip:
    // Trailing content characters still held are exactly what Strip cuts.
    st.held.clear();
    st.heldChars = 0;
    return;
  case DecoderStep::Fuse:
  case DecoderStep::Metaspace:
    return;
  }
}

StreamDecoder::StreamDecoder(const Tokenizer &tok, bool skipSpecial)
    : tok(tok), skipSpecial(skipSpecial), state(std::make_unique<State>()) {
  if (tok.impl)
    state->reset(*tok.impl);
}

StreamDecoder::~StreamDecoder() = default;

std::string StreamDecoder::push(int32_t id) {
  std::string out;
  const std::string *t = tok.idToToken(id);
  if (!t || (skipSpecial && tok.isSpecial(id)))
    return out;
  state->feed(*tok.impl, 0, *t, out);
  return out;
}

std::string StreamDecoder::finish() {
  std::string out;
  if (!tok.impl)
    return out;
  for (size_t i = 0; i < tok.impl->decoders.size(); ++i)
    state->flush(*tok.impl, i, out);
  state->reset(*tok.impl);
  return out;
}

} // namespace zamba2
