//===- Zamba2Dialect.h - The Zamba2 dialect ---------------------*- C++ -*-===//
#ifndef ZAMBA2_DIALECT_ZAMBA2DIALECT_H
#define ZAMBA2_DIALECT_ZAMBA2DIALECT_H

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dialect.h"

#include "dialect/Zamba2Dialect.h.inc"

#endif // ZAMBA2_DIALECT_ZAMBA2DIALECT_H
