// Compile, load, evaluate, unload and free of _ANEInMemoryModel programs (docs/internals/ane-private-api.md §2, §4, §8-§13,
// §17, §18). One source for macOS (ARC) and Linux (MRC against the fake framework):
//   * every entry point runs in @autoreleasepool with @try/@catch (NSException *) (§11.1);
//   * objects that outlive a pool are CFTypeRefs from CFBridgingRetain, released with CFRelease
//     (docs/internals/linux-objc-toolchain.md §7 rule 1); no retain/release/autorelease, no __weak, no __bridge_retained;
//   * NSErrors and NSExceptions become a detail::Failure inside the pool, and the C++ exception is thrown
//     after it, with no C++ try/catch in this file (§7 rules 3-4).
#import <Foundation/Foundation.h>

#include <CoreFoundation/CoreFoundation.h>
#include <IOSurface/IOSurfaceRef.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "../core/compile_counter.h"
#include "ane.h"
#include "ane_objc.h"

namespace anekit::ane {

using detail::Failure;
using detail::msg;

namespace {

// Prefix of weights-dictionary keys; stripped (12 characters) to get the file's place in the model
// directory (docs/internals/ane-private-api.md §8.1).
constexpr const char* kModelPathPrefix = "@model_path/";

// Requests kept per model. A request is built once per list of surfaces and reused (§9, §13); several
// requests per model are normal (one per layer in the dynamic-weights trainer, §13). Each cached request
// keeps its surfaces alive, so the cache is bounded.
constexpr std::size_t kMaxCachedRequests = 8;

// Autoreleased, so it is correct under ARC and MRC alike. Paths never contain NUL (validate_weights).
NSString* to_ns(const std::string& s) { return [NSString stringWithUTF8String:s.c_str()]; }

// Model directories are NSTemporaryDirectory()/<hexStringIdentifier> (-[_ANEInMemoryModel localModelPath]),
// shared by every model with the same identifier (identical MIL and weights, §8.3) in this process *and* in
// every other process of the user. The framework itself only creates the directory and rewrites model.mil and
// the weight files atomically in it (-[_ANEInMemoryModel saveModelFiles], §25.1); it never deletes it. anekit
// deletes it with its last user, so users are counted at two levels:
//   * in this process, a reference count per identifier;
//   * across processes, a shared flock(2) on NSTemporaryDirectory()/<hex>.anekit-lock, held while this
//     process has a reference. The last process deletes the directory only if it can take the lock exclusively
//     (LOCK_NB): while any other process holds it, the directory stays for that process.
// Writing the files is serialised per identifier in this process, and each file is written to a unique
// temporary name and renamed, so concurrent writers (threads, processes, the framework) never see a partial
// file or collide on a temporary name.
class DirectoryRegistry {
 public:
  static DirectoryRegistry& instance() {
    static DirectoryRegistry registry;
    return registry;
  }

  // Takes a reference on `dir` (the model directory of `hex`). Returns "" or a message (the lock file could
  // not be opened or locked).
  std::string acquire(const std::string& hex, const std::string& dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    Entry& e = entries_[hex];
    if (e.refs == 0) {
      std::string why = lock_shared(dir + kLockSuffix, e.fd);
      if (!why.empty()) {
        entries_.erase(hex);
        return why;
      }
    }
    ++e.refs;
    if (!e.write_mutex) e.write_mutex = std::make_shared<std::mutex>();
    return "";
  }

  // The mutex that serialises writing `hex`'s files in this process (the entry exists while referenced).
  std::shared_ptr<std::mutex> write_mutex(const std::string& hex) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(hex);
    return it == entries_.end() ? std::make_shared<std::mutex>() : it->second.write_mutex;
  }

  void release(const std::string& hex, const std::string& dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = entries_.find(hex);
    if (it == entries_.end()) return;
    if (--it->second.refs > 0) return;
    const int fd = it->second.fd;
    entries_.erase(it);
    // Deleted under the lock, so a concurrent compile of the same program in this process never sees its
    // freshly written files removed; other processes are kept out by the flock.
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) {
      @autoreleasepool {
        // removeItemAtPath fails only if the directory is already gone; nothing to report then.
        [[NSFileManager defaultManager] removeItemAtPath:to_ns(dir) error:nil];
      }
      ::unlink((dir + kLockSuffix).c_str());
    }
    ::close(fd);
  }

 private:
  static constexpr const char* kLockSuffix = ".anekit-lock";

  struct Entry {
    int refs = 0;
    int fd = -1;
    std::shared_ptr<std::mutex> write_mutex;
  };

