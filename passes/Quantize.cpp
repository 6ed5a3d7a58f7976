//===- Quantize.cpp - zamba2-quantize: weight-only integer quantization ---===//
//
// Rewrites linears whose weight is a declared checkpoint weight into
// zamba2.quant_linear reading new weight declarations (packed integers,
// scales, zero points). The declarations carry the transform as the
// attribute `zamba2.quant`; zamba2-prepare-entry-points copies it into the
// weight table and the package's packer (runtime/pack, no MLIR) computes the
// bytes from the checkpoint, so this pass never touches weight values. The
// shapes and the "can this width be quantized" rule come from runtime/pack
// too (Quantize.h): one definition for the compiler and the packer.
//
//===----------------------------------------------------------------------===//
#include "runtime/pack/Quantize.h"
#include "dialect/Zamba2Ops.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_QUANTIZE
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;

namespace {

constexpr StringLiteral kQuantAttr = "zamba2.quant";
constexpr StringLiteral kLmHeadTensor = "lm_head.weight";

/// The declarations of one quantized matrix.
struct QuantDecls {
  WeightOp packed, scales, zeros; // zeros: asymmetric only
};

struct QuantizePass : mlir::zamba2::impl::QuantizeBase<QuantizePass> {
  using Base::Base;

  ::zamba2::QuantParams params;
  ModuleOp module;
  SymbolTable *symbols = nullptr; // of `module`, during runOnOperation
  /// Quantized declarations by tensor name; a failed entry (absent decls)
  /// means "left unquantized, already reported".
  llvm::StringMap<std::optional<QuantDecls>> quantized;
  /// Weights read as an embedding table.
  llvm::StringSet<> embedTables;
  /// Weights some quantized declarations were made from.
  llvm::StringSet<> sources;
  bool failedHard = false;

  void runOnOperation() override {
    module = getOperation();
    if (failed(parseOptions()))
      return signalPassFailure();
    SymbolTable symbolTable(module);
    symbols = &symbolTable;
    quantized.clear();
    embedTables.clear();
    sources.clear();
    failedHard = false;
    module.walk([&](EmbedOp op) {
      if (WeightOp w = weightOf(op.getTable()))
        embedTables.insert(w.getSymName());
    });

    // Rewrites change the ops walked: collect first.
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<LinearOp, LoRAOp, LoRALinearOp>(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      if (getNormPrologue(op)) {
        op->emitError("zamba2-quantize: this linear normalises its input "
                      "(zamba2-fuse-norm); quantize before fusing norms");
        return signalPassFailure();
      }
      if (getConvEpilogue(op)) {
        op->emitError("zamba2-quantize: this linear convolves its output "
                      "(zamba2-fuse-conv); quantize before fusing "
                      "convolutions");
        return signalPassFailure();
      }
      if (auto linear = dyn_cast<LinearOp>(op))
        rewriteLinear(linear);
      else if (auto lora = dyn_cast<LoRAOp>(op))
        rewriteLoRA(lora);
      else
        rewriteLoRALinear(cast<LoRALinearOp>(op));
      if (failedHard)
        return signalPassFailure();
    }
    eraseUnusedWeights();
  }

  LogicalResult parseOptions() {
    if (quantizeEmbeddings)
      return module.emitError(
          "zamba2-quantize: quantize-embeddings is not supported: "
          "zamba2.embed reads a float table and the dialect has no quantized "
          "lookup");
    params.bits = static_cast<int>(bits);
    params.groupSize = groupSize;
    if (!::zamba2::parseQuantScheme(scheme, params.scheme))
      return module.emitError("zamba2-quantize: scheme must be 'symmetric' or "
                              "'asymmetric', got '")
             << scheme << "'";
    if (scaleType == "f16")
      params.scaleType = ::zamba2::DType::F16;
    else if (scaleType == "f32")
      params.scaleType = ::zamba2::DType::F32;
    else
      return module.emitError(
                 "zamba2-quantize: scale-type must be 'f16' or 'f32', got '")
             << scaleType << "'";
    std::string err;
    if (bits != 4 && bits != 8)
      return module.emitError("zamba2-quantize: bits must be 4 or 8, got ")
             << static_cast<int64_t>(bits);
    if (!::zamba2::checkQuantParams(params, err))
      return module.emitError("zamba2-quantize: ") << err;
    return success();
  }

  /// The declaration `v` reads, when it is a zamba2.param.
  WeightOp weightOf(Value v) {
    auto param = v.getDefiningOp<ParamOp>();
    return param ? symbols->lookup<WeightOp>(param.getName()) : WeightOp();
  }

  Type scaleElementType() {
    Builder b(module.getContext());
    return params.scaleType == ::zamba2::DType::F16 ? Type(b.getF16Type())
                                                    : Type(b.getF32Type());
  }

