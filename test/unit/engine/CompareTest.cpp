//===- CompareTest.cpp - zamba2-compare's tensor comparison ---------------===//
#include "tools/zamba2-compare/Compare.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace zamba2;

namespace {

/// A one-tensor safetensors file "t" held in memory.
class Tensor {
public:
  template <typename T>
  Tensor(const char *dtype, std::vector<int64_t> shape,
         const std::vector<T> &values) {
    std::string dims;
    for (int64_t d : shape)
      dims += (dims.empty() ? "" : ",") + std::to_string(d);
    size_t bytes = values.size() * sizeof(T);
    std::string header = std::string("{\"t\":{\"dtype\":\"") + dtype +
                         "\",\"shape\":[" + dims + "],\"data_offsets\":[0," +
                         std::to_string(bytes) + "]}}";
    image.assign(8, '\0');
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i)
      image[i] = static_cast<char>(n >> (8 * i));
    image += header;
    image.append(reinterpret_cast<const char *>(values.data()), bytes);
    std::string err;
    file = SafetensorsFile::openBuffer(image.data(), image.size(),
                                       std::string(dtype) + ".st", err);
    EXPECT_NE(file, nullptr) << err;
  }
  const TensorInfo &info() const { return *file->find("t"); }

private:
  std::string image;
  std::unique_ptr<SafetensorsFile> file;
};

CompareResult compare(const Tensor &a, const Tensor &b, bool exact,
                      double limit = 0, std::string *errOut = nullptr) {
  CompareOptions o;
  o.exact = exact;
  o.maxRelL2 = limit;
  CompareResult r;
  std::string err;
  bool ok = compareTensors("logits", a.info(), b.info(), o, r, err);
  if (errOut)
    *errOut = err;
  else
    EXPECT_TRUE(ok) << err;
  return r;
}

TEST(Compare, FormatLimit) {
  EXPECT_EQ(formatLimit(1e-4), "1e-04");
  EXPECT_EQ(formatLimit(2.5e-3), "2.5e-03");
  EXPECT_EQ(formatLimit(0), "0e+00");
  EXPECT_EQ(formatLimit(0.1), "1e-01");
}

TEST(Compare, FormatIndex) {
  EXPECT_EQ(formatIndex({2, 3, 4}, 0), "[0, 0, 0]");
  EXPECT_EQ(formatIndex({2, 3, 4}, 23), "[1, 2, 3]");
  EXPECT_EQ(formatIndex({2, 3, 4}, 13), "[1, 0, 1]");
  EXPECT_EQ(formatIndex({}, 0), "[]");
}

TEST(Compare, RelL2) {
  Tensor ref("F32", {2, 2}, std::vector<float>{3, 0, 0, 4}); // norm 5
  Tensor same("F32", {2, 2}, std::vector<float>{3, 0, 0, 4});
  Tensor off("F32", {2, 2}, std::vector<float>{3, 0, 0.5f, 4}); // diff 0.5
  CompareResult r = compare(same, ref, false, 1e-4);
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.line, "logits: rel_l2 = 0.0e+00 (limit 1e-04) ok");
  r = compare(off, ref, false, 0.2);
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.line, "logits: rel_l2 = 1.0e-01 (limit 2e-01) ok");
  r = compare(off, ref, false, 0.05);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.line, "logits: rel_l2 = 1.0e-01 (limit 5e-02) FAIL (max abs "
                    "diff 0.5 at [1, 0]: 0.5 vs 0)");
}

TEST(Compare, MixedFloatTypes) {
  Tensor ref("F64", {3}, std::vector<double>{1, 2, 3});
  // bf16 1, 2, 3 are exact.
  Tensor bf("BF16", {3}, std::vector<uint16_t>{0x3f80, 0x4000, 0x4040});
  Tensor half("F16", {3}, std::vector<uint16_t>{0x3c00, 0x4000, 0x4200});
  EXPECT_TRUE(compare(bf, ref, false, 0).pass);
  EXPECT_TRUE(compare(half, ref, false, 0).pass);
  std::string err;
  compare(bf, ref, true, 0, &err);
  EXPECT_EQ(err, "logits: dtype mismatch: BF16 in BF16.st vs F64 in F64.st "
                 "(--exact compares equal dtypes only)");
}

TEST(Compare, NaNFails) {
  Tensor ref("F32", {3}, std::vector<float>{1, 2, 3});
  Tensor bad("F32", {3}, std::vector<float>{1, NAN, 3});
  CompareResult r = compare(bad, ref, false, 1);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.line, "logits: rel_l2 = 0.0e+00 (limit 1e+00) FAIL (NaN at "
                    "[1]: nan vs 2)");
}

TEST(Compare, ZeroReference) {
  Tensor zero("F32", {2}, std::vector<float>{0, 0});
  Tensor one("F32", {2}, std::vector<float>{0, 1});
  EXPECT_TRUE(compare(zero, zero, false, 0).pass);
  CompareResult r = compare(one, zero, false, 1e9);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.line.rfind("logits: rel_l2 = inf", 0), 0u) << r.line;
}

TEST(Compare, ExactInt64) {
  Tensor ref("I64", {2, 3}, std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  Tensor same("I64", {2, 3}, std::vector<int64_t>{1, 2, 3, 4, 5, 6});
  Tensor off("I64", {2, 3}, std::vector<int64_t>{1, 2, 3, 4, -5, 7});
  CompareResult r = compare(same, ref, true);
  EXPECT_TRUE(r.pass);
  EXPECT_EQ(r.line, "logits: identical");
  r = compare(off, ref, true);
  EXPECT_FALSE(r.pass);
  EXPECT_EQ(r.line,
            "logits: mismatch at [1, 1]: -5 vs 5 (2 of 6 elements differ)");
}

TEST(Compare, ExactFloatIsBitwise) {
  Tensor pos("F32", {1}, std::vector<float>{0.0f});
  Tensor neg("F32", {1}, std::vector<float>{-0.0f});
  EXPECT_FALSE(compare(neg, pos, true).pass);
  EXPECT_TRUE(compare(neg, pos, false, 0).pass); // equal values
}

TEST(Compare, Mismatches) {
  Tensor a("F32", {2, 2}, std::vector<float>{1, 2, 3, 4});
  Tensor b("F32", {4}, std::vector<float>{1, 2, 3, 4});
  Tensor ids("I64", {2, 2}, std::vector<int64_t>{1, 2, 3, 4});
  std::string err;
  compare(a, b, false, 1, &err);
  EXPECT_EQ(err, "logits: shape mismatch: [2, 2] in F32.st vs [4] in F32.st");
  compare(a, ids, false, 1, &err);
  EXPECT_EQ(err, "logits: dtype mismatch: F32 in F32.st vs I64 in I64.st "
                 "(rel_l2 compares floats with floats, integers with "
                 "integers)");
}

} // namespace
