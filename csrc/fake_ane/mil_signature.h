// I/O byte sizes of a MIL program's `func main`, for the fake framework's request checks.
//
// The fake enforces that request surfaces match the sizes the program declares
// (docs/internals/linux-objc-toolchain.md §6.2). It reads them from the text itself: the parameters of
// `func main<...>(tensor<dtype, [dims]> name, ...)` and the names in the closing `} -> (a, b);`, whose types
// come from their declarations in the body (docs/internals/mil-format.md §4, §5, §7.5). Pure C++, no Objective-C.
#ifndef ANEKIT_FAKE_ANE_MIL_SIGNATURE_H
#define ANEKIT_FAKE_ANE_MIL_SIGNATURE_H

#include <cstdint>
#include <string>
#include <vector>

namespace anekit::fake_ane {

struct TensorSpec {
    std::string name;
    std::string dtype;       // e.g. "fp16"; empty for non-tensor parameters (state<...>)
    std::int64_t nbytes{-1};  // -1 when the shape has unknown ('?') dimensions or the dtype has no byte size
};

struct MainSignature {
    std::vector<TensorSpec> inputs;
    std::vector<TensorSpec> outputs;
};

// Parses `func main` of `text`. On failure returns false and sets `error` to a message naming the problem.
bool parse_main_signature(const std::string& text, MainSignature& out, std::string& error);

}  // namespace anekit::fake_ane

#endif  // ANEKIT_FAKE_ANE_MIL_SIGNATURE_H
