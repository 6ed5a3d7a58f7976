// zamba2-merge-gpu-modules: one gpu.module for all kernels (one ptxas run),
// each kernel named after the module it came from; symbols the outlining
// cloned into several modules are kept once.
// RUN: zamba2-opt %s --zamba2-merge-gpu-modules | FileCheck %s

// CHECK: gpu.module @zamba2_kernels {
// CHECK-DAG: memref.global "private" constant @table
// CHECK-DAG: gpu.func @f_kernel(%{{.*}}: memref<?xf32>) kernel
// CHECK-DAG: gpu.func @f_kernel_0(%{{.*}}: memref<?xf32>) kernel
// CHECK: }
// CHECK-NOT: gpu.module
// CHECK-LABEL: func.func @f
// CHECK: gpu.launch_func @zamba2_kernels::@f_kernel blocks
// CHECK: gpu.launch_func @zamba2_kernels::@f_kernel_0 blocks
module attributes {gpu.container_module} {
  memref.global "private" constant @table : memref<1xf32> = dense<1.0>
  gpu.module @f_kernel {
    memref.global "private" constant @table : memref<1xf32> = dense<1.0>
    gpu.func @f_kernel(%a: memref<?xf32>) kernel {
      %c0 = arith.constant 0 : index
      %t = memref.get_global @table : memref<1xf32>
      %v = memref.load %t[%c0] : memref<1xf32>
      memref.store %v, %a[%c0] : memref<?xf32>
      gpu.return
    }
  }
  gpu.module @f_kernel_0 {
    memref.global "private" constant @table : memref<1xf32> = dense<1.0>
    gpu.func @f_kernel(%a: memref<?xf32>) kernel {
      %c0 = arith.constant 0 : index
      %t = memref.get_global @table : memref<1xf32>
      %v = memref.load %t[%c0] : memref<1xf32>
      memref.store %v, %a[%c0] : memref<?xf32>
      gpu.return
    }
  }
  func.func @f(%a: memref<?xf32>) {
    %c1 = arith.constant 1 : index
    gpu.launch_func @f_kernel::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<?xf32>)
    gpu.launch_func @f_kernel_0::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<?xf32>)
    return
  }
}
