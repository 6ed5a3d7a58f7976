//===- GpuLowering.cpp - zamba2c's own passes of the CUDA pipeline --------===//
//
// zamba2-allocs-to-gpu (on memrefs, before the parallel loops become kernels)
//   - host memref.alloc / dealloc / copy become gpu.alloc / dealloc / memcpy
//     (device memory).
//
// zamba2-parallel-to-gpu
//   - each host scf.parallel becomes a gpu.launch, one thread per iteration
//     of the flattened iteration space; globals used in kernels are cloned
//     into them; then host code must not touch memory.
//
// zamba2-merge-gpu-modules (after gpu-kernel-outlining)
//   - moves every kernel into one gpu.module, so that the device code is
//     compiled (and loaded) once.
//
// zamba2-gpu-stream (after outlining)
//   - one stream per entry-point call, every GPU op asynchronous on it, one
//     wait at the end.
//
// zamba2-gpu-dependent-launch (after outlining, sm_90+)
//   - every kernel waits for the grids before it itself (griddepcontrol),
//     so that the runtime may launch it before they end; the wait goes
//     after the kernel's leading ops marked zamba2.before_wait (in each
//     case of a kernel zamba2-gpu-merge-launches made of several); a short
//     kernel (an op marked zamba2.early_trigger) lets the next one launch
//     before its wait, the others after it.
//
// zamba2-prefetch-weights (before bufferization)
//   - marks the module so that the linear kernels prefetch their weight
//     rows into L2 before that wait (GpuLinearKernels.cpp).
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernels.h"
#include "lowering/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/NVVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_ALLOCSTOGPU
#define GEN_PASS_DEF_PARALLELTOGPU
#define GEN_PASS_DEF_GPUSTREAM
#define GEN_PASS_DEF_MERGEGPUMODULES
#define GEN_PASS_DEF_GPUDEPENDENTLAUNCH
#define GEN_PASS_DEF_GPUREGISTERBUDGET
#define GEN_PASS_DEF_PREFETCHWEIGHTS
#define GEN_PASS_DEF_GPUINT4MMA
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;

namespace {

/// Inside code that will run on the device (a parallel loop that becomes a
/// kernel, or an existing launch or kernel).
bool onDevice(Operation *op) {
  return op->getParentOfType<scf::ParallelOp>() ||
         op->getParentOfType<gpu::LaunchOp>() ||
         op->getParentOfType<gpu::GPUModuleOp>();
}

struct AllocsToGpuPass : mlir::zamba2::impl::AllocsToGpuBase<AllocsToGpuPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    OpBuilder b(module.getContext());
    SmallVector<Operation *> ops;
    module.walk([&](Operation *op) {
      if (isa<memref::AllocOp, memref::DeallocOp, memref::CopyOp>(op) &&
          !onDevice(op))
        ops.push_back(op);
    });
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      Location loc = op->getLoc();
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        if (!alloc.getType().getLayout().isIdentity() ||
            alloc.getType().getMemorySpace()) {
          alloc.emitError("zamba2-allocs-to-gpu: only identity-layout "
                          "allocations in the default memory space are "
                          "supported");
          return signalPassFailure();
        }
        auto device = gpu::AllocOp::create(
            b, loc, alloc.getType(), /*asyncToken=*/Type(),
            /*asyncDependencies=*/ValueRange{}, alloc.getDynamicSizes(),
            alloc.getSymbolOperands(), /*hostShared=*/false);
        alloc.replaceAllUsesWith(device.getMemref());
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        gpu::DeallocOp::create(b, loc, Type(), ValueRange{},
                               dealloc.getMemref());
      } else {
        auto copy = cast<memref::CopyOp>(op);
        auto contiguous = [](Value v) {
          return cast<MemRefType>(v.getType()).getLayout().isIdentity();
        };
        if (!contiguous(copy.getSource()) || !contiguous(copy.getTarget())) {
          copy.emitError("zamba2-allocs-to-gpu: a strided copy on the host "
                         "(zamba2-copy-to-linalg should have made it a loop)");
          return signalPassFailure();
        }
        gpu::MemcpyOp::create(b, loc, Type(), ValueRange{}, copy.getTarget(),
                              copy.getSource());
      }
      op->erase();
    }
  }
};