  // Opens `path` and takes a shared flock on it, making sure the lock is on the file that `path` names now
  // (a process deleting the directory unlinks the lock file after locking it exclusively).
  static std::string lock_shared(const std::string& path, int& out) {
    for (int attempt = 0; attempt < 100; ++attempt) {
      const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
      if (fd < 0) return "cannot open the lock file " + path + ": " + std::strerror(errno);
      int rc;
      do {
        rc = ::flock(fd, LOCK_SH);
      } while (rc != 0 && errno == EINTR);
      if (rc != 0) {
        const std::string why = std::strerror(errno);
        ::close(fd);
        return "cannot lock " + path + ": " + why;
      }
      struct stat held {};
      struct stat named {};
      if (::fstat(fd, &held) == 0 && ::stat(path.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
          held.st_dev == named.st_dev) {
        out = fd;
        return "";
      }
      ::close(fd);  // the file was unlinked by its last user meanwhile: lock the new one
    }
    return "cannot lock " + path + ": it keeps being replaced";
  }

  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

// mkdir -p that tolerates a concurrent creator (another thread, process, or the framework's own
// saveModelFiles): EEXIST on a directory is success. Returns "" or a message.
std::string make_directories(const std::string& path) {
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string part = path.substr(0, pos);
    if (part.empty() || ::mkdir(part.c_str(), 0755) == 0) continue;
    struct stat st {};
    if (errno == EEXIST && ::stat(part.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) continue;
    return "cannot create the directory " + part + ": " + std::strerror(errno);
  }
  return "";
}

// Writes `size` bytes to `path` through a temporary file unique to this process and call, then rename(2):
// readers see the old file or the new one, never a partial one, and concurrent writers never collide.
std::string write_atomically(const std::string& path, const void* data, std::size_t size) {
  static std::atomic<unsigned long long> counter{0};
  const std::string tmp = path + ".anekit-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + tmp + ": " + std::strerror(errno);
  const char* p = static_cast<const char*>(data);
  std::size_t left = size;
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      return "writing " + path + " failed: " + why;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    return "writing " + path + " failed: " + why;
  }
  return "";
}

struct RequestEntry {
  std::vector<void*> inputs;   // IOSurfaceRefs, each CFRetain'ed by this entry (§9: keep bound surfaces alive)
  std::vector<void*> outputs;
  CFTypeRef request = nullptr;  // _ANERequest
  CFTypeRef stats = nullptr;    // _ANEPerformanceStatsIOSurface when CompileOptions::perf_stats
  std::shared_ptr<core::SurfaceStorage> stats_surface;  // the IOSurface it wraps
};

// Size of the statistics surface: one 16 KiB page, far above the 16 bytes that
// -[_ANEPerformanceStats initWithRequestPerformanceBuffer:statsBufferSize:] needs for the hardware time.
constexpr std::size_t kStatsSurfaceBytes = 16384;
// The statistics type whose surface receives the hardware time (§25.1; valid types are 0-2,
// _ANERequest validate).
constexpr int64_t kStatsTypeHardware = 2;
// Value for kANEFPerformanceStatsMaskKey. +[_ANEPerformanceStats driverMaskForANEFMask:] maps masks up to 0xF
// and zeroes larger ones; 4 is the hardware-time bit as §25.1 reads it. Unverified on a Mac: `anekit doctor`'s
// perf_stats probe settles whether any time comes back.
constexpr unsigned kPerfStatsMask = 4;
// Pause before the one retry of loadWithQoS: (the upstream bridge retries a failed load once after a short
// wait; the daemon may still be finishing the compile).
constexpr int kLoadRetryDelayMs = 100;

void release_entry(RequestEntry& e) {
  if (e.request != nullptr) CFRelease(e.request);  // before the stats surface it may reference
  if (e.stats != nullptr) CFRelease(e.stats);
  for (void* s : e.inputs) CFRelease(s);
  for (void* s : e.outputs) CFRelease(s);
  e = RequestEntry{};
}

// Writes model.mil and every weight file into the model directory before compile (§8.1): the real
// framework reads them from there and its own saveModelFiles does not write the weights properly (§8.2,
// §25.1). Holds this identifier's write mutex (DirectoryRegistry).
Failure populate_directory(const std::string& hex, NSString* dir, NSData* mil, NSDictionary* weights) {
  const std::shared_ptr<std::mutex> guard = DirectoryRegistry::instance().write_mutex(hex);
  std::lock_guard<std::mutex> lock(*guard);
  std::string why = make_directories(detail::to_std([dir stringByAppendingPathComponent:@"weights"]));
  if (why.empty()) {
    why = write_atomically(detail::to_std([dir stringByAppendingPathComponent:@"model.mil"]), [mil bytes],
                           [mil length]);
  }
  for (NSString* key in weights) {
    if (!why.empty()) break;
    NSString* rel = [key substringFromIndex:[@"@model_path/" length]];
    const std::string path = detail::to_std([dir stringByAppendingPathComponent:rel]);
    // Nested relative paths get their directories too (as maderix's bridge does, §8.1).
    why = make_directories(path.substr(0, path.rfind('/')));
    if (why.empty()) {
      NSData* data = [[weights objectForKey:key] objectForKey:@"data"];
      why = write_atomically(path, [data bytes], [data length]);
    }
  }
  if (!why.empty()) {
    return detail::make_failure(Failure::Kind::Compile, "ane::compile", "pre-populating the model directory: " + why);
  }
  return Failure{};
}

void validate_weights(const std::vector<WeightFile>& weights) {
  std::set<std::string> seen;
  const std::string prefix = kModelPathPrefix;
  for (const WeightFile& w : weights) {
    if (w.path.compare(0, prefix.size(), prefix) != 0 || w.path.size() == prefix.size()) {
      throw std::invalid_argument("[ane::compile] weight path '" + w.path +
                                  "' must be the MIL BLOBFILE path, \"@model_path/<file>\" (e.g. "
                                  "\"@model_path/weights/weight.bin\")");
    }
    const std::string rel = w.path.substr(prefix.size());
    if (rel.front() == '/' || rel.find("..") != std::string::npos || rel.find('\0') != std::string::npos) {
      throw std::invalid_argument("[ane::compile] weight path '" + w.path +
                                  "' must stay inside the model directory (no leading '/', no '..')");
    }
    if (!seen.insert(w.path).second) {
      throw std::invalid_argument("[ane::compile] weight path '" + w.path + "' is given twice");
    }
    if (w.size > 0 && w.data == nullptr) {
      throw std::invalid_argument("[ane::compile] weight '" + w.path + "' has " + std::to_string(w.size) +
                                  " bytes but no data pointer");
    }
  }
}

std::vector<void*> handles_of(const std::vector<core::SurfaceStorage*>& surfaces, const char* side) {
  std::vector<void*> out;
  out.reserve(surfaces.size());
  for (std::size_t i = 0; i < surfaces.size(); ++i) {
    core::SurfaceStorage* s = surfaces[i];
    if (s == nullptr) {
      throw std::invalid_argument(std::string("[ane::Model::evaluate] ") + side + " " + std::to_string(i) +
                                  " is null");
    }
    void* handle = s->native_handle();
    if (handle == nullptr) {
      throw std::invalid_argument(std::string("[ane::Model::evaluate] ") + side + " " + std::to_string(i) +
                                  " is '" + s->kind() +
                                  "' storage, not an IOSurface (create Surfaces after the ANE backend installed "
                                  "its IOSurface allocator)");
    }
    out.push_back(handle);
  }
  return out;
}

}  // namespace

