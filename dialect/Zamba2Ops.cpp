//===- Zamba2Ops.cpp - Zamba2 operations: verifiers, folders --------------===//
//
// Verifiers check every shape relation of the model spec. Dims that are
// dynamic in the IR (batch, sequence) are checked only where they are known.
// Messages say what was expected and what was found.
//
//===----------------------------------------------------------------------===//
#include "dialect/Zamba2Ops.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/TypeUtilities.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::zamba2;

#include "dialect/Zamba2Enums.cpp.inc"

#define GET_OP_CLASSES
#include "dialect/Zamba2Ops.cpp.inc"

//===----------------------------------------------------------------------===//
// Shape-checking helpers
//===----------------------------------------------------------------------===//

namespace {

bool dimsCompatible(int64_t a, int64_t b) {
  return ShapedType::isDynamic(a) || ShapedType::isDynamic(b) || a == b;
}

std::string dimString(int64_t d) {
  return ShapedType::isDynamic(d) ? std::string("?") : std::to_string(d);
}

std::string shapeString(ArrayRef<int64_t> shape) {
  std::string s = "[";
  for (auto [i, d] : llvm::enumerate(shape)) {
    if (i)
      s += ", ";
    s += dimString(d);
  }
  return s + "]";
}

/// Tensors of shapes `first` and `s` can be joined along their last dim
/// (the same rank and leading dims): `what` names them in the error.
LogicalResult expectJoinable(Operation *op, StringRef what,
                             ArrayRef<int64_t> first, ArrayRef<int64_t> s) {
  if (s.size() != first.size())
    return op->emitOpError() << what << " must have the same rank, found "
                             << shapeString(first) << " and " << shapeString(s);
  for (auto [a, b] : llvm::zip(s.drop_back(), first.drop_back()))
    if (!dimsCompatible(a, b))
      return op->emitOpError()
             << what
             << " disagree in their leading dims: " << shapeString(first)
             << " and " << shapeString(s);
  return success();
}

/// Checks an operand or result shape against an expected shape in which
/// kDynamic means "any". `what` names the value ("state", "weight").
LogicalResult expectShape(Operation *op, StringRef what, Value v,
                          ArrayRef<int64_t> expected) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() != static_cast<int64_t>(expected.size()))
    return op->emitOpError() << what << " must have rank " << expected.size()
                             << " " << shapeString(expected) << ", found rank "
                             << type.getRank() << " " << type;
  for (auto [found, want] : llvm::zip(type.getShape(), expected))
    if (!dimsCompatible(found, want))
      return op->emitOpError()
             << what << " must have shape " << shapeString(expected)
             << ", found " << shapeString(type.getShape());
  return success();
}

LogicalResult expectRank(Operation *op, StringRef what, Value v, int64_t rank) {
  auto type = cast<RankedTensorType>(v.getType());
  if (type.getRank() != rank)
    return op->emitOpError() << what << " must have rank " << rank
                             << ", found rank " << type.getRank();
  return success();
}

/// A dim that later checks divide by must be static.
LogicalResult expectStaticDim(Operation *op, StringRef what, Value v,
                              int64_t dim) {
  auto type = cast<RankedTensorType>(v.getType());
  if (ShapedType::isDynamic(type.getDimSize(dim)))
    return op->emitOpError() << what << " must be static, found " << type;
  return success();
}

ArrayRef<int64_t> shapeOf(Value v) {
  return cast<RankedTensorType>(v.getType()).getShape();
}

/// Shape `leading ++ [last]` built from a value's leading dims.
SmallVector<int64_t> withLastDim(Value v, int64_t last) {
  SmallVector<int64_t> shape(shapeOf(v).drop_back());
  shape.push_back(last);
  return shape;
}

constexpr int64_t kAny = ShapedType::kDynamic;

/// Checks the [Out, In] weight of a linear against input [..., In] and result
/// [..., Out]; returns Out through `outDim`.
LogicalResult verifyLinearShapes(Operation *op, Value input, Value weight,
                                 Value bias, Value result) {
  if (failed(expectRank(op, "weight", weight, 2)))
    return failure();
  if (shapeOf(input).empty())
    return op->emitOpError("input must have rank >= 1");
  int64_t out = shapeOf(weight)[0], in = shapeOf(weight)[1];
  if (!dimsCompatible(shapeOf(input).back(), in))
    return op->emitOpError() << "input's last dim must equal the weight's "
                             << "input dim " << dimString(in) << ", found "
                             << dimString(shapeOf(input).back());
  if (bias && failed(expectShape(op, "bias", bias, {out})))
    return failure();
  return expectShape(op, "result", result, withLastDim(input, out));
}

} // namespace

//===----------------------------------------------------------------------===//
// WeightOp / ParamOp
//===----------------------------------------------------------------------===//

LogicalResult WeightOp::verify() {
  auto type = cast<RankedTensorType>(getType());
  if (!type.hasStaticShape())
    return emitOpError() << "weight type must have a static shape, found "
                         << type;
  return success();
}

LogicalResult ParamOp::verifySymbolUses(SymbolTableCollection &symbolTable) {
  auto weight =
      symbolTable.lookupNearestSymbolFrom<WeightOp>(*this, getNameAttr());
  if (!weight)
    return emitOpError() << getNameAttr() << " does not name a zamba2.weight";
  if (weight.getType() != getType())
    return emitOpError() << "type " << getType()
                         << " differs from the weight's declared type "
                         << weight.getType();
  return success();
}

