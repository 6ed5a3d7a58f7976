// zamba2.concat through zamba2-cuda-pipeline (concat.mlir: its lowering):
// the host code launches the embedding's loop kernel, then the concat's
// one loop kernel; no copy kernel per input.
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-cuda-pipeline | FileCheck %s
// CHECK-LABEL: llvm.func @prefill(
// CHECK-COUNT-2: gpu.launch_func {{.*}} @zamba2_kernels::@loop
// CHECK-NOT: gpu.launch_func
// CHECK: llvm.return

module {
  zamba2.weight @"emb" : tensor<6x4xf32>
  func.func @prefill(%tok: tensor<?x?xi64> {zamba2.state = "tokens"},
                     %pos: tensor<?xi64> {zamba2.state = "positions"},
                     %s: tensor<?x3xf32> {zamba2.state = "layers.0.conv"})
      -> (tensor<?x?x10xf32> {zamba2.state = "logits"},
          tensor<?x3xf32> {zamba2.state = "layers.0.conv"}) {
    %e = zamba2.param @"emb" : tensor<6x4xf32>
    %h = zamba2.embed %e[%tok] : tensor<6x4xf32>, tensor<?x?xi64> -> tensor<?x?x4xf32>
    %p:2 = zamba2.split %h [1, 3] : tensor<?x?x4xf32> -> tensor<?x?x1xf32>, tensor<?x?x3xf32>
    %y = zamba2.concat %h, %p#1, %p#1 : tensor<?x?x4xf32>, tensor<?x?x3xf32>, tensor<?x?x3xf32> -> tensor<?x?x10xf32>
    return %y, %s : tensor<?x?x10xf32>, tensor<?x3xf32>
  }
}
