//===- GpuKernels.cpp - zamba2 ops bufferized straight into CUDA kernels --===//
//
// On the CUDA target the ops whose parallelism a generic parallel loop would
// waste (reductions along a row) are not lowered to linalg: they stay zamba2
// ops until One-Shot Bufferize, whose BufferizableOpInterface models below
// emit a gpu.launch on their buffers.
//
//   linear, lora, lora_linear -- warp per output channel: the 32 lanes of a
//     warp walk the input channels in 16-byte vector chunks of the weight row
//     (coalesced), each lane keeps one f32 accumulator per token row of its
//     row block (1 row when there is one token, 8 otherwise, so the weight row
//     is read once per 8 token rows), then a butterfly shuffle sums the lanes.
//     A LoRA term (x A^T) B^T adds its second product into the same
//     accumulators (one reduction, x read once by the main product).
//   rms_norm, gated_rms_norm -- block per row (per group): sum of squares by
//     a block reduction (shuffles, then one word per warp in shared memory),
//     then the scaled row.
//   the norm prologue of the linear ops (zamba2-fuse-norm) -- the one-row
//     kernel normalises the row of x it stages in shared memory: with one
//     group it stages v * w and scales the product's sums by the 1/RMS (the
//     block's sum of squares rides on the staging's barrier); with several,
//     a block reduction per group, then each thread scales its own pieces.
//     With several rows the op's first kernel is the norm kernel above,
//     writing the normalised rows its products read.
//   attention -- a cache-append kernel (rotary folded in, angle in f64 as on
//     the CPU) then one block per (query head, token): the 4 warps take every
//     4th cache entry with an online softmax (running max, f32), merged
//     through shared memory. Only the pos + t + 1 entries that exist are read;
//     positions are read on the device, so the host code does not depend on
//     them (a captured CUDA graph stays valid).
//
// Accumulation, softmax and normalisation are f32, as in the CPU lowering;
// results differ from it only by the order of f32 additions and, for a norm
// prologue of one group, by where the 1/RMS multiplies (f32 rounding).
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernels.h"
#include "lowering/Common.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <limits>
#include <numeric>

using namespace mlir;
using namespace mlir::zamba2;
using namespace mlir::zamba2::lowering;
using namespace mlir::bufferization;

namespace {

constexpr int64_t kWarp = 32;
/// Threads per block of the one-thread-per-element kernels.
constexpr int64_t kConvThreads = 256;

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
  Value f32(double v) { return f32Const(b, loc, v); }
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
    return toF32(b, loc, memref::LoadOp::create(b, loc, memref, indices));
  }
  void store(Value v, Value memref, ValueRange indices) {
    Type elem = cast<MemRefType>(memref.getType()).getElementType();
    memref::StoreOp::create(b, loc, convertFloat(b, loc, v, elem), memref,
                            indices);
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
  /// The sum over the 32 lanes of a warp, in every lane.
  Value warpSum(Value v) {
    for (int32_t offset = kWarp / 2; offset >= 1; offset /= 2)
      v = fadd(v, gpu::ShuffleOp::create(b, loc, v, offset, kWarp,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult());
    return v;
  }
};

/// Marks `op` to run before the kernel's dependent-launch wait
/// (kBeforeWaitAttr): what it reads no kernel of the step writes (weights,
/// or state only this kernel updates); not only the kernel right before
/// this one may still run then, but every one back to the last that is not
/// marked short (kEarlyTriggerAttr). The dependent-launch pass puts the
/// wait after the last marked op of the kernel's entry block.
Operation *markBeforeWait(Operation *op) {
  op->setAttr(kBeforeWaitAttr, UnitAttr::get(op->getContext()));
  return op;
}

/// markBeforeWait for a load: its value.
Value beforeWait(Operation *load) { return markBeforeWait(load)->getResult(0); }

/// The product of the sizes of dims [0, rank - 1) of `memref` (host side).
Value leadingCount(Emitter &e, Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  Value n = e.idx(1);
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    n = e.mul(n, e.dim(memref, i));
  return n;
}

/// The sizes of dims [0, rank - 1) of `memref` (host side).
SmallVector<Value> leadingSizes(Emitter &e, Value memref) {
  SmallVector<Value> sizes;
  for (int64_t i = 0; i + 1 < cast<MemRefType>(memref.getType()).getRank(); ++i)
    sizes.push_back(e.dim(memref, i));
  return sizes;
}

/// Row `row` of the leading dims `sizes` as indices (row-major).
SmallVector<Value> rowIndices(Emitter &e, ArrayRef<Value> sizes, Value row) {
  SmallVector<Value> indices(sizes.size());
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 1; i >= 0; --i) {
    indices[i] = i == 0 ? row : e.rem(row, sizes[i]);
    row = e.div(row, sizes[i]);
  }
  return indices;
}

SmallVector<Value> with(ArrayRef<Value> prefix, Value last) {
  SmallVector<Value> v(prefix);
  v.push_back(last);
  return v;
}

/// A gpu.launch of grid (x, y, z) and `threads` threads per block; `body`
/// builds the kernel at the start of its region.
/// `name` names the outlined kernel (made unique by the outlining), which is
/// what per-kernel timings show.
gpu::LaunchOp launch(Emitter &e, StringRef name, Value gx, Value gy, Value gz,
                     int64_t threads,
                     function_ref<void(Emitter &, gpu::LaunchOp)> body) {
  Value t = e.idx(threads), one = e.idx(1);
  auto op = gpu::LaunchOp::create(
      e.b, e.loc, gx, gy, gz, t, one, one, /*dynamicSharedMemorySize=*/nullptr,
      /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
      /*workgroupAttributions=*/{}, /*privateAttributions=*/{},
      /*clusterSizeX=*/nullptr, /*clusterSizeY=*/nullptr,
      /*clusterSizeZ=*/nullptr, FlatSymbolRefAttr::get(e.b.getContext(), name),
      FlatSymbolRefAttr::get(e.b.getContext(), name));
  OpBuilder::InsertionGuard guard(e.b);
  e.b.setInsertionPointToStart(&op.getBody().front());
  Emitter inner{e.b, e.loc};
  body(inner, op);
  gpu::TerminatorOp::create(e.b, e.loc);
  return op;
}

} // namespace

void mlir::zamba2::markBody(Block &body, StringRef name, Attribute value) {
  for (Operation &op : body.without_terminator()) {
    auto effects = dyn_cast<MemoryEffectOpInterface>(op);
    if (op.getNumRegions() || (effects && !effects.hasNoEffect())) {
      op.setAttr(name, value);
      return;
    }
  }
}

void mlir::zamba2::markEarlyTrigger(gpu::LaunchOp launch) {
  markBody(launch.getBody().front(), kEarlyTriggerAttr,
           UnitAttr::get(launch.getContext()));
}

namespace {

/// `n` f32 (or elements of `element`) of workgroup (shared) memory, inside
/// a kernel. It is a workgroup-space memref.global rather than a launch
/// attribution: the ownership-based buffer deallocation, which runs after
/// these kernels are built, would add an ownership argument to a block with
/// a memref argument. Each kernel that names the global gets its own copy.
/// It is 16-byte aligned.
Value workgroupArray(Emitter &e, int64_t n, Type element = {}) {
  MLIRContext *ctx = e.b.getContext();
  if (!element)
    element = Float32Type::get(ctx);
  auto type = MemRefType::get(
      {n}, element, MemRefLayoutAttrInterface(),
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup));
  std::string name = "zamba2_workgroup_f32x" + std::to_string(n);
  if (auto vec = dyn_cast<VectorType>(element))
    name = "zamba2_workgroup_" + std::to_string(vec.getNumElements()) + "f32x" +
           std::to_string(n);
  auto module =
      e.b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  if (!SymbolTable::lookupSymbolIn(module, name)) {
    OpBuilder mb(ctx);
    mb.setInsertionPointToStart(module.getBody());
    memref::GlobalOp::create(mb, e.loc, name, mb.getStringAttr("private"), type,
                             /*initial_value=*/Attribute(),
                             /*constant=*/false,
                             /*alignment=*/mb.getI64IntegerAttr(16));
  }
  return memref::GetGlobalOp::create(e.b, e.loc, type, name);
}

/// Whether the last dim of `memref` is contiguous and each row starts on a
/// 16-byte boundary (buffers themselves are at least 64-byte aligned: the
/// weights by the weight table, allocations by the runtime).
bool rowsAligned16(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  int64_t width = type.getShape().back();
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  return type.getLayout().isIdentity() && !ShapedType::isDynamic(width) &&
         (width * bytes) % 16 == 0;
}

bool innerContiguous(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides.back() == 1;
}

//===----------------------------------------------------------------------===//
// Block sums and row normalisation values
//===----------------------------------------------------------------------===//

/// The sums of each of `vs` over the block's `threads` threads, in every
/// thread: warp sums, one word per (value, warp) in workgroup memory, one
/// barrier.
SmallVector<Value> blockSums(Emitter &e, ArrayRef<Value> vs, Value tid,
                             int64_t threads) {
  int64_t warps = threads / kWarp;
  Value scratch = workgroupArray(e, static_cast<int64_t>(vs.size()) * warps);
  SmallVector<Value> partial;
  for (Value v : vs)
    partial.push_back(e.warpSum(v));
  Value lane = e.rem(tid, e.idx(kWarp)), warp = e.div(tid, e.idx(kWarp));
  e.when(e.eq(lane, e.idx(0)), [&] {
    for (auto [i, v] : llvm::enumerate(partial))
      memref::StoreOp::create(
          e.b, e.loc, v, scratch,
          e.add(e.idx(static_cast<int64_t>(i) * warps), warp));
  });
  gpu::BarrierOp::create(e.b, e.loc);
  SmallVector<Value> totals;
  for (size_t i = 0; i < vs.size(); ++i) {
    Value total = e.f32(0.0);
    for (int64_t w = 0; w < warps; ++w)
      total = e.fadd(total, memref::LoadOp::create(
                                e.b, e.loc, scratch,
                                e.idx(static_cast<int64_t>(i) * warps + w)));
    totals.push_back(total);
  }
  return totals;
}

Value blockSum(Emitter &e, Value v, Value tid, int64_t threads) {
  return blockSums(e, {v}, tid, threads).front();
}

/// 1 / sqrt(sumSq / width + eps): the scale of an RMS norm.
Value rmsScale(Emitter &e, Value sumSq, int64_t width, double eps) {
  Value mean = arith::DivFOp::create(e.b, e.loc, sumSq,
                                     e.f32(static_cast<double>(width)));
  return math::RsqrtOp::create(e.b, e.loc, e.fadd(mean, e.f32(eps)));
}

/// Element j of a thread's elements tid + j threads of a row of `count`
/// shared by a block's `threads` threads, as forStrided visits them: past
/// the end (when `threads` does not divide `count`) the last element, with
/// `valid` false (null when every thread's j-th element is real).
std::pair<Value, Value> stridedElement(Emitter &e, Value tid, int64_t j,
                                       int64_t count, int64_t threads) {
  Value element = e.add(tid, e.idx(j * threads));
  if (count % threads == 0)
    return {element, Value()};
  return {e.min(element, e.idx(count - 1)), e.lt(element, e.idx(count))};
}

/// Elements of a row a thread loads at once (kStridedBatch of its strided
/// elements, see forStrided).
constexpr int64_t kStridedBatch = 8;

/// Visits the elements tid, tid + threads, ... below `count` of a row that
/// a block's `threads` threads share (element j of the thread: tid + j
/// threads), as straight-line code in batches of kStridedBatch: `load`
/// issues an element's loads, and only once the whole batch's are issued,
/// `use` consumes them, element by element in order. A rolled loop keeps
/// one load in flight per thread, so that a row read from L2 cost a load
/// latency per element of the thread; batched, the latency of a batch. When
/// `threads` does not divide `count`, the elements past the end load the last
/// one and `use` gets `valid` (whether the element is real; null when all are).
void forStrided(
    Emitter &e, Value tid, int64_t count, int64_t threads,
    function_ref<SmallVector<Value>(Emitter &, Value element, int64_t j)> load,
    function_ref<void(Emitter &, Value element, Value valid,
                      ArrayRef<Value> loaded, int64_t j)>
        use) {
  int64_t perThread = (count + threads - 1) / threads;
  for (int64_t first = 0; first < perThread; first += kStridedBatch) {
    struct Loaded {
      Value element, valid;
      SmallVector<Value> values;
      int64_t j;
    };
    SmallVector<Loaded> batch;
    for (int64_t j = first; j < std::min(perThread, first + kStridedBatch);
         ++j) {
      auto [element, valid] = stridedElement(e, tid, j, count, threads);
      batch.push_back({element, valid, load(e, element, j), j});
    }
    for (Loaded &l : batch)
      use(e, l.element, l.valid, l.values, l.j);
  }
}

