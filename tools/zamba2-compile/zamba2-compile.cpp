//===- zamba2-compile.cpp - The zamba2c ahead-of-time compiler driver -----===//
//
// zamba2-compile CKPT -o PKG [--target cpu] [--cpu NAME] [--weight-type T]
//                [--quantize int4|int8 [--quant-group-size N] ...]
// zamba2-compile CKPT -o PKG --target cuda [--gpu sm_XX] [--cpu NAME] ...
// zamba2-compile CKPT --emit=zamba2|llvm-dialect|llvm-ir|ptx [-o FILE]
//
// Reads a Hugging Face Zamba2 checkpoint directory, validates it, imports it
// into the zamba2 dialect (quantizing the linears' weights with
// zamba2-quantize when asked), lowers it with zamba2-cpu-pipeline (or
// zamba2-cuda-pipeline: host code plus an embedded GPU binary), generates
// object code with LLVM, links model.so and writes the package (manifest,
// library, weights; docs/PACKAGE.md). Errors are one line on stderr and a
// non-zero exit; outputs appear only when complete.
//
//===----------------------------------------------------------------------===//
#include "PackageWriter.h"
#include "codegen/CpuCodegen.h"
#include "frontend/Importer.h"
#include "lowering/Pipelines.h"
#include "passes/Passes.h"
#include "runtime/format/ModelConfig.h"
#include "runtime/format/Safetensors.h"
#include "runtime/pack/WeightPack.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Emit { Package, Zamba2, LLVMDialect, LLVMIR, PTX };
enum class Target { Cpu, Cuda };
enum class WeightType { F32, BF16 };

cl::OptionCategory category("zamba2-compile options");
cl::opt<std::string> checkpointDir(cl::Positional, cl::Required,
                                   cl::desc("<checkpoint dir>"),
                                   cl::cat(category));
cl::opt<std::string>
    outputPath("o",
               cl::desc("Output: the package directory (--emit=package, "
                        "required), else a file ('-' = stdout, the default)"),
               cl::value_desc("path"), cl::cat(category));
cl::opt<Emit> emit(
    "emit", cl::desc("What to produce"), cl::init(Emit::Package),
    cl::values(
        clEnumValN(Emit::Package, "package",
                   "a package directory: manifest.json, model.so, weights.bin "
                   "(default)"),
        clEnumValN(Emit::Zamba2, "zamba2",
                   "the imported module in the zamba2 dialect (after "
                   "--quantize)"),
        clEnumValN(Emit::LLVMDialect, "llvm-dialect",
                   "the module after zamba2-cpu-pipeline (LLVM dialect)"),
        clEnumValN(Emit::LLVMIR, "llvm-ir",
                   "optimised LLVM IR for the target CPU (the host code for "
                   "--target cuda)"),
        clEnumValN(Emit::PTX, "ptx",
                   "the kernels' PTX (--target cuda; needs no ptxas)")),
    cl::cat(category));
cl::opt<Target>
    target("target", cl::desc("Code generation target"), cl::init(Target::Cpu),
           cl::values(clEnumValN(Target::Cpu, "cpu", "x86-64 CPU (default)"),
                      clEnumValN(Target::Cuda, "cuda",
                                 "NVIDIA GPU (kernels for --gpu, "
                                 "host code for --cpu)")),
           cl::cat(category));
cl::opt<std::string>
    cpuName("cpu",
            cl::desc("CPU to generate code for: 'native' (this machine's CPU "
                     "and features, the default) or an LLVM CPU name such as "
                     "x86-64-v3 or skylake-avx512; with --target cuda, the "
                     "host CPU of model.so (default x86-64-v3)"),
            cl::init("native"), cl::value_desc("name"), cl::cat(category));
cl::opt<std::string>
    gpuName("gpu",
            cl::desc("--target cuda: the GPU to compile the kernels for "
                     "(default sm_90); the package also carries their PTX "
                     "for newer GPUs"),
            cl::init("sm_90"), cl::value_desc("sm_XX"), cl::cat(category));
