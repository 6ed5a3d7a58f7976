//===- CudaDriver.cpp - The CUDA driver API, loaded at run time -----------===//

#include "runtime/cuda/CudaDriver.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace zamba2 {
namespace cuda {
namespace {

constexpr const char *kDefaultLibrary = "libcuda.so.1";
/// Streams kept for reuse per device; more are destroyed.
constexpr size_t kMaxCachedStreams = 32;

struct State {
  std::mutex mutex; // guards everything below but the atomics and errors
  std::atomic<const DriverApi *> api{nullptr};
  /// Bumped by resetDriverForTesting; the per-thread context cache compares.
  std::atomic<unsigned> generation{1};
  bool attempted = false;
  std::string failure;
  void *handle = nullptr;
  DriverApi table;
  std::string libraryOverride;
  std::vector<CUcontext> contexts; // retained primary context per device
  std::vector<std::vector<CUstream>> freeStreams; // per device
  std::unordered_map<CUstream, int> streamDevice;

  std::mutex errorMutex;
  std::atomic<bool> hasError{false};
  std::string firstError;
  size_t laterErrors = 0;
};

/// Never destroyed: compiled models unload their GPU modules from global
/// destructors, which may run after this file's static destructors.
State &state() {
  static State *s = new State;
  return *s;
}

bool verbose() {
  static const bool v = std::getenv("ZAMBA2_CUDA_VERBOSE") != nullptr;
  return v;
}

int defaultDevice() {
  static const int device = [] {
    const char *env = std::getenv("ZAMBA2_CUDA_DEVICE");
    return env && *env ? std::atoi(env) : 0;
  }();
  return device;
}

thread_local int threadDevice = -1;

std::string libraryNameLocked(const State &s) {
  if (!s.libraryOverride.empty())
    return s.libraryOverride;
  const char *env = std::getenv("ZAMBA2_LIBCUDA");
  return env && *env ? env : kDefaultLibrary;
}

std::string formatWith(const DriverApi *api, const char *caller,
                       const char *function, CUresult result) {
  const char *name = nullptr;
  const char *text = nullptr;
  if (api) {
    if (api->cuGetErrorName && api->cuGetErrorName(result, &name) != 0)
      name = nullptr;
    if (api->cuGetErrorString && api->cuGetErrorString(result, &text) != 0)
      text = nullptr;
  }
  std::string m;
  if (caller && *caller) {
    m += caller;
    m += ": ";
  }
  m += function;
  m += " failed: ";
  m += name ? name : "CUDA error";
  m += " (" + std::to_string(result) + ")";
  if (text && *text) {
    m += ": ";
    m += text;
  }
  return m;
}

/// Opens the driver library and runs cuInit; on failure sets s.failure.
void loadLocked(State &s) {
  std::string name = libraryNameLocked(s);
  ::dlerror();
  void *handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *err = ::dlerror();
    s.failure = name + " not found: this machine has no NVIDIA driver";
    // A library that exists but does not load says more than "not found".
    if (err && !std::strstr(err, "No such file"))
      s.failure += std::string(" (") + err + ")";
    return;
  }
  DriverApi table;
  std::string missing;
#define ZAMBA2_CUDA_FN(required, field, symbol, ret, params)                   \
  {                                                                            \
    void *p = ::dlsym(handle, symbol);                                         \
    if (!p && std::strcmp(symbol, #field) != 0)                                \
      p = ::dlsym(handle, #field);                                             \
    if (!p && (required) && missing.empty())                                   \
      missing = symbol;                                                        \
    table.field = reinterpret_cast<ret(*) params>(p);                          \
  }
#include "runtime/cuda/DriverFunctions.def"
  if (!missing.empty()) {
    s.failure = name + " lacks " + missing +
                ": the NVIDIA driver is too old for this runtime";
    ::dlclose(handle);
    return;
  }
  if (CUresult r = table.cuInit(0)) {
    if (r == CUDA_ERROR_NO_DEVICE)
      s.failure = "the NVIDIA driver found no CUDA device (cuInit: "
                  "CUDA_ERROR_NO_DEVICE)";
    else
      s.failure = "the NVIDIA driver cannot be used: " +
                  formatWith(&table, nullptr, "cuInit", r);
    ::dlclose(handle);
    return;
  }
  int count = 0;
  if (CUresult r = table.cuDeviceGetCount(&count)) {
    s.failure = formatWith(&table, nullptr, "cuDeviceGetCount", r);
    ::dlclose(handle);
    return;
  }
  if (count <= 0) {
    s.failure = "the NVIDIA driver found no CUDA device";
    ::dlclose(handle);
    return;
  }
  s.handle = handle;
  s.table = table;
  s.api.store(&s.table, std::memory_order_release);
}

} // namespace

const DriverApi *driver(std::string *why) {
  State &s = state();
  if (const DriverApi *api = s.api.load(std::memory_order_acquire))
    return api;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.attempted) {
    s.attempted = true;
    loadLocked(s);
  }
  const DriverApi *api = s.api.load(std::memory_order_acquire);
  if (!api && why)
    *why = s.failure;
  return api;
}

std::string driverLibraryName() {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return libraryNameLocked(s);
}

void setDriverLibraryName(const std::string &name) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.libraryOverride = name;
}

void resetDriverForTesting() {
  State &s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (const DriverApi *api = s.api.load()) {
      for (auto &entry : s.streamDevice)
        api->cuStreamDestroy(entry.first);
      for (size_t d = 0; d < s.contexts.size(); ++d)
        if (s.contexts[d])
          api->cuDevicePrimaryCtxRelease(static_cast<CUdevice>(d));
    }
    if (s.handle)
      ::dlclose(s.handle);
    s.handle = nullptr;
    s.api.store(nullptr);
    s.table = DriverApi();
    s.attempted = false;
    s.failure.clear();
    s.contexts.clear();
    s.freeStreams.clear();
    s.streamDevice.clear();
    s.generation.fetch_add(1);
  }
  std::string ignored;
  takeError(ignored);
}

