//===- FusedLinear.cpp - lowering of lora_linear, quant_linear ------------===//
//
// lora_linear: y = x W^T (+ bias), then the rank-r intermediate x A^T is
// computed once and (x A^T) B^T accumulated into y. W + B A is never formed.
//
// quant_linear: one linalg.generic contraction whose body unpacks and
// dequantizes the weight element it multiplies (no dequantized weight tensor
// exists). Packing, as the op defines it: byte j of row o of `packed` holds
// w[o, j] (8 bits) or w[o, 2j] in its low nibble and w[o, 2j + 1] in its high
// nibble (4 bits). symmetric: w = s * q with q a two's complement integer of
// `bits` bits ([-128, 127] or [-8, 7]); asymmetric: w = s * (q - z) with q
// unsigned ([0, 255] or [0, 15]) and z read as an unsigned integer. s and z
// are those of group i / group_size of the row. All arithmetic is f32.
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

LogicalResult lowerQuantLinear(QuantLinearOp op, PatternRewriter &rewriter) {
  Location loc = op.getLoc();
  MLIRContext *ctx = rewriter.getContext();
  int64_t bits = op.getBits(), groupSize = op.getGroupSize();
  int64_t perByte = 8 / bits;
  Value packed = op.getPacked();
  RankedTensorType packedType = tensorType(packed);
  if (!packedType.getElementType().isInteger(8))
    return rewriter.notifyMatchFailure(op, "packed weights must be i8");
  bool isSigned = op.getScheme() == QuantScheme::symmetric;
  Value scales = op.getScales(), zeros = op.getZeros();
  int64_t inBytes = packedType.getShape()[1], in = inBytes * perByte;

  // The input with a static last dim In.
  Value x = op.getInput();
  RankedTensorType xType = tensorType(x);
  SmallVector<int64_t> xShape(xType.getShape());
  xShape.back() = in;
  auto xStatic = RankedTensorType::get(xShape, xType.getElementType());
  if (xStatic != xType)
    x = tensor::CastOp::create(rewriter, loc, xStatic, x);
  unsigned lead = xType.getRank() - 1;
  Value acc = accumulator(rewriter, loc, x, packed, op.getBias());

  // The vector form, when 16 weights (8 or 16 bytes) of a row never straddle
  // a group: per step, one scale (and zero), the bytes dequantized as
  // vectors and multiplied with 16 elements of x (int4: the low nibbles
  // with the even elements, the high nibbles with the odd ones).
  constexpr int64_t kStep = 16;
  if (in % kStep == 0 && groupSize % kStep == 0) {
    Type f32 = rewriter.getF32Type(), i8 = rewriter.getI8Type();
    int64_t bytes = kStep / perByte, lanes = bits == 4 ? kStep / 2 : kStep;
    auto byteVec = VectorType::get({bytes}, i8);
    auto accVec = VectorType::get({lanes}, f32);
    auto dot = [&](OpBuilder &gb, Location gl, Value xs, Value m,
                   Value o) -> Value {
      Value zeroAcc = arith::ConstantOp::create(
          gb, gl, accVec, DenseElementsAttr::get(accVec, 0.0f));
      auto idx = [&](OpBuilder &nb, Location nl, int64_t v) -> Value {
        return arith::ConstantIndexOp::create(nb, nl, v);
      };
      auto loop = scf::ForOp::create(
          gb, gl, idx(gb, gl, 0), idx(gb, gl, in), idx(gb, gl, kStep),
          ValueRange{zeroAcc},
          [&](OpBuilder &nb, Location nl, Value c, ValueRange acc) {
            auto splat = [&](Value v) -> Value {
              return vector::BroadcastOp::create(nb, nl, accVec, v);
            };
            Value group =
                arith::DivUIOp::create(nb, nl, c, idx(nb, nl, groupSize));
            Value scale = splat(convertFloat(
                nb, nl,
                tensor::ExtractOp::create(nb, nl, scales, ValueRange{o, group}),
                f32));
            Value zero;
            if (zeros)
              zero = splat(arith::UIToFPOp::create(
                  nb, nl, f32,
                  tensor::ExtractOp::create(nb, nl, zeros,
                                            ValueRange{o, group})));
            Value pad =
                arith::ConstantOp::create(nb, nl, nb.getIntegerAttr(i8, 0));
            Value byteCol =
                arith::DivUIOp::create(nb, nl, c, idx(nb, nl, perByte));
            Value packedBytes = vector::TransferReadOp::create(
                nb, nl, byteVec, packed, ValueRange{o, byteCol}, pad,
                ArrayRef<bool>{true});
            auto dequant = [&](Value ints) -> Value {
              Value w = isSigned ? arith::SIToFPOp::create(nb, nl, accVec, ints)
                                       .getResult()
                                 : arith::UIToFPOp::create(nb, nl, accVec, ints)
                                       .getResult();
              if (zero)
                w = arith::SubFOp::create(nb, nl, w, zero);
              return arith::MulFOp::create(nb, nl, w, scale);
            };
            Type xElem = tensorType(xs).getElementType();
            Value xPad =
                arith::ConstantOp::create(nb, nl, nb.getZeroAttr(xElem));
            Value xv = vector::TransferReadOp::create(
                nb, nl, VectorType::get({kStep}, xElem), xs, ValueRange{m, c},
                xPad, ArrayRef<bool>{true});
            if (!xElem.isF32())
              xv = arith::ExtFOp::create(nb, nl, VectorType::get({kStep}, f32),
                                         xv);
            Value next;
            if (bits == 8) {
              next = vector::FMAOp::create(nb, nl, xv, dequant(packedBytes),
                                           acc[0]);
            } else {
              auto [lo, hi] = splitNibbles(nb, nl, packedBytes, isSigned);
              SmallVector<int64_t> even, odd;
              for (int64_t i = 0; i < lanes; ++i) {
                even.push_back(2 * i);
                odd.push_back(2 * i + 1);
              }
              Value xe = vector::ShuffleOp::create(nb, nl, xv, xv, even);
              Value xo = vector::ShuffleOp::create(nb, nl, xv, xv, odd);
              next = vector::FMAOp::create(nb, nl, xe, dequant(lo), acc[0]);
              next = vector::FMAOp::create(nb, nl, xo, dequant(hi), next);
            }
            scf::YieldOp::create(nb, nl, next);
          });
      return vector::ReductionOp::create(gb, gl, vector::CombiningKind::ADD,
                                         loop.getResult(0),
                                         arith::FastMathFlags::reassoc);
    };
    rewriter.replaceOp(op, finish(rewriter, loc,
                                  contractRows(rewriter, loc, x, acc, dot),
                                  op.getResult().getType()));
    return success();
  }

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
  rewriter.replaceOp(op,
                     finish(rewriter, loc, result, op.getResult().getType()));
  return success();
}

} // namespace

void populateFusedLinearLowerings(RewritePatternSet &patterns) {
  patterns.add(lowerLoRALinear);
  patterns.add(lowerQuantLinear);
}

} // namespace mlir::zamba2::lowering
