//===- Zamba2Ops.h - Zamba2 operations --------------------------*- C++ -*-===//
#ifndef ZAMBA2_DIALECT_ZAMBA2OPS_H
#define ZAMBA2_DIALECT_ZAMBA2OPS_H

#include "dialect/Zamba2Dialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialect/Zamba2Enums.h.inc"

#define GET_OP_CLASSES
#include "dialect/Zamba2Ops.h.inc"

#endif // ZAMBA2_DIALECT_ZAMBA2OPS_H
