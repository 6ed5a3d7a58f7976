//===- Fusion.cpp - zamba2-fuse-lora and zamba2-fuse-rotary ---------------===//
#include "dialect/Zamba2Ops.h"
#include "passes/Passes.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_FUSELORA
#define GEN_PASS_DEF_FUSEROTARY
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;

namespace {

/// lora(x, A, B, linear(x, W [, bias])) -> lora_linear(x, W, A, B [, bias]).
LogicalResult fuseLoRA(LoRAOp lora, PatternRewriter &rewriter) {
  auto linear = lora.getBase().getDefiningOp<LinearOp>();
  if (!linear)
    return rewriter.notifyMatchFailure(lora, "base is not a linear");
  if (linear.getInput() != lora.getInput())
    return rewriter.notifyMatchFailure(lora, "adapter reads another input");
  if (!linear->hasOneUse())
    return rewriter.notifyMatchFailure(lora, "the linear has other uses");
  rewriter.replaceOpWithNewOp<LoRALinearOp>(
      lora, lora.getType(), lora.getInput(), linear.getWeight(), lora.getA(),
      lora.getB(), linear.getBias());
  rewriter.eraseOp(linear);
  return success();
}

/// attention(rotary(q, k)#0, rotary(q, k)#1) -> attention{rope_theta}(q, k).
LogicalResult fuseRotary(AttentionOp attention, PatternRewriter &rewriter) {
  if (attention.getRopeTheta())
    return rewriter.notifyMatchFailure(attention, "rotary already folded");
  auto rotary = attention.getQ().getDefiningOp<RotaryOp>();
  if (!rotary || attention.getQ() != rotary.getQOut() ||
      attention.getK() != rotary.getKOut())
    return rewriter.notifyMatchFailure(attention,
                                       "q and k are not one rotary's results");
  if (rotary.getPositions() != attention.getPositions())
    return rewriter.notifyMatchFailure(attention, "different positions");
  auto qType = cast<RankedTensorType>(attention.getQ().getType());
  int64_t headDim = qType.getShape().back() / attention.getNumHeads();
  if (headDim != static_cast<int64_t>(rotary.getHeadDim()))
    return rewriter.notifyMatchFailure(attention, "different head size");
  if (!rotary.getQOut().hasOneUse() || !rotary.getKOut().hasOneUse())
    return rewriter.notifyMatchFailure(attention, "rotary results reused");
  rewriter.modifyOpInPlace(attention, [&] {
    attention.getQMutable().assign(rotary.getQ());
    attention.getKMutable().assign(rotary.getK());
    attention.setRopeThetaAttr(rotary.getThetaAttr());
  });
  rewriter.eraseOp(rotary);
  return success();
}

struct FuseLoRAPass : mlir::zamba2::impl::FuseLoRABase<FuseLoRAPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(fuseLoRA);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

struct FuseRotaryPass : mlir::zamba2::impl::FuseRotaryBase<FuseRotaryPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(fuseRotary);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
