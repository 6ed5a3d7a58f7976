//===- zamba2-cuda-check.cpp - Can this machine run CUDA packages? --------===//
//
//   zamba2-cuda-check             prints the GPU, or why there is none
//   zamba2-cuda-check --selftest  and then runs the CUDA backend through
//                                 managed memory, the mgpu* ABI and a kernel
//
// Exit status 0 when the GPU is usable (and the self-test passed), 1 when
// not, 2 on bad usage.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/Cuda.h"
#include "runtime/cuda/MgpuRuntime.h"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace zamba2;

namespace {

/// out[i] = value + i for i < n; JIT-compiled by the driver for any GPU.
const char kFillPtx[] = R"(.version 7.0
.target sm_52
.address_size 64

.visible .entry zamba2_check_fill(.param .u64 out, .param .u32 n,
                                  .param .u32 value)
{
  .reg .pred %p;
  .reg .b32 %r<7>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [out];
  ld.param.u32 %r1, [n];
  ld.param.u32 %r2, [value];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r6, %r3, %r4, %r5;
  setp.ge.u32 %p, %r6, %r1;
  @%p bra DONE;
  cvta.to.global.u64 %rd1, %rd1;
  mul.wide.u32 %rd2, %r6, 4;
  add.s64 %rd3, %rd1, %rd2;
  add.u32 %r2, %r2, %r6;
  st.global.u32 [%rd3], %r2;
DONE:
  ret;
}
)";

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

int failures = 0;

/// Reports one step: ok when `good` and no CUDA error was recorded.
void report(const char *step, bool good, const std::string &detail = "") {
  std::string error;
  bool recorded = cudaTakeError(error);
  if (good && !recorded) {
    std::printf("  %-28s ok%s%s\n", step, detail.empty() ? "" : "  ",
                detail.c_str());
    return;
  }
  ++failures;
  std::printf("  %-28s FAILED%s%s\n", step, recorded ? ": " : "",
              recorded ? error.c_str() : "");
}

/// Index of the first element of `p` that is not `value + i * step`.
size_t firstMismatch(const uint32_t *p, size_t n, uint32_t value,
                     uint32_t step) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != value + static_cast<uint32_t>(i) * step)
      return i;
  return n;
}

std::string mismatchText(const uint32_t *p, size_t n, uint32_t value,
                         uint32_t step) {
  size_t i = firstMismatch(p, n, value, step);
  if (i == n)
    return "";
  char text[128];
  std::snprintf(text, sizeof(text), "element %zu is 0x%08x, not 0x%08x", i,
                p[i], value + static_cast<uint32_t>(i) * step);
  return text;
}

void launchFill(void *function, uint32_t *out, uint32_t n, uint32_t value,
                void *stream) {
  void *params[3] = {&out, &n, &value};
  mgpuLaunchKernel(function, (n + 255) / 256, 1, 1, 256, 1, 1, 0, stream,
                   params, nullptr, 3);
}

