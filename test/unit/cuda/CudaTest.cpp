//===- CudaTest.cpp - The CUDA backend of the runtime, without a GPU ------===//
//
// Without a driver the backend must explain itself and record (never crash
// on) the mgpu* calls of a model; with FakeLibcuda.c standing in for the
// driver, the whole path runs: loading, contexts, managed memory, the mgpu*
// ABI and its symbols resolved by a dlopen'ed RTLD_LOCAL model library.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/Cuda.h"
#include "runtime/cuda/CudaDriver.h"
#include "runtime/cuda/MgpuRuntime.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <filesystem>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

using namespace zamba2;

namespace {

class CudaTest : public ::testing::Test {
protected:
  void TearDown() override {
    if (opened) {
      if (opened->out)
        mgpuMemFree(opened->out, opened->stream);
      if (opened->stream)
        cudaDestroyStream(opened->stream);
      mgpuModuleUnload(opened->module);
    }
    cuda::resetDriverForTesting();
    cuda::setDriverLibraryName("");
    ::unsetenv("FAKE_CUDA_DEVICES");
    ::unsetenv("FAKE_MODEL_BLOB");
    if (fake)
      ::dlclose(fake);
  }
  void useDriver(const char *library) {
    cuda::resetDriverForTesting();
    cudaSetDriverLibrary(library);
  }
  /// A function the fake driver exports for the tests (what it counted or
  /// saw), of type F; null when it is missing.
  template <typename F> F *fakeReport(const char *name) {
    if (!fake)
      fake = ::dlopen(ZAMBA2_FAKE_LIBCUDA, RTLD_NOW | RTLD_LOCAL);
    return fake ? reinterpret_cast<F *>(::dlsym(fake, name)) : nullptr;
  }

  /// The fake driver's `fill` kernel (out[i] = value + i) with a stream
  /// and `n` words of device memory for it; freed in TearDown.
  struct Fill {
    void *module = nullptr, *function = nullptr, *stream = nullptr;
    uint32_t *out = nullptr;
  };
  Fill openFill(uint32_t n) {
    useDriver(ZAMBA2_FAKE_LIBCUDA);
    Fill f;
    f.module = mgpuModuleLoad(const_cast<char *>("FAKE-CUBIN"), 10);
    f.function = mgpuModuleGetFunction(f.module, "fill");
    std::string err;
    f.stream = cudaCreateStream(err);
    EXPECT_NE(f.stream, nullptr) << err;
    if (f.stream)
      f.out = static_cast<uint32_t *>(mgpuMemAlloc(n * 4, f.stream, 0));
    opened = f;
    return f;
  }

private:
  void *fake = nullptr;
  std::optional<Fill> opened;
};

bool startsWith(const std::string &s, const std::string &prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

TEST_F(CudaTest, DefaultDriverLibraryIsLibcuda) {
  const char *saved = std::getenv("ZAMBA2_LIBCUDA");
  std::string keep = saved ? saved : "";
  ::unsetenv("ZAMBA2_LIBCUDA");
  EXPECT_EQ(cuda::driverLibraryName(), "libcuda.so.1");
  ::setenv("ZAMBA2_LIBCUDA", "libother.so", 1);
  EXPECT_EQ(cuda::driverLibraryName(), "libother.so");
  cudaSetDriverLibrary("libmine.so");
  EXPECT_EQ(cuda::driverLibraryName(), "libmine.so");
  if (saved)
    ::setenv("ZAMBA2_LIBCUDA", keep.c_str(), 1);
  else
    ::unsetenv("ZAMBA2_LIBCUDA");
}

TEST_F(CudaTest, NoDriverIsExplained) {
  useDriver("libzamba2-no-such-driver.so.1");
  std::string why;
  EXPECT_FALSE(cudaAvailable(why));
  EXPECT_EQ(why, "libzamba2-no-such-driver.so.1 not found: this machine has "
                 "no NVIDIA driver");
  EXPECT_EQ(cudaDeviceDescription(),
            "no CUDA GPU: libzamba2-no-such-driver.so.1 not found: this "
            "machine has no NVIDIA driver");
  std::string err;
  EXPECT_EQ(cudaAllocManaged(64, err), nullptr);
  EXPECT_EQ(err, why);
  EXPECT_FALSE(cudaSynchronize(err));
  int major = 0, minor = 0;
  EXPECT_FALSE(cudaComputeCapability(major, minor, err));
  EXPECT_FALSE(cudaCheckTarget("sm_90", false, err));
  // The engine's own calls report through their arguments only.
  std::string message;
  EXPECT_FALSE(cudaTakeError(message));
}

TEST_F(CudaTest, MgpuCallsWithoutDriverRecordInsteadOfCrashing) {
  useDriver("libzamba2-no-such-driver.so.1");
  EXPECT_EQ(mgpuMemAlloc(1024, nullptr, 1), nullptr);
  EXPECT_EQ(mgpuStreamCreate(), nullptr);
  EXPECT_EQ(mgpuModuleLoad(const_cast<char *>("FAKE-CUBIN"), 10), nullptr);
  uint32_t host[4] = {0, 0, 0, 0};
  mgpuMemset32(host, 7, 4, nullptr);
  mgpuMemcpy(host, host + 2, 8, nullptr);
  mgpuStreamSynchronize(nullptr);
  mgpuStreamDestroy(nullptr);
  mgpuModuleUnload(nullptr);
  mgpuMemFree(nullptr, nullptr);
  EXPECT_EQ(host[0], 0u); // nothing ran
  std::string message;
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuMemAlloc: libzamba2-no-such-driver.so.1 not found: "
                     "this machine has no NVIDIA driver (and 5 more CUDA "
                     "errors)");
  EXPECT_FALSE(cudaTakeError(message)); // taken
  void *function = mgpuModuleGetFunction(nullptr, "fill");
  EXPECT_EQ(function, nullptr);
  mgpuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr, 0);
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuModuleGetFunction: no GPU module for kernel 'fill' "
                     "(its load failed) (and 1 more CUDA error)");
}

