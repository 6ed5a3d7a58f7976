// A linear kernel loads the first iteration of each lane's loop over its
// weights at its start, marked zamba2.before_wait (zamba2-gpu-dependent-launch
// puts the wait after them): under a dependent launch their DRAM latency
// passes while the kernel before ends; the loop then starts at its second
// iteration. Only where every lane has a whole iteration (the unroll divides
// the chunks of a row over the warp), and for integer weights only in the
// one-row contiguous form (16-byte steps). An rms_norm kernel loads its
// weights before the wait when each thread has the same few of them.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -split-input-file | FileCheck %s

// int4, K = 2048: 64 steps of 16 bytes, 2 per lane and iteration; 2 channels
// per warp: a scale and 16 bytes per (step, channel), before x is staged.
// CHECK-LABEL: func.func @quant
// CHECK-SAME: %[[Q:[a-z0-9]+]]: memref<64x1024xi8>, %[[S:[a-z0-9]+]]: memref<64x32xf16>
// CHECK: module(@linear_r1)
// CHECK: memref.load %[[S]]{{.*}} {zamba2.before_wait}
// CHECK: vector.load %[[Q]]{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<64x1024xi8>, vector<16xi8>
// CHECK: memref.load %[[S]]{{.*}} {zamba2.before_wait}
// CHECK: vector.load %[[Q]]{{.*}} {alignment = 16 : i64, zamba2.before_wait}
// CHECK: memref.load %[[S]]{{.*}} {zamba2.before_wait}
// CHECK: vector.load %[[Q]]{{.*}} {alignment = 16 : i64, zamba2.before_wait}
// CHECK: memref.load %[[S]]{{.*}} {zamba2.before_wait}
// CHECK: vector.load %[[Q]]{{.*}} {alignment = 16 : i64, zamba2.before_wait}
// CHECK-NOT: zamba2.before_wait
// CHECK: memref.get_global @zamba2_workgroup_4f32x512
// CHECK: gpu.barrier
// The loop from the second iteration: lane + 64, step 64, to 64 steps.
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK-NEXT: %[[START:.*]] = arith.addi %{{.*}}, %[[C64]]
// CHECK: scf.for %{{.*}} = %[[START]] to %{{.*}} step %{{.*}} iter_args
// CHECK: vector.load %[[Q]]{{.*}} {alignment = 16 : i64} :
// Several rows (the interleaved form of words): none.
// CHECK: module(@linear_r8)
// CHECK-NOT: zamba2.before_wait
// CHECK: return
func.func @quant(%x: tensor<?x1x2048xf32>, %q: tensor<64x1024xi8>, %s: tensor<64x32xf16>) -> tensor<?x1x64xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<64x1024xi8>, tensor<64x32xf16>) -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}

// -----

// K = 512: 16 steps, fewer than the warp's lanes: nothing preloaded.
// CHECK-LABEL: func.func @quant_narrow
// CHECK-NOT: zamba2.before_wait
// CHECK: return
func.func @quant_narrow(%x: tensor<?x1x512xf32>, %q: tensor<64x256xi8>, %s: tensor<64x8xf16>) -> tensor<?x1x64xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x512xf32>, tensor<64x256xi8>, tensor<64x8xf16>) -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}

// -----

// bf16, K = 512: 64 chunks of 8, 2 per lane and iteration. One row, one
// channel per warp: 2 loads; 8 rows, 4 channels: 8.
// CHECK-LABEL: func.func @bf16
// CHECK-SAME: %[[W:[a-z0-9]+]]: memref<64x512xbf16>
// CHECK: module(@linear_r1)
// CHECK-COUNT-2: vector.load %[[W]]{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<64x512xbf16>, vector<8xbf16>
// CHECK-NOT: zamba2.before_wait
// CHECK: scf.for
// CHECK: module(@linear_r8)
// CHECK-COUNT-8: vector.load %[[W]]{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<64x512xbf16>, vector<8xbf16>
// CHECK-NOT: zamba2.before_wait
// CHECK: return
func.func @bf16(%x: tensor<?x1x512xf32>, %w: tensor<64x512xbf16>) -> tensor<?x1x64xf32> {
  %y = zamba2.linear %x, %w : (tensor<?x1x512xf32>, tensor<64x512xbf16>) -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}

// -----

// rms_norm of 2048 channels (1024 threads, 2 channels each): the thread's 2
// weights before the wait, used after the block's sum without a loop.
// CHECK-LABEL: func.func @norm
// CHECK-SAME: %[[NW:[a-z0-9]+]]: memref<2048xf32>
// CHECK: module(@rms_norm)
// CHECK-COUNT-2: memref.load %[[NW]][%{{.*}}] {zamba2.before_wait}
// CHECK-NOT: zamba2.before_wait
// CHECK: gpu.barrier
// CHECK-NOT: memref.load %[[NW]]
// CHECK: gpu.terminator
func.func @norm(%x: tensor<?x1x2048xf32>, %w: tensor<2048xf32>) -> tensor<?x1x2048xf32> {
  %y = zamba2.rms_norm %x, %w {eps = 1.0e-5 : f64} : tensor<?x1x2048xf32>, tensor<2048xf32>
  return %y : tensor<?x1x2048xf32>
}

// -----

// 64 channels (fewer than the threads): the weights load in the loop.
// CHECK-LABEL: func.func @norm_narrow
// CHECK-NOT: zamba2.before_wait
// CHECK: return
func.func @norm_narrow(%x: tensor<?x1x64xf32>, %w: tensor<64xf32>) -> tensor<?x1x64xf32> {
  %y = zamba2.rms_norm %x, %w {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  return %y : tensor<?x1x64xf32>
}
