//===- GpuKernelEmitter.h - what the CUDA kernel files share ----*- C++ -*-===//
//
// Internal to lowering/: what the files that build the CUDA kernels of
// GpuKernels.cpp's bufferization models share. The Emitter (index and f32
// arithmetic at an insertion point), gpu.launch, the dependent-launch marks
// and workgroup arrays (GpuKernelEmitter.cpp); a norm's buffers and x's row
// staged in workgroup memory (GpuNormKernels.cpp); and each kernel's
// descriptor, which the models fill in, with the function that emits it
// (GpuNormKernels.cpp, GpuLinearKernels.cpp, GpuSequenceKernels.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_LOWERING_GPUKERNELEMITTER_H
#define ZAMBA2_LOWERING_GPUKERNELEMITTER_H

#include "lowering/Common.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#include <optional>
#include <utility>

namespace mlir::zamba2::gpukernels {

/// Threads per warp.
constexpr int64_t kWarp = 32;

/// Index and f32 arithmetic at one insertion point.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value sub(Value x, Value y) { return arith::SubIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, Value y) { return arith::DivUIOp::create(b, loc, x, y); }
  Value rem(Value x, Value y) { return arith::RemUIOp::create(b, loc, x, y); }
  Value min(Value x, Value y) { return arith::MinUIOp::create(b, loc, x, y); }
  Value ceilDiv(Value x, int64_t d) { return div(add(x, idx(d - 1)), idx(d)); }
  Value lt(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value eq(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, x, y);
  }
  Value f32(double v) { return lowering::f32Const(b, loc, v); }
  Value fadd(Value x, Value y) { return arith::AddFOp::create(b, loc, x, y); }
  Value fmul(Value x, Value y) { return arith::MulFOp::create(b, loc, x, y); }
  Value fmax(Value x, Value y) {
    return arith::MaximumFOp::create(b, loc, x, y);
  }
  Value exp(Value x) { return math::ExpOp::create(b, loc, x); }
  Value dim(Value memref, int64_t i) {
    return memref::DimOp::create(b, loc, memref, i);
  }
  Value load(Value memref, ValueRange indices) {
    return lowering::toF32(b, loc,
                           memref::LoadOp::create(b, loc, memref, indices));
  }
  void store(Value v, Value memref, ValueRange indices) {
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    memref::StoreOp::create(b, loc, lowering::convertFloat(b, loc, v, elem),
                            memref, indices);
  }
  /// Runs `body` only where `cond` holds (always when `cond` is null).
  void when(Value cond, function_ref<void()> body) {
    if (!cond) {
      body();
      return;
    }
    auto ifOp = scf::IfOp::create(b, loc, cond, /*withElseRegion=*/false);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.thenBlock());
    body();
  }
  /// The sum over the 32 lanes of a warp, in every lane; with `lanes` (a
  /// power of two), over each aligned group of that many lanes.
  Value warpSum(Value v, int32_t lanes = kWarp) {
    for (int32_t offset = lanes / 2; offset >= 1; offset /= 2)
      v = fadd(v, gpu::ShuffleOp::create(b, loc, v, offset, kWarp,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult());
    return v;
  }
};

//===----------------------------------------------------------------------===//
// Kernels, marks and rows (GpuKernelEmitter.cpp)
//===----------------------------------------------------------------------===//

/// Marks `op` to run before the kernel's dependent-launch wait
/// (kBeforeWaitAttr): what it reads no kernel of the step writes (weights,
/// or state only this kernel updates); not only the kernel right before
/// this one may still run then, but every one back to the last that is not
/// marked short (kEarlyTriggerAttr). The dependent-launch pass puts the
/// wait after the last marked op of the kernel's entry block.
Operation *markBeforeWait(Operation *op);

/// markBeforeWait for a load: its value.
Value beforeWait(Operation *load);

/// The product of the sizes of dims [0, rank - 1) of `memref` (host side).
Value leadingCount(Emitter &e, Value memref);

/// The sizes of dims [0, rank - 1) of `memref` (host side).
SmallVector<Value> leadingSizes(Emitter &e, Value memref);

/// The view of `memref`'s last-dim columns [offset, offset + size), its
/// other dims whole (host side).
Value lastDimView(Emitter &e, Value memref, int64_t offset, int64_t size);

