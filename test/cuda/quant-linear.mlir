// quant_linear on the CUDA target is bufferized into the linear kernel.
// One token row (2 outputs per warp): the block first copies x's row to
// workgroup memory (an array of vector<4xf32>; each thread loads all its
// pieces, then stores them), each 16-byte piece at a swizzled slot (piece
// xor a function of the step), and waits at a barrier. A lane loads 16 contiguous
// bytes of a packed weight row per step (32 int4 or 16 int8 weights of one
// group) as 4 32-bit words, and the step's x back from workgroup memory as
// 8 (int4) or 4 (int8) 16-byte pieces. The fields of every word (the words
// are little-endian: weight 8i + j of the step is field j of word i for
// int4, 4i + j for int8) are taken two at a time, field j of each 16-bit
// half, as an f16 pair, for the 4 words at once and without a conversion:
// masked into the mantissas of 1024 (and with 0x000F000F or 0x00F000F0,
// or with 0x64006400; one LOP3), then one f16x2 subtraction (1024 + 8) or
// FMA (times 2^-4, less 64 + 8) gives the signed integers (the sign bits
// flipped with one xor of 0x88888888 per word first; unsigned: less the
// zero point instead of 8), widened to f32; fields 2, 3, 6 and 7 likewise
// from the word shifted down by 8. They are multiplied with x elements j,
// 8 + j, 16 + j, 24 + j (int4); the group's scale multiplies the step's
// sum once.
// Eight rows (2 outputs per warp): a lane takes the words i, i + 32,
// i + 64, i + 96 of the row, so that every load instruction of the warp
// reads contiguous memory (the words; x's 8 or 4 floats per word); field j
// of the 4 words (signed: shift up, arithmetic shift down; unsigned: shift
// and mask, minus the zero point; then converted to f32) is multiplied with
// x element j of each word, and each word's sum is scaled by its group's
// scale.
// Rows that fit neither take 8 weights (or 1) per step.
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s
// The PTX of a model with hidden size 256 (rows of 32 words or more), its
// one-row GEMVs in this form rather than on the tensor cores (int4-mma.mlir).
// RUN: rm -rf %t.ckpt
// RUN: zamba2-synth --preset tiny --hidden 256 -o %t.ckpt
// RUN: zamba2-compile %t.ckpt --target cuda --quantize int4 --int4-mma=false --emit=ptx --quiet 2>/dev/null | FileCheck %s --check-prefix=PTX

