//===- SafetensorsTest.cpp - safetensors reader, writer, conversions ------===//
#include "runtime/format/Safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace zamba2;

namespace {

/// A safetensors image: length prefix, header text, `dataBytes` zero bytes.
std::string image(const std::string &header, size_t dataBytes) {
  std::string s(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    s[i] = static_cast<char>(n >> (8 * i));
  return s + header + std::string(dataBytes, '\0');
}

std::string openErr(const std::string &img) {
  std::string err;
  auto f = SafetensorsFile::openBuffer(img.data(), img.size(), "x.st", err);
  EXPECT_EQ(f, nullptr);
  return err;
}

bool contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

std::string tempDir() {
  char buf[] = "/tmp/zamba2-format-test-XXXXXX";
  const char *d = mkdtemp(buf);
  EXPECT_NE(d, nullptr);
  return d ? d : "/tmp";
}

bool exists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}

TEST(Safetensors, DTypes) {
  DType d;
  ASSERT_TRUE(parseDType("BF16", d));
  EXPECT_EQ(d, DType::BF16);
  EXPECT_EQ(dtypeSize(d), 2u);
  EXPECT_STREQ(dtypeName(DType::F8_E4M3), "F8_E4M3");
  EXPECT_FALSE(parseDType("bf16", d));
  EXPECT_FALSE(parseDType("F128", d));
  EXPECT_TRUE(isWeightDType(DType::F16));
  EXPECT_FALSE(isWeightDType(DType::F64));
}

TEST(Safetensors, ParsesValidBuffer) {
  std::string img = image("{\"__metadata__\":{\"format\":\"pt\"},"
                          "\"b\":{\"dtype\":\"F16\",\"shape\":[3],"
                          "\"data_offsets\":[8,14]},"
                          "\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
                          "\"data_offsets\":[0,8]},"
                          "\"e\":{\"dtype\":\"I8\",\"shape\":[0, 5],"
                          "\"data_offsets\":[14,14]}}",
                          14);
  std::string err;
  auto f = SafetensorsFile::openBuffer(img.data(), img.size(), "x.st", err);
  ASSERT_NE(f, nullptr) << err;
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[0].name, "b"); // file order
  const TensorInfo *a = f->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->byteSize, 8u);
  EXPECT_EQ(a->numElements, 2u);
  EXPECT_EQ(a->data, reinterpret_cast<const uint8_t *>(img.data()) + 8 +
                         (img.size() - 8 - 14));
  EXPECT_EQ(f->find("e")->numElements, 0u);
  EXPECT_EQ(f->find("zz"), nullptr);
  ASSERT_EQ(f->metadata().size(), 1u);
  EXPECT_EQ(f->metadata()[0].second, "pt");
}

