#include "parallel.h"

#include <algorithm>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace anekit::core {

namespace {

// A fixed set of workers; each job gives every worker one chunk. Workers are detached-free: the pool lives for
// the whole process (it is intentionally leaked so no thread is joined during static destruction at exit).
class Pool {
 public:
  explicit Pool(size_t workers) {
    for (size_t i = 0; i < workers; ++i) threads_.emplace_back([this, i] { loop(i); });
    for (auto& t : threads_) t.detach();
  }

  size_t workers() const { return threads_.size(); }

  // Runs chunks[0..k) on workers (k <= workers()) while the caller runs `mine`; returns when all are done.
  // Returns false without running anything when another caller holds the pool.
  bool run(const std::vector<std::pair<size_t, size_t>>& chunks, const std::function<void(size_t, size_t)>& fn,
           std::pair<size_t, size_t> mine) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    {
      std::lock_guard<std::mutex> g(m_);
      chunks_ = &chunks;
      fn_ = &fn;
      pending_ = chunks.size();
      ++generation_;
    }
    cv_.notify_all();
    fn(mine.first, mine.second);
    std::unique_lock<std::mutex> g(m_);
    done_cv_.wait(g, [this] { return pending_ == 0; });
    chunks_ = nullptr;
    fn_ = nullptr;
    return true;
  }

 private:
  void loop(size_t index) {
    uint64_t seen = 0;
    for (;;) {
      std::pair<size_t, size_t> work;
      const std::function<void(size_t, size_t)>* fn = nullptr;
      {
        std::unique_lock<std::mutex> g(m_);
        cv_.wait(g, [&] { return generation_ != seen; });
        seen = generation_;
        if (chunks_ == nullptr || index >= chunks_->size()) continue;
        work = (*chunks_)[index];
        fn = fn_;
      }
      (*fn)(work.first, work.second);
      std::lock_guard<std::mutex> g(m_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }

  std::vector<std::thread> threads_;
  std::mutex busy_;  // one job at a time
  std::mutex m_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  const std::vector<std::pair<size_t, size_t>>* chunks_ = nullptr;
  const std::function<void(size_t, size_t)>* fn_ = nullptr;
  size_t pending_ = 0;
  uint64_t generation_ = 0;
};

Pool& pool() {
  static Pool* p = [] {
    const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
    return new Pool(std::min<unsigned>(hw, 4) - 1);
  }();
  return *p;
}

}  // namespace

void parallel_chunks(size_t n, const std::function<void(size_t, size_t)>& fn) {
  if (n < kParallelMinElems) {
    fn(0, n);
    return;
  }
  Pool& p = pool();
  const size_t parts = std::min<size_t>(p.workers() + 1, n / (kParallelMinElems / 2));
  if (parts <= 1) {
    fn(0, n);
    return;
  }
  const size_t chunk = ((n / parts) + 63) / 64 * 64;
  std::vector<std::pair<size_t, size_t>> chunks;
  size_t begin = 0;
  for (size_t w = 0; w + 1 < parts && begin + chunk < n; ++w, begin += chunk) chunks.emplace_back(begin, begin + chunk);
  if (!p.run(chunks, fn, {begin, n})) fn(0, n);
}

}  // namespace anekit::core
