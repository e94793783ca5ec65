// Private Objective-C++ helpers of the backend (.mm files only; never included from .cpp).
//
// Messages to the private classes go through objc_msgSend cast to the exact function type of each selector,
// "return <- (self, _cmd, arguments)" as in docs/internals/ane-private-api.md §4.1, the upstream style (§3.3). On Linux the
// compat layer supplies objc_msgSend (docs/internals/linux-objc-toolchain.md §5.2). The same source is compiled with ARC on
// macOS and MRC on Linux, so these helpers hold no object references; long-lived objects are CFTypeRefs from
// CFBridgingRetain (§7 rule 1).
#pragma once

#import <Foundation/Foundation.h>
#import <objc/message.h>

#include <CoreFoundation/CoreFoundation.h>
#include <IOSurface/IOSurfaceRef.h>

#include <string>

#include "ane.h"
#include "ane_failure.h"
#include "../fake_ane/fake_ane_api.h"

namespace anekit::ane::detail {

/** objc_msgSend cast to the exact type of one selector. */
template <typename Fn>
inline Fn msg() {
  return reinterpret_cast<Fn>(objc_msgSend);
}

// Function types of the selectors used (docs/internals/ane-private-api.md §4.1, §17, §18).
using IdFn = id (*)(id, SEL);
using IdIdFn = id (*)(id, SEL, id);
using DescriptorFactoryFn = id (*)(id, SEL, NSData*, NSDictionary*, id);
using SurfaceObjectFactoryFn = id (*)(id, SEL, IOSurfaceRef);
using RequestFactoryFn = id (*)(id, SEL, NSArray*, NSArray*, NSArray*, NSArray*, id, id, NSNumber*);
// +[_ANEPerformanceStatsIOSurface objectWithIOSurface:statType:] (_ANEPerformanceStatsIOSurface.mm).
using StatsSurfaceFactoryFn = id (*)(id, SEL, id, int64_t);
using Uint64Fn = uint64_t (*)(id, SEL);
using QosOptionsErrorFn = BOOL (*)(id, SEL, unsigned int, NSDictionary*, NSError**);
using EvaluateFn = BOOL (*)(id, SEL, unsigned int, NSDictionary*, id, NSError**);
using UnloadFn = BOOL (*)(id, SEL, unsigned int, NSError**);
using StateFn = NSUInteger (*)(id, SEL);
using RealTimeFn = BOOL (*)(id, SEL, id, NSDictionary*, id, NSError**);
using ClientEvaluateFn = BOOL (*)(id, SEL, id, NSDictionary*, id, unsigned int, NSError**);
// The decompiled signature (_ANEProgramForEvaluation.mm, and _ANEClient's own call): uint64 qIndex, the model's
// uint64 string_id, a 4-byte status through returnValue (§17.3 corrected, §25.1).
using ProcessRequestFn = BOOL (*)(id, SEL, id, id, unsigned int, uint64_t, uint64_t, NSDictionary*, uint32_t*,
                                  NSError**);
using ConfigureFn = BOOL (*)(id, SEL, NSDictionary*);
using VoidFn = void (*)(id, SEL);

/** What initialize() resolved. Classes are never unloaded (§3.1), so holding them unretained is safe. */
struct Runtime {
  std::string path;
  void* handle = nullptr;
  __unsafe_unretained Class descriptor_class = Nil;      // _ANEInMemoryModelDescriptor
  __unsafe_unretained Class model_class = Nil;           // _ANEInMemoryModel
  __unsafe_unretained Class request_class = Nil;         // _ANERequest
  __unsafe_unretained Class surface_object_class = Nil;  // _ANEIOSurfaceObject
  __unsafe_unretained Class client_class = Nil;          // _ANEClient (optional, §17)
  __unsafe_unretained Class perf_stats_class = Nil;      // _ANEPerformanceStatsIOSurface (optional, §25.1)
  // Exported NSString keys, found with dlsym (their values are private; nil when absent): modelAttributes
  // (§25.1) and the evaluation option that asks for performance statistics.
  __unsafe_unretained NSString* key_model_description = nil;     // kANEFModelDescriptionKey
  __unsafe_unretained NSString* key_input_symbols = nil;         // kANEFModelInputSymbolsArrayKey
  __unsafe_unretained NSString* key_output_symbols = nil;        // kANEFModelOutputSymbolsArrayKey
  __unsafe_unretained NSString* key_perf_stats_mask = nil;       // kANEFPerformanceStatsMaskKey
  bool is_fake = false;
  fake_ane_set_evaluator_fn set_evaluator = nullptr;     // the fake's hooks, found with dlsym
  fake_ane_set_compile_checker_fn set_compile_checker = nullptr;
};

/** The runtime after a successful initialize(), or nullptr. */
const Runtime* loaded_runtime() noexcept;

/** Like loaded_runtime() but records an Unavailable failure naming `where` when not initialised. */
const Runtime* require_runtime(const char* where, Failure& failure);

std::string to_std(NSString* s);

/**
 * The empty options dictionary passed to every evaluation (§6: options @{}). One immutable instance for the
 * process: a `@{}` literal allocates a new dictionary per call on GNUstep.
 */
NSDictionary* empty_options();

/**
 * What is missing for `path` ("" when usable): a class or a selector, spelled like "-[_ANEClient
 * evaluateRealTimeWithModel:options:request:error:]". `model` (may be nil) is the _ANEInMemoryModel whose
 * `program` the process_request path needs.
 */
std::string missing_for_path(const Runtime& runtime, ExecutionPath path, id model);

/** Failure of kind `kind` from an NSError returned by `selector` (nil error tolerated). */
Failure failure_from_error(Failure::Kind kind, const char* where, const char* selector, NSError* error);
/** Failure (kind Framework) from an NSException caught in `where`. */
Failure failure_from_exception(const char* where, NSException* exception);
/** Failure of `kind` with a plain message; "[<where>] " is prepended. */
Failure make_failure(Failure::Kind kind, const char* where, const std::string& message);

}  // namespace anekit::ane::detail
