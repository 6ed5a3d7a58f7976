// zamba2-parallel-to-gpu: a host parallel loop becomes one kernel launch of
// ceil(N0*N1 / 256) blocks of 256 threads, thread id = i0 * N1 + i1 (bounds
// checked); a global the loop reads is cloned into the kernel; the kernel
// is short, so its first op that touches memory or holds regions (the
// bounds check) is marked zamba2.early_trigger (zamba2-gpu-dependent-launch
// lets the next kernel launch at its start); host code that touches memory
// is an error.
// RUN: zamba2-opt %s --split-input-file --verify-diagnostics --zamba2-parallel-to-gpu | FileCheck %s

memref.global "private" constant @table : memref<4xf32> = dense<[1.0, 2.0, 3.0, 4.0]>

// CHECK-LABEL: func.func @loop
// CHECK-SAME: (%[[M:.*]]: index, %[[OUT:.*]]: memref<?x4xf32>)
func.func @loop(%m: index, %out: memref<?x4xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %g = memref.get_global @table : memref<4xf32>
  // CHECK: %[[T0:.*]] = arith.ceildivui %{{.*}}, %c1
  // CHECK: %[[N0:.*]] = arith.muli %{{.*}}, %[[T0]]
  // CHECK: %[[T1:.*]] = arith.ceildivui %{{.*}}, %c1
  // CHECK: %[[TOTAL:.*]] = arith.muli %[[N0]], %[[T1]]
  // CHECK: %[[ANY:.*]] = arith.cmpi ugt, %[[TOTAL]]
  // CHECK: scf.if %[[ANY]] {
  // CHECK: %[[BLOCKS:.*]] = arith.ceildivui %[[TOTAL]], %[[C256:.*]] : index
  // CHECK: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[BLOCKS]], %{{.*}} = %{{.*}}, %{{.*}} = %{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[C256]]
  // CHECK-SAME: module(@loop) function(@loop)
  // CHECK: %[[GIN:.*]] = memref.get_global @table : memref<4xf32>
  // CHECK: %[[BASE:.*]] = arith.muli %[[BX]], %[[C256]]
  // CHECK: %[[ID:.*]] = arith.addi %[[BASE]], %[[TX]]
  // CHECK: %[[IN:.*]] = arith.cmpi ult, %[[ID]], %[[TOTAL]]
  // CHECK: scf.if %[[IN]] {
  // CHECK: %[[J:.*]] = arith.remui %[[ID]], %[[T1]]
  // CHECK: %[[I:.*]] = arith.divui %[[ID]], %[[T1]]
  // CHECK: memref.load %[[GIN]]
  // CHECK: memref.store %{{.*}}, %[[OUT]]
  // CHECK: } {zamba2.early_trigger}
  // CHECK-NEXT: gpu.terminator
  // CHECK-NOT: scf.parallel
  scf.parallel (%i, %j) = (%c0, %c0) to (%m, %c4) step (%c1, %c1) {
    %v = memref.load %g[%j] : memref<4xf32>
    memref.store %v, %out[%i, %j] : memref<?x4xf32>
    scf.reduce
  }
  return
}

// -----

func.func @host_load(%a: memref<4xf32>) -> f32 {
  %c0 = arith.constant 0 : index
  // expected-error @+1 {{zamba2-parallel-to-gpu: host code accesses a device buffer (memref.load)}}
  %v = memref.load %a[%c0] : memref<4xf32>
  return %v : f32
}
