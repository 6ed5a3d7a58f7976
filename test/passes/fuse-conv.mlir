// RUN: zamba2-opt %s --zamba2-fuse-conv -split-input-file | FileCheck %s

// The decode step's in_proj, split, conv1d: the convolution becomes the
// linear's epilogue at the piece's first channel (32), with its weight,
// bias, state and SiLU; the new state is the linear's second result; the
// split now reads the fused linear and the other pieces are unchanged.
// CHECK-LABEL: func.func @in_proj
// CHECK-NEXT: %[[Y:.*]], %[[S:.*]] = zamba2.linear %arg0, %arg1 conv(%arg2 bias %arg3 state %arg4) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x64xf32>, tensor<76x64xf32>, tensor<40x1x4xf32>, tensor<40xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x76xf32>, tensor<?x40x3xf32>)
// CHECK-NEXT: %[[P:.*]]:3 = zamba2.split %[[Y]] [32, 40, 4]
// CHECK-NEXT: return %[[P]]#0, %[[P]]#1, %[[P]]#2, %[[S]]
func.func @in_proj(%x: tensor<?x1x64xf32>, %w: tensor<76x64xf32>, %cw: tensor<40x1x4xf32>, %cb: tensor<40xf32>, %cs: tensor<?x40x3xf32>) -> (tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x1x4xf32>, tensor<?x40x3xf32>) {
  %y = zamba2.linear %x, %w : (tensor<?x1x64xf32>, tensor<76x64xf32>) -> tensor<?x1x76xf32>
  %z, %xbc, %dt = zamba2.split %y [32, 40, 4] : tensor<?x1x76xf32> -> tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x1x4xf32>
  %c, %s = zamba2.causal_conv1d %xbc, %cw bias %cb state %cs {silu} : (tensor<?x1x40xf32>, tensor<40x1x4xf32>, tensor<40xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x40xf32>, tensor<?x40x3xf32>)
  return %z, %c, %dt, %s : tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x1x4xf32>, tensor<?x40x3xf32>
}

// -----

// A quant_linear takes it too (its norm prologue stays); the first piece,
// no bias, no SiLU: offset 0.
// CHECK-LABEL: func.func @quant_first_piece
// CHECK-NEXT: %[[Y:.*]], %[[S:.*]] = zamba2.quant_linear %arg0 normed %arg5, %arg1 scales %arg2 symmetric conv(%arg3 state %arg4) {bits = 4 : i64, conv_offset = 0 : i64, group_size = 32 : i64, norm_eps = 1.000000e-05 : f64}
// CHECK-NEXT: %[[P:.*]]:2 = zamba2.split %[[Y]] [16, 48]
// CHECK-NEXT: return %[[P]]#0, %[[P]]#1, %[[S]]
func.func @quant_first_piece(%x: tensor<2x1x64xf32>, %q: tensor<64x32xi8>, %sc: tensor<64x2xf16>, %cw: tensor<16x1x3xf32>, %cs: tensor<2x16x2xf32>, %nw: tensor<64xf32>) -> (tensor<2x1x16xf32>, tensor<2x1x48xf32>, tensor<2x16x2xf32>) {
  %y = zamba2.quant_linear %x normed %nw, %q scales %sc symmetric {bits = 4 : i64, group_size = 32 : i64, norm_eps = 1.0e-5 : f64} : (tensor<2x1x64xf32>, tensor<64x32xi8>, tensor<64x2xf16>, tensor<64xf32>) -> tensor<2x1x64xf32>
  %a, %b = zamba2.split %y [16, 48] : tensor<2x1x64xf32> -> tensor<2x1x16xf32>, tensor<2x1x48xf32>
  %c, %s = zamba2.causal_conv1d %a, %cw state %cs : (tensor<2x1x16xf32>, tensor<16x1x3xf32>, tensor<2x16x2xf32>) -> (tensor<2x1x16xf32>, tensor<2x16x2xf32>)
  return %c, %b, %s : tensor<2x1x16xf32>, tensor<2x1x48xf32>, tensor<2x16x2xf32>
}

