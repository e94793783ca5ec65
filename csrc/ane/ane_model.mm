// Compile, load, evaluate, unload and free of _ANEInMemoryModel programs (ane-private-api.md §2, §4, §8-§13,
// §17, §18). One source for macOS (ARC) and Linux (MRC against the fake framework):
//   * every entry point runs in @autoreleasepool with @try/@catch (NSException *) (§11.1);
//   * objects that outlive a pool are CFTypeRefs from CFBridgingRetain, released with CFRelease
//     (linux-objc-toolchain.md §7 rule 1); no retain/release/autorelease, no __weak, no __bridge_retained;
//   * NSErrors and NSExceptions become a detail::Failure inside the pool, and the C++ exception is thrown
//     after it, with no C++ try/catch in this file (§7 rules 3-4).
#import <Foundation/Foundation.h>

#include <CoreFoundation/CoreFoundation.h>
#include <IOSurface/IOSurfaceRef.h>

#include <atomic>
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
// directory (ane-private-api.md §8.1).
constexpr const char* kModelPathPrefix = "@model_path/";

// Requests kept per model. A request is built once per list of surfaces and reused (§9, §13); several
// requests per model are normal (one per layer in the dynamic-weights trainer, §13). Each cached request
// keeps its surfaces alive, so the cache is bounded.
constexpr std::size_t kMaxCachedRequests = 8;

// Autoreleased, so it is correct under ARC and MRC alike. Paths never contain NUL (validate_weights).
NSString* to_ns(const std::string& s) { return [NSString stringWithUTF8String:s.c_str()]; }

// Model directories are shared by models with the same hexStringIdentifier (identical MIL and weights), so
// they are reference-counted and the last owner deletes the directory (§8.3). Process-wide because the
// directory is: NSTemporaryDirectory()/<hex>. Deletion happens under the lock so that a concurrent compile
// of the same program never sees its freshly written files removed.
class DirectoryRegistry {
 public:
  static DirectoryRegistry& instance() {
    static DirectoryRegistry registry;
    return registry;
  }

  void acquire(const std::string& hex) {
    std::lock_guard<std::mutex> lock(mutex_);
    ++refs_[hex];
  }

  void release(const std::string& hex, const std::string& dir) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = refs_.find(hex);
    if (it == refs_.end()) return;
    if (--it->second > 0) return;
    refs_.erase(it);
    @autoreleasepool {
      // removeItemAtPath fails only if the directory is already gone; nothing to report then.
      [[NSFileManager defaultManager] removeItemAtPath:to_ns(dir) error:nil];
    }
  }

 private:
  std::mutex mutex_;
  std::map<std::string, int> refs_;
};

struct RequestEntry {
  std::vector<void*> inputs;   // IOSurfaceRefs, each CFRetain'ed by this entry (§9: keep bound surfaces alive)
  std::vector<void*> outputs;
  CFTypeRef request = nullptr;  // _ANERequest
  CFTypeRef stats = nullptr;    // _ANEPerformanceStats when CompileOptions::perf_stats
};

void release_entry(RequestEntry& e) {
  if (e.request != nullptr) CFRelease(e.request);
  if (e.stats != nullptr) CFRelease(e.stats);
  for (void* s : e.inputs) CFRelease(s);
  for (void* s : e.outputs) CFRelease(s);
  e = RequestEntry{};
}

