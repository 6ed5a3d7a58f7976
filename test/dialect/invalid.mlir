// One case per verifier rule of the zamba2 ops.
// RUN: zamba2-opt %s -split-input-file -verify-diagnostics

// weight with a dynamic shape
// expected-error @+1 {{weight type must have a static shape, found 'tensor<?x64xf32>'}}
zamba2.weight @w : tensor<?x64xf32>

// -----

// param of an unknown weight
func.func @f() {
  // expected-error @+1 {{@missing does not name a zamba2.weight}}
  %w = zamba2.param @missing : tensor<64xf32>
  return
}

// -----

// param type differs from the declaration
zamba2.weight @w : tensor<64xf32>
func.func @f() {
  // expected-error @+1 {{type 'tensor<32xf32>' differs from the weight's declared type 'tensor<64xf32>'}}
  %w = zamba2.param @w : tensor<32xf32>
  return
}

// -----

// embed table rank
func.func @f(%t: tensor<512xf32>, %ids: tensor<?x?xi64>) {
  // expected-error @+1 {{table must have rank 2, found rank 1}}
  %e = zamba2.embed %t[%ids] : tensor<512xf32>, tensor<?x?xi64> -> tensor<?x?x64xf32>
  return
}

// -----

// embed width
func.func @f(%t: tensor<512x64xf32>, %ids: tensor<?x?xi64>) {
  // expected-error @+1 {{result must have shape [?, ?, 64], found [?, ?, 32]}}
  %e = zamba2.embed %t[%ids] : tensor<512x64xf32>, tensor<?x?xi64> -> tensor<?x?x32xf32>
  return
}

// -----

// rms_norm weight width
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weight must have shape [64], found [32]}}
  %y = zamba2.rms_norm %x, %w {eps = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<32xf32>
  return
}

// -----

// rms_norm eps
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{eps must be positive, found 0}}
  %y = zamba2.rms_norm %x, %w {eps = 0.0 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  return
}

// -----

// rms_norm of two pieces: the weight spans both
func.func @f(%x: tensor<?x1x64xf32>, %t: tensor<?x1x32xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{weight must have shape [96], found [64]}}
  %y = zamba2.rms_norm %x concat %t, %w {eps = 1.0e-05 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xf32>, tensor<64xf32>
  return
}

// -----

// rms_norm: a residual or a tail
func.func @f(%x: tensor<?x1x64xf32>, %t: tensor<?x1x32xf32>, %w: tensor<96xf32>) {
  // expected-error @+1 {{takes a residual or a tail, not both}}
  %y = zamba2.rms_norm %x plus %x concat %t, %w {eps = 1.0e-05 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xf32>, tensor<96xf32>
  return
}

// -----

// rms_norm: the tail's leading dims
func.func @f(%x: tensor<?x1x64xf32>, %t: tensor<?x2x32xf32>, %w: tensor<96xf32>) {
  // expected-error @+1 {{input and tail disagree in their leading dims: [?, 1, 64] and [?, 2, 32]}}
  %y = zamba2.rms_norm %x concat %t, %w {eps = 1.0e-05 : f64} : tensor<?x1x64xf32> concat tensor<?x2x32xf32>, tensor<96xf32>
  return
}

// -----

// rms_norm of two pieces: static widths
func.func @f(%x: tensor<?x1x?xf32>, %t: tensor<?x1x32xf32>, %w: tensor<?xf32>) {
  // expected-error @+1 {{a norm of two pieces needs their widths static}}
  %y = zamba2.rms_norm %x concat %t, %w {eps = 1.0e-05 : f64} : tensor<?x1x?xf32> concat tensor<?x1x32xf32>, tensor<?xf32>
  return
}

// -----

// rms_norm: the tail's element type
func.func @f(%x: tensor<?x1x64xf32>, %t: tensor<?x1x32xbf16>, %w: tensor<96xf32>) {
  // expected-error @+1 {{tail must have the input's element type, found 'tensor<?x1x32xbf16>'}}
  %y = zamba2.rms_norm %x concat %t, %w {eps = 1.0e-05 : f64} : tensor<?x1x64xf32> concat tensor<?x1x32xbf16>, tensor<96xf32>
  return
}

// -----

// gated_rms_norm groups
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{width 64 is not divisible into 3 groups}}
  %y = zamba2.gated_rms_norm %x, %x, %w {groups = 3 : i64, eps = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<64xf32>
  return
}

