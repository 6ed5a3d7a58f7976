// An ssd_step with a gate (zamba2-fuse-norm moves a gated norm's gate
// there): the scan kernel loads the gate with x, after its dependent-launch
// preloads, and stores y * silu(gate), where silu(g) = g / (1 + exp(-g)).
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s
// On the CPU the gate is an elementwise y * silu(gate) on the scan's output.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg | FileCheck %s --check-prefix=CPU

// CHECK-LABEL: func.func @gated_step
// CHECK-SAME: %[[X:[a-z0-9]+]]: memref<?x1x128xf32>
// CHECK-SAME: %[[Z:[a-z0-9]+]]: memref<?x1x128xf32>
// CHECK: gpu.launch {{.*}} module(@ssd_scan) function(@ssd_scan)
// CHECK: scf.for
// CHECK: %[[XV:.*]] = memref.load %[[X]]
// CHECK: %[[G:.*]] = memref.load %[[Z]]
// CHECK: gpu.shuffle  xor
// CHECK: %[[DX:.*]] = arith.mulf %{{.*}}, %[[XV]] : f32
// CHECK: %[[Y:.*]] = arith.addf %[[DX]], %{{.*}} : f32
// CHECK: %[[NEG:.*]] = arith.negf %[[G]]
// CHECK: %[[E:.*]] = math.exp %[[NEG]]
// CHECK: %[[D:.*]] = arith.addf %{{.*}}, %[[E]]
// CHECK: %[[S:.*]] = arith.divf %[[G]], %[[D]]
// CHECK: %[[OUT:.*]] = arith.mulf %[[Y]], %[[S]]
// CHECK: memref.store %[[OUT]]
// CPU-LABEL: func.func @gated_step
// CPU-SAME: %[[CX:[a-z0-9]+]]: tensor<?x1x128xf32>, %[[CZ:[a-z0-9]+]]: tensor<?x1x128xf32>
// CPU: %[[Y:.*]] = tensor.collapse_shape
// CPU: %[[G:.*]] = linalg.generic {{.*}} ins(%[[Y]], %[[CZ]] :
// CPU-NEXT: ^bb0(%[[YV:.*]]: f32, %[[ZV:.*]]: f32, %{{.*}}: f32):
// CPU: math.exp
// CPU: %[[SZ:.*]] = arith.divf %[[ZV]], %{{.*}} : f32
// CPU: arith.mulf %[[YV]], %[[SZ]] : f32
// CPU: return %[[G]]
func.func @gated_step(%x: tensor<?x1x128xf32>, %z: tensor<?x1x128xf32>, %dt: tensor<?x1x4xf32>, %b: tensor<?x1x16xf32>, %c: tensor<?x1x16xf32>, %s: tensor<?x4x32x16xf32>, %al: tensor<4xf32>, %d: tensor<4xf32>, %db: tensor<4xf32>) -> (tensor<?x1x128xf32>, tensor<?x4x32x16xf32>) {
  %y, %ns = zamba2.ssd_step %x, %dt, %b, %c, %s params(%al, %d, %db) gated %z {groups = 1 : i64} : (tensor<?x1x128xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x1x128xf32>) -> (tensor<?x1x128xf32>, tensor<?x4x32x16xf32>)
  return %y, %ns : tensor<?x1x128xf32>, tensor<?x4x32x16xf32>
}
