// Stub of the ANE backend interface (ane.h) for builds without the Objective-C++ backend
// (ANEKIT_BUILD_ANE=OFF, the default off macOS; docs/internals/architecture.md §3.1, §10.1). Everything reports the backend as
// not built: queries answer "unavailable" with the reason, operations throw UnavailableError with it. The
// bindings (bind_ane.cpp) compile unchanged against this file and the real backend.
#include <memory>
#include <string>

#include "ane.h"

namespace anekit::ane {

namespace {

const std::string& not_built_reason() {
  static const std::string reason =
      "ANE backend not built: this anekit was configured with ANEKIT_BUILD_ANE=OFF (reinstall with "
      "`pip install . -Ccmake.define.ANEKIT_BUILD_ANE=ON`; on Linux this needs clang and GNUstep, see "
      "scripts/install_objc_toolchain.sh)";
  return reason;
}

[[noreturn]] void not_built(const char* where) {
  throw UnavailableError(std::string("[") + where + "] " + not_built_reason());
}

}  // namespace

struct Model::Impl {};

bool built() noexcept { return false; }

bool initialize(const std::string& /*framework_path*/, std::string& reason) {
  reason = not_built_reason();
  return false;
}

bool is_available(std::string* reason) {
  if (reason != nullptr) *reason = not_built_reason();
  return false;
}

RuntimeInfo runtime_info() {
  RuntimeInfo info;
  info.built = false;
  info.available = false;
  info.reason = not_built_reason();
  return info;
}

std::unique_ptr<core::SurfaceStorage> make_iosurface_storage(std::size_t /*nbytes*/) {
  not_built("ane::make_iosurface_storage");
}

void install_surface_allocator() { not_built("ane::install_surface_allocator"); }

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Model::~Model() = default;
const std::string& Model::hex_identifier() const { not_built("ane::Model::hex_identifier"); }
const std::string& Model::model_dir() const { not_built("ane::Model::model_dir"); }
bool Model::loaded() const { return false; }
bool Model::closed() const { return true; }
Binding Model::binding() const { not_built("ane::Model::binding"); }
std::string Model::model_attributes() const { not_built("ane::Model::model_attributes"); }
unsigned long long Model::state() const { not_built("ane::Model::state"); }
EvalResult Model::evaluate(const std::vector<core::SurfaceStorage*>& /*inputs*/,
                           const std::vector<core::SurfaceStorage*>& /*outputs*/, ExecutionPath /*path*/,
                           unsigned /*qos*/) {
  not_built("ane::Model::evaluate");
}
void Model::unload(unsigned /*qos*/) { not_built("ane::Model::unload"); }
void Model::load(unsigned /*qos*/) { not_built("ane::Model::load"); }
void Model::close() { not_built("ane::Model::close"); }

std::unique_ptr<Model> compile(const std::string& /*mil_text*/, const std::vector<WeightFile>& /*weights*/,
                               const CompileOptions& /*options*/) {
  not_built("ane::compile");
}

void fake_configure(const FakeConfig& /*config*/) { not_built("ane::fake_configure"); }
void fake_reset() { not_built("ane::fake_reset"); }
std::map<std::string, long long> fake_stats() { not_built("ane::fake_stats"); }
void set_fake_evaluator(fake_ane_evaluator_fn /*fn*/, void* /*context*/) { not_built("ane::set_fake_evaluator"); }
void set_fake_compile_checker(fake_ane_compile_checker_fn /*fn*/, void* /*context*/) {
  not_built("ane::set_fake_compile_checker");
}

}  // namespace anekit::ane
