//===- AttentionOps.cpp - lowering of rotary, attention ---===//
#include "lowering/Common.h"

using namespace mlir;
using namespace mlir::zamba2;

namespace mlir::zamba2::lowering {

void populateAttentionLowerings(RewritePatternSet &patterns) {
  // Not lowered yet: rotary, attention.
  (void)patterns;
}

} // namespace mlir::zamba2::lowering