// CHECK-LABEL: func.func @int4_sym
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK-NOT: zamba2.grid_blocks
// CHECK: %[[XS:.*]] = memref.get_global @zamba2_workgroup_4f32x256 : memref<256xvector<4xf32>, #gpu.address_space<workgroup>>
// CHECK-NOT: scf.for
// CHECK: %[[XV0:.*]] = vector.load %{{.*}} {alignment = 16 : i64} : memref<?x1x1024xf32>, vector<4xf32>
// CHECK: %[[XV1:.*]] = vector.load %{{.*}} {alignment = 16 : i64} : memref<?x1x1024xf32>, vector<4xf32>
// CHECK: arith.xori
// CHECK: memref.store %[[XV0]], %[[XS]][%{{.*}}] : memref<256xvector<4xf32>, #gpu.address_space<workgroup>>
// CHECK: arith.xori
// CHECK: memref.store %[[XV1]], %[[XS]][%{{.*}}] : memref<256xvector<4xf32>, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: scf.for {{.*}} -> (vector<4xf32>, vector<4xf32>)
// CHECK: memref.load %{{.*}} : memref<16x16xf16>
// CHECK: %[[BYTES:.*]] = vector.load %{{.*}} {alignment = 16 : i64} : memref<16x512xi8>, vector<16xi8>
// CHECK: %[[WORDS:.*]] = vector.bitcast %[[BYTES]] : vector<16xi8> to vector<4xi32>
// CHECK: %[[SIGNS:.*]] = arith.constant dense<-2004318072> : vector<4xi32>
// CHECK: %[[U:.*]] = arith.xori %[[WORDS]], %[[SIGNS]] : vector<4xi32>
// CHECK: %[[DOWN:.*]] = arith.shrui %[[U]], %{{.*}} : vector<4xi32>
// CHECK: %[[M0:.*]] = arith.constant dense<983055> : vector<4xi32>
// CHECK: %[[F0:.*]] = arith.andi %[[U]], %[[M0]] : vector<4xi32>
// CHECK: %[[EXP:.*]] = arith.constant dense<1677747200> : vector<4xi32>
// CHECK: %[[B0:.*]] = arith.ori %[[F0]], %[[EXP]] : vector<4xi32>
// CHECK: %[[H0:.*]] = vector.bitcast %[[B0]] : vector<4xi32> to vector<8xf16>
// CHECK: %[[C0:.*]] = arith.constant dense<1.032000e+03> : vector<8xf16>
// CHECK: %[[V0:.*]] = arith.subf %[[H0]], %[[C0]] : vector<8xf16>
// CHECK: %[[W0:.*]] = arith.extf %[[V0]] : vector<8xf16> to vector<8xf32>
// CHECK: vector.shuffle %[[W0]], %[[W0]] [0, 2, 4, 6] : vector<8xf32>, vector<8xf32>
// CHECK: vector.shuffle %[[W0]], %[[W0]] [1, 3, 5, 7] : vector<8xf32>, vector<8xf32>
// CHECK: %[[M1:.*]] = arith.constant dense<15728880> : vector<4xi32>
// CHECK: arith.andi %[[U]], %[[M1]] : vector<4xi32>
// CHECK: %[[C1:.*]] = arith.constant dense<7.200000e+01> : vector<8xf16>
// CHECK: %[[S1:.*]] = arith.constant dense<6.250000e-02> : vector<8xf16>
// CHECK: %[[N1:.*]] = arith.negf %[[C1]] : vector<8xf16>
// CHECK: vector.fma %{{.*}}, %[[S1]], %[[N1]] : vector<8xf16>
// CHECK: arith.andi %[[DOWN]], %{{.*}} : vector<4xi32>
// CHECK-NOT: arith.sitofp
// CHECK-COUNT-8: memref.load %[[XS]][%{{.*}}] : memref<256xvector<4xf32>, #gpu.address_space<workgroup>>
// CHECK: %[[X0:.*]] = vector.shuffle %{{.*}} [0, 8, 16, 24]
// CHECK-NEXT: %[[X1:.*]] = vector.shuffle %{{.*}} [1, 9, 17, 25]
// CHECK: %[[X7:.*]] = vector.shuffle %{{.*}} [7, 15, 23, 31]
// CHECK: vector.fma %[[X0]], %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: vector.fma %[[X1]], %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: %[[SUM:.*]] = vector.fma %[[X7]], %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: vector.fma %{{.*}}, %[[SUM]], %{{.*}} : vector<4xf32>
// CHECK: gpu.shuffle  xor
// CHECK: module(@linear_r8) function(@linear_r8)
// CHECK: scf.for {{.*}} -> (f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32, f32)
// CHECK: %[[B0:.*]] = vector.load %{{.*}} {alignment = 4 : i64} : memref<16x512xi8>, vector<4xi8>
// CHECK: vector.bitcast %[[B0]] : vector<4xi8> to vector<1xi32>
// CHECK: memref.load %{{.*}} : memref<16x16xf16>
// CHECK-COUNT-3: vector.load %{{.*}} {alignment = 4 : i64} : memref<16x512xi8>, vector<4xi8>
// CHECK: %[[W8:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK: %[[SCALES:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: arith.shli %[[W8]], %{{.*}} : vector<4xi32>
// CHECK: arith.sitofp %{{.*}} : vector<4xi32> to vector<4xf32>
// CHECK-COUNT-4: vector.load %{{.*}} {alignment = 16 : i64} : memref<?x1x1024xf32>, vector<8xf32>
// CHECK: %[[X0:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: vector.fma %[[X0]], %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: arith.mulf %[[SCALES]], %{{.*}} : vector<4xf32>
// CHECK-NEXT: vector.reduction <add>, %{{.*}} : vector<4xf32> into f32
func.func @int4_sym(%x: tensor<?x1x1024xf32>, %q: tensor<16x512xi8>,
                    %s: tensor<16x16xf16>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x1024xf32>, tensor<16x512xi8>, tensor<16x16xf16>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// A one-row GEMV whose row gives each lane of two warps whole 16-byte steps
// (here K = 8192, 256 steps), of at least 4096 weights a row and at most
// 2048 channels (an out_proj or down projection; here an adapter's x A^T):
// each channel's row split over two warps, each on half of it, in blocks of
// 8 warps (256 threads) on 8 channels: a grid of 128 / 8 blocks. A lane's
// place among the 64 lanes of the two warps is 32 (warp % 2) + lane; its
// steps are 64 apart (the second of the preloaded iteration at + 64), its
// loop 64 x 4 steps wide. Each warp's sums go to workgroup memory (8 warps
// x 2 channels), then after a barrier the first warp of the two adds them
// in order and stores the output.
// CHECK-LABEL: func.func @int4_split
// CHECK: arith.divui %{{.*}}, %c8 : index
// CHECK: gpu.launch blocks({{.*}}) threads(%[[TX:[a-z0-9]+]], {{.*}} in (%{{.*}} = %c256, {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: %[[LANE:.*]] = arith.remui %[[TX]], %c32
// CHECK: %[[WARP:.*]] = arith.divui %[[TX]], %c32
// CHECK: %[[PART:.*]] = arith.remui %[[WARP]], %c2
// CHECK: %[[PL:.*]] = arith.muli %[[PART]], %c32
// CHECK: %[[RL:.*]] = arith.addi %[[PL]], %[[LANE]] : index
// CHECK: vector.load {{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<128x4096xi8>, vector<16xi8>
// CHECK: %[[C64:.*]] = arith.constant 64 : index
// CHECK-NEXT: arith.addi %[[RL]], %[[C64]] : index
// The 256 threads stage x's 2048 pieces of 4, 256 apart.
// CHECK: memref.get_global @zamba2_workgroup_4f32x2048
// CHECK: vector.load %{{.*}} : memref<?x1x8192xf32>, vector<4xf32>
// CHECK: %[[C256:.*]] = arith.constant 256 : index
// CHECK-NEXT: arith.addi %[[TX]], %[[C256]] : index
// CHECK: gpu.barrier
// CHECK: %[[PART_SUMS:.*]] = memref.get_global @zamba2_workgroup_f32x16
// CHECK: scf.for {{.*}} to %c256{{.*}} step %c256
// CHECK: memref.store %{{.*}}, %[[PART_SUMS]]
// CHECK: gpu.barrier
// CHECK: %[[P0:.*]] = memref.load %[[PART_SUMS]]
// CHECK: %[[P1:.*]] = memref.load %[[PART_SUMS]]
// CHECK: %[[SUM:.*]] = arith.addf %[[P0]], %[[P1]] : f32
// CHECK: memref.store %[[SUM]], %{{.*}} : memref<?x1x128xf32>
// CHECK: gpu.launch {{.*}} module(@linear_r8) function(@linear_r8)
func.func @int4_split(%x: tensor<?x1x8192xf32>, %q: tensor<128x4096xi8>,
                      %s: tensor<128x128xf16>) -> tensor<?x1x128xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x8192xf32>, tensor<128x4096xi8>, tensor<128x128xf16>) -> tensor<?x1x128xf32>
  return %y : tensor<?x1x128xf32>
}