/// Row `row` of the leading dims `sizes` as indices (row-major).
SmallVector<Value> rowIndices(Emitter &e, ArrayRef<Value> sizes, Value row);

/// `prefix` with `last` appended (indices of a row, then a column).
SmallVector<Value> with(ArrayRef<Value> prefix, Value last);

/// A gpu.launch of grid (x, y, z) and `threads` threads per block; `body`
/// builds the kernel at the start of its region.
/// `name` names the outlined kernel (made unique by the outlining), which is
/// what per-kernel timings show.
gpu::LaunchOp launch(Emitter &e, StringRef name, Value gx, Value gy, Value gz,
                     int64_t threads,
                     function_ref<void(Emitter &, gpu::LaunchOp)> body);

/// `n` f32 (or elements of `element`) of workgroup (shared) memory, inside
/// a kernel. It is a workgroup-space memref.global rather than a launch
/// attribution: the ownership-based buffer deallocation, which runs after
/// these kernels are built, would add an ownership argument to a block with
/// a memref argument. Each kernel that names the global gets its own copy.
/// It is 16-byte aligned.
Value workgroupArray(Emitter &e, int64_t n, Type element = {});

/// Whether the last dim of `memref` is contiguous and each row starts on a
/// 16-byte boundary (buffers themselves are at least 64-byte aligned: the
/// weights by the weight table, allocations by the runtime).
bool rowsAligned16(Value memref);

/// Whether the last dim of `memref` has stride 1.
bool innerContiguous(Value memref);

/// The `count` f32 values `then` gives where `cond` holds, those
/// `otherwise` gives elsewhere: an scf.if whose results they are.
scf::IfOp ifValues(Emitter &e, Value cond, int64_t count,
                   function_ref<SmallVector<Value>(Emitter &)> then,
                   function_ref<SmallVector<Value>(Emitter &)> otherwise);

/// The `count` f32 values `loads` gives where `cond` holds, zeros elsewhere
/// (nothing loaded there).
scf::IfOp loadsWhere(Emitter &e, Value cond, int64_t count,
                     function_ref<SmallVector<Value>()> loads);

//===----------------------------------------------------------------------===//
// Norms and staged rows (GpuNormKernels.cpp)
//===----------------------------------------------------------------------===//

/// The buffers of a norm (rms_norm, gated_rms_norm, or a linear op's norm
/// prologue): v = x, x + residual or x * silu(gate), normalised per group.
struct NormBuffers {
  Value weight, residual, gate; // residual, gate: null when absent
  double eps;
  int64_t groups;
  /// The row's second piece (rms_norm's `concat`; null when absent): v at
  /// c is x's at c below x's (static) width, else tail's at c minus that
  /// width.
  Value tail = {};

  /// What v at (row, c) reads, as f32: x (or tail), then residual and gate
  /// when present (`combine` makes v of them).
  SmallVector<Value> load(Emitter &e, Value x, ArrayRef<Value> row,
                          Value c) const;

  /// The same for (row, first .. first + 3), as vector<4xf32> (no tail).
  SmallVector<Value> load4(Emitter &e, Value x, ArrayRef<Value> row,
                           Value first) const;

  /// v of what `load` or `load4` read (f32 or vector<4xf32>; the same
  /// operations element by element): x, x + residual or x * silu(gate).
  Value combine(Emitter &e, ArrayRef<Value> loaded) const;
};

/// A linear op's norm prologue (zamba2-fuse-norm) at the kernel level: with
/// `stageOneRow`, the one-row kernels of the op stage x normalised
/// (stageNormalizedRow); elsewhere the products read `normed`, the
/// normalised rows (x's shape, f32), which the op's first kernel writes
/// (`write`) with the norm kernel. The op's kernels decide together, so
/// that a kernel reading `normed` never runs without the one that writes it.
struct NormedInput {
  NormBuffers norm;
  Value normed;
  bool write;
  bool stageOneRow;
};

/// The most f32 of x a one-row GEMV stages in workgroup memory
/// (static shared memory is at most 48 KiB per block).
constexpr int64_t kMaxStagedRow = 8192;