//===----------------------------------------------------------------------===//
// Model-level ops
//===----------------------------------------------------------------------===//

LogicalResult EmbedOp::verify() {
  if (failed(expectRank(*this, "table", getTable(), 2)) ||
      failed(expectRank(*this, "ids", getIds(), 2)))
    return failure();
  auto ids = shapeOf(getIds());
  return expectShape(*this, "result", getResult(),
                     {ids[0], ids[1], shapeOf(getTable())[1]});
}

LogicalResult RMSNormOp::inferReturnTypes(MLIRContext *,
                                          std::optional<Location>,
                                          Adaptor adaptor,
                                          SmallVectorImpl<Type> &types) {
  auto input = cast<RankedTensorType>(adaptor.getInput().getType());
  if (!adaptor.getTail() || input.getRank() == 0) {
    types.push_back(input);
    return success();
  }
  // As wide as both pieces (the verifier checks that they fit together).
  SmallVector<int64_t> shape(input.getShape());
  int64_t tail =
      cast<RankedTensorType>(adaptor.getTail().getType()).getShape().back();
  shape.back() =
      ShapedType::isDynamic(shape.back()) || ShapedType::isDynamic(tail)
          ? ShapedType::kDynamic
          : shape.back() + tail;
  types.push_back(input.clone(shape));
  return success();
}

LogicalResult RMSNormOp::verify() {
  if (shapeOf(getInput()).empty())
    return emitOpError("input must have rank >= 1");
  if (getEps().convertToDouble() <= 0)
    return emitOpError() << "eps must be positive, found "
                         << getEps().convertToDouble();
  if (Value tail = getTail()) {
    if (getResidual())
      return emitOpError("takes a residual or a tail, not both");
    if (failed(expectJoinable(*this, "input and tail", shapeOf(getInput()),
                              shapeOf(tail))))
      return failure();
    // Where the row passes from one piece to the other is fixed in the
    // kernels (and the weight's width with it).
    if (ShapedType::isDynamic(shapeOf(getInput()).back()) ||
        ShapedType::isDynamic(shapeOf(tail).back()))
      return emitOpError("a norm of two pieces needs their widths static");
    if (getElementTypeOrSelf(tail) != getElementTypeOrSelf(getInput()))
      return emitOpError() << "tail must have the input's element type, found "
                           << tail.getType();
  }
  return expectShape(*this, "weight", getWeight(),
                     {shapeOf(getResult()).back()});
}

namespace {
/// rms_norm(x plus 0) -> rms_norm(x).
struct DropZeroResidual : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op,
                                PatternRewriter &rewriter) const override {
    if (!op.getResidual() || !matchPattern(op.getResidual(), m_AnyZeroFloat()))
      return failure();
    rewriter.modifyOpInPlace(op, [&] { op.getResidualMutable().clear(); });
    return success();
  }
};
} // namespace

void RMSNormOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                            MLIRContext *context) {
  patterns.add<DropZeroResidual>(context);
}

LogicalResult GatedRMSNormOp::verify() {
  if (shapeOf(getInput()).empty())
    return emitOpError("input must have rank >= 1");
  if (failed(expectStaticDim(*this, "the normalised dim", getInput(),
                             shapeOf(getInput()).size() - 1)))
    return failure();
  int64_t width = shapeOf(getInput()).back();
  if (width % getGroups() != 0)
    return emitOpError() << "width " << width << " is not divisible into "
                         << getGroups() << " groups";
  if (getEps().convertToDouble() <= 0)
    return emitOpError("eps must be positive");
  return expectShape(*this, "weight", getWeight(), {width});
}

/// `into base`: the same type as the result.
static LogicalResult verifyBase(Operation *op, Value base, Value result) {
  if (base && base.getType() != result.getType())
    return op->emitOpError()
           << "base must have the result's type " << result.getType()
           << ", found " << base.getType();
  return success();
}

//===----------------------------------------------------------------------===//
// The norm prologue of the linear ops
//===----------------------------------------------------------------------===//

