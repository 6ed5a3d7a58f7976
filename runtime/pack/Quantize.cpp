//===- Quantize.cpp - weight-only integer quantization --------------------===//
#include "runtime/pack/Quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace zamba2 {

namespace {

/// Round to nearest, ties to even, whatever the FPU rounding mode.
double roundHalfEven(double x) {
  double r = std::floor(x);
  double frac = x - r; // exact for the magnitudes used here
  if (frac > 0.5 || (frac == 0.5 && std::fmod(r, 2.0) != 0.0))
    r += 1.0;
  return r;
}

/// rne(num / den) clamped to [lo, hi]; den != 0. The quotient of two f32
/// values in double is a tie exactly when the real quotient is one, so this
/// rounds the exact quotient.
int32_t roundQuotient(float num, float den, int32_t lo, int32_t hi) {
  double q = roundHalfEven(static_cast<double>(num) / static_cast<double>(den));
  if (q < lo)
    return lo;
  if (q > hi)
    return hi;
  return static_cast<int32_t>(q);
}

/// `s` rounded to the scale type, as f32; false when it overflows.
bool roundScale(DType type, float s, float &out) {
  if (type == DType::F16) {
    out = f16ToF32(f32ToF16(s));
    return std::isfinite(out);
  }
  out = s;
  return std::isfinite(out);
}

void storeScale(DType type, float s, uint8_t *dst) {
  if (type == DType::F16) {
    uint16_t h = f32ToF16(s);
    std::memcpy(dst, &h, 2);
  } else {
    std::memcpy(dst, &s, 4);
  }
}

float loadScale(DType type, const uint8_t *src) {
  if (type == DType::F16) {
    uint16_t h;
    std::memcpy(&h, src, 2);
    return f16ToF32(h);
  }
  float s;
  std::memcpy(&s, src, 4);
  return s;
}

} // namespace

const char *quantSchemeName(QuantScheme scheme) {
  return scheme == QuantScheme::Symmetric ? "symmetric" : "asymmetric";
}

bool parseQuantScheme(const std::string &name, QuantScheme &out) {
  if (name == "symmetric")
    out = QuantScheme::Symmetric;
  else if (name == "asymmetric")
    out = QuantScheme::Asymmetric;
  else
    return false;
  return true;
}

const char *quantPartName(QuantPart part) {
  switch (part) {
  case QuantPart::Packed:
    return "packed";
  case QuantPart::Scales:
    return "scales";
  case QuantPart::Zeros:
    return "zeros";
  }
  return "?";
}

bool parseQuantPart(const std::string &name, QuantPart &out) {
  if (name == "packed")
    out = QuantPart::Packed;
  else if (name == "scales")
    out = QuantPart::Scales;
  else if (name == "zeros")
    out = QuantPart::Zeros;
  else
    return false;
  return true;
}

bool checkQuantParams(const QuantParams &p, std::string &err) {
  if (p.bits != 4 && p.bits != 8) {
    err = "quantization bits must be 4 or 8, got " + std::to_string(p.bits);
    return false;
  }
  if (p.groupSize < 1) {
    err = "quantization group size must be positive, got " +
          std::to_string(p.groupSize);
    return false;
  }
  if (p.scaleType != DType::F16 && p.scaleType != DType::F32) {
    err = std::string("quantization scales must be f16 or f32, got ") +
          dtypeName(p.scaleType);
    return false;
  }
  return true;
}

bool canQuantize(const QuantParams &p, int64_t cols, std::string &why) {
  if (cols < 1 || cols % p.groupSize != 0) {
    why = "input width " + std::to_string(cols) +
          " is not a multiple of the group size " + std::to_string(p.groupSize);
    return false;
  }
  if ((cols * p.bits) % 8 != 0) {
    why = "input width " + std::to_string(cols) + " is odd (4-bit packing)";
    return false;
  }
  return true;
}

std::vector<int64_t> quantPartShape(const QuantParams &p, QuantPart part,
                                    int64_t rows, int64_t cols) {
  if (part == QuantPart::Packed)
    return {rows, cols * p.bits / 8};
  return {rows, cols / p.groupSize};
}

DType quantPartDType(const QuantParams &p, QuantPart part) {
  return part == QuantPart::Scales ? p.scaleType : DType::I8;
}