TEST(Safetensors, Corruptions) {
  EXPECT_TRUE(contains(openErr("1234567"), "x.st: truncated"));
  EXPECT_TRUE(contains(openErr(image("{}", 0).substr(0, 9)),
                       "runs past the end of the file"));
  std::string huge(8, '\xff');
  EXPECT_TRUE(contains(openErr(huge + "{}"), "runs past the end"));
  EXPECT_TRUE(contains(openErr(image("{\"a\":", 0)),
                       "x.st: header is not valid JSON: line 1, column 6"));
  EXPECT_TRUE(contains(openErr(image("[]", 0)), "expected a JSON object"));
  EXPECT_TRUE(contains(openErr(image("{\"w\":{\"dtype\":\"F42\",\"shape\":[1],"
                                     "\"data_offsets\":[0,4]}}",
                                     4)),
                       "x.st: tensor 'w': unknown dtype 'F42'"));
  EXPECT_TRUE(contains(openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],"
                                     "\"data_offsets\":[0,8]}}",
                                     4)),
                       "tensor 'w': data_offsets [0, 8] out of range"));
  EXPECT_TRUE(contains(openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                                     "\"data_offsets\":[4,0]}}",
                                     4)),
                       "out of range"));
  EXPECT_TRUE(contains(
      openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],"
                    "\"data_offsets\":[0,8]}}",
                    8)),
      "tensor 'w': data_offsets [0, 8] hold 8 bytes, but F32 [3] needs 12"));
  EXPECT_TRUE(contains(openErr(image("{\"u\":{\"dtype\":\"F32\",\"shape\":[2],"
                                     "\"data_offsets\":[0,8]},"
                                     "\"v\":{\"dtype\":\"F32\",\"shape\":[2],"
                                     "\"data_offsets\":[4,12]}}",
                                     12)),
                       "tensor 'v': data overlaps tensor 'u'"));
  EXPECT_TRUE(contains(openErr(image("{\"w\":[1,2]}", 0)),
                       "tensor 'w': expected an object, found array"));
  EXPECT_TRUE(contains(openErr(image("{\"w\":{\"shape\":[1]}}", 0)),
                       "'dtype': expected a string"));
  EXPECT_TRUE(contains(openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],"
                                     "\"data_offsets\":[0,0]}}",
                                     0)),
                       "non-negative"));
  EXPECT_TRUE(
      contains(openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1.5],"
                             "\"data_offsets\":[0,0]}}",
                             0)),
               "non-negative integers"));
  EXPECT_TRUE(
      contains(openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,"
                             "4294967296],\"data_offsets\":[0,0]}}",
                             0)),
               "overflows"));
  EXPECT_TRUE(contains(openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],"
                                     "\"data_offsets\":[0]}}",
                                     4)),
                       "'data_offsets': expected [begin, end]"));
  EXPECT_TRUE(contains(openErr(image("{\"__metadata__\":{\"a\":1}}", 0)),
                       "__metadata__: entry 'a': expected a string"));
  EXPECT_TRUE(contains(openErr(image("{\"__metadata__\":[]}", 0)),
                       "__metadata__: expected an object"));
  EXPECT_TRUE(
      contains(openErr(image("{\"w\":{\"dtype\":\"F32\",\"shape\":[0],"
                             "\"data_offsets\":[0,0]},\"w\":{\"dtype\":\"F32\","
                             "\"shape\":[0],\"data_offsets\":[0,0]}}",
                             0)),
               "tensor 'w': duplicate entry"));
}

TEST(Safetensors, OpenErrors) {
  std::string err;
  EXPECT_EQ(SafetensorsFile::open("/nonexistent/x.safetensors", err), nullptr);
  EXPECT_TRUE(contains(err, "/nonexistent/x.safetensors: cannot open"));
  EXPECT_EQ(SafetensorsFile::open("/tmp", err), nullptr);
  EXPECT_TRUE(contains(err, "not a regular file"));
}

TEST(Safetensors, ReadsFixture) {
  std::string err;
  std::string path =
      std::string(ZAMBA2_FIXTURES_DIR) + "/tiny-lora-rope/model.safetensors";
  auto f = SafetensorsFile::open(path, err);
  ASSERT_NE(f, nullptr) << err;
  EXPECT_EQ(f->tensors().size(), 82u);
  const TensorInfo *e = f->find("model.embed_tokens.weight");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->shape, (std::vector<int64_t>{512, 64}));
  EXPECT_EQ(e->dtype, DType::F32);
  EXPECT_EQ(*e->file, path);
  const TensorInfo *d = f->find("model.layers.0.mamba.D");
  ASSERT_NE(d, nullptr);
  std::vector<float> v(d->numElements);
  ASSERT_TRUE(readAsF32(*d, v.data()));
  for (float x : v)
    EXPECT_TRUE(std::isfinite(x));
}