// -----

// Prefill: several tokens per row (a token's convolution reads the tokens
// before it, which other threads compute): no match.
// CHECK-LABEL: func.func @prefill
// CHECK: zamba2.linear %arg0, %arg1 :
// CHECK: zamba2.causal_conv1d
func.func @prefill(%x: tensor<?x?x64xf32>, %w: tensor<76x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x40xf32>, tensor<?x?x4xf32>, tensor<?x40x3xf32>) {
  %y = zamba2.linear %x, %w : (tensor<?x?x64xf32>, tensor<76x64xf32>) -> tensor<?x?x76xf32>
  %z, %xbc, %dt = zamba2.split %y [32, 40, 4] : tensor<?x?x76xf32> -> tensor<?x?x32xf32>, tensor<?x?x40xf32>, tensor<?x?x4xf32>
  %c, %s = zamba2.causal_conv1d %xbc, %cw state %cs : (tensor<?x?x40xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x?x40xf32>, tensor<?x40x3xf32>)
  return %z, %c, %dt, %s : tensor<?x?x32xf32>, tensor<?x?x40xf32>, tensor<?x?x4xf32>, tensor<?x40x3xf32>
}

// -----

// The convolved piece is also read unconvolved: no match.
// CHECK-LABEL: func.func @piece_reused
// CHECK: zamba2.linear %arg0, %arg1 :
// CHECK: zamba2.causal_conv1d
func.func @piece_reused(%x: tensor<?x1x64xf32>, %w: tensor<76x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) -> (tensor<?x1x40xf32>, tensor<?x1x40xf32>, tensor<?x40x3xf32>) {
  %y = zamba2.linear %x, %w : (tensor<?x1x64xf32>, tensor<76x64xf32>) -> tensor<?x1x76xf32>
  %z, %xbc, %dt = zamba2.split %y [32, 40, 4] : tensor<?x1x76xf32> -> tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x1x4xf32>
  %c, %s = zamba2.causal_conv1d %xbc, %cw state %cs : (tensor<?x1x40xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x40xf32>, tensor<?x40x3xf32>)
  return %c, %xbc, %s : tensor<?x1x40xf32>, tensor<?x1x40xf32>, tensor<?x40x3xf32>
}

// -----

// The linear's result has another use: no match.
// CHECK-LABEL: func.func @product_reused
// CHECK: zamba2.linear %arg0, %arg1 :
// CHECK: zamba2.causal_conv1d
func.func @product_reused(%x: tensor<?x1x64xf32>, %w: tensor<76x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) -> (tensor<?x1x76xf32>, tensor<?x1x40xf32>, tensor<?x40x3xf32>) {
  %y = zamba2.linear %x, %w : (tensor<?x1x64xf32>, tensor<76x64xf32>) -> tensor<?x1x76xf32>
  %z, %xbc, %dt = zamba2.split %y [32, 40, 4] : tensor<?x1x76xf32> -> tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x1x4xf32>
  %c, %s = zamba2.causal_conv1d %xbc, %cw state %cs : (tensor<?x1x40xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x40xf32>, tensor<?x40x3xf32>)
  return %y, %c, %s : tensor<?x1x76xf32>, tensor<?x1x40xf32>, tensor<?x40x3xf32>
}

// -----

