/*
 * C interface of the fake AppleNeuralEngine framework's evaluation hook (Linux test builds only).
 *
 * The fake framework (FakeAppleNeuralEngine.mm, a separate MODULE shared object) stays free of Python: in
 * mode "reference" its evaluate hands the compiled program (MIL text, the weights captured at compile time)
 * and the request's surfaces to an evaluator registered with fake_ane_set_evaluator(). anekit's bindings
 * register one that runs the Python reference executor (docs/internals/architecture.md §3.3,
 * docs/internals/linux-objc-toolchain.md §6.2). The ANE backend finds the function with dlsym() on the framework handle,
 * so nothing links against the fake.
 *
 * Plain C: included from C++ (bindings, backend) and Objective-C++ (the fake).
 */
#ifndef ANEKIT_FAKE_ANE_API_H
#define ANEKIT_FAKE_ANE_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Name of the registration function, for dlsym(). */
#define FAKE_ANE_SET_EVALUATOR_SYMBOL "fake_ane_set_evaluator"

/* One weights-dictionary entry as captured at compile time (docs/internals/ane-private-api.md §7). */
typedef struct fake_ane_weight {
    const char *path; /* dictionary key, e.g. "@model_path/weights/weight.bin" (NUL-terminated) */
    const void *data; /* the whole blob file */
    size_t nbytes;
    uint64_t offset; /* the dictionary's "offset" value */
} fake_ane_weight;

/* One request surface, named after the MIL `func main` parameter or output (symbol) it is bound to. */
typedef struct fake_ane_tensor {
    const char *name;
    void *data;    /* locked surface memory (read-only for inputs); the tensor is packed at offset 0 */
    size_t nbytes; /* the tensor's declared byte size (the surface may be larger) */
} fake_ane_tensor;

typedef struct fake_ane_eval_call {
    const char *mil_text; /* UTF-8, NUL-terminated */
    size_t mil_len;
    const fake_ane_weight *weights;
    size_t n_weights;
    const fake_ane_tensor *inputs; /* in request order, each named by the symbol its index binds to */
    size_t n_inputs;
    const fake_ane_tensor *outputs; /* likewise */
    size_t n_outputs;
} fake_ane_eval_call;

/*
 * Evaluator: writes every output from the inputs. Returns 0 on success; otherwise writes a NUL-terminated
 * message (at most message_capacity bytes including the NUL) that the fake reports as an NSError.
 * Called on the thread that called evaluate, with no fake-internal lock held except a shared lock that
 * fake_ane_set_evaluator() waits for.
 */
typedef int (*fake_ane_evaluator_fn)(void *context, const fake_ane_eval_call *call, char *message,
                                     size_t message_capacity);

/*
 * Installs (fn != NULL) or removes (fn == NULL) the evaluator used in mode "reference". Blocks until
 * evaluations that are running the previous evaluator have returned, so the caller may free the previous
 * context afterwards. Must not be called from inside an evaluator.
 */
void fake_ane_set_evaluator(fake_ane_evaluator_fn fn, void *context);
typedef void (*fake_ane_set_evaluator_fn)(fake_ane_evaluator_fn fn, void *context);

/* Name of the compile-checker registration function, for dlsym(). */
#define FAKE_ANE_SET_COMPILE_CHECKER_SYMBOL "fake_ane_set_compile_checker"

/*
 * Compile checker: called by compileWithQoS:options:error: (after the fake's own checks) with the MIL text and
 * the weights, so that the program can be validated the way the real compiler would (anekit registers
 * anekit.mil.parse). Returns 0 to accept; otherwise writes a NUL-terminated message and the compile fails with
 * an NSError "InvalidMILProgram (fake): <message>".
 */
typedef int (*fake_ane_compile_checker_fn)(void *context, const char *mil_text, size_t mil_len,
                                           const fake_ane_weight *weights, size_t n_weights, char *message,
                                           size_t message_capacity);

/* Installs or removes the compile checker; same waiting rule as fake_ane_set_evaluator(). */
void fake_ane_set_compile_checker(fake_ane_compile_checker_fn fn, void *context);
typedef void (*fake_ane_set_compile_checker_fn)(fake_ane_compile_checker_fn fn, void *context);

#ifdef __cplusplus
}
#endif

#endif /* ANEKIT_FAKE_ANE_API_H */
