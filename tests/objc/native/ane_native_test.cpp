// Native test of the Objective-C++ ANE backend against the fake framework, without Python.
//
// Built by cmake/ane_backend.cmake (target anekit_ane_native_test) and run by scripts/check_native.sh under
// AddressSanitizer or valgrind, where MRC lifetime mistakes in the .mm files show up (linux-objc-toolchain.md
// §14), and by tests/objc/test_native.py. Usage: ane_native_test <path of the fake framework .so> [cycles].
// Prints one line per failed check and a closing "N passed, N failed" line; exit status 1 on any failure.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

#include "ane/ane.h"
#include "core/surface.h"

namespace ane = anekit::ane;
using anekit::core::SurfaceStorage;

namespace {

int g_passed = 0;
int g_failed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    ++g_passed;
  } else {
    ++g_failed;
    std::printf("FAILED: %s\n", what.c_str());
  }
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Runs f and reports whether it threw E with a message containing `part`; `out` receives the exception.
template <typename E>
bool throws(const std::function<void()>& f, const std::string& part, std::string* message = nullptr,
            std::unique_ptr<E>* out = nullptr) {
  try {
    f();
  } catch (const E& e) {
    if (message != nullptr) *message = e.what();
    if (out != nullptr) out->reset(new E(e));
    return contains(e.what(), part);
  } catch (const std::exception& e) {
    std::printf("  unexpected exception type: %s\n", e.what());
    return false;
  }
  return false;
}

// One fp16 input x and one output y of shape [1, C, 1, S] (mil-format.md §8.2 dialect).
std::string identity_mil(int c, int s, const std::string& extra = "") {
  const std::string t = "tensor<fp16, [1, " + std::to_string(c) + ", 1, " + std::to_string(s) + "]>";
  return "program(1.0)\n[buildInfo = dict<tensor<string, []>, tensor<string, []>>({{\"coremlc-version\", "
         "\"3505.4.1\"}})]\n{\n    func main<ios16>(" +
         t + " x) {\n        " + t + " y = relu(x = x)[name = tensor<string, []>(\"y" + extra +
         "\")];\n    } -> (y);\n}\n";
}

std::unique_ptr<SurfaceStorage> filled(std::size_t n, unsigned char seed) {
  auto s = ane::make_iosurface_storage(n);
  auto* p = static_cast<unsigned char*>(s->lock(false));
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<unsigned char>(seed + i);
  s->unlock(false);
  return s;
}

bool same_bytes(SurfaceStorage& a, SurfaceStorage& b) {
  const void* pa = a.lock(true);
  const void* pb = b.lock(true);
  const bool same = a.nbytes() == b.nbytes() && std::memcmp(pa, pb, a.nbytes()) == 0;
  b.unlock(true);
  a.unlock(true);
  return same;
}

long long stat_of(const char* key) {
  const auto stats = ane::fake_stats();
  const auto it = stats.find(key);
  return it == stats.end() ? -1 : it->second;
}

// Reference-mode evaluator: y = 2 * x on bytes, to prove the program and surfaces reach the callback.
int doubling_evaluator(void* ctx, const fake_ane_eval_call* call, char* message, std::size_t cap) {
  auto* calls = static_cast<int*>(ctx);
  ++*calls;
  if (call->n_inputs != 1 || call->n_outputs != 1 || std::strcmp(call->inputs[0].name, "x") != 0 ||
      std::strcmp(call->outputs[0].name, "y") != 0 || std::strstr(call->mil_text, "func main") == nullptr) {
    std::snprintf(message, cap, "unexpected call shape");
    return 1;
  }
  const auto* in = static_cast<const unsigned char*>(call->inputs[0].data);
  auto* out = static_cast<unsigned char*>(call->outputs[0].data);
  for (std::size_t i = 0; i < call->outputs[0].nbytes; ++i) out[i] = static_cast<unsigned char>(2 * in[i]);
  return 0;
}

// Compile checker: rejects programs containing "REJECT".
int rejecting_checker(void* ctx, const char* mil, std::size_t, const fake_ane_weight*, std::size_t, char* message,
                      std::size_t cap) {
  ++*static_cast<int*>(ctx);
  if (std::strstr(mil, "REJECT") != nullptr) {
    std::snprintf(message, cap, "rejected by the checker");
    return 1;
  }
  return 0;
}

