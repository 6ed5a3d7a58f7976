//===- Common.h - building blocks shared by the CPU lowerings ---*- C++ -*-===//
//
// Small builders used by every zamba2 -> linalg lowering file: typed empty and
// zero tensors, f32 widening of narrow weights, elementwise linalg.generic,
// the [Out, In] contraction, RMS normalisation and the activations. All
// arithmetic is f32.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_LOWERING_COMMON_H
#define ZAMBA2_LOWERING_COMMON_H

#include "dialect/Zamba2Ops.h"

#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::zamba2::lowering {

RankedTensorType tensorType(Value v);

/// tensor.empty of `type`, each dynamic dim taken from the same dim of `like`.
Value emptyLike(OpBuilder &b, Location loc, RankedTensorType type, Value like);
/// A zero-filled tensor of `type` (dynamic dims from `like`).
Value zerosLike(OpBuilder &b, Location loc, RankedTensorType type, Value like);
/// Extends a scalar or a vector to f32 elements (weights may be stored as bf16
/// or f16); f32 values are returned as they are.
Value toF32(OpBuilder &b, Location loc, Value v);
Value f32Const(OpBuilder &b, Location loc, double v);
/// A vector constant with every element `value` (an attribute of the
/// element type).
Value splatConst(OpBuilder &b, Location loc, VectorType type, Attribute value);
/// Converts a float scalar to the float type `type` (extf or truncf; bf16 <->
/// f16 goes through f32).
Value convertFloat(OpBuilder &b, Location loc, Value v, Type type);
/// `v` with type `type` (a tensor.cast when only which dims are static
/// differs).
Value castTo(OpBuilder &b, Location loc, Value v, Type type);

AffineMap identityMap(MLIRContext *ctx, unsigned rank);
/// (d0, ..., d{n-1}) -> (d0, ..., d{n-2}): a row of the last dim.
AffineMap dropLastMap(MLIRContext *ctx, unsigned rank);
/// (d0, ..., d{n-1}) -> (d{n-1}): a per-channel vector.
AffineMap lastDimMap(MLIRContext *ctx, unsigned rank);

/// An elementwise linalg.generic over `type`'s shape; `inputMaps` say how
/// each input is indexed, `body` computes the element from input scalars.
Value elementwise(OpBuilder &b, Location loc, RankedTensorType type, Value like,
                  ValueRange inputs, ArrayRef<AffineMap> inputMaps,
                  function_ref<Value(OpBuilder &, Location, ValueRange)> body);

/// result[..., o] = init[..., o] + sum_k x[..., k] * w[o, k].
Value contractLastDim(OpBuilder &b, Location loc, Value x, Value w, Value init);

/// The loop nest of contractLastDim with the dot product given:
/// result[m, o] = init[m, o] + dot(x tile, m, o) over tiles of rows of x
/// (x, init collapsed to 2-D).
using RowDot =
    function_ref<Value(OpBuilder &, Location, Value xTile, Value m, Value o)>;
Value contractRows(OpBuilder &b, Location loc, Value x, Value init, RowDot dot);

/// v / sqrt(mean(v^2 over the last dim) + eps).
Value normalizeLastDim(OpBuilder &b, Location loc, Value v, double eps);
/// v[..., c] * w[c].
Value scaleByChannel(OpBuilder &b, Location loc, Value v, Value w);

/// The low and the high 4-bit value of each byte of `bytes` (an i8 or a
/// vector of i8), sign-extended when `isSigned` (two's complement nibbles),
/// else zero-extended.
std::pair<Value, Value> splitNibbles(OpBuilder &b, Location loc, Value bytes,
                                     bool isSigned);

/// softplus(v) = max(v, 0) + log1p(exp(-|v|)).
Value softplus(OpBuilder &b, Location loc, Value v);
Value silu(OpBuilder &b, Location loc, Value x);
Value activation(OpBuilder &b, Location loc, Activation act, Value g);

/// The slice [offset, offset + size) of the last dim of `v`.
Value sliceLastDim(OpBuilder &b, Location loc, Value v, int64_t offset,
                   int64_t size);

/// Pattern sets of the other lowering files (each adds one pattern per op).
void populateSequenceOpLowerings(RewritePatternSet &patterns);
void populateAttentionLowerings(RewritePatternSet &patterns);
void populateFusedLinearLowerings(RewritePatternSet &patterns);

} // namespace mlir::zamba2::lowering

#endif // ZAMBA2_LOWERING_COMMON_H
