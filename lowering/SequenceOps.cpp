//===- SequenceOps.cpp - lowering of causal_conv1d, ssd_scan, ssd_step ---===//
#include "lowering/Common.h"

using namespace mlir;
using namespace mlir::zamba2;

namespace mlir::zamba2::lowering {

void populateSequenceOpLowerings(RewritePatternSet &patterns) {
  // Not lowered yet: causal_conv1d, ssd_scan, ssd_step.
  (void)patterns;
}

} // namespace mlir::zamba2::lowering
