//===- ThreadPool.cpp - the threads that run a model's parallel loops -----===//
//
// One loop at a time: run() publishes the loop (body, ctx, range) and then a
// single atomic word holding the loop's generation and its number of shares.
// A worker reads that word once and takes part only if its share index is
// below the share count of that same generation; only participants read the
// loop's fields, and run() returns only after every participant is done, so
// the fields are never rewritten under a reader.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/ThreadPool.h"

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

namespace {

/// Share counts are packed in the low bits of the job word.
constexpr int kShareBits = 8;
constexpr int kMaxThreads = (1 << kShareBits) - 1;

class Pool {
public:
  explicit Pool(int wanted) {
    if (wanted > kMaxThreads)
      wanted = kMaxThreads;
    // Workers that cannot be created are simply not there: the pool runs
    // with the caller plus the ones it got.
    for (int i = 1; i < wanted; ++i) {
      auto *arg = new WorkerArg{this, i};
      pthread_t t;
      if (pthread_create(&t, nullptr, &Pool::start, arg) != 0) {
        delete arg;
        break;
      }
      workers.push_back(t);
    }
    count = 1 + static_cast<int>(workers.size());
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(sleepMutex);
      stopping.store(true, std::memory_order_release);
      job.fetch_add(uint64_t(1) << kShareBits, std::memory_order_release);
    }
    wake.notify_all();
    for (pthread_t t : workers)
      pthread_join(t, nullptr);
  }

  int threads() const { return count; }

  void run(zamba2_loop_body fn, void *c, int64_t b, int64_t e) {
    int64_t n = e - b;
    if (count == 1 || n < 2) {
      fn(c, b, e);
      return;
    }
    std::lock_guard<std::mutex> one(dispatchMutex); // one loop at a time
    int shareCount = n < count ? static_cast<int>(n) : count;
    body = fn;
    ctx = c;
    begin = b;
    total = n;
    shares = shareCount;
    pending.store(shareCount - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleepMutex);
      uint64_t generation =
          (job.load(std::memory_order_relaxed) >> kShareBits) + 1;
      job.store((generation << kShareBits) | static_cast<uint64_t>(shareCount),
                std::memory_order_release);
    }
    wake.notify_all();
    runShare(0);
    while (pending.load(std::memory_order_acquire) != 0)
      std::this_thread::yield();
  }

private:
  struct WorkerArg {
    Pool *pool;
    int share;
  };

  static void *start(void *p) {
    auto *arg = static_cast<WorkerArg *>(p);
    Pool *pool = arg->pool;
    int share = arg->share;
    delete arg;
    pool->work(share);
    return nullptr;
  }

  void runShare(int share) {
    int64_t from = begin + total * share / shares;
    int64_t to = begin + total * (share + 1) / shares;
    if (from < to)
      body(ctx, from, to);
  }

  void work(int share) {
    uint64_t seenGeneration = 0;
    for (;;) {
      // Spin a little (the next loop of a decode step comes within
      // microseconds), then sleep until the next generation.
      auto newer = [&] {
        return (job.load(std::memory_order_acquire) >> kShareBits) !=
               seenGeneration;
      };
      auto spinUntil =
          std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (!newer() && std::chrono::steady_clock::now() < spinUntil)
        std::this_thread::yield();
      if (!newer()) {
        std::unique_lock<std::mutex> lock(sleepMutex);
        wake.wait(lock, newer);
      }
      if (stopping.load(std::memory_order_acquire))
        return;
      uint64_t word = job.load(std::memory_order_acquire);
      seenGeneration = word >> kShareBits;
      int shareCount = static_cast<int>(word & ((1u << kShareBits) - 1));
      if (share < shareCount) {
        runShare(share);
        pending.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  int count = 1;
  std::vector<pthread_t> workers;
  std::mutex dispatchMutex, sleepMutex;
  std::condition_variable wake;
  /// (generation << kShareBits) | shares of the current loop.
  std::atomic<uint64_t> job{0};
  std::atomic<int> pending{0};
  std::atomic<bool> stopping{false};
  // The current loop, written before its job word is published and read only
  // by its participants.
  zamba2_loop_body body = nullptr;
  void *ctx = nullptr;
  int64_t begin = 0, total = 0;
  int shares = 1;
};

/// ZAMBA2_NUM_THREADS when it is a whole number >= 1, else the CPUs this
/// process may run on.
int configuredThreads() {
  if (const char *env = std::getenv("ZAMBA2_NUM_THREADS")) {
    char *end = nullptr;
    long n = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && n >= 1)
      return n > kMaxThreads ? kMaxThreads : static_cast<int>(n);
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n >= 1)
      return n;
  }
  unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

Pool &pool() {
  static Pool instance(configuredThreads());
  return instance;
}

} // namespace

extern "C" void zamba2_runtime_parallel_for(zamba2_loop_body body, void *ctx,
                                            int64_t begin, int64_t end) {
  pool().run(body, ctx, begin, end);
}

int zamba2::parallelThreadCount() { return pool().threads(); }