void test_initialize(const std::string& fake) {
  std::string why;
  check(!ane::initialize("/nonexistent/AppleNeuralEngine", why) && contains(why, "dlopen"),
        "initialize with a missing path fails with a dlopen reason: " + why);
  check(!ane::is_available(&why), "not available after a failed initialize");
  check(ane::initialize(fake, why) && why.empty(), "initialize(fake) succeeds: " + why);
  check(ane::initialize(fake, why), "initialize with the same path again is a no-op");
  check(!ane::initialize("/other/path", why) && contains(why, "already loaded") && ane::is_available(),
        "initialize with another path after success reports why and keeps the loaded framework: " + why);
  const ane::RuntimeInfo info = ane::runtime_info();
  check(info.available && info.is_fake && info.framework_path == fake, "runtime_info reports the fake");
  check(info.execution_paths.size() == 4, "all four execution paths are available on the fake");
  check(!info.model_root.empty() && info.fake_stats.count("liveModels") == 1, "runtime_info has stats and root");
}

void test_round_trip() {
  ane::fake_reset();
  auto model = ane::compile(identity_mil(4, 8), {});
  check(model->loaded() && model->state() == 3, "compiled model is loaded with state 3");
  check(exists(model->model_dir() + "/model.mil"), "model directory holds model.mil while the model lives");
  auto x = filled(64, 7);
  auto y = ane::make_iosurface_storage(64);
  for (auto path : {ane::ExecutionPath::Standard, ane::ExecutionPath::RealTime, ane::ExecutionPath::ProcessRequest,
                    ane::ExecutionPath::Direct}) {
    std::memset(y->lock(false), 0, 64);
    y->unlock(false);
    const ane::EvalResult r = model->evaluate({x.get()}, {y.get()}, path);
    check(same_bytes(*x, *y), std::string("echo round trip through path ") + ane::path_name(path));
    check(!r.hw_execution_ns.has_value(), "no hardware time without perf_stats");
  }
  check(stat_of("evalsStandard") == 1 && stat_of("evalsRealTime") == 1 && stat_of("evalsProcessRequest") == 1 &&
            stat_of("evalsDirect") == 1,
        "each path reached its own selector");
  const std::string dir = model->model_dir();
  model->close();
  check(!exists(dir), "close removes the model directory");
  check(throws<std::runtime_error>([&] { model->evaluate({x.get()}, {y.get()}); }, "closed"),
        "evaluate after close throws");
}

void test_errors() {
  ane::fake_reset();
  std::unique_ptr<ane::CompileError> ce;
  std::string msg;
  check(throws<ane::CompileError>([] { ane::compile(identity_mil(4, 8, "FAKE_ANE_FAIL_COMPILE"), {}); },
                                  "ANECCompile() FAILED", &msg, &ce) &&
            ce->code() == -1 && ce->domain() == "com.apple.appleneuralengine",
        "NSError from compile becomes CompileError with domain and code: " + msg);
  check(throws<ane::CompileError>([] { ane::compile(identity_mil(4, 8, "FAKE_ANE_FAIL_LOAD"), {}); },
                                  "loadWithQoS"),
        "load failure becomes CompileError");
  std::unique_ptr<ane::FrameworkError> fe;
  check(throws<ane::FrameworkError>([] { ane::compile(identity_mil(4, 8, "FAKE_ANE_RAISE"), {}); },
                                    "NSInvalidArgumentException", &msg, &fe) &&
            fe->domain() == "NSInvalidArgumentException",
        "NSException from compile becomes FrameworkError: " + msg);
  check(throws<ane::CompileError>([] { ane::compile("not MIL", {}); }, "InvalidMILProgram"),
        "text that is not MIL fails to compile");
  check(throws<std::invalid_argument>([] { ane::compile(identity_mil(4, 8), {{"weights/w.bin", "x", 1}}); },
                                      "@model_path"),
        "weight path without @model_path/ is rejected");
  auto model = ane::compile(identity_mil(4, 8), {});
  auto small = ane::make_iosurface_storage(32);
  auto y = ane::make_iosurface_storage(64);
  check(throws<ane::FrameworkError>([&] { model->evaluate({small.get()}, {y.get()}); }, "needs at least 64 bytes"),
        "surface size mismatch is reported by the fake");
  anekit::core::AlignedStorage host(64);
  check(throws<std::invalid_argument>([&] { model->evaluate({&host}, {y.get()}); }, "not an IOSurface"),
        "host storage is rejected");
  auto x = filled(64, 1);
  ane::FakeConfig faults;
  faults.faults = {"evaluate"};
  ane::fake_configure(faults);
  check(throws<ane::FrameworkError>([&] { model->evaluate({x.get()}, {y.get()}); }, "Program Inference error"),
        "injected evaluate fault is reported");
  faults.faults = {"evaluate_exception"};
  ane::fake_configure(faults);
  check(throws<ane::FrameworkError>([&] { model->evaluate({x.get()}, {y.get()}); }, "NSInternalInconsistency"),
        "NSException in evaluate is reported");
  ane::fake_reset();
  model->unload();
  check(throws<std::runtime_error>([&] { model->evaluate({x.get()}, {y.get()}); }, "not loaded"),
        "evaluate after unload throws");
  model->load();
  model->evaluate({x.get()}, {y.get()});
  check(same_bytes(*x, *y), "evaluate works after reload");
  ane::FakeConfig disabled;
  disabled.disabled_selectors = {"evaluateRealTimeWithModel:options:request:error:"};
  ane::fake_configure(disabled);
  check(throws<ane::UnavailableError>([&] { model->evaluate({x.get()}, {y.get()}, ane::ExecutionPath::RealTime); },
                                      "evaluateRealTimeWithModel"),
        "a missing execution path names the selector");
  ane::fake_reset();
  ane::FakeConfig bad;
  bad.mode = "bogus";
  check(throws<std::invalid_argument>([&] { ane::fake_configure(bad); }, "mode"), "bad fake mode is rejected");
}