namespace {

template <typename OpTy> std::optional<NormPrologue> prologueOf(OpTy op) {
  if (!op.getNormWeight())
    return std::nullopt;
  NormPrologue norm{op.getNormWeight(), op.getNormResidual(), op.getNormGate()};
  if (auto eps = op.getNormEpsAttr())
    norm.eps = eps.getValueAsDouble();
  if (auto groups = op.getNormGroupsAttr())
    norm.groups = groups.getInt();
  return norm;
}

/// Sets an optional operand to `v`, or clears it when `v` is null.
void setOptional(MutableOperandRange operand, Value v) {
  if (v)
    operand.assign(v);
  else
    operand.clear();
}

template <typename OpTy> void setPrologue(OpTy op, const NormPrologue &norm) {
  setOptional(op.getNormWeightMutable(), norm.weight);
  setOptional(op.getNormResidualMutable(), norm.residual);
  setOptional(op.getNormGateMutable(), norm.gate);
  Builder b(op.getContext());
  if (norm.weight)
    op.setNormEpsAttr(b.getF64FloatAttr(norm.eps));
  else
    op.removeNormEpsAttr();
  if (norm.weight && norm.groups != 1)
    op.setNormGroupsAttr(b.getI64IntegerAttr(norm.groups));
  else
    op.removeNormGroupsAttr();
}

/// The prologue's operands and attributes agree with each other and with
/// `input` (the product's input, v's first term).
template <typename OpTy> LogicalResult verifyNormPrologue(OpTy op) {
  Value input = op.getInput();
  bool normed = static_cast<bool>(op.getNormWeight());
  if (!normed) {
    if (op.getNormResidual() || op.getNormGate() || op.getNormEpsAttr() ||
        op.getNormGroupsAttr())
      return op.emitOpError("`plus`, `gated`, norm_eps and norm_groups need "
                            "`normed`");
    return success();
  }
  if (op.getNormResidual() && op.getNormGate())
    return op.emitOpError("a norm prologue is `plus` or `gated`, not both");
  for (Value v : {op.getNormResidual(), op.getNormGate()})
    if (v && v.getType() != input.getType())
      return op.emitOpError() << "the norm prologue's `plus`/`gated` operand "
                              << "must have the input's type "
                              << input.getType() << ", found " << v.getType();
  auto eps = op.getNormEpsAttr();
  if (!eps || eps.getValueAsDouble() <= 0)
    return op.emitOpError("`normed` needs a positive norm_eps");
  int64_t groups = op.getNormGroupsAttr() ? op.getNormGroupsAttr().getInt() : 1;
  if (groups < 1)
    return op.emitOpError() << "norm_groups must be positive, found " << groups;
  int64_t width = shapeOf(input).back();
  if (ShapedType::isDynamic(width))
    return op.emitOpError("a norm prologue needs a static input width");
  if (groups > 1) {
    if (!op.getNormGate())
      return op.emitOpError(
          "norm_groups > 1 needs `gated` (as gated_rms_norm)");
    if (width % groups != 0)
      return op.emitOpError()
             << "width " << dimString(width) << " is not divisible into "
             << groups << " norm groups";
  }
  return expectShape(op, "norm weight", op.getNormWeight(), {width});
}

} // namespace

bool mlir::zamba2::takesNormPrologue(Operation *op) {
  return isa<LinearOp, LoRALinearOp, QuantLinearOp>(op);
}

std::optional<NormPrologue> mlir::zamba2::getNormPrologue(Operation *op) {
  return TypeSwitch<Operation *, std::optional<NormPrologue>>(op)
      .Case<LinearOp, LoRALinearOp, QuantLinearOp>(
          [](auto linear) { return prologueOf(linear); })
      .Default([](Operation *) { return std::nullopt; });
}

void mlir::zamba2::setNormPrologue(Operation *op, const NormPrologue &norm) {
  TypeSwitch<Operation *>(op).Case<LinearOp, LoRALinearOp, QuantLinearOp>(
      [&](auto linear) { setPrologue(linear, norm); });
}

//===----------------------------------------------------------------------===//
// The convolution epilogue of the linear ops
//===----------------------------------------------------------------------===//

namespace {

template <typename OpTy> std::optional<ConvEpilogue> epilogueOf(OpTy op) {
  if (!op.getConvWeight())
    return std::nullopt;
  ConvEpilogue conv{op.getConvWeight(), op.getConvBias(), op.getConvState()};
  if (auto offset = op.getConvOffsetAttr())
    conv.offset = offset.getInt();
  conv.silu = op.getConvSilu();
  return conv;
}

/// `op` with `conv` as its epilogue: a clone whose operands and attributes
/// are set through the accessors (which keep the operand segments right),
/// re-created with the result types that go with them.
template <typename OpTy>
Operation *cloneWithEpilogue(RewriterBase &rewriter, OpTy op,
                             const ConvEpilogue &conv) {
  auto copy = cast<OpTy>(rewriter.clone(*op));
  setOptional(copy.getConvWeightMutable(), conv.weight);
  setOptional(copy.getConvBiasMutable(), conv.weight ? conv.bias : Value());
  setOptional(copy.getConvStateMutable(), conv.weight ? conv.state : Value());
  if (conv.weight) {
    copy.setConvOffsetAttr(rewriter.getI64IntegerAttr(conv.offset));
    copy.setConvSilu(conv.silu);
  } else {
    copy.removeConvOffsetAttr();
    copy.setConvSilu(false);
  }
  SmallVector<Type> types = {op.getResult().getType()};
  if (conv.weight)
    types.push_back(conv.state.getType());
  SmallVector<NamedAttribute> discardable(copy->getDiscardableAttrs());
  auto fresh = OpTy::create(rewriter, op.getLoc(), types, copy->getOperands(),
                            copy.getProperties(), discardable);
  rewriter.eraseOp(copy);
  return fresh;
}

/// The epilogue's operands and attributes agree with each other, with
/// `input` (one token per row) and with the result's width.
template <typename OpTy> LogicalResult verifyConvEpilogue(OpTy op) {
  if (!op.getConvWeight()) {
    if (op.getConvBias() || op.getConvState() || op.getConvOffsetAttr() ||
        op.getConvSilu() || op.getNewConvState())
      return op.emitOpError("conv bias, state, offset, silu and "
                            "new_conv_state need `conv`");
    return success();
  }
  if (!op.getConvState() || !op.getConvOffsetAttr() || !op.getNewConvState())
    return op.emitOpError("`conv` needs a state, conv_offset and the "
                          "new_conv_state result");
  ArrayRef<int64_t> in = shapeOf(op.getInput());
  if (in.size() != 3 || in[1] != 1)
    return op.emitOpError()
           << "a convolution epilogue needs one token per row (input [B, 1, "
              "In]), found input "
           << shapeString(in);
  if (failed(expectRank(op, "conv weight", op.getConvWeight(), 3)) ||
      failed(expectStaticDim(op, "conv weight", op.getConvWeight(), 0)) ||
      failed(expectStaticDim(op, "conv weight", op.getConvWeight(), 2)))
    return failure();
  int64_t channels = shapeOf(op.getConvWeight())[0];
  int64_t width = shapeOf(op.getConvWeight())[2];
  if (width < 2)
    return op.emitOpError() << "conv width must be at least 2, found " << width;
  if (channels < 1)
    return op.emitOpError("a convolution epilogue needs at least one channel");
  if (failed(expectShape(op, "conv weight", op.getConvWeight(),
                         {channels, 1, width})) ||
      (op.getConvBias() &&
       failed(expectShape(op, "conv bias", op.getConvBias(), {channels}))) ||
      failed(expectShape(op, "conv state", op.getConvState(),
                         {in[0], channels, width - 1})))
    return failure();
  if (op.getNewConvState().getType() != op.getConvState().getType())
    return op.emitOpError() << "new_conv_state must have the conv state's "
                            << "type " << op.getConvState().getType()
                            << ", found " << op.getNewConvState().getType();
  // The convolution reads the product as f32, as causal_conv1d reads its
  // (f32) input.
  if (!cast<RankedTensorType>(op.getResult().getType())
           .getElementType()
           .isF32())
    return op.emitOpError("a convolution epilogue needs an f32 result");
  int64_t offset = op.getConvOffsetAttr().getInt();
  int64_t out = shapeOf(op.getResult()).back();
  if (ShapedType::isDynamic(out) || offset < 0 || offset > out - channels)
    return op.emitOpError()
           << "conv channels [" << offset << ", " << offset + channels
           << ") must lie in the result's " << dimString(out) << " channels";
  return success();
}

} // namespace