// Another piece is used before the convolution (the fused op would go
// where the convolution is): no match.
// CHECK-LABEL: func.func @piece_used_before
// CHECK: zamba2.linear %arg0, %arg1 :
// CHECK: zamba2.causal_conv1d
func.func @piece_used_before(%x: tensor<?x1x64xf32>, %w: tensor<76x64xf32>, %cw: tensor<40x1x4xf32>, %cs: tensor<?x40x3xf32>) -> (tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x40x3xf32>) {
  %y = zamba2.linear %x, %w : (tensor<?x1x64xf32>, tensor<76x64xf32>) -> tensor<?x1x76xf32>
  %z, %xbc, %dt = zamba2.split %y [32, 40, 4] : tensor<?x1x76xf32> -> tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x1x4xf32>
  %z2 = arith.addf %z, %z : tensor<?x1x32xf32>
  %c, %s = zamba2.causal_conv1d %xbc, %cw state %cs : (tensor<?x1x40xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x40xf32>, tensor<?x40x3xf32>)
  return %z2, %c, %s : tensor<?x1x32xf32>, tensor<?x1x40xf32>, tensor<?x40x3xf32>
}

// -----

// A lora_linear takes no convolution epilogue, and a convolution of a
// linear's whole result (no split) is not matched: no match.
// CHECK-LABEL: func.func @not_taken
// CHECK-COUNT-2: zamba2.causal_conv1d
func.func @not_taken(%x: tensor<?x1x64xf32>, %w: tensor<40x64xf32>, %a: tensor<8x64xf32>, %b: tensor<40x8xf32>, %cw: tensor<20x1x4xf32>, %cw2: tensor<40x1x4xf32>, %cs: tensor<?x20x3xf32>, %cs2: tensor<?x40x3xf32>) -> (tensor<?x1x20xf32>, tensor<?x1x40xf32>, tensor<?x20x3xf32>, tensor<?x40x3xf32>) {
  %y = zamba2.lora_linear %x, %w adapter(%a, %b) : (tensor<?x1x64xf32>, tensor<40x64xf32>, tensor<8x64xf32>, tensor<40x8xf32>) -> tensor<?x1x40xf32>
  %p, %q = zamba2.split %y [20, 20] : tensor<?x1x40xf32> -> tensor<?x1x20xf32>, tensor<?x1x20xf32>
  %c, %s = zamba2.causal_conv1d %p, %cw state %cs : (tensor<?x1x20xf32>, tensor<20x1x4xf32>, tensor<?x20x3xf32>) -> (tensor<?x1x20xf32>, tensor<?x20x3xf32>)
  %l = zamba2.linear %x, %w : (tensor<?x1x64xf32>, tensor<40x64xf32>) -> tensor<?x1x40xf32>
  %c2, %s2 = zamba2.causal_conv1d %l, %cw2 state %cs2 : (tensor<?x1x40xf32>, tensor<40x1x4xf32>, tensor<?x40x3xf32>) -> (tensor<?x1x40xf32>, tensor<?x40x3xf32>)
  return %c, %c2, %s, %s2 : tensor<?x1x20xf32>, tensor<?x1x40xf32>, tensor<?x20x3xf32>, tensor<?x40x3xf32>
}

// -----

// The convolution reads another piece of the same split (as its weight
// here): the fused linear would read the split of its own result: no match.
// CHECK-LABEL: func.func @conv_reads_piece
// CHECK: zamba2.linear %arg0, %arg1 :
// CHECK: zamba2.causal_conv1d
func.func @conv_reads_piece(%x: tensor<1x1x64xf32>, %w: tensor<5x64xf32>, %cs: tensor<1x1x3xf32>) -> (tensor<1x1x1xf32>, tensor<1x1x3xf32>) {
  %y = zamba2.linear %x, %w : (tensor<1x1x64xf32>, tensor<5x64xf32>) -> tensor<1x1x5xf32>
  %p, %q = zamba2.split %y [1, 4] : tensor<1x1x5xf32> -> tensor<1x1x1xf32>, tensor<1x1x4xf32>
  %c, %s = zamba2.causal_conv1d %p, %q state %cs : (tensor<1x1x1xf32>, tensor<1x1x4xf32>, tensor<1x1x3xf32>) -> (tensor<1x1x1xf32>, tensor<1x1x3xf32>)
  return %c, %s : tensor<1x1x1xf32>, tensor<1x1x3xf32>
}
