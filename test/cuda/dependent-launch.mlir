// zamba2-gpu-dependent-launch: every kernel begins with griddepcontrol wait
// (before its first memory access) then launch_dependents; device functions
// that are not kernels and host code are left alone; a second run adds
// nothing. The wait is inline assembly that clobbers memory (as CUDA's
// cudaGridDependencySynchronize): LLVM moves no load across it, which it
// does across the NVVM intrinsic (marked as touching no memory).
// RUN: zamba2-opt %s --zamba2-gpu-dependent-launch | FileCheck %s
// RUN: zamba2-opt %s --zamba2-gpu-dependent-launch --zamba2-gpu-dependent-launch | FileCheck %s

// CHECK-LABEL: gpu.func @copy(
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant 0 : index
// CHECK-NEXT: memref.load
// CHECK-NOT: griddepcontrol
// CHECK-LABEL: gpu.func @helper(
// CHECK-NOT: griddepcontrol
// CHECK-LABEL: gpu.func @twice(
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: gpu.return
// A kernel's leading ops marked zamba2.before_wait (a weight prefetch) run
// before the wait.
// CHECK-LABEL: gpu.func @prefetching(
// CHECK-NEXT: arith.constant
// CHECK-NEXT: scf.if
// CHECK-NEXT: memref.extract_aligned_pointer_as_index
// CHECK: } {zamba2.before_wait}
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: memref.load
// CHECK-LABEL: func.func @host(
// CHECK-NOT: griddepcontrol
module attributes {gpu.container_module} {
  gpu.module @zamba2_kernels {
    gpu.func @copy(%a: memref<?xf32>, %b: memref<?xf32>) kernel {
      %c0 = arith.constant 0 : index
      %v = memref.load %a[%c0] : memref<?xf32>
      memref.store %v, %b[%c0] : memref<?xf32>
      gpu.return
    }
    gpu.func @helper(%a: memref<?xf32>) {
      gpu.return
    }
    gpu.func @twice() kernel {
      gpu.return
    }
    gpu.func @prefetching(%a: memref<4x4xf32>, %go: i1) kernel {
      %c0 = arith.constant 0 : index
      scf.if %go {
        %p = memref.extract_aligned_pointer_as_index %a : memref<4x4xf32> -> index
      } {zamba2.before_wait}
      %v = memref.load %a[%c0, %c0] : memref<4x4xf32>
      gpu.return
    }
  }
  func.func @host(%a: memref<?xf32>, %b: memref<?xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @zamba2_kernels::@copy blocks in (%c1, %c1, %c1)
        threads in (%c1, %c1, %c1) args(%a : memref<?xf32>, %b : memref<?xf32>)
    return
  }
}
