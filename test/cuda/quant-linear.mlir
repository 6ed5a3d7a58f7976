// quant_linear on the CUDA target is bufferized into the linear kernel,
// which loads 16 bytes of a packed weight row per lane step (32 int4 or 16
// int8 weights of one group) as 4 32-bit words. Field j of every word (the
// words are little-endian: weight 8i + j of the step for int4, 4i + j for
// int8) is extracted for the 4 words at once (signed: shift up, arithmetic
// shift down; unsigned: shift and mask, minus the zero point), converted
// to f32 and multiplied with x elements j, 8 + j, 16 + j, 24 + j (int4); the
// group's scale multiplies the step's sum once. Widths that are not a
// multiple of 16 bytes take 8 weights (or 1) per step. One token row: 4
// outputs per warp; 8 rows: 2.
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s
// RUN: zamba2-compile %fixtures/tiny-lora-rope --target cuda --quantize int4 --emit=ptx --quiet 2>/dev/null | FileCheck %s --check-prefix=PTX

// CHECK-LABEL: func.func @int4_sym
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: memref.load %{{.*}} : memref<16x1xf16>
// CHECK: %[[BYTES:.*]] = vector.load %{{.*}} {alignment = 16 : i64} : memref<16x32xi8>, vector<16xi8>
// CHECK: %[[WORDS:.*]] = vector.bitcast %[[BYTES]] : vector<16xi8> to vector<4xi32>
// CHECK: arith.shli %[[WORDS]], %{{.*}} : vector<4xi32>
// CHECK: arith.shrsi %{{.*}} : vector<4xi32>
// CHECK: arith.sitofp %{{.*}} : vector<4xi32> to vector<4xf32>
// CHECK: %[[TOP:.*]] = arith.shrsi %[[WORDS]], %{{.*}} : vector<4xi32>
// CHECK: arith.sitofp %[[TOP]] : vector<4xi32> to vector<4xf32>
// CHECK: vector.load %{{.*}} : memref<?x1x64xf32>, vector<32xf32>
// CHECK: vector.shuffle %{{.*}} [0, 8, 16, 24]
// CHECK: vector.fma
// CHECK: vector.shuffle %{{.*}} [1, 9, 17, 25]
// CHECK: vector.fma
// CHECK: vector.shuffle %{{.*}} [7, 15, 23, 31]
// CHECK: %[[SUM:.*]] = vector.fma
// CHECK: vector.fma %{{.*}}, %[[SUM]], %{{.*}} : vector<4xf32>
// CHECK: gpu.shuffle  xor
// Eight token rows: two outputs per warp, the 16 (row, output) sums in f32
// accumulators; each step's sum is scaled and added once.
// CHECK: module(@linear_r8) function(@linear_r8)
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK-COUNT-2: vector.load %{{.*}} {alignment = 16 : i64} : memref<16x32xi8>, vector<16xi8>
// CHECK: vector.reduction <add>, %{{.*}} : vector<4xf32> into f32
func.func @int4_sym(%x: tensor<?x1x64xf32>, %q: tensor<16x32xi8>,
                    %s: tensor<16x1xf16>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x64xf32>, tensor<16x32xi8>, tensor<16x1xf16>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// CHECK-LABEL: func.func @int8_asym
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: %[[BYTES:.*]] = vector.load %{{.*}} {alignment = 16 : i64} : memref<16x64xi8>, vector<16xi8>
// CHECK: %[[WORDS:.*]] = vector.bitcast %[[BYTES]] : vector<16xi8> to vector<4xi32>
// CHECK: %[[Z:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: %[[ZV:.*]] = vector.broadcast %[[Z]] : i32 to vector<4xi32>
// CHECK: %[[LOW:.*]] = arith.andi %[[WORDS]], %{{.*}} : vector<4xi32>
// CHECK: arith.subi %[[LOW]], %[[ZV]] : vector<4xi32>
// CHECK: arith.shrui %[[WORDS]], %{{.*}} : vector<4xi32>
// CHECK: vector.shuffle %{{.*}} [0, 4, 8, 12]
func.func @int8_asym(%x: tensor<?x1x64xf32>, %q: tensor<16x64xi8>,
                     %s: tensor<16x2xf32>, %z: tensor<16x2xi8>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x, %q scales %s zeros %z asymmetric {bits = 8 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<16x64xi8>, tensor<16x2xf32>, tensor<16x2xi8>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// CHECK-LABEL: func.func @int8_narrow
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: vector.load %{{.*}} {alignment = 8 : i64} : memref<4x24xi8>, vector<8xi8>
// CHECK-COUNT-8: vector.extract
func.func @int8_narrow(%x: tensor<?x1x24xf32>, %q: tensor<4x24xi8>,
                       %s: tensor<4x3xf32>) -> tensor<?x1x4xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 8 : i64, group_size = 8 : i64} : (tensor<?x1x24xf32>, tensor<4x24xi8>, tensor<4x3xf32>) -> tensor<?x1x4xf32>
  return %y : tensor<?x1x4xf32>
}

// `into`: the kernel adds the base as it stores each output (no kernel of
// its own for the addition).
// CHECK-LABEL: func.func @int4_into
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: gpu.shuffle  xor
// CHECK: %[[B:.*]] = memref.load %{{.*}} : memref<?x1x16xf32>
// CHECK: %[[V:.*]] = arith.addf %{{.*}}, %[[B]] : f32
// CHECK: memref.store %[[V]]
// CHECK-NOT: gpu.launch {{.*}} module(@loop)
// CHECK: return
func.func @int4_into(%x: tensor<?x1x64xf32>, %q: tensor<16x32xi8>,
                     %s: tensor<16x1xf16>, %r: tensor<?x1x16xf32>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x, %q scales %s into %r symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x64xf32>, tensor<16x32xi8>, tensor<16x1xf16>, tensor<?x1x16xf32>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// PTX: .visible .entry linear_r1(
// PTX: ld.global.v4.b32
// PTX: bfe.s32 {{.*}}, 4;
// PTX: cvt.rn.f32.s32
