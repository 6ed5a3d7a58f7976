//===- ModelConfig.cpp - Zamba2 config.json and expected weights ----------===//
//
// Defaults follow transformers' Zamba2Config (configuration_zamba2.py):
// vocab 32000, max_position_embeddings 4096, mamba_d_state 64, mamba_d_conv 4,
// mamba_expand 2, mamba_ngroups 1, n_mamba_heads 8, use_conv_bias true,
// chunk_size 256, add_bias_linear false, intermediate_size 4*hidden_size,
// hidden_act gelu, num_attention_heads 32, num_key_value_heads =
// num_attention_heads, num_mem_blocks 1, adapters off, adapter_rank 128,
// use_mem_rope false, rope_theta 10000, rms_norm_eps 1e-5, pad/bos/eos 0/1/2,
// time_step_limit none, and the 54-layer default layer pattern.
//
// Deliberate departures, so that a broken config is an error rather than a
// silently different model: hidden_size, num_hidden_layers and vocab_size are
// required (every config transformers writes has them), and a missing
// layers_block_type is only accepted when num_hidden_layers is 54 (the length
// of the default pattern).
//
//===----------------------------------------------------------------------===//
#include "runtime/format/ModelConfig.h"

#include "runtime/format/Safetensors.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

namespace zamba2 {

const char *activationName(Activation a) {
  switch (a) {
  case Activation::Gelu:
    return "gelu";
  case Activation::GeluTanh:
    return "gelu_pytorch_tanh";
  case Activation::Silu:
    return "silu";
  }
  return "?";
}

std::vector<LayerKind> defaultLayerPattern() {
  // ["mamba"] + (["mamba"]*5 + ["hybrid"])*7 + ["mamba"]*4 + ["hybrid"]
  //   + ["mamba"]*3 + ["hybrid"] + ["mamba"]*2
  std::vector<LayerKind> v;
  auto add = [&](LayerKind k, int n) { v.insert(v.end(), n, k); };
  add(LayerKind::Mamba, 1);
  for (int i = 0; i < 7; ++i) {
    add(LayerKind::Mamba, 5);
    add(LayerKind::Hybrid, 1);
  }
  add(LayerKind::Mamba, 4);
  add(LayerKind::Hybrid, 1);
  add(LayerKind::Mamba, 3);
  add(LayerKind::Hybrid, 1);
  add(LayerKind::Mamba, 2);
  return v;
}

std::vector<LayerKind> hybridEveryKth(int64_t layers, int64_t k) {
  std::vector<LayerKind> v;
  for (int64_t i = 0; i < layers; ++i)
    v.push_back(i % k == k - 1 ? LayerKind::Hybrid : LayerKind::Mamba);
  return v;
}

bool presetModelConfig(const std::string &name, ModelConfig &c) {
  c = ModelConfig();
  // Presets are complete configs; finalize fills the derived sizes.
  c.tieWordEmbeddings = true;
  if (name == "tiny") {
    c.vocabSize = 512;
    c.hiddenSize = 64;
    c.numLayers = 6;
    c.layerKinds = {LayerKind::Mamba, LayerKind::Hybrid, LayerKind::Mamba,
                    LayerKind::Mamba, LayerKind::Hybrid, LayerKind::Mamba};
    c.stateSize = 16;
    c.numMambaHeads = 4;
    c.numAttentionHeads = c.numKeyValueHeads = 4;
    c.intermediateSize = 128;
    c.adapterRank = 8;
    c.useMemRope = c.useSharedMlpAdapter = c.useSharedAttentionAdapter = true;
    c.chunkSize = 8;
    c.maxPositionEmbeddings = 256;
  } else if (name == "1.2b") {
    c.vocabSize = 32000;
    c.hiddenSize = 2048;
    c.numLayers = 38;
    c.layerKinds = hybridEveryKth(38, 6); // hybrids at 5, 11, ..., 35
    c.stateSize = 128;
    c.numMambaHeads = 64;
    c.numAttentionHeads = c.numKeyValueHeads = 32;
    c.intermediateSize = 8192;
    c.adapterRank = 128;
    c.useMemRope = c.useSharedMlpAdapter = c.useSharedAttentionAdapter = true;
  } else if (name == "2.7b") {
    c.vocabSize = 32000;
    c.hiddenSize = 2560;
    c.numLayers = 54;
    c.layerKinds = defaultLayerPattern();
    c.stateSize = 64;
    c.numMambaHeads = 80;
    c.numAttentionHeads = c.numKeyValueHeads = 32;
    c.intermediateSize = 10240;
    c.numMemBlocks = 2;
    c.adapterRank = 128;
    c.useSharedMlpAdapter = true;
  } else if (name == "7b") {
    // Approximation of Zamba2-7B: the sizes of the hub model, but a regular
    // hybrid pattern and adapter/rotary flags guessed like the 2.7B.
    c.vocabSize = 32000;
    c.hiddenSize = 3584;
    c.numLayers = 81;
    c.layerKinds = hybridEveryKth(81, 6);
    c.stateSize = 64;
    c.numGroups = 2;
    c.numMambaHeads = 112;
    c.numAttentionHeads = c.numKeyValueHeads = 32;
    c.intermediateSize = 14336;
    c.numMemBlocks = 2;
    c.adapterRank = 128;
    c.useMemRope = true;
    c.useSharedMlpAdapter = true;
  } else {
    return false;
  }
  return true;
}

int64_t ModelConfig::siteOfLayer(int64_t layer) const {
  for (size_t s = 0; s < hybridLayers.size(); ++s)
    if (hybridLayers[s] == layer)
      return static_cast<int64_t>(s);
  return -1;
}

uint64_t ModelConfig::parameterCount() const {
  uint64_t n = 0;
  for (const ExpectedTensor &t : expectedShapes(*this)) {
    uint64_t e = 1;
    for (int64_t d : t.shape)
      e *= static_cast<uint64_t>(d);
    n += e;
  }
  return n;
}

namespace {

/// JSON text of a value, shortened for error messages.
std::string describe(const json::Value &v) {
  std::string text = json::write(v);
  if (text.size() > 60)
    text = text.substr(0, 57) + "...";
  switch (v.kind()) {
  case json::Value::Kind::String:
    return "string " + text;
  case json::Value::Kind::Array:
    return "array " + text;
  case json::Value::Kind::Object:
    return "object " + text;
  default:
    return text;
  }
}

/// Reads typed fields off the config object; the first error wins.
class FieldReader {
public:
  FieldReader(const json::Value &root, const std::string &file,
              std::string &err)
      : root(root), file(file), err(err) {}