void test_weights_and_perf() {
  ane::fake_reset();
  const std::string blob(256, '\x05');
  auto model = ane::compile(identity_mil(4, 8, "w"), {{"@model_path/weights/weight.bin", blob.data(), blob.size()}},
                            ane::CompileOptions{ane::kDefaultQoS, true});
  check(exists(model->model_dir() + "/weights/weight.bin"), "weight file written into the model directory");
  ane::FakeConfig perf;
  perf.perf_stats_ns = 1234;
  ane::fake_configure(perf);
  auto x = filled(64, 3);
  auto y = ane::make_iosurface_storage(64);
  const ane::EvalResult r = model->evaluate({x.get()}, {y.get()});
  check(r.hw_execution_ns.has_value() && *r.hw_execution_ns == 1234, "hwExecutionTime is reported when present");
  // Two models of the same program share one directory; it survives until the last one closes (§8.3).
  auto twin = ane::compile(identity_mil(4, 8, "w"), {{"@model_path/weights/weight.bin", blob.data(), blob.size()}});
  check(twin->model_dir() == model->model_dir(), "identical programs share a model directory");
  model->close();
  check(exists(twin->model_dir() + "/model.mil"), "shared directory kept while a twin is alive");
  const std::string dir = twin->model_dir();
  twin.reset();
  check(!exists(dir), "shared directory removed with the last twin");
  ane::fake_reset();
}

void test_reference_and_budget() {
  ane::fake_reset();
  int calls = 0;
  ane::set_fake_evaluator(&doubling_evaluator, &calls);
  ane::FakeConfig ref;
  ref.mode = "reference";
  ane::fake_configure(ref);
  auto model = ane::compile(identity_mil(4, 8, "ref"), {});
  auto x = filled(64, 1);
  auto y = ane::make_iosurface_storage(64);
  model->evaluate({x.get()}, {y.get()});
  const auto* p = static_cast<const unsigned char*>(y->lock(true));
  check(calls == 1 && p[0] == 2 && p[5] == 12, "reference mode runs the registered evaluator");
  y->unlock(true);
  ane::set_fake_evaluator(nullptr, nullptr);
  int checks = 0;
  ane::set_fake_compile_checker(&rejecting_checker, &checks);
  check(throws<ane::CompileError>([] { ane::compile(identity_mil(4, 8, "REJECT"), {}); }, "rejected by the checker"),
        "the compile checker can reject a program");
  ane::compile(identity_mil(4, 8, "accepted"), {});
  check(checks == 2, "the compile checker saw both programs");
  ane::set_fake_compile_checker(nullptr, nullptr);
  check(throws<ane::FrameworkError>([&] { model->evaluate({x.get()}, {y.get()}); }, "no evaluator"),
        "reference mode without an evaluator fails loudly");
  model.reset();
  ane::fake_reset();  // restart the budget count
  ane::FakeConfig budget;
  budget.compile_budget = 2;
  ane::fake_configure(budget);
  auto a = ane::compile(identity_mil(4, 8, "b1"), {});
  a.reset();  // freeing does not give the budget back (§16)
  auto b = ane::compile(identity_mil(4, 8, "b2"), {});
  check(throws<ane::CompileError>([] { ane::compile(identity_mil(4, 8, "b3"), {}); }, "budget"),
        "loud budget exhaustion raises CompileError");
  budget.budget_end = "silent";
  ane::fake_configure(budget);
  auto silent = ane::compile(identity_mil(4, 8, "b4"), {});
  silent->evaluate({x.get()}, {y.get()});
  const auto* q = static_cast<const unsigned char*>(y->lock(true));
  bool zeros = true;
  for (int i = 0; i < 64; ++i) zeros = zeros && q[i] == 0;
  y->unlock(true);
  check(zeros, "silent budget exhaustion compiles and outputs zeros");
  ane::fake_reset();
}

