//===- GpuLinearKernels.cpp - the GEMV kernels of the linear ops ----------===//
//
// linear, lora, lora_linear, quant_linear -- out[m, n] = sum_k x[m, k] w[n, k]
//   (+ a LoRA product, bias, residual). Two kernels, chosen at run time by
//   the row count: linear_r1 for one token row (decode at batch 1) and
//   linear_r8 for blocks of 8 rows (a weight row read once per 8 token
//   rows). Blocks of 4 warps (8 in rowSplit's wide form); a warp owns 1 to 4
//   output channels, and its 32 lanes walk the input channels in chunks of
//   the weight rows (coalesced), loading each chunk of x once for the warp's
//   channels and each chunk of weights once for the block's rows. A lane
//   keeps an accumulator per (row, channel) pair; one tree of xor shuffles
//   (warpSumsSpread) leaves each pair's sum in lanes of its own, the first
//   of which adds the bias and residual (and convolves) and stores it, the
//   pairs at once.
//   - one row, float weights: one channel per warp, 16-byte chunks where the
//     row allows;
//   - one row, integer weights (the contiguous form): 16 contiguous bytes of
//     a packed row per lane step, whose fields become floats two at a time
//     (integerFields); x staged in workgroup memory (StagedRow, rows of at
//     most 8192) with 2 channels per warp, else 4. With at most 1024
//     channels (2048 for rows of 4096 or more) and no adapter or
//     convolution, a staged row is split over two warps (rowSplit);
//   - 8 rows: 4 channels per warp for float weights, 2 for integers, whose
//     lanes read 32-bit words interleaved across the warp.
//   The first iteration's weight loads are issued before the
//   dependent-launch wait where every lane has a whole one (preloadWeights),
//   and so are the one-row kernel's bias and adapter weights. A LoRA term
//   (x A^T) B^T: x A^T is a linear kernel of its own, and the kernel of
//   x W^T adds the second product into the same accumulators (one
//   reduction). A norm prologue (zamba2-fuse-norm) is normalised as x is
//   staged, or read from the norm kernel's output (GpuNormKernels.cpp). A
//   convolution epilogue (zamba2-fuse-conv) is convolved by the one-row
//   kernel's lanes, and after the 8-row kernel by the convolution's kernel,
//   in place. zamba2-prefetch-weights adds a bulk L2 prefetch of each block's
//   weight rows (prefetchRows).
// linear_scan_r1 -- the staged one-row quantized kernel of a Mamba in_proj
//   with the scan of its pieces folded in (zamba2-fuse-scan, ScanFold):
//   blocks take tickets; the first compute b, c and dt and count themselves
//   done (release), each other one the z and x channels of 4 rows of a head
//   and, once the count is complete (acquire), those rows' scan
//   (foldBlockOf, emitFoldedScan).
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernelEmitter.h"
#include "lowering/GpuKernels.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::zamba2;
using namespace mlir::zamba2::lowering;
using namespace mlir::zamba2::gpukernels;

