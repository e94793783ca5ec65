// The process-wide compile counter: the single source of truth for how many programs this process has
// compiled on the ANE (or had the reference backend simulate compiling). The compile-budget manager reads it;
// every compile path increments it exactly once per real compile attempt (docs/internals/ane-private-api.md §16.2: the
// budget is spent by attempts, cache hits spend nothing).
#pragma once

#include <cstdint>

namespace anekit::core {

/** Compiles attempted so far in this process. */
uint64_t compile_count();

/** Record one compile attempt; returns the new count. Thread-safe. */
uint64_t note_compile();

}  // namespace anekit::core
