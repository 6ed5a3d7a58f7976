//===- Zamba2Dialect.cpp - The Zamba2 dialect -----------------------------===//
#include "dialect/Zamba2Dialect.h"
#include "dialect/Zamba2Ops.h"

using namespace mlir;
using namespace mlir::zamba2;

#include "dialect/Zamba2Dialect.cpp.inc"

void Zamba2Dialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialect/Zamba2Ops.cpp.inc"
      >();
}
