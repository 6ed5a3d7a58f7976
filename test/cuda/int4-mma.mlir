// zamba2-gpu-int4-mma: the one-row GEMV of symmetric int4 weights on the
// integer tensor cores (GpuLinearKernels.cpp, "Integer tensor cores").
// REQUIRES: cuda-toolkit
// RUN: zamba2-opt %s --zamba2-gpu-int4-mma --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s
// Without the pass (the module unmarked), the f16-pair form of
// quant-linear.mlir.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s --check-prefix=OFF
// OFF-NOT: nvvm.mma.sync
// OFF-NOT: linear_mma_r1

// K = 2048, 1024 channels: blocks of 8 warps (256 threads) on a tile of 16
// channels (a grid of 64), each warp on one slice of 256 weights. Lane 4 g + t
// loads, before the dependent-launch wait, 16 bytes at 16 t and at 64 + 16 t
// of the warp's slice of channels g and g + 8, and the scale of each one's
// group. x is staged (f32, 8 elements a read), then each thread makes the
// digits of one 8-element word: the block of 64's largest |x| over 8 threads
// (xor shuffles 1, 2, 4), X = round(x 2^e) as i32, X + 0x808080 xor 0x808080
// (the balanced digits as bytes), the bytes permuted into 4 planes (even
// elements, then odd ones), one vector<2xi32> a plane; the thread of the
// block's first word stores 2^-e. Each warp runs 8 mma.sync m16n8k32 s8 x s8
// (2 groups of 4 words), A the words' nibbles times 16 (and 0xF0F0F0F0, and
// shifted up by 4), B a plane's pair (zero in the lanes of the other
// group); a lane's two digit sums c0 + 256 c1 and its partner's (xor 1) make
// the group's sum in 64 bits, converted to f32 once; the groups' sums of the
// lanes t and t xor 2 are added, and an idx shuffle gives lane l channel
// l / 2 for the warps' partial sums in workgroup memory (8 x 16 f32).
// CHECK-LABEL: func.func @int4_mma
// CHECK: gpu.launch {{.*}} threads({{.*}} in (%{{.*}} = %c256, {{.*}} module(@linear_mma_r1) function(@linear_mma_r1)
// CHECK-COUNT-2: vector.load %{{.*}} {alignment = 16 : i64, zamba2.before_wait{{.*}}} : memref<1024x1024xi8>, vector<16xi8>
// CHECK: memref.load %{{.*}} {zamba2.before_wait} : memref<1024x32xf16>
// CHECK-COUNT-2: vector.load %{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<1024x1024xi8>, vector<16xi8>
// CHECK: memref.load %{{.*}} {zamba2.before_wait} : memref<1024x32xf16>
// CHECK: %[[XS:.*]] = memref.get_global @zamba2_workgroup_4f32x512
// CHECK: gpu.barrier
// CHECK: %[[PLANES:.*]] = memref.get_global @zamba2_workgroup_2i32x1024 : memref<1024xvector<2xi32>, #gpu.address_space<workgroup>>
// CHECK: %[[INV:.*]] = memref.get_global @zamba2_workgroup_i32x32 : memref<32xi32, #gpu.address_space<workgroup>>
// CHECK-COUNT-2: memref.load %[[XS]]
// CHECK: vector.reduction <maximumf>
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c4_i32
// CHECK: math.roundeven %{{.*}} : vector<8xf32>
// CHECK: arith.fptosi %{{.*}} : vector<8xf32> to vector<8xi32>
// CHECK: %[[BIAS:.*]] = arith.constant dense<8421504> : vector<8xi32>
// CHECK: %[[ADDED:.*]] = arith.addi %{{.*}}, %[[BIAS]] : vector<8xi32>
// CHECK: arith.xori %[[ADDED]], %{{.*}} : vector<8xi32>
// CHECK: vector.shuffle %{{.*}}, %{{.*}} [0, 8, 16, 24, 4, 12, 20, 28, 1, 9, 17, 25, 5, 13, 21, 29, 2, 10, 18, 26, 6, 14, 22, 30, 3, 11, 19, 27, 7, 15, 23, 31] : vector<32xi8>, vector<32xi8>
// CHECK-COUNT-4: memref.store %{{.*}}, %[[PLANES]][%{{.*}}] : memref<1024xvector<2xi32>, #gpu.address_space<workgroup>>
// CHECK: memref.store %{{.*}}, %[[INV]][%{{.*}}] : memref<32xi32, #gpu.address_space<workgroup>>
// CHECK: gpu.barrier
// CHECK: %[[PARTIAL:.*]] = memref.get_global @zamba2_workgroup_f32x128
// CHECK: %[[ODD:.*]] = arith.andi %{{.*}}, %c-252645136_i32 : i32
// CHECK: %[[UP:.*]] = arith.shli %{{.*}}, %c4_i32{{.*}} : i32
// CHECK: %[[EVEN:.*]] = arith.andi %[[UP]], %c-252645136_i32{{.*}} : i32
// CHECK: %[[PAIR:.*]] = memref.load %[[PLANES]][%{{.*}}] : memref<1024xvector<2xi32>, #gpu.address_space<workgroup>>
// CHECK: arith.select %{{.*}}, %[[PAIR]], %{{.*}} : vector<2xi32>
// CHECK: nvvm.mma.sync A[%[[EVEN]], %{{.*}}, %[[ODD]], %{{.*}}]  B[%{{.*}}, %{{.*}}]  C[{{.*}}]  {intOverflowBehavior = #nvvm.mma_int_overflow<wrapped>, layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>, multiplicandAPtxType = #nvvm.mma_type<s8>, multiplicandBPtxType = #nvvm.mma_type<s8>, shape = #nvvm.shape<m = 16, n = 8, k = 32>} : (i32, i32, i32) -> !llvm.struct<(i32, i32, i32, i32)>
// CHECK-COUNT-3: nvvm.mma.sync
// CHECK: memref.load %[[INV]]
// CHECK: arith.shli %{{.*}}, %c8_i32 : i32
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32{{.*}} : i32
// CHECK: arith.extsi %{{.*}} : i32 to i64
// CHECK: %[[HIGH:.*]] = arith.extsi %{{.*}} : i32 to i64
// CHECK: arith.shli %[[HIGH]], %c16_i64 : i64
// CHECK: arith.sitofp %{{.*}} : i64 to f32
// CHECK-COUNT-4: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32{{.*}} : f32
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32{{.*}} : f32
// CHECK: gpu.shuffle  idx
// CHECK: gpu.shuffle  idx
// CHECK: memref.store %{{.*}}, %[[PARTIAL]]
// CHECK: gpu.barrier
// CHECK: module(@linear_r8) function(@linear_r8)
// CHECK-NOT: nvvm.mma.sync
// CHECK: return
func.func @int4_mma(%x: tensor<?x1x2048xf32>, %q: tensor<1024x1024xi8>,
                    %s: tensor<1024x32xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<1024x1024xi8>, tensor<1024x32xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}

