// The weight loads a one-row linear kernel issues before its dependent-launch
// wait (preload-weights.mlir) stay before it in the PTX: the wait clobbers
// memory, so LLVM sinks no load below it (with the NVVM intrinsic, which
// touches no memory, the loads came out after the wait), and raises none of
// x's (written by the kernel before) above it.
// int4, K = 2048: 64 steps of 16 bytes, 2 per lane; 2 channels per warp (of
// 2048: not split over warps, rowSplit): 4
// scales (f16) and 4 x 16 bytes of weights before the wait, x's staging (16
// bytes of f32) and its barrier after.
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-cuda-pipeline="format=isa" | FileCheck %s

// CHECK: .visible .entry linear_r1(
// CHECK-NOT: griddepcontrol.wait
// CHECK-COUNT-8: ld.global.{{b16|v4.b32}}
// CHECK-NOT: ld.global
// CHECK: griddepcontrol.wait;
// CHECK-NOT: bar.sync
// CHECK: ld.global.v4.b32
// CHECK: bar.sync
// CHECK: .entry linear_r8(
module {
  zamba2.weight @"emb" : tensor<6x2048xf32>
  zamba2.weight @"q" : tensor<2048x1024xi8>
  zamba2.weight @"s" : tensor<2048x32xf16>
  func.func @decode(%tok: tensor<?x?xi64> {zamba2.state = "tokens"},
                    %pos: tensor<?xi64> {zamba2.state = "positions"},
                    %st: tensor<?x3xf32> {zamba2.state = "layers.0.conv"})
      -> (tensor<?x?x2048xf32> {zamba2.state = "logits"},
          tensor<?x3xf32> {zamba2.state = "layers.0.conv"}) {
    %e = zamba2.param @"emb" : tensor<6x2048xf32>
    %q = zamba2.param @"q" : tensor<2048x1024xi8>
    %s = zamba2.param @"s" : tensor<2048x32xf16>
    %h = zamba2.embed %e[%tok] : tensor<6x2048xf32>, tensor<?x?xi64> -> tensor<?x?x2048xf32>
    %y = zamba2.quant_linear %h, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x?x2048xf32>, tensor<2048x1024xi8>, tensor<2048x32xf16>) -> tensor<?x?x2048xf32>
    return %y, %st : tensor<?x?x2048xf32>, tensor<?x3xf32>
  }
}