  bool ok() const { return good; }

  bool fail(const std::string &field, const std::string &what) {
    if (good)
      err = file + ": field '" + field + "': " + what;
    good = false;
    return false;
  }

  bool failFound(const std::string &field, const std::string &expected,
                 const json::Value *found) {
    return fail(field, "expected " + expected + ", found " +
                           (found ? describe(*found)
                                  : std::string("nothing (missing)")));
  }

  const json::Value *get(const char *name) const { return root.get(name); }

  static bool toInt(const json::Value &v, int64_t &out) {
    if (v.isInteger()) {
      out = v.asInt();
      return true;
    }
    // Python may write 64.0 for an int; accept exact integral values only.
    if (v.isNumber() && std::isfinite(v.asDouble()) &&
        std::floor(v.asDouble()) == v.asDouble() &&
        std::fabs(v.asDouble()) < 9.007199254740992e15) {
      out = static_cast<int64_t>(v.asDouble());
      return true;
    }
    return false;
  }

  /// Integer field; `required` makes absence an error, `nullIsDefault`
  /// lets null keep the default (fields whose transformers default is None).
  void getInt(const char *name, int64_t &out, bool required = false,
              bool nullIsDefault = false) {
    const json::Value *v = get(name);
    if (!v || (nullIsDefault && v->isNull())) {
      if (required)
        failFound(name, "an integer", nullptr);
      return;
    }
    if (!toInt(*v, out))
      failFound(name, "an integer", v);
  }

  void getDouble(const char *name, double &out) {
    const json::Value *v = get(name);
    if (!v)
      return;
    if (!v->isNumber())
      failFound(name, "a number", v);
    else
      out = v->asDouble();
  }

  void getBool(const char *name, bool &out) {
    const json::Value *v = get(name);
    if (!v)
      return;
    if (!v->isBool())
      failFound(name, "true or false", v);
    else
      out = v->asBool();
  }

