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
// and 4 bits); the base is no product (a residual sum); the up product has
// a bias; it normalises its input; the linear adds to a base already; the
// schemes differ.
// CHECK-LABEL: func.func @quant_no_match
// CHECK-NOT: adapter(
// CHECK: return
func.func @quant_no_match(%x: tensor<?x?x64xf32>, %x2: tensor<?x?x64xf32>, %w: tensor<96x32xi8>, %ws: tensor<96x2xf16>, %w8: tensor<96x64xi8>,
                          %a: tensor<32x32xi8>, %as: tensor<32x2xf16>, %b: tensor<96x16xi8>, %bs: tensor<96x1xf16>, %r: tensor<?x?x96xf32>,
                          %bias: tensor<96xf32>, %nw: tensor<32xf32>, %wz: tensor<96x2xi8>)
    -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  %m = zamba2.quant_linear %x, %a scales %as symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>) -> tensor<?x?x32xf32>
  %y1 = zamba2.quant_linear %x2, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z1 = zamba2.quant_linear %m, %b scales %bs into %y1 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y2 = zamba2.quant_linear %x, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z2 = zamba2.quant_linear %m, %b scales %bs into %y2 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y3 = zamba2.quant_linear %x, %w8 scales %ws symmetric {bits = 8 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x64xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z3 = zamba2.quant_linear %m, %b scales %bs into %y3 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %z4 = zamba2.quant_linear %m, %b scales %bs into %r symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y5 = zamba2.quant_linear %x, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z5 = zamba2.quant_linear %m, %b scales %bs bias %bias into %y5 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<96xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y6 = zamba2.quant_linear %x, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %z6 = zamba2.quant_linear %m normed %nw, %b scales %bs into %y6 symmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>, tensor<32xf32>) -> tensor<?x?x96xf32>
  %y7 = zamba2.quant_linear %x, %w scales %ws into %r symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %z7 = zamba2.quant_linear %m, %b scales %bs into %y7 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %y8 = zamba2.quant_linear %x, %w scales %ws zeros %wz asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>) -> tensor<?x?x96xf32>
  %z8 = zamba2.quant_linear %m, %b scales %bs into %y8 symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %z1, %z2, %y2, %z3, %z4, %z5, %z6, %z7, %z8 : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// -----