/// x's row staged in workgroup memory, for the one-row quantized GEMV (and
/// the one-row float GEMV whose input is normalised in the prologue). Its
/// lane steps read 16 contiguous bytes of weights, hence `v` (32 or 16 for
/// integers, 8 or 4 for floats) contiguous f32 of x: from global memory the
/// warp's x load touched 32 cache lines per instruction (L1-bound). Staged,
/// each 16-byte piece of x (a vector<4xf32> element of the array: memref loads
/// and stores, which the NVVM lowering maps to the shared address space) is
/// stored at a swizzled slot so that the 8 lanes of a quarter warp, which read
/// the same piece of 8 consecutive steps, hit 8 different bank groups.
struct StagedRow {
  Value memory;   // vector<4xf32> [K / 4], workgroup memory
  int64_t pieces; // 16-byte pieces of x per lane step: v / 4 (8, 4, 2, 1)
};

/// Copies the row `row` (indices of x's leading dims) of x, as f32, into
/// `staged` with the block's `threads` threads, then waits for the block.
void stageRow(Emitter &e, Value x, ArrayRef<Value> row, const StagedRow &staged,
              Value tid, int64_t threads);

/// x's `4 * pieces` elements from element `first` (a multiple of 4 pieces),
/// read back from the staged row as one vector.
Value loadStaged(Emitter &e, const StagedRow &staged, Value first);

/// Whether the prologue of `in` can normalise x's row while staging it: K
/// at most kMaxStagedRow, whole pieces of 4 elements in each group, few
/// groups, each operand's rows contiguous.
bool stagesNormalizedRow(Value x, const NormedInput &in);

/// The norm's weights of the pieces a thread stages of a row of `k`
/// (its forStrided elements over k / 4 pieces, in order), as vectors of 4
/// of their own type (extended to f32 where used: bf16 weights take half
/// the registers meanwhile), loaded at the kernel's start before its
/// dependent-launch wait: weights no kernel writes, so their latency passes
/// while the kernel before ends.
SmallVector<Value> preloadNormWeights(Emitter &e, const NormBuffers &n,
                                      int64_t k, Value tid, int64_t threads);

/// stageRow for a normalised row: each thread computes v for its pieces
/// (NormBuffers::load4 and combine, batched by forStrided) and sums their
/// squares per group; `weights` are the norm's weights of its pieces
/// (preloadNormWeights).
/// - One group: the thread stores v * w, and the block's sum of squares
///   passes through workgroup memory with the staging's barrier. The
///   result is inv = 1 / sqrt(mean v^2 + eps), which the product's sums
///   still need: sum_k W[n, k] (v_k inv) w_k = inv sum_k W[n, k] (v_k w_k),
///   the same product up to f32 rounding, without a second pass over the
///   row or a second barrier before the product.
/// - Several groups: the thread stores v; after the block's sums it scales
///   its own pieces by their group's inv and the weights (in the rms_norm
///   kernel's order: (v * inv) * w), then the block waits. Null result.
Value stageNormalizedRow(Emitter &e, const NormBuffers &n, Value x,
                         ArrayRef<Value> row, const StagedRow &staged,
                         Value tid, int64_t threads, ArrayRef<Value> weights);

/// out[m, g*W + c] = v(m, g*W + c) / sqrt(mean_c v^2 + eps) * weight[g*W + c]
/// over each group of W = width / groups channels of the norm `n` of x, one
/// block per (row, group).
void emitRowNorm(Emitter &e, const NormBuffers &n, Value x, Value out);

//===----------------------------------------------------------------------===//
// Matrix-vector products (GpuLinearKernels.cpp)
//===----------------------------------------------------------------------===//

/// One product sum_k x[row, k] w[n, k] of a warp's accumulation.
struct Product {
  Value x, w; // x [..., K], w [N, K]
};

/// Weights stored as integers (quant_linear): `main.w` is the packed i8
/// [N, K * bits / 8], w = s * (q - z) per group (Zamba2Ops.td).
struct QuantWeights {
  Value scales, zeros; // [N, K / group]; zeros only when asymmetric
  int64_t bits, groupSize;
  bool isSigned;
};

/// A linear op's convolution epilogue (zamba2-fuse-conv) at the kernel
/// level: output channels [offset, offset + channels) of each one-token row
/// are convolved with the row's `state`, which is updated in place.
struct ConvEpilogueBuffers {
  Value weight, bias, state; // [C, 1, K], [C] or null, [B, C, K-1]
  int64_t offset, channels, width;
  bool silu;
};