TEST_F(CudaTest, ErrorTextWithoutDriverNames) {
  useDriver("libzamba2-no-such-driver.so.1");
  EXPECT_EQ(cuda::formatError("mgpuMemAlloc", "cuMemAlloc_v2", 2),
            "mgpuMemAlloc: cuMemAlloc_v2 failed: CUDA error (2)");
  EXPECT_EQ(cuda::formatError(nullptr, "cuInit", 100),
            "cuInit failed: CUDA error (100)");
}

TEST_F(CudaTest, ErrorTextWithDriverNames) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  std::string why;
  ASSERT_TRUE(cudaAvailable(why)) << why;
  EXPECT_EQ(cuda::formatError("mgpuMemAlloc", "cuMemAlloc_v2", 2),
            "mgpuMemAlloc: cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY "
            "(2): out of memory");
  EXPECT_EQ(cuda::formatError(nullptr, "cuFoo", 12345),
            "cuFoo failed: CUDA error (12345)");
  // A failing driver call inside an mgpu* function.
  EXPECT_EQ(mgpuMemAlloc(uint64_t(1) << 41, nullptr, 0), nullptr);
  std::string message;
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuMemAlloc: cuMemAlloc_v2 failed: "
                     "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory "
                     "(2199023255552 bytes)");
  std::string err;
  EXPECT_EQ(cudaAllocManaged(uint64_t(1) << 41, err), nullptr);
  EXPECT_EQ(err, "cudaAllocManaged: cuMemAllocManaged failed: "
                 "CUDA_ERROR_OUT_OF_MEMORY (2): out of memory "
                 "(2199023255552 bytes)");
}

TEST_F(CudaTest, DriverWithoutDevice) {
  ::setenv("FAKE_CUDA_DEVICES", "0", 1);
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  std::string why;
  EXPECT_FALSE(cudaAvailable(why));
  EXPECT_EQ(why, "the NVIDIA driver found no CUDA device (cuInit: "
                 "CUDA_ERROR_NO_DEVICE)");
}

TEST_F(CudaTest, DriverTooOld) {
  useDriver(ZAMBA2_FAKE_LIBCUDA_OLD);
  std::string why;
  EXPECT_FALSE(cudaAvailable(why));
  EXPECT_TRUE(startsWith(why, ZAMBA2_FAKE_LIBCUDA_OLD)) << why;
  EXPECT_NE(why.find(" lacks cuMemAllocManaged: the NVIDIA driver is too old"),
            std::string::npos)
      << why;
}

