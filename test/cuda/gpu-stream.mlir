// zamba2-gpu-stream: every GPU op of a function (nested ones too) becomes
// asynchronous on the one stream made at entry, with one wait before the
// return; a host loop that launches kernels gets an alloca scope per
// iteration.
// RUN: zamba2-opt %s --zamba2-gpu-stream | FileCheck %s

module attributes {gpu.container_module} {
  gpu.module @k {
    gpu.func @fill(%m: memref<?xf32>) kernel {
      gpu.return
    }
  }
  // CHECK-LABEL: func.func @f
  func.func @f(%n: index, %out: memref<?xf32>) {
    // CHECK: %[[S:.*]] = gpu.wait async
    %c1 = arith.constant 1 : index
    %c0 = arith.constant 0 : index
    // CHECK: %[[A:.*]], %{{.*}} = gpu.alloc async [%[[S]]] (%{{.*}}) : memref<?xf32>
    %a = gpu.alloc (%n) : memref<?xf32>
    // CHECK: scf.for
    // CHECK-NEXT: memref.alloca_scope {
    // CHECK-NEXT: gpu.launch_func async [%[[S]]] @k::@fill
    scf.for %i = %c0 to %n step %c1 {
      gpu.launch_func @k::@fill blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<?xf32>)
    }
    // CHECK: gpu.memcpy async [%[[S]]] %{{.*}}, %[[A]]
    gpu.memcpy %out, %a : memref<?xf32>, memref<?xf32>
    // CHECK: gpu.dealloc async [%[[S]]] %[[A]]
    gpu.dealloc %a : memref<?xf32>
    // CHECK-NEXT: gpu.wait [%[[S]]]
    // CHECK-NEXT: return
    return
  }
}