// -----

// gated_rms_norm weight
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{weight must have shape [64], found [32]}}
  %y = zamba2.gated_rms_norm %x, %x, %w {groups = 2 : i64, eps = 1.0e-05 : f64} : tensor<?x?x64xf32>, tensor<32xf32>
  return
}

// -----

// linear weight rank
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<96xf32>) {
  // expected-error @+1 {{weight must have rank 2, found rank 1}}
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

// linear input width
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<96x32xf32>) {
  // expected-error @+1 {{input's last dim must equal the weight's input dim 32, found 64}}
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x32xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

// linear bias
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %b: tensor<64xf32>) {
  // expected-error @+1 {{bias must have shape [96], found [64]}}
  %y = zamba2.linear %x, %w bias %b : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<64xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

// linear result
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 96], found [?, ?, 95]}}
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<96x64xf32>) -> tensor<?x?x95xf32>
  return
}

// -----

// linear base
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %r: tensor<?x96xf32>) {
  // expected-error @+1 {{base must have the result's type 'tensor<?x?x96xf32>', found 'tensor<?x96xf32>'}}
  %y = zamba2.linear %x, %w into %r : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<?x96xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant base
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %r: tensor<?x?x96xbf16>) {
  // expected-error @+1 {{base must have the result's type 'tensor<?x?x96xf32>', found 'tensor<?x?x96xbf16>'}}
  %y = zamba2.quant_linear %x, %q scales %s into %r symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x96xbf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// lora rank mismatch
func.func @f(%x: tensor<?x?x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x4xf32>, %base: tensor<?x?x96xf32>) {
  // expected-error @+1 {{adapter rank mismatch: A is [8, 64] (rank 8) but B is [96, 4]}}
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<96x4xf32> -> tensor<?x?x96xf32>
  return
}

// -----

// lora A width
func.func @f(%x: tensor<?x?x64xf32>, %a: tensor<8x32xf32>, %b: tensor<96x8xf32>, %base: tensor<?x?x96xf32>) {
  // expected-error @+1 {{adapter A must read the input's width 64, found [8, 32]}}
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x32xf32>, tensor<96x8xf32> -> tensor<?x?x96xf32>
  return
}

// -----

// lora B width
func.func @f(%x: tensor<?x?x64xf32>, %a: tensor<8x64xf32>, %b: tensor<90x8xf32>, %base: tensor<?x?x96xf32>) {
  // expected-error @+1 {{adapter B must produce width 96, found [90, 8]}}
  %y = zamba2.lora %x, %a, %b into %base : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<90x8xf32> -> tensor<?x?x96xf32>
  return
}

// -----

// lora leading dims
func.func @f(%x: tensor<2x5x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x8xf32>, %base: tensor<2x6x96xf32>) {
  // expected-error @+1 {{input [2, 5, 64] and base [2, 6, 96] disagree in their leading dims}}
  %y = zamba2.lora %x, %a, %b into %base : tensor<2x5x64xf32>, tensor<8x64xf32>, tensor<96x8xf32> -> tensor<2x6x96xf32>
  return
}

// -----

// conv width
func.func @f(%x: tensor<?x?x160xf32>, %w: tensor<160x1x1xf32>, %s: tensor<?x160x0xf32>) {
  // expected-error @+1 {{conv width must be at least 2, found 1}}
  %y, %s2 = zamba2.causal_conv1d %x, %w state %s : (tensor<?x?x160xf32>, tensor<160x1x1xf32>, tensor<?x160x0xf32>) -> (tensor<?x?x160xf32>, tensor<?x160x0xf32>)
  return
}

// -----

// conv channels
func.func @f(%x: tensor<?x?x160xf32>, %w: tensor<128x1x4xf32>, %s: tensor<?x160x3xf32>) {
  // expected-error @+1 {{weight must have shape [160, 1, 4], found [128, 1, 4]}}
  %y, %s2 = zamba2.causal_conv1d %x, %w state %s : (tensor<?x?x160xf32>, tensor<128x1x4xf32>, tensor<?x160x3xf32>) -> (tensor<?x?x160xf32>, tensor<?x160x3xf32>)
  return
}

// -----

// conv state vs kernel width
func.func @f(%x: tensor<?x?x160xf32>, %w: tensor<160x1x4xf32>, %s: tensor<?x160x4xf32>) {
  // expected-error @+1 {{state must have shape [?, 160, 3], found [?, 160, 4]}}
  %y, %s2 = zamba2.causal_conv1d %x, %w state %s : (tensor<?x?x160xf32>, tensor<160x1x4xf32>, tensor<?x160x4xf32>) -> (tensor<?x?x160xf32>, tensor<?x160x4xf32>)
  return
}

// -----

// conv bias
func.func @f(%x: tensor<?x?x160xf32>, %w: tensor<160x1x4xf32>, %b: tensor<128xf32>, %s: tensor<?x160x3xf32>) {
  // expected-error @+1 {{bias must have shape [160], found [128]}}
  %y, %s2 = zamba2.causal_conv1d %x, %w bias %b state %s : (tensor<?x?x160xf32>, tensor<160x1x4xf32>, tensor<128xf32>, tensor<?x160x3xf32>) -> (tensor<?x?x160xf32>, tensor<?x160x3xf32>)
  return
}

// -----

// ssd heads divide inner
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x3xf32>, %b: tensor<?x?x16xf32>, %s: tensor<?x3x42x16xf32>, %p: tensor<3xf32>) {
  // expected-error @+1 {{inner width 128 is not divisible by 3 heads}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x3xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x3x42x16xf32>, tensor<3xf32>, tensor<3xf32>, tensor<3xf32>) -> (tensor<?x?x128xf32>, tensor<?x3x42x16xf32>)
  return
}