// K = 512, 4224 channels (a grid of 264 one-tile blocks): two tiles a block
// (32 channels, 132 blocks) of 2 warps (64 threads), groups of 128 (two
// blocks of x's powers of two each). Each lane preloads both tiles' words
// (4 x 2 loads of 16 bytes) and runs 8 mma.sync a tile; 4 idx shuffles give
// lane l channel l of the block, and the warps' partial sums are 2 x 32 f32.
// CHECK-LABEL: func.func @int4_mma_two_tiles
// CHECK: arith.divui %{{.*}}, %c32 : index
// CHECK: threads({{.*}} in (%{{.*}} = %c64, {{.*}} module(@linear_mma_r1) function(@linear_mma_r1)
// CHECK-COUNT-8: vector.load %{{.*}} {alignment = 16 : i64, zamba2.before_wait{{.*}}} : memref<4224x256xi8>, vector<16xi8>
// CHECK-NOT: vector.load %{{.*}} : memref<4224x256xi8>, vector<16xi8>
// CHECK: memref.get_global @zamba2_workgroup_f32x64
// CHECK-COUNT-16: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK-COUNT-4: gpu.shuffle  idx
// CHECK: module(@linear_r8) function(@linear_r8)
func.func @int4_mma_two_tiles(%x: tensor<?x1x512xf32>, %q: tensor<4224x256xi8>,
                              %s: tensor<4224x4xf16>) -> tensor<?x1x4224xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 128 : i64} : (tensor<?x1x512xf32>, tensor<4224x256xi8>, tensor<4224x4xf16>) -> tensor<?x1x4224xf32>
  return %y : tensor<?x1x4224xf32>
}