TEST_F(CudaTest, DeviceDescriptionAndTarget) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  EXPECT_EQ(cudaDeviceDescription(),
            "Fake GPU (device 0 of 1): compute capability 9.0 (sm_90), 80.0 "
            "GiB, 132 SMs, driver CUDA 13.0");
  std::string why;
  EXPECT_TRUE(cudaCheckTarget("sm_90", false, why)) << why;
  EXPECT_TRUE(cudaCheckTarget("sm_90a", false, why)) << why;
  EXPECT_TRUE(cudaCheckTarget("sm_80", true, why)) << why; // PTX JITs up
  EXPECT_FALSE(cudaCheckTarget("sm_80", false, why));
  EXPECT_EQ(why, "the package's GPU code is for sm_80, but this GPU (Fake "
                 "GPU) is sm_90");
  EXPECT_FALSE(cudaCheckTarget("sm_100", true, why));
  EXPECT_FALSE(cudaCheckTarget("sm_86a", false, why));
  EXPECT_FALSE(cudaCheckTarget("gfx90a", false, why));
  EXPECT_EQ(why, "unknown GPU target 'gfx90a' (expected e.g. sm_90)");
  EXPECT_FALSE(cudaCheckTarget("sm_90x", false, why));
}

TEST_F(CudaTest, ManagedMemoryMemsetMemcpy) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  std::string err;
  const size_t n = 1000;
  auto *a = static_cast<uint32_t *>(cudaAllocManaged(n * 4, err));
  auto *b = static_cast<uint32_t *>(mgpuMemAlloc(n * 4, nullptr, 1));
  ASSERT_NE(a, nullptr) << err;
  ASSERT_NE(b, nullptr);
  void *stream = mgpuStreamCreate();
  ASSERT_NE(stream, nullptr);
  mgpuMemset32(a, 0xdeadbeefu, n, stream);
  mgpuMemcpy(b, a, n * 4, stream);
  mgpuMemset16(b, 0x1234, 2, stream); // first 4 bytes only
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
  EXPECT_TRUE(cudaSynchronize(err)) << err;
  EXPECT_EQ(b[0], 0x12341234u);
  EXPECT_EQ(b[1], 0xdeadbeefu);
  EXPECT_EQ(b[n - 1], 0xdeadbeefu);
  void *event = mgpuEventCreate();
  mgpuEventRecord(event, nullptr);
  mgpuStreamWaitEvent(nullptr, event);
  mgpuEventSynchronize(event);
  mgpuEventDestroy(event);
  mgpuMemFree(b, nullptr);
  cudaFree(a);
  cudaFree(nullptr);
  std::string message;
  EXPECT_FALSE(cudaTakeError(message)) << message;
  EXPECT_EQ(mgpuMemAlloc(0, nullptr, 0), nullptr); // not an error
  EXPECT_FALSE(cudaTakeError(message)) << message;
}

TEST_F(CudaTest, StreamsAreReused) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  auto created = fakeReport<int()>("fakeCudaStreamsCreated");
  ASSERT_NE(created, nullptr);
  void *s1 = mgpuStreamCreate();
  int before = created();
  mgpuStreamDestroy(s1);
  void *s2 = mgpuStreamCreate();
  EXPECT_EQ(s1, s2);
  EXPECT_EQ(created(), before);
  void *s3 = mgpuStreamCreate();
  EXPECT_NE(s3, s2);
  mgpuStreamDestroy(s2);
  mgpuStreamDestroy(s3);
}