namespace {

//===----------------------------------------------------------------------===//
// A lane's loop over the weight rows; float weights
//===----------------------------------------------------------------------===//

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

//===----------------------------------------------------------------------===//
// Integer weights (quant_linear)
//===----------------------------------------------------------------------===//

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

/// A vector of i32 `v` (the bits of a uint32_t).
Value i32Splat(OpBuilder &b, Location loc, VectorType type, uint32_t v) {
  return splatConst(b, loc, type, b.getI32IntegerAttr(int32_t(v)));
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
  auto intSplat = [&](uint32_t v) { return i32Splat(b, loc, wordVec, v); };
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

//===----------------------------------------------------------------------===//
// Integer tensor cores (the one-row int4 GEMV)
//===----------------------------------------------------------------------===//
//
// mma.sync m16n8k32 with s8 A and B: a warp multiplies 16 channels' weights
// (A, 16 x 32) by 8 columns of x's digits (B, 32 x 8) into exact s32 sums.
// - x: the staged row is cut into blocks of 64 elements; each block gets a
//   power of two 2^e that takes its largest |x| to [2^29, 2^30), and X = x 2^e
//   rounded to an integer is written in four balanced base-256 digits,
//   X = d0 + 256 d1 + 65536 d2 + 2^24 d3, each in [-128, 127] (MmaDigits).
// - A warp step covers 16 channels x 256 weights (kMmaSlice): lane 4 g + t
//   loads 16 bytes of channel g's slice and 16 of channel g + 8's at bytes
//   16 t and 64 + 16 t (two 64-byte runs a channel, whole sectors), so its
//   words j = 0, 1 hold weights [128 j + 32 t, 128 j + 32 t + 32) of the
//   slice: all of 64-element group 2 j + t / 2. A step of word i of j is one
//   mma: A's registers are the word's even and odd nibbles times 16 (in the
//   high nibble of each byte: a signed byte, no sign extension), so the
//   mma's 32 columns of K are weights 128 j + 32 t + 8 i .. + 7 of the
//   slice for t = 0..3, two groups; B's column c (c < 4: the first group's
//   digit c, c >= 4: the second group's digit c - 4) is zero in the rows of the
//   other group. Four words accumulate one group's digit sums per column (at
//   most 64 * 128 * 128 = 2^20: exact), and lane t's C holds digits 2 (t % 2)
//   and 2 (t % 2) + 1 of group 2 j + t / 2 for channels g and g + 8.
// - The lane and its partner (t xor 1) make the group's sum S = sum q X
//   exactly in 64 bits (16 S), which is rounded to f32 once and scaled by the
//   group's scale and 2^-e / 16.
// So every product and group sum of q and X is exact, and only the scaling
// and the sum over groups round. X keeps 30 bits of x relative to its
// block's largest |x|: an element below 2^-6 of that keeps fewer than f32's
// 24, but its error (at most 2^-30 of the largest) is below the rounding of
// the f32 products and sums the other forms make (2^-24 of each). A NaN or
// infinity in a block of x makes its sums NaN (where the other forms give
// an infinity its sign). The packed layout is the one the
// other kernels read (row-major, nibble j of a word its weight j): the
// mapping of K to the mma's columns is the same for A and B, and a sum does
// not depend on the order of its terms.

/// Channels a warp's mma tile covers, and weights of a row a warp step covers.
constexpr int64_t kMmaChannels = 16, kMmaSlice = 256;
/// Elements of x that share a power of two (and the digit planes' blocks);
/// quantization groups are whole blocks.
constexpr int64_t kMmaBlock = 64;
/// The longest row the tensor-core form takes: 8 slices, one a warp. (A
/// form that gave 8 warps two slices each took rows of 4096; on an H100 the
/// 1.2B out_proj, 4096 wide, cost 4.1-4.2 us in the step so, against 3.6 in
/// rowSplit's form.)
constexpr int64_t kMaxMmaRow = 2048;
/// The fewest channels the tensor-core form takes: with fewer than 64 blocks
/// of 16 channels (the adapters' x A^T, 128 wide), the other forms' more,
/// smaller warps measured faster (H100, 1.2B step: 1.3-1.9 us against
/// 1.4-2.4).
constexpr int64_t kMinMmaChannels = 1024;
/// Tiles of 16 channels a block takes once a grid of one tile a block has
/// at least this many blocks (two an SM on 132 SMs): two, halving the
/// blocks, so that the grid is one wave and leaves registers for the next
/// kernel's blocks to start their early loads (the 1.2B in_proj, 532 blocks
/// of one tile at 64 registers, 4 an SM: the scan after it cost 3.3-3.5 us
/// in the step instead of 2.2, which took back what the in_proj saved).
constexpr int64_t kMmaTwoTileBlocks = 264;

/// Whether the module being built into carries the unit attribute `name`
/// (set by a pass to ask for a form of the kernels).
bool moduleAsks(OpBuilder &b, StringRef name) {
  auto module =
      b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  return module && module->hasAttr(name);
}

/// Warps a block of the tensor-core form: one a slice of the row (at most
/// kMaxMmaRow / kMmaSlice = 8). (Fewer warps, each on several slices, held
/// 16 registers of weights a slice and tile: a row of 7 slices in one warp
/// took 255 registers and spilled.)
int64_t mmaWarps(const LinearKernel &k) {
  return cast<MemRefType>(k.main.x.getType()).getShape().back() / kMmaSlice;
}

/// Tiles of 16 channels a block of the tensor-core form takes for `k`
/// (kMmaTwoTileBlocks).
int64_t mmaTiles(const LinearKernel &k) {
  int64_t channels = cast<MemRefType>(k.out.getType()).getShape().back();
  return llvm::divideCeil(channels, kMmaChannels) >= kMmaTwoTileBlocks ? 2 : 1;
}

/// Weights of the adapter's B a lane of the tensor-core form takes: 16
/// bytes of int4.
constexpr int64_t kMmaAdapterChunk = 32;

/// How a block of the tensor-core form adds the adapter product
/// (x A^T) B^T: each warp takes `channels` of the block's channels, a lane
/// one chunk (kMmaAdapterChunk weights) of a channel's B row, `chunks`
/// lanes a row.
struct MmaAdapterPlan {
  int64_t channels, chunks;
};

/// The plan for `k`'s adapter product in the tensor-core form; none where
/// it does not fit one: x A^T in f32, B symmetric int4 without zero points,
/// rows of whole chunks within groups, a power of two of them, and the
/// block's channels spread evenly over its warps, a lane for each (channel,
/// chunk).
std::optional<MmaAdapterPlan> mmaAdapterPlan(const LinearKernel &k) {
  if (!k.lora || !k.loraQuant)
    return std::nullopt;
  const QuantWeights &qw = *k.loraQuant;
  auto midType = cast<MemRefType>(k.lora->x.getType());
  int64_t rank = midType.getShape().back();
  int64_t warps = mmaWarps(k), block = kMmaChannels * mmaTiles(k);
  if (qw.bits != 4 || !qw.isSigned || qw.zeros || ShapedType::isDynamic(rank) ||
      rank % kMmaAdapterChunk != 0 || qw.groupSize % kMmaAdapterChunk != 0 ||
      !vectorizable(*k.lora) || !rowsAligned16(k.lora->w) ||
      !midType.getElementType().isF32() || warps < 1 || block % warps != 0)
    return std::nullopt;
  MmaAdapterPlan plan{block / warps, rank / kMmaAdapterChunk};
  if (!llvm::isPowerOf2_64(plan.chunks) || plan.channels * plan.chunks > kWarp)
    return std::nullopt;
  return plan;
}

/// Whether the one-row kernel of `k` takes the tensor-core form: symmetric
/// int4 without zero points in groups of whole 64-element blocks, rows of
/// whole 256-weight slices up to kMaxMmaRow, at least kMinMmaChannels
/// channels, an adapter product only where mmaAdapterPlan has a plan for
/// it, and no folded scan.
bool mmaQuantForm(OpBuilder &b, const LinearKernel &k) {
  if (!k.quant || k.scanFold || !moduleAsks(b, kInt4MmaAttr))
    return false;
  const QuantWeights &qw = *k.quant;
  int64_t length = cast<MemRefType>(k.main.x.getType()).getShape().back();
  int64_t channels = cast<MemRefType>(k.out.getType()).getShape().back();
  if (!(qw.bits == 4 && qw.isSigned && !qw.zeros &&
        !ShapedType::isDynamic(channels) && channels >= kMinMmaChannels &&
        qw.groupSize % kMmaBlock == 0 && !ShapedType::isDynamic(length) &&
        length % kMmaSlice == 0 && length <= kMaxMmaRow &&
        vectorizable(k.main) && rowsAligned16(k.main.w)))
    return false;
  return !k.lora || mmaAdapterPlan(k);
}

/// x's digits in workgroup memory. `planes`, vector<2xi32> [K / 2]: plane d
/// (elements [d K / 8, (d + 1) K / 8)) holds digit d of each element of x,
/// an element (8 bytes) an 8-element word of x: its even elements' digits,
/// then its odd ones' (the bytes of A's registers: a word's even nibbles,
/// then its odd ones). `inverses`, i32 [K / 64]: 2^-e of each 64-element
/// block, as f32 bits. (memref loads and stores of vector elements, which
/// the NVVM lowering maps to the shared address space, as StagedRow's.)
struct MmaDigits {
  Value planes, inverses;
  int64_t length;
};

Value i32Const(Emitter &e, int64_t v) {
  return arith::ConstantIntOp::create(e.b, e.loc, e.b.getI32Type(), v);
}

Value toI32(Emitter &e, Value index) {
  return arith::IndexCastOp::create(e.b, e.loc, e.b.getI32Type(), index);
}

/// The digits of the staged row (its pieces 2: 8 elements a read), by the
/// block's `threads` threads, each on its K / 8 / threads words (8
/// consecutive threads share a block: the maximum is three shuffles), then
/// a barrier. `threads` divides K / 8 (mmaWarps).
MmaDigits stageMmaDigits(Emitter &d, const StagedRow &staged, int64_t length,
                         Value tid, int64_t threads) {
  OpBuilder &b = d.b;
  Location loc = d.loc;
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  auto i32x2 = VectorType::get({2}, i32);
  MmaDigits digits{workgroupArray(d, length / 2, i32x2),
                   workgroupArray(d, length / kMmaBlock, i32), length};
  auto f32x8 = VectorType::get({8}, f32);
  auto i32x8 = VectorType::get({8}, i32);
  auto i8x32 = VectorType::get({32}, b.getI8Type());
  int64_t words = length / 8;
  assert(words % threads == 0 && "every thread stages whole words");
  for (int64_t j = 0; j < words / threads; ++j) {
    Value word = d.add(tid, d.idx(j * threads));
    Value x = loadStaged(d, staged, d.mul(word, d.idx(8)));
    // The block's largest |x| (8 words, 8 consecutive threads).
    Value m =
        vector::ReductionOp::create(b, loc, vector::CombiningKind::MAXIMUMF,
                                    math::AbsFOp::create(b, loc, x));
    for (int32_t offset : {1, 2, 4})
      m = d.fmax(m, gpu::ShuffleOp::create(b, loc, m, offset, kWarp,
                                           gpu::ShuffleMode::XOR)
                        .getShuffleResult());
    // e = 29 - exponent(m), at most 126 (m below 2^-97, or zero); m's
    // exponent is at most 128 (an infinity or NaN), so e >= -99 and both
    // 2^e and 2^-e are normal floats.
    Value exponent = arith::SubIOp::create(
        b, loc,
        arith::ShRUIOp::create(b, loc, arith::BitcastOp::create(b, loc, i32, m),
                               i32Const(d, 23)),
        i32Const(d, 127));
    Value e = arith::MinSIOp::create(
        b, loc, arith::SubIOp::create(b, loc, i32Const(d, 29), exponent),
        i32Const(d, 126));
    auto powerOfTwo = [&](Value biased) {
      return arith::BitcastOp::create(
          b, loc, f32, arith::ShLIOp::create(b, loc, biased, i32Const(d, 23)));
    };
    Value scale =
        powerOfTwo(arith::AddIOp::create(b, loc, e, i32Const(d, 127)));
    // A NaN or infinity in the block makes 2^-e NaN (m - m), so that the
    // block's sums are NaN, as in the other forms.
    Value inverse =
        d.fmul(powerOfTwo(arith::SubIOp::create(b, loc, i32Const(d, 127), e)),
               d.fadd(arith::SubFOp::create(b, loc, m, m), d.f32(1.0)));
    // X = round(x 2^e) (|X| <= 2^30); its bytes after adding 128 to digits
    // 0..2 are d + 128 for d0..d2 and d3 itself, so flipping bit 7 of bytes
    // 0..2 leaves the balanced digits as signed bytes.
    Value big = arith::FPToSIOp::create(
        b, loc, i32x8,
        math::RoundEvenOp::create(
            b, loc,
            d.fmul(x, vector::BroadcastOp::create(b, loc, f32x8, scale))));
    Value balanced = arith::XOrIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc, big,
                              i32Splat(d.b, d.loc, i32x8, 0x00808080u)),
        i32Splat(d.b, d.loc, i32x8, 0x00808080u));
    // Byte p of element i goes to plane p: the even elements' bytes, then
    // the odd ones'.
    SmallVector<int64_t> order;
    for (int64_t plane = 0; plane < 4; ++plane)
      for (int64_t half = 0; half < 2; ++half)
        for (int64_t i = 0; i < 4; ++i)
          order.push_back((2 * i + half) * 4 + plane);
    Value bytes = vector::BitCastOp::create(b, loc, i8x32, balanced);
    Value planes = vector::BitCastOp::create(
        b, loc, i32x8, vector::ShuffleOp::create(b, loc, bytes, bytes, order));
    for (int64_t plane = 0; plane < 4; ++plane) {
      Value pair = vector::ShuffleOp::create(
          b, loc, planes, planes, ArrayRef<int64_t>{2 * plane, 2 * plane + 1});
      memref::StoreOp::create(b, loc, pair, digits.planes,
                              d.add(d.idx(plane * length / 8), word));
    }
    d.when(d.eq(d.rem(word, d.idx(kMmaBlock / 8)), d.idx(0)), [&] {
      memref::StoreOp::create(
          b, loc, arith::BitcastOp::create(b, loc, i32, inverse),
          digits.inverses, d.div(word, d.idx(kMmaBlock / 8)));
    });
  }
  gpu::BarrierOp::create(b, loc);
  return digits;
}