bool mlir::zamba2::takesConvEpilogue(Operation *op) {
  return isa<LinearOp, QuantLinearOp>(op);
}

std::optional<ConvEpilogue> mlir::zamba2::getConvEpilogue(Operation *op) {
  return TypeSwitch<Operation *, std::optional<ConvEpilogue>>(op)
      .Case<LinearOp, QuantLinearOp>(
          [](auto linear) { return epilogueOf(linear); })
      .Default([](Operation *) { return std::nullopt; });
}

Operation *mlir::zamba2::cloneWithConvEpilogue(RewriterBase &rewriter,
                                               Operation *op,
                                               const ConvEpilogue &conv) {
  return TypeSwitch<Operation *, Operation *>(op).Case<LinearOp, QuantLinearOp>(
      [&](auto linear) { return cloneWithEpilogue(rewriter, linear, conv); });
}

LogicalResult LinearOp::verify() {
  if (failed(verifyLinearShapes(*this, getInput(), getWeight(), getBias(),
                                getResult())) ||
      failed(verifyNormPrologue(*this)) || failed(verifyConvEpilogue(*this)))
    return failure();
  return verifyBase(*this, getBase(), getResult());
}

/// Checks A [r, In] and B [Out, r] against input [..., In] and out dim Out.
static LogicalResult verifyAdapterShapes(Operation *op, Value input, Value a,
                                         Value b, int64_t out) {
  if (failed(expectRank(op, "adapter A", a, 2)) ||
      failed(expectRank(op, "adapter B", b, 2)))
    return failure();
  int64_t rank = shapeOf(a)[0];
  if (!dimsCompatible(shapeOf(b)[1], rank))
    return op->emitOpError()
           << "adapter rank mismatch: A is " << shapeString(shapeOf(a))
           << " (rank " << dimString(rank) << ") but B is "
           << shapeString(shapeOf(b));
  if (!dimsCompatible(shapeOf(a)[1], shapeOf(input).back()))
    return op->emitOpError() << "adapter A must read the input's width "
                             << dimString(shapeOf(input).back()) << ", found "
                             << shapeString(shapeOf(a));
  if (!dimsCompatible(shapeOf(b)[0], out))
    return op->emitOpError()
           << "adapter B must produce width " << dimString(out) << ", found "
           << shapeString(shapeOf(b));
  return success();
}

LogicalResult LoRAOp::verify() {
  if (shapeOf(getInput()).empty() || shapeOf(getBase()).empty())
    return emitOpError("input and base must have rank >= 1");
  if (shapeOf(getInput()).size() != shapeOf(getBase()).size())
    return emitOpError() << "input and base must have the same rank, found "
                         << shapeOf(getInput()).size() << " and "
                         << shapeOf(getBase()).size();
  for (auto [x, y] : llvm::zip(shapeOf(getInput()).drop_back(),
                               shapeOf(getBase()).drop_back()))
    if (!dimsCompatible(x, y))
      return emitOpError() << "input " << shapeString(shapeOf(getInput()))
                           << " and base " << shapeString(shapeOf(getBase()))
                           << " disagree in their leading dims";
  return verifyAdapterShapes(*this, getInput(), getA(), getB(),
                             shapeOf(getBase()).back());
}

OpFoldResult LoRAOp::fold(FoldAdaptor) {
  // An adapter of rank 0, or with an all-zero factor, adds nothing.
  if (shapeOf(getA())[0] == 0 || matchPattern(getA(), m_AnyZeroFloat()) ||
      matchPattern(getB(), m_AnyZeroFloat()))
    return getBase();
  return {};
}