TEST(Conversions, BF16) {
  EXPECT_EQ(f32ToBf16(1.0f), 0x3F80);
  EXPECT_EQ(f32ToBf16(-2.5f), 0xC020);
  EXPECT_EQ(bf16ToF32(0x3F80), 1.0f);
  EXPECT_EQ(bf16ToF32(0xC020), -2.5f);
  // 1 + 2^-8 is halfway between bf16 1.0 and 1.0078125: ties to even (1.0).
  EXPECT_EQ(f32ToBf16(1.00390625f), 0x3F80);
  // 1.0078125 + 2^-8 is halfway between odd 0x3F81 and even 0x3F82.
  EXPECT_EQ(f32ToBf16(1.01171875f), 0x3F82);
  // Just above the halfway point rounds up.
  EXPECT_EQ(f32ToBf16(std::nextafter(1.00390625f, 2.0f)), 0x3F81);
  EXPECT_EQ(f32ToBf16(INFINITY), 0x7F80);
  EXPECT_EQ(f32ToBf16(-INFINITY), 0xFF80);
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(NAN))));
  // A NaN whose payload sits only in the low 16 bits must stay NaN.
  uint32_t lowNan = 0x7F800001u;
  float ln;
  std::memcpy(&ln, &lowNan, 4);
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(ln))));
  // Largest finite float rounds to inf (overflow on rounding).
  EXPECT_EQ(f32ToBf16(3.4028235e38f), 0x7F80);
  // Denormals: 2^-133 is exactly representable in bf16.
  float den = std::ldexp(1.0f, -133);
  EXPECT_EQ(bf16ToF32(f32ToBf16(den)), den);
}

