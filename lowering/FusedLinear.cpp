//===- FusedLinear.cpp - lowering of lora_linear, quant_linear ------------===//
//
// lora_linear: y = x W^T (+ bias), then the rank-r intermediate x A^T is
// computed once and (x A^T) B^T accumulated into y. W + B A is never formed.
//
// quant_linear: the weights are dequantized inside the multiply loop (no
// dequantized weight tensor exists). Packing, as the op defines it: byte j
// of row o of `packed` holds w[o, j] (8 bits) or w[o, 2j] in its low nibble
// and w[o, 2j + 1] in its high nibble (4 bits). symmetric: w = s * q with q
// a two's complement integer of `bits` bits ([-128, 127] or [-8, 7]);
// asymmetric: w = s * (q - z) with q unsigned ([0, 255] or [0, 15]) and z
// read as an unsigned integer. s and z are those of group i / group_size of
// the row. All arithmetic is f32. Group sizes that are multiples of 16 take
// the vector form (quantContractVector: the integers summed against x per
// group, then scaled once per group); the others one linalg.generic
// contraction whose body unpacks and dequantizes the element it multiplies.
//
//===----------------------------------------------------------------------===//
#include "lowering/Common.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::zamba2;

namespace mlir::zamba2::lowering {
namespace {

using utils::IteratorType;

/// An f32 accumulator [..., Out] for x [..., In] and a weight [Out, ...]:
/// the broadcast bias, or zeros.
Value accumulator(OpBuilder &b, Location loc, Value x, Value weight,
                  Value bias) {
  RankedTensorType xType = tensorType(x);
  SmallVector<int64_t> shape(xType.getShape().drop_back());
  SmallVector<Value> dynamic;
  for (auto [i, d] : llvm::enumerate(shape))
    if (ShapedType::isDynamic(d))
      dynamic.push_back(tensor::DimOp::create(b, loc, x, i));
  shape.push_back(tensorType(weight).getShape()[0]);
  if (ShapedType::isDynamic(shape.back()))
    dynamic.push_back(tensor::DimOp::create(b, loc, weight, 0));
  auto type = RankedTensorType::get(shape, b.getF32Type());
  Value empty = tensor::EmptyOp::create(b, loc, shape, b.getF32Type(), dynamic);
  if (!bias)
    return linalg::FillOp::create(b, loc, f32Const(b, loc, 0.0), empty)
        .getResult(0);
  MLIRContext *ctx = b.getContext();
  unsigned rank = type.getRank();
  return linalg::GenericOp::create(
             b, loc, TypeRange{type}, ValueRange{bias}, ValueRange{empty},
             SmallVector<AffineMap>{lastDimMap(ctx, rank),
                                    identityMap(ctx, rank)},
             SmallVector<IteratorType>(rank, IteratorType::parallel),
             [](OpBuilder &nb, Location nloc, ValueRange args) {
               linalg::YieldOp::create(
                   nb, nloc, convertFloat(nb, nloc, args[0], nb.getF32Type()));
             })
      .getResult(0);
}

/// The f32 accumulator `acc` as a value of the op's result type.
Value finish(OpBuilder &b, Location loc, Value acc, Type resultType) {
  Type elem = cast<RankedTensorType>(resultType).getElementType();
  RankedTensorType accType = tensorType(acc);
  if (elem != accType.getElementType()) {
    MLIRContext *ctx = b.getContext();
    unsigned rank = accType.getRank();
    acc = elementwise(b, loc, accType.clone(elem), acc, {acc},
                      {identityMap(ctx, rank)},
                      [&](OpBuilder &nb, Location nloc, ValueRange args) {
                        return convertFloat(nb, nloc, args[0], elem);
                      });
  }
  if (acc.getType() != resultType)
    acc = tensor::CastOp::create(b, loc, resultType, acc);
  return acc;
}

//===----------------------------------------------------------------------===//
// lora_linear
//===----------------------------------------------------------------------===//

LogicalResult lowerLoRALinear(LoRALinearOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  Value x = op.getInput();
  // y = x W^T (+ bias)
  Value y = contractLastDim(
      rewriter, loc, x, op.getWeight(),
      accumulator(rewriter, loc, x, op.getWeight(), op.getBias()));
  // mid = x A^T, the rank-r intermediate, once; then y += mid B^T.
  Value mid = contractLastDim(rewriter, loc, x, op.getA(),
                              accumulator(rewriter, loc, x, op.getA(), {}));
  y = contractLastDim(rewriter, loc, mid, op.getB(), y);
  rewriter.replaceOp(op, finish(rewriter, loc, y, op.getResult().getType()));
  return success();
}

//===----------------------------------------------------------------------===//
// quant_linear
//===----------------------------------------------------------------------===//

/// lhs + rhs, two tensors of one type.
Value sum(OpBuilder &b, Location loc, Value lhs, Value rhs) {
  RankedTensorType type = tensorType(lhs);
  AffineMap id = identityMap(b.getContext(), type.getRank());
  return elementwise(
      b, loc, type, lhs, {lhs, rhs}, {id, id},
      [](OpBuilder &nb, Location nloc, ValueRange args) {
        return arith::AddFOp::create(nb, nloc, args[0], args[1]).getResult();
      });
}

/// One quantized weight matrix of a quant_linear: its main W or its
/// adapter's B (same bits, group size and scheme).
struct QuantMatrix {
  Value packed, scales, zeros; // zeros only when asymmetric
  int64_t bits, groupSize;
  bool isSigned;
};

QuantMatrix mainMatrix(QuantLinearOp op) {
  return {op.getPacked(),
          op.getScales(),
          op.getZeros(),
          static_cast<int64_t>(op.getBits()),
          static_cast<int64_t>(op.getGroupSize()),
          op.getScheme() == QuantScheme::symmetric};
}

QuantMatrix adapterMatrix(QuantLinearOp op) {
  QuantMatrix m = mainMatrix(op);
  m.packed = op.getAdapterPacked();
  m.scales = op.getAdapterScales();
  m.zeros = op.getAdapterZeros();
  return m;
}

/// The integer of `bits` bits stored in `byte` (i8) as f32: the whole byte
/// (8 bits), or its low nibble when `nibble` is 0 and its high nibble
/// otherwise (4 bits). Signed values are two's complement.
Value unpack(OpBuilder &b, Location loc, Value byte, Value nibble, int64_t bits,
             bool isSigned) {
  Type f32 = b.getF32Type();
  Value q = byte;
  if (bits == 4) {
    auto [low, high] = splitNibbles(b, loc, byte, isSigned);
    Value c0 = arith::ConstantIndexOp::create(b, loc, 0);
    Value isHigh =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ne, nibble, c0);
    q = arith::SelectOp::create(b, loc, isHigh, high, low);
  }
  if (isSigned)
    return arith::SIToFPOp::create(b, loc, f32, q);
  return arith::UIToFPOp::create(b, loc, f32, q);
}

/// x [..., In] as f32, each chunk of 2 * lanes elements reordered to its
/// even elements, then its odd ones: [x0, x2, ..., x1, x3, ...]. The 4-bit
/// vector form multiplies the low nibbles of `lanes` packed bytes with the
/// first half of a chunk and the high nibbles with the second, so that it
/// reads both halves as contiguous vectors.
Value deinterleave(OpBuilder &b, Location loc, Value x, int64_t lanes) {
  MLIRContext *ctx = b.getContext();
  RankedTensorType type = tensorType(x);
  unsigned lead = type.getRank() - 1;
  int64_t chunks = type.getShape().back() / (2 * lanes);
  SmallVector<int64_t> pairShape(type.getShape().drop_back());
  SmallVector<int64_t> splitShape(pairShape);
  pairShape.append({chunks, lanes, 2});
  splitShape.append({chunks, 2, lanes});
  SmallVector<ReassociationIndices> reassociation;
  for (unsigned i = 0; i < lead; ++i)
    reassociation.push_back({static_cast<int64_t>(i)});
  reassociation.push_back({lead, lead + 1, lead + 2});
  Value pairs = tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(pairShape, type.getElementType()), x,
      reassociation);
  // Loops over the output (lead..., chunk, half, lane); the input element is
  // pairs[lead..., chunk, lane, half].
  unsigned rank = lead + 3;
  SmallVector<AffineExpr> inExprs;
  for (unsigned i = 0; i <= lead; ++i)
    inExprs.push_back(getAffineDimExpr(i, ctx));
  inExprs.push_back(getAffineDimExpr(lead + 2, ctx));
  inExprs.push_back(getAffineDimExpr(lead + 1, ctx));
  Value split =
      elementwise(b, loc, RankedTensorType::get(splitShape, b.getF32Type()),
                  pairs, {pairs}, {AffineMap::get(rank, 0, inExprs, ctx)},
                  [](OpBuilder &nb, Location nloc, ValueRange args) {
                    return convertFloat(nb, nloc, args[0], nb.getF32Type());
                  });
  return tensor::CollapseShapeOp::create(b, loc, split, reassociation);
}

