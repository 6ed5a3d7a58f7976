// Numerics of the vector form of the quant_linear lowering (group sizes that
// are multiples of 16: per group, x * q accumulated with the integer
// weights, then scaled once): lowered, JIT-compiled and run. Weights, zero
// points and inputs are small integers and the scales powers of two, so that
// every partial sum is an exact f32 and the results below, derived by hand,
// are exact whatever the order of summation. The packed bytes and the
// inputs are generated from the formulas in the comments (k is the input
// column, j the packed byte, t = k mod 16; 4 bits: byte j holds element 2j
// in its low nibble and 2j + 1 in its high nibble).
// RUN: zamba2-opt %s --zamba2-lower-to-linalg %lower_linalg_to_llvm | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s

// Prints x[b, t, :] on one line: "( a, b, c )".
func.func @print_tok(%x: tensor<?x?x?xf32>, %b: index, %t: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %w = tensor.dim %x, %c2 : tensor<?x?x?xf32>
  vector.print punctuation <open>
  scf.for %i = %c0 to %w step %c1 {
    %first = arith.cmpi eq, %i, %c0 : index
    scf.if %first {
    } else {
      vector.print punctuation <comma>
    }
    %v = tensor.extract %x[%b, %t, %i] : tensor<?x?x?xf32>
    vector.print %v : f32 punctuation <no_punctuation>
  }
  vector.print punctuation <close>
  vector.print punctuation <newline>
  return
}

// Prints every row of y [1, M, Out].
func.func @print_rows(%y: tensor<?x?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = tensor.dim %y, %c1 : tensor<?x?x?xf32>
  scf.for %m = %c0 to %rows step %c1 {
    func.call @print_tok(%y, %c0, %m) : (tensor<?x?x?xf32>, index, index) -> ()
  }
  return
}

// Packed 4-bit rows: byte j of row o = n(o, 2j) | n(o, 2j + 1) << 4 with
// the nibble n(o, k) = (k mod 16) xor (a + b o).
func.func @pack4(%a: index, %b: index) -> tensor<2x64xi8> {
  %c2 = arith.constant 2 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %c15 = arith.constant 15 : index
  %p = tensor.generate {
  ^bb0(%o: index, %j: index):
    %mask = arith.muli %b, %o : index
    %key = arith.addi %a, %mask : index
    %k = arith.muli %j, %c2 : index
    %tl = arith.andi %k, %c15 : index
    %lo = arith.xori %tl, %key : index
    %k1 = arith.addi %k, %c1 : index
    %th = arith.andi %k1, %c15 : index
    %hi = arith.xori %th, %key : index
    %hs = arith.shli %hi, %c4 : index
    %v = arith.ori %lo, %hs : index
    %v32 = arith.index_cast %v : index to i32
    %byte = arith.trunci %v32 : i32 to i8
    tensor.yield %byte : i8
  } : tensor<2x64xi8>
  return %p : tensor<2x64xi8>
}

