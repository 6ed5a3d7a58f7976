//===- GpuKernelEmitter.cpp - what the CUDA kernel files share ------------===//
//
// The helpers of GpuKernelEmitter.h that are not inline: the dependent-launch
// marks, a memref's rows, gpu.launch, workgroup arrays, the layout checks of
// vector loads and scf.if values.
//
//===----------------------------------------------------------------------===//
#include "lowering/GpuKernelEmitter.h"
#include "lowering/GpuKernels.h"

using namespace mlir;
using namespace mlir::zamba2;
using namespace mlir::zamba2::gpukernels;

Operation *gpukernels::markBeforeWait(Operation *op) {
  op->setAttr(kBeforeWaitAttr, UnitAttr::get(op->getContext()));
  return op;
}

Value gpukernels::beforeWait(Operation *load) {
  return markBeforeWait(load)->getResult(0);
}

Value gpukernels::leadingCount(Emitter &e, Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  Value n = e.idx(1);
  for (int64_t i = 0; i + 1 < type.getRank(); ++i)
    n = e.mul(n, e.dim(memref, i));
  return n;
}

SmallVector<Value> gpukernels::leadingSizes(Emitter &e, Value memref) {
  SmallVector<Value> sizes;
  for (int64_t i = 0; i + 1 < cast<MemRefType>(memref.getType()).getRank(); ++i)
    sizes.push_back(e.dim(memref, i));
  return sizes;
}

Value gpukernels::lastDimView(Emitter &e, Value memref, int64_t offset,
                              int64_t size) {
  int64_t rank = cast<MemRefType>(memref.getType()).getRank();
  SmallVector<OpFoldResult> offsets(rank, e.b.getIndexAttr(0)),
      strides(rank, e.b.getIndexAttr(1)), sizes;
  for (int64_t i = 0; i + 1 < rank; ++i)
    sizes.push_back(memref::getMixedSize(e.b, e.loc, memref, i));
  offsets.back() = e.b.getIndexAttr(offset);
  sizes.push_back(e.b.getIndexAttr(size));
  return memref::SubViewOp::create(e.b, e.loc, memref, offsets, sizes, strides);
}

SmallVector<Value> gpukernels::rowIndices(Emitter &e, ArrayRef<Value> sizes,
                                          Value row) {
  SmallVector<Value> indices(sizes.size());
  for (int64_t i = static_cast<int64_t>(sizes.size()) - 1; i >= 0; --i) {
    indices[i] = i == 0 ? row : e.rem(row, sizes[i]);
    row = e.div(row, sizes[i]);
  }
  return indices;
}

SmallVector<Value> gpukernels::with(ArrayRef<Value> prefix, Value last) {
  SmallVector<Value> v(prefix);
  v.push_back(last);
  return v;
}

gpu::LaunchOp
gpukernels::launch(Emitter &e, StringRef name, Value gx, Value gy, Value gz,
                   int64_t threads,
                   function_ref<void(Emitter &, gpu::LaunchOp)> body) {
  Value t = e.idx(threads), one = e.idx(1);
  auto op = gpu::LaunchOp::create(
      e.b, e.loc, gx, gy, gz, t, one, one, /*dynamicSharedMemorySize=*/nullptr,
      /*asyncTokenType=*/nullptr, /*asyncDependencies=*/{},
      /*workgroupAttributions=*/{}, /*privateAttributions=*/{},
      /*clusterSizeX=*/nullptr, /*clusterSizeY=*/nullptr,
      /*clusterSizeZ=*/nullptr, FlatSymbolRefAttr::get(e.b.getContext(), name),
      FlatSymbolRefAttr::get(e.b.getContext(), name));
  OpBuilder::InsertionGuard guard(e.b);
  e.b.setInsertionPointToStart(&op.getBody().front());
  Emitter inner{e.b, e.loc};
  body(inner, op);
  gpu::TerminatorOp::create(e.b, e.loc);
  return op;
}

Value gpukernels::workgroupArray(Emitter &e, int64_t n, Type element) {
  MLIRContext *ctx = e.b.getContext();
  if (!element)
    element = Float32Type::get(ctx);
  auto type = MemRefType::get(
      {n}, element, MemRefLayoutAttrInterface(),
      gpu::AddressSpaceAttr::get(ctx, gpu::AddressSpace::Workgroup));
  std::string name = "zamba2_workgroup_f32x" + std::to_string(n);
  if (auto integer = dyn_cast<IntegerType>(element))
    name = "zamba2_workgroup_i" + std::to_string(integer.getWidth()) + "x" +
           std::to_string(n);
  if (auto vec = dyn_cast<VectorType>(element)) {
    std::string of = "f32";
    if (auto integer = dyn_cast<IntegerType>(vec.getElementType()))
      of = "i" + std::to_string(integer.getWidth());
    name = "zamba2_workgroup_" + std::to_string(vec.getNumElements()) + of +
           "x" + std::to_string(n);
  }
  auto module =
      e.b.getInsertionBlock()->getParentOp()->getParentOfType<ModuleOp>();
  if (!SymbolTable::lookupSymbolIn(module, name)) {
    OpBuilder mb(ctx);
    mb.setInsertionPointToStart(module.getBody());
    memref::GlobalOp::create(mb, e.loc, name, mb.getStringAttr("private"), type,
                             /*initial_value=*/Attribute(),
                             /*constant=*/false,
                             /*alignment=*/mb.getI64IntegerAttr(16));
  }
  return memref::GetGlobalOp::create(e.b, e.loc, type, name);
}

bool gpukernels::rowsAligned16(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  int64_t width = type.getShape().back();
  int64_t bytes = type.getElementTypeBitWidth() / 8;
  return type.getLayout().isIdentity() && !ShapedType::isDynamic(width) &&
         (width * bytes) % 16 == 0;
}

bool gpukernels::innerContiguous(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  SmallVector<int64_t> strides;
  int64_t offset;
  return succeeded(type.getStridesAndOffset(strides, offset)) &&
         strides.back() == 1;
}

scf::IfOp
gpukernels::ifValues(Emitter &e, Value cond, int64_t count,
                     function_ref<SmallVector<Value>(Emitter &)> then,
                     function_ref<SmallVector<Value>(Emitter &)> otherwise) {
  SmallVector<Type> types(count, e.b.getF32Type());
  auto ifOp = scf::IfOp::create(e.b, e.loc, types, cond,
                                /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(e.b);
  e.b.setInsertionPointToStart(ifOp.thenBlock());
  scf::YieldOp::create(e.b, e.loc, then(e));
  e.b.setInsertionPointToStart(ifOp.elseBlock());
  scf::YieldOp::create(e.b, e.loc, otherwise(e));
  return ifOp;
}

scf::IfOp gpukernels::loadsWhere(Emitter &e, Value cond, int64_t count,
                                 function_ref<SmallVector<Value>()> loads) {
  return ifValues(
      e, cond, count, [&](Emitter &) { return loads(); },
      [&](Emitter &z) { return SmallVector<Value>(count, z.f32(0.0)); });
}