/// A lane's loads of one slice of the tensor-core form, before the kernel's
/// dependent-launch wait: for channels g and g + 8 of the tile (`rows`), the
/// 16 bytes at 16 t and 64 + 16 t of the slice (as vector<4xi32>), and the
/// scales of their groups, [r * 2 + j] each.
struct MmaSliceLoads {
  SmallVector<Value> words, scales;
};

MmaSliceLoads loadMmaSlice(Emitter &d, const Product &p, const QuantWeights &qw,
                           ArrayRef<Value> rows, Value slice, Value t) {
  OpBuilder &b = d.b;
  auto byteVec = VectorType::get({16}, b.getI8Type());
  auto wordVec = VectorType::get({4}, b.getI32Type());
  MmaSliceLoads loads;
  Value base = d.mul(slice, d.idx(kMmaSlice));
  for (Value row : rows)
    for (int64_t j = 0; j < 2; ++j) {
      // Weights 128 j + 32 t .. + 31 of the slice: bytes half of that.
      Value first = d.add(base, d.add(d.idx(128 * j), d.mul(t, d.idx(32))));
      Operation *w = vector::LoadOp::create(
          b, d.loc, byteVec, p.w, ValueRange{row, d.div(first, d.idx(2))},
          /*nontemporal=*/false, llvm::MaybeAlign(16));
      Operation *s = memref::LoadOp::create(
          b, d.loc, qw.scales,
          ValueRange{row, d.div(first, d.idx(qw.groupSize))});
      markBeforeWait(w);
      markBeforeWait(s);
      loads.words.push_back(
          vector::BitCastOp::create(b, d.loc, wordVec, w->getResult(0)));
      loads.scales.push_back(s->getResult(0));
    }
  return loads;
}

