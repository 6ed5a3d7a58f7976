//===- GpuKernels.cpp - zamba2 ops bufferized straight into CUDA kernels --===//
//
// On the CUDA target the ops whose parallelism a generic parallel loop would
// waste (reductions along a row) are not lowered to linalg: they stay zamba2
// ops until One-Shot Bufferize, whose BufferizableOpInterface models below
// emit a gpu.launch on their buffers. The kernels themselves, each file with
// its kernels' design:
//   GpuLinearKernels.cpp   -- linear, lora, lora_linear, quant_linear (GEMVs;
//                             the one-row in_proj of an in_proj_scan runs
//                             its scan too)
//   GpuNormKernels.cpp     -- rms_norm, gated_rms_norm, and the linear ops'
//                             norm prologue on x staged in workgroup memory
//   GpuSequenceKernels.cpp -- attention, causal_conv1d, ssd_scan, ssd_step
// on what GpuKernelEmitter.h shares (the Emitter, gpu.launch, the
// dependent-launch marks, the kernel descriptors these models fill in).
//
// Accumulation, softmax and normalisation are f32, as in the CPU lowering;
// results differ from it only by the order of f32 additions and, for a norm
// prologue of one group, by where the 1/RMS multiplies (f32 rounding).
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernels.h"
#include "lowering/GpuKernelEmitter.h"

#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::zamba2;
using namespace mlir::zamba2::gpukernels;
using namespace mlir::bufferization;

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
    return emitWith(e, q, buf, out, options, nullptr);
  }
  /// emit, with the scan `fold` folded into the one-row kernel (null: none).
  static LogicalResult emitWith(Emitter &e, QuantLinearOp q,
                                ArrayRef<Value> buf, Value out,
                                const BufferizationOptions &options,
                                const ScanFold *fold) {
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
    k.scanFold = fold;
    emitLinearOp(e, k, *normed);
    return success();
  }
};

