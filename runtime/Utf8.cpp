//===- Utf8.cpp - UTF-8 encoding, decoding and validation -----------------===//
#include "runtime/Utf8.h"

namespace zamba2::utf8 {

void append(std::string &out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

Error decodeDetailed(std::string_view s, size_t pos, uint32_t &cp,
                     size_t &length, size_t &errorPos) {
  auto b0 = static_cast<uint8_t>(s[pos]);
  length = 1;
  errorPos = pos;
  if (b0 < 0x80) {
    cp = b0;
    return Error::None;
  }
  size_t n;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, cp = b0 & 0x0F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, cp = b0 & 0x07;
  } else {
    return Error::InvalidLeadByte; // C0/C1 could only be overlong
  }
  if (pos + n > s.size())
    return Error::Truncated;
  for (size_t k = 1; k < n; ++k) {
    auto b = static_cast<uint8_t>(s[pos + k]);
    if ((b & 0xC0) != 0x80) {
      errorPos = pos + k;
      return Error::InvalidContinuation;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000))
    return Error::Overlong;
  if (cp >= 0xD800 && cp <= 0xDFFF)
    return Error::Surrogate;
  if (cp > 0x10FFFF)
    return Error::TooLarge;
  length = n;
  return Error::None;
}

bool decode(std::string_view s, size_t pos, uint32_t &cp, size_t &length) {
  size_t errorPos;
  return decodeDetailed(s, pos, cp, length, errorPos) == Error::None;
}

bool isValid(std::string_view s) {
  uint32_t cp;
  size_t len;
  for (size_t i = 0; i < s.size(); i += len)
    if (!decode(s, i, cp, len))
      return false;
  return true;
}

size_t charCount(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    n += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
  return n;
}

} // namespace zamba2::utf8
