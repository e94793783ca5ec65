#include "compile_counter.h"

#include <atomic>

namespace anekit::core {

namespace {
std::atomic<uint64_t> g_compiles{0};
}

uint64_t compile_count() { return g_compiles.load(std::memory_order_acquire); }

uint64_t note_compile() { return g_compiles.fetch_add(1, std::memory_order_acq_rel) + 1; }

}  // namespace anekit::core
