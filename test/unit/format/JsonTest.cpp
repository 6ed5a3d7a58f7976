//===- JsonTest.cpp - JSON parser and writer ------------------------------===//
#include "runtime/Json.h"
#include "runtime/Utf8.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace zamba2;

namespace {

json::Value parseOk(std::string_view text) {
  json::Value v;
  std::string err;
  EXPECT_TRUE(json::parse(text, v, err)) << text << ": " << err;
  return v;
}

std::string parseErr(std::string_view text) {
  json::Value v;
  std::string err;
  EXPECT_FALSE(json::parse(text, v, err)) << text;
  return err;
}

TEST(Json, Scalars) {
  EXPECT_TRUE(parseOk("null").isNull());
  EXPECT_TRUE(parseOk(" true ").asBool());
  EXPECT_FALSE(parseOk("false").asBool());
  json::Value i = parseOk("-9223372036854775808");
  ASSERT_TRUE(i.isInteger());
  EXPECT_EQ(i.asInt(), INT64_MIN);
  EXPECT_EQ(parseOk("9007199254740993").asInt(), 9007199254740993LL);
  json::Value big = parseOk("9223372036854775808"); // past int64: a double
  EXPECT_TRUE(big.isNumber());
  EXPECT_FALSE(big.isInteger());
  json::Value d = parseOk("1e-05");
  EXPECT_FALSE(d.isInteger());
  EXPECT_DOUBLE_EQ(d.asDouble(), 1e-5);
  EXPECT_FALSE(parseOk("64.0").isInteger());
  EXPECT_FALSE(parseOk("1E2").isInteger());
  EXPECT_EQ(parseOk("\"a\\\"b\\\\c\\/\\n\\t\"").asString(), "a\"b\\c/\n\t");
}

TEST(Json, UnicodeEscapes) {
  EXPECT_EQ(parseOk("\"\\u00e9\"").asString(), "\xC3\xA9");
  EXPECT_EQ(parseOk("\"\\u20AC\"").asString(), "\xE2\x82\xAC");
  // U+1F600 as a surrogate pair.
  EXPECT_EQ(parseOk("\"\\ud83d\\ude00\"").asString(), "\xF0\x9F\x98\x80");
  EXPECT_EQ(parseOk("\"\xF0\x9F\x98\x80\"").asString(), "\xF0\x9F\x98\x80");
  EXPECT_NE(parseErr("\"\\ud83d\"").find("lone high surrogate"),
            std::string::npos);
  EXPECT_NE(parseErr("\"\\ude00\"").find("lone low surrogate"),
            std::string::npos);
  EXPECT_NE(parseErr("\"\\ud83d\\u0041\"").find("low surrogate"),
            std::string::npos);
  EXPECT_NE(parseErr("\"\\u12G4\"").find("hex digit"), std::string::npos);
}

TEST(Json, Utf8Validation) {
  parseErr("\"\xC3\"");             // truncated
  parseErr("\"\xC0\xAF\"");         // overlong '/'
  parseErr("\"\xE0\x80\xAF\"");     // overlong 3-byte
  parseErr("\"\xED\xA0\x80\"");     // encoded surrogate
  parseErr("\"\xF4\x90\x80\x80\""); // above U+10FFFF
  parseErr("\"\xFF\"");
  parseErr("\"\x80\"");  // lone continuation
  parseErr("\"a\x01\""); // control character
}

TEST(Json, Structures) {
  json::Value v = parseOk("{\"a\": [1, 2.5, \"x\", {}], \"b\": {\"c\": null},"
                          " \"a\": 3}");
  ASSERT_TRUE(v.isObject());
  EXPECT_EQ(v.members().size(), 3u); // duplicates kept in order
  EXPECT_EQ(v.get("a")->asInt(), 3); // the last one wins
  EXPECT_TRUE(v.get("b")->get("c")->isNull());
  EXPECT_EQ(v.get("nope"), nullptr);
  EXPECT_EQ(parseOk("[]").items().size(), 0u);
}

TEST(Json, ErrorsNameLineAndColumn) {
  EXPECT_EQ(parseErr("{\n  \"a\": 1,\n  \"b\" 2\n}"),
            "line 3, column 7: expected ':' after object key");
  EXPECT_EQ(parseErr("[1, 2,]"),
            "line 1, column 7: unexpected character ']', expected a value");
  EXPECT_EQ(parseErr(""), "line 1, column 1: unexpected end of input, "
                          "expected a value");
  EXPECT_NE(parseErr("{} x").find("after the JSON value"), std::string::npos);
  parseErr("01");
  parseErr("1.");
  parseErr("-");
  parseErr("1e");
  parseErr("NaN");
  parseErr("Infinity");
  parseErr("1e999"); // out of double range
  parseErr("tru");
  parseErr("{\"a\":1");
  parseErr("[1 2]");
  parseErr("{1: 2}");
  parseErr("\"abc");
}

TEST(Json, DepthLimit) {
  std::string ok(511, '['), bad(513, '[');
  ok += std::string(511, ']');
  bad += std::string(513, ']');
  parseOk(ok);
  EXPECT_NE(parseErr(bad).find("nesting deeper than 512"), std::string::npos);
}

TEST(Json, WriteRoundTrips) {
  const char *texts[] = {
      "{\"a\": [1, -2, 3.5, 1e-05, 0.1, 1.0000000000000002, "
      "123456789012345678],"
      " \"s\": \"\\u0001\\\"\\\\\xE2\x82\xAC\", \"n\": null, \"t\": true}",
      "[2.0, -0.0, 1e+300, 5e-324]",
  };
  for (const char *t : texts) {
    json::Value v = parseOk(t);
    for (int indent : {-1, 2}) {
      std::string out = json::write(v, indent);
      json::Value w = parseOk(out);
      EXPECT_EQ(json::write(w, indent), out);
    }
  }
  json::Value v = parseOk("[2.0, 0.1, 1e-05, 7]");
  EXPECT_EQ(json::write(v), "[2.0, 0.1, 1e-05, 7]");
  // Integer-valued doubles stay doubles; integers stay integers.
  json::Value w = parseOk(json::write(v));
  EXPECT_FALSE(w.items()[0].isInteger());
  EXPECT_TRUE(w.items()[3].isInteger());
  // Shortest round-tripping form.
  double x = 0.1 + 0.2;
  json::Value y = parseOk(json::write(json::Value::number(x)));
  EXPECT_EQ(y.asDouble(), x);
  EXPECT_EQ(json::write(json::Value::number(NAN)), "null");
}

TEST(Json, Builders) {
  json::Value o = json::Value::object();
  o.set("b", json::Value::integer(1));
  o.set("a", json::Value::string("x"));
  o.set("b", json::Value::integer(2));
  json::Value arr = json::Value::array();
  arr.push(json::Value::boolean(true));
  o.set("c", arr);
  EXPECT_EQ(json::write(o), "{\"b\": 2, \"a\": \"x\", \"c\": [true]}");
  EXPECT_EQ(json::write(o, 2),
            "{\n  \"b\": 2,\n  \"a\": \"x\",\n  \"c\": [\n    true\n  ]\n}");
  EXPECT_STREQ(json::kindName(json::Value::Kind::Object), "object");
}

TEST(Utf8, AppendEncodes) {
  std::string s;
  utf8::append(s, 'A');
  utf8::append(s, 0xE9);    // é
  utf8::append(s, 0x20AC);  // €
  utf8::append(s, 0x1F600); // 😀
  EXPECT_EQ(s, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  EXPECT_EQ(utf8::charCount(s), 4u);
}

TEST(Utf8, DecodeValid) {
  uint32_t cp;
  size_t len;
  ASSERT_TRUE(utf8::decode("\xC3\xA9", 0, cp, len));
  EXPECT_EQ(cp, 0xE9u);
  EXPECT_EQ(len, 2u);
  ASSERT_TRUE(utf8::decode("x\xF0\x9F\x98\x80", 1, cp, len));
  EXPECT_EQ(cp, 0x1F600u);
  EXPECT_EQ(len, 4u);
  ASSERT_TRUE(utf8::decode("\xF4\x8F\xBF\xBF", 0, cp, len));
  EXPECT_EQ(cp, 0x10FFFFu);
  EXPECT_TRUE(utf8::isValid(""));
  EXPECT_TRUE(utf8::isValid("a\xC3\xA9\xEF\xBF\xBF"));
}

TEST(Utf8, DecodeRejects) {
  uint32_t cp;
  size_t len, at;
  EXPECT_FALSE(utf8::decode("\xC0\x80", 0, cp, len)); // overlong NUL
  EXPECT_EQ(len, 1u);
  EXPECT_EQ(utf8::decodeDetailed("\xE0\x80\xAF", 0, cp, len, at),
            utf8::Error::Overlong);
  EXPECT_EQ(utf8::decodeDetailed("\xED\xA0\x80", 0, cp, len, at),
            utf8::Error::Surrogate);
  EXPECT_EQ(utf8::decodeDetailed("\xF4\x90\x80\x80", 0, cp, len, at),
            utf8::Error::TooLarge);
  EXPECT_EQ(utf8::decodeDetailed("\xE2\x82", 0, cp, len, at),
            utf8::Error::Truncated);
  EXPECT_EQ(utf8::decodeDetailed("\xC3(", 0, cp, len, at),
            utf8::Error::InvalidContinuation);
  EXPECT_EQ(at, 1u);
  EXPECT_EQ(utf8::decodeDetailed("\x80", 0, cp, len, at),
            utf8::Error::InvalidLeadByte);
  EXPECT_FALSE(utf8::isValid("\xC0\x80"));
  EXPECT_FALSE(utf8::isValid("\xED\xA0\x80"));
  EXPECT_FALSE(utf8::isValid("\xF4\x90\x80\x80"));
  EXPECT_FALSE(utf8::isValid("ok\xE2\x82"));
  EXPECT_FALSE(utf8::isValid("\xF8\x88\x80\x80\x80"));
}

} // namespace