LogicalResult CausalConv1dOp::verify() {
  if (failed(expectRank(*this, "input", getInput(), 3)) ||
      failed(expectRank(*this, "weight", getWeight(), 3)) ||
      failed(expectStaticDim(*this, "conv width", getWeight(), 2)))
    return failure();
  auto in = shapeOf(getInput());
  int64_t channels = in[2], width = shapeOf(getWeight())[2];
  if (width < 2)
    return emitOpError() << "conv width must be at least 2, found " << width;
  if (failed(expectShape(*this, "weight", getWeight(), {channels, 1, width})))
    return failure();
  if (getBias() && failed(expectShape(*this, "bias", getBias(), {channels})))
    return failure();
  if (failed(expectShape(*this, "state", getState(),
                         {in[0], channels, width - 1})))
    return failure();
  return expectShape(*this, "result", getResult(), in);
}

/// Shared verifier of ssd_scan and ssd_step.
static LogicalResult verifySSD(Operation *op, Value x, Value dt, Value b,
                               Value state, Value aLog, Value d, Value dtBias,
                               Value gate, Value y, int64_t groups,
                               std::optional<double> dtMin,
                               std::optional<double> dtMax) {
  if (failed(expectRank(op, "x", x, 3)) ||
      failed(expectRank(op, "dt", dt, 3)) ||
      failed(expectRank(op, "B", b, 3)) ||
      failed(expectRank(op, "state", state, 4)) ||
      failed(expectStaticDim(op, "x's inner width", x, 2)) ||
      failed(expectStaticDim(op, "dt's head count", dt, 2)) ||
      failed(expectStaticDim(op, "B's width", b, 2)))
    return failure();
  auto xs = shapeOf(x);
  int64_t batch = xs[0], seq = xs[1], inner = xs[2];
  int64_t heads = shapeOf(dt)[2], bWidth = shapeOf(b)[2];
  if (heads == 0 || inner % heads != 0)
    return op->emitOpError() << "inner width " << inner
                             << " is not divisible by " << heads << " heads";
  if (heads % groups != 0)
    return op->emitOpError()
           << heads << " heads are not divisible into " << groups << " groups";
  if (bWidth % groups != 0)
    return op->emitOpError()
           << "B width " << bWidth << " is not divisible into " << groups
           << " groups";
  int64_t headDim = inner / heads, stateSize = bWidth / groups;
  if (failed(expectShape(op, "dt", dt, {batch, seq, heads})) ||
      failed(expectShape(op, "B", b, {batch, seq, bWidth})) ||
      failed(expectShape(op, "state", state,
                         {batch, heads, headDim, stateSize})) ||
      failed(expectShape(op, "A_log", aLog, {heads})) ||
      failed(expectShape(op, "D", d, {heads})) ||
      failed(expectShape(op, "dt_bias", dtBias, {heads})) ||
      failed(expectShape(op, "y", y, xs)) ||
      (gate && failed(expectShape(op, "gate", gate, xs))))
    return failure();
  if (dtMin && dtMax && *dtMin > *dtMax)
    return op->emitOpError()
           << "dt_min " << *dtMin << " exceeds dt_max " << *dtMax;
  return success();
}

LogicalResult SSDScanOp::verify() {
  if (getChunkSize() && *getChunkSize() <= 0)
    return emitOpError() << "chunk_size must be positive, found "
                         << *getChunkSize();
  return verifySSD(
      *this, getX(), getDt(), getB(), getState(), getALog(), getD(),
      getDtBias(), getGate(), getY(), getGroups(),
      getDtMin() ? std::optional(getDtMin()->convertToDouble()) : std::nullopt,
      getDtMax() ? std::optional(getDtMax()->convertToDouble()) : std::nullopt);
}

LogicalResult SSDStepOp::verify() {
  if (failed(verifySSD(*this, getX(), getDt(), getB(), getState(), getALog(),
                       getD(), getDtBias(), getGate(), getY(), getGroups(),
                       getDtMin() ? std::optional(getDtMin()->convertToDouble())
                                  : std::nullopt,
                       getDtMax() ? std::optional(getDtMax()->convertToDouble())
                                  : std::nullopt)))
    return failure();
  if (shapeOf(getX())[1] != 1)
    return emitOpError() << "ssd_step reads one token: sequence dim must be "
                            "1, found "
                         << dimString(shapeOf(getX())[1]);
  return success();
}

LogicalResult RotaryOp::verify() {
  if (failed(expectRank(*this, "q", getQ(), 3)) ||
      failed(expectRank(*this, "k", getK(), 3)) ||
      failed(expectRank(*this, "positions", getPositions(), 1)))
    return failure();
  int64_t hd = getHeadDim();
  if (hd % 2 != 0)
    return emitOpError() << "head_dim must be even, found " << hd;
  for (auto [name, v] : {std::pair{"q", getQ()}, std::pair{"k", getK()}}) {
    int64_t width = shapeOf(v)[2];
    if (ShapedType::isDynamic(width) || width % hd != 0)
      return emitOpError() << name << " width " << dimString(width)
                           << " is not a multiple of head_dim " << hd;
  }
  auto q = shapeOf(getQ());
  if (failed(expectShape(*this, "k", getK(), {q[0], q[1], shapeOf(getK())[2]})))
    return failure();
  return expectShape(*this, "positions", getPositions(), {q[0]});
}

