//===- Passes.h - zamba2c passes --------------------------------*- C++ -*-===//
#ifndef ZAMBA2_PASSES_PASSES_H
#define ZAMBA2_PASSES_PASSES_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/Pass.h"

namespace mlir::zamba2 {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

} // namespace mlir::zamba2

#endif // ZAMBA2_PASSES_PASSES_H