// A shorter row (K = 2048, 64 steps) of at most 1024 channels (the adapter's
// x A^T of the MLP input): split over two warps in blocks of 4 warps (128
// threads) on 4 channels, a grid of 128 / 4 blocks; the partial sums of 4
// warps x 2 channels.
// CHECK-LABEL: func.func @int4_split_narrow
// CHECK: arith.divui %{{.*}}, %c4 : index
// CHECK: gpu.launch blocks({{.*}}) threads(%[[TX:[a-z0-9]+]], {{.*}} in (%{{.*}} = %c128, {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: %[[LANE:.*]] = arith.remui %[[TX]], %c32
// CHECK: %[[WARP:.*]] = arith.divui %[[TX]], %c32
// CHECK: %[[PART:.*]] = arith.remui %[[WARP]], %c2
// CHECK: memref.get_global @zamba2_workgroup_f32x8
// CHECK: gpu.launch {{.*}} module(@linear_r8) function(@linear_r8)
func.func @int4_split_narrow(%x: tensor<?x1x2048xf32>, %q: tensor<128x1024xi8>,
                             %s: tensor<128x32xf16>) -> tensor<?x1x128xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<128x1024xi8>, tensor<128x32xf16>) -> tensor<?x1x128xf32>
  return %y : tensor<?x1x128xf32>
}

