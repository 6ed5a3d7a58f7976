//===- Quantize.h - weight-only integer quantization, without MLIR -*- C++ -*-//
//
// The one implementation of the quantization that zamba2-quantize plans and
// the package stores (docs/PACKAGE.md, "Quantized weights"): a float matrix
// W [Out, In] becomes packed integers, a scale per group of `groupSize`
// consecutive elements of a row and, for the asymmetric scheme, a zero point
// per group, laid out as zamba2.quant_linear reads them:
//
//   packed [Out, In * bits / 8] i8: bits 8: byte j of row o is q[o, j];
//          bits 4: q[o, 2j] in the low nibble of byte j, q[o, 2j+1] in the
//          high nibble
//   scales [Out, In / groupSize] f16 or f32
//   zeros  [Out, In / groupSize] i8 read as unsigned (asymmetric only)
//
// Per group of values w (all arithmetic as written, rne = round to nearest,
// ties to even, of the exact quotient):
//   symmetric:  qmax = 2^(bits-1) - 1 (127, 7)
//               s = f32(max |w| / qmax), then rounded to the scale type
//               q = clamp(rne(w / s), -qmax - 1, qmax)    decodes to s * q
//   asymmetric: qmax = 2^bits - 1 (255, 15)
//               lo = min(0, min w), hi = max(0, max w)
//               s = f32(f32(hi - lo) / qmax), then rounded to the scale type
//               z = clamp(rne(-lo / s), 0, qmax)
//               q = clamp(z + rne(w / s), 0, qmax)         decodes to s * (q -
//               z)
// The scale is rounded to its stored type (f16: round to nearest even)
// before it is used, so that the stored s is the one the integers were
// computed with. A group whose scale is 0 (all zeros, or values so small that
// the f16 scale underflows) stores q = 0 and z = 0 and decodes to exact
// zeros. Decoding is f32: f32(q - z) * f32(s), exactly what the quant_linear
// lowering computes.
//
// No exceptions: functions return false and fill `err` with one line.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_PACK_QUANTIZE_H
#define ZAMBA2_RUNTIME_PACK_QUANTIZE_H

#include "runtime/format/Safetensors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace zamba2 {

enum class QuantScheme : uint8_t { Symmetric, Asymmetric };

/// "symmetric" / "asymmetric" (the spelling of the manifest and the IR).
const char *quantSchemeName(QuantScheme scheme);
bool parseQuantScheme(const std::string &name, QuantScheme &out);

struct QuantParams {
  int bits = 4;           ///< 4 or 8
  int64_t groupSize = 64; ///< consecutive elements of a row sharing a scale
  QuantScheme scheme = QuantScheme::Symmetric;
  DType scaleType = DType::F16; ///< F16 or F32
};

/// Checks bits, group size and scale type.
bool checkQuantParams(const QuantParams &p, std::string &err);

/// Whether a [rows, cols] matrix can be quantized with `p`: cols a positive
/// multiple of the group size (and of 2 for 4 bits). Else `why` says why.
bool canQuantize(const QuantParams &p, int64_t cols, std::string &why);

/// The three stored parts of a quantized matrix.
enum class QuantPart : uint8_t { Packed, Scales, Zeros };
const char *quantPartName(QuantPart part);
bool parseQuantPart(const std::string &name, QuantPart &out);

/// Shape and element type of one part of a quantized [rows, cols] matrix.
std::vector<int64_t> quantPartShape(const QuantParams &p, QuantPart part,
                                    int64_t rows, int64_t cols);
DType quantPartDType(const QuantParams &p, QuantPart part);

/// One quantized group, unpacked: the integers, the scale (already rounded
/// to the scale type, as f32) and the zero point (0 for symmetric).
struct QuantGroup {
  std::vector<int32_t> q;
  float scale = 0;
  int32_t zero = 0;
};

/// Quantizes `n` values as one group (see the file comment). False for a
/// non-finite value or a scale that overflows the scale type.
bool quantizeGroup(const QuantParams &p, const float *w, int64_t n,
                   QuantGroup &out, std::string &err);

/// The f32 value an integer decodes to: f32(q - zero) * scale.
inline float dequantizeValue(int32_t q, int32_t zero, float scale) {
  return static_cast<float>(q - zero) * scale;
}

/// A quantized matrix, its parts as the package stores them (raw bytes).
struct QuantizedMatrix {
  int64_t rows = 0, cols = 0;
  std::vector<uint8_t> packed, scales, zeros;
  const std::vector<uint8_t> &part(QuantPart p) const {
    return p == QuantPart::Packed   ? packed
           : p == QuantPart::Scales ? scales
                                    : zeros;
  }
};

/// Quantizes the row-major matrix `w` [rows, cols]. `what` names it in
/// errors ("PATH: tensor 'NAME'").
bool quantizeMatrix(const QuantParams &p, const float *w, int64_t rows,
                    int64_t cols, QuantizedMatrix &out, const std::string &what,
                    std::string &err);

/// Decodes stored parts into `out` [rows, cols] f32. `zeros` is ignored
/// (may be null) for the symmetric scheme.
void dequantizeMatrix(const QuantParams &p, int64_t rows, int64_t cols,
                      const uint8_t *packed, const uint8_t *scales,
                      const uint8_t *zeros, float *out);

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_PACK_QUANTIZE_H
