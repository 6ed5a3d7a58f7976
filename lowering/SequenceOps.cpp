//===- SequenceOps.cpp - lowering of causal_conv1d, ssd_scan, ssd_step ---===//
//
// The ops that carry state along the sequence. Both update the caller's state
// tensor through a linalg.generic whose `outs` is that tensor, so One-Shot
// Bufferize writes the new state into the old state's buffer instead of
// allocating one per call.
//
// causal_conv1d: the K-1 state rows and the input are laid out as one padded
// sequence xpad [B, K-1+T, C] (f32); the conv is a reduction over k of
// w[c, 0, k] * xpad[b, t + k, c], and the new state is the last K-1 rows of
// xpad (which works for T < K-1 too).
//
// ssd_scan / ssd_step: the exact recurrence, one token at a time in an
// scf.for over T carrying the state and the output (chunk_size is only a
// hint and does not change the result). dt' and the decay exp(dt' * A) are
// computed for all tokens before the loop; each step is one linalg.generic
// over (b, h, p, n) that updates S in place and accumulates y = S c + D x.
//
//===----------------------------------------------------------------------===//
#include "lowering/Common.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

using namespace mlir;
using namespace mlir::zamba2;

namespace mlir::zamba2::lowering {
namespace {

using utils::IteratorType;

AffineMap mapOf(MLIRContext *ctx, unsigned loops, ArrayRef<AffineExpr> exprs) {
  return AffineMap::get(loops, 0, exprs, ctx);
}

/// The slice of `v` at position `pos` of dim `dim`, with that dim dropped.
Value sliceAt(OpBuilder &b, Location loc, Value v, int64_t dim,
              OpFoldResult pos) {
  RankedTensorType type = tensorType(v);
  unsigned rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  offsets[dim] = pos;
  sizes[dim] = b.getIndexAttr(1);
  SmallVector<int64_t> shape(type.getShape());
  shape.erase(shape.begin() + dim);
  auto sliceType = RankedTensorType::get(shape, type.getElementType());
  return tensor::ExtractSliceOp::create(b, loc, sliceType, v, offsets, sizes,
                                        strides);
}

/// Writes `slice` (the shape of `dest` without dim `dim`) into `dest` at
/// position `pos` of dim `dim`.
Value insertAt(OpBuilder &b, Location loc, Value slice, Value dest, int64_t dim,
               OpFoldResult pos) {
  unsigned rank = tensorType(dest).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, dest);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  offsets[dim] = pos;
  sizes[dim] = b.getIndexAttr(1);
  return tensor::InsertSliceOp::create(b, loc, slice, dest, offsets, sizes,
                                       strides);
}

/// Copies `src` into `dest` element by element, converting the element type:
/// dest[i] = src[srcMap(i)] over dest's index space.
Value copyConverted(OpBuilder &b, Location loc, Value src, AffineMap srcMap,
                    Value dest) {
  unsigned rank = tensorType(dest).getRank();
  Type elementType = tensorType(dest).getElementType();
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{dest.getType()}, ValueRange{src},
             ValueRange{dest},
             SmallVector<AffineMap>{srcMap, identityMap(b.getContext(), rank)},
             iterators,
             [&](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(nb, nloc,
                                       convertFloat(nb, nloc,
                                                    toF32(nb, nloc, args[0]),
                                                    elementType));
             })
      .getResult(0);
}