/// rms_norm: v = x (+ residual), or x's row then tail's, normalised over
/// the row.
struct RMSNormModel : KernelModel<RMSNormModel, RMSNormOp> {
  static SmallVector<Value> operands(RMSNormOp n) {
    return {n.getInput(), n.getResidual(), n.getWeight(), n.getTail()};
  }
  static LogicalResult emit(Emitter &e, RMSNormOp n, ArrayRef<Value> buf,
                            Value out, const BufferizationOptions &) {
    emitRowNorm(
        e, {buf[2], buf[1], Value(), n.getEps().convertToDouble(), 1, buf[3]},
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
    emitScan(e, kernelOf(scan, buf, y));
    return success();
  }
  /// The scan kernel of `scan` on the buffers of its operands and y.
  static ScanKernel kernelOf(OpTy scan, ArrayRef<Value> buf, Value y) {
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
    return k;
  }
};

/// Marks the buffer of a function's scan counters (scanCounters); its value
/// is the next free pair.
constexpr llvm::StringLiteral kScanCountersAttr = "zamba2.scan_counters";

/// Two i32 counters for the kernel of `op` (an in_proj_scan; ScanFold),
/// zero at the start of every call: a pair of one buffer allocated at the
/// entry of op's function and zeroed there by one memset, before the call's
/// first kernel (a memset between two kernels would end the programmatic
/// dependent launch between them; one node for all of them, not one each).
/// The pairs are `memref.view`s of the buffer's bytes: views of one type,
/// their place an operand, so that every layer's kernel is the same code
/// (zamba2-merge-gpu-modules).
Value scanCounters(RewriterBase &rewriter, Operation *op) {
  auto fn = op->getParentOfType<func::FuncOp>();
  Block &entry = fn.getBody().front();
  memref::AllocOp counters;
  for (auto alloc : entry.getOps<memref::AllocOp>())
    if (alloc->hasAttr(kScanCountersAttr))
      counters = alloc;
  Location loc = op->getLoc();
  Type i32 = rewriter.getI32Type();
  if (!counters) {
    // The function's in_proj_scan ops: none is bufferized yet.
    int64_t count = 0;
    fn.walk([&](InProjScanOp) { ++count; });
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPointToStart(&entry);
    counters = memref::AllocOp::create(
        rewriter, loc, MemRefType::get({8 * count}, rewriter.getI8Type()));
    counters->setAttr(kScanCountersAttr, rewriter.getI64IntegerAttr(0));
    Value all = memref::ViewOp::create(
        rewriter, loc, MemRefType::get({2 * count}, i32), counters,
        arith::ConstantIndexOp::create(rewriter, loc, 0), ValueRange());
    Value zero = arith::ConstantIntOp::create(rewriter, loc, 0, 32);
    gpu::MemsetOp::create(rewriter, loc, Type(), ValueRange(), all, zero);
  }
  int64_t pair =
      cast<IntegerAttr>(counters->getAttr(kScanCountersAttr)).getInt();
  counters->setAttr(kScanCountersAttr, rewriter.getI64IntegerAttr(pair + 1));
  return memref::ViewOp::create(
      rewriter, loc, MemRefType::get({2}, i32), counters,
      arith::ConstantIndexOp::create(rewriter, loc, 8 * pair), ValueRange());
}

/// in_proj_scan (zamba2-fuse-scan): its body's product and ssd_step on the
/// op's buffers, the scan's x, dt, b, c and gate views of the product's
/// buffer. The conv state and the scan's state are updated in place. A
/// quant_linear's one-row kernel runs the scan too (ScanFold); otherwise,
/// and for several rows, the product's kernels are followed by the scan's.
struct InProjScanModel
    : BufferizableOpInterface::ExternalModel<InProjScanModel, InProjScanOp> {
  /// The body's value that `operand` is read as.
  static BlockArgument argOf(InProjScanOp op, OpOperand &operand) {
    return op.getBody().front().getArgument(operand.getOperandNumber());
  }
  /// The result that `operand` is updated in place as: the conv state as
  /// the new conv state, the scan's state as its new state; else -1.
  static int inPlaceResult(InProjScanOp op, OpOperand &operand) {
    BlockArgument arg = argOf(op, operand);
    Operation *product = op.getProduct();
    SSDStepOp scan = op.getScan();
    Value updated;
    if (std::optional<ConvEpilogue> conv = getConvEpilogue(product);
        conv && conv->state == arg)
      updated = product->getResult(1);
    else if (scan.getState() == arg)
      updated = scan.getNewState();
    if (!updated)
      return -1;
    auto yield = cast<YieldOp>(op.getBody().front().getTerminator());
    for (auto [i, v] : llvm::enumerate(yield.getValues()))
      if (v == updated)
        return static_cast<int>(i);
    return -1;
  }
  bool bufferizesToMemoryRead(Operation *, OpOperand &,
                              const AnalysisState &) const {
    return true;
  }
  bool bufferizesToMemoryWrite(Operation *op, OpOperand &operand,
                               const AnalysisState &) const {
    return inPlaceResult(cast<InProjScanOp>(op), operand) >= 0;
  }
  AliasingValueList getAliasingValues(Operation *op, OpOperand &operand,
                                      const AnalysisState &) const {
    int result = inPlaceResult(cast<InProjScanOp>(op), operand);
    if (result < 0)
      return {};
    return {{op->getResult(result), BufferRelation::Equivalent,
             /*isDefinite=*/true}};
  }

  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const BufferizationOptions &options,
                          BufferizationState &state) const {
    auto fold = cast<InProjScanOp>(op);
    Block &body = fold.getBody().front();
    // The buffer of each body value the kernels read.
    DenseMap<Value, Value> bufferOf;
    for (auto [arg, input] : llvm::zip(body.getArguments(), fold.getInputs())) {
      if (!isa<TensorType>(input.getType()))
        continue;
      FailureOr<Value> buffer = getBuffer(rewriter, input, options, state);
      if (failed(buffer))
        return failure();
      bufferOf[arg] = *buffer;
    }
    auto buffers = [&](ArrayRef<Value> values) {
      SmallVector<Value> out;
      for (Value v : values)
        out.push_back(v ? bufferOf.lookup(v) : Value());
      return out;
    };
    Location loc = op->getLoc();
    Emitter e{rewriter, loc};
    Operation *product = fold.getProduct();
    Value result = product->getResult(0);
    FailureOr<Value> out =
        allocateResult(rewriter, loc, result,
                       bufferOf.lookup(product->getOperand(0)), options);
    if (failed(out))
      return failure();
    // The pieces of the product's result, views of its buffer.
    auto view = [&](Value piece) {
      return lastDimView(
          e, *out, *channelOffsetIn(piece, result),
          cast<RankedTensorType>(piece.getType()).getShape().back());
    };
    SSDStepOp scan = fold.getScan();
    for (Value piece :
         {scan.getX(), scan.getDt(), scan.getB(), scan.getC(), scan.getGate()})
      if (piece)
        bufferOf[piece] = view(piece);
    FailureOr<Value> y =
        allocateResult(rewriter, loc, scan.getY(), *out, options);
    if (failed(y))
      return failure();
    ScanKernel scanKernel = ScanModel<SSDStepOp>::kernelOf(
        scan, buffers(ScanModel<SSDStepOp>::operands(scan)), *y);
    LogicalResult emitted = success();
    if (auto quant = dyn_cast<QuantLinearOp>(product)) {
      std::string why;
      std::optional<ScanFoldLayout> layout = scanFoldLayout(product, scan, why);
      if (!layout)
        return op->emitError("in_proj_scan: ") << why;
      ScanFold scanFold{scanKernel,
                        layout->x,
                        layout->other,
                        layout->side,
                        layout->sideChannels(),
                        scanCounters(rewriter, op)};
      emitted = QuantLinearModel::emitWith(
          e, quant, buffers(QuantLinearModel::operands(quant)), *out, options,
          &scanFold);
    } else {
      // Float weights: the product's kernels, then the scan's (the one-row
      // float GEMV has one channel per warp; the fold is not built there).
      auto linear = cast<LinearOp>(product);
      emitted = LinearModel<LinearOp>::emit(
          e, linear, buffers(LinearModel<LinearOp>::operands(linear)), *out,
          options);
      emitScan(e, scanKernel);
    }
    if (failed(emitted))
      return failure();
    // The op's results: the buffers of what the body yields.
    std::optional<ConvEpilogue> conv = getConvEpilogue(product);
    SmallVector<Value> results;
    for (Value v : cast<YieldOp>(body.getTerminator()).getValues()) {
      if (v == product->getResult(1))
        results.push_back(bufferOf.lookup(conv->state));
      else if (v == scan.getNewState())
        results.push_back(bufferOf.lookup(scan.getState()));
      else if (v == scan.getY())
        results.push_back(*y);
      else if (channelOffsetIn(v, result))
        results.push_back(view(v));
      else
        return op->emitError("in_proj_scan: cannot bufferize a yielded value "
                             "that is not a piece of the product");
    }
    replaceOpWithBufferizedValues(rewriter, op, results);
    return success();
  }
};