/// The tile's channels (g and g + 8 of the block's 16 from `firstChannel`,
/// the last channel past the end) of a lane of the tensor-core form.
SmallVector<Value> mmaRows(Emitter &d, Value firstChannel, Value lane,
                           Value n) {
  Value g = d.div(lane, d.idx(4));
  Value last = d.sub(n, d.idx(1));
  return {d.min(d.add(firstChannel, g), last),
          d.min(d.add(firstChannel, d.add(g, d.idx(8))), last)};
}

/// The lane's part of its warp's slice (`part`) of the tensor-core form:
/// the mmas of its 8 words and the groups' sums scaled (see the section's
/// comment); returns the sums of channels g and g + 8 over the slice, the
/// same in the 4 lanes of g. `loads`: the slice's loads (loadMmaSlice, before
/// the wait).
std::pair<Value, Value> mmaSums(Emitter &d, const MmaDigits &digits, Value lane,
                                Value slice, const MmaSliceLoads &loads) {
  OpBuilder &b = d.b;
  Location loc = d.loc;
  MLIRContext *ctx = b.getContext();
  Type i32 = b.getI32Type(), i64 = b.getI64Type(), f32 = b.getF32Type();
  auto i32x2 = VectorType::get({2}, i32);
  Value g = d.div(lane, d.idx(4)), t = d.rem(lane, d.idx(4));
  // B's column g: digit g % 4 of the group of lanes t with t / 2 == g / 4.
  Value active = d.eq(d.div(g, d.idx(4)), d.div(t, d.idx(2)));
  Value planeBase = d.mul(d.rem(g, d.idx(4)), d.idx(digits.length / 8));
  Value zeroPair = i32Splat(d.b, d.loc, i32x2, 0);
  auto mmaType = LLVM::LLVMStructType::getLiteral(ctx, {i32, i32, i32, i32});
  Value sums[2] = {d.f32(0.0), d.f32(0.0)};
  for (int64_t j = 0; j < 2; ++j) {
    // Weights 32 t + 128 j of the slice on (group 2 j + t / 2).
    Value first = d.add(d.mul(slice, d.idx(kMmaSlice)),
                        d.add(d.idx(128 * j), d.mul(t, d.idx(32))));
    Value c[4];
    for (Value &v : c)
      v = i32Const(d, 0);
    for (int64_t i = 0; i < 4; ++i) {
      SmallVector<Value> a(4);
      for (int64_t r = 0; r < 2; ++r) {
        Value word =
            vector::ExtractOp::create(b, loc, loads.words[r * 2 + j], i);
        // Odd nibbles in place, even ones shifted up: each times 16.
        a[2 + r] = arith::AndIOp::create(b, loc, word,
                                         i32Const(d, int32_t(0xF0F0F0F0u)));
        a[r] = arith::AndIOp::create(
            b, loc, arith::ShLIOp::create(b, loc, word, i32Const(d, 4)),
            i32Const(d, int32_t(0xF0F0F0F0u)));
      }
      Value at = d.add(planeBase, d.div(d.add(first, d.idx(8 * i)), d.idx(8)));
      Value pair = arith::SelectOp::create(
          b, loc, active,
          memref::LoadOp::create(b, loc, digits.planes, ValueRange{at}),
          zeroPair);
      SmallVector<Value> bOps = {vector::ExtractOp::create(b, loc, pair, 0),
                                 vector::ExtractOp::create(b, loc, pair, 1)};
      auto mma = NVVM::MmaOp::create(
          b, loc, mmaType, a, bOps, ArrayRef<Value>(c, 4),
          ArrayRef<int64_t>{16, 8, 32}, std::nullopt,
          NVVM::MMAIntOverflow::wrapped,
          std::array<NVVM::MMATypes, 2>{NVVM::MMATypes::s8, NVVM::MMATypes::s8},
          std::array<NVVM::MMALayout, 2>{NVVM::MMALayout::row,
                                         NVVM::MMALayout::col});
      for (int64_t r = 0; r < 4; ++r)
        c[r] = LLVM::ExtractValueOp::create(b, loc, mma.getResult(),
                                            ArrayRef<int64_t>{r});
    }
    Value inverse = arith::BitcastOp::create(
        b, loc, f32,
        memref::LoadOp::create(b, loc, digits.inverses,
                               d.div(first, d.idx(kMmaBlock))));
    // 2^-e / 16 (A's nibbles are 16 q): exact (2^-130 at e = 126 is
    // subnormal, which the kernels do not flush).
    inverse = d.fmul(inverse, d.f32(1.0 / 16));
    Value odd = d.eq(d.rem(t, d.idx(2)), d.idx(1));
    for (int64_t r = 0; r < 2; ++r) {
      // This lane's two digits' sums, and its partner's.
      Value own = arith::AddIOp::create(
          b, loc, c[2 * r],
          arith::ShLIOp::create(b, loc, c[2 * r + 1], i32Const(d, 8)));
      Value other =
          gpu::ShuffleOp::create(b, loc, own, 1, kWarp, gpu::ShuffleMode::XOR)
              .getShuffleResult();
      Value low = arith::SelectOp::create(b, loc, odd, other, own);
      Value high = arith::SelectOp::create(b, loc, odd, own, other);
      Value sum = arith::AddIOp::create(
          b, loc, arith::ExtSIOp::create(b, loc, i64, low),
          arith::ShLIOp::create(b, loc,
                                arith::ExtSIOp::create(b, loc, i64, high),
                                arith::ConstantIntOp::create(b, loc, i64, 16)));
      Value scaled = d.fmul(d.fmul(arith::SIToFPOp::create(b, loc, f32, sum),
                                   toF32(b, loc, loads.scales[r * 2 + j])),
                            inverse);
      sums[r] = d.fadd(sums[r], scaled);
    }
  }
  // Lanes t and t xor 2 hold the slice's other two groups.
  for (Value &sum : sums)
    sum = d.fadd(sum, gpu::ShuffleOp::create(b, loc, sum, 2, kWarp,
                                             gpu::ShuffleMode::XOR)
                          .getShuffleResult());
  return {sums[0], sums[1]};
}