// Inputs [1, 4, K]: row 0 all ones; row 1 ones at the even k; row 2 x = k;
// row 3 one-hot at k = %hot.
func.func @inputs(%hot: index) -> tensor<1x4x128xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %one = arith.constant 1.0 : f32
  %zero = arith.constant 0.0 : f32
  %x = tensor.generate {
  ^bb0(%b: index, %m: index, %k: index):
    %parity = arith.remui %k, %c2 : index
    %even = arith.cmpi eq, %parity, %c0 : index
    %ev = arith.select %even, %one, %zero : f32
    %k32 = arith.index_cast %k : index to i32
    %kf = arith.sitofp %k32 : i32 to f32
    %isHot = arith.cmpi eq, %k, %hot : index
    %hv = arith.select %isHot, %one, %zero : f32
    %m0 = arith.cmpi eq, %m, %c0 : index
    %m1 = arith.cmpi eq, %m, %c1 : index
    %m2 = arith.cmpi eq, %m, %c2 : index
    %r2 = arith.select %m2, %kf, %hv : f32
    %r1 = arith.select %m1, %ev, %r2 : f32
    %v = arith.select %m0, %one, %r1 : f32
    tensor.yield %v : f32
  } : tensor<1x4x128xf32>
  return %x : tensor<1x4x128xf32>
}

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c8 = arith.constant 8 : index
  %c15 = arith.constant 15 : index
  %c17 = arith.constant 17 : index
  %c77 = arith.constant 77 : index
  %c100 = arith.constant 100 : index
  %c128 = arith.constant 128 : index
  %c256 = arith.constant 256 : index

  //===--------------------------------------------------------------------===//
  // int4 asymmetric, In = 128, group 32 (4 groups of one 32-weight step):
  //   row 0: q = t (0..15),       zeros [8, 0, 15, 3], scales [1, 0.5, 0.25, 2]
  //   row 1: q = 15 - t (15..0),  zeros [0, 7, 8, 15], scales [0.125, 4, 1, 0.5]
  // bias [0.5, -1]. Per group g (k = 32 g .. 32 g + 31): sum q = 240 (both
  // rows), sum k = 1024 g + 496; row 0: sum k q = 7680 g + 4400; row 1:
  // sum k q = 15 sum k - (7680 g + 4400).
  //   x = 1:     row 0: 1 (240 - 256) + 0.5 (240) + 0.25 (240 - 480)
  //                     + 2 (240 - 96) = -16 + 120 - 60 + 288 = 332
  //              row 1: 0.125 (240) + 4 (240 - 224) + 1 (240 - 256)
  //                     + 0.5 (240 - 480) = 30 + 64 - 16 - 120 = -42
  //   x = even:  per group sum q over the even k is 112 (row 0: 2 (0 + 2 +
  //              ... + 14)) or 128 (row 1), less 16 z:
  //              row 0: -16 + 56 - 32 + 128 = 136
  //              row 1: 0.125 (128) + 4 (16) + 1 (0) + 0.5 (-112) = 24
  //   x = k:     row 0: g0 1 (4400 - 8 496) = 432;  g1 0.5 (12080) = 6040;
  //                     g2 0.25 (19760 - 15 2544) = -4600;
  //                     g3 2 (27440 - 3 3568) = 33472;       sum 35344
  //              row 1: g0 0.125 (3040) = 380;  g1 4 (10720 - 7 1520) = 320;
  //                     g2 1 (18400 - 8 2544) = -1952;
  //                     g3 0.5 (26080 - 15 3568) = -13720;   sum -14972
  //   x = e_77:  k = 77 is odd (a high nibble), group 2, t = 13:
  //              row 0: 0.25 (13 - 15) = -0.5;  row 1: 1 (2 - 8) = -6
  // plus the bias.
  //===--------------------------------------------------------------------===//
  vector.print str "int4 asymmetric\n"
  %x4 = call @inputs(%c77) : (index) -> tensor<1x4x128xf32>
  %p4 = call @pack4(%c0, %c15) : (index, index) -> tensor<2x64xi8>
  %z4 = arith.constant dense<[[8, 0, 15, 3], [0, 7, 8, 15]]> : tensor<2x4xi8>
  %s4 = arith.constant dense<[[1.0, 0.5, 0.25, 2.0], [0.125, 4.0, 1.0, 0.5]]> : tensor<2x4xf16>
  %b4 = arith.constant dense<[0.5, -1.0]> : tensor<2xf32>
  %y4 = zamba2.quant_linear %x4, %p4 scales %s4 zeros %z4 bias %b4 asymmetric {bits = 4 : i64, group_size = 32 : i64} : (tensor<1x4x128xf32>, tensor<2x64xi8>, tensor<2x4xf16>, tensor<2x4xi8>, tensor<2xf32>) -> tensor<1x4x2xf32>
  %y4p = tensor.cast %y4 : tensor<1x4x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int4 asymmetric
  // CHECK-NEXT: ( 332.5, -43 )
  // CHECK-NEXT: ( 136.5, 23 )
  // CHECK-NEXT: ( 35344.5, -14973 )
  // CHECK-NEXT: ( 0, -7 )
  call @print_rows(%y4p) : (tensor<?x?x?xf32>) -> ()

  //===--------------------------------------------------------------------===//
  // int8 asymmetric, In = 128, group 32 (4 groups of one step of two
  // 16-byte vectors), f32 scales; bytes and zeros above 127 read unsigned:
  //   row 0: q = k + 64 (64..191),  zeros [64, 96, 128, 200],
  //          scales [0.5, 0.25, 2, 1]
  //   row 1: q = 255 - 2k (255..1), zeros [255, 0, 128, 1],
  //          scales [1, 0.125, 0.5, 4]
  // Per group: sum k = 1024 g + 496 (496, 1520, 2544, 3568), over the even
  // k 512 g + 240; sum k^2 = 10416, 74928, 204976, 400560.
  //   x = 1:    row 0: sum q = sum k + 2048:  0.5 (2544 - 2048)
  //                    + 0.25 (3568 - 3072) + 2 (4592 - 4096)
  //                    + 1 (5616 - 6400) = 248 + 124 + 992 - 784 = 580
  //             row 1: sum q = 7168 - 2048 g:  1 (7168 - 8160)
  //                    + 0.125 (5120) + 0.5 (3072 - 4096) + 4 (1024 - 32)
  //                    = -992 + 640 - 512 + 3968 = 3104
  //   x = even: row 0: sum q = 512 g + 1264, less 16 z:  0.5 (240)
  //                    + 0.25 (240) + 2 (240) + 1 (-400) = 260
  //             row 1: sum q = 3600 - 1024 g, less 16 z:  1 (-480)
  //                    + 0.125 (2576) + 0.5 (-496) + 4 (512) = 1642
  //   x = k:    row 0: sum k (k + 64 - z) = sum k^2 + (64 - z) sum k:
  //                    0.5 (10416) + 0.25 (74928 - 32 1520)
  //                    + 2 (204976 - 64 2544) + 1 (400560 - 136 3568)
  //                    = 5208 + 6572 + 84320 - 84688 = 11412
  //             row 1: (255 - z) sum k - 2 sum k^2:  1 (0 - 20832)
  //                    + 0.125 (255 1520 - 149856) + 0.5 (127 2544 - 409952)
  //                    + 4 (254 3568 - 801120)
  //                    = -20832 + 29718 - 43432 + 420608 = 386062
  //   x = e_100 (group 3): row 0: 1 (164 - 200) = -36;  row 1: 4 (55 - 1) = 216
  //===--------------------------------------------------------------------===//
  vector.print str "int8 asymmetric\n"
  %x8 = call @inputs(%c100) : (index) -> tensor<1x4x128xf32>
  %c64 = arith.constant 64 : index
  %c255 = arith.constant 255 : index
  %p8 = tensor.generate {
  ^bb0(%o: index, %k: index):
    %row0 = arith.addi %k, %c64 : index
    %twice = arith.muli %k, %c2 : index
    %row1 = arith.subi %c255, %twice : index
    %is0 = arith.cmpi eq, %o, %c0 : index
    %q = arith.select %is0, %row0, %row1 : index
    %q32 = arith.index_cast %q : index to i32
    %byte = arith.trunci %q32 : i32 to i8
    tensor.yield %byte : i8
  } : tensor<2x128xi8>
  %z8 = arith.constant dense<[[64, 96, 128, 200], [255, 0, 128, 1]]> : tensor<2x4xi8>
  %s8 = arith.constant dense<[[0.5, 0.25, 2.0, 1.0], [1.0, 0.125, 0.5, 4.0]]> : tensor<2x4xf32>
  %y8 = zamba2.quant_linear %x8, %p8 scales %s8 zeros %z8 asymmetric {bits = 8 : i64, group_size = 32 : i64} : (tensor<1x4x128xf32>, tensor<2x128xi8>, tensor<2x4xf32>, tensor<2x4xi8>) -> tensor<1x4x2xf32>
  %y8p = tensor.cast %y8 : tensor<1x4x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int8 asymmetric
  // CHECK-NEXT: ( 580, 3104 )
  // CHECK-NEXT: ( 260, 1642 )
  // CHECK-NEXT: ( 11412, 386062 )
  // CHECK-NEXT: ( -36, 216 )
  call @print_rows(%y8p) : (tensor<?x?x?xf32>) -> ()

  //===--------------------------------------------------------------------===//
  // int4 symmetric, In = 64 (the first 64 columns of the inputs), every
  // nibble value from -8 to 7:
  //   row 0: q = t - 8 (nibble t xor 8),  row 1: q = 7 - t (nibble t xor 7).
  // Per 16 weights (k = 16 c + t): sum q = -8 (row 0) or 8 (row 1); over
  // the even t -8 or 0; sum k (t - 8) = 280 - 128 c; sum k = 256 c + 120.
  // Group 64 (one group of two steps), scales [0.5], [2]:
  //   x = 1:     row 0: 0.5 (4 (-8)) = -16;     row 1: 2 (4 (-8)) = -64
  //   x = even:  row 0: 0.5 (4 (-8)) = -16;     row 1: 0
  //   x = k:     row 0: 0.5 (4 280 - 128 6) = 0.5 (352) = 176
  //              row 1: sum k (7 - t) = -(352 + 2016):  2 (-2368) = -4736
  //   x = e_17 (t = 1): row 0: 0.5 (-7) = -3.5;  row 1: 2 (6) = 12
  // Group 16 (4 groups of one 16-weight step, 8 lanes), scales
  // [0.5, 1, 2, 4] and [2, 0.25, 1, 0.5] (sums 7.5 and 3.75):
  //   x = 1:     row 0: 7.5 (-8) = -60;         row 1: 3.75 (-8) = -30
  //   x = even:  row 0: -60;                    row 1: 0
  //   x = k:     row 0: 0.5 (280) + 1 (152) + 2 (24) + 4 (-104) = -76
  //              row 1: -(128 c + 400) per group:
  //                     2 (-400) + 0.25 (-528) + 1 (-656) + 0.5 (-784) = -1980
  //   x = e_17 (group 1, t = 1): row 0: 1 (-7) = -7;  row 1: 0.25 (6) = 1.5
  // Last, group 64 again with the input in f16 (exact): the same rows.
  //===--------------------------------------------------------------------===//
  vector.print str "int4 symmetric\n"
  %xs128 = call @inputs(%c17) : (index) -> tensor<1x4x128xf32>
  %xs = tensor.extract_slice %xs128[0, 0, 0] [1, 4, 64] [1, 1, 1] : tensor<1x4x128xf32> to tensor<1x4x64xf32>
  %c1n = arith.constant -1 : index
  %ps64 = call @pack4(%c8, %c1n) : (index, index) -> tensor<2x64xi8>
  %ps = tensor.extract_slice %ps64[0, 0] [2, 32] [1, 1] : tensor<2x64xi8> to tensor<2x32xi8>
  %ss64 = arith.constant dense<[[0.5], [2.0]]> : tensor<2x1xf16>
  %ys64 = zamba2.quant_linear %xs, %ps scales %ss64 symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<1x4x64xf32>, tensor<2x32xi8>, tensor<2x1xf16>) -> tensor<1x4x2xf32>
  %ys64p = tensor.cast %ys64 : tensor<1x4x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int4 symmetric
  // CHECK-NEXT: ( -16, -64 )
  // CHECK-NEXT: ( -16, 0 )
  // CHECK-NEXT: ( 176, -4736 )
  // CHECK-NEXT: ( -3.5, 12 )
  call @print_rows(%ys64p) : (tensor<?x?x?xf32>) -> ()
  %ss16 = arith.constant dense<[[0.5, 1.0, 2.0, 4.0], [2.0, 0.25, 1.0, 0.5]]> : tensor<2x4xf32>
  %ys16 = zamba2.quant_linear %xs, %ps scales %ss16 symmetric {bits = 4 : i64, group_size = 16 : i64} : (tensor<1x4x64xf32>, tensor<2x32xi8>, tensor<2x4xf32>) -> tensor<1x4x2xf32>
  %ys16p = tensor.cast %ys16 : tensor<1x4x2xf32> to tensor<?x?x?xf32>
  // CHECK-NEXT: ( -60, -30 )
  // CHECK-NEXT: ( -60, 0 )
  // CHECK-NEXT: ( -76, -1980 )
  // CHECK-NEXT: ( -7, 1.5 )
  call @print_rows(%ys16p) : (tensor<?x?x?xf32>) -> ()
  // The same with an f16 input (converted to f32 as it is de-interleaved).
  %xh = tensor.generate {
  ^bb0(%b: index, %m: index, %k: index):
    %v = tensor.extract %xs[%b, %m, %k] : tensor<1x4x64xf32>
    %h = arith.truncf %v : f32 to f16
    tensor.yield %h : f16
  } : tensor<1x4x64xf16>
  %yh = zamba2.quant_linear %xh, %ps scales %ss64 symmetric {bits = 4 : i64, group_size = 64 : i64} : (tensor<1x4x64xf16>, tensor<2x32xi8>, tensor<2x1xf16>) -> tensor<1x4x2xf32>
  %yhp = tensor.cast %yh : tensor<1x4x2xf32> to tensor<?x?x?xf32>
  // CHECK-NEXT: ( -16, -64 )
  // CHECK-NEXT: ( -16, 0 )
  // CHECK-NEXT: ( 176, -4736 )
  // CHECK-NEXT: ( -3.5, 12 )
  call @print_rows(%yhp) : (tensor<?x?x?xf32>) -> ()

  //===--------------------------------------------------------------------===//
  // int8 symmetric, one group of 512 (16 steps: 8 straight-line, 8 in a
  // loop), bf16 input:
  //   row 0: q = (k mod 256) - 128 (byte (k mod 256) xor 128), scale 0.5
  //   row 1: q = 127 - (k mod 256) (byte (k mod 256) xor 127), scale 0.25
  //   x = 1:       sum q = 2 (-128 + ... + 127) = -256 (both rows):
  //                row 0: -128;  row 1: -64
  //   x = k mod 8: with S = sum_{k < 256} (k mod 8) k = 115584 and
  //                sum_{k < 256} (k mod 8) = 896:
  //                row 0: 0.5 (2 (S - 128 896)) = 0.5 (1792) = 896
  //                row 1: 0.25 (2 (127 896 - S)) = 0.25 (-3584) = -896
  //===--------------------------------------------------------------------===//
  vector.print str "int8 symmetric, group 512\n"
  %xb = tensor.generate {
  ^bb0(%b: index, %m: index, %k: index):
    %r = arith.remui %k, %c8 : index
    %is0 = arith.cmpi eq, %m, %c0 : index
    %v = arith.select %is0, %c1, %r : index
    %v32 = arith.index_cast %v : index to i32
    %f = arith.sitofp %v32 : i32 to bf16
    tensor.yield %f : bf16
  } : tensor<1x2x512xbf16>
  %pb = tensor.generate {
  ^bb0(%o: index, %k: index):
    %t = arith.remui %k, %c256 : index
    %key = arith.subi %c128, %o : index
    %v = arith.xori %t, %key : index
    %v32 = arith.index_cast %v : index to i32
    %byte = arith.trunci %v32 : i32 to i8
    tensor.yield %byte : i8
  } : tensor<2x512xi8>
  %sb = arith.constant dense<[[0.5], [0.25]]> : tensor<2x1xf16>
  %yb = zamba2.quant_linear %xb, %pb scales %sb symmetric {bits = 8 : i64, group_size = 512 : i64} : (tensor<1x2x512xbf16>, tensor<2x512xi8>, tensor<2x1xf16>) -> tensor<1x2x2xf32>
  %ybp = tensor.cast %yb : tensor<1x2x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int8 symmetric, group 512
  // CHECK-NEXT: ( -128, -64 )
  // CHECK-NEXT: ( 896, -896 )
  call @print_rows(%ybp) : (tensor<?x?x?xf32>) -> ()
  return
}
