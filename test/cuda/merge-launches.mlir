// zamba2-gpu-merge-launches: a launch joins an earlier one of the same block
// size when nothing from that one to it (that one included) touches memory
// it writes or writes memory it touches; the allocation of its output moves
// up with it. The merged grid is the first launch's blocks then the second's
// (flattened, x only); each block runs its launch's body in a case of an
// scf.if marked zamba2.launch_cases, with that launch's block indices.
// (canonicalize folds the index arithmetic of the static sizes.)
// RUN: zamba2-opt %s --zamba2-gpu-merge-launches --canonicalize | FileCheck %s

module {
  memref.global "private" @shared : memref<4xf32, #gpu.address_space<workgroup>>
  memref.global "private" @rowA : memref<2048xvector<4xf32>, #gpu.address_space<workgroup>>
  memref.global "private" @rowB : memref<1536xvector<4xf32>, #gpu.address_space<workgroup>>

  // Both read %x (an argument) and write their own allocation; both use the
  // same shared-memory array (each block's own).
  // CHECK-LABEL: func.func @two(
  // CHECK-SAME: %[[X:.*]]: memref<8xf32>, %[[N:.*]]: index,
  // CHECK: %[[A:.*]] = memref.alloc() : memref<8xf32>
  // CHECK-NEXT: %[[B:.*]] = memref.alloc() : memref<8xf32>
  // CHECK-NEXT: %[[Q:.*]] = arith.muli %[[N]], %c2 : index
  // CHECK-NEXT: %[[ALL:.*]] = arith.addi %[[Q]], %c2 : index
  // CHECK-NEXT: gpu.launch blocks(%[[BX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %[[ALL]], %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) threads(%[[TX:.*]], %{{.*}}, %{{.*}}) in (%{{.*}} = %c128, %{{.*}} = %c1{{.*}}, %{{.*}} = %c1{{.*}}) module(@first__second) function(@first__second)
  // CHECK-NEXT: %[[IN:.*]] = arith.cmpi ult, %[[BX]], %[[Q]] : index
  // CHECK-NEXT: scf.if %[[IN]] {
  // CHECK-NEXT: %[[QX:.*]] = arith.remui %[[BX]], %[[N]] : index
  // CHECK-NEXT: %[[QRest:.*]] = arith.divui %[[BX]], %[[N]] : index
  // CHECK-NEXT: %[[QY:.*]] = arith.remui %[[QRest]], %c2 : index
  // CHECK-NEXT: %[[S:.*]] = memref.get_global @shared
  // CHECK-NEXT: %[[V:.*]] = memref.load %[[X]][%[[QX]]]
  // CHECK-NEXT: memref.store %[[V]], %[[S]][%[[QY]]]
  // CHECK-NEXT: memref.store %[[V]], %[[A]][%[[QY]]]
  // CHECK-NEXT: } else {
  // CHECK-NEXT: %[[LFLAT:.*]] = arith.subi %[[BX]], %[[Q]] : index
  // CHECK-NEXT: %[[LX:.*]] = arith.remui %[[LFLAT]], %c2 : index
  // CHECK-NEXT: %[[S2:.*]] = memref.get_global @shared
  // CHECK-NEXT: %[[W:.*]] = memref.load %[[X]][%[[TX]]]
  // CHECK-NEXT: memref.store %[[W]], %[[S2]][%[[LX]]]
  // CHECK-NEXT: memref.store %[[W]], %[[B]][%[[LX]]]
  // CHECK-NEXT: } {zamba2.launch_cases}
  // CHECK-NEXT: gpu.terminator
  // CHECK-NOT: gpu.launch
  func.func @two(%x: memref<8xf32>, %n: index, %out_a: memref<8xf32>, %out_b: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c128 = arith.constant 128 : index
    %a = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %n, %gy = %c2, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@first) function(@first) {
      %s = memref.get_global @shared : memref<4xf32, #gpu.address_space<workgroup>>
      %v = memref.load %x[%bx] : memref<8xf32>
      memref.store %v, %s[%by] : memref<4xf32, #gpu.address_space<workgroup>>
      memref.store %v, %a[%by] : memref<8xf32>
      gpu.terminator
    }
    %b = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@second) function(@second) {
      %s = memref.get_global @shared : memref<4xf32, #gpu.address_space<workgroup>>
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %s[%bx] : memref<4xf32, #gpu.address_space<workgroup>>
      memref.store %v, %b[%bx] : memref<8xf32>
      gpu.terminator
    }
    memref.copy %a, %out_a : memref<8xf32> to memref<8xf32>
    memref.copy %b, %out_b : memref<8xf32> to memref<8xf32>
    return
  }

  // The consumer reads what the producer writes (through a view): not
  // merged. The overwriter writes an argument the producer reads: it joins
  // the consumer, but not the producer.
  // CHECK-LABEL: func.func @dependent(
  // CHECK: function(@producer)
  // CHECK: function(@consumer__overwriter)
  // CHECK-NOT: gpu.launch
  func.func @dependent(%x: memref<8xf32>, %out_b: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %a = memref.alloc() : memref<2x4xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@producer) function(@producer) {
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %a[%bx, %tx] : memref<2x4xf32>
      gpu.terminator
    }
    %flat = memref.collapse_shape %a [[0, 1]] : memref<2x4xf32> into memref<8xf32>
    %b = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@consumer) function(@consumer) {
      %v = memref.load %flat[%tx] : memref<8xf32>
      memref.store %v, %b[%tx] : memref<8xf32>
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@overwriter) function(@overwriter) {
      %f = arith.constant 0.0 : f32
      memref.store %f, %x[%tx] : memref<8xf32>
      gpu.terminator
    }
    memref.copy %b, %out_b : memref<8xf32> to memref<8xf32>
    return
  }

  // Different block sizes: not merged. A memref of unknown origin (an
  // arith.select of two buffers) may be any buffer: not merged.
  // CHECK-LABEL: func.func @apart(
  // CHECK: function(@wide)
  // CHECK: function(@narrow)
  // CHECK: function(@chosen)
  func.func @apart(%x: memref<8xf32>, %y: memref<8xf32>, %pick: i1, %out_a: memref<8xf32>, %out_b: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %a = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@wide) function(@wide) {
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %a[%tx] : memref<8xf32>
      gpu.terminator
    }
    %b = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1)
        module(@narrow) function(@narrow) {
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %b[%tx] : memref<8xf32>
      gpu.terminator
    }
    %any = arith.select %pick, %x, %y : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@chosen) function(@chosen) {
      %f = arith.constant 0.0 : f32
      memref.store %f, %any[%tx] : memref<8xf32>
      gpu.terminator
    }
    memref.copy %a, %out_a : memref<8xf32> to memref<8xf32>
    memref.copy %b, %out_b : memref<8xf32> to memref<8xf32>
    return
  }

  // The q, k pattern of an attention block: t_q = x A_q, q = f(t_q), t_k =
  // x A_k, k = f(t_k). Each launch joins the earliest launch it may, so the
  // adapters' products become one kernel and the projections another (the
  // nearest one would pair t_k with q, and leave k alone).
  // CHECK-LABEL: func.func @earliest(
  // CHECK: function(@tq__tk)
  // CHECK: function(@q__k)
  // CHECK-NOT: gpu.launch
  func.func @earliest(%x: memref<8xf32>, %out_q: memref<8xf32>, %out_k: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %tq = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@tq) function(@tq) {
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %tq[%tx] : memref<8xf32>
      gpu.terminator
    }
    %q = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@q) function(@q) {
      %v = memref.load %tq[%tx] : memref<8xf32>
      memref.store %v, %q[%tx] : memref<8xf32>
      gpu.terminator
    }
    %tk = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@tk) function(@tk) {
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %tk[%tx] : memref<8xf32>
      gpu.terminator
    }
    %k = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@k) function(@k) {
      %v = memref.load %tk[%tx] : memref<8xf32>
      memref.store %v, %k[%tx] : memref<8xf32>
      gpu.terminator
    }
    memref.copy %q, %out_q : memref<8xf32> to memref<8xf32>
    memref.copy %k, %out_k : memref<8xf32> to memref<8xf32>
    return
  }

  // A launch moves up past independent work (here a launch of another block
  // size) to join an earlier one, but not past a write of what it reads
  // (five reads what four writes).
  // CHECK-LABEL: func.func @across(
  // CHECK: function(@one__three)
  // CHECK: function(@two)
  // CHECK: function(@four)
  // CHECK: function(@five)
  func.func @across(%x: memref<8xf32>, %y: memref<8xf32>, %out_b: memref<8xf32>, %out_c: memref<8xf32>, %out_d: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c32 = arith.constant 32 : index
    %c64 = arith.constant 64 : index
    %c128 = arith.constant 128 : index
    %a = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@one) function(@one) {
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %a[%tx] : memref<8xf32>
      gpu.terminator
    }
    %b = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c64, %sy = %c1, %sz = %c1)
        module(@two) function(@two) {
      %v = memref.load %a[%tx] : memref<8xf32>
      memref.store %v, %b[%tx] : memref<8xf32>
      gpu.terminator
    }
    %c = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@three) function(@three) {
      %v = memref.load %x[%tx] : memref<8xf32>
      memref.store %v, %c[%tx] : memref<8xf32>
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c32, %sy = %c1, %sz = %c1)
        module(@four) function(@four) {
      %f = arith.constant 0.0 : f32
      memref.store %f, %y[%tx] : memref<8xf32>
      gpu.terminator
    }
    %d = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@five) function(@five) {
      %v = memref.load %y[%tx] : memref<8xf32>
      memref.store %v, %d[%tx] : memref<8xf32>
      gpu.terminator
    }
    memref.copy %b, %out_b : memref<8xf32> to memref<8xf32>
    memref.copy %c, %out_c : memref<8xf32> to memref<8xf32>
    memref.copy %d, %out_d : memref<8xf32> to memref<8xf32>
    return
  }

  // What a kernel computes into a memref (a select of two buffers) may be
  // any buffer, as on the host; a body that reads its block index through
  // gpu.block_id (not the launch's arguments) would read the merged grid's.
  // Neither merges.
  // CHECK-LABEL: func.func @opaque(
  // CHECK: function(@writer)
  // CHECK: function(@reader)
  // CHECK: function(@by_op)
  func.func @opaque(%x: memref<8xf32>, %y: memref<8xf32>, %out: memref<8xf32>, %out2: memref<8xf32>, %pick: i1) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@writer) function(@writer) {
      %f = arith.constant 0.0 : f32
      memref.store %f, %x[%tx] : memref<8xf32>
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@reader) function(@reader) {
      %any = arith.select %pick, %x, %y : memref<8xf32>
      %v = memref.load %any[%tx] : memref<8xf32>
      memref.store %v, %out[%tx] : memref<8xf32>
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@by_op) function(@by_op) {
      %b = gpu.block_id x
      %v = memref.load %y[%b] : memref<8xf32>
      memref.store %v, %out2[%b] : memref<8xf32>
      gpu.terminator
    }
    return
  }

  // Three-dimensional grids: block (x, y, z) of a launch of grid (gx, gy,
  // gz) is its flattened block x + gx (y + gy z).
  // CHECK-LABEL: func.func @grid3d(
  // CHECK-SAME: %[[GX:[a-z0-9]+]]: index, %[[GY:[a-z0-9]+]]: index, %[[GZ:[a-z0-9]+]]: index
  // CHECK: gpu.launch blocks(%[[B:[a-z0-9]+]],
  // CHECK: %[[X:.*]] = arith.remui %[[B]], %[[GX]] : index
  // CHECK-NEXT: %[[R:.*]] = arith.divui %[[B]], %[[GX]] : index
  // CHECK-NEXT: %[[Y:.*]] = arith.remui %[[R]], %[[GY]] : index
  // CHECK-NEXT: %[[Z:.*]] = arith.divui %[[R]], %[[GY]] : index
  // CHECK-NEXT: memref.store %{{.*}}, %{{.*}}[%[[X]], %[[Y]], %[[Z]]]
  // CHECK: } else {
  func.func @grid3d(%gx: index, %gy: index, %gz: index, %a: memref<?x?x?xf32>, %b: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    gpu.launch blocks(%bx, %by, %bz) in (%sgx = %gx, %sgy = %gy, %sgz = %gz)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@cube) function(@cube) {
      %f = arith.constant 1.0 : f32
      memref.store %f, %a[%bx, %by, %bz] : memref<?x?x?xf32>
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%sgx = %c1, %sgy = %c1, %sgz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@line) function(@line) {
      %f = arith.constant 2.0 : f32
      memref.store %f, %b[%tx] : memref<8xf32>
      gpu.terminator
    }
    return
  }

  // A release is a write of its buffer: the if that frees %t does not join
  // the if before the launch that reads %t.
  // CHECK-LABEL: func.func @release(
  // CHECK: scf.if
  // CHECK: function(@uses_t)
  // CHECK: scf.if
  // CHECK: memref.dealloc
  func.func @release(%x: memref<8xf32>, %out: memref<8xf32>, %c: i1) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %t = memref.alloc() : memref<8xf32>
    scf.if %c {
      %f = arith.constant 0.0 : f32
      memref.store %f, %x[%c0] : memref<8xf32>
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@uses_t) function(@uses_t) {
      %v = memref.load %t[%tx] : memref<8xf32>
      memref.store %v, %out[%tx] : memref<8xf32>
      gpu.terminator
    }
    scf.if %c {
      memref.dealloc %t : memref<8xf32>
    }
    return
  }

  // Shared memory: 32 KB and 24 KB arrays together pass the 48 KB a block
  // may have statically: not merged.
  // CHECK-LABEL: func.func @too_much_shared(
  // CHECK: function(@big)
  // CHECK: function(@small)
  func.func @too_much_shared(%x: memref<8xvector<4xf32>>, %y: memref<8xvector<4xf32>>) {
    %c0 = arith.constant 0 : index
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@big) function(@big) {
      %s = memref.get_global @rowA : memref<2048xvector<4xf32>, #gpu.address_space<workgroup>>
      %v = memref.load %s[%tx] : memref<2048xvector<4xf32>, #gpu.address_space<workgroup>>
      memref.store %v, %x[%c0] : memref<8xvector<4xf32>>
      gpu.terminator
    }
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@small) function(@small) {
      %s = memref.get_global @rowB : memref<1536xvector<4xf32>, #gpu.address_space<workgroup>>
      %v = memref.load %s[%tx] : memref<1536xvector<4xf32>, #gpu.address_space<workgroup>>
      memref.store %v, %y[%c0] : memref<8xvector<4xf32>>
      gpu.terminator
    }
    return
  }

  // Two ifs without results on the same condition (each CUDA linear's "one
  // row" test) become one, and the launches in each branch then merge.
  // CHECK-LABEL: func.func @branches(
  // CHECK: memref.alloc()
  // CHECK-NEXT: memref.alloc()
  // CHECK-NEXT: scf.if %{{.*}} {
  // CHECK-NEXT: gpu.launch {{.*}} function(@one_row_a__one_row_b)
  // CHECK: } {zamba2.launch_cases}
  // CHECK-NEXT: gpu.terminator
  // CHECK-NEXT: }
  // CHECK-NEXT: } else {
  // CHECK-NEXT: gpu.launch {{.*}} function(@rows_a__rows_b)
  // CHECK: } {zamba2.launch_cases}
  // CHECK-NEXT: gpu.terminator
  // CHECK-NEXT: }
  // CHECK-NEXT: }
  // CHECK-NEXT: memref.copy
  func.func @branches(%x: memref<8xf32>, %one: i1, %out_a: memref<8xf32>, %out_b: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c128 = arith.constant 128 : index
    %a = memref.alloc() : memref<8xf32>
    scf.if %one {
      gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
          threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
          module(@one_row_a) function(@one_row_a) {
        %v = memref.load %x[%tx] : memref<8xf32>
        memref.store %v, %a[%tx] : memref<8xf32>
        gpu.terminator
      }
    } else {
      gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
          threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
          module(@rows_a) function(@rows_a) {
        %v = memref.load %x[%tx] : memref<8xf32>
        memref.store %v, %a[%bx] : memref<8xf32>
        gpu.terminator
      }
    }
    %b = memref.alloc() : memref<8xf32>
    scf.if %one {
      gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
          threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
          module(@one_row_b) function(@one_row_b) {
        %v = memref.load %x[%tx] : memref<8xf32>
        memref.store %v, %b[%tx] : memref<8xf32>
        gpu.terminator
      }
    } else {
      gpu.launch blocks(%bx, %by, %bz) in (%gx = %c1, %gy = %c1, %gz = %c1)
          threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
          module(@rows_b) function(@rows_b) {
        %v = memref.load %x[%tx] : memref<8xf32>
        memref.store %v, %b[%bx] : memref<8xf32>
        gpu.terminator
      }
    }
    memref.copy %a, %out_a : memref<8xf32> to memref<8xf32>
    memref.copy %b, %out_b : memref<8xf32> to memref<8xf32>
    return
  }
  // A short kernel, its first op that touches memory marked
  // zamba2.early_trigger (markEarlyTrigger): the mark goes with its body
  // into its case; the other case and the merged launch are not marked.
  // CHECK-LABEL: func.func @marked(
  // CHECK: gpu.launch
  // CHECK: scf.if
  // CHECK-NOT: zamba2.early_trigger
  // CHECK: } else {
  // CHECK: memref.load %{{.*}} {zamba2.early_trigger} : memref<8xf32>
  // CHECK-NOT: zamba2.early_trigger
  // CHECK: } {zamba2.launch_cases}
  // CHECK-NEXT: gpu.terminator
  // CHECK-NEXT: }
  // CHECK-NEXT: memref.copy
  func.func @marked(%x: memref<8xf32>, %out_a: memref<8xf32>, %out_b: memref<8xf32>) {
    %c1 = arith.constant 1 : index
    %c2 = arith.constant 2 : index
    %c128 = arith.constant 128 : index
    %a = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@gemv) function(@gemv) {
      %v = memref.load %x[%bx] : memref<8xf32>
      memref.store %v, %a[%bx] : memref<8xf32>
      gpu.terminator
    }
    %b = memref.alloc() : memref<8xf32>
    gpu.launch blocks(%bx, %by, %bz) in (%gx = %c2, %gy = %c1, %gz = %c1)
        threads(%tx, %ty, %tz) in (%sx = %c128, %sy = %c1, %sz = %c1)
        module(@short) function(@short) {
      %v = memref.load %x[%tx] {zamba2.early_trigger} : memref<8xf32>
      memref.store %v, %b[%bx] : memref<8xf32>
      gpu.terminator
    }
    memref.copy %a, %out_a : memref<8xf32> to memref<8xf32>
    memref.copy %b, %out_b : memref<8xf32> to memref<8xf32>
    return
  }
}
