// zamba2-quantize: which linears become quant_linear, the declarations made
// for them, and the options.
// RUN: zamba2-opt %s --zamba2-quantize -split-input-file | FileCheck %s
// RUN: zamba2-opt %s --zamba2-quantize="bits=8 group-size=32 scheme=asymmetric scale-type=f32" -split-input-file | FileCheck %s --check-prefix=ASYM
// RUN: zamba2-opt %s --zamba2-quantize="quantize-lm-head quantize-adapters=false" -split-input-file | FileCheck %s --check-prefix=HEAD
// RUN: zamba2-opt %s --zamba2-quantize -split-input-file --zamba2-weight-table | FileCheck %s --check-prefix=TABLE

// A model in miniature: embedding, a linear with a bias, a shared weight read
// by two linears (in two functions), a LoRA adapter on one of them (A [8, 64]
// quantizable, B [64, 8] not: width 8 < group 64), and the tied lm_head.
// The defaults: 4 bits, group 64, symmetric, f16 scales, adapters on,
// lm_head and embedding off.

// CHECK: zamba2.weight @emb : tensor<512x64xf32>
// CHECK-NEXT: zamba2.weight @w.packed {zamba2.quant = {bits = 4 : i64, group_size = 64 : i64, part = "packed", scale_type = f16, scheme = "symmetric", source = "w", tensor = "w"}} : tensor<128x32xi8>
// CHECK-NEXT: zamba2.weight @w.scales {zamba2.quant = {bits = 4 : i64, group_size = 64 : i64, part = "scales", scale_type = f16, scheme = "symmetric", source = "w", tensor = "w"}} : tensor<128x1xf16>
// CHECK-NEXT: zamba2.weight @bias : tensor<128xf32>
// CHECK-NEXT: zamba2.weight @shared.packed {{.*}} : tensor<64x64xi8>
// CHECK-NEXT: zamba2.weight @shared.scales {{.*}} : tensor<64x2xf16>
// CHECK-NEXT: zamba2.weight @a.packed {{.*}} : tensor<8x32xi8>
// CHECK-NEXT: zamba2.weight @a.scales {{.*}} : tensor<8x1xf16>
// CHECK-NEXT: zamba2.weight @b : tensor<64x8xf32>
// CHECK-NOT: zamba2.weight

// CHECK-LABEL: func.func @prefill
// CHECK: %[[E:.*]] = zamba2.param @emb : tensor<512x64xf32>
// CHECK: %[[X:.*]] = zamba2.embed %[[E]]
// CHECK: %[[BIAS:.*]] = zamba2.param @bias
// CHECK: %[[WP:.*]] = zamba2.param @w.packed : tensor<128x32xi8>
// CHECK-NEXT: %[[WS:.*]] = zamba2.param @w.scales : tensor<128x1xf16>
// CHECK-NEXT: %[[Y:.*]] = zamba2.quant_linear %[[X]], %[[WP]] scales %[[WS]] bias %[[BIAS]] symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x?x64xf32>, tensor<128x32xi8>, tensor<128x1xf16>, tensor<128xf32>) -> tensor<?x?x128xf32>
// The shared weight's linear, then its adapter: base + (x A^T) B^T with A
// quantized and B a float linear that adds to the base itself.
// CHECK: %[[SP:.*]] = zamba2.param @shared.packed
// CHECK-NEXT: %[[SS:.*]] = zamba2.param @shared.scales
// CHECK-NEXT: %[[S:.*]] = zamba2.quant_linear %[[Y]], %[[SP]] scales %[[SS]] symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x?x128xf32>, tensor<64x64xi8>, tensor<64x2xf16>) -> tensor<?x?x64xf32>
// CHECK: %[[AP:.*]] = zamba2.param @a.packed
// CHECK-NEXT: %[[AS:.*]] = zamba2.param @a.scales
// CHECK-NEXT: %[[MID:.*]] = zamba2.quant_linear %[[S]], %[[AP]] scales %[[AS]] symmetric {{.*}} -> tensor<?x?x8xf32>
// CHECK-NEXT: %[[SUM:.*]] = zamba2.linear %[[MID]], %{{.*}} into %[[S]] : (tensor<?x?x8xf32>, tensor<64x8xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
// The tied lm_head stays a float linear of the embedding table.
// CHECK-NEXT: %[[L:.*]] = zamba2.linear %[[SUM]], %[[E]] : (tensor<?x?x64xf32>, tensor<512x64xf32>) -> tensor<?x?x512xf32>
// CHECK-NEXT: return %[[L]]
// CHECK-NOT: zamba2.lora
// CHECK-LABEL: func.func @decode
// CHECK: zamba2.param @shared.packed
// CHECK: zamba2.quant_linear

