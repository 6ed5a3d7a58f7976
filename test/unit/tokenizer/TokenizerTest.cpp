//===- TokenizerTest.cpp - tokenizer.json encode/decode units -------------===//
//
// Golden values come from the fixtures' cases.json, produced by the Hugging
// Face tokenizers library; nothing here is compared against this library's own
// earlier output.
//
//===----------------------------------------------------------------------===//
#include "runtime/tokenizer/Tokenizer.h"
#include "runtime/Json.h"
#include "runtime/Utf8.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

using namespace zamba2;

namespace {

std::string fixtureDir(const std::string &name) {
  return std::string(ZAMBA2_FIXTURES_DIR) + "/tokenizers/" + name;
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

json::Value readJson(const std::string &path) {
  json::Value v;
  std::string err;
  EXPECT_TRUE(json::parse(readFile(path), v, err)) << path << ": " << err;
  return v;
}

std::vector<int32_t> idList(const json::Value &v) {
  std::vector<int32_t> out;
  for (const json::Value &x : v.items())
    out.push_back(static_cast<int32_t>(x.asInt()));
  return out;
}

std::vector<std::string> stringList(const json::Value &v) {
  std::vector<std::string> out;
  for (const json::Value &x : v.items())
    out.push_back(x.asString());
  return out;
}

/// Decodes `ids` through a StreamDecoder one id at a time; checks that every
/// piece is complete UTF-8.
std::string streamDecode(const Tokenizer &tok, const std::vector<int32_t> &ids,
                         bool skipSpecial, StreamDecoder *reuse = nullptr) {
  StreamDecoder own(tok, skipSpecial);
  StreamDecoder &dec = reuse ? *reuse : own;
  std::string text;
  for (int32_t id : ids) {
    std::string piece = dec.push(id);
    EXPECT_TRUE(utf8::isValid(piece)) << "partial UTF-8 after id " << id;
    text += piece;
  }
  std::string rest = dec.finish();
  EXPECT_TRUE(utf8::isValid(rest));
  return text + rest;
}

/// The textbook quadratic merge loop, to cross-check the heap loop.
void naiveMerge(const Tokenizer &tok, std::vector<int32_t> &s) {
  while (s.size() > 1) {
    uint32_t best = std::numeric_limits<uint32_t>::max(), rank;
    size_t pos = 0;
    int32_t id = -1, merged;
    for (size_t i = 0; i + 1 < s.size(); ++i)
      if (tok.findMerge(s[i], s[i + 1], rank, merged) && rank < best)
        best = rank, pos = i, id = merged;
    if (id < 0)
      break;
    s[pos] = id;
    s.erase(s.begin() + pos + 1);
  }
}

/// Mutable reference to member `key` (set() hands back the stored value).
json::Value &memberRef(json::Value &obj, const std::string &key) {
  const json::Value *v = obj.get(key);
  return obj.set(key, v ? *v : json::Value());
}

class Fixture : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    std::string err;
    ASSERT_TRUE(
        Tokenizer::load(fixtureDir(GetParam()) + "/tokenizer.json", tok, err))
        << err;
    cases = readJson(fixtureDir(GetParam()) + "/cases.json");
    ASSERT_TRUE(cases.isObject());
  }
  Tokenizer tok;
  json::Value cases;

  const std::vector<json::Value> &textCases() const {
    return cases.get("cases")->items();
  }
  const std::vector<json::Value> &decodeCases() const {
    return cases.get("decode_cases")->items();
  }
  /// Every id list of cases.json.
  std::vector<std::vector<int32_t>> allIdLists() const {
    std::vector<std::vector<int32_t>> out;
    for (const json::Value &c : textCases()) {
      out.push_back(idList(*c.get("ids")));
      out.push_back(idList(*c.get("ids_with_bos")));
    }
    for (const json::Value &c : decodeCases())
      out.push_back(idList(*c.get("ids")));
    return out;
  }
};

TEST_P(Fixture, EncodeCases) {
  ASSERT_GE(textCases().size(), 20u);
  for (const json::Value &c : textCases()) {
    const std::string &text = c.get("text")->asString();
    SCOPED_TRACE("text: " + text);
    std::vector<int32_t> ids = idList(*c.get("ids"));
    EXPECT_EQ(tok.encode(text, false), ids);
    EXPECT_EQ(tok.encode(text, true), idList(*c.get("ids_with_bos")));
    EXPECT_EQ(tok.tokens(ids), stringList(*c.get("tokens")));
  }
}

