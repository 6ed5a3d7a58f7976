//===- Json.h - Minimal JSON value, parser and writer -----------*- C++ -*-===//
//
// A small JSON library with no dependencies, used by everything on the runtime
// side (safetensors headers, config.json, package manifests, tokenizer.json).
// The compiler may use it too, so that there is one JSON reading of a
// checkpoint.
//
// Errors never throw: parse() returns false and fills a message that names the
// line and column.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_JSON_H
#define ZAMBA2_RUNTIME_JSON_H

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zamba2::json {

class Value {
public:
  enum class Kind { Null, Bool, Number, String, Array, Object };

  Value() = default;
  static Value null() { return Value(); }
  static Value boolean(bool b);
  static Value number(double d);
  static Value integer(int64_t i);
  static Value string(std::string s);
  static Value array(std::vector<Value> items = {});
  static Value object();

  Kind kind() const { return k; }
  bool isNull() const { return k == Kind::Null; }
  bool isBool() const { return k == Kind::Bool; }
  bool isNumber() const { return k == Kind::Number; }
  /// A number written without fraction or exponent that fits in int64.
  bool isInteger() const { return k == Kind::Number && integral; }
  bool isString() const { return k == Kind::String; }
  bool isArray() const { return k == Kind::Array; }
  bool isObject() const { return k == Kind::Object; }

  bool asBool() const { return b; }
  double asDouble() const { return d; }
  int64_t asInt() const { return i; }
  const std::string &asString() const { return s; }
  const std::vector<Value> &items() const { return arr; }
  std::vector<Value> &items() { return arr; }
  /// Object members in file order (duplicate keys: the last one wins in get()).
  const std::vector<std::pair<std::string, Value>> &members() const {
    return obj;
  }
  /// Mutable members; unlike set(), appending here keeps duplicate keys.
  std::vector<std::pair<std::string, Value>> &members() { return obj; }

  /// Object member lookup; nullptr when absent or when this is no object.
  const Value *get(std::string_view key) const;
  /// Sets (or replaces) an object member; keeps insertion order.
  Value &set(std::string key, Value v);
  /// Appends to an array.
  Value &push(Value v);

private:
  Kind k = Kind::Null;
  bool b = false;
  bool integral = false;
  double d = 0;
  int64_t i = 0;
  std::string s;
  std::vector<Value> arr;
  std::vector<std::pair<std::string, Value>> obj;
};

/// Parses a complete JSON document (RFC 8259; UTF-8 validated, \u escapes and
/// surrogate pairs decoded). Nesting deeper than 512 levels is an error.
/// On failure returns false and sets `error` to "line L, column C: what".
bool parse(std::string_view text, Value &out, std::string &error);

/// Writes `v`; indent < 0 gives one line, otherwise pretty-printed.
std::string write(const Value &v, int indent = -1);

/// Human-readable name of a kind ("string", "object", ...) for error messages.
const char *kindName(Value::Kind k);

} // namespace zamba2::json

#endif // ZAMBA2_RUNTIME_JSON_H
