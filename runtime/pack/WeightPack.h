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

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace zamba2 {

/// One weight as the package stores it.
struct PackEntry {
  std::string name; ///< checkpoint key
  DType dtype;      ///< stored element type (F32, BF16 or F16)
  std::vector<int64_t> shape;
  uint64_t offset = 0; ///< byte offset in weights.bin
  uint64_t bytes = 0;  ///< stored size in bytes
};

/// Called after each tensor with the bytes written so far and the total.
using PackProgressFn = std::function<void(uint64_t done, uint64_t total)>;

/// Checks the table against the checkpoint: each key present with the same
/// shape, a float source dtype, a supported stored dtype, a consistent byte
/// size, entries in increasing non-overlapping order within `totalBytes`.
bool validatePackTable(const Checkpoint &ck,
                       const std::vector<PackEntry> &entries,
                       uint64_t totalBytes, std::string &err);

/// Writes weights.bin to `path` (through PATH.tmp, renamed on success, so a
/// partial file never exists): each tensor converted to its stored dtype at
/// its offset, zero bytes in between.
bool packWeights(const Checkpoint &ck, const std::vector<PackEntry> &entries,
                 uint64_t totalBytes, const std::string &path,
                 const PackProgressFn &progress, std::string &err);

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_PACK_WEIGHTPACK_H
