//===- PackageWriter.h - writes a zamba2c package directory -----*- C++ -*-===//
#ifndef ZAMBA2_TOOLS_COMPILE_PACKAGEWRITER_H
#define ZAMBA2_TOOLS_COMPILE_PACKAGEWRITER_H

#include "codegen/CpuCodegen.h"
#include "runtime/format/ModelConfig.h"
#include "runtime/pack/WeightPack.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace mlir::zamba2 {

/// What the pipeline recorded on the module (zamba2-prepare-entry-points).
struct ModuleTables {
  std::vector<::zamba2::PackEntry> weights;
  uint64_t weightsBytes = 0;
  int64_t weightAlignment = 64;
  struct State {
    std::string name;
    std::string dtype;
    std::vector<std::string> shape; ///< "batch", "seq" or a number
  };
  std::vector<State> states;
};

/// Reads (and removes) the zamba2.* module attributes the pipeline left.
bool takeModuleTables(ModuleOp module, ModuleTables &out, std::string &err);

/// Token ids for generation: config.json's, overridden by the checkpoint's
/// generation_config.json when it has one.
struct GenerationIds {
  int64_t bos = -1, pad = -1;
  std::vector<int64_t> eos;
};
bool readGenerationIds(const ::zamba2::ModelConfig &cfg,
                       const std::string &checkpointDir, GenerationIds &out,
                       std::string &err);

/// Validates the checkpoint's tokenizer.json (if any) against the model's
/// vocabulary. `present` says whether there is one to copy.
bool checkTokenizer(const std::string &checkpointDir, int64_t vocabSize,
                    bool &present, std::string &err);

/// manifest.json of docs/PACKAGE.md. `gpuChip` non-empty: a CUDA package
/// (target kind "cuda", `target` is then the host CPU of model.so), whose
/// kernels wait for their predecessors themselves when `dependentLaunch`.
std::string buildManifest(const ::zamba2::ModelConfig &cfg,
                          const std::string &checkpointDir,
                          const CpuTarget &target, const ModuleTables &tables,
                          const GenerationIds &generation, bool hasTokenizer,
                          std::string &err, const std::string &gpuChip = "",
                          bool dependentLaunch = false);

/// A package directory written under a temporary name and renamed into place
/// only when complete; removed if abandoned.
class PackageDir {
public:
  explicit PackageDir(std::string path);
  ~PackageDir();
  /// Checks the destination (absent, empty, or an earlier package) and creates
  /// the temporary directory.
  bool create(std::string &err);
  std::string file(const std::string &name) const { return tmp + "/" + name; }
  bool writeText(const std::string &name, const std::string &text,
                 std::string &err);
  /// Copies a file into the package under `name`.
  bool copyIn(const std::string &source, const std::string &name,
              std::string &err);
  /// Replaces the destination with the finished package.
  bool commit(std::string &err);

private:
  std::string dest, tmp, old;
  bool committed = false;
};

} // namespace mlir::zamba2

#endif // ZAMBA2_TOOLS_COMPILE_PACKAGEWRITER_H
