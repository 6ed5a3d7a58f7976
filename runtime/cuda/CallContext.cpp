//===- CallContext.cpp - Streams, temporaries and timing of model calls ---===//
//
// What the mgpu* functions need beyond the driver while a model call runs:
// the thread's call stream (CudaCallScope), the cache of device blocks for
// the model's temporaries, and the per-kernel timing of
// $ZAMBA2_CUDA_PROFILE.
//
//===----------------------------------------------------------------------===//
#include "runtime/cuda/Cuda.h"
#include "runtime/cuda/CudaDriver.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace zamba2 {
namespace cuda {
namespace {

thread_local CUstream threadCallStream = nullptr;
thread_local bool threadCapturing = false;
thread_local bool threadDependentLaunch = false;
thread_local bool threadAfterKernel = false;

CUdeviceptr devptr(const void *p) {
  return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p));
}

/// Blocks are rounded to 256 bytes (the driver's own alignment) so that
/// slightly different sizes share blocks.
size_t roundUp(size_t bytes) { return (bytes + 255) & ~size_t(255); }

/// An idle block serves a request of at least half its size.
constexpr size_t kMaxWaste = 2;

struct Block {
  CUstream stream;
  size_t size;          // rounded
  bool live = false;    // handed out, not freed yet
  unsigned pins = 0;    // CUDA graphs whose replays use it
  uint64_t freedIn = 0; // the stream's call that freed it last
};

struct Pool {
  std::mutex mutex;
  std::unordered_map<CUdeviceptr, Block> blocks;
  std::unordered_map<CUstream, uint64_t> calls; // calls begun per stream
  size_t bytes = 0;                             // all blocks
  size_t peak = 0;                              // the most `bytes` was
};

Pool &pool() {
  static Pool *p = new Pool; // outlives model.so's destructors
  return *p;
}

/// The blocks handed out while this thread's call is captured.
thread_local std::vector<CUdeviceptr> *captureLog = nullptr;

/// Frees the idle, unpinned blocks of `stream` (all streams when null) that
/// `keep` does not hold back. The caller holds the pool's lock.
template <typename Keep>
void freeIdle(Pool &p, const DriverApi *api, CUstream stream, Keep keep) {
  for (auto it = p.blocks.begin(); it != p.blocks.end();) {
    const Block &b = it->second;
    if (b.live || b.pins || (stream && b.stream != stream) || keep(b)) {
      ++it;
      continue;
    }
    api->cuMemFree(it->first);
    p.bytes -= b.size;
    it = p.blocks.erase(it);
  }
}

struct KernelTime {
  unsigned long calls = 0;
  double microseconds = 0;
};

struct Profile {
  std::mutex mutex;
  std::unordered_map<CUfunction, std::string> names;
  struct Pending {
    CUfunction function;
    CUevent start, end;
  };
  std::vector<Pending> pending;
  std::vector<CUevent> spare;
  std::map<std::string, KernelTime> totals;
};

Profile &profile() {
  static Profile *p = new Profile;
  return *p;
}

CUevent takeEvent(Profile &p, const DriverApi *api) {
  if (!p.spare.empty()) {
    CUevent e = p.spare.back();
    p.spare.pop_back();
    return e;
  }
  CUevent e = nullptr;
  if (api->cuEventCreate(&e, CU_EVENT_DEFAULT) != CUDA_SUCCESS)
    return nullptr;
  return e;
}

/// A kernel's name without the "_N" the outlining appends to make it
/// unique: the times of "linear_r1_7" add up under "linear_r1".
std::string baseName(const std::string &name) {
  size_t end = name.size();
  while (end > 0 && std::isdigit(static_cast<unsigned char>(name[end - 1])))
    --end;
  if (end < name.size() && end > 1 && name[end - 1] == '_')
    return name.substr(0, end - 1);
  return name;
}

} // namespace

CUstream callStream() { return threadCallStream; }
bool capturingCall() { return threadCapturing; }
void setCallStream(CUstream stream) { threadCallStream = stream; }
void setCapturingCall(bool capturing) { threadCapturing = capturing; }

bool dependentLaunchAllowed() {
  // $ZAMBA2_CUDA_DEPENDENT_LAUNCH=0 launches every kernel plainly (for A/B
  // measurements; the kernels are correct either way).
  static const bool allowed = [] {
    const char *v = std::getenv("ZAMBA2_CUDA_DEPENDENT_LAUNCH");
    return !v || std::string(v) != "0";
  }();
  return allowed;
}

void setDependentLaunch(bool on) {
  threadDependentLaunch = on && dependentLaunchAllowed();
  threadAfterKernel = false;
}
bool dependentLaunchNext() {
  return threadDependentLaunch && threadAfterKernel;
}
void noteStreamWork(bool kernel) { threadAfterKernel = kernel; }

namespace {
std::atomic<uint64_t> launchCount{0};
} // namespace
void countKernelLaunch() {
  launchCount.fetch_add(1, std::memory_order_relaxed);
}
uint64_t kernelLaunches() {
  return launchCount.load(std::memory_order_relaxed);
}

void poolBeginCall(CUstream stream) {
  Pool &p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  ++p.calls[stream];
}

