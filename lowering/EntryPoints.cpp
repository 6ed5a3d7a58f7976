//===- EntryPoints.cpp - the package ABI of the generated code ------------===//
//
// Two passes that give the imported `@prefill` / `@decode` functions the
// C ABI of docs/PACKAGE.md:
//
// zamba2-prepare-entry-points (on tensors, before bufferization)
//   - lays the weights out in one buffer (declaration order, aligned), records
//     the table as the module attribute `zamba2.weight_table` (with the
//     `zamba2.quant` transform of quantized parts), and erases the
//     `zamba2.weight` declarations;
//   - adds the weight buffer (memref<?xi8>) as argument 0 of each entry point
//     and turns every `zamba2.param` into a typed view of it;
//   - records the state tensors in argument order as `zamba2.state_table`;
//   - makes the functions destination-passing: logits get an output argument
//     and every result is materialised into its argument (state in place), so
//     after bufferization and drop-equivalent-buffer-results no result is
//     left.
//
// zamba2-emit-entry-wrappers (on the LLVM dialect, last)
//   - adds `void zamba2_<name>(void **args)` calling `_mlir_ciface_<name>`
//     with args[i] as the i-th memref descriptor, and
//     `int32_t zamba2_abi_version(void)`.
//
//===----------------------------------------------------------------------===//
#include "dialect/Zamba2Ops.h"
#include "lowering/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_PREPAREENTRYPOINTS
#define GEN_PASS_DEF_EMITENTRYWRAPPERS
#define GEN_PASS_DEF_DROPTIEDRESULTS
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;

int64_t mlir::zamba2::storedBytes(RankedTensorType type) {
  unsigned bits = type.getElementType().getIntOrFloatBitWidth();
  return (type.getNumElements() * bits + 7) / 8;
}

