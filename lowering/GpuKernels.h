//===- GpuKernels.h - zamba2 ops bufferized into CUDA kernels ---*- C++ -*-===//
//
// The CUDA pipeline leaves the ops below as zamba2 ops through
// zamba2-lower-to-linalg (target=cuda); One-Shot Bufferize then calls their
// BufferizableOpInterface models (GpuKernels.cpp), which emit a gpu.launch on
// the buffers (see GpuLinearKernels.cpp, GpuNormKernels.cpp and
// GpuSequenceKernels.cpp for each kernel's design).
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_LOWERING_GPUKERNELS_H
#define ZAMBA2_LOWERING_GPUKERNELS_H

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Operation.h"

namespace mlir::zamba2 {

/// A unit attribute on the module (set by zamba2-prefetch-weights): the
/// linear kernels ask L2 for their block's weight rows before they wait for
/// the kernel before them (prefetchRows in GpuLinearKernels.cpp).
constexpr llvm::StringLiteral kPrefetchWeightsAttr = "zamba2.prefetch_weights";
/// A unit attribute on the module (set by zamba2-gpu-int4-mma): the one-row
/// GEMVs of symmetric int4 weights multiply on the integer tensor cores
/// (mma.sync with x's exact 8-bit digits; mmaQuantForm in
/// GpuLinearKernels.cpp).
constexpr llvm::StringLiteral kInt4MmaAttr = "zamba2.int4_mma";
/// A unit attribute on an op at the top of a kernel that reads no memory
/// an earlier kernel writes: zamba2-gpu-dependent-launch puts the kernel's
/// wait for its predecessor after the last such op, so that the op runs
/// while the predecessor still does.
constexpr llvm::StringLiteral kBeforeWaitAttr = "zamba2.before_wait";

/// Sets `name` to `value` on the first op of `body` (a kernel's entry
/// block) that touches memory or holds regions: an op no pass before
/// zamba2-gpu-dependent-launch folds away (constants and views may be), so
/// that the mark stays with the kernel's code through outlining, which
/// forgets a gpu.launch's attributes, and zamba2-gpu-merge-launches, which
/// clones a launch's body into one case of the merged kernel.
void markBody(Block &body, StringRef name, Attribute value);

/// A unit attribute marking a short kernel: zamba2-gpu-dependent-launch
/// signals the next kernel's launch at its start rather than after its
/// wait, so that the next kernel (a GEMV) loads its weights while this one
/// waits and runs. Only for kernels whose successors' early loads read
/// what no kernel of the step writes (as zamba2-gpu-dependent-launch's
/// early-trigger asks). On an op of the kernel's code (markEarlyTrigger).
constexpr llvm::StringLiteral kEarlyTriggerAttr = "zamba2.early_trigger";

/// Marks the built kernel `launch` short: kEarlyTriggerAttr on its body
/// (markBody).
void markEarlyTrigger(gpu::LaunchOp launch);

/// A unit attribute on an op of a kernel's entry block (or of a merged
/// kernel's case): the kernel is a one-row GEMV (decode at batch 1), which
/// zamba2-gpu-dependent-launch's one-row-early-trigger lets signal the
/// dependent launch at its start. What such a kernel loads before its wait
/// satisfies kEarlyTriggerAttr's condition already.
constexpr llvm::StringLiteral kOneRowAttr = "zamba2.one_row";

/// An i64 attribute on an op of a kernel's entry block (or of a merged
/// kernel's case): the blocks that kernel launches, known when it is built
/// (a one-row GEMV: its channels over the channels per block).
/// zamba2-gpu-register-budget adds up a kernel's marks, sets its register
/// budget from them and removes them.
constexpr llvm::StringLiteral kGridBlocksAttr = "zamba2.grid_blocks";

/// A unit attribute on the scf.if at the top of a kernel that
/// zamba2-gpu-merge-launches made of two: each block runs one branch, the
/// body of one of the launches merged, and each branch waits for the
/// kernel before (zamba2-gpu-dependent-launch) itself.
constexpr llvm::StringLiteral kLaunchCasesAttr = "zamba2.launch_cases";

/// Whether `op` is bufferized into a CUDA kernel by the models below.
bool hasGpuKernel(Operation *op);

/// Attaches the models (linear, lora, lora_linear, quant_linear, rms_norm,
/// gated_rms_norm, attention, causal_conv1d, ssd_scan, ssd_step) to the
/// zamba2 dialect.
void registerGpuKernelModels(DialectRegistry &registry);

} // namespace mlir::zamba2

#endif // ZAMBA2_LOWERING_GPUKERNELS_H
