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
// RUN: zamba2-opt %s --zamba2-cuda-pipeline="format=isa int4-mma=false" | FileCheck %s
// The same on the tensor cores (int4-mma.mlir): 8 warps a block, each on a
// slice of 256 weights of 16 channels; a lane's 4 x 16 bytes of weights and
// its 4 groups' scales before the wait, x's staging, its digits and two
// barriers after.
// RUN: zamba2-opt %s --zamba2-cuda-pipeline="format=isa" | FileCheck %s --check-prefix=MMA
// MMA: .visible .entry linear_mma_r1(
// MMA-NOT: griddepcontrol.wait
// MMA-COUNT-8: ld.global.{{b16|v4.b32}}
// MMA-NOT: ld.global
// MMA: griddepcontrol.wait;
// MMA-NOT: bar.sync
// MMA: ld.global.v4.b32
// MMA: bar.sync
// MMA: bar.sync
// MMA: mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32
// MMA: .entry linear_r8(

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