enum class GpuBinary { Fatbin, Ptx };
cl::opt<GpuBinary> gpuBinary(
    "gpu-binary",
    cl::desc("--target cuda: what model.so carries of the kernels"),
    cl::init(GpuBinary::Fatbin),
    cl::values(clEnumValN(GpuBinary::Fatbin, "fatbin",
                          "cubin for --gpu plus PTX (default; needs ptxas)"),
               clEnumValN(GpuBinary::Ptx, "ptx",
                          "PTX only, compiled by the driver when the package "
                          "loads; needs no ptxas, and is what the CUDA "
                          "simulator (libzamba2_cudasim.so) runs")),
    cl::cat(category));
cl::opt<std::string> cudaPath(
    "cuda-path",
    cl::desc("--target cuda: CUDA toolkit directory (ptxas, fatbinary, "
             "libdevice); default $CUDA_HOME, $CUDA_ROOT or $CUDA_PATH, else "
             "/usr/local/cuda"),
    cl::value_desc("dir"), cl::cat(category));
cl::opt<WeightType> weightType(
    "weight-type",
    cl::desc("Element type the weights are stored in (default f32; bf16 for "
             "--target cuda)"),
    cl::init(WeightType::F32),
    cl::values(clEnumValN(WeightType::F32, "f32", "float32"),
               clEnumValN(WeightType::BF16, "bf16", "bfloat16")),
    cl::cat(category));
cl::opt<bool> fuseLoRA("fuse-lora",
                       cl::desc("Fuse each linear with its LoRA adapter "
                                "(zamba2-fuse-lora; default on, "
                                "--fuse-lora=false for A/B runs)"),
                       cl::init(true), cl::cat(category));
cl::opt<bool> fuseRotary("fuse-rotary",
                         cl::desc("Fold the rotary embedding into attention "
                                  "(zamba2-fuse-rotary; default on)"),
                         cl::init(true), cl::cat(category));
cl::opt<bool> fuseResidual(
    "fuse-residual",
    cl::desc("Add the residual stream inside the linear that produces the "
             "sum (zamba2-fuse-residual; default on)"),
    cl::init(true), cl::cat(category));
cl::opt<cl::boolOrDefault> fuseNorm(
    "fuse-norm",
    cl::desc("Fold each rms_norm / gated_rms_norm into the linear that reads "
             "it, whose CUDA kernel then normalises its row itself; a gated "
             "norm's gate moves into the Mamba scan before it "
             "(zamba2-fuse-norm; default on for --target cuda, measured "
             "faster on an H100 in bf16 and int4; off for the CPU, whose "
             "lowering computes the norm first anyway)"),
    cl::cat(category));
cl::opt<cl::boolOrDefault> fuseConv(
    "fuse-conv",
    cl::desc("Fold each Mamba layer's convolution of a decode step into its "
             "in_proj linear, whose CUDA kernel then convolves the channels "
             "it computes: one kernel per Mamba layer and step fewer "
             "(zamba2-fuse-conv; default on for --target cuda, off for the "
             "CPU, whose lowering computes the convolution apart anyway; the "
             "numbers are the same)"),
    cl::cat(category));