TEST_P(Fixture, DecodeCases) {
  for (const json::Value &c : textCases()) {
    SCOPED_TRACE("text: " + c.get("text")->asString());
    EXPECT_EQ(tok.decode(idList(*c.get("ids")), true),
              c.get("decoded")->asString());
    EXPECT_EQ(tok.decode(idList(*c.get("ids_with_bos")), true),
              c.get("decoded_with_bos_skip_special")->asString());
  }
  ASSERT_GE(decodeCases().size(), 4u);
  for (const json::Value &c : decodeCases()) {
    std::vector<int32_t> ids = idList(*c.get("ids"));
    SCOPED_TRACE("ids: " + json::write(*c.get("ids")));
    EXPECT_EQ(tok.decode(ids, false), c.get("decoded")->asString());
    EXPECT_EQ(tok.decode(ids, true), c.get("decoded_skip_special")->asString());
  }
}

TEST_P(Fixture, StreamingEqualsFullDecode) {
  StreamDecoder reused(tok, true);
  for (const std::vector<int32_t> &ids : allIdLists()) {
    for (bool skip : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "skip " << skip << " ids "
                                        << ::testing::PrintToString(ids));
      EXPECT_EQ(streamDecode(tok, ids, skip), tok.decode(ids, skip));
    }
    // finish() leaves the decoder ready for the next sequence.
    EXPECT_EQ(streamDecode(tok, ids, true, &reused), tok.decode(ids, true));
  }
}

TEST_P(Fixture, StreamingRandomIds) {
  // Random runs mixing byte tokens (valid and broken UTF-8), specials,
  // metaspace tokens and ordinary tokens.
  uint64_t state = 12345;
  auto next = [&]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  int32_t space = tok.tokenToId("\xE2\x96\x81"); // "▁"
  ASSERT_GE(space, 0);
  for (int round = 0; round < 3000; ++round) {
    std::vector<int32_t> ids(next() % 24);
    for (int32_t &id : ids) {
      switch (next() % 6) {
      case 0:
        id = static_cast<int32_t>(next() % 3); // <unk> <s> </s>
        break;
      case 1:
      case 2:
        id = 3 + static_cast<int32_t>(next() % 256); // byte tokens
        break;
      case 3:
        id = 3 + 0xC3 + static_cast<int32_t>(next() % 3) * 0x10; // leads
        break;
      case 4:
        id = space;
        break;
      default:
        id = static_cast<int32_t>(next() % tok.vocabSize());
      }
    }
    bool skip = next() % 2;
    std::string full = tok.decode(ids, skip);
    ASSERT_EQ(streamDecode(tok, ids, skip), full)
        << ::testing::PrintToString(ids);
    ASSERT_TRUE(utf8::isValid(full));
  }
}

TEST_P(Fixture, StreamingEmitsEarly) {
  // Ordinary tokens come out as soon as they are pushed (no hidden buffering
  // beyond what the full decode depends on).
  StreamDecoder dec(tok, true);
  std::string text;
  for (int32_t id : tok.encode("Hello world", true))
    text += dec.push(id);
  EXPECT_EQ(text, "Hello world");
  EXPECT_EQ(dec.finish(), "");
  // A byte run waits for its end: a later byte could still break it.
  std::vector<int32_t> smile = {3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80};
  for (int32_t id : smile)
    EXPECT_EQ(dec.push(id), "");
  EXPECT_EQ(dec.finish(), "\xF0\x9F\x98\x80");
}

TEST_P(Fixture, HeapMergeMatchesNaiveLoop) {
  uint64_t state = 99;
  auto next = [&]() {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(state >> 33);
  };
  const char *pieces[] = {"the ", "re", "ing", "  ", "\n",  "é", "語", "ab",
                          "x",    "e",  "s ",  "q",  "<s>", "😀", "on", "in"};
  for (int round = 0; round < 300; ++round) {
    std::string text;
    size_t n = next() % 200;
    for (size_t k = 0; k < n; ++k)
      text += pieces[next() % (sizeof pieces / sizeof pieces[0])];
    ASSERT_EQ(tok.encode(text, true), tok.encodeWith(text, true, naiveMerge))
        << text;
  }
}

