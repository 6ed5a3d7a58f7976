//===- GpuNormKernels.cpp - the RMS norm kernel and staged rows -----------===//
//
// rms_norm, gated_rms_norm -- a block of 1024 threads per row (per group):
//   sum of squares by a block reduction (shuffles, then one word per warp in
//   workgroup memory), then the scaled row. The norm's weights are loaded
//   before the dependent-launch wait where each thread has the same few (at
//   most 4), and v stays in registers between the two passes where a thread
//   has at most 8 values. The kernel lets the GEMV after it, which reads its
//   output, launch early (markEarlyTrigger).
// the norm prologue of the linear ops (zamba2-fuse-norm) -- the one-row
//   kernel normalises the row of x it stages in workgroup memory: with one
//   group it stages v * w and scales the product's sums by the 1/RMS (the
//   block's sum of squares rides on the staging's barrier); with several,
//   a block reduction per group, then each thread scales its own pieces.
//   With several rows, or where one of the op's one-row kernels cannot
//   normalise as it stages, the op's first kernel is the norm kernel above,
//   writing the normalised rows its products read.
// The staged row (StagedRow: x as f32, 16-byte pieces at swizzled slots)
// also serves the one-row quantized GEMV without a prologue.
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernelEmitter.h"
#include "lowering/GpuKernels.h"

#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <numeric>

using namespace mlir;
using namespace mlir::zamba2;
using namespace mlir::zamba2::lowering;
using namespace mlir::zamba2::gpukernels;

//===----------------------------------------------------------------------===//
// Block sums and row normalisation values
//===----------------------------------------------------------------------===//

namespace {

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

} // namespace

SmallVector<Value> NormBuffers::load(Emitter &e, Value x, ArrayRef<Value> row,
                                     Value c) const {
  SmallVector<Value> loaded;
  if (tail) {
    // Both pieces read at clamped columns, the one holding c selected:
    // no branch, and a load each in flight together.
    int64_t split = cast<MemRefType>(x.getType()).getShape().back();
    Value inX = e.lt(c, e.idx(split));
    Value head = e.load(x, with(row, e.min(c, e.idx(split - 1))));
    Value rest = e.load(
        tail, with(row, arith::SelectOp::create(e.b, e.loc, inX, e.idx(0),
                                                e.sub(c, e.idx(split)))));
    loaded.push_back(arith::SelectOp::create(e.b, e.loc, inX, head, rest));
  } else {
    loaded.push_back(e.load(x, with(row, c)));
  }
  for (Value m : {residual, gate})
    if (m)
      loaded.push_back(e.load(m, with(row, c)));
  return loaded;
}

SmallVector<Value> NormBuffers::load4(Emitter &e, Value x, ArrayRef<Value> row,
                                      Value first) const {
  assert(!tail && "a norm of two pieces reads element by element");
  SmallVector<Value> loaded;
  for (Value m : {x, residual, gate}) {
    if (!m)
      continue;
    Type elem = cast<MemRefType>(m.getType()).getElementType();
    Value v = vector::LoadOp::create(e.b, e.loc, VectorType::get({4}, elem), m,
                                     with(row, first),
                                     /*nontemporal=*/false, pieceAlign(m));
    loaded.push_back(toF32(e.b, e.loc, v));
  }
  return loaded;
}

Value NormBuffers::combine(Emitter &e, ArrayRef<Value> loaded) const {
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

//===----------------------------------------------------------------------===//
// x's row staged in workgroup memory
//===----------------------------------------------------------------------===//

namespace {

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

} // namespace

void gpukernels::stageRow(Emitter &e, Value x, ArrayRef<Value> row,
                          const StagedRow &staged, Value tid, int64_t threads) {
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

Value gpukernels::loadStaged(Emitter &e, const StagedRow &staged, Value first) {
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

namespace {

/// The maximum number of norm groups whose sums a staging thread keeps.
constexpr int64_t kMaxStagedNormGroups = 8;

} // namespace

bool gpukernels::stagesNormalizedRow(Value x, const NormedInput &in) {
  int64_t k = cast<MemRefType>(x.getType()).getShape().back();
  if (ShapedType::isDynamic(k) || k > kMaxStagedRow || k % 4 != 0 ||
      in.norm.groups > kMaxStagedNormGroups || (k / in.norm.groups) % 4 != 0)
    return false;
  for (Value m : {x, in.norm.residual, in.norm.gate, in.norm.weight})
    if (m && !innerContiguous(m))
      return false;
  return true;
}

SmallVector<Value> gpukernels::preloadNormWeights(Emitter &e,
                                                  const NormBuffers &n,
                                                  int64_t k, Value tid,
                                                  int64_t threads) {
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

Value gpukernels::stageNormalizedRow(Emitter &e, const NormBuffers &n, Value x,
                                     ArrayRef<Value> row,
                                     const StagedRow &staged, Value tid,
                                     int64_t threads, ArrayRef<Value> weights) {
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

//===----------------------------------------------------------------------===//
// Row normalisation
//===----------------------------------------------------------------------===//

namespace {

constexpr int64_t kNormThreads = 1024;
/// The most weights per thread the norm kernel loads before its wait.
constexpr int64_t kMaxPreloadedNormWeights = 4;
/// The most values v per thread the norm kernel keeps in registers between
/// its sum and its scaling (more are loaded and computed again).
constexpr int64_t kMaxKeptNormValues = 8;

} // namespace

void gpukernels::emitRowNorm(Emitter &e, const NormBuffers &n, Value x,
                             Value out) {
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
