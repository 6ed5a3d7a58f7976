//===- EngineTest.cpp - Package loading and sessions, on the fake model ---===//
#include "FakePackage.h"

#include "runtime/cuda/Cuda.h"
#include "runtime/cuda/CudaDriver.h"
#include "runtime/engine/CpuFeatures.h"
#include "runtime/engine/Package.h"
#include "runtime/engine/Session.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace zamba2;
using namespace zamba2::test;

namespace {

bool contains(const std::string &s, const std::string &part) {
  return s.find(part) != std::string::npos;
}

class EngineTest : public ::testing::Test {
protected:
  void SetUp() override {
    tmp = makeTempDir();
    ASSERT_FALSE(tmp.empty());
  }
  void TearDown() override { removeTree(tmp); }

  /// Writes a package (in tmp/NAME) and opens it; fails the test on error.
  std::shared_ptr<Package> open(const FakePackageSpec &spec = {},
                                const std::string &name = "pkg") {
    std::string dir = writeFakePackage(tmp + "/" + name, spec);
    std::shared_ptr<Package> p;
    Status s = Package::open(dir, p);
    EXPECT_TRUE(s.isOk()) << s.message();
    return p;
  }

  /// Writes a package and returns the error of opening it.
  Status openError(const FakePackageSpec &spec,
                   const PackageOpenOptions &options = {}) {
    std::string dir = writeFakePackage(tmp + "/bad", spec);
    std::shared_ptr<Package> p;
    Status s = Package::open(dir, p, options);
    EXPECT_FALSE(s.isOk());
    EXPECT_EQ(p, nullptr);
    return s;
  }

  std::unique_ptr<Session> session(std::shared_ptr<Package> p, int64_t batch,
                                   int64_t seq) {
    std::unique_ptr<Session> s;
    Status st = Session::create(std::move(p), batch, seq, s);
    EXPECT_TRUE(st.isOk()) << st.message();
    return s;
  }

  std::string tmp;
};

/// All state bytes of a session, to check that a failed call changed nothing.
std::vector<char> snapshot(const Session &s, size_t numStates) {
  std::vector<char> out;
  for (size_t i = 0; i < numStates; ++i) {
    const char *p = static_cast<const char *>(s.stateData(i));
    out.insert(out.end(), p, p + s.stateBytes(i));
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Opening packages
//===----------------------------------------------------------------------===//

TEST_F(EngineTest, OpensFakePackage) {
  std::shared_ptr<Package> p = open();
  ASSERT_NE(p, nullptr);
  const PackageManifest &m = p->manifest();
  EXPECT_EQ(p->vocabSize(), 16);
  EXPECT_EQ(m.eosTokenId, 2);
  EXPECT_EQ(m.bosTokenId, 1);
  EXPECT_EQ(m.state.size(), 3u);
  EXPECT_EQ(m.state[2].name, "kv");
  EXPECT_EQ(m.state[2].shape[2].kind, StateDim::Kind::Seq);
  EXPECT_EQ(p->weightsBytes(), 128u);
  float w0;
  std::memcpy(&w0, p->weights(), 4);
  EXPECT_EQ(w0, 0.5f);
  EXPECT_NE(p->prefillEntry(), nullptr);
  EXPECT_NE(p->decodeEntry(), nullptr);
}

TEST_F(EngineTest, TrailingSlashAndSharedOwnership) {
  std::string dir = writeFakePackage(tmp + "/pkg");
  std::shared_ptr<Package> p;
  ASSERT_TRUE(Package::open(dir + "/", p).isOk());
  EXPECT_EQ(p->dir(), dir);
  std::unique_ptr<Session> s = session(p, 1, 4);
  p.reset(); // the session keeps the package loaded
  int64_t id = 3;
  std::vector<float> logits(16);
  ASSERT_TRUE(s->prefill(1, 1, &id, logits.data()).isOk());
  EXPECT_EQ(logits[4], 3.0f);
}

TEST_F(EngineTest, TokenizerPath) {
  // None named: empty.
  std::shared_ptr<Package> p = open();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->tokenizerPath(), "");
  // Named: inside the package directory. open() does not read it, so a
  // package whose tokenizer file is missing still runs ids.
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    m.set("tokenizer", json::Value::string("tokenizer.json"));
  };
  p = open(spec, "with-tokenizer");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->tokenizerPath(), tmp + "/with-tokenizer/tokenizer.json");
}