// A compiled model allocates one workspace per call. The cache serves a
// request from an idle block of up to twice its size; a new size gives back
// the blocks that earlier calls freed, but not a pinned block (one a CUDA
// graph replays) nor one freed in the current call (its kernels may still
// be queued).
TEST_F(CudaTest, TemporariesCacheKeepsTheCurrentCallAndPinnedBlocks) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  auto live = fakeReport<int()>("fakeCudaLiveAllocations");
  ASSERT_NE(live, nullptr);
  std::string err;
  void *stream = cudaCreateStream(err);
  ASSERT_NE(stream, nullptr) << err;
  const int base = live();
  void *first = nullptr;
  {
    CudaCallScope call(stream);
    first = mgpuMemAlloc(1000, stream, 0); // a 1024-byte block
    ASSERT_NE(first, nullptr);
    mgpuMemFree(first, stream);
  }
  EXPECT_EQ(live(), base + 1);
  {
    CudaCallScope call(stream);
    void *again = mgpuMemAlloc(600, stream, 0); // 768 bytes: 1024 serves
    EXPECT_EQ(again, first);
    mgpuMemFree(again, stream);
  }
  EXPECT_EQ(live(), base + 1);
  void *inCall = nullptr;
  {
    CudaCallScope call(stream);
    void *small = mgpuMemAlloc(100, stream, 0); // 1024 is too wasteful
    EXPECT_NE(small, first);
    EXPECT_EQ(live(), base + 1); // the earlier call's block went back
    mgpuMemFree(small, stream);
    inCall = mgpuMemAlloc(5000, stream, 0);
    EXPECT_EQ(live(), base + 2); // `small` was freed in this call: kept
    mgpuMemFree(inCall, stream);
  }
  cuda::poolPin({reinterpret_cast<uintptr_t>(inCall)}, true);
  {
    CudaCallScope call(stream);
    void *big = mgpuMemAlloc(1 << 20, stream, 0);
    ASSERT_NE(big, nullptr);
    EXPECT_EQ(live(), base + 2); // `small` went back, `inCall` is pinned
    mgpuMemFree(big, stream);
  }
  cuda::poolPin({reinterpret_cast<uintptr_t>(inCall)}, false);
  cudaDestroyStream(stream);
  EXPECT_EQ(live(), base);
  std::string message;
  EXPECT_FALSE(cudaTakeError(message)) << message;
}

TEST_F(CudaTest, HostRegisterMemRefSpansTheView) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  auto last = fakeReport<void(void **, size_t *)>("fakeCudaLastHostRegister");
  ASSERT_NE(last, nullptr);
  std::vector<float> data(100);
  // memref<3x4xf32, strided<[10, 2], offset: 5>>: spans 1 + 2*10 + 3*2 = 27.
  int64_t desc[7];
  float *base = data.data();
  std::memcpy(&desc[0], &base, sizeof(base));
  std::memcpy(&desc[1], &base, sizeof(base));
  desc[2] = 5;
  desc[3] = 3;
  desc[4] = 4;
  desc[5] = 10;
  desc[6] = 2;
  mgpuMemHostRegisterMemRef(2, desc, 4);
  void *p = nullptr;
  size_t bytes = 0;
  last(&p, &bytes);
  EXPECT_EQ(p, base + 5);
  EXPECT_EQ(bytes, 27u * 4);
  mgpuMemHostUnregisterMemRef(2, desc, 4);
  mgpuMemHostRegisterMemRef(1, nullptr, 4);
  std::string message;
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuMemHostRegisterMemRef: invalid memref descriptor");
}

TEST_F(CudaTest, LaunchChecksItsArguments) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  void *module = mgpuModuleLoad(const_cast<char *>("FAKE-CUBIN"), 10);
  ASSERT_NE(module, nullptr);
  void *function = mgpuModuleGetFunction(module, "fill");
  ASSERT_NE(function, nullptr);
  mgpuLaunchKernel(function, 0, 1, 1, 128, 1, 1, 0, nullptr, nullptr, nullptr,
                   0);
  std::string message;
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuLaunchKernel: invalid launch dimensions (0, 1, 1, "
                     "128, 1, 1)");
  mgpuLaunchKernel(function, 1, 1, 1, 128, 1, 1, 300000, nullptr, nullptr,
                   nullptr, 0);
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuLaunchKernel: the kernel asks for 300000 bytes of "
                     "dynamic shared memory, the device allows 232448");
  EXPECT_EQ(mgpuModuleGetFunction(module, "nope"), nullptr);
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuModuleGetFunction: cuModuleGetFunction failed: "
                     "CUDA_ERROR_NOT_FOUND (500): named symbol not found "
                     "(kernel 'nope')");
  mgpuLaunchClusterKernel(function, 2, 1, 1, 0, 1, 1, 128, 1, 1, 0, nullptr,
                          nullptr, nullptr);
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message, "mgpuLaunchClusterKernel: invalid launch dimensions (2, "
                     "1, 1, 0, 1, 1, 128, 1, 1)");
  mgpuModuleUnload(module);
  EXPECT_FALSE(cudaTakeError(message)) << message;
}

