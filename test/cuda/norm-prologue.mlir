// The norm prologue of the linear ops (zamba2-fuse-norm) on the CUDA target.
// One token row: the linear kernel normalises x's row as it stages it in
// workgroup memory. With one group, each thread loads the norm's weights of
// its pieces before the dependent-launch wait, stores v * w and sums v^2;
// the block's sum rides on the staging's one barrier, and its
// rsqrt(mean + eps) scales the product's sums instead of the row (no
// second pass, no second barrier). With several groups, each thread stores
// v, and after the block's sums scales its own pieces by their group's
// rsqrt and the weights, then a barrier. The product reads x from there.
// The pieces of a thread are straight-line code (their loads in flight
// together), not a loop.
// Several rows: the norm kernel writes the normalised rows once per op, and
// the 8-row kernels read them.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @float_weights
// CHECK-SAME: %[[X:[a-z0-9]+]]: memref<?x1x512xf32>, %[[NW:[a-z0-9]+]]: memref<512xf32>
// CHECK: %[[NORMED:.*]] = memref.alloc({{.*}}) {{.*}} : memref<?x1x512xf32>
// CHECK: scf.if
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: %[[W:.*]] = vector.load %[[NW]][{{.*}}zamba2.before_wait} : memref<512xf32>, vector<4xf32>
// CHECK: %[[XS:.*]] = memref.get_global @zamba2_workgroup_4f32x128
// CHECK-NOT: scf.for
// CHECK: %[[V:.*]] = vector.load %[[X]][{{.*}}] {alignment = 16 : i64} : memref<?x1x512xf32>, vector<4xf32>
// CHECK: %[[VW:.*]] = arith.mulf %[[V]], %[[W]] : vector<4xf32>
// CHECK: arith.xori
// CHECK: memref.store %[[VW]], %[[XS]]
// CHECK: arith.mulf %[[V]], %[[V]] : vector<4xf32>
// CHECK: vector.reduction <add>
// CHECK: memref.get_global @zamba2_workgroup_f32x4 :
// CHECK: gpu.barrier
// CHECK: arith.divf %{{.*}}, %cst{{.*}} : f32
// CHECK: %[[INV:.*]] = math.rsqrt
// CHECK-NOT: gpu.barrier
// The product reads the staged pieces (2 per step of 8 bf16 weights), not
// x, and its sum is scaled by the rsqrt.
// CHECK-NOT: vector.load %[[X]]
// CHECK: vector.load {{.*}} : memref<256x512xbf16>, vector<8xbf16>
// CHECK-NOT: vector.load %[[X]]
// CHECK: memref.load %[[XS]]
// CHECK: memref.load %[[XS]]
// CHECK-NOT: vector.load %[[X]]
// CHECK: arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: gpu.launch {{.*}} module(@rms_norm) function(@rms_norm)
// CHECK: memref.store {{.*}}, %[[NORMED]]
// CHECK: gpu.launch {{.*}} module(@linear_r8) function(@linear_r8)
// CHECK: vector.load %[[NORMED]]
func.func @float_weights(%x: tensor<?x1x512xf32>, %nw: tensor<512xf32>, %w: tensor<256x512xbf16>) -> tensor<?x1x256xf32> {
  %y = zamba2.linear %x normed %nw, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x1x512xf32>, tensor<256x512xbf16>, tensor<512xf32>) -> tensor<?x1x256xf32>
  return %y : tensor<?x1x256xf32>
}

// -----

