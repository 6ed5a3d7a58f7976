//===- GpuSequenceKernels.cpp - attention, convolution and scan kernels ---===//
//
// attention -- one block of 8 warps per (query head, token): warp w takes
//   the cache entries w, w + 8, w + 16, ..., 4 of them per round (their
//   loads and warp sums independent), with an online softmax (running max,
//   f32); the warps' partial softmaxes are merged through workgroup memory.
//   Only the pos + t + 1 entries that exist are read; positions are read on
//   the device, so the host code does not depend on them (a captured CUDA
//   graph stays valid). The rotary embedding is folded in (angle in f64 as
//   on the CPU, cos and sin rounded to f32). With one token per row and as
//   many kv heads as query heads (decode), one kernel (attention_step)
//   appends the token to the caches itself and attends with its own copy of
//   the token's entry, the first round of older entries loaded before the
//   dependent-launch wait; otherwise a cache-append kernel
//   (attention_append, one thread per element) runs before the attention
//   kernel.
// causal_conv1d -- one thread per (batch row, channel), the window in
//   registers over the tokens (emitConv).
// ssd_scan, ssd_step -- one warp per 2 rows of a head's state, the state in
//   registers over the tokens (emitScan).
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernelEmitter.h"
#include "lowering/GpuKernels.h"

#include <limits>

using namespace mlir;
using namespace mlir::zamba2;
using namespace mlir::zamba2::lowering;
using namespace mlir::zamba2::gpukernels;

namespace {

/// Threads per block of the one-thread-per-element kernels.
constexpr int64_t kConvThreads = 256;

} // namespace

//===----------------------------------------------------------------------===//
// Attention
//===----------------------------------------------------------------------===//

namespace {

constexpr int64_t kAttentionWarps = 8;
/// Cache entries a warp of the attention kernel takes per iteration.
constexpr int64_t kAttentionEntries = 4;
/// Rounds of entries older than the token that the decode attention kernel
/// loads before its dependent-launch wait.
constexpr int64_t kAttentionEarlyRounds = 1;

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

} // namespace

void gpukernels::emitCacheAppend(Emitter &e, const AttentionKernel &a) {
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

void gpukernels::emitAttend(Emitter &e, const AttentionKernel &a,
                            bool appendsToken) {
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

ConvTaps gpukernels::loadConvTaps(Emitter &e, Value weight, Value bias,
                                  Value state, int64_t width, Value row,
                                  Value c, bool early, Value when) {
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

Value gpukernels::convolveToken(Emitter &e, const ConvTaps &taps,
                                ValueRange history, Value x, bool applySilu) {
  Value acc = taps.bias;
  for (auto [i, w] : llvm::enumerate(taps.w))
    acc = e.fadd(acc, e.fmul(w, i < history.size() ? history[i] : x));
  return applySilu ? silu(e.b, e.loc, acc) : acc;
}

void gpukernels::emitConv(Emitter &e, const ConvKernel &k) {
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

namespace {

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

} // namespace

SmallVector<Value> gpukernels::scanToken(Emitter &te, const ScanKernel &k,
                                         const ScanWarp &w, Value b, Value t,
                                         ValueRange s) {
  int64_t perLane = w.columns.size(), rows = w.xCols.size();
  // dt' and the decay of token t.
  Value step =
      softplus(te.b, te.loc, te.fadd(te.load(k.dt, {b, t, w.h}), w.bias));
  if (k.dtMin)
    step = arith::MaximumFOp::create(te.b, te.loc, step, te.f32(*k.dtMin));
  if (k.dtMax)
    step = arith::MinimumFOp::create(te.b, te.loc, step, te.f32(*k.dtMax));
  Value decay = te.exp(te.fmul(step, w.a));
  SmallVector<Value> bs, cs;
  for (int64_t i = 0; i < perLane; ++i) {
    Value col = te.add(te.mul(w.g, te.idx(k.stateSize)), w.columns[i]);
    bs.push_back(te.load(k.b, {b, t, col}));
    cs.push_back(te.load(k.c, {b, t, col}));
  }
  SmallVector<Value> next;
  for (int64_t r = 0; r < rows; ++r) {
    Value xv = te.load(k.x, {b, t, w.xCols[r]});
    Value gv = k.gate ? te.load(k.gate, {b, t, w.xCols[r]}) : Value();
    Value scaled = te.fmul(step, xv);
    Value partial = te.f32(0.0);
    for (int64_t i = 0; i < perLane; ++i) {
      Value sNew =
          te.fadd(te.fmul(s[r * perLane + i], decay), te.fmul(scaled, bs[i]));
      Value sum = te.fadd(partial, te.fmul(sNew, cs[i]));
      partial = w.valid[i] ? arith::SelectOp::create(te.b, te.loc, w.valid[i],
                                                     sum, partial)
                                 .getResult()
                           : sum;
      if (!w.stateType.isF32())
        sNew =
            toF32(te.b, te.loc, convertFloat(te.b, te.loc, sNew, w.stateType));
      next.push_back(sNew);
    }
    te.when(w.lives[r], [&] {
      Value y = te.warpSum(partial);
      te.when(te.eq(te.idx(0), w.lane), [&] {
        Value out = te.fadd(te.fmul(w.dd, xv), y);
        if (gv)
          out = te.fmul(out, silu(te.b, te.loc, gv));
        te.store(out, k.y, {b, t, w.xCols[r]});
      });
    });
  }
  return next;
}

void gpukernels::emitScan(Emitter &e, const ScanKernel &k) {
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
        ScanWarp w{h,     g,       lane, columns, valid,    xCols,
                   lives, Value(), dd,   bias,    stateType};
        w.a = arith::NegFOp::create(d.b, d.loc, d.exp(aLog));
        auto tokens = scf::ForOp::create(
            d.b, d.loc, d.idx(0), seq, d.idx(1), state,
            [&](OpBuilder &tb, Location tl, Value t, ValueRange s) {
              Emitter te{tb, tl};
              SmallVector<Value> next = scanToken(te, k, w, b, t, s);
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
