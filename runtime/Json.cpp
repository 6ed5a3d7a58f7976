//===- Json.cpp - Minimal JSON value, parser and writer -------------------===//
//
// RFC 8259 parser (strict: no comments, no trailing commas, no NaN/Infinity)
// and a writer whose output parses back to the same value. No exceptions: the
// project builds with -fno-exceptions, so errors travel as return values.
//
//===----------------------------------------------------------------------===//
#include "runtime/Json.h"
#include "runtime/Utf8.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace zamba2::json {

Value Value::boolean(bool b) {
  Value v;
  v.k = Kind::Bool;
  v.b = b;
  return v;
}

Value Value::number(double d) {
  Value v;
  v.k = Kind::Number;
  v.d = d;
  v.i = 0;
  return v;
}

Value Value::integer(int64_t i) {
  Value v;
  v.k = Kind::Number;
  v.integral = true;
  v.i = i;
  v.d = static_cast<double>(i);
  return v;
}

Value Value::string(std::string s) {
  Value v;
  v.k = Kind::String;
  v.s = std::move(s);
  return v;
}

Value Value::array(std::vector<Value> items) {
  Value v;
  v.k = Kind::Array;
  v.arr = std::move(items);
  return v;
}

Value Value::object() {
  Value v;
  v.k = Kind::Object;
  return v;
}

const Value *Value::get(std::string_view key) const {
  if (k != Kind::Object)
    return nullptr;
  // Search from the back so that the last of duplicate keys wins, as in
  // Python's json module.
  for (auto it = obj.rbegin(); it != obj.rend(); ++it)
    if (it->first == key)
      return &it->second;
  return nullptr;
}

Value &Value::set(std::string key, Value v) {
  if (k != Kind::Object) {
    *this = object();
  }
  for (auto it = obj.rbegin(); it != obj.rend(); ++it)
    if (it->first == key) {
      it->second = std::move(v);
      return it->second;
    }
  obj.emplace_back(std::move(key), std::move(v));
  return obj.back().second;
}

Value &Value::push(Value v) {
  if (k != Kind::Array)
    *this = array();
  arr.push_back(std::move(v));
  return arr.back();
}

const char *kindName(Value::Kind k) {
  switch (k) {
  case Value::Kind::Null:
    return "null";
  case Value::Kind::Bool:
    return "boolean";
  case Value::Kind::Number:
    return "number";
  case Value::Kind::String:
    return "string";
  case Value::Kind::Array:
    return "array";
  case Value::Kind::Object:
    return "object";
  }
  return "?";
}

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

namespace {

constexpr int kMaxDepth = 512;

class Parser {
public:
  explicit Parser(std::string_view text) : text(text) {}

  bool parseDocument(Value &out, std::string &error) {
    skipWs();
    if (!parseValue(out, 0)) {
      error = message;
      return false;
    }
    skipWs();
    if (pos != text.size()) {
      fail("unexpected text after the JSON value");
      error = message;
      return false;
    }
    return true;
  }

private:
  std::string_view text;
  size_t pos = 0;
  bool failed = false;
  std::string message;

  bool fail(const std::string &what) { return failAt(pos, what); }

  bool failAt(size_t at, const std::string &what) {
    if (failed)
      return false;
    failed = true;
    // Line and column are computed only on failure: the hot path stays a
    // plain byte scan. Columns count bytes, 1-based.
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    message = "line " + std::to_string(line) + ", column " +
              std::to_string(col) + ": " + what;
    return false;
  }

  void skipWs() {
    while (pos < text.size()) {
      char c = text[pos];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
        ++pos;
      else
        break;
    }
  }

  bool expectLiteral(std::string_view lit) {
    if (text.substr(pos, lit.size()) != lit)
      return fail("invalid literal (expected '" + std::string(lit) + "')");
    pos += lit.size();
    return true;
  }

  bool parseValue(Value &out, int depth) {
    if (depth >= kMaxDepth)
      return fail("nesting deeper than " + std::to_string(kMaxDepth) +
                  " levels");
    if (pos >= text.size())
      return fail("unexpected end of input, expected a value");
    char c = text[pos];
    switch (c) {
    case '{':
      return parseObject(out, depth);
    case '[':
      return parseArray(out, depth);
    case '"': {
      std::string s;
      if (!parseString(s))
        return false;
      out = Value::string(std::move(s));
      return true;
    }
    case 't':
      if (!expectLiteral("true"))
        return false;
      out = Value::boolean(true);
      return true;
    case 'f':
      if (!expectLiteral("false"))
        return false;
      out = Value::boolean(false);
      return true;
    case 'n':
      if (!expectLiteral("null"))
        return false;
      out = Value::null();
      return true;
    default:
      if (c == '-' || (c >= '0' && c <= '9'))
        return parseNumber(out);
      return fail(std::string("unexpected character '") +
                  (static_cast<unsigned char>(c) >= 0x20 &&
                           static_cast<unsigned char>(c) < 0x7F
                       ? std::string(1, c)
                       : "\\x" + hex2(static_cast<unsigned char>(c))) +
                  "', expected a value");
    }
  }

