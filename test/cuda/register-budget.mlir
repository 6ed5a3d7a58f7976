// zamba2-gpu-register-budget: a kernel's zamba2.grid_blocks marks (one per
// case of a merged kernel) add up to its grid; the kernel gets the most
// registers (a multiple of 8, at least 64) that run that grid in the
// fewest waves on sm-count SMs (64K registers, 2048 threads, 32 blocks
// each), as nvvm.maxnreg when 80 or fewer. Hand-derived for 128 threads a
// block: 64 registers fit 8 blocks per SM, 72 fit 7, 80 fit 6, 88 to 96
// fit 5, 104 to 128 fit 4.
// RUN: zamba2-opt %s --zamba2-gpu-register-budget | FileCheck %s
// RUN: zamba2-opt %s --zamba2-gpu-register-budget=sm-count=114 | FileCheck %s --check-prefix=SM114
// RUN: not zamba2-opt %s --zamba2-gpu-register-budget=sm-count=0 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not zamba2-opt %s --zamba2-gpu-register-budget=sm-count=65537 2>&1 | FileCheck %s --check-prefix=BIG

// BAD: zamba2-gpu-register-budget: sm-count must be in [1, 65536], got 0
// BIG: zamba2-gpu-register-budget: sm-count must be in [1, 65536], got 65537

gpu.module @kernels {
  // 132 SMs: 1536 blocks take 2 waves at 64 (1056 a wave), 72 (924) and 80
  // (792) registers, 3 at 88 (660): 80. On 114 SMs: 2 waves at 64 (912) and
  // 72 (798), 3 at 80 (684): 72. The marks of both cases count, and go.
  // CHECK-LABEL: gpu.func @merged
  // CHECK-SAME: nvvm.maxnreg = 80 : i32
  // CHECK-NOT: zamba2.grid_blocks
  // CHECK: gpu.return
  // SM114-LABEL: gpu.func @merged
  // SM114-SAME: nvvm.maxnreg = 72 : i32
  gpu.func @merged(%m: memref<4xf32>, %c: i1) kernel
      attributes {known_block_size = array<i32: 128, 1, 1>} {
    scf.if %c {
      %i = arith.constant 0 : index
      %v = memref.load %m[%i] {zamba2.grid_blocks = 1024 : i64} : memref<4xf32>
      memref.store %v, %m[%i] : memref<4xf32>
    } else {
      %i = arith.constant 1 : index
      %v = memref.load %m[%i] {zamba2.grid_blocks = 512 : i64} : memref<4xf32>
      memref.store %v, %m[%i] : memref<4xf32>
    } {zamba2.launch_cases}
    gpu.return
  }
  // 3072 blocks: 3 waves at 64 registers, 4 at 72: 64 (on 114 SMs 4 waves
  // at 64 and 72, 5 at 80: 72).
  // CHECK-LABEL: gpu.func @wide
  // CHECK-SAME: nvvm.maxnreg = 64 : i32
  // SM114-LABEL: gpu.func @wide
  // SM114-SAME: nvvm.maxnreg = 72 : i32
  gpu.func @wide(%m: memref<4xf32>) kernel
      attributes {known_block_size = array<i32: 128, 1, 1>} {
    %i = arith.constant 0 : index
    %v = memref.load %m[%i] {zamba2.grid_blocks = 3072 : i64} : memref<4xf32>
    memref.store %v, %m[%i] : memref<4xf32>
    gpu.return
  }
  // 1064 blocks: 2 waves from 64 up to 96 registers (5 blocks an SM, 660 a
  // wave), 3 at 104: a budget of 96, above 80, so none (ptxas would take
  // the room). 256 blocks: one wave even at 255 registers: none. Without a
  // known block size: none. The marks go in every case.
  // CHECK-LABEL: gpu.func @over_budget
  // CHECK-NOT: nvvm.maxnreg
  // CHECK-NOT: zamba2.grid_blocks
  // CHECK-LABEL: gpu.func @one_wave
  // CHECK-NOT: nvvm.maxnreg
  // CHECK-NOT: zamba2.grid_blocks
  // CHECK-LABEL: gpu.func @unknown_size
  // CHECK-NOT: nvvm.maxnreg
  // CHECK-NOT: zamba2.grid_blocks
  // CHECK: gpu.return
  gpu.func @over_budget(%m: memref<4xf32>) kernel
      attributes {known_block_size = array<i32: 128, 1, 1>} {
    %i = arith.constant 0 : index
    %v = memref.load %m[%i] {zamba2.grid_blocks = 1064 : i64} : memref<4xf32>
    memref.store %v, %m[%i] : memref<4xf32>
    gpu.return
  }
  gpu.func @one_wave(%m: memref<4xf32>) kernel
      attributes {known_block_size = array<i32: 128, 1, 1>} {
    %i = arith.constant 0 : index
    %v = memref.load %m[%i] {zamba2.grid_blocks = 256 : i64} : memref<4xf32>
    memref.store %v, %m[%i] : memref<4xf32>
    gpu.return
  }
  gpu.func @unknown_size(%m: memref<4xf32>) kernel {
    %i = arith.constant 0 : index
    %v = memref.load %m[%i] {zamba2.grid_blocks = 4096 : i64} : memref<4xf32>
    memref.store %v, %m[%i] : memref<4xf32>
    gpu.return
  }
  // A merged kernel one of whose cases is not marked: its grid is not
  // known, no cap (the marks go).
  // CHECK-LABEL: gpu.func @partly_marked
  // CHECK-NOT: nvvm.maxnreg
  // CHECK-NOT: zamba2.grid_blocks
  // CHECK: gpu.return
  gpu.func @partly_marked(%m: memref<4xf32>, %c: i1) kernel
      attributes {known_block_size = array<i32: 128, 1, 1>} {
    scf.if %c {
      %i = arith.constant 0 : index
      %v = memref.load %m[%i] {zamba2.grid_blocks = 3072 : i64} : memref<4xf32>
      memref.store %v, %m[%i] : memref<4xf32>
    } else {
      %i = arith.constant 1 : index
      %v = memref.load %m[%i] : memref<4xf32>
      memref.store %v, %m[%i] : memref<4xf32>
    } {zamba2.launch_cases}
    gpu.return
  }
  // 256 threads: 64 registers fit 4 blocks an SM, 72 and 80 fit 3; 1056
  // blocks take 2 waves at 64, 3 at 72: 64. 1024 threads: 64 registers fit
  // one block, 72 none; 200 blocks take 2 waves at 64: 64.
  // CHECK-LABEL: gpu.func @threads256
  // CHECK-SAME: nvvm.maxnreg = 64 : i32
  // CHECK-LABEL: gpu.func @threads1024
  // CHECK-SAME: nvvm.maxnreg = 64 : i32
  gpu.func @threads256(%m: memref<4xf32>) kernel
      attributes {known_block_size = array<i32: 256, 1, 1>} {
    %i = arith.constant 0 : index
    %v = memref.load %m[%i] {zamba2.grid_blocks = 1056 : i64} : memref<4xf32>
    memref.store %v, %m[%i] : memref<4xf32>
    gpu.return
  }
  gpu.func @threads1024(%m: memref<4xf32>) kernel
      attributes {known_block_size = array<i32: 1024, 1, 1>} {
    %i = arith.constant 0 : index
    %v = memref.load %m[%i] {zamba2.grid_blocks = 200 : i64} : memref<4xf32>
    memref.store %v, %m[%i] : memref<4xf32>
    gpu.return
  }
}