TEST_F(EngineTest, MissingDirectory) {
  std::shared_ptr<Package> p;
  Status s = Package::open(tmp + "/nope", p);
  EXPECT_EQ(s.code(), StatusCode::Io);
  EXPECT_TRUE(contains(s.message(), tmp + "/nope: cannot open package "
                                          "directory: No such file"))
      << s.message();
}

TEST_F(EngineTest, NotADirectory) {
  std::string dir = writeFakePackage(tmp + "/pkg");
  std::shared_ptr<Package> p;
  Status s = Package::open(dir + "/weights.bin", p);
  EXPECT_EQ(s.code(), StatusCode::Io);
  EXPECT_TRUE(contains(s.message(), "not a package directory")) << s.message();
}

TEST_F(EngineTest, MissingManifest) {
  FakePackageSpec spec;
  spec.writeManifest = false;
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Io);
  EXPECT_TRUE(
      contains(s.message(), "/bad/manifest.json: cannot open: No such file"))
      << s.message();
}

TEST_F(EngineTest, InvalidJson) {
  std::string dir = writeFakePackage(tmp + "/bad");
  FILE *f = fopen((dir + "/manifest.json").c_str(), "w");
  fputs("{\"format\": ", f);
  fclose(f);
  std::shared_ptr<Package> p;
  Status s = Package::open(dir, p);
  EXPECT_EQ(s.code(), StatusCode::Format);
  EXPECT_TRUE(contains(s.message(), "/bad/manifest.json: invalid JSON: line 1"))
      << s.message();
}

TEST_F(EngineTest, MissingLibrary) {
  FakePackageSpec spec;
  spec.writeLibrary = false;
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Io);
  EXPECT_TRUE(contains(s.message(), "/bad/model.so: cannot open: No such file"))
      << s.message();
}

TEST_F(EngineTest, LibraryNotLoadable) {
  FakePackageSpec spec;
  spec.writeLibrary = false;
  std::string dir = writeFakePackage(tmp + "/bad", spec);
  FILE *f = fopen((dir + "/model.so").c_str(), "w");
  fputs("not an ELF file", f);
  fclose(f);
  std::shared_ptr<Package> p;
  Status s = Package::open(dir, p);
  EXPECT_EQ(s.code(), StatusCode::Io);
  EXPECT_TRUE(contains(s.message(), "/bad/model.so: cannot load: "))
      << s.message();
}

TEST_F(EngineTest, MissingWeights) {
  FakePackageSpec spec;
  spec.writeWeights = false;
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Io);
  EXPECT_TRUE(
      contains(s.message(), "/bad/weights.bin: cannot open: No such file"))
      << s.message();
}

TEST_F(EngineTest, WeightsSizeMismatch) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    // The tensor table stays within the new total: only the size differs.
    const_cast<json::Value *>(m.get("weights"))
        ->set("bytes", json::Value::integer(192));
  };
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Format);
  EXPECT_TRUE(contains(s.message(), "/bad/weights.bin: size is 128 bytes, but "
                                    "manifest.json says weights.bytes = 192"))
      << s.message();
}

TEST_F(EngineTest, WrongFormat) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    m.set("format", json::Value::string("something-else"));
  };
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Format);
  EXPECT_TRUE(contains(s.message(), "/bad/manifest.json: field 'format': "
                                    "expected 'zamba2c-package', found "
                                    "'something-else'"))
      << s.message();
}

TEST_F(EngineTest, WrongFormatVersion) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    m.set("format_version", json::Value::integer(2));
    m.set("model", json::Value::string("a version 2 layout")); // not read
  };
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Unsupported);
  EXPECT_TRUE(contains(s.message(), "/bad/manifest.json: field "
                                    "'format_version': version 2 is not "
                                    "supported (this runtime reads version 1)"))
      << s.message();
}

TEST_F(EngineTest, MissingFormatVersion) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    auto &members = m.members();
    for (size_t i = 0; i < members.size(); ++i)
      if (members[i].first == "format_version")
        members.erase(members.begin() + static_cast<long>(i));
  };
  Status s = openError(spec);
  EXPECT_TRUE(contains(s.message(), "field 'format_version': expected an "
                                    "integer, found nothing (missing)"))
      << s.message();
}

TEST_F(EngineTest, ManifestAbiVersionUnsupported) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    m.set("abi_version", json::Value::integer(2));
  };
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Unsupported);
  EXPECT_TRUE(contains(s.message(), "field 'abi_version': ABI version 2 is "
                                    "not supported (this runtime implements "
                                    "version 1)"))
      << s.message();
}

