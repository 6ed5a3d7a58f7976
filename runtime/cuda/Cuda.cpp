//===- Cuda.cpp - The CUDA backend as the engine sees it ------------------===//

#include "runtime/cuda/Cuda.h"
#include "runtime/cuda/CudaDriver.h"

#include <cctype>
#include <cstdint>
#include <cstdio>

namespace zamba2 {

using namespace cuda;

namespace {

/// The driver with the context current, or null with `err` set (the error
/// is taken from the record, not left there for cudaTakeError).
const DriverApi *readyOrExplain(const char *caller, std::string &err) {
  std::string why;
  const DriverApi *api = driver(&why);
  if (!api) {
    err = why;
    return nullptr;
  }
  if (!enterContext(caller)) {
    if (!takeError(err))
      err = std::string(caller) + ": no CUDA context";
    return nullptr;
  }
  return api;
}

bool deviceAttribute(const DriverApi *api, int attribute, int &value,
                     std::string &err) {
  CUdevice device = 0;
  if (CUresult r = api->cuDeviceGet(&device, currentDevice())) {
    err = formatError(nullptr, "cuDeviceGet", r);
    return false;
  }
  if (CUresult r = api->cuDeviceGetAttribute(&value, attribute, device)) {
    err = formatError(nullptr, "cuDeviceGetAttribute", r);
    return false;
  }
  return true;
}

std::string deviceName(const DriverApi *api) {
  char name[256] = {0};
  CUdevice device = 0;
  if (api->cuDeviceGet(&device, currentDevice()) != CUDA_SUCCESS ||
      api->cuDeviceGetName(name, sizeof(name) - 1, device) != CUDA_SUCCESS)
    return "CUDA device " + std::to_string(currentDevice());
  return name;
}

} // namespace

bool cudaAvailable(std::string &why) {
  const DriverApi *api = readyOrExplain("cudaAvailable", why);
  if (!api)
    return false;
  int managed = 0;
  if (!deviceAttribute(api, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, managed, why))
    return false;
  if (!managed) {
    why = deviceName(api) + " cannot allocate managed memory, which CUDA "
                            "packages need";
    return false;
  }
  return true;
}

void *cudaAllocManaged(size_t bytes, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaAllocManaged", err);
  if (!api)
    return nullptr;
  CUdeviceptr p = 0;
  if (CUresult r =
          api->cuMemAllocManaged(&p, bytes ? bytes : 1, CU_MEM_ATTACH_GLOBAL)) {
    err = formatError("cudaAllocManaged", "cuMemAllocManaged", r) + " (" +
          std::to_string(bytes) + " bytes)";
    return nullptr;
  }
  return reinterpret_cast<void *>(static_cast<uintptr_t>(p));
}

void cudaFree(void *p) {
  if (!p)
    return;
  if (!enterContext("cudaFree"))
    return;
  const DriverApi *api = driver();
  CUresult r =
      api->cuMemFree(static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p)));
  if (r != CUDA_SUCCESS && r != CUDA_ERROR_DEINITIALIZED)
    recordError("cudaFree", "cuMemFree_v2", r);
}

bool cudaSynchronize(std::string &err) {
  const DriverApi *api = readyOrExplain("cudaSynchronize", err);
  if (!api)
    return false;
  if (CUresult r = api->cuCtxSynchronize()) {
    err = formatError("cudaSynchronize", "cuCtxSynchronize", r);
    return false;
  }
  return true;
}

bool cudaTakeError(std::string &message) { return takeError(message); }

bool cudaComputeCapability(int &major, int &minor, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaComputeCapability", err);
  if (!api)
    return false;
  return deviceAttribute(api, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                         major, err) &&
         deviceAttribute(api, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                         minor, err);
}

std::string cudaDeviceDescription() {
  std::string why;
  if (!cudaAvailable(why))
    return "no CUDA GPU: " + why;
  const DriverApi *api = driver();
  int major = 0, minor = 0, sms = 0, count = 0, version = 0;
  std::string err;
  cudaComputeCapability(major, minor, err);
  deviceAttribute(api, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, sms, err);
  api->cuDeviceGetCount(&count);
  api->cuDriverGetVersion(&version);
  size_t total = 0;
  CUdevice device = 0;
  if (api->cuDeviceGet(&device, currentDevice()) == CUDA_SUCCESS)
    api->cuDeviceTotalMem(&total, device);
  char memory[32];
  std::snprintf(memory, sizeof(memory), "%.1f GiB",
                static_cast<double>(total) / (1024.0 * 1024.0 * 1024.0));
  return deviceName(api) + " (device " + std::to_string(currentDevice()) +
         " of " + std::to_string(count) + "): compute capability " +
         std::to_string(major) + "." + std::to_string(minor) + " (sm_" +
         std::to_string(major) + std::to_string(minor) + "), " + memory + ", " +
         std::to_string(sms) + " SMs, driver CUDA " +
         std::to_string(version / 1000) + "." +
         std::to_string(version % 1000 / 10);
}

bool cudaCheckTarget(const std::string &gpu, bool ptx, std::string &why) {
  // "sm_" digits, then an optional "a" or "f" suffix.
  size_t i = 3;
  int number = 0;
  bool digits = false;
  if (gpu.compare(0, 3, "sm_") == 0)
    for (; i < gpu.size() && std::isdigit(static_cast<unsigned char>(gpu[i]));
         ++i, digits = true)
      number = number * 10 + (gpu[i] - '0');
  std::string suffix = digits ? gpu.substr(i) : "";
  if (!digits || number < 10 || number > 10000 ||
      !(suffix.empty() || suffix == "a" || suffix == "f")) {
    why = "unknown GPU target '" + gpu + "' (expected e.g. sm_90)";
    return false;
  }
  int major = 0, minor = 0;
  if (!cudaComputeCapability(major, minor, why))
    return false;
  int wantMajor = number / 10, wantMinor = number % 10;
  bool ok;
  if (suffix == "a")
    ok = major == wantMajor && minor == wantMinor;
  else if (ptx)
    ok = major > wantMajor || (major == wantMajor && minor >= wantMinor);
  else
    ok = major == wantMajor && minor >= wantMinor;
  if (!ok) {
    why = "the package's GPU code is for " + gpu + ", but this GPU (" +
          deviceName(driver()) + ") is sm_" + std::to_string(major) +
          std::to_string(minor);
    return false;
  }
  return true;
}

bool cudaPrefetchToDevice(const void *p, size_t bytes, std::string &err) {
  const DriverApi *api = readyOrExplain("cudaPrefetchToDevice", err);
  if (!api)
    return false;
  if (!p || !bytes || !api->cuMemPrefetchAsync)
    return true;
  CUdevice device = 0;
  if (CUresult r = api->cuDeviceGet(&device, currentDevice())) {
    err = formatError("cudaPrefetchToDevice", "cuDeviceGet", r);
    return false;
  }
  if (CUresult r = api->cuMemPrefetchAsync(
          static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p)), bytes,
          device, nullptr)) {
    err = formatError("cudaPrefetchToDevice", "cuMemPrefetchAsync", r);
    return false;
  }
  return true;
}

void cudaSetDriverLibrary(const std::string &name) {
  setDriverLibraryName(name);
}

} // namespace zamba2
