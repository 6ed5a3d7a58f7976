//===- ManifestTest.cpp - manifest.json parsing ---------------------------===//
#include "FakePackage.h"

#include "runtime/engine/Manifest.h"

#include <gtest/gtest.h>

using namespace zamba2;
using namespace zamba2::test;

namespace {

/// Parses the fake manifest after `edit`; returns the error ("" when ok).
std::string parseEdited(const std::function<void(json::Value &)> &edit,
                        PackageManifest *out = nullptr) {
  json::Value m = fakeManifest({});
  edit(m);
  PackageManifest pm;
  Status s = parseManifest(m, "P/manifest.json", pm);
  if (out)
    *out = pm;
  return s.message();
}

json::Value &member(json::Value &obj, const char *key) {
  return const_cast<json::Value &>(*obj.get(key));
}

TEST(Manifest, FakeManifestParses) {
  PackageManifest m;
  ASSERT_EQ(parseEdited([](json::Value &) {}, &m), "");
  EXPECT_EQ(m.format, "zamba2c-package");
  EXPECT_EQ(m.formatVersion, 1);
  EXPECT_EQ(m.targetKind, "cpu");
  EXPECT_EQ(m.library, "model.so");
  EXPECT_EQ(m.prefillSymbol, "zamba2_prefill");
  EXPECT_EQ(m.decodeSymbol, "zamba2_decode");
  EXPECT_EQ(m.vocabSize, 16);
  EXPECT_EQ(m.hybridLayerIds, std::vector<int64_t>{1});
  EXPECT_EQ(m.eosTokenIds, std::vector<int64_t>{2});
  EXPECT_EQ(m.weightsFile, "weights.bin");
  EXPECT_EQ(m.weightsBytes, 128u);
  EXPECT_EQ(m.weightsAlignment, 64u);
  ASSERT_EQ(m.weights.size(), 1u);
  EXPECT_EQ(m.weights[0].shape, std::vector<int64_t>{32});
  ASSERT_EQ(m.state.size(), 3u);
  EXPECT_EQ(m.state[0].elementSize, 4u);
  EXPECT_EQ(m.state[0].shape[0].kind, StateDim::Kind::Batch);
  EXPECT_EQ(m.state[0].shape[1].size, 4);
  EXPECT_TRUE(m.config.isObject());
}

TEST(Manifest, TokenIds) {
  PackageManifest m;
  // Null and negative ids mean none; eos_token_ids (a list) wins.
  ASSERT_EQ(parseEdited(
                [](json::Value &m) {
                  json::Value &model = member(m, "model");
                  model.set("bos_token_id", json::Value::null());
                  model.set("pad_token_id", json::Value::integer(-1));
                  json::Value ids = json::Value::array();
                  ids.push(json::Value::integer(7));
                  ids.push(json::Value::integer(9));
                  model.set("eos_token_ids", ids);
                },
                &m),
            "");
  EXPECT_EQ(m.bosTokenId, -1);
  EXPECT_EQ(m.padTokenId, -1);
  EXPECT_EQ(m.eosTokenId, 7);
  EXPECT_EQ(m.eosTokenIds, (std::vector<int64_t>{7, 9}));
  // eos_token_id as a list, as config.json may have it.
  ASSERT_EQ(parseEdited(
                [](json::Value &m) {
                  json::Value ids = json::Value::array();
                  ids.push(json::Value::integer(4));
                  ids.push(json::Value::integer(5));
                  member(m, "model").set("eos_token_id", ids);
                },
                &m),
            "");
  EXPECT_EQ(m.eosTokenIds, (std::vector<int64_t>{4, 5}));
  ASSERT_EQ(parseEdited(
                [](json::Value &m) {
                  member(m, "model").set("eos_token_id", json::Value::null());
                },
                &m),
            "");
  EXPECT_EQ(m.eosTokenId, -1);
  EXPECT_EQ(
      parseEdited([](json::Value &m) {
        member(m, "model").set("eos_token_id", json::Value::string("</s>"));
      }),
      "P/manifest.json: field 'model.eos_token_id': expected an "
      "integer, found string '</s>'");
}

TEST(Manifest, WeightDTypeEitherCase) {
  PackageManifest m;
  EXPECT_EQ(parseEdited(
                [](json::Value &m) {
                  json::Value &t = member(member(m, "weights"), "tensors");
                  t.items()[0].set("dtype", json::Value::string("F32"));
                },
                &m),
            "");
  EXPECT_EQ(parseEdited([](json::Value &m) {
              json::Value &t = member(member(m, "weights"), "tensors");
              t.items()[0].set("dtype", json::Value::string("BF16"));
            }),
            "P/manifest.json: field 'weights.tensors[0].bytes': tensor 'w': "
            "128 bytes, but BF16 of that shape is 64");
}

TEST(Manifest, FieldErrors) {
  struct Case {
    std::function<void(json::Value &)> edit;
    std::string error;
  };
  std::vector<Case> cases = {
      {[](json::Value &m) { m.set("target", json::Value::integer(3)); },
       "field 'target': expected an object, found integer 3"},
      {[](json::Value &m) {
         json::Value f = json::Value::array();
         f.push(json::Value::integer(1));
         member(m, "target").set("features", f);
       },
       "field 'target.features[0]': expected a feature name (string), found "
       "integer 1"},
      {[](json::Value &m) { m.set("library", json::Value::string("../x.so")); },
       "field 'library': expected a file name inside the package, found "
       "'../x.so'"},
      {[](json::Value &m) {
         member(m, "entry_points").set("prefill", json::Value::string(""));
       },
       "field 'entry_points.prefill': expected a non-empty string, found "
       "string ''"},
      {[](json::Value &m) {
         member(m, "model").set("vocab_size", json::Value::integer(0));
       },
       "field 'model.vocab_size': expected a positive integer, found integer "
       "0"},
      {[](json::Value &m) {
         member(m, "weights").set("alignment", json::Value::integer(48));
       },
       "field 'weights.alignment': expected a power of two, found 48"},
      {[](json::Value &m) {
         json::Value &t = member(member(m, "weights"), "tensors");
         t.items()[0].set("offset", json::Value::integer(32));
       },
       "field 'weights.tensors[0].offset': tensor 'w': offset 32 is not a "
       "multiple of weights.alignment 64"},
      {[](json::Value &m) {
         json::Value &t = member(member(m, "weights"), "tensors");
         t.items()[0].set("offset", json::Value::integer(64));
       },
       "field 'weights.tensors[0]': tensor 'w': bytes [64, 192) run past "
       "weights.bytes 128"},
      {[](json::Value &m) {
         member(m, "state").items()[1].set("dtype", json::Value::string("i8"));
       },
       "field 'state[1].dtype': state 'ssm': dtype 'i8' is not f32, bf16 or "
       "f16"},
      {[](json::Value &m) {
         member(m, "state").items()[1].set("name", json::Value::string("conv"));
       },
       "field 'state[1].name': duplicate state name 'conv'"},
      {[](json::Value &m) {
         json::Value shape = json::Value::array();
         shape.push(json::Value::string("batch"));
         shape.push(json::Value::string("heads"));
         member(m, "state").items()[1].set("shape", shape);
       },
       "field 'state[1].shape[1]': expected a positive integer, found string "
       "'heads'"},
      {[](json::Value &m) {
         json::Value shape = json::Value::array();
         shape.push(json::Value::string("batch"));
         shape.push(json::Value::string("batch"));
         member(m, "state").items()[1].set("shape", shape);
       },
       "field 'state[1].shape[1]': state 'ssm': \"batch\" may only be the "
       "first dimension, found string 'batch'"},
      {[](json::Value &m) {
         member(m, "state").items()[0].set("shape", json::Value::array());
       },
       "field 'state[0].shape': state 'conv': expected at least one "
       "dimension"},
  };
  for (const Case &c : cases) {
    std::string err = parseEdited(c.edit);
    EXPECT_EQ(err.rfind("P/manifest.json: ", 0), 0u) << err;
    EXPECT_NE(err.find(c.error), std::string::npos)
        << "got:      " << err << "\nexpected: " << c.error;
  }
}

TEST(Manifest, CudaManifestHasTheLibraryFieldsAndAGpu) {
  // A CUDA package's model.so holds the host code: the same fields as a CPU
  // package, plus target.gpu.
  PackageManifest m;
  EXPECT_EQ(parseEdited(
                [](json::Value &m) {
                  member(m, "target").set("kind", json::Value::string("cuda"));
                  member(m, "target").set("gpu", json::Value::string("sm_90"));
                },
                &m),
            "");
  EXPECT_EQ(m.targetKind, "cuda");
  EXPECT_EQ(m.targetGpu, "sm_90");
  EXPECT_FALSE(m.dependentLaunch); // absent: launched plainly
  EXPECT_EQ(parseEdited(
                [](json::Value &m) {
                  member(m, "target").set("kind", json::Value::string("cuda"));
                  member(m, "target")
                      .set("dependent_launch", json::Value::boolean(true));
                },
                &m),
            "");
  EXPECT_TRUE(m.dependentLaunch);
  EXPECT_EQ(
      parseEdited([](json::Value &m) {
        member(m, "target").set("dependent_launch", json::Value::string("yes"));
      }),
      "P/manifest.json: field 'target.dependent_launch': expected true "
      "or false, found string 'yes'");
  EXPECT_NE(parseEdited([](json::Value &m) {
              member(m, "target").set("kind", json::Value::string("cuda"));
              m.set("library", json::Value::integer(0));
            }),
            "");
}

TEST(Manifest, Tokenizer) {
  PackageManifest m;
  // Absent (older packages, checkpoints without tokenizer.json): none.
  ASSERT_EQ(parseEdited([](json::Value &) {}, &m), "");
  EXPECT_EQ(m.tokenizer, "");
  // Null: none.
  ASSERT_EQ(
      parseEdited(
          [](json::Value &m) { m.set("tokenizer", json::Value::null()); }, &m),
      "");
  EXPECT_EQ(m.tokenizer, "");
  // A file name inside the package.
  ASSERT_EQ(parseEdited(
                [](json::Value &m) {
                  m.set("tokenizer", json::Value::string("tokenizer.json"));
                },
                &m),
            "");
  EXPECT_EQ(m.tokenizer, "tokenizer.json");
  // Read whatever the target: it does not depend on it.
  ASSERT_EQ(parseEdited(
                [](json::Value &m) {
                  member(m, "target").set("kind", json::Value::string("cuda"));
                  m.set("tokenizer", json::Value::string("tok.json"));
                },
                &m),
            "");
  EXPECT_EQ(m.tokenizer, "tok.json");

  const std::string expected = "P/manifest.json: field 'tokenizer': expected "
                               "a file name inside the package (a non-empty "
                               "string without '/') or null, found ";
  struct Case {
    json::Value value;
    std::string found;
  };
  std::vector<Case> cases = {
      {json::Value::string(""), "string ''"},
      {json::Value::integer(1), "integer 1"},
      {json::Value::boolean(true), "true"},
      {json::Value::object(), "object"},
      {json::Value::string("../tokenizer.json"), "'../tokenizer.json'"},
      {json::Value::string("/abs/tokenizer.json"), "'/abs/tokenizer.json'"},
      {json::Value::string("sub/tokenizer.json"), "'sub/tokenizer.json'"},
      {json::Value::string(".."), "'..'"},
  };
  for (const Case &c : cases) {
    EXPECT_EQ(
        parseEdited([&](json::Value &m) { m.set("tokenizer", c.value); }, &m),
        expected + c.found);
    EXPECT_EQ(m.tokenizer, "");
  }
}

TEST(Manifest, RootNotObject) {
  PackageManifest m;
  Status s = parseManifest(json::Value::array(), "P/manifest.json", m);
  EXPECT_EQ(s.message(),
            "P/manifest.json: field '(root)': expected an object, found array");
}

} // namespace