TEST_F(EngineTest, LibraryAbiVersionMismatch) {
  FakePackageSpec spec;
  spec.library = ZAMBA2_FAKE_MODEL_ABI2_LIB;
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Format);
  EXPECT_TRUE(contains(s.message(), "/bad/model.so: zamba2_abi_version() "
                                    "returns 2, but manifest.json says "
                                    "abi_version 1"))
      << s.message();
}

TEST_F(EngineTest, MissingEntryPoint) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    const_cast<json::Value *>(m.get("entry_points"))
        ->set("decode", json::Value::string("zamba2_decode_v9"));
  };
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Format);
  EXPECT_TRUE(contains(s.message(),
                       "/bad/model.so: symbol 'zamba2_decode_v9' not found"))
      << s.message();
}

/// The fake package as a CUDA package for sm_90.
FakePackageSpec cudaSpec() {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    json::Value *target = const_cast<json::Value *>(m.get("target"));
    target->set("kind", json::Value::string("cuda"));
    target->set("gpu", json::Value::string("sm_90"));
  };
  return spec;
}

TEST_F(EngineTest, CudaPackageWithoutDriver) {
  // A CUDA package on a machine without the NVIDIA driver: refused before its
  // library is loaded, saying why.
  cuda::resetDriverForTesting();
  cudaSetDriverLibrary("libzamba2-no-such-driver.so");
  FakePackageSpec spec = cudaSpec();
  Status s = openError(spec);
  cuda::resetDriverForTesting();
  cudaSetDriverLibrary("");
  EXPECT_EQ(s.code(), StatusCode::Unsupported);
  EXPECT_TRUE(contains(s.message(), "manifest.json: a CUDA package, but "
                                    "libzamba2-no-such-driver.so not found"))
      << s.message();
}

TEST_F(EngineTest, CudaSessionPinsDecodeSizedLogitsOnly) {
  // A CUDA session on the CUDA simulator, whose device memory is host memory
  // (so the fake model computes there; no graphs: its decode steps are host
  // code, which a replay would not run). A prefill that returns every
  // position's logits copies them through memory that is not page-locked:
  // what the session keeps page-locked stays its inputs and at most three
  // decode steps' logits, however long the prompt. The logits, and which
  // call's logits the session keeps, are as on the CPU.
  cuda::resetDriverForTesting();
  cudaSetDriverLibrary(ZAMBA2_CUDASIM_LIB);
  ::setenv("ZAMBA2_CUDA_GRAPHS", "0", 1);
  FakePackageSpec spec = cudaSpec();
  const int64_t V = 16, B = 2, T = 40, maxT = 64;
  std::shared_ptr<Package> p = open(spec, "cuda");
  ASSERT_TRUE(p && p->isCuda());
  std::unique_ptr<Session> s = session(p, B, maxT);
  ASSERT_TRUE(s);
  const uint64_t inputs = B * (maxT + 1) * 8, step = B * V * 4;
  const uint64_t bound = inputs + 3 * step;
  EXPECT_GT(s->pinnedHostBytes(), 0u); // the simulator page-locks

  std::vector<int64_t> ids(B * T);
  std::vector<std::vector<int64_t>> history(B);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      ids[b * T + t] = 3 + (b * 7 + t) % 11;
      history[b].push_back(ids[b * T + t]);
    }
  ASSERT_TRUE(s->prefill(B, T, ids.data(), nullptr).isOk());
  EXPECT_LE(s->pinnedHostBytes(), bound);
  for (int64_t b = 0; b < B; ++b) {
    const float *last = s->logits() + (b * T + T - 1) * V;
    EXPECT_EQ(std::vector<float>(last, last + V),
              fakeExpectedRow(history[b], b, V, 0.5f))
        << "b " << b;
  }
  // A decode step given no buffer: its logits become the session's.
  int64_t next[B] = {5, 9};
  ASSERT_TRUE(s->decode(B, next, nullptr).isOk());
  for (int64_t b = 0; b < B; ++b) {
    history[b].push_back(next[b]);
    EXPECT_EQ(
        std::vector<float>(s->logits() + b * V, s->logits() + (b + 1) * V),
        fakeExpectedRow(history[b], b, V, 0.5f));
  }
  // One given a buffer: its logits there, the session's unchanged.
  std::vector<float> kept(s->logits(), s->logits() + B * V);
  int64_t then[B] = {4, 6};
  std::vector<float> row(B * V);
  ASSERT_TRUE(s->decode(B, then, row.data()).isOk());
  for (int64_t b = 0; b < B; ++b) {
    history[b].push_back(then[b]);
    EXPECT_EQ(
        std::vector<float>(row.begin() + b * V, row.begin() + (b + 1) * V),
        fakeExpectedRow(history[b], b, V, 0.5f));
  }
  EXPECT_EQ(std::vector<float>(s->logits(), s->logits() + B * V), kept);
  EXPECT_LE(s->pinnedHostBytes(), bound);
  // Another long prefill, into a buffer of the caller's.
  ASSERT_TRUE(s->reset(0).isOk());
  ASSERT_TRUE(s->reset(1).isOk());
  std::vector<float> all(B * T * V);
  ASSERT_TRUE(s->prefill(B, T, ids.data(), all.data()).isOk());
  EXPECT_EQ(std::vector<float>(all.begin() + (T - 1) * V, all.begin() + T * V),
            fakeExpectedRow(std::vector<int64_t>(ids.begin(), ids.begin() + T),
                            0, V, 0.5f));
  EXPECT_LE(s->pinnedHostBytes(), bound);
  s.reset();
  p.reset();
  ::unsetenv("ZAMBA2_CUDA_GRAPHS");
  cuda::resetDriverForTesting();
  cudaSetDriverLibrary("");
}

