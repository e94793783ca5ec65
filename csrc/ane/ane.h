// anekit::ane — the ANE backend interface (docs/internals/architecture.md §3.1).
//
// Pure C++17: no Objective-C, no pybind11. Implemented by ane_runtime.mm, ane_model.mm and
// ane_iosurface.mm against AppleNeuralEngine.framework (on macOS) or the fake framework (Linux CI), or by
// no_ane.cpp, which reports the backend as not built. bindings/bind_ane.cpp compiles identically against both.
//
// Errors: every message starts with "[ane::<function>]". std::invalid_argument for bad arguments,
// UnavailableError when the framework, a class or an execution path is missing, CompileError when compile
// or load fails (carrying the framework's NSError domain, code and description), FrameworkError for other
// NSErrors and for NSExceptions raised by the framework (docs/internals/architecture.md §9.1).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/surface.h"
#include "../fake_ane/fake_ane_api.h"

namespace anekit::ane {

// QoS passed to compile, load, evaluate and unload by every upstream caller; 21 = 0x15 = QOS_CLASS_DEFAULT
// on Darwin. Every value 0..63 was measured to work with unchanged latency (docs/internals/ane-private-api.md §5).
inline constexpr unsigned kDefaultQoS = 21;

// Default location of the private framework (docs/internals/ane-private-api.md §3.1). Python passes the configured path
// (ANEKIT_ANE_FRAMEWORK) explicitly; C++ never reads environment variables (docs/internals/architecture.md §10.2).
inline constexpr const char* kDefaultFrameworkPath =
    "/System/Library/PrivateFrameworks/AppleNeuralEngine.framework/AppleNeuralEngine";

// ---- errors --------------------------------------------------------------------------------------------

/** The backend, the framework, one of its classes or an execution path is not available. */
class UnavailableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/** An NSError or NSException from the framework, converted at the call site. */
class FrameworkError : public std::runtime_error {
 public:
  FrameworkError(const std::string& message, std::string domain, long long code, std::string description)
      : std::runtime_error(message),
        domain_(std::move(domain)),
        code_(code),
        description_(std::move(description)) {}
  /** NSError domain, or the NSException name (e.g. "NSInvalidArgumentException"). */
  const std::string& domain() const noexcept { return domain_; }
  /** NSError code; 0 for an NSException. */
  long long code() const noexcept { return code_; }
  /** The framework's own text (localizedDescription or the exception reason). */
  const std::string& description() const noexcept { return description_; }

