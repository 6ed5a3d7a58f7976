//===- Parallel.cpp - split heavy loops across the runtime's threads ------===//
//
// zamba2-outline-parallel (memref level): heavy scf.parallel loops ->
//   private body functions over a collapsed iteration range.
// zamba2-parallel-dispatch (LLVM dialect): calls of those bodies -> a
//   dispatch through a replaceable function pointer, so that the runtime's
//   thread pool (not an OpenMP library) runs them. docs/PACKAGE.md has the
//   contract.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/RegionUtils.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_OUTLINEPARALLEL
#define GEN_PASS_DEF_PARALLELDISPATCH
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;

namespace {

constexpr StringLiteral kBodyPrefix = "zamba2_parallel_body_";

bool isHeavy(scf::ParallelOp loop) {
  bool found = false;
  loop.getBody()->walk([&](scf::ForOp) { found = true; });
  return found;
}

/// ceildiv(ub - lb, step) for index values.
Value tripCount(OpBuilder &b, Location loc, Value lb, Value ub, Value step) {
  Value span = arith::SubIOp::create(b, loc, ub, lb);
  return arith::CeilDivSIOp::create(b, loc, span, step);
}

struct OutlineParallelPass
    : mlir::zamba2::impl::OutlineParallelBase<OutlineParallelPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ParallelOp> loops;
    module.walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>() &&
          loop.getNumReductions() == 0 && isHeavy(loop))
        loops.push_back(loop);
    });
    unsigned counter = 0;
    for (scf::ParallelOp loop : loops)
      outline(module, loop, counter++);
  }

  void outline(ModuleOp module, scf::ParallelOp loop, unsigned id) {
    MLIRContext *ctx = module.getContext();
    Location loc = loop.getLoc();
    // Values the loop reads from outside: bounds, steps, captured values.
    // Constants are cloned into the body instead (strides and trip counts
    // stay visible to LLVM).
    llvm::SetVector<Value> captured;
    for (Value v : loop->getOperands())
      captured.insert(v);
    getUsedValuesDefinedAbove(loop.getRegion(), captured);
    SmallVector<Value> args;
    SmallVector<Operation *> constants;
    for (Value v : captured) {
      if (Operation *def = v.getDefiningOp();
          def && def->hasTrait<OpTrait::ConstantLike>())
        constants.push_back(def);
      else
        args.push_back(v);
    }

    // The body function: (begin, end, args...) runs the collapsed
    // iterations [begin, end).
    OpBuilder builder(ctx);
    builder.setInsertionPointToEnd(module.getBody());
    SmallVector<Type> argTypes = {builder.getIndexType(),
                                  builder.getIndexType()};
    for (Value v : args)
      argTypes.push_back(v.getType());
    std::string name = (kBodyPrefix + Twine(id)).str();
    auto fn = func::FuncOp::create(builder, loc, name,
                                   builder.getFunctionType(argTypes, {}));
    fn.setPrivate();
    Block *entry = fn.addEntryBlock();
    builder.setInsertionPointToStart(entry);
    IRMapping map;
    for (Operation *c : constants)
      builder.clone(*c, map);
    for (auto [v, arg] : llvm::zip(args, entry->getArguments().drop_front(2)))
      map.map(v, arg);
    unsigned dims = loop.getNumLoops();
    SmallVector<Value> counts;
    for (unsigned d = 0; d < dims; ++d)
      counts.push_back(tripCount(
          builder, loc, map.lookup(loop.getLowerBound()[d]),
          map.lookup(loop.getUpperBound()[d]), map.lookup(loop.getStep()[d])));
    Value one = arith::ConstantIndexOp::create(builder, loc, 1);
    auto linear = scf::ForOp::create(builder, loc, entry->getArgument(0),
                                     entry->getArgument(1), one);
    {
      OpBuilder::InsertionGuard guard(builder);
      builder.setInsertionPoint(linear.getBody()->getTerminator());
      // Row-major delinearisation: the last dim varies fastest.
      Value rest = linear.getInductionVar();
      SmallVector<Value> ivs(dims);
      for (int d = static_cast<int>(dims) - 1; d >= 0; --d) {
        Value index =
            d == 0 ? rest
                   : arith::RemSIOp::create(builder, loc, rest, counts[d])
                         .getResult();
        if (d > 0)
          rest = arith::DivSIOp::create(builder, loc, rest, counts[d]);
        Value scaled = arith::MulIOp::create(builder, loc, index,
                                             map.lookup(loop.getStep()[d]));
        ivs[d] = arith::AddIOp::create(builder, loc, scaled,
                                       map.lookup(loop.getLowerBound()[d]));
      }
      for (auto [iv, v] : llvm::zip(loop.getInductionVars(), ivs))
        map.map(iv, v);
      for (Operation &op : loop.getBody()->without_terminator())
        builder.clone(op, map);
    }
    func::ReturnOp::create(builder, loc);

    // The call over the whole range replaces the loop.
    builder.setInsertionPoint(loop);
    Value total = arith::ConstantIndexOp::create(builder, loc, 1);
    for (unsigned d = 0; d < dims; ++d)
      total = arith::MulIOp::create(
          builder, loc, total,
          tripCount(builder, loc, loop.getLowerBound()[d],
                    loop.getUpperBound()[d], loop.getStep()[d]));
    SmallVector<Value> callArgs = {
        arith::ConstantIndexOp::create(builder, loc, 0), total};
    callArgs.append(args.begin(), args.end());
    func::CallOp::create(builder, loc, fn, callArgs);
    loop.erase();
  }
};

