//===- FusedLinear.cpp - lowering of lora_linear, quant_linear ---===//
#include "lowering/Common.h"

using namespace mlir;
using namespace mlir::zamba2;

namespace mlir::zamba2::lowering {

void populateFusedLinearLowerings(RewritePatternSet &patterns) {
  // Not lowered yet: lora_linear, quant_linear.
  (void)patterns;
}

} // namespace mlir::zamba2::lowering
