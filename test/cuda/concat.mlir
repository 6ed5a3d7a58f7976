// zamba2.concat on the CUDA target: one elementwise loop over the result
// (one kernel), each element read from the input that holds its column
// through a chain of ifs, so that no other input is read (tensor.concat,
// the CPU form, bufferizes into a copy per input: a kernel each). The
// whole pipeline, which needs the CUDA toolkit: concat-launch.mlir.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda | FileCheck %s
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cpu | FileCheck %s --check-prefix=CPU

// CHECK-LABEL: func.func @prefill
// CHECK-NOT: tensor.concat
// CHECK: %[[H:.*]] = linalg.generic
// CHECK: %[[P:.*]] = tensor.extract_slice %[[H]][0, 0, 1] [%{{.*}}, %{{.*}}, 3] [1, 1, 1]
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<?x?x10xf32>)
// CHECK: %[[COL:.*]] = linalg.index 2 : index
// CHECK: %[[IN0:.*]] = arith.cmpi ult, %[[COL]], %c4
// CHECK: scf.if %[[IN0]] -> (f32)
// CHECK: tensor.extract %[[H]][
// CHECK: } else {
// CHECK: %[[IN1:.*]] = arith.cmpi ult, %[[COL]], %c7
// CHECK: scf.if %[[IN1]] -> (f32)
// CHECK: arith.subi %[[COL]], %c4
// CHECK: tensor.extract %[[P]][
// CHECK: } else {
// CHECK: arith.subi %[[COL]], %c7
// CHECK: tensor.extract %[[P]][
// An input of dynamic width: tensor.concat, as on the CPU.
// CHECK-LABEL: func.func @dynamic_width
// CHECK: tensor.concat dim(1)
// CPU-LABEL: func.func @prefill
// CPU: tensor.concat dim(2) %{{.*}}, %{{.*}}, %{{.*}} : (tensor<?x?x4xf32>, tensor<?x?x3xf32>, tensor<?x?x3xf32>) -> tensor<?x?x10xf32>

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
  func.func @dynamic_width(%a: tensor<?x?xf32>, %b: tensor<?x4xf32>) -> tensor<?x?xf32> {
    %y = zamba2.concat %a, %b : tensor<?x?xf32>, tensor<?x4xf32> -> tensor<?x?xf32>
    return %y : tensor<?x?xf32>
  }
}
