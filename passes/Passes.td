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

def LowerToLinalg : Pass<"zamba2-lower-to-linalg", "ModuleOp"> {
  let summary = "Lower zamba2 model-level ops to linalg/tensor/arith/math";
  let description = [{
    Rewrites zamba2 ops into upstream ops on tensors, computing in f32
    (bf16/f16 weights are extended inside the loops, never copied). Lowered
    so far: embed, linear, lora, rms_norm, gated_rms_norm, mlp_gate, concat,
    split. The others (causal_conv1d, ssd_scan, ssd_step, rotary, attention,
    lora_linear, quant_linear, param) are left in place for now: this pass is
    the first stage of the CPU pipeline under construction.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect"];
}

#endif // ZAMBA2_PASSES_TD
