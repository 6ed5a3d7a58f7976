//===- ModelConfig.h - Zamba2 config.json and expected weights --*- C++ -*-===//
//
// The one reading of a Zamba2 config.json (see the project's model spec):
// every field, the sizes derived from them, the consistency rules, and the
// list of (checkpoint key, shape) the model needs. Errors are one line:
//   PATH: field 'NAME': what was expected, what was found
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_FORMAT_MODELCONFIG_H
#define ZAMBA2_RUNTIME_FORMAT_MODELCONFIG_H

#include "runtime/Json.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace zamba2 {

class Checkpoint;

enum class LayerKind { Mamba, Hybrid };

enum class Activation {
  Gelu,     ///< "gelu": exact erf GELU
  GeluTanh, ///< "gelu_pytorch_tanh", "gelu_new": tanh approximation
  Silu,     ///< "silu", "swish"
};

const char *activationName(Activation a);

struct ModelConfig {
  // Sizes straight from config.json (spec symbol in the comment).
  int64_t vocabSize = 32000;           ///< V
  int64_t hiddenSize = 2560;           ///< H
  int64_t numLayers = 54;              ///< L
  std::vector<LayerKind> layerKinds;   ///< types, size L
  int64_t mambaExpand = 2;             ///< I = mambaExpand * H
  int64_t stateSize = 64;              ///< N (mamba_d_state)
  int64_t numGroups = 1;               ///< G (mamba_ngroups)
  int64_t numMambaHeads = 8;           ///< nh (n_mamba_heads)
  int64_t convKernel = 4;              ///< K (mamba_d_conv)
  int64_t numAttentionHeads = 32;      ///< nA
  int64_t numKeyValueHeads = 32;       ///< nKV
  int64_t intermediateSize = 4 * 2560; ///< F (MLP)
  int64_t numMemBlocks = 1;            ///< M
  int64_t adapterRank = 128;           ///< r
  double rmsNormEps = 1e-5;            ///< eps
  double ropeTheta = 10000;            ///< theta
  bool useMemRope = false;
  bool useSharedMlpAdapter = false;
  bool useSharedAttentionAdapter = false;
  bool addBiasLinear = false;
  bool useConvBias = true;
  bool tieWordEmbeddings = true;
  Activation hiddenAct = Activation::Gelu;
  /// time_step_limit: [lo, hi] clamp of dt, only when hasTimeStepLimit.
  bool hasTimeStepLimit = false;
  double timeStepLimit[2] = {0, 0};
  int64_t chunkSize = 256;
  int64_t maxPositionEmbeddings = 4096;
  /// Token ids; -1 when the config has null.
  int64_t bosTokenId = 1;
  int64_t eosTokenId = 2;
  std::vector<int64_t> eosTokenIds = {2}; ///< eos_token_id may be a list
  int64_t padTokenId = 0;
  // Training-only values, kept so that configs round-trip and synth can use
  // them for dt initialisation.
  double timeStepMin = 0.001;
  double timeStepMax = 0.1;
  double timeStepFloor = 1e-4;
  double initializerRange = 0.02;

  // Derived (filled by finalize()).
  std::vector<int64_t> hybridLayers; ///< layer index of each hybrid site
  int64_t mambaInner = 0;            ///< I
  int64_t mambaHeadDim = 0;          ///< P = I / nh
  int64_t convChannels = 0;          ///< Cd = I + 2 G N
  int64_t inProjSize = 0;            ///< I + Cd + nh
  int64_t attentionHeadDim = 0;      ///< hd = 2H / nA
  int64_t attentionHidden = 0;       ///< 2H

  int64_t numSites() const { return static_cast<int64_t>(hybridLayers.size()); }
  /// Site index of layer `layer` among hybrid layers; -1 for Mamba layers.
  int64_t siteOfLayer(int64_t layer) const;
  /// Shared block used by site `site` (s % M).
  int64_t blockOfSite(int64_t site) const { return site % numMemBlocks; }
  /// Total parameters as transformers counts them (shared block and tied
  /// embedding counted once).
  uint64_t parameterCount() const;
};

/// Checks the consistency rules and fills the derived fields. `fileName`
/// prefixes errors. parseModelConfig calls it; call it after building a
/// ModelConfig by hand (presets, overrides).
bool finalizeModelConfig(ModelConfig &cfg, const std::string &fileName,
                         std::string &err);

bool parseModelConfig(const json::Value &root, const std::string &fileName,
                      ModelConfig &cfg, std::string &err);
bool parseModelConfigFile(const std::string &path, ModelConfig &cfg,
                          std::string &err);

/// A config.json that transformers loads (model_type zamba2).
json::Value toHuggingFaceJson(const ModelConfig &cfg);

/// transformers' default layer pattern (54 layers, 9 hybrid).
std::vector<LayerKind> defaultLayerPattern();

/// Layer i is hybrid when i % k == k - 1 (Zamba2-1.2B's pattern for k = 6).
std::vector<LayerKind> hybridEveryKth(int64_t layers, int64_t k);

/// Random-weight model shapes used by zamba2-synth and benchmarks: "tiny"
/// (like the tiny-lora-rope fixture), "1.2b" and "2.7b" (the spec's tables:
/// 1,215,064,704 and 2,662,214,560 parameters), "7b" (approximates
/// Zamba2-7B: H 3584, 81 layers, 2 blocks, hybrid every 6th layer).
/// Derived fields are not filled: call finalizeModelConfig. False for an
/// unknown name.
bool presetModelConfig(const std::string &name, ModelConfig &cfg);

/// Predicate "does the checkpoint hold this tensor name".
using HasTensorFn = std::function<bool(const std::string &)>;

/// Prefix ("model.layers.{j}.shared_transformer.") of the shared-block
/// weights used by hybrid site `site`: layer `j` is the first hybrid layer
/// using the site's block, unless the site's own layer has its own copy
/// (hasTensor(own prefix + "input_layernorm.weight")): then the own copy wins.
/// A null hasTensor means "no own copies".
std::string sharedBlockPrefix(const ModelConfig &cfg, int64_t site,
                              const HasTensorFn &hasTensor = nullptr);

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

/// Every tensor the model needs, with its shape, in layer order. Adapters
/// only when enabled, linear biases only with add_bias_linear, lm_head only
/// when embeddings are untied. Shared-block tensors follow sharedBlockPrefix
/// (each distinct prefix listed once).
std::vector<ExpectedTensor>
expectedShapes(const ModelConfig &cfg, const HasTensorFn &hasTensor = nullptr);

/// Every expected tensor present with its shape and a weight dtype
/// (F32/F16/BF16). Errors: "FILE: tensor 'NAME' is missing",
/// "FILE: tensor 'NAME': expected shape [..], found [..]".
bool validateCheckpoint(const ModelConfig &cfg, const Checkpoint &ck,
                        std::string &err);

/// Reads DIR/config.json, opens the checkpoint of DIR and validates it against
/// the config: the one loading sequence of every tool. nullptr on error (one
/// line in `err`, naming the file and field or tensor).
std::unique_ptr<Checkpoint> openValidatedCheckpoint(const std::string &dir,
                                                    ModelConfig &cfg,
                                                    std::string &err);

/// One-line summary of a validated checkpoint: layers, hybrid sites, blocks,
/// parameters, bytes, dtypes, files.
std::string describeCheckpoint(const std::string &dir, const ModelConfig &cfg,
                               const Checkpoint &ck);

} // namespace zamba2

#endif // ZAMBA2_RUNTIME_FORMAT_MODELCONFIG_H
