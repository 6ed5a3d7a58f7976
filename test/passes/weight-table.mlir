// The weight table lists each weight once, with its read count.
// RUN: zamba2-opt %s --zamba2-weight-table | FileCheck %s
// RUN: zamba2-opt %s --zamba2-weight-table=sort-by-size | FileCheck %s --check-prefix=SIZE

// CHECK: weight small tensor<4xf32> bytes 16 uses 0
// CHECK-NEXT: weight shared tensor<8x4xbf16> bytes 64 uses 3
// CHECK-NEXT: total 2 weights, 36 parameters, 80 bytes
// The pass leaves the IR as it was.
// CHECK: zamba2.weight @small
// SIZE: weight shared
// SIZE-NEXT: weight small
zamba2.weight @small : tensor<4xf32>
zamba2.weight @shared : tensor<8x4xbf16>
func.func @f() {
  %0 = zamba2.param @shared : tensor<8x4xbf16>
  %1 = zamba2.param @shared : tensor<8x4xbf16>
  return
}
func.func @g() {
  %0 = zamba2.param @shared : tensor<8x4xbf16>
  return
}