struct Model::Impl {
  mutable std::mutex mutex;  // serialises evaluate/load/unload/close (docs/internals/architecture.md §3.1)
  CFTypeRef model = nullptr;  // _ANEInMemoryModel, +1 from CFBridgingRetain
  std::string hex;
  std::string dir;
  bool dir_acquired = false;
  // Atomic so that loaded()/closed() never wait for the mutex: a caller holding Python's GIL must not block
  // on a model whose evaluation is waiting for the GIL (the fake's reference evaluator runs Python).
  std::atomic<bool> loaded{false};
  std::atomic<bool> closed{false};
  CompileOptions options;
  Binding binding;  // request indices per surface, set after every load
  std::deque<RequestEntry> requests;  // most recently used first
  // Execution paths already found available for this model (indexed by ExecutionPath): the selectors a
  // framework implements do not change while it is loaded, so each path is checked once, not per evaluation.
  bool path_available[4] = {false, false, false, false};

  ~Impl() {
    Failure ignored = release_all();
    (void)ignored;  // a destructor cannot report an unload failure; close() does
  }

  void drop_requests() {
    for (RequestEntry& e : requests) release_entry(e);
    requests.clear();
  }

  // Unload (if loaded), release the requests and the model, drop the directory reference. Order as upstream:
  // unload, release the surfaces and request, delete the directory, drop the model (§10).
  Failure release_all() {
    Failure failure;
    @autoreleasepool {
      if (loaded && model != nullptr) {
        @try {
          NSError* error = nil;
          const BOOL ok = msg<detail::UnloadFn>()((__bridge id)model, @selector(unloadWithQoS:error:), options.qos,
                                                 &error);
          if (!ok) {
            failure = detail::failure_from_error(Failure::Kind::Framework, "ane::Model::close", "unloadWithQoS:error:",
                                                 error);
          }
        } @catch (NSException* e) {
          failure = detail::failure_from_exception("ane::Model::close", e);
        }
      }
      loaded = false;
      drop_requests();
      if (dir_acquired) {
        DirectoryRegistry::instance().release(hex, dir);
        dir_acquired = false;
      }
      if (model != nullptr) {
        CFRelease(model);
        model = nullptr;
      }
    }
    closed = true;
    return failure;
  }

