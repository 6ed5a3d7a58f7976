//===- Pipelines.h - zamba2c's named pass pipelines -------------*- C++ -*-===//
#ifndef ZAMBA2_LOWERING_PIPELINES_H
#define ZAMBA2_LOWERING_PIPELINES_H

#include "mlir/IR/BuiltinTypes.h"
#include "mlir/Pass/PassManager.h"

#include <string>

namespace mlir::zamba2 {

/// Version of the entry-point ABI of docs/PACKAGE.md (zamba2_abi_version()).
constexpr int kAbiVersion = 1;

/// Bytes a weight of this type occupies in the package (packed, no padding).
int64_t storedBytes(RankedTensorType type);

struct CpuPipelineOptions {
  /// Byte alignment of each weight in the package's weight buffer.
  int64_t weightAlignment = 64;
};

/// zamba2 module (as imported) -> LLVM dialect with the C entry points of
/// docs/PACKAGE.md. `zamba2-opt --zamba2-cpu-pipeline` runs the same.
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options);

/// The upstream part of the CPU pipeline as text (for --help and the tests).
std::string cpuPipelineUpstreamStages();

/// Registers zamba2-cpu-pipeline with the global pass pipeline registry.
void registerZamba2Pipelines();

} // namespace mlir::zamba2

#endif // ZAMBA2_LOWERING_PIPELINES_H
