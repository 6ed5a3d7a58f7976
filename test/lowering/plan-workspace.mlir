// zamba2-plan-workspace: a function's top-level temporaries become views of
// one workspace, at offsets planned from their liveness. The expected
// offsets are worked out by hand in the comments.
// RUN: zamba2-opt %s --split-input-file --zamba2-plan-workspace --canonicalize --cse | FileCheck %s
// RUN: zamba2-opt %s --split-input-file --zamba2-plan-workspace="alignment=1024" --canonicalize --cse | FileCheck %s --check-prefix=ALIGN
// RUN: not zamba2-opt %s --split-input-file --zamba2-plan-workspace="alignment=48" 2>&1 | FileCheck %s --check-prefix=BADALIGN

// BADALIGN: alignment must be a power of two, not 48

// Static sizes (bytes): %a 1024, %b 512, %c 1024, %d 1024. Live ranges
// (positions in the body, %cst = 0): %a [2,7], %b [3,11], %c [6,9],
// %d [8,10]. Largest first, ties in program order: %a at 0; %c is live with
// %a: 1024; %d is live with %c only: 0; %b is live with all three: 2048.
// Total 2560.
// CHECK-LABEL: func.func @static_reuse
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C1024:.*]] = arith.constant 1024 : index
// CHECK-DAG: %[[C2048:.*]] = arith.constant 2048 : index
// CHECK: %[[WS:.*]] = memref.alloc() {alignment = 256 : i64} : memref<2560xi8>
// CHECK: %[[A:.*]] = memref.view %[[WS]][%[[C0]]][] : memref<2560xi8> to memref<256xf32>
// CHECK: %[[B:.*]] = memref.view %[[WS]][%[[C2048]]][] : memref<2560xi8> to memref<128xf32>
// CHECK: %[[C:.*]] = memref.view %[[WS]][%[[C1024]]][] : memref<2560xi8> to memref<256xf32>
// CHECK: memref.copy %[[A]], %[[C]]
// %d is %a's bytes again (cse merged the two identical views).
// CHECK: memref.copy %[[C]], %[[A]]
// CHECK-NOT: memref.alloc
// CHECK: memref.load %[[B]]
// CHECK: memref.dealloc %[[WS]] : memref<2560xi8>
// CHECK-NOT: memref.dealloc
// CHECK: return
// With 1024-byte alignment every buffer takes 1024 bytes; program order
// breaks the ties: %a 0, %b 1024, %c 2048, %d 0 (live with %b and %c).
// ALIGN-LABEL: func.func @static_reuse
// ALIGN-DAG: %[[C0:.*]] = arith.constant 0 : index
// ALIGN-DAG: %[[C1024:.*]] = arith.constant 1024 : index
// ALIGN-DAG: %[[C2048:.*]] = arith.constant 2048 : index
// ALIGN: %[[WS:.*]] = memref.alloc() {alignment = 1024 : i64} : memref<3072xi8>
// ALIGN: %[[A:.*]] = memref.view %[[WS]][%[[C0]]][]
// ALIGN: memref.view %[[WS]][%[[C1024]]][]
// ALIGN: %[[C:.*]] = memref.view %[[WS]][%[[C2048]]][]
// ALIGN: memref.copy %[[C]], %[[A]]
func.func @static_reuse(%out: memref<256xf32>) -> f32 {
  %cst = arith.constant 1.0 : f32
  %c0 = arith.constant 0 : index
  %a = memref.alloc() : memref<256xf32>
  %b = memref.alloc() : memref<128xf32>
  linalg.fill ins(%cst : f32) outs(%a : memref<256xf32>)
  linalg.fill ins(%cst : f32) outs(%b : memref<128xf32>)
  %c = memref.alloc() : memref<256xf32>
  memref.copy %a, %c : memref<256xf32> to memref<256xf32>
  %d = memref.alloc() : memref<256xf32>
  memref.copy %c, %d : memref<256xf32> to memref<256xf32>
  memref.copy %d, %out : memref<256xf32> to memref<256xf32>
  %v = memref.load %b[%c0] : memref<128xf32>
  memref.dealloc %a : memref<256xf32>
  memref.dealloc %b : memref<128xf32>
  memref.dealloc %c : memref<256xf32>
  memref.dealloc %d : memref<256xf32>
  return %v : f32
}

// -----

// The view of %a used after %b's allocation keeps %a alive: %a and %b must
// not share bytes. Sizes 512 and 256: %a at 0, %b at 512.
// CHECK-LABEL: func.func @alias_extends_life
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C512:.*]] = arith.constant 512 : index
// CHECK: %[[WS:.*]] = memref.alloc() {alignment = 256 : i64} : memref<768xi8>
// CHECK: memref.view %[[WS]][%[[C0]]][] : memref<768xi8> to memref<128xf32>
// CHECK: memref.view %[[WS]][%[[C512]]][] : memref<768xi8> to memref<64xf32>
func.func @alias_extends_life(%out: memref<64xf32>) {
  %a = memref.alloc() : memref<128xf32>
  %s = memref.subview %a[64] [64] [1] : memref<128xf32> to memref<64xf32, strided<[1], offset: 64>>
  %b = memref.alloc() : memref<64xf32>
  memref.copy %s, %b : memref<64xf32, strided<[1], offset: 64>> to memref<64xf32>
  memref.copy %b, %out : memref<64xf32> to memref<64xf32>
  memref.dealloc %a : memref<128xf32>
  memref.dealloc %b : memref<64xf32>
  return
}