/// The warp's channel sums of mmaSums (one pair a tile) in the layout of
/// warpSumsSpread for 16 pairs a tile: lane l holds channel c = l / (32 /
/// pairs) of the block, which lane 4 (c mod 8) of tile c / 16 holds as its
/// first (c mod 16 < 8) or second sum.
Value mmaSpread(Emitter &d, ArrayRef<std::pair<Value, Value>> tiles,
                Value lane) {
  OpBuilder &b = d.b;
  int64_t pairs = kMmaChannels * static_cast<int64_t>(tiles.size());
  Value c = d.div(lane, d.idx(kWarp / pairs));
  Value inTile = d.rem(c, d.idx(kMmaChannels));
  Value from = toI32(d, d.mul(d.rem(inTile, d.idx(8)), d.idx(4)));
  Value width = i32Const(d, kWarp);
  auto take = [&](Value v) {
    return gpu::ShuffleOp::create(b, d.loc, v, from, width,
                                  gpu::ShuffleMode::IDX)
        .getShuffleResult();
  };
  Value firstHalf = d.lt(inTile, d.idx(8));
  Value v;
  for (size_t i = 0; i < tiles.size(); ++i) {
    Value first = take(tiles[i].first), second = take(tiles[i].second);
    Value own = arith::SelectOp::create(b, d.loc, firstHalf, first, second);
    v = i == 0 ? own
               : arith::SelectOp::create(
                     b, d.loc, d.eq(d.div(c, d.idx(kMmaChannels)), d.idx(i)),
                     own, v)
                     .getResult();
  }
  return v;
}

/// A lane's loads of the adapter's B in the tensor-core form, before the
/// dependent-launch wait (mmaAdapterPlan): 16 bytes of the row of one of
/// its warp's channels (as vector<4xi32>) and their group's scale. Lanes
/// past the plan's (channel, chunk) pairs load a lower lane's bytes again
/// (the same sectors) and their sums go unused.
struct MmaAdapterLoads {
  Value words, scale, chunk;
};

MmaAdapterLoads loadMmaAdapter(Emitter &d, const LinearKernel &k,
                               const MmaAdapterPlan &plan, Value firstChannel,
                               Value warp, Value lane, Value n) {
  OpBuilder &b = d.b;
  Value slot = d.rem(lane, d.idx(plan.channels * plan.chunks));
  Value channel =
      d.min(d.add(firstChannel, d.add(d.mul(warp, d.idx(plan.channels)),
                                      d.div(slot, d.idx(plan.chunks)))),
            d.sub(n, d.idx(1)));
  Value chunk = d.rem(slot, d.idx(plan.chunks));
  Value first = d.mul(chunk, d.idx(kMmaAdapterChunk));
  Operation *w = vector::LoadOp::create(
      b, d.loc, VectorType::get({16}, b.getI8Type()), k.lora->w,
      ValueRange{channel, d.div(first, d.idx(2))}, /*nontemporal=*/false,
      llvm::MaybeAlign(16));
  Operation *s = memref::LoadOp::create(
      b, d.loc, k.loraQuant->scales,
      ValueRange{channel, d.div(first, d.idx(k.loraQuant->groupSize))});
  markBeforeWait(w);
  markBeforeWait(s);
  return {vector::BitCastOp::create(
              b, d.loc, VectorType::get({4}, b.getI32Type()), w->getResult(0)),
          s->getResult(0), chunk};
}

/// The adapter product of the block's channels in mmaSpread's layout for
/// `pairs` channels: lane l has channel l / (32 / pairs)'s where that channel
/// is one of its warp's (mmaAdapterPlan), else 0. A lane's chunk is
/// multiplied by its 32 elements of x A^T (`row`: the indices of its leading
/// dimensions) as accumulateQuantStep does, and added to its row's other
/// chunks'.
Value mmaAdapterSums(Emitter &d, const LinearKernel &k,
                     const MmaAdapterPlan &plan, const MmaAdapterLoads &loads,
                     ArrayRef<Value> row, Value warp, Value lane,
                     int64_t pairs) {
  OpBuilder &b = d.b;
  Location loc = d.loc;
  Type f32 = b.getF32Type();
  auto f32x4 = VectorType::get({4}, f32);
  llvm::MaybeAlign xAlign(rowsAligned16(k.lora->x) ? 16 : 4);
  // x A^T's elements [32 chunk, 32 chunk + 32), then the fields of the
  // chunk's words: field j of word i is weight 8 i + j, so it meets element
  // 8 i + j (columns[j], lane i).
  Value first = d.mul(loads.chunk, d.idx(kMmaAdapterChunk));
  SmallVector<Value> elements; // 8 vectors of 4
  for (int64_t m = 0; m < kMmaAdapterChunk / 4; ++m)
    elements.push_back(vector::LoadOp::create(
        b, loc, f32x4, k.lora->x, with(row, d.add(first, d.idx(4 * m))),
        /*nontemporal=*/false, xAlign));
  // The quantized forms' step on the chunk's 4 words (one channel).
  SmallVector<Value> sum = {d.f32(0.0)};
  Value scale =
      vector::BroadcastOp::create(b, loc, f32x4, toF32(b, loc, loads.scale));
  accumulateQuantStep(
      d, *k.loraQuant, loads.words, /*zeros=*/Value(), scale, /*rows=*/1,
      [&](size_t) {
        SmallVector<Value> columns;
        for (int64_t j = 0; j < 8; ++j) {
          SmallVector<Value> column;
          for (int64_t i = 0; i < 4; ++i)
            column.push_back(vector::ExtractOp::create(
                b, loc, elements[(8 * i + j) / 4], (8 * i + j) % 4));
          columns.push_back(
              vector::FromElementsOp::create(b, loc, f32x4, column));
        }
        return columns;
      },
      sum);
  Value rowSum = d.warpSum(sum[0], plan.chunks);
  // Lane l's channel, and the lane whose row it is in this warp.
  Value c = d.div(lane, d.idx(kWarp / pairs));
  Value firstOwn = d.mul(warp, d.idx(plan.channels));
  Value mine = arith::AndIOp::create(
      b, loc,
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::uge, c, firstOwn),
      d.lt(c, d.add(firstOwn, d.idx(plan.channels))));
  Value from = arith::SelectOp::create(
      b, loc, mine, d.mul(d.sub(c, firstOwn), d.idx(plan.chunks)), d.idx(0));
  Value taken =
      gpu::ShuffleOp::create(b, loc, rowSum, toI32(d, from), i32Const(d, kWarp),
                             gpu::ShuffleMode::IDX)
          .getShuffleResult();
  return arith::SelectOp::create(b, loc, mine, taken, d.f32(0.0));
}

