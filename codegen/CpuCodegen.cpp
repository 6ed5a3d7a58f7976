//===- CpuCodegen.cpp - LLVM dialect -> object code -> shared library -----===//
#include "codegen/CpuCodegen.h"

#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/Triple.h"

using namespace mlir;
using namespace mlir::zamba2;

const std::vector<std::string> &mlir::zamba2::checkableCpuFeatures() {
  static const std::vector<std::string> names = {
      "sse4.1",     "sse4.2",    "popcnt",   "avx",      "avx2",
      "fma",        "f16c",      "bmi",      "bmi2",     "avx512f",
      "avx512bw",   "avx512dq",  "avx512vl", "avx512cd", "avx512bf16",
      "avx512vnni", "avx512fp16"};
  return names;
}

bool mlir::zamba2::makeCpuTarget(const std::string &cpuName, CpuTarget &out,
                                 std::string &err) {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  out.triple = "x86_64-pc-linux-gnu";
  llvm::Triple triple(out.triple);
  std::string lookupError;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, lookupError);
  if (!target) {
    err = "x86-64 code generation is not available: " + lookupError;
    return false;
  }
  bool host = cpuName.empty() || cpuName == "native";
  out.cpu = host ? llvm::sys::getHostCPUName().str() : cpuName;
  out.features.clear();
  if (host) {
    for (const auto &feature : llvm::sys::getHostCPUFeatures()) {
      if (!out.features.empty())
        out.features += ",";
      out.features += (feature.second ? "+" : "-") + feature.first().str();
    }
  }
  std::unique_ptr<llvm::MCSubtargetInfo> probe(
      target->createMCSubtargetInfo(triple, "generic", ""));
  if (!host && !probe->isCPUStringValid(out.cpu)) {
    err = "unknown CPU '" + out.cpu +
          "' (an LLVM x86 CPU name such as x86-64-v3, skylake-avx512, "
          "znver4, or 'native')";
    return false;
  }
  llvm::TargetOptions options;
  out.machine.reset(target->createTargetMachine(
      triple, out.cpu, out.features, options, llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  if (!out.machine) {
    err = "cannot create a target machine for " + out.cpu;
    return false;
  }
  const llvm::MCSubtargetInfo *sti = out.machine->getMCSubtargetInfo();
  out.requiredFeatures.clear();
  for (const std::string &name : checkableCpuFeatures())
    if (sti->checkFeatures("+" + name))
      out.requiredFeatures.push_back(name);
  return true;
}

namespace {

std::unique_ptr<llvm::Module> translateAndOptimize(ModuleOp module,
                                                   CpuTarget &target,
                                                   llvm::LLVMContext &llvmCtx,
                                                   std::string &err) {
  registerBuiltinDialectTranslation(*module->getContext());
  registerLLVMDialectTranslation(*module->getContext());
  std::unique_ptr<llvm::Module> llvmModule =
      translateModuleToLLVMIR(module, llvmCtx, "zamba2_model");
  if (!llvmModule) {
    err = "translation to LLVM IR failed";
    return nullptr;
  }
  llvmModule->setTargetTriple(llvm::Triple(target.triple));
  llvmModule->setDataLayout(target.machine->createDataLayout());
  // Every function is compiled for the chosen CPU, not a generic x86-64.
  for (llvm::Function &fn : *llvmModule) {
    if (fn.isDeclaration())
      continue;
    fn.addFnAttr("target-cpu", target.cpu);
    if (!target.features.empty())
      fn.addFnAttr("target-features", target.features);
  }
  auto optimize = makeOptimizingTransformer(3, 0, target.machine.get());
  if (llvm::Error e = optimize(llvmModule.get())) {
    err = "LLVM optimisation failed: " + llvm::toString(std::move(e));
    return nullptr;
  }
  return llvmModule;
}

} // namespace

bool mlir::zamba2::emitCpuLLVMIR(ModuleOp module, CpuTarget &target,
                                 llvm::raw_ostream &os, std::string &err) {
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      translateAndOptimize(module, target, llvmCtx, err);
  if (!llvmModule)
    return false;
  llvmModule->print(os, nullptr);
  return true;
}

bool mlir::zamba2::emitCpuObject(ModuleOp module, CpuTarget &target,
                                 const std::string &objectPath,
                                 std::string &err) {
  llvm::LLVMContext llvmCtx;
  std::unique_ptr<llvm::Module> llvmModule =
      translateAndOptimize(module, target, llvmCtx, err);
  if (!llvmModule)
    return false;
  std::error_code ec;
  llvm::raw_fd_ostream os(objectPath, ec, llvm::sys::fs::OF_None);
  if (ec) {
    err = objectPath + ": " + ec.message();
    return false;
  }
  llvm::legacy::PassManager codegen;
  if (target.machine->addPassesToEmitFile(codegen, os, nullptr,
                                          llvm::CodeGenFileType::ObjectFile)) {
    err = "the target cannot emit object files";
    return false;
  }
  codegen.run(*llvmModule);
  os.flush();
  if (os.has_error()) {
    err = objectPath + ": write failed";
    return false;
  }
  return true;
}

bool mlir::zamba2::linkSharedLibrary(const std::string &objectPath,
                                     const std::string &libraryPath,
                                     std::string &err) {
  std::string driver;
  for (const char *name : {"clang-22", "clang", "cc"}) {
    if (auto found = llvm::sys::findProgramByName(name)) {
      driver = *found;
      break;
    }
  }
  if (driver.empty()) {
    err = "no linker driver found on PATH (clang-22, clang or cc)";
    return false;
  }
  llvm::SmallVector<llvm::StringRef> args = {driver,      "-shared",  "-o",
                                             libraryPath, objectPath, "-lm"};
  std::string message;
  int rc =
      llvm::sys::ExecuteAndWait(driver, args, std::nullopt, {}, 0, 0, &message);
  if (rc != 0) {
    err = "linking " + libraryPath + " with " + driver + " failed" +
          (message.empty() ? "" : ": " + message) +
          (rc > 0 ? " (exit " + std::to_string(rc) + ")" : "");
    return false;
  }
  return true;
}
