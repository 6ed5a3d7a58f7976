// The CUDA kernels of lowering/Gpu*Kernels.cpp: zamba2-lower-to-linalg with
// target=cuda leaves linear, rms_norm, causal_conv1d and ssd_step alone (the
// mlp_gate is lowered), and One-Shot Bufferize emits their kernels on the
// buffers, updating the conv and SSM state in place (no copy of the state).
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda | FileCheck %s --check-prefix=TENSOR
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s
// RUN: not zamba2-opt %s --zamba2-lower-to-linalg=target=tpu 2>&1 | FileCheck %s --check-prefix=BAD

// TENSOR: zamba2.rms_norm
// TENSOR: zamba2.linear
// TENSOR-NOT: zamba2.mlp_gate
// TENSOR: linalg.generic
// TENSOR: zamba2.causal_conv1d
// TENSOR: zamba2.ssd_step

// BAD: zamba2-lower-to-linalg: unknown target 'tpu' (expected cpu or cuda)

// CHECK-LABEL: func.func @block
// CHECK-SAME: %[[X:[a-z0-9]+]]: memref<?x1x64xf32>, %[[W:[a-z0-9]+]]: memref<64xf32>, %[[WIN:[a-z0-9]+]]: memref<256x64xbf16>
// CHECK-SAME: %[[CONV:[a-z0-9]+]]: memref<?x32x3xf32>
// CHECK-SAME: %[[SSM:[a-z0-9]+]]: memref<?x2x16x8xf32>

// rms_norm: one block of 1024 threads per row, a block-wide sum through
// workgroup memory; a short kernel (its first op that touches memory marked
// zamba2.early_trigger: zamba2-gpu-dependent-launch lets the next kernel
// launch at its start).
// CHECK: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c1024{{.*}}) module(@rms_norm) function(@rms_norm)
// CHECK-NOT: memref.load
// CHECK: memref.load {{.*}} {zamba2.early_trigger} : memref<?x1x64xf32>
// CHECK: memref.get_global @zamba2_workgroup_f32x32 : memref<32xf32, #gpu.address_space<workgroup>>
// CHECK: gpu.shuffle  xor
// CHECK: gpu.barrier
// CHECK: math.rsqrt
// CHECK: gpu.terminator

// linear: one token row (batch 1 decode) or 8, 4 warps per block; with one
// row a warp per output, with 8 rows a warp per 4 outputs (32 f32
// accumulators: 8 rows x 4 weight rows, each a chain of multiply-adds);
// each lane reads 16-byte chunks of the bf16 weight rows (64 input
// channels: 8 chunks, fewer than the lanes, so no unrolling here).
// CHECK: scf.if
// CHECK: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c128{{.*}}) module(@linear_r1) function(@linear_r1)
// CHECK: vector.load %[[WIN]][%{{.*}}, %{{.*}}] {alignment = 16 : i64} : memref<256x64xbf16>, vector<8xbf16>
// CHECK: arith.extf %{{.*}} : vector<8xbf16> to vector<8xf32>
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK-COUNT-5: gpu.shuffle  xor
// The one-row kernel's grid, 256 outputs over 4 per block, is marked on its
// code (zamba2.grid_blocks, for zamba2-gpu-register-budget), and so is its
// being one (zamba2.one_row, for zamba2-gpu-dependent-launch's
// one-row-early-trigger); the 8-row kernel's grid depends on the rows.
// CHECK-NOT: zamba2.early_trigger
// CHECK: } {zamba2.grid_blocks = 64 : i64, zamba2.one_row}
// CHECK-NOT: zamba2.early_trigger
// CHECK: } else {
// CHECK: gpu.launch {{.*}} module(@linear_r8) function(@linear_r8)
// CHECK-NOT: zamba2.grid_blocks
// CHECK-NOT: zamba2.one_row
// CHECK-COUNT-4: vector.load %[[WIN]]{{.*}} : memref<256x64xbf16>, vector<8xbf16>
// CHECK: vector.load {{.*}} : memref<?x1x64xf32>, vector<8xf32>
// CHECK: vector.extract
// CHECK: arith.mulf {{.*}} fastmath<contract> : f32
// CHECK: arith.addf {{.*}} fastmath<contract> : f32
// CHECK-NOT: vector.reduction
// The 32 sums spread over the lanes, lane p keeping pair p's: 16 + 8 + 4 +
// 2 + 1 shuffles (5 per sum would be 160).
// CHECK-COUNT-31: gpu.shuffle  xor
// CHECK-NOT: gpu.shuffle

// causal_conv1d: one thread per (row, channel); the state is written in
// place.
// CHECK: gpu.launch {{.*}} module(@causal_conv1d) function(@causal_conv1d)
// CHECK: memref.store %{{.*}}, %[[CONV]]

// ssd_step: one warp per two state rows, the state updated in place; a
// short kernel (zamba2.early_trigger on its first load, of A_log, before
// its wait).
// CHECK: gpu.launch {{.*}} module(@ssd_scan) function(@ssd_scan)
// CHECK-NOT: memref.load
// CHECK: memref.load {{.*}} {zamba2.before_wait, zamba2.early_trigger} : memref<2xf32>
// CHECK: math.log1p
// CHECK: memref.store %{{.*}}, %[[SSM]]
// CHECK-NOT: memref.copy
// CHECK: return
func.func @block(%x: tensor<?x1x64xf32>, %w: tensor<64xf32>,
                 %win: tensor<256x64xbf16>, %g: tensor<?x1x128xf32>,
                 %cw: tensor<32x1x4xf32>, %cb: tensor<32xf32>,
                 %conv: tensor<?x32x3xf32>, %dt: tensor<?x1x2xf32>,
                 %bc: tensor<?x1x8xf32>, %ssm: tensor<?x2x16x8xf32>,
                 %alog: tensor<2xf32>, %d: tensor<2xf32>, %dtb: tensor<2xf32>)
    -> (tensor<?x1x256xf32>, tensor<?x1x64xf32>, tensor<?x1x32xf32>,
        tensor<?x32x3xf32>, tensor<?x1x32xf32>, tensor<?x2x16x8xf32>) {
  %n = zamba2.rms_norm %x, %w {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %l = zamba2.linear %n, %win : (tensor<?x1x64xf32>, tensor<256x64xbf16>) -> tensor<?x1x256xf32>
  %m = zamba2.mlp_gate %g silu : tensor<?x1x128xf32> -> tensor<?x1x64xf32>
  %xc = tensor.extract_slice %l[0, 0, 0] [1, 1, 32] [1, 1, 1] : tensor<?x1x256xf32> to tensor<1x1x32xf32>
  %xcd = tensor.cast %xc : tensor<1x1x32xf32> to tensor<?x1x32xf32>
  %c:2 = zamba2.causal_conv1d %xcd, %cw bias %cb state %conv {silu} : (tensor<?x1x32xf32>, tensor<32x1x4xf32>, tensor<32xf32>, tensor<?x32x3xf32>) -> (tensor<?x1x32xf32>, tensor<?x32x3xf32>)
  %y:2 = zamba2.ssd_step %c#0, %dt, %bc, %bc, %ssm params(%alog, %d, %dtb) {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x2xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<?x2x16x8xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<?x1x32xf32>, tensor<?x2x16x8xf32>)
  return %l, %m, %c#0, %c#1, %y#0, %y#1 : tensor<?x1x256xf32>, tensor<?x1x64xf32>, tensor<?x1x32xf32>, tensor<?x32x3xf32>, tensor<?x1x32xf32>, tensor<?x2x16x8xf32>
}