/// The vector form of quant_linear, for group sizes that are multiples of 16:
/// the row-tiled dot-product nest of contractRows, whose dot product (x row
/// m, output o) loops over the groups of row o and, per group,
///   - sums x * q in two vector accumulators, q the integer weights
///     converted to f32 with no per-element scale (asymmetric: q - z,
///     subtracted as integers). 4 bits: a step reads `lanes` packed bytes,
///     their low nibbles multiply the first half of a chunk of 2 * lanes
///     elements of x and the high nibbles the second (x is de-interleaved
///     once per op, see deinterleave). 8 bits: a step is one or two vectors
///     of `lanes` bytes, one accumulator each;
///   - folds them into two running totals with one splat of the group's
///     scale: total = fma(splat(s), acc, total).
/// The bytes are extended to i32 lanes first (x86 has no byte shifts). Signed
/// 4 bits, v the sign-extended byte: v << 28 is 2^28 q_low and v & -16 is
/// 16 q_high, exact; those powers of two are divided out of the totals at the
/// end, so every rounding is that of the unscaled sums. Unsigned: v & 15 and
/// v >> 4. The result equals the dequantize-then-multiply sum up to the order
/// of the f32 additions.
/// Returns init + x W^T as contractRows does, or null (and builds nothing)
/// when the group size does not fit.
Value quantContractVector(OpBuilder &b, Location loc, const QuantMatrix &w,
                          Value x, Value init) {
  int64_t bits = w.bits, groupSize = w.groupSize;
  int64_t perByte = 8 / bits;
  Value packed = w.packed, scales = w.scales, zeros = w.zeros;
  bool isSigned = w.isSigned;
  int64_t in = tensorType(x).getShape().back();
  if (groupSize % 16 != 0 || in % groupSize != 0)
    return {};
  // lanes: f32 lanes per vector, 16 (8 for 4 bits when the group is an odd
  // multiple of 16); stepWeights: weights per step, 2 * lanes (lanes for 8
  // bits when the group is an odd multiple of 16); accs: accumulators (4
  // bits: low and high nibbles; 8 bits: one per vector of a step).
  int64_t lanes = groupSize % 32 == 0 ? 16 : 16 / perByte;
  int64_t stepWeights = groupSize % (2 * lanes) == 0 ? 2 * lanes : lanes;
  int64_t accs = bits == 4 ? 2 : stepWeights / lanes;
  int64_t stepsPerGroup = groupSize / stepWeights;
  int64_t groups = in / groupSize;

  Type f32 = b.getF32Type(), i32 = b.getI32Type(), i8 = b.getI8Type();
  auto f32Vec = VectorType::get({lanes}, f32);
  auto i32Vec = VectorType::get({lanes}, i32);
  auto byteVec = VectorType::get({lanes}, i8);
  // int4 symmetric: the totals are q_low * 2^28 and q_high * 16 sums.
  double lowFactor = 1.0, highFactor = 1.0;
  if (bits == 4 && isSigned) {
    lowFactor = 1.0 / (1 << 28);
    highFactor = 1.0 / 16;
  }

  // x as f32; 4 bits: with each chunk of 2 * lanes elements de-interleaved.
  if (bits == 4)
    x = deinterleave(b, loc, x, lanes);
  else if (!tensorType(x).getElementType().isF32()) {
    RankedTensorType type = tensorType(x);
    unsigned rank = type.getRank();
    x = elementwise(b, loc, type.clone(f32), x, {x},
                    {identityMap(b.getContext(), rank)},
                    [&](OpBuilder &nb, Location nloc, ValueRange args) {
                      return convertFloat(nb, nloc, args[0], f32);
                    });
  }

  auto dot = [&](OpBuilder &gb, Location gl, Value xs, Value m,
                 Value o) -> Value {
    auto idx = [](OpBuilder &nb, Location nl, int64_t v) -> Value {
      return arith::ConstantIndexOp::create(nb, nl, v);
    };
    auto readX = [&](OpBuilder &nb, Location nl, Value col) -> Value {
      Value pad = arith::ConstantOp::create(nb, nl, nb.getF32FloatAttr(0));
      return vector::TransferReadOp::create(
          nb, nl, f32Vec, xs, ValueRange{m, col}, pad, ArrayRef<bool>{true});
    };
    auto readBytes = [&](OpBuilder &nb, Location nl, Value byteCol) -> Value {
      Value pad = arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(i8, 0));
      Value bytes = vector::TransferReadOp::create(nb, nl, byteVec, packed,
                                                   ValueRange{o, byteCol}, pad,
                                                   ArrayRef<bool>{true});
      if (isSigned)
        return arith::ExtSIOp::create(nb, nl, i32Vec, bytes);
      return arith::ExtUIOp::create(nb, nl, i32Vec, bytes);
    };
    // acc + xv * q, or xv * q for the first step of a group (no zero
    // accumulator to add).
    auto multiplyAdd = [](OpBuilder &nb, Location nl, Value xv, Value q,
                          Value acc) -> Value {
      if (!acc)
        return arith::MulFOp::create(nb, nl, xv, q);
      return vector::FMAOp::create(nb, nl, xv, q, acc);
    };
    // One step at weight column `col`: `acc` updated in place. `zero` is
    // the group's zero point splat to i32 lanes (asymmetric).
    auto step = [&](OpBuilder &nb, Location nl, Value col, Value zero,
                    SmallVectorImpl<Value> &acc) {
      auto toF32Vec = [&](Value q) -> Value {
        if (zero)
          q = arith::SubIOp::create(nb, nl, q, zero);
        return arith::SIToFPOp::create(nb, nl, f32Vec, q);
      };
      if (bits == 4) {
        Value byteCol = arith::DivUIOp::create(nb, nl, col, idx(nb, nl, 2));
        Value v = readBytes(nb, nl, byteCol);
        Value low, high;
        if (isSigned) {
          low = arith::ShLIOp::create(
              nb, nl, v, splatConst(nb, nl, i32Vec, nb.getI32IntegerAttr(28)));
          high = arith::AndIOp::create(
              nb, nl, v, splatConst(nb, nl, i32Vec, nb.getI32IntegerAttr(-16)));
        } else {
          low = arith::AndIOp::create(
              nb, nl, v, splatConst(nb, nl, i32Vec, nb.getI32IntegerAttr(15)));
          high = arith::ShRUIOp::create(
              nb, nl, v, splatConst(nb, nl, i32Vec, nb.getI32IntegerAttr(4)));
        }
        Value oddCol = arith::AddIOp::create(nb, nl, col, idx(nb, nl, lanes));
        acc[0] = multiplyAdd(nb, nl, readX(nb, nl, col), toF32Vec(low), acc[0]);
        acc[1] =
            multiplyAdd(nb, nl, readX(nb, nl, oddCol), toF32Vec(high), acc[1]);
        return;
      }
      for (int64_t k = 0; k < accs; ++k) {
        Value c = arith::AddIOp::create(nb, nl, col, idx(nb, nl, k * lanes));
        acc[k] = multiplyAdd(nb, nl, readX(nb, nl, c),
                             toF32Vec(readBytes(nb, nl, c)), acc[k]);
      }
    };

    Value zeroVec = splatConst(gb, gl, f32Vec, gb.getF32FloatAttr(0));
    auto groupLoop = scf::ForOp::create(
        gb, gl, idx(gb, gl, 0), idx(gb, gl, groups), idx(gb, gl, 1),
        SmallVector<Value>(accs, zeroVec),
        [&](OpBuilder &nb, Location nl, Value g, ValueRange totals) {
          Value scale = convertFloat(
              nb, nl,
              tensor::ExtractOp::create(nb, nl, scales, ValueRange{o, g}), f32);
          Value zero;
          if (zeros) {
            Value z =
                tensor::ExtractOp::create(nb, nl, zeros, ValueRange{o, g});
            // Unsigned; wider than 32 bits only in theory (zero points fit
            // the weights' 4 or 8 bits).
            unsigned width = z.getType().getIntOrFloatBitWidth();
            if (width < 32)
              z = arith::ExtUIOp::create(nb, nl, i32, z);
            else if (width > 32)
              z = arith::TruncIOp::create(nb, nl, i32, z);
            zero = vector::BroadcastOp::create(nb, nl, i32Vec, z);
          }
          Value base = arith::MulIOp::create(nb, nl, g, idx(nb, nl, groupSize));
          // The group's steps, straight-line when there are few, else a
          // loop unrolled by the largest of 8, 4, 2, 1 that divides them.
          SmallVector<Value> acc(accs, Value());
          int64_t unroll = 8;
          while (stepsPerGroup % unroll != 0)
            unroll /= 2;
          int64_t straight = stepsPerGroup <= 8 ? stepsPerGroup : unroll;
          for (int64_t s = 0; s < straight; ++s)
            step(nb, nl,
                 arith::AddIOp::create(nb, nl, base,
                                       idx(nb, nl, s * stepWeights)),
                 zero, acc);
          if (straight < stepsPerGroup) {
            auto inner = scf::ForOp::create(
                nb, nl, idx(nb, nl, straight * stepWeights),
                idx(nb, nl, groupSize), idx(nb, nl, unroll * stepWeights), acc,
                [&](OpBuilder &ib, Location il, Value c, ValueRange iter) {
                  SmallVector<Value> next(iter);
                  for (int64_t s = 0; s < unroll; ++s) {
                    Value off = arith::AddIOp::create(
                        ib, il, c, idx(ib, il, s * stepWeights));
                    step(ib, il, arith::AddIOp::create(ib, il, base, off), zero,
                         next);
                  }
                  scf::YieldOp::create(ib, il, next);
                });
            acc.assign(inner.getResults().begin(), inner.getResults().end());
          }
          Value splat = vector::BroadcastOp::create(nb, nl, f32Vec, scale);
          SmallVector<Value> next;
          for (int64_t k = 0; k < accs; ++k)
            next.push_back(
                vector::FMAOp::create(nb, nl, splat, acc[k], totals[k]));
          scf::YieldOp::create(nb, nl, next);
        });
    // The totals, with the 4-bit scalings divided out, summed.
    Value sum;
    if (accs == 1) {
      sum = groupLoop.getResult(0);
    } else if (lowFactor == 1.0 && highFactor == 1.0) {
      sum = arith::AddFOp::create(gb, gl, groupLoop.getResult(0),
                                  groupLoop.getResult(1));
    } else {
      Value low = arith::MulFOp::create(
          gb, gl, groupLoop.getResult(0),
          splatConst(gb, gl, f32Vec, gb.getF32FloatAttr(lowFactor)));
      sum = vector::FMAOp::create(
          gb, gl, groupLoop.getResult(1),
          splatConst(gb, gl, f32Vec, gb.getF32FloatAttr(highFactor)), low);
    }
    return vector::ReductionOp::create(gb, gl, vector::CombiningKind::ADD, sum,
                                       arith::FastMathFlags::reassoc);
  };
  return contractRows(b, loc, x, init, dot);
}