// A gated norm of 2 groups into a quant_linear: the norm's weights loaded
// before the wait, v = y * silu(z) (exp), one sum of squares per group (the
// piece's group selects), 2 groups x 4 warps of block sums, each piece
// scaled by its group's inverse RMS, then the second barrier.
// CHECK-LABEL: func.func @gated_groups_quant
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: vector.load %arg2[{{.*}}zamba2.before_wait} : memref<1024xf32>, vector<4xf32>
// CHECK-NOT: scf.for
// CHECK: math.exp
// CHECK: arith.select
// CHECK: arith.select
// CHECK: memref.get_global @zamba2_workgroup_f32x8 :
// CHECK: gpu.barrier
// CHECK: math.rsqrt
// CHECK: math.rsqrt
// CHECK-NOT: scf.for
// CHECK: arith.select
// CHECK: memref.store
// CHECK: gpu.barrier
// CHECK: vector.bitcast {{.*}} : vector<16xi8> to vector<4xi32>
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: module(@rms_norm)
// CHECK: module(@linear_r8)
func.func @gated_groups_quant(%y: tensor<?x1x1024xf32>, %z: tensor<?x1x1024xf32>, %nw: tensor<1024xf32>, %q: tensor<64x512xi8>, %s: tensor<64x16xf16>) -> tensor<?x1x64xf32> {
  %o = zamba2.quant_linear %y normed %nw gated %z, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64, norm_eps = 1.0e-5 : f64, norm_groups = 2 : i64} : (tensor<?x1x1024xf32>, tensor<64x512xi8>, tensor<64x16xf16>, tensor<1024xf32>, tensor<?x1x1024xf32>) -> tensor<?x1x64xf32>
  return %o : tensor<?x1x64xf32>
}

// -----

// lora_linear: both of its kernels (x A^T, then x W^T + mid B^T) normalise
// the row they stage, each scaling its own product's sums by the 1/RMS; the
// second kernel's adapter term (mid B^T, mid already normalised by the
// first) is added after the scaling and not scaled; B's rows (2 chunks of
// 8, fewer than a warp's lanes) are loaded before the wait, and the lanes
// past them keep their sums. With several rows one norm kernel writes the
// rows both read.
// CHECK-LABEL: func.func @lora_linear
// CHECK: %[[MID:.*]] = memref.alloc({{.*}}) {{.*}} : memref<?x1x16xf32>
// CHECK: scf.if
// CHECK: module(@linear_r1)
// CHECK: %[[INV1:.*]] = math.rsqrt
// CHECK: arith.mulf %{{.*}}, %[[INV1]] : f32
// CHECK: memref.store {{.*}}, %[[MID]]
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK: module(@rms_norm)
// CHECK: module(@linear_r8)
// CHECK: }
// CHECK: scf.if
// CHECK: module(@linear_r1)
// CHECK: vector.load %arg4[{{.*}}zamba2.before_wait} : memref<128x16xbf16>, vector<8xbf16>
// CHECK: %[[INV2:.*]] = math.rsqrt
// CHECK: arith.mulf %{{.*}}, %[[INV2]] : f32
// CHECK-NOT: %[[INV2]]
// CHECK: vector.load %[[MID]]
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c2{{.*}} : index
// CHECK-NEXT: arith.select %[[IN]], %{{.*}}, %{{.*}} : vector<8xf32>
// CHECK-NOT: %[[INV2]]
// CHECK: gpu.terminator
// CHECK: } else {
// CHECK-NOT: module(@rms_norm)
// CHECK: module(@linear_r8)
func.func @lora_linear(%x: tensor<?x1x256xf32>, %nw: tensor<256xf32>, %w: tensor<128x256xbf16>, %a: tensor<16x256xbf16>, %b: tensor<128x16xbf16>) -> tensor<?x1x128xf32> {
  %y = zamba2.lora_linear %x normed %nw, %w adapter(%a, %b) {norm_eps = 1.0e-5 : f64} : (tensor<?x1x256xf32>, tensor<128x256xbf16>, tensor<16x256xbf16>, tensor<128x16xbf16>, tensor<256xf32>) -> tensor<?x1x128xf32>
  return %y : tensor<?x1x128xf32>
}

// -----

// A row of 30 (not whole 16-byte pieces) cannot be staged: the one-row
// branch writes the normalised row with the norm kernel too.
// CHECK-LABEL: func.func @unstageable
// CHECK: scf.if
// CHECK: module(@rms_norm)
// CHECK: module(@linear_r1)
// CHECK: } else {
// CHECK: module(@rms_norm)
// CHECK: module(@linear_r8)
func.func @unstageable(%x: tensor<?x1x30xf32>, %nw: tensor<30xf32>, %w: tensor<64x30xf32>) -> tensor<?x1x64xf32> {
  %y = zamba2.linear %x normed %nw, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x1x30xf32>, tensor<64x30xf32>, tensor<30xf32>) -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}
