/*===- MgpuRuntime.h - The mgpu* runtime ABI of MLIR's GPU lowering -------===*\
|*                                                                            *|
|* Host code that MLIR 22 lowers from the GPU dialect (gpu-to-llvm, and the   *|
|* LLVM IR translation of gpu.binary / gpu.launch_func) calls these C         *|
|* functions; upstream MLIR implements them in libmlir_cuda_runtime, which    *|
|* this runtime replaces (driver API only, loaded at run time, no abort: a    *|
|* failing call records an error, see runtime/cuda/Cuda.h cudaTakeError, and  *|
|* returns null where it returns a handle).                                   *|
|*                                                                            *|
|* Handles are opaque pointers (CUmodule, CUfunction, CUstream, CUevent).     *|
|* Every executable linking zamba2_cuda exports these symbols, so that a      *|
|* model.so loaded with dlopen(RTLD_LOCAL) resolves them (see                 *|
|* runtime/cuda/CMakeLists.txt).                                              *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef ZAMBA2_RUNTIME_CUDA_MGPURUNTIME_H
#define ZAMBA2_RUNTIME_CUDA_MGPURUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZAMBA2_MGPU_EXPORT __attribute__((visibility("default")))

/* Modules: loaded by a global constructor of model.so (at dlopen), unloaded
   by a global destructor. `size` is the size of the cubin (unused). */
ZAMBA2_MGPU_EXPORT void *mgpuModuleLoad(void *data, size_t size);
/* PTX (null-terminated) JIT-compiled by the driver at `optLevel`. */
ZAMBA2_MGPU_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel);
ZAMBA2_MGPU_EXPORT void mgpuModuleUnload(void *module);
ZAMBA2_MGPU_EXPORT void *mgpuModuleGetFunction(void *module, const char *name);

/* Kernel launches. Dimensions are MLIR index values; `smem` the dynamic
   shared memory in bytes; `params` the kernel argument pointers. */
ZAMBA2_MGPU_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX,
                                         intptr_t gridY, intptr_t gridZ,
                                         intptr_t blockX, intptr_t blockY,
                                         intptr_t blockZ, int32_t smem,
                                         void *stream, void **params,
                                         void **extra, size_t paramsCount);
ZAMBA2_MGPU_EXPORT void
mgpuLaunchClusterKernel(void *function, intptr_t clusterX, intptr_t clusterY,
                        intptr_t clusterZ, intptr_t gridX, intptr_t gridY,
                        intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                        intptr_t blockZ, int32_t smem, void *stream,
                        void **params, void **extra);

/* Streams and events. */
ZAMBA2_MGPU_EXPORT void *mgpuStreamCreate(void);
ZAMBA2_MGPU_EXPORT void mgpuStreamDestroy(void *stream);
ZAMBA2_MGPU_EXPORT void mgpuStreamSynchronize(void *stream);
ZAMBA2_MGPU_EXPORT void mgpuStreamWaitEvent(void *stream, void *event);
ZAMBA2_MGPU_EXPORT void *mgpuEventCreate(void);
ZAMBA2_MGPU_EXPORT void mgpuEventDestroy(void *event);
ZAMBA2_MGPU_EXPORT void mgpuEventSynchronize(void *event);
ZAMBA2_MGPU_EXPORT void mgpuEventRecord(void *event, void *stream);

/* Memory. mgpuMemAlloc's `isHostShared` (an i8 in the lowering) selects
   managed memory; sizes are bytes; the memset counts are elements. */
ZAMBA2_MGPU_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, void *stream,
                                      uint8_t isHostShared);
ZAMBA2_MGPU_EXPORT void mgpuMemFree(void *ptr, void *stream);
ZAMBA2_MGPU_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                                   void *stream);
ZAMBA2_MGPU_EXPORT void mgpuMemset32(void *dst, uint32_t value, size_t count,
                                     void *stream);
ZAMBA2_MGPU_EXPORT void mgpuMemset16(void *dst, uint16_t value, size_t count,
                                     void *stream);
ZAMBA2_MGPU_EXPORT void mgpuMemHostRegister(void *ptr, uint64_t sizeBytes);
ZAMBA2_MGPU_EXPORT void mgpuMemHostUnregister(void *ptr);
/* `descriptor` points to a ranked memref descriptor {allocated, aligned,
   offset, sizes[rank], strides[rank]}. */
ZAMBA2_MGPU_EXPORT void mgpuMemHostRegisterMemRef(int64_t rank,
                                                  void *descriptor,
                                                  int64_t elementSizeBytes);
ZAMBA2_MGPU_EXPORT void mgpuMemHostUnregisterMemRef(int64_t rank,
                                                    void *descriptor,
                                                    int64_t elementSizeBytes);

/* Device of the calling thread for the calls after it (default 0, or
   $ZAMBA2_CUDA_DEVICE). */
ZAMBA2_MGPU_EXPORT void mgpuSetDefaultDevice(int32_t device);

#ifdef __cplusplus
}
#endif

#endif /* ZAMBA2_RUNTIME_CUDA_MGPURUNTIME_H */