void *poolAlloc(size_t bytes, CUstream stream, const char *caller) {
  const DriverApi *api = driver();
  size_t size = roundUp(bytes);
  Pool &p = pool();
  auto handOut = [&](CUdeviceptr block, Block &b) {
    b.live = true;
    if (captureLog)
      captureLog->push_back(block);
    return reinterpret_cast<void *>(static_cast<uintptr_t>(block));
  };
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    // The smallest idle block of this stream that fits without wasting
    // more than half of it.
    CUdeviceptr best = 0;
    Block *bestBlock = nullptr;
    for (auto &[ptr, b] : p.blocks)
      if (!b.live && b.stream == stream && b.size >= size &&
          b.size <= kMaxWaste * size &&
          (!bestBlock || b.size < bestBlock->size))
        best = ptr, bestBlock = &b;
    if (bestBlock)
      return handOut(best, *bestBlock);
    // A new size: the idle blocks that earlier calls on this stream freed
    // are given back first (those calls have finished; a graph's blocks
    // are pinned). So a call holds at most its own workspace plus the
    // graphs' ones, whatever sizes came before.
    // Not while capturing: the capture began in this call anyway.
    uint64_t call = p.calls[stream];
    if (!capturingCall())
      freeIdle(p, api, stream,
               [&](const Block &b) { return b.freedIn >= call; });
  }
  CUdeviceptr block = 0;
  CUresult r = api->cuMemAlloc(&block, size);
  if (r == CUDA_ERROR_OUT_OF_MEMORY && !capturingCall()) {
    // Give every idle, unpinned block back and try once more.
    api->cuCtxSynchronize();
    std::lock_guard<std::mutex> lock(p.mutex);
    freeIdle(p, api, nullptr, [](const Block &) { return false; });
    r = api->cuMemAlloc(&block, size);
  }
  if (r != CUDA_SUCCESS) {
    recordMessage(formatError(caller, "cuMemAlloc_v2", r) + " (" +
                  std::to_string(bytes) + " bytes)");
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(p.mutex);
  Block &b = p.blocks[block];
  b.stream = stream;
  b.size = size;
  p.bytes += size;
  p.peak = std::max(p.peak, p.bytes);
  return handOut(block, b);
}

void poolFree(void *ptr, CUstream stream, const char *caller) {
  Pool &p = pool();
  CUdeviceptr block = devptr(ptr);
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    auto it = p.blocks.find(block);
    if (it != p.blocks.end() && it->second.live) {
      it->second.live = false;
      it->second.stream = stream;
      it->second.freedIn = p.calls[stream];
      return;
    }
  }
  // Not a temporary of the model (e.g. memory of another allocator).
  if (CUresult r = driver()->cuMemFree(block))
    if (r != CUDA_ERROR_DEINITIALIZED)
      recordError(caller, "cuMemFree_v2", r);
}

void poolRelease(CUstream stream) {
  Pool &p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  freeIdle(p, driver(), stream, [](const Block &) { return false; });
  p.calls.erase(stream);
}

void poolLogCapture(std::vector<CUdeviceptr> *log) { captureLog = log; }

void poolPin(const std::vector<CUdeviceptr> &blocks, bool pin) {
  Pool &p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  for (CUdeviceptr block : blocks)
    if (auto it = p.blocks.find(block); it != p.blocks.end())
      it->second.pins += pin ? 1 : -1;
}

size_t poolPeakBytes() {
  Pool &p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.peak;
}

bool profilingEnabled() {
  static const bool on = [] {
    const char *v = std::getenv("ZAMBA2_CUDA_PROFILE");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}

void nameFunction(CUfunction function, const char *name) {
  if (!profilingEnabled() || !function)
    return;
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  p.names[function] = name ? name : "?";
}

void profileBefore(CUfunction function, CUstream stream) {
  const DriverApi *api = driver();
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  CUevent start = takeEvent(p, api), end = takeEvent(p, api);
  if (!start || !end)
    return;
  api->cuEventRecord(start, stream);
  p.pending.push_back({function, start, end});
}

void profileAfter(CUstream stream) {
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  if (!p.pending.empty())
    driver()->cuEventRecord(p.pending.back().end, stream);
}

std::string profileReport() {
  const DriverApi *api = driver();
  Profile &p = profile();
  std::lock_guard<std::mutex> lock(p.mutex);
  for (const Profile::Pending &e : p.pending) {
    float ms = 0;
    if (api->cuEventElapsedTime(&ms, e.start, e.end) == CUDA_SUCCESS) {
      auto name = p.names.find(e.function);
      KernelTime &t =
          p.totals[name == p.names.end() ? "?" : baseName(name->second)];
      ++t.calls;
      t.microseconds += 1000.0 * ms;
    }
    p.spare.push_back(e.start);
    p.spare.push_back(e.end);
  }
  p.pending.clear();
  std::vector<std::pair<std::string, KernelTime>> rows(p.totals.begin(),
                                                       p.totals.end());
  p.totals.clear();
  std::sort(rows.begin(), rows.end(), [](const auto &a, const auto &b) {
    return a.second.microseconds > b.second.microseconds;
  });
  double all = 0;
  unsigned long launches = 0;
  for (const auto &r : rows) {
    all += r.second.microseconds;
    launches += r.second.calls;
  }
  std::string out;
  char line[256];
  std::snprintf(line, sizeof(line),
                "kernel time: %.1f us in %lu launches of %zu kernels\n", all,
                launches, rows.size());
  out += line;
  for (const auto &[name, t] : rows) {
    std::snprintf(line, sizeof(line),
                  "  %-28s %6lu calls %10.1f us %8.2f us/call %5.1f%%\n",
                  name.c_str(), t.calls, t.microseconds,
                  t.microseconds / double(t.calls),
                  all > 0 ? 100.0 * t.microseconds / all : 0.0);
    out += line;
  }
  return out;
}

} // namespace cuda
} // namespace zamba2
