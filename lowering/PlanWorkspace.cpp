//===- PlanWorkspace.cpp - one workspace per function, planned offsets ----===//
//
// zamba2-plan-workspace: a function's top-level temporaries become views of
// one allocation. Liveness is by position in the function's single block:
// a buffer occupies its bytes from its allocation to the last top-level
// operation that uses it (through any alias). The placement (which buffer
// lies below which) is decided at compile time on sizes evaluated at a
// representative value of the dynamic dimensions; the offsets themselves
// are computed at run time from the real sizes, so they are valid for all.
//
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <algorithm>
#include <optional>

namespace mlir::zamba2 {
#define GEN_PASS_DEF_PLANWORKSPACE
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;

namespace {

/// One temporary of the function.
struct Buffer {
  memref::AllocOp alloc;
  SmallVector<Operation *> deallocs;
  int64_t first = 0, last = 0; // top-level positions, inclusive
  int64_t planBytes = 0;       // at the representative sizes, aligned
  int64_t planOffset = 0;
  SmallVector<unsigned> below; // overlapping in time, placed lower
  Value size, offset;          // at run time (bytes, aligned)

  bool liveWith(const Buffer &o) const {
    return first <= o.last && o.first <= last;
  }
};

int64_t alignUp(int64_t v, int64_t a) { return (v + a - 1) / a * a; }

/// The value of an index computation with every unknown leaf (a dimension
/// of an argument, an argument) taken as `unknown`.
int64_t evaluate(Value v, int64_t unknown, DenseMap<Value, int64_t> &memo) {
  if (auto it = memo.find(v); it != memo.end())
    return it->second;
  int64_t result = unknown;
  Operation *def = v.getDefiningOp();
  auto operand = [&](unsigned i) {
    return evaluate(def->getOperand(i), unknown, memo);
  };
  if (auto c = dyn_cast_or_null<arith::ConstantIntOp>(def)) {
    result = c.value();
  } else if (auto c = dyn_cast_or_null<arith::ConstantIndexOp>(def)) {
    result = c.value();
  } else if (def && def->getNumOperands() == 2 &&
             isa<arith::AddIOp, arith::SubIOp, arith::MulIOp, arith::DivUIOp,
                 arith::DivSIOp, arith::CeilDivUIOp, arith::CeilDivSIOp,
                 arith::MaxUIOp, arith::MaxSIOp, arith::MinUIOp,
                 arith::MinSIOp>(def)) {
    int64_t a = operand(0), b = operand(1);
    result = llvm::TypeSwitch<Operation *, int64_t>(def)
                 .Case<arith::AddIOp>([&](auto) { return a + b; })
                 .Case<arith::SubIOp>([&](auto) { return a - b; })
                 .Case<arith::MulIOp>([&](auto) { return a * b; })
                 .Case<arith::DivUIOp, arith::DivSIOp>(
                     [&](auto) { return b ? a / b : unknown; })
                 .Case<arith::CeilDivUIOp, arith::CeilDivSIOp>(
                     [&](auto) { return b ? (a + b - 1) / b : unknown; })
                 .Case<arith::MaxUIOp, arith::MaxSIOp>(
                     [&](auto) { return std::max(a, b); })
                 .Case<arith::MinUIOp, arith::MinSIOp>(
                     [&](auto) { return std::min(a, b); })
                 .Default([&](Operation *) { return unknown; });
  } else if (isa_and_nonnull<arith::IndexCastOp, arith::IndexCastUIOp>(def)) {
    result = operand(0);
  }
  // Sizes are never planned as negative or zero.
  result = std::max<int64_t>(result, 1);
  memo[v] = result;
  return result;
}

/// Whether `v` can be recomputed at the start of `entry`: it is an argument
/// of `entry`, or made by pure, region-free ops from such values.
bool hoistable(Value v, Block &entry) {
  if (auto arg = dyn_cast<BlockArgument>(v))
    return arg.getOwner() == &entry;
  Operation *def = v.getDefiningOp();
  return def->getNumRegions() == 0 && isMemoryEffectFree(def) &&
         llvm::all_of(def->getOperands(),
                      [&](Value operand) { return hoistable(operand, entry); });
}

/// `v` (hoistable) recomputed where `b` inserts, at the start of `entry`:
/// its ops cloned once each.
Value hoist(Value v, Block &entry, OpBuilder &b, IRMapping &map) {
  if (Value done = map.lookupOrNull(v))
    return done;
  if (isa<BlockArgument>(v))
    return v;
  Operation *def = v.getDefiningOp();
  for (Value operand : def->getOperands())
    hoist(operand, entry, b, map);
  b.clone(*def, map);
  return map.lookup(v);
}

/// Fills `buf.last` and `buf.deallocs` from the uses of the buffer and its
/// aliases; false when the buffer cannot be planned.
bool findLiveness(Buffer &buf, Block &body,
                  const DenseMap<Operation *, int64_t> &position) {
  Value root = buf.alloc.getResult();
  SmallVector<Value> work{root};
  DenseSet<Value> seen{root};
  auto alias = [&](Value v) {
    if (isa<BaseMemRefType>(v.getType()) && seen.insert(v).second)
      work.push_back(v);
  };
  while (!work.empty()) {
    Value v = work.pop_back_val();
    for (Operation *user : v.getUsers()) {
      if (isa<memref::DeallocOp>(user)) {
        // Only the buffer's own top-level deallocations can be dropped.
        if (v != root || user->getBlock() != &body)
          return false;
        buf.deallocs.push_back(user);
        continue;
      }
      if (isa<func::ReturnOp, CallOpInterface>(user))
        return false;
      Operation *top = body.findAncestorOpInBlock(*user);
      if (!top)
        return false;
      buf.last = std::max(buf.last, position.lookup(top));
      for (Value r : user->getResults())
        alias(r);
      // Yielded out of a region: the parent's results may be the buffer.
      if (user->hasTrait<OpTrait::IsTerminator>() && user->getParentOp())
        for (Value r : user->getParentOp()->getResults())
          alias(r);
    }
  }
  return true;
}

/// Bytes per element, or 0 for element types the pass leaves alone.
int64_t elementBytes(MemRefType type) {
  Type elem = type.getElementType();
  if (!elem.isIntOrFloat() || elem.getIntOrFloatBitWidth() % 8 != 0)
    return 0;
  return elem.getIntOrFloatBitWidth() / 8;
}

struct PlanWorkspacePass
    : mlir::zamba2::impl::PlanWorkspaceBase<PlanWorkspacePass> {
  using Base::Base;

  void runOnOperation() override {
    if (alignment <= 0 || (alignment & (alignment - 1)) != 0) {
      getOperation().emitError("zamba2-plan-workspace: alignment must be a "
                               "power of two, not ")
          << alignment.getValue();
      return signalPassFailure();
    }
    getOperation().walk([&](func::FuncOp f) {
      if (!f.isExternal() && f.getBody().hasOneBlock())
        plan(f);
    });
  }

  void plan(func::FuncOp f) {
    Block &body = f.getBody().front();
    DenseMap<Operation *, int64_t> position;
    for (auto [i, op] : llvm::enumerate(body))
      position[&op] = static_cast<int64_t>(i);

    OpBuilder b(f.getContext());
    b.setInsertionPointToStart(&body);
    IRMapping hoisted;
    DenseMap<Value, int64_t> memo;
    std::vector<Buffer> buffers;
    for (auto alloc : llvm::to_vector(body.getOps<memref::AllocOp>())) {
      MemRefType type = alloc.getType();
      int64_t elemBytes = elementBytes(type);
      if (!type.getLayout().isIdentity() || type.getMemorySpace() ||
          !alloc.getSymbolOperands().empty() || elemBytes == 0)
        continue;
      Buffer buf;
      buf.alloc = alloc;
      buf.first = buf.last = position.lookup(alloc);
      if (!findLiveness(buf, body, position))
        continue;
      // Every dynamic size must be computable at the entry (checked before
      // anything is cloned there).
      if (!llvm::all_of(alloc.getDynamicSizes(),
                        [&](Value d) { return hoistable(d, body); }))
        continue;
      SmallVector<Value> sizes;
      for (Value d : alloc.getDynamicSizes())
        sizes.push_back(hoist(d, body, b, hoisted));
      int64_t staticElems = 1, planElems = 1;
      for (int64_t d : type.getShape())
        if (!ShapedType::isDynamic(d))
          staticElems *= d;
      for (Value d : alloc.getDynamicSizes())
        planElems *= evaluate(d, representativeSize, memo);
      buf.planBytes = std::max<int64_t>(
          alignUp(staticElems * planElems * elemBytes, alignment), alignment);
      // Run-time size: bytes rounded up to the alignment.
      Location loc = alloc.getLoc();
      Value bytes =
          arith::ConstantIndexOp::create(b, loc, staticElems * elemBytes);
      for (Value s : sizes)
        bytes = arith::MulIOp::create(b, loc, bytes, s);
      Value align = arith::ConstantIndexOp::create(b, loc, alignment);
      buf.size = arith::MulIOp::create(
          b, loc, arith::CeilDivUIOp::create(b, loc, bytes, align), align);
      buffers.push_back(std::move(buf));
    }
    if (buffers.empty())
      return;

    placeAtPlanSizes(buffers);

    // Offsets in the plan's order (a buffer's lower neighbours first).
    SmallVector<unsigned> order(buffers.size());
    for (unsigned i = 0; i < order.size(); ++i)
      order[i] = i;
    llvm::sort(order, [&](unsigned x, unsigned y) {
      return std::pair(buffers[x].planOffset, x) <
             std::pair(buffers[y].planOffset, y);
    });
    Location loc = f.getLoc();
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value total = arith::ConstantIndexOp::create(b, loc, alignment);
    for (unsigned i : order) {
      Buffer &buf = buffers[i];
      Value offset = zero;
      for (unsigned j : buf.below) {
        Value end =
            arith::AddIOp::create(b, loc, buffers[j].offset, buffers[j].size);
        offset = offset == zero
                     ? end
                     : arith::MaxUIOp::create(b, loc, offset, end).getResult();
      }
      buf.offset = offset;
      total = arith::MaxUIOp::create(
          b, loc, total, arith::AddIOp::create(b, loc, offset, buf.size));
    }
    auto wsType = MemRefType::get({ShapedType::kDynamic}, b.getI8Type());
    Value workspace = memref::AllocOp::create(b, loc, wsType, ValueRange{total},
                                              b.getI64IntegerAttr(alignment));

    for (Buffer &buf : buffers) {
      OpBuilder vb(buf.alloc);
      Value view = memref::ViewOp::create(
          vb, buf.alloc.getLoc(), buf.alloc.getType(), workspace, buf.offset,
          buf.alloc.getDynamicSizes());
      buf.alloc.getResult().replaceAllUsesWith(view);
      buf.alloc.erase();
      for (Operation *d : buf.deallocs)
        d->erase();
    }
    b.setInsertionPoint(body.getTerminator());
    memref::DeallocOp::create(b, loc, workspace);
  }

  /// Largest first, each at the lowest offset free of the buffers live at
  /// the same time; then records, for each buffer, the buffers live with it
  /// that lie below it.
  static void placeAtPlanSizes(std::vector<Buffer> &buffers) {
    SmallVector<unsigned> bySize(buffers.size());
    for (unsigned i = 0; i < bySize.size(); ++i)
      bySize[i] = i;
    llvm::sort(bySize, [&](unsigned x, unsigned y) {
      return std::pair(-buffers[x].planBytes, x) <
             std::pair(-buffers[y].planBytes, y);
    });
    SmallVector<unsigned> placed;
    for (unsigned i : bySize) {
      Buffer &buf = buffers[i];
      SmallVector<unsigned> live;
      for (unsigned j : placed)
        if (buf.liveWith(buffers[j]))
          live.push_back(j);
      llvm::sort(live, [&](unsigned x, unsigned y) {
        return buffers[x].planOffset < buffers[y].planOffset;
      });
      int64_t offset = 0;
      for (unsigned j : live) {
        if (offset + buf.planBytes <= buffers[j].planOffset)
          break;
        offset = std::max(offset, buffers[j].planOffset + buffers[j].planBytes);
      }
      buf.planOffset = offset;
      placed.push_back(i);
    }
    for (unsigned i = 0; i < buffers.size(); ++i)
      for (unsigned j = 0; j < buffers.size(); ++j)
        if (i != j && buffers[i].liveWith(buffers[j]) &&
            buffers[j].planOffset < buffers[i].planOffset)
          buffers[i].below.push_back(j);
  }
};

} // namespace
