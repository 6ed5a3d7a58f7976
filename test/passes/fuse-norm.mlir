// RUN: zamba2-opt %s --zamba2-fuse-norm -split-input-file | FileCheck %s
// RUN: zamba2-opt %s --zamba2-fuse-norm=max-users=3 -split-input-file | FileCheck %s --check-prefix=THREE
// RUN: not zamba2-opt %s --zamba2-fuse-norm=max-users=0 -split-input-file 2>&1 | FileCheck %s --check-prefix=BADOPT
// BADOPT: zamba2-fuse-norm: max-users must be >= 1

// An rms_norm read by one linear: the linear normalises its input itself
// (weight, eps carried over; bias and base stay); the norm is gone.
// CHECK-LABEL: func.func @rms_norm_into_linear
// CHECK-NEXT: %[[Y:.*]] = zamba2.linear %arg0 normed %arg1, %arg2 bias %arg3 into %arg4 {norm_eps = 1.000000e-05 : f64} : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>, tensor<?x?x96xf32>, tensor<64xf32>) -> tensor<?x?x96xf32>
// CHECK-NEXT: return %[[Y]]
func.func @rms_norm_into_linear(%x: tensor<?x?x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>, %bias: tensor<96xf32>, %r: tensor<?x?x96xf32>) -> tensor<?x?x96xf32> {
  %n = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  %y = zamba2.linear %n, %w bias %bias into %r : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %y : tensor<?x?x96xf32>
}

// -----

// The fused residual of rms_norm becomes `plus`.
// CHECK-LABEL: func.func @residual
// CHECK-NEXT: %[[Y:.*]] = zamba2.linear %arg0 normed %arg2 plus %arg1, %arg3 {norm_eps = {{.*}}E-7 : f64}
// CHECK-NEXT: return %[[Y]]
func.func @residual(%x: tensor<?x1x64xf32>, %t: tensor<?x1x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>) -> tensor<?x1x96xf32> {
  %n = zamba2.rms_norm %x plus %t, %nw {eps = 1.0e-6 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %y = zamba2.linear %n, %w : (tensor<?x1x64xf32>, tensor<96x64xf32>) -> tensor<?x1x96xf32>
  return %y : tensor<?x1x96xf32>
}

// -----

// gated_rms_norm becomes `gated`, its groups norm_groups; into a
// quant_linear here.
// CHECK-LABEL: func.func @gated_into_quant
// CHECK-NEXT: %[[Y:.*]] = zamba2.quant_linear %arg0 normed %arg2 gated %arg1, %arg3 scales %arg4 symmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.000000e-05 : f64, norm_groups = 2 : i64}
// CHECK-NEXT: return %[[Y]]
func.func @gated_into_quant(%y: tensor<?x1x128xf32>, %z: tensor<?x1x128xf32>, %nw: tensor<128xf32>, %q: tensor<64x64xi8>, %s: tensor<64x4xf16>) -> tensor<?x1x64xf32> {
  %n = zamba2.gated_rms_norm %y, %z, %nw {eps = 1.0e-5 : f64, groups = 2 : i64} : tensor<?x1x128xf32>, tensor<128xf32>
  %o = zamba2.quant_linear %n, %q scales %s symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x128xf32>, tensor<64x64xi8>, tensor<64x4xf16>) -> tensor<?x1x64xf32>
  return %o : tensor<?x1x64xf32>
}

// -----