TEST(Conversions, F16) {
  EXPECT_EQ(f32ToF16(1.0f), 0x3C00);
  EXPECT_EQ(f32ToF16(-2.5f), 0xC100);
  EXPECT_EQ(f16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(f16ToF32(0xC100), -2.5f);
  EXPECT_EQ(f16ToF32(0x7BFF), 65504.0f);
  EXPECT_EQ(f32ToF16(65504.0f), 0x7BFF);
  EXPECT_EQ(f32ToF16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32ToF16(65520.0f), 0x7C00); // tie rounds to even = inf
  EXPECT_EQ(f32ToF16(1e10f), 0x7C00);
  EXPECT_EQ(f32ToF16(-INFINITY), 0xFC00);
  EXPECT_TRUE(std::isnan(f16ToF32(f32ToF16(NAN))));
  EXPECT_TRUE(std::isinf(f16ToF32(0x7C00)));
  // Ties: 1 + 2^-11 is halfway between 1.0 and 1 + 2^-10 -> even (1.0);
  // 1 + 3*2^-11 is halfway between 0x3C01 and 0x3C02 -> 0x3C02.
  EXPECT_EQ(f32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32ToF16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  // Denormals: smallest 2^-24, largest 0x03FF, and rounding into them.
  EXPECT_EQ(f16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(f16ToF32(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -25)), 0x0000);     // tie -> even 0
  EXPECT_EQ(f32ToF16(std::ldexp(3.0f, -25)), 0x0002);     // tie -> even 2
  EXPECT_EQ(f32ToF16(std::ldexp(1.0f, -14)), 0x0400);     // smallest normal
  EXPECT_EQ(f32ToF16(std::ldexp(1023.75f, -24)), 0x0400); // rounds up to it
  EXPECT_EQ(f32ToF16(-0.0f), 0x8000);
  // Every half round-trips through f32.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7C00) == 0x7C00 && (h & 0x3FF))
      continue; // NaN payloads are normalised
    ASSERT_EQ(f32ToF16(f16ToF32(static_cast<uint16_t>(h))), h) << h;
  }
}

TEST(Writer, RoundTrip) {
  std::string dir = tempDir();
  std::string path = dir + "/out.safetensors";
  std::string err;
  {
    SafetensorsWriter w(path);
    w.setMetadata("format", "pt");
    ASSERT_TRUE(w.addTensor("a", DType::F32, {2, 3}, err)) << err;
    ASSERT_TRUE(w.addTensor("b", DType::BF16, {5}, err)) << err;
    ASSERT_TRUE(w.addTensor("empty", DType::I64, {0}, err)) << err;
    EXPECT_FALSE(w.addTensor("a", DType::F32, {1}, err));
    EXPECT_TRUE(contains(err, "declared twice"));
    ASSERT_TRUE(w.begin(err)) << err;
    EXPECT_TRUE(exists(path + ".tmp"));
    EXPECT_FALSE(exists(path));
    float a[6] = {1, 2, 3, 4, 5, 6};
    // Chunks of any size, crossing tensor boundaries.
    ASSERT_TRUE(w.write(a, 10, err));
    ASSERT_TRUE(w.write(reinterpret_cast<char *>(a) + 10, 14, err));
    uint16_t b[5];
    for (int i = 0; i < 5; ++i)
      b[i] = f32ToBf16(-1.5f * i);
    ASSERT_TRUE(w.write(b, sizeof(b), err));
    ASSERT_TRUE(w.finish(err)) << err;
  }
  EXPECT_FALSE(exists(path + ".tmp"));
  auto f = SafetensorsFile::open(path, err);
  ASSERT_NE(f, nullptr) << err;
  EXPECT_EQ(f->headerSize() % 8, 0u);
  ASSERT_EQ(f->tensors().size(), 3u);
  EXPECT_EQ(f->tensors()[1].name, "b");
  std::vector<float> v(6);
  ASSERT_TRUE(readAsF32(*f->find("a"), v.data()));
  EXPECT_EQ(v, (std::vector<float>{1, 2, 3, 4, 5, 6}));
  std::vector<float> bv(5);
  ASSERT_TRUE(readAsF32(*f->find("b"), bv.data()));
  EXPECT_EQ(bv[3], -4.5f);
  EXPECT_FALSE(readAsF32(*f->find("empty"), bv.data())); // I64
  EXPECT_EQ(f->metadata()[0].first, "format");
  unlink(path.c_str());
  rmdir(dir.c_str());
}

TEST(Writer, NoPartialOutput) {
  std::string dir = tempDir();
  std::string path = dir + "/out.safetensors";
  std::string err;
  {
    SafetensorsWriter w(path);
    ASSERT_TRUE(w.addTensor("a", DType::F32, {4}, err));
    ASSERT_TRUE(w.begin(err));
    float x[4] = {};
    ASSERT_TRUE(w.write(x, 8, err));
    EXPECT_FALSE(w.finish(err)); // 8 of 16 bytes
    EXPECT_TRUE(contains(err, "only 8 of 16"));
  }
  EXPECT_FALSE(exists(path));
  EXPECT_FALSE(exists(path + ".tmp"));
  {
    SafetensorsWriter w(path);
    ASSERT_TRUE(w.addTensor("a", DType::F32, {1}, err));
    ASSERT_TRUE(w.begin(err));
    float x[2] = {};
    EXPECT_FALSE(w.write(x, 8, err)); // too many bytes
  }
  EXPECT_FALSE(exists(path + ".tmp"));
  {
    SafetensorsWriter w(path);
    ASSERT_TRUE(w.addTensor("a", DType::F32, {1}, err));
    ASSERT_TRUE(w.begin(err));
    // destroyed without finish()
  }
  EXPECT_FALSE(exists(path));
  EXPECT_FALSE(exists(path + ".tmp"));
  SafetensorsWriter bad("/nonexistent-dir/x.safetensors");
  EXPECT_FALSE(bad.begin(err));
  EXPECT_TRUE(contains(err, "cannot create"));
  rmdir(dir.c_str());
}

void writeFile(const std::string &path, const std::string &text) {
  std::ofstream(path, std::ios::binary) << text;
}

void writeShard(const std::string &path,
                const std::vector<std::string> &names) {
  std::string err;
  SafetensorsWriter w(path);
  for (const std::string &n : names)
    ASSERT_TRUE(w.addTensor(n, DType::F32, {2}, err));
  ASSERT_TRUE(w.begin(err));
  float x[2] = {1, 2};
  for (size_t i = 0; i < names.size(); ++i)
    ASSERT_TRUE(w.write(x, 8, err));
  ASSERT_TRUE(w.finish(err)) << err;
}

TEST(Checkpoint, Shards) {
  std::string dir = tempDir();
  writeShard(dir + "/model-00001-of-00002.safetensors", {"a", "b"});
  writeShard(dir + "/model-00002-of-00002.safetensors", {"c"});
  std::string index = dir + "/model.safetensors.index.json";
  writeFile(index, "{\"metadata\": {}, \"weight_map\": {"
                   "\"a\": \"model-00001-of-00002.safetensors\","
                   "\"c\": \"model-00002-of-00002.safetensors\","
                   "\"b\": \"model-00001-of-00002.safetensors\"}}");
  std::string err;
  auto ck = Checkpoint::open(dir, err);
  ASSERT_NE(ck, nullptr) << err;
  EXPECT_EQ(ck->shards().size(), 2u);
  EXPECT_EQ(ck->tensors().size(), 3u);
  ASSERT_NE(ck->find("c"), nullptr);
  EXPECT_TRUE(contains(*ck->find("c")->file, "00002"));
  EXPECT_EQ(ck->totalBytes(), 24u);
  EXPECT_EQ(ck->weightsPath(), index);

  // A name mapped to a shard that lacks it.
  writeFile(index, "{\"weight_map\": {"
                   "\"a\": \"model-00001-of-00002.safetensors\","
                   "\"c\": \"model-00001-of-00002.safetensors\"}}");
  EXPECT_EQ(Checkpoint::open(dir, err), nullptr);
  EXPECT_TRUE(contains(err, "tensor 'c': mapped to "
                            "model-00001-of-00002.safetensors, which does "
                            "not contain it"))
      << err;

  // A name in two shards.
  writeShard(dir + "/model-00002-of-00002.safetensors", {"c", "a"});
  writeFile(index, "{\"weight_map\": {"
                   "\"a\": \"model-00001-of-00002.safetensors\","
                   "\"c\": \"model-00002-of-00002.safetensors\"}}");
  EXPECT_EQ(Checkpoint::open(dir, err), nullptr);
  EXPECT_TRUE(contains(err, "tensor 'a' is also in")) << err;

  // Paths in shard names, missing shards, bad index.
  writeFile(index, "{\"weight_map\": {\"a\": \"../x.safetensors\"}}");
  EXPECT_EQ(Checkpoint::open(dir, err), nullptr);
  EXPECT_TRUE(contains(err, "not a plain file name"));
  writeFile(index, "{\"weight_map\": {\"a\": \"missing.safetensors\"}}");
  EXPECT_EQ(Checkpoint::open(dir, err), nullptr);
  EXPECT_TRUE(contains(err, "missing.safetensors: cannot open"));
  writeFile(index, "{\"weight_map\": 3}");
  EXPECT_EQ(Checkpoint::open(dir, err), nullptr);
  EXPECT_TRUE(contains(err, "field 'weight_map': expected an object"));
  writeFile(index, "{");
  EXPECT_EQ(Checkpoint::open(dir, err), nullptr);
  EXPECT_TRUE(contains(err, "invalid JSON"));

  unlink(index.c_str());
  EXPECT_EQ(Checkpoint::open(dir, err), nullptr);
  EXPECT_TRUE(contains(err, dir + "/model.safetensors: cannot open"));
  EXPECT_EQ(Checkpoint::open(dir + "/nope", err), nullptr);
  EXPECT_TRUE(contains(err, "not a checkpoint directory"));
  unlink((dir + "/model-00001-of-00002.safetensors").c_str());
  unlink((dir + "/model-00002-of-00002.safetensors").c_str());
  rmdir(dir.c_str());
}

TEST(Checkpoint, SingleFileFixture) {
  std::string err;
  auto ck = Checkpoint::open(
      std::string(ZAMBA2_FIXTURES_DIR) + "/tiny-two-blocks", err);
  ASSERT_NE(ck, nullptr) << err;
  EXPECT_EQ(ck->tensors().size(), 99u);
  EXPECT_EQ(ck->totalElements(), 443008u);
}

} // namespace