LogicalResult AttentionOp::verify() {
  if (failed(expectRank(*this, "q", getQ(), 3)) ||
      failed(expectRank(*this, "k", getK(), 3)) ||
      failed(expectRank(*this, "k_cache", getKCache(), 4)) ||
      failed(expectRank(*this, "positions", getPositions(), 1)) ||
      failed(expectStaticDim(*this, "q's width", getQ(), 2)))
    return failure();
  int64_t heads = getNumHeads(), kvHeads = getNumKvHeads();
  if (heads % kvHeads != 0)
    return emitOpError() << heads << " query heads are not a multiple of "
                         << kvHeads << " KV heads";
  auto q = shapeOf(getQ());
  if (q[2] % heads != 0)
    return emitOpError() << "q width " << q[2] << " is not divisible by "
                         << heads << " heads";
  int64_t hd = q[2] / heads;
  if (getRopeTheta() && hd % 2 != 0)
    return emitOpError() << "rotary needs an even head dim, found " << hd;
  if (getScale().convertToDouble() <= 0)
    return emitOpError("scale must be positive");
  if (failed(expectShape(*this, "k", getK(), {q[0], q[1], kvHeads * hd})) ||
      failed(expectShape(*this, "k_cache", getKCache(),
                         {q[0], kvHeads, kAny, hd})))
    return failure();
  return expectShape(*this, "positions", getPositions(), {q[0]});
}

LogicalResult MLPGateOp::verify() {
  auto in = shapeOf(getInput());
  if (in.empty() || ShapedType::isDynamic(in.back()) || in.back() % 2 != 0)
    return emitOpError() << "input's last dim must be static and even (gate "
                            "and up halves), found "
                         << shapeString(in);
  return expectShape(*this, "result", getResult(),
                     withLastDim(getInput(), in.back() / 2));
}

LogicalResult ConcatOp::verify() {
  if (getInputs().empty())
    return emitOpError("needs at least one input");
  auto first = shapeOf(getInputs().front());
  if (first.empty())
    return emitOpError("inputs must have rank >= 1");
  int64_t total = 0;
  for (Value v : getInputs()) {
    auto s = shapeOf(v);
    if (failed(expectJoinable(*this, "inputs", first, s)))
      return failure();
    total = ShapedType::isDynamic(s.back()) || ShapedType::isDynamic(total)
                ? kAny
                : total + s.back();
  }
  Type element = cast<RankedTensorType>(getType()).getElementType();
  for (Value v : getInputs())
    if (cast<RankedTensorType>(v.getType()).getElementType() != element)
      return emitOpError() << "inputs must have the result's element type "
                           << element << ", found " << v.getType();
  return expectShape(*this, "result", getResult(),
                     withLastDim(getInputs().front(), total));
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 &&
      getInputs().front().getType() == getResult().getType())
    return getInputs().front();
  return {};
}

LogicalResult SplitOp::verify() {
  auto in = shapeOf(getInput());
  if (in.empty())
    return emitOpError("input must have rank >= 1");
  if (getSizes().size() != getResults().size())
    return emitOpError() << getSizes().size() << " sizes for "
                         << getResults().size() << " results";
  int64_t total = 0;
  for (int64_t s : getSizes()) {
    if (s <= 0)
      return emitOpError() << "sizes must be positive, found " << s;
    total += s;
  }
  if (!dimsCompatible(in.back(), total))
    return emitOpError() << "sizes add up to " << total
                         << " but the input's last dim is "
                         << dimString(in.back());
  for (auto [i, r] : llvm::enumerate(getResults()))
    if (failed(expectShape(*this, "result #" + std::to_string(i), r,
                           withLastDim(getInput(), getSizes()[i]))))
      return failure();
  return success();
}

namespace {
/// split(concat(a, b, ...)) with matching sizes -> a, b, ...
struct SplitOfConcat : OpRewritePattern<SplitOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SplitOp op,
                                PatternRewriter &rewriter) const override {
    auto concat = op.getInput().getDefiningOp<ConcatOp>();
    if (!concat || concat.getInputs().size() != op.getResults().size())
      return failure();
    for (auto [v, r] : llvm::zip(concat.getInputs(), op.getResults()))
      if (v.getType() != r.getType())
        return failure();
    rewriter.replaceOp(op, concat.getInputs());
    return success();
  }
};
} // namespace

void SplitOp::getCanonicalizationPatterns(RewritePatternSet &patterns,
                                          MLIRContext *context) {
  patterns.add<SplitOfConcat>(context);
}

//===----------------------------------------------------------------------===//
// Fused ops
//===----------------------------------------------------------------------===//

LogicalResult LoRALinearOp::verify() {
  if (failed(verifyLinearShapes(*this, getInput(), getWeight(), getBias(),
                                getResult())) ||
      failed(verifyNormPrologue(*this)))
    return failure();
  return verifyAdapterShapes(*this, getInput(), getA(), getB(),
                             shapeOf(getWeight())[0]);
}

