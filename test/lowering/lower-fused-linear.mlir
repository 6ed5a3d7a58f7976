// Structure of the lora_linear and quant_linear lowerings.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg -split-input-file | FileCheck %s

// lora_linear: x W^T into the f32 output, the rank-8 intermediate x A^T
// computed once, then (x A^T) B^T accumulated into the output. No
// [Out, In] = [96, 64] tensor (W + B A) is ever built.
// CHECK-LABEL: func.func @lora_linear
// CHECK-NOT: zamba2.
// CHECK-NOT: tensor.empty() : tensor<96x64x
// CHECK: tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x96xf32>
// CHECK-NOT: tensor.empty() : tensor<96x64x
// CHECK: tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x8xf32>
// CHECK-NOT: tensor.empty() : tensor<96x64x
// CHECK: return
func.func @lora_linear(%x: tensor<?x?x64xf32>, %w: tensor<96x64xbf16>, %a: tensor<8x64xbf16>, %b: tensor<96x8xbf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.lora_linear %x, %w adapter(%a, %b) : (tensor<?x?x64xf32>, tensor<96x64xbf16>, tensor<8x64xbf16>, tensor<96x8xbf16>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// Groups that are not a multiple of 16 weights take the generic form.
// 4-bit asymmetric, group size 8: one contraction over (group, byte, nibble)
// with x viewed as [B, T, 8, 4, 2] and the packed bytes as [96, 8, 4]; the
// body picks the low nibble (element 2j) or the high nibble (2j + 1), reads
// it and the zero point unsigned and scales by the f16 group scale: the
// weight is dequantized inside the loop, never stored. The bias initialises
// the accumulator.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d3, d4, d5)>
// CHECK-DAG: #[[P:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2, d3, d4)>
// CHECK-DAG: #[[G:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d2, d3)>
// CHECK-DAG: #[[O:.*]] = affine_map<(d0, d1, d2, d3, d4, d5) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @quant4_asymmetric
// CHECK-NOT: zamba2.
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%arg4 : tensor<96xbf16>) outs(%{{.*}} : tensor<?x?x96xf32>)
// CHECK: %[[XV:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1], [2, 3, 4]] {{.*}} into tensor<?x?x8x4x2xf32>
// CHECK: %[[PV:.*]] = tensor.expand_shape %arg1 {{\[\[}}0], [1, 2]] {{.*}} into tensor<96x8x4xi8>
// CHECK: linalg.generic {indexing_maps = [#[[X]], #[[P]], #[[G]], #[[G]], #[[O]]], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]} ins(%[[XV]], %[[PV]], %arg2, %arg3 : tensor<?x?x8x4x2xf32>, tensor<96x8x4xi8>, tensor<96x8xf16>, tensor<96x8xi8>) outs(%[[INIT]] : tensor<?x?x96xf32>)
// CHECK: %[[NIB:.*]] = linalg.index 5 : index
// CHECK: %[[LO:.*]] = arith.andi %{{.*}}, %c15_i8 : i8
// CHECK: %[[HI:.*]] = arith.shrui %{{.*}}, %c4_i8 : i8
// CHECK: %[[ISHI:.*]] = arith.cmpi ne, %[[NIB]], %c0 : index
// CHECK: %[[QV:.*]] = arith.select %[[ISHI]], %[[HI]], %[[LO]] : i8
// CHECK: %[[QF:.*]] = arith.uitofp %[[QV]] : i8 to f32
// CHECK: %[[ZF:.*]] = arith.uitofp %{{.*}} : i8 to f32
// CHECK: %[[QZ:.*]] = arith.subf %[[QF]], %[[ZF]] : f32
// CHECK: %[[S:.*]] = arith.extf %{{.*}} : f16 to f32
// CHECK: %[[W:.*]] = arith.mulf %[[QZ]], %[[S]] : f32
// CHECK: arith.mulf %{{.*}}, %[[W]] : f32
// CHECK: arith.addf
// CHECK-NOT: tensor<96x64xf32>
func.func @quant4_asymmetric(%x: tensor<?x?x64xf32>, %p: tensor<96x32xi8>, %s: tensor<96x8xf16>, %z: tensor<96x8xi8>, %b: tensor<96xbf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s zeros %z bias %b asymmetric {bits = 4 : i64, group_size = 8 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x8xf16>, tensor<96x8xi8>, tensor<96xbf16>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// 4-bit symmetric: two's complement nibbles, sign-extended by shifts.
// CHECK-LABEL: func.func @quant4_symmetric
// CHECK: linalg.generic
// CHECK: %[[NIB:.*]] = linalg.index 5 : index
// CHECK: %[[SHL:.*]] = arith.shli %[[BYTE:.*]], %c4_i8 : i8
// CHECK: %[[LO:.*]] = arith.shrsi %[[SHL]], %c4_i8 : i8
// CHECK: %[[HI:.*]] = arith.shrsi %[[BYTE]], %c4_i8 : i8
// CHECK: arith.select %{{.*}}, %[[HI]], %[[LO]] : i8
// CHECK: arith.sitofp %{{.*}} : i8 to f32
func.func @quant4_symmetric(%x: tensor<?x?x64xf32>, %p: tensor<96x32xi8>, %s: tensor<96x8xf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s symmetric {bits = 4 : i64, group_size = 8 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x8xf16>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// 8-bit symmetric, group size 8: loops (B, T, o, group, byte); a bf16 result is the f32
// accumulator truncated once at the end.
// CHECK-DAG: #[[X:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d3, d4)>
// CHECK-DAG: #[[P:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3, d4)>
// CHECK-DAG: #[[G:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d2, d3)>
// CHECK-LABEL: func.func @quant8_symmetric
// CHECK: %[[XV:.*]] = tensor.expand_shape %arg0 {{.*}} into tensor<?x?x8x8xf32>
// CHECK: %[[PV:.*]] = tensor.expand_shape %arg1 {{.*}} into tensor<96x8x8xi8>
// CHECK: %[[ACC:.*]] = linalg.generic {indexing_maps = [#[[X]], #[[P]], #[[G]], #{{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[XV]], %[[PV]], %arg2 : {{.*}}) outs(%{{.*}} : tensor<?x?x96xf32>)
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK: linalg.generic {{.*}} ins(%[[ACC]] : tensor<?x?x96xf32>) outs(%{{.*}} : tensor<?x?x96xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
func.func @quant8_symmetric(%x: tensor<?x?x64xf32>, %p: tensor<96x64xi8>, %s: tensor<96x8xf32>) -> tensor<?x?x96xbf16> {
  %y = zamba2.quant_linear %x, %p scales %s symmetric {bits = 8 : i64, group_size = 8 : i64} : (tensor<?x?x64xf32>, tensor<96x64xi8>, tensor<96x8xf32>) -> tensor<?x?x96xbf16>
  return %y : tensor<?x?x96xbf16>
}

// -----

// Groups of a multiple of 16 weights: the vector form, in the row-tiled
// dot-product nest of `linear`. 4 bits: x is de-interleaved once per op
// (each chunk of 32 elements becomes its 16 even elements, then its 16 odd
// ones), as f32. The dot product loops over the groups of row o; per group
// it reads 16 packed bytes per step, sign-extends them to i32 lanes (no byte
// shifts) and takes the low nibbles as v << 28 (2^28 q) and the high ones
// as v & -16 (16 q), converted with no per-element scale and multiplied with
// the even and odd halves of the chunk: the first of the group's two steps
// starts the accumulators (mulf), the second adds to them (fma). Then one
// splat of the group scale folds each into its running total. The powers of
// two come out of the totals at the end.
// CHECK-DAG: #[[PAIRS:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d4, d3)>
// CHECK-DAG: #[[SPLIT:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3, d4)>
// CHECK-LABEL: func.func @quant4_vector
// CHECK-DAG: %[[C28:.*]] = arith.constant dense<28> : vector<16xi32>
// CHECK-DAG: %[[CM16:.*]] = arith.constant dense<-16> : vector<16xi32>
// CHECK-DAG: %[[LOWF:.*]] = arith.constant dense<3.7252903E-9> : vector<16xf32>
// CHECK-DAG: %[[HIGHF:.*]] = arith.constant dense<6.250000e-02> : vector<16xf32>
// CHECK: %[[XP:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1], [2, 3, 4]] {{.*}} into tensor<?x?x4x16x2xf32>
// CHECK: %[[XS:.*]] = linalg.generic {indexing_maps = [#[[PAIRS]], #[[SPLIT]]], {{.*}} ins(%[[XP]] : tensor<?x?x4x16x2xf32>) outs(%{{.*}} : tensor<?x?x4x2x16xf32>)
// CHECK: %[[XD:.*]] = tensor.collapse_shape %[[XS]] {{\[\[}}0], [1], [2, 3, 4]] : tensor<?x?x4x2x16xf32> into tensor<?x?x128xf32>
// CHECK: %[[X2:.*]] = tensor.collapse_shape %[[XD]] {{\[\[}}0, 1], [2]]
// CHECK: scf.for
// CHECK: %[[XT:.*]] = tensor.extract_slice %[[X2]]
// CHECK: linalg.generic
// CHECK: %[[O:.*]] = linalg.index 0 : index
// CHECK: %[[M:.*]] = linalg.index 1 : index
// CHECK: %[[TOT:.*]]:2 = scf.for %[[G:.*]] = %c0 to %c2 step %c1 iter_args(%[[TLO:.*]] = %{{.*}}, %[[THI:.*]] = %{{.*}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK: %[[S:.*]] = tensor.extract %arg2[%[[O]], %[[G]]] : tensor<96x2xf16>
// CHECK: %[[SF:.*]] = arith.extf %[[S]] : f16 to f32
// CHECK: %[[COL:.*]] = arith.muli %[[G]], %c64 : index
// CHECK: %[[BCOL:.*]] = arith.divui %[[COL]], %c2 : index
// CHECK: %[[BYTES:.*]] = vector.transfer_read %arg1[%[[O]], %[[BCOL]]], %{{.*}} {in_bounds = [true]} : tensor<96x64xi8>, vector<16xi8>
// CHECK: %[[V:.*]] = arith.extsi %[[BYTES]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[LO:.*]] = arith.shli %[[V]], %[[C28]] : vector<16xi32>
// CHECK: %[[HI:.*]] = arith.andi %[[V]], %[[CM16]] : vector<16xi32>
// CHECK: %[[ODD:.*]] = arith.addi %[[COL]], %c16 : index
// CHECK: %[[XE:.*]] = vector.transfer_read %[[XT]][%[[M]], %[[COL]]], %{{.*}} {in_bounds = [true]} : tensor<?x?xf32>, vector<16xf32>
// CHECK: %[[LOF:.*]] = arith.sitofp %[[LO]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[ALO:.*]] = arith.mulf %[[XE]], %[[LOF]] : vector<16xf32>
// CHECK: %[[XO:.*]] = vector.transfer_read %[[XT]][%[[M]], %[[ODD]]]
// CHECK: %[[HIF:.*]] = arith.sitofp %[[HI]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[AHI:.*]] = arith.mulf %[[XO]], %[[HIF]] : vector<16xf32>
// CHECK: %[[BYTES2:.*]] = vector.transfer_read %arg1[%[[O]], %{{.*}}]
// CHECK: %[[V2:.*]] = arith.extsi %[[BYTES2]]
// CHECK: %[[LO2:.*]] = arith.shli %[[V2]], %[[C28]]
// CHECK: %[[HI2:.*]] = arith.andi %[[V2]], %[[CM16]]
// CHECK: %[[XE2:.*]] = vector.transfer_read %[[XT]]
// CHECK: %[[LOF2:.*]] = arith.sitofp %[[LO2]]
// CHECK: %[[ALO2:.*]] = vector.fma %[[XE2]], %[[LOF2]], %[[ALO]] : vector<16xf32>
// CHECK: %[[XO2:.*]] = vector.transfer_read %[[XT]]
// CHECK: %[[HIF2:.*]] = arith.sitofp %[[HI2]]
// CHECK: %[[AHI2:.*]] = vector.fma %[[XO2]], %[[HIF2]], %[[AHI]] : vector<16xf32>
// CHECK: %[[SPLAT:.*]] = vector.broadcast %[[SF]] : f32 to vector<16xf32>
// CHECK: %[[NLO:.*]] = vector.fma %[[SPLAT]], %[[ALO2]], %[[TLO]] : vector<16xf32>
// CHECK: %[[NHI:.*]] = vector.fma %[[SPLAT]], %[[AHI2]], %[[THI]] : vector<16xf32>
// CHECK: scf.yield %[[NLO]], %[[NHI]] : vector<16xf32>, vector<16xf32>
// CHECK: %[[SLO:.*]] = arith.mulf %[[TOT]]#0, %[[LOWF]] : vector<16xf32>
// CHECK: %[[SUM:.*]] = vector.fma %[[TOT]]#1, %[[HIGHF]], %[[SLO]] : vector<16xf32>
// CHECK: vector.reduction <add>, %[[SUM]]
// CHECK-NOT: tensor<96x128xf32>
func.func @quant4_vector(%x: tensor<?x?x128xf32>, %p: tensor<96x64xi8>, %s: tensor<96x2xf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x?x128xf32>, tensor<96x64xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// 4-bit asymmetric, group 32 (one step per group), f32 scales: the bytes
// zero-extended, the nibbles v & 15 and v >> 4, the group's zero point
// (unsigned) subtracted as an i32 before the conversion. No scaling to undo:
// the totals are added.
// CHECK-LABEL: func.func @quant4_vector_asymmetric
// CHECK-DAG: %[[C15:.*]] = arith.constant dense<15> : vector<16xi32>
// CHECK-DAG: %[[C4:.*]] = arith.constant dense<4> : vector<16xi32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<?x?x2x16x2xf32>) outs(%{{.*}} : tensor<?x?x2x2x16xf32>)
// CHECK: %[[O:.*]] = linalg.index 0 : index
// CHECK: %[[TOT:.*]]:2 = scf.for %[[G:.*]] = %c0 to %c2 step %c1 iter_args(%[[TLO:.*]] = %{{.*}}, %[[THI:.*]] = %{{.*}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK: %[[S:.*]] = tensor.extract %arg2[%[[O]], %[[G]]] : tensor<96x2xf32>
// CHECK: %[[Z:.*]] = tensor.extract %arg3[%[[O]], %[[G]]] : tensor<96x2xi8>
// CHECK: %[[ZI:.*]] = arith.extui %[[Z]] : i8 to i32
// CHECK: %[[ZV:.*]] = vector.broadcast %[[ZI]] : i32 to vector<16xi32>
// CHECK: %[[BYTES:.*]] = vector.transfer_read %arg1[%[[O]], %{{.*}}]{{.*}} : tensor<96x32xi8>, vector<16xi8>
// CHECK: %[[V:.*]] = arith.extui %[[BYTES]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[LO:.*]] = arith.andi %[[V]], %[[C15]] : vector<16xi32>
// CHECK: %[[HI:.*]] = arith.shrui %[[V]], %[[C4]] : vector<16xi32>
// CHECK: %[[XE:.*]] = vector.transfer_read
// CHECK: %[[LOZ:.*]] = arith.subi %[[LO]], %[[ZV]] : vector<16xi32>
// CHECK: %[[LOF:.*]] = arith.sitofp %[[LOZ]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[ALO:.*]] = arith.mulf %[[XE]], %[[LOF]]
// CHECK: %[[XO:.*]] = vector.transfer_read
// CHECK: %[[HIZ:.*]] = arith.subi %[[HI]], %[[ZV]] : vector<16xi32>
// CHECK: %[[HIF:.*]] = arith.sitofp %[[HIZ]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[AHI:.*]] = arith.mulf %[[XO]], %[[HIF]]
// CHECK: %[[SPLAT:.*]] = vector.broadcast %[[S]] : f32 to vector<16xf32>
// CHECK: %[[NLO:.*]] = vector.fma %[[SPLAT]], %[[ALO]], %[[TLO]]
// CHECK: %[[NHI:.*]] = vector.fma %[[SPLAT]], %[[AHI]], %[[THI]]
// CHECK: scf.yield %[[NLO]], %[[NHI]]
// CHECK: %[[SUM:.*]] = arith.addf %[[TOT]]#0, %[[TOT]]#1 : vector<16xf32>
// CHECK: vector.reduction <add>, %[[SUM]]
func.func @quant4_vector_asymmetric(%x: tensor<?x?x64xf32>, %p: tensor<96x32xi8>, %s: tensor<96x2xf32>, %z: tensor<96x2xi8>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s zeros %z asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf32>, tensor<96x2xi8>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// 8 bits, asymmetric, group 32, bf16 input: x is converted to f32 once (no
// de-interleaving); a step is two vectors of 16 bytes, each zero-extended to
// i32, less the zero point, converted and multiplied with 16 elements of x,
// into two accumulators.
// CHECK-LABEL: func.func @quant8_vector_asymmetric
// CHECK: %[[XF:.*]] = linalg.generic {{.*}} ins(%arg0 : tensor<?x?x64xbf16>) outs(%{{.*}} : tensor<?x?x64xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: tensor.collapse_shape %[[XF]]
// CHECK: %[[O:.*]] = linalg.index 0 : index
// CHECK: %[[TOT:.*]]:2 = scf.for %[[G:.*]] = %c0 to %c2 step %c1 iter_args(%[[T0:.*]] = %{{.*}}, %[[T1:.*]] = %{{.*}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK: %[[Z:.*]] = tensor.extract %arg3[%[[O]], %[[G]]] : tensor<96x2xi8>
// CHECK: %[[ZV:.*]] = vector.broadcast %{{.*}} : i32 to vector<16xi32>
// CHECK: %[[X0:.*]] = vector.transfer_read {{.*}} : tensor<?x?xf32>, vector<16xf32>
// CHECK: %[[B0:.*]] = vector.transfer_read %arg1[%[[O]], %{{.*}}]{{.*}} : tensor<96x64xi8>, vector<16xi8>
// CHECK: %[[V0:.*]] = arith.extui %[[B0]] : vector<16xi8> to vector<16xi32>
// CHECK: %[[Q0:.*]] = arith.subi %[[V0]], %[[ZV]] : vector<16xi32>
// CHECK: %[[F0:.*]] = arith.sitofp %[[Q0]] : vector<16xi32> to vector<16xf32>
// CHECK: %[[A0:.*]] = arith.mulf %[[X0]], %[[F0]]
// CHECK: %[[X1:.*]] = vector.transfer_read {{.*}} : tensor<?x?xf32>, vector<16xf32>
// CHECK: %[[B1:.*]] = vector.transfer_read %arg1[%[[O]], %{{.*}}]{{.*}} : tensor<96x64xi8>, vector<16xi8>
// CHECK: %[[V1:.*]] = arith.extui %[[B1]]
// CHECK: %[[Q1:.*]] = arith.subi %[[V1]], %[[ZV]]
// CHECK: %[[F1:.*]] = arith.sitofp %[[Q1]]
// CHECK: %[[A1:.*]] = arith.mulf %[[X1]], %[[F1]]
// CHECK: %[[SPLAT:.*]] = vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: vector.fma %[[SPLAT]], %[[A0]], %[[T0]]
// CHECK: vector.fma %[[SPLAT]], %[[A1]], %[[T1]]
// CHECK: arith.addf %[[TOT]]#0, %[[TOT]]#1 : vector<16xf32>
func.func @quant8_vector_asymmetric(%x: tensor<?x?x64xbf16>, %p: tensor<96x64xi8>, %s: tensor<96x2xf16>, %z: tensor<96x2xi8>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s zeros %z asymmetric {bits = 8 : i64, group_size = 32 : i64} : (tensor<?x?x64xbf16>, tensor<96x64xi8>, tensor<96x2xf16>, tensor<96x2xi8>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// 4 bits, groups of 16: 8 bytes (16 weights) per step, vectors of 8 lanes,
// x de-interleaved in chunks of 16.
// CHECK-LABEL: func.func @quant4_vector_group16
// CHECK: tensor.expand_shape %arg0 {{.*}} into tensor<?x?x2x8x2xf32>
// CHECK: scf.for %{{.*}} = %c0 to %c2 step %c1 iter_args({{.*}}) -> (vector<8xf32>, vector<8xf32>)
// CHECK: vector.transfer_read %arg1{{.*}} : tensor<96x16xi8>, vector<8xi8>
// CHECK: arith.extsi %{{.*}} : vector<8xi8> to vector<8xi32>
func.func @quant4_vector_group16(%x: tensor<?x?x32xf32>, %p: tensor<96x16xi8>, %s: tensor<96x2xf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s symmetric {bits = 4 : i64, group_size = 16 : i64} : (tensor<?x?x32xf32>, tensor<96x16xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// A group of more than 8 steps (8 bits, group 512: 16 steps of 32 weights):
// the first 8 steps straight-line, the rest in a loop unrolled by 8, then
// one fold with the group's scale.
// CHECK-LABEL: func.func @quant8_vector_group512
// CHECK-NOT: linalg.generic {{.*}} ins(%arg0
// CHECK: scf.for %{{.*}} = %c0 to %c1 step %c1 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>)
// CHECK-COUNT-16: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: %[[REST:.*]]:2 = scf.for %{{.*}} = %c256 to %c512 step %c256 iter_args
// CHECK-COUNT-16: arith.sitofp %{{.*}} : vector<16xi32> to vector<16xf32>
// CHECK: scf.yield
// CHECK: %[[SPLAT:.*]] = vector.broadcast %{{.*}} : f32 to vector<16xf32>
// CHECK: vector.fma %[[SPLAT]], %[[REST]]#0
// CHECK: vector.fma %[[SPLAT]], %[[REST]]#1
func.func @quant8_vector_group512(%x: tensor<?x?x512xf32>, %p: tensor<96x512xi8>, %s: tensor<96x1xf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s symmetric {bits = 8 : i64, group_size = 512 : i64} : (tensor<?x?x512xf32>, tensor<96x512xi8>, tensor<96x1xf16>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// 4 bits with an odd group size: a byte may straddle two groups, so the
// scale of element 2 byte + nibble is read at group (2 byte + nibble) / 3.
// CHECK-LABEL: func.func @quant4_odd_group
// CHECK: %[[XV:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1], [2, 3]] {{.*}} into tensor<?x?x3x2xf32>
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction", "reduction"]} ins(%[[XV]], %arg1 : tensor<?x?x3x2xf32>, tensor<4x3xi8>)
// CHECK: %[[O:.*]] = linalg.index 2 : index
// CHECK: %[[BYTE:.*]] = linalg.index 3 : index
// CHECK: %[[NIB:.*]] = linalg.index 4 : index
// CHECK: %[[TWICE:.*]] = arith.muli %[[BYTE]], %c2 : index
// CHECK: %[[I:.*]] = arith.addi %[[TWICE]], %[[NIB]] : index
// CHECK: %[[GROUP:.*]] = arith.divui %[[I]], %c3 : index
// CHECK: tensor.extract %arg2[%[[O]], %[[GROUP]]] : tensor<4x2xf16>
func.func @quant4_odd_group(%x: tensor<?x?x6xf32>, %p: tensor<4x3xi8>, %s: tensor<4x2xf16>) -> tensor<?x?x4xf32> {
  %y = zamba2.quant_linear %x, %p scales %s symmetric {bits = 4 : i64, group_size = 3 : i64} : (tensor<?x?x6xf32>, tensor<4x3xi8>, tensor<4x2xf16>) -> tensor<?x?x4xf32>
  return %y : tensor<?x?x4xf32>
}