/// The `count` f32 values `then` gives where `cond` holds, those
/// `otherwise` gives elsewhere: an scf.if whose results they are.
scf::IfOp ifValues(Emitter &e, Value cond, int64_t count,
                   function_ref<SmallVector<Value>(Emitter &)> then,
                   function_ref<SmallVector<Value>(Emitter &)> otherwise) {
  SmallVector<Type> types(count, e.b.getF32Type());
  auto ifOp = scf::IfOp::create(e.b, e.loc, types, cond,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(e.b);
  e.b.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(e.b, e.loc, then(e));
  e.b.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(e.b, e.loc, otherwise(e));
  return ifOp;
}

/// The `count` f32 values `loads` gives where `cond` holds, zeros elsewhere
/// (nothing loaded there).
scf::IfOp loadsWhere(Emitter &e, Value cond, int64_t count,
                     function_ref<SmallVector<Value>()> loads) {
  return ifValues(
      e, cond, count, [&](Emitter &) { return loads(); },
      [&](Emitter &z) { return SmallVector<Value>(count, z.f32(0.0)); });
}

/// The alignment of a load of 4 consecutive elements of a row of `m` from
/// an element whose index is a multiple of 4: 4 elements' bytes (at most
/// 16) when the rows start 16-byte aligned, else one element's.
llvm::MaybeAlign pieceAlign(Value m) {
  int64_t bytes =
      cast<MemRefType>(m.getType()).getElementType().getIntOrFloatBitWidth() /
      8;
  return llvm::MaybeAlign(rowsAligned16(m) ? std::min<int64_t>(16, 4 * bytes)
                                           : bytes);
}

/// The buffers of a norm (rms_norm, gated_rms_norm, or a linear op's norm
/// prologue): v = x, x + residual or x * silu(gate), normalised per group.
struct NormBuffers {
  Value weight, residual, gate; // residual, gate: null when absent
  double eps;
  int64_t groups;

  /// What v at (row, c) reads, as f32: x, then residual and gate when
  /// present (`combine` makes v of them).
  SmallVector<Value> load(Emitter &e, Value x, ArrayRef<Value> row,
                          Value c) const {
    SmallVector<Value> loaded{e.load(x, with(row, c))};
    for (Value m : {residual, gate})
      if (m)
        loaded.push_back(e.load(m, with(row, c)));
    return loaded;
  }

  /// The same for (row, first .. first + 3), as vector<4xf32>.
  SmallVector<Value> load4(Emitter &e, Value x, ArrayRef<Value> row,
                           Value first) const {
    SmallVector<Value> loaded;
    for (Value m : {x, residual, gate}) {
      if (!m)
        continue;
      Type elem = cast<MemRefType>(m.getType()).getElementType();
      Value v = vector::LoadOp::create(e.b, e.loc, VectorType::get({4}, elem),
                                       m, with(row, first),
                                       /*nontemporal=*/false, pieceAlign(m));
      loaded.push_back(toF32(e.b, e.loc, v));
    }
    return loaded;
  }

  /// v of what `load` or `load4` read (f32 or vector<4xf32>; the same
  /// operations element by element): x, x + residual or x * silu(gate).
  Value combine(Emitter &e, ArrayRef<Value> loaded) const {
    Value v = loaded[0];
    if (residual)
      v = e.fadd(v, loaded[1]);
    if (gate) {
      Value g = loaded.back();
      auto vecType = dyn_cast<VectorType>(g.getType());
      if (!vecType)
        return e.fmul(v, silu(e.b, e.loc, g));
      SmallVector<Value> gated;
      for (int64_t j = 0; j < vecType.getNumElements(); ++j)
        gated.push_back(
            silu(e.b, e.loc, vector::ExtractOp::create(e.b, e.loc, g, j)));
      v = e.fmul(v, vector::FromElementsOp::create(e.b, e.loc, vecType, gated));
    }
    return v;
  }
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

//===----------------------------------------------------------------------===//
// Matrix-vector products
//===----------------------------------------------------------------------===//

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

/// The slot of x's piece `piece` (elements 4 piece .. 4 piece + 3) in the
/// staged row: piece j of step c (piece = c P + j) goes to c P + (j xor s)
/// with s = (piece / 8) mod P, which takes 8 different values over 8
/// consecutive steps (P = 8: s = c; P = 4: the pair c / 2 and j's own bit;
/// P = 2: the 8 lanes read pieces 2c of 8 steps, of 8 different slots mod
/// 8; P = 1: consecutive pieces).
Value stagedSlot(Emitter &e, Value piece, int64_t pieces) {
  Value s = e.rem(e.div(piece, e.idx(8)), e.idx(pieces));
  return arith::XOrIOp::create(e.b, e.loc, piece, s);
}

/// Copies the row `row` (indices of x's leading dims) of x, as f32, into
/// `staged` with the block's `threads` threads, then waits for the block.
void stageRow(Emitter &e, Value x, ArrayRef<Value> row, const StagedRow &staged,
              Value tid, int64_t threads) {
  OpBuilder &b = e.b;
  auto xType = cast<MemRefType>(x.getType());
  int64_t k = xType.getShape().back();
  Type elem = xType.getElementType();
  llvm::MaybeAlign align(rowsAligned16(x) ? 16
                                          : elem.getIntOrFloatBitWidth() / 8);
  forStrided(
      e, tid, k / 4, threads,
      [&](Emitter &le, Value piece, int64_t) -> SmallVector<Value> {
        return {vector::LoadOp::create(b, le.loc, VectorType::get({4}, elem), x,
                                       with(row, le.mul(piece, le.idx(4))),
                                       /*nontemporal=*/false, align)};
      },
      [&](Emitter &le, Value piece, Value valid, ArrayRef<Value> loaded,
          int64_t) {
        Value v = toF32(b, le.loc, loaded[0]);
        le.when(valid, [&] {
          memref::StoreOp::create(b, le.loc, v, staged.memory,
                                  stagedSlot(le, piece, staged.pieces));
        });
      });
  gpu::BarrierOp::create(b, e.loc);
}

/// x's `4 * pieces` elements from element `first` (a multiple of 4 pieces),
/// read back from the staged row as one vector.
Value loadStaged(Emitter &e, const StagedRow &staged, Value first) {
  OpBuilder &b = e.b;
  Value firstPiece = e.div(first, e.idx(4));
  SmallVector<Value> parts;
  for (int64_t j = 0; j < staged.pieces; ++j)
    parts.push_back(memref::LoadOp::create(
        b, e.loc, staged.memory,
        stagedSlot(e, e.add(firstPiece, e.idx(j)), staged.pieces)));
  // Concatenate pairwise: 4 + 4 -> 8, 8 + 8 -> 16, ...
  while (parts.size() > 1) {
    SmallVector<Value> joined;
    for (size_t i = 0; i < parts.size(); i += 2) {
      int64_t width = cast<VectorType>(parts[i].getType()).getNumElements();
      SmallVector<int64_t> lanes(2 * width);
      std::iota(lanes.begin(), lanes.end(), 0);
      joined.push_back(
          vector::ShuffleOp::create(b, e.loc, parts[i], parts[i + 1], lanes));
    }
    parts = std::move(joined);
  }
  return parts.front();
}

/// The maximum number of norm groups whose sums a staging thread keeps.
constexpr int64_t kMaxStagedNormGroups = 8;

/// Whether the prologue of `in` can normalise x's row while staging it: K
/// at most kMaxStagedRow, whole pieces of 4 elements in each group, few
/// groups, each operand's rows contiguous.
bool stagesNormalizedRow(Value x, const NormedInput &in) {
  int64_t k = cast<MemRefType>(x.getType()).getShape().back();
  if (ShapedType::isDynamic(k) || k > kMaxStagedRow || k % 4 != 0 ||
      in.norm.groups > kMaxStagedNormGroups || (k / in.norm.groups) % 4 != 0)
    return false;
  for (Value m : {x, in.norm.residual, in.norm.gate, in.norm.weight})
    if (m && !innerContiguous(m))
      return false;
  return true;
}

/// The norm's weights of the pieces a thread stages of a row of `k`
/// (its forStrided elements over k / 4 pieces, in order), as vectors of 4
/// of their own type (extended to f32 where used: bf16 weights take half
/// the registers meanwhile), loaded at the kernel's start before its
/// dependent-launch wait: weights no kernel writes, so their latency passes
/// while the kernel before ends.
SmallVector<Value> preloadNormWeights(Emitter &e, const NormBuffers &n,
                                      int64_t k, Value tid, int64_t threads) {
  OpBuilder &b = e.b;
  Type wElem = cast<MemRefType>(n.weight.getType()).getElementType();
  int64_t pieces = k / 4;
  SmallVector<Value> weights;
  for (int64_t j = 0; j < (pieces + threads - 1) / threads; ++j) {
    Value piece = stridedElement(e, tid, j, pieces, threads).first;
    Operation *load =
        vector::LoadOp::create(b, e.loc, VectorType::get({4}, wElem), n.weight,
                               ValueRange{e.mul(piece, e.idx(4))},
                               /*nontemporal=*/false, pieceAlign(n.weight));
    weights.push_back(beforeWait(load));
  }
  return weights;
}

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
                         Value tid, int64_t threads, ArrayRef<Value> weights) {
  OpBuilder &b = e.b;
  int64_t k = cast<MemRefType>(x.getType()).getShape().back();
  int64_t width = k / n.groups;
  bool deferred = n.groups == 1;
  auto f32x4 = VectorType::get({4}, b.getF32Type());
  // The group of the piece starting at element `first`.
  auto groupOf = [&](Emitter &ge, Value first) {
    return ge.div(first, ge.idx(width));
  };
  SmallVector<Value> partial(n.groups, e.f32(0.0));
  forStrided(
      e, tid, k / 4, threads,
      [&](Emitter &le, Value piece, int64_t) {
        return n.load4(le, x, row, le.mul(piece, le.idx(4)));
      },
      [&](Emitter &le, Value piece, Value valid, ArrayRef<Value> loaded,
          int64_t j) {
        Value v = n.combine(le, loaded);
        le.when(valid, [&] {
          memref::StoreOp::create(
              b, le.loc,
              deferred ? le.fmul(v, toF32(b, le.loc, weights[j])) : v,
              staged.memory, stagedSlot(le, piece, staged.pieces));
        });
        Value sq = vector::ReductionOp::create(
            b, le.loc, vector::CombiningKind::ADD, le.fmul(v, v));
        if (valid)
          sq = arith::SelectOp::create(b, le.loc, valid, sq, le.f32(0.0));
        Value group =
            n.groups > 1 ? groupOf(le, le.mul(piece, le.idx(4))) : Value();
        for (int64_t g = 0; g < n.groups; ++g) {
          Value add =
              n.groups > 1
                  ? arith::SelectOp::create(b, le.loc, le.eq(group, le.idx(g)),
                                            sq, le.f32(0.0))
                        .getResult()
                  : sq;
          partial[g] = le.fadd(partial[g], add);
        }
      });
  SmallVector<Value> invs;
  for (Value total : blockSums(e, partial, tid, threads))
    invs.push_back(rmsScale(e, total, width, n.eps));
  if (deferred)
    return invs.front();
  int64_t pieces = k / 4;
  for (int64_t j = 0; j < static_cast<int64_t>(weights.size()); ++j) {
    Value piece, valid;
    std::tie(piece, valid) = stridedElement(e, tid, j, pieces, threads);
    e.when(valid, [&] {
      Value slot = stagedSlot(e, piece, staged.pieces);
      Value group = groupOf(e, e.mul(piece, e.idx(4)));
      Value inv = invs[0];
      for (int64_t g = 1; g < n.groups; ++g)
        inv = arith::SelectOp::create(b, e.loc, e.eq(group, e.idx(g)), invs[g],
                                      inv);
      Value v = memref::LoadOp::create(b, e.loc, staged.memory, slot);
      Value scaled =
          e.fmul(e.fmul(v, vector::BroadcastOp::create(b, e.loc, f32x4, inv)),
                 toF32(b, e.loc, weights[j]));
      memref::StoreOp::create(b, e.loc, scaled, staged.memory, slot);
    });
  }
  gpu::BarrierOp::create(b, e.loc);
  return Value();
}

/// One product sum_k x[row, k] w[n, k] of a warp's accumulation.
struct Product {
  Value x, w; // x [..., K], w [N, K]
};

/// Elements per lane per step: a 16-byte chunk of the weight row when the
/// width allows it, else the largest power of two dividing K.
int64_t chunkElements(const Product &p) {
  auto wType = cast<MemRefType>(p.w.getType());
  int64_t k = wType.getShape().back();
  int64_t v = 16 / (wType.getElementTypeBitWidth() / 8);
  if (!innerContiguous(p.w) || !innerContiguous(p.x))
    return 1;
  while (v > 1 && k % v != 0)
    v /= 2;
  return v;
}

/// Up to this many (row, channel) pairs, a lane accumulates each pair in a
/// vector of the chunk's width (short dependency chains, one reduction at
/// the end); beyond it, in one f32 (the same multiply-adds, a register each:
/// room for a register tile of rows x channels).
constexpr int64_t kVectorAccumulators = 4;

/// The loop's initial accumulators, one per (row, channel) pair: zero
/// vectors of `width` f32 up to kVectorAccumulators pairs, else zero f32;
/// `scalarAcc` says which (addLoopSums).
SmallVector<Value> zeroAccumulators(Emitter &e, size_t pairs, int64_t width,
                                    bool &scalarAcc) {
  scalarAcc = static_cast<int64_t>(pairs) > kVectorAccumulators;
  Value zero =
      scalarAcc
          ? e.f32(0.0)
          : splatConst(e.b, e.loc, VectorType::get({width}, e.b.getF32Type()),
                       e.b.getF32FloatAttr(0.0f));
  return SmallVector<Value>(pairs, zero);
}

/// Chunks of a weight row per lane per iteration of a lane's loop: 4, 2 or
/// 1, the most that divide `chunks` evenly over the `span` lanes that share
/// the row (a warp's, or those of the warps a one-row kernel splits it over:
/// rowSplit) (more loads in flight per warp: a GEMV is bound by memory
/// latency otherwise).
int64_t chunkUnroll(int64_t chunks, int64_t span = kWarp) {
  int64_t unroll = 4;
  while (unroll > 1 && chunks % (span * unroll) != 0)
    unroll /= 2;
  return unroll;
}

/// Whether every lane's loop over `chunks` chunks has at least one whole
/// iteration, so that its first iteration's loads can be issued before
/// anything else (preloadWeights).
bool preloadable(int64_t chunks, int64_t span = kWarp) {
  return chunks % (span * chunkUnroll(chunks, span)) == 0;
}

/// The weight loads of one iteration of a lane's loop, raw (as loaded; the
/// math widens them), and the math of one iteration on them.
using ChunkLoads = function_ref<SmallVector<Value>(Emitter &, Value chunk)>;
using ChunkMath = function_ref<SmallVector<Value>(
    Emitter &, Value chunk, ArrayRef<Value> loaded, ValueRange accs)>;

/// Whether a row of `chunks` chunks is shorter than the `span` lanes that
/// share it: each lane has at most one chunk (the loop's unroll is 1), and
/// the lanes from `chunks` on none.
bool shortRow(int64_t chunks, int64_t span = kWarp) { return chunks < span; }

/// The chunk of a lane's first iteration: `lane`, or in a short row the
/// last chunk for the lanes past it (their loads stay inside the row;
/// chunkLoop drops their sums).
Value firstChunk(Emitter &e, Value lane, int64_t chunks, int64_t span = kWarp) {
  return shortRow(chunks, span) ? e.min(lane, e.idx(chunks - 1)) : lane;
}

/// A lane's loop over its chunks of the weight rows: chunk `lane`, then
/// span * unroll chunks apart, up to `chunks`; returns the accumulators.
/// With `preloaded` (the loads of the first iteration, issued earlier by
/// preloadWeights), the first iteration's math comes first and the loop
/// starts at the second. A short row (shortRow) is preloaded at firstChunk:
/// the lanes past its end keep their accumulators.
SmallVector<Value> chunkLoop(Emitter &e, Value lane, int64_t chunks,
                             int64_t unroll, ArrayRef<Value> init,
                             ChunkLoads loads, ChunkMath math,
                             ArrayRef<Value> preloaded, int64_t span = kWarp) {
  SmallVector<Value> accs(init);
  if (!preloaded.empty() && shortRow(chunks, span)) {
    SmallVector<Value> next =
        math(e, firstChunk(e, lane, chunks, span), preloaded, accs);
    Value inRow = e.lt(lane, e.idx(chunks));
    for (auto [acc, sum] : llvm::zip_equal(accs, next))
      acc = arith::SelectOp::create(e.b, e.loc, inRow, sum, acc);
    return accs;
  }
  Value start = lane;
  if (!preloaded.empty()) {
    accs = math(e, lane, preloaded, accs);
    start = e.add(lane, e.idx(span * unroll));
  }
  auto loop = scf::ForOp::create(
      e.b, e.loc, start, e.idx(chunks), e.idx(span * unroll), accs,
      [&](OpBuilder &lb, Location l, Value chunk, ValueRange loopAccs) {
        Emitter le{lb, l};
        SmallVector<Value> loaded = loads(le, chunk);
        scf::YieldOp::create(lb, l, math(le, chunk, loaded, loopAccs));
      });
  return SmallVector<Value>(loop.getResults());
}

/// Adds the accumulators `sums` (a lane loop's) to `acc`: f32 ones as they
/// are, vector ones summed over their lanes.
void addLoopSums(Emitter &e, ArrayRef<Value> sums, bool scalarAcc,
                 SmallVectorImpl<Value> &acc) {
  for (size_t i = 0; i < acc.size(); ++i) {
    Value sum = sums[i];
    if (!scalarAcc)
      sum = vector::ReductionOp::create(e.b, e.loc, vector::CombiningKind::ADD,
                                        sum);
    acc[i] = e.fadd(acc[i], sum);
  }
}

/// Alignment of a `v`-element access of `m` (of element type `elem`): 16
/// bytes when rows are 16-byte aligned and the access is whole 16-byte
/// units, else the element's.
llvm::MaybeAlign chunkAlign(Value m, Type elem, int64_t v) {
  int64_t bytes = elem.getIntOrFloatBitWidth() / 8;
  return llvm::MaybeAlign(rowsAligned16(m) && (v * bytes) % 16 == 0
                              ? 16
                              : static_cast<uint64_t>(bytes));
}

/// The weight loads of one iteration of `accumulate`'s loop at `chunk`:
/// `unroll` chunks of `chunkElements(p)` weights for each channel of `ns`,
/// [u * channels + c].
SmallVector<Value> loadFloatChunks(Emitter &e, const Product &p,
                                   ArrayRef<Value> ns, Value chunk,
                                   int64_t unroll) {
  int64_t v = chunkElements(p);
  auto wElem = cast<MemRefType>(p.w.getType()).getElementType();
  llvm::MaybeAlign wAlign = chunkAlign(p.w, wElem, v);
  SmallVector<Value> weights;
  for (int64_t u = 0; u < unroll; ++u) {
    Value kk = e.mul(e.add(chunk, e.idx(u * kWarp)), e.idx(v));
    for (Value n : ns)
      weights.push_back(vector::LoadOp::create(
          e.b, e.loc, VectorType::get({v}, wElem), p.w, ValueRange{n, kk},
          /*nontemporal=*/false, wAlign));
  }
  return weights;
}

/// The chunks of a weight row of `p`, and its loop's unroll.
std::pair<int64_t, int64_t> floatChunks(const Product &p) {
  int64_t chunks =
      cast<MemRefType>(p.w.getType()).getShape().back() / chunkElements(p);
  return {chunks, chunkUnroll(chunks)};
}

/// Adds this lane's share of `p` for the rows `rows` (indices of x's leading
/// dims) and the output channels `ns` to `acc` (one f32 per (row, channel),
/// row-major): each chunk of x is loaded once for all the channels, each
/// chunk of a weight row once for all the rows. With `staged` (one row), x's
/// chunks are read from the staged row. `preloaded`: the first iteration's
/// weights, loaded by loadFloatChunks at chunk `lane`.
void accumulate(Emitter &e, const Product &p, ArrayRef<SmallVector<Value>> rows,
                ArrayRef<Value> ns, Value lane, SmallVectorImpl<Value> &acc,
                const StagedRow *staged = nullptr,
                ArrayRef<Value> preloaded = {}) {
  int64_t v = chunkElements(p);
  auto xElem = cast<MemRefType>(p.x.getType()).getElementType();
  llvm::MaybeAlign xAlign = chunkAlign(p.x, xElem, v);

  size_t channels = ns.size();
  bool scalarAcc;
  SmallVector<Value> init =
      zeroAccumulators(e, rows.size() * channels, v, scalarAcc);
  int64_t chunks, unroll;
  std::tie(chunks, unroll) = floatChunks(p);
  auto loads = [&](Emitter &le, Value chunk) {
    return loadFloatChunks(le, p, ns, chunk, unroll);
  };
  auto math = [&](Emitter &le, Value chunk, ArrayRef<Value> loaded,
                  ValueRange accs) {
    OpBuilder &lb = le.b;
    Location l = le.loc;
    SmallVector<Value> next(accs);
    for (int64_t u = 0; u < unroll; ++u) {
      Value offset = le.mul(le.add(chunk, le.idx(u * kWarp)), le.idx(v));
      for (size_t r = 0; r < rows.size(); ++r) {
        Value x = staged ? loadStaged(le, *staged, offset)
                         : toF32(le.b, le.loc,
                                 vector::LoadOp::create(
                                     lb, l, VectorType::get({v}, xElem), p.x,
                                     with(rows[r], offset),
                                     /*nontemporal=*/false, xAlign));
        for (size_t c = 0; c < channels; ++c) {
          Value &sum = next[r * channels + c];
          Value w = toF32(le.b, le.loc, loaded[u * channels + c]);
          if (!scalarAcc) {
            sum = vector::FMAOp::create(lb, l, x, w, sum);
            continue;
          }
          // Multiply and add, contracted to one fma (math.fma would
          // become a libdevice call).
          auto contract = arith::FastMathFlags::contract;
          for (int64_t j = 0; j < v; ++j)
            sum = arith::AddFOp::create(
                lb, l, sum,
                arith::MulFOp::create(
                    lb, l, vector::ExtractOp::create(lb, l, x, j),
                    vector::ExtractOp::create(lb, l, w, j), contract),
                contract);
        }
      }
    }
    return next;
  };
  addLoopSums(e,
              chunkLoop(e, lane, chunks, unroll, init, loads, math, preloaded),
              scalarAcc, acc);
}

/// Weights stored as integers (quant_linear): `main.w` is the packed i8
/// [N, K * bits / 8], w = s * (q - z) per group (Zamba2Ops.td).
struct QuantWeights {
  Value scales, zeros; // [N, K / group]; zeros only when asymmetric
  int64_t bits, groupSize;
  bool isSigned;
};

/// Field j (j < 32 / bits) of each word of `words` (vector of i32), as f32,
/// minus `zero` when there is one, by an int-to-float conversion per field:
/// signed fields sign-extended with a shift up and an arithmetic shift down
/// (ptxas makes a bfe.s32 of it), unsigned ones shifted and masked.
SmallVector<Value> convertedFields(OpBuilder &b, Location loc,
                                   const QuantWeights &qw, Value words,
                                   Value zero) {
  auto wordVec = cast<VectorType>(words.getType());
  auto f32Vec = VectorType::get(wordVec.getShape(), b.getF32Type());
  auto shift = [&](int64_t bitsBy) {
    return splatConst(b, loc, wordVec, b.getI32IntegerAttr(bitsBy));
  };
  SmallVector<Value> fields;
  for (int64_t j = 0; j < 32 / qw.bits; ++j) {
    int64_t low = j * qw.bits, high = 32 - low - qw.bits;
    Value q;
    if (qw.isSigned) {
      q = high ? arith::ShLIOp::create(b, loc, words, shift(high)).getResult()
               : words;
      q = arith::ShRSIOp::create(b, loc, q, shift(32 - qw.bits));
    } else {
      q = low ? arith::ShRUIOp::create(b, loc, words, shift(low)).getResult()
              : words;
      if (high)
        q = arith::AndIOp::create(b, loc, q,
                                  shift((int64_t(1) << qw.bits) - 1));
    }
    if (zero)
      q = arith::SubIOp::create(b, loc, q, zero);
    fields.push_back(arith::SIToFPOp::create(b, loc, f32Vec, q));
  }
  return fields;
}

/// Field j (j < 32 / bits) of each word of `words` (vector of i32), as f32
/// (exact: the fields are small integers), minus `zero` (same type as
/// words) when there is one. `inPairs` (the one-row kernels): no
/// int-to-float conversion per field; the fields are taken two at a time,
/// one from each 16-bit half of a word, as an f16 pair: one and-or (a LOP3)
/// masks them into the mantissas of 1024 (0x6400 | u << low in each half,
/// u 2^low < 1024), one f16x2 add or FMA takes both back to the integer,
/// (1024 + u 2^low) 2^-low - (2^(10 - low) + offset) = u - offset (exact:
/// integers below 2048, and the FMA rounds once), and a widening to f32 per
/// field (exact). A field must lie below bit 10 of its half, so those from
/// bit 8 of a half on are taken from the word shifted down by 8. Signed
/// fields are made unsigned by flipping their sign bits (u = q + 2^(bits -
/// 1): one xor per word), the 2^(bits - 1) going into the offset; a zero
/// point goes into the offset too (unsigned fields).
/// Per two weights: a LOP3, an f16x2 add or FMA and two widenings, where
/// the f32 form before it took two LOP3s and two FMAs (each field masked
/// into the mantissa of 2^23): half the integer operations, which issue at
/// half the rate of float ones on an H100. Measured there (1.2B int4
/// decode, batch 1, three rounds in one call): 0.963 ms a step against
/// 1.054-1.055 with the f32 form (which had been 1.6% faster than two
/// shifts and a conversion per weight).
/// Without `inPairs` (the 8-row kernels, where a conversion serves 8 rows of
/// FMAs and the f32 form measured 3% slower at batch 8): convertedFields.
SmallVector<Value> integerFields(OpBuilder &b, Location loc,
                                 const QuantWeights &qw, Value words,
                                 Value zero, bool inPairs) {
  auto wordVec = cast<VectorType>(words.getType());
  if (!inPairs)
    return convertedFields(b, loc, qw, words, zero);
  int64_t count = wordVec.getShape()[0];
  auto halves = VectorType::get({2 * count}, b.getF16Type());
  auto widened = VectorType::get({2 * count}, b.getF32Type());
  auto intSplat = [&](uint32_t v) {
    return splatConst(b, loc, wordVec, b.getI32IntegerAttr(int32_t(v)));
  };
  auto halfSplat = [&](double v) {
    return splatConst(b, loc, halves, b.getF16FloatAttr(float(v)));
  };
  uint32_t fieldMask = (uint32_t(1) << qw.bits) - 1;
  if (qw.isSigned) {
    uint32_t signBits = 0;
    for (int64_t low = 0; low < 32; low += qw.bits)
      signBits |= uint32_t(1) << (low + qw.bits - 1);
    words = arith::XOrIOp::create(b, loc, words, intSplat(signBits));
  }
  // Each word's zero point in both of its halves.
  Value zeroHalves;
  if (zero) {
    Value z = arith::UIToFPOp::create(
        b, loc, VectorType::get({count}, b.getF16Type()), zero);
    SmallVector<int64_t> twice;
    for (int64_t i = 0; i < count; ++i)
      twice.append({i, i});
    zeroHalves = vector::ShuffleOp::create(b, loc, z, z, twice);
  }
  Value shifted = arith::ShRUIOp::create(b, loc, words, intSplat(8));
  double offset = qw.isSigned ? double(int64_t(1) << (qw.bits - 1)) : 0.0;
  int64_t perHalf = 16 / qw.bits;
  SmallVector<int64_t> lowHalves, highHalves;
  for (int64_t i = 0; i < count; ++i) {
    lowHalves.push_back(2 * i);
    highHalves.push_back(2 * i + 1);
  }
  SmallVector<Value> fields(32 / qw.bits);
  for (int64_t j = 0; j < perHalf; ++j) {
    int64_t at = j * qw.bits, low = at % 8;
    Value bits = arith::OrIOp::create(
        b, loc,
        arith::AndIOp::create(b, loc, at < 8 ? words : shifted,
                              intSplat((fieldMask << low) * 0x00010001u)),
        intSplat(0x64006400u));
    Value h = vector::BitCastOp::create(b, loc, halves, bits);
    // 1024 + u 2^low, back to u less the offset and the zero point.
    double base = std::ldexp(1.0, 10 - int(low)) + offset;
    Value minus = halfSplat(base);
    if (zeroHalves)
      minus = arith::AddFOp::create(b, loc, minus, zeroHalves);
    h = low ? vector::FMAOp::create(b, loc, h,
                                    halfSplat(std::ldexp(1.0, -int(low))),
                                    arith::NegFOp::create(b, loc, minus))
                  .getResult()
            : arith::SubFOp::create(b, loc, h, minus).getResult();
    Value f = arith::ExtFOp::create(b, loc, widened, h);
    fields[j] = vector::ShuffleOp::create(b, loc, f, f, lowHalves);
    fields[j + perHalf] = vector::ShuffleOp::create(b, loc, f, f, highHalves);
  }
  return fields;
}

/// acc + scales . sums, for the quantized forms' accumulators: a vector
/// accumulator takes the lane-wise products (reduced once after the loop),
/// an f32 one their sum.
Value addScaled(Emitter &e, Value acc, Value scales, Value sums) {
  if (isa<VectorType>(acc.getType()))
    return vector::FMAOp::create(e.b, e.loc, scales, sums, acc);
  return e.fadd(acc, vector::ReductionOp::create(
                         e.b, e.loc, vector::CombiningKind::ADD,
                         arith::MulFOp::create(e.b, e.loc, scales, sums)));
}

/// The math of one step of the quantized forms: for each channel c the
/// fields of `words[c]` (integerFields, less `zeros[c]`; without conversions
/// for one row), multiplied field by field with the row's x columns
/// (`xColumns(r)[j]`: x's element j of each word, a vector of the words' width)
/// and added to next[r * channels + c] with the channel's `scales[c]`.
void accumulateQuantStep(Emitter &e, const QuantWeights &qw,
                         ArrayRef<Value> words, ArrayRef<Value> zeros,
                         ArrayRef<Value> scales, size_t rows,
                         function_ref<SmallVector<Value>(size_t)> xColumns,
                         SmallVectorImpl<Value> &next) {
  size_t channels = words.size();
  SmallVector<SmallVector<Value>> fieldsOf;
  for (size_t c = 0; c < channels; ++c)
    fieldsOf.push_back(integerFields(e.b, e.loc, qw, words[c], zeros[c],
                                     /*inPairs=*/rows == 1));
  auto sumType = cast<VectorType>(fieldsOf[0][0].getType());
  Value zero = splatConst(e.b, e.loc, sumType, e.b.getF32FloatAttr(0.0f));
  for (size_t r = 0; r < rows; ++r) {
    SmallVector<Value> columns = xColumns(r);
    SmallVector<Value> sums(channels, zero);
    for (size_t j = 0; j < columns.size(); ++j)
      for (size_t c = 0; c < channels; ++c)
        sums[c] = vector::FMAOp::create(e.b, e.loc, columns[j], fieldsOf[c][j],
                                        sums[c]);
    for (size_t c = 0; c < channels; ++c)
      next[r * channels + c] =
          addScaled(e, next[r * channels + c], scales[c], sums[c]);
  }
}

/// The bytes of packed weights a lane step of the contiguous quantized form
/// reads (accumulateQuantContiguous), and their 32-bit words.
constexpr int64_t kQuantStepBytes = 16, kQuantStepWords = kQuantStepBytes / 4;

/// The steps of a packed row of `p` in the contiguous form, and its loop's
/// unroll.
std::pair<int64_t, int64_t> quantSteps(const Product &p, int64_t span = kWarp) {
  int64_t chunks =
      cast<MemRefType>(p.w.getType()).getShape().back() / kQuantStepBytes;
  return {chunks, chunkUnroll(chunks, span)};
}

/// The loads of one iteration of accumulateQuantContiguous's loop at step
/// `chunk`: for each of its `unroll` steps u and each channel c of `ns`, the
/// group's scale, the 16 packed bytes and, when asymmetric, the group's
/// zero point, at [(u * channels + c) * perStep + 0, 1, 2] with perStep
/// quantLoadsPerStep(qw).
int64_t quantLoadsPerStep(const QuantWeights &qw) { return qw.zeros ? 3 : 2; }
SmallVector<Value> loadQuantSteps(Emitter &e, const Product &p,
                                  const QuantWeights &qw, ArrayRef<Value> ns,
                                  Value chunk, int64_t unroll,
                                  int64_t span = kWarp) {
  auto byteVec = VectorType::get({kQuantStepBytes}, e.b.getI8Type());
  int64_t fields = 32 / qw.bits, v = kQuantStepWords * fields;
  SmallVector<Value> loaded;
  for (int64_t u = 0; u < unroll; ++u) {
    Value first = e.mul(e.add(chunk, e.idx(u * span)), e.idx(v));
    Value group = e.div(first, e.idx(qw.groupSize));
    for (Value n : ns) {
      loaded.push_back(
          memref::LoadOp::create(e.b, e.loc, qw.scales, ValueRange{n, group}));
      loaded.push_back(vector::LoadOp::create(
          e.b, e.loc, byteVec, p.w,
          ValueRange{n, e.div(first, e.idx(8 / qw.bits))},
          /*nontemporal=*/false, llvm::MaybeAlign(16)));
      if (qw.zeros)
        loaded.push_back(
            memref::LoadOp::create(e.b, e.loc, qw.zeros, ValueRange{n, group}));
    }
  }
  return loaded;
}

/// The fast form of accumulateQuant for one token row: 16 contiguous bytes
/// of a packed row per lane step (32 int4 or 16 int8 weights, all of one
/// group), read as 4 32-bit words: one wide load and one scale per channel
/// and step, which is what a latency-bound GEMV of one row wants (the
/// interleaved form below, with 4 word loads and 4 scales, measured 15%
/// slower there).
/// Field j of every word (a nibble or a byte; the words are little-endian,
/// so field j of word i is weight i * fields + j) is taken as f32 for the 4
/// words at once (integerFields) and multiplied with the matching elements of
/// x; the group's scale multiplies the step's sum once. Work per weight: an
/// and-or and an FMA (integerFields), instead of byte-wise unpacking.
/// `preloaded`: the first iteration's loads (loadQuantSteps at step `lane`).
/// `span`: the lanes that share the row (`lane` below it; kWarp, or more
/// when the kernel splits the row over several warps).
void accumulateQuantContiguous(Emitter &e, const Product &p,
                               const QuantWeights &qw,
                               ArrayRef<SmallVector<Value>> rows,
                               ArrayRef<Value> ns, Value lane,
                               const StagedRow *staged,
                               SmallVectorImpl<Value> &acc,
                               ArrayRef<Value> preloaded, int64_t span) {
  OpBuilder &b = e.b;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  int64_t fields = 32 / qw.bits, v = kQuantStepWords * fields;
  auto wordVec = VectorType::get({kQuantStepWords}, i32);
  auto f32Vec = VectorType::get({kQuantStepWords}, f32);
  auto xType =
      VectorType::get({v}, cast<MemRefType>(p.x.getType()).getElementType());
  llvm::MaybeAlign xAlign(rowsAligned16(p.x) ? 16 : 4);
  size_t channels = ns.size();
  int64_t perStep = quantLoadsPerStep(qw);
  bool scalarAcc;
  SmallVector<Value> init =
      zeroAccumulators(e, rows.size() * channels, kQuantStepWords, scalarAcc);
  // Each iteration's weight and scale loads are all issued before any of
  // its math (the GEMV of one row is bound by memory latency).
  int64_t chunks, unroll;
  std::tie(chunks, unroll) = quantSteps(p, span);
  auto loads = [&](Emitter &le, Value chunk) {
    return loadQuantSteps(le, p, qw, ns, chunk, unroll, span);
  };
  auto math = [&](Emitter &le, Value chunk, ArrayRef<Value> loaded,
                  ValueRange accs) {
    OpBuilder &lb = le.b;
    Location l = le.loc;
    SmallVector<Value> next(accs);
    for (int64_t u = 0; u < unroll; ++u) {
      Value first = le.mul(le.add(chunk, le.idx(u * span)), le.idx(v));
      SmallVector<Value> words, scales, zeros;
      for (size_t c = 0; c < channels; ++c) {
        ArrayRef<Value> step =
            loaded.slice((u * channels + c) * perStep, perStep);
        scales.push_back(
            vector::BroadcastOp::create(lb, l, f32Vec, toF32(lb, l, step[0])));
        words.push_back(vector::BitCastOp::create(lb, l, wordVec, step[1]));
        zeros.push_back(qw.zeros
                            ? vector::BroadcastOp::create(
                                  lb, l, wordVec,
                                  arith::ExtUIOp::create(lb, l, i32, step[2]))
                                  .getResult()
                            : Value());
      }
      accumulateQuantStep(
          le, qw, words, zeros, scales, rows.size(),
          [&](size_t r) {
            // x's 32 (or 16) elements of the step, then element j of
            // each word: lanes j, fields + j, 2 fields + j, ...
            Value x = staged ? loadStaged(le, *staged, first)
                             : vector::LoadOp::create(
                                   lb, l, xType, p.x, with(rows[r], first),
                                   /*nontemporal=*/false, xAlign);
            x = toF32(lb, l, x);
            SmallVector<Value> columns;
            for (int64_t j = 0; j < fields; ++j) {
              SmallVector<int64_t> lanes;
              for (int64_t i = 0; i < kQuantStepWords; ++i)
                lanes.push_back(i * fields + j);
              columns.push_back(vector::ShuffleOp::create(lb, l, x, x, lanes));
            }
            return columns;
          },
          next);
    }
    return next;
  };
  addLoopSums(
      e, chunkLoop(e, lane, chunks, unroll, init, loads, math, preloaded, span),
      scalarAcc, acc);
}

/// The fast form of accumulateQuant for several token rows. A lane reads
/// whole 32-bit words of a packed row (8 int4 or 4 int8 weights, all of one
/// group), interleaved across the warp: lane i takes words i, i + 32, i + 64,
/// ..., `kWords` of them per step. Each load instruction of the warp then reads
/// contiguous memory: 128 bytes of words, and `fields` consecutive floats of x
/// per lane (when a lane took 16 contiguous bytes of weights, it needed 128
/// contiguous bytes of x per step, and each x load of the warp touched 32
/// cache lines: ncu showed the one-row kernel's L1 66% busy at 0.66 TB/s of
/// DRAM, and with 8 rows of x per step the 8-row int4 GEMVs ran at less
/// than half their bf16 speed). Field j of the step's
/// words (a nibble or a byte; words are little-endian, so field j of a word
/// is its weight j) is extracted for all of them at once with two shifts
/// (or a shift and a mask), converted to f32 (convertedFields) and
/// multiplied with the matching x elements; each word's sum is scaled by
/// its group's scale.
void accumulateQuantInterleaved(Emitter &e, const Product &p,
                                const QuantWeights &qw,
                                ArrayRef<SmallVector<Value>> rows,
                                ArrayRef<Value> ns, Value lane,
                                SmallVectorImpl<Value> &acc) {
  OpBuilder &b = e.b;
  Type f32 = b.getF32Type(), i32 = b.getI32Type();
  int64_t fields = 32 / qw.bits;
  int64_t rowWords = cast<MemRefType>(p.w.getType()).getShape().back() / 4;
  int64_t perLane = rowWords / kWarp; // the caller checked it divides
  int64_t kWords = perLane % 4 == 0 ? 4 : perLane % 2 == 0 ? 2 : 1;
  auto wordVec = VectorType::get({kWords}, i32);
  auto f32Vec = VectorType::get({kWords}, f32);
  Type xElem = cast<MemRefType>(p.x.getType()).getElementType();
  auto xType = VectorType::get({fields}, xElem);
  int64_t xBytes = fields * (xElem.getIntOrFloatBitWidth() / 8);
  llvm::MaybeAlign xAlign(rowsAligned16(p.x)
                              ? std::min<int64_t>(xBytes, 16)
                              : xElem.getIntOrFloatBitWidth() / 8);
  size_t channels = ns.size();
  bool scalarAcc;
  SmallVector<Value> init =
      zeroAccumulators(e, rows.size() * channels, kWords, scalarAcc);
  // One step (kWords words) per iteration: with 8 rows the registers go to
  // the accumulators.
  auto loop = scf::ForOp::create(
      b, e.loc, e.idx(0), e.idx(perLane), e.idx(kWords), init,
      [&](OpBuilder &lb, Location l, Value first, ValueRange accs) {
        Emitter le{lb, l};
        // Word t of this lane is row word lane + 32 t: weights (and x
        // elements) fields * (lane + 32 t) onwards.
        SmallVector<Value> elements, groups;
        for (int64_t w = 0; w < kWords; ++w) {
          Value word =
              le.add(lane, le.mul(le.add(first, le.idx(w)), le.idx(kWarp)));
          elements.push_back(le.mul(word, le.idx(fields)));
          groups.push_back(le.div(elements.back(), le.idx(qw.groupSize)));
        }
        SmallVector<Value> wordsOf, scalesOf, zerosOf; // per channel
        for (Value n : ns) {
          SmallVector<Value> words, scales, zeros;
          for (int64_t w = 0; w < kWords; ++w) {
            Value bytes = vector::LoadOp::create(
                lb, l, VectorType::get({4}, lb.getI8Type()), p.w,
                ValueRange{n, le.div(elements[w], le.idx(8 / qw.bits))},
                /*nontemporal=*/false, llvm::MaybeAlign(4));
            words.push_back(vector::ExtractOp::create(
                lb, l,
                vector::BitCastOp::create(lb, l, VectorType::get({1}, i32),
                                          bytes),
                int64_t(0)));
            scales.push_back(le.load(qw.scales, {n, groups[w]}));
            if (qw.zeros)
              zeros.push_back(arith::ExtUIOp::create(
                  lb, l, i32,
                  memref::LoadOp::create(lb, l, qw.zeros,
                                         ValueRange{n, groups[w]})));
          }
          wordsOf.push_back(
              vector::FromElementsOp::create(lb, l, wordVec, words));
          scalesOf.push_back(
              vector::FromElementsOp::create(lb, l, f32Vec, scales));
          zerosOf.push_back(
              qw.zeros ? vector::FromElementsOp::create(lb, l, wordVec, zeros)
                             .getResult()
                       : Value());
        }
        SmallVector<Value> next(accs);
        accumulateQuantStep(
            le, qw, wordsOf, zerosOf, scalesOf, rows.size(),
            [&](size_t r) {
              // x's `fields` elements of each word, then element j of every
              // word as one vector.
              SmallVector<Value> xs;
              for (Value element : elements) {
                Value x = vector::LoadOp::create(lb, l, xType, p.x,
                                                 with(rows[r], element),
                                                 /*nontemporal=*/false, xAlign);
                xs.push_back(toF32(lb, l, x));
              }
              SmallVector<Value> columns;
              for (int64_t j = 0; j < fields; ++j) {
                SmallVector<Value> column;
                for (Value x : xs)
                  column.push_back(vector::ExtractOp::create(lb, l, x, j));
                columns.push_back(
                    vector::FromElementsOp::create(lb, l, f32Vec, column));
              }
              return columns;
            },
            next);
        scf::YieldOp::create(lb, l, next);
      });
  addLoopSums(e, SmallVector<Value>(loop.getResults()), scalarAcc, acc);
}

/// As `accumulate`, dequantizing inside the loop: each lane takes 8 weights
/// at a time (4 or 8 bytes, one group: groups are multiples of 8), or one
/// when K or the group size is not a multiple of 8.
void accumulateQuantOne(Emitter &e, const Product &p, const QuantWeights &qw,
                        ArrayRef<SmallVector<Value>> rows, Value n, Value lane,
                        SmallVectorImpl<Value> &acc) {
  OpBuilder &b = e.b;
  Type i8 = b.getI8Type();
  int64_t perByte = 8 / qw.bits;
  int64_t k = cast<MemRefType>(p.w.getType()).getShape().back() * perByte;
  int64_t v = (k % 8 == 0 && qw.groupSize % 8 == 0) ? 8 : 1;
  int64_t rowBytes = k / perByte,
          chunkBytes = std::max<int64_t>(v / perByte, 1);
  bool aligned = cast<MemRefType>(p.w.getType()).getLayout().isIdentity() &&
                 rowBytes % chunkBytes == 0 && v == 8;
  auto loop = scf::ForOp::create(
      b, e.loc, lane, e.idx(k / v), e.idx(kWarp), ValueRange(acc),
      [&](OpBuilder &lb, Location l, Value chunk, ValueRange accs) {
        Emitter le{lb, l};
        Value first = le.mul(chunk, le.idx(v));
        Value group = le.div(first, le.idx(qw.groupSize));
        Value scale = le.load(qw.scales, {n, group});
        Value zero;
        if (qw.zeros)
          zero = arith::UIToFPOp::create(
              lb, l, lb.getF32Type(),
              memref::LoadOp::create(lb, l, qw.zeros, ValueRange{n, group}));
        // The bytes of this chunk.
        SmallVector<Value> bytes;
        if (v == 8) {
          Value vec = vector::LoadOp::create(
              lb, l, VectorType::get({chunkBytes}, i8), p.w,
              ValueRange{n, le.div(first, le.idx(perByte))},
              /*nontemporal=*/false,
              llvm::MaybeAlign(aligned ? chunkBytes : 1));
          for (int64_t i = 0; i < chunkBytes; ++i)
            bytes.push_back(vector::ExtractOp::create(lb, l, vec, i));
        } else {
          bytes.push_back(memref::LoadOp::create(
              lb, l, p.w, ValueRange{n, le.div(first, le.idx(perByte))}));
        }
        // Element j of the chunk as f32 (before the scale).
        auto element = [&](int64_t j) -> Value {
          Value byte = bytes[v == 8 ? j / perByte : 0];
          Value q = byte;
          if (qw.bits == 4) {
            Value high = v == 8 ? Value() : le.rem(first, le.idx(2));
            auto [lo, hi] = splitNibbles(lb, l, byte, qw.isSigned);
            q = v == 8 ? (j % 2 ? hi : lo)
                       : arith::SelectOp::create(lb, l, le.eq(high, le.idx(1)),
                                                 hi, lo)
                             .getResult();
          }
          Value w = qw.isSigned
                        ? arith::SIToFPOp::create(lb, l, lb.getF32Type(), q)
                              .getResult()
                        : arith::UIToFPOp::create(lb, l, lb.getF32Type(), q)
                              .getResult();
          if (zero)
            w = arith::SubFOp::create(lb, l, w, zero);
          return le.fmul(w, scale);
        };
        SmallVector<Value> weights;
        for (int64_t j = 0; j < v; ++j)
          weights.push_back(element(j));
        SmallVector<Value> next(accs);
        for (size_t r = 0; r < rows.size(); ++r)
          for (int64_t j = 0; j < v; ++j)
            next[r] = le.fadd(
                next[r],
                le.fmul(le.load(p.x, with(rows[r], le.add(first, le.idx(j)))),
                        weights[j]));
        scf::YieldOp::create(lb, l, next);
      });
  for (size_t r = 0; r < rows.size(); ++r)
    acc[r] = loop.getResult(r);
}

/// Whether x's rows and w are plain row-major (vector loads apply).
bool vectorizable(const Product &p) {
  return innerContiguous(p.x) &&
         cast<MemRefType>(p.w.getType()).getLayout().isIdentity();
}

/// Whether `accumulateQuant` takes the contiguous form: one row, rows of
/// whole 16-byte steps, each in one group.
bool contiguousQuantForm(const Product &p, const QuantWeights &qw,
                         size_t rows) {
  int64_t rowBytes = cast<MemRefType>(p.w.getType()).getShape().back();
  return vectorizable(p) && rows == 1 && rowBytes % 16 == 0 &&
         qw.groupSize % (16 * (8 / qw.bits)) == 0;
}

/// Whether the one-row quantized GEMV stages x (StagedRow).
bool stagesRow(const Product &p, const QuantWeights &qw) {
  int64_t k = cast<MemRefType>(p.x.getType()).getShape().back();
  return contiguousQuantForm(p, qw, 1) && !ShapedType::isDynamic(k) &&
         k <= kMaxStagedRow;
}

/// The quantized product for the channels `ns` (acc as in `accumulate`):
/// one row in the contiguous form when a 16-byte step holds whole groups (x
/// read from `staged` when given);
/// several rows in the interleaved form when every lane gets whole words of
/// the row (a multiple of 32 words) and a word holds weights of one group;
/// else one channel at a time in the 8-weight (or 1-weight) form.
void accumulateQuant(Emitter &e, const Product &p, const QuantWeights &qw,
                     ArrayRef<SmallVector<Value>> rows, ArrayRef<Value> ns,
                     Value lane, const StagedRow *staged,
                     SmallVectorImpl<Value> &acc,
                     ArrayRef<Value> preloaded = {}, int64_t span = kWarp) {
  int64_t rowBytes = cast<MemRefType>(p.w.getType()).getShape().back();
  int64_t fields = 32 / qw.bits;
  if (contiguousQuantForm(p, qw, rows.size()))
    return accumulateQuantContiguous(e, p, qw, rows, ns, lane, staged, acc,
                                     preloaded, span);
  assert(preloaded.empty() && span == kWarp &&
         "only the contiguous form preloads or splits rows over warps");
  if (vectorizable(p) && rowBytes % (4 * kWarp) == 0 &&
      qw.groupSize % fields == 0)
    return accumulateQuantInterleaved(e, p, qw, rows, ns, lane, acc);
  for (size_t c = 0; c < ns.size(); ++c) {
    SmallVector<Value> one;
    for (size_t r = 0; r < rows.size(); ++r)
      one.push_back(acc[r * ns.size() + c]);
    accumulateQuantOne(e, p, qw, rows, ns[c], lane, one);
    for (size_t r = 0; r < rows.size(); ++r)
      acc[r * ns.size() + c] = one[r];
  }
}

/// A linear op's convolution epilogue (zamba2-fuse-conv) at the kernel
/// level: output channels [offset, offset + channels) of each one-token row
/// are convolved with the row's `state`, which is updated in place.
struct ConvEpilogueBuffers {
  Value weight, bias, state; // [C, 1, K], [C] or null, [B, C, K-1]
  int64_t offset, channels, width;
  bool silu;
};

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
};