  /// Token id: integer or null (-1).
  void getTokenId(const char *name, int64_t &out) {
    const json::Value *v = get(name);
    if (!v)
      return;
    if (v->isNull()) {
      out = -1;
      return;
    }
    if (!toInt(*v, out))
      failFound(name, "an integer or null", v);
  }

private:
  const json::Value &root;
  const std::string &file;
  std::string &err;
  bool good = true;
};

bool fieldError(std::string &err, const std::string &file,
                const std::string &field, const std::string &what) {
  err = file + ": field '" + field + "': " + what;
  return false;
}

} // namespace

bool finalizeModelConfig(ModelConfig &c, const std::string &file,
                         std::string &err) {
  auto positive = [&](const char *field, int64_t v) {
    if (v > 0)
      return true;
    return fieldError(err, file, field,
                      "expected a positive integer, found " +
                          std::to_string(v));
  };
  if (!positive("vocab_size", c.vocabSize) ||
      !positive("hidden_size", c.hiddenSize) ||
      !positive("num_hidden_layers", c.numLayers) ||
      !positive("mamba_expand", c.mambaExpand) ||
      !positive("mamba_d_state", c.stateSize) ||
      !positive("mamba_ngroups", c.numGroups) ||
      !positive("n_mamba_heads", c.numMambaHeads) ||
      !positive("num_attention_heads", c.numAttentionHeads) ||
      !positive("num_key_value_heads", c.numKeyValueHeads) ||
      !positive("intermediate_size", c.intermediateSize) ||
      !positive("num_mem_blocks", c.numMemBlocks) ||
      !positive("adapter_rank", c.adapterRank) ||
      !positive("chunk_size", c.chunkSize) ||
      !positive("max_position_embeddings", c.maxPositionEmbeddings))
    return false;
  // Bound every size so that the derived products below cannot overflow
  // int64 (2^24 per dimension keeps any product of three in range).
  const int64_t kMaxDim = int64_t(1) << 24;
  struct {
    const char *name;
    int64_t v;
  } dims[] = {{"vocab_size", c.vocabSize},
              {"hidden_size", c.hiddenSize},
              {"num_hidden_layers", c.numLayers},
              {"mamba_expand", c.mambaExpand},
              {"mamba_d_state", c.stateSize},
              {"mamba_ngroups", c.numGroups},
              {"n_mamba_heads", c.numMambaHeads},
              {"mamba_d_conv", c.convKernel},
              {"num_attention_heads", c.numAttentionHeads},
              {"num_key_value_heads", c.numKeyValueHeads},
              {"intermediate_size", c.intermediateSize},
              {"num_mem_blocks", c.numMemBlocks},
              {"adapter_rank", c.adapterRank}};
  for (const auto &d : dims)
    if (d.v > kMaxDim)
      return fieldError(err, file, d.name,
                        "expected at most " + std::to_string(kMaxDim) +
                            ", found " + std::to_string(d.v));
  if (c.mambaExpand * c.hiddenSize > kMaxDim)
    return fieldError(err, file, "mamba_expand",
                      "mamba_expand * hidden_size is too large");
  if (c.convKernel < 2)
    return fieldError(err, file, "mamba_d_conv",
                      "expected an integer >= 2, found " +
                          std::to_string(c.convKernel));
  if (!(c.rmsNormEps > 0) || !std::isfinite(c.rmsNormEps))
    return fieldError(err, file, "rms_norm_eps",
                      "expected a positive number, found " +
                          json::write(json::Value::number(c.rmsNormEps)));
  if (!(c.ropeTheta > 0) || !std::isfinite(c.ropeTheta))
    return fieldError(err, file, "rope_theta",
                      "expected a positive number, found " +
                          json::write(json::Value::number(c.ropeTheta)));
  if (static_cast<int64_t>(c.layerKinds.size()) != c.numLayers)
    return fieldError(err, file, "num_hidden_layers",
                      "expected " + std::to_string(c.layerKinds.size()) +
                          " (the length of layers_block_type), found " +
                          std::to_string(c.numLayers));
  c.mambaInner = c.mambaExpand * c.hiddenSize;
  if (c.mambaInner % c.numMambaHeads != 0)
    return fieldError(err, file, "n_mamba_heads",
                      "expected a divisor of mamba_expand * hidden_size = " +
                          std::to_string(c.mambaInner) + ", found " +
                          std::to_string(c.numMambaHeads));
  if (c.numMambaHeads % c.numGroups != 0)
    return fieldError(err, file, "mamba_ngroups",
                      "expected a divisor of n_mamba_heads = " +
                          std::to_string(c.numMambaHeads) + ", found " +
                          std::to_string(c.numGroups));
  c.attentionHidden = 2 * c.hiddenSize;
  if (c.attentionHidden % c.numAttentionHeads != 0)
    return fieldError(err, file, "num_attention_heads",
                      "expected a divisor of 2 * hidden_size = " +
                          std::to_string(c.attentionHidden) + ", found " +
                          std::to_string(c.numAttentionHeads));
  if (c.numAttentionHeads % c.numKeyValueHeads != 0)
    return fieldError(err, file, "num_key_value_heads",
                      "expected a divisor of num_attention_heads = " +
                          std::to_string(c.numAttentionHeads) + ", found " +
                          std::to_string(c.numKeyValueHeads));
  c.mambaHeadDim = c.mambaInner / c.numMambaHeads;
  c.convChannels = c.mambaInner + 2 * c.numGroups * c.stateSize;
  c.inProjSize = c.mambaInner + c.convChannels + c.numMambaHeads;
  c.attentionHeadDim = c.attentionHidden / c.numAttentionHeads;
  if (c.useMemRope && c.attentionHeadDim % 2 != 0)
    return fieldError(err, file, "num_attention_heads",
                      "rotary needs an even head dim 2 * hidden_size / "
                      "num_attention_heads, found " +
                          std::to_string(c.attentionHeadDim));
  // transformers builds the k/v adapters 2H wide whatever num_key_value_heads
  // is, which only adds up without GQA.
  if (c.useSharedAttentionAdapter && c.numKeyValueHeads != c.numAttentionHeads)
    return fieldError(err, file, "num_key_value_heads",
                      "expected num_attention_heads = " +
                          std::to_string(c.numAttentionHeads) +
                          " with use_shared_attention_adapter, found " +
                          std::to_string(c.numKeyValueHeads));
  if (c.hasTimeStepLimit &&
      !(c.timeStepLimit[0] <= c.timeStepLimit[1]) /* catches NaN */)
    return fieldError(err, file, "time_step_limit",
                      "expected [lo, hi] with lo <= hi");
  c.hybridLayers.clear();
  for (int64_t i = 0; i < c.numLayers; ++i)
    if (c.layerKinds[i] == LayerKind::Hybrid)
      c.hybridLayers.push_back(i);
  return true;
}

bool parseModelConfig(const json::Value &root, const std::string &file,
                      ModelConfig &c, std::string &err) {
  c = ModelConfig();
  if (!root.isObject()) {
    err =
        file + ": expected a JSON object, found " + json::kindName(root.kind());
    return false;
  }
  FieldReader r(root, file, err);
  if (const json::Value *mt = root.get("model_type")) {
    if (!mt->isString() || mt->asString() != "zamba2")
      return r.failFound("model_type", "\"zamba2\"", mt);
  }
  r.getInt("vocab_size", c.vocabSize, /*required=*/true);
  r.getInt("hidden_size", c.hiddenSize, /*required=*/true);
  r.getInt("num_hidden_layers", c.numLayers, /*required=*/true);
  r.getInt("max_position_embeddings", c.maxPositionEmbeddings);
  r.getInt("mamba_d_state", c.stateSize);
  r.getInt("mamba_d_conv", c.convKernel);
  r.getInt("mamba_expand", c.mambaExpand);
  r.getInt("mamba_ngroups", c.numGroups);
  r.getInt("n_mamba_heads", c.numMambaHeads);
  r.getInt("num_attention_heads", c.numAttentionHeads);
  c.numKeyValueHeads = c.numAttentionHeads;
  r.getInt("num_key_value_heads", c.numKeyValueHeads, false, true);
  c.intermediateSize = 4 * c.hiddenSize;
  r.getInt("intermediate_size", c.intermediateSize, false, true);
  r.getInt("num_mem_blocks", c.numMemBlocks);
  r.getInt("adapter_rank", c.adapterRank);
  r.getInt("chunk_size", c.chunkSize);
  r.getDouble("rms_norm_eps", c.rmsNormEps);
  r.getBool("use_mem_rope", c.useMemRope);
  r.getBool("use_shared_mlp_adapter", c.useSharedMlpAdapter);
  r.getBool("use_shared_attention_adapter", c.useSharedAttentionAdapter);
  r.getBool("add_bias_linear", c.addBiasLinear);
  r.getBool("use_conv_bias", c.useConvBias);
  r.getBool("tie_word_embeddings", c.tieWordEmbeddings);
  r.getDouble("time_step_min", c.timeStepMin);
  r.getDouble("time_step_max", c.timeStepMax);
  r.getDouble("time_step_floor", c.timeStepFloor);
  r.getDouble("initializer_range", c.initializerRange);
  r.getTokenId("bos_token_id", c.bosTokenId);
  r.getTokenId("pad_token_id", c.padTokenId);
  if (!r.ok())
    return false;

  // eos_token_id: an int, null, or a list of ints (generation may stop on
  // several).
  if (const json::Value *v = root.get("eos_token_id")) {
    c.eosTokenIds.clear();
    int64_t id;
    if (v->isNull()) {
      c.eosTokenId = -1;
    } else if (FieldReader::toInt(*v, id)) {
      c.eosTokenId = id;
      c.eosTokenIds = {id};
    } else if (v->isArray() && !v->items().empty()) {
      for (const json::Value &e : v->items()) {
        if (!FieldReader::toInt(e, id))
          return r.failFound("eos_token_id",
                             "an integer, null or a list of integers", v);
        c.eosTokenIds.push_back(id);
      }
      c.eosTokenId = c.eosTokenIds[0];
    } else {
      return r.failFound("eos_token_id",
                         "an integer, null or a list of integers", v);
    }
  }

  if (const json::Value *v = root.get("use_long_context")) {
    if (!v->isBool())
      return r.failFound("use_long_context", "true or false", v);
    // transformers rescales rope_theta for it in a version-dependent way;
    // we do not guess which.
    if (v->asBool() && c.useMemRope)
      return r.fail("use_long_context",
                    "expected false, found true (long-context rotary "
                    "scaling is unsupported)");
  }

  // hidden_act
  if (const json::Value *v = root.get("hidden_act")) {
    if (!v->isString())
      return r.failFound("hidden_act", "a string", v);
    const std::string &a = v->asString();
    if (a == "gelu")
      c.hiddenAct = Activation::Gelu;
    else if (a == "gelu_pytorch_tanh" || a == "gelu_new")
      c.hiddenAct = Activation::GeluTanh;
    else if (a == "silu" || a == "swish")
      c.hiddenAct = Activation::Silu;
    else
      return r.failFound("hidden_act",
                         "\"gelu\", \"gelu_pytorch_tanh\", \"gelu_new\" or "
                         "\"silu\"",
                         v);
  }

  // Rotary base: rope_parameters (transformers 5) or rope_theta (older).
  bool haveTheta = false;
  if (const json::Value *rp = root.get("rope_parameters");
      rp && !rp->isNull()) {
    if (!rp->isObject())
      return r.failFound("rope_parameters", "an object", rp);
    if (const json::Value *t = rp->get("rope_type")) {
      if (!t->isString())
        return r.failFound("rope_parameters.rope_type", "a string", t);
      if (t->asString() != "default")
        return r.failFound("rope_parameters.rope_type",
                           "\"default\" (other rotary scalings are "
                           "unsupported)",
                           t);
    }
    if (const json::Value *t = rp->get("rope_theta")) {
      if (!t->isNumber())
        return r.failFound("rope_parameters.rope_theta", "a number", t);
      c.ropeTheta = t->asDouble();
      haveTheta = true;
    }
  }
  if (const json::Value *t = root.get("rope_theta")) {
    if (!t->isNumber())
      return r.failFound("rope_theta", "a number", t);
    if (haveTheta && t->asDouble() != c.ropeTheta)
      return r.failFound("rope_theta",
                         "the value of rope_parameters.rope_theta (" +
                             json::write(json::Value::number(c.ropeTheta)) +
                             ")",
                         t);
    c.ropeTheta = t->asDouble();
  }

  // time_step_limit: only null or absence mean "no clamp".
  if (const json::Value *v = root.get("time_step_limit"); v && !v->isNull()) {
    if (!v->isArray() || v->items().size() != 2 || !v->items()[0].isNumber() ||
        !v->items()[1].isNumber())
      return r.failFound("time_step_limit", "null or [lo, hi] numbers", v);
    c.hasTimeStepLimit = true;
    c.timeStepLimit[0] = v->items()[0].asDouble();
    c.timeStepLimit[1] = v->items()[1].asDouble();
  }

  // Layer types.
  if (const json::Value *v = root.get("layers_block_type")) {
    if (!v->isArray())
      return r.failFound("layers_block_type", "an array of layer types", v);
    for (size_t i = 0; i < v->items().size(); ++i) {
      const json::Value &e = v->items()[i];
      std::string field = "layers_block_type[" + std::to_string(i) + "]";
      if (e.isString() &&
          (e.asString() == "mamba" || e.asString() == "linear_attention"))
        c.layerKinds.push_back(LayerKind::Mamba);
      else if (e.isString() && e.asString() == "hybrid")
        c.layerKinds.push_back(LayerKind::Hybrid);
      else
        return r.failFound(field,
                           "\"mamba\", \"linear_attention\" or \"hybrid\"", &e);
    }
  } else {
    c.layerKinds = defaultLayerPattern();
    if (c.numLayers != static_cast<int64_t>(c.layerKinds.size()))
      return r.fail("layers_block_type",
                    "expected a list of " + std::to_string(c.numLayers) +
                        " layer types (the default pattern has 54 layers), "
                        "found nothing (missing)");
  }

  if (!finalizeModelConfig(c, file, err))
    return false;

  // Redundant fields transformers writes: they must agree with what we
  // derived, or the file describes some other model.
  if (const json::Value *v = root.get("hybrid_layer_ids")) {
    bool same = v->isArray() && v->items().size() == c.hybridLayers.size();
    for (size_t i = 0; same && i < c.hybridLayers.size(); ++i) {
      int64_t id;
      same = FieldReader::toInt(v->items()[i], id) && id == c.hybridLayers[i];
    }
    if (!same) {
      json::Value want = json::Value::array();
      for (int64_t id : c.hybridLayers)
        want.push(json::Value::integer(id));
      return r.failFound("hybrid_layer_ids",
                         json::write(want) +
                             " (the hybrid positions of layers_block_type)",
                         v);
    }
  }
  struct Derived {
    const char *name;
    int64_t value;
    const char *formula;
  } derived[] = {
      {"mamba_headdim", c.mambaHeadDim,
       "mamba_expand * hidden_size / n_mamba_heads"},
      {"attention_head_dim", c.attentionHeadDim,
       "2 * hidden_size / num_attention_heads"},
      {"kv_channels", c.hiddenSize / c.numAttentionHeads,
       "hidden_size / num_attention_heads"},
      {"attention_hidden_size", c.attentionHidden, "2 * hidden_size"},
  };
  for (const Derived &d : derived) {
    const json::Value *v = root.get(d.name);
    if (!v || v->isNull())
      continue;
    int64_t got;
    if (!FieldReader::toInt(*v, got))
      return r.failFound(d.name, "an integer", v);
    if (got != d.value)
      return r.failFound(d.name,
                         std::to_string(d.value) + " (" + d.formula + ")", v);
  }
  return true;
}

bool parseModelConfigFile(const std::string &path, ModelConfig &cfg,
                          std::string &err) {
  std::FILE *f = std::fopen(path.c_str(), "rb");
  if (!f) {
    err = path + ": cannot open: " + std::strerror(errno);
    return false;
  }
  std::string text;
  char buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof(buf), f)) > 0)
    text.append(buf, got);
  bool bad = std::ferror(f);
  std::fclose(f);
  if (bad) {
    err = path + ": read error";
    return false;
  }
  json::Value root;
  std::string jerr;
  if (!json::parse(text, root, jerr)) {
    err = path + ": invalid JSON: " + jerr;
    return false;
  }
  return parseModelConfig(root, path, cfg, err);
}

