//===- Common.cpp - building blocks shared by the CPU lowerings -----------===//
#include "lowering/Common.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::zamba2;

namespace mlir::zamba2::lowering {

using utils::IteratorType;
RankedTensorType tensorType(Value v) {
  return cast<RankedTensorType>(v.getType());
}

/// tensor.empty of `type`, each dynamic dim taken from the same dim of `like`.
Value emptyLike(OpBuilder &b, Location loc, RankedTensorType type, Value like) {
  SmallVector<Value> dynamic;
  for (auto [i, d] : llvm::enumerate(type.getShape()))
    if (ShapedType::isDynamic(d))
      dynamic.push_back(tensor::DimOp::create(b, loc, like, i));
  return tensor::EmptyOp::create(b, loc, type.getShape(), type.getElementType(),
                                 dynamic);
}

Value zerosLike(OpBuilder &b, Location loc, RankedTensorType type, Value like) {
  Value zero =
      arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
  return linalg::FillOp::create(b, loc, zero, emptyLike(b, loc, type, like))
      .getResult(0);
}

/// Extends a scalar to f32 (weights may be stored as bf16 or f16).
Value toF32(OpBuilder &b, Location loc, Value v) {
  Type f32 = b.getF32Type();
  if (auto vec = dyn_cast<VectorType>(v.getType())) {
    if (vec.getElementType().isF32())
      return v;
    return arith::ExtFOp::create(b, loc, vec.clone(f32), v);
  }
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, f32, v);
}

Value f32Const(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
}

Value splatConst(OpBuilder &b, Location loc, VectorType type, Attribute value) {
  return arith::ConstantOp::create(b, loc, type,
                                   DenseElementsAttr::get(type, value));
}

Value convertFloat(OpBuilder &b, Location loc, Value v, Type type) {
  unsigned from = v.getType().getIntOrFloatBitWidth();
  unsigned to = type.getIntOrFloatBitWidth();
  if (v.getType() == type)
    return v;
  if (to == from)
    v = arith::ExtFOp::create(b, loc, b.getF32Type(), v);
  if (to > from)
    return arith::ExtFOp::create(b, loc, type, v);
  return arith::TruncFOp::create(b, loc, type, v);
}

Value castTo(OpBuilder &b, Location loc, Value v, Type type) {
  if (v.getType() == type)
    return v;
  return tensor::CastOp::create(b, loc, type, v);
}

AffineMap identityMap(MLIRContext *ctx, unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, ctx);
}

/// The map (d0, ..., d{n-1}) -> (d0, ..., d{n-2}): a row of the last dim.
AffineMap dropLastMap(MLIRContext *ctx, unsigned rank) {
  return AffineMap::getMultiDimIdentityMap(rank, ctx).getMajorSubMap(rank - 1);
}

/// The map (d0, ..., d{n-1}) -> (d{n-1}): a per-channel vector.
AffineMap lastDimMap(MLIRContext *ctx, unsigned rank) {
  return AffineMap::get(rank, 0, getAffineDimExpr(rank - 1, ctx));
}

/// An elementwise linalg.generic over `out`'s shape; `inputMaps` say how each
/// input is indexed, `body` computes the element from the input scalars.
Value elementwise(OpBuilder &b, Location loc, RankedTensorType type, Value like,
                  ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  unsigned rank = type.getRank();
  SmallVector<AffineMap> maps(inputMaps);
  maps.push_back(identityMap(b.getContext(), rank));
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{type}, inputs,
      ValueRange{emptyLike(b, loc, type, like)}, maps, iterators,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value v = body(nb, nloc, args.drop_back());
        linalg::YieldOp::create(nb, nloc, v);
      });
  return generic.getResult(0);
}

