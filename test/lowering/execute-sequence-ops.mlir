// Numerics of the causal_conv1d / ssd_scan / ssd_step lowering: each op is
// lowered, JIT-compiled and run on inputs whose results are derived by hand in
// the comments. Tensors print in row-major order, one element per line.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg %lower_linalg_to_llvm | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s

func.func @print3(%t: tensor<?x?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %n0 = tensor.dim %t, %c0 : tensor<?x?x?xf32>
  %n1 = tensor.dim %t, %c1 : tensor<?x?x?xf32>
  %n2 = tensor.dim %t, %c2 : tensor<?x?x?xf32>
  scf.for %i = %c0 to %n0 step %c1 {
    scf.for %j = %c0 to %n1 step %c1 {
      scf.for %k = %c0 to %n2 step %c1 {
        %v = tensor.extract %t[%i, %j, %k] : tensor<?x?x?xf32>
        vector.print %v : f32
      }
    }
  }
  return
}

func.func @print4(%t: tensor<?x?x?x?xf32>) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c2 = arith.constant 2 : index
  %c3 = arith.constant 3 : index
  %n0 = tensor.dim %t, %c0 : tensor<?x?x?x?xf32>
  %n1 = tensor.dim %t, %c1 : tensor<?x?x?x?xf32>
  %n2 = tensor.dim %t, %c2 : tensor<?x?x?x?xf32>
  %n3 = tensor.dim %t, %c3 : tensor<?x?x?x?xf32>
  scf.for %i = %c0 to %n0 step %c1 {
    scf.for %j = %c0 to %n1 step %c1 {
      scf.for %k = %c0 to %n2 step %c1 {
        scf.for %l = %c0 to %n3 step %c1 {
          %v = tensor.extract %t[%i, %j, %k, %l] : tensor<?x?x?x?xf32>
          vector.print %v : f32
        }
      }
    }
  }
  return
}