//===----------------------------------------------------------------------===//
// The kernels
//===----------------------------------------------------------------------===//

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
  return moduleAsks(b, kPrefetchWeightsAttr);
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

//===----------------------------------------------------------------------===//
// A scan folded into the one-row kernel (zamba2-fuse-scan)
//===----------------------------------------------------------------------===//

/// The address (i64) of i32 element `i` of `counters`, for inline PTX.
Value counterAddress(Emitter &d, Value counters, int64_t i) {
  Value base =
      memref::ExtractAlignedPointerAsIndexOp::create(d.b, d.loc, counters);
  auto meta = memref::ExtractStridedMetadataOp::create(d.b, d.loc, counters);
  Value at = d.add(meta.getOffset(), d.idx(i));
  return arith::IndexCastOp::create(d.b, d.loc, d.b.getI64Type(),
                                    d.add(base, d.mul(at, d.idx(4))));
}

/// Inline PTX that touches memory (never moved or dropped); its i32 result,
/// if `hasResult`.
Value inlinePtx(Emitter &d, StringRef text, StringRef constraints,
                ValueRange operands, bool hasResult) {
  SmallVector<Type> results;
  if (hasResult)
    results.push_back(d.b.getI32Type());
  auto op = LLVM::InlineAsmOp::create(
      d.b, d.loc, results, operands, text, constraints,
      /*has_side_effects=*/true, /*is_align_stack=*/false,
      LLVM::tailcallkind::TailCallKind::None,
      /*asm_dialect=*/LLVM::AsmDialectAttr(), /*operand_attrs=*/ArrayAttr());
  return hasResult ? op.getResult(0) : Value();
}

/// Channels per warp of the one-row kernel with a folded scan: a row's x
/// and z.
constexpr int64_t kFoldChannels = 2;

/// A block of the one-row kernel with a folded scan (ScanFold).
struct FoldBlock {
  Value ticket; ///< index: the order in which the block started
  Value isSide; ///< it computes side channels (b, c, dt)
  Value row;    ///< the warp's row of the head (past P: none)
  Value p;      ///< row, at most P - 1 (the row it reads and writes)
  Value lives;  ///< the warp scans a row: a block of rows, row < P
  ScanWarp warp;
  /// The warp's row's state (its lane's columns), loaded before the wait.
  SmallVector<Value> state;
};

/// The block's ticket (thread 0 adds 1 to counters[0]; the block reads
/// what it got after a barrier), its role, and for a block of rows the
/// warp's row, the head's parameters and the row's state, all before the
/// dependent-launch wait: the ticket's counter was zeroed before the step's
/// first kernel, the parameters are weights and only this warp writes the
/// row's state.
FoldBlock foldBlockOf(Emitter &d, const ScanFold &fold, Value tid,
                      int64_t sideBlocks, int64_t headBlocks, int64_t warps) {
  const ScanKernel &k = fold.scan;
  Value slot = workgroupArray(d, 1, d.b.getI32Type());
  d.when(d.eq(tid, d.idx(0)), [&] {
    Value ticket =
        inlinePtx(d, "atom.global.add.u32 $0, [$1], 1;", "=r,l,~{memory}",
                  {counterAddress(d, fold.counters, 0)}, true);
    memref::StoreOp::create(d.b, d.loc, ticket, slot, ValueRange{d.idx(0)});
  });
  gpu::BarrierOp::create(d.b, d.loc);
  FoldBlock f;
  f.ticket = arith::IndexCastOp::create(
      d.b, d.loc, d.b.getIndexType(),
      memref::LoadOp::create(d.b, d.loc, slot, ValueRange{d.idx(0)}));
  f.isSide = d.lt(f.ticket, d.idx(sideBlocks));
  Value q = arith::SelectOp::create(d.b, d.loc, f.isSide, d.idx(0),
                                    d.sub(f.ticket, d.idx(sideBlocks)));
  Value lane = d.rem(tid, d.idx(kWarp)), warp = d.div(tid, d.idx(kWarp));
  Value h = d.min(d.div(q, d.idx(headBlocks)), d.idx(k.heads - 1));
  f.row = d.add(d.mul(d.rem(q, d.idx(headBlocks)), d.idx(warps)), warp);
  Value p = f.p = d.min(f.row, d.idx(k.headDim - 1));
  f.lives = arith::AndIOp::create(
      d.b, d.loc, d.lt(f.row, d.idx(k.headDim)),
      arith::XOrIOp::create(d.b, d.loc, f.isSide,
                            arith::ConstantIntOp::create(d.b, d.loc, 1, 1)));
  ScanWarp &w = f.warp;
  w.h = h;
  w.g = d.div(h, d.idx(k.heads / k.groups));
  w.lane = lane;
  int64_t perLane = (k.stateSize + kWarp - 1) / kWarp;
  for (int64_t i = 0; i < perLane; ++i) {
    Value n = d.add(lane, d.idx(i * kWarp));
    bool partial = (i + 1) * kWarp > k.stateSize;
    w.valid.push_back(partial ? d.lt(n, d.idx(k.stateSize)) : Value());
    w.columns.push_back(partial ? d.min(n, d.idx(k.stateSize - 1)) : n);
  }
  w.xCols = {d.add(d.mul(h, d.idx(k.headDim)), p)};
  w.lives = {f.lives};
  w.stateType = cast<MemRefType>(k.state.getType()).getElementType();
  auto loadHead = [&](Value m) {
    return toF32(
        d.b, d.loc,
        beforeWait(memref::LoadOp::create(d.b, d.loc, m, ValueRange{h})));
  };
  Value aLog = loadHead(k.aLog);
  w.dd = loadHead(k.d);
  w.bias = loadHead(k.dtBias);
  scf::IfOp state = loadsWhere(d, f.lives, perLane, [&] {
    SmallVector<Value> s;
    for (Value column : w.columns)
      s.push_back(toF32(d.b, d.loc, d.load(k.state, {d.idx(0), h, p, column})));
    return s;
  });
  markBeforeWait(state);
  f.state.assign(state.getResults().begin(), state.getResults().end());
  w.a = arith::NegFOp::create(d.b, d.loc, d.exp(aLog));
  return f;
}