int currentDevice() {
  return threadDevice >= 0 ? threadDevice : defaultDevice();
}

void setThreadDevice(int device) { threadDevice = device; }

bool enterContext(const char *caller) {
  thread_local unsigned cachedGeneration = 0;
  thread_local int cachedDevice = -1;
  State &s = state();
  int device = currentDevice();
  unsigned generation = s.generation.load(std::memory_order_acquire);
  if (cachedGeneration == generation && cachedDevice == device)
    return true;
  std::string why;
  const DriverApi *api = driver(&why);
  if (!api) {
    recordMessage(std::string(caller) + ": " + why);
    return false;
  }
  if (device < 0) {
    recordMessage(std::string(caller) + ": invalid CUDA device " +
                  std::to_string(device));
    return false;
  }
  CUcontext context = nullptr;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.contexts.size() <= static_cast<size_t>(device))
      s.contexts.resize(device + 1, nullptr);
    context = s.contexts[device];
    if (!context) {
      CUdevice dev = 0;
      if (CUresult r = api->cuDeviceGet(&dev, device)) {
        recordError(caller, "cuDeviceGet", r);
        return false;
      }
      if (CUresult r = api->cuDevicePrimaryCtxRetain(&context, dev)) {
        recordError(caller, "cuDevicePrimaryCtxRetain", r);
        return false;
      }
      s.contexts[device] = context;
    }
  }
  if (CUresult r = api->cuCtxSetCurrent(context)) {
    recordError(caller, "cuCtxSetCurrent", r);
    return false;
  }
  cachedGeneration = generation;
  cachedDevice = device;
  return true;
}

std::string formatError(const char *caller, const char *function,
                        CUresult result) {
  return formatWith(state().api.load(std::memory_order_acquire), caller,
                    function, result);
}

void recordMessage(const std::string &message) {
  State &s = state();
  if (verbose())
    std::fprintf(stderr, "zamba2 cuda: %s\n", message.c_str());
  std::lock_guard<std::mutex> lock(s.errorMutex);
  if (!s.hasError.load(std::memory_order_relaxed)) {
    s.firstError = message;
    s.laterErrors = 0;
    s.hasError.store(true, std::memory_order_release);
  } else {
    ++s.laterErrors;
  }
}

void recordError(const char *caller, const char *function, CUresult result) {
  recordMessage(formatError(caller, function, result));
}

bool takeError(std::string &message) {
  State &s = state();
  if (!s.hasError.load(std::memory_order_acquire))
    return false;
  std::lock_guard<std::mutex> lock(s.errorMutex);
  if (!s.hasError.load(std::memory_order_relaxed))
    return false;
  message = s.firstError;
  if (s.laterErrors)
    message += " (and " + std::to_string(s.laterErrors) + " more CUDA error" +
               (s.laterErrors == 1 ? ")" : "s)");
  s.firstError.clear();
  s.laterErrors = 0;
  s.hasError.store(false, std::memory_order_release);
  return true;
}

bool hasError() { return state().hasError.load(std::memory_order_acquire); }

CUstream acquireStream(const char *caller) {
  if (!enterContext(caller))
    return nullptr;
  State &s = state();
  const DriverApi *api = s.api.load(std::memory_order_acquire);
  int device = currentDevice();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (s.freeStreams.size() > static_cast<size_t>(device) &&
        !s.freeStreams[device].empty()) {
      CUstream stream = s.freeStreams[device].back();
      s.freeStreams[device].pop_back();
      return stream;
    }
  }
  CUstream stream = nullptr;
  if (CUresult r = api->cuStreamCreate(&stream, CU_STREAM_NON_BLOCKING)) {
    recordError(caller, "cuStreamCreate", r);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  s.streamDevice[stream] = device;
  return stream;
}

void releaseStream(CUstream stream, const char *caller) {
  if (!stream)
    return;
  State &s = state();
  const DriverApi *api = s.api.load(std::memory_order_acquire);
  if (!api)
    return;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.streamDevice.find(stream);
    if (it != s.streamDevice.end()) {
      int device = it->second;
      if (s.freeStreams.size() <= static_cast<size_t>(device))
        s.freeStreams.resize(device + 1);
      if (s.freeStreams[device].size() < kMaxCachedStreams) {
        s.freeStreams[device].push_back(stream);
        return;
      }
      s.streamDevice.erase(it);
    }
  }
  // Not from the cache (or the cache is full): destroy it.
  if (CUresult r = api->cuStreamDestroy(stream))
    if (r != CUDA_ERROR_DEINITIALIZED)
      recordError(caller, "cuStreamDestroy_v2", r);
}

} // namespace cuda
} // namespace zamba2
