// Fake AppleNeuralEngine private framework for Linux CI (never built on macOS).
//
// Defines the private classes and selectors that anekit's backend uses with the signatures of the decompiled
// framework (EthanArbuckle/iPhone18-3_26.1_23B85_Restore, AppleNeuralEngine.framework; docs/internals/ane-private-api.md §25)
// and enforces their contract loudly, each check citing the class and method it models, so that a backend
// that drifts from it fails CI (docs/internals/linux-objc-toolchain.md §6):
//   * the MIL is NSData of UTF-8 text starting with `program(` whose `func main` signature parses;
//   * the weights dictionary is @{ "@model_path/<rel>": @{ @"offset": NSNumber, @"data": NSData } } and is
//     never nil (_ANEInMemoryModelDescriptor returns nil for nil weights, §25.1); options are dictionaries;
//   * before compile, NSTemporaryDirectory()/<hexStringIdentifier>/model.mil and every weight file exist with
//     the same bytes (§8);
//   * requests pass -[_ANERequest validate] (_ANERequest.mm); request index k names symbol k of the model's
//     symbol table, in declaration or sorted-name order ("binding" mode, captured per model at compile);
//     surfaces hold at least their tensor (page-rounded allocations accepted), one size per side under
//     "uniform", at least minSurfaceBytes; tensors are read packed from offset 0 (Orion #14);
//   * processRequest:... takes (uint64 qIndex, uint64 string_id, uint32_t *returnValue) and returns NO
//     without an NSError for an invalid request (_ANEProgramForEvaluation.mm);
//   * after load a model has a non-zero programHandle and answers modelAttributes (_ANEInMemoryModel, §25.1);
//   * weights are baked at compile time (§20.1): rewriting files later changes nothing;
//   * the compile budget ends "loud" (NSError), "silent" (zeros) or "crash" (SIGSEGV, libane).
// Evaluation: mode "echo" copies the input bound to symbol k to the output bound to symbol k (zero-filling the
// rest); mode "reference" hands the program and the surfaces to an evaluator registered through
// fake_ane_set_evaluator() (fake_ane_api.h). Both are captured per model at compile time.
// Test hooks (not Apple API) are class methods of _ANEInMemoryModel: +fakeANEStats, +fakeANEConfigure:,
// +fakeANEReset. The backend detects the fake with respondsToSelector:@selector(fakeANEStats).
//
// Linux-only Objective-C for GCC's runtime, compiled without ARC: ivars in @interface, hand-written
// accessors (docs/internals/linux-objc-toolchain.md §7 rule 11). No C++ try/catch (§1 item 3).
#import <Foundation/Foundation.h>

#include "fake_ane_api.h"
#include "mil_signature.h"

#include <algorithm>
#include <csignal>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

using anekit::fake_ane::MainSignature;
using anekit::fake_ane::TensorSpec;