int selftest() {
  std::printf("selftest:\n");
  const uint32_t n = 16u << 20; // 64 MiB of uint32
  const size_t bytes = size_t(n) * 4;
  std::string err;
  auto *a = static_cast<uint32_t *>(cudaAllocManaged(bytes, err));
  report("cudaAllocManaged", a != nullptr, err);
  auto *b = static_cast<uint32_t *>(mgpuMemAlloc(bytes, nullptr, 1));
  report("mgpuMemAlloc (managed)", b != nullptr);
  if (!a || !b)
    return 1;
  void *stream = mgpuStreamCreate();
  report("mgpuStreamCreate", stream != nullptr);

  // Fill on the device, copy on the device, read on the host.
  auto start = std::chrono::steady_clock::now();
  mgpuMemset32(a, 0x5a5a5a5au, n, stream);
  mgpuMemcpy(b, a, bytes, stream);
  mgpuStreamSynchronize(stream);
  double t = secondsSince(start);
  std::string bad = mismatchText(b, n, 0x5a5a5a5au, 0);
  char detail[96];
  std::snprintf(detail, sizeof(detail), "%.1f ms for 64 MiB set + copy",
                t * 1e3);
  report("mgpuMemset32 + mgpuMemcpy", bad.empty(), bad.empty() ? detail : bad);

  // Host writes, device copies, host reads (managed pages both ways).
  for (uint32_t i = 0; i < n; ++i)
    a[i] = 7 + 3 * i;
  mgpuMemcpy(b, a, bytes, stream);
  mgpuMemset16(b, 0x1234, 2, stream);
  mgpuStreamSynchronize(stream);
  bad = b[0] != 0x12341234u ? "mgpuMemset16 did not write"
                            : mismatchText(b + 1, n - 1, 7 + 3, 3);
  report("host -> device -> host", bad.empty(), bad);

  // Device memory and a copy into pageable host memory.
  auto *d = static_cast<uint32_t *>(mgpuMemAlloc(1 << 20, stream, 0));
  std::vector<uint32_t> host(1 << 18, 0);
  mgpuMemset32(d, 0xabcdef01u, host.size(), stream);
  mgpuMemcpy(host.data(), d, host.size() * 4, stream);
  mgpuStreamSynchronize(stream);
  bad = mismatchText(host.data(), host.size(), 0xabcdef01u, 0);
  report("mgpuMemAlloc (device)", d && bad.empty(), bad);
  mgpuMemFree(d, stream);

  // A kernel: PTX through the JIT and through cuModuleLoadData.
  void *module = mgpuModuleLoadJIT(const_cast<char *>(kFillPtx), 2);
  report("mgpuModuleLoadJIT (PTX)", module != nullptr);
  void *module2 =
      mgpuModuleLoad(const_cast<char *>(kFillPtx), sizeof(kFillPtx));
  report("mgpuModuleLoad (PTX)", module2 != nullptr);
  void *fill =
      module ? mgpuModuleGetFunction(module, "zamba2_check_fill") : nullptr;
  report("mgpuModuleGetFunction", fill != nullptr);
  if (fill) {
    launchFill(fill, a, n, 1000, stream);
    mgpuStreamSynchronize(stream);
    bad = mismatchText(a, n, 1000, 1);
    report("mgpuLaunchKernel", bad.empty(), bad);

    // What the MLIR lowering emits per gpu.launch_func: get the function,
    // a stream, launch, synchronize, destroy the stream.
    const int rounds = 2000;
    start = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i) {
      void *f = mgpuModuleGetFunction(module, "zamba2_check_fill");
      void *s = mgpuStreamCreate();
      launchFill(f, a, 256, i, s);
      mgpuStreamSynchronize(s);
      mgpuStreamDestroy(s);
    }
    t = secondsSince(start);
    std::snprintf(detail, sizeof(detail),
                  "%.1f us per launch (get function, stream, launch, sync)",
                  t / rounds * 1e6);
    report("launch round trip", a[255] == uint32_t(rounds - 1 + 255), detail);

    int major = 0, minor = 0;
    if (cudaComputeCapability(major, minor, err) && major >= 9) {
      uint32_t m = 4096, value = 77;
      void *params[3] = {&a, &m, &value};
      mgpuLaunchClusterKernel(fill, 2, 1, 1, m / 256, 1, 1, 256, 1, 1, 0,
                              stream, params, nullptr);
      mgpuStreamSynchronize(stream);
      bad = mismatchText(a, m, value, 1);
      report("mgpuLaunchClusterKernel", bad.empty(), bad);
    }
  }

  // Events order two streams.
  void *other = mgpuStreamCreate();
  void *event = mgpuEventCreate();
  mgpuMemset32(a, 42, n, stream);
  mgpuEventRecord(event, stream);
  mgpuStreamWaitEvent(other, event);
  mgpuMemcpy(b, a, bytes, other);
  mgpuEventSynchronize(event);
  mgpuStreamSynchronize(other);
  bad = mismatchText(b, n, 42, 0);
  report("events across streams", event && bad.empty(), bad);
  mgpuEventDestroy(event);
  mgpuStreamDestroy(other);

  // A failing call is recorded, not fatal.
  void *none =
      module ? mgpuModuleGetFunction(module, "no_such_kernel") : nullptr;
  std::string error;
  bool recorded = cudaTakeError(error);
  report("error recording", !none && recorded, recorded ? "got: " + error : "");

  mgpuModuleUnload(module);
  mgpuModuleUnload(module2);
  mgpuStreamDestroy(stream);
  mgpuMemFree(b, nullptr);
  cudaFree(a);
  bool synced = cudaSynchronize(err);
  report("cudaSynchronize", synced, synced ? "" : err);
  std::printf("selftest: %s\n", failures ? "FAILED" : "ok");
  return failures ? 1 : 0;
}

} // namespace

int main(int argc, char **argv) {
  bool test = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--selftest")) {
      test = true;
    } else if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::printf("usage: zamba2-cuda-check [--selftest]\n");
      return 0;
    } else {
      std::fprintf(stderr,
                   "zamba2-cuda-check: unknown argument '%s'\n"
                   "usage: zamba2-cuda-check [--selftest]\n",
                   argv[i]);
      return 2;
    }
  }
  std::string why;
  if (!cudaAvailable(why)) {
    std::printf("no CUDA GPU: %s\n", why.c_str());
    return 1;
  }
  std::printf("%s\n", cudaDeviceDescription().c_str());
  return test ? selftest() : 0;
}
