// RUN: zamba2-opt %s --zamba2-fuse-rotary -split-input-file | FileCheck %s

// q and k rotated at the attention's positions: the attention reads the
// unrotated q and k and rotates them itself (rope_theta), the rotary is gone.
// CHECK-LABEL: func.func @match
// CHECK-NOT: zamba2.rotary
// CHECK: zamba2.attention %arg0, %arg1, %arg2 cache(%arg3, %arg4) at %arg5 {num_heads = 4 : i64, num_kv_heads = 2 : i64, rope_theta = 1.000000e+04 : f64, scale = 2.500000e-01 : f64}
func.func @match(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %kc: tensor<?x2x?x32xf32>, %vc: tensor<?x2x?x32xf32>, %pos: tensor<?xi64>) -> tensor<?x?x128xf32> {
  %qr, %kr = zamba2.rotary %q, %k at %pos {head_dim = 32 : i64, theta = 1.0e+04 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  %o, %nk, %nv = zamba2.attention %qr, %kr, %v cache(%kc, %vc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<?xi64>
  return %o : tensor<?x?x128xf32>
}

// -----

// The rotated q is also used elsewhere: the rotary stays, nothing is folded.
// CHECK-LABEL: func.func @q_reused
// CHECK: zamba2.rotary
// CHECK: zamba2.attention
// CHECK-NOT: rope_theta
func.func @q_reused(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %kc: tensor<?x2x?x32xf32>, %vc: tensor<?x2x?x32xf32>, %pos: tensor<?xi64>) -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>) {
  %qr, %kr = zamba2.rotary %q, %k at %pos {head_dim = 32 : i64, theta = 1.0e+04 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  %o, %nk, %nv = zamba2.attention %qr, %kr, %v cache(%kc, %vc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<?xi64>
  return %o, %qr : tensor<?x?x128xf32>, tensor<?x?x128xf32>
}

// -----

// Rotated at other positions than the attention's: not the same computation.
// CHECK-LABEL: func.func @other_positions
// CHECK: zamba2.rotary
// CHECK-NOT: rope_theta
func.func @other_positions(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %kc: tensor<?x2x?x32xf32>, %vc: tensor<?x2x?x32xf32>, %pos: tensor<?xi64>, %pos2: tensor<?xi64>) -> tensor<?x?x128xf32> {
  %qr, %kr = zamba2.rotary %q, %k at %pos2 {head_dim = 32 : i64, theta = 1.0e+04 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  %o, %nk, %nv = zamba2.attention %qr, %kr, %v cache(%kc, %vc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<?xi64>
  return %o : tensor<?x?x128xf32>
}

// -----

// q and k from two different rotary ops: not folded.
// CHECK-LABEL: func.func @two_rotaries
// CHECK-COUNT-2: zamba2.rotary
// CHECK-NOT: rope_theta
func.func @two_rotaries(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %kc: tensor<?x2x?x32xf32>, %vc: tensor<?x2x?x32xf32>, %pos: tensor<?xi64>) -> tensor<?x?x128xf32> {
  %qr, %kr = zamba2.rotary %q, %k at %pos {head_dim = 32 : i64, theta = 1.0e+04 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  %qr2, %kr2 = zamba2.rotary %q, %k at %pos {head_dim = 32 : i64, theta = 1.0e+04 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  %o, %nk, %nv = zamba2.attention %qr, %kr2, %v cache(%kc, %vc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<?xi64>
  return %o : tensor<?x?x128xf32>
}