// K = 768: three slices, blocks of 3 warps (96 threads), one slice each.
// CHECK-LABEL: func.func @int4_mma_three_warps
// CHECK: threads({{.*}} in (%{{.*}} = %c96, {{.*}} module(@linear_mma_r1) function(@linear_mma_r1)
// CHECK-COUNT-4: vector.load %{{.*}} {alignment = 16 : i64, zamba2.before_wait{{.*}}} : memref<1024x384xi8>, vector<16xi8>
// CHECK-NOT: vector.load %{{.*}} : memref<1024x384xi8>, vector<16xi8>
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r8) function(@linear_r8)
func.func @int4_mma_three_warps(%x: tensor<?x1x768xf32>, %q: tensor<1024x384xi8>,
                                %s: tensor<1024x12xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x768xf32>, tensor<1024x384xi8>, tensor<1024x12xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}

// With an adapter product (x A^T) B^T, B int4 of rank 128: each of the 8
// warps also adds the adapter product of 2 of the block's 16 channels. Its
// lanes 4 c + i load, before the wait, 16 bytes of channel c's B row at 16 i
// and their group's scale; after the mma, 32 elements of x A^T, their f32
// products with the fields, the scale, the sum over the row's 4 lanes (xor
// shuffles 2, 1) and an idx shuffle to the lanes holding the channel.
// CHECK-LABEL: func.func @int4_mma_adapter
// CHECK: threads({{.*}} in (%{{.*}} = %c256, {{.*}} module(@linear_mma_r1) function(@linear_mma_r1)
// CHECK-COUNT-4: vector.load %{{.*}} {alignment = 16 : i64, zamba2.before_wait{{.*}}} : memref<1024x1024xi8>, vector<16xi8>
// CHECK: vector.load %{{.*}} {alignment = 16 : i64, zamba2.before_wait} : memref<1024x64xi8>, vector<16xi8>
// CHECK: memref.load %{{.*}} {zamba2.before_wait} : memref<1024x2xf16>
// CHECK: gpu.barrier
// CHECK: gpu.barrier
// CHECK-COUNT-8: nvvm.mma.sync
// CHECK-NOT: nvvm.mma.sync
// CHECK: gpu.shuffle  idx
// CHECK: gpu.shuffle  idx
// CHECK-COUNT-8: vector.load %{{.*}} : memref<?x1x128xf32>, vector<4xf32>
// CHECK-COUNT-8: vector.fma %{{.*}} : vector<4xf32>
// CHECK: vector.reduction <add>
// CHECK: gpu.shuffle  xor %{{.*}}, %c2_i32{{.*}} : f32
// CHECK: gpu.shuffle  xor %{{.*}}, %c1_i32{{.*}} : f32
// CHECK-NOT: gpu.shuffle  xor
// CHECK: gpu.shuffle  idx
// CHECK: memref.store %{{.*}} : memref<128xf32, #gpu.address_space<workgroup>>
// CHECK: module(@linear_r8) function(@linear_r8)
func.func @int4_mma_adapter(%x: tensor<?x1x2048xf32>, %q: tensor<1024x1024xi8>,
                            %s: tensor<1024x32xf16>, %m: tensor<?x1x128xf32>,
                            %bq: tensor<1024x64xi8>, %bs: tensor<1024x2xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s adapter(%m, %bq scales %bs) symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<1024x1024xi8>, tensor<1024x32xf16>, tensor<?x1x128xf32>, tensor<1024x64xi8>, tensor<1024x2xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}