// Quantized and fused: asymmetric (B's zeros carried over); the linear and
// x A^T normalising x with the same prologue (zamba2-fuse-norm ran first).
// A mid computed with another norm (or none) is not the linear's input.
// CHECK-LABEL: func.func @quant_fused_more
// CHECK: %[[A:.*]] = zamba2.quant_linear %arg0, %arg3 scales %arg4 zeros %arg10 asymmetric
// CHECK-NEXT: %[[F:.*]] = zamba2.quant_linear %arg0, %arg1 scales %arg2 zeros %arg5 adapter(%[[A]], %arg6 scales %arg7 zeros %arg8) asymmetric
// CHECK: %[[NA:.*]] = zamba2.quant_linear %arg0 normed %arg9, %arg3 scales %arg4 zeros %arg10 asymmetric
// CHECK-NEXT: %[[NF:.*]] = zamba2.quant_linear %arg0 normed %arg9, %arg1 scales %arg2 zeros %arg5 adapter(%[[NA]], %arg6 scales %arg7 zeros %arg8) asymmetric
// CHECK: %[[OA:.*]] = zamba2.quant_linear %arg0, %arg3 scales %arg4 zeros %arg10 asymmetric
// CHECK-NEXT: %[[OL:.*]] = zamba2.quant_linear %arg0 normed %arg9, %arg1 scales %arg2 zeros %arg5 asymmetric
// CHECK-NEXT: %[[OU:.*]] = zamba2.quant_linear %[[OA]], %arg6 scales %arg7 zeros %arg8 into %[[OL]] asymmetric
// CHECK-NEXT: return %[[F]], %[[NF]], %[[OU]]
func.func @quant_fused_more(%x: tensor<?x?x64xf32>, %w: tensor<96x32xi8>, %ws: tensor<96x2xf16>, %a: tensor<32x32xi8>, %as: tensor<32x2xf16>,
                            %z: tensor<96x2xi8>, %b: tensor<96x16xi8>, %bs: tensor<96x1xf16>, %bz: tensor<96x1xi8>, %nw: tensor<64xf32>, %az: tensor<32x2xi8>)
    -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  %m = zamba2.quant_linear %x, %a scales %as zeros %az asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>, tensor<32x2xi8>) -> tensor<?x?x32xf32>
  %y = zamba2.quant_linear %x, %w scales %ws zeros %z asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>) -> tensor<?x?x96xf32>
  %r = zamba2.quant_linear %m, %b scales %bs zeros %bz into %y asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<96x1xi8>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %nm = zamba2.quant_linear %x normed %nw, %a scales %as zeros %az asymmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64} : (tensor<?x?x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>, tensor<32x2xi8>, tensor<64xf32>) -> tensor<?x?x32xf32>
  %ny = zamba2.quant_linear %x normed %nw, %w scales %ws zeros %z asymmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>, tensor<64xf32>) -> tensor<?x?x96xf32>
  %nr = zamba2.quant_linear %nm, %b scales %bs zeros %bz into %ny asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<96x1xi8>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %om = zamba2.quant_linear %x, %a scales %as zeros %az asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>, tensor<32x2xi8>) -> tensor<?x?x32xf32>
  %oy = zamba2.quant_linear %x normed %nw, %w scales %ws zeros %z asymmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>, tensor<64xf32>) -> tensor<?x?x96xf32>
  %or = zamba2.quant_linear %om, %b scales %bs zeros %bz into %oy asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<96x1xi8>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %r, %nr, %or : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// -----

// A linear that convolves its output (zamba2-fuse-conv ran first) keeps its
// adapter apart: the adapter's term is added after the convolution.
// CHECK-LABEL: func.func @convolving_linear
// CHECK: zamba2.linear {{.*}} conv(
// CHECK: zamba2.lora
func.func @convolving_linear(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>) {
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 0 : i64} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  %z = zamba2.lora %x, %a, %b into %y : tensor<?x1x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x1x96xf32>
  return %z, %s : tensor<?x1x96xf32>, tensor<?x40x3xf32>
}

// -----

// Quantized: a linear that convolves its output keeps the adapter's second
// product apart (it adds after the convolution), and so does an adapter's
// second product that convolves its own output.
// CHECK-LABEL: func.func @quant_convolving
// CHECK-NOT: adapter(
// CHECK: return
func.func @quant_convolving(%x: tensor<?x1x64xf32>, %w: tensor<96x32xi8>, %ws: tensor<96x2xf16>, %a: tensor<32x32xi8>, %as: tensor<32x2xf16>,
                            %b: tensor<96x16xi8>, %bs: tensor<96x1xf16>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>, tensor<?x1x96xf32>, tensor<?x40x3xf32>) {
  %y, %s = zamba2.quant_linear %x, %w scales %ws symmetric conv(%cw state %cs) {bits = 4 : i64, group_size = 32 : i64, conv_offset = 0 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  %m = zamba2.quant_linear %x, %a scales %as symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>) -> tensor<?x1x32xf32>
  %z = zamba2.quant_linear %m, %b scales %bs into %y symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x1x96xf32>) -> tensor<?x1x96xf32>
  %y2 = zamba2.quant_linear %x, %w scales %ws symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x1x96xf32>
  %z2, %s2 = zamba2.quant_linear %m, %b scales %bs into %y2 symmetric conv(%cw state %cs) {bits = 4 : i64, group_size = 32 : i64, conv_offset = 0 : i64} : (tensor<?x1x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>, tensor<?x1x96xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  return %z, %s, %z2, %s2 : tensor<?x1x96xf32>, tensor<?x40x3xf32>, tensor<?x1x96xf32>, tensor<?x40x3xf32>
}