  static std::string hex2(unsigned char c) {
    static const char *digits = "0123456789abcdef";
    return std::string{digits[c >> 4], digits[c & 15]};
  }

  bool parseObject(Value &out, int depth) {
    ++pos; // '{'
    out = Value::object();
    skipWs();
    if (pos < text.size() && text[pos] == '}') {
      ++pos;
      return true;
    }
    while (true) {
      skipWs();
      if (pos >= text.size())
        return fail("unexpected end of input in object");
      if (text[pos] != '"')
        return fail("expected a string key in object");
      std::string key;
      if (!parseString(key))
        return false;
      skipWs();
      if (pos >= text.size() || text[pos] != ':')
        return fail("expected ':' after object key");
      ++pos;
      skipWs();
      Value v;
      if (!parseValue(v, depth + 1))
        return false;
      // Keep duplicates in file order (members()); get() picks the last.
      out.members().emplace_back(std::move(key), std::move(v));
      skipWs();
      if (pos >= text.size())
        return fail("unexpected end of input in object");
      if (text[pos] == ',') {
        ++pos;
        continue;
      }
      if (text[pos] == '}') {
        ++pos;
        return true;
      }
      return fail("expected ',' or '}' in object");
    }
  }

  bool parseArray(Value &out, int depth) {
    ++pos; // '['
    out = Value::array();
    skipWs();
    if (pos < text.size() && text[pos] == ']') {
      ++pos;
      return true;
    }
    while (true) {
      skipWs();
      Value v;
      if (!parseValue(v, depth + 1))
        return false;
      out.items().push_back(std::move(v));
      skipWs();
      if (pos >= text.size())
        return fail("unexpected end of input in array");
      if (text[pos] == ',') {
        ++pos;
        continue;
      }
      if (text[pos] == ']') {
        ++pos;
        return true;
      }
      return fail("expected ',' or ']' in array");
    }
  }

  bool parseHex4(uint32_t &out) {
    if (pos + 4 > text.size())
      return fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text[pos + i];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= c - '0';
      else if (c >= 'a' && c <= 'f')
        v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        v |= c - 'A' + 10;
      else
        return failAt(pos + i, "invalid hex digit in \\u escape");
    }
    pos += 4;
    out = v;
    return true;
  }

  // Validates one UTF-8 sequence starting at pos (RFC 3629: no overlongs, no
  // surrogates, nothing above U+10FFFF) and copies it to `out`.
  bool copyUtf8(std::string &out) {
    uint32_t cp;
    size_t len, errorPos;
    switch (utf8::decodeDetailed(text, pos, cp, len, errorPos)) {
    case utf8::Error::None:
      break;
    case utf8::Error::InvalidLeadByte:
      return fail("invalid UTF-8 byte 0x" +
                  hex2(static_cast<unsigned char>(text[pos])));
    case utf8::Error::Truncated:
      return fail("truncated UTF-8 sequence");
    case utf8::Error::InvalidContinuation:
      return failAt(errorPos,
                    "invalid UTF-8 continuation byte 0x" +
                        hex2(static_cast<unsigned char>(text[errorPos])));
    case utf8::Error::Overlong:
      return fail("overlong UTF-8 sequence");
    case utf8::Error::Surrogate:
      return fail("UTF-8 encoded surrogate");
    case utf8::Error::TooLarge:
      return fail("UTF-8 code point above U+10FFFF");
    }
    out.append(text.data() + pos, len);
    pos += len;
    return true;
  }