// -----

// ssd heads vs groups
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{4 heads are not divisible into 3 groups}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 3 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// ssd B width vs groups
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x15xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{B width 15 is not divisible into 2 groups}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 2 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x15xf32>, tensor<?x?x15xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// ssd state shape
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %s: tensor<?x4x32x8xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{state must have shape [?, 4, 32, 16], found [?, 4, 32, 8]}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x8xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x8xf32>)
  return
}

// -----

// ssd per-head params
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<8xf32>) {
  // expected-error @+1 {{A_log must have shape [4], found [8]}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<8xf32>, tensor<8xf32>, tensor<8xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// ssd chunk size
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{chunk_size must be positive, found 0}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 1 : i64, chunk_size = 0 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// ssd dt limits
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{dt_min 1.000000e+00 exceeds dt_max 5.000000e-01}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 1 : i64, dt_min = 1.0 : f64, dt_max = 0.5 : f64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// ssd_step one token
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{ssd_step reads one token: sequence dim must be 1, found ?}}
  %y, %s2 = zamba2.ssd_step %x, %dt, %b, %b, %s params(%p, %p, %p) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// ssd B and C types differ
func.func @f(%x: tensor<?x?x128xf32>, %dt: tensor<?x?x4xf32>, %b: tensor<?x?x16xf32>, %c: tensor<?x?x8xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<4xf32>) {
  // expected-error @+1 {{all of {b, c} have same type}}
  %y, %s2 = zamba2.ssd_scan %x, %dt, %b, %c, %s params(%p, %p, %p) {groups = 1 : i64} : (tensor<?x?x128xf32>, tensor<?x?x4xf32>, tensor<?x?x16xf32>, tensor<?x?x8xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x?x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// rotary odd head dim
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{head_dim must be even, found 33}}
  %a, %b = zamba2.rotary %q, %k at %pos {head_dim = 33 : i64, theta = 10000.0 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?xi64>
  return
}

// -----

// rotary width
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x48xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{k width 48 is not a multiple of head_dim 32}}
  %a, %b = zamba2.rotary %q, %k at %pos {head_dim = 32 : i64, theta = 10000.0 : f64} : tensor<?x?x128xf32>, tensor<?x?x48xf32>, tensor<?xi64>
  return
}

// -----