//===----------------------------------------------------------------------===//
// zamba2-parallel-to-gpu
//===----------------------------------------------------------------------===//

/// Clones the memref.get_global ops whose results `launch` uses into its
/// body: the kernel then names the global, which the outlining copies into
/// the device module (a host global's address means nothing on the device).
void sinkGlobals(gpu::LaunchOp launch) {
  Region &body = launch.getBody();
  OpBuilder b(launch.getContext());
  b.setInsertionPointToStart(&body.front());
  llvm::DenseMap<Value, Value> cloned;
  body.walk([&](Operation *op) {
    for (OpOperand &use : op->getOpOperands()) {
      auto global = use.get().getDefiningOp<memref::GetGlobalOp>();
      if (!global || launch->isAncestor(global))
        continue;
      Value &inside = cloned[use.get()];
      if (!inside)
        inside = b.clone(*global)->getResult(0);
      use.set(inside);
    }
  });
}

struct ParallelToGpuPass
    : mlir::zamba2::impl::ParallelToGpuBase<ParallelToGpuPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<scf::ParallelOp> loops;
    module.walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>() &&
          !loop->getParentOfType<gpu::LaunchOp>() &&
          !loop->getParentOfType<gpu::GPUModuleOp>())
        loops.push_back(loop);
    });
    for (scf::ParallelOp loop : loops)
      if (failed(convert(loop)))
        return signalPassFailure();
    module.walk([](gpu::LaunchOp launch) { sinkGlobals(launch); });
    if (failed(checkHostCode(module)))
      return signalPassFailure();
  }

  /// for (i0, ..., in) in parallel -> thread id = i0 * (N1...Nn) + ... + in.
  LogicalResult convert(scf::ParallelOp loop) {
    if (!loop.getInitVals().empty())
      return loop.emitError("zamba2-parallel-to-gpu: a host parallel loop "
                            "with reductions is not supported");
    OpBuilder b(loop);
    Location loc = loop.getLoc();
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    SmallVector<Value> trips;
    Value total = idx(1);
    for (auto [lb, ub, step] : llvm::zip(
             loop.getLowerBound(), loop.getUpperBound(), loop.getStep())) {
      // ceil((ub - lb) / step), 0 when ub <= lb.
      Value span = arith::SubIOp::create(b, loc, ub, lb);
      Value positive = arith::MaxSIOp::create(b, loc, span, idx(0));
      Value trip = arith::CeilDivUIOp::create(b, loc, positive, step);
      trips.push_back(trip);
      total = arith::MulIOp::create(b, loc, total, trip);
    }
    // An empty iteration space launches nothing.
    Value any =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, total, idx(0));
    auto guard = scf::IfOp::create(b, loc, any, /*withElseRegion=*/false);
    b.setInsertionPointToStart(guard.thenBlock());
    Value threads = idx(blockSize);
    Value blocks = arith::CeilDivUIOp::create(b, loc, total, threads);
    Value one = idx(1);
    // Named "loop" (the outlining makes the names unique).
    auto name = FlatSymbolRefAttr::get(b.getContext(), "loop");
    auto launch = gpu::LaunchOp::create(
        b, loc, blocks, one, one, threads, one, one,
        /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
        /*asyncDependencies=*/{}, /*workgroupAttributions=*/{},
        /*privateAttributions=*/{}, nullptr, nullptr, nullptr, name, name);
    b.setInsertionPointToStart(&launch.getBody().front());
    Value id = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, launch.getBlockIds().x, threads),
        launch.getThreadIds().x);
    Value inRange =
        arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, id, total);
    auto body = scf::IfOp::create(b, loc, inRange, /*withElseRegion=*/false);
    gpu::TerminatorOp::create(b, loc);
    // An elementwise kernel is short: the GEMV that usually follows it
    // (the concatenation before the shared block, the MLP's gate before
    // its down projection) loads its weights while it runs. The mark goes
    // on the bounds check.
    markEarlyTrigger(launch);
    b.setInsertionPointToStart(body.thenBlock());
    IRMapping map;
    Value rest = id;
    for (int64_t i = static_cast<int64_t>(trips.size()) - 1; i >= 0; --i) {
      Value index =
          i == 0 ? rest
                 : arith::RemUIOp::create(b, loc, rest, trips[i]).getResult();
      if (i > 0)
        rest = arith::DivUIOp::create(b, loc, rest, trips[i]);
      Value iv = arith::AddIOp::create(
          b, loc, loop.getLowerBound()[i],
          arith::MulIOp::create(b, loc, index, loop.getStep()[i]));
      map.map(loop.getInductionVars()[i], iv);
    }
    for (Operation &op : loop.getBody()->without_terminator())
      b.clone(op, map);
    loop.erase();
    return success();
  }

  /// Host code may compute sizes and launch kernels; it must not access
  /// memory.
  static LogicalResult checkHostCode(ModuleOp module) {
    WalkResult result = module.walk<WalkOrder::PreOrder>([](Operation *op) {
      if (isa<gpu::LaunchOp, gpu::GPUModuleOp>(op))
        return WalkResult::skip();
      if (isa<memref::LoadOp, memref::StoreOp, memref::CopyOp, vector::LoadOp,
              vector::StoreOp, vector::TransferReadOp, vector::TransferWriteOp,
              linalg::LinalgOp>(op)) {
        op->emitError("zamba2-parallel-to-gpu: host code accesses a "
                      "device buffer (")
            << op->getName() << ")";
        return WalkResult::interrupt();
      }
      return WalkResult::advance();
    });
    return failure(result.wasInterrupted());
  }
};

