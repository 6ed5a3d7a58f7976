// A linear kernel loads the first iteration of each lane's loop over its
// weights at its start, marked zamba2.before_wait (zamba2-gpu-dependent-launch
// puts the wait after them): under a dependent launch their DRAM latency
// passes while the kernel before ends; the loop then starts at its second
// iteration. Only where every lane has a whole iteration (the unroll divides
// the chunks of a row over the warp), and for integer weights only in the
// one-row contiguous form (16-byte steps). An rms_norm kernel loads its
// weights before the wait when each thread has the same few of them; the
// convolution its weights and state row, the scan its parameters and state
// (which only it writes).
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -split-input-file | FileCheck %s

// int4, K = 2048: 64 steps of 16 bytes, 2 per lane and iteration; 2 channels
// per warp (2048 of them: a warp per row, not split; rowSplit): a scale and
// 16 bytes per (step, channel), before x is staged (the first load, the
// kernel's first op that touches memory, carries the one-row mark).
// CHECK-LABEL: func.func @quant
// CHECK-SAME: %[[Q:[a-z0-9]+]]: memref<2048x1024xi8>, %[[S:[a-z0-9]+]]: memref<2048x32xf16>
// CHECK: module(@linear_r1)
// CHECK: memref.load %[[S]]{{.*}} {zamba2.before_wait, zamba2.one_row}
// CHECK: vector.load %[[Q]]{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<2048x1024xi8>, vector<16xi8>
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
func.func @quant(%x: tensor<?x1x2048xf32>, %q: tensor<2048x1024xi8>, %s: tensor<2048x32xf16>) -> tensor<?x1x2048xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<2048x1024xi8>, tensor<2048x32xf16>) -> tensor<?x1x2048xf32>
  return %y : tensor<?x1x2048xf32>
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
// channel per warp: 2 loads (the first, the kernel's first op that touches
// memory, carries its grid of 64 / 4 blocks for
// zamba2-gpu-register-budget and the one-row mark); 8 rows, 4 channels: 8.
// CHECK-LABEL: func.func @bf16
// CHECK-SAME: %[[W:[a-z0-9]+]]: memref<64x512xbf16>
// CHECK: module(@linear_r1)
// CHECK: vector.load %[[W]]{{.*}} {alignment = 16 : i64, zamba2.before_wait, zamba2.grid_blocks = 16 : i64, zamba2.one_row} : memref<64x512xbf16>, vector<8xbf16>
// CHECK: vector.load %[[W]]{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<64x512xbf16>, vector<8xbf16>
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
// (The first, the kernel's first op that touches memory, also carries the
// short kernel's mark.)
// CHECK: memref.load %[[NW]][%{{.*}}] {zamba2.before_wait, zamba2.early_trigger}
// CHECK: memref.load %[[NW]][%{{.*}}] {zamba2.before_wait}
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

// -----

