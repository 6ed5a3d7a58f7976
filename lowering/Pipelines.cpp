//===- Pipelines.cpp - zamba2c's named pass pipelines ---------------------===//
#include "lowering/Pipelines.h"
#include "passes/Passes.h"

#include "mlir/Dialect/GPU/Transforms/Passes.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::zamba2;

namespace {

/// Both pipelines, on tensors up to parallel loops on memrefs: results
/// computed straight into the caller's buffers (empty tensor elimination),
/// bufferization with identity-layout memrefs at the function boundary (the
/// runtime passes plain row-major descriptors), the results that are now the
/// caller's buffers dropped, temporaries freed.
const char *const kBufferizeToParallelLoops =
    "convert-elementwise-to-linalg,"
    "canonicalize,cse,"
    "eliminate-empty-tensors,"
    "zamba2-bufferize,"
    "canonicalize,"
    "zamba2-drop-tied-results,"
    "buffer-deallocation-pipeline,"
    "zamba2-copy-to-linalg,"
    "convert-linalg-to-parallel-loops,";

/// Both pipelines' host code, memrefs and loops to the LLVM dialect (the
/// CUDA pipeline adds gpu-to-llvm before the final cast cleanup).
const char *const kHostToLLVM = "convert-vector-to-scf,"
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
                                "convert-func-to-llvm,";

} // namespace

std::string mlir::zamba2::cpuPipelineUpstreamStages() {
  // The heavy parallel loops go to the runtime's threads; the rest run as
  // plain loops.
  return std::string(kBufferizeToParallelLoops) + "zamba2-plan-workspace," +
         "zamba2-outline-parallel," + kHostToLLVM +
         "reconcile-unrealized-casts";
}

namespace {

/// Both pipelines start alike: the package ABI, the model-level fusions, the
/// lowering to linalg for the target.
void addModelLevelPasses(OpPassManager &pm, int64_t weightAlignment,
                         const FusionOptions &fusion, const char *target) {
  PrepareEntryPointsOptions prepare;
  prepare.alignment = weightAlignment;
  pm.addPass(createPrepareEntryPoints(prepare));
  if (fusion.fuseLoRA)
    pm.addPass(createFuseLoRA());
  if (fusion.fuseRotary)
    pm.addPass(createFuseRotary());
  if (fusion.fuseResidual)
    pm.addPass(createFuseResidual());
  if (fusion.fuseNorm)
    pm.addPass(createFuseNorm());
  if (fusion.fuseConv)
    pm.addPass(createFuseConv());
  if (fusion.fuseScan)
    pm.addPass(createFuseScan());
  LowerToLinalgOptions lower;
  lower.target = target;
  pm.addPass(createLowerToLinalg(lower));
}

void addStages(OpPassManager &pm, const std::string &stages) {
  if (failed(parsePassPipeline(stages, pm, llvm::errs())))
    llvm::report_fatal_error(llvm::Twine("zamba2 pipeline: bad stage list: ") +
                             stages);
}

} // namespace

void mlir::zamba2::buildCpuPipeline(OpPassManager &pm,
                                    const CpuPipelineOptions &options) {
  addModelLevelPasses(pm, options.weightAlignment, options.fusion, "cpu");
  addStages(pm, cpuPipelineUpstreamStages());
  pm.addPass(createParallelDispatch());
  pm.addPass(createEmitEntryWrappers());
}

