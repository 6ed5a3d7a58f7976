// zamba2-drop-tied-results: a result that is its argument (the state,
// updated in place; the logits, copied into it by bufferization) is
// dropped. A fresh buffer of the argument's type copied into the argument
// (the logits) becomes the argument, and the copy goes, when the function
// uses the argument for nothing else and the buffer for nothing after the
// copy; any other result is copied into its argument.
// RUN: zamba2-opt %s --zamba2-drop-tied-results | FileCheck %s

// CHECK-LABEL: func.func @into_caller_buffer
// CHECK-SAME: (%[[S:.*]]: memref<?x4xf32>, %[[L:.*]]: memref<?x1x8xf32>) {
// CHECK-NOT: memref.alloc
// CHECK: linalg.fill ins(%{{.*}} : f32) outs(%[[L]] : memref<?x1x8xf32>)
// CHECK-NOT: memref.copy
// CHECK: return{{$}}
func.func @into_caller_buffer(%s: memref<?x4xf32>, %l: memref<?x1x8xf32>)
    -> (memref<?x4xf32>, memref<?x1x8xf32>)
    attributes {zamba2.result_args = array<i64: 0, 1>} {
  %c0 = arith.constant 0 : index
  %one = arith.constant 1.0 : f32
  %n = memref.dim %s, %c0 : memref<?x4xf32>
  %a = memref.alloc(%n) : memref<?x1x8xf32>
  linalg.fill ins(%one : f32) outs(%a : memref<?x1x8xf32>)
  memref.copy %a, %l : memref<?x1x8xf32> to memref<?x1x8xf32>
  return %s, %l : memref<?x4xf32>, memref<?x1x8xf32>
}

// The copies stay: the argument also read (a), the buffer read after the
// copy (b), a buffer of another type (c); a result that is a view of a
// buffer is copied into its argument (d).
// CHECK-LABEL: func.func @copied
// CHECK-SAME: (%[[A:[a-z0-9]+]]: memref<?x1x8xf32>, %[[B:[a-z0-9]+]]: memref<2x8xf32>, %[[C:[a-z0-9]+]]: memref<?x8xf32>, %[[D:[a-z0-9]+]]: memref<2x8xf32>, %[[O:[a-z0-9]+]]: memref<2x8xf32>) {
// CHECK: memref.copy %[[A]], %[[AA:.*]] :
// CHECK: memref.copy %[[AA]], %[[A]] :
// CHECK: memref.copy %[[BB:.*]], %[[B]] :
// CHECK: memref.copy %[[BB]], %[[O]] :
// CHECK: memref.copy %{{.*}}, %[[C]] :
// CHECK: %[[SUB:.*]] = memref.subview
// CHECK: memref.copy %[[SUB]], %[[D]] :
// CHECK: return{{$}}
func.func @copied(%a: memref<?x1x8xf32>, %b: memref<2x8xf32>, %c: memref<?x8xf32>, %d: memref<2x8xf32>, %o: memref<2x8xf32>)
    -> (memref<?x1x8xf32>, memref<2x8xf32>, memref<?x8xf32>, memref<2x8xf32, strided<[8, 1], offset: 16>>)
    attributes {zamba2.result_args = array<i64: 0, 1, 2, 3>} {
  %c0 = arith.constant 0 : index
  %n = memref.dim %a, %c0 : memref<?x1x8xf32>
  %aa = memref.alloc(%n) : memref<?x1x8xf32>
  memref.copy %a, %aa : memref<?x1x8xf32> to memref<?x1x8xf32>
  memref.copy %aa, %a : memref<?x1x8xf32> to memref<?x1x8xf32>
  %bb = memref.alloc() : memref<2x8xf32>
  memref.copy %bb, %b : memref<2x8xf32> to memref<2x8xf32>
  memref.copy %bb, %o : memref<2x8xf32> to memref<2x8xf32>
  %cc = memref.alloc() : memref<2x8xf32>
  %ccast = memref.cast %cc : memref<2x8xf32> to memref<?x8xf32>
  memref.copy %ccast, %c : memref<?x8xf32> to memref<?x8xf32>
  %dd = memref.alloc() : memref<4x8xf32>
  %sub = memref.subview %dd[2, 0] [2, 8] [1, 1] : memref<4x8xf32> to memref<2x8xf32, strided<[8, 1], offset: 16>>
  return %a, %b, %c, %sub : memref<?x1x8xf32>, memref<2x8xf32>, memref<?x8xf32>, memref<2x8xf32, strided<[8, 1], offset: 16>>
}
