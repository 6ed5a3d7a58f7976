//===- Passes.td - zamba2c passes --------------------------*- tablegen -*-===//
#ifndef ZAMBA2_PASSES_TD
#define ZAMBA2_PASSES_TD

include "mlir/Pass/PassBase.td"

def WeightTable : Pass<"zamba2-weight-table", "ModuleOp"> {
  let summary = "Print the module's weight table (key, type, bytes, uses)";
  let description = [{
    Lists every `zamba2.weight` with its type, its size in bytes and the
    number of `zamba2.param` reads of it, then the totals: what a package
    built from this module stores. Weights of the shared block show one line
    with several uses. The IR is left unchanged.
  }];
  let options = [
    Option<"sortBySize", "sort-by-size", "bool", /*default=*/"false",
           "List the largest weights first instead of declaration order">,
  ];
}

def LowerToLinalg : Pass<"zamba2-lower-to-linalg", "ModuleOp"> {
  let summary = "Lower zamba2 model-level ops to linalg/tensor/arith/math";
  let description = [{
    Rewrites every zamba2 model-level op into upstream ops on tensors
    (linalg, tensor, scf, vector, arith, math), computing in f32: bf16/f16
    weights and f16 quantization scales are extended inside the loops, never
    copied. `linear` (and the contractions of `lora`, `lora_linear`) is a
    row-tiled, vectorised dot-product loop nest; `ssd_scan` is the exact
    recurrence over T with the state updated in place; `attention` appends
    to the KV cache in place and reads only the filled prefix. `param` is
    lowered by `zamba2-prepare-entry-points`, not here.
  }];
  let options = [
    Option<"target", "target", "std::string", /*default=*/"\"cpu\"",
           "cpu: lower every op; cuda: leave the ops that have a CUDA kernel "
           "(linear, lora, lora_linear, rms_norm, gated_rms_norm, attention) "
           "to One-Shot Bufferize, whose models emit their kernels "
           "(lowering/GpuKernels.cpp)">,
  ];
  let dependentDialects = ["::mlir::linalg::LinalgDialect",
                           "::mlir::tensor::TensorDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::vector::VectorDialect"];
}

