//===- Utf8.h - UTF-8 encoding, decoding and validation ---------*- C++ -*-===//
//
// The one UTF-8 implementation of the runtime. Decoding is strict (RFC 3629,
// as RFC 8259 and Rust's String::from_utf8 require): no overlong forms, no
// surrogates, nothing past U+10FFFF, no truncated sequences. No exceptions and
// no LLVM, like the rest of runtime/.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_UTF8_H
#define ZAMBA2_RUNTIME_UTF8_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace zamba2::utf8 {

/// Why a sequence failed to decode, for callers that report it.
enum class Error {
  None,
  InvalidLeadByte,     ///< 0x80-0xC1 or 0xF5-0xFF at the start.
  Truncated,           ///< The sequence runs past the end of the input.
  InvalidContinuation, ///< A byte after the lead is not 10xxxxxx.
  Overlong,            ///< Encoded in more bytes than needed.
  Surrogate,           ///< U+D800..U+DFFF.
  TooLarge,            ///< Past U+10FFFF.
};

/// Appends the UTF-8 encoding of `codePoint` (at most U+10FFFF) to `out`.
void append(std::string &out, uint32_t codePoint);

/// Decodes the character at s[pos] (pos < s.size()). On success sets
/// `codePoint` and `length` (1 to 4) and returns Error::None. On failure
/// `length` is 1 and `errorPos` is the offset of the offending byte (the
/// bad continuation byte, else pos).
Error decodeDetailed(std::string_view s, size_t pos, uint32_t &codePoint,
                     size_t &length, size_t &errorPos);

/// decodeDetailed reduced to valid / invalid.
bool decode(std::string_view s, size_t pos, uint32_t &codePoint,
            size_t &length);

/// Whether all of `s` is valid UTF-8.
bool isValid(std::string_view s);

/// Number of characters of `s`, which must be valid UTF-8 (counts the bytes
/// that are not continuation bytes).
size_t charCount(std::string_view s);

} // namespace zamba2::utf8

#endif // ZAMBA2_RUNTIME_UTF8_H
