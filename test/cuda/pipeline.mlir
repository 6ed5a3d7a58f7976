// zamba2-cuda-pipeline on a small module: one gpu.binary holding every kernel
// for sm_90 (with the NVVM target), host code in the LLVM dialect that runs
// every GPU operation of the call on one stream (temporaries from
// mgpuMemAlloc on it, device memory), waits once at the end, and the
// package's C entry points. The linear is its own warp-per-output kernel
// (one token row, or 8); the embedding a generic loop kernel.
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-cuda-pipeline | FileCheck %s
// RUN: zamba2-opt %s --zamba2-cuda-pipeline="format=isa chip=sm_80" | FileCheck %s --check-prefix=PTX
// RUN: zamba2-opt %s --zamba2-cuda-pipeline="format=isa" | FileCheck %s --check-prefix=PDL
// RUN: zamba2-opt %s --zamba2-cuda-pipeline="format=isa dependent-launch=false" | FileCheck %s --check-prefix=NOPDL

// CHECK: module attributes {gpu.container_module
// CHECK-NOT: gpu.module
// CHECK-NOT: builtin.unrealized_conversion_cast
// CHECK-LABEL: llvm.func @prefill(
// CHECK: %[[STREAM:.*]] = llvm.call @mgpuStreamCreate()
// CHECK-NOT: mgpuStreamCreate
// Device memory (isHostShared = 0) on the stream.
// CHECK: %[[DEVICE:.*]] = llvm.mlir.constant(0 : i8) : i8
// CHECK: llvm.call @mgpuMemAlloc(%{{.*}}, %[[STREAM]], %[[DEVICE]]) : (i64, !llvm.ptr, i8) -> !llvm.ptr
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @zamba2_kernels::@loop blocks in
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @zamba2_kernels::@linear_r1 blocks in
// CHECK: gpu.launch_func <%[[STREAM]] : !llvm.ptr> @zamba2_kernels::@linear_r8 blocks in
// CHECK: llvm.call @mgpuMemFree(%{{.*}}, %[[STREAM]])
// CHECK-NOT: mgpuStreamSynchronize
// CHECK: llvm.call @mgpuStreamSynchronize(%[[STREAM]])
// CHECK-NEXT: llvm.call @mgpuStreamDestroy(%[[STREAM]])
// CHECK-NEXT: llvm.return
// CHECK: llvm.func @_mlir_ciface_prefill(
// CHECK: gpu.binary @zamba2_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_90", features = "+ptx80">
// CHECK-NOT: gpu.binary
// CHECK: llvm.func @mgpuMemAlloc(i64, !llvm.ptr, i8) -> !llvm.ptr
// CHECK: llvm.func @mgpuMemFree(!llvm.ptr, !llvm.ptr)
// CHECK: llvm.func @zamba2_prefill(%{{.*}}: !llvm.ptr)
// CHECK: llvm.func @zamba2_abi_version() -> i32

// format=isa keeps the PTX text: the linear kernels run 4 warps per block
// and sum each output over its warp's lanes with butterfly shuffles.
// PTX: gpu.binary @zamba2_kernels [#gpu.object<#nvvm.target<O = 3, chip = "sm_80", features = "+ptx80">
// PTX-SAME: assembly = "
// PTX-SAME: .target sm_80
// PTX-SAME: .visible .entry loop(
// PTX-SAME: .maxntid 256, 1, 1
// PTX-SAME: .visible .entry linear_r1(
// PTX-SAME: .maxntid 128, 1, 1
// PTX-SAME: shfl.sync.bfly.b32
// PTX-SAME: .visible .entry linear_r8(
// PTX-NOT: griddepcontrol

// On sm_90 every kernel first waits for the grids before it, then lets the
// next one launch (zamba2-gpu-dependent-launch); an elementwise kernel
// (short) and the one-row GEMV (one-row-early-trigger) let it launch
// first; not when asked not to.
// PDL: .visible .entry loop(
// PDL-NOT: .entry
// PDL-SAME: griddepcontrol.launch_dependents;
// PDL-NOT: .entry
// PDL-SAME: griddepcontrol.wait;
// PDL-SAME: .visible .entry linear_r1(
// PDL-NOT: .entry
// PDL-SAME: griddepcontrol.launch_dependents;
// PDL-NOT: .entry
// PDL-SAME: griddepcontrol.wait;
// PDL-SAME: .visible .entry linear_r8(
// PDL-NOT: .entry
// PDL-SAME: griddepcontrol.wait;
// PDL-NOT: .entry
// PDL-SAME: griddepcontrol.launch_dependents;
// NOPDL: .visible .entry loop(
// NOPDL-NOT: griddepcontrol

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
