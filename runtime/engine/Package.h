//===- Package.h - A loaded zamba2c package ---------------------*- C++ -*-===//
//
// Opening a package directory (docs/PACKAGE.md) reads and checks manifest.json,
// checks that this runtime and CPU can run it (target kind, CPU features, ABI
// version), maps weights.bin read-only and loads model.so with its entry
// points, handing the model the runtime's thread pool when it has parallel
// loops. A Package is immutable once open and may be shared by any number of
// sessions (std::shared_ptr); it unmaps and unloads when the last one goes.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_ENGINE_PACKAGE_H
#define ZAMBA2_RUNTIME_ENGINE_PACKAGE_H

#include "runtime/engine/Manifest.h"
#include "runtime/engine/Status.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>

namespace zamba2 {

/// The model ABI version this runtime implements.
constexpr int64_t kRuntimeAbiVersion = 1;

/// An entry point of model.so: `args` points to the memref descriptors.
using EntryPointFn = void (*)(void **args);

struct PackageOpenOptions {
  /// CPU features to check target.features against; nullptr means the
  /// running CPU (hostCpuFeatures()). For tests.
  const std::map<std::string, bool> *cpuFeatures = nullptr;
};

/// "vocab=V;NAME:DTYPE[d0,...];..." of the manifest, to compare with the
/// zamba2_model_signature() the compiler puts into model.so.
std::string manifestSignature(const PackageManifest &m);

class Package {
public:
  /// Opens the package directory `dir`. On error `out` is left empty and the
  /// status names the file and field at fault.
  static Status open(const std::string &dir, std::shared_ptr<Package> &out,
                     const PackageOpenOptions &options = {});

  ~Package();
  Package(const Package &) = delete;
  Package &operator=(const Package &) = delete;

  const std::string &dir() const { return dirPath; }
  const PackageManifest &manifest() const { return man; }
  int64_t vocabSize() const { return man.vocabSize; }
  /// Path of the package's tokenizer.json ("DIR/tokenizer.json"); empty when
  /// the manifest names none. open() does not read it: only the modes that
  /// take text need it, and they report a missing or bad file themselves.
  std::string tokenizerPath() const {
    return man.tokenizer.empty() ? std::string()
                                 : dirPath + "/" + man.tokenizer;
  }

  /// The mapped weights.bin (read-only), weightsBytes() long.
  const void *weights() const { return weightsData; }
  uint64_t weightsBytes() const { return man.weightsBytes; }

  EntryPointFn prefillEntry() const { return prefillFn; }
  EntryPointFn decodeEntry() const { return decodeFn; }
  /// Whether model.so has parallel loops (it exports
  /// zamba2_set_parallel_for), now dispatched to the runtime's thread pool
  /// (runtime/core/ThreadPool.h; ZAMBA2_NUM_THREADS sets its size).
  bool usesThreadPool() const { return parallel; }

  /// A CUDA package: weights, state and call buffers live in CUDA managed
  /// memory and each call is followed by a synchronisation.
  bool isCuda() const { return man.targetKind == "cuda"; }

private:
  Package() = default;
  Status mapWeights();
  Status loadLibrary();

  std::string dirPath;
  PackageManifest man;
  void *mapping = nullptr; // mmap of weights.bin, when non-empty
  size_t mappingSize = 0;
  const void *weightsData = nullptr;
  void *deviceWeights = nullptr; // CUDA packages: managed copy of weights.bin
  void *library = nullptr;       // dlopen handle
  EntryPointFn prefillFn = nullptr;
  EntryPointFn decodeFn = nullptr;
  bool parallel = false;
};

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_ENGINE_PACKAGE_H