namespace {

/// The CUDA pipeline up to the outlined kernels, after the front half of the
/// CPU pipeline (bufferization, where the ops with kernels of their own
/// become gpu.launch ops; state in place; deallocation) and
/// zamba2-gpu-merge-launches: device buffers, every other parallel loop a
/// kernel, all of a call's GPU work on one stream.
const char *const kCudaToKernels = "zamba2-plan-workspace,"
                                   "zamba2-allocs-to-gpu,"
                                   "zamba2-parallel-to-gpu,"
                                   "gpu-launch-sink-index-computations,"
                                   "gpu-kernel-outlining,"
                                   "zamba2-merge-gpu-modules,"
                                   "zamba2-gpu-stream,"
                                   "zamba2-expand-shape-to-cast";

/// Device code: gpu.module -> NVVM (LLVM dialect). Everything the host
/// lowering would do to the kernels' vector, scf, affine and memref ops is
/// done here first, so that convert-gpu-to-nvvm leaves no unrealized cast.
const char *const kCudaDevice = "gpu.module(convert-vector-to-scf,"
                                "lower-affine,"
                                "convert-scf-to-cf,"
                                "expand-strided-metadata,"
                                "lower-affine,"
                                "convert-vector-to-llvm,"
                                "convert-nvvm-to-llvm,"
                                "convert-gpu-to-nvvm,"
                                "canonicalize,cse,"
                                "reconcile-unrealized-casts)";

/// Host code: as the CPU pipeline's tail, then the gpu ops become mgpu*
/// runtime calls.
const std::string kCudaHost =
    std::string(kHostToLLVM) + "gpu-to-llvm,reconcile-unrealized-casts";

} // namespace

namespace {

/// Whether the options' chip is sm_`version` or newer.
bool chipAtLeast(const CudaPipelineOptions &options, unsigned version) {
  unsigned sm = 0;
  StringRef chip(options.chip);
  return chip.consume_front("sm_") && !chip.consumeInteger(10, sm) &&
         sm >= version;
}

} // namespace

bool mlir::zamba2::usesDependentLaunch(const CudaPipelineOptions &options) {
  return options.dependentLaunch && chipAtLeast(options, 90);
}

void mlir::zamba2::buildCudaPipeline(OpPassManager &pm,
                                     const CudaPipelineOptions &options) {
  addModelLevelPasses(pm, options.weightAlignment, options.fusion, "cuda");
  if (options.prefetchWeights && usesDependentLaunch(options))
    pm.addPass(createPrefetchWeights());
  if (options.int4Mma && chipAtLeast(options, 80))
    pm.addPass(createGpuInt4Mma());
  addStages(pm, StringRef(kBufferizeToParallelLoops).rtrim(',').str());
  if (options.mergeLaunches)
    pm.addPass(createGpuMergeLaunches());
  addStages(pm, kCudaToKernels);
  if (options.smCount > 0)
    pm.addPass(createGpuRegisterBudget({options.smCount}));
  if (usesDependentLaunch(options))
    pm.addPass(createGpuDependentLaunch(
        {options.earlyTrigger, options.oneRowEarlyTrigger}));
  GpuNVVMAttachTargetOptions target;
  target.chip = options.chip;
  target.features = options.features;
  target.optLevel = options.optLevel;
  pm.addPass(createGpuNVVMAttachTarget(target));
  addStages(pm, kCudaDevice);
  addStages(pm, kCudaHost);
  GpuModuleToBinaryPassOptions binary;
  binary.toolkitPath = options.toolkitPath;
  binary.compilationTarget = options.format;
  pm.addPass(createGpuModuleToBinaryPass(binary));
  pm.addPass(createEmitEntryWrappers());
}

