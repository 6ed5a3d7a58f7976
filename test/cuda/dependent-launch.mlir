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
// A kernel zamba2-gpu-merge-launches made of two: each block runs one case
// of the scf.if marked zamba2.launch_cases, so the wait goes into each, after
// that case's own leading zamba2.before_wait ops; the block index test before
// it touches no memory.
// CHECK-LABEL: gpu.func @merged(
// CHECK-NEXT: arith.constant
// CHECK-NEXT: gpu.block_id
// CHECK-NEXT: arith.cmpi
// CHECK-NEXT: scf.if
// CHECK-NEXT: memref.load %arg0{{.*}} {zamba2.before_wait}
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: memref.load %arg1
// CHECK: } else {
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant
// CHECK-NEXT: memref.store
// CHECK-NEXT: } {zamba2.launch_cases}
// A short kernel with an op marked zamba2.early_trigger in its entry block
// (an elementwise kernel, a norm, the scan: markBodyEarlyTrigger) signals
// its dependent launch first, before its zamba2.before_wait ops and its
// wait, as with early-trigger; in a merged kernel only the case so marked.
// CHECK-LABEL: gpu.func @short(
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant
// CHECK-NEXT: memref.load %arg0{{.*}} {zamba2.before_wait
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: memref.load %arg1
// CHECK-NOT: griddepcontrol
// CHECK-LABEL: gpu.func @merged_short(
// CHECK: scf.if
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: memref.load %arg0{{.*}} {zamba2.early_trigger}
// CHECK: } else {
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant
// CHECK: } {zamba2.launch_cases}
// A one-row GEMV (an op of its entry block or case marked zamba2.one_row)
// signals first too (one-row-early-trigger, on by default); the mark goes.
// CHECK-LABEL: gpu.func @one_row(
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant
// CHECK-NEXT: memref.load %arg0[%{{.*}}] {zamba2.before_wait} :
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: memref.load %arg1
// CHECK-LABEL: gpu.func @merged_one_row(
// CHECK: scf.if
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: arith.constant
// CHECK: } else {
// CHECK-NEXT: nvvm.griddepcontrol launch_dependents
// CHECK-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// CHECK-NEXT: memref.load %arg0[%{{.*}}] :
// CHECK: } {zamba2.launch_cases}
// CHECK-NOT: griddepcontrol
// CHECK-NOT: zamba2.one_row
// CHECK-LABEL: func.func @host(
// CHECK-NOT: griddepcontrol

// one-row-early-trigger=false: a one-row GEMV signals after its wait (the
// mark goes all the same).
// RUN: zamba2-opt %s --zamba2-gpu-dependent-launch=one-row-early-trigger=false | FileCheck %s --check-prefix=NOROW
// NOROW-LABEL: gpu.func @one_row(
// NOROW-NEXT: arith.constant
// NOROW-NEXT: memref.load %arg0[%{{.*}}] {zamba2.before_wait} :
// NOROW-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// NOROW-NEXT: nvvm.griddepcontrol launch_dependents
// NOROW-NEXT: memref.load %arg1
// NOROW-LABEL: gpu.func @merged_one_row(
// NOROW: } else {
// NOROW-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// NOROW-NEXT: nvvm.griddepcontrol launch_dependents
// NOROW-NOT: zamba2.one_row

// early-trigger: launch_dependents first, before the zamba2.before_wait ops
// and the wait, in each case of a merged kernel too.
// RUN: zamba2-opt %s --zamba2-gpu-dependent-launch=early-trigger | FileCheck %s --check-prefix=EARLY
// EARLY-LABEL: gpu.func @copy(
// EARLY-NEXT: nvvm.griddepcontrol launch_dependents
// EARLY-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// EARLY-NEXT: arith.constant 0 : index
// EARLY-LABEL: gpu.func @helper(
// EARLY-NOT: griddepcontrol
// EARLY-LABEL: gpu.func @twice(
// EARLY-NEXT: nvvm.griddepcontrol launch_dependents
// EARLY-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// EARLY-NEXT: gpu.return
// EARLY-LABEL: gpu.func @prefetching(
// EARLY-NEXT: nvvm.griddepcontrol launch_dependents
// EARLY-NEXT: arith.constant
// EARLY-NEXT: scf.if
// EARLY: } {zamba2.before_wait}
// EARLY-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// EARLY-NEXT: memref.load
// EARLY-LABEL: gpu.func @merged(
// EARLY: scf.if
// EARLY-NEXT: nvvm.griddepcontrol launch_dependents
// EARLY-NEXT: memref.load %arg0{{.*}} {zamba2.before_wait}
// EARLY-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// EARLY-NEXT: memref.load %arg1
// EARLY: } else {
// EARLY-NEXT: nvvm.griddepcontrol launch_dependents
// EARLY-NEXT: llvm.inline_asm has_side_effects "griddepcontrol.wait;", "~{memory}"
// EARLY-NEXT: arith.constant
// EARLY: } {zamba2.launch_cases}
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
    gpu.func @merged(%w: memref<4xf32>, %x: memref<4xf32>, %y: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %block = gpu.block_id x
      %first = arith.cmpi ult, %block, %c0 : index
      scf.if %first {
        %wv = memref.load %w[%c0] {zamba2.before_wait} : memref<4xf32>
        %xv = memref.load %x[%c0] : memref<4xf32>
      } else {
        %f = arith.constant 1.0 : f32
        memref.store %f, %y[%c0] : memref<4xf32>
      } {zamba2.launch_cases}
      gpu.return
    }
    gpu.func @short(%w: memref<4xf32>, %x: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %wv = memref.load %w[%c0] {zamba2.before_wait, zamba2.early_trigger} : memref<4xf32>
      %xv = memref.load %x[%c0] : memref<4xf32>
      gpu.return
    }
    gpu.func @merged_short(%x: memref<4xf32>, %y: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %block = gpu.block_id x
      %first = arith.cmpi ult, %block, %c0 : index
      scf.if %first {
        %xv = memref.load %x[%c0] {zamba2.early_trigger} : memref<4xf32>
      } else {
        %f = arith.constant 1.0 : f32
        memref.store %f, %y[%c0] : memref<4xf32>
      } {zamba2.launch_cases}
      gpu.return
    }
    gpu.func @one_row(%w: memref<4xf32>, %x: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %wv = memref.load %w[%c0] {zamba2.before_wait, zamba2.one_row} : memref<4xf32>
      %xv = memref.load %x[%c0] : memref<4xf32>
      gpu.return
    }
    gpu.func @merged_one_row(%x: memref<4xf32>, %y: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %block = gpu.block_id x
      %first = arith.cmpi ult, %block, %c0 : index
      scf.if %first {
        %f = arith.constant 1.0 : f32
        memref.store %f, %y[%c0] : memref<4xf32>
      } else {
        %xv = memref.load %x[%c0] {zamba2.one_row} : memref<4xf32>
      } {zamba2.launch_cases}
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
