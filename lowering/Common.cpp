//===- Common.cpp - building blocks shared by the CPU lowerings -----------===//
#include "lowering/Common.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

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
  if (v.getType().isF32())
    return v;
  return arith::ExtFOp::create(b, loc, b.getF32Type(), v);
}

Value f32Const(OpBuilder &b, Location loc, double v) {
  return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
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

/// result[..., o] = init[..., o] + sum_k x[..., k] * w[o, k]
/// (a linear with the checkpoint's [Out, In] weight layout).
Value contractLastDim(OpBuilder &b, Location loc, Value x, Value w,
                      Value init) {
  MLIRContext *ctx = b.getContext();
  unsigned rank = tensorType(x).getRank(), loops = rank + 1;
  // Loops: the leading dims of x, then o (parallel), then k (reduction).
  SmallVector<AffineExpr> xExprs, outExprs;
  for (unsigned i = 0; i + 1 < rank; ++i) {
    xExprs.push_back(getAffineDimExpr(i, ctx));
    outExprs.push_back(getAffineDimExpr(i, ctx));
  }
  AffineExpr o = getAffineDimExpr(rank - 1, ctx);
  AffineExpr k = getAffineDimExpr(rank, ctx);
  xExprs.push_back(k);
  outExprs.push_back(o);
  SmallVector<AffineMap> maps = {AffineMap::get(loops, 0, xExprs, ctx),
                                 AffineMap::get(loops, 0, {o, k}, ctx),
                                 AffineMap::get(loops, 0, outExprs, ctx)};
  SmallVector<IteratorType> iterators(rank, IteratorType::parallel);
  iterators.push_back(IteratorType::reduction);
  auto generic = linalg::GenericOp::create(
      b, loc, TypeRange{init.getType()}, ValueRange{x, w}, ValueRange{init},
      maps, iterators, [](OpBuilder &nb, Location nloc, ValueRange args) {
        Value prod = arith::MulFOp::create(nb, nloc, toF32(nb, nloc, args[0]),
                                           toF32(nb, nloc, args[1]));
        linalg::YieldOp::create(
            nb, nloc,
            arith::AddFOp::create(nb, nloc, args[2], prod).getResult());
      });
  return generic.getResult(0);
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
