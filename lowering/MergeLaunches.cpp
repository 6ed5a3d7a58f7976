//===- MergeLaunches.cpp - zamba2-gpu-merge-launches ----------------------===//
//
// Horizontal fusion of kernels. At batch 1 a decode step is a chain of short
// kernels, each waiting for the one before it, so that two kernels that do
// not depend on each other (the q, k and v projections of an attention
// block, or their LoRA adapters' x A^T) cost two latencies where one would
// do. This pass makes such a pair one gpu.launch: its grid is the two grids'
// blocks, flattened and laid end to end, and each block runs the body of
// the launch its index falls in (an scf.if marked zamba2.launch_cases),
// with the block indices that launch would have given it.
//
// A launch L joins an earlier launch Q of the same block size when neither
// L nor anything between Q and L (Q included) touches memory the other
// writes. The ops L needs that are defined between them (its output's
// allocation, sizes) move above Q. Each linear op of the CUDA kernels is an
// scf.if on "one row" (a one-row kernel, else an 8-row one), so two such
// ifs on the same condition become one first, and the launches inside
// their branches then merge.
//
// Memory is told apart by its root: an allocation, a function argument (an
// entry point's buffers are distinct: docs/PACKAGE.md) or a global,
// through views and casts. Buffers local to an op (a kernel's shared
// memory) are its own.
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernels.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_GPUMERGELAUNCHES
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;

namespace {

/// What an op, with everything nested in it, may read and write of the
/// memory defined outside it, as the roots of the buffers touched.
struct Footprint {
  llvm::SmallDenseSet<const void *, 8> reads, writes;
  bool unknown = false; // an effect no root bounds: conflicts with all

