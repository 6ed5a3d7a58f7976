//===- Bufferize.cpp - zamba2-bufferize -----------------------------------===//
//
// One-Shot Bufferize as both pipelines use it, except that the ops inside a
// zamba2.in_proj_scan are not bufferized one by one: the op's model
// (GpuKernels.cpp) reads them and emits their kernels itself, and the
// driver, which walks nested ops before their parent, would otherwise
// bufferize the body first.
//
//===----------------------------------------------------------------------===//
#include "dialect/Zamba2Ops.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotModuleBufferize.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_BUFFERIZE
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;

namespace {

struct BufferizePass : mlir::zamba2::impl::BufferizeBase<BufferizePass> {
  void runOnOperation() override {
    bufferization::OneShotBufferizationOptions options;
    options.bufferizeFunctionBoundaries = true;
    options.setFunctionBoundaryTypeConversion(
        bufferization::LayoutMapOption::IdentityLayoutMap);
    options.opFilter.denyOperation([](Operation *op) {
      return op->getParentOfType<InProjScanOp>() != nullptr;
    });
    bufferization::BufferizationState state;
    if (failed(bufferization::runOneShotModuleBufferize(getOperation(), options,
                                                        state)))
      signalPassFailure();
  }
};

} // namespace