namespace {

// Error domain of the real framework's NSErrors (docs/internals/ane-private-api.md §11.2).
NSString *const kDomain = @"com.apple.appleneuralengine";

// Error codes of the fake. The real framework's codes are mostly undocumented (§11.2 lists 8 and 15); the
// fake uses negative codes for its own contract checks so tests can tell them apart.
enum FakeCode : NSInteger {
    kCompileFailed = -1,     // "_ANECompiler : ANECCompile() FAILED" (§11.2)
    kNotCompiled = -2,       // load before compile, or an injected load failure
    kNotLoaded = -3,         // evaluate before load
    kBadRequest = -4,        // not an _ANERequest
    kDirectoryMissing = -5,  // the model directory quirk was not honoured (§8)
    kBadIndices = -6,        // index arrays are not 0..n-1 (§13)
    kIOCountMismatch = -7,   // surface count differs from the signature
    kSurfaceSize = -8,       // surface allocation size differs from the declared byte size (§12.1)
    kEvaluatorFailed = -10,  // reference evaluator missing or failed
    kUnloadFailed = -11,     // injected unload failure
    kInferenceError = 8,     // "Program Inference error" (§11.2), used for injected evaluate faults
};

// Model states reported by -state. dev-erik reports 3 for a loaded in-memory model (§4.1); the others
// are the fake's own convention.
enum : NSUInteger { kStateCreated = 1, kStateCompiled = 2, kStateLoaded = 3 };

// ---- process-wide fake state ----------------------------------------------------------------------
// The real framework and daemon are process-wide (e.g. the compile budget, §16), so the fake's
// configuration and counters are too.
// How the fake ends the compile budget (fake_ane(budget_end=...)): the three endings reported for real machines.
enum class BudgetEnd {
    kLoud,    // compileWithQoS: fails with an NSError (docs/internals/ane-private-api.md §16)
    kSilent,  // compile and load "succeed", evaluations write zeros (§16.1)
    kCrash,   // the process dies with SIGSEGV at the limit, as libane reports (§25.3 item 4)
};

struct FakeConfig {
    bool reference_mode = false;          // "echo" (false) or "reference" (true)
    long long compile_budget = -1;        // successful compiles allowed per process; -1 = unlimited
    BudgetEnd budget_end = BudgetEnd::kLoud;
    // Binding rule, captured by each model at compile time (§25.2 rows 3/13, Orion: "alphabetical order of
    // their MIL names"): request symbol index k names the k-th input (output) in declaration order, or in
    // bytewise-sorted name order.
    bool alphabetical_binding = false;
    // Surface rule, captured at compile time: "exact" accepts any surface at least as large as its tensor
    // (page-rounded IOSurface allocations, §25.1); "uniform" also requires every input surface to share one
    // allocation size and every output surface one (Orion #2/#12, eval status 0x1d).
    bool uniform_surfaces = false;
    unsigned long long min_surface_bytes = 0;  // smaller surfaces fail at evaluate (Orion #4: ~49,152 bytes)
    bool model_attributes = true;  // loaded models answer -modelAttributes with their symbol tables (§25.1)
    // std::less<> lets fault_active/selector_disabled look names up without building a std::string per call.
    std::set<std::string, std::less<>> faults;  // injected failures, see kKnownFaults
    std::set<std::string, std::less<>> disabled_selectors;  // selectors the fake pretends not to implement
    unsigned long long perf_stats_ns = 0;  // >0: statType-2 stats surfaces receive this hardware time
};

// "load_once": each model's first loadWithQoS: fails and a retry succeeds (upstream bridges retry once);
// "load_unloaded": loadWithQoS: returns YES but nothing is loaded (programHandle 0, state not "loaded").
const std::set<std::string> kKnownFaults = {
    "compile",       "load",          "evaluate",          "unload",        "compile_exception",
    "load_exception", "evaluate_exception", "load_once", "load_unloaded",
};

std::mutex g_config_mutex;
FakeConfig g_config;

FakeConfig config_snapshot() {
    std::lock_guard<std::mutex> lock(g_config_mutex);
    return g_config;
}

// What an evaluation needs of the configuration: copying the whole FakeConfig (two std::sets) per evaluation
// would count as host overhead in bench_dispatch.
struct EvalConfig {
    unsigned long long perf_stats_ns = 0;
};

EvalConfig eval_config() {
    std::lock_guard<std::mutex> lock(g_config_mutex);
    return EvalConfig{g_config.perf_stats_ns};
}

bool fault_active(const char *name) {
    std::lock_guard<std::mutex> lock(g_config_mutex);
    return g_config.faults.count(std::string_view(name)) != 0;
}

bool selector_disabled(SEL sel) {
    if (sel == nullptr) {
        return false;
    }
    std::lock_guard<std::mutex> lock(g_config_mutex);
    return g_config.disabled_selectors.count(std::string_view(sel_getName(sel))) != 0;
}

struct Counters {
    std::atomic<long long> compile_attempts{0};
    std::atomic<long long> compiles{0};
    std::atomic<long long> budget_used{0};  // not reset by unload or release, only by +fakeANEReset (§16)
    std::atomic<long long> loads{0};
    std::atomic<long long> unloads{0};
    std::atomic<long long> evals{0};
    std::atomic<long long> evals_standard{0};
    std::atomic<long long> evals_realtime{0};
    std::atomic<long long> evals_process_request{0};
    std::atomic<long long> evals_direct{0};
    std::atomic<long long> live_models{0};
    std::atomic<long long> live_descriptors{0};
    std::atomic<long long> live_requests{0};
    std::atomic<long long> live_surface_objects{0};
    std::atomic<long long> live_programs{0};
};
Counters g_counters;

// Registered reference evaluator and compile checker; the shared lock is held while they run
// (fake_ane_api.h).
std::shared_mutex g_evaluator_mutex;
fake_ane_evaluator_fn g_evaluator = nullptr;
void *g_evaluator_context = nullptr;
std::shared_mutex g_checker_mutex;
fake_ane_compile_checker_fn g_checker = nullptr;
void *g_checker_context = nullptr;

// The weights dictionary as C structs, sorted by key. `keys` owns the key strings.
void collect_weights(NSDictionary *dict, std::vector<std::string> &keys, std::vector<fake_ane_weight> &weights) {
    NSArray *sorted = [[dict allKeys] sortedArrayUsingSelector:@selector(compare:)];
    keys.clear();
    weights.clear();
    keys.reserve([sorted count]);
    for (NSString *key in sorted) {
        keys.emplace_back([key UTF8String]);
    }
    for (NSUInteger i = 0; i < [sorted count]; ++i) {
        NSDictionary *entry = [dict objectForKey:[sorted objectAtIndex:i]];
        NSData *data = [entry objectForKey:@"data"];
        weights.push_back(fake_ane_weight{keys[i].c_str(), [data bytes], (size_t)[data length],
                                          (uint64_t)[[entry objectForKey:@"offset"] unsignedLongLongValue]});
    }
}

NSError *make_error(NSInteger code, NSString *description) {
    return [NSError errorWithDomain:kDomain
                               code:code
                           userInfo:@{NSLocalizedDescriptionKey : description}];
}

// Sets *error (when the caller passed one) and returns NO, the framework's failure convention (§11.1).
BOOL fail(NSError **error, NSInteger code, NSString *description) {
    if (error != nullptr) {
        *error = make_error(code, description);
    }
    return NO;
}

void contract_violation(NSString *format, ...) NS_FORMAT_FUNCTION(1, 2);
void contract_violation(NSString *format, ...) {
    va_list args;
    va_start(args, format);
    NSString *message = [[[NSString alloc] initWithFormat:format arguments:args] autorelease];
    va_end(args);
    [NSException raise:NSInvalidArgumentException format:@"FakeANE contract violation: %@", message];
}

uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    // 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
    const auto *p = static_cast<const unsigned char *>(data);
    for (size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

bool bytes_contain(NSData *data, const char *needle) {
    const std::string_view hay(static_cast<const char *>([data bytes]), [data length]);
    return hay.find(needle) != std::string_view::npos;
}

NSString *const kModelPathPrefix = @"@model_path/";  // 12 characters (docs/internals/ane-private-api.md §8.1)

// kIOSurfaceLockReadOnly (IOSurfaceRef.h); the fake does not include IOSurface headers because it reaches
// surfaces by message only (docs/internals/linux-objc-toolchain.md §5.5).
constexpr uint32_t kFakeLockReadOnly = 1;

}  // namespace

// The framework's exported NSString keys of modelAttributes (names from the decompiled framework, §25.1; their
// string values are private, so the backend looks the symbols up with dlsym rather than spelling them).
#define FAKE_ANE_EXPORT_KEY(name) \
    extern "C" __attribute__((visibility("default"))) NSString *const name = @#name
FAKE_ANE_EXPORT_KEY(kANEFModelDescriptionKey);
FAKE_ANE_EXPORT_KEY(kANEFModelProceduresArrayKey);
FAKE_ANE_EXPORT_KEY(kANEFModelProcedureIDKey);
FAKE_ANE_EXPORT_KEY(kANEFModelProcedureNameToIDMapKey);
FAKE_ANE_EXPORT_KEY(kANEFModelInputSymbolsArrayKey);
FAKE_ANE_EXPORT_KEY(kANEFModelOutputSymbolsArrayKey);
FAKE_ANE_EXPORT_KEY(kANEFModelInputSymbolIndexArrayKey);
FAKE_ANE_EXPORT_KEY(kANEFModelOutputSymbolIndexArrayKey);
FAKE_ANE_EXPORT_KEY(kANEFPerformanceStatsMaskKey);
#undef FAKE_ANE_EXPORT_KEY

// The IOSurface shim's methods (csrc/compat/src/iosurface_shim.mm, named as on macOS's IOSurface class).
@protocol FakeANESurface
- (void *)baseAddress;
- (size_t)allocationSize;
- (int)lockWithOptions:(uint32_t)options seed:(uint32_t *)seed;
- (int)unlockWithOptions:(uint32_t)options seed:(uint32_t *)seed;
@end

@protocol FakeANESurfaceClass
+ (long)anekitLiveCount;
@end

// ====================================================================================================
// _ANEPerformanceStats (§18): the real one never reports hardware time; the fake does when configured.
// ====================================================================================================
@interface _ANEPerformanceStats : NSObject {
    unsigned long long _hwExecutionTime;
}
+ (id)statsWithHardwareExecutionNS:(unsigned long long)ns;
- (unsigned long long)hwExecutionTime;
- (void)setHwExecutionTime:(unsigned long long)ns;
@end

@implementation _ANEPerformanceStats
+ (id)statsWithHardwareExecutionNS:(unsigned long long)ns {
    _ANEPerformanceStats *s = [[[self alloc] init] autorelease];
    [s setHwExecutionTime:ns];
    return s;
}
- (unsigned long long)hwExecutionTime { return _hwExecutionTime; }
- (void)setHwExecutionTime:(unsigned long long)ns { _hwExecutionTime = ns; }
// No -statType: _ANEPerformanceStats.mm declares none, so _ANERequest validate sending it to one of these
// raises "unrecognized selector", as on the real framework (§25.1).
@end

// ====================================================================================================
// _ANEPerformanceStatsIOSurface (_ANEPerformanceStatsIOSurface.mm): a stats surface and its statType, the
// only perfStats element type with -statType.
// ====================================================================================================
@interface _ANEPerformanceStatsIOSurface : NSObject {
    id _stats;
    int64_t _statType;
}
+ (id)objectWithIOSurface:(id)surface statType:(int64_t)type;
- (id)stats;
- (int64_t)statType;
@end

@implementation _ANEPerformanceStatsIOSurface
+ (id)objectWithIOSurface:(id)surface statType:(int64_t)type {
    _ANEPerformanceStatsIOSurface *s = [[[self alloc] init] autorelease];
    s->_stats = [surface retain];
    s->_statType = type;
    return s;
}
- (void)dealloc {
    [_stats release];
    [super dealloc];
}
- (id)stats { return _stats; }
- (int64_t)statType { return _statType; }
@end

// ====================================================================================================
// _ANEIOSurfaceObject: a thin wrapper that retains the IOSurface (on Linux an Objective-C object).
// ====================================================================================================
@interface _ANEIOSurfaceObject : NSObject {
    id _surface;
}
+ (id)objectWithIOSurface:(void *)surface;
- (id)initWithSurface:(id)surface;
- (void *)ioSurface;
@end

@implementation _ANEIOSurfaceObject
+ (id)objectWithIOSurface:(void *)surface {
    if (surface == nullptr) {
        return nil;
    }
    id obj = (id)surface;
    if (![obj respondsToSelector:@selector(baseAddress)] ||
        ![obj respondsToSelector:@selector(allocationSize)]) {
        contract_violation(@"objectWithIOSurface: expects an IOSurfaceRef, got %@", [obj class]);
    }
    return [[[self alloc] initWithSurface:obj] autorelease];
}
- (id)initWithSurface:(id)surface {
    self = [super init];
    if (self != nil) {
        _surface = [surface retain];
        g_counters.live_surface_objects.fetch_add(1);
    }
    return self;
}
- (void)dealloc {
    [_surface release];
    g_counters.live_surface_objects.fetch_sub(1);
    [super dealloc];
}
- (void *)ioSurface { return (void *)_surface; }
@end

// ====================================================================================================
// _ANERequest (§4.1, §13)
// ====================================================================================================
@interface _ANERequest : NSObject {
    NSArray *_inputs;
    NSArray *_inputIndices;
    NSArray *_outputs;
    NSArray *_outputIndices;
    id _weightsBuffer;
    NSArray *_perfStats;
    NSNumber *_procedureIndex;
}
+ (id)requestWithInputs:(NSArray *)inputs
           inputIndices:(NSArray *)inputIndices
                outputs:(NSArray *)outputs
          outputIndices:(NSArray *)outputIndices
          weightsBuffer:(id)weightsBuffer
              perfStats:(id)perfStats
         procedureIndex:(NSNumber *)procedureIndex;
- (NSArray *)inputArray;
- (NSArray *)inputIndexArray;
- (NSArray *)outputArray;
- (NSArray *)outputIndexArray;
- (NSArray *)perfStatsArray;
- (NSNumber *)procedureIndex;
- (BOOL)validate;
@end

#ifndef FAKE_ANE_OMIT_REQUEST_CLASS  // defined only for the "class missing" test variant of the fake
@implementation _ANERequest
+ (id)requestWithInputs:(NSArray *)inputs
           inputIndices:(NSArray *)inputIndices
                outputs:(NSArray *)outputs
          outputIndices:(NSArray *)outputIndices
          weightsBuffer:(id)weightsBuffer
              perfStats:(id)perfStats
         procedureIndex:(NSNumber *)procedureIndex {
    if (![inputs isKindOfClass:[NSArray class]] || ![inputIndices isKindOfClass:[NSArray class]] ||
        ![outputs isKindOfClass:[NSArray class]] || ![outputIndices isKindOfClass:[NSArray class]]) {
        contract_violation(@"requestWithInputs:... takes four NSArrays (inputs, inputIndices, outputs, "
                           @"outputIndices)");
    }
    if (perfStats != nil && ![perfStats isKindOfClass:[NSArray class]]) {
        // The real framework calls -count on it (§18).
        contract_violation(@"perfStats must be nil or an NSArray, got %@", [perfStats class]);
    }
    if (procedureIndex != nil && ![procedureIndex isKindOfClass:[NSNumber class]]) {
        contract_violation(@"procedureIndex must be an NSNumber, got %@", [procedureIndex class]);
    }
    // Mismatched lengths are not refused here: the factory only stores the arrays (_ANERequest.mm
    // initWithInputs:...), and -validate refuses the request at evaluation.
    _ANERequest *r = [[[self alloc] init] autorelease];
    r->_inputs = [inputs copy];
    r->_inputIndices = [inputIndices copy];
    r->_outputs = [outputs copy];
    r->_outputIndices = [outputIndices copy];
    r->_weightsBuffer = [weightsBuffer retain];  // ignored: weights are baked (§13, §20.1)
    r->_perfStats = [(NSArray *)perfStats copy];
    r->_procedureIndex = [(procedureIndex != nil ? procedureIndex : @0) retain];
    g_counters.live_requests.fetch_add(1);
    return r;
}
- (void)dealloc {
    [_inputs release];
    [_inputIndices release];
    [_outputs release];
    [_outputIndices release];
    [_weightsBuffer release];
    [_perfStats release];
    [_procedureIndex release];
    g_counters.live_requests.fetch_sub(1);
    [super dealloc];
}
- (NSArray *)inputArray { return _inputs; }
- (NSArray *)inputIndexArray { return _inputIndices; }
- (NSArray *)outputArray { return _outputs; }
- (NSArray *)outputIndexArray { return _outputIndices; }
- (NSArray *)perfStatsArray { return _perfStats; }
- (NSNumber *)procedureIndex { return _procedureIndex; }
// -[_ANERequest validate] as decompiled (_ANERequest.mm): NO for 0 inputs or 0 outputs, index arrays whose
// length differs from their surface arrays, more than kANEMaxBuffers = 255 buffers on a side, a symbol index
// above kANERequestMaxSymbolIndex = 254, a procedureIndex above kANEMaxProcedures = 128, or perfStats elements
// whose -statType (sent to every element) is outside 0...2 or repeats.
- (BOOL)validate {
    const NSUInteger nIn = [_inputs count];
    const NSUInteger nOut = [_outputs count];
    if (nIn == 0 || nOut == 0 || [_inputIndices count] == 0 || [_outputIndices count] == 0) {
        return NO;
    }
    if (nIn > 255 || nOut > 255 || nIn != [_inputIndices count] || nOut != [_outputIndices count]) {
        return NO;
    }
    for (NSArray *indices in @[ _inputIndices, _outputIndices ]) {
        for (id index in indices) {
            if ([index unsignedIntegerValue] >= 255) {
                return NO;
            }
        }
    }
    if ([_procedureIndex unsignedIntegerValue] > 128) {
        return NO;
    }
    bool seen[3] = {false, false, false};
    for (id stats in _perfStats) {
        const int64_t type = [(_ANEPerformanceStatsIOSurface *)stats statType];  // unrecognized selector if absent
        if (type < 0 || type > 2 || seen[type]) {
            return NO;
        }
        seen[type] = true;
    }
    return YES;
}
@end
#endif  // FAKE_ANE_OMIT_REQUEST_CLASS

// ====================================================================================================
// _ANEInMemoryModelDescriptor (§4.1, §7)
// ====================================================================================================
@interface _ANEInMemoryModelDescriptor : NSObject {
    NSData *_milText;
    NSDictionary *_weights;
    id _optionsPlist;
    NSString *_hex;
    // Test markers in the MIL text, found once here so that evaluate does no per-call text work: a fake
    // whose evaluate decodes the MIL would make bench_dispatch measure the fake instead of the backend.
    BOOL _failLoad;  // "FAKE_ANE_FAIL_LOAD": loadWithQoS: fails
    BOOL _failEval;  // "FAKE_ANE_FAIL_EVAL": every evaluation fails
}
+ (id)modelWithMILText:(NSData *)milText weights:(NSDictionary *)weights optionsPlist:(id)optionsPlist;
- (NSData *)milText;
- (BOOL)fakeFailsLoad;
- (BOOL)fakeFailsEvaluate;
- (NSDictionary *)weights;
- (NSString *)hexStringIdentifier;
@end

@implementation _ANEInMemoryModelDescriptor
+ (id)modelWithMILText:(NSData *)milText weights:(NSDictionary *)weights optionsPlist:(id)optionsPlist {
    if (milText == nil) {
        return nil;  // the real factory returns nil without an NSError (§11.1)
    }
    if (![milText isKindOfClass:[NSData class]]) {
        contract_violation(@"modelWithMILText: takes NSData of UTF-8 MIL text, got %@", [milText class]);
    }
    if (weights == nil) {
        // _ANEInMemoryModelDescriptor modelWithMILText:weights:optionsPlist: returns nil for nil weights
        // (decompiled, §25.1; Orion #11): callers pass @{} for weight-free programs.
        return nil;
    }
    if (![weights isKindOfClass:[NSDictionary class]]) {
        contract_violation(@"weights must be an NSDictionary, got %@", [weights class]);
    }
    for (id key in weights) {
        if (![key isKindOfClass:[NSString class]] || ![(NSString *)key hasPrefix:kModelPathPrefix] ||
            [(NSString *)key length] <= [kModelPathPrefix length]) {
            contract_violation(@"weights key %@ is not an \"@model_path/<file>\" string (§7)", key);
        }
        id value = [weights objectForKey:key];
        if (![value isKindOfClass:[NSDictionary class]]) {
            contract_violation(@"weights[%@] must be @{@\"offset\": NSNumber, @\"data\": NSData}", key);
        }
        NSDictionary *entry = (NSDictionary *)value;
        if ([entry count] != 2 || ![[entry objectForKey:@"offset"] isKindOfClass:[NSNumber class]] ||
            ![[entry objectForKey:@"data"] isKindOfClass:[NSData class]]) {
            contract_violation(@"weights[%@] must be exactly @{@\"offset\": NSNumber, @\"data\": NSData}, "
                               @"got keys %@", key, [entry allKeys]);
        }
    }
    if (optionsPlist != nil && ![optionsPlist isKindOfClass:[NSDictionary class]]) {
        contract_violation(@"optionsPlist must be nil (§6), got %@", [optionsPlist class]);
    }
    _ANEInMemoryModelDescriptor *d = [[[self alloc] init] autorelease];
    d->_milText = [milText copy];
    d->_weights = [weights copy];
    d->_optionsPlist = [optionsPlist retain];
    d->_failLoad = bytes_contain(milText, "FAKE_ANE_FAIL_LOAD");
    d->_failEval = bytes_contain(milText, "FAKE_ANE_FAIL_EVAL");
    // The identifier hashes the MIL and the weights, so changing only a weight changes the directory,
    // as on the real framework (§8.3, docs/internals/linux-objc-toolchain.md §6.2).
    uint64_t h = 0xcbf29ce484222325ULL;
    h = fnv1a(h, [milText bytes], [milText length]);
    NSArray *keys = [[weights allKeys] sortedArrayUsingSelector:@selector(compare:)];
    for (NSString *key in keys) {
        NSDictionary *entry = [weights objectForKey:key];
        const char *k = [key UTF8String];
        h = fnv1a(h, k, std::strlen(k) + 1);
        const unsigned long long offset = [[entry objectForKey:@"offset"] unsignedLongLongValue];
        h = fnv1a(h, &offset, sizeof offset);
        NSData *data = [entry objectForKey:@"data"];
        h = fnv1a(h, [data bytes], [data length]);
    }
    d->_hex = [[NSString alloc] initWithFormat:@"%016llx", (unsigned long long)h];
    g_counters.live_descriptors.fetch_add(1);
    return d;
}
- (void)dealloc {
    [_milText release];
    [_weights release];
    [_optionsPlist release];
    [_hex release];
    g_counters.live_descriptors.fetch_sub(1);
    [super dealloc];
}
- (NSData *)milText { return _milText; }
- (BOOL)fakeFailsLoad { return _failLoad; }
- (BOOL)fakeFailsEvaluate { return _failEval; }
- (NSDictionary *)weights { return _weights; }
- (NSString *)hexStringIdentifier { return _hex; }
@end

// ====================================================================================================
// _ANEProgramForEvaluation (§17.3): reached through [model valueForKey:@"program"] after load.
// ====================================================================================================
@class _ANEInMemoryModel;
static BOOL fake_evaluate(_ANEInMemoryModel *model, id request, NSDictionary *options,
                          std::atomic<long long> &path_counter, NSError **error);

@interface _ANEProgramForEvaluation : NSObject {
}
// The decompiled signature (_ANEProgramForEvaluation.mm; _ANEClient's own call passes qIndex 0 and the model's
// string_id): BOOL <- (id, id, unsigned int, uint64_t qIndex, uint64_t modelStringID, id, uint32_t *, NSError **).
- (BOOL)processRequest:(id)request
                 model:(id)model
                   qos:(unsigned int)qos
                qIndex:(uint64_t)qIndex
         modelStringID:(uint64_t)modelStringID
               options:(NSDictionary *)options
           returnValue:(uint32_t *)returnValue
                 error:(NSError **)error;
@end

// ====================================================================================================
// _ANEInMemoryModel (§4.1, §8, §10, §16)
// ====================================================================================================
@interface _ANEInMemoryModel : NSObject {
    _ANEInMemoryModelDescriptor *_descriptor;
    _ANEProgramForEvaluation *_program;
    std::atomic<NSUInteger> *_state;
    BOOL _silentlyBroken;  // compiled past a "silent" budget: evaluations succeed and output zeros
    std::vector<TensorSpec> *_inputs;   // in symbol order (declaration, or sorted under "alphabetical")
    std::vector<TensorSpec> *_outputs;
    BOOL _uniformSurfaces;               // surface rules captured at compile time (FakeConfig)
    unsigned long long _minSurfaceBytes;
    BOOL _reportsAttributes;
    BOOL _referenceMode;                 // mode captured at compile time: "reference" (YES) or "echo"
    uint64_t _programHandle;  // non-zero while loaded, as -[_ANEInMemoryModel programHandle] after load
    uint64_t _stringID;       // -[_ANEInMemoryModel string_id]: the uint64 processRequest takes (§17.3)
    int _loadAttempts;
}
+ (id)inMemoryModelWithDescriptor:(id)descriptor;
+ (NSDictionary *)fakeANEStats;
+ (BOOL)fakeANEConfigure:(NSDictionary *)config;
+ (void)fakeANEReset;
- (NSString *)hexStringIdentifier;
- (NSUInteger)state;
- (id)program;
- (uint64_t)programHandle;
- (uint64_t)string_id;
- (NSDictionary *)modelAttributes;
- (BOOL)compileWithQoS:(unsigned int)qos options:(NSDictionary *)options error:(NSError **)error;
- (BOOL)loadWithQoS:(unsigned int)qos options:(NSDictionary *)options error:(NSError **)error;
- (BOOL)evaluateWithQoS:(unsigned int)qos
                options:(NSDictionary *)options
                request:(id)request
                  error:(NSError **)error;
- (BOOL)unloadWithQoS:(unsigned int)qos error:(NSError **)error;
// Internal, used by the other classes of the fake.
- (_ANEInMemoryModelDescriptor *)fakeDescriptor;
- (const std::vector<TensorSpec> *)fakeInputs;
- (const std::vector<TensorSpec> *)fakeOutputs;
- (BOOL)fakeSilentlyBroken;
- (BOOL)fakeUniformSurfaces;
- (unsigned long long)fakeMinSurfaceBytes;
- (BOOL)fakeReferenceMode;
@end

@implementation _ANEProgramForEvaluation
- (BOOL)processRequest:(id)request
                 model:(id)model
                   qos:(unsigned int)qos
                qIndex:(uint64_t)qIndex
         modelStringID:(uint64_t)modelStringID
               options:(NSDictionary *)options
           returnValue:(uint32_t *)returnValue
                 error:(NSError **)error {
    (void)qos;
    if (![model isKindOfClass:[_ANEInMemoryModel class]]) {
        contract_violation(@"processRequest: model must be the _ANEInMemoryModel, got %@", [model class]);
    }
    if (qIndex != 0) {
        contract_violation(@"processRequest: qIndex %llu; every known caller passes 0 (§17.3)",
                           (unsigned long long)qIndex);
    }
    if (modelStringID != [(_ANEInMemoryModel *)model string_id]) {
        contract_violation(@"processRequest: modelStringID must be the model's string_id (a uint64_t, §17.3), got "
                           @"%llu", (unsigned long long)modelStringID);
    }
    if (![options isKindOfClass:[NSDictionary class]]) {
        contract_violation(@"processRequest: options must be a dictionary (@{}), not %@", [options class]);
    }
    // _ANEProgramForEvaluation processRequest: an invalid request (_ANERequest validate) makes it return NO
    // without setting the NSError (§25.1).
    static Class requestClass = NSClassFromString(@"_ANERequest");
    if (requestClass != Nil && [request isKindOfClass:requestClass] && ![request validate]) {
        return NO;
    }
    // returnValue receives a 4-byte status; 0 on success. Writing all 4 bytes is what catches a caller that
    // passes the address of a 1-byte BOOL (under ASan, and through the guard bytes the tests place around it).
    if (returnValue != nullptr) {
        *returnValue = 0;
    }
    return fake_evaluate((_ANEInMemoryModel *)model, request, options, g_counters.evals_process_request, error);
}
@end

@implementation _ANEInMemoryModel

+ (id)inMemoryModelWithDescriptor:(id)descriptor {
    if (![descriptor isKindOfClass:[_ANEInMemoryModelDescriptor class]]) {
        return nil;
    }
    _ANEInMemoryModel *m = [[[self alloc] init] autorelease];
    m->_descriptor = [descriptor retain];
    m->_state = new std::atomic<NSUInteger>(kStateCreated);
    m->_inputs = new std::vector<TensorSpec>();
    m->_outputs = new std::vector<TensorSpec>();
    m->_stringID = std::strtoull([[descriptor hexStringIdentifier] UTF8String], nullptr, 16);
    g_counters.live_models.fetch_add(1);
    return m;
}

- (void)dealloc {
    [_descriptor release];
    [_program release];
    if (_program != nil) {
        g_counters.live_programs.fetch_sub(1);
    }
    delete _state;
    delete _inputs;
    delete _outputs;
    g_counters.live_models.fetch_sub(1);
    [super dealloc];
}

+ (NSDictionary *)fakeANEStats {
    NSMutableDictionary *d = [NSMutableDictionary dictionary];
    [d setObject:@(g_counters.compile_attempts.load()) forKey:@"compileAttempts"];
    [d setObject:@(g_counters.compiles.load()) forKey:@"compiles"];
    [d setObject:@(g_counters.budget_used.load()) forKey:@"budgetUsed"];
    [d setObject:@(g_counters.loads.load()) forKey:@"loads"];
    [d setObject:@(g_counters.unloads.load()) forKey:@"unloads"];
    [d setObject:@(g_counters.evals.load()) forKey:@"evals"];
    [d setObject:@(g_counters.evals_standard.load()) forKey:@"evalsStandard"];
    [d setObject:@(g_counters.evals_realtime.load()) forKey:@"evalsRealTime"];
    [d setObject:@(g_counters.evals_process_request.load()) forKey:@"evalsProcessRequest"];
    [d setObject:@(g_counters.evals_direct.load()) forKey:@"evalsDirect"];
    [d setObject:@(g_counters.live_models.load()) forKey:@"liveModels"];
    [d setObject:@(g_counters.live_descriptors.load()) forKey:@"liveDescriptors"];
    [d setObject:@(g_counters.live_requests.load()) forKey:@"liveRequests"];
    [d setObject:@(g_counters.live_surface_objects.load()) forKey:@"liveSurfaceObjects"];
    [d setObject:@(g_counters.live_programs.load()) forKey:@"livePrograms"];
    // The Linux IOSurface shim counts its live surfaces; reach it by message, not by symbol.
    Class surfaceClass = NSClassFromString(@"IOSurface");
    if (surfaceClass != Nil && [surfaceClass respondsToSelector:@selector(anekitLiveCount)]) {
        long live = [(id<FakeANESurfaceClass>)surfaceClass anekitLiveCount];
        [d setObject:@(live) forKey:@"liveIOSurfaces"];
    }
    return d;
}

+ (BOOL)fakeANEConfigure:(NSDictionary *)config {
    // Every key is validated before anything changes, so a bad configuration leaves the old one intact.
    FakeConfig next = config_snapshot();
    for (id key in config) {
        id value = [config objectForKey:key];
        if ([key isEqual:@"mode"]) {
            if ([value isEqual:@"echo"]) {
                next.reference_mode = false;
            } else if ([value isEqual:@"reference"]) {
                next.reference_mode = true;
            } else {
                contract_violation(@"fakeANEConfigure: mode must be \"echo\" or \"reference\", got %@", value);
            }
        } else if ([key isEqual:@"compileBudget"]) {
            if (![value isKindOfClass:[NSNumber class]]) {
                contract_violation(@"fakeANEConfigure: compileBudget must be a number (-1 = unlimited)");
            }
            next.compile_budget = [value longLongValue];
        } else if ([key isEqual:@"budgetEnd"]) {
            if ([value isEqual:@"loud"]) {
                next.budget_end = BudgetEnd::kLoud;
            } else if ([value isEqual:@"silent"]) {
                next.budget_end = BudgetEnd::kSilent;
            } else if ([value isEqual:@"crash"]) {
                next.budget_end = BudgetEnd::kCrash;
            } else {
                contract_violation(@"fakeANEConfigure: budgetEnd must be \"loud\", \"silent\" or \"crash\", got %@",
                                   value);
            }
        } else if ([key isEqual:@"binding"]) {
            if (![value isEqual:@"declaration"] && ![value isEqual:@"alphabetical"]) {
                contract_violation(@"fakeANEConfigure: binding must be \"declaration\" or \"alphabetical\", got %@",
                                   value);
            }
            next.alphabetical_binding = [value isEqual:@"alphabetical"];
        } else if ([key isEqual:@"surfaces"]) {
            if (![value isEqual:@"exact"] && ![value isEqual:@"uniform"]) {
                contract_violation(@"fakeANEConfigure: surfaces must be \"exact\" or \"uniform\", got %@", value);
            }
            next.uniform_surfaces = [value isEqual:@"uniform"];
        } else if ([key isEqual:@"minSurfaceBytes"]) {
            if (![value isKindOfClass:[NSNumber class]] || [value longLongValue] < 0) {
                contract_violation(@"fakeANEConfigure: minSurfaceBytes must be a non-negative number, got %@", value);
            }
            next.min_surface_bytes = [value unsignedLongLongValue];
        } else if ([key isEqual:@"modelAttributes"]) {
            if (![value isKindOfClass:[NSNumber class]]) {
                contract_violation(@"fakeANEConfigure: modelAttributes must be a boolean, got %@", value);
            }
            next.model_attributes = [value boolValue];
        } else if ([key isEqual:@"faults"] || [key isEqual:@"disabledSelectors"]) {
            if (![value isKindOfClass:[NSArray class]]) {
                contract_violation(@"fakeANEConfigure: %@ must be an array of strings", key);
            }
            std::set<std::string, std::less<>> names;
            for (id item in (NSArray *)value) {
                if (![item isKindOfClass:[NSString class]]) {
                    contract_violation(@"fakeANEConfigure: %@ must contain strings, got %@", key, item);
                }
                const std::string name = [(NSString *)item UTF8String];
                if ([key isEqual:@"faults"] && kKnownFaults.count(name) == 0) {
                    contract_violation(@"fakeANEConfigure: unknown fault '%@' (known: compile, load, evaluate, "
                                       @"unload, compile_exception, load_exception, evaluate_exception)",
                                       item);
                }
                names.insert(name);
            }
            ([key isEqual:@"faults"] ? next.faults : next.disabled_selectors) = names;
        } else if ([key isEqual:@"perfStatsNS"]) {
            if (![value isKindOfClass:[NSNumber class]]) {
                contract_violation(@"fakeANEConfigure: perfStatsNS must be a number");
            }
            next.perf_stats_ns = [value unsignedLongLongValue];
        } else {
            contract_violation(@"fakeANEConfigure: unknown key %@ (known: mode, compileBudget, budgetEnd, binding, "
                               @"surfaces, minSurfaceBytes, modelAttributes, faults, disabledSelectors, perfStatsNS)",
                               key);
        }
    }
    std::lock_guard<std::mutex> lock(g_config_mutex);
    g_config = next;
    return YES;
}

+ (void)fakeANEReset {
    {
        std::lock_guard<std::mutex> lock(g_config_mutex);
        g_config = FakeConfig{};
    }
    // Activity counters and the budget restart; live-object counters keep counting real objects.
    g_counters.compile_attempts = 0;
    g_counters.compiles = 0;
    g_counters.budget_used = 0;
    g_counters.loads = 0;
    g_counters.unloads = 0;
    g_counters.evals = 0;
    g_counters.evals_standard = 0;
    g_counters.evals_realtime = 0;
    g_counters.evals_process_request = 0;
    g_counters.evals_direct = 0;
}

- (NSString *)hexStringIdentifier { return [_descriptor hexStringIdentifier]; }
- (NSUInteger)state { return _state->load(); }
- (id)program { return _program; }
- (uint64_t)programHandle { return _programHandle; }
- (uint64_t)string_id { return _stringID; }
// After load the real model copies modelAttributes from the loaded model (_ANEInMemoryModel, §25.1): a
// dictionary under kANEFModelDescriptionKey whose kANEFModelInputSymbolsArrayKey /
// kANEFModelOutputSymbolsArrayKey list the symbol names in symbol-index order, and whose
// kANEFModelProceduresArrayKey entries hold each procedure's kANEFModelInputSymbolIndexArrayKey /
// kANEFModelOutputSymbolIndexArrayKey (the daemon's procedure-info builder, decompiled aned). nil before load.
- (NSDictionary *)modelAttributes {
    if (!_reportsAttributes || _state->load() != kStateLoaded) {
        return nil;
    }
    NSMutableArray *inNames = [NSMutableArray array];
    NSMutableArray *outNames = [NSMutableArray array];
    NSMutableArray *inIdx = [NSMutableArray array];
    NSMutableArray *outIdx = [NSMutableArray array];
    for (size_t i = 0; i < _inputs->size(); ++i) {
        [inNames addObject:[NSString stringWithUTF8String:(*_inputs)[i].name.c_str()]];
        [inIdx addObject:@(i)];
    }
    for (size_t i = 0; i < _outputs->size(); ++i) {
        [outNames addObject:[NSString stringWithUTF8String:(*_outputs)[i].name.c_str()]];
        [outIdx addObject:@(i)];
    }
    NSDictionary *procedure = @{
        kANEFModelProcedureIDKey : @0,
        kANEFModelInputSymbolIndexArrayKey : inIdx,
        kANEFModelOutputSymbolIndexArrayKey : outIdx,
    };
    NSDictionary *description = @{
        kANEFModelProceduresArrayKey : @[ procedure ],
        kANEFModelProcedureNameToIDMapKey : @{@"main" : @0},
        kANEFModelInputSymbolsArrayKey : inNames,
        kANEFModelOutputSymbolsArrayKey : outNames,
    };
    return @{kANEFModelDescriptionKey : description};
}
- (_ANEInMemoryModelDescriptor *)fakeDescriptor { return _descriptor; }
- (const std::vector<TensorSpec> *)fakeInputs { return _inputs; }
- (const std::vector<TensorSpec> *)fakeOutputs { return _outputs; }
- (BOOL)fakeSilentlyBroken { return _silentlyBroken; }
- (BOOL)fakeUniformSurfaces { return _uniformSurfaces; }
- (BOOL)fakeReferenceMode { return _referenceMode; }
- (unsigned long long)fakeMinSurfaceBytes { return _minSurfaceBytes; }

- (BOOL)compileWithQoS:(unsigned int)qos options:(NSDictionary *)options error:(NSError **)error {
    (void)qos;
    g_counters.compile_attempts.fetch_add(1);
    if (![options isKindOfClass:[NSDictionary class]]) {
        contract_violation(@"compileWithQoS: options must be a dictionary (@{}, §6), got %@", [options class]);
    }
    NSData *mil = [_descriptor milText];
    NSString *text = [[[NSString alloc] initWithData:mil encoding:NSUTF8StringEncoding] autorelease];
    if (fault_active("compile_exception") || (text != nil && [text rangeOfString:@"FAKE_ANE_RAISE"].location !=
                                                                 NSNotFound)) {
        [NSException raise:NSInvalidArgumentException format:@"FakeANE: injected exception in compile"];
    }
    if (text == nil) {
        return fail(error, kCompileFailed, @"InvalidMILProgram (fake): the MIL text is not valid UTF-8");
    }
    NSString *trimmed =
        [text stringByTrimmingCharactersInSet:[NSCharacterSet whitespaceAndNewlineCharacterSet]];
    if (![trimmed hasPrefix:@"program("]) {
        return fail(error, kCompileFailed, @"InvalidMILProgram (fake): the MIL text does not start with program(");
    }
    MainSignature signature;
    std::string parse_error;
    if (!anekit::fake_ane::parse_main_signature([text UTF8String], signature, parse_error)) {
        return fail(error, kCompileFailed,
                    [NSString stringWithFormat:@"InvalidMILProgram (fake): %s", parse_error.c_str()]);
    }
    {
        std::shared_lock<std::shared_mutex> lock(g_checker_mutex);
        if (g_checker != nullptr) {
            std::vector<std::string> keys;
            std::vector<fake_ane_weight> weights;
            collect_weights([_descriptor weights], keys, weights);
            const std::string utf8([text UTF8String]);
            char message[1024] = {0};
            if (g_checker(g_checker_context, utf8.c_str(), utf8.size(), weights.data(), weights.size(), message,
                          sizeof message) != 0) {
                message[sizeof message - 1] = '\0';
                return fail(error, kCompileFailed,
                            [NSString stringWithFormat:@"InvalidMILProgram (fake): %s", message]);
            }
        }
    }
    if (fault_active("compile") || [text rangeOfString:@"FAKE_ANE_FAIL_COMPILE"].location != NSNotFound) {
        return fail(error, kCompileFailed, @"_ANECompiler : ANECCompile() FAILED (fake: injected)");
    }
    // The real compile reads the files the caller wrote into NSTemporaryDirectory()/<hex>/ (§8).
    NSString *dir = [NSTemporaryDirectory() stringByAppendingPathComponent:[self hexStringIdentifier]];
    NSData *onDisk = [NSData dataWithContentsOfFile:[dir stringByAppendingPathComponent:@"model.mil"]];
    if (onDisk == nil || ![onDisk isEqualToData:mil]) {
        return fail(error, kDirectoryMissing,
                    [NSString stringWithFormat:@"_ANECompiler : ANECCompile() FAILED (fake: %@/model.mil %@; "
                                               @"the caller must pre-populate the model directory)",
                                               dir, onDisk == nil ? @"is missing" : @"differs from the MIL"]);
    }
    NSDictionary *weights = [_descriptor weights];
    for (NSString *key in weights) {
        NSString *rel = [key substringFromIndex:[kModelPathPrefix length]];
        NSString *path = [dir stringByAppendingPathComponent:rel];
        NSData *file = [NSData dataWithContentsOfFile:path];
        if (file == nil || ![file isEqualToData:[[weights objectForKey:key] objectForKey:@"data"]]) {
            return fail(error, kDirectoryMissing,
                        [NSString stringWithFormat:@"_ANECompiler : ANECCompile() FAILED (fake: weight file %@ "
                                                   @"%@ for key %@)",
                                                   path, file == nil ? @"is missing" : @"differs", key]);
        }
    }
    const FakeConfig config = config_snapshot();
    if (config.compile_budget >= 0 && g_counters.budget_used.load() >= config.compile_budget) {
        switch (config.budget_end) {
            case BudgetEnd::kLoud:
                return fail(error, kCompileFailed,
                            [NSString stringWithFormat:@"_ANECompiler : ANECCompile() FAILED (fake: compile budget "
                                                       @"of %lld exhausted)",
                                                       config.compile_budget]);
            case BudgetEnd::kSilent:
                _silentlyBroken = YES;  // reported on real machines: success, then zeros (§16.1)
                break;
            case BudgetEnd::kCrash:
                // libane reports the process dying with SIGSEGV at the limit: no error, no unwinding.
                std::signal(SIGSEGV, SIG_DFL);
                std::raise(SIGSEGV);
                break;
        }
    } else {
        g_counters.budget_used.fetch_add(1);
    }
    // A successful compile leaves net.plist and data next to model.mil (§8.2).
    [[NSData dataWithBytes:"fake-net-plist" length:14] writeToFile:[dir stringByAppendingPathComponent:@"net.plist"]
                                                        atomically:NO];
    [[NSData dataWithBytes:"fake-data" length:9] writeToFile:[dir stringByAppendingPathComponent:@"data"]
                                                  atomically:NO];
    // The model's symbol tables: the order in which request indices name its inputs and outputs, fixed at
    // compile time with the binding rule then in force (a model keeps the behaviour it was compiled with).
    *_inputs = signature.inputs;
    *_outputs = signature.outputs;
    if (config.alphabetical_binding) {
        const auto by_name = [](const TensorSpec &a, const TensorSpec &b) { return a.name < b.name; };
        std::stable_sort(_inputs->begin(), _inputs->end(), by_name);
        std::stable_sort(_outputs->begin(), _outputs->end(), by_name);
    }
    _uniformSurfaces = config.uniform_surfaces;
    _minSurfaceBytes = config.min_surface_bytes;
    _reportsAttributes = config.model_attributes;
    _referenceMode = config.reference_mode ? YES : NO;
    _state->store(kStateCompiled);
    g_counters.compiles.fetch_add(1);
    return YES;
}

- (BOOL)loadWithQoS:(unsigned int)qos options:(NSDictionary *)options error:(NSError **)error {
    (void)qos;
    if (![options isKindOfClass:[NSDictionary class]]) {
        contract_violation(@"loadWithQoS: options must be a dictionary (@{}, §6), got %@", [options class]);
    }
    if (fault_active("load_exception")) {
        [NSException raise:NSInternalInconsistencyException format:@"FakeANE: injected exception in load"];
    }
    if (_state->load() < kStateCompiled) {
        return fail(error, kNotCompiled, @"FakeANE: loadWithQoS: called before a successful compile");
    }
    if (fault_active("load") || [_descriptor fakeFailsLoad]) {
        return fail(error, kNotCompiled, @"FakeANE: injected load failure");
    }
    if (++_loadAttempts == 1 && fault_active("load_once")) {
        return fail(error, kNotCompiled, @"FakeANE: injected transient load failure (first attempt)");
    }
    if (fault_active("load_unloaded")) {
        return YES;  // "success" without a program: state and programHandle tell the truth
    }
    if (_program == nil) {
        _program = [[_ANEProgramForEvaluation alloc] init];
        g_counters.live_programs.fetch_add(1);
    }
    _state->store(kStateLoaded);
    _programHandle = _stringID | 1;  // any non-zero value: the real one is a kernel handle
    g_counters.loads.fetch_add(1);
    return YES;
}

- (BOOL)evaluateWithQoS:(unsigned int)qos
                options:(NSDictionary *)options
                request:(id)request
                  error:(NSError **)error {
    (void)qos;
    if (![options isKindOfClass:[NSDictionary class]]) {
        contract_violation(@"evaluateWithQoS: options must be a dictionary (@{}, §6), got %@", [options class]);
    }
    return fake_evaluate(self, request, options, g_counters.evals_standard, error);
}

- (BOOL)unloadWithQoS:(unsigned int)qos error:(NSError **)error {
    (void)qos;
    if (fault_active("unload")) {
        return fail(error, kUnloadFailed, @"FakeANE: injected unload failure");
    }
    if (_state->load() == kStateLoaded) {
        _state->store(kStateCompiled);
    }
    _programHandle = 0;
    g_counters.unloads.fetch_add(1);
    return YES;
}

@end

// ====================================================================================================
// _ANEClient (§17.2, §17.3): shared connection with the real-time and direct evaluation paths.
// ====================================================================================================
@interface _ANEClient : NSObject {
}
+ (id)sharedConnection;
- (BOOL)evaluateRealTimeWithModel:(id)model options:(NSDictionary *)options request:(id)request error:(NSError **)error;
- (BOOL)evaluateWithModel:(id)model
                  options:(NSDictionary *)options
                  request:(id)request
                      qos:(unsigned int)qos
                    error:(NSError **)error;
- (BOOL)doEvaluateDirectWithModel:(id)model
                          options:(NSDictionary *)options
                          request:(id)request
                              qos:(unsigned int)qos
                            error:(NSError **)error;
- (BOOL)beginRealTimeTask;
- (BOOL)endRealTimeTask;
@end

// The _ANEClient evaluation selectors take the model and an options dictionary besides the request.
static BOOL client_evaluate(const char *selector, id model, NSDictionary *options, id request,
                            std::atomic<long long> &path_counter, NSError **error) {
    if (![model isKindOfClass:[_ANEInMemoryModel class]] || ![options isKindOfClass:[NSDictionary class]]) {
        contract_violation(@"%s needs the _ANEInMemoryModel and an options dictionary", selector);
    }
    return fake_evaluate((_ANEInMemoryModel *)model, request, options, path_counter, error);
}

@implementation _ANEClient
+ (id)sharedConnection {
    static _ANEClient *shared = nil;  // a process-lifetime singleton, as on macOS
    static std::once_flag once;
    std::call_once(once, [] { shared = [[_ANEClient alloc] init]; });
    return shared;
}
// Tests can make the fake pretend not to implement a path (disabledSelectors), to exercise the backend's
// "unavailable path" errors.
- (BOOL)respondsToSelector:(SEL)sel {
    return selector_disabled(sel) ? NO : [super respondsToSelector:sel];
}
- (BOOL)evaluateRealTimeWithModel:(id)model options:(NSDictionary *)options request:(id)request error:(NSError **)error {
    return client_evaluate("evaluateRealTimeWithModel:", model, options, request, g_counters.evals_realtime, error);
}
- (BOOL)evaluateWithModel:(id)model
                  options:(NSDictionary *)options
                  request:(id)request
                      qos:(unsigned int)qos
                    error:(NSError **)error {
    (void)qos;
    return client_evaluate("evaluateWithModel:", model, options, request, g_counters.evals_standard, error);
}
- (BOOL)doEvaluateDirectWithModel:(id)model
                          options:(NSDictionary *)options
                          request:(id)request
                              qos:(unsigned int)qos
                            error:(NSError **)error {
    (void)qos;
    return client_evaluate("doEvaluateDirectWithModel:", model, options, request, g_counters.evals_direct, error);
}
// Both return NO on device, yet real-time evaluation works (§17.2).
- (BOOL)beginRealTimeTask { return NO; }
- (BOOL)endRealTimeTask { return NO; }
@end

// ====================================================================================================
// Evaluation shared by every path
// ====================================================================================================
namespace {

struct LockedSurface {
    id<FakeANESurface> surface = nil;
    void *data = nullptr;
    size_t nbytes = 0;                // the surface's allocation size
    const TensorSpec *spec = nullptr;  // the symbol this surface is bound to
    uint32_t options = 0;
};

// The status text of the real framework's refusal of surface sizes (Orion #2/#4/#12: "status 0x1d").
NSString *const kStatus1D = @"ANEProgramProcessRequestDirect() Failed with status=0x1d : statusType=0x9";

// Binds one side of a request to the model's symbols and checks the surface rules. `specs` is the model's
// symbol table (index k = symbol k, see compileWithQoS:). Returns NO (with *error) on a contract failure;
// `out` is in declaration-independent request order, each entry naming its symbol.
BOOL collect_side(NSArray *objects, NSArray *indices, const std::vector<TensorSpec> &specs, const char *side,
                  uint32_t lock_options, BOOL uniform, unsigned long long min_bytes, std::vector<LockedSurface> &out,
                  NSError **error) {
    if ([objects count] != specs.size()) {
        return fail(error, kIOCountMismatch,
                    [NSString stringWithFormat:@"FakeANE: request has %lu %s surfaces, the program declares %zu",
                                               (unsigned long)[objects count], side, specs.size()]);
    }
    // Request index k binds to symbol k (§13); every symbol bound exactly once.
    std::vector<bool> bound(specs.size(), false);
    for (NSUInteger i = 0; i < [indices count]; ++i) {
        id index = [indices objectAtIndex:i];
        const NSUInteger k = [index isKindOfClass:[NSNumber class]] ? [index unsignedIntegerValue] : specs.size();
        if (k >= specs.size() || bound[k]) {
            return fail(error, kBadIndices,
                        [NSString stringWithFormat:@"FakeANE: %s index array must bind each of the %zu symbols "
                                                   @"once (§13), position %lu holds %@",
                                                   side, specs.size(), (unsigned long)i, index]);
        }
        bound[k] = true;
    }
    static Class wrapperClass = NSClassFromString(@"_ANEIOSurfaceObject");
    for (NSUInteger i = 0; i < [objects count]; ++i) {
        id wrapper = [objects objectAtIndex:i];
        if (![wrapper isKindOfClass:wrapperClass]) {
            contract_violation(@"request %s %lu is a %@, not an _ANEIOSurfaceObject", side, (unsigned long)i,
                               [wrapper class]);
        }
        id<FakeANESurface> surface = (id<FakeANESurface>)[(_ANEIOSurfaceObject *)wrapper ioSurface];
        LockedSurface ls;
        ls.surface = surface;
        ls.nbytes = (size_t)[surface allocationSize];
        ls.options = lock_options;
        ls.spec = &specs[[[indices objectAtIndex:i] unsignedIntegerValue]];
        const TensorSpec &spec = *ls.spec;
        // Data is read packed from offset 0 (Orion #14), so any allocation at least as large as the tensor
        // works, page-rounded ones included (_ANEIOSurfaceObject, §25.1).
        if (spec.nbytes >= 0 && static_cast<long long>(ls.nbytes) < spec.nbytes) {
            return fail(error, kSurfaceSize,
                        [NSString stringWithFormat:@"%@ (fake: %s %lu bound to '%s' (%s) needs at least %lld bytes, "
                                                   @"the surface has %zu)",
                                                   kStatus1D, side, (unsigned long)i, spec.name.c_str(),
                                                   spec.dtype.c_str(), (long long)spec.nbytes, ls.nbytes]);
        }
        if (ls.nbytes < min_bytes) {
            return fail(error, kSurfaceSize,
                        [NSString stringWithFormat:@"%@ (fake: %s %lu has %zu bytes; surfaces under %llu bytes are "
                                                   @"refused at evaluate, Orion #4)",
                                                   kStatus1D, side, (unsigned long)i, ls.nbytes, min_bytes]);
        }
        if (uniform && !out.empty() && out.front().nbytes != ls.nbytes) {
            return fail(error, kSurfaceSize,
                        [NSString stringWithFormat:@"%@ (fake: %s surfaces must share one allocation size, Orion "
                                                   @"#2/#12; %s 0 has %zu bytes, %s %lu has %zu)",
                                                   kStatus1D, side, side, out.front().nbytes, side,
                                                   (unsigned long)i, ls.nbytes]);
        }
        out.push_back(ls);
    }
    return YES;
}

void lock_all(std::vector<LockedSurface> &surfaces) {
    for (LockedSurface &s : surfaces) {
        uint32_t seed = 0;
        [s.surface lockWithOptions:s.options seed:&seed];
        s.data = [s.surface baseAddress];
    }
}

void unlock_all(std::vector<LockedSurface> &surfaces) {
    for (LockedSurface &s : surfaces) {
        uint32_t seed = 0;
        [s.surface unlockWithOptions:s.options seed:&seed];
    }
}

size_t packed_bytes(const LockedSurface &s) {
    return s.spec->nbytes >= 0 ? static_cast<size_t>(s.spec->nbytes) : s.nbytes;
}

BOOL run_reference(_ANEInMemoryModel *model, const std::vector<LockedSurface> &ins,
                   const std::vector<LockedSurface> &outs, NSError **error) {
    _ANEInMemoryModelDescriptor *d = [model fakeDescriptor];
    NSData *mil = [d milText];
    // NUL-terminated copy of the MIL for the C interface.
    std::string text(static_cast<const char *>([mil bytes]), [mil length]);
    std::vector<std::string> keys;
    std::vector<fake_ane_weight> weights;
    collect_weights([d weights], keys, weights);
    // Each tensor is handed over as the packed bytes at offset 0 of its surface (Orion #14).
    std::vector<fake_ane_tensor> in_tensors;
    std::vector<fake_ane_tensor> out_tensors;
    for (const LockedSurface &s : ins) {
        in_tensors.push_back(fake_ane_tensor{s.spec->name.c_str(), s.data, packed_bytes(s)});
    }
    for (const LockedSurface &s : outs) {
        out_tensors.push_back(fake_ane_tensor{s.spec->name.c_str(), s.data, packed_bytes(s)});
    }
    const fake_ane_eval_call call{text.c_str(),        text.size(),        weights.data(),
                                  weights.size(),      in_tensors.data(),  in_tensors.size(),
                                  out_tensors.data(),  out_tensors.size()};
    char message[1024] = {0};
    int rc = 0;
    {
        std::shared_lock<std::shared_mutex> lock(g_evaluator_mutex);
        if (g_evaluator == nullptr) {
            return fail(error, kEvaluatorFailed,
                        @"FakeANE: mode \"reference\" but no evaluator is registered (fake_ane_set_evaluator)");
        }
        rc = g_evaluator(g_evaluator_context, &call, message, sizeof message);
    }
    if (rc != 0) {
        message[sizeof message - 1] = '\0';
        return fail(error, kEvaluatorFailed,
                    [NSString stringWithFormat:@"FakeANE: reference evaluator failed: %s", message]);
    }
    return YES;
}

}  // namespace

static BOOL fake_evaluate(_ANEInMemoryModel *model, id request, NSDictionary *options,
                          std::atomic<long long> &path_counter, NSError **error) {
    if (fault_active("evaluate_exception")) {
        [NSException raise:NSInternalInconsistencyException format:@"FakeANE: injected exception in evaluate"];
    }
    if ([model state] != kStateLoaded) {
        return fail(error, kNotLoaded, @"FakeANE: evaluate called on a model that is not loaded");
    }
    // Looked up by name: a test build of the fake omits the class (FAKE_ANE_OMIT_REQUEST_CLASS).
    static Class requestClass = NSClassFromString(@"_ANERequest");
    if (requestClass == Nil || ![request isKindOfClass:requestClass]) {
        return fail(error, kBadRequest, @"FakeANE: evaluate needs an _ANERequest");
    }
    if (![request validate]) {
        return fail(error, kBadRequest, @"FakeANE: the request fails -[_ANERequest validate] (0 inputs or outputs, "
                                        @"more than 255 buffers, a symbol index above 254, or bad perfStats)");
    }
    if (fault_active("evaluate") || [[model fakeDescriptor] fakeFailsEvaluate]) {
        return fail(error, kInferenceError,
                    @"ANEProgramProcessRequestDirect() Failed with status=0x16 : statusType=0x9: Program "
                    @"Inference error (fake: injected)");
    }
    std::vector<LockedSurface> ins;
    std::vector<LockedSurface> outs;
    const BOOL uniform = [model fakeUniformSurfaces];
    const unsigned long long min_bytes = [model fakeMinSurfaceBytes];
    if (!collect_side([request inputArray], [request inputIndexArray], *[model fakeInputs], "input",
                      kFakeLockReadOnly, uniform, min_bytes, ins, error) ||
        !collect_side([request outputArray], [request outputIndexArray], *[model fakeOutputs], "output", 0, uniform,
                      min_bytes, outs, error)) {
        return NO;
    }
    lock_all(ins);
    lock_all(outs);
    BOOL ok = YES;
    const EvalConfig config = eval_config();
    if ([model fakeSilentlyBroken]) {
        for (LockedSurface &o : outs) {
            std::memset(o.data, 0, packed_bytes(o));
        }
    } else if ([model fakeReferenceMode]) {
        ok = run_reference(model, ins, outs, error);
    } else {
        // Echo: the output bound to symbol k receives the input bound to symbol k.
        const TensorSpec *in_base = [model fakeInputs]->data();
        const TensorSpec *out_base = [model fakeOutputs]->data();
        for (LockedSurface &o : outs) {
            const LockedSurface *src = nullptr;
            for (const LockedSurface &in : ins) {
                if (in.spec - in_base == o.spec - out_base) src = &in;
            }
            const size_t total = packed_bytes(o);
            const size_t n = src != nullptr ? std::min(total, packed_bytes(*src)) : 0;
            if (n > 0) {
                std::memcpy(o.data, src->data, n);
            }
            std::memset(static_cast<char *>(o.data) + n, 0, total - n);
        }
    }
    unlock_all(outs);
    unlock_all(ins);
    if (!ok) {
        return NO;
    }
    // Hardware time is reported only when the options carry kANEFPerformanceStatsMaskKey and a statType-2
    // stats surface is attached (§25.1). The fake writes it as the second 64-bit word of that surface, where
    // -[_ANEPerformanceStats initWithRequestPerformanceBuffer:statsBufferSize:] reads it (unverified on a Mac).
    if (config.perf_stats_ns > 0 && [options objectForKey:kANEFPerformanceStatsMaskKey] != nil) {
        static Class statsClass = NSClassFromString(@"_ANEPerformanceStatsIOSurface");
        for (id stats in [request perfStatsArray]) {
            if (![stats isKindOfClass:statsClass] || [(_ANEPerformanceStatsIOSurface *)stats statType] != 2) {
                continue;
            }
            id<FakeANESurface> surface = (id<FakeANESurface>)[[(_ANEPerformanceStatsIOSurface *)stats stats] ioSurface];
            if ([surface allocationSize] < 16) {
                continue;
            }
            uint32_t seed = 0;
            [surface lockWithOptions:0 seed:&seed];
            const uint64_t words[2] = {0, config.perf_stats_ns};
            std::memcpy([surface baseAddress], words, sizeof words);
            [surface unlockWithOptions:0 seed:&seed];
        }
    }
    path_counter.fetch_add(1);
    g_counters.evals.fetch_add(1);
    return YES;
}

extern "C" __attribute__((visibility("default"))) void fake_ane_set_evaluator(fake_ane_evaluator_fn fn,
                                                                              void *context) {
    std::unique_lock<std::shared_mutex> lock(g_evaluator_mutex);
    g_evaluator = fn;
    g_evaluator_context = context;
}

extern "C" __attribute__((visibility("default"))) void fake_ane_set_compile_checker(fake_ane_compile_checker_fn fn,
                                                                                    void *context) {
    std::unique_lock<std::shared_mutex> lock(g_checker_mutex);
    g_checker = fn;
    g_checker_context = context;
}