  // The cached request for these surfaces, moved to the front, or nullptr.
  RequestEntry* cached_request(const std::vector<void*>& ins, const std::vector<void*>& outs) {
    for (auto it = requests.begin(); it != requests.end(); ++it) {
      if (it->inputs == ins && it->outputs == outs) {
        if (it != requests.begin()) {
          RequestEntry hit = *it;
          requests.erase(it);
          requests.push_front(hit);
        }
        return &requests.front();
      }
    }
    return nullptr;
  }

  // Builds and caches the request for these surfaces; `stats_surface` is the statistics surface when
  // options.perf_stats (made by the caller before its pool: make_iosurface_storage throws C++ exceptions,
  // which must not cross @autoreleasepool/@try, docs/internals/linux-objc-toolchain.md §7 rules 3-4).
  // Runs inside the caller's pool and @try.
  RequestEntry* new_request(const detail::Runtime& rt, const std::vector<void*>& ins, const std::vector<void*>& outs,
                            std::shared_ptr<core::SurfaceStorage> stats_surface, Failure& failure) {
    // Surface j carries the j-th input (output) in declaration order; its index is that symbol's index:
    // from modelAttributes when the model reports it, else j (§13, §25.1).
    NSMutableArray* inObjects = [NSMutableArray arrayWithCapacity:ins.size()];
    NSMutableArray* inIndices = [NSMutableArray arrayWithCapacity:ins.size()];
    NSMutableArray* outObjects = [NSMutableArray arrayWithCapacity:outs.size()];
    NSMutableArray* outIndices = [NSMutableArray arrayWithCapacity:outs.size()];
    for (int side = 0; side < 2; ++side) {
      const std::vector<void*>& handles = side == 0 ? ins : outs;
      NSMutableArray* objects = side == 0 ? inObjects : outObjects;
      NSMutableArray* indices = side == 0 ? inIndices : outIndices;
      for (std::size_t i = 0; i < handles.size(); ++i) {
        id obj = msg<detail::SurfaceObjectFactoryFn>()((id)rt.surface_object_class, @selector(objectWithIOSurface:),
                                                       static_cast<IOSurfaceRef>(handles[i]));
        if (obj == nil) {
          failure = detail::make_failure(Failure::Kind::Runtime, "ane::Model::evaluate",
                                         std::string("+[_ANEIOSurfaceObject objectWithIOSurface:] returned nil for ") +
                                             (side == 0 ? "input " : "output ") + std::to_string(i));
          return nullptr;
        }
        [objects addObject:obj];
        const std::vector<unsigned>& symbols = side == 0 ? binding.input_indices : binding.output_indices;
        [indices addObject:@(i < symbols.size() ? symbols[i] : static_cast<unsigned>(i))];
      }
    }
    id stats = nil;
    if (stats_surface) {
      id wrapper = msg<detail::SurfaceObjectFactoryFn>()((id)rt.surface_object_class, @selector(objectWithIOSurface:),
                                                         static_cast<IOSurfaceRef>(stats_surface->native_handle()));
      stats = wrapper == nil ? nil
                             : msg<detail::StatsSurfaceFactoryFn>()((id)rt.perf_stats_class,
                                                                   @selector(objectWithIOSurface:statType:), wrapper,
                                                                   kStatsTypeHardware);
      if (stats == nil) {
        failure = detail::make_failure(Failure::Kind::Runtime, "ane::Model::evaluate",
                                       "+[_ANEPerformanceStatsIOSurface objectWithIOSurface:statType:] returned nil");
        return nullptr;
      }
    }
    // weightsBuffer nil (baked weights win, §13), perfStats an NSArray or nil (§18), procedureIndex @0.
    id request = msg<detail::RequestFactoryFn>()(
        (id)rt.request_class,
        @selector(requestWithInputs:inputIndices:outputs:outputIndices:weightsBuffer:perfStats:procedureIndex:),
        inObjects, inIndices, outObjects, outIndices, nil, stats != nil ? @[ stats ] : nil, @0);
    if (request == nil) {
      failure = detail::make_failure(Failure::Kind::Runtime, "ane::Model::evaluate",
                                     "+[_ANERequest requestWithInputs:...] returned nil for " +
                                         std::to_string(ins.size()) + " inputs and " + std::to_string(outs.size()) +
                                         " outputs");
      return nullptr;
    }
    RequestEntry entry;
    entry.inputs = ins;
    entry.outputs = outs;
    for (void* s : entry.inputs) CFRetain(s);
    for (void* s : entry.outputs) CFRetain(s);
    entry.request = CFBridgingRetain(request);
    entry.stats = stats != nil ? CFBridgingRetain(stats) : nullptr;
    entry.stats_surface = std::move(stats_surface);
    if (requests.size() >= kMaxCachedRequests) {
      release_entry(requests.back());
      requests.pop_back();
    }
    requests.push_front(entry);
    return &requests.front();
  }
};