// A gated norm of one group on an ssd_step's output: its gate moves into
// the step (`gated`: y * silu(z) computed there, once per element) and the
// linear's prologue is a plain norm; with two groups (no grouped norm
// without a gate) or another user of y, the gate stays in the prologue.
// CHECK-LABEL: func.func @gate_into_step
// CHECK-NEXT: %[[Y:.*]], %[[S:.*]] = zamba2.ssd_step %arg0, %arg1, %arg2, %arg3, %arg4 params(%arg5, %arg6, %arg7) gated %arg8 {groups = 1 : i64}
// CHECK-NEXT: %[[O:.*]] = zamba2.linear %[[Y]] normed %arg9, %arg10 {norm_eps = 1.000000e-05 : f64}
// CHECK-NEXT: return %[[O]], %[[S]]
func.func @gate_into_step(%x: tensor<?x1x128xf32>, %dt: tensor<?x1x4xf32>, %b: tensor<?x1x16xf32>, %c: tensor<?x1x16xf32>, %s: tensor<?x4x32x16xf32>, %al: tensor<4xf32>, %d: tensor<4xf32>, %db: tensor<4xf32>, %z: tensor<?x1x128xf32>, %nw: tensor<128xf32>, %w: tensor<64x128xf32>) -> (tensor<?x1x64xf32>, tensor<?x4x32x16xf32>) {
  %y, %ns = zamba2.ssd_step %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<?x1x128xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x1x128xf32>, tensor<?x4x32x16xf32>)
  %n = zamba2.gated_rms_norm %y, %z, %nw {eps = 1.0e-5 : f64, groups = 1 : i64} : tensor<?x1x128xf32>, tensor<128xf32>
  %o = zamba2.linear %n, %w : (tensor<?x1x128xf32>, tensor<64x128xf32>) -> tensor<?x1x64xf32>
  return %o, %ns : tensor<?x1x64xf32>, tensor<?x4x32x16xf32>
}