void test_threads() {
  ane::fake_reset();
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &ok] {
      auto model = ane::compile(identity_mil(4, 8, "t" + std::to_string(t)), {});
      auto x = filled(64, static_cast<unsigned char>(t));
      auto y = ane::make_iosurface_storage(64);
      int good = 0;
      for (int i = 0; i < 300; ++i) {
        model->evaluate({x.get()}, {y.get()});
        good += same_bytes(*x, *y) ? 1 : 0;
      }
      ok[t] = good;
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) check(ok[t] == 300, "thread " + std::to_string(t) + " got 300 correct evaluations");
}

void test_leaks(int cycles) {
  ane::fake_reset();
  const long long surfaces_before = stat_of("liveIOSurfaces");
  std::string root = ane::runtime_info().model_root;
  std::vector<std::string> dirs;
  for (int i = 0; i < cycles; ++i) {
    auto model = ane::compile(identity_mil(4, 8, "leak" + std::to_string(i)), {});
    auto x = filled(64, 1);
    auto y = ane::make_iosurface_storage(64);
    model->evaluate({x.get()}, {y.get()});
    if (i % 997 == 0) dirs.push_back(model->model_dir());
  }
  const auto stats = ane::fake_stats();
  check(stats.at("liveModels") == 0 && stats.at("liveDescriptors") == 0 && stats.at("liveRequests") == 0 &&
            stats.at("liveSurfaceObjects") == 0 && stats.at("livePrograms") == 0,
        "no fake object is alive after " + std::to_string(cycles) + " compile/free cycles");
  check(stats.at("liveIOSurfaces") == surfaces_before, "no IOSurface leaked");
  check(stats.at("compiles") == cycles && stats.at("evals") == cycles, "every cycle compiled and evaluated");
  bool gone = true;
  for (const auto& d : dirs) gone = gone && !exists(d);
  check(gone, "no model directory is left behind");
}

}  // namespace

// A storage whose unlock fails, to show that Surface::Lock's destructor reports instead of throwing.
class FailingUnlockStorage final : public SurfaceStorage {
 public:
  void* lock(bool) override { return bytes_; }
  void unlock(bool) override { throw std::runtime_error("IOSurfaceUnlock refused (test)"); }
  void* address() const override { return const_cast<unsigned char*>(bytes_); }
  std::size_t nbytes() const override { return sizeof bytes_; }
  const char* kind() const override { return "failing-unlock"; }

 private:
  unsigned char bytes_[64] = {};
};

void test_surface_lock_never_throws() {
  namespace core = anekit::core;
  core::set_surface_allocator([](std::size_t) { return std::make_unique<FailingUnlockStorage>(); });
  const std::int64_t before = core::unlock_failures();
  bool terminated_or_threw = false;
  try {
    core::Surface s({1, 4, 1, 8}, core::SurfaceDType::FP16);
    { core::Surface::Lock lock(s, false); }  // the destructor's unlock throws inside; must not escape
  } catch (...) {
    terminated_or_threw = true;
  }
  ane::install_surface_allocator();
  check(!terminated_or_threw && core::unlock_failures() == before + 1,
        "Surface::Lock's destructor counts a failed unlock instead of throwing");
  core::Surface padded({1, 4, 1, 8}, core::SurfaceDType::FP16, 49152);
  check(padded.nbytes() == 64 && padded.allocation_bytes() == 49152, "a Surface may be larger than its tensor");
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <fake framework .so> [leak cycles]\n", argv[0]);
    return 2;
  }
  const int cycles = argc > 2 ? std::atoi(argv[2]) : 1000;
  try {
    test_initialize(argv[1]);
    test_surface_lock_never_throws();
    test_round_trip();
    test_errors();
    test_weights_and_perf();
    test_reference_and_budget();
    test_threads();
    test_leaks(cycles);
  } catch (const std::exception& e) {
    std::printf("FAILED: unexpected exception: %s\n", e.what());
    ++g_failed;
  }
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
