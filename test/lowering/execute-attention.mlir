// Numerics of the rotary and attention lowerings: lowered, JIT-compiled and
// run on small inputs whose results are derived by hand in the comments.
// Inputs are cast to dynamic batch and sequence dims before each op.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg %lower_linalg_to_llvm | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s

// Prints the elements of `t` in row-major order on one line: "( a, b, c )".
func.func @print_flat(%t: tensor<?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %rows = tensor.dim %t, %c0 : tensor<?x?xf32>
  %cols = tensor.dim %t, %c1 : tensor<?x?xf32>
  vector.print punctuation <open>
  scf.for %i = %c0 to %rows step %c1 {
    scf.for %j = %c0 to %cols step %c1 {
      %first = arith.cmpi eq, %i, %c0 : index
      %first_col = arith.cmpi eq, %j, %c0 : index
      %very_first = arith.andi %first, %first_col : i1
      scf.if %very_first {
      } else {
        vector.print punctuation <comma>
      }
      %x = tensor.extract %t[%i, %j] : tensor<?x?xf32>
      vector.print %x : f32 punctuation <no_punctuation>
    }
  }
  vector.print punctuation <close>
  vector.print punctuation <newline>
  return
}

// Prints x[b, t, :].
func.func @print_tok(%x: tensor<?x?x?xf32>, %b: index, %t: index) {
  %c2 = arith.constant 2 : index
  %w = tensor.dim %x, %c2 : tensor<?x?x?xf32>
  %r = tensor.extract_slice %x[%b, %t, 0] [1, 1, %w] [1, 1, 1] : tensor<?x?x?xf32> to tensor<1x?xf32>
  %d = tensor.cast %r : tensor<1x?xf32> to tensor<?x?xf32>
  call @print_flat(%d) : (tensor<?x?xf32>) -> ()
  return
}

