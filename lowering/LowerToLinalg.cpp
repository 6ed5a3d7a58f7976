//===- LowerToLinalg.cpp - zamba2 ops -> linalg/tensor/arith/math ---------===//
//
// Each model-level op becomes linalg.generic ops (and tensor slices) on
// tensors. Arithmetic is f32: weights stored narrower are extended inside the
// loop body, so no widened copy of a weight is ever materialised. Dynamic
// dims (batch, sequence) of a result are read off the input they come from.
//
//===----------------------------------------------------------------------===//
#include "dialect/Zamba2Ops.h"
#include "lowering/Common.h"
#include "lowering/GpuKernels.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::zamba2 {
#define GEN_PASS_DEF_LOWERTOLINALG
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;
using namespace mlir::zamba2::lowering;

namespace {

using utils::IteratorType;

//===----------------------------------------------------------------------===//
// Patterns, one per op
//===----------------------------------------------------------------------===//

LogicalResult lowerEmbed(EmbedOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  RankedTensorType type = tensorType(op.getResult());
  MLIRContext *ctx = rewriter.getContext();
  Value table = op.getTable();
  // result[b, t, h] = table[ids[b, t], h]
  Value result = elementwise(
      rewriter, loc, type, op.getIds(), {op.getIds()}, {dropLastMap(ctx, 3)},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value row =
            arith::IndexCastOp::create(nb, nloc, nb.getIndexType(), args[0]);
        Value col = linalg::IndexOp::create(nb, nloc, 2);
        Value v =
            tensor::ExtractOp::create(nb, nloc, table, ValueRange{row, col});
        return toF32(nb, nloc, v);
      });
  rewriter.replaceOp(op, result);
  return success();
}

/// linear: (base +) x W^T (+ bias).
struct LowerLinear : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(LinearOp op,
                                PatternRewriter &rewriter) const override {
    Location loc = op.getLoc();
    RankedTensorType type = tensorType(op.getResult());
    Value init;
    if (Value bias = op.getBias()) {
      unsigned rank = type.getRank();
      MLIRContext *ctx = rewriter.getContext();
      init = elementwise(rewriter, loc, type, op.getInput(), {bias},
                         {lastDimMap(ctx, rank)},
                         [](OpBuilder &nb, Location nloc, ValueRange args) {
                           return toF32(nb, nloc, args[0]);
                         });
    } else {
      init = zerosLike(rewriter, loc, type, op.getInput());
    }
    Value result =
        contractLastDim(rewriter, loc, op.getInput(), op.getWeight(), init);
    // `into base`: the addition last, as the unfused form did it.
    if (Value base = op.getBase())
      result = arith::AddFOp::create(rewriter, loc, base, result);
    rewriter.replaceOp(op, result);
    return success();
  }
};

LogicalResult lowerLoRA(LoRAOp op, PatternRewriter &rewriter) {
  // base + (x A^T) B^T: the rank-r intermediate is small; the sum
  // accumulates straight into base.
  Location loc = op.getLoc();
  RankedTensorType xType = tensorType(op.getInput());
  SmallVector<int64_t> midShape(xType.getShape().drop_back());
  midShape.push_back(tensorType(op.getA()).getShape()[0]);
  auto midType = RankedTensorType::get(midShape, rewriter.getF32Type());
  Value mid = contractLastDim(rewriter, loc, op.getInput(), op.getA(),
                              zerosLike(rewriter, loc, midType, op.getInput()));
  rewriter.replaceOp(
      op, contractLastDim(rewriter, loc, mid, op.getB(), op.getBase()));
  return success();
}

LogicalResult lowerRMSNorm(RMSNormOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  Value v = op.getInput();
  if (Value residual = op.getResidual())
    v = arith::AddFOp::create(rewriter, loc, v, residual);
  if (Value tail = op.getTail())
    v = tensor::ConcatOp::create(rewriter, loc, op.getType(),
                                 tensorType(v).getRank() - 1,
                                 ValueRange{v, tail});
  Value normed =
      normalizeLastDim(rewriter, loc, v, op.getEps().convertToDouble());
  rewriter.replaceOp(op, scaleByChannel(rewriter, loc, normed, op.getWeight()));
  return success();
}

