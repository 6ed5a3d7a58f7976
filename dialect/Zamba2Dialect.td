//===- Zamba2Dialect.td - The Zamba2 dialect ---------------*- tablegen -*-===//
//
// Model-level operations of Zamba2 language models (Mamba2 mixers, the shared
// attention block, LoRA adapters, rotary embeddings) and the fused forms the
// zamba2c passes create. Tensors carry dynamic batch and sequence dims; state
// (conv, SSM, KV caches) is explicit, as operands and results.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_DIALECT_TD
#define ZAMBA2_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/EnumAttr.td"

def Zamba2_Dialect : Dialect {
  let name = "zamba2";
  let cppNamespace = "::mlir::zamba2";
  let summary = "Operations of Zamba2 hybrid Mamba2/attention language models";
  let description = [{
    Weights are declared once per module with `zamba2.weight` (symbol name =
    checkpoint key) and referenced with `zamba2.param`; they are never inlined
    as dense attributes. Activation tensors have the shape [batch, seq, ...].
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let hasConstantMaterializer = 0;
}

def Zamba2_Activation : I32EnumAttr<"Activation",
    "activation function of the MLP gate", [
      I32EnumAttrCase<"gelu", 0>,      // exact erf GELU (hidden_act "gelu")
      I32EnumAttrCase<"gelu_tanh", 1>, // tanh approximation ("gelu_pytorch_tanh")
      I32EnumAttrCase<"silu", 2>
    ]> {
  let cppNamespace = "::mlir::zamba2";
}

def Zamba2_QuantScheme : I32EnumAttr<"QuantScheme",
    "integer weight quantization scheme", [
      I32EnumAttrCase<"symmetric", 0>,  // w = s * q, q signed
      I32EnumAttrCase<"asymmetric", 1>  // w = s * (q - z), q unsigned
    ]> {
  let cppNamespace = "::mlir::zamba2";
}

class Zamba2_Op<string mnemonic, list<Trait> traits = []>
    : Op<Zamba2_Dialect, mnemonic, traits>;

#endif // ZAMBA2_DIALECT_TD
