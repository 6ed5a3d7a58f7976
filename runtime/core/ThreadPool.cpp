//===- ThreadPool.cpp - the threads that run a model's parallel loops -----===//
#include "runtime/core/ThreadPool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace {

class Pool {
public:
  explicit Pool(int threads) : count(threads < 1 ? 1 : threads) {
    for (int i = 1; i < count; ++i)
      workers.emplace_back([this, i] { work(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(sleepMutex);
      stopping = true;
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    for (std::thread &t : workers)
      t.join();
  }

  int threads() const { return count; }

  void run(zamba2_loop_body fn, void *c, int64_t b, int64_t e) {
    int64_t n = e - b;
    if (count == 1 || n < 2) {
      fn(c, b, e);
      return;
    }
    std::lock_guard<std::mutex> one(dispatchMutex); // one loop at a time
    body = fn;
    ctx = c;
    begin = b;
    total = n;
    shares = n < count ? static_cast<int>(n) : count;
    pending.store(shares - 1, std::memory_order_relaxed);
    {
      std::lock_guard<std::mutex> lock(sleepMutex);
      generation.fetch_add(1, std::memory_order_release);
    }
    wake.notify_all();
    runShare(0);
    while (pending.load(std::memory_order_acquire) != 0)
      std::this_thread::yield();
  }

private:
  void runShare(int share) {
    int64_t from = begin + total * share / shares;
    int64_t to = begin + total * (share + 1) / shares;
    if (from < to)
      body(ctx, from, to);
  }

  void work(int share) {
    uint64_t seen = 0;
    for (;;) {
      // Spin a little (the next loop of a decode step comes within
      // microseconds), then sleep until the next generation.
      auto spinUntil =
          std::chrono::steady_clock::now() + std::chrono::microseconds(200);
      while (generation.load(std::memory_order_acquire) == seen &&
             std::chrono::steady_clock::now() < spinUntil)
        std::this_thread::yield();
      if (generation.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> lock(sleepMutex);
        wake.wait(lock, [&] {
          return generation.load(std::memory_order_acquire) != seen;
        });
      }
      seen = generation.load(std::memory_order_acquire);
      if (stopping)
        return;
      if (share < shares) {
        runShare(share);
        pending.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  const int count;
  std::vector<std::thread> workers;
  std::mutex dispatchMutex, sleepMutex;
  std::condition_variable wake;
  std::atomic<uint64_t> generation{0};
  std::atomic<int> pending{0};
  bool stopping = false;
  // The current loop (written before the generation is bumped).
  zamba2_loop_body body = nullptr;
  void *ctx = nullptr;
  int64_t begin = 0, total = 0;
  int shares = 1;
};

int configuredThreads() {
  if (const char *env = std::getenv("ZAMBA2_NUM_THREADS")) {
    int n = std::atoi(env);
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
