// A linear with a convolution epilogue (zamba2-fuse-conv) as CUDA kernels:
// no convolution kernel; the lane that finishes output channel n of a
// one-token row (a lane of the group holding that (row, channel) pair's sum)
// convolves it when n is one of channels [32, 72): the
// channel's 4 weights and bias (bf16, widened) and the row's 3 state
// entries, then the new state (the two newer entries and this token's
// product) stored in place, the SiLU of the sum stored as the output.
// The one-row kernel loads the taps before its dependent-launch wait (only
// this op writes the state); lanes of other channels load none. With
// several rows the convolution kernel convolves the product in place
// (measured faster at batch 8 than the 8-row kernel's lanes convolving).
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" | FileCheck %s

// CHECK-LABEL: func.func @in_proj
// CHECK-SAME: %[[CW:[a-z0-9]+]]: memref<40x1x4xbf16>, %[[CB:[a-z0-9]+]]: memref<40xbf16>, %[[CS:[a-z0-9]+]]: memref<?x40x3xf32>
// CHECK-NOT: causal_conv1d
// CHECK: module(@linear_r1)
// Whether the lane's channel n is convolved (32 <= n < 72, and the lane has
// a channel of the warp below the end), and the taps of a convolved channel
// only (n - 32 its channel of the convolution; zeros for the others): the
// state rows belong to the block of their channel.
// CHECK: %[[HI:.*]] = arith.cmpi ult, %[[N:.*]], %c72
// CHECK: %[[LO:.*]] = arith.cmpi uge, %[[N]], %c32
// CHECK: %[[CONV:.*]] = arith.andi %[[HI]], %[[LO]]
// CHECK: %[[IN:.*]] = arith.andi %{{.*}}, %[[CONV]]
// CHECK: %[[C:.*]] = arith.subi %[[N]], %c32
// CHECK: %[[T:.*]]:8 = scf.if %[[IN]] -> (f32, f32, f32, f32, f32, f32, f32, f32) {
// CHECK: memref.load %[[CW]][%[[C]], %{{.*}}, %c0{{(_[0-9]+)?}}]
// CHECK: memref.load %[[CW]][%[[C]], %{{.*}}, %c1{{(_[0-9]+)?}}]
// CHECK: memref.load %[[CW]][%[[C]], %{{.*}}, %c2{{(_[0-9]+)?}}]
// CHECK: memref.load %[[CW]][%[[C]], %{{.*}}, %c3{{(_[0-9]+)?}}]
// CHECK: memref.load %[[CB]][%[[C]]]
// CHECK: memref.load %[[CS]][%[[B:.*]], %[[C]], %c0{{(_[0-9]+)?}}]
// CHECK: memref.load %[[CS]][%[[B]], %[[C]], %c1{{(_[0-9]+)?}}]
// CHECK: memref.load %[[CS]][%[[B]], %[[C]], %c2{{(_[0-9]+)?}}]
// CHECK: } else {
// CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK-NEXT: scf.yield %[[ZERO]], %[[ZERO]], %[[ZERO]], %[[ZERO]], %[[ZERO]], %[[ZERO]], %[[ZERO]], %[[ZERO]] :
// CHECK-NEXT: } {zamba2.before_wait}
// CHECK-NOT: zamba2.before_wait
// The new state where n is convolved: the two newer entries and this
// token's product v.
// CHECK: scf.if %[[IN]] {
// CHECK: memref.store %[[T]]#6, %[[CS]][%{{.*}}, %{{.*}}, %c0{{(_[0-9]+)?}}]
// CHECK-NEXT: arith.constant 1
// CHECK-NEXT: memref.store %[[T]]#7, %[[CS]][%{{.*}}, %{{.*}}, %c1{{(_[0-9]+)?}}]
// CHECK-NEXT: arith.constant 2
// CHECK-NEXT: memref.store %[[V:.*]], %[[CS]][%{{.*}}, %{{.*}}, %c2{{(_[0-9]+)?}}]
// CHECK: math.exp
// CHECK: %[[Y:.*]] = arith.select %[[IN]], %{{.*}}, %[[V]] : f32
// CHECK: memref.store %[[Y]], %{{.*}}[%{{.*}}, %{{.*}}, %[[N]]] : memref<?x1x76xf32>
// Several rows: the 8-row kernel stores the products, and the convolution's
// own kernel convolves channels [32, 72) of them in place.
// CHECK: module(@linear_r8)
// CHECK-NOT: %[[CS]][
// CHECK: %[[PIECE:.*]] = memref.subview %[[OUT:.*]][0, 0, 32] [%{{.*}}, 1, 40] [1, 1, 1] : memref<?x1x76xf32> to memref<?x1x40xf32, strided<[76, 76, 1], offset: 32>>
// CHECK-NOT: %[[CS]][
// CHECK: module(@causal_conv1d)
// CHECK: memref.load %[[CS]]{{.*}} {zamba2.before_wait}
// CHECK: memref.load %[[PIECE]]
// CHECK: memref.store %{{.*}}, %[[PIECE]]
// CHECK: memref.store %{{.*}}, %[[CS]]
// The state is updated in place.
// CHECK: return %{{.*}}, %[[CS]] : memref<?x1x76xf32>, memref<?x40x3xf32>
func.func @in_proj(%x: tensor<?x1x256xf32>, %w: tensor<76x256xbf16>, %cw: tensor<40x1x4xbf16>, %cb: tensor<40xbf16>, %cs: tensor<?x40x3xf32>) -> (tensor<?x1x76xf32>, tensor<?x40x3xf32>) {
  %y, %s = zamba2.linear %x, %w conv(%cw bias %cb state %cs) {conv_offset = 32 : i64, conv_silu} : (tensor<?x1x256xf32>, tensor<76x256xbf16>, tensor<40x1x4xbf16>, tensor<40xbf16>, tensor<?x40x3xf32>) -> (tensor<?x1x76xf32>, tensor<?x40x3xf32>)
  return %y, %s : tensor<?x1x76xf32>, tensor<?x40x3xf32>
}