namespace {

// Symbol index of each name in `symbols` (an NSArray of NSString from modelAttributes), or a message saying
// why the table does not name exactly `names`.
std::string index_symbols(NSArray* symbols, const std::vector<std::string>& names, const char* side,
                          std::vector<unsigned>& out) {
  std::string listed;
  for (id s in symbols) listed += (listed.empty() ? "" : ", ") + ([s isKindOfClass:[NSString class]] ? detail::to_std(s) : "?");
  const std::string mismatch = std::string("modelAttributes lists the ") + side + " symbols [" + listed +
                               "], which are not the program's " + side + "s";
  if ([symbols count] != names.size()) return mismatch;
  out.clear();
  for (const std::string& name : names) {
    const NSUInteger k = [symbols indexOfObject:to_ns(name)];
    if (k == NSNotFound || k > 254) return mismatch + " ('" + name + "' is missing)";
    out.push_back(static_cast<unsigned>(k));
  }
  return "";
}

// After a load: the request indices for each surface. modelAttributes, when the model reports it, is the
// ground truth for binding order (§25.1): kANEFModelDescriptionKey -> kANEFModelInputSymbolsArrayKey /
// kANEFModelOutputSymbolsArrayKey list the symbol names in index order. Runs in the caller's pool and @try.
Failure bind_symbols(Model::Impl& impl, const detail::Runtime& rt, id model, const char* where) {
  const CompileOptions& o = impl.options;
  Binding b;
  b.source = "declaration";
  for (std::size_t i = 0; i < o.input_names.size(); ++i) b.input_indices.push_back(static_cast<unsigned>(i));
  for (std::size_t i = 0; i < o.output_names.size(); ++i) b.output_indices.push_back(static_cast<unsigned>(i));
  if (!o.input_names.empty() && rt.key_model_description != nil && rt.key_input_symbols != nil &&
      rt.key_output_symbols != nil && [model respondsToSelector:@selector(modelAttributes)]) {
    id attributes = msg<detail::IdFn>()(model, @selector(modelAttributes));
    id description = [attributes isKindOfClass:[NSDictionary class]]
                         ? [(NSDictionary*)attributes objectForKey:rt.key_model_description]
                         : nil;
    id ins = [description isKindOfClass:[NSDictionary class]]
                 ? [(NSDictionary*)description objectForKey:rt.key_input_symbols]
                 : nil;
    id outs = [description isKindOfClass:[NSDictionary class]]
                  ? [(NSDictionary*)description objectForKey:rt.key_output_symbols]
                  : nil;
    if ([ins isKindOfClass:[NSArray class]] && [outs isKindOfClass:[NSArray class]]) {
      std::string why = index_symbols(ins, o.input_names, "input", b.input_indices);
      if (why.empty()) why = index_symbols(outs, o.output_names, "output", b.output_indices);
      if (!why.empty()) return detail::make_failure(Failure::Kind::Compile, where, why);
      b.source = "modelAttributes";
    }
  }
  impl.binding = std::move(b);
  return Failure{};
}

// loadWithQoS:, retried once after kLoadRetryDelayMs as the upstream bridge does, then the checks that the
// model really loaded: a "successful" load that left programHandle 0 is what the framework does near the end
// of the compile budget (§16.1, §25.1). Runs in the caller's pool and @try.
Failure load_model(Model::Impl& impl, const detail::Runtime& rt, unsigned qos, const char* where) {
  id model = (__bridge id)impl.model;
  NSError* error = nil;
  SEL load = @selector(loadWithQoS:options:error:);
  BOOL ok = msg<detail::QosOptionsErrorFn>()(model, load, qos, detail::empty_options(), &error);
  if (!ok) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kLoadRetryDelayMs));
    error = nil;
    ok = msg<detail::QosOptionsErrorFn>()(model, load, qos, detail::empty_options(), &error);
    if (!ok) {
      return detail::failure_from_error(Failure::Kind::Compile, where,
                                        "loadWithQoS:options:error: (failed twice, retried after 100 ms)", error);
    }
  }
  if ([model respondsToSelector:@selector(programHandle)] &&
      msg<detail::Uint64Fn>()(model, @selector(programHandle)) == 0) {
    const unsigned long long state =
        [model respondsToSelector:@selector(state)] ? msg<detail::StateFn>()(model, @selector(state)) : 0;
    return detail::make_failure(Failure::Kind::Compile, where,
                                "loadWithQoS:options:error: returned YES but the model has no program "
                                "(programHandle 0, state " + std::to_string(state) +
                                    "): it did not load. Near the end of the per-process compile budget the "
                                    "framework fails this way; recompile in a fresh process "
                                    "(anekit.budget.set_policy(\"recycle\")).");
  }
  impl.loaded = true;
  return bind_symbols(impl, rt, model, where);  // on failure the model stays loaded; release_all unloads it
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Model::~Model() = default;  // Impl's destructor releases everything without throwing