// Inside a call of a package whose kernels wait for their predecessors, a
// kernel right after a kernel is a dependent launch; the first kernel of a
// call, one after other stream work, and every kernel of a package without
// the waits or outside a call are launched plainly.
TEST_F(CudaTest, DependentLaunchOnlyRightAfterAKernel) {
  constexpr uint32_t kN = 64;
  Fill f = openFill(kN);
  ASSERT_NE(f.function, nullptr);
  ASSERT_NE(f.out, nullptr);
  void *function = f.function, *stream = f.stream;
  uint32_t *out = f.out;
  auto dependent = fakeReport<int()>("fakeCudaDependentLaunches");
  ASSERT_NE(dependent, nullptr);
  uint32_t value = 0;
  auto fill = [&](uint32_t v) {
    uint32_t n = kN;
    value = v;
    void *params[3] = {&out, &n, &value};
    mgpuLaunchKernel(function, 1, 1, 1, kN, 1, 1, 0, stream, params, nullptr,
                     3);
  };
  const int base = dependent();
  {
    CudaCallScope call(stream, /*dependentLaunch=*/true);
    fill(1);
    EXPECT_EQ(dependent(), base); // the call's first kernel
    fill(2);
    EXPECT_EQ(dependent(), base + 1);
    mgpuMemset32(out, 0, kN, stream);
    fill(3);
    EXPECT_EQ(dependent(), base + 1); // after a memset
    fill(4);
    EXPECT_EQ(dependent(), base + 2);
  }
  for (uint32_t i = 0; i < kN; ++i)
    ASSERT_EQ(out[i], 4 + i); // the dependent launch ran the kernel
  {
    CudaCallScope call(stream, /*dependentLaunch=*/true);
    fill(5);
    EXPECT_EQ(dependent(), base + 2); // a new call begins plainly
  }
  {
    CudaCallScope call(stream, /*dependentLaunch=*/false);
    fill(6);
    fill(7);
  }
  fill(8);
  fill(9);
  EXPECT_EQ(dependent(), base + 2);
  std::string message;
  EXPECT_FALSE(cudaTakeError(message)) << message;
}

TEST_F(CudaTest, KernelLaunchesCountsWhatWasLaunched) {
  constexpr uint32_t kN = 32;
  Fill f = openFill(kN);
  ASSERT_NE(f.function, nullptr);
  ASSERT_NE(f.out, nullptr);
  void *function = f.function, *stream = f.stream;
  uint32_t *out = f.out;
  uint32_t n = kN, value = 7;
  void *params[3] = {&out, &n, &value};
  const uint64_t before = cudaKernelLaunches();
  for (int i = 0; i < 3; ++i)
    mgpuLaunchKernel(function, 1, 1, 1, kN, 1, 1, 0, stream, params, nullptr,
                     3);
  EXPECT_EQ(cudaKernelLaunches(), before + 3);
  // Neither a missing kernel nor a memset is a launch.
  mgpuLaunchKernel(nullptr, 1, 1, 1, kN, 1, 1, 0, stream, params, nullptr, 3);
  mgpuMemset32(out, 0, kN, stream);
  EXPECT_EQ(cudaKernelLaunches(), before + 3);
  std::string message;
  EXPECT_TRUE(cudaTakeError(message)); // the missing kernel's
  EXPECT_NE(message.find("no kernel"), std::string::npos) << message;
}