/// The warp's two channels (`ns`: a side block's consecutive side channels
/// from `first`; a block of rows its row's other (z) channel and x
/// channel), and whether it has any.
Value foldChannels(Emitter &d, const ScanFold &fold, const FoldBlock &f,
                   Value first, SmallVectorImpl<Value> &ns) {
  Value sideEnd = d.idx(fold.side + fold.sideChannels);
  Value rowAt = f.warp.xCols[0]; // h P + p
  for (int64_t c = 0; c < 2; ++c) {
    Value side = d.min(d.add(first, d.idx(c)), d.sub(sideEnd, d.idx(1)));
    Value row = d.add(rowAt, d.idx(c == 0 ? fold.other : fold.x));
    ns.push_back(arith::SelectOp::create(d.b, d.loc, f.isSide, side, row));
  }
  return arith::SelectOp::create(d.b, d.loc, f.isSide, d.lt(first, sideEnd),
                                 d.lt(f.row, d.idx(fold.scan.headDim)));
}

/// The channel of the warp's pair `pair` (0: the first channel of the warp,
/// 1: the second), `n` (past the end: stores nothing) where it has none.
Value foldPairChannel(Emitter &d, const ScanFold &fold, const FoldBlock &f,
                      Value first, ArrayRef<Value> ns, Value pair, Value n) {
  Value side = d.add(first, pair);
  Value has = arith::SelectOp::create(
      d.b, d.loc, f.isSide, d.lt(side, d.idx(fold.side + fold.sideChannels)),
      d.lt(f.row, d.idx(fold.scan.headDim)));
  Value channel =
      arith::SelectOp::create(d.b, d.loc, d.eq(pair, d.idx(0)), ns[0], ns[1]);
  return arith::SelectOp::create(d.b, d.loc, has, channel, n);
}

