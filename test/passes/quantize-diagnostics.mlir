// zamba2-quantize's diagnostics: a weight whose input width does not fit the
// group size stays unquantized with one warning (however many linears read
// it); bad options are one error.
// RUN: zamba2-opt %s --zamba2-quantize=group-size=32 -verify-diagnostics -split-input-file | FileCheck %s
// RUN: not zamba2-opt %s --zamba2-quantize=bits=3 2>&1 | FileCheck %s --check-prefix=BITS
// RUN: not zamba2-opt %s --zamba2-quantize=scheme=sym 2>&1 | FileCheck %s --check-prefix=SCHEME
// RUN: not zamba2-opt %s --zamba2-quantize=scale-type=bf16 2>&1 | FileCheck %s --check-prefix=SCALE
// RUN: not zamba2-opt %s --zamba2-quantize=group-size=0 2>&1 | FileCheck %s --check-prefix=GROUP
// RUN: not zamba2-opt %s --zamba2-quantize=quantize-embeddings 2>&1 | FileCheck %s --check-prefix=EMB
// RUN: not zamba2-opt %s --zamba2-fuse-norm --zamba2-quantize -split-input-file 2>&1 | FileCheck %s --check-prefix=NORMED
// NORMED: error: zamba2-quantize: this linear normalises its input (zamba2-fuse-norm); quantize before fusing norms
// BITS: error: zamba2-quantize: bits must be 4 or 8, got 3
// SCHEME: error: zamba2-quantize: scheme must be 'symmetric' or 'asymmetric', got 'sym'
// SCALE: error: zamba2-quantize: scale-type must be 'f16' or 'f32', got 'bf16'
// GROUP: error: zamba2-quantize: quantization group size must be positive, got 0
// EMB: error: zamba2-quantize: quantize-embeddings is not supported: zamba2.embed reads a float table and the dialect has no quantized lookup

// CHECK-LABEL: func.func @f
// CHECK: zamba2.linear %arg0, %{{.*}} : (tensor<?x?x48xf32>, tensor<16x48xf32>)
// CHECK: zamba2.linear %arg0, %{{.*}} : (tensor<?x?x48xf32>, tensor<16x48xf32>)
// CHECK: zamba2.quant_linear %arg1
// expected-warning @+1 {{zamba2-quantize: 'odd' left unquantized: input width 48 is not a multiple of the group size 32}}
zamba2.weight @odd : tensor<16x48xf32>
zamba2.weight @even : tensor<16x64xf32>
func.func @f(%x: tensor<?x?x48xf32>, %x2: tensor<?x?x64xf32>) -> (tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) {
  %w = zamba2.param @odd : tensor<16x48xf32>
  %a = zamba2.linear %x, %w : (tensor<?x?x48xf32>, tensor<16x48xf32>) -> tensor<?x?x16xf32>
  %b = zamba2.linear %x, %w : (tensor<?x?x48xf32>, tensor<16x48xf32>) -> tensor<?x?x16xf32>
  %e = zamba2.param @even : tensor<16x64xf32>
  %c = zamba2.linear %x2, %e : (tensor<?x?x64xf32>, tensor<16x64xf32>) -> tensor<?x?x16xf32>
  return %a, %b, %c : tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>
}

// -----

// An adapter neither of whose factors fits stays a lora op on its (here
// also unquantized) linear: one warning per weight.
// CHECK-LABEL: func.func @adapter
// CHECK: %[[B:.*]] = zamba2.linear
// CHECK: zamba2.lora %arg0, %{{.*}}, %{{.*}} into %[[B]]
// expected-warning @+1 {{'w' left unquantized: input width 48 is not a multiple of the group size 32}}
zamba2.weight @w : tensor<16x48xf32>
// expected-warning @+1 {{'a' left unquantized: input width 48 is not a multiple of the group size 32}}
zamba2.weight @a : tensor<4x48xf32>
// expected-warning @+1 {{'b' left unquantized: input width 4 is not a multiple of the group size 32}}
zamba2.weight @b : tensor<16x4xf32>
func.func @adapter(%x: tensor<?x?x48xf32>) -> tensor<?x?x16xf32> {
  %w = zamba2.param @w : tensor<16x48xf32>
  %y = zamba2.linear %x, %w : (tensor<?x?x48xf32>, tensor<16x48xf32>) -> tensor<?x?x16xf32>
  %a = zamba2.param @a : tensor<4x48xf32>
  %b = zamba2.param @b : tensor<16x4xf32>
  %z = zamba2.lora %x, %a, %b into %y : tensor<?x?x48xf32>, tensor<4x48xf32>, tensor<16x4xf32> -> tensor<?x?x16xf32>
  return %z : tensor<?x?x16xf32>
}

// -----

// A linear that reads a norm (folded by --zamba2-fuse-norm in the NORMED
// run, which the quantizer refuses; the plain run quantizes it).
zamba2.weight @normw : tensor<64xf32>
zamba2.weight @projw : tensor<32x64xf32>
func.func @normed(%x: tensor<?x1x64xf32>) -> tensor<?x1x32xf32> {
  %nw = zamba2.param @normw : tensor<64xf32>
  %w = zamba2.param @projw : tensor<32x64xf32>
  %n = zamba2.rms_norm %x, %nw {eps = 1.0e-5 : f64} : tensor<?x1x64xf32>, tensor<64xf32>
  %y = zamba2.linear %n, %w : (tensor<?x1x64xf32>, tensor<32x64xf32>) -> tensor<?x1x32xf32>
  return %y : tensor<?x1x32xf32>
}