TEST_F(CudaTest, ExecutableExportsTheMgpuSymbols) {
  for (const char *name : {"mgpuModuleLoad",
                           "mgpuModuleLoadJIT",
                           "mgpuModuleUnload",
                           "mgpuModuleGetFunction",
                           "mgpuLaunchKernel",
                           "mgpuLaunchClusterKernel",
                           "mgpuStreamCreate",
                           "mgpuStreamDestroy",
                           "mgpuStreamSynchronize",
                           "mgpuStreamWaitEvent",
                           "mgpuEventCreate",
                           "mgpuEventDestroy",
                           "mgpuEventSynchronize",
                           "mgpuEventRecord",
                           "mgpuMemAlloc",
                           "mgpuMemFree",
                           "mgpuMemcpy",
                           "mgpuMemset32",
                           "mgpuMemset16",
                           "mgpuMemHostRegister",
                           "mgpuMemHostUnregister",
                           "mgpuMemHostRegisterMemRef",
                           "mgpuMemHostUnregisterMemRef",
                           "mgpuSetDefaultDevice"})
    EXPECT_NE(::dlsym(RTLD_DEFAULT, name), nullptr) << name;
}

TEST_F(CudaTest, ModelLibraryResolvesTheMgpuAbi) {
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  std::string why;
  ASSERT_TRUE(cudaAvailable(why)) << why;
  void *model = ::dlopen(ZAMBA2_FAKE_GPU_MODEL, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(model, nullptr) << ::dlerror();
  std::string message;
  EXPECT_FALSE(cudaTakeError(message)) << message; // module loaded at dlopen
  auto fill = reinterpret_cast<void (*)(uint32_t *, uint32_t, uint32_t)>(
      ::dlsym(model, "fake_model_fill"));
  ASSERT_NE(fill, nullptr);
  std::string err;
  auto *out = static_cast<uint32_t *>(cudaAllocManaged(300 * 4, err));
  ASSERT_NE(out, nullptr) << err;
  fill(out, 300, 1000);
  ASSERT_TRUE(cudaSynchronize(err)) << err;
  EXPECT_FALSE(cudaTakeError(message)) << message;
  EXPECT_EQ(out[0], 1000u);
  EXPECT_EQ(out[299], 1299u);
  cudaFree(out);
  ::dlclose(model); // its destructor unloads the module
  EXPECT_FALSE(cudaTakeError(message)) << message;
}

/// dlopen of a private copy of the fake model library: its constructor (the
/// module load) runs even when an earlier test of this binary opened the
/// library and the loader kept it mapped after dlclose.
void *openModelCopy() {
  std::string name =
      (std::filesystem::temp_directory_path() / "zamba2-fake-model-XXXXXX")
          .string();
  std::vector<char> path(name.begin(), name.end());
  path.push_back('\0');
  int fd = ::mkstemp(path.data());
  if (fd < 0)
    return nullptr;
  ::close(fd);
  std::error_code ec;
  std::filesystem::copy_file(ZAMBA2_FAKE_GPU_MODEL, path.data(),
                             std::filesystem::copy_options::overwrite_existing,
                             ec);
  void *model = ec ? nullptr : ::dlopen(path.data(), RTLD_NOW | RTLD_LOCAL);
  ::unlink(path.data()); // the mapping stays
  return model;
}

TEST_F(CudaTest, ModuleLoadFailureAtDlopenIsRecorded) {
  ::setenv("FAKE_MODEL_BLOB", "CUBIN-FOR-ANOTHER-GPU", 1);
  useDriver(ZAMBA2_FAKE_LIBCUDA);
  void *model = openModelCopy();
  ASSERT_NE(model, nullptr) << ::dlerror();
  std::string message;
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_EQ(message,
            "mgpuModuleLoad: cuModuleLoadData failed: "
            "CUDA_ERROR_NO_BINARY_FOR_GPU (209): no kernel image is available "
            "for execution on the device (is the package compiled for this "
            "GPU's architecture?)");
  auto fill = reinterpret_cast<void (*)(uint32_t *, uint32_t, uint32_t)>(
      ::dlsym(model, "fake_model_fill"));
  ASSERT_NE(fill, nullptr);
  uint32_t out[4] = {0, 0, 0, 0};
  fill(out, 4, 1); // no module: records, launches nothing
  EXPECT_EQ(out[0], 0u);
  ASSERT_TRUE(cudaTakeError(message));
  EXPECT_TRUE(startsWith(message, "mgpuModuleGetFunction: no GPU module for "
                                  "kernel 'fill'"))
      << message;
  ::dlclose(model);
}

} // namespace