// -----

// Dynamic sizes are computed at the entry: %a holds n f32 (4n bytes rounded
// up to 256), %b 64 f32 (256 bytes). Planned with n = 512: %a (2048 bytes)
// at 0, %b above it. So at run time %b starts where %a ends, and the total
// is the larger of 256 and that end plus 256.
// CHECK-LABEL: func.func @dynamic
// CHECK-SAME: (%[[X:.*]]: memref<?xf32>
// CHECK-DAG: %[[C0:.*]] = arith.constant 0 : index
// CHECK-DAG: %[[C4:.*]] = arith.constant 4 : index
// CHECK-DAG: %[[C256:.*]] = arith.constant 256 : index
// CHECK: %[[N:.*]] = memref.dim %[[X]], %[[C0]]
// CHECK: %[[BYTES:.*]] = arith.muli %[[N]], %[[C4]]
// CHECK: %[[UNITS:.*]] = arith.ceildivui %[[BYTES]], %[[C256]]
// CHECK: %[[SIZE:.*]] = arith.muli %[[UNITS]], %[[C256]]
// CHECK: %[[LOW:.*]] = arith.maxui %[[SIZE]], %[[C256]]
// CHECK: %[[END:.*]] = arith.addi %[[SIZE]], %[[C256]]
// CHECK: %[[TOTAL:.*]] = arith.maxui %[[LOW]], %[[END]]
// CHECK: %[[WS:.*]] = memref.alloc(%[[TOTAL]]) {alignment = 256 : i64} : memref<?xi8>
// CHECK: memref.view %[[WS]][%[[C0]]][%[[N]]] : memref<?xi8> to memref<?xf32>
// CHECK: memref.view %[[WS]][%[[SIZE]]][] : memref<?xi8> to memref<64xf32>
// CHECK: memref.dealloc %[[WS]]
func.func @dynamic(%x: memref<?xf32>, %out: memref<64xf32>) {
  %c0 = arith.constant 0 : index
  %n = memref.dim %x, %c0 : memref<?xf32>
  %a = memref.alloc(%n) : memref<?xf32>
  %b = memref.alloc() : memref<64xf32>
  memref.copy %x, %a : memref<?xf32> to memref<?xf32>
  %s = memref.subview %a[0] [64] [1] : memref<?xf32> to memref<64xf32, strided<[1]>>
  memref.copy %s, %b : memref<64xf32, strided<[1]>> to memref<64xf32>
  memref.copy %b, %out : memref<64xf32> to memref<64xf32>
  memref.dealloc %a : memref<?xf32>
  memref.dealloc %b : memref<64xf32>
  return
}

// -----

// Left alone: a returned buffer, one passed to a call, one freed inside a
// region, one whose size is not computable at the entry (loaded from
// memory), and one allocated in a loop body. Only %plain is planned.
func.func private @consume(memref<16xf32>)
// CHECK-LABEL: func.func @not_planned
// CHECK: %[[WS:.*]] = memref.alloc() {alignment = 256 : i64} : memref<256xi8>
// CHECK: %[[RET:.*]] = memref.alloc() : memref<16xf32>
// CHECK: %[[CALLED:.*]] = memref.alloc() : memref<16xf32>
// CHECK: %[[COND:.*]] = memref.alloc() : memref<16xf32>
// CHECK: %[[LOADED:.*]] = memref.alloc(%{{.*}}) : memref<?xf32>
// CHECK: %[[PLAIN:.*]] = memref.view %[[WS]]
// CHECK: scf.for
// CHECK: memref.alloc() : memref<16xf32>
// CHECK: memref.dealloc %[[LOADED]]
// CHECK: memref.dealloc %[[WS]]
// CHECK: return %[[RET]]
func.func @not_planned(%flag: i1, %sizes: memref<1xindex>) -> memref<16xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %c4 = arith.constant 4 : index
  %ret = memref.alloc() : memref<16xf32>
  %called = memref.alloc() : memref<16xf32>
  call @consume(%called) : (memref<16xf32>) -> ()
  %cond = memref.alloc() : memref<16xf32>
  memref.copy %cond, %ret : memref<16xf32> to memref<16xf32>
  scf.if %flag {
    memref.dealloc %cond : memref<16xf32>
  }
  %m = memref.load %sizes[%c0] : memref<1xindex>
  %loaded = memref.alloc(%m) : memref<?xf32>
  %head = memref.subview %loaded[0] [16] [1] : memref<?xf32> to memref<16xf32, strided<[1]>>
  memref.copy %head, %ret : memref<16xf32, strided<[1]>> to memref<16xf32>
  %plain = memref.alloc() : memref<16xf32>
  memref.copy %plain, %ret : memref<16xf32> to memref<16xf32>
  scf.for %i = %c0 to %c4 step %c1 {
    %t = memref.alloc() : memref<16xf32>
    memref.copy %t, %ret : memref<16xf32> to memref<16xf32>
    memref.dealloc %t : memref<16xf32>
  }
  memref.dealloc %loaded : memref<?xf32>
  memref.dealloc %plain : memref<16xf32>
  return %ret : memref<16xf32>
}
