// Stress test of core::parallel_chunks (csrc/core/parallel.cpp), run under ThreadSanitizer by
// scripts/check_native.sh. The pool hands chunks to workers through polled tickets and falls back to condition
// variables once idle; this drives both paths (back-to-back calls, and calls after the workers have parked)
// from several threads at once and checks that every element of every call is covered exactly once.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "core/parallel.h"

namespace {

int run_caller(int id, int calls) {
  std::vector<std::atomic<int>> hits(1 << 20);
  int failures = 0;
  for (int call = 0; call < calls; ++call) {
    // Sizes from below the parallel threshold to several chunks' worth, in an order no two callers share.
    const size_t n = 1000 + (static_cast<size_t>(call) * 7919 + static_cast<size_t>(id) * 104729) % (1 << 20);
    for (size_t i = 0; i < n; ++i) hits[i].store(0, std::memory_order_relaxed);
    anekit::core::parallel_chunks(n, [&](size_t b, size_t e) {
      if (b > e || e > n) {
        std::fprintf(stderr, "caller %d call %d: chunk [%zu, %zu) outside [0, %zu)\n", id, call, b, e, n);
        std::abort();
      }
      for (size_t i = b; i < e; ++i) hits[i].fetch_add(1, std::memory_order_relaxed);
    });
    for (size_t i = 0; i < n; ++i) {
      if (hits[i].load(std::memory_order_relaxed) != 1) {
        std::fprintf(stderr, "caller %d call %d (n=%zu): element %zu covered %d times\n", id, call, n, i,
                     hits[i].load());
        ++failures;
        break;
      }
    }
    // Every 16th call waits long enough for the workers to stop polling and sleep, so the wake-up path runs.
    if (call % 16 == 15) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  const int calls = argc > 1 ? std::atoi(argv[1]) : 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> callers;
  for (int id = 1; id <= 2; ++id) callers.emplace_back([&, id] { failures += run_caller(id, calls); });
  failures += run_caller(0, calls);
  for (auto& t : callers) t.join();
  std::printf("parallel_chunks: %d callers x %d calls, %d failures\n", 3, calls, failures.load());
  return failures.load() == 0 ? 0 : 1;
}
