// zamba2-allocs-to-gpu: the host's buffers become managed (host_shared) GPU
// memory; allocations inside parallel loops (future kernels) stay.
// RUN: zamba2-opt %s --zamba2-allocs-to-gpu | FileCheck %s

memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>

// CHECK-LABEL: func.func @f
// CHECK-SAME: (%[[N:.*]]: index, %[[OUT:.*]]: memref<?xf32>)
func.func @f(%n: index, %out: memref<?xf32>) {
  // A global is copied into managed memory, freed at the end of its block.
  // CHECK: %[[G:.*]] = memref.get_global @table : memref<4xf32>
  // CHECK: %[[GC:.*]] = gpu.alloc  host_shared () : memref<4xf32>
  // CHECK: memref.copy %[[G]], %[[GC]] : memref<4xf32> to memref<4xf32>
  %g = memref.get_global @table : memref<4xf32>
  // CHECK: %[[A:.*]] = gpu.alloc  host_shared (%[[N]]) : memref<?xf32>
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
    // CHECK: memref.load %[[GC]]
    %v = memref.load %g[%c0] : memref<4xf32>
    memref.store %v, %a[%i] : memref<?xf32>
    scf.reduce
  }
  memref.copy %a, %out : memref<?xf32> to memref<?xf32>
  // The dealloc waits for its own stream (gpu.dealloc has no synchronous
  // lowering).
  // CHECK: scf.reduce
  // CHECK-NOT: memref.dealloc
  // CHECK: %[[T0:.*]] = gpu.wait async
  // CHECK: %[[T1:.*]] = gpu.dealloc async [%[[T0]]] %[[A]] : memref<?xf32>
  // CHECK: gpu.wait [%[[T1]]]
  memref.dealloc %a : memref<?xf32>
  // CHECK: gpu.dealloc async [%{{.*}}] %[[GC]] : memref<4xf32>
  // CHECK: gpu.wait
  // CHECK-NEXT: return
  return
}