// CHECK-LABEL: func.func @gate_stays_two_groups
// CHECK-NEXT: zamba2.ssd_scan %arg0, %arg1, %arg2, %arg3, %arg4 params(%arg5, %arg6, %arg7) {groups = 1 : i64}
// CHECK-NEXT: zamba2.linear %{{.*}} normed %arg9 gated %arg8, %arg10 {norm_eps = 1.000000e-05 : f64, norm_groups = 2 : i64}
func.func @gate_stays_two_groups(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %c: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %al: tensor<4xf32>, %d: tensor<4xf32>, %db: tensor<4xf32>, %z: tensor<?x?x128xf32>, %nw: tensor<128xf32>, %w: tensor<64x128xf32>) -> tensor<?x?x64xf32> {
  %y, %ns = zamba2.ssd_scan %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  %n = zamba2.gated_rms_norm %y, %z, %nw {eps = 1.0e-5 : f64, groups = 2 : i64} : tensor<?x?x128xf32>, tensor<128xf32>
  %o = zamba2.linear %n, %w : (tensor<?x?x128xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
  return %o : tensor<?x?x64xf32>
}

// CHECK-LABEL: func.func @gate_stays_y_reused
// CHECK-NEXT: %[[Y:.*]], %{{.*}} = zamba2.ssd_scan %arg0, %arg1, %arg2, %arg3, %arg4 params(%arg5, %arg6, %arg7) {groups = 1 : i64}
// CHECK-NEXT: zamba2.linear %[[Y]] normed %arg9 gated %arg8, %arg10 {norm_eps = 1.000000e-05 : f64}
func.func @gate_stays_y_reused(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %c: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %al: tensor<4xf32>, %d: tensor<4xf32>, %db: tensor<4xf32>, %z: tensor<?x?x128xf32>, %nw: tensor<128xf32>, %w: tensor<64x128xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x128xf32>) {
  %y, %ns = zamba2.ssd_scan %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  %n = zamba2.gated_rms_norm %y, %z, %nw {eps = 1.0e-5 : f64, groups = 1 : i64} : tensor<?x?x128xf32>, tensor<128xf32>
  %o = zamba2.linear %n, %w : (tensor<?x?x128xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
  return %o, %y : tensor<?x?x64xf32>, tensor<?x?x128xf32>
}

// The gate defined after the scan (here by a linear of the scan's own
// input): it cannot move above its definition, so it stays in the prologue.
// CHECK-LABEL: func.func @gate_stays_defined_later
// CHECK-NEXT: %[[Y:.*]], %{{.*}} = zamba2.ssd_scan %arg0, %arg1, %arg2, %arg3, %arg4 params(%arg5, %arg6, %arg7) {groups = 1 : i64}
// CHECK-NEXT: %[[Z:.*]] = zamba2.linear %arg0, %arg8
// CHECK-NEXT: zamba2.linear %[[Y]] normed %arg9 gated %[[Z]], %arg10 {norm_eps = 1.000000e-05 : f64}
func.func @gate_stays_defined_later(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %c: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %al: tensor<4xf32>, %d: tensor<4xf32>, %db: tensor<4xf32>, %wz: tensor<128x128xf32>, %nw: tensor<128xf32>, %w: tensor<64x128xf32>) -> tensor<?x?x64xf32> {
  %y, %ns = zamba2.ssd_scan %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  %z = zamba2.linear %x, %wz : (tensor<?x?x128xf32>, tensor<128x128xf32>) -> tensor<?x?x128xf32>
  %n = zamba2.gated_rms_norm %y, %z, %nw {eps = 1.0e-5 : f64, groups = 1 : i64} : tensor<?x?x128xf32>, tensor<128xf32>
  %o = zamba2.linear %n, %w : (tensor<?x?x128xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
  return %o : tensor<?x?x64xf32>
}

// A gated norm that is not folded (it is also returned): the norm and its
// gate stay as they were.
// CHECK-LABEL: func.func @gate_stays_unfolded
// CHECK-NEXT: %[[Y:.*]], %{{.*}} = zamba2.ssd_scan %arg0, %arg1, %arg2, %arg3, %arg4 params(%arg5, %arg6, %arg7) {groups = 1 : i64}
// CHECK-NEXT: %[[N:.*]] = zamba2.gated_rms_norm %[[Y]], %arg8, %arg9
// CHECK-NEXT: zamba2.linear %[[N]], %arg10 :
func.func @gate_stays_unfolded(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %c: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %al: tensor<4xf32>, %d: tensor<4xf32>, %db: tensor<4xf32>, %z: tensor<?x?x128xf32>, %nw: tensor<128xf32>, %w: tensor<64x128xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x128xf32>) {
  %y, %ns = zamba2.ssd_scan %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  %n = zamba2.gated_rms_norm %y, %z, %nw {eps = 1.0e-5 : f64, groups = 1 : i64} : tensor<?x?x128xf32>, tensor<128xf32>
  %o = zamba2.linear %n, %w : (tensor<?x?x128xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
  return %o, %n : tensor<?x?x64xf32>, tensor<?x?x128xf32>
}

// -----

// A lora_linear takes it too (its adapter's product reads the normalised
// input as well).
// CHECK-LABEL: func.func @into_lora_linear
// CHECK-NEXT: %[[Y:.*]] = zamba2.lora_linear %arg0 normed %arg1, %arg2 adapter(%arg3, %arg4) {norm_eps = 1.000000e-05 : f64}
// CHECK-NEXT: return %[[Y]]
func.func @into_lora_linear(%x: tensor<?x1x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>) -> tensor<?x1x96xf32> {
  %n = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %y = zamba2.lora_linear %n, %w adapter(%a, %b) : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<8x64xf32>, tensor<96x8xf32>) -> tensor<?x1x96xf32>
  return %y : tensor<?x1x96xf32>
}

// -----

// A quantized adapted linear is two ops, both reading the norm: the
// adapter's x A^T and the quant_linear that takes it as its adapter input.
// The x A^T counts as one user with the linear (as the float lora_linear
// is one op), so at max-users=1 both take the prologue.
// CHECK-LABEL: func.func @into_quant_adapter
// CHECK-NEXT: %[[XA:.*]] = zamba2.quant_linear %arg0 normed %arg1, %arg4 scales %arg5 symmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.000000e-05 : f64}
// CHECK-NEXT: %[[Y:.*]] = zamba2.quant_linear %arg0 normed %arg1, %arg2 scales %arg3 adapter(%[[XA]], %arg6 scales %arg7) symmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.000000e-05 : f64}
// CHECK-NEXT: return %[[Y]]
func.func @into_quant_adapter(%x: tensor<?x1x64xf32>, %nw: tensor<64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %qa: tensor<32x32xi8>, %sa: tensor<32x2xf16>, %qb: tensor<96x16xi8>, %sb: tensor<96x1xf16>) -> tensor<?x1x96xf32> {
  %n = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %xa = zamba2.quant_linear %n, %qa scales %sa symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>) -> tensor<?x1x32xf32>
  %y = zamba2.quant_linear %n, %q scales %s adapter(%xa, %qb scales %sb) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x1x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>) -> tensor<?x1x96xf32>
  return %y : tensor<?x1x96xf32>
}

// -----

// The same x A^T as the adapter input of a linear of another input (here
// beside a plain linear of the norm), or also returned: it counts, two
// users, and the norm stays.
// CHECK-LABEL: func.func @quant_adapter_counts
// CHECK-NEXT: %[[N:.*]] = zamba2.rms_norm
// CHECK-NEXT: %[[XA:.*]] = zamba2.quant_linear %[[N]], %arg4
// CHECK-NEXT: zamba2.quant_linear %arg0, %arg2 scales %arg3 adapter(%[[XA]]
// CHECK-NEXT: zamba2.quant_linear %[[N]], %arg2 scales %arg3 symmetric
// CHECK-NEXT: %[[N2:.*]] = zamba2.rms_norm
// CHECK-NEXT: %[[XA2:.*]] = zamba2.quant_linear %[[N2]], %arg4
// CHECK-NEXT: zamba2.quant_linear %[[N2]], %arg2 scales %arg3 adapter(%[[XA2]]
func.func @quant_adapter_counts(%x: tensor<?x1x64xf32>, %nw: tensor<64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %qa: tensor<32x32xi8>, %sa: tensor<32x2xf16>, %qb: tensor<96x16xi8>, %sb: tensor<96x1xf16>) -> (tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x32xf32>) {
  %n = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %xa = zamba2.quant_linear %n, %qa scales %sa symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>) -> tensor<?x1x32xf32>
  %y = zamba2.quant_linear %x, %q scales %s adapter(%xa, %qb scales %sb) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x1x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>) -> tensor<?x1x96xf32>
  %z = zamba2.quant_linear %n, %q scales %s symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x1x96xf32>
  %n2 = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %xa2 = zamba2.quant_linear %n2, %qa scales %sa symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<32x32xi8>, tensor<32x2xf16>) -> tensor<?x1x32xf32>
  %y2 = zamba2.quant_linear %n2, %q scales %s adapter(%xa2, %qb scales %sb) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x1x32xf32>, tensor<96x16xi8>, tensor<96x1xf16>) -> tensor<?x1x96xf32>
  return %y, %z, %y2, %xa2 : tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x32xf32>
}