/// After the block's channels are stored: a side block counts itself done
/// (a release add on counters[1], after a barrier: every store of the block
/// before it); a block of rows waits until all `sideBlocks` are (thread 0
/// spins on an acquire load, then a barrier), then each warp runs its
/// row's scan on the x (and gate) its block stored and the side blocks' b,
/// c and dt.
void emitFoldedScan(Emitter &d, const ScanFold &fold, const FoldBlock &f,
                    Value tid, int64_t sideBlocks) {
  const ScanKernel &k = fold.scan;
  gpu::BarrierOp::create(d.b, d.loc);
  Value first = d.eq(tid, d.idx(0));
  auto role = scf::IfOp::create(d.b, d.loc, f.isSide, /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(d.b);
  d.b.setInsertionPointToStart(role.thenBlock());
  d.when(first, [&] {
    inlinePtx(d, "red.release.gpu.global.add.u32 [$0], 1;", "l,~{memory}",
              {counterAddress(d, fold.counters, 1)}, false);
  });
  d.b.setInsertionPointToStart(role.elseBlock());
  d.when(first, [&] {
    Value address = counterAddress(d, fold.counters, 1);
    Value all = arith::ConstantIntOp::create(d.b, d.loc, sideBlocks, 32);
    scf::WhileOp::create(
        d.b, d.loc, TypeRange(), ValueRange(),
        [&](OpBuilder &b, Location loc, ValueRange) {
          Emitter w{b, loc};
          Value done = inlinePtx(w, "ld.acquire.gpu.global.u32 $0, [$1];",
                                 "=r,l,~{memory}", {address}, true);
          Value more = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                             done, all);
          scf::ConditionOp::create(b, loc, more, ValueRange());
        },
        [&](OpBuilder &b, Location loc, ValueRange) {
          scf::YieldOp::create(b, loc);
        });
  });
  gpu::BarrierOp::create(d.b, d.loc);
  Value zero = d.idx(0);
  SmallVector<Value> next = scanToken(d, k, f.warp, zero, zero, f.state);
  d.when(f.lives, [&] {
    for (size_t i = 0; i < f.warp.columns.size(); ++i)
      d.when(f.warp.valid[i], [&] {
        d.store(next[i], k.state, {zero, f.warp.h, f.p, f.warp.columns[i]});
      });
  });
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
                      int64_t warps = kLinearWarps, bool mma = false) {
  const ScanFold *fold = k.scanFold;
  assert((!fold || (rowBlock == 1 && channels == 2 && split == 1 && k.quant &&
                    staged)) &&
         "a folded scan runs in the staged one-row quantized kernel");
  assert(
      (split == 1 || (k.quant && staged && rowBlock == 1 &&
                      ((!k.lora && !k.conv) || mma) && warps % split == 0)) &&
      "only the staged one-row quantized product splits its rows");
  assert((!mma || (staged && rowBlock == 1 && channels % kMmaChannels == 0 &&
                   split == warps && !fold)) &&
         "the tensor-core form: one staged row, a 16-channel tile a block");
  // The block's warps in groups of `split`, each group on `channels`
  // channels, each warp of a group on 1/split of the row.
  int64_t warpGroups = warps / split;
  int64_t blockChannels = warpGroups * channels;
  Value gx = e.ceilDiv(rows, rowBlock);
  Value gy = e.ceilDiv(n, blockChannels);
  // With a folded scan: the side blocks, then the blocks of `warps` rows
  // of a head (ScanFold).
  int64_t sideBlocks = 0, headBlocks = 0;
  if (fold) {
    sideBlocks = llvm::divideCeil(fold->sideChannels, blockChannels);
    headBlocks = llvm::divideCeil(fold->scan.headDim, warps);
    gy = e.idx(sideBlocks + fold->scan.heads * headBlocks);
  }
  std::string name = fold  ? std::string("linear_scan_r1")
                     : mma ? std::string("linear_mma_r1")
                           : "linear_r" + std::to_string(rowBlock);
  gpu::LaunchOp kernel = launch(
      e, name, gx, gy, e.idx(1), warps * kWarp,
      [&](Emitter &d, gpu::LaunchOp op) {
        Value tid = op.getThreadIds().x;
        // A folded scan's block: its ticket, its role and, for a block of
        // rows, its head and the row of each warp.
        std::optional<FoldBlock> foldBlock;
        if (fold)
          foldBlock = foldBlockOf(d, *fold, tid, sideBlocks, headBlocks, warps);
        if (prefetchesWeights(d.b) && !fold) {
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
        // Whether the warp has channels: below n, or a folded scan's side
        // channels or rows.
        Value inChannels;
        if (fold) {
          firstChannel = d.add(
              d.idx(fold->side),
              d.mul(d.add(d.mul(foldBlock->ticket, d.idx(warpGroups)), warp),
                    d.idx(channels)));
          inChannels = foldChannels(d, *fold, *foldBlock, firstChannel, ns);
        } else {
          for (int64_t c = 0; c < channels; ++c)
            ns.push_back(d.min(d.add(firstChannel, d.idx(c)), lastChannel));
          inChannels = d.lt(firstChannel, n);
        }
        // The tensor-core form's loads of each tile's rows in the warp's
        // slice (`part`), before the wait.
        SmallVector<MmaSliceLoads> mmaPreloaded; // a tile each
        if (mma)
          for (int64_t tile = 0; tile < channels / kMmaChannels; ++tile)
            mmaPreloaded.push_back(loadMmaSlice(
                d, k.main, *k.quant,
                mmaRows(d, d.add(firstChannel, d.idx(tile * kMmaChannels)),
                        lane, n),
                part, d.rem(lane, d.idx(4))));
        // Its adapter's B (each warp on some of the block's channels).
        std::optional<MmaAdapterPlan> adapterPlan;
        std::optional<MmaAdapterLoads> mmaAdapter;
        if (mma && k.lora) {
          adapterPlan = mmaAdapterPlan(k);
          mmaAdapter =
              loadMmaAdapter(d, k, *adapterPlan, firstChannel, part, lane, n);
        }
        SmallVector<Value> preloaded =
            mma ? SmallVector<Value>()
                : preloadWeights(d, k, rowBlock, ns, rowLane, kWarp * split);
        SmallVector<Value> preloadedAdapter =
            mma ? SmallVector<Value>()
                : preloadAdapter(d, k, rowBlock, ns, lane);
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
        Value pairChannel =
            fold ? foldPairChannel(d, *fold, *foldBlock, firstChannel, ns, pair,
                                   n)
                 : d.add(firstChannel, d.rem(pair, d.idx(channels)));
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
          // The tensor-core form reads 8 elements at a time (its digits'
          // words).
          int64_t pieces = mma       ? 2
                           : k.quant ? 32 / k.quant->bits
                                     : chunkElements(k.main) / 4;
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
        std::optional<MmaDigits> digits;
        if (mma)
          digits = stageMmaDigits(
              d, *stagedRow,
              cast<MemRefType>(k.main.x.getType()).getShape().back(), tid,
              warps * kWarp);
        // The warp's sums (spread over its lanes by warpSumsSpread).
        auto product = [&] {
          if (mma) {
            SmallVector<std::pair<Value, Value>> tileSums;
            for (const MmaSliceLoads &tile : mmaPreloaded)
              tileSums.push_back(mmaSums(d, *digits, lane, part, tile));
            Value v = mmaSpread(d, tileSums, lane);
            if (normScale)
              v = d.fmul(v, normScale);
            if (mmaAdapter)
              v = d.fadd(v, mmaAdapterSums(
                                d, k, *adapterPlan, *mmaAdapter,
                                rowIndices(d, sizes,
                                           d.min(op.getBlockIds().x, lastRow)),
                                part, lane, channels));
            return v;
          }
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
          if (fold)
            emitFoldedScan(d, *fold, *foldBlock, tid, sideBlocks);
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

} // namespace

bool gpukernels::stagesNormalizedOneRow(const LinearKernel &k) {
  if (!k.normed || !stagesNormalizedRow(k.main.x, *k.normed))
    return false;
  if (k.quant)
    return stagesRow(k.main, *k.quant);
  return vectorizable(k.main) && chunkElements(k.main) % 4 == 0;
}

void gpukernels::emitLinear(Emitter &e, const LinearKernel &k) {
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
    // The one-row kernel that stages x, its rows split as rowSplit says;
    // a folded scan runs in it (quantized weights), else in its own kernel
    // after it.
    bool scanFolded = false;
    auto emitStaged = [&](const LinearKernel &staged) {
      if (mmaQuantForm(e.b, staged)) {
        int64_t warps = mmaWarps(staged);
        emitLinearLaunch(e, staged, rows, sizes, n, 1,
                         kMmaChannels * mmaTiles(staged),
                         /*staged=*/true, warps, warps, /*mma=*/true);
        return;
      }
      RowSplit split = rowSplit(staged);
      scanFolded = staged.scanFold && staged.quant &&
                   channels == kFoldChannels && split.split == 1;
      LinearKernel launched = staged;
      if (!scanFolded)
        launched.scanFold = nullptr;
      emitLinearLaunch(e, launched, rows, sizes, n, 1, channels,
                       /*staged=*/true, split.split, split.warps);
    };
    if (k.normed && k.normed->stageOneRow) {
      emitStaged(k);
    } else {
      LinearKernel plain = onNormalizedRows();
      if (plain.quant && stagesRow(plain.main, *plain.quant)) {
        emitStaged(plain);
      } else {
        plain.scanFold = nullptr;
        emitLinearLaunch(e, plain, rows, sizes, n, 1,
                         plain.quant ? kChannelsPerWarp : 1);
      }
    }
    if (k.scanFold && !scanFolded)
      emitScan(e, k.scanFold->scan);
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
    rowsKernel.scanFold = nullptr;
    emitLinearLaunch(e, rowsKernel, rows, sizes, n, 8,
                     k.quant ? kQuantRowBlockChannels : kChannelsPerWarp);
    if (k.conv) {
      Value piece = lastDimView(e, k.out, k.conv->offset, k.conv->channels);
      emitConv(e, ConvKernel{piece, k.conv->weight, k.conv->bias, k.conv->state,
                             piece, k.conv->channels, k.conv->width,
                             k.conv->silu});
    }
    if (k.scanFold)
      emitScan(e, k.scanFold->scan);
  }
}
