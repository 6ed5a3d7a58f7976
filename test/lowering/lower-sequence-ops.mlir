// Structure of the causal_conv1d / ssd_scan / ssd_step lowering, and that
// One-Shot Bufferize then updates the caller's state buffer in place.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg | FileCheck %s
// RUN: zamba2-opt %s --zamba2-lower-to-linalg --one-shot-bufferize=bufferize-function-boundaries | FileCheck %s --check-prefix=BUF

// The indexing maps (printed once, at the top of the module).
// CHECK-DAG: #[[TRANSPOSE:.*]] = affine_map<(d0, d1, d2) -> (d0, d2, d1)>
// CHECK-DAG: #[[XPAD:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 + d3, d2)>
// CHECK-DAG: #[[WEIGHT:.*]] = affine_map<(d0, d1, d2, d3) -> (d2, 0, d3)>
// CHECK-DAG: #[[GROUP:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1 floordiv 2, d3)>
// CHECK-DAG: #[[STATE:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[GROUP0:.*]] = affine_map<(d0, d1, d2, d3) -> (d0, 0, d3)>

// The conv: state rows (transposed from [B, C, K-1]) then the input rows make
// xpad [B, K-1+T, C]; the conv reads xpad[b, t + k, c] and w[c, 0, k] (bf16,
// extended in the loop), k a reduction, accumulating into the broadcast bias;
// SiLU after; the new state is written into the state tensor itself.
// CHECK-LABEL: func.func @conv
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x16xf32>, %[[W:[a-z0-9]+]]: tensor<16x1x4xbf16>, %[[BIAS:[a-z0-9]+]]: tensor<16xbf16>, %[[S:[a-z0-9]+]]: tensor<?x16x3xf32>
// CHECK: %[[T:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[LEN:.*]] = arith.addi %[[T]], %c3
// CHECK: %[[PAD:.*]] = tensor.empty(%{{.*}}, %[[LEN]]) : tensor<?x?x16xf32>
// CHECK: %[[HEAD:.*]] = linalg.generic {indexing_maps = [#[[TRANSPOSE]], {{.*}}]{{.*}} ins(%[[S]] : tensor<?x16x3xf32>) outs(%{{.*}} : tensor<?x3x16xf32>)
// CHECK: %[[PAD1:.*]] = tensor.insert_slice %[[HEAD]] into %[[PAD]][0, 0, 0]
// CHECK: %[[BODY:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<?x?x16xf32>)
// CHECK: %[[PAD2:.*]] = tensor.insert_slice %[[BODY]] into %[[PAD1]][0, 3, 0]
// CHECK: %[[INIT:.*]] = linalg.generic {{.*}} ins(%[[BIAS]] : tensor<16xbf16>)
// CHECK: %[[ACC:.*]] = linalg.generic {indexing_maps = [#[[XPAD]], #[[WEIGHT]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]} ins(%[[PAD2]], %[[W]] : tensor<?x?x16xf32>, tensor<16x1x4xbf16>) outs(%[[INIT]] : tensor<?x?x16xf32>)
// CHECK: arith.extf %{{.*}} : bf16 to f32
// CHECK: %[[Y:.*]] = linalg.generic {{.*}} ins(%[[ACC]] : tensor<?x?x16xf32>)
// CHECK: math.exp
// CHECK: %[[TAIL:.*]] = tensor.extract_slice %[[PAD2]][0, %[[T]], 0] [%{{.*}}, 3, 16]
// CHECK: %[[NEW:.*]] = linalg.generic {indexing_maps = [#[[TRANSPOSE]], {{.*}}]{{.*}} ins(%[[TAIL]] : tensor<?x3x16xf32>) outs(%[[S]] : tensor<?x16x3xf32>)
// CHECK: return %[[Y]], %[[NEW]]
// CHECK-NOT: zamba2.
// BUF-LABEL: func.func @conv
// BUF-NOT: memref.alloc{{.*}}x16x3xf32
// BUF: linalg.generic {{.*}} outs(%arg3 : memref<?x16x3xf32
// BUF: return %{{.*}}, %arg3 :
func.func @conv(%x: tensor<?x?x16xf32>, %w: tensor<16x1x4xbf16>, %b: tensor<16xbf16>, %s: tensor<?x16x3xf32>) -> (tensor<?x?x16xf32>, tensor<?x16x3xf32>) {
  %y, %ns = zamba2.causal_conv1d %x, %w bias %b state %s {silu} : (tensor<?x?x16xf32>, tensor<16x1x4xbf16>, tensor<16xbf16>, tensor<?x16x3xf32>) -> (tensor<?x?x16xf32>, tensor<?x16x3xf32>)
  return %y, %ns : tensor<?x?x16xf32>, tensor<?x16x3xf32>
}