namespace {
struct CpuPipelineCLOptions : public PassPipelineOptions<CpuPipelineCLOptions> {
  Option<int64_t> weightAlignment{
      *this, "weight-alignment",
      llvm::cl::desc("Byte alignment of each weight in the weight buffer"),
      llvm::cl::init(64)};
  Option<bool> fuseLoRA{*this, "fuse-lora",
                        llvm::cl::desc("Run zamba2-fuse-lora (default on)"),
                        llvm::cl::init(true)};
  Option<bool> fuseRotary{*this, "fuse-rotary",
                          llvm::cl::desc("Run zamba2-fuse-rotary (default on)"),
                          llvm::cl::init(true)};
  Option<bool> fuseResidual{
      *this, "fuse-residual",
      llvm::cl::desc("Run zamba2-fuse-residual (default on)"),
      llvm::cl::init(true)};
  Option<bool> fuseNorm{
      *this, "fuse-norm",
      llvm::cl::desc("Run zamba2-fuse-norm (default off: the CPU lowering "
                     "computes the norm first anyway)"),
      llvm::cl::init(false)};
  Option<bool> fuseConv{
      *this, "fuse-conv",
      llvm::cl::desc("Run zamba2-fuse-conv (default off: the CPU lowering "
                     "computes the convolution apart anyway)"),
      llvm::cl::init(false)};
  Option<bool> fuseScan{
      *this, "fuse-scan",
      llvm::cl::desc("Run zamba2-fuse-scan, after zamba2-fuse-conv (default "
                     "off: the CPU lowering inlines it again)"),
      llvm::cl::init(false)};
};

struct CudaPipelineCLOptions
    : public PassPipelineOptions<CudaPipelineCLOptions> {
  Option<int64_t> weightAlignment{
      *this, "weight-alignment",
      llvm::cl::desc("Byte alignment of each weight in the weight buffer"),
      llvm::cl::init(64)};
  Option<std::string> chip{*this, "chip",
                           llvm::cl::desc("GPU to compile for (sm_XX)"),
                           llvm::cl::init("sm_90")};
  Option<std::string> features{*this, "features",
                               llvm::cl::desc("PTX features (e.g. +ptx80)"),
                               llvm::cl::init("+ptx80")};
  Option<unsigned> optLevel{*this, "opt-level",
                            llvm::cl::desc("Device code optimisation level"),
                            llvm::cl::init(3)};
  Option<std::string> format{
      *this, "format",
      llvm::cl::desc("gpu.binary contents: fatbin (cubin + PTX), bin "
                     "(cubin), isa (PTX text) or offload (LLVM IR)"),
      llvm::cl::init("fatbin")};
  Option<std::string> toolkit{
      *this, "toolkit",
      llvm::cl::desc("CUDA toolkit directory (default: MLIR's lookup)"),
      llvm::cl::init("")};
  Option<bool> fuseLoRA{*this, "fuse-lora",
                        llvm::cl::desc("Run zamba2-fuse-lora (default on)"),
                        llvm::cl::init(true)};
  Option<bool> fuseRotary{*this, "fuse-rotary",
                          llvm::cl::desc("Run zamba2-fuse-rotary (default on)"),
                          llvm::cl::init(true)};
  Option<bool> fuseResidual{
      *this, "fuse-residual",
      llvm::cl::desc("Run zamba2-fuse-residual (default on)"),
      llvm::cl::init(true)};
  Option<bool> fuseNorm{
      *this, "fuse-norm",
      llvm::cl::desc("Run zamba2-fuse-norm (default on: measured faster on "
                     "an H100)"),
      llvm::cl::init(true)};
  Option<bool> fuseConv{*this, "fuse-conv",
                        llvm::cl::desc("Run zamba2-fuse-conv (default on)"),
                        llvm::cl::init(true)};
  Option<bool> fuseScan{
      *this, "fuse-scan",
      llvm::cl::desc("Run zamba2-fuse-scan (default off: measured slower on "
                     "an H100)"),
      llvm::cl::init(false)};
  Option<bool> dependentLaunch{
      *this, "dependent-launch",
      llvm::cl::desc("Run zamba2-gpu-dependent-launch (default on; sm_90 "
                     "and newer only)"),
      llvm::cl::init(true)};
  Option<bool> earlyTrigger{
      *this, "early-trigger",
      llvm::cl::desc("zamba2-gpu-dependent-launch's early-trigger (default "
                     "off)"),
      llvm::cl::init(false)};
  Option<bool> oneRowEarlyTrigger{
      *this, "one-row-early-trigger",
      llvm::cl::desc("zamba2-gpu-dependent-launch's one-row-early-trigger "
                     "(default on)"),
      llvm::cl::init(true)};
  Option<bool> prefetchWeights{
      *this, "prefetch-weights",
      llvm::cl::desc("Run zamba2-prefetch-weights (default off: measured "
                     "no faster on an H200; with dependent-launch only)"),
      llvm::cl::init(false)};
  Option<bool> int4Mma{*this, "int4-mma",
                       llvm::cl::desc("Run zamba2-gpu-int4-mma (default on)"),
                       llvm::cl::init(true)};
  Option<bool> mergeLaunches{
      *this, "merge-launches",
      llvm::cl::desc("Run zamba2-gpu-merge-launches (default on)"),
      llvm::cl::init(true)};
  Option<int64_t> smCount{
      *this, "sm-count",
      llvm::cl::desc("zamba2-gpu-register-budget's sm-count (default 132; "
                     "0 or less: no register budget)"),
      llvm::cl::init(132)};
};
} // namespace