// An adapter of rank 256 on rows of 512 (2 warps a block, 8 channels each):
// 64 (channel, 16-byte chunk) pairs a warp, more than its lanes, so the
// f16-pair form.
// CHECK-LABEL: func.func @int4_adapter_too_wide
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r1) function(@linear_r1)
func.func @int4_adapter_too_wide(%x: tensor<?x1x512xf32>, %q: tensor<1024x256xi8>,
                                 %s: tensor<1024x8xf16>, %m: tensor<?x1x256xf32>,
                                 %bq: tensor<1024x128xi8>, %bs: tensor<1024x4xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s adapter(%m, %bq scales %bs) symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x512xf32>, tensor<1024x256xi8>, tensor<1024x8xf16>, tensor<?x1x256xf32>, tensor<1024x128xi8>, tensor<1024x4xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}

// Not the tensor-core form: groups of 32 (a lane's 64 weights would span
// two), rows not whole slices (K = 320), rows longer than 2048, fewer than
// 1024 channels, int8, asymmetric int4.
// CHECK-LABEL: func.func @int4_group32
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r1) function(@linear_r1)
// CHECK-LABEL: func.func @int4_k320
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r1) function(@linear_r1)
// CHECK-LABEL: func.func @int4_k4096
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r1) function(@linear_r1)
// CHECK-LABEL: func.func @int4_narrow
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r1) function(@linear_r1)
// CHECK-LABEL: func.func @int8
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r1) function(@linear_r1)
// CHECK-LABEL: func.func @int4_asym
// CHECK-NOT: nvvm.mma.sync
// CHECK: module(@linear_r1) function(@linear_r1)
// CHECK-NOT: nvvm.mma.sync
func.func @int4_group32(%x: tensor<?x1x2048xf32>, %q: tensor<1024x1024xi8>,
                        %s: tensor<1024x64xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x2048xf32>, tensor<1024x1024xi8>, tensor<1024x64xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}
func.func @int4_k320(%x: tensor<?x1x320xf32>, %q: tensor<1024x160xi8>,
                     %s: tensor<1024x5xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x320xf32>, tensor<1024x160xi8>, tensor<1024x5xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}
func.func @int4_k4096(%x: tensor<?x1x4096xf32>, %q: tensor<1024x2048xi8>,
                      %s: tensor<1024x64xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x4096xf32>, tensor<1024x2048xi8>, tensor<1024x64xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}
func.func @int4_narrow(%x: tensor<?x1x2048xf32>, %q: tensor<128x1024xi8>,
                       %s: tensor<128x32xf16>) -> tensor<?x1x128xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<128x1024xi8>, tensor<128x32xf16>) -> tensor<?x1x128xf32>
  return %y : tensor<?x1x128xf32>
}
func.func @int8(%x: tensor<?x1x2048xf32>, %q: tensor<1024x2048xi8>,
                %s: tensor<1024x32xf16>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 8 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<1024x2048xi8>, tensor<1024x32xf16>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}
func.func @int4_asym(%x: tensor<?x1x2048xf32>, %q: tensor<1024x1024xi8>,
                     %s: tensor<1024x32xf16>, %z: tensor<1024x32xi8>) -> tensor<?x1x1024xf32> {
  %y = zamba2.quant_linear %x, %q scales %s zeros %z asymmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x2048xf32>, tensor<1024x1024xi8>, tensor<1024x32xf16>, tensor<1024x32xi8>) -> tensor<?x1x1024xf32>
  return %y : tensor<?x1x1024xf32>
}
