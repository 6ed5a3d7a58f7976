// RUN: zamba2-opt %s --zamba2-fuse-lora -split-input-file | FileCheck %s

// The adapter of a linear's output, reading the linear's input: one op, the
// bias carried over, the linear gone.
// CHECK-LABEL: func.func @match
// CHECK-NEXT: %[[F:.*]] = zamba2.lora_linear %arg0, %arg1 adapter(%arg2, %arg3) bias %arg4 : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<8x64xf32>, tensor<96x8xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
// CHECK-NEXT: return %[[F]]
func.func @match(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>, %bias: tensor<96xf32>) -> tensor<?x?x96xf32> {
  %y = zamba2.linear %x, %w bias %bias : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  %z = zamba2.lora %x, %a, %b into %y : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %z : tensor<?x?x96xf32>
}

// -----

// The adapter reads another input: no fusion.
// CHECK-LABEL: func.func @other_input
// CHECK: zamba2.linear
// CHECK: zamba2.lora
// CHECK-NOT: zamba2.lora_linear
func.func @other_input(%x: tensor<?x?x64xf32>, %x2: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>) -> tensor<?x?x96xf32> {
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %z = zamba2.lora %x2, %a, %b into %y : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %z : tensor<?x?x96xf32>
}

// -----

// The linear's output is also used elsewhere: fusing would compute it twice.
// CHECK-LABEL: func.func @linear_reused
// CHECK: %[[Y:.*]] = zamba2.linear
// CHECK: %[[Z:.*]] = zamba2.lora %arg0, %arg2, %arg3 into %[[Y]]
// CHECK: return %[[Z]], %[[Y]]
func.func @linear_reused(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %z = zamba2.lora %x, %a, %b into %y : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %z, %y : tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// -----

// An adapter on a value that is not a linear's output stays as it is.
// CHECK-LABEL: func.func @not_a_linear
// CHECK: zamba2.lora %arg0, %arg1, %arg2 into %arg3
func.func @not_a_linear(%x: tensor<?x?x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>, %base: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %z = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %z : tensor<?x?x96xf32>
}

// -----

// The quantized form (zamba2-quantize ran first): the adapter's up product
// into the linear's becomes one quant_linear with an adapter; the rank-r
// product x A^T (quantized, or float) stays; the bias carried over.
// CHECK-LABEL: func.func @quant_match
// CHECK-NEXT: %[[M:.*]] = zamba2.quant_linear %arg0, %arg3 scales %arg4 symmetric
// CHECK-NEXT: %[[F:.*]] = zamba2.quant_linear %arg0, %arg1 scales %arg2 bias %arg7 adapter(%[[M]], %arg5 scales %arg6) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96xf32>, tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>) -> tensor<?x?x96xf32>
// CHECK-NEXT: %[[L:.*]] = zamba2.linear %arg0, %arg8 :
// CHECK-NEXT: %[[G:.*]] = zamba2.quant_linear %arg0, %arg1 scales %arg2 adapter(%[[L]], %arg5 scales %arg6) symmetric
// CHECK-NEXT: return %[[F]], %[[G]]
func.func @quant_match(%x: tensor<?x?x64xf32>, %w: tensor<96x32xi8>, %ws: tensor<96x2xf16>, %a: tensor<32x32xi8>, %as: tensor<32x2xf16>,
                       %b: tensor<96x16xi8>, %bs: tensor<96x1xf16>, %bias: tensor<96xf32>, %af: tensor<32x64xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  %y = zamba2.quant_linear %x, %w scales %ws bias %bias symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96xf32>) -> tensor<?x?x96xf32>
  %m = zamba2.quant_linear %x, %a scales %as symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>) -> tensor<?x?x32xf32>
  %z = zamba2.quant_linear %m, %b scales %bs into %y symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y2 = zamba2.quant_linear %x, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %m2 = zamba2.linear %x, %af : (tensor<?x?x64xf32>, tensor<32x64xf32>) -> tensor<?x?x32xf32>
  %z2 = zamba2.quant_linear %m2, %b scales %bs into %y2 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %z, %z2 : tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// -----

// Quantized, no fusion: the adapter's input is a product of another input;
// the linear's result is used elsewhere; W and B quantized differently (8
// and 4 bits); the base is no product (a residual sum).
// CHECK-LABEL: func.func @quant_no_match
// CHECK-NOT: adapter(
// CHECK: return
func.func @quant_no_match(%x: tensor<?x?x64xf32>, %x2: tensor<?x?x64xf32>, %w: tensor<96x32xi8>, %ws: tensor<96x2xf16>, %w8: tensor<96x64xi8>,
                          %a: tensor<32x32xi8>, %as: tensor<32x2xf16>, %b: tensor<96x16xi8>, %bs: tensor<96x1xf16>, %r: tensor<?x?x96xf32>)
    -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  %m = zamba2.quant_linear %x, %a scales %as symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>) -> tensor<?x?x32xf32>
  %y1 = zamba2.quant_linear %x2, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z1 = zamba2.quant_linear %m, %b scales %bs into %y1 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y2 = zamba2.quant_linear %x, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z2 = zamba2.quant_linear %m, %b scales %bs into %y2 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y3 = zamba2.quant_linear %x, %w8 scales %ws symmetric {bits = 8 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x64xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z3 = zamba2.quant_linear %m, %b scales %bs into %y3 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %z4 = zamba2.quant_linear %m, %b scales %bs into %r symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %z1, %z2, %y2, %z3, %z4 : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>
}