// 8 bits, group 32, asymmetric, f32 scales: zeros too; the adapter's B is
// still too narrow (8 < 32).
// ASYM: zamba2.weight @w.packed {{.*}}bits = 8 : i64, group_size = 32 : i64, part = "packed", scale_type = f32, scheme = "asymmetric"{{.*}} : tensor<128x64xi8>
// ASYM-NEXT: zamba2.weight @w.scales {{.*}} : tensor<128x2xf32>
// ASYM-NEXT: zamba2.weight @w.zeros {{.*}}part = "zeros"{{.*}} : tensor<128x2xi8>
// ASYM: zamba2.quant_linear %{{.*}}, %{{.*}} scales %{{.*}} zeros %{{.*}} bias %{{.*}} asymmetric {bits = 8 : i64, group_size = 32 : i64} : (tensor<?x?x64xf32>, tensor<128x64xi8>, tensor<128x2xf32>, tensor<128x2xi8>, tensor<128xf32>) -> tensor<?x?x128xf32>

// quantize-lm-head: the logits linear reads a quantized copy standing for
// lm_head.weight; the lookup keeps the float table. Adapters off: the lora
// stays, on the quantized base (zamba2-fuse-lora will not fuse it).
// HEAD: zamba2.weight @emb : tensor<512x64xf32>
// HEAD-NEXT: zamba2.weight @lm_head.weight.packed {{.*}}part = "packed"{{.*}}source = "emb", tensor = "lm_head.weight"}} : tensor<512x32xi8>
// HEAD-NEXT: zamba2.weight @lm_head.weight.scales {{.*}} : tensor<512x1xf16>
// HEAD: zamba2.weight @a : tensor<8x64xf32>
// HEAD-NEXT: zamba2.weight @b : tensor<64x8xf32>
// HEAD-LABEL: func.func @prefill
// HEAD: zamba2.embed
// HEAD: %[[S:.*]] = zamba2.quant_linear
// HEAD: %[[S:.*]] = zamba2.quant_linear
// HEAD: %[[Z:.*]] = zamba2.lora %{{.*}}, %{{.*}}, %{{.*}} into %[[S]]
// HEAD: zamba2.quant_linear %[[Z]], {{.*}} -> tensor<?x?x512xf32>

// The weight table shows what each part is made of.
// TABLE: weight w.packed tensor<128x32xi8> bytes 4096 uses 1 quant packed of w int4 group 64 symmetric f16 scales
// TABLE: weight shared.packed tensor<64x64xi8> bytes 4096 uses 2 quant packed of shared int4 group 64 symmetric f16 scales