/// Warps per block of the linear kernels (rowSplit's wide form: twice
/// as many).
constexpr int64_t kLinearWarps = 4;
/// Output channels per warp for integer weights and one token row, and for
/// float weights and 8 rows: each chunk of x is loaded once for 4 weight
/// rows (x is f32, so without this a warp moves 8 times more bytes of x than
/// of int4 weights).
constexpr int64_t kChannelsPerWarp = 4;
constexpr int64_t kQuantRowBlockChannels = 2;
/// Output channels per warp (per pair of warps where rowSplit splits the
/// rows) of the one-row quantized GEMV that stages x: with x read from
/// workgroup memory, 2 channels (more warps) measured faster than 4 over
/// the 1.2B decode step's GEMVs.
constexpr int64_t kStagedQuantChannels = 2;

/// Whether the module asks the linear kernels to prefetch their weights
/// (kPrefetchWeightsAttr).
bool prefetchesWeights(OpBuilder &b) {
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  return module && module->hasAttr(kPrefetchWeightsAttr);
}

/// Asks L2 for rows [first, first + count) of the row-major `w` with one
/// bulk prefetch (cp.async.bulk.prefetch, sm_90) from thread 0 of the
/// blocks whose x index is 0, tagged kBeforeWaitAttr: the weights do not
/// depend on earlier kernels, so with a dependent launch their DRAM latency
/// passes while the kernel before this one ends, and the loads after the
/// wait find them in L2. Nothing when a row is not whole 16-byte units (the
/// bulk prefetch's granule) or `w` is not a static row-major matrix.
void prefetchRows(Emitter &e, Value w, Value first, Value count, Value tid,
                  Value blockX) {
  auto type = cast<MemRefType>(w.getType());
  if (type.getRank() != 2 || !type.getLayout().isIdentity() ||
      type.isDynamicDim(1))
    return;
  int64_t rowBytes = type.getDimSize(1) * type.getElementTypeBitWidth() / 8;
  if (rowBytes % 16 != 0)
    return;
  Value leader = arith::AndIOp::create(e.b, e.loc, e.eq(tid, e.idx(0)),
                                       e.eq(blockX, e.idx(0)));
  auto ifOp = scf::IfOp::create(e.b, e.loc, leader, /*withElseRegion=*/false);
  markBeforeWait(ifOp);
  OpBuilder::InsertionGuard guard(e.b);
  e.b.setInsertionPointToStart(ifOp.thenBlock());
  Value base = memref::ExtractAlignedPointerAsIndexOp::create(e.b, e.loc, w);
  Value start = e.add(base, e.mul(first, e.idx(rowBytes)));
  Value bytes = e.mul(count, e.idx(rowBytes));
  Value address =
      arith::IndexCastUIOp::create(e.b, e.loc, e.b.getI64Type(), start);
  Value pointer = LLVM::IntToPtrOp::create(
      e.b, e.loc, LLVM::LLVMPointerType::get(e.b.getContext(), 1), address);
  Value size =
      arith::IndexCastUIOp::create(e.b, e.loc, e.b.getI32Type(), bytes);
  NVVM::CpAsyncBulkPrefetchOp::create(e.b, e.loc, pointer, size,
                                      /*l2CacheHint=*/Value());
}