/// The shapes of one quantized product of `op` (its bits, group size and
/// scheme): `packed` [Out, In * bits / 8], `input` [..., In], `scales` (and
/// `zeros` exactly when asymmetric) [Out, In / group]. `what` names the
/// product in errors ("" for the main one, "adapter " for the adapter's).
/// Returns Out.
static FailureOr<int64_t> verifyQuantProduct(QuantLinearOp op, StringRef what,
                                             Value input, Value packed,
                                             Value scales, Value zeros) {
  int64_t bits = op.getBits(), group = op.getGroupSize();
  std::string packedName = (what + "packed weight").str();
  if (failed(expectRank(op, packedName, packed, 2)) ||
      failed(expectStaticDim(op, packedName, packed, 1)))
    return failure();
  int64_t out = shapeOf(packed)[0];
  int64_t in = shapeOf(packed)[1] * 8 / bits;
  if (in % group != 0)
    return op.emitOpError() << what << "input width " << in
                            << " is not a multiple of group_size " << group;
  auto x = shapeOf(input);
  if (x.empty() || !dimsCompatible(x.back(), in))
    return op.emitOpError() << what << "input's last dim must be " << in
                            << " (packed " << shapeOf(packed)[1] << " x 8 / "
                            << bits << " bits), found " << shapeString(x);
  if (failed(
          expectShape(op, (what + "scales").str(), scales, {out, in / group})))
    return failure();
  bool asymmetric = op.getScheme() == QuantScheme::asymmetric;
  if (asymmetric != static_cast<bool>(zeros))
    return op.emitOpError() << (asymmetric ? "the asymmetric scheme needs "
                                           : "the symmetric scheme takes no ")
                            << what << "zeros";
  if (zeros &&
      failed(expectShape(op, (what + "zeros").str(), zeros, {out, in / group})))
    return failure();
  return out;
}

LogicalResult QuantLinearOp::verify() {
  int64_t bits = getBits();
  if (bits != 4 && bits != 8)
    return emitOpError() << "bits must be 4 or 8, found " << bits;
  FailureOr<int64_t> out = verifyQuantProduct(
      *this, "", getInput(), getPacked(), getScales(), getZeros());
  if (failed(out))
    return failure();
  if (getBias() && failed(expectShape(*this, "bias", getBias(), {*out})))
    return failure();
  if (failed(expectShape(*this, "result", getResult(),
                         withLastDim(getInput(), *out))) ||
      failed(verifyNormPrologue(*this)))
    return failure();
  if (static_cast<bool>(getAdapterInput()) !=
          static_cast<bool>(getAdapterPacked()) ||
      static_cast<bool>(getAdapterInput()) !=
          static_cast<bool>(getAdapterScales()) ||
      (getAdapterZeros() && !getAdapterInput()))
    return emitOpError("an adapter needs its input, packed weight and scales "
                       "(and zeros only with them)");
  if (Value mid = getAdapterInput()) {
    FailureOr<int64_t> adapterOut =
        verifyQuantProduct(*this, "adapter ", mid, getAdapterPacked(),
                           getAdapterScales(), getAdapterZeros());
    if (failed(adapterOut))
      return failure();
    if (*adapterOut != *out)
      return emitOpError() << "adapter packed weight has " << *adapterOut
                           << " rows, the packed weight " << *out;
    if (failed(expectShape(*this, "adapter input", mid,
                           withLastDim(getInput(), shapeOf(mid).back()))))
      return failure();
  }
  if (failed(verifyConvEpilogue(*this)))
    return failure();
  return verifyBase(*this, getBase(), getResult());
}

//===----------------------------------------------------------------------===//
// in_proj_scan
//===----------------------------------------------------------------------===//

/// Whether dim `i` of `slice` takes its source's whole size: the same
/// static size, or `tensor.dim` at `i` of the source or of a tensor the
/// source is a slice of (which such slices keep whole: folds move the dim
/// there).
static bool fullSize(tensor::ExtractSliceOp slice, int64_t i) {
  OpFoldResult size = slice.getMixedSizes()[i];
  int64_t sourceSize = slice.getSourceType().getDimSize(i);
  if (std::optional<int64_t> n = getConstantIntValue(size))
    return !ShapedType::isDynamic(sourceSize) && *n == sourceSize;
  auto dim = dyn_cast_or_null<tensor::DimOp>(cast<Value>(size).getDefiningOp());
  std::optional<int64_t> index = dim ? dim.getConstantIndex() : std::nullopt;
  if (!index || *index != i)
    return false;
  for (Value source = slice.getSource(); source;) {
    if (dim.getSource() == source)
      return true;
    auto outer = source.getDefiningOp<tensor::ExtractSliceOp>();
    source = outer ? outer.getSource() : Value();
  }
  return false;
}

std::optional<int64_t> mlir::zamba2::channelOffsetIn(Value piece, Value whole) {
  int64_t offset = 0;
  while (piece != whole) {
    Operation *def = piece.getDefiningOp();
    if (auto split = dyn_cast_or_null<SplitOp>(def)) {
      ArrayRef<int64_t> sizes = split.getSizes();
      for (unsigned i = 0; i < cast<OpResult>(piece).getResultNumber(); ++i)
        offset += sizes[i];
      piece = split.getInput();
      continue;
    }
    auto slice = dyn_cast_or_null<tensor::ExtractSliceOp>(def);
    if (!slice || !slice.hasUnitStride())
      return std::nullopt;
    RankedTensorType source = slice.getSourceType();
    int64_t rank = source.getRank();
    if (slice.getResultType().getRank() != rank)
      return std::nullopt;
    for (int64_t i = 0; i + 1 < rank; ++i) {
      std::optional<int64_t> at =
          getConstantIntValue(slice.getMixedOffsets()[i]);
      if (!at || *at != 0 || !fullSize(slice, i))
        return std::nullopt;
    }
    std::optional<int64_t> at =
        getConstantIntValue(slice.getMixedOffsets()[rank - 1]);
    if (!at)
      return std::nullopt;
    offset += *at;
    piece = slice.getSource();
  }
  return offset;
}