// rotary positions
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %pos: tensor<?x?xi64>) {
  // expected-error @+1 {{positions must have rank 1, found rank 2}}
  %a, %b = zamba2.rotary %q, %k at %pos {head_dim = 32 : i64, theta = 10000.0 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x?xi64>
  return
}

// -----

// attention GQA
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %kc: tensor<?x2x256x32xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{4 query heads are not a multiple of 3 KV heads}}
  %o, %kc2, %vc2 = zamba2.attention %q, %k, %k cache(%kc, %kc) at %pos {num_heads = 4 : i64, num_kv_heads = 3 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x256x32xf32>, tensor<?xi64>
  return
}

// -----

// attention q width
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %kc: tensor<?x2x256x32xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{q width 128 is not divisible by 5 heads}}
  %o, %kc2, %vc2 = zamba2.attention %q, %k, %k cache(%kc, %kc) at %pos {num_heads = 5 : i64, num_kv_heads = 5 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x256x32xf32>, tensor<?xi64>
  return
}

// -----

// attention k width
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x96xf32>, %kc: tensor<?x2x256x32xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{k must have shape [?, ?, 64], found [?, ?, 96]}}
  %o, %kc2, %vc2 = zamba2.attention %q, %k, %k cache(%kc, %kc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x96xf32>, tensor<?x2x256x32xf32>, tensor<?xi64>
  return
}

// -----

// attention cache
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %kc: tensor<?x2x256x16xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{k_cache must have shape [?, 2, ?, 32], found [?, 2, 256, 16]}}
  %o, %kc2, %vc2 = zamba2.attention %q, %k, %k cache(%kc, %kc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.25 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x256x16xf32>, tensor<?xi64>
  return
}

// -----

// attention rotary odd
func.func @f(%q: tensor<?x?x12xf32>, %k: tensor<?x?x12xf32>, %kc: tensor<?x4x256x3xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{rotary needs an even head dim, found 3}}
  %o, %kc2, %vc2 = zamba2.attention %q, %k, %k cache(%kc, %kc) at %pos {num_heads = 4 : i64, num_kv_heads = 4 : i64, scale = 0.25 : f64, rope_theta = 10000.0 : f64} : tensor<?x?x12xf32>, tensor<?x?x12xf32>, tensor<?x4x256x3xf32>, tensor<?xi64>
  return
}

// -----

// attention scale
func.func @f(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %kc: tensor<?x2x256x32xf32>, %pos: tensor<?xi64>) {
  // expected-error @+1 {{scale must be positive}}
  %o, %kc2, %vc2 = zamba2.attention %q, %k, %k cache(%kc, %kc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = -1.0 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x256x32xf32>, tensor<?xi64>
  return
}

// -----

// mlp_gate odd
func.func @f(%x: tensor<?x?x7xf32>) {
  // expected-error @+1 {{input's last dim must be static and even (gate and up halves), found [?, ?, 7]}}
  %y = zamba2.mlp_gate %x gelu : tensor<?x?x7xf32> -> tensor<?x?x3xf32>
  return
}

// -----

// mlp_gate result
func.func @f(%x: tensor<?x?x8xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 4], found [?, ?, 8]}}
  %y = zamba2.mlp_gate %x silu : tensor<?x?x8xf32> -> tensor<?x?x8xf32>
  return
}

// -----

// concat width
func.func @f(%a: tensor<?x?x64xf32>, %b: tensor<?x?x64xf32>) {
  // expected-error @+1 {{result must have shape [?, ?, 128], found [?, ?, 120]}}
  %y = zamba2.concat %a, %b : tensor<?x?x64xf32>, tensor<?x?x64xf32> -> tensor<?x?x120xf32>
  return
}

// -----

// concat rank
func.func @f(%a: tensor<?x?x64xf32>, %b: tensor<?x64xf32>) {
  // expected-error @+1 {{inputs must have the same rank, found [?, ?, 64] and [?, 64]}}
  %y = zamba2.concat %a, %b : tensor<?x?x64xf32>, tensor<?x64xf32> -> tensor<?x?x128xf32>
  return
}

// -----

