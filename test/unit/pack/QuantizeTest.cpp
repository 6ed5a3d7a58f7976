//===- QuantizeTest.cpp - the quantizer against hand-computed groups ------===//
//
// Every expected integer, scale and byte below is worked out by hand in the
// comments from the definitions of runtime/pack/Quantize.h.
//
//===----------------------------------------------------------------------===//
#include "runtime/pack/Quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace zamba2;

namespace {

QuantParams params(int bits, int64_t group, QuantScheme scheme,
                   DType scaleType = DType::F32) {
  QuantParams p;
  p.bits = bits;
  p.groupSize = group;
  p.scheme = scheme;
  p.scaleType = scaleType;
  return p;
}

QuantGroup quantize(const QuantParams &p, const std::vector<float> &w) {
  QuantGroup g;
  std::string err;
  EXPECT_TRUE(
      quantizeGroup(p, w.data(), static_cast<int64_t>(w.size()), g, err))
      << err;
  return g;
}

float scaleAt(const QuantizedMatrix &m, DType type, size_t i) {
  if (type == DType::F16) {
    uint16_t h;
    std::memcpy(&h, m.scales.data() + 2 * i, 2);
    return f16ToF32(h);
  }
  float s;
  std::memcpy(&s, m.scales.data() + 4 * i, 4);
  return s;
}

TEST(Quantize, SymmetricInt4RoundsHalfToEven) {
  // max |w| = 7, qmax = 7: s = 1. w / s = w; ties go to the even integer:
  // 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2, 3.5 -> 4.
  QuantParams p = params(4, 8, QuantScheme::Symmetric);
  std::vector<float> w = {0.5f, 1.5f, 2.5f, -2.5f, 7.0f, -7.0f, 3.5f, 0.0f};
  QuantGroup g = quantize(p, w);
  EXPECT_EQ(g.scale, 1.0f);
  EXPECT_EQ(g.zero, 0);
  EXPECT_EQ(g.q, (std::vector<int32_t>{0, 2, 2, -2, 7, -7, 4, 0}));

  // Packed two per byte, element 2j in the low nibble, two's complement:
  // (0, 2) -> 0x20, (2, -2 = 0xE) -> 0xE2, (7, -7 = 0x9) -> 0x97,
  // (4, 0) -> 0x04.
  QuantizedMatrix m;
  std::string err;
  ASSERT_TRUE(quantizeMatrix(p, w.data(), 1, 8, m, "w", err)) << err;
  EXPECT_EQ(m.packed, (std::vector<uint8_t>{0x20, 0xE2, 0x97, 0x04}));
  EXPECT_EQ(scaleAt(m, DType::F32, 0), 1.0f);
  EXPECT_TRUE(m.zeros.empty());
  std::vector<float> back(8);
  dequantizeMatrix(p, 1, 8, m.packed.data(), m.scales.data(), nullptr,
                   back.data());
  EXPECT_EQ(back, (std::vector<float>{0, 2, 2, -2, 7, -7, 4, 0}));
}

TEST(Quantize, SymmetricInt8) {
  // max |w| = 63.5, qmax = 127: s = 0.5; w / s = 0.5 -> 0, 1.5 -> 2,
  // 127, -127 (0x81).
  QuantParams p = params(8, 4, QuantScheme::Symmetric);
  std::vector<float> w = {0.25f, 0.75f, 63.5f, -63.5f};
  QuantizedMatrix m;
  std::string err;
  ASSERT_TRUE(quantizeMatrix(p, w.data(), 1, 4, m, "w", err)) << err;
  EXPECT_EQ(m.packed, (std::vector<uint8_t>{0x00, 0x02, 0x7F, 0x81}));
  EXPECT_EQ(scaleAt(m, DType::F32, 0), 0.5f);
  std::vector<float> back(4);
  dequantizeMatrix(p, 1, 4, m.packed.data(), m.scales.data(), nullptr,
                   back.data());
  EXPECT_EQ(back, (std::vector<float>{0.0f, 1.0f, 63.5f, -63.5f}));
}

TEST(Quantize, F16ScaleIsRoundedBeforeUse) {
  // max |w| = 1, qmax = 7: f32(1/7) = 0.142857149; in f16 (10 mantissa bits)
  // 1/7 = 1.142857 * 2^-3 and 0.142857 * 1024 = 146.29 -> 146, so
  // s = (1 + 146/1024) / 8 = 0.142822265625, a little below 1/7.
  // 0.5 / s = 3.50085 -> 4 (with the f32 scale 0.5 / s = 3.4999999 -> 3);
  // 1 / s = 7.0017 -> 7.
  std::vector<float> w = {1.0f, 0.5f};
  QuantGroup f16 =
      quantize(params(4, 2, QuantScheme::Symmetric, DType::F16), w);
  EXPECT_EQ(f16.scale, 0.142822265625f);
  EXPECT_EQ(f16.q, (std::vector<int32_t>{7, 4}));
  EXPECT_EQ(dequantizeValue(4, 0, f16.scale), 0.5712890625f); // 4 * s exactly
  QuantGroup f32 =
      quantize(params(4, 2, QuantScheme::Symmetric, DType::F32), w);
  EXPECT_EQ(f32.scale, 1.0f / 7.0f);
  EXPECT_EQ(f32.q, (std::vector<int32_t>{7, 3}));

  // The stored f16 bits: exponent -3 + 15 = 12, mantissa 146:
  // 12 << 10 | 146 = 0x3092.
  QuantizedMatrix m;
  std::string err;
  ASSERT_TRUE(quantizeMatrix(params(4, 2, QuantScheme::Symmetric, DType::F16),
                             w.data(), 1, 2, m, "w", err));
  EXPECT_EQ(m.scales, (std::vector<uint8_t>{0x92, 0x30}));
}

TEST(Quantize, AsymmetricZeroPointAndClamp) {
  // lo = -7.5, hi = 7.5, qmax = 15: s = 15 / 15 = 1; z = rne(7.5) = 8.
  // 7.5: z + rne(7.5) = 8 + 8 = 16, clamped to 15 (decodes to 7);
  // -7.5: 8 + rne(-7.5) = 8 - 8 = 0 (decodes to -8).
  QuantParams p = params(4, 2, QuantScheme::Asymmetric);
  QuantGroup g = quantize(p, {-7.5f, 7.5f});
  EXPECT_EQ(g.scale, 1.0f);
  EXPECT_EQ(g.zero, 8);
  EXPECT_EQ(g.q, (std::vector<int32_t>{0, 15}));
  EXPECT_EQ(dequantizeValue(15, 8, 1.0f), 7.0f);

  // lo = -2.5, hi = 12.5: s = 1, z = rne(2.5) = 2 (tie to even);
  // -2.5 -> 2 + rne(-2.5) = 0, 12.5 -> 2 + rne(12.5) = 14.
  g = quantize(p, {-2.5f, 12.5f});
  EXPECT_EQ(g.zero, 2);
  EXPECT_EQ(g.q, (std::vector<int32_t>{0, 14}));

  // Only positive values: lo = min(0, 1) = 0, so z = 0 and 0 stays exact.
  // 8 bits: hi = 255 -> s = 1; 1 -> 1, 254.5 -> rne = 254, 255 -> 255.
  QuantParams p8 = params(8, 3, QuantScheme::Asymmetric);
  g = quantize(p8, {1.0f, 254.5f, 255.0f});
  EXPECT_EQ(g.scale, 1.0f);
  EXPECT_EQ(g.zero, 0);
  EXPECT_EQ(g.q, (std::vector<int32_t>{1, 254, 255}));

  // 8 bits: lo = -1, hi = 254, s = 255 / 255 = 1, z = 1; -1 -> 0,
  // 0.5 -> 1 + 0 = 1, 254 -> 255. Stored unsigned: byte 255 is 0xFF.
  std::vector<float> w = {-1.0f, 0.5f, 254.0f};
  QuantizedMatrix m;
  std::string err;
  ASSERT_TRUE(quantizeMatrix(p8, w.data(), 1, 3, m, "w", err)) << err;
  EXPECT_EQ(m.packed, (std::vector<uint8_t>{0x00, 0x01, 0xFF}));
  EXPECT_EQ(m.zeros, (std::vector<uint8_t>{1}));
  std::vector<float> back(3);
  dequantizeMatrix(p8, 1, 3, m.packed.data(), m.scales.data(), m.zeros.data(),
                   back.data());
  EXPECT_EQ(back, (std::vector<float>{-1.0f, 0.0f, 254.0f}));
}

TEST(Quantize, AllZeroGroupDecodesToZero) {
  for (QuantScheme scheme : {QuantScheme::Symmetric, QuantScheme::Asymmetric})
    for (int bits : {4, 8}) {
      QuantParams p = params(bits, 4, scheme, DType::F16);
      // Row: one all-zero group, then 1, -1, 0.5, 0.
      std::vector<float> w = {0, 0, -0.0f, 0, 1, -1, 0.5f, 0};
      QuantizedMatrix m;
      std::string err;
      ASSERT_TRUE(quantizeMatrix(p, w.data(), 1, 8, m, "w", err)) << err;
      EXPECT_EQ(scaleAt(m, DType::F16, 0), 0.0f);
      if (scheme == QuantScheme::Asymmetric) {
        EXPECT_EQ(m.zeros[0], 0);
      }
      std::vector<float> back(8, 99.0f);
      dequantizeMatrix(p, 1, 8, m.packed.data(), m.scales.data(),
                       m.zeros.empty() ? nullptr : m.zeros.data(), back.data());
      for (int i = 0; i < 4; ++i)
        EXPECT_EQ(back[i], 0.0f) << "bits " << bits << " element " << i;
      // 0 is exact in every scheme (symmetric: q = 0; asymmetric: lo <= 0
      // <= hi makes the zero point an integer code).
      EXPECT_EQ(back[7], 0.0f);
    }
  // A scale that underflows f16 (1e-9 / 7) also stores q = 0.
  QuantGroup g =
      quantize(params(4, 2, QuantScheme::Symmetric, DType::F16), {1e-9f, 0});
  EXPECT_EQ(g.scale, 0.0f);
  EXPECT_EQ(g.q, (std::vector<int32_t>{0, 0}));
}

TEST(Quantize, WidthsThatDoNotFitAreRefused) {
  std::string why, err;
  QuantParams p = params(4, 64, QuantScheme::Symmetric);
  EXPECT_FALSE(canQuantize(p, 8, why)); // a rank-8 adapter's B
  EXPECT_EQ(why, "input width 8 is not a multiple of the group size 64");
  EXPECT_FALSE(canQuantize(p, 96, why));
  EXPECT_TRUE(canQuantize(p, 128, why));
  EXPECT_FALSE(canQuantize(params(4, 3, QuantScheme::Symmetric), 3, why));
  EXPECT_EQ(why, "input width 3 is odd (4-bit packing)");
  EXPECT_TRUE(canQuantize(params(8, 3, QuantScheme::Symmetric), 3, why));
  std::vector<float> w(40, 1.0f);
  QuantizedMatrix m;
  EXPECT_FALSE(quantizeMatrix(params(8, 32, QuantScheme::Symmetric), w.data(),
                              1, 40, m, "ck: tensor 'x'", err));
  EXPECT_EQ(err, "ck: tensor 'x': cannot quantize: input width 40 is not a "
                 "multiple of the group size 32");
  EXPECT_FALSE(checkQuantParams(params(3, 32, QuantScheme::Symmetric), err));
  EXPECT_EQ(err, "quantization bits must be 4 or 8, got 3");
  EXPECT_FALSE(checkQuantParams(params(4, 0, QuantScheme::Symmetric), err));
  EXPECT_FALSE(checkQuantParams(
      params(4, 32, QuantScheme::Symmetric, DType::BF16), err));
}

TEST(Quantize, BadValues) {
  std::string err;
  QuantizedMatrix m;
  std::vector<float> w = {1.0f, INFINITY, 0, 0};
  EXPECT_FALSE(quantizeMatrix(params(8, 2, QuantScheme::Symmetric), w.data(), 2,
                              2, m, "ck: tensor 'x'", err));
  EXPECT_EQ(err, "ck: tensor 'x': row 0, group 0: element 1 of the group is "
                 "not finite");
  // 1e6 / 7 = 142857 > 65504, the largest f16.
  w = {1e6f, 0};
  EXPECT_FALSE(quantizeMatrix(params(4, 2, QuantScheme::Symmetric, DType::F16),
                              w.data(), 1, 2, m, "x", err));
  EXPECT_NE(err.find("overflows F16"), std::string::npos) << err;
  EXPECT_TRUE(quantizeMatrix(params(4, 2, QuantScheme::Symmetric, DType::F32),
                             w.data(), 1, 2, m, "x", err));
}

/// Deterministic values in [-1, 1) with a few large ones.
std::vector<float> testMatrix(int64_t n) {
  std::vector<float> w(n);
  uint32_t x = 12345;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    w[i] = static_cast<float>(x >> 8) / 8388608.0f - 1.0f;
    if (i % 37 == 0)
      w[i] *= 5.0f;
  }
  return w;
}

