//===- CpuFeatures.h - CPU features of the running machine ------*- C++ -*-===//
//
// A package lists the CPU features its code was compiled for, by their LLVM
// names ("avx2", "avx512f", "sse4.1", ...). Before loading model.so the
// runtime checks each against the running CPU with cpuid (and, for AVX,
// AVX-512 and AMX, that the OS saves the wider registers: XCR0), the way
// LLVM's own host detection does, so that a package built with -mcpu=native
// on one machine is refused on a lesser one instead of dying of SIGILL.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_ENGINE_CPUFEATURES_H
#define ZAMBA2_RUNTIME_ENGINE_CPUFEATURES_H

#include "runtime/engine/Status.h"

#include <map>
#include <string>
#include <vector>

namespace zamba2 {

/// Every feature name this runtime knows how to check, with whether the
/// running CPU has it. Empty on architectures other than x86-64.
const std::map<std::string, bool> &hostCpuFeatures();

/// Names of the known features the running CPU has, sorted.
std::vector<std::string> supportedCpuFeatures();

/// Checks the `target.features` of a package (manifest at `manifestPath`,
/// for messages) against `host` (hostCpuFeatures() outside of tests).
/// A name with a leading '+' is the same feature; a leading '-' marks a
/// feature the code does not use and is skipped. Errors (Unsupported):
///   PATH: field 'target.features': unknown CPU feature 'x' (...)
///   PATH: package needs CPU feature 'avx512fp16' that this CPU lacks
Status checkCpuFeatures(const std::vector<std::string> &features,
                        const std::string &manifestPath,
                        const std::map<std::string, bool> &host);

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_ENGINE_CPUFEATURES_H
