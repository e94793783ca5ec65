// See ane_failure.h. Plain C++ (not Objective-C++), so it can be compiled by any C++ compiler.
#include "ane_failure.h"

#include <stdexcept>

#include "ane.h"

namespace anekit::ane::detail {

void raise_failure(const Failure& f) {
  switch (f.kind) {
    case Failure::Kind::InvalidArgument:
      throw std::invalid_argument(f.message);
    case Failure::Kind::Unavailable:
      throw UnavailableError(f.message);
    case Failure::Kind::Framework:
      throw FrameworkError(f.message, f.domain, f.code, f.description);
    case Failure::Kind::Compile:
      throw CompileError(f.message, f.domain, f.code, f.description);
    case Failure::Kind::Runtime:
      // Not an NSError, but a failure of the framework path all the same: an anekit error type in Python
      // (FrameworkError), never a bare RuntimeError.
      throw FrameworkError(f.message, "anekit", 0, f.message);
    case Failure::Kind::None:
      break;
  }
  throw std::logic_error("[ane::raise_failure] called without a failure: " + f.message);
}

}  // namespace anekit::ane::detail
