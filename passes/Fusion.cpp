//===- Fusion.cpp - the zamba2-fuse-* passes ------------------------------===//
#include "dialect/Zamba2Ops.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_FUSELORA
#define GEN_PASS_DEF_FUSEROTARY
#define GEN_PASS_DEF_FUSERESIDUAL
#define GEN_PASS_DEF_FUSENORM
#define GEN_PASS_DEF_FUSECONV
#define GEN_PASS_DEF_FUSESCAN
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
  if (linear.getBase())
    return rewriter.notifyMatchFailure(lora, "the linear adds to a base");
  if (linear.getNormWeight())
    return rewriter.notifyMatchFailure(lora, "the linear normalises its input");
  if (getConvEpilogue(linear))
    return rewriter.notifyMatchFailure(lora, "the linear convolves its output");
  rewriter.replaceOpWithNewOp<LoRALinearOp>(
      lora, lora.getType(), lora.getInput(), linear.getWeight(), lora.getA(),
      lora.getB(), linear.getBias());
  rewriter.eraseOp(linear);
  return success();
}

/// Whether two linear ops read the same input: the same value, normalised
/// by the same norm prologue (or neither).
bool sameInput(Operation *a, Operation *b) {
  if (a->getOperand(0) != b->getOperand(0))
    return false;
  std::optional<NormPrologue> na = getNormPrologue(a);
  std::optional<NormPrologue> nb = getNormPrologue(b);
  if (!na || !nb)
    return !na && !nb;
  return na->weight == nb->weight && na->residual == nb->residual &&
         na->gate == nb->gate && na->eps == nb->eps && na->groups == nb->groups;
}

