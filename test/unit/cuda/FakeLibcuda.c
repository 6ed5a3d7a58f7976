/*===- FakeLibcuda.c - A CUDA driver on host memory, for tests ------------===*\
|*                                                                            *|
|* Exports the driver functions runtime/cuda loads (DriverFunctions.def), so  *|
|* that the backend is tested end to end on machines without a GPU: memory   *|
|* is malloc'ed, copies and memsets run at once, streams and events are       *|
|* tokens. A module image "FAKE-CUBIN" has one kernel, "fill"                 *|
|* (out[i] = value + i for i < n, params: uint32_t *out, uint32_t n,          *|
|* uint32_t value), run on the host at launch; any other image fails with     *|
|* CUDA_ERROR_NO_BINARY_FOR_GPU. FAKE_CUDA_DEVICES=0 makes it see no device.  *|
|* Built with FAKE_OLD_DRIVER, it lacks cuMemAllocManaged.                    *|
|* fakeCuda* functions report what the tests check.                          *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

#define EXPORT __attribute__((visibility("default")))

static int initialized;
static int contextToken, moduleToken, fillToken, eventToken;
static void *lastRegistered;
static size_t lastRegisteredBytes;
static int streamsCreated;

EXPORT CUresult cuInit(unsigned flags) {
  (void)flags;
  const char *devices = getenv("FAKE_CUDA_DEVICES");
  if (devices && atoi(devices) == 0)
    return 100; /* CUDA_ERROR_NO_DEVICE */
  initialized = 1;
  return 0;
}
EXPORT CUresult cuDriverGetVersion(int *v) {
  *v = 13000;
  return 0;
}
EXPORT CUresult cuGetErrorName(CUresult r, const char **s) {
  switch (r) {
  case 0:
    *s = "CUDA_SUCCESS";
    return 0;
  case 1:
    *s = "CUDA_ERROR_INVALID_VALUE";
    return 0;
  case 2:
    *s = "CUDA_ERROR_OUT_OF_MEMORY";
    return 0;
  case 209:
    *s = "CUDA_ERROR_NO_BINARY_FOR_GPU";
    return 0;
  case 500:
    *s = "CUDA_ERROR_NOT_FOUND";
    return 0;
  default:
    *s = 0;
    return 1;
  }
}
EXPORT CUresult cuGetErrorString(CUresult r, const char **s) {
  switch (r) {
  case 0:
    *s = "no error";
    return 0;
  case 1:
    *s = "invalid argument";
    return 0;
  case 2:
    *s = "out of memory";
    return 0;
  case 209:
    *s = "no kernel image is available for execution on the device";
    return 0;
  case 500:
    *s = "named symbol not found";
    return 0;
  default:
    *s = 0;
    return 1;
  }
}
EXPORT CUresult cuDeviceGetCount(int *n) {
  *n = initialized ? 1 : 0;
  return initialized ? 0 : 3;
}
EXPORT CUresult cuDeviceGet(int *d, int ordinal) {
  if (ordinal != 0)
    return 101; /* CUDA_ERROR_INVALID_DEVICE */
  *d = 0;
  return 0;
}
EXPORT CUresult cuDeviceGetName(char *name, int len, int d) {
  (void)d;
  strncpy(name, "Fake GPU", (size_t)len);
  return 0;
}
EXPORT CUresult cuDeviceGetAttribute(int *v, int attribute, int d) {
  (void)d;
  switch (attribute) {
  case 16:
    *v = 132;
    return 0; /* SMs */
  case 75:
    *v = 9;
    return 0; /* major */
  case 76:
    *v = 0;
    return 0; /* minor */
  case 83:
    *v = 1;
    return 0; /* managed memory */
  case 89:
    *v = 1;
    return 0; /* concurrent managed access */
  case 97:
    *v = 232448;
    return 0; /* opt-in shared memory */
  default:
    *v = 0;
    return 1;
  }
}
EXPORT CUresult cuDeviceTotalMem_v2(size_t *bytes, int d) {
  (void)d;
  *bytes = (size_t)80 << 30;
  return 0;
}
EXPORT CUresult cuDevicePrimaryCtxRetain(void **ctx, int d) {
  (void)d;
  *ctx = &contextToken;
  return 0;
}
EXPORT CUresult cuDevicePrimaryCtxRelease_v2(int d) {
  (void)d;
  return 0;
}
EXPORT CUresult cuCtxSetCurrent(void *ctx) {
  return ctx == &contextToken ? 0 : 1;
}
EXPORT CUresult cuCtxSynchronize(void) { return 0; }
EXPORT CUresult cuMemGetInfo_v2(size_t *free, size_t *total) {
  *free = *total = (size_t)80 << 30;
  return 0;
}
static int liveAllocations = 0;
/* Device allocations not freed yet (tests of the runtime's cache). */
EXPORT int fakeCudaLiveAllocations(void) { return liveAllocations; }
static CUresult allocate(CUdeviceptr *p, size_t n) {
  if (n == 0)
    return 1;
  if (n > ((size_t)1 << 40))
    return 2;
  void *q = malloc(n);
  if (!q)
    return 2;
  *p = (CUdeviceptr)(uintptr_t)q;
  ++liveAllocations;
  return 0;
}
EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t n) {
  return allocate(p, n);
}
#ifndef FAKE_OLD_DRIVER
EXPORT CUresult cuMemAllocManaged(CUdeviceptr *p, size_t n, unsigned flags) {
  return flags == 1 ? allocate(p, n) : 1;
}
#endif
EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  if (p)
    --liveAllocations;
  free((void *)(uintptr_t)p);
  return 0;
}
EXPORT CUresult cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) {
  memmove((void *)(uintptr_t)d, (const void *)(uintptr_t)s, n);
  return 0;
}
EXPORT CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n,
                              void *st) {
  (void)st;
  return cuMemcpy(d, s, n);
}
EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) {
  memcpy((void *)(uintptr_t)d, s, n);
  return 0;
}
EXPORT CUresult cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) {
  memcpy(d, (const void *)(uintptr_t)s, n);
  return 0;
}
EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s, size_t n,
                                     void *stream) {
  (void)stream;
  return cuMemcpyHtoD_v2(d, s, n);
}
EXPORT CUresult cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n,
                                     void *stream) {
  (void)stream;
  return cuMemcpyDtoH_v2(d, s, n);
}
EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n,
                                void *stream) {
  (void)stream;
  memset((void *)(uintptr_t)d, v, n);
  return 0;
}
EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
  memset((void *)(uintptr_t)d, v, n);
  return 0;
}
EXPORT CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n,
                                 void *st) {
  (void)st;
  for (size_t i = 0; i < n; ++i)
    ((uint16_t *)(uintptr_t)d)[i] = v;
  return 0;
}
EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n,
                                 void *st) {
  (void)st;
  for (size_t i = 0; i < n; ++i)
    ((uint32_t *)(uintptr_t)d)[i] = v;
  return 0;
}
EXPORT CUresult cuMemHostRegister_v2(void *p, size_t n, unsigned flags) {
  (void)flags;
  lastRegistered = p;
  lastRegisteredBytes = n;
  return 0;
}
EXPORT CUresult cuMemHostUnregister(void *p) {
  return p == lastRegistered ? 0 : 1;
}
EXPORT CUresult cuModuleLoadData(void **m, const void *image) {
  if (strcmp((const char *)image, "FAKE-CUBIN") != 0)
    return 209;
  *m = &moduleToken;
  return 0;
}
EXPORT CUresult cuModuleLoadDataEx(void **m, const void *image, unsigned n,
                                   int *options, void **values) {
  (void)n;
  (void)options;
  (void)values;
  return cuModuleLoadData(m, image);
}
EXPORT CUresult cuModuleUnload(void *m) { return m == &moduleToken ? 0 : 1; }
EXPORT CUresult cuModuleGetFunction(void **f, void *m, const char *name) {
  if (m != &moduleToken)
    return 1;
  if (strcmp(name, "fill") != 0)
    return 500;
  *f = &fillToken;
  return 0;
}
EXPORT CUresult cuFuncSetAttribute(void *f, int attribute, int value) {
  (void)attribute;
  (void)value;
  return f == &fillToken ? 0 : 1;
}
EXPORT CUresult cuLaunchKernel(void *f, unsigned gx, unsigned gy, unsigned gz,
                               unsigned bx, unsigned by, unsigned bz,
                               unsigned smem, void *st, void **params,
                               void **extra) {
  (void)gy, (void)gz, (void)by, (void)bz, (void)smem, (void)st, (void)extra;
  if (f != &fillToken || !params)
    return 1;
  uint32_t *out = *(uint32_t **)params[0];
  uint32_t n = *(uint32_t *)params[1];
  uint32_t value = *(uint32_t *)params[2];
  for (uint32_t i = 0; i < n && i < gx * bx; ++i)
    out[i] = value + i;
  return 0;
}
/* cuLaunchKernelEx: as cuLaunchKernel; counts the launches that ask for
 * programmatic stream serialisation (attribute 6), for the tests. */
