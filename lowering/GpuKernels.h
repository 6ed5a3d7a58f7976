//===- GpuKernels.h - zamba2 ops bufferized into CUDA kernels ---*- C++ -*-===//
//
// The CUDA pipeline leaves the ops below as zamba2 ops through
// zamba2-lower-to-linalg (target=cuda); One-Shot Bufferize then calls their
// BufferizableOpInterface models, which emit a gpu.launch on the buffers
// (see GpuKernels.cpp for each kernel's design).
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_LOWERING_GPUKERNELS_H
#define ZAMBA2_LOWERING_GPUKERNELS_H

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/Operation.h"

namespace mlir::zamba2 {

/// A unit attribute on the module (set by zamba2-prefetch-weights): the
/// linear kernels ask L2 for their block's weight rows before they wait for
/// the kernel before them (prefetchRows in GpuKernels.cpp).
constexpr llvm::StringLiteral kPrefetchWeightsAttr = "zamba2.prefetch_weights";
/// A unit attribute on an op at the top of a kernel that reads no memory
/// an earlier kernel writes: zamba2-gpu-dependent-launch puts the kernel's
/// wait for its predecessor after the last such op, so that the op runs
/// while the predecessor still does.
constexpr llvm::StringLiteral kBeforeWaitAttr = "zamba2.before_wait";

/// A unit attribute on the scf.if at the top of a kernel that
/// zamba2-gpu-merge-launches made of two: each block runs one branch, the
/// body of one of the launches merged, and each branch waits for the
/// kernel before (zamba2-gpu-dependent-launch) itself.
constexpr llvm::StringLiteral kLaunchCasesAttr = "zamba2.launch_cases";

/// Whether `op` is bufferized into a CUDA kernel by the models below.
bool hasGpuKernel(Operation *op);

/// Attaches the models (linear, lora, lora_linear, rms_norm,
/// gated_rms_norm, attention) to the zamba2 dialect.
void registerGpuKernelModels(DialectRegistry &registry);

} // namespace mlir::zamba2

#endif // ZAMBA2_LOWERING_GPUKERNELS_H