TEST_F(EngineTest, UnknownTargetKind) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    const_cast<json::Value *>(m.get("target"))
        ->set("kind", json::Value::string("tpu"));
  };
  Status s = openError(spec);
  EXPECT_TRUE(contains(s.message(), "unknown target kind 'tpu'"))
      << s.message();
}

TEST_F(EngineTest, OtherArchitecture) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    const_cast<json::Value *>(m.get("target"))
        ->set("triple", json::Value::string("aarch64-unknown-linux-gnu"));
  };
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Unsupported);
  EXPECT_TRUE(contains(s.message(), "compiled for 'aarch64-unknown-linux-gnu'"))
      << s.message();
}

TEST_F(EngineTest, UnknownCpuFeature) {
  FakePackageSpec spec;
  spec.features = {"avx", "quantum-simd", "warp9"};
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Unsupported);
  EXPECT_TRUE(contains(s.message(), "/bad/manifest.json: field "
                                    "'target.features': unknown CPU features "
                                    "'quantum-simd', 'warp9'"))
      << s.message();
}

TEST_F(EngineTest, MissingCpuFeatureInjected) {
  std::map<std::string, bool> host = {
      {"avx", true}, {"avx2", true}, {"avx512f", false}};
  FakePackageSpec spec;
  spec.features = {"avx", "avx2", "avx512f"};
  PackageOpenOptions options;
  options.cpuFeatures = &host;
  Status s = openError(spec, options);
  EXPECT_EQ(s.code(), StatusCode::Unsupported);
  EXPECT_TRUE(contains(s.message(), "/bad/manifest.json: package needs CPU "
                                    "feature 'avx512f' that this CPU lacks"))
      << s.message();
}

TEST_F(EngineTest, MissingCpuFeatureOnThisCpu) {
  std::string lacking;
  for (const auto &[name, has] : hostCpuFeatures())
    if (!has) {
      lacking = name;
      break;
    }
  if (lacking.empty())
    GTEST_SKIP() << "this CPU has every feature the runtime knows";
  FakePackageSpec spec;
  spec.features = {"sse2", lacking};
  Status s = openError(spec);
  EXPECT_TRUE(contains(s.message(), "package needs CPU feature '" + lacking +
                                        "' that this CPU lacks"))
      << s.message();
}

TEST_F(EngineTest, SupportedCpuFeaturesLoad) {
  FakePackageSpec spec;
  spec.features = supportedCpuFeatures();
  ASSERT_FALSE(spec.features.empty());
  spec.features.push_back("-avx512fp16"); // a disabled feature is not needed
  spec.features.push_back("+sse2");
  EXPECT_NE(open(spec), nullptr);
}

TEST_F(EngineTest, StateBatchDimensionFirst) {
  FakePackageSpec spec;
  spec.editManifest = [](json::Value &m) {
    json::Value &state = const_cast<json::Value &>(*m.get("state"));
    json::Value shape = json::Value::array();
    shape.push(json::Value::integer(2));
    shape.push(json::Value::string("batch"));
    state.items()[1].set("shape", shape);
  };
  Status s = openError(spec);
  EXPECT_EQ(s.code(), StatusCode::Format);
  EXPECT_TRUE(contains(s.message(), "field 'state[1].shape[0]': state 'ssm': "
                                    "the first dimension must be \"batch\""))
      << s.message();
}

//===----------------------------------------------------------------------===//
// Sessions
//===----------------------------------------------------------------------===//