// -----

// Three linears read the norm: by default (max-users=1) it stays, since
// with several rows each of them would write its own normalised copy; with
// max-users=3 all three take the prologue.
// CHECK-LABEL: func.func @three_users
// CHECK-NEXT: %[[N:.*]] = zamba2.rms_norm
// CHECK-NEXT: zamba2.linear %[[N]], %arg2 :
// CHECK-NEXT: zamba2.linear %[[N]], %arg2 :
// CHECK-NEXT: zamba2.linear %[[N]], %arg2 :
// THREE-LABEL: func.func @three_users
// THREE-NOT: zamba2.rms_norm
// THREE-COUNT-3: zamba2.linear %arg0 normed %arg1, %arg2 {norm_eps = 1.000000e-05 : f64}
// THREE-NEXT: return
func.func @three_users(%x: tensor<?x1x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>) -> (tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x96xf32>) {
  %n = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %a = zamba2.linear %n, %w : (tensor<?x1x64xf32>, tensor<96x64xf32>) -> tensor<?x1x96xf32>
  %b = zamba2.linear %n, %w : (tensor<?x1x64xf32>, tensor<96x64xf32>) -> tensor<?x1x96xf32>
  %c = zamba2.linear %n, %w : (tensor<?x1x64xf32>, tensor<96x64xf32>) -> tensor<?x1x96xf32>
  return %a, %b, %c : tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x96xf32>
}