//===----------------------------------------------------------------------===//
// zamba2-gpu-stream
//===----------------------------------------------------------------------===//

struct GpuStreamPass : mlir::zamba2::impl::GpuStreamBase<GpuStreamPass> {
  void runOnOperation() override {
    for (auto fn : getOperation().getOps<func::FuncOp>())
      if (failed(runOnFunction(fn)))
        return signalPassFailure();
  }

  LogicalResult runOnFunction(func::FuncOp fn) {
    SmallVector<Operation *> ops;
    bool hasAsync = false;
    fn.walk([&](Operation *op) {
      if (isa<gpu::LaunchFuncOp, gpu::AllocOp, gpu::DeallocOp, gpu::MemcpyOp,
              gpu::MemsetOp>(op))
        ops.push_back(op);
      else if (isa<gpu::WaitOp>(op))
        hasAsync = true;
    });
    if (ops.empty())
      return success();
    if (hasAsync || !fn.getBody().hasOneBlock())
      return fn.emitError("zamba2-gpu-stream: expects one block and "
                          "synchronous GPU ops");
    OpBuilder b(fn.getContext());
    b.setInsertionPointToStart(&fn.getBody().front());
    auto tokenType = gpu::AsyncTokenType::get(fn.getContext());
    Value stream = gpu::WaitOp::create(b, fn.getLoc(), tokenType, ValueRange{})
                       .getAsyncToken();
    for (Operation *op : ops) {
      b.setInsertionPoint(op);
      Location loc = op->getLoc();
      ValueRange deps(stream);
      if (auto launch = dyn_cast<gpu::LaunchFuncOp>(op)) {
        if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty())
          return launch.emitError("zamba2-gpu-stream: already asynchronous");
        std::optional<gpu::KernelDim3> cluster;
        if (launch.hasClusterSize())
          cluster = launch.getClusterSizeOperandValues();
        gpu::LaunchFuncOp::create(
            b, loc, launch.getKernelAttr(), launch.getGridSizeOperandValues(),
            launch.getBlockSizeOperandValues(),
            launch.getDynamicSharedMemorySize(), launch.getKernelOperands(),
            tokenType, deps, cluster);
      } else if (auto alloc = dyn_cast<gpu::AllocOp>(op)) {
        auto async = gpu::AllocOp::create(
            b, loc, alloc.getType(), tokenType, deps, alloc.getDynamicSizes(),
            alloc.getSymbolOperands(), alloc.getHostShared());
        alloc.getMemref().replaceAllUsesWith(async.getMemref());
      } else if (auto dealloc = dyn_cast<gpu::DeallocOp>(op)) {
        gpu::DeallocOp::create(b, loc, tokenType, deps, dealloc.getMemref());
      } else if (auto set = dyn_cast<gpu::MemsetOp>(op)) {
        gpu::MemsetOp::create(b, loc, tokenType, deps, set.getDst(),
                              set.getValue());
      } else {
        auto copy = cast<gpu::MemcpyOp>(op);
        gpu::MemcpyOp::create(b, loc, tokenType, deps, copy.getDst(),
                              copy.getSrc());
      }
      op->erase();
    }
    b.setInsertionPoint(fn.getBody().front().getTerminator());
    gpu::WaitOp::create(b, fn.getLoc(), Type(), ValueRange{stream});
    scopeLoopAllocas(fn);
    return success();
  }

  /// The host lowering of a launch allocates its argument array on the
  /// stack where the launch is; in a host loop that grows the stack every
  /// iteration (a long prefill overflowed it). An alloca scope per iteration
  /// gives it back.
  static void scopeLoopAllocas(func::FuncOp fn) {
    SmallVector<scf::ForOp> loops;
    fn.walk([&](scf::ForOp loop) {
      if (!loop->getParentOfType<gpu::LaunchOp>() &&
          loop.getBody()
              ->walk([](gpu::LaunchFuncOp) { return WalkResult::interrupt(); })
              .wasInterrupted())
        loops.push_back(loop);
    });
    for (scf::ForOp loop : loops) {
      Block *body = loop.getBody();
      Operation *yield = body->getTerminator();
      OpBuilder b(yield);
      auto scope = memref::AllocaScopeOp::create(b, loop.getLoc(),
                                                 yield->getOperandTypes());
      Block *inner = new Block();
      scope.getBodyRegion().push_back(inner);
      inner->getOperations().splice(inner->end(), body->getOperations(),
                                    body->begin(), Block::iterator(scope));
      b.setInsertionPointToEnd(inner);
      memref::AllocaScopeReturnOp::create(b, loop.getLoc(),
                                          yield->getOperands());
      yield->setOperands(scope.getResults());
    }
  }
};

