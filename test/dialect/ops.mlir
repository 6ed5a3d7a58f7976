// Round trip of every zamba2 op through the custom and the generic form.
// RUN: zamba2-opt %s | zamba2-opt | FileCheck %s
// RUN: zamba2-opt %s --mlir-print-op-generic | zamba2-opt | FileCheck %s

// CHECK: zamba2.weight @model.embed_tokens.weight : tensor<512x64xf32>
zamba2.weight @"model.embed_tokens.weight" : tensor<512x64xf32>
// CHECK: zamba2.weight @w_bf16 : tensor<8x4xbf16>
zamba2.weight @w_bf16 : tensor<8x4xbf16>
zamba2.weight @norm : tensor<64xf32>

// CHECK-LABEL: func.func @weights_and_embed
func.func @weights_and_embed(%ids: tensor<?x?xi64>) -> tensor<?x?x64xf32> {
  // CHECK: %[[T:.*]] = zamba2.param @model.embed_tokens.weight : tensor<512x64xf32>
  // CHECK-NEXT: zamba2.embed %[[T]][%{{.*}}] : tensor<512x64xf32>, tensor<?x?xi64> -> tensor<?x?x64xf32>
  %t = zamba2.param @"model.embed_tokens.weight" : tensor<512x64xf32>
  %e = zamba2.embed %t[%ids] : tensor<512x64xf32>, tensor<?x?xi64> -> tensor<?x?x64xf32>
  return %e : tensor<?x?x64xf32>
}