/// The rows [offset, offset + size) of dim 1 of `v` (all of dims 0 and 2).
Value rowsOf(OpBuilder &b, Location loc, Value v, OpFoldResult offset,
             OpFoldResult size) {
  SmallVector<OpFoldResult> offsets(3, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  offsets[1] = offset;
  sizes[1] = size;
  return tensor::ExtractSliceOp::create(b, loc, v, offsets, sizes, strides);
}

/// Writes `rows` into dim 1 of `dest` from row `offset` on.
Value insertRows(OpBuilder &b, Location loc, Value rows, Value dest,
                 OpFoldResult offset) {
  SmallVector<OpFoldResult> offsets(3, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, rows);
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  offsets[1] = offset;
  return tensor::InsertSliceOp::create(b, loc, rows, dest, offsets, sizes,
                                       strides);
}

//===----------------------------------------------------------------------===//
// causal_conv1d
//===----------------------------------------------------------------------===//

LogicalResult lowerCausalConv1d(CausalConv1dOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  Value input = op.getInput(), weight = op.getWeight(), state = op.getState();
  RankedTensorType inType = tensorType(input);
  int64_t history = tensorType(weight).getDimSize(2) - 1; // K - 1
  Type f32 = rewriter.getF32Type();

  // xpad [B, K-1+T, C]: the state rows (state is channel-major, [B, C, K-1])
  // followed by the input rows.
  OpFoldResult batch = tensor::getMixedSize(rewriter, loc, input, 0);
  OpFoldResult seq = tensor::getMixedSize(rewriter, loc, input, 1);
  OpFoldResult hist = rewriter.getIndexAttr(history);
  int64_t channels = inType.getDimSize(2);
  SmallVector<int64_t> paddedShape = {inType.getDimSize(0),
                                      ShapedType::kDynamic, channels};
  SmallVector<Value> dynamicDims;
  if (inType.isDynamicDim(0))
    dynamicDims.push_back(cast<Value>(batch));
  if (inType.isDynamicDim(1)) {
    Value histValue = arith::ConstantIndexOp::create(rewriter, loc, history);
    dynamicDims.push_back(
        arith::AddIOp::create(rewriter, loc, cast<Value>(seq), histValue));
  } else {
    paddedShape[1] = inType.getDimSize(1) + history;
  }
  auto paddedType = RankedTensorType::get(paddedShape, f32);
  Value xpad = tensor::EmptyOp::create(rewriter, loc, paddedType, dynamicDims);

  AffineExpr d0 = rewriter.getAffineDimExpr(0),
             d1 = rewriter.getAffineDimExpr(1),
             d2 = rewriter.getAffineDimExpr(2),
             d3 = rewriter.getAffineDimExpr(3);
  // Head: xpad[b, j, c] = state[b, c, j], j < K-1.
  Value head = copyConverted(
      rewriter, loc, state, mapOf(ctx, 3, {d0, d2, d1}),
      rowsOf(rewriter, loc, xpad, rewriter.getIndexAttr(0), hist));
  xpad = insertRows(rewriter, loc, head, xpad, rewriter.getIndexAttr(0));
  // Body: xpad[b, K-1+t, c] = input[b, t, c].
  Value body = copyConverted(rewriter, loc, input, identityMap(ctx, 3),
                             rowsOf(rewriter, loc, xpad, hist, seq));
  xpad = insertRows(rewriter, loc, body, xpad, hist);

  // acc[b, t, c] = bias[c] + sum_k w[c, 0, k] * xpad[b, t + k, c]: loops
  // (b, t, c, k), k a reduction.
  auto accType = RankedTensorType::get(inType.getShape(), f32);
  Value acc;
  if (Value bias = op.getBias())
    acc =
        elementwise(rewriter, loc, accType, input, {bias}, {lastDimMap(ctx, 3)},
                    [](OpBuilder &nb, Location nloc, ValueRange args) {
                      return toF32(nb, nloc, args[0]);
                    });
  else
    acc = zerosLike(rewriter, loc, accType, input);
  acc = linalg::GenericOp::create(
            rewriter, loc, TypeRange{accType}, ValueRange{xpad, weight},
            ValueRange{acc},
            SmallVector<AffineMap>{
                mapOf(ctx, 4, {d0, d1 + d3, d2}),
                mapOf(ctx, 4, {d2, rewriter.getAffineConstantExpr(0), d3}),
                mapOf(ctx, 4, {d0, d1, d2})},
            SmallVector<IteratorType>{
                IteratorType::parallel, IteratorType::parallel,
                IteratorType::parallel, IteratorType::reduction},
            [](OpBuilder &nb, Location nloc, ValueRange args) {
              Value prod = arith::MulFOp::create(
                  nb, nloc, toF32(nb, nloc, args[1]), args[0]);
              linalg::YieldOp::create(
                  nb, nloc,
                  arith::AddFOp::create(nb, nloc, args[2], prod).getResult());
            })
            .getResult(0);

  // SiLU, and the result's element type.
  RankedTensorType resultType = tensorType(op.getResult());
  Value result = acc;
  if (op.getSilu() || resultType.getElementType() != f32) {
    bool applySilu = op.getSilu();
    Type elementType = resultType.getElementType();
    result = elementwise(
        rewriter, loc, resultType, input, {acc}, {identityMap(ctx, 3)},
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value v = applySilu ? silu(nb, nloc, args[0]) : args[0];
          return convertFloat(nb, nloc, v, elementType);
        });
  }
  result = castTo(rewriter, loc, result, resultType);

  // new_state[b, c, j] = xpad[b, T + j, c]: written into the state tensor
  // itself (xpad already holds what the conv needed of the old state).
  Value newState =
      copyConverted(rewriter, loc, rowsOf(rewriter, loc, xpad, seq, hist),
                    mapOf(ctx, 3, {d0, d2, d1}), state);
  rewriter.replaceOp(op, {result, newState});
  return success();
}