// -----

// Non-matches: a user that is not a linear op (the norm's value is needed
// as such), a linear reading it as its base, a `lora` reading it, a linear
// that normalises its input already.
// CHECK-LABEL: func.func @no_match
// CHECK-NEXT: %[[N1:.*]] = zamba2.rms_norm
// CHECK-NEXT: zamba2.linear %[[N1]], %arg2 :
// CHECK-NEXT: arith.addf
// CHECK-NEXT: %[[N2:.*]] = zamba2.rms_norm
// CHECK-NEXT: zamba2.linear %arg0, %arg2 into %[[N2]] :
// CHECK-NEXT: %[[N3:.*]] = zamba2.rms_norm
// CHECK-NEXT: zamba2.lora %[[N3]]
// CHECK-NEXT: %[[N4:.*]] = zamba2.rms_norm
// CHECK-NEXT: zamba2.linear %[[N4]] normed %arg1, %arg2
// THREE-LABEL: func.func @no_match
// THREE-COUNT-4: zamba2.rms_norm
func.func @no_match(%x: tensor<?x1x64xf32>, %nw: tensor<64xf32>, %w: tensor<64x64xf32>, %a: tensor<8x64xf32>, %b: tensor<64x8xf32>) -> (tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>) {
  %n1 = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %y1 = zamba2.linear %n1, %w : (tensor<?x1x64xf32>, tensor<64x64xf32>) -> tensor<?x1x64xf32>
  %s1 = arith.addf %y1, %n1 : tensor<?x1x64xf32>
  %n2 = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %y2 = zamba2.linear %x, %w into %n2 : (tensor<?x1x64xf32>, tensor<64x64xf32>, tensor<?x1x64xf32>) -> tensor<?x1x64xf32>
  %n3 = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %y3 = zamba2.lora %n3, %a, %b into %x : tensor<?x1x64xf32>, tensor<8x64xf32>, tensor<64x8xf32> -> tensor<?x1x64xf32>
  %n4 = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %y4 = zamba2.linear %n4 normed %nw, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x1x64xf32>, tensor<64x64xf32>, tensor<64xf32>) -> tensor<?x1x64xf32>
  return %s1, %y2, %y3, %y4 : tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>, tensor<?x1x64xf32>
}

// -----

// A norm over a dynamic width stays (a prologue needs a static width).
// CHECK-LABEL: func.func @dynamic_width
// CHECK-NEXT: zamba2.rms_norm
// CHECK-NEXT: zamba2.linear
func.func @dynamic_width(%x: tensor<?x?xf32>, %nw: tensor<?xf32>, %w: tensor<96x64xf32>) -> tensor<?x96xf32> {
  %n = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x?xf32>, tensor<?xf32>
  %y = zamba2.linear %n, %w : (tensor<?x?xf32>, tensor<96x64xf32>) -> tensor<?x96xf32>
  return %y : tensor<?x96xf32>
}

// -----

