//===- FakePackage.h - Package directories around FakeModel.c ---*- C++ -*-===//
//
// Writes a package directory (manifest.json, weights.bin, model.so copied
// from the fake model library) into a fresh temporary directory, with knobs
// to break each part for the error-path tests. Each package gets its own copy
// of the library, so each has its own instance of the fake's globals.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_TEST_UNIT_ENGINE_FAKEPACKAGE_H
#define ZAMBA2_TEST_UNIT_ENGINE_FAKEPACKAGE_H

#include "runtime/Json.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace zamba2::test {

struct FakePackageSpec {
  int64_t vocab = 16;
  float w0 = 0.5f; ///< first f32 of weights.bin
  uint64_t weightsBytes = 128;
  int64_t eosTokenId = 2;
  std::vector<std::string> features;           ///< target.features
  std::string library = ZAMBA2_FAKE_MODEL_LIB; ///< copied to model.so
  bool writeManifest = true;
  bool writeWeights = true;
  bool writeLibrary = true;
  /// Last word on the manifest before it is written.
  std::function<void(json::Value &)> editManifest;
};

/// A new empty temporary directory.
std::string makeTempDir();
/// Removes a directory tree (test cleanup).
void removeTree(const std::string &dir);

/// The manifest FakeModel.c expects.
json::Value fakeManifest(const FakePackageSpec &spec);

/// Writes the package into `dir` (created if needed); returns `dir`.
std::string writeFakePackage(const std::string &dir,
                             const FakePackageSpec &spec = {});

/// The model.so of a package the engine has loaded, for the fake's test
/// hooks: (dlopen RTLD_NOLOAD) nullptr when not loaded.
void *loadedFakeLibrary(const std::string &packageDir);

/// The fake's test hooks, looked up in a loaded library.
struct FakeHooks {
  const int64_t *(*lastDescriptor)(int) = nullptr;
  int (*lastEntry)() = nullptr;
  int64_t (*numCalls)() = nullptr;
  int64_t (*badDecodes)() = nullptr;
  int (*hasDispatcher)() = nullptr;
  bool ok() const { return lastDescriptor && lastEntry && numCalls; }
};
FakeHooks fakeHooks(const std::string &packageDir);

/// Expected logits row of the fake for a sequence that has consumed
/// `history` (ids, from position 0, this token last), in batch row `row`.
std::vector<float> fakeExpectedRow(const std::vector<int64_t> &history,
                                   int64_t row, int64_t vocab, float w0);

} // namespace zamba2::test

#endif // ZAMBA2_TEST_UNIT_ENGINE_FAKEPACKAGE_H
