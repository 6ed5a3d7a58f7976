//===- DialectTest.cpp - Building and verifying zamba2 ops from C++ -------===//
//
// The importer builds IR through these builders; these tests pin down that
// the verifiers see what it builds, and that the LoRA folder works through the
// C++ fold API (not only through -canonicalize).
//
//===----------------------------------------------------------------------===//
#include "dialect/Zamba2Ops.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include <gtest/gtest.h>

using namespace mlir;
using namespace mlir::zamba2;

namespace {

class DialectTest : public ::testing::Test {
protected:
  DialectTest() {
    context
        .loadDialect<Zamba2Dialect, func::FuncDialect, arith::ArithDialect>();
    // Keep verifier messages for the assertions instead of printing them.
    handler = std::make_unique<ScopedDiagnosticHandler>(
        &context, [this](Diagnostic &d) {
          messages.push_back(d.str());
          return success();
        });
  }

  RankedTensorType f32(ArrayRef<int64_t> shape) {
    return RankedTensorType::get(shape, Float32Type::get(&context));
  }

  /// A module with one function whose body `build` fills.
  OwningOpRef<ModuleOp>
  makeModule(ArrayRef<Type> args,
             llvm::function_ref<void(OpBuilder &, Block &)> build) {
    OpBuilder b(&context);
    auto module = ModuleOp::create(b.getUnknownLoc());
    b.setInsertionPointToEnd(module.getBody());
    auto fn = func::FuncOp::create(b, b.getUnknownLoc(), "f",
                                   b.getFunctionType(args, {}));
    Block *entry = fn.addEntryBlock();
    b.setInsertionPointToEnd(entry);
    build(b, *entry);
    func::ReturnOp::create(b, b.getUnknownLoc());
    return module;
  }

  MLIRContext context;
  std::unique_ptr<ScopedDiagnosticHandler> handler;
  std::vector<std::string> messages;
};

TEST_F(DialectTest, LinearVerifierAcceptsMatchingShapes) {
  int64_t dyn = ShapedType::kDynamic;
  auto module = makeModule(
      {f32({dyn, dyn, 64}), f32({96, 64})}, [&](OpBuilder &b, Block &blk) {
        LinearOp::create(b, b.getUnknownLoc(), f32({dyn, dyn, 96}),
                         blk.getArgument(0), blk.getArgument(1), Value(),
                         Value());
      });
  EXPECT_TRUE(succeeded(verify(*module)));
  EXPECT_TRUE(messages.empty());
}

TEST_F(DialectTest, LinearVerifierNamesBothWidths) {
  int64_t dyn = ShapedType::kDynamic;
  auto module = makeModule(
      {f32({dyn, dyn, 64}), f32({96, 32})}, [&](OpBuilder &b, Block &blk) {
        LinearOp::create(b, b.getUnknownLoc(), f32({dyn, dyn, 96}),
                         blk.getArgument(0), blk.getArgument(1), Value(),
                         Value());
      });
  EXPECT_TRUE(failed(verify(*module)));
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("weight's input dim 32, found 64"),
            std::string::npos)
      << messages[0];
}

TEST_F(DialectTest, LoRAOfRankZeroFoldsToBase) {
  int64_t dyn = ShapedType::kDynamic;
  LoRAOp lora;
  auto module = makeModule(
      {f32({dyn, dyn, 64}), f32({0, 64}), f32({96, 0}), f32({dyn, dyn, 96})},
      [&](OpBuilder &b, Block &blk) {
        lora = LoRAOp::create(b, b.getUnknownLoc(), f32({dyn, dyn, 96}),
                              blk.getArgument(0), blk.getArgument(1),
                              blk.getArgument(2), blk.getArgument(3));
      });
  ASSERT_TRUE(succeeded(verify(*module)));
  SmallVector<OpFoldResult> folded;
  ASSERT_TRUE(succeeded(lora->fold(folded)));
  ASSERT_EQ(folded.size(), 1u);
  EXPECT_EQ(dyn_cast<Value>(folded[0]), lora.getBase());
}

TEST_F(DialectTest, LoRAOfNonZeroRankDoesNotFold) {
  int64_t dyn = ShapedType::kDynamic;
  LoRAOp lora;
  auto module = makeModule(
      {f32({dyn, dyn, 64}), f32({8, 64}), f32({96, 8}), f32({dyn, dyn, 96})},
      [&](OpBuilder &b, Block &blk) {
        lora = LoRAOp::create(b, b.getUnknownLoc(), f32({dyn, dyn, 96}),
                              blk.getArgument(0), blk.getArgument(1),
                              blk.getArgument(2), blk.getArgument(3));
      });
  ASSERT_TRUE(succeeded(verify(*module)));
  SmallVector<OpFoldResult> folded;
  EXPECT_TRUE(failed(lora->fold(folded)));
}

TEST_F(DialectTest, ActivationKeywordsRoundTrip) {
  for (Activation a :
       {Activation::gelu, Activation::gelu_tanh, Activation::silu}) {
    auto parsed = symbolizeActivation(stringifyActivation(a));
    ASSERT_TRUE(parsed.has_value());
    EXPECT_EQ(*parsed, a);
  }
  EXPECT_FALSE(symbolizeActivation("relu").has_value());
}

} // namespace
