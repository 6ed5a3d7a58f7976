//===- zamba2-opt.cpp - The zamba2c optimizer driver ----------------------===//
//
// mlir-opt with the zamba2 dialect, the upstream dialects and passes the
// pipelines use, and zamba2c's own passes and pipelines.
//
//===----------------------------------------------------------------------===//
#include "dialect/Zamba2Dialect.h"
#include "lowering/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::registerAllPasses();
  mlir::zamba2::registerZamba2Passes();
  mlir::zamba2::registerZamba2Pipelines();

  mlir::DialectRegistry registry;
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  // GPU modules serialize through LLVM IR (gpu-module-to-binary).
  mlir::registerAllToLLVMIRTranslations(registry);
  registry.insert<mlir::zamba2::Zamba2Dialect>();

  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "zamba2c optimizer driver\n", registry));
}
