// zamba2-cuda-pipeline on a small module: one gpu.binary holding every kernel
// for sm_90 (with the NVVM target), host code in the LLVM dialect that
// allocates managed memory and launches the kernels, and the package's C
// entry points.
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-cuda-pipeline | FileCheck %s
// RUN: zamba2-opt %s --zamba2-cuda-pipeline="format=isa chip=sm_80" | FileCheck %s --check-prefix=PTX

// CHECK: module attributes {gpu.container_module
// CHECK-NOT: gpu.module
// CHECK-NOT: builtin.unrealized_conversion_cast
// CHECK-LABEL: llvm.func @prefill(
// The temporaries are managed memory (isHostShared = 1, no stream).
// CHECK: %[[SHARED:.*]] = llvm.mlir.constant(1 : i8) : i8
// CHECK: llvm.call @mgpuMemAlloc(%{{.*}}, %{{.*}}, %[[SHARED]]) : (i64, !llvm.ptr, i8) -> !llvm.ptr
// CHECK: gpu.launch_func @zamba2_kernels::@prefill_kernel blocks in
// CHECK: gpu.launch_func @zamba2_kernels::@prefill_kernel_0 blocks in
// CHECK: gpu.launch_func @zamba2_kernels::@prefill_kernel_1 blocks in
// CHECK: llvm.call @mgpuMemFree
// CHECK: llvm.call @mgpuStreamSynchronize
// CHECK: llvm.return
// CHECK: llvm.func @_mlir_ciface_prefill(
// CHECK: gpu.binary @zamba2_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// CHECK-NOT: gpu.binary
// CHECK: llvm.func @mgpuMemAlloc(i64, !llvm.ptr, i8) -> !llvm.ptr
// CHECK: llvm.func @mgpuMemFree(!llvm.ptr, !llvm.ptr)
// CHECK: llvm.func @zamba2_prefill(%{{.*}}: !llvm.ptr)
// CHECK: llvm.func @zamba2_abi_version() -> i32

// format=isa keeps the PTX text: one entry per kernel, 1x1x1 threads for now.
// PTX: gpu.binary @zamba2_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">
// PTX-SAME: assembly = "
// PTX-SAME: .target sm_80
// PTX-SAME: .visible .entry prefill_kernel(
// PTX-SAME: .maxntid 1, 1, 1
// PTX-SAME: .visible .entry prefill_kernel_0(
// PTX-SAME: .visible .entry prefill_kernel_1(

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