TEST_F(EngineTest, SessionStateAllocation) {
  std::unique_ptr<Session> s = session(open(), 3, 10);
  ASSERT_NE(s, nullptr);
  // conv [3, 4, 3], ssm [3, 2], kv [3, 2, 10, 3], f32
  EXPECT_EQ(s->stateBytes(0), 3u * 4 * 3 * 4);
  EXPECT_EQ(s->stateBytes(1), 3u * 2 * 4);
  EXPECT_EQ(s->stateBytes(2), 3u * 2 * 10 * 3 * 4);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(reinterpret_cast<uintptr_t>(s->stateData(i)) % 64, 0u);
    const char *p = static_cast<const char *>(s->stateData(i));
    for (uint64_t j = 0; j < s->stateBytes(i); ++j)
      ASSERT_EQ(p[j], 0);
  }
  for (int64_t b = 0; b < 3; ++b)
    EXPECT_EQ(s->position(b), 0);
  EXPECT_EQ(s->position(3), -1);
  EXPECT_EQ(s->logits(), nullptr);
}

TEST_F(EngineTest, SessionCreateErrors) {
  std::shared_ptr<Package> p = open();
  std::unique_ptr<Session> s;
  Status st = Session::create(p, 0, 10, s);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_TRUE(contains(st.message(), "max batch must be at least 1, got 0"));
  st = Session::create(p, 1, -1, s);
  EXPECT_TRUE(contains(st.message(), "max sequence length must be at least 1"));
  st = Session::create(p, int64_t(1) << 40, int64_t(1) << 40, s);
  EXPECT_EQ(st.code(), StatusCode::OutOfMemory);
  EXPECT_TRUE(contains(st.message(), "state 'conv'")) << st.message();
  EXPECT_EQ(s, nullptr);
}

TEST_F(EngineTest, Descriptors) {
  FakePackageSpec spec;
  std::shared_ptr<Package> p = open(spec);
  std::unique_ptr<Session> s = session(p, 3, 10);
  FakeHooks hooks = fakeHooks(tmp + "/pkg");
  ASSERT_TRUE(hooks.ok());
  const int64_t B = 2, T = 4, V = 16;
  std::vector<int64_t> ids = {3, 4, 5, 6, 7, 8, 9, 10};
  std::vector<float> logits(B * T * V);
  ASSERT_TRUE(s->prefill(B, T, ids.data(), logits.data()).isOk());
  EXPECT_EQ(hooks.lastEntry(), 1);

  auto ptr = [](const int64_t *d, int word) {
    void *p;
    std::memcpy(&p, &d[word], sizeof(p));
    return p;
  };
  auto check = [&](int arg, const void *data, std::vector<int64_t> sizes) {
    SCOPED_TRACE("argument " + std::to_string(arg));
    const int64_t *d = hooks.lastDescriptor(arg);
    size_t r = sizes.size();
    EXPECT_EQ(ptr(d, 0), data);
    EXPECT_EQ(ptr(d, 1), data);
    EXPECT_EQ(d[2], 0);
    int64_t stride = 1;
    for (size_t i = r; i-- > 0;) {
      EXPECT_EQ(d[3 + i], sizes[i]) << "size " << i;
      EXPECT_EQ(d[3 + r + i], stride) << "stride " << i;
      stride *= sizes[i];
    }
  };
  check(0, p->weights(), {128});
  check(1, ids.data(), {B, T});
  check(2, ptr(hooks.lastDescriptor(2), 1), {B});
  check(3, s->stateData(0), {B, 4, 3});
  check(4, s->stateData(1), {B, 2});
  check(5, s->stateData(2), {B, 2, 10, 3}); // seq keeps the session's max
  check(6, logits.data(), {B, T, V});
  // The positions the model saw: both sequences at 0.
  const int64_t *pos =
      static_cast<const int64_t *>(ptr(hooks.lastDescriptor(2), 1));
  EXPECT_EQ(pos[0], 0);
  EXPECT_EQ(pos[1], 0);

  // Decode: T = 1, positions 4.
  std::vector<int64_t> next = {11, 12};
  ASSERT_TRUE(s->decode(B, next.data(), logits.data()).isOk());
  EXPECT_EQ(hooks.lastEntry(), 2);
  EXPECT_EQ(hooks.badDecodes(), 0);
  check(1, next.data(), {B, 1});
  check(6, logits.data(), {B, 1, V});
  pos = static_cast<const int64_t *>(ptr(hooks.lastDescriptor(2), 1));
  EXPECT_EQ(pos[0], 4);
  EXPECT_EQ(pos[1], 4);
}