  bool conflictsWith(const Footprint &other) const {
    auto meets = [](const auto &a, const auto &b) {
      return llvm::any_of(a, [&](const void *r) { return b.contains(r); });
    };
    return unknown || other.unknown || meets(writes, other.reads) ||
           meets(writes, other.writes) || meets(other.writes, reads);
  }
};

/// The buffer that `v` is a view of, seen from `scope`.
struct Root {
  const void *buffer = nullptr; // an allocation, argument or global
  bool local = false;           // made inside `scope`: its own
};

/// Whether `type` lives in a block's or a thread's own memory.
bool blockOrThreadMemory(MemRefType type) {
  auto space = dyn_cast_or_null<gpu::AddressSpaceAttr>(type.getMemorySpace());
  return space && space.getValue() != gpu::AddressSpace::Global;
}

/// Follows views and casts to an allocation, a function's argument or a
/// global (by its name); std::nullopt for anything else (a memref an op
/// computes, a loop's argument), which may be any buffer. Allocations made
/// inside `scope`, and its shared memory, are its own (local).
std::optional<Root> rootOf(Value v, Operation *scope) {
  while (auto view = v.getDefiningOp<ViewLikeOpInterface>())
    v = view.getViewSource();
  bool inside = scope->isAncestor(v.getParentRegion()->getParentOp());
  if (auto global = v.getDefiningOp<memref::GetGlobalOp>()) {
    if (inside && blockOrThreadMemory(global.getType()))
      return Root{nullptr, true};
    return Root{global.getNameAttr().getAsOpaquePointer()};
  }
  if (v.getDefiningOp<memref::AllocOp>() || v.getDefiningOp<memref::AllocaOp>())
    return Root{inside ? nullptr : v.getAsOpaquePointer(), inside};
  auto arg = dyn_cast<BlockArgument>(v);
  if (arg && !inside && arg.getOwner()->isEntryBlock() &&
      isa<FunctionOpInterface>(arg.getOwner()->getParentOp()))
    return Root{v.getAsOpaquePointer()};
  return std::nullopt;
}

Footprint footprintOf(Operation *op) {
  Footprint fp;
  op->walk([&](Operation *inner) {
    // A barrier orders the threads of one block, within the kernel.
    if (isa<gpu::BarrierOp>(inner))
      return;
    auto iface = dyn_cast<MemoryEffectOpInterface>(inner);
    if (!iface) {
      if (!inner->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        fp.unknown = true;
      return;
    }
    SmallVector<MemoryEffects::EffectInstance> effects;
    iface.getEffects(effects);
    for (const MemoryEffects::EffectInstance &effect : effects) {
      // An allocation touches no buffer in use (and the ones the moved op
      // needs move with it); a release counts as a write of its buffer.
      if (isa<MemoryEffects::Allocate>(effect.getEffect()))
        continue;
      Value v = effect.getValue();
      if (!v) {
        fp.unknown = true;
        continue;
      }
      std::optional<Root> root = rootOf(v, op);
      if (!root) {
        fp.unknown = true;
        continue;
      }
      if (root->local)
        continue;
      if (isa<MemoryEffects::Write, MemoryEffects::Free>(effect.getEffect()))
        fp.writes.insert(root->buffer);
      else
        fp.reads.insert(root->buffer);
    }
  });
  return fp;
}

/// A launch this pass can merge: static block size, one body block,
/// nothing but the grid and block sizes configured, and a body that takes
/// its block indices and grid size from the launch's arguments only (the
/// merge maps those; gpu.block_id and the like would read the merged grid's).
bool isMergeableLaunch(gpu::LaunchOp launch) {
  gpu::KernelDim3 threads = launch.getBlockSizeOperandValues();
  bool gridOps =
      launch.getBody()
          .walk([](Operation *op) {
            return isa<gpu::BlockIdOp, gpu::GridDimOp, gpu::GlobalIdOp,
                       gpu::ClusterIdOp, gpu::ClusterDimOp,
                       gpu::ClusterBlockIdOp, gpu::ClusterDimBlocksOp>(op)
                       ? WalkResult::interrupt()
                       : WalkResult::advance();
          })
          .wasInterrupted();
  return !gridOps && launch.getAsyncDependencies().empty() &&
         !launch.getAsyncToken() && !launch.getDynamicSharedMemorySize() &&
         !launch.hasClusterSize() && launch.getBody().hasOneBlock() &&
         launch.getNumWorkgroupAttributions() == 0 &&
         launch.getNumPrivateAttributions() == 0 &&
         matchPattern(threads.x, m_Constant()) &&
         matchPattern(threads.y, m_Constant()) &&
         matchPattern(threads.z, m_Constant());
}

/// The static shared memory a CUDA block may have (sm_90 without opting
/// in to more).
constexpr int64_t kSharedMemoryBytes = 48 * 1024;

/// Bytes of the distinct workgroup globals `ops` name: the shared memory of
/// a kernel made of them (each global is one array of the kernel).
int64_t sharedMemoryBytes(ArrayRef<Operation *> ops) {
  llvm::SmallDenseMap<StringAttr, int64_t> arrays;
  for (Operation *op : ops)
    op->walk([&](memref::GetGlobalOp global) {
      MemRefType type = global.getType();
      if (!blockOrThreadMemory(type) || !type.hasStaticShape())
        return;
      // Elements are scalars or vectors of them (a staged row's f32x4).
      Type element = type.getElementType();
      int64_t bits = 0;
      if (auto vector = dyn_cast<VectorType>(element))
        bits = vector.getNumElements() *
               vector.getElementType().getIntOrFloatBitWidth();
      else if (element.isIntOrIndexOrFloat())
        bits = element.isIndex() ? 64 : element.getIntOrFloatBitWidth();
      else
        bits = kSharedMemoryBytes * 8; // unknown: too large to merge
      arrays[global.getNameAttr().getAttr()] =
          type.getNumElements() * llvm::divideCeil(bits, 8);
    });
  int64_t bytes = 0;
  for (auto &entry : arrays)
    bytes += entry.second;
  return bytes;
}

/// Whether `l` may join `q`: launches of the same block size, or scf.ifs
/// without results on the same condition.
bool compatible(Operation *q, Operation *l) {
  if (auto lq = dyn_cast<gpu::LaunchOp>(q)) {
    auto ll = dyn_cast<gpu::LaunchOp>(l);
    if (!ll || !isMergeableLaunch(lq) || !isMergeableLaunch(ll))
      return false;
    auto size = [](Value v) { return getConstantIntValue(v); };
    gpu::KernelDim3 a = lq.getBlockSizeOperandValues(),
                    b = ll.getBlockSizeOperandValues();
    return size(a.x) == size(b.x) && size(a.y) == size(b.y) &&
           size(a.z) == size(b.z) &&
           sharedMemoryBytes({q, l}) <= kSharedMemoryBytes;
  }
  auto iq = dyn_cast<scf::IfOp>(q), il = dyn_cast<scf::IfOp>(l);
  return iq && il && iq.getNumResults() == 0 && il.getNumResults() == 0 &&
         iq.getCondition() == il.getCondition() &&
         iq->getDiscardableAttrDictionary() ==
             il->getDiscardableAttrDictionary();
}

bool isUnit(Operation *op) {
  if (auto launch = dyn_cast<gpu::LaunchOp>(op))
    return isMergeableLaunch(launch);
  auto ifOp = dyn_cast<scf::IfOp>(op);
  return ifOp && ifOp.getNumResults() == 0;
}

/// Collects into `moved` (in block order) the ops between `q` and `l` that
/// define what `l` uses, so that `l` can sit at `q`; false if one of them
/// cannot move above `q` (it touches memory other than allocating).
bool opsToHoist(Operation *q, Operation *l,
                llvm::SetVector<Operation *> &moved) {
  SmallVector<Value> pending;
  l->walk([&](Operation *inner) {
    for (Value v : inner->getOperands())
      pending.push_back(v);
  });
  while (!pending.empty()) {
    Operation *def = pending.pop_back_val().getDefiningOp();
    if (!def || def->getBlock() != q->getBlock() || def->isBeforeInBlock(q) ||
        def == l || moved.contains(def))
      continue;
    if (def == q || def->getNumRegions() != 0)
      return false;
    if (!isMemoryEffectFree(def) &&
        !(hasSingleEffect<MemoryEffects::Allocate>(def) &&
          isa<memref::AllocOp>(def)))
      return false;
    moved.insert(def);
    llvm::append_range(pending, def->getOperands());
  }
  return true;
}

/// The block count of a launch's grid, in host code at `b`.
Value blockCount(OpBuilder &b, Location loc, gpu::LaunchOp launch) {
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  return arith::MulIOp::create(
      b, loc, arith::MulIOp::create(b, loc, grid.x, grid.y), grid.z);
}

/// Clones `launch`'s body into `b`'s block for the blocks whose flattened
/// index in that launch is `flat`, the new launch's threads and block size
/// standing for its own.
void cloneBodyFor(OpBuilder &b, Location loc, gpu::LaunchOp launch, Value flat,
                  gpu::LaunchOp merged) {
  gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
  Value x = arith::RemUIOp::create(b, loc, flat, grid.x);
  Value rest = arith::DivUIOp::create(b, loc, flat, grid.x);
  Value y = arith::RemUIOp::create(b, loc, rest, grid.y);
  Value z = arith::DivUIOp::create(b, loc, rest, grid.y);
  IRMapping map;
  gpu::KernelDim3 ids = launch.getBlockIds(), size = launch.getGridSize();
  gpu::KernelDim3 threads = launch.getThreadIds(),
                  mergedThreads = merged.getThreadIds();
  gpu::KernelDim3 blockSize = launch.getBlockSize(),
                  mergedBlockSize = merged.getBlockSize();
  map.map(ids.x, x);
  map.map(ids.y, y);
  map.map(ids.z, z);
  map.map(size.x, grid.x);
  map.map(size.y, grid.y);
  map.map(size.z, grid.z);
  map.map(threads.x, mergedThreads.x);
  map.map(threads.y, mergedThreads.y);
  map.map(threads.z, mergedThreads.z);
  map.map(blockSize.x, mergedBlockSize.x);
  map.map(blockSize.y, mergedBlockSize.y);
  map.map(blockSize.z, mergedBlockSize.z);
  for (Operation &op : launch.getBody().front().without_terminator())
    b.clone(op, map);
}

/// One launch for `q` and `l`, at `q`: the grid's first blocks run q's
/// body, the rest l's.
void mergeLaunches(gpu::LaunchOp q, gpu::LaunchOp l) {
  OpBuilder b(q);
  Location loc = b.getFusedLoc({q.getLoc(), l.getLoc()});
  Value qBlocks = blockCount(b, loc, q);
  Value blocks = arith::AddIOp::create(b, loc, qBlocks, blockCount(b, loc, l));
  Value one = arith::ConstantIndexOp::create(b, loc, 1);
  gpu::KernelDim3 threads = q.getBlockSizeOperandValues();
  auto nameOf = [](gpu::LaunchOp launch) {
    FlatSymbolRefAttr fn = launch.getFunctionAttr();
    return fn ? fn.getValue() : StringRef("kernel");
  };
  std::string name = (nameOf(q) + "__" + nameOf(l)).str();
  auto symbol = FlatSymbolRefAttr::get(b.getContext(), name);
  auto merged = gpu::LaunchOp::create(
      b, loc, blocks, one, one, threads.x, threads.y, threads.z,
      /*dynamicSharedMemorySize=*/nullptr, /*asyncTokenType=*/nullptr,
      /*asyncDependencies=*/{}, /*workgroupAttributions=*/{},
      /*privateAttributions=*/{}, /*clusterSizeX=*/nullptr,
      /*clusterSizeY=*/nullptr, /*clusterSizeZ=*/nullptr, symbol, symbol);
  b.setInsertionPointToStart(&merged.getBody().front());
  Value flat = merged.getBlockIds().x;
  Value inQ =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, flat, qBlocks);
  auto cases = scf::IfOp::create(b, loc, inQ, /*withElseRegion=*/true);
  cases->setAttr(kLaunchCasesAttr, b.getUnitAttr());
  b.setInsertionPoint(cases.thenBlock()->getTerminator());
  cloneBodyFor(b, loc, q, flat, merged);
  b.setInsertionPoint(cases.elseBlock()->getTerminator());
  cloneBodyFor(b, loc, l, arith::SubIOp::create(b, loc, flat, qBlocks), merged);
  b.setInsertionPointAfter(cases);
  gpu::TerminatorOp::create(b, loc);
  q.erase();
  l.erase();
}

/// Moves the ops of `from` (but its yield) to the end of `into` (before its
/// yield), creating `into`'s else block where `from` has one.
void appendRegion(Region &into, Region &from) {
  if (from.empty())
    return;
  if (into.empty()) {
    into.push_back(new Block);
    OpBuilder b = OpBuilder::atBlockEnd(&into.front());
    scf::YieldOp::create(b, from.getLoc());
  }
  Block &dst = into.front(), &src = from.front();
  dst.getOperations().splice(dst.getTerminator()->getIterator(),
                             src.getOperations(), src.begin(),
                             src.getTerminator()->getIterator());
}

/// Merges `l` into `q` (compatible units), at `q`.
void mergeUnits(Operation *q, Operation *l) {
  if (auto lq = dyn_cast<gpu::LaunchOp>(q))
    return mergeLaunches(lq, cast<gpu::LaunchOp>(l));
  auto iq = cast<scf::IfOp>(q), il = cast<scf::IfOp>(l);
  appendRegion(iq.getThenRegion(), il.getThenRegion());
  appendRegion(iq.getElseRegion(), il.getElseRegion());
  l->erase();
}

/// Merges what can be merged among the ops of `block`, then inside the
/// regions of its ops (the branches of merged ifs included).
void mergeIn(Block &block) {
  for (Operation *l = &block.front(); l;) {
    Operation *next = l->getNextNode();
    if (isUnit(l)) {
      Footprint lPrint = footprintOf(l);
      Operation *target = nullptr;
      llvm::SetVector<Operation *> targetMoves;
      for (Operation *q = l->getPrevNode(); q; q = q->getPrevNode()) {
        if (isMemoryEffectFree(q) && q->getNumRegions() == 0)
          continue;
        if (footprintOf(q).conflictsWith(lPrint))
          break;
        llvm::SetVector<Operation *> moves;
        if (compatible(q, l) && opsToHoist(q, l, moves)) {
          target = q;
          targetMoves = std::move(moves);
        }
      }
      if (target) {
        // In block order, above the target.
        SmallVector<Operation *> order(targetMoves.begin(), targetMoves.end());
        llvm::sort(order, [](Operation *a, Operation *b) {
          return a->isBeforeInBlock(b);
        });
        for (Operation *op : order)
          op->moveBefore(target);
        mergeUnits(target, l);
      }
    }
    l = next;
  }
  for (Operation &op : block)
    if (!isa<gpu::LaunchOp>(op))
      for (Region &region : op.getRegions())
        for (Block &inner : region)
          if (!inner.empty())
            mergeIn(inner);
}

struct GpuMergeLaunchesPass
    : mlir::zamba2::impl::GpuMergeLaunchesBase<GpuMergeLaunchesPass> {
  void runOnOperation() override {
    getOperation().walk([](FunctionOpInterface fn) {
      // Host code only: inside a kernel, ops are not whole grids.
      if (fn->getParentOfType<gpu::GPUModuleOp>())
        return;
      for (Block &block : fn.getFunctionBody())
        if (!block.empty())
          mergeIn(block);
    });
  }
};

} // namespace
