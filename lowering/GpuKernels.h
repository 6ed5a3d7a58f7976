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

/// Whether `op` is bufferized into a CUDA kernel by the models below.
bool hasGpuKernel(Operation *op);

/// Attaches the models (linear, lora, lora_linear, rms_norm,
/// gated_rms_norm, attention) to the zamba2 dialect.
void registerGpuKernelModels(DialectRegistry &registry);

} // namespace mlir::zamba2

#endif // ZAMBA2_LOWERING_GPUKERNELS_H