namespace {

constexpr StringLiteral kStateAttr = "zamba2.state";
/// On each prepared entry point: the argument each result belongs to.
constexpr StringLiteral kResultArgsAttr = "zamba2.result_args";

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

struct PrepareEntryPointsPass
    : mlir::zamba2::impl::PrepareEntryPointsBase<PrepareEntryPointsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
      module.emitError("alignment must be a power of two, got ")
          << static_cast<int64_t>(alignment);
      return signalPassFailure();
    }

    // Weight layout: declaration order, each tensor aligned.
    llvm::StringMap<int64_t> offsets;
    SmallVector<Attribute> table;
    int64_t cursor = 0;
    SmallVector<WeightOp> decls(module.getOps<WeightOp>());
    for (WeightOp w : decls) {
      auto type = cast<RankedTensorType>(w.getType());
      int64_t bytes = storedBytes(type);
      cursor = alignUp(cursor, alignment);
      offsets[w.getSymName()] = cursor;
      Builder b(ctx);
      SmallVector<NamedAttribute> entry = {
          b.getNamedAttr("name", w.getSymNameAttr()),
          b.getNamedAttr("type", TypeAttr::get(type)),
          b.getNamedAttr("offset", b.getI64IntegerAttr(cursor)),
          b.getNamedAttr("bytes", b.getI64IntegerAttr(bytes)),
      };
      // A quantized part (zamba2-quantize): how the packer computes it.
      if (auto quant = w->getAttrOfType<DictionaryAttr>("zamba2.quant"))
        entry.push_back(b.getNamedAttr("quant", quant));
      table.push_back(b.getDictionaryAttr(entry));
      cursor += bytes;
    }
    Builder b(ctx);
    module->setAttr("zamba2.weight_table", b.getArrayAttr(table));
    module->setAttr("zamba2.weights_bytes", b.getI64IntegerAttr(cursor));

    ArrayAttr stateTable;
    for (func::FuncOp fn : module.getOps<func::FuncOp>()) {
      if (fn.isDeclaration() || !fn.isPublic())
        continue;
      FailureOr<ArrayAttr> states = prepare(fn, offsets);
      if (failed(states))
        return signalPassFailure();
      if (stateTable && stateTable != *states) {
        fn.emitError("entry points disagree on the state tensors");
        return signalPassFailure();
      }
      stateTable = *states;
    }
    if (!stateTable) {
      module.emitError("no entry point (public func.func) to prepare");
      return signalPassFailure();
    }
    module->setAttr("zamba2.state_table", stateTable);
    for (WeightOp w : decls)
      w.erase();
  }

  /// Rewrites one entry point; returns its state table.
  FailureOr<ArrayAttr> prepare(func::FuncOp fn,
                               const llvm::StringMap<int64_t> &offsets) {
    MLIRContext *ctx = fn.getContext();
    Block &entry = fn.getBody().front();
    FunctionType type = fn.getFunctionType();
    unsigned numInputs = type.getNumInputs();
    // Imported ABI: (tokens, positions, state...) -> (logits, state...).
    if (numInputs < 2 || type.getNumResults() != numInputs - 1) {
      fn.emitError("entry point must be (tokens, positions, state...) -> "
                   "(logits, state...)");
      return failure();
    }
    auto stateName = [&](unsigned arg) {
      return fn.getArgAttrOfType<StringAttr>(arg, kStateAttr);
    };
    Builder b(ctx);
    SmallVector<Attribute> states;
    for (unsigned i = 2; i < numInputs; ++i) {
      StringAttr name = stateName(i);
      if (!name || type.getInput(i) != type.getResult(i - 1)) {
        fn.emitError("state argument ") << i << " has no matching result";
        return failure();
      }
      states.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("name", name),
           b.getNamedAttr("type", TypeAttr::get(type.getInput(i)))}));
    }

    // New signature: (weights, tokens, positions, state..., logits) ->
    // (state..., logits), each result materialised into its argument.
    auto weightsType =
        MemRefType::get({ShapedType::kDynamic}, IntegerType::get(ctx, 8));
    Type logitsType = type.getResult(0);
    Value weights = entry.insertArgument(0u, weightsType, fn.getLoc());
    Value logitsOut = entry.addArgument(logitsType, fn.getLoc());

    OpBuilder builder(ctx);
    bool ok = true;
    fn.walk([&](ParamOp param) {
      builder.setInsertionPoint(param);
      auto it = offsets.find(param.getName());
      if (it == offsets.end()) {
        param.emitError("reads an undeclared weight");
        ok = false;
        return;
      }
      auto tensorTy = cast<RankedTensorType>(param.getType());
      auto memrefTy =
          MemRefType::get(tensorTy.getShape(), tensorTy.getElementType());
      Value offset =
          arith::ConstantIndexOp::create(builder, param.getLoc(), it->second);
      Value view = memref::ViewOp::create(builder, param.getLoc(), memrefTy,
                                          weights, offset, ValueRange{});
      Value tensor = bufferization::ToTensorOp::create(
          builder, param.getLoc(), tensorTy, view, /*restrict=*/true);
      param.replaceAllUsesWith(tensor);
      param.erase();
    });
    if (!ok)
      return failure();

    auto ret = cast<func::ReturnOp>(entry.getTerminator());
    builder.setInsertionPoint(ret);
    SmallVector<Value> results;
    // Arguments are now (weights, tokens, positions, state..., logits).
    // State results are returned as they are: One-Shot Bufferize updates the
    // argument in place (equivalent buffers), and zamba2-drop-tied-results
    // checks that and copies where it could not. (Materialising a value
    // equivalent to its destination trips One-Shot's loop analysis.) Logits
    // are computed straight into their output argument.
    SmallVector<int64_t> resultArgs;
    for (unsigned i = 1; i < ret.getNumOperands(); ++i) {
      results.push_back(ret.getOperand(i));
      resultArgs.push_back(i + 2);
    }
    resultArgs.push_back(entry.getNumArguments() - 1);
    results.push_back(bufferization::MaterializeInDestinationOp::create(
                          builder, ret.getLoc(), ret.getOperand(0), logitsOut)
                          ->getResult(0));
    func::ReturnOp::create(builder, ret.getLoc(), results);
    ret.erase();

    SmallVector<Type> resultTypes(type.getResults().drop_front());
    resultTypes.push_back(logitsType);
    fn.setFunctionType(
        FunctionType::get(ctx, entry.getArgumentTypes(), resultTypes));
    // The names now live in the state table; clear the per-argument copies.
    for (unsigned i = 0; i < entry.getNumArguments(); ++i)
      fn.setArgAttrs(i, ArrayRef<NamedAttribute>{});
    for (unsigned i = 0; i < resultTypes.size(); ++i)
      fn.setResultAttrs(i, ArrayRef<NamedAttribute>{});
    fn->setAttr("llvm.emit_c_interface", UnitAttr::get(ctx));
    fn->setAttr(kResultArgsAttr, b.getDenseI64ArrayAttr(resultArgs));
    return b.getArrayAttr(states);
  }
};