/// The loads of the first iteration of a lane's loop over the weights of
/// `p` (integers when `quant`; its channels `ns`), issued at the kernel's
/// start and marked kBeforeWaitAttr: the weights do not depend on the
/// kernels before this one, so under a dependent launch their DRAM latency
/// passes while those kernels end (the wait goes after these loads);
/// without one it overlaps the staging of x. Empty where the product's form
/// takes none: integer weights other than in the contiguous form, or a loop
/// that leaves some lane without a whole iteration, unless `shortRows` and
/// the row is short (shortRow: the loads at firstChunk).
SmallVector<Value> preloadProduct(Emitter &e, const Product &p,
                                  const std::optional<QuantWeights> &quant,
                                  int64_t rowBlock, ArrayRef<Value> ns,
                                  Value lane, int64_t span, bool shortRows) {
  auto takes = [&](int64_t chunks) {
    return preloadable(chunks, span) || (shortRows && shortRow(chunks, span));
  };
  SmallVector<Value> loaded;
  if (quant) {
    auto [steps, unroll] = quantSteps(p, span);
    if (!contiguousQuantForm(p, *quant, rowBlock) || !takes(steps))
      return {};
    loaded = loadQuantSteps(e, p, *quant, ns, firstChunk(e, lane, steps, span),
                            unroll, span);
  } else {
    auto [chunks, unroll] = floatChunks(p);
    if (!takes(chunks))
      return {};
    loaded =
        loadFloatChunks(e, p, ns, firstChunk(e, lane, chunks, span), unroll);
  }
  for (Value v : loaded)
    beforeWait(v.getDefiningOp());
  return loaded;
}

/// preloadProduct for the main product of `k` (`span` lanes share a row).
SmallVector<Value> preloadWeights(Emitter &e, const LinearKernel &k,
                                  int64_t rowBlock, ArrayRef<Value> ns,
                                  Value lane, int64_t span = kWarp) {
  return preloadProduct(e, k.main, k.quant, rowBlock, ns, lane, span,
                        /*shortRows=*/false);
}

/// preloadProduct for the adapter product of `k` (the LoRA B, rows of the
/// adapter's rank: 64 bytes in int4 at rank 128, fewer chunks than a
/// warp's lanes), in the one-row kernel only. Loaded where it is read,
/// after the main product, its DRAM latency came on top of the main
/// product's in every block (on an H100, 1.2B int4 at batch 1: the merged
/// q/k/v 15.0-15.3 us in the trace instead of about 16.6, the step 1%
/// faster). Empty without an adapter product.
SmallVector<Value> preloadAdapter(Emitter &e, const LinearKernel &k,
                                  int64_t rowBlock, ArrayRef<Value> ns,
                                  Value lane) {
  if (!k.lora || rowBlock != 1)
    return {};
  return preloadProduct(e, *k.lora, k.loraQuant, rowBlock, ns, lane, kWarp,
                        /*shortRows=*/true);
}

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
                      Value when = Value()) {
  auto loads = [&](Emitter &le) {
    auto load = [&](Value m, ValueRange at) {
      Operation *op = memref::LoadOp::create(le.b, le.loc, m, at);
      if (early && !when)
        markBeforeWait(op);
      return toF32(le.b, le.loc, op->getResult(0));
    };
    SmallVector<Value> values;
    for (int64_t i = 0; i < width; ++i)
      values.push_back(load(weight, {c, le.idx(0), le.idx(i)}));
    values.push_back(bias ? load(bias, {c}) : le.f32(0.0));
    for (int64_t j = 0; j + 1 < width; ++j)
      values.push_back(load(state, {row, c, le.idx(j)}));
    return values;
  };
  SmallVector<Value> values;
  if (!when) {
    values = loads(e);
  } else {
    scf::IfOp ifOp = loadsWhere(e, when, 2 * width, [&] { return loads(e); });
    if (early)
      markBeforeWait(ifOp);
    values = ifOp.getResults();
  }
  ConvTaps taps;
  taps.w.assign(values.begin(), values.begin() + width);
  taps.bias = values[width];
  taps.history.assign(values.begin() + width + 1, values.end());
  return taps;
}

/// One token of the convolution: bias + sum_i w[i] xpad[i] over the window
/// xpad = (history, x), then SiLU when `applySilu`. The convolution kernel
/// and the linear kernels' convolution epilogue both compute it so.
Value convolveToken(Emitter &e, const ConvTaps &taps, ValueRange history,
                    Value x, bool applySilu) {
  Value acc = taps.bias;
  for (auto [i, w] : llvm::enumerate(taps.w))
    acc = e.fadd(acc, e.fmul(w, i < history.size() ? history[i] : x));
  return applySilu ? silu(e.b, e.loc, acc) : acc;
}

/// Whether output channel `n` is one the epilogue `conv` convolves.
Value convolvesChannel(Emitter &e, const ConvEpilogueBuffers &conv, Value n) {
  return arith::AndIOp::create(
      e.b, e.loc, e.lt(n, e.idx(conv.offset + conv.channels)),
      arith::CmpIOp::create(e.b, e.loc, arith::CmpIPredicate::uge, n,
                            e.idx(conv.offset)));
}

/// The convolution epilogue of an output channel of batch row `row` whose
/// product is `v`: where the channel is convolved (`convolved`, as the
/// convolution's channel `c`), the state's row c moves on by v and the
/// result is the convolution's; elsewhere v.
Value convolveOutput(Emitter &e, const ConvEpilogueBuffers &conv,
                     const ConvTaps &taps, Value row, Value c, Value convolved,
                     Value v) {
  e.when(convolved, [&] {
    size_t history = taps.history.size();
    for (size_t j = 0; j < history; ++j)
      e.store(j + 1 < history ? taps.history[j + 1] : v, conv.state,
              {row, c, e.idx(j)});
  });
  Value y = convolveToken(e, taps, taps.history, v, conv.silu);
  return arith::SelectOp::create(e.b, e.loc, convolved, y, v);
}

