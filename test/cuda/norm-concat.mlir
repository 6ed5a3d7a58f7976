// rms_norm of a row of two pieces (`concat`, zamba2-fuse-norm's fold of the
// shared block's input concatenation) on the CUDA target: the norm kernel
// reads each element of the row from the piece that holds its column, both
// pieces read at clamped columns and the right one selected (no branch),
// and writes the normalised row once; no concatenation is written. The
// sim-*.test models check the numerics against the CPU package (their
// shared blocks' input norms take this form).
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cpu | FileCheck %s --check-prefix=CPU

// CHECK-LABEL: func.func @norm
// CHECK-SAME: %[[H:[a-z0-9]+]]: memref<?x1x64xf32>, %[[E:[a-z0-9]+]]: memref<?x1x32xf32>, %[[W:[a-z0-9]+]]: memref<96xf32>
// CHECK-NOT: memref.copy
// CHECK: gpu.launch {{.*}} threads({{.*}}) in ({{.*}} = %c1024{{.*}}) module(@rms_norm) function(@rms_norm)
// CHECK: %[[IN:.*]] = arith.cmpi ult, %[[COL:.*]], %c64{{.*}} : index
// CHECK-NEXT: %c63{{.*}} = arith.constant 63 : index
// CHECK-NEXT: %[[HC:.*]] = arith.minui %[[COL]], %c63
// CHECK-NEXT: %[[HV:.*]] = memref.load %[[H]][%{{.*}}, %{{.*}}, %[[HC]]]{{.*}} : memref<?x1x64xf32>
// CHECK: %[[OFF:.*]] = arith.subi %[[COL]], %c64
// CHECK-NEXT: %[[EC:.*]] = arith.select %[[IN]], %{{.*}}, %[[OFF]] : index
// CHECK-NEXT: %[[EV:.*]] = memref.load %[[E]][%{{.*}}, %{{.*}}, %[[EC]]] : memref<?x1x32xf32>
// CHECK-NEXT: arith.select %[[IN]], %[[HV]], %[[EV]] : f32
// CHECK: math.rsqrt
// CHECK: memref.store {{.*}} : memref<?x1x96xf32>
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch

// On the CPU the pieces are concatenated, then normalised.
// CPU-LABEL: func.func @norm
// CPU: tensor.concat dim(2) %arg0, %arg1 : (tensor<?x1x64xf32>, tensor<?x1x32xf32>) -> tensor<?x1x96xf32>

func.func @norm(%h: tensor<?x1x64xf32>, %e: tensor<?x1x32xf32>, %w: tensor<96xf32>) -> tensor<?x1x96xf32> {
  %n = zamba2.rms_norm %h concat %e, %w {eps = 1.0e-5 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xf32>, tensor<96xf32>
  return %n : tensor<?x1x96xf32>
}
