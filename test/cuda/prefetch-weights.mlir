// zamba2-prefetch-weights: the linear kernels begin with one bulk prefetch
// into L2 per weight tensor (thread 0 of the blocks of x index 0), of the
// rows of the block's channels (8 for the one-row int4 kernel: 4 warps x 2
// channels; 4 for bf16), marked zamba2.before_wait for the dependent-launch
// wait to go after. A tensor whose rows are not whole 16-byte units (one
// f16 scale per row below) is not prefetched. Without the pass: none.
// RUN: zamba2-opt %s --zamba2-prefetch-weights --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -split-input-file | FileCheck %s
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -split-input-file | FileCheck %s --check-prefix=NONE
// NONE-NOT: prefetch

// CHECK: module attributes {zamba2.prefetch_weights}
// CHECK-LABEL: func.func @quant
// CHECK-SAME: %[[Q:[a-z0-9]+]]: memref<64x256xi8>, %[[S:[a-z0-9]+]]: memref<64x8xf16>
// CHECK: gpu.launch blocks(%[[BX:.*]], %[[BY:.*]], %{{.*}}) in {{.*}} threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in {{.*}} module(@linear_r1)
// CHECK-NEXT: %[[C8:.*]] = arith.constant 8 : index
// CHECK-NEXT: %[[FIRST:.*]] = arith.muli %[[BY]], %[[C8]]
// CHECK: %[[LEFT:.*]] = arith.subi %{{.*}}, %[[FIRST]]
// CHECK-NEXT: %[[COUNT:.*]] = arith.minui %{{.*}}, %[[LEFT]]
// CHECK: arith.cmpi eq, %[[TX]]
// CHECK: arith.cmpi eq, %[[BX]]
// CHECK: scf.if
// CHECK-NEXT: %[[P:.*]] = memref.extract_aligned_pointer_as_index %[[Q]]
// CHECK-NEXT: arith.constant 256 : index
// CHECK-NEXT: %[[OFF:.*]] = arith.muli %[[FIRST]]
// CHECK-NEXT: %[[AT:.*]] = arith.addi %[[P]], %[[OFF]]
// CHECK: %[[N:.*]] = arith.muli %[[COUNT]]
// CHECK-NEXT: %[[A64:.*]] = arith.index_castui %[[AT]] : index to i64
// CHECK-NEXT: %[[PTR:.*]] = llvm.inttoptr %[[A64]] : i64 to !llvm.ptr<1>
// CHECK-NEXT: %[[N32:.*]] = arith.index_castui %[[N]] : index to i32
// CHECK-NEXT: nvvm.cp.async.bulk.prefetch %[[PTR]], %[[N32]]
// CHECK-NEXT: } {zamba2.before_wait, zamba2.one_row}
// CHECK: scf.if
// CHECK-NEXT: memref.extract_aligned_pointer_as_index %[[S]]
// CHECK-NEXT: arith.constant 16 : index
// CHECK: nvvm.cp.async.bulk.prefetch
// CHECK-NEXT: } {zamba2.before_wait}
// The product after them.
// CHECK: memref.get_global @zamba2_workgroup_4f32x128
func.func @quant(%x: tensor<?x1x512xf32>, %q: tensor<64x256xi8>, %s: tensor<64x8xf16>) -> tensor<?x1x64xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x512xf32>, tensor<64x256xi8>, tensor<64x8xf16>) -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}

// -----

// CHECK-LABEL: func.func @one_scale_per_row
// CHECK-SAME: %[[Q:[a-z0-9]+]]: memref<64x32xi8>, %[[S:[a-z0-9]+]]: memref<64x1xf16>
// CHECK: module(@linear_r1)
// CHECK: memref.extract_aligned_pointer_as_index %[[Q]]
// CHECK: nvvm.cp.async.bulk.prefetch
// CHECK-NOT: memref.extract_aligned_pointer_as_index %[[S]]
// CHECK: module(@linear_r8)
func.func @one_scale_per_row(%x: tensor<?x1x64xf32>, %q: tensor<64x32xi8>, %s: tensor<64x1xf16>) -> tensor<?x1x64xf32> {
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x1x64xf32>, tensor<64x32xi8>, tensor<64x1xf16>) -> tensor<?x1x64xf32>
  return %y : tensor<?x1x64xf32>
}

// -----

// bf16 weights, one channel per warp: 4 rows of 1024 bytes per block; the
// LoRA adapter's B rows (16 bf16: 32 bytes) too.
// CHECK-LABEL: func.func @lora_linear
// CHECK-SAME: %{{[a-z0-9]+}}: memref<?x1x512xf32>, %[[W:[a-z0-9]+]]: memref<128x512xbf16>, %[[A:[a-z0-9]+]]: memref<16x512xbf16>, %[[B:[a-z0-9]+]]: memref<128x16xbf16>
// CHECK: module(@linear_r1)
// CHECK-NEXT: %[[C4:.*]] = arith.constant 4 : index
// CHECK-NEXT: arith.muli %{{.*}}, %[[C4]]
// CHECK: memref.extract_aligned_pointer_as_index %[[W]]
// CHECK-NEXT: arith.constant 1024 : index
// CHECK: nvvm.cp.async.bulk.prefetch
// CHECK: memref.extract_aligned_pointer_as_index %[[B]]
// CHECK-NEXT: arith.constant 32 : index
// CHECK: nvvm.cp.async.bulk.prefetch
func.func @lora_linear(%x: tensor<?x1x512xf32>, %w: tensor<128x512xbf16>, %a: tensor<16x512xbf16>, %b: tensor<128x16xbf16>) -> tensor<?x1x128xf32> {
  %y = zamba2.lora_linear %x, %w adapter(%a, %b) : (tensor<?x1x512xf32>, tensor<128x512xbf16>, tensor<16x512xbf16>, tensor<128x16xbf16>) -> tensor<?x1x128xf32>
  return %y : tensor<?x1x128xf32>
}