LogicalResult lowerGatedRMSNorm(GatedRMSNormOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  RankedTensorType type = tensorType(op.getInput());
  unsigned rank = type.getRank();
  Value gated = elementwise(
      rewriter, loc, type, op.getInput(), {op.getInput(), op.getGate()},
      {identityMap(ctx, rank), identityMap(ctx, rank)},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::MulFOp::create(nb, nloc, args[0], silu(nb, nloc, args[1]))
            .getResult();
      });
  // Normalise each of the `groups` groups: view [..., I] as [..., G, I/G].
  int64_t groups = op.getGroups(), width = type.getShape().back();
  SmallVector<int64_t> groupedShape(type.getShape().drop_back());
  groupedShape.append({groups, width / groups});
  SmallVector<ReassociationIndices> reassociation;
  for (unsigned i = 0; i + 1 < rank; ++i)
    reassociation.push_back({static_cast<int64_t>(i)});
  reassociation.push_back({rank - 1, rank});
  auto groupedType = RankedTensorType::get(groupedShape, type.getElementType());
  Value grouped = tensor::ExpandShapeOp::create(rewriter, loc, groupedType,
                                                gated, reassociation);
  Value normed =
      normalizeLastDim(rewriter, loc, grouped, op.getEps().convertToDouble());
  Value flat = tensor::CollapseShapeOp::create(rewriter, loc, type, normed,
                                               reassociation);
  rewriter.replaceOp(op, scaleByChannel(rewriter, loc, flat, op.getWeight()));
  return success();
}

LogicalResult lowerMLPGate(MLPGateOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  RankedTensorType type = tensorType(op.getResult());
  unsigned rank = type.getRank();
  int64_t half = type.getShape().back();
  Value gate = sliceLastDim(rewriter, loc, op.getInput(), 0, half);
  Value up = sliceLastDim(rewriter, loc, op.getInput(), half, half);
  Activation act = op.getAct();
  rewriter.replaceOp(
      op, elementwise(rewriter, loc, type, op.getInput(), {gate, up},
                      {identityMap(ctx, rank), identityMap(ctx, rank)},
                      [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        return arith::MulFOp::create(
                                   nb, nloc, activation(nb, nloc, act, args[0]),
                                   args[1])
                            .getResult();
                      }));
  return success();
}

LogicalResult lowerConcat(ConcatOp op, PatternRewriter &rewriter) {
  int64_t dim = tensorType(op.getResult()).getRank() - 1;
  rewriter.replaceOpWithNewOp<tensor::ConcatOp>(op, op.getType(), dim,
                                                op.getInputs());
  return success();
}

/// The CUDA form of concat: one elementwise loop over the result, each
/// element read from the input that holds its column (tensor.concat would
/// bufferize into a copy per input, a kernel each). The inputs share the
/// result's leading dims; with an input of dynamic width, tensor.concat.
LogicalResult lowerConcat(ConcatOp op, PatternRewriter &rewriter);

