//===- DefaultPackage.h - zamba2-run's package when none is given -*- C++
//-*-===//
//
// Without a PKG argument zamba2-run uses the default package of its build
// (ZAMBA2_DEFAULT_PACKAGE, compiled from ZAMBA2_DEFAULT_CHECKPOINT). When
// that package is missing, or older than a file of the checkpoint or than
// the zamba2-compile next to zamba2-run, it is (re)compiled first by running
//   zamba2-compile CKPT -o PKG
// with a progress line on stderr (the compiler's stdout goes to stderr too,
// so that zamba2-run's stdout holds only its result).
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_TOOLS_RUN_DEFAULTPACKAGE_H
#define ZAMBA2_TOOLS_RUN_DEFAULTPACKAGE_H

#include <string>

namespace zamba2::run {

/// Sets `dir` to an up-to-date default package, compiling it when needed.
/// False with one line in `err` when it is stale or missing and cannot be
/// compiled (no zamba2-compile beside this executable, or the compiler
/// failed).
bool ensureDefaultPackage(std::string &dir, std::string &err);

} // namespace zamba2::run

#endif // ZAMBA2_TOOLS_RUN_DEFAULTPACKAGE_H
