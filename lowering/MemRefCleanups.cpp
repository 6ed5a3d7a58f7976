//===- MemRefCleanups.cpp - memref rewrites the CPU pipeline needs --------===//
//
// zamba2-expand-shape-to-cast: contiguous expand_shape -> reinterpret_cast.
// zamba2-copy-to-linalg: strided memref.copy -> linalg.copy.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_EXPANDSHAPETOCAST
#define GEN_PASS_DEF_COPYTOLINALG
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;

namespace {

LogicalResult expandToCast(memref::ExpandShapeOp op,
                           PatternRewriter &rewriter) {
  MemRefType srcType = op.getSrcType(), resultType = op.getResultType();
  if (!srcType.getLayout().isIdentity() || !resultType.getLayout().isIdentity())
    return rewriter.notifyMatchFailure(op, "not contiguous");
  Location loc = op.getLoc();
  SmallVector<OpFoldResult> sizes = op.getMixedOutputShape();
  // Row-major strides: stride[i] = prod(sizes[i+1:]).
  SmallVector<OpFoldResult> strides(sizes.size());
  OpFoldResult running = rewriter.getIndexAttr(1);
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 1; i >= 0; --i) {
    strides[i] = running;
    if (i == 0)
      break;
    auto constant = [](OpFoldResult v) -> std::optional<int64_t> {
      if (auto attr = dyn_cast<Attribute>(v))
        return cast<IntegerAttr>(attr).getInt();
      return std::nullopt;
    };
    std::optional<int64_t> a = constant(running), b = constant(sizes[i]);
    if (a && b) {
      running = rewriter.getIndexAttr(*a * *b);
    } else {
      auto value = [&](OpFoldResult v) -> Value {
        if (auto attr = dyn_cast<Attribute>(v))
          return arith::ConstantIndexOp::create(
              rewriter, loc, cast<IntegerAttr>(attr).getInt());
        return cast<Value>(v);
      };
      running =
          arith::MulIOp::create(rewriter, loc, value(running), value(sizes[i]))
              .getResult();
    }
  }
  rewriter.replaceOpWithNewOp<memref::ReinterpretCastOp>(
      op, resultType, op.getSrc(), rewriter.getIndexAttr(0), sizes, strides);
  return success();
}

struct ExpandShapeToCastPass
    : mlir::zamba2::impl::ExpandShapeToCastBase<ExpandShapeToCastPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(expandToCast);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

LogicalResult copyToLinalg(memref::CopyOp op, PatternRewriter &rewriter) {
  auto source = cast<MemRefType>(op.getSource().getType());
  auto target = cast<MemRefType>(op.getTarget().getType());
  if (source.getLayout().isIdentity() && target.getLayout().isIdentity())
    return rewriter.notifyMatchFailure(op, "contiguous: becomes a memcpy");
  rewriter.replaceOpWithNewOp<linalg::CopyOp>(op, op.getSource(),
                                              op.getTarget());
  return success();
}

struct CopyToLinalgPass
    : mlir::zamba2::impl::CopyToLinalgBase<CopyToLinalgPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(copyToLinalg);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
