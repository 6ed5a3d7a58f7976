//===- zamba2-compile.cpp - The zamba2c ahead-of-time compiler driver -----===//
//
// zamba2-compile CKPT --emit=zamba2 [-o FILE]
//
// Reads a Hugging Face Zamba2 checkpoint directory, validates it, and imports
// it into the zamba2 dialect. Errors are one line on stderr and a non-zero
// exit; an output file is written only when everything succeeded.
//
//===----------------------------------------------------------------------===//
#include "frontend/Importer.h"
#include "runtime/format/ModelConfig.h"
#include "runtime/format/Safetensors.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Support/FileUtilities.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

enum class Emit { Zamba2 };
enum class WeightType { F32, BF16 };

cl::OptionCategory category("zamba2-compile options");
cl::opt<std::string> checkpointDir(cl::Positional, cl::Required,
                                   cl::desc("<checkpoint dir>"),
                                   cl::cat(category));
cl::opt<std::string> outputFile("o", cl::desc("Output file ('-' = stdout)"),
                                cl::value_desc("file"), cl::init("-"),
                                cl::cat(category));
cl::opt<Emit>
    emit("emit", cl::desc("What to produce"), cl::Required,
         cl::values(clEnumValN(Emit::Zamba2, "zamba2",
                               "the imported module in the zamba2 dialect")),
         cl::cat(category));
cl::opt<WeightType> weightType(
    "weight-type", cl::desc("Element type the weights are stored in"),
    cl::init(WeightType::F32),
    cl::values(clEnumValN(WeightType::F32, "f32", "float32 (default)"),
               clEnumValN(WeightType::BF16, "bf16", "bfloat16")),
    cl::cat(category));
cl::opt<bool> quiet("quiet", cl::desc("No summary line on stderr"),
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

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "zamba2c: ahead-of-time compiler for Zamba2 checkpoints\n\n"
      "  zamba2-compile CKPT --emit=zamba2 [-o FILE]\n"
      "    imports a Hugging Face checkpoint directory (config.json and\n"
      "    model.safetensors or a sharded index) and prints it in the zamba2\n"
      "    dialect. No tensor data is read at import.\n");

  std::string dir = checkpointDir;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();

  auto start = std::chrono::steady_clock::now();
  std::string err;
  ::zamba2::ModelConfig cfg;
  std::unique_ptr<::zamba2::Checkpoint> ck =
      ::zamba2::openValidatedCheckpoint(dir, cfg, err);
  if (!ck)
    return fail(err);
  double loadMs = millisecondsSince(start);

  MLIRContext context;
  mlir::zamba2::ImportOptions options;
  if (weightType == WeightType::BF16)
    options.weightElementType = BFloat16Type::get(&context);
  auto importStart = std::chrono::steady_clock::now();
  ::zamba2::HasTensorFn hasTensor = [&](const std::string &name) {
    return ck->has(name);
  };
  OwningOpRef<ModuleOp> module =
      mlir::zamba2::importModel(context, cfg, hasTensor, options);
  double importMs = millisecondsSince(importStart);
  if (failed(verify(*module)))
    return fail("internal error: the imported module does not verify");

  std::string openError;
  auto output = openOutputFile(outputFile, &openError);
  if (!output)
    return fail(outputFile + ": " + openError);
  module->print(output->os());
  output->os().flush();
  if (output->os().has_error())
    return fail(outputFile + ": write failed");
  output->keep();

  if (!quiet)
    llvm::errs() << "zamba2-compile: "
                 << ::zamba2::describeCheckpoint(dir, cfg, *ck)
                 << "; config+header validation "
                 << llvm::format("%.2f", loadMs) << " ms, import "
                 << llvm::format("%.2f", importMs) << " ms\n";
  return 0;
}