TEST_P(Fixture, MergesAsStrings) {
  json::Value root = readJson(fixtureDir(GetParam()) + "/tokenizer.json");
  ASSERT_NE(root.get("model"), nullptr);
  json::Value *model = &memberRef(root, "model");
  json::Value merges = json::Value::array();
  for (const json::Value &pair : model->get("merges")->items())
    merges.push(json::Value::string(pair.items()[0].asString() + " " +
                                    pair.items()[1].asString()));
  model->set("merges", merges);
  Tokenizer legacy;
  std::string err;
  ASSERT_TRUE(
      Tokenizer::loadFromString(json::write(root), "legacy.json", legacy, err))
      << err;
  for (const json::Value &c : textCases()) {
    const std::string &text = c.get("text")->asString();
    EXPECT_EQ(legacy.encode(text, false), idList(*c.get("ids"))) << text;
    EXPECT_EQ(legacy.encode(text, true), idList(*c.get("ids_with_bos")));
  }
}

TEST_P(Fixture, VocabularyQueries) {
  EXPECT_EQ(tok.vocabSize(), cases.get("vocab_size")->asInt());
  EXPECT_EQ(tok.bosId(), 1);
  EXPECT_EQ(tok.eosId(), 2);
  EXPECT_EQ(tok.unkId(), 0);
  EXPECT_EQ(tok.tokenToId("<s>"), 1);
  EXPECT_EQ(tok.tokenToId("<0x41>"), 3 + 0x41);
  EXPECT_EQ(tok.tokenToId("no such token"), -1);
  ASSERT_NE(tok.idToToken(2), nullptr);
  EXPECT_EQ(*tok.idToToken(2), "</s>");
  EXPECT_EQ(tok.idToToken(-1), nullptr);
  EXPECT_EQ(tok.idToToken(tok.vocabSize()), nullptr);
  EXPECT_TRUE(tok.isSpecial(0));
  EXPECT_TRUE(tok.isSpecial(1));
  EXPECT_FALSE(tok.isSpecial(3 + 0x41));
  // Ids without a token are dropped, as the library does.
  EXPECT_EQ(tok.decode({3 + 0x41, -5, 1 << 20, 3 + 0x42}, true), "AB");
  EXPECT_EQ(streamDecode(tok, {3 + 0x41, -5, 1 << 20, 3 + 0x42}, true), "AB");
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, Fixture,
                         ::testing::Values("tok-llama", "tok-metaspace"),
                         [](const auto &info) {
                           std::string n = info.param;
                           for (char &c : n)
                             if (c == '-')
                               c = '_';
                           return n;
                         });

//===----------------------------------------------------------------------===//
// Small hand-written tokenizers for options the fixtures do not exercise.
//===----------------------------------------------------------------------===//

Tokenizer loadOrDie(const std::string &text) {
  Tokenizer tok;
  std::string err;
  EXPECT_TRUE(Tokenizer::loadFromString(text, "t.json", tok, err)) << err;
  return tok;
}

std::string tinyBpe(const std::string &modelExtra,
                    const std::string &rest = "") {
  return R"({"model": {"type": "BPE", "unk_token": "<unk>",
    "vocab": {"<unk>": 0, "a": 1, "b": 2, "ab": 3, "c": 4, "abc": 5},
    "merges": [["a", "b"], ["ab", "c"]])" +
         modelExtra + "}" + rest + "}";
}

TEST(TokenizerOptions, FuseUnk) {
  Tokenizer fused = loadOrDie(tinyBpe(R"(, "fuse_unk": true)"));
  EXPECT_EQ(fused.encode("abxyab", false), (std::vector<int32_t>{3, 0, 3}));
  EXPECT_EQ(fused.encode("xyabc", false), (std::vector<int32_t>{0, 5}));
  Tokenizer plain = loadOrDie(tinyBpe(R"(, "fuse_unk": false)"));
  EXPECT_EQ(plain.encode("abxyab", false), (std::vector<int32_t>{3, 0, 0, 3}));
}

TEST(TokenizerOptions, NoDecoderJoinsWithSpaces) {
  Tokenizer tok = loadOrDie(tinyBpe(""));
  EXPECT_EQ(tok.decode({3, 4, 1}, false), "ab c a");
  EXPECT_EQ(streamDecode(tok, {3, 4, 1}, false), "ab c a");
  EXPECT_EQ(tok.bosId(), -1);
  EXPECT_EQ(tok.eosId(), -1);
}

