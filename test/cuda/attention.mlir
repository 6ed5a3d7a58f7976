// attention on the CUDA target. As many kv heads as query heads: with one
// token per row (decode) one kernel, attention_step, whose block writes
// its own head's rotated k and its v of the token into the caches and
// attends over the cache entries, the new one included (from its lanes'
// own elements of it); with several tokens per row the append kernel, then the
// attention kernel (a block would read entries other blocks write). Kv
// heads shared by query heads: always the two kernels.
// RUN: zamba2-opt %s --zamba2-lower-to-linalg=target=cuda --one-shot-bufferize="bufferize-function-boundaries function-boundary-type-conversion=identity-layout-map" -split-input-file | FileCheck %s

// CHECK-LABEL: func.func @mha
// CHECK-SAME: %[[KC:[a-z0-9]+]]: memref<?x2x?x32xf32>, %[[VC:[a-z0-9]+]]: memref<?x2x?x32xf32>
// CHECK: memref.alloc
// CHECK: %[[SEQ:.*]] = memref.dim %arg0, %c1{{.*}} : memref<?x?x64xf32>
// CHECK-NEXT: %c2 = arith.constant 2 : index
// CHECK-NEXT: %[[ONE:.*]] = arith.cmpi ult, %[[SEQ]], %c2
// CHECK-NEXT: scf.if %[[ONE]] {
// Before the dependent-launch wait (zamba2.before_wait: the wait goes after
// the last such op): the position, the rotary angles of the lane's query
// elements, and the first round's entries older than the token (only this
// block writes its head's cache). Then the query rotated (its loads of q,
// %arg0) and the token's key (%arg1) with the same angles, appended by the
// first warp at the position; no barrier (no warp reads the token's entry
// from the cache); the first round, where the warp has entries, from the
// early loads (no load); in the loop over the later rounds, each entry's
// key and value loaded before the first warp sum.
// CHECK: gpu.launch {{.*}} module(@attention_step) function(@attention_step)
// CHECK: memref.load %{{.*}} {zamba2.before_wait} : memref<?xi64>
// CHECK: math.cos
// CHECK: arith.truncf {{.*}} {zamba2.before_wait}
// CHECK-NOT: math.cos
// CHECK: memref.load %[[KC]]{{.*}} {zamba2.before_wait}
// CHECK-NEXT: memref.load %[[VC]]{{.*}} {zamba2.before_wait}
// CHECK-COUNT-3: memref.load %[[VC]]{{.*}} {zamba2.before_wait}
// CHECK-NOT: zamba2.before_wait
// CHECK: memref.load %arg0
// CHECK: memref.load %arg1
// CHECK: memref.store %{{.*}}, %[[KC]][%{{.*}}, %arg6, %[[POS:.*]], %{{.*}}]
// CHECK-NEXT: memref.store %{{.*}}, %[[VC]][%{{.*}}, %arg6, %[[POS]], %{{.*}}]
// CHECK-NOT: gpu.barrier
// CHECK: scf.if %{{.*}} -> (f32, f32, f32)
// CHECK-NOT: memref.load
// CHECK: gpu.shuffle
// CHECK-NOT: memref.load
// CHECK: scf.for
// CHECK: memref.load %[[KC]]
// CHECK: memref.load %[[VC]]
// CHECK: memref.load %[[KC]]
// CHECK: memref.load %[[VC]]
// CHECK: memref.load %[[KC]]
// CHECK: memref.load %[[VC]]
// CHECK: memref.load %[[KC]]
// CHECK: memref.load %[[VC]]
// CHECK-NOT: memref.load
// CHECK: gpu.shuffle
// CHECK: gpu.terminator
// CHECK-NOT: gpu.launch
// CHECK: } else {
// CHECK: gpu.launch {{.*}} module(@attention_append) function(@attention_append)
// CHECK: memref.store %{{.*}}, %[[KC]]
// CHECK: gpu.launch {{.*}} module(@attention) function(@attention)
// CHECK-NOT: memref.store %{{.*}}, %[[KC]]
// CHECK: return
func.func @mha(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %kc: tensor<?x2x?x32xf32>, %vc: tensor<?x2x?x32xf32>, %pos: tensor<?xi64>) -> tensor<?x?x64xf32> {
  %o, %nk, %nv = zamba2.attention %q, %k, %v cache(%kc, %vc) at %pos {num_heads = 2 : i64, num_kv_heads = 2 : i64, scale = 0.17677669529663687 : f64, rope_theta = 10000.0 : f64} : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<?xi64>
  return %o : tensor<?x?x64xf32>
}

// -----

// CHECK-LABEL: func.func @gqa
// CHECK-NOT: scf.if
// CHECK-NOT: attention_step
// CHECK: gpu.launch {{.*}} module(@attention_append) function(@attention_append)
// CHECK: gpu.launch {{.*}} module(@attention) function(@attention)
// CHECK-NOT: attention_step
// CHECK: return
func.func @gqa(%q: tensor<?x?x128xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %kc: tensor<?x2x?x32xf32>, %vc: tensor<?x2x?x32xf32>, %pos: tensor<?xi64>) -> tensor<?x?x128xf32> {
  %o, %nk, %nv = zamba2.attention %q, %k, %v cache(%kc, %vc) at %pos {num_heads = 4 : i64, num_kv_heads = 2 : i64, scale = 0.17677669529663687 : f64} : tensor<?x?x128xf32>, tensor<?x?x64xf32>, tensor<?x2x?x32xf32>, tensor<?xi64>
  return %o : tensor<?x?x128xf32>
}
