//===- Manifest.h - manifest.json of a zamba2c package ----------*- C++ -*-===//
//
// The one reading of a package's manifest.json (docs/PACKAGE.md, format
// version 1). parseManifest checks the structure and types of every field the
// runtime relies on; whether this runtime and CPU can run the package (target
// kind, CPU features, ABI version) is Package's business. Errors are one line:
//   PATH: field 'NAME': what was expected, what was found
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_ENGINE_MANIFEST_H
#define ZAMBA2_RUNTIME_ENGINE_MANIFEST_H

#include "runtime/Json.h"
#include "runtime/engine/Status.h"

#include <cstdint>
#include <string>
#include <vector>

namespace zamba2 {

/// The manifest format version this runtime reads.
constexpr int64_t kManifestFormatVersion = 1;
/// The value of "format".
constexpr const char *kManifestFormatName = "zamba2c-package";

/// One dimension of a state tensor: a fixed size, or the session's max batch
/// or max sequence length.
struct StateDim {
  enum class Kind { Fixed, Batch, Seq };
  Kind kind = Kind::Fixed;
  int64_t size = 0; ///< for Fixed
};

struct StateSpec {
  std::string name;
  std::string dtype;           ///< "f32", "bf16" or "f16"
  size_t elementSize = 4;      ///< bytes per element of dtype
  std::vector<StateDim> shape; ///< dim 0 is "batch"
};

/// "quant" of a weight-table entry: the entry is one part of a quantized
/// matrix (docs/PACKAGE.md, "Quantized weights"). Values are checked to be
/// among those listed.
struct WeightQuantSpec {
  std::string source;     ///< checkpoint key of the float matrix
  std::string tensor;     ///< model tensor it stands for (default: source)
  std::string part;       ///< "packed", "scales" or "zeros"
  int64_t bits = 0;       ///< 4 or 8
  int64_t groupSize = 0;  ///< >= 1
  std::string scheme;     ///< "symmetric" or "asymmetric"
  std::string scaleDType; ///< "f16" or "f32"
};

struct WeightSpec {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t offset = 0;
  uint64_t bytes = 0;
  bool quantized = false; ///< `quant` is set
  WeightQuantSpec quant;
};

struct PackageManifest {
  std::string path; ///< the manifest.json read, for error messages

  std::string format;
  int64_t formatVersion = 0;
  std::string producer;

  // target
  std::string targetKind; ///< "cpu" or "cuda"
  std::string triple;
  std::string cpu;
  std::string targetGpu; ///< CUDA packages: the GPU architecture, "sm_90"
  /// CUDA packages: every kernel waits for the kernels before it itself
  /// (zamba2-gpu-dependent-launch), so the runtime may launch it early.
  bool dependentLaunch = false;
  std::vector<std::string> features;

  std::string library; ///< file name of the model library, e.g. "model.so"
  /// File name of the package's tokenizer.json (e.g. "tokenizer.json");
  /// empty when the field is null or absent (the checkpoint had none).
  std::string tokenizer;
  int64_t abiVersion = 0;
  std::string prefillSymbol;
  std::string decodeSymbol;

  // model
  int64_t vocabSize = 0;
  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  std::vector<int64_t> hybridLayerIds;
  int64_t bosTokenId = -1; ///< -1 when null or absent
  int64_t eosTokenId = -1; ///< the first of eosTokenIds, -1 when none
  std::vector<int64_t> eosTokenIds;
  int64_t padTokenId = -1;

  json::Value config; ///< the checkpoint's config.json, verbatim

  // weights
  std::string weightsFile;
  uint64_t weightsBytes = 0;
  uint64_t weightsAlignment = 1;
  std::vector<WeightSpec> weights;

  /// In entry-point argument order.
  std::vector<StateSpec> state;
};

/// Fills `m` from the parsed JSON of `path`. The format and format_version
/// are checked first, so that a manifest of another version is reported as
/// such rather than by its first unexpected field.
Status parseManifest(const json::Value &root, const std::string &path,
                     PackageManifest &m);

/// Reads and parses PATH (a manifest.json).
Status readManifestFile(const std::string &path, PackageManifest &m);

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_ENGINE_MANIFEST_H