// Conv over T = 3 tokens with K = 3 (dynamic B and T), bf16 weight
// w = [1, 10, 100], bias 0.5. y[t] = 0.5 + 1 xpad[t] + 10 xpad[t+1] +
// 100 xpad[t+2], xpad = state (oldest first) ++ input.
//   batch 0: state [1, 2], input [3, 4, 5], xpad [1, 2, 3, 4, 5]:
//     y = 0.5 + 1 + 20 + 300 = 321.5, 0.5 + 2 + 30 + 400 = 432.5,
//         0.5 + 3 + 40 + 500 = 543.5;  new state = last two rows [4, 5].
//   batch 1: state [0, 0], input [1, 0, 2], xpad [0, 0, 1, 0, 2]:
//     y = 0.5 + 100 = 100.5, 0.5 + 10 = 10.5, 0.5 + 1 + 200 = 201.5;
//     new state [0, 2]. (The unit input at t = 0 meets w[2] first: the
//     newest tap is the last weight.)
func.func @conv_k3() {
  %x = arith.constant dense<[[[3.0], [4.0], [5.0]], [[1.0], [0.0], [2.0]]]> : tensor<2x3x1xf32>
  %w = arith.constant dense<[[[1.0, 10.0, 100.0]]]> : tensor<1x1x3xbf16>
  %b = arith.constant dense<[0.5]> : tensor<1xf32>
  %s = arith.constant dense<[[[1.0, 2.0]], [[0.0, 0.0]]]> : tensor<2x1x2xf32>
  %xd = tensor.cast %x : tensor<2x3x1xf32> to tensor<?x?x1xf32>
  %sd = tensor.cast %s : tensor<2x1x2xf32> to tensor<?x1x2xf32>
  %y, %ns = zamba2.causal_conv1d %xd, %w bias %b state %sd : (tensor<?x?x1xf32>, tensor<1x1x3xbf16>, tensor<1xf32>, tensor<?x1x2xf32>) -> (tensor<?x?x1xf32>, tensor<?x1x2xf32>)
  %yp = tensor.cast %y : tensor<?x?x1xf32> to tensor<?x?x?xf32>
  %sp = tensor.cast %ns : tensor<?x1x2xf32> to tensor<?x?x?xf32>
  call @print3(%yp) : (tensor<?x?x?xf32>) -> ()
  call @print3(%sp) : (tensor<?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: conv_k3
// CHECK-NEXT: 321.5
// CHECK-NEXT: 432.5
// CHECK-NEXT: 543.5
// CHECK-NEXT: 100.5
// CHECK-NEXT: 10.5
// CHECK-NEXT: 201.5
// CHECK-NEXT: 4
// CHECK-NEXT: 5
// CHECK-NEXT: 0
// CHECK-NEXT: 2

// Batch 0 above as three decode steps (T = 1), each feeding its new state to
// the next: the same outputs and the same final state [4, 5].
func.func @conv_k3_steps() {
  %w = arith.constant dense<[[[1.0, 10.0, 100.0]]]> : tensor<1x1x3xbf16>
  %b = arith.constant dense<[0.5]> : tensor<1xf32>
  %s0 = arith.constant dense<[[[1.0, 2.0]]]> : tensor<1x1x2xf32>
  %x0 = arith.constant dense<[[[3.0]]]> : tensor<1x1x1xf32>
  %x1 = arith.constant dense<[[[4.0]]]> : tensor<1x1x1xf32>
  %x2 = arith.constant dense<[[[5.0]]]> : tensor<1x1x1xf32>
  %y0, %s1 = zamba2.causal_conv1d %x0, %w bias %b state %s0 : (tensor<1x1x1xf32>, tensor<1x1x3xbf16>, tensor<1xf32>, tensor<1x1x2xf32>) -> (tensor<1x1x1xf32>, tensor<1x1x2xf32>)
  %y1, %s2 = zamba2.causal_conv1d %x1, %w bias %b state %s1 : (tensor<1x1x1xf32>, tensor<1x1x3xbf16>, tensor<1xf32>, tensor<1x1x2xf32>) -> (tensor<1x1x1xf32>, tensor<1x1x2xf32>)
  %y2, %s3 = zamba2.causal_conv1d %x2, %w bias %b state %s2 : (tensor<1x1x1xf32>, tensor<1x1x3xbf16>, tensor<1xf32>, tensor<1x1x2xf32>) -> (tensor<1x1x1xf32>, tensor<1x1x2xf32>)
  %p0 = tensor.cast %y0 : tensor<1x1x1xf32> to tensor<?x?x?xf32>
  %p1 = tensor.cast %y1 : tensor<1x1x1xf32> to tensor<?x?x?xf32>
  %p2 = tensor.cast %y2 : tensor<1x1x1xf32> to tensor<?x?x?xf32>
  %ps = tensor.cast %s3 : tensor<1x1x2xf32> to tensor<?x?x?xf32>
  call @print3(%p0) : (tensor<?x?x?xf32>) -> ()
  call @print3(%p1) : (tensor<?x?x?xf32>) -> ()
  call @print3(%p2) : (tensor<?x?x?xf32>) -> ()
  call @print3(%ps) : (tensor<?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: conv_k3_steps
// CHECK-NEXT: 321.5
// CHECK-NEXT: 432.5
// CHECK-NEXT: 543.5
// CHECK-NEXT: 4
// CHECK-NEXT: 5

// T = 2 < K - 1 = 3 (K = 4), two channels, no bias. The new state keeps the
// oldest surviving state row.
//   channel 0: state [1, 2, 3], input [4, 5], w [1, 1, 1, 1], xpad
//     [1, 2, 3, 4, 5]: y = 1+2+3+4 = 10, 2+3+4+5 = 14; new state [3, 4, 5].
//   channel 1: state [0, 0, 1], input [2, 3], w [1, 2, 3, 4], xpad
//     [0, 0, 1, 2, 3]: y = 0 + 0 + 3*1 + 4*2 = 11, 0 + 2*1 + 3*2 + 4*3 = 20;
//     new state [1, 2, 3].
// y prints as [t][c]: 10, 11, 14, 20; the state as [c][j].
func.func @conv_short() {
  %x = arith.constant dense<[[[4.0, 2.0], [5.0, 3.0]]]> : tensor<1x2x2xf32>
  %w = arith.constant dense<[[[1.0, 1.0, 1.0, 1.0]], [[1.0, 2.0, 3.0, 4.0]]]> : tensor<2x1x4xf32>
  %s = arith.constant dense<[[[1.0, 2.0, 3.0], [0.0, 0.0, 1.0]]]> : tensor<1x2x3xf32>
  %y, %ns = zamba2.causal_conv1d %x, %w state %s : (tensor<1x2x2xf32>, tensor<2x1x4xf32>, tensor<1x2x3xf32>) -> (tensor<1x2x2xf32>, tensor<1x2x3xf32>)
  %yp = tensor.cast %y : tensor<1x2x2xf32> to tensor<?x?x?xf32>
  %sp = tensor.cast %ns : tensor<1x2x3xf32> to tensor<?x?x?xf32>
  call @print3(%yp) : (tensor<?x?x?xf32>) -> ()
  call @print3(%sp) : (tensor<?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: conv_short
// CHECK-NEXT: 10
// CHECK-NEXT: 11
// CHECK-NEXT: 14
// CHECK-NEXT: 20
// CHECK-NEXT: 3
// CHECK-NEXT: 4
// CHECK-NEXT: 5
// CHECK-NEXT: 1
// CHECK-NEXT: 2
// CHECK-NEXT: 3

// SiLU, K = 2, f16 weight [1, 1] and bias 0.5, state [0], input [1, 1.5]:
// pre-activation 0.5 + 0 + 1 = 1.5 and 0.5 + 1 + 1.5 = 3;
// silu(1.5) = 1.5 / (1 + e^-1.5) = 1.22636, silu(3) = 3 / (1 + e^-3) =
// 2.85772. New state [1.5] (the state is not activated).
func.func @conv_silu() {
  %x = arith.constant dense<[[[1.0], [1.5]]]> : tensor<1x2x1xf32>
  %w = arith.constant dense<[[[1.0, 1.0]]]> : tensor<1x1x2xf16>
  %b = arith.constant dense<[0.5]> : tensor<1xf16>
  %s = arith.constant dense<[[[0.0]]]> : tensor<1x1x1xf32>
  %y, %ns = zamba2.causal_conv1d %x, %w bias %b state %s {silu} : (tensor<1x2x1xf32>, tensor<1x1x2xf16>, tensor<1xf16>, tensor<1x1x1xf32>) -> (tensor<1x2x1xf32>, tensor<1x1x1xf32>)
  %yp = tensor.cast %y : tensor<1x2x1xf32> to tensor<?x?x?xf32>
  %sp = tensor.cast %ns : tensor<1x1x1xf32> to tensor<?x?x?xf32>
  call @print3(%yp) : (tensor<?x?x?xf32>) -> ()
  call @print3(%sp) : (tensor<?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: conv_silu
// CHECK-NEXT: 1.22636
// CHECK-NEXT: 2.85772
// CHECK-NEXT: 1.5

// SSD, one head, P = N = 1, T = 3. dt = 0 and dt_bias = ln(e - 1) give
// dt' = softplus(ln(e - 1)) = ln(e) = 1; a_log = ln(ln 2) gives A = -ln 2 and
// the decay exp(1 * -ln 2) = 0.5. D = 1, x = [1, 2, 3], b = [1, 2, 1],
// c = [1, 1, 2], S starts at 4:
//   t0: S = 0.5*4 + 1*1*1 = 3,        y = 3*1 + 1*1 = 4
//   t1: S = 0.5*3 + 1*2*2 = 5.5,      y = 5.5*1 + 1*2 = 7.5
//   t2: S = 0.5*5.5 + 1*3*1 = 5.75,   y = 5.75*2 + 1*3 = 14.5
func.func @ssd_one_head() {
  %x = arith.constant dense<[[[1.0], [2.0], [3.0]]]> : tensor<1x3x1xf32>
  %dt = arith.constant dense<0.0> : tensor<1x3x1xf32>
  %b = arith.constant dense<[[[1.0], [2.0], [1.0]]]> : tensor<1x3x1xf32>
  %c = arith.constant dense<[[[1.0], [1.0], [2.0]]]> : tensor<1x3x1xf32>
  %s = arith.constant dense<4.0> : tensor<1x1x1x1xf32>
  %al = arith.constant dense<[-0.36651292058166435]> : tensor<1xf32>
  %d = arith.constant dense<[1.0]> : tensor<1xf32>
  %db = arith.constant dense<[0.541324854612918]> : tensor<1xf32>
  %y, %ns = zamba2.ssd_scan %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<1x3x1xf32>, tensor<1x3x1xf32>, tensor<1x3x1xf32>, tensor<1x3x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> (tensor<1x3x1xf32>, tensor<1x1x1x1xf32>)
  %yp = tensor.cast %y : tensor<1x3x1xf32> to tensor<?x?x?xf32>
  %sp = tensor.cast %ns : tensor<1x1x1x1xf32> to tensor<?x?x?x?xf32>
  call @print3(%yp) : (tensor<?x?x?xf32>) -> ()
  call @print4(%sp) : (tensor<?x?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: ssd_one_head
// CHECK-NEXT: 4
// CHECK-NEXT: 7.5
// CHECK-NEXT: 14.5
// CHECK-NEXT: 5.75

// SSD, nh = 2, P = 2, N = 2, one group, T = 2 (B = 1). dt = 0, dt_bias =
// [ln(e - 1), ln(e^2 - 1)] give dt' = [1, 2]; a_log = ln(ln 2) for both heads
// gives decays exp(-ln 2) = 0.5 and exp(-2 ln 2) = 0.25. D = [0, 1].
// x per token = [h0p0, h0p1, h1p0, h1p1]: t0 [1, 2, 3, 4], t1 [0, 1, 1, 0];
// b: t0 [1, 0], t1 [0, 1]; c: t0 [1, 1], t1 [1, 2].
// S0 of head 0 is [[1, 0], [0, 1]] (rows p, columns n); head 1 starts at 0.
// Head 0 (dt' 1, decay 0.5, D 0):
//   t0: S = 0.5 [[1,0],[0,1]] + [1,2] (x) [1,0] = [[1.5,0],[2,0.5]];
//       y = S [1,1] = [1.5, 2.5]
//   t1: S = 0.5 [[1.5,0],[2,0.5]] + [0,1] (x) [0,1] = [[0.75,0],[1,1.25]];
//       y = S [1,2] = [0.75, 3.5]
// Head 1 (dt' 2, decay 0.25, D 1):
//   t0: S = 2 [3,4] (x) [1,0] = [[6,0],[8,0]]; y = S [1,1] + [3,4] = [9, 12]
//   t1: S = 0.25 [[6,0],[8,0]] + 2 [1,0] (x) [0,1] = [[1.5,2],[2,0]];
//       y = S [1,2] + [1,0] = [6.5, 2]
// So y = [1.5, 2.5, 9, 12 | 0.75, 3.5, 6.5, 2] and the new state is
// [0.75, 0, 1, 1.25 | 1.5, 2, 2, 0]. The same comes out of the scan with
// chunk_size 1 and 8 (dynamic B and T) and of two chained ssd_step calls.
func.func @ssd_heads() {
  %x = arith.constant dense<[[[1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 1.0, 0.0]]]> : tensor<1x2x4xf32>
  %dt = arith.constant dense<0.0> : tensor<1x2x2xf32>
  %b = arith.constant dense<[[[1.0, 0.0], [0.0, 1.0]]]> : tensor<1x2x2xf32>
  %c = arith.constant dense<[[[1.0, 1.0], [1.0, 2.0]]]> : tensor<1x2x2xf32>
  %s = arith.constant dense<[[[[1.0, 0.0], [0.0, 1.0]], [[0.0, 0.0], [0.0, 0.0]]]]> : tensor<1x2x2x2xf32>
  %al = arith.constant dense<[-0.36651292058166435, -0.36651292058166435]> : tensor<2xf32>
  %d = arith.constant dense<[0.0, 1.0]> : tensor<2xf32>
  %db = arith.constant dense<[0.541324854612918, 1.854586542131141]> : tensor<2xf32>

  %xd = tensor.cast %x : tensor<1x2x4xf32> to tensor<?x?x4xf32>
  %dtd = tensor.cast %dt : tensor<1x2x2xf32> to tensor<?x?x2xf32>
  %bd = tensor.cast %b : tensor<1x2x2xf32> to tensor<?x?x2xf32>
  %cd = tensor.cast %c : tensor<1x2x2xf32> to tensor<?x?x2xf32>
  %sd = tensor.cast %s : tensor<1x2x2x2xf32> to tensor<?x2x2x2xf32>
  %y1, %s1 = zamba2.ssd_scan %xd, %dtd, %bd, %cd, %sd params(%al, %d, %db) {groups = 1 : i64, chunk_size = 1 : i64} : (tensor<?x?x4xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<?x?x4xf32>, tensor<?x2x2x2xf32>)
  %y1p = tensor.cast %y1 : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  %s1p = tensor.cast %s1 : tensor<?x2x2x2xf32> to tensor<?x?x?x?xf32>
  call @print3(%y1p) : (tensor<?x?x?xf32>) -> ()
  call @print4(%s1p) : (tensor<?x?x?x?xf32>) -> ()

  %y8, %s8 = zamba2.ssd_scan %xd, %dtd, %bd, %cd, %sd params(%al, %d, %db) {groups = 1 : i64, chunk_size = 8 : i64} : (tensor<?x?x4xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x?x2xf32>, tensor<?x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<?x?x4xf32>, tensor<?x2x2x2xf32>)
  %y8p = tensor.cast %y8 : tensor<?x?x4xf32> to tensor<?x?x?xf32>
  %s8p = tensor.cast %s8 : tensor<?x2x2x2xf32> to tensor<?x?x?x?xf32>
  call @print3(%y8p) : (tensor<?x?x?xf32>) -> ()
  call @print4(%s8p) : (tensor<?x?x?x?xf32>) -> ()

  %x0 = tensor.extract_slice %x[0, 0, 0] [1, 1, 4] [1, 1, 1] : tensor<1x2x4xf32> to tensor<1x1x4xf32>
  %x1 = tensor.extract_slice %x[0, 1, 0] [1, 1, 4] [1, 1, 1] : tensor<1x2x4xf32> to tensor<1x1x4xf32>
  %dt0 = tensor.extract_slice %dt[0, 0, 0] [1, 1, 2] [1, 1, 1] : tensor<1x2x2xf32> to tensor<1x1x2xf32>
  %dt1 = tensor.extract_slice %dt[0, 1, 0] [1, 1, 2] [1, 1, 1] : tensor<1x2x2xf32> to tensor<1x1x2xf32>
  %b0 = tensor.extract_slice %b[0, 0, 0] [1, 1, 2] [1, 1, 1] : tensor<1x2x2xf32> to tensor<1x1x2xf32>
  %b1 = tensor.extract_slice %b[0, 1, 0] [1, 1, 2] [1, 1, 1] : tensor<1x2x2xf32> to tensor<1x1x2xf32>
  %c0 = tensor.extract_slice %c[0, 0, 0] [1, 1, 2] [1, 1, 1] : tensor<1x2x2xf32> to tensor<1x1x2xf32>
  %c1 = tensor.extract_slice %c[0, 1, 0] [1, 1, 2] [1, 1, 1] : tensor<1x2x2xf32> to tensor<1x1x2xf32>
  %ya, %sa = zamba2.ssd_step %x0, %dt0, %b0, %c0, %s params(%al, %d, %db) {groups = 1 : i64} : (tensor<1x1x4xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<1x1x4xf32>, tensor<1x2x2x2xf32>)
  %yb, %sb = zamba2.ssd_step %x1, %dt1, %b1, %c1, %sa params(%al, %d, %db) {groups = 1 : i64} : (tensor<1x1x4xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x2x2x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> (tensor<1x1x4xf32>, tensor<1x2x2x2xf32>)
  %yap = tensor.cast %ya : tensor<1x1x4xf32> to tensor<?x?x?xf32>
  %ybp = tensor.cast %yb : tensor<1x1x4xf32> to tensor<?x?x?xf32>
  %sbp = tensor.cast %sb : tensor<1x2x2x2xf32> to tensor<?x?x?x?xf32>
  call @print3(%yap) : (tensor<?x?x?xf32>) -> ()
  call @print3(%ybp) : (tensor<?x?x?xf32>) -> ()
  call @print4(%sbp) : (tensor<?x?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: ssd_heads
// chunk_size 1:
// CHECK-NEXT: 1.5
// CHECK-NEXT: 2.5
// CHECK-NEXT: 9
// CHECK-NEXT: 12
// CHECK-NEXT: 0.75
// CHECK-NEXT: 3.5
// CHECK-NEXT: 6.5
// CHECK-NEXT: 2
// CHECK-NEXT: 0.75
// CHECK-NEXT: 0
// CHECK-NEXT: 1
// CHECK-NEXT: 1.25
// CHECK-NEXT: 1.5
// CHECK-NEXT: 2
// CHECK-NEXT: 2
// CHECK-NEXT: 0
// chunk_size 8:
// CHECK-NEXT: 1.5
// CHECK-NEXT: 2.5
// CHECK-NEXT: 9
// CHECK-NEXT: 12
// CHECK-NEXT: 0.75
// CHECK-NEXT: 3.5
// CHECK-NEXT: 6.5
// CHECK-NEXT: 2
// CHECK-NEXT: 0.75
// CHECK-NEXT: 0
// CHECK-NEXT: 1
// CHECK-NEXT: 1.25
// CHECK-NEXT: 1.5
// CHECK-NEXT: 2
// CHECK-NEXT: 2
// CHECK-NEXT: 0
// two ssd_step calls:
// CHECK-NEXT: 1.5
// CHECK-NEXT: 2.5
// CHECK-NEXT: 9
// CHECK-NEXT: 12
// CHECK-NEXT: 0.75
// CHECK-NEXT: 3.5
// CHECK-NEXT: 6.5
// CHECK-NEXT: 2
// CHECK-NEXT: 0.75
// CHECK-NEXT: 0
// CHECK-NEXT: 1
// CHECK-NEXT: 1.25
// CHECK-NEXT: 1.5
// CHECK-NEXT: 2
// CHECK-NEXT: 2
// CHECK-NEXT: 0

// Two groups, four heads (P = N = 1), one token, bf16 params: heads 0, 1 read
// group 0 and heads 2, 3 group 1 (h / (nh / G)). dt = ln(e - 1), dt_bias = 0:
// dt' = 1; S starts at 0, so the decay does not matter. x = [1, 2, 3, 4],
// b = [2, 3], c = [5, 7], D = 0.5:
//   S = x * b_g = [2, 4, 9, 12];  y = S c_g + 0.5 x = [10.5, 21, 64.5, 86].
// (h mod G would give S = [2, 6, 6, 12].)
func.func @ssd_groups() {
  %x = arith.constant dense<[[[1.0, 2.0, 3.0, 4.0]]]> : tensor<1x1x4xf32>
  %dt = arith.constant dense<0.541324854612918> : tensor<1x1x4xf32>
  %b = arith.constant dense<[[[2.0, 3.0]]]> : tensor<1x1x2xf32>
  %c = arith.constant dense<[[[5.0, 7.0]]]> : tensor<1x1x2xf32>
  %s = arith.constant dense<0.0> : tensor<1x4x1x1xf32>
  %al = arith.constant dense<0.0> : tensor<4xbf16>
  %d = arith.constant dense<0.5> : tensor<4xbf16>
  %db = arith.constant dense<0.0> : tensor<4xbf16>
  %y, %ns = zamba2.ssd_step %x, %dt, %b, %c, %s params(%al, %d, %db) {groups = 2 : i64} : (tensor<1x1x4xf32>, tensor<1x1x4xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x4x1x1xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4xbf16>) -> (tensor<1x1x4xf32>, tensor<1x4x1x1xf32>)
  %yp = tensor.cast %y : tensor<1x1x4xf32> to tensor<?x?x?xf32>
  %sp = tensor.cast %ns : tensor<1x4x1x1xf32> to tensor<?x?x?x?xf32>
  call @print3(%yp) : (tensor<?x?x?xf32>) -> ()
  call @print4(%sp) : (tensor<?x?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: ssd_groups
// CHECK-NEXT: 10.5
// CHECK-NEXT: 21
// CHECK-NEXT: 64.5
// CHECK-NEXT: 86
// CHECK-NEXT: 2
// CHECK-NEXT: 4
// CHECK-NEXT: 9
// CHECK-NEXT: 12

// dt clamp to [0.1, 5]: raw dt = [-20, 0, 20], dt_bias 0, a_log 0 (A = -1),
// x = b = c = 1, D = 0, S starts at 0, so y = S.
//   softplus: [2e-9, ln 2, 20] -> clamped [0.1, 0.693147, 5]
//   t0: S = 0.1
//   t1: S = exp(-ln 2) 0.1 + ln 2 = 0.05 + 0.693147 = 0.743147
//   t2: S = exp(-5) 0.743147 + 5 = 0.0067379 * 0.743147 + 5 = 5.00501
// Unclamped, t0 would print 2.06e-09 and t2 would be 20.
func.func @ssd_clamp() {
  %x = arith.constant dense<1.0> : tensor<1x3x1xf32>
  %dt = arith.constant dense<[[[-20.0], [0.0], [20.0]]]> : tensor<1x3x1xf32>
  %b = arith.constant dense<1.0> : tensor<1x3x1xf32>
  %s = arith.constant dense<0.0> : tensor<1x1x1x1xf32>
  %zero = arith.constant dense<0.0> : tensor<1xf32>
  %y, %ns = zamba2.ssd_scan %x, %dt, %b, %b, %s params(%zero, %zero, %zero) {groups = 1 : i64, dt_min = 0.1 : f64, dt_max = 5.0 : f64} : (tensor<1x3x1xf32>, tensor<1x3x1xf32>, tensor<1x3x1xf32>, tensor<1x3x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> (tensor<1x3x1xf32>, tensor<1x1x1x1xf32>)
  %yp = tensor.cast %y : tensor<1x3x1xf32> to tensor<?x?x?xf32>
  %sp = tensor.cast %ns : tensor<1x1x1x1xf32> to tensor<?x?x?x?xf32>
  call @print3(%yp) : (tensor<?x?x?xf32>) -> ()
  call @print4(%sp) : (tensor<?x?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: ssd_clamp
// CHECK-NEXT: 0.1
// CHECK-NEXT: 0.743147
// CHECK-NEXT: 5.00501
// CHECK-NEXT: 5.00501

// softplus must not overflow: dt = 100 gives dt' = 100 (log(1 + e^100)
// computed naively is inf in f32); x = b = c = 1, S0 = 0, D = 0: y = 100.
func.func @ssd_large_dt() {
  %x = arith.constant dense<1.0> : tensor<1x1x1xf32>
  %dt = arith.constant dense<100.0> : tensor<1x1x1xf32>
  %s = arith.constant dense<0.0> : tensor<1x1x1x1xf32>
  %zero = arith.constant dense<0.0> : tensor<1xf32>
  %y, %ns = zamba2.ssd_step %x, %dt, %x, %x, %s params(%zero, %zero, %zero) {groups = 1 : i64} : (tensor<1x1x1xf32>, tensor<1x1x1xf32>, tensor<1x1x1xf32>, tensor<1x1x1xf32>, tensor<1x1x1x1xf32>, tensor<1xf32>, tensor<1xf32>, tensor<1xf32>) -> (tensor<1x1x1xf32>, tensor<1x1x1x1xf32>)
  %yp = tensor.cast %y : tensor<1x1x1xf32> to tensor<?x?x?xf32>
  call @print3(%yp) : (tensor<?x?x?xf32>) -> ()
  return
}
// CHECK-LABEL: ssd_large_dt
// CHECK-NEXT: 100

func.func @main() {
  vector.print str "conv_k3\n"
  call @conv_k3() : () -> ()
  vector.print str "conv_k3_steps\n"
  call @conv_k3_steps() : () -> ()
  vector.print str "conv_short\n"
  call @conv_short() : () -> ()
  vector.print str "conv_silu\n"
  call @conv_silu() : () -> ()
  vector.print str "ssd_one_head\n"
  call @ssd_one_head() : () -> ()
  vector.print str "ssd_heads\n"
  call @ssd_heads() : () -> ()
  vector.print str "ssd_groups\n"
  call @ssd_groups() : () -> ()
  vector.print str "ssd_clamp\n"
  call @ssd_clamp() : () -> ()
  vector.print str "ssd_large_dt\n"
  call @ssd_large_dt() : () -> ()
  return
}