std::optional<ScanFoldLayout> mlir::zamba2::scanFoldLayout(Operation *product,
                                                           SSDStepOp scan,
                                                           std::string &why) {
  Value result = product->getResult(0);
  auto lastDim = [](Value v) {
    return cast<RankedTensorType>(v.getType()).getShape().back();
  };
  ScanFoldLayout l{};
  l.inner = lastDim(scan.getX());
  l.heads = lastDim(scan.getDt());
  l.groups = scan.getGroups();
  l.stateSize = lastDim(scan.getB()) / l.groups;
  int64_t channels = lastDim(result);
  if (ShapedType::isDynamic(channels) || ShapedType::isDynamic(l.inner) ||
      channels != 2 * l.inner + l.sideChannels()) {
    why = "the product's channels are not I + I + 2 G N + nh";
    return std::nullopt;
  }
  std::optional<int64_t> x = channelOffsetIn(scan.getX(), result),
                         dt = channelOffsetIn(scan.getDt(), result),
                         b = channelOffsetIn(scan.getB(), result),
                         c = channelOffsetIn(scan.getC(), result);
  if (!x || !dt || !b || !c) {
    why = "x, dt, b and c must be pieces of the product";
    return std::nullopt;
  }
  l.x = *x;
  l.dt = *dt;
  l.b = *b;
  l.c = *c;
  int64_t bc = l.groups * l.stateSize;
  l.side = std::min({l.b, l.c, l.dt});
  // b, c and dt tile [side, side + 2 G N + nh) exactly.
  int64_t end = l.side + l.sideChannels();
  auto inside = [&](int64_t at, int64_t n) {
    return at >= l.side && at + n <= end;
  };
  bool disjoint = (l.b + bc <= l.c || l.c + bc <= l.b) &&
                  (l.b + bc <= l.dt || l.dt + l.heads <= l.b) &&
                  (l.c + bc <= l.dt || l.dt + l.heads <= l.c);
  if (!inside(l.b, bc) || !inside(l.c, bc) || !inside(l.dt, l.heads) ||
      !disjoint) {
    why = "b, c and dt must lie together, apart from x";
    return std::nullopt;
  }
  // The other I channels are what x and the side range leave, if that is
  // one range: it starts at 0, after x or after the side range.
  auto apart = [](int64_t a, int64_t n, int64_t b, int64_t m) {
    return a + n <= b || b + m <= a;
  };
  l.other = -1;
  if (apart(l.x, l.inner, l.side, l.sideChannels()))
    for (int64_t start : {int64_t(0), l.x + l.inner, end})
      if (start + l.inner <= channels && apart(start, l.inner, l.x, l.inner) &&
          apart(start, l.inner, l.side, l.sideChannels())) {
        l.other = start;
        break;
      }
  if (l.other < 0) {
    why = "x and the other I channels must each be contiguous, apart from "
          "b, c and dt";
    return std::nullopt;
  }
  if (Value gate = scan.getGate()) {
    std::optional<int64_t> g = channelOffsetIn(gate, result);
    if (!g || *g != l.other) {
      why = "the gate must be the product's other I channels";
      return std::nullopt;
    }
  }
  return l;
}

Operation *InProjScanOp::getProduct() {
  for (Operation &op : getBody().front())
    if (isa<LinearOp, QuantLinearOp>(op))
      return &op;
  return nullptr;
}

SSDStepOp InProjScanOp::getScan() {
  for (Operation &op : getBody().front())
    if (auto scan = dyn_cast<SSDStepOp>(op))
      return scan;
  return {};
}

LogicalResult InProjScanOp::verifyRegions() {
  Block &body = getBody().front();
  if (body.getNumArguments() != getInputs().size() ||
      TypeRange(body.getArgumentTypes()) != getInputs().getTypes())
    return emitOpError("body arguments must match the operands");
  auto yield = dyn_cast<YieldOp>(body.getTerminator());
  if (!yield || yield.getValues().getTypes() != getOutputs().getTypes())
    return emitOpError("body must end with zamba2.yield of the result types");
  unsigned products = 0, scans = 0;
  for (Operation &op : body.without_terminator()) {
    if (isa<LinearOp, QuantLinearOp>(op))
      ++products;
    else if (isa<SSDStepOp>(op))
      ++scans;
    else if (!isMemoryEffectFree(&op))
      return emitOpError() << "body holds only the product, its pieces, the "
                              "ssd_step and side-effect-free ops, found "
                           << op.getName();
  }
  if (products != 1 || scans != 1)
    return emitOpError() << "body must hold one linear or quant_linear and "
                            "one ssd_step, found "
                         << products << " and " << scans;
  Operation *product = getProduct();
  if (!getConvEpilogue(product))
    return emitOpError("the product must have a convolution epilogue "
                       "(zamba2-fuse-conv)");
  if (auto quant = dyn_cast<QuantLinearOp>(product);
      quant && quant.getAdapterInput())
    return emitOpError("the product must have no adapter");
  std::string why;
  if (!scanFoldLayout(product, getScan(), why))
    return emitOpError() << "the ssd_step's pieces: " << why;
  return success();
}
