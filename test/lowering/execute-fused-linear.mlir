// Numerics of the lora_linear and quant_linear lowerings: lowered,
// JIT-compiled and run on small inputs whose results are derived by hand in
// the comments. The quant_linear inputs are cast to dynamic batch and
// sequence dims; the lora_linear ones keep static dims, because the shared
// row-tiled contraction (Common.cpp) bufferizes to a dynamic
// memref.expand_shape that the upstream --expand-strided-metadata of
// %lower_linalg_to_llvm crashes on (the CPU pipeline runs
// zamba2-expand-shape-to-cast first).
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

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index

  //===--------------------------------------------------------------------===//
  // lora_linear = linear + lora. x rows [1, 2] and [-1, 3];
  // W = [[1, 0], [0, 1], [1, 1]] (bf16), bias [0.5, 0, -1];
  // rank-2 adapter A = [[1, 1], [1, -1]] (f16), B = [[1, 0], [2, 1], [0, 3]].
  //   row 0: x W^T + bias = [1.5, 2, 2];   x A^T = [3, -1];
  //          (x A^T) B^T = [3, 6 - 1, -3] = [3, 5, -3]   -> [4.5, 7, -1]
  //   row 1: x W^T + bias = [-0.5, 3, 1];  x A^T = [2, -4];
  //          (x A^T) B^T = [2, 4 - 4, -12] = [2, 0, -12] -> [1.5, 3, -11]
  //===--------------------------------------------------------------------===//
  vector.print str "lora_linear\n"
  %x = arith.constant dense<[[[1.0, 2.0]], [[-1.0, 3.0]]]> : tensor<2x1x2xf32>
  %w = arith.constant dense<[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]> : tensor<3x2xbf16>
  %bias = arith.constant dense<[0.5, 0.0, -1.0]> : tensor<3xf32>
  %a = arith.constant dense<[[1.0, 1.0], [1.0, -1.0]]> : tensor<2x2xf16>
  %b = arith.constant dense<[[1.0, 0.0], [2.0, 1.0], [0.0, 3.0]]> : tensor<3x2xf32>
  %fused = zamba2.lora_linear %x, %w adapter(%a, %b) bias %bias : (tensor<2x1x2xf32>, tensor<3x2xbf16>, tensor<2x2xf16>, tensor<3x2xf32>, tensor<3xf32>) -> tensor<2x1x3xf32>
  %fp = tensor.cast %fused : tensor<2x1x3xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: lora_linear
  // CHECK-NEXT: ( 4.5, 7, -1 )
  // CHECK-NEXT: ( 1.5, 3, -11 )
  call @print_tok(%fp, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%fp, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  // The unfused pair gives the same rows.
  // CHECK-NEXT: ( 4.5, 7, -1 )
  // CHECK-NEXT: ( 1.5, 3, -11 )
  %lin = zamba2.linear %x, %w bias %bias : (tensor<2x1x2xf32>, tensor<3x2xbf16>, tensor<3xf32>) -> tensor<2x1x3xf32>
  %pair = zamba2.lora %x, %a, %b into %lin : tensor<2x1x2xf32>, tensor<2x2xf16>, tensor<3x2xf32> -> tensor<2x1x3xf32>
  %pp = tensor.cast %pair : tensor<2x1x3xf32> to tensor<?x?x?xf32>
  call @print_tok(%pp, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%pp, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  // Without a bias: row 0 = x W^T + (x A^T) B^T = [1, 2, 3] + [3, 5, -3]
  // = [4, 7, 0].
  // CHECK-NEXT: ( 4, 7, 0 )
  %nobias = zamba2.lora_linear %x, %w adapter(%a, %b) : (tensor<2x1x2xf32>, tensor<3x2xbf16>, tensor<2x2xf16>, tensor<3x2xf32>) -> tensor<2x1x3xf32>
  %nbp = tensor.cast %nobias : tensor<2x1x3xf32> to tensor<?x?x?xf32>
  call @print_tok(%nbp, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()

  // Quantized weights: Out = 2, In = 4, group_size = 2, so each row has two
  // groups (elements 0-1 and 2-3) with a scale each. x rows [1, 2, 3, 0.5]
  // and [0, 0, 0, 1] (the second picks column 3 of the weight).
  %qx = arith.constant dense<[[[1.0, 2.0, 3.0, 0.5]], [[0.0, 0.0, 0.0, 1.0]]]> : tensor<2x1x4xf32>
  %qxd = tensor.cast %qx : tensor<2x1x4xf32> to tensor<?x?x4xf32>

  //===--------------------------------------------------------------------===//
  // int8 symmetric, w = s q, q signed bytes: q = [[1, -2, 3, -128],
  // [10, 0, -5, 4]], scales (f16) [[0.5, 0.25], [1, 2]], bias [1, -1]:
  //   w = [[0.5, -1, 0.75, -32], [10, 0, -10, 8]]
  //   row 0: [0.5 - 2 + 2.25 - 16, 10 + 0 - 30 + 4] + bias = [-14.25, -17]
  //   row 1: [-32, 8] + bias = [-31, 7]
  //===--------------------------------------------------------------------===//
  vector.print str "int8 symmetric\n"
  %p8 = arith.constant dense<[[1, -2, 3, -128], [10, 0, -5, 4]]> : tensor<2x4xi8>
  %s8 = arith.constant dense<[[0.5, 0.25], [1.0, 2.0]]> : tensor<2x2xf16>
  %qb = arith.constant dense<[1.0, -1.0]> : tensor<2xf32>
  %y8 = zamba2.quant_linear %qxd, %p8 scales %s8 bias %qb symmetric {bits = 8 : i64, group_size = 2 : i64} : (tensor<?x?x4xf32>, tensor<2x4xi8>, tensor<2x2xf16>, tensor<2xf32>) -> tensor<2x1x2xf32>
  %y8p = tensor.cast %y8 : tensor<2x1x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int8 symmetric
  // CHECK-NEXT: ( -14.25, -17 )
  // CHECK-NEXT: ( -31, 7 )
  call @print_tok(%y8p, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%y8p, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // int8 asymmetric, w = s (q - z), q and z unsigned bytes:
  // q = [[200, 0, 255, 128], [7, 9, 8, 8]], zeros [[100, 128], [8, 8]] (128
  // is -128 as a signed i8: read unsigned), scales [[0.5, 0.25], [2, 1]]:
  //   w = [[50, -50, 31.75, 0], [-2, 2, 0, 0]]
  //   row 0: [50 - 100 + 95.25 + 0, -2 + 4] = [45.25, 2];  row 1: [0, 0]
  //===--------------------------------------------------------------------===//
  vector.print str "int8 asymmetric\n"
  %pa8 = arith.constant dense<[[200, 0, 255, 128], [7, 9, 8, 8]]> : tensor<2x4xi8>
  %za8 = arith.constant dense<[[100, 128], [8, 8]]> : tensor<2x2xi8>
  %sa8 = arith.constant dense<[[0.5, 0.25], [2.0, 1.0]]> : tensor<2x2xf16>
  %ya8 = zamba2.quant_linear %qxd, %pa8 scales %sa8 zeros %za8 asymmetric {bits = 8 : i64, group_size = 2 : i64} : (tensor<?x?x4xf32>, tensor<2x4xi8>, tensor<2x2xf16>, tensor<2x2xi8>) -> tensor<2x1x2xf32>
  %ya8p = tensor.cast %ya8 : tensor<2x1x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int8 asymmetric
  // CHECK-NEXT: ( 45.25, 2 )
  // CHECK-NEXT: ( 0, 0 )
  call @print_tok(%ya8p, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%ya8p, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // int4 symmetric: two's complement nibbles, element 2j in the low nibble of
  // byte j, element 2j + 1 in the high nibble.
  //   row 0 q = [1, -2, 7, -8]: bytes 0xE1 (low 1, high -2 = 0xE),
  //                              0x87 (low 7, high -8 = 0x8)
  //   row 1 q = [-1, 3, 0, 5]:  bytes 0x3F (low -1 = 0xF, high 3), 0x50
  // scales [[1, 0.5], [0.25, 2]]:
  //   w = [[1, -2, 3.5, -4], [-0.25, 0.75, 0, 10]]
  //   row 0: [1 - 4 + 10.5 - 2, -0.25 + 1.5 + 0 + 5] = [5.5, 6.25]
  //   row 1: [-4, 10]
  //===--------------------------------------------------------------------===//
  vector.print str "int4 symmetric\n"
  %p4 = arith.constant dense<[[0xE1, 0x87], [0x3F, 0x50]]> : tensor<2x2xi8>
  %s4 = arith.constant dense<[[1.0, 0.5], [0.25, 2.0]]> : tensor<2x2xf16>
  %y4 = zamba2.quant_linear %qxd, %p4 scales %s4 symmetric {bits = 4 : i64, group_size = 2 : i64} : (tensor<?x?x4xf32>, tensor<2x2xi8>, tensor<2x2xf16>) -> tensor<2x1x2xf32>
  %y4p = tensor.cast %y4 : tensor<2x1x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int4 symmetric
  // CHECK-NEXT: ( 5.5, 6.25 )
  // CHECK-NEXT: ( -4, 10 )
  call @print_tok(%y4p, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%y4p, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // int4 symmetric with an adapter (the quantized lora_linear), a bias and a
  // base: (x W^T + bias) + mid B^T, then + base. mid rows [1, -1], [2, 0];
  // B q = [[3, -1], [0, 2]]: bytes 0xF3 (low 3, high -1), 0x20; one group
  // per row, scales [[0.5], [2]]: B = [[1.5, -0.5], [0, 4]].
  //   mid B^T: row 0 [2, -4], row 1 [3, 0]
  //   x W^T + bias (W as above, bias [1, -1]): row 0 [6.5, 5.25],
  //   row 1 [-3, 9]; base = x W^T: row 0 [5.5, 6.25], row 1 [-4, 10]
  //   row 0: [6.5 + 2 + 5.5, 5.25 - 4 + 6.25] = [14, 7.5]
  //   row 1: [-3 + 3 - 4, 9 + 0 + 10] = [-4, 19]
  //===--------------------------------------------------------------------===//
  vector.print str "int4 adapter\n"
  %mid = arith.constant dense<[[[1.0, -1.0]], [[2.0, 0.0]]]> : tensor<2x1x2xf32>
  %midd = tensor.cast %mid : tensor<2x1x2xf32> to tensor<?x?x2xf32>
  %pb4 = arith.constant dense<[[0xF3], [0x20]]> : tensor<2x1xi8>
  %sb4 = arith.constant dense<[[0.5], [2.0]]> : tensor<2x1xf16>
  %yl4 = zamba2.quant_linear %qxd, %p4 scales %s4 bias %qb adapter(%midd, %pb4 scales %sb4) into %y4 symmetric {bits = 4 : i64, group_size = 2 : i64} : (tensor<?x?x4xf32>, tensor<2x2xi8>, tensor<2x2xf16>, tensor<2xf32>, tensor<2x1x2xf32>, tensor<?x?x2xf32>, tensor<2x1xi8>, tensor<2x1xf16>) -> tensor<2x1x2xf32>
  %yl4p = tensor.cast %yl4 : tensor<2x1x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int4 adapter
  // CHECK-NEXT: ( 14, 7.5 )
  // CHECK-NEXT: ( -4, 19 )
  call @print_tok(%yl4p, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%yl4p, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // int8 asymmetric with an adapter: W, zeros and scales as in "int8
  // asymmetric" (x W^T: row 0 [45.25, 2], row 1 [0, 0]); B q = [[130, 126],
  // [128, 0]], zeros [[128], [2]] (read unsigned), scales [[1], [0.5]]:
  // B = [[2, -2], [63, -1]]; mid as above: mid B^T row 0 [4, 64],
  // row 1 [4, 126].
  //   row 0: [49.25, 66];  row 1: [4, 126]
  //===--------------------------------------------------------------------===//
  vector.print str "int8 asymmetric adapter\n"
  %pb8 = arith.constant dense<[[130, 126], [128, 0]]> : tensor<2x2xi8>
  %zb8 = arith.constant dense<[[128], [2]]> : tensor<2x1xi8>
  %sb8 = arith.constant dense<[[1.0], [0.5]]> : tensor<2x1xf16>
  %yl8 = zamba2.quant_linear %qxd, %pa8 scales %sa8 zeros %za8 adapter(%midd, %pb8 scales %sb8 zeros %zb8) asymmetric {bits = 8 : i64, group_size = 2 : i64} : (tensor<?x?x4xf32>, tensor<2x4xi8>, tensor<2x2xf16>, tensor<2x2xi8>, tensor<?x?x2xf32>, tensor<2x2xi8>, tensor<2x1xf16>, tensor<2x1xi8>) -> tensor<2x1x2xf32>
  %yl8p = tensor.cast %yl8 : tensor<2x1x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int8 asymmetric adapter
  // CHECK-NEXT: ( 49.25, 66 )
  // CHECK-NEXT: ( 4, 126 )
  call @print_tok(%yl8p, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%yl8p, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // int4 asymmetric: unsigned nibbles, same order.
  //   row 0 q = [15, 0, 8, 3]:  bytes 0x0F, 0x38
  //   row 1 q = [4, 12, 1, 9]:  bytes 0xC4, 0x91
  // zeros [[8, 8], [4, 0]], scales (f32) [[0.5, 1], [1, 0.25]]:
  //   w = [[3.5, -4, 0, -5], [0, 8, 0.25, 2.25]]
  //   row 0: [3.5 - 8 + 0 - 2.5, 0 + 16 + 0.75 + 1.125] = [-7, 17.875]
  //   row 1: [-5, 2.25]
  //===--------------------------------------------------------------------===//
  vector.print str "int4 asymmetric\n"
  %pa4 = arith.constant dense<[[0x0F, 0x38], [0xC4, 0x91]]> : tensor<2x2xi8>
  %za4 = arith.constant dense<[[8, 8], [4, 0]]> : tensor<2x2xi32>
  %sa4 = arith.constant dense<[[0.5, 1.0], [1.0, 0.25]]> : tensor<2x2xf32>
  %ya4 = zamba2.quant_linear %qxd, %pa4 scales %sa4 zeros %za4 asymmetric {bits = 4 : i64, group_size = 2 : i64} : (tensor<?x?x4xf32>, tensor<2x2xi8>, tensor<2x2xf32>, tensor<2x2xi32>) -> tensor<2x1x2xf32>
  %ya4p = tensor.cast %ya4 : tensor<2x1x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int4 asymmetric
  // CHECK-NEXT: ( -7, 17.875 )
  // CHECK-NEXT: ( -5, 2.25 )
  call @print_tok(%ya4p, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%ya4p, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // int4 with an odd group size (3): byte 1 holds element 2 (group 0) and
  // element 3 (group 1). In = 6, Out = 1, x = [1, 2, 3, 4, 5, 6].
  // Symmetric: q = [1, 2, 3, -1, -2, -3] -> bytes 0x21, 0xF3, 0xDE;
  // scales [[1, 2]]: w = [1, 2, 3, -2, -4, -6]
  //   y = 1 + 4 + 9 - 8 - 20 - 36 = -50
  // Asymmetric: q = [9, 8, 10, 1, 0, 3] -> bytes 0x89, 0x1A, 0x30;
  // zeros [[8, 1]], scales [[1, 2]]: w = [1, 0, 2, 0, -2, 4]
  //   y = 1 + 0 + 6 + 0 - 10 + 24 = 21
  //===--------------------------------------------------------------------===//
  vector.print str "int4 odd groups\n"
  %ox = arith.constant dense<[[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]]]> : tensor<1x1x6xf32>
  %oxd = tensor.cast %ox : tensor<1x1x6xf32> to tensor<?x?x6xf32>
  %po = arith.constant dense<[[0x21, 0xF3, 0xDE]]> : tensor<1x3xi8>
  %so = arith.constant dense<[[1.0, 2.0]]> : tensor<1x2xf16>
  %yo = zamba2.quant_linear %oxd, %po scales %so symmetric {bits = 4 : i64, group_size = 3 : i64} : (tensor<?x?x6xf32>, tensor<1x3xi8>, tensor<1x2xf16>) -> tensor<?x?x1xf32>
  %yop = tensor.cast %yo : tensor<?x?x1xf32> to tensor<?x?x?xf32>
  %pao = arith.constant dense<[[0x89, 0x1A, 0x30]]> : tensor<1x3xi8>
  %zao = arith.constant dense<[[8, 1]]> : tensor<1x2xi8>
  %yao = zamba2.quant_linear %oxd, %pao scales %so zeros %zao asymmetric {bits = 4 : i64, group_size = 3 : i64} : (tensor<?x?x6xf32>, tensor<1x3xi8>, tensor<1x2xf16>, tensor<1x2xi8>) -> tensor<?x?x1xf32>
  %yaop = tensor.cast %yao : tensor<?x?x1xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: int4 odd groups
  // CHECK-NEXT: ( -50 )
  // CHECK-NEXT: ( 21 )
  call @print_tok(%yop, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%yaop, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  return
}