/// The quantized form (zamba2-quantize ran first, W and B quantized alike):
///   quant_linear(mid, B into quant_linear(x, W [, bias]))
///     -> quant_linear(x, W [, bias] adapter(mid, B))
/// where mid = x A^T is a linear or quant_linear of the same x (with the
/// same norm prologue, if any).
LogicalResult fuseQuantLoRA(QuantLinearOp up, PatternRewriter &rewriter) {
  if (!up.getBase() || up.getBias() || up.getAdapterInput() ||
      up.getNormWeight() || getConvEpilogue(up))
    return rewriter.notifyMatchFailure(up, "not a plain product into a base");
  auto linear = up.getBase().getDefiningOp<QuantLinearOp>();
  if (!linear)
    return rewriter.notifyMatchFailure(up, "base is not a quant_linear");
  if (!linear->hasOneUse())
    return rewriter.notifyMatchFailure(up, "the linear has other uses");
  if (linear.getBase() || linear.getAdapterInput() || getConvEpilogue(linear))
    return rewriter.notifyMatchFailure(up, "the linear is already fused");
  if (linear.getBits() != up.getBits() ||
      linear.getGroupSize() != up.getGroupSize() ||
      linear.getScheme() != up.getScheme())
    return rewriter.notifyMatchFailure(up, "quantized differently");
  Value mid = up.getInput();
  Operation *down = mid.getDefiningOp();
  if (!isa_and_nonnull<LinearOp, QuantLinearOp>(down) ||
      !sameInput(down, linear))
    return rewriter.notifyMatchFailure(
        up, "the adapter's input is not a product of the linear's input");
  auto fused = cast<QuantLinearOp>(rewriter.clone(*linear));
  rewriter.modifyOpInPlace(fused, [&] {
    fused.getAdapterInputMutable().assign(mid);
    fused.getAdapterPackedMutable().assign(up.getPacked());
    fused.getAdapterScalesMutable().assign(up.getScales());
    if (Value zeros = up.getZeros())
      fused.getAdapterZerosMutable().assign(zeros);
  });
  rewriter.replaceOp(up, fused.getResult());
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

/// The linear or quant_linear that `v` is the only use of, with no base
/// yet and no convolution epilogue; null otherwise.
Operation *foldableProduct(Value v) {
  Operation *def = v.getDefiningOp();
  if (!def || !def->hasOneUse() || getConvEpilogue(def))
    return nullptr;
  if (auto linear = dyn_cast<LinearOp>(def))
    return linear.getBase() ? nullptr : def;
  if (auto quant = dyn_cast<QuantLinearOp>(def))
    return quant.getBase() ? nullptr : def;
  return nullptr;
}

/// addf(r, linear(x, W)) -> linear(x, W into r) (either operand order; a
/// quant_linear alike). The new op takes the addition's place: r may be
/// defined after the linear.
LogicalResult fuseResidual(arith::AddFOp add, PatternRewriter &rewriter) {
  if (!isa<RankedTensorType>(add.getType()))
    return rewriter.notifyMatchFailure(add, "not a tensor addition");
  Value base = add.getLhs();
  Operation *product = foldableProduct(add.getRhs());
  if (!product) {
    base = add.getRhs();
    product = foldableProduct(add.getLhs());
  }
  if (!product || product->getResult(0).getType() != add.getType())
    return rewriter.notifyMatchFailure(add, "no linear to add into");
  // A copy at the addition (r may be defined after the product), with
  // everything the product has (bias, adapter, norm prologue, attributes).
  Operation *fused = rewriter.clone(*product);
  rewriter.modifyOpInPlace(fused, [&] {
    if (auto linear = dyn_cast<LinearOp>(fused))
      linear.getBaseMutable().assign(base);
    else
      cast<QuantLinearOp>(fused).getBaseMutable().assign(base);
  });
  rewriter.replaceOp(add, fused->getResults());
  rewriter.eraseOp(product);
  return success();
}

/// The prologue standing for an rms_norm (`plus` its residual) or a
/// gated_rms_norm (`gated`, with its groups).
NormPrologue prologueOfNorm(RMSNormOp norm) {
  return {norm.getWeight(), norm.getResidual(), Value(),
          norm.getEps().convertToDouble(), 1};
}
NormPrologue prologueOfNorm(GatedRMSNormOp norm) {
  return {norm.getWeight(), Value(), norm.getGate(),
          norm.getEps().convertToDouble(),
          static_cast<int64_t>(norm.getGroups())};
}

/// For a gated_rms_norm folded into its linears: when its input y is the
/// output of an ssd_scan / ssd_step without a gate, read by the norm only,
/// the gate z moves into that op (y * silu(z) is then its output) and the
/// prologue has none: silu(z) is computed once per element there, not by
/// every block of each linear's kernel. Only a norm of one group moves (its
/// prologue is then an rms_norm's; the dialect has no grouped norm without
/// a gate), and only where z is defined before the scan.
void moveGateIntoScan(GatedRMSNormOp norm, NormPrologue &prologue,
                      PatternRewriter &rewriter) {
  if (norm.getGroups() != 1)
    return;
  auto y = dyn_cast<OpResult>(norm.getInput());
  if (!y || y.getResultNumber() != 0 || !y.hasOneUse())
    return;
  Operation *scan = y.getOwner();
  if (!isa<SSDScanOp, SSDStepOp>(scan))
    return;
  Value z = norm.getGate();
  if (Operation *def = z.getDefiningOp())
    if (def->getBlock() != scan->getBlock() || !def->isBeforeInBlock(scan))
      return;
  if (auto arg = dyn_cast<BlockArgument>(z))
    if (arg.getOwner() != scan->getBlock())
      return;
  bool moved = TypeSwitch<Operation *, bool>(scan).Case<SSDScanOp, SSDStepOp>(
      [&](auto op) {
        if (op.getGate())
          return false;
        rewriter.modifyOpInPlace(op, [&] { op.getGateMutable().assign(z); });
        return true;
      });
  if (moved)
    prologue.gate = Value();
}
void moveGateIntoScan(RMSNormOp, NormPrologue &, PatternRewriter &) {}

bool hasTail(RMSNormOp norm) { return static_cast<bool>(norm.getTail()); }
bool hasTail(GatedRMSNormOp) { return false; }

/// The users of `normed` that count against max-users: all but an adapter's
/// x A^T whose one use is as the adapter input of a quant_linear that also
/// reads `normed` as its input (a quantized adapted linear is two ops, both
/// reading the norm, where a float one is one lora_linear: it counts once).
unsigned countedNormUsers(Value normed) {
  unsigned count = 0;
  for (Operation *user : normed.getUsers()) {
    bool adapterOfAnother = false;
    if (user->getNumResults() == 1 && user->getResult(0).hasOneUse()) {
      auto adapted =
          dyn_cast<QuantLinearOp>(*user->getResult(0).getUsers().begin());
      adapterOfAnother = adapted &&
                         adapted.getAdapterInput() == user->getResult(0) &&
                         adapted.getInput() == normed;
    }
    if (!adapterOfAnother)
      ++count;
  }
  return count;
}

/// linear(rms_norm(x [plus r], w)) -> linear(x normed w [plus r]), and
/// gated_rms_norm(y, z, w) alike (`gated z`, or z moved into the scan that
/// computes y: moveGateIntoScan), when the norm has at most
/// `maxUsers` users (countedNormUsers) and every one is a linear op reading
/// it as its input only, with no prologue yet; the norm is then gone.
/// It is tried before foldConcatIntoNorm (a higher benefit).
template <typename NormOp> struct FuseNormPattern : OpRewritePattern<NormOp> {
  FuseNormPattern(MLIRContext *ctx, unsigned maxUsers)
      : OpRewritePattern<NormOp>(ctx, /*benefit=*/2), maxUsers(maxUsers) {}

  LogicalResult matchAndRewrite(NormOp norm,
                                PatternRewriter &rewriter) const override {
    Value normed = norm.getResult();
    if (normed.use_empty())
      return rewriter.notifyMatchFailure(norm, "no users");
    if (hasTail(norm))
      return rewriter.notifyMatchFailure(norm, "a row of two pieces");
    if (ShapedType::isDynamic(
            cast<RankedTensorType>(normed.getType()).getShape().back()))
      return rewriter.notifyMatchFailure(norm, "dynamic width");
    if (countedNormUsers(normed) > maxUsers)
      return rewriter.notifyMatchFailure(norm, "more users than max-users");
    for (OpOperand &use : normed.getUses()) {
      Operation *user = use.getOwner();
      if (!takesNormPrologue(user) || use.getOperandNumber() != 0 ||
          getNormPrologue(user))
        return rewriter.notifyMatchFailure(
            norm, "a user is not a linear op reading it as its input");
      if (llvm::count(user->getOperands(), normed) != 1)
        return rewriter.notifyMatchFailure(norm, "a user reads it twice");
    }
    NormPrologue prologue = prologueOfNorm(norm);
    moveGateIntoScan(norm, prologue, rewriter);
    for (Operation *user : llvm::to_vector(normed.getUsers()))
      rewriter.modifyOpInPlace(user, [&] {
        user->setOperand(0, norm.getInput());
        setNormPrologue(user, prologue);
      });
    rewriter.eraseOp(norm);
    return success();
  }

  unsigned maxUsers;
};

/// rms_norm(concat(a, b), w) -> rms_norm(a concat b, w), when the concat
/// of two pieces of static widths is read by the norm only: the norm's
/// kernel reads the row from both pieces, and the concatenation's kernel (a
/// copy of the row) is gone. A norm that goes into its linears' prologue
/// (FuseNormPattern, tried first) keeps its concat.
LogicalResult foldConcatIntoNorm(RMSNormOp norm, PatternRewriter &rewriter) {
  auto concat = norm.getInput().getDefiningOp<ConcatOp>();
  if (!concat || norm.getResidual() || norm.getTail())
    return rewriter.notifyMatchFailure(norm, "not a norm of a concat");
  if (concat.getInputs().size() != 2 || !concat->hasOneUse())
    return rewriter.notifyMatchFailure(
        norm, "the concat has other users or not two pieces");
  for (Value piece : concat.getInputs())
    if (ShapedType::isDynamic(
            cast<RankedTensorType>(piece.getType()).getShape().back()))
      return rewriter.notifyMatchFailure(norm, "a piece of dynamic width");
  rewriter.replaceOpWithNewOp<RMSNormOp>(
      norm, norm.getType(), concat.getInputs()[0], Value(),
      concat.getInputs()[1], norm.getWeight(), norm.getEpsAttr());
  rewriter.eraseOp(concat);
  return success();
}

/// causal_conv1d(split(linear(x))#i) with one token per row
///   -> split(linear(x) conv(...))#i, the convolution's new state the
///      linear's second result.
/// The new ops go where the convolution was: its weights may be defined
/// after the linear, so the split's other pieces must be used after it
/// (not by the convolution itself).
LogicalResult fuseConv(CausalConv1dOp conv, PatternRewriter &rewriter) {
  auto piece = dyn_cast<OpResult>(conv.getInput());
  auto split = piece ? dyn_cast<SplitOp>(piece.getOwner()) : SplitOp();
  if (!split)
    return rewriter.notifyMatchFailure(conv, "input is not a split's piece");
  if (!piece.hasOneUse())
    return rewriter.notifyMatchFailure(conv, "the piece has other uses");
  Operation *product = split.getInput().getDefiningOp();
  if (!product || !takesConvEpilogue(product) || getConvEpilogue(product))
    return rewriter.notifyMatchFailure(
        conv, "the split's input is not a linear without an epilogue");
  if (!product->hasOneUse())
    return rewriter.notifyMatchFailure(conv, "the linear has other uses");
  ArrayRef<int64_t> in =
      cast<RankedTensorType>(product->getOperand(0).getType()).getShape();
  if (in.size() != 3 || in[1] != 1)
    return rewriter.notifyMatchFailure(conv, "not one token per row");
  auto weight = cast<RankedTensorType>(conv.getWeight().getType());
  if (!weight.hasStaticShape())
    return rewriter.notifyMatchFailure(conv, "dynamic conv weight");
  for (OpResult other : split->getResults()) {
    if (other == piece)
      continue;
    for (Operation *user : other.getUsers()) {
      Operation *at = conv->getBlock()->findAncestorOpInBlock(*user);
      if (!at || !conv->isBeforeInBlock(at))
        return rewriter.notifyMatchFailure(
            conv, "another piece is used before the convolution");
    }
  }
  ArrayRef<int64_t> sizes = split.getSizes();
  int64_t offset = 0;
  for (unsigned i = 0; i < piece.getResultNumber(); ++i)
    offset += sizes[i];
  rewriter.setInsertionPoint(conv);
  Operation *fused = cloneWithConvEpilogue(
      rewriter, product,
      ConvEpilogue{conv.getWeight(), conv.getBias(), conv.getState(), offset,
                   conv.getSilu()});
  Operation *pieces = rewriter.clone(*split);
  rewriter.modifyOpInPlace(pieces,
                           [&] { pieces->setOperand(0, fused->getResult(0)); });
  rewriter.replaceOp(conv,
                     ValueRange{pieces->getResult(piece.getResultNumber()),
                                fused->getResult(1)});
  rewriter.replaceOp(split, pieces->getResults());
  rewriter.eraseOp(product);
  return success();
}

/// ssd_step(pieces of a linear op with a convolution epilogue) ->
/// in_proj_scan { that product; its splits; the ssd_step; yield }.
LogicalResult fuseScan(SSDStepOp scan, PatternRewriter &rewriter) {
  if (scan->getParentOfType<InProjScanOp>())
    return rewriter.notifyMatchFailure(scan, "already grouped");
  // The product: the op x is a piece of, through splits.
  Value root = scan.getX();
  while (auto split = root.getDefiningOp<SplitOp>())
    root = split.getInput();
  Operation *product = root.getDefiningOp();
  if (!product || !isa<LinearOp, QuantLinearOp>(product) ||
      product->getResult(0) != root)
    return rewriter.notifyMatchFailure(scan, "x is not a piece of a linear");
  if (!getConvEpilogue(product))
    return rewriter.notifyMatchFailure(scan, "the linear has no convolution "
                                             "epilogue (zamba2-fuse-conv)");
  if (auto quant = dyn_cast<QuantLinearOp>(product);
      quant && quant.getAdapterInput())
    return rewriter.notifyMatchFailure(scan, "the linear has an adapter");
  if (product->getBlock() != scan->getBlock())
    return rewriter.notifyMatchFailure(scan, "not in one block");
  std::string why;
  if (!scanFoldLayout(product, scan, why))
    return rewriter.notifyMatchFailure(scan, why);
  // The ops that move: the product, every split of its result (and of
  // those splits' pieces), the scan; in block order.
  SmallVector<Operation *> moved = {product};
  for (size_t i = 0; i < moved.size(); ++i)
    for (Value v : moved[i]->getResults())
      for (Operation *user : v.getUsers())
        if (isa<SplitOp>(user) && !llvm::is_contained(moved, user))
          moved.push_back(user);
  moved.push_back(scan);
  llvm::sort(moved,
             [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  if (moved.back() != scan)
    return rewriter.notifyMatchFailure(scan, "a split comes after the scan");
  llvm::SmallPtrSet<Operation *, 8> inside(moved.begin(), moved.end());
  // What the body reads from outside (the op's operands), and what it makes
  // that is used outside (its results), which must come after the scan.
  llvm::SetVector<Value> inputs;
  SmallVector<Value> outputs;
  for (Operation *op : moved) {
    for (Value operand : op->getOperands())
      if (!inside.contains(operand.getDefiningOp()))
        inputs.insert(operand);
    for (Value result : op->getResults()) {
      bool usedOutside = false;
      for (Operation *user : result.getUsers()) {
        if (inside.contains(user))
          continue;
        Operation *at = scan->getBlock()->findAncestorOpInBlock(*user);
        if (!at || !scan->isBeforeInBlock(at))
          return rewriter.notifyMatchFailure(scan,
                                             "a piece is used before the scan");
        usedOutside = true;
      }
      if (usedOutside)
        outputs.push_back(result);
    }
  }
  rewriter.setInsertionPoint(scan);
  auto fold = InProjScanOp::create(rewriter, scan.getLoc(),
                                   ValueRange(outputs).getTypes(),
                                   inputs.getArrayRef());
  SmallVector<Location> locs;
  for (Value v : inputs)
    locs.push_back(v.getLoc());
  Block *body = rewriter.createBlock(
      &fold.getBody(), {}, ValueRange(inputs.getArrayRef()).getTypes(), locs);
  IRMapping map;
  map.map(inputs.getArrayRef(), body->getArguments());
  for (Operation *op : moved)
    rewriter.clone(*op, map);
  SmallVector<Value> yielded;
  for (Value v : outputs)
    yielded.push_back(map.lookup(v));
  YieldOp::create(rewriter, scan.getLoc(), yielded);
  for (auto [old, now] : llvm::zip(outputs, fold.getResults()))
    rewriter.replaceAllUsesWith(old, now);
  for (Operation *op : llvm::reverse(moved))
    rewriter.eraseOp(op);
  return success();
}

struct FuseLoRAPass : mlir::zamba2::impl::FuseLoRABase<FuseLoRAPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(fuseLoRA);
    patterns.add(fuseQuantLoRA);
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

struct FuseResidualPass
    : mlir::zamba2::impl::FuseResidualBase<FuseResidualPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(fuseResidual);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

struct FuseNormPass : mlir::zamba2::impl::FuseNormBase<FuseNormPass> {
  using Base::Base;
  void runOnOperation() override {
    if (maxUsers < 1) {
      getOperation().emitError("zamba2-fuse-norm: max-users must be >= 1");
      return signalPassFailure();
    }
    RewritePatternSet patterns(&getContext());
    patterns.add<FuseNormPattern<RMSNormOp>, FuseNormPattern<GatedRMSNormOp>>(
        &getContext(), unsigned(maxUsers));
    patterns.add(foldConcatIntoNorm);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

struct FuseConvPass : mlir::zamba2::impl::FuseConvBase<FuseConvPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(fuseConv);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

struct FuseScanPass : mlir::zamba2::impl::FuseScanBase<FuseScanPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add(fuseScan);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