/// acc + x W^T for the quantized W `w` (acc: f32 [..., Out]).
Value quantContract(OpBuilder &rewriter, Location loc, const QuantMatrix &w,
                    Value x, Value acc) {
  MLIRContext *ctx = rewriter.getContext();
  int64_t bits = w.bits, groupSize = w.groupSize;
  int64_t perByte = 8 / bits;
  Value packed = w.packed, scales = w.scales, zeros = w.zeros;
  RankedTensorType packedType = tensorType(packed);
  bool isSigned = w.isSigned;
  int64_t inBytes = packedType.getShape()[1], in = inBytes * perByte;

  // The input with a static last dim In.
  RankedTensorType xType = tensorType(x);
  SmallVector<int64_t> xShape(xType.getShape());
  xShape.back() = in;
  auto xStatic = RankedTensorType::get(xShape, xType.getElementType());
  if (xStatic != xType)
    x = tensor::CastOp::create(rewriter, loc, xStatic, x);
  unsigned lead = xType.getRank() - 1;
  if (Value result = quantContractVector(rewriter, loc, w, x, acc))
    return result;

  // acc + x * s * (q - z) for one weight element.
  auto multiplyAdd = [&](OpBuilder &nb, Location nloc, Value xv, Value byte,
                         Value nibble, Value scale, Value zero, Value accv) {
    Type f32 = nb.getF32Type();
    Value w = unpack(nb, nloc, byte, nibble, bits, isSigned);
    if (zero)
      w = arith::SubFOp::create(nb, nloc, w,
                                arith::UIToFPOp::create(nb, nloc, f32, zero));
    w = arith::MulFOp::create(nb, nloc, w, convertFloat(nb, nloc, scale, f32));
    Value prod =
        arith::MulFOp::create(nb, nloc, convertFloat(nb, nloc, xv, f32), w);
    return arith::AddFOp::create(nb, nloc, accv, prod).getResult();
  };

  // Leading loop dims, shared by both forms.
  SmallVector<AffineExpr> leadDims;
  for (unsigned i = 0; i < lead; ++i)
    leadDims.push_back(getAffineDimExpr(i, ctx));
  auto d = [&](unsigned i) { return getAffineDimExpr(lead + i, ctx); };
  SmallVector<ReassociationIndices> xReassociation;
  for (unsigned i = 0; i < lead; ++i)
    xReassociation.push_back({static_cast<int64_t>(i)});
  auto expandX = [&](ArrayRef<int64_t> trailing) {
    SmallVector<int64_t> shape(xShape.begin(), xShape.end() - 1);
    shape.append(trailing.begin(), trailing.end());
    ReassociationIndices last;
    for (unsigned i = 0; i < trailing.size(); ++i)
      last.push_back(lead + i);
    SmallVector<ReassociationIndices> reassociation(xReassociation);
    reassociation.push_back(last);
    return tensor::ExpandShapeOp::create(
        rewriter, loc, RankedTensorType::get(shape, xType.getElementType()), x,
        reassociation);
  };
  auto withLead = [&](ArrayRef<AffineExpr> trailing, unsigned loops) {
    SmallVector<AffineExpr> exprs(leadDims);
    exprs.append(trailing.begin(), trailing.end());
    return AffineMap::get(loops, 0, exprs, ctx);
  };

  Value result;
  if (groupSize % perByte == 0) {
    // Loops (lead..., o, group, byte of the group[, nibble]): every map is a
    // projection. x is viewed as [..., In/G, G/perByte(, 2)] and packed as
    // [Out, In/G, G/perByte].
    int64_t groups = in / groupSize, bytesPerGroup = groupSize / perByte;
    bool nibbles = perByte > 1;
    unsigned loops = lead + (nibbles ? 4 : 3);
    SmallVector<int64_t> xTrailing = {groups, bytesPerGroup};
    SmallVector<AffineExpr> xExprs = {d(1), d(2)};
    if (nibbles) {
      xTrailing.push_back(perByte);
      xExprs.push_back(d(3));
    }
    Value xView = expandX(xTrailing);
    Value packed3 = tensor::ExpandShapeOp::create(
        rewriter, loc,
        RankedTensorType::get({packedType.getShape()[0], groups, bytesPerGroup},
                              packedType.getElementType()),
        packed, SmallVector<ReassociationIndices>{{0}, {1, 2}});
    SmallVector<Value> inputs = {xView, packed3, scales};
    SmallVector<AffineMap> maps = {
        withLead(xExprs, loops),
        AffineMap::get(loops, 0, {d(0), d(1), d(2)}, ctx),
        AffineMap::get(loops, 0, {d(0), d(1)}, ctx)};
    if (zeros) {
      inputs.push_back(zeros);
      maps.push_back(AffineMap::get(loops, 0, {d(0), d(1)}, ctx));
    }
    maps.push_back(withLead({d(0)}, loops));
    SmallVector<IteratorType> iterators(lead + 1, IteratorType::parallel);
    iterators.append(loops - lead - 1, IteratorType::reduction);
    result =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{acc.getType()}, inputs, ValueRange{acc},
            maps, iterators,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value nibble =
                  nibbles
                      ? linalg::IndexOp::create(nb, nloc, lead + 3).getResult()
                      : Value();
              Value zero = zeros ? args[3] : Value();
              linalg::YieldOp::create(nb, nloc,
                                      multiplyAdd(nb, nloc, args[0], args[1],
                                                  nibble, args[2], zero,
                                                  args.back()));
            })
            .getResult(0);
  } else {
    // 4 bits with an odd group size: a byte's two nibbles may belong to
    // different groups. Loops (lead..., o, byte, nibble); the scale and zero
    // of element i = 2 byte + nibble are read at group i / G in the body.
    unsigned loops = lead + 3;
    Value x2 = expandX({inBytes, perByte});
    SmallVector<AffineMap> maps = {withLead({d(1), d(2)}, loops),
                                   AffineMap::get(loops, 0, {d(0), d(1)}, ctx),
                                   withLead({d(0)}, loops)};
    SmallVector<IteratorType> iterators(lead + 1, IteratorType::parallel);
    iterators.append(2, IteratorType::reduction);
    result =
        linalg::GenericOp::create(
            rewriter, loc, TypeRange{acc.getType()}, ValueRange{x2, packed},
            ValueRange{acc}, maps, iterators,
            [&](OpBuilder &nb, Location nloc, ValueRange args) {
              Value o = linalg::IndexOp::create(nb, nloc, lead);
              Value byteIndex = linalg::IndexOp::create(nb, nloc, lead + 1);
              Value nibble = linalg::IndexOp::create(nb, nloc, lead + 2);
              Value i = arith::AddIOp::create(
                  nb, nloc,
                  arith::MulIOp::create(
                      nb, nloc, byteIndex,
                      arith::ConstantIndexOp::create(nb, nloc, perByte)),
                  nibble);
              Value group = arith::DivUIOp::create(
                  nb, nloc, i,
                  arith::ConstantIndexOp::create(nb, nloc, groupSize));
              Value scale = tensor::ExtractOp::create(nb, nloc, scales,
                                                      ValueRange{o, group});
              Value zero = zeros ? tensor::ExtractOp::create(
                                       nb, nloc, zeros, ValueRange{o, group})
                                       .getResult()
                                 : Value();
              linalg::YieldOp::create(nb, nloc,
                                      multiplyAdd(nb, nloc, args[0], args[1],
                                                  nibble, scale, zero,
                                                  args.back()));
            })
            .getResult(0);
  }
  return result;
}