def PrepareEntryPoints : Pass<"zamba2-prepare-entry-points", "ModuleOp"> {
  let summary = "Give @prefill/@decode the package ABI: weight buffer, "
                "destination-passing state and logits";
  let description = [{
    Lays the weights out in one buffer (declaration order, each aligned to
    `alignment` bytes) and records it as the module attribute
    `zamba2.weight_table` (name, type, offset, bytes) with the total in
    `zamba2.weights_bytes`; the `zamba2.weight` declarations are erased.
    Each public function gets the weight buffer (`memref<?xi8>`) as its first
    argument and every `zamba2.param` becomes a `memref.view` of it. Logits get
    an output argument (`bufferization.materialize_in_destination`); state
    results stay returned, tied to their arguments by the attribute
    `zamba2.result_args`, so that One-Shot Bufferize updates the caller's
    state in place and `zamba2-drop-tied-results` removes them. The state tensors, in
    argument order, are recorded as `zamba2.state_table`. See
    docs/PACKAGE.md for the resulting ABI.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"64",
           "Byte alignment of each weight in the weight buffer">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def DropTiedResults : Pass<"zamba2-drop-tied-results", "ModuleOp"> {
  let summary = "Remove entry-point results that are their own arguments";
  let description = [{
    Runs after One-Shot Bufferize on the functions that
    `zamba2-prepare-entry-points` made destination-passing (attribute
    `zamba2.result_args`: the argument each result belongs to). A returned
    memref that is its argument (possibly through `memref.cast`) was updated
    in place; any other is copied into its argument. A result that
    bufferization computed in a fresh buffer and copied into its argument
    (`memref.copy %alloc, %arg`: the logits) is computed in the argument
    instead, with no copy, when the function uses the argument for nothing
    else and the buffer (an alloc of its type in the entry block, never
    deallocated) for nothing after the copy. Then the results are
    removed, so the entry points return nothing. Upstream's
    `drop-equivalent-buffer-results` leaves public functions alone, which is
    why this pass exists.
  }];
}

def Bufferize : Pass<"zamba2-bufferize", "ModuleOp"> {
  let summary = "One-Shot Bufferize, the body of each in_proj_scan left to the op";
  let description = [{
    One-Shot Bufferize of the module across function boundaries, function
    arguments and results of identity layout (upstream's
    `one-shot-bufferize{bufferize-function-boundaries
    function-boundary-type-conversion=identity-layout-map}` otherwise), with
    the ops inside a `zamba2.in_proj_scan` left out: that op's own
    bufferization reads its body (the product and the ssd_step it lowers
    together) and replaces the whole op, body included.
  }];
  let dependentDialects = ["::mlir::bufferization::BufferizationDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ExpandShapeToCast : Pass<"zamba2-expand-shape-to-cast", "ModuleOp"> {
  let summary = "Rewrite contiguous memref.expand_shape as memref.reinterpret_cast";
  let description = [{
    A `memref.expand_shape` of an identity-layout (contiguous) memref is a
    reinterpretation of the same buffer with row-major strides computed from
    the output shape. This pass writes it so, before `expand-strided-metadata`,
    whose expand_shape pattern crashes in MLIR 22.1 when more than one output
    dim of a group is dynamic (the [B*T, N] -> [B, T, N] reshape of every
    linear's result).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def CopyToLinalg : Pass<"zamba2-copy-to-linalg", "ModuleOp"> {
  let summary = "Rewrite strided memref.copy as linalg.copy";
  let description = [{
    `finalize-memref-to-llvm` lowers a `memref.copy` between non-contiguous
    memrefs to a call of `memrefCopy` from MLIR's C runner utils, a library a
    package must not depend on. This pass turns such copies into
    `linalg.copy` (then plain loops); contiguous copies stay `memref.copy`
    and become `llvm.memcpy`.
  }];
  let dependentDialects = ["::mlir::linalg::LinalgDialect"];
}

def OutlineParallel : Pass<"zamba2-outline-parallel", "ModuleOp"> {
  let summary = "Outline the heavy scf.parallel loops for the runtime's threads";
  let description = [{
    Runs on memrefs after `convert-linalg-to-parallel-loops`. Every outermost
    `scf.parallel` of a function that has an inner `scf.for` (a contraction,
    a reduction, a scan step: the loops worth splitting across cores) is
    moved into a private function
    `zamba2_parallel_body_<n>(begin, end, captured...)` that runs the
    iterations [begin, end) of the loop's dims collapsed into one range, and
    is replaced by a call of it over the whole range. Constants are cloned
    into the body. `zamba2-parallel-dispatch` later turns each call into a
    dispatch to the runtime's thread pool. Loops with reductions are left
    alone.
  }];
  let dependentDialects = ["::mlir::func::FuncDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::arith::ArithDialect"];
}

def ParallelDispatch : Pass<"zamba2-parallel-dispatch", "ModuleOp"> {
  let summary = "Dispatch outlined parallel bodies through the runtime's pool";
  let description = [{
    Runs on the LLVM dialect. For each `zamba2_parallel_body_<n>` it adds a
    trampoline `(void *ctx, i64 begin, i64 end)` that unpacks the captured
    arguments from a struct, and rewrites each call into: store the captured
    arguments into a stack struct, then call the dispatcher held in the
    global `zamba2_parallel_for` with (trampoline, ctx, begin, end). The
    global starts as a serial dispatcher defined in the module; the runtime
    installs its thread pool through the exported
    `zamba2_set_parallel_for(fn)` (docs/PACKAGE.md).
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def FuseLoRA : Pass<"zamba2-fuse-lora", "ModuleOp"> {
  let summary = "Fuse a linear and the LoRA adapter on its output into lora_linear";
  let description = [{
    Rewrites `zamba2.lora %x, %a, %b into (zamba2.linear %x, %w [bias])`
    into `zamba2.lora_linear %x, %w adapter(%a, %b) [bias]`: one op whose
    lowering accumulates x W^T and the rank-r term (x A^T) B^T into the same
    output, with W + B A never formed (the shared block's weights stay stored
    once, however many sites adapt them). Matches only when the adapter reads
    the linear's own input and the linear's result has no other use (else
    the fused op would recompute the linear). Numerics: the same sums, so
    equal to the unfused form up to f32 rounding order.

    The quantized form (zamba2-quantize ran first and quantized W and B
    alike): `zamba2.quant_linear %mid, %bq into (zamba2.quant_linear %x,
    %wq [bias])`, where %mid is a linear or quant_linear of the same %x,
    becomes `zamba2.quant_linear %x, %wq [bias] adapter(%mid, %bq)`: one
    GPU kernel for both products instead of two (the rank-r product x A^T
    stays its own op). Same conditions.
  }];
}

def FuseRotary : Pass<"zamba2-fuse-rotary", "ModuleOp"> {
  let summary = "Fold the rotary embedding of q and k into the attention op";
  let description = [{
    Rewrites `zamba2.attention` whose q and k are the two results of one
    `zamba2.rotary` at the same positions (and head size) into the attention
    op with `rope_theta`, which rotates q and k as it reads them, so rotated
    q/k tensors are not written and read back. Matches only when the rotary
    results have no other use.
  }];
}

def FuseResidual : Pass<"zamba2-fuse-residual", "ModuleOp"> {
  let summary = "Fold the addition of a linear's result into the linear";
  let description = [{
    Rewrites `arith.addf %r, (zamba2.linear %x, %w [bias])` (either operand
    order; `zamba2.quant_linear` alike) into `zamba2.linear %x, %w [bias]
    into %r`, whose lowering adds r as the product is stored: on the GPU the
    addition is the matrix-vector kernel's epilogue instead of a kernel of
    its own (the residual stream after each Mamba mixer, a quantized
    adapter's second product). Matches only when the linear's result has no
    other use and no base yet. Numerics: the same addition, done last, so
    the result equals the unfused form exactly.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

def FuseConv : Pass<"zamba2-fuse-conv", "ModuleOp"> {
  let summary = "Fold a one-token causal_conv1d into the linear that produces its input";
  let description = [{
    Rewrites `zamba2.causal_conv1d` whose input is a piece of a
    `zamba2.split` of a `linear` or `quant_linear` over one token per row
    (input [B, 1, In]: the decode entry point) into that linear with a
    convolution epilogue, `conv(%w [bias %b] state %s)` with `conv_offset`
    at the piece's first channel, whose second result is the new
    convolution state: Mamba2's in_proj and conv1d in one op. With one
    token per row, channel c of row b needs only this token's product and
    b's state for c, so on the GPU the thread that finishes output channel
    c convolves it: one kernel per Mamba layer and decode step fewer (the
    one-row kernel loads the convolution's weights and state before its
    dependent-launch wait). The product must be f32 (the verifier's rule).
    Matches only when the piece and the linear's result have no
    other use, the linear has no epilogue yet, and the split's other pieces
    are used after the convolution. Prefill (several tokens per row) keeps
    its convolution kernel. The CPU lowering computes the product, then the
    convolution (no gain there). Numerics: the same operations in the same
    order, so the result equals the unfused form exactly.
    `zamba2-compile` runs it for `--target cuda` (`--fuse-conv=false` for
    A/B runs).
  }];
}

def FuseScan : Pass<"zamba2-fuse-scan", "ModuleOp"> {
  let summary = "Group a Mamba2 in_proj and the ssd_step of its pieces into one op";
  let description = [{
    Rewrites a `zamba2.ssd_step` whose x, dt, b, c (and gate) are pieces
    (`zamba2.split`) of one `linear` or `quant_linear` with a convolution
    epilogue (zamba2-fuse-conv, so: a decode step) and no adapter into
    `zamba2.in_proj_scan`, whose body holds that product, its splits and
    the ssd_step: the Mamba2 in_proj and scan of one layer and step. The
    product's channels must be x, the other I channels (z) and b, c, dt
    together (`scanFoldLayout`), and every use of what the body makes, apart
    from its own, must come after the ssd_step. On the GPU, at one token
    row (decode at batch 1), that is one kernel instead of two: the
    in_proj's blocks that compute b, c and dt count themselves done; each
    other block computes the x and z channels of some rows of one head,
    waits for that count and runs those rows' scan, their state loaded
    before its wait. Several rows keep the two kernels. The CPU lowering
    inlines the body. Numerics: the same operations in the same order, so
    the result equals the unfused form exactly. `zamba2-compile --fuse-scan`
    runs it when asked (off by default: 0.91x on an H100, int4 at batch 1).
  }];
}

def FuseNorm : Pass<"zamba2-fuse-norm", "ModuleOp"> {
  let summary = "Fold each rms_norm / gated_rms_norm into the linears that read it";
  let description = [{
    Rewrites `zamba2.linear (zamba2.rms_norm %x [plus %r], %w)` into
    `zamba2.linear %x normed %w [plus %r]`, and a gated_rms_norm alike
    (`gated %z`, with its groups), when every user of the norm is a
    `linear`, `lora_linear` or `quant_linear` that reads it as its input
    (and has no prologue yet), and there are at most `max-users` of them:
    the norm op is then gone. A gated norm of one group whose input is the
    output of an `ssd_scan` / `ssd_step` (read by the norm only) moves its
    gate, when defined before that op in its block, into that op
    (`gated %z`: y * silu(z) computed there, once per element), so that the
    linears' prologue is a plain norm. On the GPU, the
    kernel of a one-row product (decode at batch 1) normalises the row it
    stages in workgroup memory itself, so the norm's own kernel, and the
    normalised copy it wrote, disappear; each user recomputes the row's sum
    of squares from the row it reads anyway, and with one group scales its
    sums by the norm's 1/RMS at the end instead of scaling the row. With
    several rows, each user's op writes the normalised rows with the norm
    kernel first (once per op: hence `max-users`, default 1, so that
    prefill and batched decode run no more norm kernels than before). The
    CPU lowering computes the norm first (no gain there). Numerics: the
    same per-element operations, but for the order of the f32 additions of
    the sum of squares and, with one group on the GPU, where the 1/RMS
    multiplies (f32 rounding).
    The CUDA pipeline runs it by default (`fuse-norm=true`; `zamba2-compile
    --fuse-norm=false` to turn it off): on an H100 the 1.2B shape's decode
    step at batch 1 took 1.720 against 1.835 ms in bf16 and 1.157 against
    1.185 in int4. The CPU pipeline runs it only when asked.
    A quantized adapted linear is two ops (zamba2-fuse-lora leaves the
    adapter's x A^T apart, as the `adapter` input of the `quant_linear`),
    both reading the norm, where a float one is one `lora_linear`: such an
    x A^T (one use, as the adapter input of a `quant_linear` of the same
    normalised input) counts as one user with that linear, so that int4
    folds the shared block's pre-MLP norm as bf16 does.
    A norm that stays, of a `zamba2.concat` of two pieces of static widths
    read by the norm only (the shared block's input: the hidden state and
    the embeddings), reads the two pieces itself (`rms_norm %a concat %b`):
    the concatenation, a copy of the row (a kernel on the GPU), is gone.
  }];
  let options = [
    Option<"maxUsers", "max-users", "int64_t", /*default=*/"1",
           "Fold a norm read by at most this many linear ops">
  ];
}

def EmitEntryWrappers : Pass<"zamba2-emit-entry-wrappers", "ModuleOp"> {
  let summary = "Add the void zamba2_<name>(void **args) C entry points";
  let description = [{
    Runs on the LLVM dialect after `convert-func-to-llvm`. For every
    `_mlir_ciface_<name>` function it adds `zamba2_<name>(void **args)`, which
    passes args[i] as the i-th memref descriptor pointer, so that a runtime
    can call a model with any number of state tensors through one C
    signature. Also adds `int32_t zamba2_abi_version(void)`.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

def AllocsToGpu : Pass<"zamba2-allocs-to-gpu", "ModuleOp"> {
  let summary = "Put the host's buffers in device memory (CUDA pipeline)";
  let description = [{
    Runs on memrefs before the parallel loops become GPU kernels. Every
    `memref.alloc` / `memref.dealloc` outside device code becomes
    `gpu.alloc` / `gpu.dealloc` (device memory; zamba2-gpu-stream later
    orders them on the entry point's stream), and every `memref.copy` there a
    `gpu.memcpy`. Host code never touches these buffers
    (zamba2-parallel-to-gpu checks it). Allocations inside parallel loops
    (per-thread scratch) are left alone.
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

def PlanWorkspace : Pass<"zamba2-plan-workspace", "ModuleOp"> {
  let summary = "Place each function's temporaries in one workspace, at "
                "offsets planned from their liveness";
  let description = [{
    Runs on memrefs after deallocation. In each function whose body is one
    block, every buffer allocated at the top level (`memref.alloc`, identity
    layout, no memory space, whole-byte elements) is live from its
    allocation to the last top-level operation that uses it or any of its
    aliases (views, casts, results of ops that take it, results of regions
    that yield it). Those buffers become `memref.view`s of one `memref.alloc`
    of i8 made at the function's entry and freed at its end; their own
    deallocations are erased.

    The placement is planned at compile time and sized at run time. The
    sizes are evaluated with every unknown dimension set to
    `representative-size`; buffers are placed largest first at the lowest
    offset that no buffer live at the same time occupies. That plan fixes,
    for every pair of buffers live at the same time, which lies below the
    other. The function computes the offsets from the actual sizes: each
    buffer starts where the highest-ending buffer below it ends. So the
    offsets are valid for every size, and at the representative sizes no
    offset is above the plan's. Offsets and sizes are multiples of
    `alignment` bytes.

    A buffer is left as it is when it escapes (returned, passed to a call),
    is freed through an alias or inside a region, or has a dynamic size that
    cannot be computed at the function's entry (only side-effect-free
    operations on the arguments can be). Allocations inside regions (loop
    bodies, kernels) are left alone.
  }];
  let options = [
    Option<"alignment", "alignment", "int64_t", /*default=*/"256",
           "Byte alignment of every buffer in the workspace">,
    Option<"representativeSize", "representative-size", "int64_t",
           /*default=*/"512",
           "Value assumed for each dynamic dimension when planning">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::memref::MemRefDialect"];
}

def ParallelToGpu : Pass<"zamba2-parallel-to-gpu", "ModuleOp"> {
  let summary = "Every host parallel loop a kernel; no host access to buffers";
  let description = [{
    Each `scf.parallel` of host code (not nested in another, nor in a
    `gpu.launch`) becomes a `gpu.launch` of blocks of `block-size` threads,
    one thread per iteration of the whole (flattened) iteration space;
    nested parallel loops run sequentially in their thread. A
    `memref.get_global` used inside a kernel is cloned into it (the outlining
    then copies the global into the device module). Afterwards host code must
    not read or write memory (loads, stores, copies, linalg): device buffers
    are not host memory, and a captured CUDA graph replays kernels, not host
    code. A violation is an error naming the op.

    These kernels are short: the first op of each one's body that touches
    memory or holds regions is marked `zamba2.early_trigger` (as the
    lowering marks its norm and scan kernels): outlining drops a launch's
    attributes but keeps its body's, where `zamba2-gpu-dependent-launch`
    looks for the mark.
  }];
  let options = [
    Option<"blockSize", "block-size", "int64_t", /*default=*/"256",
           "Threads per block">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect",
                           "::mlir::arith::ArithDialect"];
}

def GpuStream : Pass<"zamba2-gpu-stream", "ModuleOp"> {
  let summary = "All GPU work of a function on one stream, one wait at its end";
  let description = [{
    After kernel outlining: in each function with GPU ops, `gpu.wait async`
    at entry makes the stream; every `gpu.launch_func`, `gpu.alloc`,
    `gpu.dealloc`, `gpu.memcpy` and `gpu.memset` becomes asynchronous on it
    (at any nesting depth: a stream runs its work in order, so the one token
    is the only dependency needed), and one `gpu.wait` before the return waits for
    all of it. The runtime can then capture a call into a CUDA graph. A
    host loop that launches kernels gets a `memref.alloca_scope` per
    iteration (the launch lowering puts its argument array on the stack).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::memref::MemRefDialect"];
}

def GpuMergeLaunches : Pass<"zamba2-gpu-merge-launches", "ModuleOp"> {
  let summary = "Kernels that do not depend on each other, of the same block "
                "size, become one launch";
  let description = [{
    Horizontal fusion, on the `gpu.launch` ops of the CUDA kernels (after
    bufferization, before `zamba2-plan-workspace`). A launch joins an
    earlier launch of the same static block size when neither it nor
    anything between the two (the earlier launch included) writes memory
    the other touches; the ops it needs that are defined in between (its
    output's `memref.alloc`, sizes) move above the earlier launch. The
    merged launch's grid is the two grids' blocks, flattened and laid end
    to end (x only); each block runs the body of the launch its index falls
    in, in an `scf.if` marked `zamba2.launch_cases`, with the block indices
    that launch would have given it (so `zamba2-gpu-dependent-launch` puts
    the wait into each case). Two `scf.if` ops without results on the same
    condition (each CUDA linear's "one row" test) merge first under the
    same rule, and the launches in their branches then merge. Buffers are
    told apart by their root (an allocation, a function argument: an entry
    point's buffers are distinct, or a global); a memref of any other
    origin, or an effect on no buffer, depends on everything; a release
    counts as a write. Launches whose body reads its block index or grid
    size through ops (gpu.block_id, gpu.grid_dim, ...) rather than the
    launch's arguments, or whose shared memory together would pass 48 KB,
    stay apart. Host functions only (not those of a gpu.module). In the 1.2B
    model's decode step, the q, k and v projections of each attention block
    become one kernel, and their LoRA adapters' x A^T another. The marks
    on a launch's body (`zamba2.early_trigger` of a short kernel,
    `zamba2.grid_blocks`) go with it into its case; the kernel then
    signals the next one early only if every case is so marked (a merged
    launch lets the next one start when all its blocks have).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::arith::ArithDialect",
                           "::mlir::scf::SCFDialect"];
}

def MergeGpuModules : Pass<"zamba2-merge-gpu-modules", "ModuleOp"> {
  let summary = "Put every outlined kernel into one gpu.module";
  let description = [{
    `gpu-kernel-outlining` makes one `gpu.module` per kernel; each is then
    compiled separately (one ptxas run each). This pass moves all kernels
    into the first module, renamed `zamba2_kernels`, each kernel named after
    the module it came from, and updates the `gpu.launch_func` ops. Other
    symbols the kernels referenced (cloned by the outlining) are kept once.
    Kernels that compile to the same code (the same signature, attributes
    and operations, up to their names and locations: the kernels of layers
    of the same shapes) are kept once, the first of them, which the
    launches of the others name instead (the 1.2B model's 964 kernels are
    64, compiled once each).
  }];
  let dependentDialects = ["::mlir::gpu::GPUDialect"];
}

def GpuDependentLaunch : Pass<"zamba2-gpu-dependent-launch", "ModuleOp"> {
  let summary = "Each kernel waits for its predecessor itself (Hopper "
                "programmatic dependent launch)";
  let description = [{
    Every kernel of the module's `gpu.module`s begins with
    `nvvm.griddepcontrol wait` (nothing before it reads or writes memory:
    the grids before it on the stream have finished and their writes are
    visible once it returns) followed by `nvvm.griddepcontrol
    launch_dependents` (the next kernel on the stream may be scheduled from
    now on). A kernel compiled so is correct whether or not it is launched
    as a dependent launch; the runtime launches it as one (the CUDA launch
    attribute of programmatic stream serialisation) when the package's
    manifest says so and the stream's previous work was a kernel, so that
    its blocks are resident and waiting when the previous kernel ends
    instead of being launched then. Needs sm_90 or newer.

    With `early-trigger`, `launch_dependents` comes first instead, before
    the loads that may precede the wait: the next kernel may then be
    scheduled as soon as every block of this one has started, and the one
    after it as soon as every block of that one has, so that several
    kernels down the stream are resident, each with its weights loaded,
    while the first of them runs. Still correct: each waits for the one
    before it to finish, and that one for its own predecessor. What a
    kernel reads before its wait must then be written by no kernel of the
    stream since the last full synchronisation (weights; state that only
    this kernel writes), not only by the kernel just before it.

    Without it, the short kernels that the lowering marks (an op of their
    entry block, or of a merged kernel's case, with `zamba2.early_trigger`:
    the elementwise kernels of zamba2-parallel-to-gpu, the norm kernel, the
    Mamba scan) signal first all the same, so that the GEMV after one
    loads its weights while it waits and runs rather than only after its
    wait. The same condition holds for what the kernels after them load
    early. Measured on an H100 (1.2B shape, batch 1, three rounds): bf16
    1.709-1.718 ms a step against 1.739-1.747 without the marks, int4
    1.107-1.120 against 1.122-1.124.

    With `one-row-early-trigger` (on by default), the one-row GEMVs (decode
    at batch 1; the lowering marks an op of their entry block, or of a
    merged kernel's case, with `zamba2.one_row`, which the pass removes)
    signal first as well. What they load before their wait (weights,
    scales, bias, norm weights, the convolution epilogue's taps and its
    state rows, which only that kernel updates) meets the condition above.
    The GEMVs of several rows keep the signal after their wait:
    `early-trigger` for every kernel made batch 8 slower in bf16 on an
    H100 (5.397-5.403 ms a step against 5.121-5.131), while at batch 1 it
    made int4 faster (0.937-0.938 against 0.958-0.961) and bf16 about the
    same (1.649-1.652 against 1.658-1.661). This option alone, on an H100
    (three rounds, the packages without it in the same rounds): int4
    0.941-0.945 against 0.970-0.975 at batch 1, int8 1.146-1.150 against
    1.199-1.204, bf16 1.662-1.665 against 1.659-1.672; batch 8 unchanged
    (its kernels are the same as without it).
  }];
  let options = [
    Option<"earlyTrigger", "early-trigger", "bool", /*default=*/"false",
           "Signal the dependent launch at the kernel's start, before its "
           "early loads and its wait">,
    Option<"oneRowEarlyTrigger", "one-row-early-trigger", "bool",
           /*default=*/"true",
           "The one-row GEMVs (`zamba2.one_row`) signal the dependent launch "
           "at their start">,
  ];
  let dependentDialects = ["::mlir::gpu::GPUDialect",
                           "::mlir::NVVM::NVVMDialect"];
}

def GpuRegisterBudget : Pass<"zamba2-gpu-register-budget", "ModuleOp"> {
  let summary = "Caps a kernel's registers where that puts its grid in "
                "fewer waves of blocks";
  let description = [{
    The one-row GEMVs of float weights (decode at batch 1) launch a grid
    known when they are built: the lowering marks it on the kernel's code
    (`zamba2.grid_blocks` on an op of its entry block; a kernel that
    zamba2-gpu-merge-launches made of several launches carries one mark per
    case, and launches their sum). ptxas gives a kernel the registers it
    likes, and the registers bound the blocks an SM holds at once; a grid of
    more blocks than the SMs hold runs in waves, each later wave waiting for
    blocks of the one before to end. For each marked kernel of a known block
    size, this pass takes the fewest waves its grid can run in on `sm-count`
    SMs (64K registers, 2048 threads and 32 blocks each, as sm_90) with at
    least 64 registers a thread, and the most registers (a multiple of 8)
    that still give that many, and sets that as the kernel's `nvvm.maxnreg`
    when it is 80 or fewer. Above that no cap is set: ptxas takes the
    registers a cap allows (the 1.2B int4 in_proj, 72 registers of its own,
    took 95 under a cap of 96), which would fit fewer blocks, not more. A
    merged kernel one of whose cases is not marked gets no cap. The marks
    are removed (without this pass, the NVVM conversion drops them). The
    SM limits are sm_90's whatever the chip, and `sm-count` is the user's
    to give (132 fits an H100 SXM and an H200, not an H100 PCIe's 114 or
    an A100's 108).

    On the 1.2B shape in bf16 (132 SMs; ptxas spills nothing): the merged
    q/k/v GEMV (3072 blocks) goes from 72 registers (4 waves) to 64 (3), the
    MLP's gate_up (4096 blocks) to 64 (one of its two kernels took 66: 5
    waves to 4), the lm_head
    (8000 blocks) from 68 to 64 (9 to 8); the in_proj (2128 blocks) gets 80
    and takes 75-80 instead of 64-70 (3 waves either way). Measured on an
    H100 (ms per decode step at batch 1, four rounds each in two calls):
    bf16 1.660-1.672 against 1.710-1.718 without it, and 1.656-1.660
    against 1.705-1.725; in the trace the step spans 1.600 ms instead of
    1.663 and the merged q/k/v costs 34.4 us instead of 36.5.
    The quantized GEMVs are not marked: with the same rule the int4 step was
    no faster (the gate_up 0.3 us slower, the q/k/v 0.3 us faster).
  }];
  let options = [
    Option<"smCount", "sm-count", "int64_t", /*default=*/"132",
           "SMs of the GPU the waves are counted on (an H100 SXM or H200: "
           "132)">,
  ];
}

def PrefetchWeights : Pass<"zamba2-prefetch-weights", "ModuleOp"> {
  let summary = "The CUDA linear kernels prefetch their weights into L2 "
                "before waiting for the kernel before them";
  let description = [{
    Marks the module (the unit attribute `zamba2.prefetch_weights`) so that
    the CUDA kernels of `linear`, `lora_linear` and `quant_linear`, when
    bufferized, begin with one bulk prefetch into L2
    (`nvvm.cp.async.bulk.prefetch`, sm_90) of the weight rows their block
    reads (and of the scales and zero points, and LoRA's B rows), marked
    `zamba2.before_wait`; `zamba2-gpu-dependent-launch` then puts the
    kernel's wait for its predecessor after it. Under a dependent launch the
    weights' DRAM latency passes while the previous kernel ends, and the
    loads after the wait hit L2. Weights do not depend on earlier kernels,
    so the results are unchanged. Run it before bufferization; it is only
    useful with zamba2-gpu-dependent-launch. Off by default in the
    pipelines: on an H200 it made the 1.2B decode step 3% slower in bf16
    and 1% faster in int4, within the run-to-run spread.
  }];
}

def GpuInt4Mma : Pass<"zamba2-gpu-int4-mma", "ModuleOp"> {
  let summary = "The CUDA one-row GEMVs of int4 weights multiply on the "
                "integer tensor cores";
  let description = [{
    Marks the module (the unit attribute `zamba2.int4_mma`) so that the
    one-row CUDA kernels of `quant_linear` (decode at batch 1) whose weights
    are symmetric int4 in groups of a multiple of 64, with rows of a multiple
    of 256 weights up to 2048, at least 1024 channels, an adapter product
    only with int4 B whose (channel, 16-byte chunk) pairs fit a warp's lanes
    (each warp adds those of its share of the block's channels), and no
    folded scan, when bufferized, multiply with `mma.sync` m16n8k32
    (s8 x s8 to s32): a block of one warp a 256-weight slice of the row (up
    to 8) takes one or two tiles of 16 channels; x is staged, cut into blocks of 64
    elements scaled by powers of two to integers of 30 bits, and split in
    four signed 8-bit digits, so that every product and group sum is exact
    and only the f32 scaling and the sum over groups round. The packed
    weights are the same. Run it before bufferization. On in the CUDA
    pipeline from sm_80: on an H100 the 1.2B int4 decode step at batch 1 took
    0.875-0.885 ms with it, 0.914-0.923 without.
  }];
}

def Quantize : Pass<"zamba2-quantize", "ModuleOp"> {
  let summary = "Weight-only integer quantization of the linears' weights";
  let description = [{
    Rewrites each `zamba2.linear` whose weight is a declared checkpoint
    weight W into `zamba2.quant_linear` reading new declarations `W.packed`
    (i8), `W.scales` (f16 or f32) and, for the asymmetric scheme, `W.zeros`
    (i8), each with the attribute `zamba2.quant = {source, tensor, part,
    bits, group_size, scheme, scale_type}`: the transform the package's
    packer (runtime/pack, without MLIR) applies to the checkpoint tensor
    `source` to compute the bytes (docs/PACKAGE.md, "Quantized weights").
    A weight read by several linears (the shared block) is quantized once.
    Which weights: every linear's (Mamba mixers, shared block, hybrid
    layers); the LoRA adapters' A and B with `quantize-adapters` (default),
    the adapter then becoming quant_linear(quant_linear(x, A), B into base)
    (a factor that cannot be quantized stays a float linear);
    the lm_head (`lm_head.weight`, or with tied embeddings the table the
    logits linear reads, whose quantized copy stands for tensor
    `lm_head.weight` while the lookup keeps the float table) only with
    `quantize-lm-head`. `quantize-embeddings` is refused: `zamba2.embed`
    reads a float table. A weight whose input width is not a multiple of
    `group-size` stays as it is, with a warning naming it. A `lora_linear`
    (zamba2-fuse-lora ran first) whose W and B are quantized becomes one
    quant_linear with an adapter product after x A^T; otherwise it is split
    into its linear and its adapter. zamba2-compile runs this pass first:
    zamba2-fuse-lora then fuses the quantized linear and its adapter. Run it
    before zamba2-prepare-entry-points.
  }];
  let options = [
    Option<"bits", "bits", "int64_t", /*default=*/"4",
           "Bits per weight: 4 or 8">,
    Option<"groupSize", "group-size", "int64_t", /*default=*/"64",
           "Consecutive weights of a row sharing one scale (and zero point)">,
    Option<"scheme", "scheme", "std::string", /*default=*/"\"symmetric\"",
           "symmetric (w = s q, q signed) or asymmetric (w = s (q - z), q and "
           "z unsigned)">,
    Option<"scaleType", "scale-type", "std::string", /*default=*/"\"f16\"",
           "Element type of the scales: f16 or f32">,
    Option<"quantizeAdapters", "quantize-adapters", "bool",
           /*default=*/"true", "Quantize the LoRA adapters' A and B too">,
    Option<"quantizeLmHead", "quantize-lm-head", "bool", /*default=*/"false",
           "Quantize the lm_head (the logits linear)">,
    Option<"quantizeEmbeddings", "quantize-embeddings", "bool",
           /*default=*/"false",
           "Quantize the embedding table (not supported: an error)">,
  ];
  let dependentDialects = ["::mlir::arith::ArithDialect"];
}

#endif // ZAMBA2_PASSES_TD