// concat element type
func.func @f(%a: tensor<?x?x64xf32>, %b: tensor<?x?x64xbf16>) {
  // expected-error @+1 {{inputs must have the result's element type 'f32', found 'tensor<?x?x64xbf16>'}}
  %y = zamba2.concat %a, %b : tensor<?x?x64xf32>, tensor<?x?x64xbf16> -> tensor<?x?x128xf32>
  return
}

// -----

// split sum
func.func @f(%a: tensor<?x?x64xf32>) {
  // expected-error @+1 {{sizes add up to 60 but the input's last dim is 64}}
  %x, %y = zamba2.split %a [30, 30] : tensor<?x?x64xf32> -> tensor<?x?x30xf32>, tensor<?x?x30xf32>
  return
}

// -----

// split count
func.func @f(%a: tensor<?x?x64xf32>) {
  // expected-error @+1 {{3 sizes for 2 results}}
  %x, %y = zamba2.split %a [32, 16, 16] : tensor<?x?x64xf32> -> tensor<?x?x32xf32>, tensor<?x?x32xf32>
  return
}

// -----

// split nonpositive
func.func @f(%a: tensor<?x?x64xf32>) {
  // expected-error @+1 {{sizes must be positive, found 0}}
  %x, %y = zamba2.split %a [64, 0] : tensor<?x?x64xf32> -> tensor<?x?x64xf32>, tensor<?x?x0xf32>
  return
}

// -----

// lora_linear adapter
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %a: tensor<8x64xf32>, %b: tensor<96x6xf32>) {
  // expected-error @+1 {{adapter rank mismatch: A is [8, 64] (rank 8) but B is [96, 6]}}
  %y = zamba2.lora_linear %x, %w adapter(%a, %b) : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<8x64xf32>, tensor<96x6xf32>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant bits
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x24xi8>, %s: tensor<96x2xf16>) {
  // expected-error @+1 {{bits must be 4 or 8, found 3}}
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 3 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x24xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant group
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>) {
  // expected-error @+1 {{input width 64 is not a multiple of group_size 48}}
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 48 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant scales
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x4xf16>) {
  // expected-error @+1 {{scales must have shape [96, 2], found [96, 4]}}
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x4xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant input width
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x64xi8>, %s: tensor<96x2xf16>) {
  // expected-error @+1 {{input's last dim must be 128 (packed 64 x 8 / 4 bits), found [?, ?, 64]}}
  %y = zamba2.quant_linear %x, %q scales %s symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x64xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant asym without zeros
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>) {
  // expected-error @+1 {{the asymmetric scheme needs zeros}}
  %y = zamba2.quant_linear %x, %q scales %s asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant sym with zeros
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %z: tensor<96x2xi8>) {
  // expected-error @+1 {{the symmetric scheme takes no zeros}}
  %y = zamba2.quant_linear %x, %q scales %s zeros %z symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant adapter rows
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %m: tensor<?x?x64xf32>, %bq: tensor<64x32xi8>, %bs: tensor<64x2xf16>) {
  // expected-error @+1 {{adapter packed weight has 64 rows, the packed weight 96}}
  %y = zamba2.quant_linear %x, %q scales %s adapter(%m, %bq scales %bs) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x64xf32>, tensor<64x32xi8>, tensor<64x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant adapter input width
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %m: tensor<?x?x32xf32>, %bq: tensor<96x32xi8>, %bs: tensor<96x2xf16>) {
  // expected-error @+1 {{adapter input's last dim must be 64 (packed 32 x 8 / 4 bits), found [?, ?, 32]}}
  %y = zamba2.quant_linear %x, %q scales %s adapter(%m, %bq scales %bs) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x32xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant adapter scales
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %m: tensor<?x?x64xf32>, %bq: tensor<96x32xi8>, %bs: tensor<96x1xf16>) {
  // expected-error @+1 {{adapter scales must have shape [96, 2], found [96, 1]}}
  %y = zamba2.quant_linear %x, %q scales %s adapter(%m, %bq scales %bs) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x1xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant adapter without zeros under the asymmetric scheme
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %z: tensor<96x2xi8>, %m: tensor<?x?x64xf32>) {
  // expected-error @+1 {{the asymmetric scheme needs adapter zeros}}
  %y = zamba2.quant_linear %x, %q scales %s zeros %z adapter(%m, %q scales %s) asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x2xi8>, tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant adapter without its input (generic form: the custom one cannot say it)
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>) {
  // expected-error @+1 {{an adapter needs its input, packed weight and scales (and zeros only with them)}}
  %y = "zamba2.quant_linear"(%x, %q, %s, %q, %s) <{bits = 4 : i64, group_size = 32 : i64, scheme = 0 : i32, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0>}> : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant adapter without its packed weight
func.func @f(%x: tensor<?x?x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>) {
  // expected-error @+1 {{an adapter needs its input, packed weight and scales (and zeros only with them)}}
  %y = "zamba2.quant_linear"(%x, %q, %s, %x, %s) <{bits = 4 : i64, group_size = 32 : i64, scheme = 0 : i32, operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0>}> : (tensor<?x?x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<?x?x64xf32>, tensor<96x2xf16>) -> tensor<?x?x96xf32>
  return
}

// -----

// quant adapter input rows
func.func @f(%x: tensor<2x3x64xf32>, %q: tensor<96x32xi8>, %s: tensor<96x2xf16>, %m: tensor<2x4x64xf32>) {
  // expected-error @+1 {{adapter input must have shape [2, 3, 64], found [2, 4, 64]}}
  %y = zamba2.quant_linear %x, %q scales %s adapter(%m, %q scales %s) symmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<2x3x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<2x4x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>) -> tensor<2x3x96xf32>
  return
}