TEST_F(EngineTest, ThreadPoolInstalled) {
  std::shared_ptr<Package> p = open();
  EXPECT_TRUE(p->usesThreadPool());
  FakeHooks hooks = fakeHooks(tmp + "/pkg");
  ASSERT_TRUE(hooks.ok());
  EXPECT_EQ(hooks.hasDispatcher(), 1);
  // Many rows through the pool: each still sees only its own state.
  const int64_t B = 64, V = 16;
  std::unique_ptr<Session> s = session(p, B, 4);
  std::vector<int64_t> ids(B * 2);
  for (int64_t b = 0; b < B; ++b) {
    ids[b * 2] = b % 16;
    ids[b * 2 + 1] = (b * 7) % 16;
  }
  std::vector<float> logits(B * 2 * V);
  ASSERT_TRUE(s->prefill(B, 2, ids.data(), logits.data()).isOk());
  for (int64_t b = 0; b < B; ++b)
    EXPECT_EQ(std::vector<float>(logits.begin() + (b * 2 + 1) * V,
                                 logits.begin() + (b * 2 + 2) * V),
              fakeExpectedRow({ids[b * 2], ids[b * 2 + 1]}, b, V, 0.5f))
        << "row " << b;
}

TEST_F(EngineTest, PositionsAdvance) {
  std::unique_ptr<Session> s = session(open(), 3, 10);
  std::vector<int64_t> ids = {3, 4, 5, 6, 7, 8};
  ASSERT_TRUE(s->prefill(2, 3, ids.data(), nullptr).isOk());
  EXPECT_EQ(s->position(0), 3);
  EXPECT_EQ(s->position(1), 3);
  EXPECT_EQ(s->position(2), 0);
  ASSERT_TRUE(s->decode(1, ids.data(), nullptr).isOk());
  EXPECT_EQ(s->position(0), 4);
  EXPECT_EQ(s->position(1), 3);
  ASSERT_TRUE(s->decode(3, ids.data(), nullptr).isOk());
  EXPECT_EQ(s->position(0), 5);
  EXPECT_EQ(s->position(1), 4);
  EXPECT_EQ(s->position(2), 1);
}

TEST_F(EngineTest, StatePersistsAcrossCallsAndRows) {
  const int64_t V = 16;
  std::unique_ptr<Session> s = session(open(), 2, 12);
  // Row 0: 3 4 5 | 6 | 7 ; row 1: 9 1 2 | 0 | 15
  std::vector<std::vector<int64_t>> hist(2);
  std::vector<int64_t> prompt = {3, 4, 5, 9, 1, 2};
  std::vector<float> logits(2 * 3 * V);
  ASSERT_TRUE(s->prefill(2, 3, prompt.data(), logits.data()).isOk());
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t t = 0; t < 3; ++t) {
      hist[b].push_back(prompt[b * 3 + t]);
      std::vector<float> want = fakeExpectedRow(hist[b], b, V, 0.5f);
      std::vector<float> got(logits.begin() + (b * 3 + t) * V,
                             logits.begin() + (b * 3 + t + 1) * V);
      EXPECT_EQ(got, want) << "b " << b << " t " << t;
    }
  for (std::vector<int64_t> step :
       {std::vector<int64_t>{6, 0}, std::vector<int64_t>{7, 15}}) {
    ASSERT_TRUE(s->decode(2, step.data(), logits.data()).isOk());
    for (int64_t b = 0; b < 2; ++b) {
      hist[b].push_back(step[b]);
      std::vector<float> got(logits.begin() + b * V,
                             logits.begin() + (b + 1) * V);
      EXPECT_EQ(got, fakeExpectedRow(hist[b], b, V, 0.5f)) << "b " << b;
    }
  }
}

TEST_F(EngineTest, DecodeMatchesPrefill) {
  const int64_t V = 16;
  std::shared_ptr<Package> p = open();
  std::unique_ptr<Session> whole = session(p, 2, 8), steps = session(p, 2, 8);
  std::vector<int64_t> ids = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
  std::vector<float> a(2 * 6 * V), b(2 * 6 * V);
  ASSERT_TRUE(whole->prefill(2, 6, ids.data(), a.data()).isOk());
  // Prefill 2, then 4 decode steps (teacher forcing).
  std::vector<int64_t> first = {3, 4, 9, 10};
  std::vector<float> out(2 * 2 * V);
  ASSERT_TRUE(steps->prefill(2, 2, first.data(), out.data()).isOk());
  for (int64_t r = 0; r < 2; ++r)
    std::copy(out.begin() + r * 2 * V, out.begin() + (r + 1) * 2 * V,
              b.begin() + r * 6 * V);
  for (int64_t t = 2; t < 6; ++t) {
    int64_t step[2] = {ids[t], ids[6 + t]};
    std::vector<float> row(2 * V);
    ASSERT_TRUE(steps->decode(2, step, row.data()).isOk());
    for (int64_t r = 0; r < 2; ++r)
      std::copy(row.begin() + r * V, row.begin() + (r + 1) * V,
                b.begin() + (r * 6 + t) * V);
  }
  EXPECT_EQ(a, b);
}

