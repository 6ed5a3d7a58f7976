//===- PackQuantTest.cpp - quantized parts in weights.bin and back ------===//
#include "FakePackage.h"

#include "runtime/engine/Manifest.h"
#include "runtime/pack/WeightPack.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>

using namespace zamba2;
using namespace zamba2::test;

namespace {

/// A checkpoint directory with W [2, 8] f32, W2 [2, 8] bf16 and b [2] f32.
struct TinyCheckpoint {
  std::string dir = makeTempDir();
  std::vector<float> w = {0.5f, 1.5f, 2.5f, -2.5f, 7, -7, 3.5f, 0,
                          1,    -1,   0,    0,     0, 0,  0,    0.25f};
  std::vector<float> w2 = {1, 2, 3, 4, 5, 6, 7, 14, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<float> b = {0.125f, -3};
  TinyCheckpoint() {
    SafetensorsWriter out(dir + "/model.safetensors");
    std::string err;
    std::vector<uint16_t> w2bf;
    for (float v : w2)
      w2bf.push_back(f32ToBf16(v));
    EXPECT_TRUE(out.addTensor("W", DType::F32, {2, 8}, err) &&
                out.addTensor("W2", DType::BF16, {2, 8}, err) &&
                out.addTensor("b", DType::F32, {2}, err) && out.begin(err) &&
                out.write(w.data(), w.size() * 4, err) &&
                out.write(w2bf.data(), w2bf.size() * 2, err) &&
                out.write(b.data(), b.size() * 4, err) && out.finish(err))
        << err;
  }
  ~TinyCheckpoint() { removeTree(dir); }
};

PackEntry plain(const std::string &name, DType dtype,
                std::vector<int64_t> shape, uint64_t offset) {
  PackEntry e;
  e.name = name;
  e.dtype = dtype;
  e.shape = std::move(shape);
  e.offset = offset;
  uint64_t n = 1;
  for (int64_t d : e.shape)
    n *= d;
  e.bytes = n * dtypeSize(dtype);
  return e;
}

PackEntry part(const std::string &source, QuantPart p, const QuantParams &qp,
               uint64_t offset, const std::string &tensor = "") {
  PackEntry e = plain(source + "." + quantPartName(p), quantPartDType(qp, p),
                      quantPartShape(qp, p, 2, 8), offset);
  PackQuant q;
  q.source = source;
  q.tensor = tensor.empty() ? source : tensor;
  q.part = p;
  q.params = qp;
  e.quant = q;
  return e;
}

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

TEST(PackQuant, WritesPartsAndDequantizesBack) {
  TinyCheckpoint ck;
  std::string err;
  std::unique_ptr<Checkpoint> c = Checkpoint::open(ck.dir, err);
  ASSERT_TRUE(c) << err;
  // W: int4, group 8, symmetric, f32 scales. Row 0 is the group of
  // QuantizeTest's SymmetricInt4RoundsHalfToEven: s = 1, bytes 20 E2 97 04.
  // Row 1: max |w| = 1, s = 1/7; q = 7, -7, 0..., 0.25 * 7 = 1.75 -> 2:
  // bytes (7, -7 = 9) -> 0x97, 00, 00, (0, 2) -> 0x20.
  QuantParams sym;
  sym.bits = 4;
  sym.groupSize = 8;
  sym.scaleType = DType::F32;
  // W2 (bf16 in the checkpoint): int8, group 4, asymmetric, f16 scales.
  // Row 0 groups [1 2 3 4] and [5 6 7 14]: lo = 0, s = 4/255, 14/255;
  // row 1 all zeros.
  QuantParams asym;
  asym.bits = 8;
  asym.groupSize = 4;
  asym.scheme = QuantScheme::Asymmetric;
  asym.scaleType = DType::F16;
  std::vector<PackEntry> entries = {
      part("W", QuantPart::Packed, sym, 0),
      part("W", QuantPart::Scales, sym, 64),
      plain("b", DType::F32, {2}, 128),
      part("W2", QuantPart::Packed, asym, 192),
      part("W2", QuantPart::Scales, asym, 256),
      part("W2", QuantPart::Zeros, asym, 320),
  };
  std::string pkg = makeTempDir();
  ASSERT_TRUE(packWeights(*c, entries, 384, pkg + "/weights.bin", nullptr, err))
      << err;
  std::vector<uint8_t> bin = readFile(pkg + "/weights.bin");
  ASSERT_EQ(bin.size(), 384u);
  EXPECT_EQ(std::vector<uint8_t>(bin.begin(), bin.begin() + 8),
            (std::vector<uint8_t>{0x20, 0xE2, 0x97, 0x04, 0x97, 0, 0, 0x20}));
  float s[2];
  std::memcpy(s, &bin[64], 8);
  EXPECT_EQ(s[0], 1.0f);
  EXPECT_EQ(s[1], 1.0f / 7.0f);
  // Zero points: every group has lo = 0, so z = 0.
  EXPECT_EQ(std::vector<uint8_t>(bin.begin() + 320, bin.begin() + 324),
            (std::vector<uint8_t>{0, 0, 0, 0}));
  // W2 row 0, group 1: s = f16(14/255); 14 -> 255 (0xFF).
  EXPECT_EQ(bin[192 + 7], 0xFF);

  ASSERT_TRUE(dequantizeWeights(entries, 384, pkg + "/weights.bin",
                                pkg + "/deq.safetensors", err))
      << err;
  std::unique_ptr<SafetensorsFile> f =
      SafetensorsFile::open(pkg + "/deq.safetensors", err);
  ASSERT_TRUE(f) << err;
  ASSERT_EQ(f->tensors().size(), 3u); // W, b, W2: table order
  EXPECT_EQ(f->tensors()[0].name, "W");
  EXPECT_EQ(f->tensors()[1].name, "b");
  EXPECT_EQ(f->tensors()[2].name, "W2");
  std::vector<float> w(16), b(2), w2(16);
  ASSERT_TRUE(readAsF32(f->tensors()[0], w.data()));
  ASSERT_TRUE(readAsF32(f->tensors()[1], b.data()));
  ASSERT_TRUE(readAsF32(f->tensors()[2], w2.data()));
  EXPECT_EQ(f->tensors()[0].shape, (std::vector<int64_t>{2, 8}));
  const float s7 = 1.0f / 7.0f;
  EXPECT_EQ(w, (std::vector<float>{0, 2, 2, -2, 7, -7, 4, 0, 7 * s7, -7 * s7, 0,
                                   0, 0, 0, 0, 2 * s7}));
  EXPECT_EQ(b, ck.b);
  // W2 row 0, group 0: s = f16(f32(4/255)); q = rne(w / s) = 64, 128, 191,
  // 255 (e.g. 3 / s with s = 0.0156860352 is 191.25). Decodes to q * s.
  float s0 = f16ToF32(f32ToF16(4.0f / 255.0f));
  EXPECT_EQ(s0, 0.0156860352f);
  EXPECT_EQ(w2[0], 64 * s0);
  EXPECT_EQ(w2[1], 128 * s0);
  EXPECT_EQ(w2[2], 191 * s0);
  EXPECT_EQ(w2[3], 255 * s0);
  for (int i = 8; i < 16; ++i)
    EXPECT_EQ(w2[i], 0.0f);
  removeTree(pkg);
}

TEST(PackQuant, TableErrors) {
  TinyCheckpoint ck;
  std::string err;
  std::unique_ptr<Checkpoint> c = Checkpoint::open(ck.dir, err);
  ASSERT_TRUE(c) << err;
  QuantParams p; // int4 g64 symmetric f16: W is [2, 8]
  std::vector<PackEntry> entries = {part("W", QuantPart::Packed, p, 0)};
  EXPECT_FALSE(validatePackTable(*c, entries, 64, err));
  EXPECT_EQ(err, ck.dir + "/model.safetensors: tensor 'W' cannot be "
                          "quantized int4 g64 symmetric f16: input width 8 is "
                          "not a multiple of the group size 64");
  p.groupSize = 4;
  entries = {part("W", QuantPart::Packed, p, 0)};
  entries[0].shape = {2, 3};
  entries[0].bytes = 6;
  EXPECT_FALSE(validatePackTable(*c, entries, 64, err));
  EXPECT_EQ(err, "weight 'W.packed': I8 [2, 3], but the packed of 'W' [2, 8] "
                 "quantized int4 g4 symmetric f16 are I8 [2, 4]");
  entries = {part("Missing", QuantPart::Packed, p, 0)};
  EXPECT_FALSE(validatePackTable(*c, entries, 64, err));
  EXPECT_EQ(err, ck.dir + ": tensor 'Missing' (quantized as 'Missing.packed') "
                          "is not in the checkpoint");
  entries = {part("b", QuantPart::Packed, p, 0)};
  EXPECT_FALSE(validatePackTable(*c, entries, 64, err));
  EXPECT_NE(err.find("tensor 'b' has shape [2]; only 2-D weights"),
            std::string::npos)
      << err;
  entries = {part("W", QuantPart::Zeros, p, 0)};
  EXPECT_FALSE(validatePackTable(*c, entries, 64, err));
  EXPECT_EQ(err, "weight 'W.zeros': the symmetric scheme stores no zeros");
}

TEST(PackQuant, DequantizePlanErrors) {
  QuantParams p;
  p.groupSize = 4;
  std::vector<DequantTensor> plan;
  std::string err;
  // Packed without scales.
  std::vector<PackEntry> entries = {part("W", QuantPart::Packed, p, 0)};
  EXPECT_FALSE(planDequantize(entries, 64, plan, err));
  EXPECT_EQ(err, "weight 'W.packed': tensor 'W' quantized int4 g4 symmetric "
                 "f16 needs packed, scales and no zeros parts");
  // Scales of the wrong shape.
  entries = {part("W", QuantPart::Packed, p, 0),
             part("W", QuantPart::Scales, p, 64)};
  entries[1].shape = {2, 4};
  entries[1].bytes = 16;
  EXPECT_FALSE(planDequantize(entries, 128, plan, err));
  EXPECT_EQ(err, "weight 'W.scales': shape [2, 4], expected [2, 2] for "
                 "'W.packed' [2, 4]");
  // A tensor stored plain and quantized under the same name.
  entries = {plain("W", DType::F32, {2, 8}, 0),
             part("W", QuantPart::Packed, p, 64)};
  EXPECT_FALSE(planDequantize(entries, 128, plan, err));
  EXPECT_EQ(err, "weight 'W.packed': tensor 'W' is also stored as 'W', "
                 "differently");
  // The tied lm_head: the table stays float, its quantized copy is written
  // as lm_head.weight.
  entries = {plain("W", DType::F32, {2, 8}, 0),
             part("W", QuantPart::Packed, p, 64, "lm_head.weight"),
             part("W", QuantPart::Scales, p, 128, "lm_head.weight")};
  ASSERT_TRUE(planDequantize(entries, 192, plan, err)) << err;
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[1].name, "lm_head.weight");
  EXPECT_EQ(plan[1].shape, (std::vector<int64_t>{2, 8}));
  // Overlapping offsets.
  entries[1].offset = 32;
  EXPECT_FALSE(planDequantize(entries, 192, plan, err));
  EXPECT_EQ(err, "weight 'W.packed': offset 32 overlaps the "
                 "previous weight or runs past the end");
}

json::Value quantEntry() {
  json::Value t = json::Value::object();
  t.set("name", json::Value::string("W.packed"));
  t.set("dtype", json::Value::string("i8"));
  json::Value shape = json::Value::array();
  shape.push(json::Value::integer(2));
  shape.push(json::Value::integer(4));
  t.set("shape", shape);
  t.set("offset", json::Value::integer(64));
  t.set("bytes", json::Value::integer(8));
  json::Value q = json::Value::object();
  q.set("source", json::Value::string("W"));
  q.set("part", json::Value::string("packed"));
  q.set("bits", json::Value::integer(4));
  q.set("group_size", json::Value::integer(8));
  q.set("scheme", json::Value::string("symmetric"));
  q.set("scale_dtype", json::Value::string("f16"));
  t.set("quant", q);
  return t;
}

/// Parses the fake manifest with `entry` appended to its weight table.
std::string parseWith(const json::Value &entry,
                      PackageManifest *out = nullptr) {
  json::Value m = fakeManifest({});
  json::Value &weights = const_cast<json::Value &>(*m.get("weights"));
  weights.set("bytes", json::Value::integer(128));
  json::Value &tensors = const_cast<json::Value &>(*weights.get("tensors"));
  tensors.items().resize(1);
  tensors.items()[0].set("bytes", json::Value::integer(64));
  tensors.items()[0].set("shape",
                         json::Value::array({json::Value::integer(16)}));
  tensors.push(entry);
  PackageManifest pm;
  Status s = parseManifest(m, "P/manifest.json", pm);
  if (out)
    *out = pm;
  return s.message();
}

TEST(PackQuant, ManifestQuantFields) {
  PackageManifest m;
  ASSERT_EQ(parseWith(quantEntry(), &m), "");
  ASSERT_EQ(m.weights.size(), 2u);
  EXPECT_FALSE(m.weights[0].quantized);
  ASSERT_TRUE(m.weights[1].quantized);
  EXPECT_EQ(m.weights[1].quant.source, "W");
  EXPECT_EQ(m.weights[1].quant.tensor, "W"); // defaults to the source
  EXPECT_EQ(m.weights[1].quant.part, "packed");
  EXPECT_EQ(m.weights[1].quant.bits, 4);
  EXPECT_EQ(m.weights[1].quant.groupSize, 8);
  EXPECT_EQ(m.weights[1].quant.scaleDType, "f16");

  auto edited = [](const char *key, json::Value v) {
    json::Value t = quantEntry();
    json::Value q = *t.get("quant");
    q.set(key, std::move(v));
    t.set("quant", q);
    return t;
  };
  EXPECT_EQ(parseWith(edited("bits", json::Value::integer(3))),
            "P/manifest.json: field 'weights.tensors[1].quant.bits': expected "
            "4 or 8, found 3");
  EXPECT_EQ(parseWith(edited("part", json::Value::string("pack"))),
            "P/manifest.json: field 'weights.tensors[1].quant.part': expected "
            "'packed' or 'scales' or 'zeros', found 'pack'");
  EXPECT_EQ(parseWith(edited("scheme", json::Value::string("sym"))),
            "P/manifest.json: field 'weights.tensors[1].quant.scheme': "
            "expected 'symmetric' or 'asymmetric', found 'sym'");
  EXPECT_EQ(parseWith(edited("group_size", json::Value::integer(0))),
            "P/manifest.json: field 'weights.tensors[1].quant.group_size': "
            "expected a positive integer, found integer 0");
  EXPECT_EQ(parseWith(edited("part", json::Value::string("scales"))),
            "P/manifest.json: field 'weights.tensors[1].dtype': tensor "
            "'W.packed': the scales of a quantized weight are f16, found 'i8'");
  json::Value t = quantEntry();
  json::Value q = *t.get("quant");
  q.members().erase(q.members().begin()); // no source
  t.set("quant", q);
  EXPECT_EQ(parseWith(t), "P/manifest.json: field "
                          "'weights.tensors[1].quant.source': expected a "
                          "non-empty string, found nothing (missing)");
  t = quantEntry();
  t.set("bytes", json::Value::integer(7));
  EXPECT_EQ(parseWith(t), "P/manifest.json: field 'weights.tensors[1].bytes': "
                          "tensor 'W.packed': 7 bytes, but i8 of that shape "
                          "is 8");
}

} // namespace