const std::string& Model::hex_identifier() const { return impl_->hex; }
const std::string& Model::model_dir() const { return impl_->dir; }

bool Model::loaded() const { return impl_->loaded.load(); }

bool Model::closed() const { return impl_->closed.load(); }

unsigned long long Model::state() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) throw std::runtime_error("[ane::Model::state] the model is closed");
  Failure failure;
  unsigned long long value = 0;
  @autoreleasepool {
    @try {
      id model = (__bridge id)impl_->model;
      if (![model respondsToSelector:@selector(state)]) {
        failure = detail::make_failure(Failure::Kind::Unavailable, "ane::Model::state",
                                       "-[_ANEInMemoryModel state] is not implemented by this framework");
      } else {
        value = msg<detail::StateFn>()(model, @selector(state));
      }
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::Model::state", e);
    }
  }
  detail::raise_if(failure);
  return value;
}

EvalResult Model::evaluate(const std::vector<core::SurfaceStorage*>& inputs,
                           const std::vector<core::SurfaceStorage*>& outputs, ExecutionPath path, unsigned qos) {
  // _ANERequest validate refuses a request with 0 inputs or 0 outputs (§25.1).
  if (inputs.empty() || outputs.empty()) {
    throw std::invalid_argument("[ane::Model::evaluate] at least one input and one output surface are required "
                                "(the framework refuses requests without either)");
  }
  const std::vector<void*> ins = handles_of(inputs, "input");
  const std::vector<void*> outs = handles_of(outputs, "output");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) throw std::runtime_error("[ane::Model::evaluate] the model is closed");
  if (!impl_->loaded) throw std::runtime_error("[ane::Model::evaluate] the model is not loaded (call load())");
  Failure failure;
  EvalResult result;
  core::SurfaceStorage* stats_to_read = nullptr;  // owned by the request entry, alive while the mutex is held
  const detail::Runtime* rt = detail::require_runtime("ane::Model::evaluate", failure);
  detail::raise_if(failure);
  RequestEntry* entry = impl_->cached_request(ins, outs);
  std::shared_ptr<core::SurfaceStorage> stats_surface;  // for a new request; made here as it may throw (C++)
  if (entry == nullptr && impl_->options.perf_stats) stats_surface = make_iosurface_storage(kStatsSurfaceBytes);
  @autoreleasepool {
    @try {
      if (entry == nullptr) entry = impl_->new_request(*rt, ins, outs, std::move(stats_surface), failure);
      if (entry != nullptr) {
        id model = (__bridge id)impl_->model;
        id request = (__bridge id)entry->request;
        const std::size_t path_index = static_cast<std::size_t>(path);
        const std::string missing =
            impl_->path_available[path_index] ? std::string() : detail::missing_for_path(*rt, path, model);
        impl_->path_available[path_index] = missing.empty();
        if (!missing.empty()) {
          failure = detail::make_failure(Failure::Kind::Unavailable, "ane::Model::evaluate",
                                         std::string("execution path '") + path_name(path) +
                                             "' is unavailable: this framework lacks " + missing);
        } else {
          NSError* error = nil;
          BOOL ok = NO;
          const char* selector = "";
          // Options @{} (§6), or the performance-statistics mask when perf_stats is on (§25.1).
          NSDictionary* const noOptions = entry->stats == nullptr
                                              ? detail::empty_options()
                                              : @{rt->key_perf_stats_mask : @(kPerfStatsMask)};
          switch (path) {
            case ExecutionPath::Standard:
              selector = "evaluateWithQoS:options:request:error:";
              ok = msg<detail::EvaluateFn>()(model, @selector(evaluateWithQoS:options:request:error:), qos,
                                             noOptions, request, &error);
              break;
            case ExecutionPath::RealTime: {
              // §17.2: on the shared _ANEClient; options @{}. begin/endRealTimeTask are not needed.
              selector = "evaluateRealTimeWithModel:options:request:error:";
              id client = msg<detail::IdFn>()((id)rt->client_class, @selector(sharedConnection));
              ok = msg<detail::RealTimeFn>()(client, @selector(evaluateRealTimeWithModel:options:request:error:), model,
                                             noOptions, request, &error);
              break;
            }
            case ExecutionPath::Direct: {
              selector = "doEvaluateDirectWithModel:options:request:qos:error:";
              id client = msg<detail::IdFn>()((id)rt->client_class, @selector(sharedConnection));
              ok = msg<detail::ClientEvaluateFn>()(
                  client, @selector(doEvaluateDirectWithModel:options:request:qos:error:), model, noOptions, request, qos,
                  &error);
              break;
            }
            case ExecutionPath::ProcessRequest: {
              // §17.3 corrected: qIndex 0 and the model's uint64 string_id, as _ANEClient's own call passes them;
              // returnValue is a 4-byte status. An invalid request makes it return NO without an NSError.
              selector = "processRequest:model:qos:qIndex:modelStringID:options:returnValue:error:";
              id program = [model valueForKey:@"program"];
              const uint64_t string_id = msg<detail::Uint64Fn>()(model, @selector(string_id));
              uint32_t status = 0;
              ok = msg<detail::ProcessRequestFn>()(
                  program, @selector(processRequest:model:qos:qIndex:modelStringID:options:returnValue:error:),
                  request, model, qos, uint64_t{0}, string_id, noOptions, &status, &error);
              if (!ok && error == nil) {
                failure = detail::make_failure(
                    Failure::Kind::Framework, "ane::Model::evaluate",
                    "processRequest:... returned NO without an NSError (status " + std::to_string(status) +
                        "): the framework refused the request (_ANERequest validate: surface or index counts, "
                        "perfStats)");
                ok = YES;  // reported above; skip the generic NSError report below
              }
              break;
            }
          }
          if (!ok) {
            failure = detail::failure_from_error(Failure::Kind::Framework, "ane::Model::evaluate", selector, error);
          } else if (entry->stats_surface && !failure) {
            stats_to_read = entry->stats_surface.get();  // read after the pool: lock() may throw (C++)
          }
        }
      }
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::Model::evaluate", e);
    }
  }
  detail::raise_if(failure);
  if (stats_to_read != nullptr) {
    // The hardware time is the second 64-bit word of the statistics buffer, where
    // -[_ANEPerformanceStats initWithRequestPerformanceBuffer:statsBufferSize:] reads it. Reported only when
    // non-zero: no upstream caller ever received one (§18).
    uint64_t words[2] = {0, 0};
    std::memcpy(words, stats_to_read->lock(true), sizeof words);
    stats_to_read->unlock(true);
    if (words[1] > 0) result.hw_execution_ns = words[1];
  }
  return result;
}