LogicalResult lowerQuantLinear(QuantLinearOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  for (Value packed : {op.getPacked(), op.getAdapterPacked()})
    if (packed && !tensorType(packed).getElementType().isInteger(8))
      return rewriter.notifyMatchFailure(op, "packed weights must be i8");
  Value x = op.getInput();
  Value y = quantContract(
      rewriter, loc, mainMatrix(op), x,
      accumulator(rewriter, loc, x, op.getPacked(), op.getBias()));
  // The adapter's product summed on its own, then added: the sums and the
  // addition of the unfused form (its quant_linear into the main one), so
  // the same bits when the result is f32 (the unfused form rounds each
  // product to the result type first).
  if (Value mid = op.getAdapterInput()) {
    Value adapter = quantContract(
        rewriter, loc, adapterMatrix(op), mid,
        accumulator(rewriter, loc, mid, op.getAdapterPacked(), Value()));
    y = sum(rewriter, loc, y, adapter);
  }
  // `into base`: the addition last, as the unfused form did it.
  y = finish(rewriter, loc, y, op.getResult().getType());
  if (Value base = op.getBase())
    y = sum(rewriter, loc, base, y);
  rewriter.replaceOp(op, y);
  return success();
}

} // namespace

void populateFusedLinearLowerings(RewritePatternSet &patterns) {
  patterns.add(lowerLoRALinear);
  patterns.add(lowerQuantLinear);
}

} // namespace mlir::zamba2::lowering