//===----------------------------------------------------------------------===//
// ssd_scan / ssd_step
//===----------------------------------------------------------------------===//

/// Shared by ssd_scan and ssd_step (the T == 1 case).
template <typename SSDOp>
LogicalResult lowerSSD(SSDOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  Type f32 = rewriter.getF32Type();
  Value x = op.getX(), dt = op.getDt(), state = op.getState();
  RankedTensorType xType = tensorType(x);
  RankedTensorType stateType = tensorType(state);
  Type stateElement = stateType.getElementType();
  int64_t heads = tensorType(dt).getDimSize(2);
  int64_t headDim = xType.getDimSize(2) / heads;
  int64_t groups = op.getGroups();
  int64_t stateSize = tensorType(op.getB()).getDimSize(2) / groups;
  int64_t headsPerGroup = heads / groups;

  AffineExpr d0 = rewriter.getAffineDimExpr(0),
             d1 = rewriter.getAffineDimExpr(1),
             d2 = rewriter.getAffineDimExpr(2),
             d3 = rewriter.getAffineDimExpr(3);

  // dt'[b, t, h] = clamp(softplus(dt + dt_bias[h])) and the decay
  // exp(dt' * A[h]) with A = -exp(a_log), for every token at once.
  auto perHeadType = RankedTensorType::get(tensorType(dt).getShape(), f32);
  std::optional<double> dtMin, dtMax;
  if (auto attr = op.getDtMin())
    dtMin = attr->convertToDouble();
  if (auto attr = op.getDtMax())
    dtMax = attr->convertToDouble();
  auto perHead = linalg::GenericOp::create(
      rewriter, loc, TypeRange{perHeadType, perHeadType},
      ValueRange{dt, op.getDtBias(), op.getALog()},
      ValueRange{emptyLike(rewriter, loc, perHeadType, dt),
                 emptyLike(rewriter, loc, perHeadType, dt)},
      SmallVector<AffineMap>{identityMap(ctx, 3), lastDimMap(ctx, 3),
                             lastDimMap(ctx, 3), identityMap(ctx, 3),
                             identityMap(ctx, 3)},
      SmallVector<IteratorType>(3, IteratorType::parallel),
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value v = arith::AddFOp::create(nb, nloc, toF32(nb, nloc, args[0]),
                                        toF32(nb, nloc, args[1]));
        Value step = softplus(nb, nloc, v);
        if (dtMin)
          step = arith::MaximumFOp::create(nb, nloc, step,
                                           f32Const(nb, nloc, *dtMin));
        if (dtMax)
          step = arith::MinimumFOp::create(nb, nloc, step,
                                           f32Const(nb, nloc, *dtMax));
        Value a = arith::NegFOp::create(
            nb, nloc, math::ExpOp::create(nb, nloc, toF32(nb, nloc, args[2])));
        Value decay = math::ExpOp::create(
            nb, nloc, arith::MulFOp::create(nb, nloc, step, a));
        linalg::YieldOp::create(nb, nloc, ValueRange{step, decay});
      });
  Value steps = perHead.getResult(0), decays = perHead.getResult(1);

  // Heads and groups as their own dims: x [B, T, nh, P], b and c
  // [B, T, G, N].
  auto expandLast = [&](Value v, int64_t outer, int64_t inner) -> Value {
    RankedTensorType type = tensorType(v);
    SmallVector<int64_t> shape(type.getShape().drop_back());
    shape.append({outer, inner});
    return tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, type.getElementType()), v,
        SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  };
  Value xs = expandLast(x, heads, headDim);
  Value bs = expandLast(op.getB(), groups, stateSize);
  Value cs = expandLast(op.getC(), groups, stateSize);

  // The output starts as D[h] * x[b, t, h, p]; each step adds S c.
  auto yType = RankedTensorType::get(tensorType(xs).getShape(), f32);
  auto timesD = [](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
    Value d = toF32(nb, nloc, args[1]);
    return arith::MulFOp::create(nb, nloc, d, toF32(nb, nloc, args[0]));
  };
  Value yInit = elementwise(rewriter, loc, yType, xs, {xs, op.getD()},
                            {identityMap(ctx, 4), mapOf(ctx, 4, {d2})}, timesD);

  // One token: loops (b, h, p, n), n a reduction for y. Head h reads group
  // h / (nh / G).
  AffineExpr group = d1.floorDiv(headsPerGroup);
  if (groups == 1)
    group = rewriter.getAffineConstantExpr(0);
  else if (headsPerGroup == 1)
    group = d1;
  AffineMap xMap = mapOf(ctx, 4, {d0, d1, d2});        // x_t, y_t
  AffineMap headMap = mapOf(ctx, 4, {d0, d1});         // dt'_t, decay_t
  AffineMap groupMap = mapOf(ctx, 4, {d0, group, d3}); // b_t, c_t
  SmallVector<AffineMap> stepMaps = {
      xMap, headMap, headMap, groupMap, groupMap, identityMap(ctx, 4), xMap};
  SmallVector<IteratorType> stepIterators = {
      IteratorType::parallel, IteratorType::parallel, IteratorType::parallel,
      IteratorType::reduction};
  auto emitStep = [&](OpBuilder &b, Location l, OpFoldResult t, Value s,
                      Value y) -> std::pair<Value, Value> {
    Value yT = sliceAt(b, l, y, 1, t);
    auto generic = linalg::GenericOp::create(
        b, l, TypeRange{s.getType(), yT.getType()},
        ValueRange{sliceAt(b, l, xs, 1, t), sliceAt(b, l, steps, 1, t),
                   sliceAt(b, l, decays, 1, t), sliceAt(b, l, bs, 1, t),
                   sliceAt(b, l, cs, 1, t)},
        ValueRange{s, yT}, stepMaps, stepIterators,
        [&](OpBuilder &nb, Location nloc, ValueRange args) {
          Value xv = toF32(nb, nloc, args[0]), step = args[1], decay = args[2],
                bv = toF32(nb, nloc, args[3]), cv = toF32(nb, nloc, args[4]),
                sv = toF32(nb, nloc, args[5]), yv = args[6];
          // S <- decay * S + dt' * x * b;  y += S * c
          Value inflow = arith::MulFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, step, xv), bv);
          Value sNew = arith::AddFOp::create(
              nb, nloc, arith::MulFOp::create(nb, nloc, sv, decay), inflow);
          Value yNew = arith::AddFOp::create(
              nb, nloc, yv, arith::MulFOp::create(nb, nloc, sNew, cv));
          linalg::YieldOp::create(
              nb, nloc,
              ValueRange{convertFloat(nb, nloc, sNew, stateElement), yNew});
        });
    return {generic.getResult(0),
            insertAt(b, l, generic.getResult(1), y, 1, t)};
  };

  Value newState, y;
  if (xType.getDimSize(1) == 1) {
    std::tie(newState, y) =
        emitStep(rewriter, loc, rewriter.getIndexAttr(0), state, yInit);
  } else {
    Value zero = arith::ConstantIndexOp::create(rewriter, loc, 0);
    Value one = arith::ConstantIndexOp::create(rewriter, loc, 1);
    Value seq = tensor::DimOp::create(rewriter, loc, x, 1);
    auto loop = scf::ForOp::create(
        rewriter, loc, zero, seq, one, ValueRange{state, yInit},
        [&](OpBuilder &b, Location l, Value t, ValueRange carried) {
          auto [s, yNext] = emitStep(b, l, t, carried[0], carried[1]);
          scf::YieldOp::create(b, l, ValueRange{s, yNext});
        });
    newState = loop.getResult(0);
    y = loop.getResult(1);
  }

  // Back to [B, T, nh * P] and the result's element type.
  RankedTensorType resultType = tensorType(op.getY());
  Value result = tensor::CollapseShapeOp::create(
      rewriter, loc, RankedTensorType::get(xType.getShape(), f32), y,
      SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
  // The gate: y * silu(gate), as gated_rms_norm computes it from y (the
  // same f32 operations for an f32 y, the activations' type; a narrower y
  // would be gated before its rounding).
  if (Value gate = op.getGate())
    result = elementwise(
        rewriter, loc, tensorType(result), result, {result, gate},
        {identityMap(ctx, 3), identityMap(ctx, 3)},
        [&](OpBuilder &nb, Location nloc, ValueRange args) -> Value {
          return arith::MulFOp::create(
              nb, nloc, args[0], silu(nb, nloc, toF32(nb, nloc, args[1])));
        });
  if (resultType.getElementType() != f32) {
    Type elementType = resultType.getElementType();
    result = elementwise(rewriter, loc, resultType, result, {result},
                         {identityMap(ctx, 3)},
                         [&](OpBuilder &nb, Location nloc, ValueRange args) {
                           return convertFloat(nb, nloc, args[0], elementType);
                         });
  }
  result = castTo(rewriter, loc, result, resultType);
  rewriter.replaceOp(op, {result, newState});
  return success();
}

} // namespace

void populateSequenceOpLowerings(RewritePatternSet &patterns) {
  // scf (the SSD loop over T) is a dependent dialect of the pass.
  patterns.add(lowerCausalConv1d);
  patterns.add(lowerSSD<SSDScanOp>);
  patterns.add(lowerSSD<SSDStepOp>);
}

} // namespace mlir::zamba2::lowering