struct ScanFold;

/// out[m, n] = sum_k x[m, k] w[n, k] (+ the LoRA product) (+ bias[n])
/// (+ base[m, n]) for the rows m of out's leading dims.
struct LinearKernel {
  Product main;
  std::optional<QuantWeights> quant; // main.w holds integers
  std::optional<Product> lora;       // x = x A^T [..., r], w = B [N, r]
  Value bias, base, out;
  /// A norm prologue: main.x is v's first term, normalised before the
  /// product (null: main.x is the product's input).
  const NormedInput *normed = nullptr;
  /// lora->w holds integers (quant_linear's adapter product); last, so that
  /// the kernels without one are written as before.
  std::optional<QuantWeights> loraQuant = std::nullopt;
  /// A convolution epilogue (out's rows are one token each); the one-row
  /// kernel only (emitLinear gives several rows the convolution's kernel).
  const ConvEpilogueBuffers *conv = nullptr;
  /// The Mamba scan folded into the one-row kernel (zamba2-fuse-scan).
  const ScanFold *scanFold = nullptr;
};

/// Whether the one-row kernel of `k` can normalise x as it stages it: the
/// prologue allows it (stagesNormalizedRow) and the product reads x in whole
/// 16-byte pieces per lane step (the quantized contiguous form, or float
/// weights of 16-byte chunks).
bool stagesNormalizedOneRow(const LinearKernel &k);

/// The kernels of `k` for one token row (decode at batch 1) and for more
/// rows. A norm prologue is computed by the one-row kernel as it stages x
/// (stageNormalizedRow) when it can; otherwise, and for several rows, the
/// norm kernel writes the normalised rows (when this kernel is the op's
/// first) and the product reads them.
void emitLinear(Emitter &e, const LinearKernel &k);

//===----------------------------------------------------------------------===//
// Attention, convolution and scan (GpuSequenceKernels.cpp)
//===----------------------------------------------------------------------===//

/// The buffers and shape of an attention op: q [B, T, heads * hd], k and v
/// [B, T, kvHeads * hd], the caches [B, kvHeads, S, hd], positions [B].
struct AttentionKernel {
  Value q, k, v, kCache, vCache, positions, out;
  int64_t heads, kvHeads, hd;
  double scale;
  std::optional<double> ropeTheta;
};

/// The cache-append kernel (attention_append): one thread per element of
/// the tokens' keys (rotated) and values, stored at their positions.
void emitCacheAppend(Emitter &e, const AttentionKernel &a);

/// softmax(scale q K^T) V over the cache entries [0, pos_b + t], one block
/// per (query head, b*T + t). Before the dependent-launch wait: the
/// position and the rotary angles of the query, which depend on the step's
/// positions only. `appendsToken` (one token per row, as many kv heads as
/// query heads): each lane rotates the token's key elements that match its
/// query elements (the same angles) and loads their values, and the first
/// warp writes them into the caches (as emitCacheAppend does), so that no
/// append kernel of its own is needed; the entries older than the token
/// come from the cache, the first round of them loaded before the wait too
/// (no kernel of the step writes them: only this block writes its head's
/// cache), and the token's entry from the lane's own elements, so that no
/// barrier orders the append and the reads. With several tokens per row, or
/// kv heads shared by query heads, a block would read entries other blocks
/// write.
void emitAttend(Emitter &e, const AttentionKernel &a, bool appendsToken);

/// The buffers and shape of a causal depthwise convolution (causal_conv1d,
/// or a linear op's convolution epilogue run as its own kernel).
struct ConvKernel {
  Value x, weight, bias, state, out; // weight [C, 1, K], state [B, C, K-1]
  int64_t channels, width;
  bool silu;
};

/// What a causal depthwise convolution reads for one (batch row, channel),
/// as f32: the channel's K weights and bias (0 without one), and the K-1
/// entries of the state's row before the first token, oldest first.
struct ConvTaps {
  SmallVector<Value> w, history;
  Value bias;
};

