//===- WeightTable.cpp - Print the module's weight table ------------------===//
#include "dialect/Zamba2Ops.h"
#include "passes/Passes.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/raw_ostream.h"

namespace mlir::zamba2 {
#define GEN_PASS_DEF_WEIGHTTABLE
#include "passes/Passes.h.inc"
} // namespace mlir::zamba2

using namespace mlir;
using namespace mlir::zamba2;

namespace {

int64_t weightBytes(RankedTensorType type) {
  int64_t bits = type.getElementTypeBitWidth();
  return (type.getNumElements() * bits + 7) / 8;
}

struct WeightTablePass : mlir::zamba2::impl::WeightTableBase<WeightTablePass> {
  using WeightTableBase::WeightTableBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    llvm::StringMap<int64_t> uses;
    module.walk([&](ParamOp op) { ++uses[op.getName()]; });

    SmallVector<WeightOp> weights(module.getOps<WeightOp>());
    if (sortBySize)
      // Largest first; declaration order among equal sizes.
      llvm::sort(weights, [&](WeightOp a, WeightOp b) {
        int64_t x = weightBytes(cast<RankedTensorType>(a.getType()));
        int64_t y = weightBytes(cast<RankedTensorType>(b.getType()));
        return x != y ? x > y : a->isBeforeInBlock(b);
      });

    llvm::raw_ostream &os = llvm::outs();
    int64_t totalElements = 0, totalBytes = 0;
    for (WeightOp w : weights) {
      auto type = cast<RankedTensorType>(w.getType());
      os << "weight " << w.getSymName() << " " << type << " bytes "
         << weightBytes(type) << " uses " << uses.lookup(w.getSymName());
      // A part of a quantized matrix (zamba2-quantize): what it is made of.
      if (auto q = w->getAttrOfType<DictionaryAttr>("zamba2.quant")) {
        auto str = [&](StringRef key) {
          auto a = q.getAs<StringAttr>(key);
          return a ? a.getValue() : StringRef("?");
        };
        auto num = [&](StringRef key) {
          auto a = q.getAs<IntegerAttr>(key);
          return a ? a.getInt() : int64_t(0);
        };
        os << " quant " << str("part") << " of " << str("source") << " int"
           << num("bits") << " group " << num("group_size") << " "
           << str("scheme");
        if (auto t = q.getAs<TypeAttr>("scale_type"))
          os << " " << t.getValue() << " scales";
      }
      os << "\n";
      totalElements += type.getNumElements();
      totalBytes += weightBytes(type);
    }
    os << "total " << weights.size() << " weights, " << totalElements
       << " parameters, " << totalBytes << " bytes\n";
    markAllAnalysesPreserved();
  }
};

} // namespace