/// The warp's sums of `values` (a power of two of them, at most kWarp: one
/// per (row, channel) pair of the warp), spread over the lanes: lane l ends
/// with the sum of value l / (kWarp / values.size()). Each xor step halves
/// the values a lane keeps (the upper half where the step's lane bit is
/// set): it sends its partner the half it drops and adds the partner's copy
/// of the half it keeps, so n values take n - 1 shuffles and the steps left
/// one each, instead of log2(kWarp) per value. Each lane adds its own
/// partial sum and its partner's, as Emitter::warpSum does, in the same
/// tree: the sums are bit-identical to warpSum's.
Value warpSumsSpread(Emitter &e, ArrayRef<Value> values, Value lane) {
  if (!llvm::isPowerOf2_64(values.size()) ||
      static_cast<int64_t>(values.size()) > kWarp)
    llvm::report_fatal_error("warpSumsSpread: the warp's (row, channel) pairs "
                             "must be a power of two, at most a warp");
  SmallVector<Value> kept(values);
  int32_t offset = kWarp / 2;
  for (; kept.size() > 1; offset /= 2) {
    size_t half = kept.size() / 2;
    Value upper = e.eq(e.rem(e.div(lane, e.idx(offset)), e.idx(2)), e.idx(1));
    SmallVector<Value> next;
    for (size_t i = 0; i < half; ++i) {
      Value lower = kept[i], higher = kept[i + half];
      Value send = arith::SelectOp::create(e.b, e.loc, upper, lower, higher);
      Value keep = arith::SelectOp::create(e.b, e.loc, upper, higher, lower);
      Value partner = gpu::ShuffleOp::create(e.b, e.loc, send, offset, kWarp,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult();
      next.push_back(e.fadd(keep, partner));
    }
    kept = std::move(next);
  }
  Value v = kept.front();
  for (; offset >= 1; offset /= 2)
    v = e.fadd(v, gpu::ShuffleOp::create(e.b, e.loc, v, offset, kWarp,
                                         gpu::ShuffleMode::XOR)
                      .getShuffleResult());
  return v;
}

/// `channels` outputs per warp (x read once for all of them). `staged`:
/// the block first copies its row of x to workgroup memory (StagedRow; one
/// row: the quantized contiguous form, or a float product whose norm
/// prologue the staging computes), normalised there when `k.normed`.
/// `split` (rowSplit; staged quantized rows only): warps that share each
/// channel, each on its part of the row; `warps`: the block's warps.
void emitLinearLaunch(Emitter &e, const LinearKernel &k, Value rows,
                      ArrayRef<Value> sizes, Value n, int64_t rowBlock,
                      int64_t channels, bool staged = false, int64_t split = 1,
                      int64_t warps = kLinearWarps) {
  assert((split == 1 || (k.quant && staged && rowBlock == 1 && !k.lora &&
                         !k.conv && warps % split == 0)) &&
         "only the staged one-row quantized product splits its rows");
  // The block's warps in groups of `split`, each group on `channels`
  // channels, each warp of a group on 1/split of the row.
  int64_t warpGroups = warps / split;
  int64_t blockChannels = warpGroups * channels;
  Value gx = e.ceilDiv(rows, rowBlock);
  Value gy = e.ceilDiv(n, blockChannels);
  std::string name = "linear_r" + std::to_string(rowBlock);
  gpu::LaunchOp kernel = launch(
      e, name, gx, gy, e.idx(1), warps * kWarp,
      [&](Emitter &d, gpu::LaunchOp op) {
        Value tid = op.getThreadIds().x;
        if (prefetchesWeights(d.b)) {
          Value first = d.mul(op.getBlockIds().y, d.idx(blockChannels));
          Value count = d.min(d.idx(blockChannels), d.sub(n, first));
          Value bx = op.getBlockIds().x;
          prefetchRows(d, k.main.w, first, count, tid, bx);
          if (k.quant) {
            prefetchRows(d, k.quant->scales, first, count, tid, bx);
            if (k.quant->zeros)
              prefetchRows(d, k.quant->zeros, first, count, tid, bx);
          }
          if (k.lora)
            prefetchRows(d, k.lora->w, first, count, tid, bx);
          if (k.loraQuant) {
            prefetchRows(d, k.loraQuant->scales, first, count, tid, bx);
            if (k.loraQuant->zeros)
              prefetchRows(d, k.loraQuant->zeros, first, count, tid, bx);
          }
        }
        Value lane = d.rem(tid, d.idx(kWarp));
        Value warp = d.div(tid, d.idx(kWarp));
        // The warp's part of the row, and its lane among its group's lanes
        // (`lane` when the row is not split).
        Value part = d.rem(warp, d.idx(split));
        Value rowLane = d.add(d.mul(part, d.idx(kWarp)), lane);
        Value firstChannel =
            d.mul(d.add(d.mul(op.getBlockIds().y, d.idx(warpGroups)),
                        d.div(warp, d.idx(split))),
                  d.idx(channels));
        Value lastRow = d.sub(rows, d.idx(1));
        // The warp's channels; those past the end read the last one and
        // store nothing.
        Value lastChannel = d.sub(n, d.idx(1));
        SmallVector<Value> ns;
        for (int64_t c = 0; c < channels; ++c)
          ns.push_back(d.min(d.add(firstChannel, d.idx(c)), lastChannel));
        SmallVector<Value> preloaded =
            preloadWeights(d, k, rowBlock, ns, rowLane, kWarp * split);
        SmallVector<Value> preloadedAdapter =
            preloadAdapter(d, k, rowBlock, ns, lane);
        // The norm prologue's weights of this thread's pieces of x.
        SmallVector<Value> normWeights;
        if (staged && k.normed)
          normWeights = preloadNormWeights(
              d, k.normed->norm,
              cast<MemRefType>(k.main.x.getType()).getShape().back(), tid,
              warps * kWarp);
        // The warp's (row, channel) pairs p = r * channels + c are finished
        // by the lanes together (warpSumsSpread leaves lanes
        // [p * group, (p + 1) * group) with pair p's sum; the first of them
        // stores it): the epilogue's loads (bias, residual, convolution
        // taps) are issued at once, not one after another by one lane. The
        // convolution's state rows the lanes update at once are distinct:
        // one per (batch row, channel), one token per row.
        int64_t pairs = rowBlock * channels;
        int64_t group = kWarp / pairs;
        Value pair = d.div(lane, d.idx(group));
        Value leader = d.eq(d.rem(lane, d.idx(group)), d.idx(0));
        Value pairRow = d.div(pair, d.idx(channels));
        Value pairChannel = d.add(firstChannel, d.rem(pair, d.idx(channels)));
        Value pairN = d.min(pairChannel, lastChannel);
        // Whether the lane's channel is one the convolution epilogue
        // convolves (and below the end), and which of its channels; a lane
        // loads the taps of that channel only (it must not touch the state
        // rows of another block's channels), before the wait.
        Value convolved, convIndex;
        std::optional<ConvTaps> taps;
        if (k.conv) {
          if (rowBlock != 1)
            llvm::report_fatal_error("a convolution epilogue in the one-row "
                                     "linear kernel only");
          Value inConv = convolvesChannel(d, *k.conv, pairN);
          convolved =
              arith::AndIOp::create(d.b, d.loc, d.lt(pairChannel, n), inConv);
          convIndex = d.sub(pairN, d.idx(k.conv->offset));
          Value batchRow =
              rowIndices(d, sizes, d.min(op.getBlockIds().x, lastRow))[0];
          taps = loadConvTaps(d, k.conv->weight, k.conv->bias, k.conv->state,
                              k.conv->width, batchRow, convIndex,
                              /*early=*/true, convolved);
        }
        // One row: the epilogue's bias (a weight: before the wait) and
        // residual (the first load after the wait, so that its latency
        // passes with the staging and the product's), of the lane's pair; a
        // pair past the rows or channels loads no residual (those bytes are
        // another block's). Several rows load them in the epilogue (early,
        // they cost the 8-row kernels 4% at batch 8 on an H100: registers).
        // The lane's pair: whether it is in range (its row and channel)
        // and its place in out, emitted where first needed.
        struct PairPlace {
          Value inRange;
          SmallVector<Value> at;
        };
        auto pairPlace = [&] {
          Value row =
              d.add(d.mul(op.getBlockIds().x, d.idx(rowBlock)), pairRow);
          return PairPlace{
              arith::AndIOp::create(d.b, d.loc, d.lt(row, rows),
                                    d.lt(pairChannel, n)),
              with(rowIndices(d, sizes, d.min(row, lastRow)), pairN)};
        };
        std::optional<PairPlace> place;
        Value bias, base;
        if (rowBlock == 1 && (k.bias || k.base)) {
          place = pairPlace();
          if (k.bias)
            bias = toF32(d.b, d.loc,
                         beforeWait(memref::LoadOp::create(d.b, d.loc, k.bias,
                                                           ValueRange{pairN})));
          if (k.base)
            base = loadsWhere(d, place->inRange, 1, [&] {
                     return SmallVector<Value>{d.load(k.base, place->at)};
                   }).getResult(0);
        }
        // Every thread of the block stages (the barrier), so before the
        // channel bound.
        std::optional<StagedRow> stagedRow;
        // The norm's scale the main product's sums still need (one group:
        // stageNormalizedRow defers it to them); null when none.
        Value normScale;
        if (staged) {
          int64_t width =
              cast<MemRefType>(k.main.x.getType()).getShape().back();
          int64_t pieces =
              k.quant ? 32 / k.quant->bits : chunkElements(k.main) / 4;
          stagedRow =
              StagedRow{workgroupArray(d, width / 4,
                                       VectorType::get({4}, d.b.getF32Type())),
                        pieces};
          SmallVector<Value> row =
              rowIndices(d, sizes, d.min(op.getBlockIds().x, lastRow));
          if (k.normed)
            normScale =
                stageNormalizedRow(d, k.normed->norm, k.main.x, row, *stagedRow,
                                   tid, warps * kWarp, normWeights);
          else
            stageRow(d, k.main.x, row, *stagedRow, tid, warps * kWarp);
        }
        Value inChannels = d.lt(firstChannel, n);
        // The warp's sums (spread over its lanes by warpSumsSpread).
        auto product = [&] {
          Value first = d.mul(op.getBlockIds().x, d.idx(rowBlock));
          SmallVector<SmallVector<Value>> rowIdx;
          // Rows past the end read the last one, store nothing.
          for (int64_t r = 0; r < rowBlock; ++r)
            rowIdx.push_back(
                rowIndices(d, sizes, d.min(d.add(first, d.idx(r)), lastRow)));
          SmallVector<Value> acc(rowBlock * channels, d.f32(0.0));
          if (k.quant)
            accumulateQuant(d, k.main, *k.quant, rowIdx, ns, rowLane,
                            stagedRow ? &*stagedRow : nullptr, acc, preloaded,
                            kWarp * split);
          else
            accumulate(d, k.main, rowIdx, ns, lane, acc,
                       stagedRow ? &*stagedRow : nullptr, preloaded);
          if (normScale)
            for (Value &a : acc)
              a = d.fmul(a, normScale);
          if (k.lora && k.loraQuant)
            accumulateQuant(d, *k.lora, *k.loraQuant, rowIdx, ns, lane,
                            /*staged=*/nullptr, acc, preloadedAdapter);
          else if (k.lora)
            accumulate(d, *k.lora, rowIdx, ns, lane, acc, /*staged=*/nullptr,
                       preloadedAdapter);
          return warpSumsSpread(d, acc, lane);
        };
        // The pair's output v, stored by the lanes `stores` says.
        auto epilogue = [&](Value v, Value stores) {
          if (!place)
            place = pairPlace();
          SmallVector<Value> at = place->at;
          stores = arith::AndIOp::create(d.b, d.loc, stores, place->inRange);
          d.when(stores, [&] {
            Value y = v;
            if (k.bias)
              y = d.fadd(y, bias ? bias : d.load(k.bias, pairN));
            if (k.base)
              y = d.fadd(y, base ? base : d.load(k.base, at));
            if (k.conv)
              y = convolveOutput(d, *k.conv, *taps, at[0], convIndex, convolved,
                                 y);
            d.store(y, k.out, at);
          });
        };
        if (split == 1) {
          d.when(inChannels, [&] { epilogue(product(), leader); });
          return;
        }
        // A split row: each warp's sums go to workgroup memory; after a
        // barrier (which every thread reaches: outside the channel bound)
        // the group's first warp adds its parts' sums in order. The array
        // (warps x pairs f32) is the one blockSums used for a norm
        // prologue staged above when the norm has `pairs` groups (groups x
        // warps f32): stageNormalizedRow ends with a barrier for several
        // groups, after every thread has read its sums. A norm of one group
        // ends without one (its sums are read later), so its array must
        // differ: pairs > 1.
        static_assert(kStagedQuantChannels > 1,
                      "the split's partial sums would share the one-group "
                      "norm's block sums");
        Value partial = workgroupArray(d, warps * pairs);
        d.when(inChannels, [&] {
          Value v = product();
          d.when(leader, [&] {
            d.store(v, partial, {d.add(d.mul(warp, d.idx(pairs)), pair)});
          });
        });
        gpu::BarrierOp::create(d.b, d.loc);
        Value firstWarp = d.sub(warp, part);
        Value leads =
            arith::AndIOp::create(d.b, d.loc, inChannels, d.eq(part, d.idx(0)));
        d.when(leads, [&] {
          Value v;
          for (int64_t j = 0; j < split; ++j) {
            Value w = d.add(firstWarp, d.idx(j));
            Value sum = d.load(partial, {d.add(d.mul(w, d.idx(pairs)), pair)});
            v = v ? d.fadd(v, sum) : sum;
          }
          epilogue(v, leader);
        });
      });
  // One row (decode at batch 1): zamba2-gpu-dependent-launch's
  // one-row-early-trigger lets it signal the next kernel at its start (what
  // it loads before its wait is a weight, or state only it updates).
  if (rowBlock == 1)
    markBody(kernel.getBody().front(), kOneRowAttr, e.b.getUnitAttr());
  // One row (decode at batch 1) of float weights: the grid is its channel
  // blocks, known here for a static channel count
  // (zamba2-gpu-register-budget). Integer weights are left to ptxas: on an
  // H100 (1.2B int4, trace.py) a cap made the gate_up 0.3 us slower (64
  // registers, 2 waves instead of 3) and the merged q/k/v 0.3 us faster (80,
  // 2 instead of 3), the step no faster.
  int64_t channelCount = cast<MemRefType>(k.out.getType()).getShape().back();
  if (rowBlock == 1 && !k.quant && !ShapedType::isDynamic(channelCount))
    markBody(
        kernel.getBody().front(), kGridBlocksAttr,
        e.b.getI64IntegerAttr(llvm::divideCeil(channelCount, blockChannels)));
}

void emitRowNorm(Emitter &e, const NormBuffers &n, Value x, Value out);
struct ConvKernel {
  Value x, weight, bias, state, out; // weight [C, 1, K], state [B, C, K-1]
  int64_t channels, width;
  bool silu;
};
void emitConv(Emitter &e, const ConvKernel &k);

/// Up to this many output channels, the one-row quantized GEMV that
/// stages x splits each channel's row over two warps (rowSplit).
constexpr int64_t kSplitRowChannels = 1024;
/// From this row length, and up to this many channels (a grid of 256
/// blocks of 8 channels: two an SM), the one-row quantized GEMV splits
/// each channel's row over two warps of blocks of 8 warps (rowSplit).
constexpr int64_t kWideRowLength = 4096, kWideRowChannels = 2048;

/// How the one-row kernel that stages x splits its rows.
struct RowSplit {
  /// Warps that share each channel's row, each on its part.
  int64_t split = 1;
  /// Warps per block.
  int64_t warps = kLinearWarps;
};

/// The row split of the one-row kernel of `k` that stages x with integer
/// weights (no adapter or convolution epilogue, and a row that gives each
/// lane of two warps whole 16-byte steps; else none):
/// - rows of at least kWideRowLength weights and at most kWideRowChannels
///   channels (the Mamba out_proj, the shared block's o_proj and down
///   projection, the adapters' x A^T of the q/k/v input): two warps a
///   channel in blocks of 8 warps, the same 8 channels a block as unsplit.
///   Unsplit, such a grid has about two blocks an SM, 8 warps, and after
///   its wait each warp works through 2 channels of a long row with one
///   other warp on its scheduler; split, the SM's blocks are the same and
///   stage x as often, but with 16 warps each does half the row. Measured
///   on an H100 (1.2B int4, batch 1, four rounds): 1.047-1.048 ms a decode
///   step against 1.089-1.090; in the trace the down projection costs 5.0
///   us instead of 6.1, the out_proj 4.2-4.4 instead of 4.4-4.7. (Split in
///   blocks of 4 warps instead, twice the blocks, each staging x: the
///   out_proj was 0.4 us slower.)
/// - at most kSplitRowChannels channels otherwise (the adapters' x A^T of
///   the MLP input): two warps a channel in blocks of 4 (16 blocks of 8
///   channels would leave most SMs idle, each warp on a long row). Measured
///   on an H100 (trace.py): the merged x A^T of q, k and v, then split so,
///   cost 5.2-5.4 us in the step instead of 5.5-5.7.
RowSplit rowSplit(const LinearKernel &k) {
  int64_t channels = cast<MemRefType>(k.out.getType()).getShape().back();
  int64_t length = cast<MemRefType>(k.main.x.getType()).getShape().back();
  if (!k.quant || k.lora || k.conv || ShapedType::isDynamic(channels) ||
      ShapedType::isDynamic(length) ||
      !preloadable(quantSteps(k.main).first, 2 * kWarp))
    return {};
  if (length >= kWideRowLength && channels <= kWideRowChannels)
    return {2, 2 * kLinearWarps};
  if (channels <= kSplitRowChannels)
    return {2, kLinearWarps};
  return {};
}

/// Whether the one-row kernel of `k` can normalise x as it stages it: the
/// prologue allows it (stagesNormalizedRow) and the product reads x in whole
/// 16-byte pieces per lane step (the quantized contiguous form, or float
/// weights of 16-byte chunks).
bool stagesNormalizedOneRow(const LinearKernel &k) {
  if (!k.normed || !stagesNormalizedRow(k.main.x, *k.normed))
    return false;
  if (k.quant)
    return stagesRow(k.main, *k.quant);
  return vectorizable(k.main) && chunkElements(k.main) % 4 == 0;
}

/// The kernels of `k` for one token row (decode at batch 1) and for more
/// rows. A norm prologue is computed by the one-row kernel as it stages x
/// (stageNormalizedRow) when it can; otherwise, and for several rows, the
/// norm kernel writes the normalised rows (when this kernel is the op's
/// first) and the product reads them.
void emitLinear(Emitter &e, const LinearKernel &k) {
  Value rows = leadingCount(e, k.out);
  SmallVector<Value> sizes = leadingSizes(e, k.out);
  int64_t rank = cast<MemRefType>(k.out.getType()).getRank();
  Value n = e.dim(k.out, rank - 1);
  // The kernel on the normalised rows, written first if this kernel is the
  // op's first.
  auto onNormalizedRows = [&]() {
    LinearKernel plain = k;
    if (k.normed) {
      if (k.normed->write)
        emitRowNorm(e, k.normed->norm, k.main.x, k.normed->normed);
      plain.main.x = k.normed->normed;
      plain.normed = nullptr;
    }
    return plain;
  };
  auto ifOp = scf::IfOp::create(e.b, e.loc, e.lt(rows, e.idx(2)),
                                /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(e.b);
    e.b.setInsertionPointToStart(ifOp.thenBlock());
    // Several outputs per warp pay off when the weights are narrower than
    // x (integers); for bf16/f32 weights one output per warp measured
    // faster (more warps in flight).
    int64_t channels = k.quant ? kStagedQuantChannels : 1;
    // The one-row kernel that stages x, its rows split as rowSplit says.
    auto emitStaged = [&](const LinearKernel &staged) {
      RowSplit split = rowSplit(staged);
      emitLinearLaunch(e, staged, rows, sizes, n, 1, channels,
                       /*staged=*/true, split.split, split.warps);
    };
    if (k.normed && k.normed->stageOneRow) {
      emitStaged(k);
    } else {
      LinearKernel plain = onNormalizedRows();
      if (plain.quant && stagesRow(plain.main, *plain.quant)) {
        emitStaged(plain);
      } else {
        emitLinearLaunch(e, plain, rows, sizes, n, 1,
                         plain.quant ? kChannelsPerWarp : 1);
      }
    }
    e.b.setInsertionPointToStart(ifOp.elseBlock());
    // 8 rows x 4 channels per warp for float weights: each chunk of x is
    // read for 4 weight rows, each chunk of weights for 8 rows of x. Integer
    // weights: 2 channels (their dequantized step, 32 or 16 f32 per channel,
    // is what stays in registers). A convolution epilogue is the
    // convolution's own kernel here, on the product in place (one token
    // per row: each thread reads its element, then writes it): measured
    // faster at batch 8 than the 8-row kernel's lanes convolving.
    LinearKernel rowsKernel = onNormalizedRows();
    rowsKernel.conv = nullptr;
    emitLinearLaunch(e, rowsKernel, rows, sizes, n, 8,
                     k.quant ? kQuantRowBlockChannels : kChannelsPerWarp);
    if (k.conv) {
      auto outType = cast<MemRefType>(k.out.getType());
      int64_t rank = outType.getRank();
      SmallVector<OpFoldResult> offsets(rank, e.b.getIndexAttr(0)),
          strides(rank, e.b.getIndexAttr(1)), shape;
      for (int64_t i = 0; i + 1 < rank; ++i)
        shape.push_back(memref::getMixedSize(e.b, e.loc, k.out, i));
      offsets.back() = e.b.getIndexAttr(k.conv->offset);
      shape.push_back(e.b.getIndexAttr(k.conv->channels));
      Value piece =
          memref::SubViewOp::create(e.b, e.loc, k.out, offsets, shape, strides);
      emitConv(e, ConvKernel{piece, k.conv->weight, k.conv->bias, k.conv->state,
                             piece, k.conv->channels, k.conv->width,
                             k.conv->silu});
    }
  }
}

//===----------------------------------------------------------------------===//
// Row normalisation
//===----------------------------------------------------------------------===//

constexpr int64_t kNormThreads = 1024;
/// The most weights per thread the norm kernel loads before its wait.
constexpr int64_t kMaxPreloadedNormWeights = 4;
/// The most values v per thread the norm kernel keeps in registers between
/// its sum and its scaling (more are loaded and computed again).
constexpr int64_t kMaxKeptNormValues = 8;

/// out[m, g*W + c] = v(m, g*W + c) / sqrt(mean_c v^2 + eps) * weight[g*W + c]
/// over each group of W = width / groups channels of the norm `n` of x, one
/// block per (row, group).
void emitRowNorm(Emitter &e, const NormBuffers &n, Value x, Value out) {
  auto outType = cast<MemRefType>(out.getType());
  int64_t groups = n.groups;
  int64_t width = outType.getShape().back() / groups;
  Value rows = leadingCount(e, out);
  SmallVector<Value> sizes = leadingSizes(e, out);
  gpu::LaunchOp kernel = launch(
      e, "rms_norm", e.mul(rows, e.idx(groups)), e.idx(1), e.idx(1),
      kNormThreads, [&](Emitter &d, gpu::LaunchOp op) {
        Value tid = op.getThreadIds().x;
        Value block = op.getBlockIds().x;
        SmallVector<Value> row =
            rowIndices(d, sizes, d.div(block, d.idx(groups)));
        Value base = d.mul(d.rem(block, d.idx(groups)), d.idx(width));
        // The norm's weights of this thread's channels, loaded before
        // the dependent-launch wait (kBeforeWaitAttr: they do not depend
        // on the kernels before), when each thread has the same few.
        SmallVector<Value> preloaded;
        if (width % kNormThreads == 0 &&
            width / kNormThreads <= kMaxPreloadedNormWeights)
          for (int64_t j = 0; j < width / kNormThreads; ++j) {
            preloaded.push_back(beforeWait(memref::LoadOp::create(
                d.b, d.loc, n.weight,
                d.add(base, d.add(tid, d.idx(j * kNormThreads))))));
          }
        // v of the thread's channels tid, tid + kNormThreads, ...: kept
        // for the scaling when there are few, else computed again.
        bool keep = width <= kMaxKeptNormValues * kNormThreads;
        SmallVector<Value> kept;
        Value sumSq = d.f32(0.0);
        forStrided(
            d, tid, width, kNormThreads,
            [&](Emitter &le, Value c, int64_t) {
              return n.load(le, x, row, le.add(base, c));
            },
            [&](Emitter &le, Value, Value valid, ArrayRef<Value> loaded,
                int64_t) {
              Value v = n.combine(le, loaded);
              Value sq = le.fmul(v, v);
              if (valid)
                sq = arith::SelectOp::create(le.b, le.loc, valid, sq,
                                             le.f32(0.0));
              sumSq = le.fadd(sumSq, sq);
              if (keep)
                kept.push_back(v);
            });
        Value inv =
            rmsScale(d, blockSum(d, sumSq, tid, kNormThreads), width, n.eps);
        // The weight (preloaded, or loaded here), then v's loads when
        // not kept.
        forStrided(
            d, tid, width, kNormThreads,
            [&](Emitter &le, Value c, int64_t j) {
              Value channel = le.add(base, c);
              SmallVector<Value> loaded{
                  j < static_cast<int64_t>(preloaded.size())
                      ? preloaded[j]
                      : memref::LoadOp::create(le.b, le.loc, n.weight, channel)
                            .getResult()};
              if (!keep)
                llvm::append_range(loaded, n.load(le, x, row, channel));
              return loaded;
            },
            [&](Emitter &le, Value c, Value valid, ArrayRef<Value> loaded,
                int64_t j) {
              Value v = keep ? kept[j] : n.combine(le, loaded.drop_front());
              v = le.fmul(v, inv);
              Value y = le.fmul(v, toF32(le.b, le.loc, loaded[0]));
              le.when(valid,
                      [&] { le.store(y, out, with(row, le.add(base, c))); });
            });
      });
  // A norm kernel is short, and the GEMV after it reads its output.
  markEarlyTrigger(kernel);
}

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

constexpr int64_t kAttentionWarps = 8;
/// Cache entries a warp of the attention kernel takes per iteration.
constexpr int64_t kAttentionEntries = 4;
/// Rounds of entries older than the token that the decode attention kernel
/// loads before its dependent-launch wait.
constexpr int64_t kAttentionEarlyRounds = 1;

struct AttentionKernel {
  Value q, k, v, kCache, vCache, positions, out;
  int64_t heads, kvHeads, hd;
  double scale;
  std::optional<double> ropeTheta;
};

/// cos and sin of the rotary angle of element d of a head at absolute
/// position `pos` (index values), as the rotary embedding computes them:
/// inv_freq = theta^(-2i/hd) with i = d mod hd/2 and the angle in f64,
/// cos and sin rounded to f32. None when the kernel has no rope.
struct RotaryAngle {
  Value cos, sin;
};
std::optional<RotaryAngle> rotaryAngle(Emitter &e, const AttentionKernel &a,
                                       Value d, Value pos) {
  if (!a.ropeTheta)
    return std::nullopt;
  int64_t half = a.hd / 2;
  OpBuilder &ob = e.b;
  Type f64 = ob.getF64Type();
  Value i = arith::SelectOp::create(ob, e.loc, e.lt(d, e.idx(half)), d,
                                    e.sub(d, e.idx(half)));
  auto toF64 = [&](Value index) -> Value {
    Value i64 = arith::IndexCastOp::create(ob, e.loc, ob.getI64Type(), index);
    return arith::SIToFPOp::create(ob, e.loc, f64, i64);
  };
  Value exponent = arith::MulFOp::create(
      ob, e.loc, toF64(i),
      arith::ConstantOp::create(ob, e.loc,
                                ob.getF64FloatAttr(-2.0 / double(a.hd))));
  Value freq = math::PowFOp::create(
      ob, e.loc,
      arith::ConstantOp::create(ob, e.loc, ob.getF64FloatAttr(*a.ropeTheta)),
      exponent);
  Value angle = arith::MulFOp::create(ob, e.loc, toF64(pos), freq);
  Type f32 = ob.getF32Type();
  return RotaryAngle{
      arith::TruncFOp::create(ob, e.loc, f32,
                              math::CosOp::create(ob, e.loc, angle)),
      arith::TruncFOp::create(ob, e.loc, f32,
                              math::SinOp::create(ob, e.loc, angle))};
}

/// Element d of head `head` of x [B, T, n*hd] at (b, t), rotated by
/// `angle` (that of d at the token's absolute position) when there is one.
Value rotated(Emitter &e, const AttentionKernel &a, Value x, Value b, Value t,
              Value head, Value d, std::optional<RotaryAngle> angle) {
  Value col = e.add(e.mul(head, e.idx(a.hd)), d);
  Value self = e.load(x, {b, t, col});
  if (!angle)
    return self;
  int64_t half = a.hd / 2;
  OpBuilder &ob = e.b;
  Value firstHalf = e.lt(d, e.idx(half));
  Value partnerCol = arith::SelectOp::create(
      ob, e.loc, firstHalf, e.add(col, e.idx(half)), e.sub(col, e.idx(half)));
  Value other = e.load(x, {b, t, partnerCol});
  Value rot = arith::SelectOp::create(
      ob, e.loc, firstHalf, arith::NegFOp::create(ob, e.loc, other), other);
  return e.fadd(e.fmul(self, angle->cos), e.fmul(rot, angle->sin));
}

/// The absolute position of row b's first token; `early` marks its load to
/// run before the dependent-launch wait (the positions are the step's
/// input: no kernel writes them).
Value positionOf(Emitter &e, Value positions, Value b, bool early = false) {
  auto load = memref::LoadOp::create(e.b, e.loc, positions, b);
  if (early)
    markBeforeWait(load);
  return arith::IndexCastOp::create(e.b, e.loc, e.b.getIndexType(), load);
}

/// Element dd of kv head `head` of token (b, t)'s cache entry: k rotated
/// by `angle` (dd's at the token's position), v as it is.
std::pair<Value, Value> tokenEntry(Emitter &e, const AttentionKernel &a,
                                   Value b, Value t, Value head, Value dd,
                                   std::optional<RotaryAngle> angle) {
  return {rotated(e, a, a.k, b, t, head, dd, angle),
          e.load(a.v, {b, t, e.add(e.mul(head, e.idx(a.hd)), dd)})};
}

/// That element into the caches at `slot`.
void storeEntry(Emitter &e, const AttentionKernel &a, Value b, Value head,
                Value dd, Value slot, std::pair<Value, Value> entry) {
  e.store(entry.first, a.kCache, {b, head, slot, dd});
  e.store(entry.second, a.vCache, {b, head, slot, dd});
}

void emitCacheAppend(Emitter &e, const AttentionKernel &a) {
  Value batch = e.dim(a.k, 0), seq = e.dim(a.k, 1);
  int64_t perToken = a.kvHeads * a.hd;
  Value total = e.mul(e.mul(batch, seq), e.idx(perToken));
  launch(e, "attention_append", e.ceilDiv(total, kConvThreads), e.idx(1),
         e.idx(1), kConvThreads, [&](Emitter &d, gpu::LaunchOp op) {
           Value id = d.add(d.mul(op.getBlockIds().x, d.idx(kConvThreads)),
                            op.getThreadIds().x);
           d.when(d.lt(id, total), [&] {
             Value col = d.rem(id, d.idx(perToken));
             Value token = d.div(id, d.idx(perToken));
             Value t = d.rem(token, seq), b = d.div(token, seq);
             Value slot = d.add(positionOf(d, a.positions, b), t);
             Value head = d.div(col, d.idx(a.hd)), dd = d.rem(col, d.idx(a.hd));
             storeEntry(
                 d, a, b, head, dd, slot,
                 tokenEntry(d, a, b, t, head, dd, rotaryAngle(d, a, dd, slot)));
           });
         });
}

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
void emitAttend(Emitter &e, const AttentionKernel &a, bool appendsToken) {
  Value batch = e.dim(a.q, 0), seq = e.dim(a.q, 1);
  int64_t perLane = (a.hd + kWarp - 1) / kWarp;
  int64_t group = a.heads / a.kvHeads;
  int64_t threads = kAttentionWarps * kWarp;
  assert((!appendsToken || group == 1) && "a block appends its own head only");
  launch(
      e, appendsToken ? "attention_step" : "attention", e.idx(a.heads),
      e.mul(batch, seq), e.idx(1), threads, [&](Emitter &d, gpu::LaunchOp op) {
        Value head = op.getBlockIds().x;
        Value token = op.getBlockIds().y;
        Value t = d.rem(token, seq), b = d.div(token, seq);
        Value tid = op.getThreadIds().x;
        Value lane = d.rem(tid, d.idx(kWarp)), warp = d.div(tid, d.idx(kWarp));
        Value kvHead = d.div(head, d.idx(group));
        Value pos = d.add(positionOf(d, a.positions, b, /*early=*/true), t);
        Value entries = d.add(pos, d.idx(1));
        Value lastEntry = pos;
        Value hd = d.idx(a.hd);
        auto markAngle = [](std::optional<RotaryAngle> angle) {
          if (angle) {
            markBeforeWait(angle->cos.getDefiningOp());
            markBeforeWait(angle->sin.getDefiningOp());
          }
          return angle;
        };
        // This lane's elements d = lane + 32 i of the query, and their
        // rotary angles.
        SmallVector<Value> dims, valid;
        SmallVector<std::optional<RotaryAngle>> qAngles;
        for (int64_t i = 0; i < perLane; ++i) {
          Value dd = d.add(lane, d.idx(i * kWarp));
          valid.push_back(d.lt(dd, hd));
          dims.push_back(d.min(dd, d.idx(a.hd - 1)));
          qAngles.push_back(markAngle(rotaryAngle(d, a, dims.back(), pos)));
        }
        // An entry's key and value elements of this lane (loaded in this
        // order, keys first).
        auto loadEntry = [&](Emitter &le, Value at, SmallVector<Value> &keys,
                             SmallVector<Value> &values) {
          for (int64_t i = 0; i < perLane; ++i)
            keys.push_back(le.load(a.kCache, {b, kvHead, at, dims[i]}));
          for (int64_t i = 0; i < perLane; ++i)
            values.push_back(le.load(a.vCache, {b, kvHead, at, dims[i]}));
        };
        // The entries of a warp's round from j: j + u * kAttentionWarps for
        // u < kAttentionEntries.
        auto entryOf = [&](Emitter &le, Value j, int64_t u) {
          return le.add(j, le.idx(u * kAttentionWarps));
        };
        // The first round of a warp is from j = warp, the next 32 entries
        // later.
        int64_t roundStep = kAttentionWarps * kAttentionEntries;
        auto roundFrom = [&](Emitter &le, int64_t r) {
          return le.add(warp, le.idx(r * roundStep));
        };
        // With the token appended here, a round reads the cache only for
        // the entries older than the token (at most lastOld); the token's
        // entry, and those past it (masked), are this lane's own key and
        // value elements of the token. The first kAttentionEarlyRounds
        // rounds' older entries are loaded before the wait.
        struct Round {
          SmallVector<Value> keys, values;
        };
        Value lastOld;
        SmallVector<Round> earlyRounds;
        if (appendsToken) {
          lastOld = d.sub(arith::MaxUIOp::create(d.b, d.loc, pos, d.idx(1)),
                          d.idx(1));
          for (int64_t r = 0; r < kAttentionEarlyRounds; ++r) {
            Round &loaded = earlyRounds.emplace_back();
            for (int64_t u = 0; u < kAttentionEntries; ++u)
              loadEntry(d, d.min(entryOf(d, roundFrom(d, r), u), lastOld),
                        loaded.keys, loaded.values);
            for (Value v : llvm::concat<Value>(loaded.keys, loaded.values))
              markBeforeWait(v.getDefiningOp());
          }
        }
        // The rotated query, scaled.
        SmallVector<Value> q;
        for (int64_t i = 0; i < perLane; ++i) {
          Value qv = d.fmul(rotated(d, a, a.q, b, t, head, dims[i], qAngles[i]),
                            d.f32(a.scale));
          q.push_back(
              arith::SelectOp::create(d.b, d.loc, valid[i], qv, d.f32(0.0)));
        }
        // The token's key (rotated as the query: the same elements and
        // position) and value, as the cache holds them; the first warp
        // appends them (emitCacheAppend's values). No warp reads them from
        // the cache, so no barrier.
        SmallVector<Value> newKeys, newValues;
        if (appendsToken) {
          auto asCached = [&](Value v, Value cache) {
            Type elem = cast<MemRefType>(cache.getType()).getElementType();
            return elem.isF32()
                       ? v
                       : toF32(d.b, d.loc, convertFloat(d.b, d.loc, v, elem));
          };
          for (int64_t i = 0; i < perLane; ++i) {
            auto [key, value] =
                tokenEntry(d, a, b, t, head, dims[i], qAngles[i]);
            newKeys.push_back(asCached(key, a.kCache));
            newValues.push_back(asCached(value, a.vCache));
            Value stores = arith::AndIOp::create(d.b, d.loc, valid[i],
                                                 d.eq(warp, d.idx(0)));
            d.when(stores, [&] {
              storeEntry(d, a, b, head, dims[i], pos,
                         {newKeys[i], newValues[i]});
            });
          }
        }
        // A round's entries from j: loaded together (clamped to the last),
        // or, with the token appended here, the older ones from the cache
        // (`loaded`: loaded before the wait) and the others the token's.
        auto roundEntries = [&](Emitter &le, Value j, SmallVector<Value> &keys,
                                SmallVector<Value> &values,
                                const Round *loaded = nullptr) {
          if (!appendsToken) {
            for (int64_t u = 0; u < kAttentionEntries; ++u)
              loadEntry(le, le.min(entryOf(le, j, u), lastEntry), keys, values);
            return;
          }
          for (int64_t u = 0; u < kAttentionEntries; ++u) {
            SmallVector<Value> oldKeys, oldValues;
            if (!loaded) {
              loadEntry(le, le.min(entryOf(le, j, u), lastOld), oldKeys,
                        oldValues);
            } else {
              oldKeys.assign(loaded->keys.begin() + u * perLane,
                             loaded->keys.begin() + (u + 1) * perLane);
              oldValues.assign(loaded->values.begin() + u * perLane,
                               loaded->values.begin() + (u + 1) * perLane);
            }
            Value older = le.lt(entryOf(le, j, u), pos);
            for (int64_t i = 0; i < perLane; ++i)
              keys.push_back(arith::SelectOp::create(le.b, le.loc, older,
                                                     oldKeys[i], newKeys[i]));
            for (int64_t i = 0; i < perLane; ++i)
              values.push_back(arith::SelectOp::create(
                  le.b, le.loc, older, oldValues[i], newValues[i]));
          }
        };
        // Online softmax over the entries, kAttentionEntries per warp and
        // round (their cache loads and warp sums are independent, so one
        // memory latency per round rather than per entry): the running
        // maximum, the sum of exponentials and this lane's accumulators
        // after the round from j whose entries' elements are `keys` and
        // `values`. Entries past the last count for nothing (score -inf);
        // the first is always an entry, so the running maximum is finite.
        auto round = [&](Emitter &le, Value j, ValueRange st,
                         ArrayRef<Value> keys, ArrayRef<Value> values) {
          SmallVector<Value> scores;
          for (int64_t u = 0; u < kAttentionEntries; ++u) {
            Value s = le.f32(0.0);
            for (int64_t i = 0; i < perLane; ++i)
              s = le.fadd(s, le.fmul(q[i], keys[u * perLane + i]));
            scores.push_back(s);
          }
          Value m = st[0];
          for (int64_t u = 0; u < kAttentionEntries; ++u) {
            Value s = le.warpSum(scores[u]);
            if (u > 0)
              s = arith::SelectOp::create(
                  le.b, le.loc, le.lt(entryOf(le, j, u), entries), s,
                  le.f32(-std::numeric_limits<float>::infinity()));
            scores[u] = s;
            m = le.fmax(m, s);
          }
          Value corr = le.exp(arith::SubFOp::create(le.b, le.loc, st[0], m));
          SmallVector<Value> next = {m, le.fmul(st[1], corr)};
          for (int64_t i = 0; i < perLane; ++i)
            next.push_back(le.fmul(st[2 + i], corr));
          for (int64_t u = 0; u < kAttentionEntries; ++u) {
            Value p = le.exp(arith::SubFOp::create(le.b, le.loc, scores[u], m));
            next[1] = le.fadd(next[1], p);
            for (int64_t i = 0; i < perLane; ++i)
              next[2 + i] =
                  le.fadd(next[2 + i], le.fmul(p, values[u * perLane + i]));
          }
          return next;
        };
        SmallVector<Value> init = {
            d.f32(-std::numeric_limits<float>::infinity()), d.f32(0.0)};
        for (int64_t i = 0; i < perLane; ++i)
          init.push_back(d.f32(0.0));
        // The rounds of early loads, each where the warp has entries left;
        // then the loop over the others.
        for (int64_t r = 0, n = earlyRounds.size(); r < n; ++r) {
          const Round &loaded = earlyRounds[r];
          Value j = roundFrom(d, r);
          scf::IfOp done = ifValues(
              d, d.lt(j, entries), init.size(),
              [&](Emitter &re) {
                SmallVector<Value> keys, values;
                roundEntries(re, j, keys, values, &loaded);
                return round(re, j, init, keys, values);
              },
              [&](Emitter &) { return init; });
          init.assign(done.getResults().begin(), done.getResults().end());
        }
        auto loop = scf::ForOp::create(
            d.b, d.loc, roundFrom(d, earlyRounds.size()), entries,
            d.idx(roundStep), init,
            [&](OpBuilder &lb, Location l, Value j, ValueRange st) {
              Emitter le{lb, l};
              SmallVector<Value> keys, values;
              roundEntries(le, j, keys, values);
              scf::YieldOp::create(lb, l, round(le, j, st, keys, values));
            });
        Value accs = workgroupArray(d, kAttentionWarps * a.hd);
        Value stats = workgroupArray(d, 2 * kAttentionWarps);
        for (int64_t i = 0; i < perLane; ++i)
          d.when(valid[i], [&] {
            memref::StoreOp::create(d.b, d.loc, loop.getResult(2 + i), accs,
                                    d.add(d.mul(warp, hd), dims[i]));
          });
        d.when(d.eq(lane, d.idx(0)), [&] {
          memref::StoreOp::create(d.b, d.loc, loop.getResult(0), stats,
                                  d.mul(warp, d.idx(2)));
          memref::StoreOp::create(d.b, d.loc, loop.getResult(1), stats,
                                  d.add(d.mul(warp, d.idx(2)), d.idx(1)));
        });
        gpu::BarrierOp::create(d.b, d.loc);
        // Merge the warps' partial softmaxes: element dd per thread.
        scf::ForOp::create(
            d.b, d.loc, tid, hd, d.idx(kAttentionWarps * kWarp), ValueRange{},
            [&](OpBuilder &lb, Location l, Value dd, ValueRange) {
              Emitter le{lb, l};
              auto stat = [&](int64_t w, int64_t which) -> Value {
                return memref::LoadOp::create(lb, l, stats,
                                              le.idx(2 * w + which));
              };
              Value m = stat(0, 0);
              for (int64_t w = 1; w < kAttentionWarps; ++w)
                m = le.fmax(m, stat(w, 0));
              Value num = le.f32(0.0), den = le.f32(0.0);
              for (int64_t w = 0; w < kAttentionWarps; ++w) {
                Value f = le.exp(arith::SubFOp::create(lb, l, stat(w, 0), m));
                den = le.fadd(den, le.fmul(stat(w, 1), f));
                Value acc = memref::LoadOp::create(
                    lb, l, accs, le.add(le.idx(w * a.hd), dd));
                num = le.fadd(num, le.fmul(acc, f));
              }
              le.store(arith::DivFOp::create(lb, l, num, den), a.out,
                       {b, t, le.add(le.mul(head, le.idx(a.hd)), dd)});
              scf::YieldOp::create(lb, l);
            });
      });
}

//===----------------------------------------------------------------------===//
// Causal depthwise convolution
//===----------------------------------------------------------------------===//

/// One thread per (batch row, channel) walks the tokens with the last K-1
/// entries of the padded sequence xpad = (state, x) in registers: out[t] =
/// bias + sum_k w[k] xpad[t + k] (then SiLU); the new state is the window
/// after the last token. The weights, bias and state row (which only this
/// kernel writes) are loaded before the dependent-launch wait, by every
/// thread (those past the end read the last row and store nothing).
void emitConv(Emitter &e, const ConvKernel &k) {
  Value batch = e.dim(k.x, 0), seq = e.dim(k.x, 1);
  Value total = e.mul(batch, e.idx(k.channels));
  int64_t history = k.width - 1;
  launch(e, "causal_conv1d", e.ceilDiv(total, kConvThreads), e.idx(1), e.idx(1),
         kConvThreads, [&](Emitter &d, gpu::LaunchOp op) {
           Value id = d.add(d.mul(op.getBlockIds().x, d.idx(kConvThreads)),
                            op.getThreadIds().x);
           Value safe = d.min(id, d.sub(total, d.idx(1)));
           Value c = d.rem(safe, d.idx(k.channels));
           Value b = d.div(safe, d.idx(k.channels));
           ConvTaps taps = loadConvTaps(d, k.weight, k.bias, k.state, k.width,
                                        b, c, /*early=*/true);
           d.when(d.lt(id, total), [&] {
             auto tokens = scf::ForOp::create(
                 d.b, d.loc, d.idx(0), seq, d.idx(1), taps.history,
                 [&](OpBuilder &tb, Location tl, Value t, ValueRange last) {
                   Emitter te{tb, tl};
                   Value xt = te.load(k.x, {b, t, c});
                   te.store(convolveToken(te, taps, last, xt, k.silu), k.out,
                            {b, t, c});
                   SmallVector<Value> next;
                   if (history > 0) {
                     next.append(last.begin() + 1, last.end());
                     next.push_back(xt);
                   }
                   scf::YieldOp::create(tb, tl, next);
                 });
             for (int64_t j = 0; j < history; ++j)
               d.store(tokens.getResult(j), k.state, {b, c, d.idx(j)});
           });
         });
}

//===----------------------------------------------------------------------===//
// Selective state-space scan
//===----------------------------------------------------------------------===//

constexpr int64_t kScanWarps = 4;
/// Rows of a head's state per warp: 2 halves the blocks of a decode step's
/// scan (the 1.2B shape's 1024 to 512), and each token's b and c columns
/// are loaded once for both rows. On an H100 the int4 1.2B decode step at
/// batch 1 took 1.158-1.165 ms against 1.186-1.190 with one row, and
/// 1.152-1.155 against 1.164-1.172 in a second run (bench/gpu/ab.sh); in
/// the chain the scan cost 3.14 us against 3.38 (bench/gpu/trace.py). 4
/// rows gained less (1.016x in the first run, where 2 gained 1.024x; the
/// scan 3.54 us in its trace).
constexpr int64_t kScanRowsPerWarp = 2;

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
void emitScan(Emitter &e, const ScanKernel &k) {
  Value batch = e.dim(k.x, 0), seq = e.dim(k.x, 1);
  int64_t headsPerGroup = k.heads / k.groups;
  int64_t blockRows = kScanWarps * kScanRowsPerWarp;
  int64_t rowBlocks = (k.headDim + blockRows - 1) / blockRows;
  Type stateType = cast<MemRefType>(k.state.getType()).getElementType();
  gpu::LaunchOp kernel = launch(
      e, "ssd_scan", e.idx(k.heads * rowBlocks), batch, e.idx(1),
      kScanWarps * kWarp, [&](Emitter &d, gpu::LaunchOp op) {
        Value h = d.div(op.getBlockIds().x, d.idx(rowBlocks));
        Value b = op.getBlockIds().y;
        Value tid = op.getThreadIds().x;
        Value lane = d.rem(tid, d.idx(kWarp)), warp = d.div(tid, d.idx(kWarp));
        Value firstRow =
            d.mul(d.add(d.mul(d.rem(op.getBlockIds().x, d.idx(rowBlocks)),
                              d.idx(kScanWarps)),
                        warp),
                  d.idx(kScanRowsPerWarp));
        Value g = d.div(h, d.idx(headsPerGroup));
        auto loadHead = [&](Value m) {
          return toF32(
              d.b, d.loc,
              beforeWait(memref::LoadOp::create(d.b, d.loc, m, ValueRange{h})));
        };
        Value aLog = loadHead(k.aLog), dd = loadHead(k.d),
              bias = loadHead(k.dtBias);
        // The state columns of this lane; in a last, partial round of 32
        // a lane past N reads column N-1 and is masked (valid). Per row r
        // of the warp: its index p (the last one past P: `lives` false),
        // its place in x and y, and its columns' state at
        // state[r * perLane + i].
        int64_t perLane = (k.stateSize + kWarp - 1) / kWarp;
        SmallVector<Value> columns, valid, state, ps, lives, xCols;
        for (int64_t i = 0; i < perLane; ++i) {
          Value n = d.add(lane, d.idx(i * kWarp));
          bool partial = (i + 1) * kWarp > k.stateSize;
          valid.push_back(partial ? d.lt(n, d.idx(k.stateSize)) : Value());
          columns.push_back(partial ? d.min(n, d.idx(k.stateSize - 1)) : n);
        }
        for (int64_t r = 0; r < kScanRowsPerWarp; ++r) {
          Value row = d.add(firstRow, d.idx(r));
          Value p = d.min(row, d.idx(k.headDim - 1));
          ps.push_back(p);
          lives.push_back(d.lt(row, d.idx(k.headDim)));
          xCols.push_back(d.add(d.mul(h, d.idx(k.headDim)), p));
          for (int64_t i = 0; i < perLane; ++i)
            state.push_back(toF32(
                d.b, d.loc,
                beforeWait(memref::LoadOp::create(
                    d.b, d.loc, k.state, ValueRange{b, h, p, columns[i]}))));
        }
        Value a = arith::NegFOp::create(d.b, d.loc, d.exp(aLog));
        auto tokens = scf::ForOp::create(
            d.b, d.loc, d.idx(0), seq, d.idx(1), state,
            [&](OpBuilder &tb, Location tl, Value t, ValueRange s) {
              Emitter te{tb, tl};
              // dt' and the decay of token t.
              Value step = softplus(te.b, te.loc,
                                    te.fadd(te.load(k.dt, {b, t, h}), bias));
              if (k.dtMin)
                step = arith::MaximumFOp::create(te.b, te.loc, step,
                                                 te.f32(*k.dtMin));
              if (k.dtMax)
                step = arith::MinimumFOp::create(te.b, te.loc, step,
                                                 te.f32(*k.dtMax));
              Value decay = te.exp(te.fmul(step, a));
              SmallVector<Value> bs, cs;
              for (int64_t i = 0; i < perLane; ++i) {
                Value col = te.add(te.mul(g, te.idx(k.stateSize)), columns[i]);
                bs.push_back(te.load(k.b, {b, t, col}));
                cs.push_back(te.load(k.c, {b, t, col}));
              }
              SmallVector<Value> next;
              for (int64_t r = 0; r < kScanRowsPerWarp; ++r) {
                Value xv = te.load(k.x, {b, t, xCols[r]});
                Value gv = k.gate ? te.load(k.gate, {b, t, xCols[r]}) : Value();
                Value scaled = te.fmul(step, xv);
                Value partial = te.f32(0.0);
                for (int64_t i = 0; i < perLane; ++i) {
                  Value sNew = te.fadd(te.fmul(s[r * perLane + i], decay),
                                       te.fmul(scaled, bs[i]));
                  Value sum = te.fadd(partial, te.fmul(sNew, cs[i]));
                  partial = valid[i] ? arith::SelectOp::create(tb, tl, valid[i],
                                                               sum, partial)
                                           .getResult()
                                     : sum;
                  if (!stateType.isF32())
                    sNew = toF32(tb, tl, convertFloat(tb, tl, sNew, stateType));
                  next.push_back(sNew);
                }
                te.when(lives[r], [&] {
                  Value y = te.warpSum(partial);
                  te.when(te.eq(te.idx(0), lane), [&] {
                    Value out = te.fadd(te.fmul(dd, xv), y);
                    if (gv)
                      out = te.fmul(out, silu(te.b, te.loc, gv));
                    te.store(out, k.y, {b, t, xCols[r]});
                  });
                });
              }
              scf::YieldOp::create(tb, tl, next);
            });
        for (int64_t r = 0; r < kScanRowsPerWarp; ++r)
          d.when(lives[r], [&] {
            for (int64_t i = 0; i < perLane; ++i) {
              auto store = [&] {
                d.store(tokens.getResult(r * perLane + i), k.state,
                        {b, h, ps[r], columns[i]});
              };
              d.when(valid[i], store);
            }
          });
      });
  // The out_proj GEMV after the scan loads its weights during the scan.
  markEarlyTrigger(kernel);
}

//===----------------------------------------------------------------------===//
// Bufferization models
//===----------------------------------------------------------------------===//

/// A fresh identity-layout buffer for result `result`, its dynamic dims those
/// of `like` (same rank, same leading dims).
FailureOr<Value> allocateResult(RewriterBase &rewriter, Location loc,
                                Value result, Value like,
                                const BufferizationOptions &options) {
  auto type = cast<RankedTensorType>(result.getType());
  auto memType = MemRefType::get(type.getShape(), type.getElementType());
  SmallVector<Value> dynamic;
  for (int64_t i = 0; i < type.getRank(); ++i)
    if (type.isDynamicDim(i))
      dynamic.push_back(memref::DimOp::create(rewriter, loc, like, i));
  return options.createAlloc(rewriter, loc, memType, dynamic);
}

/// Shared by every model: all operands are read; `inPlaceResult` says which
/// operand is updated in place as which result.
template <typename Concrete, typename OpTy>
struct KernelModel : BufferizableOpInterface::ExternalModel<Concrete, OpTy> {
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *op, OpOperand &operand,
                               const AnalysisState &) const {
    return Concrete::inPlaceResult(cast<OpTy>(op), operand) >= 0;
  }
  AliasingValueList getAliasingValues(Operation *op, OpOperand &operand,
                                      const AnalysisState &) const {
    int result = Concrete::inPlaceResult(cast<OpTy>(op), operand);
    if (result < 0)
      return {};
    return {{op->getResult(result), BufferRelation::Equivalent,
             /*isDefinite=*/true}};
  }
  static int inPlaceResult(OpTy, OpOperand &) { return -1; }

  /// The buffers of the concrete model's `operands(op)` (a null value stays
  /// null), a fresh buffer for result 0 shaped like the first one, the
  /// kernels of `Concrete::emit`, and the op replaced by that buffer and the
  /// buffers of its in-place operands (`Concrete::inPlaceOperands`, in
  /// result order).
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto concrete = cast<OpTy>(op);
    SmallVector<Value> buf;
    for (Value v : Concrete::operands(concrete)) {
      if (!v) {
        buf.push_back(Value());
        continue;
      }
      FailureOr<Value> buffer = getBuffer(rewriter, v, options, state);
      if (failed(buffer))
        return failure();
      buf.push_back(*buffer);
    }
    FailureOr<Value> out = allocateResult(rewriter, op->getLoc(),
                                          op->getResult(0), buf[0], options);
    if (failed(out))
      return failure();
    Emitter e{rewriter, op->getLoc()};
    if (failed(Concrete::emit(e, concrete, buf, *out, options)))
      return failure();
    SmallVector<Value> results = {*out};
    for (unsigned i : Concrete::inPlaceOperands(concrete))
      results.push_back(buf[i]);
    replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
  static SmallVector<unsigned> inPlaceOperands(OpTy) { return {}; }
};