// -----

// `plus` without `normed`
func.func @f(%x: tensor<?x64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{`plus`, `gated`, norm_eps and norm_groups need `normed`}}
  %y = zamba2.linear %x plus %x, %w : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<?x64xf32>) -> tensor<?x96xf32>
  return
}

// -----

// `normed` without norm_eps
func.func @f(%x: tensor<?x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{`normed` needs a positive norm_eps}}
  %y = zamba2.linear %x normed %nw, %w : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<64xf32>) -> tensor<?x96xf32>
  return
}

// -----

// `plus` and `gated` together
func.func @f(%x: tensor<?x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{a norm prologue is `plus` or `gated`, not both}}
  %y = zamba2.linear %x normed %nw plus %x gated %x, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<64xf32>, tensor<?x64xf32>, tensor<?x64xf32>) -> tensor<?x96xf32>
  return
}

// -----

// norm weight of the wrong width
func.func @f(%x: tensor<?x64xf32>, %nw: tensor<32xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{norm weight must have shape [64], found [32]}}
  %y = zamba2.linear %x normed %nw, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<32xf32>) -> tensor<?x96xf32>
  return
}

// -----

// `gated` operand of another type
func.func @f(%x: tensor<?x64xf32>, %z: tensor<?x32xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{the norm prologue's `plus`/`gated` operand must have the input's type 'tensor<?x64xf32>', found 'tensor<?x32xf32>'}}
  %y = zamba2.linear %x normed %nw gated %z, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<64xf32>, tensor<?x32xf32>) -> tensor<?x96xf32>
  return
}

// -----

// norm groups without a gate, and groups that do not divide the width
func.func @f(%x: tensor<?x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{norm_groups > 1 needs `gated` (as gated_rms_norm)}}
  %y = zamba2.linear %x normed %nw, %w {norm_eps = 1.0e-5 : f64, norm_groups = 2 : i64} : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<64xf32>) -> tensor<?x96xf32>
  return
}

// -----

func.func @f(%x: tensor<?x64xf32>, %nw: tensor<64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{width 64 is not divisible into 3 norm groups}}
  %y = zamba2.linear %x normed %nw gated %x, %w {norm_eps = 1.0e-5 : f64, norm_groups = 3 : i64} : (tensor<?x64xf32>, tensor<96x64xf32>, tensor<64xf32>, tensor<?x64xf32>) -> tensor<?x96xf32>
  return
}

// -----

// a norm prologue over a dynamic width
func.func @f(%x: tensor<?x?xf32>, %nw: tensor<?xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{a norm prologue needs a static input width}}
  %y = zamba2.linear %x normed %nw, %w {norm_eps = 1.0e-5 : f64} : (tensor<?x?xf32>, tensor<96x64xf32>, tensor<?xf32>) -> tensor<?x96xf32>
  return
}

