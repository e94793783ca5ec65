// A failure captured inside an Objective-C++ frame and thrown later as a C++ exception.
//
// With GCC's Objective-C runtime, Objective-C++ functions get the __gnu_objc_personality_v0 personality, which
// cannot catch C++ exceptions (docs/internals/linux-objc-toolchain.md §1 item 3, §7 rule 4), and throwing out of an
// @autoreleasepool would skip the pool's pop. So the .mm files never use C++ try/catch: they record NSError
// and NSException details in a Failure inside @autoreleasepool/@try, and call raise_failure() after the pool
// has been drained. Pure C++ (no Objective-C types), so it is shared by every backend source.
#pragma once

#include <string>

namespace anekit::ane::detail {

struct Failure {
  enum class Kind { None, InvalidArgument, Unavailable, Runtime, Framework, Compile };
  Kind kind = Kind::None;
  std::string message;      // full message, starting with "[ane::<function>]"
  std::string domain;       // NSError domain or NSException name (Framework/Compile)
  long long code = 0;       // NSError code (Framework/Compile)
  std::string description;  // the framework's own text (Framework/Compile)

  explicit operator bool() const noexcept { return kind != Kind::None; }
};

/** Throws the C++ exception matching failure.kind (see ane.h). Must not be called with Kind::None. */
[[noreturn]] void raise_failure(const Failure& failure);

/** Throws when `failure` is set; otherwise returns. */
inline void raise_if(const Failure& failure) {
  if (failure) raise_failure(failure);
}

}  // namespace anekit::ane::detail