/// A buffer for result-like values: x's leading dims and `last`, f32
/// (identity layout).
FailureOr<Value> allocateRows(Emitter &e, Value x, int64_t last,
                              const BufferizationOptions &options) {
  auto xType = cast<MemRefType>(x.getType());
  SmallVector<int64_t> shape(xType.getShape().drop_back());
  shape.push_back(last);
  SmallVector<Value> dynamic;
  for (int64_t i = 0; i + 1 < xType.getRank(); ++i)
    if (xType.isDynamicDim(i))
      dynamic.push_back(e.dim(x, i));
  return options.createAlloc(e.b, e.loc,
                             MemRefType::get(shape, e.b.getF32Type()), dynamic);
}

/// The kernel-level norm prologue of `op` (operands 6, 7, 8 of `buf`: the
/// norm's weight, residual, gate), with a buffer for the normalised rows;
/// nullopt when the op has none.
FailureOr<std::optional<NormedInput>>
normedInputOf(Emitter &e, Operation *op, ArrayRef<Value> buf,
              const BufferizationOptions &options) {
  std::optional<NormPrologue> prologue = getNormPrologue(op);
  if (!prologue)
    return std::optional<NormedInput>();
  Value x = buf[0];
  FailureOr<Value> normed = allocateRows(
      e, x, cast<MemRefType>(x.getType()).getShape().back(), options);
  if (failed(normed))
    return failure();
  return std::optional<NormedInput>(
      NormedInput{{buf[6], buf[7], buf[8], prologue->eps, prologue->groups},
                  *normed,
                  /*write=*/true,
                  /*stageOneRow=*/false});
}