  /// The quantized declarations of `source` standing for the model tensor
  /// `tensor`, declared on first use (after `source`); none when `source`
  /// cannot be quantized (reported once, as a warning on its declaration).
  std::optional<QuantDecls> declsFor(WeightOp source, StringRef tensor) {
    auto it = quantized.find(tensor);
    if (it != quantized.end())
      return it->second;
    std::optional<QuantDecls> &slot = quantized[tensor];
    auto type = cast<RankedTensorType>(source.getType());
    std::string why;
    if (type.getRank() != 2)
      why = "it is not a matrix";
    else
      ::zamba2::canQuantize(params, type.getShape()[1], why);
    if (!why.empty()) {
      source.emitWarning() << "zamba2-quantize: '" << tensor
                           << "' left unquantized: " << why;
      return slot;
    }
    int64_t rows = type.getShape()[0], cols = type.getShape()[1];
    MLIRContext *ctx = module.getContext();
    OpBuilder b(ctx);
    b.setInsertionPointAfter(source);
    auto declare = [&](::zamba2::QuantPart part) -> WeightOp {
      std::string name = (tensor + "." + ::zamba2::quantPartName(part)).str();
      std::vector<int64_t> shape =
          ::zamba2::quantPartShape(params, part, rows, cols);
      Type elem = part == ::zamba2::QuantPart::Scales
                      ? scaleElementType()
                      : Type(IntegerType::get(ctx, 8));
      auto partType = RankedTensorType::get(shape, elem);
      if (symbols->lookup(name)) {
        source.emitError() << "zamba2-quantize: cannot declare '" << name
                           << "': the symbol exists";
        failedHard = true;
        return WeightOp();
      }
      auto decl = WeightOp::create(b, source.getLoc(), name, partType);
      decl->setAttr(
          kQuantAttr,
          b.getDictionaryAttr({
              b.getNamedAttr("source", source.getSymNameAttr()),
              b.getNamedAttr("tensor", b.getStringAttr(tensor)),
              b.getNamedAttr("part",
                             b.getStringAttr(::zamba2::quantPartName(part))),
              b.getNamedAttr("bits", b.getI64IntegerAttr(params.bits)),
              b.getNamedAttr("group_size",
                             b.getI64IntegerAttr(params.groupSize)),
              b.getNamedAttr(
                  "scheme",
                  b.getStringAttr(::zamba2::quantSchemeName(params.scheme))),
              b.getNamedAttr("scale_type", TypeAttr::get(scaleElementType())),
          }));
      symbols->insert(decl);
      b.setInsertionPointAfter(decl);
      return decl;
    };
    QuantDecls decls;
    decls.packed = declare(::zamba2::QuantPart::Packed);
    decls.scales = declare(::zamba2::QuantPart::Scales);
    if (params.scheme == ::zamba2::QuantScheme::Asymmetric)
      decls.zeros = declare(::zamba2::QuantPart::Zeros);
    if (failedHard)
      return std::nullopt;
    sources.insert(source.getSymName());
    slot = decls;
    return slot;
  }

  /// The quantized declarations for the weight `weight` of a linear, or none
  /// when it is not a declared weight, is an excluded lm_head, or cannot be
  /// quantized.
  std::optional<QuantDecls> linearDecls(Value weight, bool isAdapter) {
    WeightOp w = weightOf(weight);
    if (!w)
      return std::nullopt;
    StringRef name = w.getSymName();
    if (isAdapter)
      return quantizeAdapters ? declsFor(w, name) : std::nullopt;
    if (embedTables.contains(name)) // tied embeddings: the lm_head reads it
      return quantizeLmHead ? declsFor(w, kLmHeadTensor) : std::nullopt;
    if (name == kLmHeadTensor && !quantizeLmHead)
      return std::nullopt;
    return declsFor(w, name);
  }

  /// quant_linear(x) with the declarations `d`, result type `type`, added
  /// to `base` when there is one.
  /// A read of the declared weight `w` (null for none).
  static Value param(OpBuilder &b, Location loc, WeightOp w) {
    return w ? ParamOp::create(b, loc, w.getType(), w.getSymName()).getResult()
             : Value();
  }

  QuantLinearOp quantLinear(OpBuilder &b, Location loc, Type type, Value x,
                            const QuantDecls &d, Value bias,
                            Value base = Value()) {
    return QuantLinearOp::create(
        b, loc, type, x, param(b, loc, d.packed), param(b, loc, d.scales),
        param(b, loc, d.zeros), bias, base, b.getI64IntegerAttr(params.bits),
        b.getI64IntegerAttr(params.groupSize),
        QuantSchemeAttr::get(b.getContext(),
                             params.scheme == ::zamba2::QuantScheme::Symmetric
                                 ? QuantScheme::symmetric
                                 : QuantScheme::asymmetric));
  }

  /// `type` with its last dim `n`.
  static RankedTensorType withLastDim(Type type, int64_t n) {
    auto t = cast<RankedTensorType>(type);
    SmallVector<int64_t> shape(t.getShape());
    shape.back() = n;
    return t.clone(shape);
  }