 private:
  std::string domain_;
  long long code_;
  std::string description_;
};

/** compileWithQoS: or loadWithQoS: failed (or the descriptor/model could not be created). */
class CompileError : public FrameworkError {
 public:
  using FrameworkError::FrameworkError;
};

// ---- runtime -------------------------------------------------------------------------------------------

/** Whether the Objective-C++ backend was compiled into this build (false for no_ane.cpp). */
bool built() noexcept;

/**
 * Loads the framework at `framework_path` with dlopen and resolves the private classes, once per process
 * (std::call_once; docs/internals/ane-private-api.md §3.4). Returns true when usable; otherwise false with `reason` naming
 * what failed (dlerror text, or the class that did not resolve). A failed attempt may be retried (with the
 * same or another path). After a success, the same path is a no-op returning true, and another path returns
 * false with a reason: Objective-C classes cannot be unloaded, so a process uses one framework.
 * Throws std::invalid_argument for an empty path.
 */
bool initialize(const std::string& framework_path, std::string& reason);

/** True once initialize() succeeded; otherwise false with `reason` (set when non-null). */
bool is_available(std::string* reason = nullptr);

/** Execution paths of docs/internals/ane-private-api.md §17. */
enum class ExecutionPath { Standard, RealTime, ProcessRequest, Direct };

/** "standard", "realtime", "process_request", "direct". */
inline const char* path_name(ExecutionPath path) noexcept {
  switch (path) {
    case ExecutionPath::Standard:
      return "standard";
    case ExecutionPath::RealTime:
      return "realtime";
    case ExecutionPath::ProcessRequest:
      return "process_request";
    case ExecutionPath::Direct:
      return "direct";
  }
  return "unknown";
}

/** Inverse of path_name; throws std::invalid_argument listing the valid names. */
inline ExecutionPath parse_path(const std::string& name) {
  for (ExecutionPath p : {ExecutionPath::Standard, ExecutionPath::RealTime, ExecutionPath::ProcessRequest,
                          ExecutionPath::Direct}) {
    if (name == path_name(p)) return p;
  }
  throw std::invalid_argument("[ane::parse_path] unknown execution path '" + name +
                              "'; expected 'standard', 'realtime', 'process_request' or 'direct'");
}

struct RuntimeInfo {
  bool built = false;
  bool available = false;
  std::string reason;           // why not available (empty when available)
  std::string framework_path;   // the path that was loaded (or last attempted)
  bool is_fake = false;         // the loaded framework answers +fakeANEStats
  std::string model_root;       // NSTemporaryDirectory(): parent of the per-model directories (§8)
  std::vector<std::string> execution_paths;   // paths usable right now, by path_name()
  std::map<std::string, long long> fake_stats;  // counters of the fake framework (empty for the real one)
};

/** What was loaded; safe to call at any time. */
RuntimeInfo runtime_info();

// ---- IOSurface storage ---------------------------------------------------------------------------------

/**
 * An IOSurface of `nbytes` bytes (1-byte elements, height 1, width = bytes per row = nbytes; §12.1) as a
 * core::SurfaceStorage; native_handle() is the IOSurfaceRef. Lock and unlock return codes are checked.
 */
std::unique_ptr<core::SurfaceStorage> make_iosurface_storage(std::size_t nbytes);

/** Makes every new anekit Surface IOSurface-backed (core::set_surface_allocator). */
void install_surface_allocator();

// ---- models --------------------------------------------------------------------------------------------

/** One weights-dictionary entry: the MIL BLOBFILE path and the whole blob file (docs/internals/ane-private-api.md §7). */
struct WeightFile {
  std::string path;               // "@model_path/weights/<file>.bin", exactly as in the MIL text
  const void* data = nullptr;     // must stay valid for the duration of compile()
  std::size_t size = 0;
};

struct CompileOptions {
  unsigned qos = kDefaultQoS;
  // Attach a statType-2 _ANEPerformanceStatsIOSurface to each request and pass kANEFPerformanceStatsMaskKey
  // in the evaluation options (the decompiled recipe, docs/internals/ane-private-api.md §25.1); the hardware time is read
  // from the stats surface. Off by default; UnavailableError at compile when the framework lacks the class
  // or the key.
  bool perf_stats = false;
  // The names of the program's inputs and outputs in declaration order. When given and the loaded model's
  // modelAttributes lists its symbols (§25.1), each surface is bound to the symbol index of its name, and a
  // symbol table that does not name exactly these is a CompileError. Empty: indices 0..n-1 (§13).
  std::vector<std::string> input_names;
  std::vector<std::string> output_names;
};

/** How a loaded model's request indices were chosen. */
struct Binding {
  std::string source;                  // "modelAttributes" or "declaration"
  std::vector<unsigned> input_indices;  // symbol index of input surface j (declaration position j)
  std::vector<unsigned> output_indices;
};

struct EvalResult {
  std::optional<std::uint64_t> hw_execution_ns;  // hardware execution time when the framework reports it
};

/**
 * A compiled and loaded program. Owns the _ANEInMemoryModel, its requests, and a reference on its model
 * directory (shared by models with the same hexStringIdentifier, §8.3). Thread-safe: evaluate/load/unload
 * are serialised per model; different models may be used from different threads at once (§21).
 */
class Model {
 public:
  struct Impl;
  explicit Model(std::unique_ptr<Impl> impl);
  ~Model();  // close() without throwing
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  /** The model's hexStringIdentifier and NSTemporaryDirectory()/<hex>. */
  const std::string& hex_identifier() const;
  const std::string& model_dir() const;

  /** Never block (safe to call while another thread evaluates this model). */
  bool loaded() const;
  bool closed() const;
  /** The request indices used for each surface, and where they came from (CompileOptions::input_names). */
  Binding binding() const;