/// Memory effects for ops that declare none, which the ownership-based
/// buffer deallocation refuses ("unknown memory side effects"). Read and
/// write (`touchesMemory`): a barrier orders the block's reads and writes
/// of workgroup memory, and a bulk prefetch must be neither dropped (it has
/// no results) nor moved (prefetchRows places it before the kernel's wait).
/// None: mma.sync works on registers only.
template <typename OpTy, bool touchesMemory>
struct DeclaredEffects : MemoryEffectOpInterface::ExternalModel<
                             DeclaredEffects<OpTy, touchesMemory>, OpTy> {
  void
  getEffects(Operation *,
             SmallVectorImpl<SideEffects::EffectInstance<MemoryEffects::Effect>>
                 &effects) const {
    if (!touchesMemory)
      return;
    effects.emplace_back(MemoryEffects::Read::get());
    effects.emplace_back(MemoryEffects::Write::get());
  }
};
template <typename OpTy> using ReadWriteEffects = DeclaredEffects<OpTy, true>;
template <typename OpTy> using NoEffects = DeclaredEffects<OpTy, false>;

} // namespace

bool mlir::zamba2::hasGpuKernel(Operation *op) {
  return isa<LinearOp, LoRAOp, LoRALinearOp, RMSNormOp, GatedRMSNormOp,
             AttentionOp, SSDScanOp, SSDStepOp, CausalConv1dOp, QuantLinearOp,
             InProjScanOp>(op);
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
    InProjScanOp::attachInterface<InProjScanModel>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, gpu::GPUDialect *) {
    gpu::BarrierOp::attachInterface<ReadWriteEffects<gpu::BarrierOp>>(*ctx);
  });
  registry.addExtension(+[](MLIRContext *ctx, NVVM::NVVMDialect *) {
    NVVM::CpAsyncBulkPrefetchOp::attachInterface<
        ReadWriteEffects<NVVM::CpAsyncBulkPrefetchOp>>(*ctx);
    NVVM::MmaOp::attachInterface<NoEffects<NVVM::MmaOp>>(*ctx);
  });
}