void Model::unload(unsigned qos) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) throw std::runtime_error("[ane::Model::unload] the model is closed");
  if (!impl_->loaded) return;
  Failure failure;
  @autoreleasepool {
    @try {
      NSError* error = nil;
      const BOOL ok = msg<detail::UnloadFn>()((__bridge id)impl_->model, @selector(unloadWithQoS:error:), qos, &error);
      if (!ok) {
        failure = detail::failure_from_error(Failure::Kind::Framework, "ane::Model::unload", "unloadWithQoS:error:",
                                             error);
      } else {
        impl_->loaded = false;
        // Upstream rebuilds requests after a reload (maderix test_weight_reload.m, §20.1).
        impl_->drop_requests();
      }
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::Model::unload", e);
    }
  }
  detail::raise_if(failure);
}

void Model::load(unsigned qos) {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) throw std::runtime_error("[ane::Model::load] the model is closed");
  if (impl_->loaded) return;
  Failure failure;
  const detail::Runtime* rt = detail::require_runtime("ane::Model::load", failure);
  detail::raise_if(failure);
  @autoreleasepool {
    @try {
      failure = load_model(*impl_, *rt, qos, "ane::Model::load");
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::Model::load", e);
    }
  }
  detail::raise_if(failure);
}

Binding Model::binding() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  return impl_->binding;
}