  /**
   * The loaded model's modelAttributes (§25.1) as JSON when NSJSONSerialization accepts it, else the
   * dictionary's description; "" when the framework reports none. For bug reports (`anekit doctor --report`).
   */
  std::string model_attributes() const;

  /** The framework's -state value (3 = loaded on device, §4.1). Throws when closed. */
  unsigned long long state() const;

  /**
   * Runs one evaluation. Surfaces are bound in order to the MIL inputs (`func main` parameters) and outputs
   * (the `-> (...)` tuple) with indices 0..n-1 (§13); each must be IOSurface-backed
   * (make_iosurface_storage). The _ANERequest for a given list of surfaces is built once and reused (§9).
   * Synchronous: outputs are readable when it returns.
   */
  EvalResult evaluate(const std::vector<core::SurfaceStorage*>& inputs,
                      const std::vector<core::SurfaceStorage*>& outputs,
                      ExecutionPath path = ExecutionPath::Standard, unsigned qos = kDefaultQoS);

  /** unloadWithQoS:error:. Does not give back compile budget (§16). No-op when not loaded. */
  void unload(unsigned qos = kDefaultQoS);
  /**
   * loadWithQoS: again after unload (reuses the compiled program, §10), retried once after a short delay as
   * the upstream bridge does; then the model must report a non-zero programHandle. CompileError on failure.
   */
  void load(unsigned qos = kDefaultQoS);

  /**
   * Unloads (if loaded), releases requests and the model, and drops the directory reference (the directory
   * is deleted with its last reference). Idempotent. Everything is released even when unload fails; the
   * failure is then thrown as FrameworkError.
   */
  void close();

 private:
  std::unique_ptr<Impl> impl_;
};

/**
 * Compiles and loads a MIL program (docs/internals/ane-private-api.md §2): descriptor, in-memory model, the model
 * directory pre-populated with model.mil and every weight file (§8), compileWithQoS:, loadWithQoS:.
 * Counts one compile attempt (core::note_compile) when the framework's compile is called.
 * Throws std::invalid_argument for bad arguments, UnavailableError before a successful initialize(),
 * CompileError when the framework refuses the program.
 */
std::unique_ptr<Model> compile(const std::string& mil_text, const std::vector<WeightFile>& weights,
                               const CompileOptions& options = {});

// ---- fake framework hooks (Linux test builds) ----------------------------------------------------------
// All throw UnavailableError unless the loaded framework is the fake (RuntimeInfo::is_fake).

struct FakeConfig {
  std::string mode = "echo";              // "echo" | "reference"
  long long compile_budget = -1;          // successful compiles allowed per process; -1 = unlimited
  std::string budget_end = "loud";        // "loud" (NSError) | "silent" (success, zero outputs) | "crash" (SIGSEGV)
  std::string binding = "declaration";    // request index k -> k-th symbol in "declaration" | "alphabetical" order
  std::string surfaces = "exact";         // "exact" (each >= its tensor) | "uniform" (one size per side, too)
  std::uint64_t min_surface_bytes = 0;    // smaller surfaces are refused at evaluate
  bool model_attributes = true;           // loaded models answer -modelAttributes with their symbol tables
  std::set<std::string> faults;           // compile, load, evaluate, unload, *_exception, load_once, load_unloaded
  std::set<std::string> disabled_selectors;  // selectors the fake's _ANEClient pretends to lack
  std::uint64_t perf_stats_ns = 0;        // >0: written into statType-2 stats surfaces (when the mask key is set)
};

/** Replaces the fake's configuration; std::invalid_argument when the fake rejects a value. */
void fake_configure(const FakeConfig& config);
/** Restores the default configuration and zeroes the activity counters and the compile budget. */
void fake_reset();
/** The fake's counters (+fakeANEStats). */
std::map<std::string, long long> fake_stats();
/** Registers the evaluator used in mode "reference" (nullptr removes it). See fake_ane_api.h. */
void set_fake_evaluator(fake_ane_evaluator_fn fn, void* context);
/** Registers the checker the fake runs on every compile (nullptr removes it). See fake_ane_api.h. */
void set_fake_compile_checker(fake_ane_compile_checker_fn fn, void* context);

}  // namespace anekit::ane