void mlir::zamba2::registerZamba2Pipelines() {
  PassPipelineRegistration<CpuPipelineCLOptions>(
      "zamba2-cpu-pipeline",
      "Imported zamba2 module -> LLVM dialect with the package's C entry "
      "points (zamba2-prepare-entry-points, zamba2-fuse-lora, "
      "zamba2-fuse-rotary, zamba2-fuse-residual, zamba2-fuse-norm and "
      "zamba2-fuse-conv and zamba2-fuse-scan if asked, zamba2-lower-to-linalg, "
      "bufferization, "
      "parallel loops, "
      "zamba2-outline-parallel, LLVM, "
      "zamba2-parallel-dispatch, zamba2-emit-entry-wrappers)",
      [](OpPassManager &pm, const CpuPipelineCLOptions &cl) {
        CpuPipelineOptions options;
        options.weightAlignment = cl.weightAlignment;
        options.fusion.fuseLoRA = cl.fuseLoRA;
        options.fusion.fuseRotary = cl.fuseRotary;
        options.fusion.fuseResidual = cl.fuseResidual;
        options.fusion.fuseNorm = cl.fuseNorm;
        options.fusion.fuseConv = cl.fuseConv;
        options.fusion.fuseScan = cl.fuseScan;
        buildCpuPipeline(pm, options);
      });
  PassPipelineRegistration<CudaPipelineCLOptions>(
      "zamba2-cuda-pipeline",
      "Imported zamba2 module -> LLVM dialect host code launching CUDA "
      "kernels (the CPU pipeline's fusions, zamba2-fuse-norm, "
      "zamba2-fuse-conv, zamba2-fuse-scan if asked, "
      "zamba2-lower-to-linalg{target=cuda}, zamba2-prefetch-weights if "
      "asked, zamba2-gpu-int4-mma, the CPU pipeline's "
      "bufferization with the kernels of lowering/GpuKernels, "
      "zamba2-gpu-merge-launches, zamba2-allocs-to-gpu, "
      "zamba2-parallel-to-gpu, zamba2-merge-gpu-modules, "
      "zamba2-gpu-stream, zamba2-gpu-register-budget, "
      "zamba2-gpu-dependent-launch, NVVM, gpu-to-llvm, "
      "gpu-module-to-binary, "
      "zamba2-emit-entry-wrappers)",
      [](OpPassManager &pm, const CudaPipelineCLOptions &cl) {
        CudaPipelineOptions options;
        options.weightAlignment = cl.weightAlignment;
        options.chip = cl.chip;
        options.features = cl.features;
        options.optLevel = cl.optLevel;
        options.format = cl.format;
        options.toolkitPath = cl.toolkit;
        options.fusion.fuseLoRA = cl.fuseLoRA;
        options.fusion.fuseRotary = cl.fuseRotary;
        options.fusion.fuseResidual = cl.fuseResidual;
        options.fusion.fuseNorm = cl.fuseNorm;
        options.fusion.fuseConv = cl.fuseConv;
        options.fusion.fuseScan = cl.fuseScan;
        options.dependentLaunch = cl.dependentLaunch;
        options.earlyTrigger = cl.earlyTrigger;
        options.oneRowEarlyTrigger = cl.oneRowEarlyTrigger;
        options.prefetchWeights = cl.prefetchWeights;
        options.int4Mma = cl.int4Mma;
        options.mergeLaunches = cl.mergeLaunches;
        options.smCount = cl.smCount;
        buildCudaPipeline(pm, options);
      });
}
