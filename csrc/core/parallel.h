// Splitting large element-wise conversions over a few threads. Host<->surface copies of big tensors are
// memory-bound and one core cannot saturate the memory system; 2-4 threads can (bench_io.py measures it).
#pragma once

#include <cstddef>
#include <functional>

namespace anekit::core {

/**
 * Work below this many elements runs on the calling thread: with the polled hand-off (parallel.cpp) a chunk
 * reaches a worker in well under a microsecond, so splitting pays from a few 100 KB up; a [1,768,1,256] fp16
 * surface (196608 elements) is split in two (bench_dispatch.py, bench_io.py measure it).
 */
constexpr size_t kParallelMinElems = size_t{1} << 16;

/**
 * Call fn(begin, end) over [0, n) in up to min(hardware threads, 4) contiguous chunks whose starts are multiples
 * of 64 elements (so SIMD and streaming-store alignment is preserved). One chunk runs on the calling thread,
 * the others on a small persistent pool started on first use. fn must not throw. Concurrent callers are
 * serialised through the pool, never deadlocked: a caller that finds the pool busy runs its work alone.
 */
void parallel_chunks(size_t n, const std::function<void(size_t, size_t)>& fn);

}  // namespace anekit::core