TEST(TokenizerOptions, MetaspaceSplitAlways) {
  // split=true: each "▁" starts a new word, so merges never cross one.
  std::string text = R"({"model": {"type": "BPE", "unk_token": null,
    "vocab": {"▁": 0, "a": 1, "▁a": 2, "a▁": 3, "▁▁": 4},
    "merges": [["a", "▁"], ["▁", "a"]]},
    "pre_tokenizer": {"type": "Metaspace", "replacement": "▁",
                      "prepend_scheme": "always", "split": true},
    "decoder": {"type": "Metaspace", "replacement": "▁",
                "prepend_scheme": "always", "split": true}})";
  Tokenizer tok = loadOrDie(text);
  // "a a" -> "▁a▁a" -> words "▁a", "▁a" (the a▁ merge, rank 0, cannot apply).
  EXPECT_EQ(tok.encode("a a", false), (std::vector<int32_t>{2, 2}));
  EXPECT_EQ(tok.decode({2, 2}, true), "a a");
  EXPECT_EQ(tok.decode({0, 0, 2}, true), "  a");
  EXPECT_EQ(tok.decode({4, 2}, true), " a"); // every ▁ of token 0 goes
  EXPECT_EQ(streamDecode(tok, {4, 2}, true), " a");
}

TEST(TokenizerOptions, AddedTokenStripsAndNormalized) {
  std::string text = R"({"model": {"type": "BPE", "unk_token": "<unk>",
    "vocab": {"<unk>": 0, "a": 1, " ": 2, "<m>": 3, "hi": 4, "h": 5, "i": 6},
    "merges": [["h", "i"]]},
    "added_tokens": [
      {"id": 3, "content": "<m>", "special": true, "normalized": false,
       "lstrip": true, "rstrip": true, "single_word": false},
      {"id": 4, "content": "hi", "special": false, "normalized": true,
       "single_word": true}]})";
  Tokenizer tok = loadOrDie(text);
  // lstrip/rstrip swallow the spaces around <m>.
  EXPECT_EQ(tok.encode("a  <m>  a", false), (std::vector<int32_t>{1, 3, 1}));
  // single_word: "hi" inside "ahi" is no added-token match but still merges.
  EXPECT_EQ(tok.encode("a hi", false), (std::vector<int32_t>{1, 2, 4}));
  EXPECT_EQ(tok.encode("ahi", false), (std::vector<int32_t>{1, 4}));
  EXPECT_EQ(tok.decode({1, 3, 1}, true), "a a");
  EXPECT_EQ(tok.decode({1, 3, 1}, false), "a <m> a");
}

TEST(TokenizerOptions, StripAfterFuseHoldsTrailing) {
  // Strip with stop > 0 after Fuse: trailing spaces are only known at the end.
  std::string text = R"({"model": {"type": "BPE", "unk_token": null,
    "vocab": {"a": 0, " ": 1, "xy": 2, "x": 3, "y": 4}, "merges": [["x", "y"]]},
    "decoder": {"type": "Sequence", "decoders": [
      {"type": "Fuse"},
      {"type": "Replace", "pattern": {"String": "xy"}, "content": "Z"},
      {"type": "Strip", "content": " ", "start": 2, "stop": 2}]}})";
  Tokenizer tok = loadOrDie(text);
  std::vector<std::vector<int32_t>> lists = {{1, 1, 1, 0, 1, 1, 1},
                                             {1, 0, 1},
                                             {1, 1},
                                             {1},
                                             {},
                                             {3, 4, 0, 3},
                                             {3, 1, 4},
                                             {2, 1, 3},
                                             {1, 3, 4, 1, 1, 0, 1}};
  for (const auto &ids : lists)
    EXPECT_EQ(streamDecode(tok, ids, true), tok.decode(ids, true))
        << ::testing::PrintToString(ids);
  EXPECT_EQ(tok.decode({1, 1, 1, 0, 1, 1, 1}, true), " a ");
  EXPECT_EQ(tok.decode({3, 4, 0, 3}, true), "Zax");
}

//===----------------------------------------------------------------------===//
// Malformed files: one line naming the file and the field.
//===----------------------------------------------------------------------===//

struct BadCase {
  const char *what;
  std::function<void(json::Value &)> mutate;
  std::vector<std::string> expect; // substrings of the message
};