// CHECK-LABEL: func.func @int8_asym
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: %[[XS8:.*]] = memref.get_global @zamba2_workgroup_4f32x128
// CHECK: gpu.barrier
// CHECK: %[[BYTES:.*]] = vector.load %{{.*}} {alignment = 16 : i64} : memref<16x512xi8>, vector<16xi8>
// CHECK: %[[WORDS:.*]] = vector.bitcast %[[BYTES]] : vector<16xi8> to vector<4xi32>
// CHECK: %[[Z:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: %[[ZV:.*]] = vector.broadcast %[[Z]] : i32 to vector<4xi32>
// CHECK-NOT: arith.xori
// CHECK: %[[ZH:.*]] = arith.uitofp %[[ZV]] : vector<4xi32> to vector<4xf16>
// CHECK: %[[ZP:.*]] = vector.shuffle %[[ZH]], %[[ZH]] [0, 0, 1, 1, 2, 2, 3, 3] : vector<4xf16>, vector<4xf16>
// CHECK: %[[DOWN:.*]] = arith.shrui %[[WORDS]], %{{.*}} : vector<4xi32>
// CHECK: %[[M0:.*]] = arith.constant dense<16711935> : vector<4xi32>
// CHECK: %[[LOW:.*]] = arith.andi %[[WORDS]], %[[M0]] : vector<4xi32>
// CHECK: %[[B0:.*]] = arith.ori %[[LOW]], %{{.*}} : vector<4xi32>
// CHECK: %[[H0:.*]] = vector.bitcast %[[B0]] : vector<4xi32> to vector<8xf16>
// CHECK: %[[C0:.*]] = arith.constant dense<1.024000e+03> : vector<8xf16>
// CHECK: %[[Z0:.*]] = arith.addf %[[C0]], %[[ZP]] : vector<8xf16>
// CHECK: %[[V0:.*]] = arith.subf %[[H0]], %[[Z0]] : vector<8xf16>
// CHECK: arith.extf %[[V0]] : vector<8xf16> to vector<8xf32>
// CHECK: arith.andi %[[DOWN]], %{{.*}} : vector<4xi32>
// CHECK-COUNT-4: memref.load %[[XS8]][%{{.*}}] : memref<128xvector<4xf32>, #gpu.address_space<workgroup>>
// CHECK: vector.shuffle %{{.*}} [0, 4, 8, 12]
// CHECK: module(@linear_r8) function(@linear_r8)
// CHECK: vector.load %{{.*}} {alignment = 4 : i64} : memref<16x512xi8>, vector<4xi8>
// CHECK: %[[Z8:.*]] = arith.extui %{{.*}} : i8 to i32
// CHECK: %[[W8:.*]] = vector.from_elements %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK: %[[ZV8:.*]] = vector.from_elements %[[Z8]], %{{.*}}, %{{.*}}, %{{.*}} : vector<4xi32>
// CHECK: %[[LOW8:.*]] = arith.andi %[[W8]], %{{.*}} : vector<4xi32>
// CHECK: arith.subi %[[LOW8]], %[[ZV8]] : vector<4xi32>
// CHECK: vector.load %{{.*}} : memref<?x1x512xf32>, vector<4xf32>
func.func @int8_asym(%x: tensor<?x1x512xf32>, %q: tensor<16x512xi8>,
                     %s: tensor<16x16xf32>, %z: tensor<16x16xi8>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x, %q scales %s zeros %z asymmetric {bits = 8 : i64, group_size = 32 : i64} : (tensor<?x1x512xf32>, tensor<16x512xi8>, tensor<16x16xf32>, tensor<16x16xi8>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// CHECK-LABEL: func.func @int8_narrow
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK-NOT: memref.get_global
// CHECK: vector.load %{{.*}} {alignment = 8 : i64} : memref<4x24xi8>, vector<8xi8>
// CHECK-COUNT-8: vector.extract
func.func @int8_narrow(%x: tensor<?x1x24xf32>, %q: tensor<4x24xi8>,
                       %s: tensor<4x3xf32>) -> tensor<?x1x4xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 8 : i64, group_size = 8 : i64} : (tensor<?x1x24xf32>, tensor<4x24xi8>, tensor<4x3xf32>) -> tensor<?x1x4xf32>
  return %y : tensor<?x1x4xf32>
}