namespace {

/// Lanes per vector and vectors per step of the dot-product loop. Four
/// independent accumulators hide the FMA latency when the operands are in
/// cache (prefill); decode streams the weight row from memory either way.
constexpr int64_t kLanes = 16, kUnroll = 4;
/// Rows of x (tokens) per tile: a tile of x stays in L2 while every weight
/// row is read once per tile, so a prefill reads the weights M/kRowTile times
/// rather than M times.
constexpr int64_t kRowTile = 32;

Value indexConst(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

/// sum_k x[m, k] * w[o, k] for k in [0, K), in f32: vector<16> FMAs over the
/// whole vectors (4 accumulators, then 1), then a scalar tail.
Value dotRow(OpBuilder &b, Location loc, Value x, Value w, Value m, Value o,
             int64_t k) {
  Type f32 = b.getF32Type();
  auto vecType = VectorType::get({kLanes}, f32);
  Value zeroVec = splatConst(b, loc, vecType, b.getF32FloatAttr(0));
  auto readRow = [&](OpBuilder &nb, Location nloc, Value src, Value row,
                     Value col) -> Value {
    Type elem = tensorType(src).getElementType();
    Value pad = arith::ConstantOp::create(nb, nloc, nb.getZeroAttr(elem));
    Value v = vector::TransferReadOp::create(
        nb, nloc, VectorType::get({kLanes}, elem), src, ValueRange{row, col},
        pad, ArrayRef<bool>{true});
    if (elem.isF32())
      return v;
    return arith::ExtFOp::create(nb, nloc, vecType, v);
  };
  // Loop over [begin, end) in steps of `lanes * count` with `count` vector
  // accumulators.
  auto vectorLoop = [&](int64_t begin, int64_t end,
                        SmallVector<Value> accs) -> SmallVector<Value> {
    int64_t count = accs.size();
    if (end <= begin)
      return accs;
    auto loop = scf::ForOp::create(
        b, loc, indexConst(b, loc, begin), indexConst(b, loc, end),
        indexConst(b, loc, kLanes * count), accs,
        [&](OpBuilder &nb, Location nloc, Value kv, ValueRange iter) {
          SmallVector<Value> next;
          for (int64_t u = 0; u < count; ++u) {
            Value col = arith::AddIOp::create(nb, nloc, kv,
                                              indexConst(nb, nloc, u * kLanes));
            Value xv = readRow(nb, nloc, x, m, col);
            Value wv = readRow(nb, nloc, w, o, col);
            next.push_back(
                vector::FMAOp::create(nb, nloc, vecType, xv, wv, iter[u]));
          }
          scf::YieldOp::create(nb, nloc, next);
        });
    return SmallVector<Value>(loop.getResults());
  };
  int64_t wide = k / (kLanes * kUnroll) * (kLanes * kUnroll);
  int64_t narrow = k / kLanes * kLanes;
  SmallVector<Value> accs =
      vectorLoop(0, wide, SmallVector<Value>(kUnroll, zeroVec));
  Value acc = accs[0];
  for (int64_t u = 1; u < kUnroll; ++u)
    acc = arith::AddFOp::create(b, loc, acc, accs[u]);
  acc = vectorLoop(wide, narrow, {acc})[0];
  Value sum = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                          acc, arith::FastMathFlags::reassoc);
  if (narrow == k)
    return sum;
  auto tail = scf::ForOp::create(
      b, loc, indexConst(b, loc, narrow), indexConst(b, loc, k),
      indexConst(b, loc, 1), ValueRange{sum},
      [&](OpBuilder &nb, Location nloc, Value kk, ValueRange iter) {
        Value xs =
            toF32(nb, nloc,
                  tensor::ExtractOp::create(nb, nloc, x, ValueRange{m, kk}));
        Value ws =
            toF32(nb, nloc,
                  tensor::ExtractOp::create(nb, nloc, w, ValueRange{o, kk}));
        Value p = arith::MulFOp::create(nb, nloc, xs, ws);
        scf::YieldOp::create(
            nb, nloc,
            ValueRange{
                arith::AddFOp::create(nb, nloc, iter[0], p).getResult()});
      });
  return tail.getResult(0);
}

/// Collapses all leading dims of a rank >= 2 tensor: [..., n] -> [m, n].
Value collapseLeading(OpBuilder &b, Location loc, Value v) {
  RankedTensorType type = tensorType(v);
  if (type.getRank() == 2)
    return v;
  ReassociationIndices lead;
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    lead.push_back(i);
  SmallVector<ReassociationIndices> reassociation = {lead,
                                                     {type.getRank() - 1}};
  return tensor::CollapseShapeOp::create(b, loc, v, reassociation);
}

} // namespace

/// result[..., o] = init[..., o] + sum_k x[..., k] * w[o, k]
/// (a linear with the checkpoint's [Out, In] weight layout).
///
/// The rows of x are processed in tiles of kRowTile; within a tile, a
/// linalg.generic over (o, m) computes each output as a vectorised dot
/// product (dotRow), so a weight row is read once per tile and the dot's
/// accumulator lives in registers. Decode (one row) streams each weight row
/// once.
Value contractLastDim(OpBuilder &b, Location loc, Value x, Value w,
                      Value init) {
  int64_t k = tensorType(x).getShape().back();
  return contractRows(
      b, loc, x, init,
      [&](OpBuilder &gb, Location gloc, Value xs, Value m, Value o) {
        return dotRow(gb, gloc, xs, w, m, o, k);
      });
}