module {
  zamba2.weight @emb : tensor<512x64xf32>
  zamba2.weight @w : tensor<128x64xf32>
  zamba2.weight @bias : tensor<128xf32>
  zamba2.weight @shared : tensor<64x128xf32>
  zamba2.weight @a : tensor<8x64xf32>
  zamba2.weight @b : tensor<64x8xf32>
  func.func @prefill(%ids: tensor<?x?xi64>) -> tensor<?x?x512xf32> {
    %e = zamba2.param @emb : tensor<512x64xf32>
    %x = zamba2.embed %e[%ids] : tensor<512x64xf32>, tensor<?x?xi64> -> tensor<?x?x64xf32>
    %w = zamba2.param @w : tensor<128x64xf32>
    %bias = zamba2.param @bias : tensor<128xf32>
    %y = zamba2.linear %x, %w bias %bias : (tensor<?x?x64xf32>, tensor<128x64xf32>, tensor<128xf32>) -> tensor<?x?x128xf32>
    %s = zamba2.param @shared : tensor<64x128xf32>
    %sy = zamba2.linear %y, %s : (tensor<?x?x128xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
    %a = zamba2.param @a : tensor<8x64xf32>
    %b = zamba2.param @b : tensor<64x8xf32>
    %z = zamba2.lora %sy, %a, %b into %sy : tensor<?x?x64xf32>, tensor<8x64xf32>, tensor<64x8xf32> -> tensor<?x?x64xf32>
    %l = zamba2.linear %z, %e : (tensor<?x?x64xf32>, tensor<512x64xf32>) -> tensor<?x?x512xf32>
    return %l : tensor<?x?x512xf32>
  }
  func.func @decode(%x: tensor<?x?x128xf32>) -> tensor<?x?x64xf32> {
    %s = zamba2.param @shared : tensor<64x128xf32>
    %sy = zamba2.linear %x, %s : (tensor<?x?x128xf32>, tensor<64x128xf32>) -> tensor<?x?x64xf32>
    return %sy : tensor<?x?x64xf32>
  }
}

// -----

// An untied lm_head (lm_head.weight) is off by default too; a linear whose
// weight is not a declared weight (an argument) is left alone.
// CHECK-LABEL: func.func @untied
// CHECK-NEXT: zamba2.param @lm_head.weight : tensor<16x64xf32>
// CHECK-NEXT: zamba2.linear
// CHECK-NEXT: zamba2.linear %{{.*}}, %arg1
// HEAD-LABEL: func.func @untied
// HEAD: zamba2.param @lm_head.weight.packed
// HEAD: zamba2.quant_linear
// HEAD: zamba2.linear %{{.*}}, %arg1
zamba2.weight @lm_head.weight : tensor<16x64xf32>
func.func @untied(%x: tensor<?x?x64xf32>, %w: tensor<16x64xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %h = zamba2.param @lm_head.weight : tensor<16x64xf32>
  %l = zamba2.linear %x, %h : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32>
  %m = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32>
  return %l, %m : tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// lora_linear (zamba2-fuse-lora ran first) is split: the quantized linear,
// then the adapter: A [8, 64] quantized, B [64, 8] (width 8 < 64) a float
// linear. With quantize-adapters=false the lora stays, on the quantized base.
// CHECK-LABEL: func.func @fused
// CHECK: %[[B:.*]] = zamba2.quant_linear %arg0, {{.*}} bias %arg1
// CHECK: %[[M:.*]] = zamba2.quant_linear %arg0, {{.*}} -> tensor<?x?x8xf32>
// CHECK-NEXT: %[[R:.*]] = zamba2.linear %[[M]], %{{.*}} into %[[B]]
// CHECK-NEXT: return %[[R]]
// HEAD-LABEL: func.func @fused
// HEAD: %[[B:.*]] = zamba2.quant_linear %arg0, {{.*}} bias %arg1
// HEAD-NEXT: %[[R:.*]] = zamba2.lora %arg0, %{{.*}}, %{{.*}} into %[[B]]
// HEAD-NEXT: return %[[R]]
zamba2.weight @fw : tensor<64x64xf32>
zamba2.weight @fa : tensor<8x64xf32>
zamba2.weight @fb : tensor<64x8xf32>
func.func @fused(%x: tensor<?x?x64xf32>, %bias: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %w = zamba2.param @fw : tensor<64x64xf32>
  %a = zamba2.param @fa : tensor<8x64xf32>
  %b = zamba2.param @fb : tensor<64x8xf32>
  %y = zamba2.lora_linear %x, %w adapter(%a, %b) bias %bias : (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<8x64xf32>, tensor<64x8xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}

// -----

// A lora_linear whose B can be quantized too (rank 64 = the group size):
// it stays fused, as a quant_linear with an adapter after x A^T. 8 bits,
// group 32, asymmetric: B has zeros too. With quantize-adapters=false the lora stays.
// CHECK-LABEL: func.func @fused_rank64
// CHECK: %[[M:.*]] = zamba2.quant_linear %arg0, {{.*}} -> tensor<?x?x64xf32>
// CHECK: %[[BP:.*]] = zamba2.param @gb.packed
// CHECK-NEXT: %[[BS:.*]] = zamba2.param @gb.scales
// CHECK: %[[R:.*]] = zamba2.quant_linear %arg0, %{{.*}} scales %{{.*}} adapter(%[[M]], %[[BP]] scales %[[BS]]) symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<?x?x64xf32>, tensor<64x32xi8>, tensor<64x1xf16>, tensor<?x?x64xf32>, tensor<64x32xi8>, tensor<64x1xf16>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[R]]
// ASYM-LABEL: func.func @fused_rank64
// ASYM: zamba2.quant_linear %arg0, %{{.*}} scales %{{.*}} zeros %{{.*}} adapter(%{{.*}}, %{{.*}} scales %{{.*}} zeros %{{.*}}) asymmetric {bits = 8 : i64, group_size = 32 : i64}
// HEAD-LABEL: func.func @fused_rank64
// HEAD-NOT: adapter(
// HEAD: zamba2.lora %arg0
zamba2.weight @gw : tensor<64x64xf32>
zamba2.weight @ga : tensor<64x64xf32>
zamba2.weight @gb : tensor<64x64xf32>
func.func @fused_rank64(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %w = zamba2.param @gw : tensor<64x64xf32>
  %a = zamba2.param @ga : tensor<64x64xf32>
  %b = zamba2.param @gb : tensor<64x64xf32>
  %y = zamba2.lora_linear %x, %w adapter(%a, %b) : (tensor<?x?x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  return %y : tensor<?x?x64xf32>
}