/// Sets `in.stageOneRow` when every one of `kernels` (an op's kernels, all
/// with `in` as their prologue) can normalise x while staging it.
void decideStaging(NormedInput &in, ArrayRef<LinearKernel> kernels) {
  in.stageOneRow = llvm::all_of(
      kernels, [](const LinearKernel &k) { return stagesNormalizedOneRow(k); });
}

/// emitLinear for an op of one kernel, `in` its norm prologue if any.
void emitLinearOp(Emitter &e, LinearKernel k, std::optional<NormedInput> &in) {
  if (in) {
    k.normed = &*in;
    decideStaging(*in, {k});
  }
  emitLinear(e, k);
}

/// The result that `operand` of `op` (linear, quant_linear) is updated in
/// place as: 1 for its convolution epilogue's state, else -1.
int convStateResult(Operation *op, OpOperand &operand) {
  return TypeSwitch<Operation *, int>(op)
      .Case<LinearOp, QuantLinearOp>([&](auto linear) {
        MutableOperandRange state = linear.getConvStateMutable();
        return state.size() == 1 && &state[0] == &operand ? 1 : -1;
      })
      .Default([](Operation *) { return -1; });
}

/// The operand (an index into a model's `operands` list, the epilogue's
/// operands from `first` on) that a linear op updates in place: its
/// convolution epilogue's state, if it has one.
SmallVector<unsigned> convStateOperand(Operation *op, unsigned first) {
  if (getConvEpilogue(op))
    return {first + 2};
  return {};
}

