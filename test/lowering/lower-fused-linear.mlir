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

// Groups of a multiple of 16 weights: the row-tiled dot-product nest of
// `linear`, each step dequantizing 16 weights as a vector (one scale and
// zero point per step; 4-bit: low nibbles with the even x elements, high
// ones with the odd).
// CHECK-LABEL: func.func @quant4_vector
// CHECK: scf.for
// CHECK: linalg.generic
// CHECK: scf.for %{{.*}} = %c0{{.*}} to %c64{{.*}} step %c16{{.*}} iter_args(%{{.*}} = %{{.*}}) -> (vector<8xf32>)
// CHECK: vector.transfer_read %arg1[%{{.*}}, %{{.*}}], %{{.*}} {in_bounds = [true]} : tensor<96x32xi8>, vector<8xi8>
// CHECK: arith.shrsi %{{.*}} : vector<8xi8>
// CHECK: vector.shuffle %{{.*}} [0, 2, 4, 6, 8, 10, 12, 14] : vector<16xf32>, vector<16xf32>
// CHECK: arith.sitofp %{{.*}} : vector<8xi8> to vector<8xf32>
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK-NOT: tensor<96x64xf32>
func.func @quant4_vector(%x: tensor<?x?x64xf32>, %p: tensor<96x32xi8>, %s: tensor<96x2xf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.quant_linear %x, %p scales %s symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
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