  bool parseString(std::string &out) {
    ++pos; // opening quote
    while (true) {
      if (pos >= text.size())
        return fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20)
        return fail("unescaped control character in string");
      if (c != '\\') {
        if (!copyUtf8(out))
          return false;
        continue;
      }
      // Escape.
      size_t escStart = pos;
      ++pos;
      if (pos >= text.size())
        return fail("unterminated escape");
      char e = text[pos++];
      switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      case 'u': {
        uint32_t cp;
        if (!parseHex4(cp))
          return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF)
          return failAt(escStart, "lone low surrogate in \\u escape");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          // A high surrogate must be followed by an escaped low surrogate:
          // a lone one cannot be represented in UTF-8.
          if (pos + 2 > text.size() || text[pos] != '\\' ||
              text[pos + 1] != 'u')
            return failAt(escStart, "lone high surrogate in \\u escape");
          pos += 2;
          uint32_t lo;
          if (!parseHex4(lo))
            return false;
          if (lo < 0xDC00 || lo > 0xDFFF)
            return failAt(escStart, "high surrogate not followed by a low "
                                    "surrogate");
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        utf8::append(out, cp);
        break;
      }
      default:
        return failAt(escStart, "invalid escape sequence");
      }
    }
  }

  bool parseNumber(Value &out) {
    size_t start = pos;
    bool isInt = true;
    if (text[pos] == '-')
      ++pos;
    if (pos >= text.size())
      return fail("invalid number");
    if (text[pos] == '0') {
      ++pos;
    } else if (text[pos] >= '1' && text[pos] <= '9') {
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    } else {
      return fail("invalid number");
    }
    if (pos < text.size() && text[pos] == '.') {
      isInt = false;
      ++pos;
      if (pos >= text.size() || !(text[pos] >= '0' && text[pos] <= '9'))
        return fail("expected a digit after '.'");
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    }
    if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
      isInt = false;
      ++pos;
      if (pos < text.size() && (text[pos] == '+' || text[pos] == '-'))
        ++pos;
      if (pos >= text.size() || !(text[pos] >= '0' && text[pos] <= '9'))
        return fail("expected a digit in exponent");
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9')
        ++pos;
    }
    // strtod/strtoll need a NUL-terminated buffer; the view may not be.
    std::string buf(text.substr(start, pos - start));
    if (isInt) {
      errno = 0;
      char *end = nullptr;
      long long v = std::strtoll(buf.c_str(), &end, 10);
      if (errno == 0 && end == buf.c_str() + buf.size()) {
        out = Value::integer(static_cast<int64_t>(v));
        return true;
      }
      // Out of int64 range: fall through to a double, as JavaScript would.
    }
    char *end = nullptr;
    double d = std::strtod(buf.c_str(), &end);
    if (end != buf.c_str() + buf.size())
      return failAt(start, "invalid number");
    if (std::isinf(d))
      return failAt(start, "number out of range");
    out = Value::number(d);
    return true;
  }
};

} // namespace

bool parse(std::string_view text, Value &out, std::string &error) {
  Parser p(text);
  Value v;
  if (!p.parseDocument(v, error))
    return false;
  out = std::move(v);
  return true;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

namespace {

void writeString(std::string &out, const std::string &s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default:
      if (c < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out += static_cast<char>(c);
      }
    }
  }
  out += '"';
}

void writeDouble(std::string &out, double d) {
  // JSON has no NaN/Infinity; null is what JavaScript writes for them.
  if (!std::isfinite(d)) {
    out += "null";
    return;
  }
  // Shortest of %.15g..%.17g that reads back bit-exactly, so 1e-05 stays
  // "1e-05" rather than "1.0000000000000001e-05".
  char buf[40];
  for (int prec = 15; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*g", prec, d);
    if (std::strtod(buf, nullptr) == d)
      break;
  }
  out += buf;
  // Keep it a non-integer on re-reading: "2" would come back as an integer.
  if (!std::strpbrk(buf, ".eEn"))
    out += ".0";
}

void writeValue(std::string &out, const Value &v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0)
      return;
    out += '\n';
    out.append(static_cast<size_t>(indent) * lvl, ' ');
  };
  switch (v.kind()) {
  case Value::Kind::Null:
    out += "null";
    return;
  case Value::Kind::Bool:
    out += v.asBool() ? "true" : "false";
    return;
  case Value::Kind::Number:
    if (v.isInteger())
      out += std::to_string(v.asInt());
    else
      writeDouble(out, v.asDouble());
    return;
  case Value::Kind::String:
    writeString(out, v.asString());
    return;
  case Value::Kind::Array: {
    if (v.items().empty()) {
      out += "[]";
      return;
    }
    out += '[';
    bool first = true;
    for (const Value &item : v.items()) {
      if (!first)
        out += indent < 0 ? ", " : ",";
      first = false;
      newline(level + 1);
      writeValue(out, item, indent, level + 1);
    }
    newline(level);
    out += ']';
    return;
  }
  case Value::Kind::Object: {
    if (v.members().empty()) {
      out += "{}";
      return;
    }
    out += '{';
    bool first = true;
    for (const auto &[key, val] : v.members()) {
      if (!first)
        out += indent < 0 ? ", " : ",";
      first = false;
      newline(level + 1);
      writeString(out, key);
      out += ": ";
      writeValue(out, val, indent, level + 1);
    }
    newline(level);
    out += '}';
    return;
  }
  }
}

} // namespace

std::string write(const Value &v, int indent) {
  std::string out;
  writeValue(out, v, indent, 0);
  return out;
}

} // namespace zamba2::json
