//===- WeightPack.h - the package's weight file, written without MLIR -----===//
//
// A package stores every weight once in weights.bin at offsets the compiler
// planned (docs/PACKAGE.md). This library writes that file from a checkpoint
// and the weight table; it is plain C++ so that the weights can be produced
// on a machine that has the runtime but no compiler.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_PACK_WEIGHTPACK_H
#define ZAMBA2_RUNTIME_PACK_WEIGHTPACK_H

#include "runtime/format/Safetensors.h"
#include "runtime/pack/Quantize.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace zamba2 {

/// How a quantized part is computed from the checkpoint (Quantize.h).
struct PackQuant {
  std::string source; ///< checkpoint key of the float matrix [Out, In]
  /// The model tensor the dequantized matrix stands for: `source`, except
  /// for the quantized lm_head of a model with tied embeddings, whose source
  /// is the embedding table (also stored unquantized for the lookup) and
  /// whose tensor is "lm_head.weight".
  std::string tensor;
  QuantPart part = QuantPart::Packed;
  QuantParams params;
};

/// One weight as the package stores it.
struct PackEntry {
  std::string name; ///< checkpoint key (a quantized part: SOURCE.PART)
  DType dtype;      ///< stored element type (F32, BF16, F16; I8 when quantized)
  std::vector<int64_t> shape;
  uint64_t offset = 0; ///< byte offset in weights.bin
  uint64_t bytes = 0;  ///< stored size in bytes
  std::optional<PackQuant> quant; ///< set for the parts of a quantized matrix
};

/// Called after each tensor with the bytes written so far and the total.
using PackProgressFn = std::function<void(uint64_t done, uint64_t total)>;

/// Checks the table against the checkpoint: each key present with the same
/// shape, a float source dtype, a supported stored dtype, a consistent byte
/// size, entries in increasing non-overlapping order within `totalBytes`.
/// A quantized part: its source present, 2-D, float, quantizable with its
/// parameters, and the part's shape and dtype the ones they imply.
bool validatePackTable(const Checkpoint &ck,
                       const std::vector<PackEntry> &entries,
                       uint64_t totalBytes, std::string &err);

/// Writes weights.bin to `path` (through PATH.tmp, renamed on success, so a
/// partial file never exists): each tensor converted to its stored dtype at
/// its offset, zero bytes in between; quantized parts computed from their
/// source (each source quantized once for its parts).
bool packWeights(const Checkpoint &ck, const std::vector<PackEntry> &entries,
                 uint64_t totalBytes, const std::string &path,
                 const PackProgressFn &progress, std::string &err);

/// One tensor of a dequantized package: its name (the checkpoint key, or a
/// quantized matrix's `tensor`), shape, and where its bytes come from.
struct DequantTensor {
  std::string name;
  std::vector<int64_t> shape;
  const PackEntry *plain = nullptr; ///< an unquantized weight
  const PackEntry *packed = nullptr, *scales = nullptr, *zeros = nullptr;
};

/// Groups a package's weight table into the tensors of its dequantized form,
/// in table order (a quantized matrix where its first part is), checking
/// that the table is consistent without a checkpoint: byte sizes, each
/// quantized matrix complete (packed, scales, zeros iff asymmetric, one set
/// of parameters) with the shapes they imply, every name once.
bool planDequantize(const std::vector<PackEntry> &entries, uint64_t totalBytes,
                    std::vector<DequantTensor> &out, std::string &err);

/// Writes the weights of a package (weights.bin at `weightsPath`, laid out
/// as `entries` say) as f32 tensors of a safetensors file at `outPath`:
/// stored floats widened, quantized matrices decoded (dequantizeMatrix).
/// The file appears only when complete.
bool dequantizeWeights(const std::vector<PackEntry> &entries,
                       uint64_t totalBytes, const std::string &weightsPath,
                       const std::string &outPath, std::string &err);

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_PACK_WEIGHTPACK_H
