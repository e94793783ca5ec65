// Internal pure-C++ declarations shared by the backend's .cpp and .mm files (not part of the interface).
#pragma once

#include <string>

#include "ane.h"

namespace anekit::ane::detail {

/**
 * dlopen(path, RTLD_NOW) and resolve the private classes (docs/internals/ane-private-api.md §3). On success publishes the
 * runtime for loaded_runtime() and returns true; otherwise returns false with `reason`. Implemented in
 * ane_runtime.mm; called once per successful initialisation by initialize() (ane_init.cpp).
 */
bool load_framework(const std::string& path, std::string& reason);

/** Fills the fields of `info` that need the Objective-C runtime (model root, fake, paths, stats). */
void describe_runtime(RuntimeInfo& info);

}  // namespace anekit::ane::detail