json::Value toHuggingFaceJson(const ModelConfig &c) {
  using json::Value;
  Value o = Value::object();
  auto I = [](int64_t v) { return Value::integer(v); };
  auto B = [](bool v) { return Value::boolean(v); };
  auto D = [](double v) { return Value::number(v); };
  auto tok = [](int64_t v) {
    return v < 0 ? Value::null() : Value::integer(v);
  };
  o.set("adapter_rank", I(c.adapterRank));
  o.set("add_bias_linear", B(c.addBiasLinear));
  o.set("architectures", Value::array({Value::string("Zamba2ForCausalLM")}));
  o.set("attention_dropout", D(0.0));
  o.set("attention_head_dim", I(c.attentionHeadDim));
  o.set("attention_hidden_size", I(c.attentionHidden));
  o.set("bos_token_id", tok(c.bosTokenId));
  o.set("chunk_size", I(c.chunkSize));
  if (c.eosTokenIds.size() > 1) {
    Value ids = Value::array();
    for (int64_t id : c.eosTokenIds)
      ids.push(I(id));
    o.set("eos_token_id", std::move(ids));
  } else {
    o.set("eos_token_id", tok(c.eosTokenId));
  }
  o.set("hidden_act", Value::string(activationName(c.hiddenAct)));
  o.set("hidden_size", I(c.hiddenSize));
  Value hyb = Value::array();
  for (int64_t id : c.hybridLayers)
    hyb.push(I(id));
  o.set("hybrid_layer_ids", std::move(hyb));
  o.set("initializer_range", D(c.initializerRange));
  o.set("intermediate_size", I(c.intermediateSize));
  o.set("kv_channels", I(c.hiddenSize / c.numAttentionHeads));
  Value types = Value::array();
  for (LayerKind k : c.layerKinds)
    types.push(Value::string(k == LayerKind::Hybrid ? "hybrid" : "mamba"));
  o.set("layers_block_type", std::move(types));
  o.set("mamba_d_conv", I(c.convKernel));
  o.set("mamba_d_state", I(c.stateSize));
  o.set("mamba_expand", I(c.mambaExpand));
  o.set("mamba_headdim", I(c.mambaHeadDim));
  o.set("mamba_ngroups", I(c.numGroups));
  o.set("max_position_embeddings", I(c.maxPositionEmbeddings));
  o.set("model_type", Value::string("zamba2"));
  o.set("n_mamba_heads", I(c.numMambaHeads));
  o.set("num_attention_heads", I(c.numAttentionHeads));
  o.set("num_hidden_layers", I(c.numLayers));
  o.set("num_key_value_heads", I(c.numKeyValueHeads));
  o.set("num_logits_to_keep", I(1));
  o.set("num_mem_blocks", I(c.numMemBlocks));
  o.set("num_query_groups", I(c.numAttentionHeads));
  o.set("pad_token_id", tok(c.padTokenId));
  o.set("rms_norm_eps", D(c.rmsNormEps));
  Value rope = Value::object();
  rope.set("rope_theta", D(c.ropeTheta));
  rope.set("rope_type", Value::string("default"));
  o.set("rope_parameters", std::move(rope));
  o.set("tie_word_embeddings", B(c.tieWordEmbeddings));
  o.set("time_step_floor", D(c.timeStepFloor));
  if (c.hasTimeStepLimit)
    o.set("time_step_limit",
          Value::array({D(c.timeStepLimit[0]), D(c.timeStepLimit[1])}));
  o.set("time_step_max", D(c.timeStepMax));
  o.set("time_step_min", D(c.timeStepMin));
  o.set("transformers_version", Value::string("5.17.0"));
  o.set("use_cache", B(true));
  o.set("use_conv_bias", B(c.useConvBias));
  o.set("use_long_context", B(false));
  o.set("use_mamba_kernels", B(true));
  o.set("use_mem_eff_path", B(false));
  o.set("use_mem_rope", B(c.useMemRope));
  o.set("use_shared_attention_adapter", B(c.useSharedAttentionAdapter));
  o.set("use_shared_mlp_adapter", B(c.useSharedMlpAdapter));
  o.set("vocab_size", I(c.vocabSize));
  return o;
}