bool quantizeGroup(const QuantParams &p, const float *w, int64_t n,
                   QuantGroup &out, std::string &err) {
  out.q.assign(static_cast<size_t>(n), 0);
  out.scale = 0;
  out.zero = 0;
  float lo = 0, hi = 0, maxAbs = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(w[i])) {
      err = "element " + std::to_string(i) + " of the group is not finite";
      return false;
    }
    lo = std::min(lo, w[i]);
    hi = std::max(hi, w[i]);
    maxAbs = std::max(maxAbs, std::fabs(w[i]));
  }
  bool symmetric = p.scheme == QuantScheme::Symmetric;
  int32_t qmax = symmetric ? (1 << (p.bits - 1)) - 1 : (1 << p.bits) - 1;
  float s = symmetric ? maxAbs / static_cast<float>(qmax)
                      : (hi - lo) / static_cast<float>(qmax);
  if (!roundScale(p.scaleType, s, out.scale)) {
    err = "scale " + std::to_string(s) + " overflows " +
          dtypeName(p.scaleType) + " (use f32 scales)";
    return false;
  }
  if (out.scale == 0)
    return true; // all q = 0, z = 0: decodes to exact zeros
  if (symmetric) {
    for (int64_t i = 0; i < n; ++i)
      out.q[i] = roundQuotient(w[i], out.scale, -qmax - 1, qmax);
    return true;
  }
  out.zero = roundQuotient(-lo, out.scale, 0, qmax);
  for (int64_t i = 0; i < n; ++i) {
    int32_t r = roundQuotient(w[i], out.scale, -qmax - 1, qmax);
    out.q[i] = std::min(qmax, std::max(0, out.zero + r));
  }
  return true;
}

bool quantizeMatrix(const QuantParams &p, const float *w, int64_t rows,
                    int64_t cols, QuantizedMatrix &out, const std::string &what,
                    std::string &err) {
  if (!checkQuantParams(p, err)) {
    err = what + ": " + err;
    return false;
  }
  std::string why;
  if (rows < 0 || !canQuantize(p, cols, why)) {
    err = what + ": cannot quantize: " + why;
    return false;
  }
  int64_t groups = cols / p.groupSize;
  size_t scaleSize = dtypeSize(p.scaleType);
  bool asymmetric = p.scheme == QuantScheme::Asymmetric;
  out.rows = rows;
  out.cols = cols;
  out.packed.assign(static_cast<size_t>(rows * cols * p.bits / 8), 0);
  out.scales.assign(static_cast<size_t>(rows * groups) * scaleSize, 0);
  out.zeros.assign(asymmetric ? static_cast<size_t>(rows * groups) : 0, 0);
  QuantGroup g;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t k = 0; k < groups; ++k) {
      int64_t first = k * p.groupSize;
      if (!quantizeGroup(p, w + r * cols + first, p.groupSize, g, err)) {
        err = what + ": row " + std::to_string(r) + ", group " +
              std::to_string(k) + ": " + err;
        return false;
      }
      storeScale(p.scaleType, g.scale,
                 out.scales.data() + (r * groups + k) * scaleSize);
      if (asymmetric)
        out.zeros[r * groups + k] = static_cast<uint8_t>(g.zero);
      uint8_t *row = out.packed.data() + r * cols * p.bits / 8;
      for (int64_t i = 0; i < p.groupSize; ++i) {
        int64_t c = first + i;
        uint8_t bits = static_cast<uint8_t>(g.q[i]); // two's complement
        if (p.bits == 8)
          row[c] = bits;
        else if (c % 2 == 0)
          row[c / 2] |= bits & 0x0F;
        else
          row[c / 2] |= static_cast<uint8_t>((bits & 0x0F) << 4);
      }
    }
  }
  return true;
}

void dequantizeMatrix(const QuantParams &p, int64_t rows, int64_t cols,
                      const uint8_t *packed, const uint8_t *scales,
                      const uint8_t *zeros, float *out) {
  int64_t groups = cols / p.groupSize;
  size_t scaleSize = dtypeSize(p.scaleType);
  bool symmetric = p.scheme == QuantScheme::Symmetric;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t *row = packed + r * cols * p.bits / 8;
    for (int64_t c = 0; c < cols; ++c) {
      int64_t k = r * groups + c / p.groupSize;
      float s = loadScale(p.scaleType, scales + k * scaleSize);
      int32_t z = symmetric ? 0 : zeros[k];
      int32_t q;
      if (p.bits == 8) {
        q = symmetric ? static_cast<int8_t>(row[c]) : row[c];
      } else {
        uint8_t nibble = c % 2 == 0 ? row[c / 2] & 0x0F : row[c / 2] >> 4;
        q = symmetric && nibble >= 8 ? nibble - 16 : nibble;
      }
      out[r * cols + c] = dequantizeValue(q, z, s);
    }
  }
}

} // namespace zamba2