  /// The adapter's rank-r intermediate x A^T (`like`: the type of the
  /// adapter's result), quantized when A can be.
  Value adapterInput(OpBuilder &b, Location loc, Value x, Value a, Type like) {
    int64_t rank = cast<RankedTensorType>(a.getType()).getShape()[0];
    Type midType = withLastDim(like, rank);
    if (std::optional<QuantDecls> qa = linearDecls(a, /*isAdapter=*/true))
      return quantLinear(b, loc, midType, x, *qa, Value()).getResult();
    return LinearOp::create(b, loc, midType, x, a, Value(), Value())
        .getResult();
  }

  /// base + (x A^T) B^T with whichever factors can be quantized as
  /// quant_linear (the others as float linears), the second product added
  /// to base in its op (`into`); null when neither can (the caller keeps its
  /// adapter op).
  Value adapterTerm(OpBuilder &b, Location loc, Value x, Value a, Value bMat,
                    Value base) {
    std::optional<QuantDecls> qa = linearDecls(a, /*isAdapter=*/true);
    std::optional<QuantDecls> qb = linearDecls(bMat, /*isAdapter=*/true);
    if (!qa && !qb)
      return Value();
    Value mid = adapterInput(b, loc, x, a, base.getType());
    return qb ? quantLinear(b, loc, base.getType(), mid, *qb, Value(), base)
                    .getResult()
              : LinearOp::create(b, loc, base.getType(), mid, bMat, Value(),
                                 base)
                    .getResult();
  }

  void rewriteLinear(LinearOp op) {
    std::optional<QuantDecls> d = linearDecls(op.getWeight(), false);
    if (!d)
      return;
    OpBuilder b(op);
    Value y = quantLinear(b, op.getLoc(), op.getResult().getType(),
                          op.getInput(), *d, op.getBias(), op.getBase())
                  .getResult();
    op.getResult().replaceAllUsesWith(y);
    op.erase();
  }

  void rewriteLoRA(LoRAOp op) {
    if (!quantizeAdapters)
      return;
    OpBuilder b(op);
    Value y = adapterTerm(b, op.getLoc(), op.getInput(), op.getA(), op.getB(),
                          op.getBase());
    if (!y)
      return;
    op.replaceAllUsesWith(y);
    op.erase();
  }

  /// lora_linear (zamba2-fuse-lora ran first): one quant_linear with an
  /// adapter product when W and B can both be quantized, else the linear
  /// and the adapter rewritten separately.
  void rewriteLoRALinear(LoRALinearOp op) {
    std::optional<QuantDecls> d = linearDecls(op.getWeight(), false);
    OpBuilder b(op);
    Location loc = op.getLoc();
    Value x = op.getInput();
    if (!d) {
      if (!quantizeAdapters)
        return;
      Value base = LinearOp::create(b, loc, op.getType(), x, op.getWeight(),
                                    op.getBias(), Value())
                       .getResult();
      Value y = adapterTerm(b, loc, x, op.getA(), op.getB(), base);
      if (!y) {
        base.getDefiningOp()->erase();
        return;
      }
      op.replaceAllUsesWith(y);
      op.erase();
      return;
    }
    std::optional<QuantDecls> qb = linearDecls(op.getB(), /*isAdapter=*/true);
    if (qb) {
      // W and B quantized: one quant_linear with both products (the fused
      // form stays fused), after the rank-r intermediate x A^T.
      Value mid = adapterInput(b, loc, x, op.getA(), op.getType());
      Value packed = param(b, loc, qb->packed);
      Value scales = param(b, loc, qb->scales);
      Value zeros = param(b, loc, qb->zeros);
      QuantLinearOp y = quantLinear(b, loc, op.getType(), x, *d, op.getBias());
      y.getAdapterInputMutable().assign(mid);
      y.getAdapterPackedMutable().assign(packed);
      y.getAdapterScalesMutable().assign(scales);
      if (zeros)
        y.getAdapterZerosMutable().assign(zeros);
      op.replaceAllUsesWith(y.getResult());
      op.erase();
      return;
    }
    Value base =
        quantLinear(b, loc, op.getType(), x, *d, op.getBias()).getResult();
    Value y = quantizeAdapters
                  ? adapterTerm(b, loc, x, op.getA(), op.getB(), base)
                  : Value();
    if (!y)
      y = LoRAOp::create(b, loc, op.getType(), x, op.getA(), op.getB(), base);
    op.replaceAllUsesWith(y);
    op.erase();
  }

  /// Reads of the quantized sources left without uses, then the sources no
  /// param reads any more (a tied embedding table stays: the lookup reads
  /// it).
  void eraseUnusedWeights() {
    SmallVector<ParamOp> dead;
    module.walk([&](ParamOp p) {
      if (p->use_empty() && sources.contains(p.getName()))
        dead.push_back(p);
    });
    for (ParamOp p : dead)
      p.erase();
    llvm::StringSet<> read;
    module.walk([&](ParamOp p) { read.insert(p.getName()); });
    for (WeightOp w : llvm::make_early_inc_range(module.getOps<WeightOp>()))
      if (sources.contains(w.getSymName()) && !read.contains(w.getSymName()))
        w.erase();
  }
};

} // namespace
