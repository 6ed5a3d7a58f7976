//===- ModelConfigTest.cpp - config.json parsing, expected weights --------===//
#include "runtime/format/ModelConfig.h"
#include "runtime/format/Safetensors.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

using namespace zamba2;

namespace {

std::string fixture(const std::string &name) {
  return std::string(ZAMBA2_FIXTURES_DIR) + "/" + name;
}

json::Value loadJson(const std::string &path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  json::Value v;
  std::string err;
  EXPECT_TRUE(json::parse(ss.str(), v, err)) << err;
  return v;
}

/// Parses the tiny-lora-rope config with `edit` applied; returns the error.
template <typename Edit> std::string configError(Edit edit) {
  json::Value root = loadJson(fixture("tiny-lora-rope/config.json"));
  edit(root);
  ModelConfig cfg;
  std::string err;
  EXPECT_FALSE(parseModelConfig(root, "c.json", cfg, err));
  return err;
}

void removeField(json::Value &o, const std::string &key) {
  auto &m = o.members();
  for (size_t i = 0; i < m.size(); ++i)
    if (m[i].first == key) {
      m.erase(m.begin() + i);
      return;
    }
}

TEST(ModelConfig, TinyLoraRope) {
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(
      parseModelConfigFile(fixture("tiny-lora-rope/config.json"), c, err))
      << err;
  EXPECT_EQ(c.vocabSize, 512);
  EXPECT_EQ(c.hiddenSize, 64);
  EXPECT_EQ(c.numLayers, 6);
  EXPECT_EQ(c.hybridLayers, (std::vector<int64_t>{1, 4}));
  EXPECT_EQ(c.mambaInner, 128); // 2 * 64
  EXPECT_EQ(c.stateSize, 16);
  EXPECT_EQ(c.numGroups, 1);
  EXPECT_EQ(c.numMambaHeads, 4);
  EXPECT_EQ(c.mambaHeadDim, 32); // 128 / 4
  EXPECT_EQ(c.convKernel, 4);
  EXPECT_EQ(c.convChannels, 160); // 128 + 2*1*16
  EXPECT_EQ(c.inProjSize, 292);   // 128 + 160 + 4
  EXPECT_EQ(c.numAttentionHeads, 4);
  EXPECT_EQ(c.numKeyValueHeads, 4);
  EXPECT_EQ(c.attentionHeadDim, 32); // 128 / 4
  EXPECT_EQ(c.intermediateSize, 128);
  EXPECT_EQ(c.numMemBlocks, 1);
  EXPECT_EQ(c.adapterRank, 8);
  EXPECT_DOUBLE_EQ(c.rmsNormEps, 1e-5);
  EXPECT_DOUBLE_EQ(c.ropeTheta, 10000);
  EXPECT_TRUE(c.useMemRope);
  EXPECT_TRUE(c.useSharedMlpAdapter);
  EXPECT_TRUE(c.useSharedAttentionAdapter);
  EXPECT_FALSE(c.addBiasLinear);
  EXPECT_TRUE(c.useConvBias);
  EXPECT_TRUE(c.tieWordEmbeddings);
  EXPECT_EQ(c.hiddenAct, Activation::Gelu);
  EXPECT_FALSE(c.hasTimeStepLimit);
  EXPECT_EQ(c.chunkSize, 8);
  EXPECT_EQ(c.bosTokenId, 1);
  EXPECT_EQ(c.eosTokenId, 2);
  EXPECT_EQ(c.padTokenId, 0);
  EXPECT_EQ(c.maxPositionEmbeddings, 256);
  EXPECT_EQ(c.siteOfLayer(4), 1);
  EXPECT_EQ(c.siteOfLayer(3), -1);
  EXPECT_EQ(c.parameterCount(), 307848u); // sum over the fixture's tensors
}

TEST(ModelConfig, TinyTwoBlocks) {
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(
      parseModelConfigFile(fixture("tiny-two-blocks/config.json"), c, err))
      << err;
  EXPECT_EQ(c.hybridLayers, (std::vector<int64_t>{1, 3, 6}));
  EXPECT_EQ(c.numGroups, 2);
  EXPECT_EQ(c.numMambaHeads, 8);
  EXPECT_EQ(c.mambaHeadDim, 16);     // 128 / 8
  EXPECT_EQ(c.convChannels, 192);    // 128 + 2*2*16
  EXPECT_EQ(c.inProjSize, 328);      // 128 + 192 + 8
  EXPECT_EQ(c.attentionHeadDim, 16); // 128 / 8
  EXPECT_EQ(c.intermediateSize, 96);
  EXPECT_EQ(c.numMemBlocks, 2);
  EXPECT_EQ(c.adapterRank, 4);
  EXPECT_FALSE(c.useMemRope);
  EXPECT_FALSE(c.useSharedAttentionAdapter);
  EXPECT_EQ(c.blockOfSite(2), 0);
  EXPECT_EQ(c.blockOfSite(1), 1);
  EXPECT_EQ(sharedBlockPrefix(c, 0), "model.layers.1.shared_transformer.");
  EXPECT_EQ(sharedBlockPrefix(c, 1), "model.layers.3.shared_transformer.");
  EXPECT_EQ(sharedBlockPrefix(c, 2), "model.layers.1.shared_transformer.");
  // Own-prefix rule: a layer's own copy wins.
  HasTensorFn own = [](const std::string &n) {
    return n == "model.layers.6.shared_transformer.input_layernorm.weight";
  };
  EXPECT_EQ(sharedBlockPrefix(c, 2, own), "model.layers.6.shared_transformer.");
  EXPECT_EQ(c.parameterCount(), 443008u);
}

TEST(ModelConfig, ExpectedShapesMatchFixtures) {
  for (const char *name : {"tiny-lora-rope", "tiny-two-blocks"}) {
    ModelConfig c;
    std::string err;
    ASSERT_TRUE(parseModelConfigFile(fixture(name) + "/config.json", c, err));
    auto ck = Checkpoint::open(fixture(name), err);
    ASSERT_NE(ck, nullptr) << err;
    EXPECT_TRUE(validateCheckpoint(c, *ck, err)) << err;
    // The fixtures hold exactly the expected tensors.
    std::set<std::string> expected;
    for (const ExpectedTensor &t : expectedShapes(c))
      expected.insert(t.name);
    std::set<std::string> present;
    for (const TensorInfo *t : ck->tensors())
      present.insert(t->name);
    EXPECT_EQ(expected, present) << name;
  }
}

TEST(ModelConfig, ExpectedShapesFlags) {
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(
      parseModelConfigFile(fixture("tiny-two-blocks/config.json"), c, err));
  c.addBiasLinear = true;
  c.tieWordEmbeddings = false;
  std::map<std::string, std::vector<int64_t>> m;
  for (const ExpectedTensor &t : expectedShapes(c))
    m[t.name] = t.shape;
  EXPECT_EQ(m["lm_head.weight"], (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(m["model.layers.0.mamba.in_proj.bias"],
            (std::vector<int64_t>{328}));
  EXPECT_EQ(m["model.layers.0.mamba.out_proj.bias"],
            (std::vector<int64_t>{64}));
  EXPECT_EQ(m["model.layers.3.shared_transformer.feed_forward.gate_up_proj."
              "bias"],
            (std::vector<int64_t>{192}));
  EXPECT_EQ(m.count("model.layers.1.shared_transformer.self_attn.q_proj.bias"),
            0u); // attention linears never have biases in transformers
}

TEST(ModelConfig, Presets) {
  struct {
    const char *name;
    uint64_t params;
  } presets[] = {
      {"1.2b", 1215064704ull}, {"2.7b", 2662214560ull}, {"tiny", 307848ull}};
  for (const auto &p : presets) {
    ModelConfig c;
    std::string err;
    ASSERT_TRUE(presetModelConfig(p.name, c));
    ASSERT_TRUE(finalizeModelConfig(c, p.name, err)) << err;
    EXPECT_EQ(c.parameterCount(), p.params) << p.name;
  }
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(presetModelConfig("1.2b", c));
  ASSERT_TRUE(finalizeModelConfig(c, "1.2b", err));
  EXPECT_EQ(c.hybridLayers, (std::vector<int64_t>{5, 11, 17, 23, 29, 35}));
  ASSERT_TRUE(presetModelConfig("2.7b", c));
  ASSERT_TRUE(finalizeModelConfig(c, "2.7b", err));
  EXPECT_EQ(c.hybridLayers,
            (std::vector<int64_t>{6, 12, 18, 24, 30, 36, 42, 47, 51}));
  ASSERT_TRUE(presetModelConfig("7b", c));
  ASSERT_TRUE(finalizeModelConfig(c, "7b", err)) << err;
  EXPECT_FALSE(presetModelConfig("13b", c));
}

TEST(ModelConfig, HuggingFaceJsonRoundTrip) {
  for (const char *name : {"tiny-lora-rope", "tiny-two-blocks"}) {
    ModelConfig a, b;
    std::string err;
    ASSERT_TRUE(parseModelConfigFile(fixture(name) + "/config.json", a, err));
    json::Value j = toHuggingFaceJson(a);
    EXPECT_EQ(j.get("model_type")->asString(), "zamba2");
    EXPECT_EQ(j.get("layers_block_type")->items()[0].asString(), "mamba");
    ASSERT_TRUE(parseModelConfig(j, "out.json", b, err)) << err;
    EXPECT_EQ(json::write(toHuggingFaceJson(b)), json::write(j));
    EXPECT_EQ(b.parameterCount(), a.parameterCount());
  }
}

TEST(ModelConfig, Defaults) {
  json::Value root = json::Value::object();
  root.set("hidden_size", json::Value::integer(64));
  root.set("vocab_size", json::Value::integer(100));
  root.set("num_hidden_layers", json::Value::integer(54));
  root.set("num_attention_heads", json::Value::integer(8));
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(parseModelConfig(root, "d.json", c, err)) << err;
  EXPECT_EQ(c.intermediateSize, 256);   // 4 * hidden_size
  EXPECT_EQ(c.numKeyValueHeads, 8);     // = num_attention_heads
  EXPECT_EQ(c.hybridLayers.size(), 9u); // default 54-layer pattern
  EXPECT_EQ(c.stateSize, 64);
  EXPECT_EQ(c.numMambaHeads, 8);
  EXPECT_EQ(c.chunkSize, 256);
  root.set("rope_theta", json::Value::number(5e5));
  root.set("time_step_limit", json::Value::array({json::Value::number(0.0),
                                                  json::Value::number(2.5)}));
  root.set("hidden_act", json::Value::string("gelu_pytorch_tanh"));
  root.set("eos_token_id", json::Value::array({json::Value::integer(2),
                                               json::Value::integer(7)}));
  root.set("intermediate_size", json::Value::null());
  ASSERT_TRUE(parseModelConfig(root, "d.json", c, err)) << err;
  EXPECT_DOUBLE_EQ(c.ropeTheta, 5e5);
  EXPECT_TRUE(c.hasTimeStepLimit);
  EXPECT_DOUBLE_EQ(c.timeStepLimit[1], 2.5);
  EXPECT_EQ(c.hiddenAct, Activation::GeluTanh);
  EXPECT_EQ(c.eosTokenIds, (std::vector<int64_t>{2, 7}));
  EXPECT_EQ(c.intermediateSize, 256);
  root.set("time_step_limit", json::Value::null());
  ASSERT_TRUE(parseModelConfig(root, "d.json", c, err)) << err;
  EXPECT_FALSE(c.hasTimeStepLimit);
}

TEST(ModelConfig, Errors) {
  using json::Value;
  EXPECT_EQ(configError([](Value &r) { removeField(r, "hidden_size"); }),
            "c.json: field 'hidden_size': expected an integer, found nothing "
            "(missing)");
  EXPECT_EQ(
      configError([](Value &r) { r.set("hidden_size", Value::string("64")); }),
      "c.json: field 'hidden_size': expected an integer, found string "
      "\"64\"");
  EXPECT_EQ(configError(
                [](Value &r) { r.set("mamba_d_state", Value::number(16.5)); }),
            "c.json: field 'mamba_d_state': expected an integer, found 16.5");
  EXPECT_EQ(configError([](Value &r) {
              r.set("num_attention_heads", Value::integer(5));
              removeField(r, "num_key_value_heads");
            }),
            "c.json: field 'num_attention_heads': expected a divisor of 2 * "
            "hidden_size = 128, found 5");
  EXPECT_EQ(
      configError([](Value &r) { r.set("n_mamba_heads", Value::integer(3)); }),
      "c.json: field 'n_mamba_heads': expected a divisor of "
      "mamba_expand * hidden_size = 128, found 3");
  EXPECT_EQ(
      configError([](Value &r) { r.set("mamba_ngroups", Value::integer(3)); }),
      "c.json: field 'mamba_ngroups': expected a divisor of "
      "n_mamba_heads = 4, found 3");
  EXPECT_EQ(configError([](Value &r) {
              r.set("num_key_value_heads", Value::integer(3));
            }),
            "c.json: field 'num_key_value_heads': expected a divisor of "
            "num_attention_heads = 4, found 3");
  EXPECT_EQ(
      configError([](Value &r) { r.set("mamba_headdim", Value::integer(16)); }),
      "c.json: field 'mamba_headdim': expected 32 (mamba_expand * "
      "hidden_size / n_mamba_heads), found 16");
  EXPECT_NE(configError([](Value &r) {
              r.set("attention_head_dim", Value::integer(16));
            }).find("field 'attention_head_dim': expected 32"),
            std::string::npos);
  EXPECT_NE(configError([](Value &r) {
              r.set("kv_channels", Value::integer(32));
            }).find("field 'kv_channels': expected 16"),
            std::string::npos);
  EXPECT_NE(configError([](Value &r) {
              r.set("attention_hidden_size", Value::integer(64));
            }).find("field 'attention_hidden_size': expected 128"),
            std::string::npos);
  EXPECT_EQ(
      configError([](Value &r) { r.set("mamba_d_conv", Value::integer(1)); }),
      "c.json: field 'mamba_d_conv': expected an integer >= 2, found 1");
  EXPECT_EQ(
      configError([](Value &r) { r.set("vocab_size", Value::integer(0)); }),
      "c.json: field 'vocab_size': expected a positive integer, found 0");
  EXPECT_EQ(
      configError([](Value &r) { r.set("hidden_act", Value::string("relu")); }),
      "c.json: field 'hidden_act': expected \"gelu\", "
      "\"gelu_pytorch_tanh\", \"gelu_new\" or \"silu\", found string "
      "\"relu\"");
  EXPECT_EQ(configError([](Value &r) {
              Value &t =
                  r.set("layers_block_type", *r.get("layers_block_type"));
              t.items()[2] = Value::string("attention");
            }),
            "c.json: field 'layers_block_type[2]': expected \"mamba\", "
            "\"linear_attention\" or \"hybrid\", found string \"attention\"");
  EXPECT_EQ(configError([](Value &r) {
              r.set("num_hidden_layers", Value::integer(7));
            }),
            "c.json: field 'num_hidden_layers': expected 6 (the length of "
            "layers_block_type), found 7");
  EXPECT_EQ(configError([](Value &r) {
              r.set("hybrid_layer_ids",
                    Value::array({Value::integer(1), Value::integer(3)}));
            }),
            "c.json: field 'hybrid_layer_ids': expected [1, 4] (the hybrid "
            "positions of layers_block_type), found array [1, 3]");
  EXPECT_EQ(configError([](Value &r) { removeField(r, "layers_block_type"); }),
            "c.json: field 'layers_block_type': expected a list of 6 layer "
            "types (the default pattern has 54 layers), found nothing "
            "(missing)");
  EXPECT_NE(configError([](Value &r) {
              Value rp = Value::object();
              rp.set("rope_type", Value::string("yarn"));
              r.set("rope_parameters", rp);
            }).find("field 'rope_parameters.rope_type': expected \"default\""),
            std::string::npos);
  EXPECT_NE(
      configError([](Value &r) { r.set("rope_theta", Value::number(500.0)); })
          .find("field 'rope_theta': expected the value of "
                "rope_parameters.rope_theta"),
      std::string::npos);
  EXPECT_NE(configError([](Value &r) {
              r.set("time_step_limit", Value::array({Value::number(1.0)}));
            }).find("field 'time_step_limit': expected null or [lo, hi]"),
            std::string::npos);
  EXPECT_NE(configError([](Value &r) {
              r.set("use_mem_rope", Value::integer(1));
            }).find("field 'use_mem_rope': expected true or false, found 1"),
            std::string::npos);
  EXPECT_NE(configError([](Value &r) {
              r.set("model_type", Value::string("llama"));
            }).find("field 'model_type'"),
            std::string::npos);
  EXPECT_NE(configError([](Value &r) {
              r.set("hidden_size", Value::integer(int64_t(1) << 40));
            }).find("field 'hidden_size': expected at most"),
            std::string::npos);
  // Attention adapters are 2H wide in transformers: no GQA with them.
  EXPECT_NE(configError([](Value &r) {
              r.set("num_key_value_heads", Value::integer(2));
            }).find("with use_shared_attention_adapter"),
            std::string::npos);
  ModelConfig c;
  std::string err;
  EXPECT_FALSE(parseModelConfigFile("/nonexistent/config.json", c, err));
  EXPECT_NE(err.find("/nonexistent/config.json: cannot open"),
            std::string::npos);
  EXPECT_FALSE(parseModelConfig(json::Value::array(), "a.json", c, err));
  EXPECT_EQ(err, "a.json: expected a JSON object, found array");
  // An integral float is accepted for an int (Python may write 64.0).
  json::Value root = loadJson(fixture("tiny-lora-rope/config.json"));
  root.set("hidden_size", json::Value::number(64.0));
  EXPECT_TRUE(parseModelConfig(root, "c.json", c, err)) << err;
}

TEST(ModelConfig, ValidateCheckpointErrors) {
  // A checkpoint missing one tensor and with one wrong shape, built with the
  // writer from the tiny preset.
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(presetModelConfig("tiny", c));
  ASSERT_TRUE(finalizeModelConfig(c, "tiny", err));
  char buf[] = "/tmp/zamba2-validate-XXXXXX";
  std::string dir = mkdtemp(buf);
  auto build = [&](const std::string &skip, const std::string &reshape,
                   DType dt) {
    SafetensorsWriter w(dir + "/model.safetensors");
    std::vector<ExpectedTensor> ts = expectedShapes(c);
    uint64_t total = 0;
    for (ExpectedTensor t : ts) {
      if (t.name == skip)
        continue;
      if (t.name == reshape)
        t.shape.push_back(1);
      ASSERT_TRUE(w.addTensor(t.name, dt, t.shape, err));
      uint64_t n = dtypeSize(dt);
      for (int64_t d : t.shape)
        n *= d;
      total += n;
    }
    ASSERT_TRUE(w.begin(err));
    std::vector<char> zeros(total);
    ASSERT_TRUE(w.write(zeros.data(), total, err));
    ASSERT_TRUE(w.finish(err)) << err;
  };
  std::string path = dir + "/model.safetensors";
  build("model.layers.2.mamba.D", "", DType::F32);
  auto ck = Checkpoint::open(dir, err);
  ASSERT_NE(ck, nullptr);
  EXPECT_FALSE(validateCheckpoint(c, *ck, err));
  EXPECT_EQ(err, path + ": tensor 'model.layers.2.mamba.D' is missing");
  ck.reset();
  build("", "model.layers.1.linear.weight", DType::BF16);
  ck = Checkpoint::open(dir, err);
  ASSERT_NE(ck, nullptr);
  EXPECT_FALSE(validateCheckpoint(c, *ck, err));
  EXPECT_EQ(err, path + ": tensor 'model.layers.1.linear.weight': expected "
                        "shape [64, 64], found [64, 64, 1]");
  ck.reset();
  build("", "", DType::I32);
  ck = Checkpoint::open(dir, err);
  ASSERT_NE(ck, nullptr);
  EXPECT_FALSE(validateCheckpoint(c, *ck, err));
  EXPECT_NE(err.find("expected dtype F32, F16 or BF16, found I32"),
            std::string::npos);
  ck.reset();
  unlink(path.c_str());
  rmdir(dir.c_str());
}

} // namespace