/// The kernel-level convolution epilogue of `op`, its weight, bias and
/// state at buf[first], buf[first + 1], buf[first + 2]; nullopt without
/// one.
std::optional<ConvEpilogueBuffers>
convEpilogueOf(Operation *op, ArrayRef<Value> buf, unsigned first) {
  std::optional<ConvEpilogue> conv = getConvEpilogue(op);
  if (!conv)
    return std::nullopt;
  ArrayRef<int64_t> w =
      cast<RankedTensorType>(conv->weight.getType()).getShape();
  return ConvEpilogueBuffers{buf[first],   buf[first + 1], buf[first + 2],
                             conv->offset, w[0],           w[2],
                             conv->silu};
}

/// linear, lora, lora_linear: operands (x, w, a, b, bias, base, the norm
/// prologue's weight, residual, gate, and a linear's convolution epilogue's
/// weight, bias, state).
template <typename OpTy>
struct LinearModel : KernelModel<LinearModel<OpTy>, OpTy> {
  static constexpr unsigned kFirstConvOperand = 9;
  static SmallVector<Value> operands(LinearOp op) {
    return {op.getInput(),
            op.getWeight(),
            {},
            {},
            op.getBias(),
            op.getBase(),
            op.getNormWeight(),
            op.getNormResidual(),
            op.getNormGate(),
            op.getConvWeight(),
            op.getConvBias(),
            op.getConvState()};
  }
  static int inPlaceResult(OpTy op, OpOperand &operand) {
    return convStateResult(op, operand);
  }
  static SmallVector<unsigned> inPlaceOperands(OpTy op) {
    return convStateOperand(op, kFirstConvOperand);
  }
  static SmallVector<Value> operands(LoRAOp op) {
    return {op.getInput(), {}, op.getA(), op.getB(), {}, op.getBase()};
  }
  static SmallVector<Value> operands(LoRALinearOp op) {
    return {op.getInput(),      op.getWeight(),       op.getA(),
            op.getB(),          op.getBias(),         {},
            op.getNormWeight(), op.getNormResidual(), op.getNormGate()};
  }

  static LogicalResult emit(Emitter &e, OpTy op, ArrayRef<Value> buf, Value out,
                            const BufferizationOptions &options) {
    Value x = buf[0];
    FailureOr<std::optional<NormedInput>> normed =
        normedInputOf(e, op, buf, options);
    if (failed(normed))
      return failure();
    std::optional<NormedInput> &in = *normed;
    if (!buf[2]) {
      LinearKernel k{{x, buf[1]}, std::nullopt, std::nullopt,
                     buf[4],      buf[5],       out};
      std::optional<ConvEpilogueBuffers> conv =
          convEpilogueOf(op, buf, kFirstConvOperand);
      if (conv)
        k.conv = &*conv;
      emitLinearOp(e, k, in);
      return success();
    }
    // The rank-r intermediate x A^T first (it writes the normalised rows
    // where they are needed; the main kernel reads them).
    FailureOr<Value> mid = allocateRows(
        e, x, cast<MemRefType>(buf[2].getType()).getShape()[0], options);
    if (failed(mid))
      return failure();
    LinearKernel down{{x, buf[2]}, std::nullopt, std::nullopt,
                      Value(),     Value(),      *mid};
    Product lora{*mid, buf[3]};
    LinearKernel up = buf[1] ? LinearKernel{{x, buf[1]}, std::nullopt, lora,
                                            buf[4],      buf[5],       out}
                             : LinearKernel{lora,   std::nullopt, std::nullopt,
                                            buf[4], buf[5],       out};
    // (Only lora_linear, which has W, takes a prologue.)
    std::optional<NormedInput> written;
    if (in) {
      down.normed = up.normed = &*in;
      decideStaging(*in, {down, up});
      written = in;
      written->write = false;
      up.normed = &*written;
    }
    emitLinear(e, down);
    emitLinear(e, up);
    return success();
  }
};

/// quant_linear: the linear kernel dequantizing inside its loop (operands
/// x, packed, scales, zeros, bias, base, the norm prologue's weight,
/// residual, gate, the adapter's input, packed, scales, zeros, and the
/// convolution epilogue's weight, bias, state). The adapter's product
/// mid B^T is summed in the same kernel, as lora_linear's.
struct QuantLinearModel : KernelModel<QuantLinearModel, QuantLinearOp> {
  static constexpr unsigned kFirstConvOperand = 13;
  static SmallVector<Value> operands(QuantLinearOp q) {
    return {q.getInput(),        q.getPacked(),        q.getScales(),
            q.getZeros(),        q.getBias(),          q.getBase(),
            q.getNormWeight(),   q.getNormResidual(),  q.getNormGate(),
            q.getAdapterInput(), q.getAdapterPacked(), q.getAdapterScales(),
            q.getAdapterZeros(), q.getConvWeight(),    q.getConvBias(),
            q.getConvState()};
  }
  static int inPlaceResult(QuantLinearOp op, OpOperand &operand) {
    return convStateResult(op, operand);
  }
  static SmallVector<unsigned> inPlaceOperands(QuantLinearOp op) {
    return convStateOperand(op, kFirstConvOperand);
  }
  static LogicalResult emit(Emitter &e, QuantLinearOp q, ArrayRef<Value> buf,
                            Value out, const BufferizationOptions &options) {
    FailureOr<std::optional<NormedInput>> normed =
        normedInputOf(e, q, buf, options);
    if (failed(normed))
      return failure();
    QuantWeights qw{buf[2], buf[3], static_cast<int64_t>(q.getBits()),
                    static_cast<int64_t>(q.getGroupSize()),
                    q.getScheme() == QuantScheme::symmetric};
    LinearKernel k{{buf[0], buf[1]}, qw, std::nullopt, buf[4], buf[5], out};
    if (buf[9]) {
      k.lora = Product{buf[9], buf[10]};
      k.loraQuant =
          QuantWeights{buf[11], buf[12], qw.bits, qw.groupSize, qw.isSigned};
    }
    std::optional<ConvEpilogueBuffers> conv =
        convEpilogueOf(q, buf, kFirstConvOperand);
    if (conv)
      k.conv = &*conv;
    emitLinearOp(e, k, *normed);
    return success();
  }
};

/// rms_norm: v = x (+ residual), normalised over the row.
struct RMSNormModel : KernelModel<RMSNormModel, RMSNormOp> {
  static SmallVector<Value> operands(RMSNormOp n) {
    return {n.getInput(), n.getResidual(), n.getWeight()};
  }
  static LogicalResult emit(Emitter &e, RMSNormOp n, ArrayRef<Value> buf,
                            Value out, const BufferizationOptions &) {
    emitRowNorm(e, {buf[2], buf[1], Value(), n.getEps().convertToDouble(), 1},
                buf[0], out);
    return success();
  }
};

/// gated_rms_norm: v = x silu(gate), normalised per group.
struct GatedRMSNormModel : KernelModel<GatedRMSNormModel, GatedRMSNormOp> {
  static SmallVector<Value> operands(GatedRMSNormOp n) {
    return {n.getInput(), n.getGate(), n.getWeight()};
  }
  static LogicalResult emit(Emitter &e, GatedRMSNormOp n, ArrayRef<Value> buf,
                            Value out, const BufferizationOptions &) {
    emitRowNorm(e,
                {buf[2], Value(), buf[1], n.getEps().convertToDouble(),
                 static_cast<int64_t>(n.getGroups())},
                buf[0], out);
    return success();
  }
};

/// attention: the caches are updated in place (k_cache -> new_k_cache,
/// v_cache -> new_v_cache).
struct AttentionModel : KernelModel<AttentionModel, AttentionOp> {
  static int inPlaceResult(AttentionOp op, OpOperand &operand) {
    unsigned n = operand.getOperandNumber();
    if (n == op.getKCacheMutable().getOperandNumber())
      return 1;
    if (n == op.getVCacheMutable().getOperandNumber())
      return 2;
    return -1;
  }
  static SmallVector<Value> operands(AttentionOp a) {
    return {a.getQ(),      a.getK(),      a.getV(),
            a.getKCache(), a.getVCache(), a.getPositions()};
  }
  static SmallVector<unsigned> inPlaceOperands(AttentionOp) { return {3, 4}; }
  static LogicalResult emit(Emitter &e, AttentionOp att, ArrayRef<Value> buf,
                            Value out, const BufferizationOptions &) {
    int64_t heads = att.getNumHeads();
    AttentionKernel a{
        buf[0],
        buf[1],
        buf[2],
        buf[3],
        buf[4],
        buf[5],
        out,
        heads,
        static_cast<int64_t>(att.getNumKvHeads()),
        cast<RankedTensorType>(att.getQ().getType()).getShape()[2] / heads,
        att.getScale().convertToDouble(),
        std::nullopt};
    if (std::optional<APFloat> theta = att.getRopeTheta())
      a.ropeTheta = theta->convertToDouble();
    if (a.heads != a.kvHeads) {
      emitCacheAppend(e, a);
      emitAttend(e, a, /*appendsToken=*/false);
      return success();
    }
    // One token per row (decode): one kernel appends and attends.
    auto ifOp = scf::IfOp::create(e.b, e.loc, e.lt(e.dim(a.q, 1), e.idx(2)),
                                  /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(e.b);
    e.b.setInsertionPointToStart(ifOp.thenBlock());
    emitAttend(e, a, /*appendsToken=*/true);
    e.b.setInsertionPointToStart(ifOp.elseBlock());
    emitCacheAppend(e, a);
    emitAttend(e, a, /*appendsToken=*/false);
    return success();
  }
};

/// causal_conv1d: the state is updated in place (operand 3 -> result 1).
struct ConvModel : KernelModel<ConvModel, CausalConv1dOp> {
  static int inPlaceResult(CausalConv1dOp op, OpOperand &operand) {
    return operand.getOperandNumber() == op.getStateMutable().getOperandNumber()
               ? 1
               : -1;
  }
  static SmallVector<Value> operands(CausalConv1dOp c) {
    return {c.getInput(), c.getWeight(), c.getBias(), c.getState()};
  }
  static SmallVector<unsigned> inPlaceOperands(CausalConv1dOp) { return {3}; }
  static LogicalResult emit(Emitter &e, CausalConv1dOp conv,
                            ArrayRef<Value> buf, Value out,
                            const BufferizationOptions &) {
    emitConv(e,
             {buf[0], buf[1], buf[2], buf[3], out,
              cast<RankedTensorType>(conv.getInput().getType()).getShape()[2],
              cast<RankedTensorType>(conv.getWeight().getType()).getShape()[2],
              conv.getSilu()});
    return success();
  }
};

/// ssd_scan and ssd_step: the state is updated in place (operand 4 ->
/// result 1).
template <typename OpTy> struct ScanModel : KernelModel<ScanModel<OpTy>, OpTy> {
  static int inPlaceResult(OpTy op, OpOperand &operand) {
    return operand.getOperandNumber() == op.getStateMutable().getOperandNumber()
               ? 1
               : -1;
  }
  static SmallVector<Value> operands(OpTy s) {
    return {s.getX(),    s.getDt(), s.getB(),      s.getC(),   s.getState(),
            s.getALog(), s.getD(),  s.getDtBias(), s.getGate()};
  }
  static SmallVector<unsigned> inPlaceOperands(OpTy) { return {4}; }
  static LogicalResult emit(Emitter &e, OpTy scan, ArrayRef<Value> buf, Value y,
                            const BufferizationOptions &) {
    auto xType = cast<RankedTensorType>(scan.getX().getType());
    int64_t heads =
        cast<RankedTensorType>(scan.getDt().getType()).getShape()[2];
    int64_t groups = scan.getGroups();
    ScanKernel k{buf[0],
                 buf[1],
                 buf[2],
                 buf[3],
                 buf[4],
                 buf[5],
                 buf[6],
                 buf[7],
                 y,
                 buf[8],
                 heads,
                 xType.getShape()[2] / heads,
                 groups,
                 cast<RankedTensorType>(scan.getB().getType()).getShape()[2] /
                     groups,
                 std::nullopt,
                 std::nullopt};
    if (auto attr = scan.getDtMin())
      k.dtMin = attr->convertToDouble();
    if (auto attr = scan.getDtMax())
      k.dtMax = attr->convertToDouble();
    emitScan(e, k);
    return success();
  }
};

/// gpu.barrier declares no memory effects, which the ownership-based buffer
/// deallocation refuses ("unknown memory side effects"); it orders the
/// block's reads and writes of workgroup memory, so say that.
/// Memory effects for ops that declare none, which the buffer
/// deallocation refuses: a barrier orders the block's reads and writes, and
/// a bulk prefetch must be neither dropped (it has no results) nor moved
/// (prefetchRows places it before the kernel's wait): both read and write.
template <typename OpTy>
struct ReadWriteEffects
    : MemoryEffectOpInterface::ExternalModel<ReadWriteEffects<OpTy>, OpTy> {
  void
  getEffects(Operation *,
             SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
                 &effects) const {
    effects.emplace_back(MemoryEffects::Read::get());
    effects.emplace_back(MemoryEffects::Write::get());
  }
};

} // namespace

bool mlir::zamba2::hasGpuKernel(Operation *op) {
  return isa<LinearOp, LoRAOp, LoRALinearOp, RMSNormOp, GatedRMSNormOp,
             AttentionOp, SSDScanOp, SSDStepOp, CausalConv1dOp, QuantLinearOp>(
      op);
}

void mlir::zamba2::registerGpuKernelModels(DialectRegistry &registry) {
  registry.insert<gpu::GPUDialect, vector::VectorDialect, memref::MemRefDialect,
                  scf::SCFDialect, math::MathDialect, LLVM::LLVMDialect,
                  NVVM::NVVMDialect>();
  registry.addExtension(+[](MLIRContext *ctx, Zamba2Dialect *) {
    LinearOp::attachInterface<LinearModel<LinearOp>>(*ctx);
    LoRAOp::attachInterface<LinearModel<LoRAOp>>(*ctx);
    LoRALinearOp::attachInterface<LinearModel<LoRALinearOp>>(*ctx);
    RMSNormOp::attachInterface<RMSNormModel>(*ctx);
    GatedRMSNormOp::attachInterface<GatedRMSNormModel>(*ctx);
    AttentionOp::attachInterface<AttentionModel>(*ctx);
    SSDScanOp::attachInterface<ScanModel<SSDScanOp>>(*ctx);
    SSDStepOp::attachInterface<ScanModel<SSDStepOp>>(*ctx);
    CausalConv1dOp::attachInterface<ConvModel>(*ctx);
    QuantLinearOp::attachInterface<QuantLinearModel>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, gpu::GPUDialect *) {
    gpu::BarrierOp::attachInterface<ReadWriteEffects<gpu::BarrierOp>>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, NVVM::NVVMDialect *) {
    NVVM::CpAsyncBulkPrefetchOp::attachInterface<
        ReadWriteEffects<NVVM::CpAsyncBulkPrefetchOp>>(*ctx);
  });
}