//===----------------------------------------------------------------------===//
// zamba2-gpu-dependent-launch
//===----------------------------------------------------------------------===//

/// The wait for the grids before this one, as CUDA's own
/// cudaGridDependencySynchronize writes it: `griddepcontrol.wait` in inline
/// assembly that clobbers memory. The NVVM intrinsic is marked as touching
/// no memory, so LLVM moves loads across it either way: the weight loads
/// issued before it (kBeforeWaitAttr) sank below it, and loads of what the
/// kernel before writes could rise above it.
constexpr llvm::StringLiteral kGridDependencyWait = "griddepcontrol.wait;";

bool isGridDependencyWait(Operation &op) {
  auto asmOp = dyn_cast<LLVM::InlineAsmOp>(op);
  return asmOp && asmOp.getAsmString() == kGridDependencyWait;
}

/// Puts the wait and the trigger of the dependent launch into `block`, the
/// start of a kernel's code that every thread runs once: the wait after its
/// ops that may run before the wait (kBeforeWaitAttr), or into each case of
/// a merged kernel (kLaunchCasesAttr), whose blocks each run one; the
/// trigger right after the wait, or first with `earlyTrigger`, when an op
/// of `block` is marked kEarlyTriggerAttr (a short kernel), or with
/// `oneRowEarly` when one is marked kOneRowAttr (a one-row GEMV; the mark
/// goes).
void insertWait(Block &block, Location loc, bool earlyTrigger,
                bool oneRowEarly) {
  for (Operation &op : block)
    if (op.hasAttr(kLaunchCasesAttr)) {
      for (Region &region : op.getRegions())
        insertWait(region.front(), loc, earlyTrigger, oneRowEarly);
      return;
    }
  for (Operation &op : block) {
    earlyTrigger |= op.hasAttr(kEarlyTriggerAttr);
    earlyTrigger |= op.removeAttr(kOneRowAttr) && oneRowEarly;
  }
  auto b = OpBuilder::atBlockBegin(&block);
  if (earlyTrigger)
    NVVM::GriddepcontrolOp::create(b, loc,
                                   NVVM::GridDepActionKind::launch_dependents);
  for (Operation &op : block)
    if (op.hasAttr(kBeforeWaitAttr))
      b.setInsertionPointAfter(&op);
  LLVM::InlineAsmOp::create(b, loc, /*resultTypes=*/TypeRange(),
                            /*operands=*/ValueRange(), kGridDependencyWait,
                            "~{memory}", /*has_side_effects=*/true,
                            /*is_align_stack=*/false,
                            LLVM::tailcallkind::TailCallKind::None,
                            /*asm_dialect=*/LLVM::AsmDialectAttr(),
                            /*operand_attrs=*/ArrayAttr());
  if (!earlyTrigger)
    NVVM::GriddepcontrolOp::create(b, loc,
                                   NVVM::GridDepActionKind::launch_dependents);
}