Value contractRows(OpBuilder &b, Location loc, Value x, Value init,
                   RowDot dot) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType initType = tensorType(init);
  int64_t k = tensorType(x).getShape().back();
  int64_t outs = initType.getShape().back();
  Value x2 = collapseLeading(b, loc, x);
  Value init2 = collapseLeading(b, loc, init);
  Value rows = tensor::DimOp::create(b, loc, x2, 0);
  Value tile = indexConst(b, loc, kRowTile);
  auto loop = scf::ForOp::create(
      b, loc, indexConst(b, loc, 0), rows, tile, ValueRange{init2},
      [&](OpBuilder &nb, Location nloc, Value m0, ValueRange iter) {
        Value left = arith::SubIOp::create(nb, nloc, rows, m0);
        Value size = arith::MinSIOp::create(nb, nloc, left, tile);
        Value one = indexConst(nb, nloc, 1), zero = indexConst(nb, nloc, 0);
        Value xs = tensor::ExtractSliceOp::create(
            nb, nloc, x2, ValueRange{m0, zero},
            ValueRange{size, indexConst(nb, nloc, k)}, ValueRange{one, one});
        Value outSlice = tensor::ExtractSliceOp::create(
            nb, nloc, iter[0], ValueRange{m0, zero},
            ValueRange{size, indexConst(nb, nloc, outs)}, ValueRange{one, one});
        // Loops (o, m): the weight row o is reused for the tile's rows.
        AffineMap outMap = AffineMap::get(
            2, 0, {getAffineDimExpr(1, ctx), getAffineDimExpr(0, ctx)}, ctx);
        auto generic = linalg::GenericOp::create(
            nb, nloc, TypeRange{outSlice.getType()}, ValueRange{},
            ValueRange{outSlice}, ArrayRef<AffineMap>{outMap},
            SmallVector<IteratorType>(2, IteratorType::parallel),
            [&](OpBuilder &gb, Location gloc, ValueRange args) {
              Value o = linalg::IndexOp::create(gb, gloc, 0);
              Value m = linalg::IndexOp::create(gb, gloc, 1);
              Value d = dot(gb, gloc, xs, m, o);
              linalg::YieldOp::create(
                  gb, gloc,
                  ValueRange{
                      arith::AddFOp::create(gb, gloc, args[0], d).getResult()});
            });
        Value updated = tensor::InsertSliceOp::create(
            nb, nloc, generic.getResult(0), iter[0], ValueRange{m0, zero},
            ValueRange{size, indexConst(nb, nloc, outs)}, ValueRange{one, one});
        scf::YieldOp::create(nb, nloc, updated);
      });
  Value result = loop.getResult(0);
  if (initType.getRank() == 2)
    return result;
  SmallVector<ReassociationIndices> reassociation = {{},
                                                     {initType.getRank() - 1}};
  for (int64_t i = 0; i + 1 < initType.getRank(); ++i)
    reassociation[0].push_back(i);
  return tensor::ExpandShapeOp::create(b, loc, initType, result, reassociation,
                                       tensor::getMixedSizes(b, loc, init));
}

/// v / sqrt(mean(v^2 over the last dim) + eps), computed in f32.
Value normalizeLastDim(OpBuilder &b, Location loc, Value v, double eps) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType type = tensorType(v);
  unsigned rank = type.getRank();
  int64_t width = type.getShape().back();
  auto rowType =
      RankedTensorType::get(type.getShape().drop_back(), type.getElementType());
  Value sumInit = zerosLike(b, loc, rowType, v);
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  iterators.back() = IteratorType::reduction;
  Value sumSq =
      linalg::GenericOp::create(
          b, loc, TypeRange{rowType}, ValueRange{v}, ValueRange{sumInit},
          SmallVector<AffineMap>{identityMap(ctx, rank),
                                 dropLastMap(ctx, rank)},
          iterators,
          [](OpBuilder &nb, Location nloc, ValueRange args) {
            Value sq = arith::MulFOp::create(nb, nloc, args[0], args[0]);
            linalg::YieldOp::create(
                nb, nloc,
                arith::AddFOp::create(nb, nloc, args[1], sq).getResult());
          })
          .getResult(0);
  return elementwise(
      b, loc, type, v, {v, sumSq},
      {identityMap(ctx, rank), dropLastMap(ctx, rank)},
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value mean = arith::DivFOp::create(
            nb, nloc, args[1], f32Const(nb, nloc, static_cast<double>(width)));
        Value inv = math::RsqrtOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc, mean, f32Const(nb, nloc, eps)));
        return arith::MulFOp::create(nb, nloc, args[0], inv).getResult();
      });
}