TEST_F(EngineTest, InternalLogitsBuffer) {
  const int64_t V = 16;
  std::unique_ptr<Session> s = session(open(), 1, 8);
  std::vector<int64_t> ids = {3, 4, 5};
  ASSERT_TRUE(s->prefill(1, 3, ids.data(), nullptr).isOk());
  ASSERT_NE(s->logits(), nullptr);
  std::vector<float> last(s->logits() + 2 * V, s->logits() + 3 * V);
  EXPECT_EQ(last, fakeExpectedRow({3, 4, 5}, 0, V, 0.5f));
  int64_t next = 9;
  ASSERT_TRUE(s->decode(1, &next, nullptr).isOk());
  std::vector<float> row(s->logits(), s->logits() + V);
  EXPECT_EQ(row, fakeExpectedRow({3, 4, 5, 9}, 0, V, 0.5f));
}

TEST_F(EngineTest, ResetClearsOneRowOnly) {
  const int64_t V = 16;
  std::unique_ptr<Session> s = session(open(), 2, 6);
  std::vector<int64_t> ids = {3, 4, 5, 6};
  ASSERT_TRUE(s->prefill(2, 2, ids.data(), nullptr).isOk());
  std::vector<char> before = snapshot(*s, 3);
  ASSERT_TRUE(s->reset(0).isOk());
  EXPECT_EQ(s->position(0), 0);
  EXPECT_EQ(s->position(1), 2);
  for (size_t i = 0; i < 3; ++i) {
    const char *p = static_cast<const char *>(s->stateData(i));
    uint64_t row = s->stateBytes(i) / 2;
    for (uint64_t j = 0; j < row; ++j)
      ASSERT_EQ(p[j], 0) << "state " << i << " byte " << j;
    // Row 1 untouched.
    size_t offset = 0;
    for (size_t k = 0; k < i; ++k)
      offset += s->stateBytes(k);
    EXPECT_EQ(std::memcmp(p + row, before.data() + offset + row, row), 0);
  }
  // Row 0 starts over, row 1 continues.
  std::vector<int64_t> step = {7, 8};
  std::vector<float> logits(2 * V);
  ASSERT_TRUE(s->decode(2, step.data(), logits.data()).isOk());
  EXPECT_EQ(std::vector<float>(logits.begin(), logits.begin() + V),
            fakeExpectedRow({7}, 0, V, 0.5f));
  EXPECT_EQ(std::vector<float>(logits.begin() + V, logits.end()),
            fakeExpectedRow({5, 6, 8}, 1, V, 0.5f));

  Status st = s->reset(2);
  EXPECT_EQ(st.code(), StatusCode::InvalidArgument);
  EXPECT_TRUE(contains(st.message(), "reset: sequence 2 is outside [0, 2)"));
  s->resetAll();
  EXPECT_EQ(s->position(1), 0);
  for (char c : snapshot(*s, 3))
    ASSERT_EQ(c, 0);
}