struct GpuDependentLaunchPass
    : mlir::zamba2::impl::GpuDependentLaunchBase<GpuDependentLaunchPass> {
  using GpuDependentLaunchBase::GpuDependentLaunchBase;
  void runOnOperation() override {
    getOperation().walk([&](gpu::GPUFuncOp fn) {
      if (!fn.isKernel() || fn.getBody().empty())
        return;
      bool done = false;
      fn.walk([&](LLVM::InlineAsmOp op) { done |= isGridDependencyWait(*op); });
      if (!done)
        insertWait(fn.getBody().front(), fn.getLoc(), earlyTrigger,
                   oneRowEarlyTrigger);
    });
  }
};

//===----------------------------------------------------------------------===//
// zamba2-gpu-register-budget
//===----------------------------------------------------------------------===//

/// What an sm_90 SM holds at once: registers, threads, blocks.
constexpr int64_t kSmRegisters = 65536, kSmThreads = 2048, kSmBlocks = 32;
/// The fewest registers a thread is budgeted, and the most a budget sets.
constexpr int64_t kMinBudget = 64, kMaxBudget = 80;

/// The register budget of a kernel of `blocks` blocks of `threads` threads
/// on `sms` SMs (zamba2-gpu-register-budget), or 0 for none.
int64_t registerBudget(int64_t blocks, int64_t threads, int64_t sms) {
  auto waves = [&](int64_t registers) -> int64_t {
    int64_t perSm = std::min({kSmRegisters / (threads * registers),
                              kSmThreads / threads, kSmBlocks});
    return perSm ? llvm::divideCeilSigned(blocks, sms * perSm) : INT64_MAX;
  };
  int64_t fewest = waves(kMinBudget);
  if (fewest == INT64_MAX)
    return 0;
  int64_t budget = kMinBudget;
  // Registers are handed out 8 a thread at a time.
  while (budget + 8 <= 255 && waves(budget + 8) == fewest)
    budget += 8;
  return budget <= kMaxBudget ? budget : 0;
}