/// v[..., c] * w[c]
Value scaleByChannel(OpBuilder &b, Location loc, Value v, Value w) {
  MLIRContext *ctx = b.getContext();
  unsigned rank = tensorType(v).getRank();
  return elementwise(b, loc, tensorType(v), v, {v, w},
                     {identityMap(ctx, rank), lastDimMap(ctx, rank)},
                     [](OpBuilder &nb, Location nloc, ValueRange args) {
                       return arith::MulFOp::create(nb, nloc, args[0],
                                                    toF32(nb, nloc, args[1]))
                           .getResult();
                     });
}

std::pair<Value, Value> splitNibbles(OpBuilder &b, Location loc, Value bytes,
                                     bool isSigned) {
  Type type = bytes.getType();
  auto constant = [&](int8_t v) -> Value {
    if (auto vec = dyn_cast<VectorType>(type))
      return splatConst(b, loc, vec, b.getIntegerAttr(vec.getElementType(), v));
    return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, v));
  };
  Value four = constant(4);
  if (isSigned)
    return {arith::ShRSIOp::create(
                b, loc, arith::ShLIOp::create(b, loc, bytes, four), four),
            arith::ShRSIOp::create(b, loc, bytes, four)};
  return {arith::AndIOp::create(b, loc, bytes, constant(15)),
          arith::ShRUIOp::create(b, loc, bytes, four)};
}

/// softplus(v) = log(1 + exp(v)), in the form that neither overflows for
/// large v nor loses small values: max(v, 0) + log1p(exp(-|v|)).
Value softplus(OpBuilder &b, Location loc, Value v) {
  Value zero = f32Const(b, loc, 0.0);
  Value negAbs = arith::NegFOp::create(b, loc, math::AbsFOp::create(b, loc, v));
  Value tail =
      math::Log1pOp::create(b, loc, math::ExpOp::create(b, loc, negAbs));
  return arith::AddFOp::create(
      b, loc, arith::MaximumFOp::create(b, loc, v, zero), tail);
}

Value silu(OpBuilder &b, Location loc, Value x) {
  Value one = f32Const(b, loc, 1.0);
  Value e = math::ExpOp::create(b, loc, arith::NegFOp::create(b, loc, x));
  return arith::DivFOp::create(b, loc, x,
                               arith::AddFOp::create(b, loc, one, e));
}

Value activation(OpBuilder &b, Location loc, Activation act, Value g) {
  Value half = f32Const(b, loc, 0.5), one = f32Const(b, loc, 1.0);
  switch (act) {
  case Activation::gelu: { // 0.5 g (1 + erf(g / sqrt 2))
    Value e = math::ErfOp::create(
        b, loc, arith::MulFOp::create(b, loc, g, f32Const(b, loc, M_SQRT1_2)));
    Value t = arith::AddFOp::create(b, loc, one, e);
    return arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, half, g),
                                 t);
  }
  case Activation::gelu_tanh: { // 0.5 g (1 + tanh(sqrt(2/pi) (g + 0.044715
                                // g^3)))
    Value g3 =
        arith::MulFOp::create(b, loc, g, arith::MulFOp::create(b, loc, g, g));
    Value inner = arith::AddFOp::create(
        b, loc, g,
        arith::MulFOp::create(b, loc, f32Const(b, loc, 0.044715), g3));
    Value t = math::TanhOp::create(
        b, loc,
        arith::MulFOp::create(b, loc, f32Const(b, loc, std::sqrt(2.0 / M_PI)),
                              inner));
    return arith::MulFOp::create(b, loc, arith::MulFOp::create(b, loc, half, g),
                                 arith::AddFOp::create(b, loc, one, t));
  }
  case Activation::silu:
    return silu(b, loc, g);
  }
  llvm_unreachable("unknown activation");
}

/// The slice [offset, offset + size) of the last dim of `v`.
Value sliceLastDim(OpBuilder &b, Location loc, Value v, int64_t offset,
                   int64_t size) {
  unsigned rank = tensorType(v).getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, v);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  offsets.back() = b.getIndexAttr(offset);
  sizes.back() = b.getIndexAttr(size);
  return tensor::ExtractSliceOp::create(b, loc, v, offsets, sizes, strides);
}

} // namespace mlir::zamba2::lowering
