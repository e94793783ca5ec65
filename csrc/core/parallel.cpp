#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace anekit::core {

namespace {

using Clock = std::chrono::steady_clock;

// How long a worker keeps polling for the next chunk after finishing one, and how long the caller polls for
// the workers to finish, before blocking on a condition variable. A futex wake-up costs 5-15 us on a VM,
// as much as converting a whole [1,768,1,256] tensor; polling keeps the hand-off under a microsecond while
// calls come in a stream (write, evaluate, read), and parks the threads once the stream stops.
constexpr auto kWorkerSpin = std::chrono::microseconds(200);
constexpr auto kCallerSpin = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls until pred() or the deadline; checks the clock only every 64 polls (a clock read costs ~20 ns). After
// the first polls it yields the CPU on every poll, so a poller sharing its core with runnable threads (another
// process, or the caller itself on a loaded machine) hands the core over instead of burning its time slice.
template <typename Pred>
bool spin_until(Pred pred, Clock::duration limit) {
  const Clock::time_point deadline = Clock::now() + limit;
  for (unsigned i = 1;; ++i) {
    if (pred()) return true;
    if (i < 256) {
      cpu_relax();
    } else {
      std::this_thread::yield();
    }
    if (i % 64 == 0 && Clock::now() >= deadline) return pred();
  }
}

// A caller -> one worker hand-off. The caller writes the chunk, marks it posted, then bumps `ticket`; the
// worker polls its ticket, and past kWorkerSpin sleeps on `cv` with `sleeping` set. Both sides use sequentially
// consistent operations on `ticket` and `sleeping` (a Dekker-style pair), so either the worker sees the new
// ticket before sleeping or the caller sees `sleeping` and notifies under the mutex: no lost wake-up.
// A posted chunk is run by whoever claims it first (compare-and-swap on `state`): the worker, or the caller once
// its own chunk is done. So a worker that the OS has not scheduled (a busy machine) costs the caller nothing
// but the time to run that chunk itself, never a wait for a time slice.
enum : int { kPosted = 1, kClaimed = 2 };

struct alignas(64) Slot {
  std::atomic<uint64_t> ticket{0};
  std::atomic<bool> sleeping{false};
  std::atomic<int> state{kClaimed};
  size_t begin = 0;
  size_t end = 0;
  const std::function<void(size_t, size_t)>* fn = nullptr;
  std::mutex m;
  std::condition_variable cv;

  // Runs the posted chunk if nobody has claimed it yet; fields are read only after a successful claim, which
  // the compare-and-swap orders after the caller's writes.
  bool claim_and_run() {
    int expected = kPosted;
    if (!state.compare_exchange_strong(expected, kClaimed)) return false;
    (*fn)(begin, end);
    return true;
  }
};

// A fixed set of workers; each job gives some workers one chunk each. The pool lives for the whole process
// (intentionally leaked, so no thread is joined during static destruction at exit).
class Pool {
 public:
  explicit Pool(size_t workers) : slots_(workers) {
    for (size_t i = 0; i < workers; ++i) std::thread([this, i] { loop(slots_[i]); }).detach();
  }

  size_t workers() const { return slots_.size(); }

  // Runs chunks[0..k) on workers (k <= workers()) while the caller runs `mine`; returns when all are done.
  // Returns false without running anything when another caller holds the pool.
  bool run(const std::vector<std::pair<size_t, size_t>>& chunks, const std::function<void(size_t, size_t)>& fn,
           std::pair<size_t, size_t> mine) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    pending_.store(chunks.size());
    for (size_t i = 0; i < chunks.size(); ++i) {
      Slot& s = slots_[i];
      s.begin = chunks[i].first;
      s.end = chunks[i].second;
      s.fn = &fn;
      s.state.store(kPosted);  // publishes begin/end/fn to whoever claims the chunk
      s.ticket.fetch_add(1);
      if (s.sleeping.load()) {
        std::lock_guard<std::mutex> g(s.m);
        s.cv.notify_one();
      }
    }
    fn(mine.first, mine.second);
    for (size_t i = 0; i < chunks.size(); ++i) {
      if (slots_[i].claim_and_run()) pending_.fetch_sub(1);  // its worker has not started it: run it here
    }
    if (!spin_until([this] { return pending_.load(std::memory_order_acquire) == 0; }, kCallerSpin)) {
      std::unique_lock<std::mutex> g(done_m_);
      caller_sleeping_.store(true);
      done_cv_.wait(g, [this] { return pending_.load() == 0; });
      caller_sleeping_.store(false);
    }
    return true;
  }

 private:
  void loop(Slot& s) {
    uint64_t seen = 0;
    for (;;) {
      if (!spin_until([&] { return s.ticket.load(std::memory_order_acquire) != seen; }, kWorkerSpin)) {
        std::unique_lock<std::mutex> g(s.m);
        s.sleeping.store(true);
        s.cv.wait(g, [&] { return s.ticket.load() != seen; });
        s.sleeping.store(false);
      }
      seen = s.ticket.load();
      // A late wake-up may find the chunk already run by the caller (or a newer chunk posted): claim decides.
      if (s.claim_and_run() && pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
        std::lock_guard<std::mutex> g(done_m_);
        done_cv_.notify_one();
      }
    }
  }

  std::vector<Slot> slots_;
  std::mutex busy_;  // one job at a time
  std::atomic<size_t> pending_{0};
  std::atomic<bool> caller_sleeping_{false};
  std::mutex done_m_;
  std::condition_variable done_cv_;
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
