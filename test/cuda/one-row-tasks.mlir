// zamba2-lower-to-linalg's one-row-wave: the module is marked with the
// blocks a one-row linear kernel may take (zamba2.one_row_wave).
// A one-row kernel whose grid of one group of channels per
// warp would take more blocks gives each warp that many more groups (up to
// 4): the grid shrinks by as much (ceil(n / (4 warps x channels x tasks)))
// and a loop over the tasks carries the next task's weights, loaded as the
// task before starts. Only the first task's weights are loaded before the
// dependent-launch wait.
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-lower-to-linalg="target=cuda one-row-wave=4" | FileCheck %s --check-prefix=MARK
// RUN: zamba2-opt %s --zamba2-lower-to-linalg="target=cuda" | FileCheck %s --check-prefix=NOMARK
// RUN: zamba2-opt %s --zamba2-lower-to-linalg="target=cuda one-row-wave=4" --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s
// RUN: zamba2-opt %s --zamba2-lower-to-linalg="target=cuda one-row-wave=0" --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s --check-prefix=ONE

// The budget is for the CUDA kernels, and a number of blocks:
// RUN: not zamba2-opt %s --zamba2-lower-to-linalg="target=cpu one-row-wave=4" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not zamba2-opt %s --zamba2-lower-to-linalg="target=cuda one-row-wave=-1" 2>&1 | FileCheck %s --check-prefix=NEG

// BAD: zamba2-lower-to-linalg: one-row-wave=4 (a number of blocks, 0 or more, for target=cuda)
// NEG: zamba2-lower-to-linalg: one-row-wave=-1 (a number of blocks, 0 or more, for target=cuda)
// MARK: module attributes {zamba2.one_row_wave = 4 : i64}
// NOMARK-NOT: zamba2.one_row_wave

// A 64-output op needs 64 / (4 warps x 2 channels) = 8 blocks with one
// task, 4 with 2 tasks. The 256-output op, 32 blocks with one task, 8
// with 4 (the most).
// CHECK-LABEL: func.func @two_widths
// CHECK: gpu.launch {{.*}} module(@linear_r1t2) function(@linear_r1t2)
// CHECK: vector.load {{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<64x512xi8>, vector<16xi8>
// CHECK: gpu.barrier
// The loop over tasks 0 .. 0 carries task 1's loads (scale, packed
// bytes, scale, packed bytes: two channels), which are not before the wait.
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c1{{.*}} step %c1{{.*}} iter_args({{.*}}) -> (f16, vector<16xi8>, f16, vector<16xi8>{{.*}})
// CHECK-NOT: zamba2.before_wait
// CHECK: vector.load {{.*}} {alignment = 16 : i64} : memref<64x512xi8>, vector<16xi8>
// CHECK: scf.yield
// CHECK: gpu.terminator
// CHECK: gpu.launch {{.*}} module(@linear_r1t2) function(@linear_r1t2)
// CHECK: gpu.launch {{.*}} module(@linear_r1t2) function(@linear_r1t2)
// CHECK: gpu.launch {{.*}} module(@linear_r1t4) function(@linear_r1t4)
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c3{{.*}} step %c1

// ONE-LABEL: func.func @two_widths
// ONE-NOT: linear_r1t
// ONE: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// ONE-NOT: linear_r1t
func.func @two_widths(%x: tensor<?x1x1024xf32>, %q: tensor<64x512xi8>,
    %s: tensor<64x16xf16>, %x2: tensor<?x1x1024xf32>, %q2: tensor<256x512xi8>,
    %s2: tensor<256x16xf16>) -> (tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x256xf32>) {
  %a = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x1024xf32>, tensor<64x512xi8>, tensor<64x16xf16>) -> tensor<?x1x64xf32>
  %b = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x1024xf32>, tensor<64x512xi8>, tensor<64x16xf16>) -> tensor<?x1x64xf32>
  %c = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x1024xf32>, tensor<64x512xi8>, tensor<64x16xf16>) -> tensor<?x1x64xf32>
  %d = zamba2.quant_linear %x2, %q2 scales %s2 symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x1024xf32>, tensor<256x512xi8>, tensor<256x16xf16>) -> tensor<?x1x256xf32>
  return %a, %b, %c, %d : tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x256xf32>
}