// Writes model.mil and every weight file into the model directory before compile (§8.1): the real
// framework reads them from there and its own saveModelFiles does not write them properly (§8.2).
Failure populate_directory(NSString* dir, NSData* mil, NSDictionary* weights) {
  NSFileManager* fm = [NSFileManager defaultManager];
  NSError* error = nil;
  NSString* weightsDir = [dir stringByAppendingPathComponent:@"weights"];
  if (![fm createDirectoryAtPath:weightsDir withIntermediateDirectories:YES attributes:nil error:&error]) {
    return detail::failure_from_error(Failure::Kind::Runtime, "ane::compile",
                                      "creating the model directory (NSFileManager createDirectoryAtPath:)", error);
  }
  error = nil;
  if (![mil writeToFile:[dir stringByAppendingPathComponent:@"model.mil"] options:NSDataWritingAtomic error:&error]) {
    return detail::failure_from_error(Failure::Kind::Runtime, "ane::compile", "writing model.mil", error);
  }
  for (NSString* key in weights) {
    NSString* rel = [key substringFromIndex:[@"@model_path/" length]];
    NSString* path = [dir stringByAppendingPathComponent:rel];
    error = nil;
    // Nested relative paths get their directories too (as maderix's bridge does, §8.1).
    if (![fm createDirectoryAtPath:[path stringByDeletingLastPathComponent]
            withIntermediateDirectories:YES
                             attributes:nil
                                  error:&error]) {
      return detail::failure_from_error(Failure::Kind::Runtime, "ane::compile",
                                        "creating a weights directory (NSFileManager createDirectoryAtPath:)", error);
    }
    NSData* data = [[weights objectForKey:key] objectForKey:@"data"];
    error = nil;
    if (![data writeToFile:path options:NSDataWritingAtomic error:&error]) {
      return detail::failure_from_error(Failure::Kind::Runtime, "ane::compile",
                                        ("writing weight file " + detail::to_std(path)).c_str(), error);
    }
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
  mutable std::mutex mutex;  // serialises evaluate/load/unload/close (architecture.md §3.1)
  CFTypeRef model = nullptr;  // _ANEInMemoryModel, +1 from CFBridgingRetain
  std::string hex;
  std::string dir;
  bool dir_acquired = false;
  // Atomic so that loaded()/closed() never wait for the mutex: a caller holding Python's GIL must not block
  // on a model whose evaluation is waiting for the GIL (the fake's reference evaluator runs Python).
  std::atomic<bool> loaded{false};
  std::atomic<bool> closed{false};
  CompileOptions options;
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

  // Finds or builds the request for these surfaces. Runs inside the caller's pool and @try.
  RequestEntry* request_for(const detail::Runtime& rt, const std::vector<void*>& ins, const std::vector<void*>& outs,
                            Failure& failure) {
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
    // Indices are 0..n-1 in signature / output-tuple order (§13).
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
        [indices addObject:@(i)];
      }
    }
    id stats = nil;
    if (options.perf_stats && rt.perf_stats_class != Nil &&
        [rt.perf_stats_class respondsToSelector:@selector(statsWithHardwareExecutionNS:)]) {
      stats = msg<detail::StatsFactoryFn>()((id)rt.perf_stats_class, @selector(statsWithHardwareExecutionNS:), 0ULL);
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
    if (requests.size() >= kMaxCachedRequests) {
      release_entry(requests.back());
      requests.pop_back();
    }
    requests.push_front(entry);
    return &requests.front();
  }
};

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
  if (outputs.empty()) {
    throw std::invalid_argument("[ane::Model::evaluate] at least one output surface is required");
  }
  const std::vector<void*> ins = handles_of(inputs, "input");
  const std::vector<void*> outs = handles_of(outputs, "output");
  std::lock_guard<std::mutex> lock(impl_->mutex);
  if (impl_->closed) throw std::runtime_error("[ane::Model::evaluate] the model is closed");
  if (!impl_->loaded) throw std::runtime_error("[ane::Model::evaluate] the model is not loaded (call load())");
  Failure failure;
  EvalResult result;
  const detail::Runtime* rt = detail::require_runtime("ane::Model::evaluate", failure);
  detail::raise_if(failure);
  @autoreleasepool {
    @try {
      RequestEntry* entry = impl_->request_for(*rt, ins, outs, failure);
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
          NSDictionary* const noOptions = detail::empty_options();
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
              // §17.3: qIndex 0, modelStringID = hexStringIdentifier, options @{}. On device it returned YES
              // with returnValue NO while the evaluation happened, so only the BOOL result is checked.
              selector = "processRequest:model:qos:qIndex:modelStringID:options:returnValue:error:";
              id program = [model valueForKey:@"program"];
              NSString* hex = msg<detail::IdFn>()(model, @selector(hexStringIdentifier));
              BOOL returnValue = NO;
              ok = msg<detail::ProcessRequestFn>()(
                  program, @selector(processRequest:model:qos:qIndex:modelStringID:options:returnValue:error:),
                  request, model, qos, 0, hex, noOptions, &returnValue, &error);
              break;
            }
          }
          if (!ok) {
            failure = detail::failure_from_error(Failure::Kind::Framework, "ane::Model::evaluate", selector, error);
          } else if (entry->stats != nullptr) {
            // §18: hwExecutionTime has stayed empty on every device tried; report it only when non-zero.
            id value = [(__bridge id)entry->stats valueForKey:@"hwExecutionTime"];
            if (value != nil && [value respondsToSelector:@selector(unsignedLongLongValue)] &&
                [value unsignedLongLongValue] > 0) {
              result.hw_execution_ns = [value unsignedLongLongValue];
            }
          }
        }
      }
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::Model::evaluate", e);
    }
  }
  detail::raise_if(failure);
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
  @autoreleasepool {
    @try {
      NSError* error = nil;
      const BOOL ok = msg<detail::QosOptionsErrorFn>()((__bridge id)impl_->model, @selector(loadWithQoS:options:error:),
                                                       qos, @{}, &error);
      if (!ok) {
        failure = detail::failure_from_error(Failure::Kind::Compile, "ane::Model::load", "loadWithQoS:options:error:",
                                             error);
      } else {
        impl_->loaded = true;
      }
    } @catch (NSException* e) {
      failure = detail::failure_from_exception("ane::Model::load", e);
    }
  }
  detail::raise_if(failure);
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
        DirectoryRegistry::instance().acquire(impl->hex);
        impl->dir_acquired = true;
        failure = populate_directory(dir, mil, dict);
        if (!failure) {
          // Every attempt that reaches the framework spends budget, successful or not (§16.2).
          core::note_compile();
          NSError* error = nil;
          if (!msg<detail::QosOptionsErrorFn>()(model, @selector(compileWithQoS:options:error:), options.qos, @{},
                                                &error)) {
            failure = detail::failure_from_error(Failure::Kind::Compile, "ane::compile",
                                                 "compileWithQoS:options:error:", error);
          } else {
            error = nil;
            if (!msg<detail::QosOptionsErrorFn>()(model, @selector(loadWithQoS:options:error:), options.qos, @{},
                                                  &error)) {
              failure = detail::failure_from_error(Failure::Kind::Compile, "ane::compile",
                                                   "loadWithQoS:options:error:", error);
            } else {
              impl->loaded = true;
            }
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
