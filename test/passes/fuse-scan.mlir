// RUN: zamba2-opt %s --zamba2-fuse-scan -split-input-file | FileCheck %s
// RUN: zamba2-opt %s --zamba2-fuse-scan --zamba2-lower-to-linalg -split-input-file | FileCheck %s --check-prefix=CPU

// A decode step's in_proj with its convolution epilogue (zamba2-fuse-conv),
// its pieces (z 32, x 32, b 16, c 16, dt 4: 4 heads of 8 rows, one group,
// state 16) and the ssd_step on them, gated by z: one in_proj_scan whose
// operands are what the moved ops read from outside, in order of first use,
// and whose results are the new conv state, y and the new state.
// CHECK-LABEL: func.func @decode
// CHECK-NEXT: %[[F:.*]]:3 = zamba2.in_proj_scan(%arg0, %arg1, %arg2, %arg3, %arg4, %arg5, %arg6, %arg7, %arg8)
// CHECK-NEXT: ^bb0(%[[X:.*]]: tensor<?x1x64xf32>, %[[W:.*]]: tensor<100x64xf32>, %[[CW:.*]]: tensor<64x1x4xf32>, %[[CB:.*]]: tensor<64xf32>, %[[CS:.*]]: tensor<?x64x3xf32>, %[[S:.*]]: tensor<?x4x8x16xf32>, %[[A:.*]]: tensor<4xf32>, %[[D:.*]]: tensor<4xf32>, %[[B:.*]]: tensor<4xf32>):
// CHECK-NEXT: %[[P:.*]], %[[NC:.*]] = zamba2.linear %[[X]], %[[W]] conv(%[[CW]] bias %[[CB]] state %[[CS]]) {conv_offset = 32 : i64, conv_silu}
// CHECK-NEXT: %[[Q:.*]]:3 = zamba2.split %[[P]] [32, 64, 4]
// CHECK-NEXT: %[[R:.*]]:3 = zamba2.split %[[Q]]#1 [32, 16, 16]
// CHECK-NEXT: %[[Y:.*]], %[[NS:.*]] = zamba2.ssd_step %[[R]]#0, %[[Q]]#2, %[[R]]#1, %[[R]]#2, %[[S]] params(%[[A]], %[[D]], %[[B]]) gated %[[Q]]#0 {groups = 1 : i64}
// CHECK-NEXT: zamba2.yield %[[NC]], %[[Y]], %[[NS]] : tensor<?x64x3xf32>, tensor<?x1x32xf32>, tensor<?x4x8x16xf32>
// CHECK-NEXT: }
// CHECK-NEXT: return %[[F]]#1, %[[F]]#0, %[[F]]#2
// CPU-LABEL: func.func @decode
// CPU-NOT: zamba2.in_proj_scan
// CPU-NOT: zamba2.ssd_step
// CPU: return
func.func @decode(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %cw: tensor<64x1x4xf32>, %cb: tensor<64xf32>, %cs: tensor<?x64x3xf32>, %s: tensor<?x4x8x16xf32>, %alog: tensor<4xf32>, %d: tensor<4xf32>, %dtb: tensor<4xf32>) -> (tensor<?x1x32xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>) {
  %p, %ncs = zamba2.linear %x, %w conv(%cw bias %cb state %cs) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<64xf32>, tensor<?x64x3xf32>) -> (tensor<?x1x100xf32>, tensor<?x64x3xf32>)
  %z, %xbc, %dt = zamba2.split %p [32, 64, 4] : tensor<?x1x100xf32> -> tensor<?x1x32xf32>, tensor<?x1x64xf32>, tensor<?x1x4xf32>
  %xs, %b, %c = zamba2.split %xbc [32, 16, 16] : tensor<?x1x64xf32> -> tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>
  %y, %ns = zamba2.ssd_step %xs, %dt, %b, %c, %s params(%alog, %d, %dtb) gated %z {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x1x32xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>)
  return %y, %ncs, %ns : tensor<?x1x32xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>
}

// -----

// The in_proj without a convolution epilogue (prefill, or
// --fuse-conv=false): no match.
// CHECK-LABEL: func.func @no_conv
// CHECK-NOT: zamba2.in_proj_scan
// CHECK: zamba2.ssd_step
func.func @no_conv(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %s: tensor<?x4x8x16xf32>, %alog: tensor<4xf32>, %d: tensor<4xf32>, %dtb: tensor<4xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>) {
  %p = zamba2.linear %x, %w : (tensor<?x1x64xf32>, tensor<100x64xf32>) -> tensor<?x1x100xf32>
  %z, %xbc, %dt = zamba2.split %p [32, 64, 4] : tensor<?x1x100xf32> -> tensor<?x1x32xf32>, tensor<?x1x64xf32>, tensor<?x1x4xf32>
  %xs, %b, %c = zamba2.split %xbc [32, 16, 16] : tensor<?x1x64xf32> -> tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>
  %y, %ns = zamba2.ssd_step %xs, %dt, %b, %c, %s params(%alog, %d, %dtb) gated %z {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x1x32xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>)
  return %y, %ns : tensor<?x1x32xf32>, tensor<?x4x8x16xf32>
}