std::string Model::model_attributes() const {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) throw std::invalid_argument("[ane::Model::model_attributes] the model is closed");
  Failure failure;
  std::string out;
  @autoreleasepool {
    @try {
      id model = (__bridge id)impl_->model;
      id attributes = [model respondsToSelector:@selector(modelAttributes)]
                          ? msg<detail::IdFn>()(model, @selector(modelAttributes))
                          : nil;
      if (attributes != nil && [NSJSONSerialization isValidJSONObject:attributes]) {
        NSData* json = [NSJSONSerialization dataWithJSONObject:attributes options:0 error:nil];
        if (json != nil) out.assign(static_cast<const char*>([json bytes]), [json length]);
      }
      if (attributes != nil && out.empty()) out = detail::to_std([attributes description]);
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::Model::model_attributes", e);
    }
  }
  detail::raise_if(failure);
  return out;
}

void Model::close() {
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) return;
  detail::raise_if(impl_->release_all());
}

std::unique_ptr<Model> compile(const std::string& mil_text, const std::vector<WeightFile>& weights,
                               const CompileOptions& options) {
  if (mil_text.empty()) throw std::invalid_argument("[ane::compile] mil_text is empty");
  validate_weights(weights);
  Failure failure;
  const detail::Runtime* rt = detail::require_runtime("ane::compile", failure);
  detail::raise_if(failure);
  if (options.perf_stats && (rt->perf_stats_class == Nil || rt->key_perf_stats_mask == nil)) {
    throw UnavailableError("[ane::compile] perf_stats needs _ANEPerformanceStatsIOSurface and "
                           "kANEFPerformanceStatsMaskKey, which this framework lacks");
  }
  auto impl = std::make_unique<Model::Impl>();
  impl->options = options;
  @autoreleasepool {
    @try {
      // The MIL goes in as NSData of UTF-8 text; weights as @{path: @{@"offset": @0, @"data": NSData}}, @{}
      // when there are none (never nil, §6-§7). offset @0 is what every caller but one passes (§7).
      NSData* mil = [NSData dataWithBytes:mil_text.data() length:mil_text.size()];
      NSMutableDictionary* dict = [NSMutableDictionary dictionaryWithCapacity:weights.size()];
      for (const WeightFile& w : weights) {
        [dict setObject:@{@"offset" : @0, @"data" : [NSData dataWithBytes:w.data length:w.size]}
                 forKey:to_ns(w.path)];
      }
      id descriptor = msg<detail::DescriptorFactoryFn>()(
          (id)rt->descriptor_class, @selector(modelWithMILText:weights:optionsPlist:), mil, dict, nil);
      id model = descriptor == nil ? nil
                                   : msg<detail::IdIdFn>()((id)rt->model_class,
                                                          @selector(inMemoryModelWithDescriptor:), descriptor);
      NSString* hex = model == nil ? nil : msg<detail::IdFn>()(model, @selector(hexStringIdentifier));
      if (descriptor == nil) {
        failure = detail::make_failure(Failure::Kind::Compile, "ane::compile",
                                       "+[_ANEInMemoryModelDescriptor modelWithMILText:weights:optionsPlist:] "
                                       "returned nil");
      } else if (model == nil) {
        failure = detail::make_failure(Failure::Kind::Compile, "ane::compile",
                                       "+[_ANEInMemoryModel inMemoryModelWithDescriptor:] returned nil");
      } else if (hex == nil || [hex length] == 0) {
        failure = detail::make_failure(Failure::Kind::Compile, "ane::compile",
                                       "-[_ANEInMemoryModel hexStringIdentifier] returned no identifier");
      } else {
        impl->model = CFBridgingRetain(model);
        impl->hex = detail::to_std(hex);
        NSString* dir = [NSTemporaryDirectory() stringByAppendingPathComponent:hex];
        impl->dir = detail::to_std(dir);
        const std::string lock_error = DirectoryRegistry::instance().acquire(impl->hex, impl->dir);
        if (!lock_error.empty()) {
          failure = detail::make_failure(Failure::Kind::Compile, "ane::compile", lock_error);
        } else {
          impl->dir_acquired = true;
          failure = populate_directory(impl->hex, dir, mil, dict);
        }
        if (!failure) {
          // Every attempt that reaches the framework spends budget, successful or not (§16.2).
          core::note_compile();
          NSError* error = nil;
          if (!msg<detail::QosOptionsErrorFn>()(model, @selector(compileWithQoS:options:error:), options.qos, @{},
                                                &error)) {
            failure = detail::failure_from_error(Failure::Kind::Compile, "ane::compile",
                                                 "compileWithQoS:options:error:", error);
          } else {
            failure = load_model(*impl, *rt, options.qos, "ane::compile");
          }
        }
      }
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::compile", e);
    }
  }
  if (failure) {
    // The directory is removed on compile or load failure (§8.3); release_all also drops the model.
    Failure ignored = impl->release_all();
    (void)ignored;
    detail::raise_failure(failure);
  }
  return std::make_unique<Model>(std::move(impl));
}

}  // namespace anekit::ane