// -----

// A convolution epilogue over several tokens per row
func.func @f(%x: tensor<?x?x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) {
  // expected-error @+1 {{a convolution epilogue needs one token per row (input [B, 1, In]), found input [?, ?, 64]}}
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 0 : i64} : (tensor<?x?x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x?x96xf32>, tensor<?x40x3xf32>)
  return
}

// -----

// convolved channels past the result's
func.func @f(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) {
  // expected-error @+1 {{conv channels [60, 100) must lie in the result's 96 channels}}
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 60 : i64} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  return
}

// -----

// no offset
func.func @f(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) {
  // expected-error @+1 {{`conv` needs a state, conv_offset and the new_conv_state result}}
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  return
}

// -----

// conv_silu without `conv`
func.func @f(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>) {
  // expected-error @+1 {{conv bias, state, offset, silu and new_conv_state need `conv`}}
  %y = zamba2.linear %x, %w {conv_silu} : (tensor<?x1x64xf32>, tensor<96x64xf32>) -> tensor<?x1x96xf32>
  return
}

// -----

// a state of another width
func.func @f(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x2xf32>) {
  // expected-error @+1 {{conv state must have shape [?, 40, 3], found [?, 40, 2]}}
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 0 : i64} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x2xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x2xf32>)
  return
}

// -----

// a new state of another type than the state
func.func @f(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) {
  // expected-error @+1 {{new_conv_state must have the conv state's type 'tensor<?x40x3xf32>', found 'tensor<2x40x3xf32>'}}
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 0 : i64} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<2x40x3xf32>)
  return
}

// -----

// a quant_linear's convolution weight of width 1
func.func @f(%x: tensor<?x1x64xf32>, %qw: tensor<96x32xi8>, %sc: tensor<96x2xf16>, %cw: tensor<40x1x1xf32>, %cs: tensor<?x40x0xf32>) {
  // expected-error @+1 {{conv width must be at least 2, found 1}}
  %y, %s = zamba2.quant_linear %x, %qw scales %sc symmetric conv(%cw state %cs) {bits = 4 : i64, group_size = 32 : i64, conv_offset = 0 : i64} : (tensor<?x1x64xf32>, tensor<96x32xi8>, tensor<96x2xf16>, tensor<40x1x1xf32>, tensor<?x40x0xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x0xf32>)
  return
}

// -----

// an offset whose sum with the channels overflows
func.func @f(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) {
  // expected-error @+1 {{conv channels [9223372036854775807,}}
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 9223372036854775807 : i64} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xf32>, tensor<?x40x3xf32>)
  return
}

// -----

// a product of bf16 (the convolution reads f32)
func.func @f(%x: tensor<?x1x64xf32>, %w: tensor<96x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) {
  // expected-error @+1 {{a convolution epilogue needs an f32 result}}
  %y, %s = zamba2.linear %x, %w conv(%cw state %cs) {conv_offset = 0 : i64} : (tensor<?x1x64xf32>, tensor<96x64xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x96xbf16>, tensor<?x40x3xf32>)
  return
}

// -----

// a gate of another shape than x
func.func @f(%x: tensor<?x1x128xf32>, %dt: tensor<?x1x4xf32>, %b: tensor<?x1x16xf32>, %s: tensor<?x4x32x16xf32>, %p: tensor<4xf32>, %z: tensor<?x1x64xf32>) {
  // expected-error @+1 {{gate must have shape [?, 1, 128], found [?, 1, 64]}}
  %y, %s2 = zamba2.ssd_step %x, %dt, %b, %b, %s params(%p, %p, %p) gated %z {groups = 1 : i64} : (tensor<?x1x128xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x32x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<?x1x64xf32>) -> (tensor<?x1x128xf32>, tensor<?x4x32x16xf32>)
  return
}

// -----