std::string sharedBlockPrefix(const ModelConfig &cfg, int64_t site,
                              const HasTensorFn &hasTensor) {
  auto prefixOf = [](int64_t layer) {
    return "model.layers." + std::to_string(layer) + ".shared_transformer.";
  };
  int64_t layer = cfg.hybridLayers[site];
  if (hasTensor && hasTensor(prefixOf(layer) + "input_layernorm.weight"))
    return prefixOf(layer);
  int64_t block = cfg.blockOfSite(site);
  // Sites use blocks round-robin, so the first site of block b is site b.
  for (int64_t s = 0; s < cfg.numSites(); ++s)
    if (cfg.blockOfSite(s) == block)
      return prefixOf(cfg.hybridLayers[s]);
  return prefixOf(layer);
}

std::vector<ExpectedTensor> expectedShapes(const ModelConfig &c,
                                           const HasTensorFn &hasTensor) {
  std::vector<ExpectedTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), std::move(shape)});
  };
  const int64_t H = c.hiddenSize, I = c.mambaInner, nh = c.numMambaHeads;
  const int64_t Cd = c.convChannels, F = c.intermediateSize;
  const int64_t r = c.adapterRank, H2 = c.attentionHidden;
  const int64_t hd = c.attentionHeadDim;
  auto addMamba = [&](const std::string &p) {
    add(p + "input_layernorm.weight", {H});
    std::string m = p + "mamba.";
    add(m + "in_proj.weight", {c.inProjSize, H});
    if (c.addBiasLinear)
      add(m + "in_proj.bias", {c.inProjSize});
    add(m + "conv1d.weight", {Cd, 1, c.convKernel});
    // transformers builds conv1d with bias=True whatever use_conv_bias says,
    // so every checkpoint it writes has (and uses) this tensor.
    add(m + "conv1d.bias", {Cd});
    add(m + "dt_bias", {nh});
    add(m + "A_log", {nh});
    add(m + "D", {nh});
    add(m + "norm.weight", {I});
    add(m + "out_proj.weight", {H, I});
    if (c.addBiasLinear)
      add(m + "out_proj.bias", {H});
  };

  add("model.embed_tokens.weight", {c.vocabSize, H});
  std::vector<std::string> blocksDone;
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string lp = "model.layers." + std::to_string(i) + ".";
    if (c.layerKinds[i] == LayerKind::Mamba) {
      addMamba(lp);
      continue;
    }
    int64_t s = c.siteOfLayer(i);
    std::string sp = sharedBlockPrefix(c, s, hasTensor);
    bool seen = false;
    for (const std::string &b : blocksDone)
      seen = seen || b == sp;
    if (!seen) {
      blocksDone.push_back(sp);
      add(sp + "input_layernorm.weight", {H2});
      add(sp + "pre_ff_layernorm.weight", {H});
      add(sp + "self_attn.q_proj.weight", {c.numAttentionHeads * hd, H2});
      add(sp + "self_attn.k_proj.weight", {c.numKeyValueHeads * hd, H2});
      add(sp + "self_attn.v_proj.weight", {c.numKeyValueHeads * hd, H2});
      add(sp + "self_attn.o_proj.weight", {H, c.numAttentionHeads * hd});
      add(sp + "feed_forward.gate_up_proj.weight", {2 * F, H});
      if (c.addBiasLinear)
        add(sp + "feed_forward.gate_up_proj.bias", {2 * F});
      add(sp + "feed_forward.down_proj.weight", {H, F});
      if (c.addBiasLinear)
        add(sp + "feed_forward.down_proj.bias", {H});
    }
    std::string ss = std::to_string(s);
    if (c.useSharedMlpAdapter) {
      std::string a = sp + "feed_forward.gate_up_proj_adapter_list." + ss;
      add(a + ".0.weight", {r, H});
      add(a + ".1.weight", {2 * F, r});
    }
    if (c.useSharedAttentionAdapter) {
      for (const char *qkv : {"q", "k", "v"}) {
        std::string a = sp + "self_attn.linear_" + qkv + "_adapter_list." + ss;
        add(a + ".0.weight", {r, H2});
        add(a + ".1.weight", {H2, r});
      }
    }
    add(lp + "linear.weight", {H, H});
    addMamba(lp + "mamba_decoder.");
  }
  add("model.final_layernorm.weight", {H});
  if (!c.tieWordEmbeddings)
    add("lm_head.weight", {c.vocabSize, H});
  return out;
}