// Prints the cache row c[b, 0, :, :] (one KV head) as S x hd values.
func.func @print_cache(%c: tensor<?x1x?x?xf32>, %b: index) {
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %s = tensor.dim %c, %c2 : tensor<?x1x?x?xf32>
  %hd = tensor.dim %c, %c3 : tensor<?x1x?x?xf32>
  %r = tensor.extract_slice %c[%b, 0, 0, 0] [1, 1, %s, %hd] [1, 1, 1, 1] : tensor<?x1x?x?xf32> to tensor<?x?xf32>
  call @print_flat(%r) : (tensor<?x?xf32>) -> ()
  return
}

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c63 = arith.constant 63 : index
  %c64 = arith.constant 64 : index
  %c69 = arith.constant 69 : index

  //===--------------------------------------------------------------------===//
  // rotary, hd = 4, theta = 100: inv_freq = [1, 100^(-1/2)] = [1, 0.1].
  // Element pairs (0, 2) turn by angle p, (1, 3) by 0.1 p:
  //   y0 = x0 cos p - x2 sin p,       y2 = x2 cos p + x0 sin p,
  //   y1 = x1 cos 0.1p - x3 sin 0.1p, y3 = x3 cos 0.1p + x1 sin 0.1p.
  // q has 2 heads, [1, 0, 0, 0] and [0, 1, 0, 2], at every token; k one head
  // [0, 0, 1, 0]. positions (i32) = [0, 2], so (b, t) sits at p = pos_b + t.
  //   q head 0 -> [cos p, 0, sin p, 0]
  //   q head 1 -> [0, cos 0.1p - 2 sin 0.1p, 0, 2 cos 0.1p + sin 0.1p]
  //   k        -> [-sin p, 0, cos p, 0]
  //===--------------------------------------------------------------------===//
  vector.print str "rotary\n"
  %rq = arith.constant dense<[[[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0],
                               [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0]],
                              [[1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0],
                               [1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 2.0]]]> : tensor<2x2x8xf32>
  %rk = arith.constant dense<[[[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, 0.0]]]> : tensor<2x2x4xf32>
  %rpos = arith.constant dense<[0, 2]> : tensor<2xi32>
  %rqd = tensor.cast %rq : tensor<2x2x8xf32> to tensor<?x?x8xf32>
  %rkd = tensor.cast %rk : tensor<2x2x4xf32> to tensor<?x?x4xf32>
  %rposd = tensor.cast %rpos : tensor<2xi32> to tensor<?xi32>
  %qr, %kr = zamba2.rotary %rqd, %rkd at %rposd {head_dim = 4 : i64, theta = 100.0 : f64} : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?xi32>
  %qrp = tensor.cast %qr : tensor<?x?x8xf32> to tensor<?x?x?xf32>
  %krp = tensor.cast %kr : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  // p = 0: no rotation.
  // CHECK-LABEL: rotary
  // CHECK-NEXT: ( 1, 0, 0, 0, 0, 1, 0, 2 )
  // CHECK-NEXT: ( 0, 0, 1, 0 )
  call @print_tok(%qrp, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%krp, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  // p = 1: cos 1 = 0.540302, sin 1 = 0.841471, cos 0.1 = 0.995004,
  // sin 0.1 = 0.0998334; 0.995004 - 2 (0.0998334) = 0.795337,
  // 2 (0.995004) + 0.0998334 = 2.08984.
  // CHECK-NEXT: ( 0.54030{{[0-9]*}}, {{-?}}0, 0.84147{{[0-9]*}}, {{-?}}0, {{-?}}0, 0.79533{{[0-9]*}}, {{-?}}0, 2.0898{{[0-9]*}} )
  // CHECK-NEXT: ( -0.84147{{[0-9]*}}, {{-?}}0, 0.54030{{[0-9]*}}, {{-?}}0 )
  call @print_tok(%qrp, %c0, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%krp, %c0, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  // p = 2 (row 1, t = 0): cos 2 = -0.416147, sin 2 = 0.909297,
  // cos 0.2 = 0.980067, sin 0.2 = 0.198669: 0.980067 - 0.397339 = 0.582728,
  // 1.960133 + 0.198669 = 2.158802.
  // CHECK-NEXT: ( -0.41614{{[0-9]*}}, {{-?}}0, 0.90929{{[0-9]*}}, {{-?}}0, {{-?}}0, 0.58272{{[0-9]*}}, {{-?}}0, 2.1588{{[0-9]*}} )
  call @print_tok(%qrp, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  // p = 3 (row 1, t = 1): cos 3 = -0.989992, sin 3 = 0.141120,
  // cos 0.3 = 0.955336, sin 0.3 = 0.295520: 0.955336 - 0.591040 = 0.364296,
  // 1.910673 + 0.295520 = 2.206193.
  // CHECK-NEXT: ( -0.98999{{[0-9]*}}, {{-?}}0, 0.14112{{[0-9]*}}, {{-?}}0, {{-?}}0, 0.36429{{[0-9]*}}, {{-?}}0, 2.2061{{[0-9]*}} )
  // CHECK-NEXT: ( -0.14112{{[0-9]*}}, {{-?}}0, -0.98999{{[0-9]*}}, {{-?}}0 )
  call @print_tok(%qrp, %c1, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%krp, %c1, %c1) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // attention, GQA: nA = 2 query heads read nKV = 1 KV head; hd = 2; cache
  // capacity S = 5; T = 2 new tokens; positions = [1, 2]. scale = ln 3, and
  // every q.k below is an integer n, so the softmax weights are 3^n (then
  // normalised). 100s mark cache entries that must be overwritten or never
  // read.
  //   row 0 cache: k [1, 0],  v [10, 20]    (entry 0)
  //   row 0 new:   k [0, 1], [1, 1];  v [1, 2], [3, 4]   -> entries 1, 2
  //   row 1 cache: k [0, 1], [1, 0];  v [2, 0], [0, 2]   (entries 0, 1)
  //   row 1 new:   k [1, 1], [0, 0];  v [4, 4], [8, 0]   -> entries 2, 3
  // queries (head 0 | head 1):
  //   row 0, t 0 (p 1): [1, 0] | [0, 1]; sees entries 0..1
  //     h0: q.k = [1, 0] -> (3 [10, 20] + [1, 2]) / 4 = [7.75, 15.5]
  //     h1: q.k = [0, 1] -> ([10, 20] + 3 [1, 2]) / 4 = [3.25, 6.5]
  //   row 0, t 1 (p 2): [0, 1] | [1, 0]; sees entries 0..2
  //     h0: q.k = [0, 1, 1] -> ([10, 20] + 3 [1, 2] + 3 [3, 4]) / 7
  //         = [22/7, 38/7] = [3.14286, 5.42857]
  //     h1: q.k = [1, 0, 1] -> (3 [10, 20] + [1, 2] + 3 [3, 4]) / 7
  //         = [40/7, 74/7] = [5.71429, 10.5714]
  //   row 1, t 0 (p 2): [1, 0] | [0, 1]; sees entries 0..2
  //     h0: q.k = [0, 1, 1] -> ([2, 0] + 3 [0, 2] + 3 [4, 4]) / 7 = [2, 18/7]
  //     h1: q.k = [1, 0, 1] -> (3 [2, 0] + [0, 2] + 3 [4, 4]) / 7 = [18/7, 2]
  //   row 1, t 1 (p 3): [1, 1] | [0, 0]; sees entries 0..3
  //     h0: q.k = [1, 1, 2, 0] -> (3 [2, 0] + 3 [0, 2] + 9 [4, 4] + [8, 0]) / 16
  //         = [50/16, 42/16] = [3.125, 2.625]
  //     h1: q.k = 0 -> mean of the 4 values = [14/4, 6/4] = [3.5, 1.5]
  //===--------------------------------------------------------------------===//
  vector.print str "attention\n"
  %aq = arith.constant dense<[[[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 1.0, 0.0]],
                              [[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 0.0, 0.0]]]> : tensor<2x2x4xf32>
  %ak = arith.constant dense<[[[0.0, 1.0], [1.0, 1.0]], [[1.0, 1.0], [0.0, 0.0]]]> : tensor<2x2x2xf32>
  %av = arith.constant dense<[[[1.0, 2.0], [3.0, 4.0]], [[4.0, 4.0], [8.0, 0.0]]]> : tensor<2x2x2xf32>
  %akc = arith.constant dense<[[[[1.0, 0.0], [100.0, 100.0], [100.0, 100.0], [100.0, 100.0], [100.0, 100.0]]],
                               [[[0.0, 1.0], [1.0, 0.0], [100.0, 100.0], [100.0, 100.0], [100.0, 100.0]]]]> : tensor<2x1x5x2xf32>
  %avc = arith.constant dense<[[[[10.0, 20.0], [100.0, 100.0], [100.0, 100.0], [100.0, 100.0], [100.0, 100.0]]],
                               [[[2.0, 0.0], [0.0, 2.0], [100.0, 100.0], [100.0, 100.0], [100.0, 100.0]]]]> : tensor<2x1x5x2xf32>
  %apos = arith.constant dense<[1, 2]> : tensor<2xi64>
  %aqd = tensor.cast %aq : tensor<2x2x4xf32> to tensor<?x?x4xf32>
  %akd = tensor.cast %ak : tensor<2x2x2xf32> to tensor<?x?x2xf32>
  %avd = tensor.cast %av : tensor<2x2x2xf32> to tensor<?x?x2xf32>
  %akcd = tensor.cast %akc : tensor<2x1x5x2xf32> to tensor<?x1x5x2xf32>
  %avcd = tensor.cast %avc : tensor<2x1x5x2xf32> to tensor<?x1x5x2xf32>
  %aposd = tensor.cast %apos : tensor<2xi64> to tensor<?xi64>
  %ao, %nk, %nv = zamba2.attention %aqd, %akd, %avd cache(%akcd, %avcd) at %aposd {num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 1.0986122886681098 : f64} : tensor<?x?x4xf32>, tensor<?x?x2xf32>, tensor<?x1x5x2xf32>, tensor<?xi64>
  %aop = tensor.cast %ao : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: attention
  // CHECK-NEXT: ( 7.75, 15.5, 3.25, 6.5 )
  // CHECK-NEXT: ( 3.1428{{[0-9]*}}, 5.4285{{[0-9]*}}, 5.7142{{[0-9]*}}, 10.571{{[0-9]*}} )
  // CHECK-NEXT: ( 2, 2.5714{{[0-9]*}}, 2.5714{{[0-9]*}}, 2 )
  // CHECK-NEXT: ( 3.125, 2.625, 3.5, 1.5 )
  call @print_tok(%aop, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%aop, %c0, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%aop, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%aop, %c1, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  // The caches after the call: new entries at pos_b + t, the rest unchanged.
  // CHECK-NEXT: ( 1, 0, 0, 1, 1, 1, 100, 100, 100, 100 )
  // CHECK-NEXT: ( 0, 1, 1, 0, 1, 1, 0, 0, 100, 100 )
  // CHECK-NEXT: ( 10, 20, 1, 2, 3, 4, 100, 100, 100, 100 )
  // CHECK-NEXT: ( 2, 0, 0, 2, 4, 4, 8, 0, 100, 100 )
  %nkp = tensor.cast %nk : tensor<?x1x5x2xf32> to tensor<?x1x?x?xf32>
  %nvp = tensor.cast %nv : tensor<?x1x5x2xf32> to tensor<?x1x?x?xf32>
  call @print_cache(%nkp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%nkp, %c1) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%nvp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%nvp, %c1) : (tensor<?x1x?x?xf32>, index) -> ()

  //===--------------------------------------------------------------------===//
  // A decode step (T = 1) on these caches, positions = [3, 4]; queries
  // [1, 0] | [0, 1] in both rows.
  //   row 0 new k [0, 0], v [7, 7] -> entry 3; keys [1,0] [0,1] [1,1] [0,0]
  //     h0: q.k = [1, 0, 1, 0] -> (3 [10, 20] + [1, 2] + 3 [3, 4] + [7, 7]) / 8
  //         = [47/8, 81/8] = [5.875, 10.125]
  //     h1: q.k = [0, 1, 1, 0] -> ([10, 20] + 3 [1, 2] + 3 [3, 4] + [7, 7]) / 8
  //         = [29/8, 45/8] = [3.625, 5.625]
  //   row 1 new k [1, 0], v [0, 0] -> entry 4; keys [0,1] [1,0] [1,1] [0,0] [1,0]
  //     h0: q.k = [0, 1, 1, 0, 1] -> ([2, 0] + 3 [0, 2] + 3 [4, 4] + [8, 0]) / 11
  //         = [22/11, 18/11] = [2, 1.63636]
  //     h1: q.k = [1, 0, 1, 0, 0] -> (3 [2, 0] + [0, 2] + 3 [4, 4] + [8, 0]) / 9
  //         = [26/9, 14/9] = [2.88889, 1.55556]
  //===--------------------------------------------------------------------===//
  vector.print str "decode\n"
  %dq = arith.constant dense<[[[1.0, 0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0, 1.0]]]> : tensor<2x1x4xf32>
  %dk = arith.constant dense<[[[0.0, 0.0]], [[1.0, 0.0]]]> : tensor<2x1x2xf32>
  %dv = arith.constant dense<[[[7.0, 7.0]], [[0.0, 0.0]]]> : tensor<2x1x2xf32>
  %dpos = arith.constant dense<[3, 4]> : tensor<2xi64>
  %dqd = tensor.cast %dq : tensor<2x1x4xf32> to tensor<?x?x4xf32>
  %dkd = tensor.cast %dk : tensor<2x1x2xf32> to tensor<?x?x2xf32>
  %dvd = tensor.cast %dv : tensor<2x1x2xf32> to tensor<?x?x2xf32>
  %dposd = tensor.cast %dpos : tensor<2xi64> to tensor<?xi64>
  %do, %dnk, %dnv = zamba2.attention %dqd, %dkd, %dvd cache(%nk, %nv) at %dposd {num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 1.0986122886681098 : f64} : tensor<?x?x4xf32>, tensor<?x?x2xf32>, tensor<?x1x5x2xf32>, tensor<?xi64>
  %dop = tensor.cast %do : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: decode
  // CHECK-NEXT: ( 5.875, 10.125, 3.625, 5.625 )
  // CHECK-NEXT: ( 2, 1.6363{{[0-9]*}}, 2.8888{{[0-9]*}}, 1.5555{{[0-9]*}} )
  // CHECK-NEXT: ( 1, 0, 0, 1, 1, 1, 0, 0, 100, 100 )
  // CHECK-NEXT: ( 0, 1, 1, 0, 1, 1, 0, 0, 1, 0 )
  // CHECK-NEXT: ( 10, 20, 1, 2, 3, 4, 7, 7, 100, 100 )
  // CHECK-NEXT: ( 2, 0, 0, 2, 4, 4, 8, 0, 0, 0 )
  call @print_tok(%dop, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%dop, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  %dnkp = tensor.cast %dnk : tensor<?x1x5x2xf32> to tensor<?x1x?x?xf32>
  %dnvp = tensor.cast %dnv : tensor<?x1x5x2xf32> to tensor<?x1x?x?xf32>
  call @print_cache(%dnkp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%dnkp, %c1) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%dnvp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%dnvp, %c1) : (tensor<?x1x?x?xf32>, index) -> ()

  //===--------------------------------------------------------------------===//
  // T = 3 prefill on an empty cache (position 0), one head, hd = 2,
  // scale ln 3, q = [1, 0] at every token:
  //   k [1, 0], [0, 0], [1, 0];  v [1, 0], [0, 1], [2, 2]
  //   t 0 sees entry 0:     [1, 0]
  //   t 1: q.k = [1, 0]:    (3 [1, 0] + [0, 1]) / 4 = [0.75, 0.25]
  //   t 2: q.k = [1, 0, 1]: (3 [1, 0] + [0, 1] + 3 [2, 2]) / 7 = [9/7, 1]
  //===--------------------------------------------------------------------===//
  vector.print str "prefill3\n"
  %pq = arith.constant dense<[[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]]> : tensor<1x3x2xf32>
  %pk = arith.constant dense<[[[1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]]> : tensor<1x3x2xf32>
  %pv = arith.constant dense<[[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]]> : tensor<1x3x2xf32>
  %pc = arith.constant dense<0.0> : tensor<1x1x4x2xf32>
  %ppos = arith.constant dense<0> : tensor<1xi64>
  %pqd = tensor.cast %pq : tensor<1x3x2xf32> to tensor<?x?x2xf32>
  %pkd = tensor.cast %pk : tensor<1x3x2xf32> to tensor<?x?x2xf32>
  %pvd = tensor.cast %pv : tensor<1x3x2xf32> to tensor<?x?x2xf32>
  %pcd = tensor.cast %pc : tensor<1x1x4x2xf32> to tensor<?x1x4x2xf32>
  %pposd = tensor.cast %ppos : tensor<1xi64> to tensor<?xi64>
  %po, %pnk, %pnv = zamba2.attention %pqd, %pkd, %pvd cache(%pcd, %pcd) at %pposd {num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 1.0986122886681098 : f64} : tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x1x4x2xf32>, tensor<?xi64>
  %pop = tensor.cast %po : tensor<?x?x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: prefill3
  // CHECK-NEXT: ( 1, 0 )
  // CHECK-NEXT: ( 0.75, 0.25 )
  // CHECK-NEXT: ( 1.2857{{[0-9]*}}, 1 )
  // CHECK-NEXT: ( 1, 0, 0, 1, 2, 2, 0, 0 )
  %c2 = arith.constant 2 : index
  call @print_tok(%pop, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%pop, %c0, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%pop, %c0, %c2) : (tensor<?x?x?xf32>, index, index) -> ()
  %pnvp = tensor.cast %pnv : tensor<?x1x4x2xf32> to tensor<?x1x?x?xf32>
  call @print_cache(%pnvp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()

  //===--------------------------------------------------------------------===//
  // T = 70 (two query chunks of the lowering: 64 + 6) at position 3. q = 0,
  // so every visible entry weighs the same and the output is the mean of the
  // values of entries 0..3+t. Cache entries 0..2 hold v = [1, 1]; the new
  // token t has v = [t, 1]. Output t: [(3 + t (t + 1) / 2) / (4 + t), 1]:
  //   t 0: 3/4 = 0.75;  t 63: 2019/67 = 30.1343;  t 64: 2083/68 = 30.6324;
  //   t 69: 2418/73 = 33.1233.
  //===--------------------------------------------------------------------===//
  vector.print str "chunks\n"
  %lq = arith.constant dense<0.0> : tensor<1x70x2xf32>
  %lk = arith.constant dense<1.0> : tensor<1x70x2xf32>
  %lv = tensor.generate {
  ^bb0(%i: index, %t: index, %d: index):
    %is0 = arith.cmpi eq, %d, %c0 : index
    %ti = arith.index_cast %t : index to i64
    %tf = arith.sitofp %ti : i64 to f32
    %one = arith.constant 1.0 : f32
    %x = arith.select %is0, %tf, %one : f32
    tensor.yield %x : f32
  } : tensor<1x70x2xf32>
  %lc = tensor.generate {
  ^bb0(%i: index, %h: index, %s: index, %d: index):
    %c3 = arith.constant 3 : index
    %old = arith.cmpi ult, %s, %c3 : index
    %one = arith.constant 1.0 : f32
    %junk = arith.constant 100.0 : f32
    %x = arith.select %old, %one, %junk : f32
    tensor.yield %x : f32
  } : tensor<1x1x80x2xf32>
  %lpos = arith.constant dense<3> : tensor<1xi64>
  %lqd = tensor.cast %lq : tensor<1x70x2xf32> to tensor<?x?x2xf32>
  %lkd = tensor.cast %lk : tensor<1x70x2xf32> to tensor<?x?x2xf32>
  %lvd = tensor.cast %lv : tensor<1x70x2xf32> to tensor<?x?x2xf32>
  %lcd = tensor.cast %lc : tensor<1x1x80x2xf32> to tensor<?x1x80x2xf32>
  %lposd = tensor.cast %lpos : tensor<1xi64> to tensor<?xi64>
  %lo, %lnk, %lnv = zamba2.attention %lqd, %lkd, %lvd cache(%lcd, %lcd) at %lposd {num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 1.0 : f64} : tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x1x80x2xf32>, tensor<?xi64>
  %lop = tensor.cast %lo : tensor<?x?x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: chunks
  // CHECK-NEXT: ( 0.75, 1 )
  // CHECK-NEXT: ( 30.134{{[0-9]*}}, 1 )
  // CHECK-NEXT: ( 30.632{{[0-9]*}}, 1 )
  // CHECK-NEXT: ( 33.123{{[0-9]*}}, 1 )
  call @print_tok(%lop, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%lop, %c0, %c63) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%lop, %c0, %c64) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%lop, %c0, %c69) : (tensor<?x?x?xf32>, index, index) -> ()

  //===--------------------------------------------------------------------===//
  // Folded rotary, by hand: hd = 2 (inv_freq = [1]), one head, position 1.
  // Cache entry 0: k [1, 0], v [0, 0]; new token: q = k = [1, 0], v [1, 0].
  // At p = 1 both rotate to [cos 1, sin 1] = [0.540302, 0.841471], which is
  // what the cache stores. Scores (scale 1): entry 0: cos 1 = 0.540302,
  // entry 1: cos^2 + sin^2 = 1, so the output is
  // [1 / (1 + e^(0.540302 - 1)), 0] = [1 / (1 + 0.631477), 0] = [0.612942, 0].
  //===--------------------------------------------------------------------===//
  vector.print str "rope\n"
  %fq = arith.constant dense<[[[1.0, 0.0]]]> : tensor<1x1x2xf32>
  %fv = arith.constant dense<[[[1.0, 0.0]]]> : tensor<1x1x2xf32>
  %fkc = arith.constant dense<[[[[1.0, 0.0], [100.0, 100.0]]]]> : tensor<1x1x2x2xf32>
  %fvc = arith.constant dense<[[[[0.0, 0.0], [100.0, 100.0]]]]> : tensor<1x1x2x2xf32>
  %fpos = arith.constant dense<1> : tensor<1xi64>
  %fqd = tensor.cast %fq : tensor<1x1x2xf32> to tensor<?x?x2xf32>
  %fvd = tensor.cast %fv : tensor<1x1x2xf32> to tensor<?x?x2xf32>
  %fkcd = tensor.cast %fkc : tensor<1x1x2x2xf32> to tensor<?x1x2x2xf32>
  %fvcd = tensor.cast %fvc : tensor<1x1x2x2xf32> to tensor<?x1x2x2xf32>
  %fposd = tensor.cast %fpos : tensor<1xi64> to tensor<?xi64>
  %fo, %fnk, %fnv = zamba2.attention %fqd, %fqd, %fvd cache(%fkcd, %fvcd) at %fposd {num_heads = 1 : i64, num_kv_heads = 1 : i64, scale = 1.0 : f64, rope_theta = 10000.0 : f64} : tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x1x2x2xf32>, tensor<?xi64>
  %fop = tensor.cast %fo : tensor<?x?x2xf32> to tensor<?x?x?xf32>
  // CHECK-LABEL: rope
  // CHECK-NEXT: ( 0.61294{{[0-9]*}}, 0 )
  // CHECK-NEXT: ( 1, 0, 0.54030{{[0-9]*}}, 0.84147{{[0-9]*}} )
  call @print_tok(%fop, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  %fnkp = tensor.cast %fnk : tensor<?x1x2x2xf32> to tensor<?x1x?x?xf32>
  call @print_cache(%fnkp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()

  //===--------------------------------------------------------------------===//
  // rope_theta folded into attention equals rotary followed by attention:
  // 2 rows at positions [1, 2], T = 2, GQA (2 query heads, 1 KV head),
  // hd = 4, theta = 100, a non-empty cache. The outputs and the key caches of
  // both forms must print the same (captured from the first, matched in the
  // second).
  //===--------------------------------------------------------------------===//
  %eq = arith.constant dense<[[[0.5, -1.0, 2.0, 0.25, 1.0, 1.5, -0.5, 0.75],
                               [-1.5, 0.5, 1.0, 2.0, 0.25, -0.75, 1.25, 0.5]],
                              [[1.0, 2.0, -1.0, 0.5, -0.25, 0.5, 0.75, 1.0],
                               [0.75, -0.5, 0.5, 1.5, 2.0, 1.0, -1.0, 0.25]]]> : tensor<2x2x8xf32>
  %ek = arith.constant dense<[[[1.0, 0.5, -0.5, 2.0], [0.25, -1.0, 1.5, 0.5]],
                              [[-0.5, 1.0, 0.75, -1.25], [1.5, 0.25, -0.75, 1.0]]]> : tensor<2x2x4xf32>
  %ev = arith.constant dense<[[[1.0, 2.0, 3.0, 4.0], [-1.0, 0.5, 2.5, -2.0]],
                              [[0.5, -0.5, 1.5, 1.0], [2.0, 1.0, -1.0, 0.25]]]> : tensor<2x2x4xf32>
  %ekc = arith.constant dense<[[[[0.5, 0.25, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]],
                               [[[1.0, -0.5, 0.5, 0.25], [-0.75, 1.0, 0.5, 2.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]> : tensor<2x1x4x4xf32>
  %evc = arith.constant dense<[[[[2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]],
                               [[[-1.0, 0.5, 1.0, 2.0], [1.5, 1.5, -0.5, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]]]> : tensor<2x1x4x4xf32>
  %epos = arith.constant dense<[1, 2]> : tensor<2xi64>
  %eqd = tensor.cast %eq : tensor<2x2x8xf32> to tensor<?x?x8xf32>
  %ekd = tensor.cast %ek : tensor<2x2x4xf32> to tensor<?x?x4xf32>
  %evd = tensor.cast %ev : tensor<2x2x4xf32> to tensor<?x?x4xf32>
  %ekcd = tensor.cast %ekc : tensor<2x1x4x4xf32> to tensor<?x1x4x4xf32>
  %evcd = tensor.cast %evc : tensor<2x1x4x4xf32> to tensor<?x1x4x4xf32>
  %eposd = tensor.cast %epos : tensor<2xi64> to tensor<?xi64>
  %e1o, %e1k, %e1v = zamba2.attention %eqd, %ekd, %evd cache(%ekcd, %evcd) at %eposd {num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.7071067811865476 : f64, rope_theta = 100.0 : f64} : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x1x4x4xf32>, tensor<?xi64>
  %erq, %erk = zamba2.rotary %eqd, %ekd at %eposd {head_dim = 4 : i64, theta = 100.0 : f64} : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?xi64>
  %e2o, %e2k, %e2v = zamba2.attention %erq, %erk, %evd cache(%ekcd, %evcd) at %eposd {num_heads = 2 : i64, num_kv_heads = 1 : i64, scale = 0.7071067811865476 : f64} : tensor<?x?x8xf32>, tensor<?x?x4xf32>, tensor<?x1x4x4xf32>, tensor<?xi64>
  %e1op = tensor.cast %e1o : tensor<?x?x8xf32> to tensor<?x?x?xf32>
  %e2op = tensor.cast %e2o : tensor<?x?x8xf32> to tensor<?x?x?xf32>
  %e1kp = tensor.cast %e1k : tensor<?x1x4x4xf32> to tensor<?x1x?x?xf32>
  %e2kp = tensor.cast %e2k : tensor<?x1x4x4xf32> to tensor<?x1x?x?xf32>
  // CHECK-LABEL: folded
  // CHECK-NEXT: [[O00:\(.*\)]]
  // CHECK-NEXT: [[O01:\(.*\)]]
  // CHECK-NEXT: [[O10:\(.*\)]]
  // CHECK-NEXT: [[O11:\(.*\)]]
  // CHECK-NEXT: [[K0:\(.*\)]]
  // CHECK-NEXT: [[K1:\(.*\)]]
  // CHECK-LABEL: separate
  // CHECK-NEXT: [[O00]]
  // CHECK-NEXT: [[O01]]
  // CHECK-NEXT: [[O10]]
  // CHECK-NEXT: [[O11]]
  // CHECK-NEXT: [[K0]]
  // CHECK-NEXT: [[K1]]
  vector.print str "folded\n"
  call @print_tok(%e1op, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%e1op, %c0, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%e1op, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%e1op, %c1, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_cache(%e1kp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%e1kp, %c1) : (tensor<?x1x?x?xf32>, index) -> ()
  vector.print str "separate\n"
  call @print_tok(%e2op, %c0, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%e2op, %c0, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%e2op, %c1, %c0) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_tok(%e2op, %c1, %c1) : (tensor<?x?x?xf32>, index, index) -> ()
  call @print_cache(%e2kp, %c0) : (tensor<?x1x?x?xf32>, index) -> ()
  call @print_cache(%e2kp, %c1) : (tensor<?x1x?x?xf32>, index) -> ()
  return
}