LogicalResult lowerConcatOneLoop(ConcatOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  RankedTensorType type = tensorType(op.getResult());
  unsigned rank = type.getRank();
  SmallVector<int64_t> ends; // each input's first column past it
  for (Value input : op.getInputs()) {
    int64_t width = tensorType(input).getShape().back();
    if (ShapedType::isDynamic(width))
      return lowerConcat(op, rewriter); // a copy per input, as on the CPU
    ends.push_back((ends.empty() ? 0 : ends.back()) + width);
  }
  auto generic = linalg::GenericOp::create(
      rewriter, loc, TypeRange{type}, ValueRange{},
      ValueRange{emptyLike(rewriter, loc, type, op.getInputs().front())},
      SmallVector<AffineMap>{identityMap(ctx, rank)},
      SmallVector<utils::IteratorType>(rank, utils::IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange) {
        SmallVector<Value> at;
        for (unsigned d = 0; d < rank; ++d)
          at.push_back(linalg::IndexOp::create(nb, nloc, d));
        Value column = at.back();
        // Input i for the columns [ends[i - 1], ends[i]): a chain of ifs,
        // so that only the input holding the column is read.
        std::function<Value(OpBuilder &, size_t)> read =
            [&](OpBuilder &rb, size_t i) -> Value {
          int64_t start = i == 0 ? 0 : ends[i - 1];
          auto extract = [&](OpBuilder &eb) -> Value {
            SmallVector<Value> idx(at);
            idx.back() = arith::SubIOp::create(
                eb, nloc, column,
                arith::ConstantIndexOp::create(eb, nloc, start));
            return tensor::ExtractOp::create(eb, nloc, op.getInputs()[i], idx);
          };
          if (i + 1 == ends.size())
            return extract(rb);
          Value inside = arith::CmpIOp::create(
              rb, nloc, arith::CmpIPredicate::ult, column,
              arith::ConstantIndexOp::create(rb, nloc, ends[i]));
          auto ifOp = scf::IfOp::create(
              rb, nloc, inside,
              [&](OpBuilder &tb, Location tl) {
                scf::YieldOp::create(tb, tl, extract(tb));
              },
              [&](OpBuilder &eb, Location el) {
                scf::YieldOp::create(eb, el, read(eb, i + 1));
              });
          return ifOp.getResult(0);
        };
        linalg::YieldOp::create(nb, nloc, read(nb, 0));
      });
  rewriter.replaceOp(op, generic.getResult(0));
  return success();
}

LogicalResult lowerSplit(SplitOp op, PatternRewriter &rewriter) {
  SmallVector<Value> pieces;
  int64_t offset = 0;
  for (int64_t size : op.getSizes()) {
    pieces.push_back(
        sliceLastDim(rewriter, op.getLoc(), op.getInput(), offset, size));
    offset += size;
  }
  rewriter.replaceOp(op, pieces);
  return success();
}

/// A linear op with a norm prologue (zamba2-fuse-norm) -> the norm it
/// stands for, then the op without it: where no kernel normalises its own
/// row, the normalised rows are computed once and read by the product.
void unfoldNormPrologue(Operation *op, RewriterBase &rewriter) {
  std::optional<NormPrologue> norm = getNormPrologue(op);
  if (!norm)
    return;
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  Value input = op->getOperand(0);
  Type type = input.getType();
  FloatAttr eps = rewriter.getF64FloatAttr(norm->eps);
  Value normed =
      norm->gate ? GatedRMSNormOp::create(
                       rewriter, loc, type, input, norm->gate, norm->weight,
                       rewriter.getI64IntegerAttr(norm->groups), eps)
                       .getResult()
                 : RMSNormOp::create(rewriter, loc, type, input, norm->residual,
                                     Value(), norm->weight, eps)
                       .getResult();
  rewriter.modifyOpInPlace(op, [&] {
    op->setOperand(0, normed);
    setNormPrologue(op, NormPrologue{});
  });
}

