// The package ABI (docs/PACKAGE.md): weight buffer layout, destination-passing
// entry points, and the C wrappers.
// RUN: zamba2-opt %s --zamba2-prepare-entry-points=alignment=64 | FileCheck %s --check-prefix=PREP
// RUN: zamba2-opt %s --zamba2-cpu-pipeline | FileCheck %s --check-prefix=LLVM
// RUN: not zamba2-opt %s --zamba2-prepare-entry-points=alignment=48 2>&1 | FileCheck %s --check-prefix=ALIGN

// 6x4 f32 = 96 bytes at 0; the next weight starts at the next multiple of 64.
// PREP: zamba2.state_table = [{name = "layers.0.conv", type = tensor<?x3xf32>}]
// PREP-SAME: zamba2.weight_table = [{bytes = 96 : i64, name = "emb", offset = 0 : i64, type = tensor<6x4xf32>}, {bytes = 64 : i64, name = "w", offset = 128 : i64, type = tensor<8x4xbf16>}]
// PREP-SAME: zamba2.weights_bytes = 192 : i64
// PREP-NOT: zamba2.weight @
// PREP: func.func @prefill(%[[W:.*]]: memref<?xi8>, %{{.*}}: tensor<?x?xi64>, %{{.*}}: tensor<?xi64>, %[[S:.*]]: tensor<?x3xf32>, %[[OUT:.*]]: tensor<?x?x8xf32>) -> (tensor<?x3xf32>, tensor<?x?x8xf32>) attributes {llvm.emit_c_interface, zamba2.result_args = array<i64: 3, 4>}
// PREP: %[[C128:.*]] = arith.constant 128 : index
// PREP: memref.view %[[W]][%[[C128]]][] : memref<?xi8> to memref<8x4xbf16>
// PREP: bufferization.to_tensor %{{.*}} restrict : memref<8x4xbf16> to tensor<8x4xbf16>
// PREP-NOT: zamba2.param
// The state is returned as it is (tied to argument 3), the logits are
// materialised into their output argument.
// PREP: %[[L:.*]] = bufferization.materialize_in_destination %{{.*}} in %[[OUT]]
// PREP: return %[[S]], %[[L]]

// After the pipeline: the entry point returns nothing, and the C wrapper reads
// five descriptor pointers (weights, tokens, positions, one state, logits).
// LLVM: module attributes {zamba2.state_table
// LLVM-NOT: zamba2.param
// LLVM: llvm.func @prefill({{.*}}) attributes
// LLVM: llvm.func @_mlir_ciface_prefill(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr)
// LLVM: llvm.func @zamba2_prefill(%[[ARGV:.*]]: !llvm.ptr)
// LLVM-COUNT-5: llvm.load
// LLVM: llvm.call @_mlir_ciface_prefill
// LLVM: llvm.func @zamba2_abi_version() -> i32
// LLVM: llvm.mlir.constant(1 : i32)

// ALIGN: alignment must be a power of two, got 48

module {
  zamba2.weight @"emb" : tensor<6x4xf32>
  zamba2.weight @"w" : tensor<8x4xbf16>
  func.func @prefill(%tok: tensor<?x?xi64> {zamba2.state = "tokens"},
                     %pos: tensor<?xi64> {zamba2.state = "positions"},
                     %s: tensor<?x3xf32> {zamba2.state = "layers.0.conv"})
      -> (tensor<?x?x8xf32> {zamba2.state = "logits"},
          tensor<?x3xf32> {zamba2.state = "layers.0.conv"}) {
    %e = zamba2.param @"emb" : tensor<6x4xf32>
    %w = zamba2.param @"w" : tensor<8x4xbf16>
    %h = zamba2.embed %e[%tok] : tensor<6x4xf32>, tensor<?x?xi64> -> tensor<?x?x4xf32>
    %l = zamba2.linear %h, %w : (tensor<?x?x4xf32>, tensor<8x4xbf16>) -> tensor<?x?x8xf32>
    return %l, %s : tensor<?x?x8xf32>, tensor<?x3xf32>
  }
}
