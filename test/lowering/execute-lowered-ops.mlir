// Numerics of the linalg lowering: each op is lowered, JIT-compiled and run on
// inputs whose results are derived by hand in the comments.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg %lower_linalg_to_llvm | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s

func.func @print3(%t: tensor<1x1x3xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %a = tensor.extract %t[%c0, %c0, %c0] : tensor<1x1x3xf32>
  %b = tensor.extract %t[%c0, %c0, %c1] : tensor<1x1x3xf32>
  %c = tensor.extract %t[%c0, %c0, %c2] : tensor<1x1x3xf32>
  vector.print %a : f32
  vector.print %b : f32
  vector.print %c : f32
  return
}

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index

  // rms_norm([3, 4]; w = [1, 2]): mean square 12.5, so 3/sqrt(12.5) and 2*4/sqrt(12.5).
  // CHECK: 0.848528
  // CHECK-NEXT: 2.26274
  %x = arith.constant dense<[[[3.0, 4.0]]]> : tensor<1x1x2xf32>
  %w2 = arith.constant dense<[1.0, 2.0]> : tensor<2xf32>
  %n = zamba2.rms_norm %x, %w2 {eps = 1.0e-30 : f64} : tensor<1x1x2xf32>, tensor<2xf32>
  %n0 = tensor.extract %n[%c0, %c0, %c0] : tensor<1x1x2xf32>
  %n1 = tensor.extract %n[%c0, %c0, %c1] : tensor<1x1x2xf32>
  vector.print %n0 : f32
  vector.print %n1 : f32

  // The fused residual: rms_norm([1, 2] + [2, 2]) = the case above.
  // CHECK-NEXT: 0.848528
  %r1 = arith.constant dense<[[[1.0, 2.0]]]> : tensor<1x1x2xf32>
  %r2 = arith.constant dense<[[[2.0, 2.0]]]> : tensor<1x1x2xf32>
  %nr = zamba2.rms_norm %r1 plus %r2, %w2 {eps = 1.0e-30 : f64} : tensor<1x1x2xf32>, tensor<2xf32>
  %nr0 = tensor.extract %nr[%c0, %c0, %c0] : tensor<1x1x2xf32>
  vector.print %nr0 : f32

  // linear: x = [1, 2], W = [[1, 0], [0, 1], [1, 1]], bias [0.5, 0, -1] -> [1.5, 2, 2].
  // CHECK-NEXT: 1.5
  // CHECK-NEXT: 2
  // CHECK-NEXT: 2
  %lx = arith.constant dense<[[[1.0, 2.0]]]> : tensor<1x1x2xf32>
  %lw = arith.constant dense<[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]> : tensor<3x2xbf16>
  %lb = arith.constant dense<[0.5, 0.0, -1.0]> : tensor<3xf32>
  %ly = zamba2.linear %lx, %lw bias %lb : (tensor<1x1x2xf32>, tensor<3x2xbf16>, tensor<3xf32>) -> tensor<1x1x3xf32>
  call @print3(%ly) : (tensor<1x1x3xf32>) -> ()

  // lora: A = [[1, 1]] (rank 1), B = [[1], [2], [0]], base [10, 20, 30]:
  // x A^T = 3, so base + [3, 6, 0] = [13, 26, 30].
  // CHECK-NEXT: 13
  // CHECK-NEXT: 26
  // CHECK-NEXT: 30
  %a = arith.constant dense<[[1.0, 1.0]]> : tensor<1x2xf32>
  %b = arith.constant dense<[[1.0], [2.0], [0.0]]> : tensor<3x1xf32>
  %base = arith.constant dense<[[[10.0, 20.0, 30.0]]]> : tensor<1x1x3xf32>
  %lo = zamba2.lora %lx, %a, %b into %base : tensor<1x1x2xf32>, tensor<1x2xf32>, tensor<3x1xf32> -> tensor<1x1x3xf32>
  call @print3(%lo) : (tensor<1x1x3xf32>) -> ()

  // mlp_gate, exact GELU: gelu(1) * 2 = 1.682689, gelu(-1) * 3 = -0.475966.
  // CHECK-NEXT: 1.68269
  // CHECK-NEXT: -0.475966
  %g = arith.constant dense<[[[1.0, -1.0, 2.0, 3.0]]]> : tensor<1x1x4xf32>
  %m = zamba2.mlp_gate %g gelu : tensor<1x1x4xf32> -> tensor<1x1x2xf32>
  %m0 = tensor.extract %m[%c0, %c0, %c0] : tensor<1x1x2xf32>
  %m1 = tensor.extract %m[%c0, %c0, %c1] : tensor<1x1x2xf32>
  vector.print %m0 : f32
  vector.print %m1 : f32
  // tanh GELU: 0.5 (1 + tanh(sqrt(2/pi) (1 + 0.044715))) * 2 = 1.682383.
  // CHECK-NEXT: 1.68238
  %mt = zamba2.mlp_gate %g gelu_tanh : tensor<1x1x4xf32> -> tensor<1x1x2xf32>
  %mt0 = tensor.extract %mt[%c0, %c0, %c0] : tensor<1x1x2xf32>
  vector.print %mt0 : f32

  // gated_rms_norm, 2 groups: y = [1, 1, 2, 2], z = 20 (silu(20) = 20 in f32),
  // so y silu(z) = [20, 20, 40, 40]; each group normalises to [1, 1]; times
  // w = [1, 2, 3, 4]. (One group of 4 would give 0.632, 1.26, ...)
  // CHECK-NEXT: 1
  // CHECK-NEXT: 2
  // CHECK-NEXT: 3
  // CHECK-NEXT: 4
  %gy = arith.constant dense<[[[1.0, 1.0, 2.0, 2.0]]]> : tensor<1x1x4xf32>
  %gz = arith.constant dense<20.0> : tensor<1x1x4xf32>
  %gw = arith.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %gn = zamba2.gated_rms_norm %gy, %gz, %gw {groups = 2 : i64, eps = 1.0e-30 : f64} : tensor<1x1x4xf32>, tensor<4xf32>
  %g0 = tensor.extract %gn[%c0, %c0, %c0] : tensor<1x1x4xf32>
  %g1 = tensor.extract %gn[%c0, %c0, %c1] : tensor<1x1x4xf32>
  %g2 = tensor.extract %gn[%c0, %c0, %c2] : tensor<1x1x4xf32>
  %g3 = tensor.extract %gn[%c0, %c0, %c3] : tensor<1x1x4xf32>
  vector.print %g0 : f32
  vector.print %g1 : f32
  vector.print %g2 : f32
  vector.print %g3 : f32

  // embed: table rows [1, 2], [3, 4], [5, 6]; ids [2, 0] -> [[5, 6], [1, 2]];
  // then the last piece of split [3 | 1] of concat(e, e) is e's column 1
  // again: row 1 gives 2.
  // CHECK-NEXT: 5
  // CHECK-NEXT: 2
  // CHECK-NEXT: 2
  %table = arith.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xbf16>
  %ids = arith.constant dense<[[2, 0]]> : tensor<1x2xi64>
  %e = zamba2.embed %table[%ids] : tensor<3x2xbf16>, tensor<1x2xi64> -> tensor<1x2x2xf32>
  %e00 = tensor.extract %e[%c0, %c0, %c0] : tensor<1x2x2xf32>
  %e11 = tensor.extract %e[%c0, %c1, %c1] : tensor<1x2x2xf32>
  vector.print %e00 : f32
  vector.print %e11 : f32
  %cat = zamba2.concat %e, %e : tensor<1x2x2xf32>, tensor<1x2x2xf32> -> tensor<1x2x4xf32>
  %s0, %s1 = zamba2.split %cat [3, 1] : tensor<1x2x4xf32> -> tensor<1x2x3xf32>, tensor<1x2x1xf32>
  %s = tensor.extract %s1[%c0, %c1, %c0] : tensor<1x2x1xf32>
  vector.print %s : f32
  return
}
