// Structure of the rotary and attention lowerings.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg -split-input-file | FileCheck %s
// RUN: zamba2-opt %s --zamba2-lower-to-linalg --one-shot-bufferize=bufferize-function-boundaries -split-input-file | FileCheck %s --check-prefix=INPLACE

// Attention, GQA (4 query heads, 2 KV heads, hd 16), bf16 caches of capacity
// 128. One loop over the batch rows; per row, the new keys and values go into
// the caches with extract_slice -> generic -> insert_slice at
// [b, 0, positions[b], 0]; then a loop over chunks of 64 queries reads only
// the first positions[b] + t0 + tc cache entries. Scores, row max, exp
// (masked), row sum and the weighted values are f32 linalg.generic ops; bf16
// entries are extended inside the loops.
// CHECK-DAG: #[[TRANS:.*]] = affine_map<(d0, d1, d2) -> (d1, d0, d2)>
// CHECK-DAG: #[[QMAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d2, d0, d1, d4)>
// CHECK-DAG: #[[KMAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d3, d4)>
// CHECK-DAG: #[[SMAP:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[ROW:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2)>
// CHECK-LABEL: func.func @attention
// CHECK-NOT: zamba2.
// CHECK: %[[Q5:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1], [2, 3, 4]] {{.*}} into tensor<?x?x2x2x16xf32>
// CHECK: %[[K4:.*]] = tensor.expand_shape %arg1 {{\[\[}}0], [1], [2, 3]] {{.*}} into tensor<?x?x2x16xf32>
// CHECK: %[[V4:.*]] = tensor.expand_shape %arg2
// CHECK: %[[T:.*]] = tensor.dim %[[Q5]], %c1
// CHECK: %[[LOOP:.*]]:3 = scf.for %[[B:.*]] = %c0 to %{{.*}} step %c1 iter_args(%[[KC:.*]] = %arg3, %[[VC:.*]] = %arg4, %[[OUT:.*]] = %{{.*}}) -> (tensor<?x2x128x16xbf16>, tensor<?x2x128x16xbf16>, tensor<?x?x2x2x16xf32>)
// CHECK: %[[P64:.*]] = tensor.extract %arg5[%[[B]]] : tensor<?xi64>
// CHECK: %[[P:.*]] = arith.index_cast %[[P64]] : i64 to index
// CHECK: %[[KSLOT:.*]] = tensor.extract_slice %[[KC]][%[[B]], 0, %[[P]], 0] [1, 2, %[[T]], 16] [1, 1, 1, 1] : tensor<?x2x128x16xbf16> to tensor<2x?x16xbf16>
// CHECK: %[[KNEW:.*]] = tensor.extract_slice %[[K4]][%[[B]], 0, 0, 0] [1, %[[T]], 2, 16]
// CHECK: %[[KW:.*]] = linalg.generic {indexing_maps = [#[[TRANS]], #{{.*}}], {{.*}} ins(%[[KNEW]] : tensor<?x2x16xf32>) outs(%[[KSLOT]] : tensor<2x?x16xbf16>)
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: %[[KC2:.*]] = tensor.insert_slice %[[KW]] into %[[KC]][%[[B]], 0, %[[P]], 0] [1, 2, %[[T]], 16] [1, 1, 1, 1]
// CHECK: %[[VSLOT:.*]] = tensor.extract_slice %[[VC]][%[[B]], 0, %[[P]], 0]
// CHECK: %[[VC2:.*]] = tensor.insert_slice %{{.*}} into %[[VC]][%[[B]], 0, %[[P]], 0] [1, 2, %[[T]], 16] [1, 1, 1, 1]
// CHECK: %[[CHUNKS:.*]] = scf.for %[[T0:.*]] = %c0 to %[[T]] step %c64 iter_args(%[[O:.*]] = %[[OUT]])
// CHECK: %[[REST:.*]] = arith.subi %[[T]], %[[T0]]
// CHECK: %[[TC:.*]] = arith.minsi %[[REST]], %c64
// CHECK: %[[FIRST:.*]] = arith.addi %[[P]], %[[T0]]
// CHECK: %[[LEN:.*]] = arith.addi %[[FIRST]], %[[TC]]
// CHECK: %[[KEYS:.*]] = tensor.extract_slice %[[KC2]][%[[B]], 0, 0, 0] [1, 2, %[[LEN]], 16] [1, 1, 1, 1] : tensor<?x2x128x16xbf16> to tensor<2x?x16xbf16>
// CHECK: %[[VALS:.*]] = tensor.extract_slice %[[VC2]][%[[B]], 0, 0, 0] [1, 2, %[[LEN]], 16] [1, 1, 1, 1] : tensor<?x2x128x16xbf16> to tensor<2x?x16xbf16>
// CHECK: %[[QC:.*]] = tensor.extract_slice %[[Q5]][%[[B]], %[[T0]], 0, 0, 0] [1, %[[TC]], 2, 2, 16]
// CHECK: %[[S:.*]] = linalg.generic {indexing_maps = [#[[QMAP]], #[[KMAP]], #[[SMAP]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[QC]], %[[KEYS]] : tensor<?x2x2x16xf32>, tensor<2x?x16xbf16>) outs(%{{.*}} : tensor<2x2x?x?xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[MAX:.*]] = linalg.generic {indexing_maps = [#{{.*}}, #[[ROW]]], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[S]] : tensor<2x2x?x?xf32>)
// CHECK: arith.maximumf
// CHECK: arith.cmpi ule
// CHECK: %[[E:.*]] = linalg.generic {{.*}} ins(%[[S]], %[[MAX]] : tensor<2x2x?x?xf32>, tensor<2x2x?xf32>)
// CHECK: arith.subf
// CHECK: math.exp
// CHECK: %[[SUM:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[E]] : tensor<2x2x?x?xf32>)
// CHECK: %[[ACC:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[E]], %[[VALS]] : tensor<2x2x?x?xf32>, tensor<2x?x16xbf16>) outs(%{{.*}} : tensor<?x2x2x16xf32>)
// CHECK: %[[OSLOT:.*]] = tensor.extract_slice %[[O]][%[[B]], %[[T0]], 0, 0, 0] [1, %[[TC]], 2, 2, 16]
// CHECK: %[[N:.*]] = linalg.generic {{.*}} ins(%[[ACC]], %[[SUM]] : tensor<?x2x2x16xf32>, tensor<2x2x?xf32>) outs(%[[OSLOT]] : tensor<?x2x2x16xf32>)
// CHECK: arith.divf
// CHECK: tensor.insert_slice %[[N]] into %[[O]][%[[B]], %[[T0]], 0, 0, 0]
// CHECK: scf.yield %[[KC2]], %[[VC2]], %[[CHUNKS]]
// CHECK: %[[R:.*]] = tensor.collapse_shape %[[LOOP]]#2 {{\[\[}}0], [1], [2, 3, 4]] : tensor<?x?x2x2x16xf32> into tensor<?x?x64xf32>
// CHECK: return %[[R]], %[[LOOP]]#0, %[[LOOP]]#1
//
// After one-shot bufferization the caches are updated in the caller's
// buffers: no cache-sized buffer is allocated, and the function returns its
// cache arguments.
// INPLACE-LABEL: func.func @attention
// INPLACE-NOT: memref.alloc{{.*}}x128x16xbf16
// INPLACE: scf.for {{.*}} iter_args(%{{.*}} = %arg3, %{{.*}} = %arg4,
// INPLACE-NOT: memref.alloc{{.*}}x128x16xbf16
// INPLACE: return
func.func @attention(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %kc: tensor<?x2x128x16xbf16>, %vc: tensor<?x2x128x16xbf16>, %pos: tensor<?xi64>) -> (tensor<?x?x64xf32>, tensor<?x2x128x16xbf16>, tensor<?x2x128x16xbf16>) {
  %o, %nk, %nv = zamba2.attention %q, %k, %v cache(%kc, %vc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x2x128x16xbf16>, tensor<?xi64>
  return %o, %nk, %nv : tensor<?x?x64xf32>, tensor<?x2x128x16xbf16>, tensor<?x2x128x16xbf16>
}

// -----

// Folded rotary: one cos/sin table from the positions, q and k rotated (the
// same builders as zamba2.rotary) before the loop, and the rotated k is what
// goes into the cache.
// CHECK-LABEL: func.func @attention_rope
// CHECK-NOT: zamba2.
// CHECK: %[[TAB:.*]]:2 = linalg.generic {{.*}} ins(%arg5, %{{.*}} : tensor<?xi64>, tensor<8xf64>)
// CHECK: math.cos %{{.*}} : f64
// CHECK: math.sin %{{.*}} : f64
// CHECK: %[[QR:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[TAB]]#0, %[[TAB]]#1 : tensor<?x?x4x2x8xf32>
// CHECK: %[[QRF:.*]] = tensor.collapse_shape %[[QR]]
// CHECK: %[[KR:.*]] = linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %[[TAB]]#0, %[[TAB]]#1 : tensor<?x?x2x2x8xf32>
// CHECK: %[[KRF:.*]] = tensor.collapse_shape %[[KR]]
// CHECK: %[[K4:.*]] = tensor.expand_shape %[[KRF]] {{\[\[}}0], [1], [2, 3]]
// CHECK: scf.for
// CHECK: %[[KNEW:.*]] = tensor.extract_slice %[[K4]]
// CHECK: linalg.generic {{.*}} ins(%[[KNEW]] :
func.func @attention_rope(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %kc: tensor<?x2x128x16xf32>, %vc: tensor<?x2x128x16xf32>, %pos: tensor<?xi64>) -> (tensor<?x?x64xf32>, tensor<?x2x128x16xf32>, tensor<?x2x128x16xf32>) {
  %o, %nk, %nv = zamba2.attention %q, %k, %v cache(%kc, %vc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64, rope_theta = 10000.0 : f64} : tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x2x128x16xf32>, tensor<?xi64>
  return %o, %nk, %nv : tensor<?x?x64xf32>, tensor<?x2x128x16xf32>, tensor<?x2x128x16xf32>
}

// -----

// Rotary: inv_freq[i] = 10000^(-2i/16) as an f64 constant; the table
// [B, T, 8] of cos/sin of (positions[b] + t) inv_freq[i] is computed in f64
// and rounded to f32; q and k are viewed as [B, T, heads, 2, 8] and element
// (s, i) of a head reads its partner (1 - s, i). bf16 k is extended in the
// loop and the result truncated back.
// CHECK-DAG: #[[POS:.*]] = affine_map<(d0, d1, d2) -> (d0)>
// CHECK-DAG: #[[FREQ:.*]] = affine_map<(d0, d1, d2) -> (d2)>
// CHECK-DAG: #[[PARTNER:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, -d3 + 1, d4)>
// CHECK-DAG: #[[TABLE:.*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d4)>
// CHECK-LABEL: func.func @rotary
// CHECK-NOT: zamba2.
// CHECK: %[[FREQS:.*]] = arith.constant dense<[1.000000e+00, 0.31622776601683794, 1.000000e-01, {{.*}}]> : tensor<8xf64>
// CHECK: %[[TAB:.*]]:2 = linalg.generic {indexing_maps = [#[[POS]], #[[FREQ]], #{{.*}}, #{{.*}}], iterator_types = ["parallel", "parallel", "parallel"]} ins(%arg2, %[[FREQS]] : tensor<?xi32>, tensor<8xf64>) outs(%{{.*}}, %{{.*}} : tensor<?x?x8xf32>, tensor<?x?x8xf32>)
// CHECK: %[[T:.*]] = linalg.index 1 : index
// CHECK: arith.sitofp %{{.*}} : i64 to f64
// CHECK: %[[ANGLE:.*]] = arith.mulf %{{.*}}, %{{.*}} : f64
// CHECK: math.cos %[[ANGLE]] : f64
// CHECK: arith.truncf %{{.*}} : f64 to f32
// CHECK: math.sin %[[ANGLE]] : f64
// CHECK: %[[Q5:.*]] = tensor.expand_shape %arg0 {{\[\[}}0], [1], [2, 3, 4]] {{.*}} into tensor<?x?x4x2x8xf32>
// CHECK: linalg.generic {indexing_maps = [#{{.*}}, #[[PARTNER]], #[[TABLE]], #[[TABLE]], #{{.*}}], {{.*}} ins(%[[Q5]], %[[Q5]], %[[TAB]]#0, %[[TAB]]#1 :
// CHECK: arith.negf
// CHECK: arith.select
// CHECK: tensor.collapse_shape {{.*}} into tensor<?x?x64xf32>
// CHECK: %[[K5:.*]] = tensor.expand_shape %arg1 {{.*}} into tensor<?x?x2x2x8xbf16>
// CHECK: linalg.generic {{.*}} ins(%[[K5]], %[[K5]], %[[TAB]]#0, %[[TAB]]#1 : {{.*}}) outs(%{{.*}} : tensor<?x?x2x2x8xbf16>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: arith.truncf %{{.*}} : f32 to bf16
// CHECK: tensor.collapse_shape {{.*}} into tensor<?x?x32xbf16>
func.func @rotary(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xbf16>, %pos: tensor<?xi32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xbf16>) {
  %a, %b = zamba2.rotary %q, %k at %pos {head_dim = 16 : i64, theta = 10000.0 : f64} : tensor<?x?x64xf32>, tensor<?x?x32xbf16>, tensor<?xi32>
  return %a, %b : tensor<?x?x64xf32>, tensor<?x?x32xbf16>
}