// The scan: dt' (softplus, clamped) and the decay for all tokens first, then
// an scf.for over T (tensor.dim of x) carrying the state and y; each step is
// one generic over (b, h, p, n) whose outs are the carried state itself and
// the token's row of y. nh = 4 heads in G = 2 groups: head h reads group
// h floordiv 2. The loop result is the new state.
// CHECK-LABEL: func.func @scan
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x8xf32>, %[[DT:[a-z0-9]+]]: tensor<?x?x4xf32>, {{.*}}, %[[S0:[a-z0-9]+]]: tensor<?x4x2x3xf32>
// CHECK: %[[PER:.*]]:2 = linalg.generic {{.*}} ins(%[[DT]], {{.*}}) outs({{.*}}) {
// CHECK: math.log1p
// CHECK: arith.maximumf
// CHECK: arith.minimumf
// CHECK: math.exp
// CHECK: } -> (tensor<?x?x4xf32>, tensor<?x?x4xf32>)
// CHECK: %[[XS:.*]] = tensor.expand_shape %[[X]] {{\[\[}}0], [1], [2, 3]] {{.*}} into tensor<?x?x4x2xf32>
// CHECK: %[[YINIT:.*]] = linalg.generic {{.*}} ins(%[[XS]], %{{.*}} : tensor<?x?x4x2xf32>, tensor<4xbf16>)
// CHECK: %[[T:.*]] = tensor.dim %[[X]], %c1
// CHECK: %[[LOOP:.*]]:2 = scf.for %[[I:.*]] = %c0 to %[[T]] step %c1 iter_args(%[[S:.*]] = %[[S0]], %[[Y:.*]] = %[[YINIT]]) -> (tensor<?x4x2x3xf32>, tensor<?x?x4x2xf32>)
// CHECK: %[[YT:.*]] = tensor.extract_slice %[[Y]][0, %[[I]], 0, 0] [%{{.*}}, 1, 4, 2] [1, 1, 1, 1] : tensor<?x?x4x2xf32> to tensor<?x4x2xf32>
// CHECK: %[[STEP:.*]]:2 = linalg.generic {indexing_maps = [{{.*}}, #[[GROUP]], #[[GROUP]], #[[STATE]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%[[S]], %[[YT]] : tensor<?x4x2x3xf32>, tensor<?x4x2xf32>)
// CHECK: %[[YNEXT:.*]] = tensor.insert_slice %[[STEP]]#1 into %[[Y]][0, %[[I]], 0, 0]
// CHECK: scf.yield %[[STEP]]#0, %[[YNEXT]]
// CHECK: %[[OUT:.*]] = tensor.collapse_shape %[[LOOP]]#1 {{\[\[}}0], [1], [2, 3]] : tensor<?x?x4x2xf32> into tensor<?x?x8xf32>
// CHECK: return %[[OUT]], %[[LOOP]]#0
// CHECK-NOT: zamba2.
// BUF-LABEL: func.func @scan
// BUF-NOT: memref.alloc{{.*}}x4x2x3xf32
// BUF: scf.for {{.*}} iter_args(%[[S:.*]] = %arg4,
// BUF: linalg.generic {{.*}} outs(%[[S]], %{{.*}} : memref<?x4x2x3xf32
// BUF: scf.yield %[[S]],
func.func @scan(%x: tensor<?x?x8xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x6xf32>, %c: tensor<?x?x6xf32>, %s: tensor<?x4x2x3xf32>, %al: tensor<4xbf16>, %d: tensor<4xbf16>, %db: tensor<4xbf16>) -> (tensor<?x?x8xf32>, tensor<?x4x2x3xf32>) {
  %y, %ns = zamba2.ssd_scan %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 2 : i64, dt_min = 1.0e-03 : f64, dt_max = 1.0e+02 : f64, chunk_size = 8 : i64} : (tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x?x6xf32>, tensor<?x?x6xf32>, tensor<?x4x2x3xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4xbf16>) -> (tensor<?x?x8xf32>, tensor<?x4x2x3xf32>)
  return %y, %ns : tensor<?x?x8xf32>, tensor<?x4x2x3xf32>
}

// The step (T = 1): the same update without a loop, straight into the state
// argument. One group: every head reads group 0. No clamp without dt_min and
// dt_max.
// CHECK-LABEL: func.func @step
// CHECK-SAME: %[[S0:[a-z0-9]+]]: tensor<?x4x2x3xf32>, %{{[a-z0-9]+}}: tensor<4xf32>
// CHECK-NOT: scf.for
// CHECK-NOT: arith.minimumf
// CHECK: %[[STEP:.*]]:2 = linalg.generic {indexing_maps = [{{.*}}, #[[GROUP0]], #[[GROUP0]], {{.*}}], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
// CHECK-SAME: outs(%[[S0]], %{{.*}} : tensor<?x4x2x3xf32>, tensor<?x4x2xf32>)
// CHECK: return %{{.*}}, %[[STEP]]#0
// CHECK-NOT: zamba2.
// BUF-LABEL: func.func @step
// BUF-NOT: memref.alloc{{.*}}x4x2x3xf32
// BUF: linalg.generic {{.*}} outs(%arg4, %{{.*}} : memref<?x4x2x3xf32
// BUF: return %{{.*}}, %arg4 :
func.func @step(%x: tensor<?x1x8xf32>, %dt: tensor<?x1x4xf32>, %b: tensor<?x1x3xf32>, %c: tensor<?x1x3xf32>, %s: tensor<?x4x2x3xf32>, %al: tensor<4xf32>, %d: tensor<4xf32>, %db: tensor<4xf32>) -> (tensor<?x1x8xf32>, tensor<?x4x2x3xf32>) {
  %y, %ns = zamba2.ssd_step %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<?x1x8xf32>, tensor<?x1x4xf32>, tensor<?x1x3xf32>, tensor<?x1x3xf32>, tensor<?x4x2x3xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x1x8xf32>, tensor<?x4x2x3xf32>)
  return %y, %ns : tensor<?x1x8xf32>, tensor<?x4x2x3xf32>
}
