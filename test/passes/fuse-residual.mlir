// RUN: zamba2-opt %s --zamba2-fuse-residual -split-input-file | FileCheck %s

// A sum with a linear's result, in either operand order: the linear adds
// the other operand itself (`into`), bias carried over; the addition and
// the old linear are gone.
// CHECK-LABEL: func.func @match
// CHECK-NEXT: %[[A:.*]] = zamba2.linear %arg0, %arg1 bias %arg2 into %arg3 : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
// CHECK-NEXT: %[[B:.*]] = zamba2.linear %arg0, %arg1 into %[[A]] : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
// CHECK-NEXT: return %[[B]]
func.func @match(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %bias: tensor<96xf32>, %r: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %y = zamba2.linear %x, %w bias %bias : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  %s = arith.addf %r, %y : tensor<?x?x96xf32>
  %y2 = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %s2 = arith.addf %y2, %s : tensor<?x?x96xf32>
  return %s2 : tensor<?x?x96xf32>
}

// -----

// The other operand may be defined after the linear: the fused op takes
// the addition's place. (When both addends are linears, the right one adds
// the left.)
// CHECK-LABEL: func.func @base_defined_later
// CHECK-NEXT: %[[R:.*]] = arith.mulf %arg2, %arg2
// CHECK-NEXT: %[[S:.*]] = zamba2.linear %arg0, %arg1 into %[[R]]
// CHECK-NEXT: %[[L:.*]] = zamba2.linear %arg0, %arg1 :
// CHECK-NEXT: %[[T:.*]] = zamba2.linear %arg0, %arg1 into %[[L]]
// CHECK-NEXT: return %[[S]], %[[T]]
func.func @base_defined_later(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %r0: tensor<?x?x96xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %r = arith.mulf %r0, %r0 : tensor<?x?x96xf32>
  %s = arith.addf %y, %r : tensor<?x?x96xf32>
  %l = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %m = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %t = arith.addf %l, %m : tensor<?x?x96xf32>
  return %s, %t : tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// -----

// A quantized linear alike: packing, scales, zeros and attributes carried
// over.
// CHECK-LABEL: func.func @quant
// CHECK-NEXT: %[[Q:.*]] = zamba2.quant_linear %arg0, %arg1 scales %arg2 zeros %arg3 into %arg4 asymmetric {bits = 4 : i64, group_size = 32 : i64}
// CHECK-NEXT: return %[[Q]]
func.func @quant(%x: tensor<?x64xf32>, %p: tensor<96x32xi8>, %s: tensor<96x2xf16>, %z: tensor<96x2xi8>, %r: tensor<?x96xf32>) -> tensor<?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s zeros %z asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>) -> tensor<?x96xf32>
  %sum = arith.addf %y, %r : tensor<?x96xf32>
  return %sum : tensor<?x96xf32>
}

// -----

// A quantized linear with an adapter product: the adapter carried over.
// CHECK-LABEL: func.func @quant_adapter
// CHECK-NEXT: %[[Q:.*]] = zamba2.quant_linear %arg0, %arg1 scales %arg2 adapter(%arg3, %arg4 scales %arg5) into %arg6 symmetric {bits = 4 : i64, group_size = 32 : i64}
// CHECK-NEXT: return %[[Q]]
func.func @quant_adapter(%x: tensor<?x64xf32>, %p: tensor<96x32xi8>, %s: tensor<96x2xf16>, %m: tensor<?x32xf32>, %bp: tensor<96x16xi8>, %bs: tensor<96x1xf16>, %r: tensor<?x96xf32>) -> tensor<?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s adapter(%m, %bp scales %bs) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>) -> tensor<?x96xf32>
  %sum = arith.addf %r, %y : tensor<?x96xf32>
  return %sum : tensor<?x96xf32>
}

// -----

// No fold: the linear's result has another use, the linear adds to a base
// already, the addends are not a linear's, the sum is a scalar.
// CHECK-LABEL: func.func @no_match
// CHECK: %[[Y:.*]] = zamba2.linear %arg0, %arg1 :
// CHECK-NEXT: arith.addf %arg2, %[[Y]]
// CHECK-NEXT: %[[B:.*]] = zamba2.linear %arg0, %arg1 into %arg2
// CHECK-NEXT: arith.addf %arg2, %[[B]]
// CHECK-NEXT: arith.addf %arg2, %arg2
// CHECK-NEXT: arith.addf %arg3, %arg3 : f32
func.func @no_match(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %r: tensor<?x?x96xf32>, %f: f32) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, f32) {
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %s = arith.addf %r, %y : tensor<?x?x96xf32>
  %b = zamba2.linear %x, %w into %r : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %s2 = arith.addf %r, %b : tensor<?x?x96xf32>
  %s3 = arith.addf %r, %r : tensor<?x?x96xf32>
  %g = arith.addf %f, %f : f32
  return %s, %y, %s2, %s3, %g : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, f32
}
