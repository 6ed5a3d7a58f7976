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