// A norm of a concat of two pieces that only the norm reads (the shared
// block's input, its hidden state and the embeddings): the norm reads the
// two pieces (`concat`), and the concat is gone. With one linear reading
// the norm, the prologue is taken instead and the concat stays. A concat
// read elsewhere too, or of three pieces, stays.
// CHECK-LABEL: func.func @concat_into_norm
// CHECK-NEXT: %[[N:.*]] = zamba2.rms_norm %arg0 concat %arg1, %arg2 {eps = 1.000000e-05 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xf32>, tensor<96xf32>
// CHECK-NEXT: zamba2.linear %[[N]], %arg3 :
// CHECK-NEXT: zamba2.linear %[[N]], %arg3 :
// CHECK-NEXT: %[[C:.*]] = zamba2.concat %arg0, %arg1
// CHECK-NEXT: zamba2.linear %[[C]] normed %arg2, %arg3 {norm_eps = 1.000000e-05 : f64}
// CHECK-NEXT: %[[C2:.*]] = zamba2.concat %arg0, %arg1
// CHECK-NEXT: %[[N2:.*]] = zamba2.rms_norm %[[C2]], %arg2
// CHECK-NEXT: %[[C3:.*]] = zamba2.concat %arg0, %arg1, %arg0
// CHECK-NEXT: zamba2.rms_norm %[[C3]], %arg4
// THREE-LABEL: func.func @concat_into_norm
// THREE-NEXT: %[[C:.*]] = zamba2.concat %arg0, %arg1
// THREE-NEXT: zamba2.linear %[[C]] normed %arg2, %arg3
// THREE-NEXT: zamba2.linear %[[C]] normed %arg2, %arg3
func.func @concat_into_norm(%h: tensor<?x1x64xf32>, %e: tensor<?x1x32xf32>, %nw: tensor<96xf32>, %w: tensor<8x96xf32>, %nw3: tensor<160xf32>) -> (tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x160xf32>) {
  %c = zamba2.concat %h, %e : tensor<?x1x64xf32>, tensor<?x1x32xf32> -> tensor<?x1x96xf32>
  %n = zamba2.rms_norm %c, %nw {eps = 1.0e-5 : f64} : tensor<?x1x96xf32>, tensor<96xf32>
  %a = zamba2.linear %n, %w : (tensor<?x1x96xf32>, tensor<8x96xf32>) -> tensor<?x1x8xf32>
  %b = zamba2.linear %n, %w : (tensor<?x1x96xf32>, tensor<8x96xf32>) -> tensor<?x1x8xf32>
  %c1 = zamba2.concat %h, %e : tensor<?x1x64xf32>, tensor<?x1x32xf32> -> tensor<?x1x96xf32>
  %n1 = zamba2.rms_norm %c1, %nw {eps = 1.0e-5 : f64} : tensor<?x1x96xf32>, tensor<96xf32>
  %y1 = zamba2.linear %n1, %w : (tensor<?x1x96xf32>, tensor<8x96xf32>) -> tensor<?x1x8xf32>
  %c2 = zamba2.concat %h, %e : tensor<?x1x64xf32>, tensor<?x1x32xf32> -> tensor<?x1x96xf32>
  %n2 = zamba2.rms_norm %c2, %nw {eps = 1.0e-5 : f64} : tensor<?x1x96xf32>, tensor<96xf32>
  %c3 = zamba2.concat %h, %e, %h : tensor<?x1x64xf32>, tensor<?x1x32xf32>, tensor<?x1x64xf32> -> tensor<?x1x160xf32>
  %n3 = zamba2.rms_norm %c3, %nw3 {eps = 1.0e-5 : f64} : tensor<?x1x160xf32>, tensor<160xf32>
  return %a, %b, %y1, %c2, %n2, %n3 : tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<?x1x8xf32>, tensor<?x1x96xf32>, tensor<?x1x96xf32>, tensor<?x1x160xf32>
}

// A norm of two pieces is not folded into a linear (a prologue reads one
// row), whatever max-users.
// CHECK-LABEL: func.func @two_pieces_stay
// CHECK-NEXT: %[[N:.*]] = zamba2.rms_norm %arg0 concat %arg1
// CHECK-NEXT: zamba2.linear %[[N]], %arg3 :
// THREE-LABEL: func.func @two_pieces_stay
// THREE-NEXT: zamba2.rms_norm %arg0 concat %arg1
func.func @two_pieces_stay(%h: tensor<?x1x64xf32>, %e: tensor<?x1x32xf32>, %nw: tensor<96xf32>, %w: tensor<8x96xf32>) -> tensor<?x1x8xf32> {
  %n = zamba2.rms_norm %h concat %e, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xf32>, tensor<96xf32>
  %y = zamba2.linear %n, %w : (tensor<?x1x96xf32>, tensor<8x96xf32>) -> tensor<?x1x8xf32>
  return %y : tensor<?x1x8xf32>
}
