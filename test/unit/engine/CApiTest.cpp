//===- CApiTest.cpp - The C API of zamba2_runtime.h -----------------------===//
#include "FakePackage.h"

#include "runtime/engine/zamba2_runtime.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

using namespace zamba2::test;

namespace {

class CApiTest : public ::testing::Test {
protected:
  void SetUp() override { tmp = makeTempDir(); }
  void TearDown() override { removeTree(tmp); }
  std::string tmp;
};

TEST_F(CApiTest, RunsFakePackage) {
  std::string dir = writeFakePackage(tmp + "/pkg");
  zamba2_package *pkg = nullptr;
  ASSERT_EQ(zamba2_package_open(dir.c_str(), &pkg), ZAMBA2_OK)
      << zamba2_last_error();
  zamba2_package_info info;
  ASSERT_EQ(zamba2_package_get_info(pkg, &info), ZAMBA2_OK);
  EXPECT_EQ(info.vocab_size, 16);
  EXPECT_EQ(info.eos_token_id, 2);
  EXPECT_EQ(info.num_state_tensors, 3);
  EXPECT_EQ(info.abi_version, 1);
  EXPECT_EQ(info.weights_bytes, 128u);
  EXPECT_EQ(zamba2_runtime_abi_version(), 1);

  zamba2_session *s = nullptr;
  ASSERT_EQ(zamba2_session_create(pkg, 2, 8, &s), ZAMBA2_OK);
  zamba2_package_close(pkg); // the session keeps it loaded
  EXPECT_EQ(zamba2_session_max_batch(s), 2);
  EXPECT_EQ(zamba2_session_max_seq(s), 8);
  EXPECT_EQ(zamba2_session_logits(s), nullptr);

  int64_t ids[4] = {3, 4, 9, 1};
  ASSERT_EQ(zamba2_session_prefill(s, 2, 2, ids, nullptr), ZAMBA2_OK);
  const float *logits = zamba2_session_logits(s);
  ASSERT_NE(logits, nullptr);
  std::vector<float> row(logits + 3 * 16, logits + 4 * 16); // [1, 1]
  EXPECT_EQ(row, fakeExpectedRow({9, 1}, 1, 16, 0.5f));
  EXPECT_EQ(zamba2_session_position(s, 0), 2);
  EXPECT_EQ(zamba2_session_position(s, 5), -1);

  std::vector<float> out(2 * 16);
  int64_t next[2] = {5, 6};
  ASSERT_EQ(zamba2_session_decode(s, 2, next, out.data()), ZAMBA2_OK);
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 16),
            fakeExpectedRow({3, 4, 5}, 0, 16, 0.5f));
  ASSERT_EQ(zamba2_session_reset(s, 1), ZAMBA2_OK);
  EXPECT_EQ(zamba2_session_position(s, 1), 0);
  EXPECT_EQ(zamba2_session_position(s, 0), 3);
  zamba2_session_destroy(s);
}

TEST_F(CApiTest, ErrorsAndLastError) {
  zamba2_package *pkg = reinterpret_cast<zamba2_package *>(1);
  std::string missing = tmp + "/none";
  EXPECT_EQ(zamba2_package_open(missing.c_str(), &pkg), ZAMBA2_ERROR_IO);
  EXPECT_EQ(pkg, nullptr);
  EXPECT_EQ(std::string(zamba2_last_error()),
            missing + ": cannot open package directory: No such file or "
                      "directory");
  EXPECT_EQ(zamba2_package_open(nullptr, &pkg), ZAMBA2_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(zamba2_package_open("x", nullptr), ZAMBA2_ERROR_INVALID_ARGUMENT);

  FakePackageSpec spec;
  spec.editManifest = [](zamba2::json::Value &m) {
    m.set("format_version", zamba2::json::Value::integer(7));
  };
  std::string bad = writeFakePackage(tmp + "/bad", spec);
  EXPECT_EQ(zamba2_package_open(bad.c_str(), &pkg), ZAMBA2_ERROR_UNSUPPORTED);
  EXPECT_NE(std::string(zamba2_last_error()).find("'format_version'"),
            std::string::npos);

  std::string dir = writeFakePackage(tmp + "/pkg");
  ASSERT_EQ(zamba2_package_open(dir.c_str(), &pkg), ZAMBA2_OK);
  zamba2_session *s = nullptr;
  EXPECT_EQ(zamba2_session_create(pkg, 0, 8, &s),
            ZAMBA2_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(s, nullptr);
  ASSERT_EQ(zamba2_session_create(pkg, 1, 2, &s), ZAMBA2_OK);
  int64_t ids[3] = {1, 2, 3};
  EXPECT_EQ(zamba2_session_prefill(s, 1, 3, ids, nullptr),
            ZAMBA2_ERROR_CAPACITY);
  EXPECT_NE(std::string(zamba2_last_error()).find("max sequence length 2"),
            std::string::npos);
  int64_t oov = 99;
  EXPECT_EQ(zamba2_session_decode(s, 1, &oov, nullptr),
            ZAMBA2_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(zamba2_session_decode(nullptr, 1, &oov, nullptr),
            ZAMBA2_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(zamba2_session_reset(s, -1), ZAMBA2_ERROR_INVALID_ARGUMENT);

  // The last error is per thread.
  std::string mine = zamba2_last_error();
  std::string other = "unset";
  std::thread([&] { other = zamba2_last_error(); }).join();
  EXPECT_EQ(other, "");
  EXPECT_EQ(zamba2_last_error(), mine);

  EXPECT_STREQ(zamba2_status_name(ZAMBA2_ERROR_CAPACITY),
               "ZAMBA2_ERROR_CAPACITY");
  zamba2_session_destroy(s);
  zamba2_package_close(pkg);
  zamba2_session_destroy(nullptr);
  zamba2_package_close(nullptr);
}

} // namespace