// The convolution loads its 4 weights, bias and 3-entry state row before the
// wait and walks the tokens with the window in registers; the scan (state
// size 32, one column per lane, two rows per warp) loads A_log, D, dt bias
// and its rows' state column, keeps them in registers over the tokens and
// stores them once.
// CHECK-LABEL: func.func @conv_scan
// CHECK-SAME: %[[CW:[a-z0-9]+]]: memref<64x1x4xf32>, %[[CB:[a-z0-9]+]]: memref<64xf32>, %[[CS:[a-z0-9]+]]: memref<?x64x3xf32>
// CHECK-SAME: %[[SSM:[a-z0-9]+]]: memref<?x2x32x32xf32>, %[[AL:[a-z0-9]+]]: memref<2xf32>, %[[D:[a-z0-9]+]]: memref<2xf32>, %[[DTB:[a-z0-9]+]]: memref<2xf32>
// CHECK: module(@causal_conv1d)
// CHECK-COUNT-4: memref.load %[[CW]]{{.*}} {zamba2.before_wait}
// CHECK: memref.load %[[CB]]{{.*}} {zamba2.before_wait}
// CHECK-COUNT-3: memref.load %[[CS]]{{.*}} {zamba2.before_wait}
// CHECK-NOT: zamba2.before_wait
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32, f32)
// CHECK-NOT: memref.load %[[CS]]
// CHECK-COUNT-3: memref.store %{{.*}}, %[[CS]]
// 2 heads of 32 rows, 8 rows a block (4 warps of 2 rows): 8 blocks; the
// warp's first row is 2 (4 b + w) in block b of the head, its second one
// more.
// CHECK: gpu.launch blocks({{.*}}) in (%{{.*}} = %c8, {{.*}} module(@ssd_scan)
// CHECK: %[[W:.*]] = arith.divui %{{.*}}, %c32{{(_[0-9]+)?}} : index
// CHECK: %[[BW:.*]] = arith.addi %{{.*}}, %[[W]] : index
// CHECK: %[[FIRST:.*]] = arith.muli %[[BW]], %c2{{(_[0-9]+)?}} : index
// CHECK: memref.load %[[AL]]{{.*}} {zamba2.before_wait, zamba2.early_trigger}
// CHECK-NEXT: memref.load %[[D]]{{.*}} {zamba2.before_wait}
// CHECK-NEXT: memref.load %[[DTB]]{{.*}} {zamba2.before_wait}
// CHECK: %[[R0:.*]] = arith.addi %[[FIRST]], %c0{{(_[0-9]+)?}} : index
// CHECK: %[[ROW0:.*]] = arith.minui %[[R0]], %c31{{(_[0-9]+)?}} : index
// CHECK: memref.load %[[SSM]][{{.*}}, %[[ROW0]], {{.*}}] {zamba2.before_wait}
// CHECK: %[[R1:.*]] = arith.addi %[[FIRST]], %c1{{(_[0-9]+)?}} : index
// CHECK: %[[ROW1:.*]] = arith.minui %[[R1]], %c31{{(_[0-9]+)?}} : index
// CHECK: memref.load %[[SSM]][{{.*}}, %[[ROW1]], {{.*}}] {zamba2.before_wait}
// CHECK-NOT: zamba2.before_wait
// CHECK: scf.for {{.*}} iter_args({{.*}}) -> (f32, f32)
// CHECK-NOT: memref.load %[[SSM]]
// CHECK-COUNT-2: memref.store %{{.*}}, %[[SSM]]
// CHECK-NOT: memref.store %{{.*}}, %[[SSM]]
// CHECK: return
func.func @conv_scan(%x: tensor<?x1x64xf32>, %cw: tensor<64x1x4xf32>, %cb: tensor<64xf32>, %conv: tensor<?x64x3xf32>, %dt: tensor<?x1x2xf32>, %bc: tensor<?x1x32xf32>, %ssm: tensor<?x2x32x32xf32>, %alog: tensor<2xf32>, %d: tensor<2xf32>, %dtb: tensor<2xf32>) -> (tensor<?x1x64xf32>, tensor<?x64x3xf32>, tensor<?x2x32x32xf32>) {
  %c:2 = zamba2.causal_conv1d %x, %cw bias %cb state %conv {silu} : (tensor<?x1x64xf32>, tensor<64x1x4xf32>, tensor<64xf32>, tensor<?x64x3xf32>) -> (tensor<?x1x64xf32>, tensor<?x64x3xf32>)
  %y:2 = zamba2.ssd_step %c#0, %dt, %bc, %bc, %ssm params(%alog, %d, %dtb) {groups = 1 : i64} : (tensor<?x1x64xf32>, tensor<?x1x2xf32>, tensor<?x1x32xf32>, tensor<?x1x32xf32>, tensor<?x2x32x32xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<?x1x64xf32>, tensor<?x2x32x32xf32>)
  return %y#0, %c#1, %y#1 : tensor<?x1x64xf32>, tensor<?x64x3xf32>, tensor<?x2x32x32xf32>
}

// -----

