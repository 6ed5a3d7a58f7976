//===- Pipelines.cpp - zamba2c's named pass pipelines ---------------------===//
#include "lowering/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::zamba2;

std::string mlir::zamba2::cpuPipelineUpstreamStages() {
  // Let results be computed straight into the caller's buffers (empty tensor
  // elimination), bufferize with identity-layout memrefs at the function
  // boundary (the runtime passes plain row-major descriptors), drop the
  // results that are now the caller's buffers, free temporaries, then lower
  // to the LLVM dialect.
  return "convert-elementwise-to-linalg,"
         "canonicalize,cse,"
         "eliminate-empty-tensors,"
         "one-shot-bufferize{bufferize-function-boundaries "
         "function-boundary-type-conversion=identity-layout-map},"
         "canonicalize,"
         "zamba2-drop-tied-results,"
         "buffer-deallocation-pipeline,"
         "zamba2-copy-to-linalg,"
         "convert-linalg-to-parallel-loops,"
         "zamba2-outline-parallel,"
         "convert-vector-to-scf,"
         "lower-affine,"
         "convert-scf-to-cf,"
         "zamba2-expand-shape-to-cast,"
         "expand-strided-metadata,"
         "lower-affine,"
         "convert-vector-to-llvm,"
         "finalize-memref-to-llvm,"
         "convert-math-to-llvm,"
         "convert-math-to-libm,"
         "convert-arith-to-llvm,"
         "convert-index-to-llvm,"
         "convert-cf-to-llvm,"
         "convert-ub-to-llvm,"
         "convert-func-to-llvm,"
         "reconcile-unrealized-casts";
}

void mlir::zamba2::buildCpuPipeline(OpPassManager &pm,
                                    const CpuPipelineOptions &options) {
  PrepareEntryPointsOptions prepare;
  prepare.alignment = options.weightAlignment;
  pm.addPass(createPrepareEntryPoints(prepare));
  pm.addPass(createLowerToLinalg());
  if (failed(parsePassPipeline(cpuPipelineUpstreamStages(), pm,
                               llvm::errs())))
    llvm::report_fatal_error("zamba2-cpu-pipeline: bad upstream stage list");
  pm.addPass(createParallelDispatch());
  pm.addPass(createEmitEntryWrappers());
}

namespace {
struct CpuPipelineCLOptions
    : public PassPipelineOptions<CpuPipelineCLOptions> {
  Option<int64_t> weightAlignment{
      *this, "weight-alignment",
      llvm::cl::desc("Byte alignment of each weight in the weight buffer"),
      llvm::cl::init(64)};
};
} // namespace

void mlir::zamba2::registerZamba2Pipelines() {
  PassPipelineRegistration<CpuPipelineCLOptions>(
      "zamba2-cpu-pipeline",
      "Imported zamba2 module -> LLVM dialect with the package's C entry "
      "points (zamba2-prepare-entry-points, zamba2-lower-to-linalg, "
      "bufferization, parallel loops, zamba2-outline-parallel, LLVM, "
      "zamba2-parallel-dispatch, zamba2-emit-entry-wrappers)",
      [](OpPassManager &pm, const CpuPipelineCLOptions &cl) {
        CpuPipelineOptions options;
        options.weightAlignment = cl.weightAlignment;
        buildCpuPipeline(pm, options);
      });
}