bool validateCheckpoint(const ModelConfig &cfg, const Checkpoint &ck,
                        std::string &err) {
  HasTensorFn has = [&](const std::string &n) { return ck.has(n); };
  for (const ExpectedTensor &e : expectedShapes(cfg, has)) {
    const TensorInfo *t = ck.find(e.name);
    if (!t) {
      err = ck.weightsPath() + ": tensor '" + e.name + "' is missing";
      return false;
    }
    if (t->shape != e.shape) {
      err = *t->file + ": tensor '" + e.name + "': expected shape " +
            formatShape(e.shape) + ", found " + formatShape(t->shape);
      return false;
    }
    if (!isWeightDType(t->dtype)) {
      err = *t->file + ": tensor '" + e.name +
            "': expected dtype F32, F16 or BF16, found " + dtypeName(t->dtype);
      return false;
    }
  }
  return true;
}

} // namespace zamba2

std::unique_ptr<zamba2::Checkpoint>
zamba2::openValidatedCheckpoint(const std::string &dir, ModelConfig &cfg,
                                std::string &err) {
  if (!parseModelConfigFile(dir + "/config.json", cfg, err))
    return nullptr;
  std::unique_ptr<Checkpoint> ck = Checkpoint::open(dir, err);
  if (!ck || !validateCheckpoint(cfg, *ck, err))
    return nullptr;
  return ck;
}

std::string zamba2::describeCheckpoint(const std::string &dir,
                                       const ModelConfig &cfg,
                                       const Checkpoint &ck) {
  std::map<std::string, uint64_t> dtypeCount;
  for (const TensorInfo *t : ck.tensors())
    dtypeCount[dtypeName(t->dtype)] += 1;
  std::string dtypes;
  for (const auto &entry : dtypeCount)
    dtypes += (dtypes.empty() ? "" : "+") + entry.first;
  char line[512];
  std::snprintf(
      line, sizeof(line),
      "%s: zamba2, %lld layers, %lld hybrid sites, %lld shared "
      "blocks, H %lld, V %lld, %llu parameters, %llu tensors, %llu "
      "bytes (%s), %zu file(s)",
      dir.c_str(), (long long)cfg.numLayers, (long long)cfg.numSites(),
      (long long)cfg.numMemBlocks, (long long)cfg.hiddenSize,
      (long long)cfg.vocabSize, (unsigned long long)cfg.parameterCount(),
      (unsigned long long)ck.tensors().size(),
      (unsigned long long)ck.totalBytes(), dtypes.c_str(), ck.shards().size());
  return line;
}
