// Folders and canonicalization patterns of the zamba2 ops.
// RUN: zamba2-opt %s -canonicalize -split-input-file | FileCheck %s

zamba2.weight @a0 : tensor<0x64xf32>
zamba2.weight @b0 : tensor<96x0xf32>

// A rank-0 adapter adds nothing: the lora disappears.
// CHECK-LABEL: func.func @lora_rank0
// CHECK-SAME: (%{{.*}}: tensor<?x?x64xf32>, %[[BASE:.*]]: tensor<?x?x96xf32>)
// CHECK-NOT: zamba2.lora
// CHECK: return %[[BASE]]
func.func @lora_rank0(%x: tensor<?x?x64xf32>, %base: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %a = zamba2.param @a0 : tensor<0x64xf32>
  %b = zamba2.param @b0 : tensor<96x0xf32>
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<0x64xf32>, tensor<96x0xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// An all-zero factor (A or B) adds nothing either.
// CHECK-LABEL: func.func @lora_zero_a
// CHECK-NOT: zamba2.lora
// CHECK: return %arg2
func.func @lora_zero_a(%x: tensor<?x?x64xf32>, %b: tensor<96x8xf32>, %base: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %a = arith.constant dense<0.0> : tensor<8x64xf32>
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// CHECK-LABEL: func.func @lora_zero_b
// CHECK-NOT: zamba2.lora
// CHECK: return %arg2
func.func @lora_zero_b(%x: tensor<?x?x64xf32>, %a: tensor<8x64xf32>, %base: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %b = arith.constant dense<0.0> : tensor<96x8xf32>
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// A non-zero adapter stays.
// CHECK-LABEL: func.func @lora_kept
// CHECK: %[[Y:.*]] = zamba2.lora
// CHECK: return %[[Y]]
func.func @lora_kept(%x: tensor<?x?x64xf32>, %a: tensor<8x64xf32>, %base: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %b = arith.constant dense<1.0> : tensor<96x8xf32>
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// CHECK-LABEL: func.func @rms_norm_zero_residual
// CHECK: zamba2.rms_norm %arg0, %arg1 {eps
func.func @rms_norm_zero_residual(%x: tensor<2x3x64xf32>, %w: tensor<64xf32>) -> tensor<2x3x64xf32> {
  %z = arith.constant dense<0.0> : tensor<2x3x64xf32>
  %y = zamba2.rms_norm %x plus %z, %w {eps = 1.0e-05 : f64} : tensor<2x3x64xf32>, tensor<64xf32>
  return %y : tensor<2x3x64xf32>
}

// CHECK-LABEL: func.func @rms_norm_residual_kept
// CHECK: zamba2.rms_norm %arg0 plus %arg1, %arg2
func.func @rms_norm_residual_kept(%x: tensor<2x3x64xf32>, %r: tensor<2x3x64xf32>, %w: tensor<64xf32>) -> tensor<2x3x64xf32> {
  %y = zamba2.rms_norm %x plus %r, %w {eps = 1.0e-05 : f64} : tensor<2x3x64xf32>, tensor<64xf32>
  return %y : tensor<2x3x64xf32>
}

// -----

// CHECK-LABEL: func.func @concat_single
// CHECK-NEXT: return %arg0
func.func @concat_single(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %y = zamba2.concat %x : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// CHECK-LABEL: func.func @split_of_concat
// CHECK-NEXT: return %arg1, %arg0
func.func @split_of_concat(%a: tensor<?x?x64xf32>, %b: tensor<?x?x32xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x64xf32>) {
  %c = zamba2.concat %a, %b : tensor<?x?x64xf32>, tensor<?x?x32xf32> -> tensor<?x?x96xf32>
  %x, %y = zamba2.split %c [64, 32] : tensor<?x?x96xf32> -> tensor<?x?x64xf32>, tensor<?x?x32xf32>
  return %y, %x : tensor<?x?x32xf32>, tensor<?x?x64xf32>
}

// Pieces of other sizes than the concat's inputs: kept.
// CHECK-LABEL: func.func @split_of_concat_other_sizes
// CHECK: zamba2.concat
// CHECK: zamba2.split
func.func @split_of_concat_other_sizes(%a: tensor<?x?x64xf32>, %b: tensor<?x?x32xf32>) -> (tensor<?x?x48xf32>, tensor<?x?x48xf32>) {
  %c = zamba2.concat %a, %b : tensor<?x?x64xf32>, tensor<?x?x32xf32> -> tensor<?x?x96xf32>
  %x, %y = zamba2.split %c [48, 48] : tensor<?x?x96xf32> -> tensor<?x?x48xf32>, tensor<?x?x48xf32>
  return %x, %y : tensor<?x?x48xf32>, tensor<?x?x48xf32>
}