// in_proj_scan whose body has no ssd_step
func.func @in_proj_scan_no_scan(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %cw: tensor<64x1x4xf32>, %cs: tensor<?x64x3xf32>) -> tensor<?x64x3xf32> {
  // expected-error @+1 {{body must hold one linear or quant_linear and one ssd_step, found 1 and 0}}
  %r = zamba2.in_proj_scan(%x, %w, %cw, %cs) : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<?x64x3xf32>) -> (tensor<?x64x3xf32>) {
  ^bb0(%a: tensor<?x1x64xf32>, %b: tensor<100x64xf32>, %c: tensor<64x1x4xf32>, %d: tensor<?x64x3xf32>):
    %p, %ncs = zamba2.linear %a, %b conv(%c state %d) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<?x64x3xf32>) -> (tensor<?x1x100xf32>, tensor<?x64x3xf32>)
    zamba2.yield %ncs : tensor<?x64x3xf32>
  }
  return %r : tensor<?x64x3xf32>
}

// -----

// in_proj_scan whose product has no convolution epilogue
func.func @in_proj_scan_no_conv(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %s: tensor<?x4x8x16xf32>, %p4: tensor<4xf32>) -> tensor<?x1x32xf32> {
  // expected-error @+1 {{the product must have a convolution epilogue (zamba2-fuse-conv)}}
  %r = zamba2.in_proj_scan(%x, %w, %s, %p4) : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>) -> (tensor<?x1x32xf32>) {
  ^bb0(%a: tensor<?x1x64xf32>, %b: tensor<100x64xf32>, %st: tensor<?x4x8x16xf32>, %q: tensor<4xf32>):
    %p = zamba2.linear %a, %b : (tensor<?x1x64xf32>, tensor<100x64xf32>) -> tensor<?x1x100xf32>
    %z, %xs, %bb, %cc, %dt = zamba2.split %p [32, 32, 16, 16, 4] : tensor<?x1x100xf32> -> tensor<?x1x32xf32>, tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x1x4xf32>
    %y, %ns = zamba2.ssd_step %xs, %dt, %bb, %cc, %st params(%q, %q, %q) {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>)
    zamba2.yield %y : tensor<?x1x32xf32>
  }
  return %r : tensor<?x1x32xf32>
}

// -----

// in_proj_scan whose x and dt overlap
func.func @in_proj_scan_layout(%x: tensor<?x1x64xf32>, %w: tensor<100x64xf32>, %cw: tensor<64x1x4xf32>, %cs: tensor<?x64x3xf32>, %s: tensor<?x4x8x16xf32>, %p4: tensor<4xf32>) -> tensor<?x1x32xf32> {
  // expected-error @+1 {{the ssd_step's pieces: b, c and dt must lie together, apart from x}}
  %r = zamba2.in_proj_scan(%x, %w, %cw, %cs, %s, %p4) : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<?x64x3xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>) -> (tensor<?x1x32xf32>) {
  ^bb0(%a: tensor<?x1x64xf32>, %b: tensor<100x64xf32>, %c: tensor<64x1x4xf32>, %d: tensor<?x64x3xf32>, %st: tensor<?x4x8x16xf32>, %q: tensor<4xf32>):
    %p, %ncs = zamba2.linear %a, %b conv(%c state %d) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<100x64xf32>, tensor<64x1x4xf32>, tensor<?x64x3xf32>) -> (tensor<?x1x100xf32>, tensor<?x64x3xf32>)
    %z, %xs, %bb, %cc, %dt = zamba2.split %p [32, 32, 16, 16, 4] : tensor<?x1x100xf32> -> tensor<?x1x32xf32>, tensor<?x1x32xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x1x4xf32>
    %dt2, %rest = zamba2.split %xs [4, 28] : tensor<?x1x32xf32> -> tensor<?x1x4xf32>, tensor<?x1x28xf32>
    %y, %ns = zamba2.ssd_step %xs, %dt2, %bb, %cc, %st params(%q, %q, %q) {groups = 1 : i64} : (tensor<?x1x32xf32>, tensor<?x1x4xf32>, tensor<?x1x16xf32>, tensor<?x1x16xf32>, tensor<?x4x8x16xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> (tensor<?x1x32xf32>, tensor<?x4x8x16xf32>)
    zamba2.yield %y : tensor<?x1x32xf32>
  }
  return %r : tensor<?x1x32xf32>
}
