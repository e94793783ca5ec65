// Once-only initialisation of the ANE backend (docs/internals/ane-private-api.md §3.4): std::call_once with a recorded
// reason. Plain C++ on purpose: a failed attempt is signalled by throwing out of the call_once callable (so a
// later call may retry), and catching needs C++ try/catch, which the Objective-C++ files cannot use with
// GCC's runtime (docs/internals/linux-objc-toolchain.md §7 rule 4).
#include <mutex>
#include <stdexcept>
#include <string>

#include "ane.h"
#include "ane_internal.h"

namespace anekit::ane {

namespace {

struct InitState {
  std::once_flag once;
  std::mutex mutex;  // guards the fields below
  bool ok = false;
  std::string path;  // loaded path, or the last attempted one
  std::string reason = "ANE backend not initialised: call initialize(framework_path) first";
};

InitState& init_state() {
  // The framework is loaded into the process and never unloaded (§3.1), so this state is process-wide.
  static InitState state;
  return state;
}

struct LoadFailed {};

}  // namespace

bool built() noexcept { return true; }

bool initialize(const std::string& framework_path, std::string& reason) {
  if (framework_path.empty()) {
    throw std::invalid_argument("[ane::initialize] framework_path is empty; expected the path of the "
                                "AppleNeuralEngine binary (default " + std::string(kDefaultFrameworkPath) + ")");
  }
  InitState& st = init_state();
  // 1: loaded from this path; 0: nothing loaded yet; -1: another framework is loaded (reason set).
  const auto loaded_state = [&]() -> int {
    std::lock_guard<std::mutex> lock(st.mutex);
    if (!st.ok) return 0;
    if (st.path != framework_path) {
      reason = "this process already loaded the framework '" + st.path + "'; '" + framework_path +
               "' cannot be loaded as well (Objective-C classes cannot be unloaded)";
      return -1;
    }
    reason.clear();
    return 1;
  };
  if (const int state = loaded_state(); state != 0) return state > 0;
  try {
    std::call_once(st.once, [&] {
      std::string why;
      const bool ok = detail::load_framework(framework_path, why);
      std::lock_guard<std::mutex> lock(st.mutex);
      st.path = framework_path;
      if (!ok) {
        st.reason = why;
        throw LoadFailed{};
      }
      st.ok = true;
      st.reason.clear();
    });
  } catch (const LoadFailed&) {
    std::lock_guard<std::mutex> lock(st.mutex);
    reason = st.reason;
    return false;
  }
  // Either this call loaded the framework or another thread finished doing so first.
  return loaded_state() > 0;
}

bool is_available(std::string* reason) {
  InitState& st = init_state();
  std::lock_guard<std::mutex> lock(st.mutex);
  if (reason != nullptr) *reason = st.reason;
  return st.ok;
}

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.built = true;
  {
    InitState& st = init_state();
    std::lock_guard<std::mutex> lock(st.mutex);
    info.available = st.ok;
    info.reason = st.reason;
    info.framework_path = st.path;
  }
  detail::describe_runtime(info);
  return info;
}

}  // namespace anekit::ane