TEST(Quantize, MatrixAgreesWithGroupsAndLayout) {
  // For every configuration: the packed bytes, scales and zeros of a matrix
  // are its groups' integers in the layout of zamba2.quant_linear (unpacked
  // here independently), decoding is f32(q - z) * s, and the error of every
  // element is at most half a step.
  const int64_t rows = 3, cols = 128;
  std::vector<float> w = testMatrix(rows * cols);
  for (int bits : {4, 8})
    for (QuantScheme scheme : {QuantScheme::Symmetric, QuantScheme::Asymmetric})
      for (DType st : {DType::F16, DType::F32})
        for (int64_t group : {32, 64, 128}) {
          QuantParams p = params(bits, group, scheme, st);
          QuantizedMatrix m;
          std::string err;
          ASSERT_TRUE(quantizeMatrix(p, w.data(), rows, cols, m, "w", err));
          ASSERT_EQ(m.packed.size(), size_t(rows * cols * bits / 8));
          ASSERT_EQ(m.scales.size(),
                    size_t(rows * cols / group) * dtypeSize(st));
          std::vector<float> back(rows * cols);
          dequantizeMatrix(p, rows, cols, m.packed.data(), m.scales.data(),
                           m.zeros.empty() ? nullptr : m.zeros.data(),
                           back.data());
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t k = 0; k < cols / group; ++k) {
              QuantGroup g;
              ASSERT_TRUE(
                  quantizeGroup(p, &w[r * cols + k * group], group, g, err));
              ASSERT_EQ(scaleAt(m, st, r * (cols / group) + k), g.scale);
              if (scheme == QuantScheme::Asymmetric)
                ASSERT_EQ(m.zeros[r * (cols / group) + k], g.zero);
              for (int64_t i = 0; i < group; ++i) {
                int64_t c = k * group + i;
                uint8_t byte = m.packed[r * cols * bits / 8 + c * bits / 8];
                int32_t q;
                if (bits == 8)
                  q = scheme == QuantScheme::Symmetric
                          ? static_cast<int32_t>(static_cast<int8_t>(byte))
                          : byte;
                else {
                  int32_t nib = c % 2 ? byte >> 4 : byte & 15;
                  q = scheme == QuantScheme::Symmetric && nib > 7 ? nib - 16
                                                                  : nib;
                }
                ASSERT_EQ(q, g.q[i]);
                float expect = static_cast<float>(q - g.zero) * g.scale;
                ASSERT_EQ(back[r * cols + c], expect);
                float err1 = std::fabs(back[r * cols + c] - w[r * cols + c]);
                // Half a step, plus the f16 rounding of the scale acting on
                // up to qmax steps.
                ASSERT_LE(err1, g.scale * (0.5f + (1 << bits) * 1e-3f))
                    << "bits " << bits << " group " << group;
              }
            }
        }
}

} // namespace
