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

/// The model-level rewrites both pipelines run first (each on by default;
/// off for A/B measurements).
struct FusionOptions {
  bool fuseLoRA = true;     ///< zamba2-fuse-lora
  bool fuseRotary = true;   ///< zamba2-fuse-rotary
  bool fuseResidual = true; ///< zamba2-fuse-residual
  /// zamba2-fuse-norm (last). Off here, as for the CPU pipeline, whose
  /// lowering computes the norm first anyway; zamba2-compile and the
  /// zamba2-cuda-pipeline option run it for the CUDA target by default.
  bool fuseNorm = false;
  /// zamba2-fuse-conv (after the others): one kernel per Mamba layer and
  /// decode step fewer on the GPU. The CPU lowering unfolds it again, so
  /// zamba2-compile and the zamba2-cpu-pipeline option run it for the CUDA
  /// target only unless asked.
  bool fuseConv = true;
  /// zamba2-fuse-scan (after zamba2-fuse-conv, whose epilogue it needs):
  /// on the GPU a decode step's Mamba in_proj and scan in one kernel at
  /// batch 1. Off by default: measured slower on an H100. The CPU lowering
  /// inlines it again.
  bool fuseScan = false;
};

struct CpuPipelineOptions {
  /// Byte alignment of each weight in the package's weight buffer.
  int64_t weightAlignment = 64;
  FusionOptions fusion;
};

/// zamba2 module (as imported) -> LLVM dialect with the C entry points of
/// docs/PACKAGE.md. `zamba2-opt --zamba2-cpu-pipeline` runs the same.
void buildCpuPipeline(OpPassManager &pm, const CpuPipelineOptions &options);

/// The upstream part of the CPU pipeline as text (for --help and the tests).
std::string cpuPipelineUpstreamStages();

struct CudaPipelineOptions {
  /// Byte alignment of each weight in the package's weight buffer.
  int64_t weightAlignment = 64;
  FusionOptions fusion;
  /// GPU the kernels are compiled for, and the PTX features they may use.
  std::string chip = "sm_90";
  std::string features = "+ptx80";
  /// LLVM optimisation level of the device code.
  unsigned optLevel = 3;
  /// What gpu.binary holds: "fatbin" (cubin for `chip` and its PTX, so that
  /// newer GPUs can JIT it), "bin" (cubin only), "isa" (PTX text only, no
  /// ptxas needed) or "offload" (LLVM IR).
  std::string format = "fatbin";
  /// CUDA toolkit directory (ptxas, fatbinary, libdevice); empty: MLIR's
  /// default lookup (CUDA_ROOT / CUDA_HOME / CUDA_PATH, then its built-in
  /// default) and PATH.
  std::string toolkitPath;
  /// Kernels that wait for their predecessor themselves
  /// (zamba2-gpu-dependent-launch), so that the runtime can launch each
  /// before the previous one ends; only for sm_90 and newer.
  bool dependentLaunch = true;
  /// With dependent launch: each kernel signals the next one at its start,
  /// so that several kernels down the stream are resident and loading their
  /// weights while the first of them runs (zamba2-gpu-dependent-launch's
  /// early-trigger).
  bool earlyTrigger = false;
  /// With dependent launch: the one-row GEMVs (decode at batch 1) signal the
  /// next kernel at their start (zamba2-gpu-dependent-launch's
  /// one-row-early-trigger).
  bool oneRowEarlyTrigger = true;
  /// The linear kernels prefetch their weight rows into L2 before they wait
  /// for their predecessor (zamba2-prefetch-weights); with dependent launch
  /// only (else nothing to overlap).
  bool prefetchWeights = false;
  /// The one-row GEMVs of symmetric int4 weights multiply on the integer
  /// tensor cores (zamba2-gpu-int4-mma).
  bool int4Mma = true;
  /// Independent kernels of the same block size become one launch
  /// (zamba2-gpu-merge-launches): the q, k and v projections of a decode
  /// step, and their adapters' x A^T.
  bool mergeLaunches = true;
  /// SMs of the GPU that zamba2-gpu-register-budget counts a one-row GEMV's
  /// waves of blocks on (at most kMaxSmCount); 0 or less: no register
  /// budget.
  int64_t smCount = 132;
};

/// The most SMs zamba2-gpu-register-budget counts on.
constexpr int64_t kMaxSmCount = 1 << 16;

/// Whether the CUDA pipeline runs zamba2-gpu-dependent-launch with these
/// options (asked for, and the chip is sm_90 or newer); the package's
/// manifest records it for the runtime.
bool usesDependentLaunch(const CudaPipelineOptions &options);

/// zamba2 module (as imported) -> LLVM dialect host code with the C entry
/// points of docs/PACKAGE.md that launches CUDA kernels through MLIR's mgpu*
/// runtime calls, and one gpu.binary holding the kernels.
/// `zamba2-opt --zamba2-cuda-pipeline` runs the same.
void buildCudaPipeline(OpPassManager &pm, const CudaPipelineOptions &options);

/// Registers zamba2-cpu-pipeline and zamba2-cuda-pipeline with the global
/// pass pipeline registry.
void registerZamba2Pipelines();

} // namespace mlir::zamba2

#endif // ZAMBA2_LOWERING_PIPELINES_H
