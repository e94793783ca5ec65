// Loading AppleNeuralEngine.framework and resolving its private classes (docs/internals/ane-private-api.md §3), fake
// detection and the fake framework's test hooks (docs/internals/linux-objc-toolchain.md §6), and NSError/NSException
// conversion (docs/internals/architecture.md §9.1). One source for macOS (ARC) and Linux (MRC, fake framework): no #ifdef,
// no retain/release, no C++ try/catch (docs/internals/linux-objc-toolchain.md §7).
#import <Foundation/Foundation.h>

#include <dlfcn.h>

#include <atomic>
#include <string>

#include "ane.h"
#include "ane_internal.h"
#include "ane_objc.h"

namespace anekit::ane::detail {

namespace {

// Published once by load_framework() and never freed: the framework is never dlclose'd (§3.1).
std::atomic<const Runtime*> g_runtime{nullptr};


}  // namespace

std::string to_std(NSString* s) {
  if (s == nil) return std::string();
  const char* utf8 = [s UTF8String];
  return utf8 != nullptr ? std::string(utf8) : std::string();
}

const Runtime* loaded_runtime() noexcept { return g_runtime.load(std::memory_order_acquire); }

Failure make_failure(Failure::Kind kind, const char* where, const std::string& message) {
  Failure f;
  f.kind = kind;
  f.message = std::string("[") + where + "] " + message;
  return f;
}

const Runtime* require_runtime(const char* where, Failure& failure) {
  const Runtime* rt = loaded_runtime();
  if (rt == nullptr) {
    std::string why;
    is_available(&why);
    failure = make_failure(Failure::Kind::Unavailable, where, "the ANE backend is unavailable: " + why);
  }
  return rt;
}

Failure failure_from_error(Failure::Kind kind, const char* where, const char* selector, NSError* error) {
  Failure f;
  f.kind = kind;
  if (error == nil) {
    // Returned NO without an NSError: still a failure (docs/internals/ane-private-api.md §11.1: check every BOOL).
    f.domain = "";
    f.code = 0;
    f.description = "no NSError was returned";
  } else {
    f.domain = to_std([error domain]);
    f.code = static_cast<long long>([error code]);
    f.description = to_std([error localizedDescription]);
  }
  f.message = std::string("[") + where + "] " + selector + " failed: " + f.description + " (domain " +
              (f.domain.empty() ? std::string("none") : f.domain) + ", code " + std::to_string(f.code) + ")";
  return f;
}

Failure failure_from_exception(const char* where, NSException* exception) {
  Failure f;
  f.kind = Failure::Kind::Framework;
  f.domain = to_std([exception name]);
  f.code = 0;
  f.description = to_std([exception reason]);
  f.message = std::string("[") + where + "] the framework raised " + f.domain + ": " + f.description;
  return f;
}

NSDictionary* empty_options() {
  // Created once and never released (a strong static under ARC, +1 forever under MRC).
  static NSDictionary* const options = [[NSDictionary alloc] init];
  return options;
}

std::string missing_for_path(const Runtime& rt, ExecutionPath path, id model) {
  switch (path) {
    case ExecutionPath::Standard:
      return [rt.model_class instancesRespondToSelector:@selector(evaluateWithQoS:options:request:error:)]
                 ? ""
                 : "-[_ANEInMemoryModel evaluateWithQoS:options:request:error:]";
    case ExecutionPath::RealTime:
    case ExecutionPath::Direct: {
      if (rt.client_class == Nil) return "class _ANEClient";
      if (![rt.client_class respondsToSelector:@selector(sharedConnection)]) return "+[_ANEClient sharedConnection]";
      id client = msg<IdFn>()((id)rt.client_class, @selector(sharedConnection));
      if (client == nil) return "a connection from +[_ANEClient sharedConnection] (it returned nil)";
      if (path == ExecutionPath::RealTime) {
        return [client respondsToSelector:@selector(evaluateRealTimeWithModel:options:request:error:)]
                   ? ""
                   : "-[_ANEClient evaluateRealTimeWithModel:options:request:error:]";
      }
      return [client respondsToSelector:@selector(doEvaluateDirectWithModel:options:request:qos:error:)]
                 ? ""
                 : "-[_ANEClient doEvaluateDirectWithModel:options:request:qos:error:]";
    }
    case ExecutionPath::ProcessRequest: {
      SEL process = @selector(processRequest:model:qos:qIndex:modelStringID:options:returnValue:error:);
      if (model == nil) {
        Class programClass = NSClassFromString(@"_ANEProgramForEvaluation");
        if (![rt.model_class instancesRespondToSelector:@selector(program)]) return "-[_ANEInMemoryModel program]";
        if (![rt.model_class instancesRespondToSelector:@selector(string_id)]) {
          return "-[_ANEInMemoryModel string_id]";
        }
        if (programClass == Nil) return "class _ANEProgramForEvaluation";
        return [programClass instancesRespondToSelector:process]
                   ? ""
                   : "-[_ANEProgramForEvaluation processRequest:model:qos:qIndex:modelStringID:options:"
                     "returnValue:error:]";
      }
      if (![model respondsToSelector:@selector(program)]) return "-[_ANEInMemoryModel program]";
      if (![model respondsToSelector:@selector(string_id)]) return "-[_ANEInMemoryModel string_id]";
      id program = [model valueForKey:@"program"];
      if (program == nil) return "the model's program (valueForKey:@\"program\" returned nil; is it loaded?)";
      return [program respondsToSelector:process]
                 ? ""
                 : "-[_ANEProgramForEvaluation processRequest:model:qos:qIndex:modelStringID:options:"
                   "returnValue:error:]";
    }
  }
  return "an unknown execution path";
}

// The NSString constant the framework exports as `name` (an `NSString *const` global), or nil. Looked up in the
// framework's image and its dependencies (the keys may live in a re-exported framework), then process-wide.
NSString* exported_key(void* handle, const char* name) {
  void* symbol = dlsym(handle, name);
  if (symbol == nullptr) symbol = dlsym(RTLD_DEFAULT, name);
  if (symbol == nullptr) return nil;
  NSString* value = *static_cast<NSString* __unsafe_unretained const*>(symbol);
  return [value isKindOfClass:[NSString class]] ? value : nil;
}

bool load_framework(const std::string& path, std::string& reason) {
  bool ok = false;
  @autoreleasepool {
    @try {
      // RTLD_NOW as every upstream caller (§3.1); never dlclose'd.
      void* handle = dlopen(path.c_str(), RTLD_NOW);
      if (handle == nullptr) {
        const char* err = dlerror();
        reason = "dlopen('" + path + "') failed: " + (err != nullptr ? err : "unknown error") +
                 " (is this macOS with AppleNeuralEngine.framework, or the fake framework's path?)";
      } else {
        // Each required class is checked and reported by name (§3.2, §3.4).
        Runtime* rt = new Runtime();
        rt->path = path;
        rt->handle = handle;
        rt->descriptor_class = NSClassFromString(@"_ANEInMemoryModelDescriptor");
        rt->model_class = NSClassFromString(@"_ANEInMemoryModel");
        rt->request_class = NSClassFromString(@"_ANERequest");
        rt->surface_object_class = NSClassFromString(@"_ANEIOSurfaceObject");
        rt->client_class = NSClassFromString(@"_ANEClient");
        // Only _ANEPerformanceStatsIOSurface answers -statType, which _ANERequest validate sends to every
        // perfStats element; a plain _ANEPerformanceStats would raise "unrecognized selector" (§25.1).
        rt->perf_stats_class = NSClassFromString(@"_ANEPerformanceStatsIOSurface");
        rt->key_model_description = exported_key(handle, "kANEFModelDescriptionKey");
        rt->key_input_symbols = exported_key(handle, "kANEFModelInputSymbolsArrayKey");
        rt->key_output_symbols = exported_key(handle, "kANEFModelOutputSymbolsArrayKey");
        rt->key_perf_stats_mask = exported_key(handle, "kANEFPerformanceStatsMaskKey");
        std::string missing;
        if (rt->descriptor_class == Nil) missing += " _ANEInMemoryModelDescriptor";
        if (rt->model_class == Nil) missing += " _ANEInMemoryModel";
        if (rt->request_class == Nil) missing += " _ANERequest";
        if (rt->surface_object_class == Nil) missing += " _ANEIOSurfaceObject";
        if (!missing.empty()) {
          reason = "'" + path + "' loaded but the private class(es)" + missing +
                   " did not resolve (macOS version mismatch?)";
          delete rt;  // the handle stays open: dlclose is never called (§3.1)
        } else {
          rt->is_fake = [rt->model_class respondsToSelector:@selector(fakeANEStats)];
          if (rt->is_fake) {
            rt->set_evaluator =
                reinterpret_cast<fake_ane_set_evaluator_fn>(dlsym(handle, FAKE_ANE_SET_EVALUATOR_SYMBOL));
            rt->set_compile_checker = reinterpret_cast<fake_ane_set_compile_checker_fn>(
                dlsym(handle, FAKE_ANE_SET_COMPILE_CHECKER_SYMBOL));
          }
          g_runtime.store(rt, std::memory_order_release);
          ok = true;
        }
      }
    } @catch (NSException* e) {
      reason = "loading '" + path + "' raised " + to_std([e name]) + ": " + to_std([e reason]);
    }
  }
  return ok;
}

void describe_runtime(RuntimeInfo& info) {
  Failure failure;
  @autoreleasepool {
    @try {
      info.model_root = to_std(NSTemporaryDirectory());
      const Runtime* rt = loaded_runtime();
      if (rt != nullptr) {
        info.is_fake = rt->is_fake;
        for (ExecutionPath p : {ExecutionPath::Standard, ExecutionPath::RealTime, ExecutionPath::ProcessRequest,
                                ExecutionPath::Direct}) {
          if (missing_for_path(*rt, p, nil).empty()) info.execution_paths.emplace_back(path_name(p));
        }
        if (rt->is_fake) {
          NSDictionary* stats = (NSDictionary*)msg<IdFn>()((id)rt->model_class, @selector(fakeANEStats));
          for (NSString* key in stats) {
            info.fake_stats[to_std(key)] = [[stats objectForKey:key] longLongValue];
          }
        }
      }
    } @catch (NSException* e) {
      failure = failure_from_exception("ane::runtime_info", e);
    }
  }
  raise_if(failure);
}

}  // namespace anekit::ane::detail