typedef struct {
  int id;
  char pad[4];
  union {
    char bytes[64];
    int flag;
  } value;
} FakeLaunchAttribute;
typedef struct {
  unsigned gx, gy, gz, bx, by, bz, smem;
  void *stream;
  FakeLaunchAttribute *attrs;
  unsigned numAttrs;
} FakeLaunchConfig;
static int dependentLaunches;
EXPORT CUresult cuLaunchKernelEx(const FakeLaunchConfig *c, void *f,
                                 void **params, void **extra) {
  for (unsigned i = 0; i < c->numAttrs; ++i)
    if (c->attrs[i].id == 6 && c->attrs[i].value.flag)
      ++dependentLaunches;
  return cuLaunchKernel(f, c->gx, c->gy, c->gz, c->bx, c->by, c->bz, c->smem,
                        c->stream, params, extra);
}
EXPORT int fakeCudaDependentLaunches(void) { return dependentLaunches; }
EXPORT CUresult cuStreamCreate(void **s, unsigned flags) {
  (void)flags;
  ++streamsCreated;
  *s = malloc(1);
  return 0;
}
EXPORT CUresult cuStreamSynchronize(void *s) {
  (void)s;
  return 0;
}
EXPORT CUresult cuStreamDestroy_v2(void *s) {
  free(s);
  return 0;
}
EXPORT CUresult cuStreamWaitEvent(void *s, void *e, unsigned flags) {
  (void)s, (void)flags;
  return e == &eventToken ? 0 : 1;
}
EXPORT CUresult cuEventCreate(void **e, unsigned flags) {
  (void)flags;
  *e = &eventToken;
  return 0;
}
EXPORT CUresult cuEventRecord(void *e, void *s) {
  (void)s;
  return e == &eventToken ? 0 : 1;
}
EXPORT CUresult cuEventSynchronize(void *e) { return e == &eventToken ? 0 : 1; }
EXPORT CUresult cuEventDestroy_v2(void *e) { return e == &eventToken ? 0 : 1; }
EXPORT CUresult cuEventElapsedTime(float *ms, void *a, void *b) {
  (void)a, (void)b;
  *ms = 0;
  return 0;
}

/* For the tests: what the fake saw. */
EXPORT void fakeCudaLastHostRegister(void **p, size_t *n) {
  *p = lastRegistered;
  *n = lastRegisteredBytes;
}
EXPORT int fakeCudaStreamsCreated(void) { return streamsCreated; }