// State size 48 (not a multiple of the warp): two columns per lane, the
// second in a partial round (lanes 16-31 read column 47, count for nothing,
// store nothing), for each of the warp's two rows; still in registers and
// loaded before the wait.
// CHECK-LABEL: func.func @scan_narrow
// CHECK-SAME: %[[SSM:[a-z0-9]+]]: memref<?x2x32x48xf32>
// CHECK: module(@ssd_scan)
// CHECK: {zamba2.before_wait, zamba2.early_trigger} : memref<2xf32>
// CHECK-COUNT-2: {zamba2.before_wait} : memref<2xf32>
// CHECK: %[[VALID:.*]] = arith.cmpi ult, %{{.*}}, %c48
// CHECK: %[[LAST:.*]] = arith.minui %{{.*}}, %c47
// CHECK: memref.load %[[SSM]]{{.*}} {zamba2.before_wait}
// CHECK-NEXT: memref.load %[[SSM]][{{.*}}, %[[LAST]]] {zamba2.before_wait}
// CHECK: memref.load %[[SSM]]{{.*}} {zamba2.before_wait}
// CHECK-NEXT: memref.load %[[SSM]][{{.*}}, %[[LAST]]] {zamba2.before_wait}
// CHECK-NOT: zamba2.before_wait
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32)
// CHECK-NOT: memref.load %[[SSM]]
// CHECK: arith.select %[[VALID]]
// CHECK: memref.store %{{.*}}, %[[SSM]]
// CHECK-NEXT: scf.if %[[VALID]] {
// CHECK-NEXT: memref.store %{{.*}}, %[[SSM]][{{.*}}, %[[LAST]]]
// CHECK: return
func.func @scan_narrow(%x: tensor<?x1x64xf32>, %dt: tensor<?x1x2xf32>, %bc: tensor<?x1x48xf32>, %ssm: tensor<?x2x32x48xf32>, %alog: tensor<2xf32>, %d: tensor<2xf32>, %dtb: tensor<2xf32>) -> (tensor<?x1x64xf32>, tensor<?x2x32x48xf32>) {
  %y:2 = zamba2.ssd_step %x, %dt, %bc, %bc, %ssm params(%alog, %d, %dtb) {groups = 1 : i64} : (tensor<?x1x64xf32>, tensor<?x1x2xf32>, tensor<?x1x48xf32>, tensor<?x1x48xf32>, tensor<?x2x32x48xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<?x1x64xf32>, tensor<?x2x32x48xf32>)
  return %y#0, %y#1 : tensor<?x1x64xf32>, tensor<?x2x32x48xf32>
}

// -----

// A bf16 state: rounded to bf16 after every token inside the loop (as if
// stored and loaded again), stored once.
// CHECK-LABEL: func.func @scan_bf16
// CHECK-SAME: %[[SSM:[a-z0-9]+]]: memref<?x2x32x32xbf16>
// CHECK: module(@ssd_scan)
// CHECK: memref.load %[[SSM]]{{.*}} {zamba2.before_wait}
// CHECK: scf.for {{.*}} -> (f32, f32)
// CHECK: %[[R:.*]] = arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: arith.extf %[[R]] : bf16 to f32
// CHECK-NOT: memref.store %{{.*}}, %[[SSM]]
// CHECK: scf.yield
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK-NEXT: memref.store %{{.*}}, %[[SSM]]
func.func @scan_bf16(%x: tensor<?x?x64xf32>, %dt: tensor<?x?x2xf32>, %bc: tensor<?x?x32xf32>, %ssm: tensor<?x2x32x32xbf16>, %alog: tensor<2xf32>, %d: tensor<2xf32>, %dtb: tensor<2xf32>) -> (tensor<?x?x64xf32>, tensor<?x2x32x32xbf16>) {
  %y:2 = zamba2.ssd_scan %x, %dt, %bc, %bc, %ssm params(%alog, %d, %dtb) {groups = 1 : i64} : (tensor<?x?x64xf32>, tensor<?x?x2xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x2x32x32xbf16>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<?x?x64xf32>, tensor<?x2x32x32xbf16>)
  return %y#0, %y#1 : tensor<?x?x64xf32>, tensor<?x2x32x32xbf16>
}
