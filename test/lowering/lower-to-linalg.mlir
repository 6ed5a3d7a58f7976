// Structure of the zamba2 -> linalg lowering, op by op.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg -split-input-file | FileCheck %s

// x W^T: the rows of x (B*T collapsed) in tiles of 32; per tile, a generic
// over (o, m) computes each output as a dot product with four vector<16>
// accumulators in registers; bf16 weights are extended in the loop, not
// copied.
// CHECK-DAG: #[[OUT:.*]] = affine_map<(d0, d1) -> (d1, d0)>
// CHECK-LABEL: func.func @linear
// CHECK: %[[E:.*]] = tensor.empty(%{{.*}}, %{{.*}}) : tensor<?x?x96xf32>
// CHECK: %[[Z:.*]] = linalg.fill ins(%{{.*}} : f32) outs(%[[E]]
// CHECK: %[[X2:.*]] = tensor.collapse_shape %arg0 {{\[\[}}0, 1], [2]] : tensor<?x?x64xf32> into tensor<?x64xf32>
// CHECK: %[[Z2:.*]] = tensor.collapse_shape %[[Z]]
// CHECK: %[[R:.*]] = scf.for %[[M0:.*]] = %c0 to %{{.*}} step %c32 iter_args(%[[ACC:.*]] = %[[Z2]])
// CHECK: %[[XS:.*]] = tensor.extract_slice %[[X2]][%[[M0]], %c0]
// CHECK: %[[OS:.*]] = tensor.extract_slice %[[ACC]][%[[M0]], %c0]
// CHECK: linalg.generic {indexing_maps = [#[[OUT]]], iterator_types = ["parallel", "parallel"]} outs(%[[OS]] : tensor<?x?xf32>)
// CHECK: scf.for %{{.*}} = %c0 to %c64 step %c64 iter_args({{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>)
// CHECK: vector.transfer_read %[[XS]]{{.*}} : tensor<?x?xf32>, vector<16xf32>
// CHECK: vector.transfer_read %arg1{{.*}} : tensor<96x64xbf16>, vector<16xbf16>
// CHECK: arith.extf %{{.*}} : vector<16xbf16> to vector<16xf32>
// CHECK: vector.fma
// CHECK: vector.reduction <add>
// CHECK: tensor.insert_slice %{{.*}} into %[[ACC]][%[[M0]], %c0]
// CHECK: tensor.expand_shape %[[R]]
// CHECK-NOT: zamba2.linear
func.func @linear(%x: tensor<?x?x64xf32>, %w: tensor<96x64xbf16>) -> tensor<?x?x96xf32> {
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xbf16>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// With a bias, the accumulator starts from the broadcast bias.
// CHECK-LABEL: func.func @linear_bias
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%arg2 : tensor<96xf32>)
// CHECK: tensor.collapse_shape %[[INIT]]
func.func @linear_bias(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %b: tensor<96xf32>) -> tensor<?x?x96xf32> {
  %y = zamba2.linear %x, %w bias %b : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// LoRA: x A^T into a rank-8 intermediate, then (.) B^T accumulated into base.
// CHECK-LABEL: func.func @lora
// CHECK: tensor.collapse_shape %arg0
// CHECK: %[[MID:.*]] = scf.for {{.*}} -> (tensor<?x8xf32>)
// CHECK: vector.transfer_read %arg1{{.*}} : tensor<8x64xf32>, vector<16xf32>
// CHECK: tensor.collapse_shape %arg3
// CHECK: scf.for
// CHECK: tensor.extract_slice %[[MID]]
// The rank-8 dot is below one vector: a scalar loop.
// CHECK: tensor.extract %arg2{{.*}} : tensor<96x8xf32>
func.func @lora(%x: tensor<?x?x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>, %base: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// RMS norm with the fused residual: add, sum of squares (reduction over the
// last dim), normalise with rsqrt(mean + eps), scale per channel.
// CHECK-LABEL: func.func @rms_norm
// CHECK-DAG: %[[WIDTH:.*]] = arith.constant 6.400000e+01 : f32
// CHECK-DAG: %[[EPS:.*]] = arith.constant 9.99999974E-6 : f32
// CHECK: %[[V:.*]] = arith.addf %arg0, %arg1 : tensor<?x?x64xf32>
// CHECK: %[[SS:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[V]] : tensor<?x?x64xf32>) outs(%{{.*}} : tensor<?x?xf32>)
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%[[V]], %[[SS]] : tensor<?x?x64xf32>, tensor<?x?xf32>)
// CHECK: %[[MEAN:.*]] = arith.divf %{{.*}}, %[[WIDTH]] : f32
// CHECK: %[[SUM:.*]] = arith.addf %[[MEAN]], %[[EPS]] : f32
// CHECK: math.rsqrt %[[SUM]]
// CHECK: linalg.generic {{.*}} ins(%[[N]], %arg2 : tensor<?x?x64xf32>, tensor<64xf32>)
func.func @rms_norm(%x: tensor<?x?x64xf32>, %r: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %y = zamba2.rms_norm %x plus %r, %w {eps = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// Gated norm: y * silu(z), then each of the 2 groups of 64 normalised alone.
// CHECK-LABEL: func.func @gated_rms_norm
// CHECK: %[[G:.*]] = linalg.generic {{.*}} ins(%arg0, %arg1 : tensor<?x?x128xf32>, tensor<?x?x128xf32>)
// CHECK: math.exp
// CHECK: %[[E:.*]] = tensor.expand_shape %[[G]] {{\[\[}}0], [1], [2, 3]] {{.*}} : tensor<?x?x128xf32> into tensor<?x?x2x64xf32>
// CHECK: linalg.generic {{.*}} ins(%[[E]] : tensor<?x?x2x64xf32>) outs(%{{.*}} : tensor<?x?x2xf32>)
// CHECK: tensor.collapse_shape %{{.*}} {{\[\[}}0], [1], [2, 3]] : tensor<?x?x2x64xf32> into tensor<?x?x128xf32>
func.func @gated_rms_norm(%y: tensor<?x?x128xf32>, %z: tensor<?x?x128xf32>, %w: tensor<128xf32>) -> tensor<?x?x128xf32> {
  %o = zamba2.gated_rms_norm %y, %z, %w {groups = 2 : i64, eps = 1.0e-05 : f64} : tensor<?x?x128xf32>, tensor<128xf32>
  return %o : tensor<?x?x128xf32>
}

// -----

// MLP gate: the two halves are slices; exact GELU uses erf.
// CHECK-LABEL: func.func @mlp_gate
// CHECK: %[[G:.*]] = tensor.extract_slice %arg0[0, 0, 0] [%{{.*}}, %{{.*}}, 48] [1, 1, 1]
// CHECK: %[[U:.*]] = tensor.extract_slice %arg0[0, 0, 48] [%{{.*}}, %{{.*}}, 48] [1, 1, 1]
// CHECK: linalg.generic {{.*}} ins(%[[G]], %[[U]] :
// CHECK: math.erf
// CHECK-LABEL: func.func @mlp_gate_tanh
// CHECK: math.tanh
// CHECK-NOT: math.erf
func.func @mlp_gate(%x: tensor<?x?x96xf32>) -> tensor<?x?x48xf32> {
  %y = zamba2.mlp_gate %x gelu : tensor<?x?x96xf32> -> tensor<?x?x48xf32>
  return %y : tensor<?x?x48xf32>
}
func.func @mlp_gate_tanh(%x: tensor<?x?x96xf32>) -> tensor<?x?x48xf32> {
  %y = zamba2.mlp_gate %x gelu_tanh : tensor<?x?x96xf32> -> tensor<?x?x48xf32>
  return %y : tensor<?x?x48xf32>
}

// -----

// CHECK-LABEL: func.func @concat_split
// CHECK: %[[C:.*]] = tensor.concat dim(2) %arg0, %arg1 : (tensor<?x?x64xf32>, tensor<?x?x32xf32>) -> tensor<?x?x96xf32>
// CHECK: tensor.extract_slice %[[C]][0, 0, 0] [%{{.*}}, %{{.*}}, 40] [1, 1, 1]
// CHECK: tensor.extract_slice %[[C]][0, 0, 40] [%{{.*}}, %{{.*}}, 56] [1, 1, 1]
func.func @concat_split(%a: tensor<?x?x64xf32>, %b: tensor<?x?x32xf32>) -> (tensor<?x?x40xf32>, tensor<?x?x56xf32>) {
  %c = zamba2.concat %a, %b : tensor<?x?x64xf32>, tensor<?x?x32xf32> -> tensor<?x?x96xf32>
  %x, %y = zamba2.split %c [40, 56] : tensor<?x?x96xf32> -> tensor<?x?x40xf32>, tensor<?x?x56xf32>
  return %x, %y : tensor<?x?x40xf32>, tensor<?x?x56xf32>
}

// -----

// Embedding: one gather per element, the row index from the ids.
// CHECK-LABEL: func.func @embed
// CHECK: linalg.generic {{.*}} ins(%arg1 : tensor<?x?xi64>) outs(%{{.*}} : tensor<?x?x64xf32>)
// CHECK: %[[ROW:.*]] = arith.index_cast %{{.*}} : i64 to index
// CHECK: %[[COL:.*]] = linalg.index 2 : index
// CHECK: tensor.extract %arg0[%[[ROW]], %[[COL]]] : tensor<512x64xbf16>
// CHECK: arith.extf
func.func @embed(%t: tensor<512x64xbf16>, %ids: tensor<?x?xi64>) -> tensor<?x?x64xf32> {
  %e = zamba2.embed %t[%ids] : tensor<512x64xbf16>, tensor<?x?xi64> -> tensor<?x?x64xf32>
  return %e : tensor<?x?x64xf32>
}
