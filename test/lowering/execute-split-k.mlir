// Split-K linear (the GPU pipeline's form): the reduction over the 64 input
// channels runs as 4 chunks of 16 computed independently, then summed.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=split-k=16 | FileCheck %s --check-prefix=IR
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=split-k=16 %lower_linalg_to_llvm | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_c_runner_utils | FileCheck %s

// IR: tensor.empty({{.*}}) : tensor<?x2x4xf32>
// IR: iterator_types = ["parallel", "parallel", "reduction"]

func.func @main() {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  // x[k] = k; row 0 of W is all 1, row 1 all 0.5: sum_k k = 2016, and 1008.
  // (A chunk that ignored its offset would give 4 * (0 + ... + 15) = 480.)
  // CHECK: 2016
  // CHECK-NEXT: 1008
  %x = arith.constant dense<[[[0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0, 19.0, 20.0, 21.0, 22.0, 23.0, 24.0, 25.0, 26.0, 27.0, 28.0, 29.0, 30.0, 31.0, 32.0, 33.0, 34.0, 35.0, 36.0, 37.0, 38.0, 39.0, 40.0, 41.0, 42.0, 43.0, 44.0, 45.0, 46.0, 47.0, 48.0, 49.0, 50.0, 51.0, 52.0, 53.0, 54.0, 55.0, 56.0, 57.0, 58.0, 59.0, 60.0, 61.0, 62.0, 63.0]]]> : tensor<1x1x64xf32>
  %w0 = arith.constant dense<1.0> : tensor<1x64xf32>
  %w1 = arith.constant dense<0.5> : tensor<1x64xf32>
  %w = tensor.concat dim(0) %w0, %w1 : (tensor<1x64xf32>, tensor<1x64xf32>) -> tensor<2x64xf32>
  %y = zamba2.linear %x, %w : (tensor<1x1x64xf32>, tensor<2x64xf32>) -> tensor<1x1x2xf32>
  %a = tensor.extract %y[%c0, %c0, %c0] : tensor<1x1x2xf32>
  %b = tensor.extract %y[%c0, %c0, %c1] : tensor<1x1x2xf32>
  vector.print %a : f32
  vector.print %b : f32
  return
}
