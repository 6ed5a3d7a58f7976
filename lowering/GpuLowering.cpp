//===- GpuLowering.cpp - zamba2c's own passes of the CUDA pipeline --------===//
//
// zamba2-allocs-to-gpu (on memrefs, before the parallel loops become kernels)
//   - memref.alloc / memref.dealloc outside parallel loops become
//     gpu.alloc host_shared / gpu.dealloc, and memref.get_global a
//     host_shared copy of the global: every buffer the kernels touch is then
//     device-accessible (managed) memory, as are the entry-point arguments
//     the runtime passes.
//
// zamba2-merge-gpu-modules (after gpu-kernel-outlining)
//   - moves every kernel into one gpu.module, so that the device code is
//     compiled (and loaded) once.
//
//===----------------------------------------------------------------------===//
#include "lowering/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_ALLOCSTOGPU
#define GEN_PASS_DEF_MERGEGPUMODULES
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
    OpBuilder builder(module.getContext());

    SmallVector<memref::AllocOp> allocs;
    SmallVector<memref::DeallocOp> deallocs;
    SmallVector<memref::GetGlobalOp> globals;
    module.walk([&](Operation *op) {
      if (onDevice(op))
        return;
      if (auto a = dyn_cast<memref::AllocOp>(op))
        allocs.push_back(a);
      else if (auto d = dyn_cast<memref::DeallocOp>(op))
        deallocs.push_back(d);
      else if (auto g = dyn_cast<memref::GetGlobalOp>(op))
        globals.push_back(g);
    });

    for (memref::AllocOp alloc : allocs) {
      if (!alloc.getType().getLayout().isIdentity() ||
          alloc.getType().getMemorySpace()) {
        alloc.emitError("zamba2-allocs-to-gpu: only identity-layout "
                        "allocations in the default memory space are "
                        "supported");
        return signalPassFailure();
      }
      builder.setInsertionPoint(alloc);
      auto replacement = gpu::AllocOp::create(
          builder, alloc.getLoc(), alloc.getType(), /*asyncToken=*/Type(),
          /*asyncDependencies=*/ValueRange{}, alloc.getDynamicSizes(),
          alloc.getSymbolOperands(), /*hostShared=*/true);
      alloc.replaceAllUsesWith(replacement.getMemref());
      alloc.erase();
    }

    for (memref::DeallocOp dealloc : deallocs)
      freeOnDevice(builder, dealloc, dealloc.getMemref());

    for (memref::GetGlobalOp get : globals) {
      auto type = cast<MemRefType>(get.getType());
      if (!type.getLayout().isIdentity() || !type.hasStaticShape()) {
        get.emitError("zamba2-allocs-to-gpu: only static identity-layout "
                      "globals are supported");
        return signalPassFailure();
      }
      builder.setInsertionPointAfter(get);
      auto copy = gpu::AllocOp::create(builder, get.getLoc(), type, Type(),
                                       ValueRange{}, ValueRange{}, ValueRange{},
                                       /*hostShared=*/true);
      get.getResult().replaceAllUsesWith(copy.getMemref());
      memref::CopyOp::create(builder, get.getLoc(), get.getResult(),
                             copy.getMemref());
      Block *block = get->getBlock();
      builder.setInsertionPoint(block->getTerminator());
      freeOnDevice(builder, nullptr, copy.getMemref());
    }
  }

  /// gpu.dealloc has no synchronous lowering: free on a fresh stream and wait
  /// for it (mgpuStreamCreate, mgpuMemFree, mgpuStreamSynchronize,
  /// mgpuStreamDestroy). Replaces `old` if given, else inserts at the
  /// builder's point.
  static void freeOnDevice(OpBuilder &builder, Operation *old, Value memref) {
    if (old)
      builder.setInsertionPoint(old);
    Location loc = old ? old->getLoc() : memref.getLoc();
    auto tokenType = gpu::AsyncTokenType::get(builder.getContext());
    Value stream = gpu::WaitOp::create(builder, loc, tokenType, ValueRange{})
                       .getAsyncToken();
    Value freed = gpu::DeallocOp::create(builder, loc, tokenType,
                                         ValueRange{stream}, memref)
                      .getAsyncToken();
    gpu::WaitOp::create(builder, loc, Type(), ValueRange{freed});
    if (old)
      old->erase();
  }
};

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
          // Module names are unique; the kernels inside may share a name.
          renamed[{moduleName, name}] = moduleName;
          if (from == merged) {
            if (name != moduleName &&
                failed(mergedSymbols.rename(op, moduleName))) {
              op->emitError("zamba2-merge-gpu-modules: cannot rename kernel");
              return signalPassFailure();
            }
            continue;
          }
          op->remove();
          SymbolTable::setSymbolName(op, moduleName);
          if (mergedSymbols.lookup(moduleName)) {
            op->emitError("zamba2-merge-gpu-modules: kernel name clash");
            return signalPassFailure();
          }
          mergedSymbols.insert(op);
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
