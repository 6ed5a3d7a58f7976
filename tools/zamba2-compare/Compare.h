//===- Compare.h - Tensor comparison of zamba2-compare ----------*- C++ -*-===//
//
// Compares one tensor of a file A against one of a reference file B, either
// exactly (same dtype, bit for bit) or by relative L2 error
//   rel_l2 = ||a - b|| / ||b||
// (float dtypes F64/F32/F16/BF16, or integer ones, converted to double).
// The result is the line zamba2-compare prints.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_TOOLS_COMPARE_COMPARE_H
#define ZAMBA2_TOOLS_COMPARE_COMPARE_H

#include "runtime/format/Safetensors.h"

#include <string>

namespace zamba2 {

struct CompareOptions {
  bool exact = false;
  double maxRelL2 = 0; ///< used when !exact
};

struct CompareResult {
  bool pass = false;
  /// "NAME: rel_l2 = 3.1e-07 (limit 1e-04) ok", "NAME: identical",
  /// "NAME: mismatch at [0, 3]: 5 vs 7 (2 of 58 elements differ)", ...
  std::string line;
};

/// Compares `a` against the reference `b`; `name` starts the line. Returns
/// false (with `err`, one line naming both files) when the tensors cannot be
/// compared: different shapes, integer vs float, different dtypes with
/// `exact`, or a dtype that is neither float nor integer.
bool compareTensors(const std::string &name, const TensorInfo &a,
                    const TensorInfo &b, const CompareOptions &options,
                    CompareResult &result, std::string &err);

/// `v` in the shortest %e form that reads back as the same double ("1e-04",
/// "2.5e-03").
std::string formatLimit(double v);

/// "[i, j, k]": the multi-index of flat element `flat` in `shape`.
std::string formatIndex(const std::vector<int64_t> &shape, uint64_t flat);

} // namespace zamba2

#endif // ZAMBA2_TOOLS_COMPARE_COMPARE_H