// -----

// z read by the out_proj's norm after the scan (the gate stays there, as
// with norms of several groups): z is a result too.
// CHECK-LABEL: func.func @z_outside
// CHECK: %[[F:.*]]:4 = zamba2.in_proj_scan
// CHECK: zamba2.yield %{{.*}}, %{{.*}}#0, %{{.*}}, %{{.*}} :
// CHECK: zamba2.gated_rms_norm %[[F]]#2, %[[F]]#1
func.func @z_outside(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %cw: tensor<64x1x4xf32>, %cs: tensor<?x64x3xf32>, %s: tensor<?x4x8x16xf32>, %alog: tensor<4xf32>, %d: tensor<4xf32>, %dtb: tensor<4xf32>, %nw: tensor<32xf32>) -> (tensor<?x1x32xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>) {
  %p, %ncs = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<?x64x3xf32>) -> (tensor<?x1x100xf32>, tensor<?x64x3xf32>)
  %z, %xbc, %dt = zamba2.split %p [32, 64, 4] : tensor<?x1x100xf32> -> tensor<?x1x32xf32>, tensor<?x1x64xf32>, tensor<?x1x4xf32>
  %xs, %b, %c = zamba2.split %xbc [32, 16, 16] : tensor<?x1x64xf32> -> tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>
  %y, %ns = zamba2.ssd_step %xs, %dt, %b, %c, %s params(%alog, %d, %dtb) {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>)
  %n = zamba2.gated_rms_norm %y, %z, %nw {eps = 1.0e-5 : f64, groups = 2 : i64} : tensor<?x1x32xf32>, tensor<32xf32>
  return %n, %ncs, %ns : tensor<?x1x32xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>
}

// -----

// A piece is used before the scan (the op would go where the scan is): no
// match.
// CHECK-LABEL: func.func @piece_used_before
// CHECK-NOT: zamba2.in_proj_scan
// CHECK: zamba2.ssd_step
func.func @piece_used_before(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %cw: tensor<64x1x4xf32>, %cs: tensor<?x64x3xf32>, %s: tensor<?x4x8x16xf32>, %alog: tensor<4xf32>, %d: tensor<4xf32>, %dtb: tensor<4xf32>, %nw: tensor<32xf32>) -> (tensor<?x1x32xf32>, tensor<?x1x32xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>) {
  %p, %ncs = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<?x64x3xf32>) -> (tensor<?x1x100xf32>, tensor<?x64x3xf32>)
  %z, %xbc, %dt = zamba2.split %p [32, 64, 4] : tensor<?x1x100xf32> -> tensor<?x1x32xf32>, tensor<?x1x64xf32>, tensor<?x1x4xf32>
  %n = zamba2.rms_norm %z, %nw {eps = 1.0e-5 : f64} : tensor<?x1x32xf32>, tensor<32xf32>
  %xs, %b, %c = zamba2.split %xbc [32, 16, 16] : tensor<?x1x64xf32> -> tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>
  %y, %ns = zamba2.ssd_step %xs, %dt, %b, %c, %s params(%alog, %d, %dtb) {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>)
  return %y, %n, %ncs, %ns : tensor<?x1x32xf32>, tensor<?x1x32xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>
}

// -----

// b is not a piece of the product: no match.
// CHECK-LABEL: func.func @b_elsewhere
// CHECK-NOT: zamba2.in_proj_scan
// CHECK: zamba2.ssd_step
func.func @b_elsewhere(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %cw: tensor<64x1x4xf32>, %cs: tensor<?x64x3xf32>, %s: tensor<?x4x8x16xf32>, %alog: tensor<4xf32>, %d: tensor<4xf32>, %dtb: tensor<4xf32>, %b2: tensor<?x1x16xf32>) -> (tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>) {
  %p, %ncs = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<?x64x3xf32>) -> (tensor<?x1x100xf32>, tensor<?x64x3xf32>)
  %z, %xbc, %dt = zamba2.split %p [32, 64, 4] : tensor<?x1x100xf32> -> tensor<?x1x32xf32>, tensor<?x1x64xf32>, tensor<?x1x4xf32>
  %xs, %b, %c = zamba2.split %xbc [32, 16, 16] : tensor<?x1x64xf32> -> tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>
  %y, %ns = zamba2.ssd_step %xs, %dt, %b2, %c, %s params(%alog, %d, %dtb) gated %z {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x1x32xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>)
  return %y, %b, %ncs, %ns : tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>
}