/// A result that bufferization computed in a buffer of its own and then
/// copied into its argument (`memref.copy %alloc, %arg`, the logits): when
/// the function uses the argument for nothing else, and the buffer (an
/// alloc of the argument's type in the entry block, never deallocated) for
/// nothing after the copy, the buffer becomes the argument and the copy
/// goes: the result is computed in the caller's buffer.
void computeInCallerBuffer(BlockArgument arg, func::ReturnOp ret) {
  memref::CopyOp copy;
  for (Operation *user : arg.getUsers()) {
    auto c = dyn_cast<memref::CopyOp>(user);
    if (c && c.getTarget() == arg && !copy)
      copy = c;
    else if (user != ret)
      return;
  }
  if (!copy || copy->getBlock() != arg.getOwner())
    return;
  auto alloc = copy.getSource().getDefiningOp<memref::AllocOp>();
  if (!alloc || alloc->getBlock() != arg.getOwner() ||
      alloc.getType() != arg.getType())
    return;
  for (Operation *user : alloc->getUsers()) {
    Operation *inBlock = arg.getOwner()->findAncestorOpInBlock(*user);
    if (isa<memref::DeallocOp>(user) || !inBlock ||
        (user != copy && copy->isBeforeInBlock(inBlock)))
      return;
  }
  copy.erase();
  alloc.replaceAllUsesWith(arg);
  alloc.erase();
}

struct DropTiedResultsPass
    : mlir::zamba2::impl::DropTiedResultsBase<DropTiedResultsPass> {
  void runOnOperation() override {
    for (func::FuncOp fn : getOperation().getOps<func::FuncOp>()) {
      auto resultArgs = fn->getAttrOfType<DenseI64ArrayAttr>(kResultArgsAttr);
      if (fn.isDeclaration() || !resultArgs)
        continue;
      Block &entry = fn.getBody().front();
      auto ret = cast<func::ReturnOp>(entry.getTerminator());
      if (static_cast<int64_t>(ret.getNumOperands()) != resultArgs.size()) {
        fn.emitError("result count does not match zamba2.result_args");
        return signalPassFailure();
      }
      for (int64_t argIndex : resultArgs.asArrayRef())
        computeInCallerBuffer(entry.getArgument(argIndex), ret);
      OpBuilder builder(ret);
      for (auto [v, argIndex] :
           llvm::zip(ret.getOperands(), resultArgs.asArrayRef())) {
        Value source = v;
        while (auto cast = source.getDefiningOp<memref::CastOp>())
          source = cast.getSource();
        BlockArgument arg = entry.getArgument(argIndex);
        if (source == arg)
          continue;
        // Bufferization computed this result out of place: copy it into the
        // caller's buffer (correct, one extra pass over the tensor).
        memref::CopyOp::create(builder, ret.getLoc(), v, arg);
      }
      func::ReturnOp::create(builder, ret.getLoc());
      ret.erase();
      fn.setFunctionType(FunctionType::get(fn.getContext(),
                                           fn.getArgumentTypes(), TypeRange{}));
      fn->removeAttr(kResultArgsAttr);
    }
  }
};

