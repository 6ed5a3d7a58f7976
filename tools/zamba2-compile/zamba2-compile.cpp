//===- zamba2-compile.cpp - The zamba2c ahead-of-time compiler driver -----===//
//
// zamba2-compile CKPT -o PKG [--target cpu] [--cpu NAME] [--weight-type T]
// zamba2-compile CKPT --emit=zamba2|llvm-dialect|llvm-ir [-o FILE]
//
// Reads a Hugging Face Zamba2 checkpoint directory, validates it, imports it
// into the zamba2 dialect, lowers it with zamba2-cpu-pipeline, generates
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

#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Emit { Package, Zamba2, LLVMDialect, LLVMIR };
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
                   "the imported module in the zamba2 dialect"),
        clEnumValN(Emit::LLVMDialect, "llvm-dialect",
                   "the module after zamba2-cpu-pipeline (LLVM dialect)"),
        clEnumValN(Emit::LLVMIR, "llvm-ir",
                   "optimised LLVM IR for the target CPU")),
    cl::cat(category));
cl::opt<Target> target("target", cl::desc("Code generation target"),
                       cl::init(Target::Cpu),
                       cl::values(clEnumValN(Target::Cpu, "cpu",
                                             "x86-64 CPU (default)"),
                                  clEnumValN(Target::Cuda, "cuda",
                                             "NVIDIA GPU (not implemented "
                                             "yet)")),
                       cl::cat(category));
cl::opt<std::string>
    cpuName("cpu",
            cl::desc("CPU to generate code for: 'native' (this machine's CPU "
                     "and features, the default) or an LLVM CPU name such as "
                     "x86-64-v3 or skylake-avx512"),
            cl::init("native"), cl::value_desc("name"), cl::cat(category));
cl::opt<WeightType> weightType(
    "weight-type", cl::desc("Element type the weights are stored in"),
    cl::init(WeightType::F32),
    cl::values(clEnumValN(WeightType::F32, "f32", "float32 (default)"),
               clEnumValN(WeightType::BF16, "bf16", "bfloat16")),
    cl::cat(category));
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
int writeOutput(const std::function<bool(llvm::raw_ostream &, std::string &)>
                    &print) {
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
      "  zamba2-compile CKPT --emit=zamba2|llvm-dialect|llvm-ir [-o FILE]\n"
      "    prints an intermediate form instead.\n");

  if (target == Target::Cuda)
    return fail("--target cuda: the GPU backend is not implemented yet; "
                "only --target cpu packages can be produced");
  if (emit == Emit::Package && outputPath.empty())
    return fail("-o PKG is required to write a package (or pick --emit)");

  std::string dir = checkpointDir;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();

  int steps = emit == Emit::Package ? 5 : emit == Emit::Zamba2 ? 1 : 3;
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
  // A package also carries the generation ids and the tokenizer: checked
  // here, as part of the input, before any slow step.
  mlir::zamba2::GenerationIds generation;
  bool hasTokenizer = false;
  if (emit == Emit::Package &&
      (!mlir::zamba2::readGenerationIds(cfg, dir, generation, err) ||
       !mlir::zamba2::checkTokenizer(dir, cfg.vocabSize, hasTokenizer, err)))
    return fail(err);
  progress.end(::zamba2::describeCheckpoint(dir, cfg, *ck));
  if (emit == Emit::Zamba2)
    return writeOutput([&](llvm::raw_ostream &os, std::string &) {
      module->print(os);
      return true;
    });

  mlir::zamba2::CpuTarget cpu;
  if (!mlir::zamba2::makeCpuTarget(cpuName, cpu, err))
    return fail(err);

  progress.begin("lowering (zamba2-cpu-pipeline)");
  registerAllPasses();
  mlir::zamba2::registerZamba2Passes();
  PassManager pm(&context);
  mlir::zamba2::buildCpuPipeline(pm, mlir::zamba2::CpuPipelineOptions());
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

  mlir::zamba2::PackageDir pkg(outputPath);
  if (!pkg.create(err))
    return fail(err);
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
      cfg, dir, cpu, tables, generation, hasTokenizer, err);
  if (manifest.empty() || !pkg.writeText("manifest.json", manifest, err) ||
      !pkg.commit(err)) {
    progress.abandon();
    return fail(err);
  }
  progress.end(llvm::formatv("{0} weights, {1:f1} MB", tables.weights.size(),
                             tables.weightsBytes / 1e6)
                   .str());
  if (!quiet)
    llvm::errs() << "zamba2-compile: wrote " << outputPath << " (" << cpu.cpu
                 << ", " << tables.states.size() << " state tensors)\n";
  return 0;
}