struct GpuRegisterBudgetPass
    : mlir::zamba2::impl::GpuRegisterBudgetBase<GpuRegisterBudgetPass> {
  using Base::Base;
  void runOnOperation() override {
    if (smCount < 1 || smCount > kMaxSmCount) {
      getOperation().emitError()
          << "zamba2-gpu-register-budget: sm-count must be in [1, "
          << kMaxSmCount << "], got " << static_cast<int64_t>(smCount);
      return signalPassFailure();
    }
    getOperation().walk([&](gpu::GPUFuncOp fn) {
      auto marked = [](Region &region) {
        return region
            .walk([](Operation *op) {
              return op->hasAttr(kGridBlocksAttr) ? WalkResult::interrupt()
                                                  : WalkResult::advance();
            })
            .wasInterrupted();
      };
      // A merged kernel's grid is known when each of its cases is marked.
      bool whole = true;
      fn.walk([&](Operation *op) {
        if (op->hasAttr(kLaunchCasesAttr))
          whole &= llvm::all_of(op->getRegions(), marked);
      });
      int64_t blocks = 0;
      fn.walk([&](Operation *op) {
        if (auto mark = op->getAttrOfType<IntegerAttr>(kGridBlocksAttr)) {
          blocks += mark.getInt();
          op->removeAttr(kGridBlocksAttr);
        }
      });
      DenseI32ArrayAttr known = fn.getKnownBlockSizeAttr();
      if (!whole || blocks < 1 || !known)
        return;
      int64_t threads = 1;
      for (int32_t size : known.asArrayRef())
        threads *= size;
      if (threads < 1)
        return;
      if (int64_t budget = registerBudget(blocks, threads, smCount))
        fn->setAttr(
            NVVM::NVVMDialect::getMaxnregAttrName(),
            IntegerAttr::get(IntegerType::get(fn.getContext(), 32), budget));
    });
  }
};

//===----------------------------------------------------------------------===//
// zamba2-prefetch-weights
//===----------------------------------------------------------------------===//

struct PrefetchWeightsPass
    : mlir::zamba2::impl::PrefetchWeightsBase<PrefetchWeightsPass> {
  void runOnOperation() override {
    getOperation()->setAttr(kPrefetchWeightsAttr, UnitAttr::get(&getContext()));
  }
};

//===----------------------------------------------------------------------===//
// zamba2-gpu-int4-mma
//===----------------------------------------------------------------------===//

struct GpuInt4MmaPass : mlir::zamba2::impl::GpuInt4MmaBase<GpuInt4MmaPass> {
  void runOnOperation() override {
    getOperation()->setAttr(kInt4MmaAttr, UnitAttr::get(&getContext()));
  }
};

/// A fingerprint of a kernel's signature and body that equivalent kernels
/// share (operation names, attributes and types, in order; locations and
/// the kernel's own name left out).
llvm::hash_code kernelFingerprint(gpu::GPUFuncOp fn) {
  llvm::hash_code hash = hash_value(fn.getFunctionType());
  fn.getBody().walk([&](Operation *op) {
    hash =
        llvm::hash_combine(hash, OperationEquivalence::computeHash(
                                     op, OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::ignoreHashValue,
                                     OperationEquivalence::IgnoreLocations));
  });
  return hash;
}

/// Whether two kernels compile to the same code: the same signature and
/// attributes apart from their names, and equivalent bodies.
bool sameKernel(gpu::GPUFuncOp a, gpu::GPUFuncOp b) {
  if (a.getFunctionType() != b.getFunctionType())
    return false;
  auto attrsBut = [](gpu::GPUFuncOp fn) {
    NamedAttrList attrs(fn->getAttrDictionary());
    attrs.erase(SymbolTable::getSymbolAttrName());
    return attrs.getDictionary(fn.getContext());
  };
  return attrsBut(a) == attrsBut(b) &&
         OperationEquivalence::isRegionEquivalentTo(
             &a.getBody(), &b.getBody(), OperationEquivalence::IgnoreLocations);
}

