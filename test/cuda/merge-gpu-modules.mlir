// zamba2-merge-gpu-modules: one gpu.module for all kernels (one ptxas run),
// each kernel named after the module it came from; symbols the outlining
// cloned into several modules are kept once, and so are kernels that
// compile to the same code (@f_kernel_0 is @f_kernel again: its launch
// names @f_kernel). @f_kernel_1 differs only in a constant, @f_kernel_2
// only in an attribute of its signature: both stay.
// RUN: zamba2-opt %s --zamba2-merge-gpu-modules | FileCheck %s

// CHECK: gpu.module @zamba2_kernels {
// CHECK-DAG: memref.global "private" constant @table
// CHECK-DAG: gpu.func @f_kernel(%{{.*}}: memref<?xf32>) kernel {
// CHECK-DAG: gpu.func @f_kernel_1(%{{.*}}: memref<?xf32>) kernel {
// CHECK-DAG: gpu.func @f_kernel_2(%{{.*}}: memref<?xf32>) kernel attributes {known_block_size = array<i32: 1, 1, 1>}
// CHECK-NOT: gpu.func @f_kernel_0
// CHECK: }
// CHECK-NOT: gpu.module
// CHECK-LABEL: func.func @f
// CHECK: gpu.launch_func @zamba2_kernels::@f_kernel blocks
// CHECK: gpu.launch_func @zamba2_kernels::@f_kernel blocks
// CHECK: gpu.launch_func @zamba2_kernels::@f_kernel_1 blocks
// CHECK: gpu.launch_func @zamba2_kernels::@f_kernel_2 blocks
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
  gpu.module @f_kernel_1 {
    memref.global "private" constant @table : memref<1xf32> = dense<1.0>
    gpu.func @f_kernel(%a: memref<?xf32>) kernel {
      %c1 = arith.constant 1 : index
      %c0 = arith.constant 0 : index
      %t = memref.get_global @table : memref<1xf32>
      %v = memref.load %t[%c0] : memref<1xf32>
      memref.store %v, %a[%c1] : memref<?xf32>
      gpu.return
    }
  }
  gpu.module @f_kernel_2 {
    memref.global "private" constant @table : memref<1xf32> = dense<1.0>
    gpu.func @f_kernel(%a: memref<?xf32>) kernel attributes {known_block_size = array<i32: 1, 1, 1>} {
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
    gpu.launch_func @f_kernel_1::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<?xf32>)
    gpu.launch_func @f_kernel_2::@f_kernel blocks in (%c1, %c1, %c1) threads in (%c1, %c1, %c1) args(%a : memref<?xf32>)
    return
  }
}
