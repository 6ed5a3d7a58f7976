//===- CpuCodegen.h - LLVM dialect -> object code -> shared library -*- C++
//-*-===//
#ifndef ZAMBA2_CODEGEN_CPUCODEGEN_H
#define ZAMBA2_CODEGEN_CPUCODEGEN_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>
#include <vector>

namespace mlir::zamba2 {

/// An x86-64 code generation target.
struct CpuTarget {
  std::string triple;
  std::string cpu;      ///< LLVM CPU name ("znver4", "x86-64-v3", ...)
  std::string features; ///< LLVM feature string ("+avx2,+fma,...")
  /// Features of the runtime's check list that the code may use; the package
  /// refuses to load on a CPU lacking one of them.
  std::vector<std::string> requiredFeatures;
  std::unique_ptr<llvm::TargetMachine> machine;
};

/// The CPU feature names the runtime knows how to check (LLVM spelling).
const std::vector<std::string> &checkableCpuFeatures();

/// Resolves `cpuName` ("" or "native": this machine's CPU and features;
/// otherwise an LLVM CPU name) to a target machine. False with `err` set for
/// an unknown CPU.
bool makeCpuTarget(const std::string &cpuName, CpuTarget &out,
                   std::string &err);

/// Translates a module in the LLVM dialect to LLVM IR, optimises it (O3 for
/// the target) and writes an object file.
bool emitCpuObject(ModuleOp module, CpuTarget &target,
                   const std::string &objectPath, std::string &err);

/// Translates and optimises as emitCpuObject does, then prints the LLVM IR.
bool emitCpuLLVMIR(ModuleOp module, CpuTarget &target, llvm::raw_ostream &os,
                   std::string &err);

/// Links an object file into a shared library with the system linker driver
/// (clang, else cc), against libm.
bool linkSharedLibrary(const std::string &objectPath,
                       const std::string &libraryPath, std::string &err);

} // namespace mlir::zamba2

#endif // ZAMBA2_CODEGEN_CPUCODEGEN_H