struct MergeGpuModulesPass
    : mlir::zamba2::impl::MergeGpuModulesBase<MergeGpuModulesPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> gpuModules(module.getOps<gpu::GPUModuleOp>());
    if (gpuModules.empty())
      return;
    MLIRContext *ctx = module.getContext();
    constexpr StringLiteral kMergedName = "zamba2_kernels";
    if (SymbolTable::lookupSymbolIn(module, kMergedName)) {
      module.emitError("zamba2-merge-gpu-modules: symbol @")
          << kMergedName << " exists already";
      return signalPassFailure();
    }

    gpu::GPUModuleOp merged = gpuModules.front();
    // Kernel (old module, old function) -> new function name.
    llvm::DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> renamed;
    SymbolTable mergedSymbols(merged);
    for (gpu::GPUModuleOp from : gpuModules) {
      StringAttr moduleName = from.getSymNameAttr();
      SmallVector<Operation *> ops;
      for (Operation &op : from.getBody()->without_terminator())
        ops.push_back(&op);
      for (Operation *op : ops) {
        auto name =
            op->getAttrOfType<StringAttr>(SymbolTable::getSymbolAttrName());
        auto fn = dyn_cast<gpu::GPUFuncOp>(op);
        if (fn && fn.isKernel()) {
          // Kernels keep their names, made unique by the symbol table
          // (the outlining names them after the launch's kernel name or
          // the enclosing function).
          if (from != merged) {
            op->remove();
            mergedSymbols.insert(op);
          }
          renamed[{moduleName, name}] = SymbolTable::getSymbolName(op);
          continue;
        }
        if (from == merged)
          continue;
        // A symbol the outlining cloned from the host module: the same
        // definition wherever it was cloned, so keep one.
        if (name && mergedSymbols.lookup(name)) {
          op->erase();
          continue;
        }
        op->remove();
        mergedSymbols.insert(op);
      }
    }
    for (gpu::GPUModuleOp from : gpuModules)
      if (from != merged)
        from.erase();
    // Kernels that compile to the same code (every Mamba layer has the same
    // shapes) are compiled once: later copies are launched under the first
    // one's name.
    DenseMap<StringAttr, StringAttr> sameAs;
    DenseMap<llvm::hash_code, SmallVector<gpu::GPUFuncOp>> byFingerprint;
    for (auto fn : llvm::make_early_inc_range(
             merged.getBody()->getOps<gpu::GPUFuncOp>())) {
      if (!fn.isKernel())
        continue;
      SmallVector<gpu::GPUFuncOp> &candidates =
          byFingerprint[kernelFingerprint(fn)];
      auto first = llvm::find_if(
          candidates, [&](gpu::GPUFuncOp c) { return sameKernel(c, fn); });
      if (first == candidates.end()) {
        candidates.push_back(fn);
        continue;
      }
      sameAs[fn.getNameAttr()] = first->getNameAttr();
      fn.erase();
    }
    for (auto &entry : renamed)
      if (StringAttr kept = sameAs.lookup(entry.second))
        entry.second = kept;
    // Workgroup-memory globals (lowering/GpuKernelEmitter.cpp) exist for the
    // kernels only; their host copies are unused and host code cannot
    // declare them.
    for (auto global :
         llvm::make_early_inc_range(module.getOps<memref::GlobalOp>()))
      if (auto space = dyn_cast_or_null<gpu::AddressSpaceAttr>(
              global.getType().getMemorySpace());
          space && space.getValue() == gpu::AddressSpace::Workgroup)
        global.erase();
    merged.setSymName(kMergedName);

    WalkResult result = module.walk([&](gpu::LaunchFuncOp launch) {
      auto it =
          renamed.find({launch.getKernelModuleName(), launch.getKernelName()});
      if (it == renamed.end()) {
        launch.emitError("zamba2-merge-gpu-modules: unknown kernel");
        return WalkResult::interrupt();
      }
      launch.setKernelAttr(
          SymbolRefAttr::get(StringAttr::get(ctx, kMergedName),
                             {FlatSymbolRefAttr::get(it->second)}));
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
  }
};

} // namespace