struct EmitEntryWrappersPass
    : mlir::zamba2::impl::EmitEntryWrappersBase<EmitEntryWrappersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    auto ptrType = LLVM::LLVMPointerType::get(ctx);
    auto i32 = IntegerType::get(ctx, 32);
    OpBuilder builder(ctx);
    builder.setInsertionPointToEnd(module.getBody());
    Location loc = module.getLoc();

    SmallVector<LLVM::LLVMFuncOp> cifaces;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (fn.getName().starts_with("_mlir_ciface_") && !fn.isExternal())
        cifaces.push_back(fn);
    if (cifaces.empty()) {
      module.emitError("no _mlir_ciface_ entry point to wrap (run after "
                       "convert-func-to-llvm on functions marked "
                       "llvm.emit_c_interface)");
      return signalPassFailure();
    }
    for (LLVM::LLVMFuncOp target : cifaces) {
      std::string name =
          ("zamba2_" + target.getName().drop_front(strlen("_mlir_ciface_")))
              .str();
      auto fnType =
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(ctx), {ptrType});
      auto wrapper = LLVM::LLVMFuncOp::create(builder, loc, name, fnType);
      Block *body = wrapper.addEntryBlock(builder);
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPointToStart(body);
      Value argv = body->getArgument(0);
      SmallVector<Value> args;
      for (unsigned i = 0; i < target.getNumArguments(); ++i) {
        if (target.getArgumentTypes()[i] != ptrType) {
          target.emitError("expected only descriptor pointers in the C "
                           "interface");
          return signalPassFailure();
        }
        Value slot = LLVM::GEPOp::create(builder, loc, ptrType, ptrType, argv,
                                         ArrayRef<LLVM::GEPArg>{int32_t(i)});
        args.push_back(LLVM::LoadOp::create(builder, loc, ptrType, slot));
      }
      LLVM::CallOp::create(builder, loc, target, args);
      LLVM::ReturnOp::create(builder, loc, ValueRange{});
    }

    auto versionType = LLVM::LLVMFunctionType::get(i32, {});
    auto version = LLVM::LLVMFuncOp::create(builder, loc, "zamba2_abi_version",
                                            versionType);
    Block *body = version.addEntryBlock(builder);
    builder.setInsertionPointToStart(body);
    Value one = LLVM::ConstantOp::create(
        builder, loc, i32, builder.getI32IntegerAttr(kAbiVersion));
    LLVM::ReturnOp::create(builder, loc, one);

    // const char *zamba2_model_signature(void): what the code was compiled
    // for, so that the runtime can refuse a manifest that disagrees.
    std::string signature = modelSignature(module);
    if (signature.empty())
      return;
    builder.setInsertionPointToEnd(module.getBody());
    auto text = LLVM::GlobalOp::create(
        builder, loc,
        LLVM::LLVMArrayType::get(IntegerType::get(ctx, 8),
                                 signature.size() + 1),
        /*isConstant=*/true, LLVM::Linkage::Internal, "zamba2_signature_text",
        builder.getStringAttr(signature + '\0'));
    auto sigFn =
        LLVM::LLVMFuncOp::create(builder, loc, "zamba2_model_signature",
                                 LLVM::LLVMFunctionType::get(ptrType, {}));
    Block *sigBody = sigFn.addEntryBlock(builder);
    builder.setInsertionPointToStart(sigBody);
    Value addr = LLVM::AddressOfOp::create(builder, loc, text);
    LLVM::ReturnOp::create(builder, loc, addr);
  }

  /// "vocab=V;NAME:DTYPE[d0,d1,...];..." from the module's zamba2.model and
  /// zamba2.state_table (dims: batch, seq or a size), in state order;
  /// empty when the module lacks them.
  static std::string modelSignature(ModuleOp module) {
    auto model = module->getAttrOfType<DictionaryAttr>("zamba2.model");
    auto states = module->getAttrOfType<ArrayAttr>("zamba2.state_table");
    if (!model || !states)
      return "";
    auto vocab = model.getAs<IntegerAttr>("vocab_size");
    if (!vocab)
      return "";
    std::string out = "vocab=" + std::to_string(vocab.getInt());
    for (Attribute a : states) {
      auto d = cast<DictionaryAttr>(a);
      auto type =
          cast<RankedTensorType>(cast<TypeAttr>(d.get("type")).getValue());
      Type e = type.getElementType();
      out += ";" + cast<StringAttr>(d.get("name")).str() + ":" +
             (e.isF32()    ? "f32"
              : e.isBF16() ? "bf16"
              : e.isF16()  ? "f16"
                           : "?") +
             "[";
      for (auto [i, dim] : llvm::enumerate(type.getShape()))
        out += (i ? "," : "") + (i == 0 ? "batch"
                                 : ShapedType::isDynamic(dim)
                                     ? "seq"
                                     : std::to_string(dim));
      out += "]";
    }
    return out;
  }
};

} // namespace