// `into`: the kernel adds the base as it stores each output (no kernel of
// its own for the addition), loaded at its start (where the lane's pair is
// in range) so that its latency passes with the product's.
// CHECK-LABEL: func.func @int4_into
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: %[[B:.*]] = scf.if
// CHECK-NEXT: memref.load %{{.*}} : memref<?x1x16xf32>
// CHECK: gpu.shuffle  xor
// CHECK: %[[V:.*]] = arith.addf %{{.*}}, %[[B]] : f32
// CHECK: memref.store %[[V]]
// CHECK-NOT: gpu.launch {{.*}} module(@loop)
// CHECK: return
func.func @int4_into(%x: tensor<?x1x64xf32>, %q: tensor<16x32xi8>,
                     %s: tensor<16x1xf16>, %r: tensor<?x1x16xf32>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x, %q scales %s into %r symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x64xf32>, tensor<16x32xi8>, tensor<16x1xf16>, tensor<?x1x16xf32>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// An adapter product (the quantized lora_linear): the same kernel sums
// mid B^T into the accumulators of x W^T before the warp sums (one row: B's
// 16-byte steps, loaded before the wait like W's, with mid read from global
// memory after it; eight rows: B one channel at a time), then stores once;
// no other kernel. B's rows are 2 steps, fewer than a warp's lanes: the
// lanes from 2 on load the last step (min) and keep their sums (select).
// CHECK-LABEL: func.func @int4_adapter
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: vector.load %arg1[{{.*}}zamba2.before_wait} : memref<16x512xi8>, vector<16xi8>
// CHECK: %[[STEP:.*]] = arith.minui %{{.*}}, %c1{{.*}} : index
// CHECK: memref.load %arg5[{{.*}} {zamba2.before_wait} : memref<16x1xf16>
// CHECK: vector.load %arg4[{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<16x32xi8>, vector<16xi8>
// CHECK: gpu.barrier
// CHECK: vector.load %arg3[{{.*}} : memref<?x1x64xf32>, vector<32xf32>
// CHECK: %[[IN:.*]] = arith.cmpi ult, %{{.*}}, %c2{{.*}} : index
// CHECK: arith.select %[[IN]], %{{.*}}, %{{.*}} : vector<4xf32>
// CHECK: gpu.shuffle  xor
// CHECK: memref.store
// CHECK: gpu.terminator
// CHECK: gpu.launch {{.*}} module(@linear_r8) function(@linear_r8)
// CHECK: vector.load %arg1[{{.*}} : memref<16x512xi8>, vector<4xi8>
// CHECK: vector.load %arg4[{{.*}} : memref<16x32xi8>, vector<4xi8>
// CHECK: memref.load %arg3[{{.*}} : memref<?x1x64xf32>
// CHECK: gpu.shuffle  xor
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @int4_adapter(%x: tensor<?x1x1024xf32>, %q: tensor<16x512xi8>, %s: tensor<16x16xf16>,
                        %m: tensor<?x1x64xf32>, %bq: tensor<16x32xi8>, %bs: tensor<16x1xf16>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x, %q scales %s adapter(%m, %bq scales %bs) symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x1024xf32>, tensor<16x512xi8>, tensor<16x16xf16>, tensor<?x1x64xf32>, tensor<16x32xi8>, tensor<16x1xf16>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// An asymmetric adapter (its zeros loaded with its scales) on a linear that
// normalises its input: one row, the block stages x times the norm's
// weights (loaded before the wait) and sums the squares of x (the barrier,
// the rsqrt); the main product's sums (2 channels per warp) are scaled by
// that rsqrt, then the adapter's product (not scaled) joins them; its
// scales, steps and zeros are loaded before the wait; several rows, the norm kernel
// writes the rows first, then the 8-row kernel with both products.
// CHECK-LABEL: func.func @int8_asym_adapter_normed
// CHECK: gpu.launch {{.*}} module(@linear_r1) function(@linear_r1)
// CHECK: memref.load %arg7[{{.*}} {zamba2.before_wait} : memref<16x2xf32>
// CHECK: vector.load %arg6[{{.*}}zamba2.before_wait} : memref<16x64xi8>, vector<16xi8>
// CHECK: memref.load %arg8[{{.*}} {zamba2.before_wait} : memref<16x2xi8>
// CHECK: %[[NW:.*]] = vector.load %arg1[{{.*}}zamba2.before_wait} : memref<512xf32>, vector<4xf32>
// CHECK: %[[V:.*]] = vector.load %arg0[
// CHECK: arith.mulf %[[V]], %[[NW]] : vector<4xf32>
// CHECK: arith.mulf %[[V]], %[[V]] : vector<4xf32>
// CHECK: gpu.barrier
// CHECK: %[[INV:.*]] = math.rsqrt
// CHECK-NOT: gpu.barrier
// CHECK-COUNT-2: arith.mulf %{{.*}}, %[[INV]] : f32
// CHECK-NOT: gpu.barrier
// CHECK-NOT: %[[INV]]
// CHECK: vector.load %arg5[{{.*}} : memref<?x1x64xf32>, vector<16xf32>
// CHECK-NOT: %[[INV]]
// CHECK: gpu.terminator
// CHECK: gpu.launch {{.*}} module(@rms_norm) function(@rms_norm)
// CHECK: gpu.launch {{.*}} module(@linear_r8) function(@linear_r8)
// CHECK: memref.load %arg7[{{.*}} : memref<16x2xf32>
// CHECK: memref.load %arg8[{{.*}} : memref<16x2xi8>
// CHECK: vector.load %arg6[{{.*}} : memref<16x64xi8>, vector<8xi8>
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: return
func.func @int8_asym_adapter_normed(%x: tensor<?x1x512xf32>, %nw: tensor<512xf32>, %q: tensor<16x512xi8>, %s: tensor<16x16xf32>, %z: tensor<16x16xi8>,
                                    %m: tensor<?x1x64xf32>, %bq: tensor<16x64xi8>, %bs: tensor<16x2xf32>, %bz: tensor<16x2xi8>) -> tensor<?x1x16xf32> {
  %y = zamba2.quant_linear %x normed %nw, %q scales %s zeros %z adapter(%m, %bq scales %bs zeros %bz) asymmetric {bits = 8 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64} : (tensor<?x1x512xf32>, tensor<16x512xi8>, tensor<16x16xf32>, tensor<16x16xi8>, tensor<?x1x64xf32>, tensor<16x64xi8>, tensor<16x2xf32>, tensor<16x2xi8>, tensor<512xf32>) -> tensor<?x1x16xf32>
  return %y : tensor<?x1x16xf32>
}

// One row: x staged through shared memory, 16-byte loads of weights, two
// fields an and, an or (one LOP3) and an f16x2 add or FMA, widened to f32
// (fields 1 and 5: and 0x00F000F0, or 0x64006400, times 2^-4 (0x2C00) less
// 72 (0xD480) in both halves), no int-to-float conversion; 8 rows: 32-bit
// words, field j a bit-field extract and a conversion.
// PTX: .visible .entry linear_r1(
// PTX: st.shared.v4.b32
// PTX: bar.sync
// PTX: ld.global.v4.b32
// PTX: xor.b32 {{.*}}, -2004318072;
// PTX: and.b32 [[F1:%r[0-9]+]], {{.*}}, 15728880;
// PTX: or.b32 [[B1:%r[0-9]+]], [[F1]], 1677747200;
// PTX: mov.b32 [[C1:%r[0-9]+]], -729754496;
// PTX: mov.b32 [[S1:%r[0-9]+]], 738208768;
// PTX: fma.rn.f16x2 {{.*}}, {{%r[0-9]+}}, [[S1]], [[C1]];
// PTX: cvt.f32.f16
// PTX: ld.shared.v4.b32
// PTX-NOT: cvt.rn.f32.s32
// PTX: .visible .entry linear_r8(
// PTX: ld.global.b32
// PTX: bfe.s32 {{.*}}, 4;
// PTX: cvt.rn.f32.s32
