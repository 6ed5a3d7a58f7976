// zamba2-allocs-to-gpu: the host's buffers become device memory (gpu.alloc,
// gpu.dealloc, gpu.memcpy); allocations inside parallel loops (future
// kernels) stay.
// RUN: zamba2-opt %s --zamba2-allocs-to-gpu | FileCheck %s

// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[N:.*]]: index, %[[OUT:.*]]: memref<?xf32>)
func.func @f(%n: index, %out: memref<?xf32>) {
  // CHECK: %[[A:.*]] = gpu.alloc  (%[[N]]) : memref<?xf32>
  // CHECK-NOT: host_shared
  %a = memref.alloc(%n) {alignment = 64 : i64} : memref<?xf32>
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // CHECK: scf.parallel
  // CHECK-NOT: gpu.alloc
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    // CHECK: %[[S:.*]] = memref.alloc() : memref<4xf32>
    %s = memref.alloc() : memref<4xf32>
    // CHECK: memref.dealloc %[[S]]
    memref.dealloc %s : memref<4xf32>
    %v = arith.constant 1.0 : f32
    memref.store %v, %a[%i] : memref<?xf32>
    scf.reduce
  }
  // CHECK: scf.reduce
  // CHECK: gpu.memcpy  %[[OUT]], %[[A]] : memref<?xf32>, memref<?xf32>
  memref.copy %a, %out : memref<?xf32> to memref<?xf32>
  // CHECK-NEXT: gpu.dealloc  %[[A]] : memref<?xf32>
  // CHECK-NEXT: return
  memref.dealloc %a : memref<?xf32>
  return
}
