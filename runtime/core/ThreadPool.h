//===- ThreadPool.h - the threads that run a model's parallel loops -------===//
//
// Compiled models split their heavy loops (contractions, attention, scan
// steps) into [begin, end) ranges and hand them to a dispatcher
// (docs/PACKAGE.md, zamba2_set_parallel_for). This is the runtime's
// dispatcher: one process-wide pool of worker threads, spinning briefly
// between loops (a decode step runs hundreds of them back to back) and
// sleeping when idle. ZAMBA2_NUM_THREADS sets the thread count (default:
// the CPUs this process may run on; at most 255). A worker thread that
// cannot be created is left out, never fatal.
//
//===----------------------------------------------------------------------===//
#ifndef ZAMBA2_RUNTIME_CORE_THREADPOOL_H
#define ZAMBA2_RUNTIME_CORE_THREADPOOL_H

#include <cstdint>

extern "C" {
/// The body of a parallel loop: runs iterations [begin, end).
typedef void (*zamba2_loop_body)(void *ctx, int64_t begin, int64_t end);
/// The dispatcher compiled models call: splits [begin, end) over the pool's
/// threads (the caller runs one share) and returns when all are done.
void zamba2_runtime_parallel_for(zamba2_loop_body body, void *ctx,
                                 int64_t begin, int64_t end);
}

namespace zamba2 {
/// Threads the pool uses (the caller included); starts the pool.
int parallelThreadCount();
} // namespace zamba2

#endif // ZAMBA2_RUNTIME_CORE_THREADPOOL_H