cl::opt<bool> fuseScan(
    "fuse-scan",
    cl::desc("Group each Mamba layer's in_proj and scan of a decode step, "
             "which a CUDA package runs at batch 1 as one kernel for int4 "
             "and int8 weights: the blocks that compute b, c and dt signal "
             "the others, which then scan the rows whose x and z they "
             "computed (zamba2-fuse-scan; needs --fuse-conv; default off: "
             "measured slower on an H100; the CPU lowering inlines it again; "
             "the numbers are the same with --int4-mma=false; with the "
             "tensor cores they differ by f32 rounding, since the folded "
             "in_proj does not use them)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> prefetchWeights(
    "prefetch-weights",
    cl::desc("--target cuda, sm_90 or newer: each linear kernel asks L2 for "
             "its weight rows before it waits for the kernel before it, so "
             "that their DRAM latency overlaps that kernel's end "
             "(zamba2-prefetch-weights; default off: measured no faster on an "
             "H200, where the kernels load their first weights before that "
             "wait anyway; the numbers are the same)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> earlyTrigger(
    "early-trigger",
    cl::desc("--target cuda, sm_90 or newer: each kernel lets the next one "
             "be scheduled as soon as it starts rather than after its wait "
             "for the kernel before it, so that several kernels down the "
             "stream load their weights while the first of them runs "
             "(zamba2-gpu-dependent-launch's early-trigger; default off; the "
             "numbers are the same)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> oneRowEarlyTrigger(
    "one-row-early-trigger",
    cl::desc("--target cuda, sm_90 or newer: the one-row GEMVs (decode at "
             "batch 1) let the next kernel be scheduled as soon as they "
             "start, as --early-trigger does for every kernel "
             "(zamba2-gpu-dependent-launch's one-row-early-trigger; default "
             "on, --one-row-early-trigger=false for A/B runs; the numbers are "
             "the same)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> mergeLaunches(
    "merge-launches",
    cl::desc("--target cuda: kernels that do not depend on each other and "
             "have the same block size run as one launch, each block the "
             "body of one of them (zamba2-gpu-merge-launches: the q, k and "
             "v projections of the shared attention block, and their LoRA "
             "adapters' x A^T; default on, --merge-launches=false for A/B "
             "runs; the numbers are the same)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> int4Mma(
    "int4-mma",
    cl::desc("--target cuda, sm_80 or newer: the one-row GEMVs (decode at "
             "batch 1) of symmetric int4 weights in groups of a multiple of "
             "64, with rows of a multiple of 256 weights up to 2048 and at "
             "least 1024 channels (the Mamba in_proj, the hybrid linear, the "
             "MLP's gate_up with its LoRA adapter) multiply on the integer "
             "tensor cores, with x split in exact 8-bit digits "
             "(zamba2-gpu-int4-mma; default on, "
             "--int4-mma=false for A/B runs; the sums differ from the other "
             "kernels' by f32 rounding)"),
    cl::init(true), cl::cat(category));
cl::opt<int64_t> gpuSmCount(
    "gpu-sm-count",
    cl::desc("--target cuda: the SMs of the GPU the package is for (default "
             "132: an H100 SXM or H200); a one-row GEMV of float weights "
             "(decode at batch 1) whose grid would run in more waves of "
             "blocks on them than it needs gets a register cap of 64 to 80 "
             "(zamba2-gpu-register-budget, which counts sm_90's registers "
             "and threads an SM); 0: none. A package runs on any GPU of its "
             "--gpu; the numbers are the same"),
    cl::init(132), cl::cat(category));
enum class Quantize { None, Int4, Int8 };
enum class QuantScheme { Sym, Asym };
enum class ScaleType { F16, F32 };
cl::opt<Quantize> quantize(
    "quantize",
    cl::desc("Weight-only integer quantization of the linears' weights "
             "(zamba2-quantize; docs/PACKAGE.md). Default none: quantization "
             "changes the numerics. int4 and int8: 4 or 8 bits per weight, "
             "one scale per group of 64 consecutive weights of a row, "
             "symmetric (w = s q), f16 scales; the --quant-* flags change "
             "these. Quantized: the Mamba mixers', shared block's and hybrid "
             "layers' linears and the LoRA adapters; a weight whose input "
             "width is not a multiple of the group size stays unquantized "
             "(a warning names it)"),
    cl::init(Quantize::None),
    cl::values(clEnumValN(Quantize::None, "none", "no quantization (default)"),
               clEnumValN(Quantize::Int4, "int4",
                          "4 bits, group 64, symmetric, f16 scales"),
               clEnumValN(Quantize::Int8, "int8",
                          "8 bits, group 64, symmetric, f16 scales")),
    cl::cat(category));
cl::opt<int> quantGroupSize(
    "quant-group-size",
    cl::desc("--quantize: consecutive weights of a row that share one scale "
             "(default 64; e.g. 32, 64, 128)"),
    cl::init(64), cl::value_desc("n"), cl::cat(category));
cl::opt<QuantScheme> quantScheme(
    "quant-scheme", cl::desc("--quantize: the integer mapping"),
    cl::init(QuantScheme::Sym),
    cl::values(clEnumValN(QuantScheme::Sym, "sym",
                          "symmetric: w = s q, q signed (default)"),
               clEnumValN(QuantScheme::Asym, "asym",
                          "asymmetric: w = s (q - z), q and z unsigned, one "
                          "zero point per group")),
    cl::cat(category));
cl::opt<ScaleType> quantScaleType(
    "quant-scale-type", cl::desc("--quantize: element type of the scales"),
    cl::init(ScaleType::F16),
    cl::values(clEnumValN(ScaleType::F16, "f16", "half (default)"),
               clEnumValN(ScaleType::F32, "f32", "float")),
    cl::cat(category));
cl::opt<bool> quantizeAdapters(
    "quantize-adapters",
    cl::desc("--quantize: quantize the LoRA adapters' A and B too (default "
             "on; --quantize-adapters=false keeps them float)"),
    cl::init(true), cl::cat(category));
cl::opt<bool> quantizeLmHead(
    "quantize-lm-head",
    cl::desc("--quantize: quantize the lm_head too (default off; with tied "
             "embeddings the package then stores the table twice: float for "
             "the lookup, quantized for the logits)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> quantizeEmbeddings(
    "quantize-embeddings",
    cl::desc("--quantize: quantize the embedding table (not supported yet: "
             "the embedding lookup reads a float table; an error)"),
    cl::init(false), cl::cat(category));
cl::opt<bool> quiet("quiet", cl::desc("No progress or summary lines on stderr"),
                    cl::cat(category));

int fail(const std::string &message) {
  std::string line = message;
  for (char &c : line)
    if (c == '\n' || c == '\r')
      c = ' ';
  llvm::errs() << "zamba2-compile: error: " << line << "\n";
  return 1;
}

/// Checks the --quant-* flags; the options of zamba2-quantize they give.
bool quantizeOptions(mlir::zamba2::QuantizeOptions &out, std::string &err) {
  if (quantize == Quantize::None) {
    for (const cl::Option *o : std::initializer_list<const cl::Option *>{
             &quantGroupSize, &quantScheme, &quantScaleType, &quantizeAdapters,
             &quantizeLmHead, &quantizeEmbeddings})
      if (o->getNumOccurrences()) {
        err = "--" + o->ArgStr.str() + " needs --quantize int4 or int8";
        return false;
      }
    return true;
  }
  if (quantizeEmbeddings) {
    err = "--quantize-embeddings: not supported yet: the embedding lookup "
          "(zamba2.embed) reads a float table";
    return false;
  }
  if (quantGroupSize < 1) {
    err = "--quant-group-size: expected a positive integer, got " +
          std::to_string(quantGroupSize);
    return false;
  }
  out.bits = quantize == Quantize::Int4 ? 4 : 8;
  out.groupSize = quantGroupSize;
  out.scheme = quantScheme == QuantScheme::Sym ? "symmetric" : "asymmetric";
  out.scaleType = quantScaleType == ScaleType::F16 ? "f16" : "f32";
  out.quantizeAdapters = quantizeAdapters;
  out.quantizeLmHead = quantizeLmHead;
  return true;
}

/// "int4 g64 symmetric f16" for the summary line.
std::string describeQuantization(const mlir::zamba2::QuantizeOptions &q) {
  return llvm::formatv("int{0} g{1} {2} {3} scales", q.bits, q.groupSize,
                       q.scheme, q.scaleType)
      .str();
}

/// Runs zamba2-quantize on the imported module. Its warnings (weights left
/// unquantized) go to stderr unless --quiet.
bool runQuantize(ModuleOp module, const mlir::zamba2::QuantizeOptions &q,
                 std::string &err) {
  PassManager pm(module.getContext());
  pm.addPass(mlir::zamba2::createQuantize(q));
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &diag) {
    if (diag.getSeverity() == DiagnosticSeverity::Error && err.empty())
      err = diag.str();
    else if (diag.getSeverity() == DiagnosticSeverity::Warning && !quiet)
      llvm::errs() << "zamba2-compile: warning: " << diag.str() << "\n";
    return success();
  });
  if (failed(pm.run(module))) {
    if (err.empty())
      err = "zamba2-quantize failed";
    return false;
  }
  return true;
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// "[2/5] lowering ... 0.41 s" lines on stderr for the slow steps.
class Progress {
public:
  explicit Progress(int steps) : steps(steps) {}
  /// Starts a step. A slow step is announced at once ("... " and the time
  /// follow on the same line when it ends); a quick one prints its line only
  /// when it succeeds, so that bad input gives exactly one (error) line.
  void begin(const std::string &what, bool slow = true) {
    start = std::chrono::steady_clock::now();
    label = "[" + std::to_string(++step) + "/" + std::to_string(steps) + "] " +
            what;
    announced = slow && !quiet;
    if (announced)
      llvm::errs() << label << " ...";
  }
  void end(const std::string &detail = "") {
    if (quiet)
      return;
    if (!announced)
      llvm::errs() << label << ":";
    llvm::errs() << " " << llvm::format("%.2f", millisecondsSince(start) / 1e3)
                 << " s" << (detail.empty() ? "" : ", " + detail) << "\n";
    announced = false;
  }
  void abandon() {
    if (announced)
      llvm::errs() << "\n";
    announced = false;
  }

private:
  int steps, step = 0;
  bool announced = false;
  std::string label;
  std::chrono::steady_clock::time_point start;
};

/// Writes `print` to -o (default stdout) only if it all succeeded.
int writeOutput(
    const std::function<bool(llvm::raw_ostream &, std::string &)> &print) {
  std::string path = outputPath.empty() ? "-" : std::string(outputPath);
  std::string openError;
  auto output = openOutputFile(path, &openError);
  if (!output)
    return fail(path + ": " + openError);
  std::string err;
  if (!print(output->os(), err))
    return fail(err);
  output->os().flush();
  if (output->os().has_error())
    return fail(path + ": write failed");
  output->keep();
  return 0;
}

/// The PTX ISA version the kernels for `chip` are written in: PTX 8.0 (CUDA
/// 12.0) covers sm_90; newer GPUs need newer PTX.
std::string ptxFeaturesFor(const std::string &chip) {
  unsigned sm = 0;
  llvm::StringRef(chip).drop_front(3).consumeInteger(10, sm);
  if (sm >= 120)
    return "+ptx87";
  if (sm >= 100)
    return "+ptx86";
  return "+ptx80";
}

/// --cuda-path, else the environment's CUDA toolkit, else /usr/local/cuda.
std::string cudaToolkitDir() {
  if (!cudaPath.empty())
    return cudaPath;
  for (const char *var : {"CUDA_HOME", "CUDA_ROOT", "CUDA_PATH"})
    if (std::optional<std::string> dir = llvm::sys::Process::GetEnv(var))
      if (!dir->empty())
        return *dir;
  return "/usr/local/cuda";
}

/// The PTX of the first object of the module's gpu.binary (format "isa").
bool takePtx(ModuleOp module, std::string &ptx, std::string &err) {
  for (auto binary : module.getOps<gpu::BinaryOp>())
    for (Attribute a : binary.getObjects())
      if (auto object = dyn_cast<gpu::ObjectAttr>(a)) {
        ptx = object.getObject().str();
        return true;
      }
  err = "internal error: the CUDA pipeline produced no GPU binary";
  return false;
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "zamba2c: ahead-of-time compiler for Zamba2 checkpoints\n\n"
      "  zamba2-compile CKPT -o PKG [--cpu NAME] [--weight-type f32|bf16]\n"
      "    compiles a Hugging Face checkpoint directory (config.json and\n"
      "    model.safetensors or a sharded index) into a package directory\n"
      "    (manifest.json, model.so, weights.bin) that zamba2-run executes.\n"
      "  zamba2-compile CKPT -o PKG --target cuda [--gpu sm_XX] [--cpu NAME]\n"
      "    the same for an NVIDIA GPU (bf16 weights by default).\n"
      "  zamba2-compile CKPT -o PKG --quantize int4|int8 [--quant-...]\n"
      "    stores the linears' weights as integers with group scales\n"
      "    (default none; int4 = 4 bits, group 64, symmetric, f16 scales).\n"
      "  zamba2-compile CKPT --emit=zamba2|llvm-dialect|llvm-ir|ptx [-o FILE]\n"
      "    prints an intermediate form instead.\n");

  bool cuda = target == Target::Cuda;
  if (cuda) {
    if (cpuName.getNumOccurrences() == 0)
      cpuName = "x86-64-v3"; // the GPU host is another machine
    if (weightType.getNumOccurrences() == 0)
      weightType = WeightType::BF16;
    if (!llvm::Regex("^sm_[0-9]+[af]?$").match(gpuName))
      return fail("--gpu: expected a CUDA GPU name such as sm_90, got '" +
                  gpuName + "'");
    mlir::zamba2::CudaPipelineOptions chip;
    chip.chip = gpuName;
    if (prefetchWeights && !mlir::zamba2::usesDependentLaunch(chip))
      return fail("--prefetch-weights needs sm_90 or newer (its bulk "
                  "prefetch, and a dependent launch to overlap), not " +
                  gpuName);
    // The kernels call libdevice (rsqrtf, expf, pow, ...). Without it
    // MLIR's NVVM target leaves those calls unresolved, and the PTX fails
    // to load on a GPU: refuse here instead.
    std::string libdevice =
        cudaToolkitDir() + "/nvvm/libdevice/libdevice.10.bc";
    if ((emit == Emit::Package || emit == Emit::PTX) &&
        !llvm::sys::fs::exists(libdevice))
      return fail("--target cuda: the CUDA toolkit's libdevice is not at " +
                  libdevice +
                  " (the kernels' math functions): give the toolkit with "
                  "--cuda-path or $CUDA_HOME");
  } else if (emit == Emit::PTX) {
    return fail("--emit=ptx needs --target cuda");
  } else if (gpuBinary.getNumOccurrences()) {
    return fail("--gpu-binary needs --target cuda");
  } else if (prefetchWeights) {
    return fail("--prefetch-weights needs --target cuda");
  } else if (earlyTrigger) {
    return fail("--early-trigger needs --target cuda");
  } else if (oneRowEarlyTrigger.getNumOccurrences()) {
    return fail("--one-row-early-trigger needs --target cuda");
  } else if (int4Mma.getNumOccurrences()) {
    return fail("--int4-mma needs --target cuda");
  } else if (mergeLaunches.getNumOccurrences()) {
    return fail("--merge-launches needs --target cuda");
  } else if (gpuSmCount.getNumOccurrences()) {
    return fail("--gpu-sm-count needs --target cuda");
  }
  if (gpuSmCount < 0 || gpuSmCount > mlir::zamba2::kMaxSmCount)
    return fail("--gpu-sm-count: expected 0 (no register budget) or the "
                "GPU's SM count (at most " +
                std::to_string(mlir::zamba2::kMaxSmCount) + "), got " +
                std::to_string(gpuSmCount));
  if (emit == Emit::Package && outputPath.empty())
    return fail("-o PKG is required to write a package (or pick --emit)");
  mlir::zamba2::QuantizeOptions quantization;
  {
    std::string quantError;
    if (!quantizeOptions(quantization, quantError))
      return fail(quantError);
  }

  std::string dir = checkpointDir;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();

  int steps = emit == Emit::Package  ? 5
              : emit == Emit::Zamba2 ? 1
              : emit == Emit::PTX    ? 2
                                     : 3;
  Progress progress(steps);
  std::string err;
  progress.begin("imported", /*slow=*/false);
  ::zamba2::ModelConfig cfg;
  std::unique_ptr<::zamba2::Checkpoint> ck =
      ::zamba2::openValidatedCheckpoint(dir, cfg, err);
  if (!ck) {
    progress.abandon();
    return fail(err);
  }

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  if (cuda) // GPU modules serialize through LLVM IR; gpu.binary translates.
    registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);
  mlir::zamba2::ImportOptions options;
  if (weightType == WeightType::BF16)
    options.weightElementType = BFloat16Type::get(&context);
  ::zamba2::HasTensorFn hasTensor = [&](const std::string &name) {
    return ck->has(name);
  };
  OwningOpRef<ModuleOp> module =
      mlir::zamba2::importModel(context, cfg, hasTensor, options);
  if (failed(verify(*module))) {
    progress.abandon();
    return fail("internal error: the imported module does not verify");
  }
  if (quantize != Quantize::None && !runQuantize(*module, quantization, err)) {
    progress.abandon();
    return fail(err);
  }
  // A package also carries the generation ids and the tokenizer: checked
  // here, as part of the input, before any slow step.
  mlir::zamba2::GenerationIds generation;
  bool hasTokenizer = false;
  if (emit == Emit::Package &&
      (!mlir::zamba2::readGenerationIds(cfg, dir, generation, err) ||
       !mlir::zamba2::checkTokenizer(dir, cfg.vocabSize, hasTokenizer, err)))
    return fail(err);
  // The destination is checked (and its temporary directory made) before
  // the slow steps, so a bad -o fails in a second, not after codegen.
  mlir::zamba2::PackageDir pkg(emit == Emit::Package ? std::string(outputPath)
                                                     : std::string());
  if (emit == Emit::Package && !pkg.create(err))
    return fail(err);
  progress.end(::zamba2::describeCheckpoint(dir, cfg, *ck) +
               (quantize == Quantize::None
                    ? std::string()
                    : ", quantized " + describeQuantization(quantization)));
  if (emit == Emit::Zamba2)
    return writeOutput([&](llvm::raw_ostream &os, std::string &) {
      module->print(os);
      return true;
    });

  mlir::zamba2::CpuTarget cpu;
  if (!mlir::zamba2::makeCpuTarget(cpuName, cpu, err))
    return fail(err);

  progress.begin(cuda ? "lowering (zamba2-cuda-pipeline, " + gpuName + ")"
                      : "lowering (zamba2-cpu-pipeline)");
  registerAllPasses();
  mlir::zamba2::registerZamba2Passes();
  PassManager pm(&context);
  mlir::zamba2::FusionOptions fusion;
  fusion.fuseLoRA = fuseLoRA;
  fusion.fuseRotary = fuseRotary;
  fusion.fuseResidual = fuseResidual;
  fusion.fuseNorm = fuseNorm == cl::BOU_UNSET ? cuda : fuseNorm == cl::BOU_TRUE;
  fusion.fuseConv = fuseConv == cl::BOU_UNSET ? cuda : fuseConv == cl::BOU_TRUE;
  fusion.fuseScan = fuseScan;
  if (fuseScan && !fusion.fuseConv)
    return fail("--fuse-scan needs --fuse-conv (on by default for --target "
                "cuda): it groups the in_proj that convolves its output");
  bool dependentLaunch = false;
  if (cuda) {
    mlir::zamba2::CudaPipelineOptions gpu;
    gpu.fusion = fusion;
    gpu.chip = gpuName;
    gpu.features = ptxFeaturesFor(gpuName);
    gpu.toolkitPath = cudaToolkitDir();
    gpu.format =
        emit == Emit::PTX || gpuBinary == GpuBinary::Ptx ? "isa" : "fatbin";
    gpu.prefetchWeights = prefetchWeights;
    gpu.mergeLaunches = mergeLaunches;
    gpu.int4Mma = int4Mma;
    gpu.earlyTrigger = earlyTrigger;
    gpu.oneRowEarlyTrigger = oneRowEarlyTrigger;
    gpu.smCount = gpuSmCount;
    dependentLaunch = mlir::zamba2::usesDependentLaunch(gpu);
    mlir::zamba2::buildCudaPipeline(pm, gpu);
  } else {
    mlir::zamba2::CpuPipelineOptions options;
    options.fusion = fusion;
    mlir::zamba2::buildCpuPipeline(pm, options);
  }
  {
    // Diagnostics of a failing pass: one line each on stderr.
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      if (diag.getSeverity() == DiagnosticSeverity::Error && err.empty())
        err = "lowering failed: " + diag.str();
      return success();
    });
    if (failed(pm.run(*module))) {
      progress.abandon();
      return fail(err.empty() ? "lowering failed" : err);
    }
  }
  mlir::zamba2::ModuleTables tables;
  if (!mlir::zamba2::takeModuleTables(*module, tables, err))
    return fail(err);
  progress.end();
  if (emit == Emit::PTX) {
    std::string ptx;
    if (!takePtx(*module, ptx, err))
      return fail(err);
    return writeOutput([&](llvm::raw_ostream &os, std::string &) {
      os << ptx;
      return true;
    });
  }
  if (emit == Emit::LLVMDialect)
    return writeOutput([&](llvm::raw_ostream &os, std::string &) {
      module->print(os);
      return true;
    });
  if (emit == Emit::LLVMIR) {
    progress.begin("generating LLVM IR for " + cpu.cpu);
    int rc = writeOutput([&](llvm::raw_ostream &os, std::string &e) {
      return mlir::zamba2::emitCpuLLVMIR(*module, cpu, os, e);
    });
    progress.end();
    return rc;
  }

  progress.begin("generating code for " + cpu.cpu);
  if (!mlir::zamba2::emitCpuObject(*module, cpu, pkg.file("model.o"), err)) {
    progress.abandon();
    return fail(err);
  }
  progress.end();
  progress.begin("linking model.so");
  if (!mlir::zamba2::linkSharedLibrary(pkg.file("model.o"),
                                       pkg.file("model.so"), err)) {
    progress.abandon();
    return fail(err);
  }
  llvm::sys::fs::remove(pkg.file("model.o"));
  progress.end();

  progress.begin("writing weights.bin");
  if (!::zamba2::packWeights(*ck, tables.weights, tables.weightsBytes,
                             pkg.file("weights.bin"), nullptr, err)) {
    progress.abandon();
    return fail(err);
  }
  if (hasTokenizer &&
      !pkg.copyIn(dir + "/tokenizer.json", "tokenizer.json", err)) {
    progress.abandon();
    return fail(err);
  }
  std::string manifest = mlir::zamba2::buildManifest(
      cfg, dir, cpu, tables, generation, hasTokenizer, err,
      cuda ? std::string(gpuName) : std::string(), dependentLaunch);
  if (manifest.empty() || !pkg.writeText("manifest.json", manifest, err) ||
      !pkg.commit(err)) {
    progress.abandon();
    return fail(err);
  }
  progress.end(llvm::formatv("{0} weights, {1:f1} MB", tables.weights.size(),
                             tables.weightsBytes / 1e6)
                   .str());
  if (!quiet)
    llvm::errs() << "zamba2-compile: wrote " << outputPath << " ("
                 << (cuda ? "cuda " + gpuName + ", host " : std::string())
                 << cpu.cpu << ", " << tables.states.size()
                 << " state tensors)\n";
  return 0;
}
