//===- FuzzChecks.h - checks the fuzz targets share -------------*- C++ -*-===//
//
// The project's rule for refused input, as the fuzz targets check it.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_FUZZ_FUZZCHECKS_H
#define ZAMBA2_FUZZ_FUZZCHECKS_H

#include <cstdlib>
#include <string>

namespace zamba2::fuzz {

/// Aborts (a libFuzzer finding) unless `error`, the message of refused
/// input, is one non-empty line.
inline void requireOneLineError(const std::string &error) {
  if (error.empty() || error.find('\n') != std::string::npos)
    std::abort();
}

} // namespace zamba2::fuzz

#endif // ZAMBA2_FUZZ_FUZZCHECKS_H