/// A linear op with a convolution epilogue (zamba2-fuse-conv) -> the op
/// without it, its result split around the convolved channels,
/// causal_conv1d on them, and the pieces concatenated again: the ops it
/// stands for, for the targets whose kernel does not convolve itself.
void unfoldConvEpilogue(Operation *op, RewriterBase &rewriter) {
  std::optional<ConvEpilogue> conv = getConvEpilogue(op);
  if (!conv)
    return;
  rewriter.setInsertionPoint(op);
  Location loc = op->getLoc();
  Value product =
      cloneWithConvEpilogue(rewriter, op, ConvEpilogue{})->getResult(0);
  auto type = cast<RankedTensorType>(product.getType());
  int64_t width = type.getShape().back();
  int64_t channels =
      cast<RankedTensorType>(conv->weight.getType()).getShape()[0];
  auto piece = [&](int64_t n) {
    SmallVector<int64_t> shape(type.getShape());
    shape.back() = n;
    return type.clone(shape);
  };
  // The pieces before and after the convolved channels, where not empty.
  int64_t after = width - conv->offset - channels;
  SmallVector<int64_t> sizes;
  SmallVector<Type> types;
  for (int64_t n : {conv->offset, channels, after})
    if (n > 0) {
      sizes.push_back(n);
      types.push_back(piece(n));
    }
  auto split = SplitOp::create(rewriter, loc, types, product,
                               rewriter.getDenseI64ArrayAttr(sizes));
  unsigned convolved = conv->offset > 0 ? 1 : 0;
  auto convOp = CausalConv1dOp::create(
      rewriter, loc, piece(channels), conv->state.getType(),
      split.getResult(convolved), conv->weight, conv->bias, conv->state,
      conv->silu ? rewriter.getUnitAttr() : UnitAttr());
  SmallVector<Value> parts(split.getResults());
  parts[convolved] = convOp.getResult();
  Value joined = ConcatOp::create(rewriter, loc, type, parts);
  rewriter.replaceOp(op, ValueRange{joined, convOp.getNewState()});
}

/// in_proj_scan (zamba2-fuse-scan) -> its body's ops in its place: the
/// product, its pieces and the ssd_step, for the targets that compute them
/// one after another.
void inlineInProjScan(InProjScanOp op, RewriterBase &rewriter) {
  Block &body = op.getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  SmallVector<Value> results(yield.getValues());
  rewriter.inlineBlockBefore(&body, op, op.getInputs());
  rewriter.eraseOp(yield);
  rewriter.replaceOp(op, results);
}

struct LowerToLinalgPass
    : mlir::zamba2::impl::LowerToLinalgBase<LowerToLinalgPass> {
  using Base::Base;

  void getDependentDialects(DialectRegistry &registry) const override {
    Base::getDependentDialects(registry);
    registerGpuKernelModels(registry);
  }

  void runOnOperation() override {
    bool cuda = target == "cuda";
    if (!cuda && target != "cpu") {
      getOperation().emitError("zamba2-lower-to-linalg: unknown target '")
          << target << "' (expected cpu or cuda)";
      return signalPassFailure();
    }
    // Norm prologues are lowered as the norms they stand for, except where
    // a CUDA kernel computes them itself.
    // Convolution epilogues likewise as their convolutions.
    IRRewriter rewriter(&getContext());
    if (!cuda)
      getOperation().walk(
          [&](InProjScanOp op) { inlineInProjScan(op, rewriter); });
    getOperation().walk([&](Operation *op) {
      if (!cuda || !hasGpuKernel(op)) {
        unfoldNormPrologue(op, rewriter);
        unfoldConvEpilogue(op, rewriter);
      }
    });
    RewritePatternSet patterns(&getContext());
    patterns.add(lowerEmbed);
    patterns.add<LowerLinear>(&getContext());
    patterns.add(lowerLoRA);
    patterns.add(lowerRMSNorm);
    patterns.add(lowerGatedRMSNorm);
    patterns.add(lowerMLPGate);
    if (cuda)
      patterns.add(lowerConcatOneLoop);
    else
      patterns.add(lowerConcat);
    patterns.add(lowerSplit);
    populateSequenceOpLowerings(patterns);
    populateAttentionLowerings(patterns);
    populateFusedLinearLowerings(patterns);
    if (!cuda) {
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
        signalPassFailure();
      return;
    }
    // On the CUDA target the ops with a kernel of their own are left for
    // bufferization (lowering/GpuKernels.cpp).
    SmallVector<Operation *> ops;
    getOperation().walk([&](Operation *op) {
      if (isa<Zamba2Dialect>(op->getDialect()) && !hasGpuKernel(op))
        ops.push_back(op);
    });
    GreedyRewriteConfig config;
    config.setStrictness(GreedyRewriteStrictness::ExistingAndNewOps);
    if (failed(applyOpPatternsGreedily(ops, std::move(patterns), config)))
      signalPassFailure();
  }
};

} // namespace