struct ParallelDispatchPass
    : mlir::zamba2::impl::ParallelDispatchBase<ParallelDispatchPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = module.getContext();
    Location loc = module.getLoc();
    auto ptr = LLVM::LLVMPointerType::get(ctx);
    auto i64 = IntegerType::get(ctx, 64);
    auto voidTy = LLVM::LLVMVoidType::get(ctx);
    auto bodyFnTy = LLVM::LLVMFunctionType::get(voidTy, {ptr, i64, i64});
    auto dispatchTy = LLVM::LLVMFunctionType::get(voidTy, {ptr, ptr, i64, i64});

    SmallVector<LLVM::LLVMFuncOp> bodies;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (fn.getName().starts_with(kBodyPrefix) && !fn.isExternal())
        bodies.push_back(fn);
    if (bodies.empty())
      return;

    OpBuilder b(ctx);
    b.setInsertionPointToEnd(module.getBody());
    // The serial dispatcher: fn(ctx, begin, end).
    auto serial =
        LLVM::LLVMFuncOp::create(b, loc, "zamba2_parallel_serial", dispatchTy);
    serial.setLinkage(LLVM::Linkage::Internal);
    {
      OpBuilder::InsertionGuard guard(b);
      Block *e = serial.addEntryBlock(b);
      b.setInsertionPointToStart(e);
      LLVM::CallOp::create(b, loc, bodyFnTy,
                           ValueRange{e->getArgument(0), e->getArgument(1),
                                      e->getArgument(2), e->getArgument(3)});
      LLVM::ReturnOp::create(b, loc, ValueRange{});
    }
    // The replaceable dispatcher pointer, initially the serial one.
    auto global = LLVM::GlobalOp::create(b, loc, ptr, /*isConstant=*/false,
                                         LLVM::Linkage::Internal,
                                         "zamba2_parallel_for", Attribute());
    {
      OpBuilder::InsertionGuard guard(b);
      Block *init = b.createBlock(&global.getInitializerRegion());
      b.setInsertionPointToStart(init);
      Value addr = LLVM::AddressOfOp::create(b, loc, ptr, serial.getName());
      LLVM::ReturnOp::create(b, loc, addr);
    }
    // void zamba2_set_parallel_for(dispatcher): the runtime's hook.
    auto setter =
        LLVM::LLVMFuncOp::create(b, loc, "zamba2_set_parallel_for",
                                 LLVM::LLVMFunctionType::get(voidTy, {ptr}));
    {
      OpBuilder::InsertionGuard guard(b);
      Block *e = setter.addEntryBlock(b);
      b.setInsertionPointToStart(e);
      Value slot = LLVM::AddressOfOp::create(b, loc, global);
      Value fnArg = e->getArgument(0);
      // A null dispatcher restores the serial one.
      Value serialAddr = LLVM::AddressOfOp::create(b, loc, serial);
      Value null = LLVM::ZeroOp::create(b, loc, ptr);
      Value isNull =
          LLVM::ICmpOp::create(b, loc, LLVM::ICmpPredicate::eq, fnArg, null);
      Value chosen = LLVM::SelectOp::create(b, loc, isNull, serialAddr, fnArg);
      LLVM::StoreOp::create(b, loc, chosen, slot);
      LLVM::ReturnOp::create(b, loc, ValueRange{});
    }

    // The calls to rewrite, by callee (collected before the trampolines add
    // their own calls of the bodies).
    llvm::StringMap<SmallVector<LLVM::CallOp>> callsOf;
    module.walk([&](LLVM::CallOp call) {
      if (std::optional<StringRef> callee = call.getCallee();
          callee && callee->starts_with(kBodyPrefix))
        callsOf[*callee].push_back(call);
    });
    for (LLVM::LLVMFuncOp body : bodies) {
      SmallVector<LLVM::CallOp> &calls = callsOf[body.getName()];
      body.setLinkage(LLVM::Linkage::Internal);
      ArrayRef<Type> params = body.getFunctionType().getParams();
      SmallVector<Type> rest(params.drop_front(2));
      auto structTy = LLVM::LLVMStructType::getLiteral(ctx, rest);
      // Trampoline: unpack the struct and call the body.
      auto tramp = LLVM::LLVMFuncOp::create(
          b, loc, (body.getName() + "_tramp").str(), bodyFnTy);
      tramp.setLinkage(LLVM::Linkage::Internal);
      {
        OpBuilder::InsertionGuard guard(b);
        Block *e = tramp.addEntryBlock(b);
        b.setInsertionPointToStart(e);
        SmallVector<Value> callArgs = {e->getArgument(1), e->getArgument(2)};
        for (auto [i, t] : llvm::enumerate(rest)) {
          Value field = LLVM::GEPOp::create(
              b, loc, ptr, structTy, e->getArgument(0),
              ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
          callArgs.push_back(LLVM::LoadOp::create(b, loc, t, field));
        }
        LLVM::CallOp::create(b, loc, body, callArgs);
        LLVM::ReturnOp::create(b, loc, ValueRange{});
      }
      // Each call: pack into a stack struct, dispatch.
      for (LLVM::CallOp call : calls) {
        auto caller = call->getParentOfType<LLVM::LLVMFuncOp>();
        OpBuilder::InsertionGuard guard(b);
        b.setInsertionPointToStart(&caller.getBody().front());
        Value count =
            LLVM::ConstantOp::create(b, loc, i64, b.getI64IntegerAttr(1));
        Value frame = LLVM::AllocaOp::create(b, loc, ptr, structTy, count);
        b.setInsertionPoint(call);
        for (auto [i, v] :
             llvm::enumerate(call.getArgOperands().drop_front(2))) {
          Value field = LLVM::GEPOp::create(
              b, loc, ptr, structTy, frame,
              ArrayRef<LLVM::GEPArg>{0, static_cast<int32_t>(i)});
          LLVM::StoreOp::create(b, loc, v, field);
        }
        Value slot = LLVM::AddressOfOp::create(b, loc, global);
        Value dispatcher = LLVM::LoadOp::create(b, loc, ptr, slot);
        Value trampAddr = LLVM::AddressOfOp::create(b, loc, tramp);
        SmallVector<Value> operands = {dispatcher, trampAddr, frame,
                                       call.getArgOperands()[0],
                                       call.getArgOperands()[1]};
        LLVM::CallOp::create(b, call.getLoc(), dispatchTy, operands);
        call.erase();
      }
    }
  }
};

} // namespace
