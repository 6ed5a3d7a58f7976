//===- Zamba2Ops.h - Zamba2 operations --------------------------*- C++ -*-===//
#ifndef ZAMBA2_DIALECT_ZAMBA2OPS_H
#define ZAMBA2_DIALECT_ZAMBA2OPS_H

#include "dialect/Zamba2Dialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/Zamba2Enums.h.inc"

#define GET_OP_CLASSES
#include "dialect/Zamba2Ops.h.inc"

#include <optional>

namespace mlir::zamba2 {

/// The normalisation prologue of a linear op (`normed`: zamba2-fuse-norm).
/// The product reads weight * v / sqrt(mean(v^2) + eps) per group of the
/// last dim, v = input, input + residual or input * silu(gate).
struct NormPrologue {
  Value weight;   ///< [In]
  Value residual; ///< null, or the input's type
  Value gate;     ///< null, or the input's type
  double eps = 0;
  int64_t groups = 1;
};

/// Whether `op` is one of the linear ops that take a norm prologue
/// (linear, lora_linear, quant_linear).
bool takesNormPrologue(Operation *op);

/// The prologue of such an op; nullopt when it has none (or is another op).
std::optional<NormPrologue> getNormPrologue(Operation *op);

/// Gives such an op `norm` as its prologue (`input` is then v's first term);
/// a NormPrologue without weight removes the op's prologue.
void setNormPrologue(Operation *op, const NormPrologue &norm);

/// The convolution epilogue of a linear op (`conv(...)`: zamba2-fuse-conv):
/// output channels [offset, offset + C) of its one-token rows are passed
/// through a causal depthwise convolution whose new state is the op's
/// second result.
struct ConvEpilogue {
  Value weight; ///< [C, 1, K]
  Value bias;   ///< null, or [C]
  Value state;  ///< [B, C, K-1]
  int64_t offset = 0;
  bool silu = false;
};

/// Whether `op` is one of the linear ops that take a convolution epilogue
/// (linear, quant_linear).
bool takesConvEpilogue(Operation *op);

/// The epilogue of such an op; nullopt when it has none (or is another op).
std::optional<ConvEpilogue> getConvEpilogue(Operation *op);

/// A copy of such an op (at the rewriter's insertion point) with `conv` as
/// its epilogue, or with none when `conv` has no weight; its result types
/// follow (the new state's type is the state's). The original stays.
Operation *cloneWithConvEpilogue(RewriterBase &rewriter, Operation *op,
                                 const ConvEpilogue &conv);

/// The first channel (last dim) of `whole` that `piece` starts at, when
/// `piece` is `whole` or a piece of it through `zamba2.split` results or
/// `tensor.extract_slice`s of unit strides whose leading offsets are 0 and
/// sizes full (what zamba2-lower-to-linalg makes of a split); nullopt
/// otherwise.
std::optional<int64_t> channelOffsetIn(Value piece, Value whole);

/// Where the pieces an ssd_step reads lie in the output channels of the
/// in_proj that makes them (zamba2-fuse-scan): x [x, x + I), the other I
/// channels [other, other + I) (Mamba2's z: the gate, whether the scan or
/// the out_proj's norm applies it), and b, c, dt together in
/// [side, side + 2 G N + nh), each at its own offset.
struct ScanFoldLayout {
  int64_t x, other, side, b, c, dt;
  int64_t inner, heads, groups, stateSize;
  int64_t sideChannels() const { return 2 * groups * stateSize + heads; }
};

/// The layout of `scan`'s pieces in `product`'s result (a linear op's,
/// whose last dim must be I + I + 2 G N + nh); nullopt, with `why` set,
/// when they are not pieces of it, overlap, leave the other I channels
/// apart, or a gate is not those channels.
std::optional<ScanFoldLayout> scanFoldLayout(Operation *product, SSDStepOp scan,
                                             std::string &why);

} // namespace mlir::zamba2

#endif // ZAMBA2_DIALECT_ZAMBA2OPS_H
