//===- Passes.td - zamba2c passes --------------------------*- tablegen -*-===//
#ifndef ZAMBA2_PASSES_TD
#define ZAMBA2_PASSES_TD

include "mlir/Pass/PassBase.td"

def WeightTable : Pass<"zamba2-weight-table", "ModuleOp"> {
  let summary = "Print the module's weight table (key, type, bytes, uses)";
  let description = [{
    Lists every `zamba2.weight` with its type, its size in bytes and the
    number of `zamba2.param` reads of it, then the totals: what a package
    built from this module stores. Weights of the shared block show one line
    with several uses. The IR is left unchanged.
  }];
  let options = [
    Option<"sortBySize", "sort-by-size", "bool", /*default=*/"false",
           "List the largest weights first instead of declaration order">,
  ];
}

#endif // ZAMBA2_PASSES_TD