TEST_F(EngineTest, CallErrorsChangeNothing) {
  std::unique_ptr<Session> s = session(open(), 2, 5);
  FakeHooks hooks = fakeHooks(tmp + "/pkg");
  ASSERT_TRUE(hooks.ok());
  std::vector<int64_t> ids = {3, 4, 5, 6};
  ASSERT_TRUE(s->prefill(2, 2, ids.data(), nullptr).isOk());
  std::vector<char> before = snapshot(*s, 3);
  int64_t calls = hooks.numCalls();

  auto expectError = [&](Status st, StatusCode code, const std::string &text) {
    EXPECT_EQ(st.code(), code) << st.message();
    EXPECT_TRUE(contains(st.message(), text)) << st.message();
    EXPECT_EQ(hooks.numCalls(), calls);
    EXPECT_EQ(s->position(0), 2);
    EXPECT_EQ(s->position(1), 2);
    EXPECT_EQ(snapshot(*s, 3), before);
  };
  std::vector<int64_t> big(16, 3);
  expectError(s->prefill(3, 1, big.data(), nullptr),
              StatusCode::InvalidArgument,
              "prefill: batch size 3 is outside [1, 2]");
  expectError(s->decode(0, big.data(), nullptr), StatusCode::InvalidArgument,
              "decode: batch size 0 is outside [1, 2]");
  expectError(s->prefill(1, 0, big.data(), nullptr),
              StatusCode::InvalidArgument,
              "prefill: sequence length must be at least 1, got 0");
  expectError(s->prefill(1, 1, nullptr, nullptr), StatusCode::InvalidArgument,
              "prefill: no token ids");
  std::vector<int64_t> bad = {3, 4, 16, 5};
  expectError(s->prefill(2, 2, bad.data(), nullptr),
              StatusCode::InvalidArgument,
              "prefill: token id 16 at [1, 0] is outside the vocabulary "
              "[0, 16)");
  bad = {-1, 3};
  expectError(s->decode(2, bad.data(), nullptr), StatusCode::InvalidArgument,
              "decode: token id -1 at [0, 0]");
  // 2 + 4 > 5
  expectError(s->prefill(1, 4, big.data(), nullptr), StatusCode::Capacity,
              "prefill: sequence 0 is at position 2; 4 more tokens would "
              "exceed the session's max sequence length 5");
  // Fill row 0 to 5, then one more decode is refused.
  ASSERT_TRUE(s->prefill(1, 3, big.data(), nullptr).isOk());
  before = snapshot(*s, 3);
  calls = hooks.numCalls();
  Status st = s->decode(2, big.data(), nullptr);
  EXPECT_EQ(st.code(), StatusCode::Capacity);
  EXPECT_TRUE(contains(st.message(), "decode: sequence 0 is at position 5; 1 "
                                     "more token would exceed"))
      << st.message();
  EXPECT_EQ(snapshot(*s, 3), before);
  EXPECT_EQ(s->position(1), 2);
  // Row 1 alone still has room... but rows are 0..B-1, so after a reset of
  // row 0 the batch runs again.
  ASSERT_TRUE(s->reset(0).isOk());
  EXPECT_TRUE(s->decode(2, big.data(), nullptr).isOk());
}

//===----------------------------------------------------------------------===//
// CPU features
//===----------------------------------------------------------------------===//

TEST(CpuFeatures, HostTable) {
  const auto &host = hostCpuFeatures();
#if defined(__x86_64__)
  for (const char *name :
       {"sse4.1", "sse4.2", "avx", "avx2", "fma", "f16c", "bmi", "bmi2",
        "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx512bf16",
        "avx512vnni", "avx512fp16", "popcnt", "lzcnt"})
    EXPECT_EQ(host.count(name), 1u) << name;
  EXPECT_TRUE(host.at("sse2"));
  EXPECT_TRUE(host.at("64bit"));
  // AVX2 implies AVX here as on any real CPU.
  if (host.at("avx2"))
    EXPECT_TRUE(host.at("avx"));
#else
  EXPECT_TRUE(host.empty());
#endif
}

TEST(CpuFeatures, Check) {
  std::map<std::string, bool> host = {
      {"avx", true}, {"avx2", false}, {"fma", false}, {"sse4.1", true}};
  EXPECT_TRUE(checkCpuFeatures({}, "m.json", host).isOk());
  EXPECT_TRUE(
      checkCpuFeatures({"avx", "+sse4.1", "-avx2"}, "m.json", host).isOk());
  Status s = checkCpuFeatures({"avx2", "fma", "avx"}, "m.json", host);
  EXPECT_EQ(s.message(), "m.json: package needs CPU features 'avx2', 'fma' "
                         "that this CPU lacks");
  s = checkCpuFeatures({"avx", "bogus"}, "m.json", host);
  EXPECT_EQ(s.code(), StatusCode::Unsupported);
  EXPECT_TRUE(contains(s.message(), "m.json: field 'target.features': "
                                    "unknown CPU feature 'bogus' ("))
      << s.message();
  // Unknown names are reported before missing ones.
  s = checkCpuFeatures({"avx2", "bogus"}, "m.json", host);
  EXPECT_TRUE(contains(s.message(), "unknown CPU feature 'bogus'"));
  s = checkCpuFeatures({"avx"}, "m.json", {});
  EXPECT_TRUE(contains(s.message(), "cannot check CPU features on this "
                                    "architecture"));
}

} // namespace
