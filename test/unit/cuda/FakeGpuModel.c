/*===- FakeGpuModel.c - A model.so that calls the mgpu* ABI, for tests ----===*\
|*                                                                            *|
|* Does what the host code of a CUDA package does (MLIR 22's lowering): a     *|
|* global constructor loads the GPU module at dlopen, a destructor unloads    *|
|* it, and a launch gets the kernel, a stream, launches and synchronizes.     *|
|* The mgpu* symbols stay undefined here: they resolve against the test       *|
|* executable, as a real model.so's do against zamba2-run. The image loaded   *|
|* is $FAKE_MODEL_BLOB, default "FAKE-CUBIN" (see FakeLibcuda.c).             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#include "runtime/cuda/MgpuRuntime.h"

#include <stdlib.h>
#include <string.h>

static void *module;

__attribute__((constructor(123))) static void fakeModelLoad(void) {
  static char fallback[] = "FAKE-CUBIN";
  char *blob = getenv("FAKE_MODEL_BLOB");
  if (!blob)
    blob = fallback;
  module = mgpuModuleLoad(blob, strlen(blob));
}

__attribute__((destructor(123))) static void fakeModelUnload(void) {
  mgpuModuleUnload(module);
}

__attribute__((visibility("default"))) void
fake_model_fill(uint32_t *out, uint32_t n, uint32_t value) {
  void *function = mgpuModuleGetFunction(module, "fill");
  void *stream = mgpuStreamCreate();
  void *params[3] = {&out, &n, &value};
  mgpuLaunchKernel(function, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream,
                   params, NULL, 3);
  mgpuStreamSynchronize(stream);
  mgpuStreamDestroy(stream);
}