json::Value withoutMember(const json::Value &obj, const std::string &key) {
  json::Value out = json::Value::object();
  for (const auto &m : obj.members())
    if (m.first != key)
      out.set(m.first, m.second);
  return out;
}

TEST(TokenizerErrors, MalformedFields) {
  json::Value base = readJson(fixtureDir("tok-llama") + "/tokenizer.json");
  auto pair = [](const char *a, const char *b) {
    return json::Value::array({json::Value::string(a), json::Value::string(b)});
  };
  std::vector<BadCase> bad = {
      {"unknown model type",
       [](json::Value &r) {
         memberRef(r, "model").set("type", json::Value::string("WordPiece"));
       },
       {"field 'model.type'", "unsupported model type 'WordPiece'"}},
      {"model missing",
       [](json::Value &r) { r = withoutMember(r, "model"); },
       {"field 'model': missing"}},
      {"model wrong type",
       [](json::Value &r) { r.set("model", json::Value::array()); },
       {"field 'model': expected object, got array"}},
      {"vocab missing",
       [](json::Value &r) {
         json::Value &m = memberRef(r, "model");
         m = withoutMember(m, "vocab");
       },
       {"field 'model.vocab': missing"}},
      {"vocab wrong type",
       [](json::Value &r) {
         memberRef(r, "model").set("vocab", json::Value::string("x"));
       },
       {"field 'model.vocab': expected object, got string"}},
      {"vocab id not an integer",
       [](json::Value &r) {
         memberRef(memberRef(r, "model"), "vocab")
             .set("zz", json::Value::string("7"));
       },
       {"field 'model.vocab['zz']'", "expected integer id, got string"}},
      {"vocab id negative",
       [](json::Value &r) {
         memberRef(memberRef(r, "model"), "vocab")
             .set("zz", json::Value::integer(-1));
       },
       {"field 'model.vocab['zz']'", "integer id"}},
      {"vocab id twice",
       [](json::Value &r) {
         memberRef(memberRef(r, "model"), "vocab")
             .set("zz", json::Value::integer(5));
       },
       {"field 'model.vocab['zz']'", "id 5 is also used by"}},
      {"merge names an unknown token",
       [&](json::Value &r) {
         memberRef(memberRef(r, "model"), "merges").items()[3] =
             pair("xy", "z");
       },
       {"field 'model.merges[3]'", "token 'xy' is not in the vocabulary"}},
      {"merged token unknown",
       [&](json::Value &r) {
         memberRef(memberRef(r, "model"), "merges").items()[2] =
             pair("a", "<0x41>");
       },
       {"field 'model.merges[2]'",
        "merged token 'a<0x41>' is not in the vocabulary"}},
      {"merge string without space",
       [](json::Value &r) {
         memberRef(memberRef(r, "model"), "merges").items()[0] =
             json::Value::string("ab");
       },
       {"field 'model.merges[0]'", "expected \"left right\""}},
      {"merge of wrong type",
       [](json::Value &r) {
         memberRef(memberRef(r, "model"), "merges").items()[1] =
             json::Value::integer(4);
       },
       {"field 'model.merges[1]'", "got number"}},
      {"merges missing",
       [](json::Value &r) {
         json::Value &m = memberRef(r, "model");
         m = withoutMember(m, "merges");
       },
       {"field 'model.merges': missing"}},
      {"unk token unknown",
       [](json::Value &r) {
         memberRef(r, "model").set("unk_token", json::Value::string("<?>"));
       },
       {"field 'model.unk_token'", "'<?>' is not in the vocabulary"}},
      {"fuse_unk wrong type",
       [](json::Value &r) {
         memberRef(r, "model").set("fuse_unk", json::Value::string("yes"));
       },
       {"field 'model.fuse_unk': expected boolean, got string"}},
      {"added token without content",
       [](json::Value &r) {
         json::Value &t = memberRef(r, "added_tokens").items()[1];
         t = withoutMember(t, "content");
       },
       {"field 'added_tokens[1].content': missing"}},
      {"added tokens wrong type",
       [](json::Value &r) { r.set("added_tokens", json::Value::object()); },
       {"field 'added_tokens': expected array, got object"}},
      {"unsupported normalizer",
       [](json::Value &r) {
         memberRef(memberRef(r, "normalizer"), "normalizers")
             .items()[0]
             .set("type", json::Value::string("NFKC"));
       },
       {"field 'normalizer.normalizers[0].type'",
        "unsupported normalizer 'NFKC'"}},
      {"regex replace",
       [](json::Value &r) {
         json::Value pat = json::Value::object();
         pat.set("Regex", json::Value::string("\\s"));
         memberRef(memberRef(r, "normalizer"), "normalizers")
             .items()[1]
             .set("pattern", pat);
       },
       {"field 'normalizer.normalizers[1].pattern'", "Regex"}},
      {"unsupported pre-tokenizer",
       [](json::Value &r) {
         json::Value p = json::Value::object();
         p.set("type", json::Value::string("ByteLevel"));
         r.set("pre_tokenizer", p);
       },
       {"field 'pre_tokenizer.type'", "unsupported pre-tokenizer 'ByteLevel'"}},
      {"unsupported decoder",
       [](json::Value &r) {
         memberRef(memberRef(r, "decoder"), "decoders")
             .items()[2]
             .set("type", json::Value::string("WordPiece"));
       },
       {"field 'decoder.decoders[2].type'", "unsupported decoder 'WordPiece'"}},
      {"strip start wrong type",
       [](json::Value &r) {
         memberRef(memberRef(r, "decoder"), "decoders")
             .items()[3]
             .set("start", json::Value::string("1"));
       },
       {"field 'decoder.decoders[3].start': expected number, got string"}},
      {"unsupported post-processor",
       [](json::Value &r) {
         memberRef(r, "post_processor")
             .set("type", json::Value::string("RobertaProcessing"));
       },
       {"field 'post_processor.type'",
        "unsupported post-processor 'RobertaProcessing'"}},
      {"template names an unknown special token",
       [](json::Value &r) {
         json::Value &pp = memberRef(r, "post_processor");
         pp = withoutMember(pp, "special_tokens");
         pp.set("special_tokens", json::Value::object());
       },
       {"field 'post_processor.single[0].SpecialToken.id'",
        "'<s>' is not in post_processor.special_tokens"}},
  };
  for (const BadCase &c : bad) {
    SCOPED_TRACE(c.what);
    json::Value root = base;
    c.mutate(root);
    Tokenizer tok;
    std::string err;
    EXPECT_FALSE(
        Tokenizer::loadFromString(json::write(root), "bad.json", tok, err));
    EXPECT_FALSE(tok.loaded());
    EXPECT_EQ(err.rfind("bad.json: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << err;
    for (const std::string &s : c.expect)
      EXPECT_NE(err.find(s), std::string::npos)
          << "message: " << err << "\nexpected to contain: " << s;
  }
}

TEST(TokenizerErrors, NotJson) {
  Tokenizer tok;
  std::string err;
  EXPECT_FALSE(Tokenizer::loadFromString("{\"model\": ", "bad.json", tok, err));
  EXPECT_EQ(err.rfind("bad.json: line 1", 0), 0u) << err;
  // Invalid UTF-8 inside a string.
  EXPECT_FALSE(Tokenizer::loadFromString(
      "{\"model\": {\"vocab\": {\"\xC3\x28\": 0}, \"merges\": []}}", "bad.json",
      tok, err));
  EXPECT_EQ(err.rfind("bad.json: line 1", 0), 0u) << err;
  EXPECT_NE(err.find("UTF-8"), std::string::npos) << err;
  EXPECT_FALSE(Tokenizer::loadFromString("[1, 2]", "bad.json", tok, err));
  EXPECT_EQ(err,
            "bad.json: expected a JSON object at the top level, got array");
  EXPECT_FALSE(Tokenizer::load("/nonexistent/dir/tokenizer.json", tok, err));
  EXPECT_EQ(err.rfind("/nonexistent/dir/tokenizer.json: cannot open file", 0),
            0u)
      << err;
}

TEST(TokenizerErrors, UnloadedTokenizerIsHarmless) {
  Tokenizer tok;
  EXPECT_TRUE(tok.encode("abc", true).empty());
  EXPECT_EQ(tok.decode({1, 2}, false), "");
  EXPECT_EQ(tok.vocabSize(), 0);
  StreamDecoder dec(tok, true);
  EXPECT_EQ(dec.push(1), "");
  EXPECT_EQ(dec.finish(), "");
}

} // namespace