/// The taps of channel `c` of batch row `row` (weight [C, 1, K], bias [C] or
/// null, state [B, C, K-1]); with `early`, loaded before the kernel's
/// dependent-launch wait (only the kernel that convolves, the convolution's
/// or the in_proj linear's with the epilogue, writes the state). With
/// `when`, loaded only where it holds (zeros elsewhere): a lane must not
/// read a state row another block of the launch updates.
ConvTaps loadConvTaps(Emitter &e, Value weight, Value bias, Value state,
                      int64_t width, Value row, Value c, bool early,
                      Value when = Value());

/// One token of the convolution: bias + sum_i w[i] xpad[i] over the window
/// xpad = (history, x), then SiLU when `applySilu`. The convolution kernel
/// and the linear kernels' convolution epilogue both compute it so.
Value convolveToken(Emitter &e, const ConvTaps &taps, ValueRange history,
                    Value x, bool applySilu);

/// One thread per (batch row, channel) walks the tokens with the last K-1
/// entries of the padded sequence xpad = (state, x) in registers: out[t] =
/// bias + sum_k w[k] xpad[t + k] (then SiLU); the new state is the window
/// after the last token. The weights, bias and state row (which only this
/// kernel writes) are loaded before the dependent-launch wait, by every
/// thread (those past the end read the last row and store nothing).
void emitConv(Emitter &e, const ConvKernel &k);

/// The buffers and shape of ssd_scan and ssd_step.
struct ScanKernel {
  Value x, dt, b, c, state, aLog, d, dtBias, y;
  Value gate; // y *= silu(gate) (null: none)
  int64_t heads, headDim, groups, stateSize;
  std::optional<double> dtMin, dtMax;
};

/// One warp per kScanRowsPerWarp rows p of a head's state [P, N] (4 warps
/// per block, grid (heads * ceil(P / (4 kScanRowsPerWarp)), batch)) walks
/// the T tokens in order (rows are independent); lane l owns the columns
/// n = l, l + 32, ... (coalesced) of its rows and keeps them in registers
/// over the tokens. Per token: the columns' b and c once for the warp's
/// rows, then for each row S <- decay S + dt' x b, y = S c (a warp sum) +
/// D x. The state is loaded once and stored once, in place; it and the
/// head's A_log, D and dt bias are loaded before the dependent-launch wait
/// (only this kernel writes the state). A state stored in a narrower type than
/// f32 is rounded to it after every token, as if stored and loaded again (y
/// uses the unrounded value). Columns past N (N not a multiple of 32) read the
/// last one and count for nothing; rows past the last one work on it and store
/// nothing. With a gate, the stored y is y * silu(gate) (loaded with x, after
/// the wait).
void emitScan(Emitter &e, const ScanKernel &k);

/// What one warp of a scan kernel keeps over the tokens: its head h (of
/// group g), lane, state columns (`valid` null where every lane's is
/// real), the places of its rows in x and y (`lives`: the row exists), the
/// head's -exp(A_log), D and dt bias (f32), and the state's element type.
struct ScanWarp {
  Value h, g, lane;
  SmallVector<Value> columns, valid, xCols, lives;
  Value a, dd, bias;
  Type stateType;
};

/// Token t of batch row b for the warp's rows: y stored (lane 0 of each
/// live row), the rows' new state returned (row-major, the columns of `s`).
SmallVector<Value> scanToken(Emitter &te, const ScanKernel &k,
                             const ScanWarp &w, Value b, Value t, ValueRange s);

/// A scan that reads pieces of a one-row linear kernel's output
/// (zamba2-fuse-scan): at one token row the linear's kernel runs it, in
/// blocks of two roles decided by a ticket each block takes at its start
/// (the first tickets first, so that no block waits for one that has not
/// started): the first ceil(S / 8) compute the S side channels [side,
/// side + S) (b, c, dt), then count themselves done; each other one the x
/// channel and the other (z) channel of 4 rows of one head, one row a warp,
/// then, once the count is complete, that row's scan. `counters` is two i32,
/// zero before the kernel: the tickets taken and the side blocks done.
struct ScanFold {
  ScanKernel scan;
  int64_t x, other, side, sideChannels;
  Value counters;
};

} // namespace mlir::zamba2::gpukernels

#endif // ZAMBA2_LOWERING_GPUKERNELEMITTER_H