// CHECK-LABEL: func.func @norms
func.func @norms(%h: tensor<?x?x64xf32>, %r: tensor<?x?x64xf32>, %w: tensor<64xf32>)
    -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  // CHECK: zamba2.rms_norm %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  %a = zamba2.rms_norm %h, %w {eps = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  // CHECK: zamba2.rms_norm %{{.*}} plus %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64}
  %b = zamba2.rms_norm %h plus %r, %w {eps = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  // CHECK: zamba2.gated_rms_norm %{{.*}}, %{{.*}}, %{{.*}} {eps = 1.000000e-05 : f64, groups = 2 : i64} : tensor<?x?x64xf32>, tensor<64xf32>
  %c = zamba2.gated_rms_norm %h, %r, %w {groups = 2 : i64, eps = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  return %a, %b, %c : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// The norm of a row of two pieces: as wide as both (the result's type is
// inferred).
// CHECK-LABEL: func.func @norm_of_two_pieces
// CHECK: %[[N:.*]] = zamba2.rms_norm %arg0 concat %arg1, %arg2 {eps = 1.000000e-05 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xf32>, tensor<96xf32>
// CHECK: return %[[N]] : tensor<?x1x96xf32>
func.func @norm_of_two_pieces(%h: tensor<?x1x64xf32>, %e: tensor<?x1x32xf32>, %w: tensor<96xf32>) -> tensor<?x1x96xf32> {
  %n = zamba2.rms_norm %h concat %e, %w {eps = 1.0e-05 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xf32>, tensor<96xf32>
  return %n : tensor<?x1x96xf32>
}

// CHECK-LABEL: func.func @linears
func.func @linears(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %bias: tensor<96xf32>,
                   %a: tensor<8x64xf32>, %b: tensor<96x8xf32>)
    -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  // CHECK: %[[L:.*]] = zamba2.linear %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  %l = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.linear %{{.*}}, %{{.*}} bias %{{.*}} : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  %lb = zamba2.linear %x, %w bias %bias : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.lora %{{.*}}, %{{.*}}, %{{.*}} into %[[L]] : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  %q = zamba2.lora %x, %a, %b into %l : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return %l, %lb, %q : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// CHECK-LABEL: func.func @mamba_pieces
func.func @mamba_pieces(%zx: tensor<?x?x292xf32>, %cw: tensor<160x1x4xf32>, %cb: tensor<160xf32>,
                        %cs: tensor<?x160x3xf32>, %ss: tensor<?x4x32x16xf32>, %p: tensor<4xf32>,
                        %x1: tensor<?x1x128xf32>, %dt1: tensor<?x1x4xf32>, %b1: tensor<?x1x16xf32>)
    -> (tensor<?x?x128xf32>, tensor<?x160x3xf32>, tensor<?x4x32x16xf32>, tensor<?x1x128xf32>) {
  // CHECK: %{{.*}}:3 = zamba2.split %{{.*}} [128, 160, 4] : tensor<?x?x292xf32> -> tensor<?x?x128xf32>, tensor<?x?x160xf32>, tensor<?x?x4xf32>
  %z, %xbc, %dt = zamba2.split %zx [128, 160, 4] : tensor<?x?x292xf32> -> tensor<?x?x128xf32>, tensor<?x?x160xf32>, tensor<?x?x4xf32>
  // CHECK: zamba2.causal_conv1d %{{.*}}, %{{.*}} bias %{{.*}} state %{{.*}} {silu} : (tensor<?x?x160xf32>, tensor<160x1x4xf32>, tensor<160xf32>, tensor<?x160x3xf32>) -> (tensor<?x?x160xf32>, tensor<?x160x3xf32>)
  %conv, %cs2 = zamba2.causal_conv1d %xbc, %cw bias %cb state %cs {silu} : (tensor<?x?x160xf32>, tensor<160x1x4xf32>, tensor<160xf32>, tensor<?x160x3xf32>) -> (tensor<?x?x160xf32>, tensor<?x160x3xf32>)
  // CHECK: zamba2.causal_conv1d %{{.*}}, %{{.*}} state %{{.*}} :
  %conv2, %cs3 = zamba2.causal_conv1d %xbc, %cw state %cs : (tensor<?x?x160xf32>, tensor<160x1x4xf32>, tensor<?x160x3xf32>) -> (tensor<?x?x160xf32>, tensor<?x160x3xf32>)
  %xs, %bm, %cm = zamba2.split %conv [128, 16, 16] : tensor<?x?x160xf32> -> tensor<?x?x128xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
  // CHECK: zamba2.ssd_scan %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} params(%{{.*}}, %{{.*}}, %{{.*}}) {chunk_size = 8 : i64, dt_max = 1.000000e+01 : f64, dt_min = 0.000000e+00 : f64, groups = 1 : i64}
  %y, %ss2 = zamba2.ssd_scan %xs, %dt, %bm, %cm, %ss params(%p, %p, %p) {groups = 1 : i64, chunk_size = 8 : i64, dt_min = 0.0 : f64, dt_max = 10.0 : f64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  // CHECK: zamba2.ssd_step %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} params(%{{.*}}, %{{.*}}, %{{.*}}) {groups = 1 : i64}
  %y1, %ss3 = zamba2.ssd_step %x1, %dt1, %b1, %b1, %ss params(%p, %p, %p) {groups = 1 : i64} : (tensor<?x1x128xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x1x128xf32>, tensor<?x4x32x16xf32>)
  // With a gate (y * silu(gate)), as zamba2-fuse-norm leaves it.
  // CHECK: zamba2.ssd_step %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} params(%{{.*}}, %{{.*}}, %{{.*}}) gated %{{.*}} {groups = 1 : i64} : ({{.*}}, tensor<?x1x128xf32>) -> (tensor<?x1x128xf32>, tensor<?x4x32x16xf32>)
  %y2, %ss4 = zamba2.ssd_step %x1, %dt1, %b1, %b1, %ss params(%p, %p, %p) gated %x1 {groups = 1 : i64} : (tensor<?x1x128xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x1x128xf32>) -> (tensor<?x1x128xf32>, tensor<?x4x32x16xf32>)
  return %y, %cs2, %ss2, %y1 : tensor<?x?x128xf32>, tensor<?x160x3xf32>, tensor<?x4x32x16xf32>, tensor<?x1x128xf32>
}

// CHECK-LABEL: func.func @attention_pieces
func.func @attention_pieces(%h: tensor<?x?x64xf32>, %e: tensor<?x?x64xf32>, %q: tensor<?x?x128xf32>,
                            %k: tensor<?x?x64xf32>, %kc: tensor<?x2x256x32xf32>, %pos: tensor<?xi64>,
                            %gu: tensor<?x?x256xf32>)
    -> (tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>) {
  // CHECK: zamba2.concat %{{.*}}, %{{.*}} : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x128xf32>
  %he = zamba2.concat %h, %e : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x128xf32>
  // CHECK: zamba2.rotary %{{.*}}, %{{.*}} at %{{.*}} {head_dim = 32 : i64, theta = 1.000000e+04 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  %qr, %kr = zamba2.rotary %q, %k at %pos {head_dim = 32 : i64, theta = 10000.0 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  // CHECK: zamba2.attention %{{.*}}, %{{.*}}, %{{.*}} cache(%{{.*}}, %{{.*}}) at %{{.*}} {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 2.500000e-01 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x256x32xf32>, tensor<?xi64>
  %o, %kc2, %vc2 = zamba2.attention %qr, %kr, %k cache(%kc, %kc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x256x32xf32>, tensor<?xi64>
  // CHECK: zamba2.attention {{.*}} rope_theta = 1.000000e+04 : f64
  %o2, %kc3, %vc3 = zamba2.attention %q, %k, %k cache(%kc, %kc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64, rope_theta = 10000.0 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x256x32xf32>, tensor<?xi64>
  // CHECK: zamba2.mlp_gate %{{.*}} gelu_tanh : tensor<?x?x256xf32> -> tensor<?x?x128xf32>
  %m = zamba2.mlp_gate %gu gelu_tanh : tensor<?x?x256xf32> -> tensor<?x?x128xf32>
  return %he, %o, %o2, %m : tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>, tensor<?x?x128xf32>
}

// CHECK-LABEL: func.func @fused
func.func @fused(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>,
                 %bias: tensor<96xf32>, %qw: tensor<96x32xi8>, %s: tensor<96x2xf16>, %zp: tensor<96x2xi8>)
    -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  // CHECK: zamba2.lora_linear %{{.*}}, %{{.*}} adapter(%{{.*}}, %{{.*}}) : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<8x64xf32>, tensor<96x8xf32>) -> tensor<?x?x96xf32>
  %f = zamba2.lora_linear %x, %w adapter(%a, %b) : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<8x64xf32>, tensor<96x8xf32>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.lora_linear %{{.*}}, %{{.*}} adapter(%{{.*}}, %{{.*}}) bias %{{.*}} :
  %fb = zamba2.lora_linear %x, %w adapter(%a, %b) bias %bias : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<8x64xf32>, tensor<96x8xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.quant_linear %{{.*}}, %{{.*}} scales %{{.*}} symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %q4 = zamba2.quant_linear %x, %qw scales %s symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.quant_linear %{{.*}}, %{{.*}} scales %{{.*}} zeros %{{.*}} bias %{{.*}} asymmetric {bits = 4 : i64, group_size = 32 : i64}
  %q4a = zamba2.quant_linear %x, %qw scales %s zeros %zp bias %bias asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>, tensor<96xf32>) -> tensor<?x?x96xf32>
  // `into`: the product added to a base of the result's type.
  // CHECK: zamba2.linear %{{.*}}, %{{.*}} bias %{{.*}} into %{{.*}} : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  %li = zamba2.linear %x, %w bias %bias into %q4 : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<96xf32>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.quant_linear %{{.*}}, %{{.*}} scales %{{.*}} into %{{.*}} symmetric
  %qi = zamba2.quant_linear %x, %qw scales %s into %li symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x96xf32>) -> tensor<?x?x96xf32>
  return %f, %fb, %q4, %qi : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// The quantized lora_linear: quant_linear with an adapter product mid B^T,
// B [96, 64] quantized as W is (asymmetric: zeros for both).
// CHECK-LABEL: func.func @quant_adapter
func.func @quant_adapter(%x: tensor<?x?x64xf32>, %mid: tensor<?x?x64xf32>, %qw: tensor<96x32xi8>, %s: tensor<96x2xf16>,
                         %zp: tensor<96x2xi8>, %r: tensor<?x?x96xf32>) -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  // CHECK: zamba2.quant_linear %{{.*}}, %{{.*}} scales %{{.*}} adapter(%{{.*}}, %{{.*}} scales %{{.*}}) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  %q = zamba2.quant_linear %x, %qw scales %s adapter(%mid, %qw scales %s) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.quant_linear %{{.*}}, %{{.*}} scales %{{.*}} zeros %{{.*}} adapter(%{{.*}}, %{{.*}} scales %{{.*}} zeros %{{.*}}) into %{{.*}} asymmetric
  %qa = zamba2.quant_linear %x, %qw scales %s zeros %zp adapter(%mid, %qw scales %s zeros %zp) into %r asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>, tensor<?x?x96xf32>, tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>) -> tensor<?x?x96xf32>
  return %q, %qa : tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// The norm prologue of the linear ops (zamba2-fuse-norm): `normed`, with
// `plus` or `gated`.
// CHECK-LABEL: func.func @norm_prologue
func.func @norm_prologue(%x: tensor<?x?x64xf32>, %t: tensor<?x?x64xf32>, %nw: tensor<64xf32>,
                         %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>,
                         %qw: tensor<96x32xi8>, %s: tensor<96x2xf16>)
    -> (tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>) {
  // CHECK: zamba2.linear %{{.*}} normed %{{.*}} plus %{{.*}}, %{{.*}} {norm_eps = 1.000000e-05 : f64} : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x96xf32>
  %l = zamba2.linear %x normed %nw plus %t, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.lora_linear %{{.*}} normed %{{.*}}, %{{.*}} adapter(%{{.*}}, %{{.*}}) {norm_eps = 1.000000e-05 : f64}
  %f = zamba2.lora_linear %x normed %nw, %w adapter(%a, %b) {norm_eps = 1.0e-5 : f64} : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<8x64xf32>, tensor<96x8xf32>, tensor<64xf32>) -> tensor<?x?x96xf32>
  // CHECK: zamba2.quant_linear %{{.*}} normed %{{.*}} gated %{{.*}}, %{{.*}} scales %{{.*}} symmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.000000e-05 : f64, norm_groups = 2 : i64}
  %q = zamba2.quant_linear %x normed %nw gated %t, %qw scales %s symmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64, norm_groups = 2 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x96xf32>
  return %l, %f, %q : tensor<?x?x96xf32>, tensor<?x?x96xf32>, tensor<?x?x96xf32>
}

// The convolution epilogue of the linear ops (zamba2-fuse-conv): `conv`,
// with its bias and state; the new state is the second result.
// CHECK-LABEL: func.func @conv_epilogue
func.func @conv_epilogue(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>,
                         %cb: tensor<40xf32>, %cs: tensor<?x40x3xf32>, %nw: tensor<64xf32>,
                         %qw: tensor<96x32xi8>, %s: tensor<96x2xf16>)
    -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>, tensor<?x1x96xf32>, tensor<?x40x3xf32>) {
  // CHECK: %{{.*}}, %{{.*}} = zamba2.linear %{{.*}}, %{{.*}} conv(%{{.*}} bias %{{.*}} state %{{.*}}) {conv_offset = 16 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<40xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  %l, %ls = zamba2.linear %x, %w conv(%cw bias %cb state %cs) {conv_offset = 16 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<40xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  // CHECK: %{{.*}}, %{{.*}} = zamba2.quant_linear %{{.*}} normed %{{.*}}, %{{.*}} scales %{{.*}} symmetric conv(%{{.*}} state %{{.*}}) {bits = 4 : i64, conv_offset = 56 : i64, group_size = 32 : i64, norm_eps = 1.000000e-05 : f64}
  %q, %qs = zamba2.quant_linear %x normed %nw, %qw scales %s symmetric conv(%cw state %cs) {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64, conv_offset = 56 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  return %l, %ls, %q, %qs : tensor<?x1x96xf32>, tensor<?x40x3xf32>, tensor<?x1x96xf32>, tensor<?x40x3xf32>
}