namespace anekit::ane {

using detail::Failure;

namespace {

const detail::Runtime* require_fake(const char* where, Failure& failure) {
  const detail::Runtime* rt = detail::require_runtime(where, failure);
  if (rt != nullptr && !rt->is_fake) {
    failure = detail::make_failure(Failure::Kind::Unavailable, where,
                                   "the loaded framework '" + rt->path +
                                       "' is not the fake framework (it does not answer +fakeANEStats)");
    return nullptr;
  }
  return rt;
}

NSArray* to_ns_array(const std::set<std::string>& items) {
  NSMutableArray* out = [NSMutableArray arrayWithCapacity:items.size()];
  for (const std::string& s : items) [out addObject:[NSString stringWithUTF8String:s.c_str()]];
  return out;
}

}  // namespace

void fake_configure(const FakeConfig& config) {
  Failure failure;
  @autoreleasepool {
    const detail::Runtime* rt = require_fake("ane::fake_configure", failure);
    if (rt != nullptr) {
      @try {
        NSDictionary* dict = @{
          @"mode" : [NSString stringWithUTF8String:config.mode.c_str()],
          @"compileBudget" : @(config.compile_budget),
          @"budgetEnd" : [NSString stringWithUTF8String:config.budget_end.c_str()],
          @"binding" : [NSString stringWithUTF8String:config.binding.c_str()],
          @"surfaces" : [NSString stringWithUTF8String:config.surfaces.c_str()],
          @"minSurfaceBytes" : @(config.min_surface_bytes),
          @"modelAttributes" : @(config.model_attributes),
          @"faults" : to_ns_array(config.faults),
          @"disabledSelectors" : to_ns_array(config.disabled_selectors),
          @"perfStatsNS" : @(config.perf_stats_ns),
        };
        detail::msg<detail::ConfigureFn>()((id)rt->model_class, @selector(fakeANEConfigure:), dict);
      } @catch (NSException* e) {
        // The fake rejects bad values with NSInvalidArgumentException: a bad argument from the caller.
        failure = detail::failure_from_exception("ane::fake_configure", e);
        failure.kind = Failure::Kind::InvalidArgument;
      }
    }
  }
  detail::raise_if(failure);
}

void fake_reset() {
  Failure failure;
  @autoreleasepool {
    const detail::Runtime* rt = require_fake("ane::fake_reset", failure);
    if (rt != nullptr) {
      @try {
        detail::msg<detail::VoidFn>()((id)rt->model_class, @selector(fakeANEReset));
      } @catch (NSException* e) {
        failure = detail::failure_from_exception("ane::fake_reset", e);
      }
    }
  }
  detail::raise_if(failure);
}

std::map<std::string, long long> fake_stats() {
  Failure failure;
  std::map<std::string, long long> out;
  @autoreleasepool {
    const detail::Runtime* rt = require_fake("ane::fake_stats", failure);
    if (rt != nullptr) {
      @try {
        NSDictionary* stats = (NSDictionary*)detail::msg<detail::IdFn>()((id)rt->model_class, @selector(fakeANEStats));
        for (NSString* key in stats) out[detail::to_std(key)] = [[stats objectForKey:key] longLongValue];
      } @catch (NSException* e) {
        failure = detail::failure_from_exception("ane::fake_stats", e);
      }
    }
  }
  detail::raise_if(failure);
  return out;
}

void set_fake_evaluator(fake_ane_evaluator_fn fn, void* context) {
  Failure failure;
  const detail::Runtime* rt = require_fake("ane::set_fake_evaluator", failure);
  if (rt != nullptr && rt->set_evaluator == nullptr) {
    failure = detail::make_failure(Failure::Kind::Unavailable, "ane::set_fake_evaluator",
                                   "the fake framework does not export " FAKE_ANE_SET_EVALUATOR_SYMBOL);
  }
  detail::raise_if(failure);
  rt->set_evaluator(fn, context);
}

void set_fake_compile_checker(fake_ane_compile_checker_fn fn, void* context) {
  Failure failure;
  const detail::Runtime* rt = require_fake("ane::set_fake_compile_checker", failure);
  if (rt != nullptr && rt->set_compile_checker == nullptr) {
    failure = detail::make_failure(Failure::Kind::Unavailable, "ane::set_fake_compile_checker",
                                   "the fake framework does not export " FAKE_ANE_SET_COMPILE_CHECKER_SYMBOL);
  }
  detail::raise_if(failure);
  rt->set_compile_checker(fn, context);
}

}  // namespace anekit::ane
