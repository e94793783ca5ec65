// anekit._core.ane: Python bindings of the ANE backend interface (csrc/ane/ane.h).
//
// Compiled identically against the Objective-C++ backend and the no_ane.cpp stub (docs/internals/architecture.md §3.1).
// Plain C++: C++ exceptions from the backend (including those thrown by .mm code) are translated here. The
// GIL is released around compile, evaluate, load, unload and close; evaluation is serialised per model in
// the backend, so several Python threads may evaluate different models at once (docs/internals/ane-private-api.md §21).
#include "bind_ane.h"

#include <pybind11/stl.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../ane/ane.h"
#include "../core/surface.h"

namespace py = pybind11;
namespace ane = anekit::ane;

namespace {

// Exception types of the submodule, created once in init_ane and kept for the process lifetime (the
// translator below runs after init and must find them).
PyObject* g_unavailable_error = nullptr;
PyObject* g_framework_error = nullptr;
PyObject* g_compile_error = nullptr;

PyObject* new_exception(py::module_& m, const char* name, const py::object& bases, const char* doc) {
  const std::string qualified = std::string("anekit._core.ane.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(type));
  return type;  // one reference kept on purpose: the type lives as long as the process
}

// The Python hierarchy of anekit.errors (AneUnavailableError, CompileError(code=, domain=), AnekitError), so
// `except anekit.CompileError` catches compile failures raised here. anekit.errors is pure Python with no
// dependency on this extension; if it cannot be imported, the builtin bases are used instead.
py::object project_error(const char* name) {
  try {
    return py::module_::import("anekit.errors").attr(name);
  } catch (py::error_already_set&) {
    return py::none();
  }
}

void set_framework_error(PyObject* type, const ane::FrameworkError& e) {
  py::object cls = py::reinterpret_borrow<py::object>(type);
  py::object exc;
  try {
    // anekit.errors.CompileError takes code= and domain= keywords.
    exc = cls(py::str(e.what()), py::arg("code") = e.code(), py::arg("domain") = e.domain());
  } catch (py::error_already_set&) {
    exc = cls(py::str(e.what()));
  }
  exc.attr("domain") = e.domain();
  exc.attr("code") = e.code();
  exc.attr("description") = e.description();
  PyErr_SetObject(type, exc.ptr());
}

// A contiguous read-only view of a bytes-like object, held while the GIL is released.
class BufferView {
 public:
  explicit BufferView(const py::handle& obj, const std::string& what) {
    if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) {
      PyErr_Clear();
      throw py::type_error(what + " must be a C-contiguous bytes-like object (bytes, bytearray, memoryview, "
                                  "numpy array), got " + std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    }
    held_ = true;
  }
  ~BufferView() {
    if (held_) PyBuffer_Release(&view_);
  }
  BufferView(const BufferView&) = delete;
  BufferView& operator=(const BufferView&) = delete;
  const void* data() const { return view_.buf; }
  std::size_t size() const { return static_cast<std::size_t>(view_.len); }

 private:
  Py_buffer view_{};
  bool held_ = false;
};

std::vector<anekit::core::SurfaceStorage*> storages_of(const py::sequence& surfaces, const char* side) {
  std::vector<anekit::core::SurfaceStorage*> out;
  out.reserve(py::len(surfaces));
  std::size_t i = 0;
  for (py::handle h : surfaces) {
    anekit::core::Surface* s = nullptr;
    try {
      s = h.cast<anekit::core::Surface*>();
    } catch (const py::cast_error&) {
      throw py::type_error(std::string("[ane::Model::evaluate] ") + side + " " + std::to_string(i) +
                           " must be an anekit.Surface, got " + std::string(py::str(py::type::handle_of(h).attr("__name__"))));
    }
    if (s == nullptr) {
      throw py::type_error(std::string("[ane::Model::evaluate] ") + side + " " + std::to_string(i) + " is None");
    }
    out.push_back(&s->storage());
    ++i;
  }
  return out;
}

// ---- Python callbacks of the fake framework (fake_ane_api.h) ---------------------------------------------

// A Python exception raised inside a callback the fake calls must reach the caller as itself: the fake can
// only report "failed" through an NSError, which would turn KeyboardInterrupt or SystemExit into a
// FrameworkError. The trampoline parks the exception here (per thread: the fake calls back on the thread that
// called evaluate or compile), and the binding that made the call restores it instead of the NSError.
// Raw references, touched only with the GIL held, so no destructor runs at thread exit without the GIL.
struct PendingPythonError {
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* trace = nullptr;
};
thread_local PendingPythonError t_pending;

void park_python_error(py::error_already_set& e) {
  e.restore();
  PyObject* type = nullptr;
  PyObject* value = nullptr;
  PyObject* trace = nullptr;
  PyErr_Fetch(&type, &value, &trace);
  Py_XDECREF(t_pending.type);
  Py_XDECREF(t_pending.value);
  Py_XDECREF(t_pending.trace);
  t_pending = PendingPythonError{type, value, trace};
}

void drop_parked_error() {
  Py_CLEAR(t_pending.type);
  Py_CLEAR(t_pending.value);
  Py_CLEAR(t_pending.trace);
}

// Runs `call` (which releases the GIL itself) and, when it fails after a callback parked a Python exception,
// raises that exception instead of the framework's report of the failure.
template <typename F>
auto call_with_callbacks(F&& call) -> decltype(call()) {
  drop_parked_error();
  try {
    return call();
  } catch (const ane::FrameworkError&) {
    if (t_pending.type == nullptr) throw;
  }
  PendingPythonError parked = t_pending;
  t_pending = PendingPythonError{};
  PyErr_Restore(parked.type, parked.value, parked.trace);  // steals the references
  throw py::error_already_set();
}


struct PyCallback {
  py::object fn;
};

// The fake's evaluator and compile-checker slots are process-wide, so are these; only touched with the GIL.
PyCallback* g_evaluator = nullptr;
PyCallback* g_checker = nullptr;

void release_views(const py::dict& views) {
  for (auto item : views) {
    // Invalidate the views so a callback that kept one cannot touch unlocked surface memory later; a view
    // still exported (e.g. to numpy) cannot be released and is left as is.
    PyObject* r = PyObject_CallMethod(item.second.ptr(), "release", nullptr);
    if (r == nullptr) {
      PyErr_Clear();
    } else {
      Py_DECREF(r);
    }
  }
}

py::dict weights_dict(const fake_ane_weight* weights, std::size_t n) {
  py::dict d;
  for (std::size_t i = 0; i < n; ++i) {
    d[py::str(weights[i].path)] =
        py::memoryview::from_memory(weights[i].data, static_cast<py::ssize_t>(weights[i].nbytes));
  }
  return d;
}

int py_evaluator_trampoline(void* context, const fake_ane_eval_call* call, char* message, std::size_t capacity) {
  py::gil_scoped_acquire gil;
  auto* callback = static_cast<PyCallback*>(context);
  py::dict weights;
  py::dict inputs;
  py::dict outputs;
  int rc = 1;
  try {
    weights = weights_dict(call->weights, call->n_weights);
    for (std::size_t i = 0; i < call->n_inputs; ++i) {
      const fake_ane_tensor& t = call->inputs[i];
      inputs[py::str(t.name)] = py::memoryview::from_memory(static_cast<const void*>(t.data),
                                                            static_cast<py::ssize_t>(t.nbytes));
    }
    for (std::size_t i = 0; i < call->n_outputs; ++i) {
      const fake_ane_tensor& t = call->outputs[i];
      outputs[py::str(t.name)] = py::memoryview::from_memory(t.data, static_cast<py::ssize_t>(t.nbytes), false);
    }
    callback->fn(py::str(call->mil_text, call->mil_len), weights, inputs, outputs);
    rc = 0;
  } catch (py::error_already_set& e) {
    std::snprintf(message, capacity, "%s", e.what());
    park_python_error(e);
  } catch (const std::exception& e) {
    std::snprintf(message, capacity, "%s", e.what());
  }
  release_views(weights);
  release_views(inputs);
  release_views(outputs);
  return rc;
}

int py_checker_trampoline(void* context, const char* mil_text, std::size_t mil_len, const fake_ane_weight* weights,
                          std::size_t n_weights, char* message, std::size_t capacity) {
  py::gil_scoped_acquire gil;
  auto* callback = static_cast<PyCallback*>(context);
  py::dict views;
  int rc = 1;
  try {
    views = weights_dict(weights, n_weights);
    callback->fn(py::str(mil_text, mil_len), views);
    rc = 0;
  } catch (py::error_already_set& e) {
    std::snprintf(message, capacity, "%s", e.what());
    // A ValueError (anekit.MILError included) is the checker's verdict on the program: the compile fails
    // with the compiler's CompileError. Anything else (KeyboardInterrupt, SystemExit, a bug) stays itself.
    if (!e.matches(PyExc_ValueError)) park_python_error(e);
  } catch (const std::exception& e) {
    std::snprintf(message, capacity, "%s", e.what());
  }
  release_views(views);
  return rc;
}

// Installs `fn` (or None) in `slot` through the backend's setter `install(trampoline, context)`.
template <typename Trampoline, typename Install>
void set_callback(PyCallback*& slot, const py::object& fn, const char* where, Trampoline trampoline,
                  Install install) {
  if (!fn.is_none() && !PyCallable_Check(fn.ptr())) {
    throw py::type_error(std::string("[") + where + "] expected a callable or None");
  }
  PyCallback* next = fn.is_none() ? nullptr : new PyCallback{fn};
  {
    // The fake waits for calls still running the previous callback; they need the GIL to finish.
    py::gil_scoped_release release;
    try {
      install(next != nullptr ? trampoline : nullptr, next);
    } catch (...) {
      py::gil_scoped_acquire gil;
      delete next;
      throw;
    }
  }
  delete slot;
  slot = next;
}

void set_evaluator(const py::object& fn) {
  set_callback(g_evaluator, fn, "ane::set_fake_evaluator", &py_evaluator_trampoline, &ane::set_fake_evaluator);
}

void set_checker(const py::object& fn) {
  set_callback(g_checker, fn, "ane::set_fake_compile_checker", &py_checker_trampoline,
               &ane::set_fake_compile_checker);
}

py::dict runtime_info_dict() {
  const ane::RuntimeInfo info = ane::runtime_info();
  py::dict d;
  d["built"] = info.built;
  d["available"] = info.available;
  d["reason"] = info.reason;
  d["framework_path"] = info.framework_path;
  d["is_fake"] = info.is_fake;
  d["model_root"] = info.model_root;
  d["execution_paths"] = info.execution_paths;
  d["fake_stats"] = info.fake_stats;
  return d;
}

}  // namespace

void init_ane(py::module_& m) {
  py::module_ a = m.def_submodule(
      "ane", "The ANE backend: Objective-C++ over the private AppleNeuralEngine.framework (or the fake on Linux).");

  const py::object anekit_error = project_error("AnekitError");
  const py::object unavailable_base = project_error("AneUnavailableError");
  const py::object compile_base = project_error("CompileError");
  const py::handle runtime_error(PyExc_RuntimeError);
  g_unavailable_error = new_exception(a, "UnavailableError",
                                      unavailable_base.is_none() ? py::tuple(py::make_tuple(runtime_error))
                                                                 : py::tuple(py::make_tuple(unavailable_base)),
                                      "The ANE backend, the framework, a private class or an execution path is "
                                      "not available; the message says which.");
  g_framework_error = new_exception(a, "FrameworkError",
                                    anekit_error.is_none() ? py::tuple(py::make_tuple(runtime_error))
                                                           : py::tuple(py::make_tuple(anekit_error, runtime_error)),
                                    "An NSError or NSException from the framework. Attributes: domain (NSError "
                                    "domain or exception name), code (NSError code, 0 for exceptions), "
                                    "description (the framework's text).");
  const py::handle framework_error(g_framework_error);
  g_compile_error = new_exception(a, "CompileError",
                                  compile_base.is_none() ? py::tuple(py::make_tuple(framework_error))
                                                         : py::tuple(py::make_tuple(compile_base, framework_error)),
                                  "compileWithQoS: or loadWithQoS: failed; carries the framework's domain, code "
                                  "and description.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ane::CompileError& e) {
      set_framework_error(g_compile_error, e);
    } catch (const ane::FrameworkError& e) {
      set_framework_error(g_framework_error, e);
    } catch (const ane::UnavailableError& e) {
      PyErr_SetString(g_unavailable_error, e.what());
    }
  });

  a.attr("DEFAULT_QOS") = ane::kDefaultQoS;
  a.attr("DEFAULT_FRAMEWORK_PATH") = ane::kDefaultFrameworkPath;
  a.attr("EXECUTION_PATHS") = py::make_tuple("standard", "realtime", "process_request", "direct");

  a.def("built", &ane::built, "Whether the Objective-C++ backend was compiled into this build.");
  a.def(
      "initialize",
      [](const std::string& path) {
        std::string why;
        const bool ok = ane::initialize(path, why);
        return py::make_tuple(ok, why);
      },
      py::arg("framework_path"),
      "Load the framework at framework_path once per process; returns (usable, reason_if_not). After a success, "
      "another path returns (False, reason): Objective-C classes cannot be unloaded.");
  a.def(
      "is_available",
      [] {
        std::string why;
        const bool ok = ane::is_available(&why);
        return py::make_tuple(ok, why);
      },
      "(usable, reason_if_not) for the framework loaded by initialize().");
  a.def("runtime_info", &runtime_info_dict,
        "What was loaded: built, available, reason, framework_path, is_fake, model_root, execution_paths, "
        "fake_stats.");

  py::class_<ane::Model, std::shared_ptr<ane::Model>>(a, "Model",
                                                      "A compiled and loaded MIL program (from compile()).")
      .def_property_readonly("hex_identifier", &ane::Model::hex_identifier,
                             "The framework's hexStringIdentifier (names the model directory).")
      .def_property_readonly("model_dir", &ane::Model::model_dir,
                             "NSTemporaryDirectory()/<hex_identifier>, deleted when the last model using it closes.")
      .def_property_readonly("loaded", &ane::Model::loaded)
      .def_property_readonly(
          "binding",
          [](const ane::Model& self) {
            const ane::Binding b = self.binding();
            return py::make_tuple(b.source, b.input_indices, b.output_indices);
          },
          "(source, input_indices, output_indices): the request index of each surface (declaration order) and "
          "where it came from, 'modelAttributes' or 'declaration'.")
      .def("model_attributes", &ane::Model::model_attributes,
           "The loaded model's modelAttributes as JSON text (or the dictionary's description when it is not JSON); "
           "'' when the framework reports none.")
      .def_property_readonly("closed", &ane::Model::closed)
      .def(
          "state",
          [](const ane::Model& self) {
            py::gil_scoped_release release;
            return self.state();
          },
          "The framework's -state value (3 = loaded).")
      .def(
          "evaluate",
          [](ane::Model& self, const py::sequence& inputs, const py::sequence& outputs, const std::string& path,
             unsigned qos) -> py::object {
            const ane::ExecutionPath p = ane::parse_path(path);
            const auto ins = storages_of(inputs, "input");
            const auto outs = storages_of(outputs, "output");
            const ane::EvalResult r = call_with_callbacks([&] {
              py::gil_scoped_release release;
              return self.evaluate(ins, outs, p, qos);
            });
            return r.hw_execution_ns ? py::object(py::int_(*r.hw_execution_ns)) : py::object(py::none());
          },
          py::arg("inputs"), py::arg("outputs"), py::arg("path") = "standard", py::arg("qos") = ane::kDefaultQoS,
          "Evaluate once, synchronously. inputs/outputs: IOSurface-backed anekit.Surface objects in MIL signature "
          "and output-tuple order. Returns the hardware execution time in ns when the framework reports it, else "
          "None.")
      .def(
          "unload", [](ane::Model& self, unsigned qos) {
            py::gil_scoped_release release;
            self.unload(qos);
          },
          py::arg("qos") = ane::kDefaultQoS, "unloadWithQoS:error: (does not give compile budget back).")
      .def(
          "load", [](ane::Model& self, unsigned qos) {
            py::gil_scoped_release release;
            self.load(qos);
          },
          py::arg("qos") = ane::kDefaultQoS, "loadWithQoS: again after unload().")
      .def(
          "close", [](ane::Model& self) {
            py::gil_scoped_release release;
            self.close();
          },
          "Unload and release everything, delete the model directory with its last user. Idempotent.")
      .def("__enter__", [](py::object self) { return self; })
      .def(
          "__exit__",
          [](ane::Model& self, const py::object&, const py::object&, const py::object&) {
            py::gil_scoped_release release;
            self.close();
          },
          py::arg("exc_type"), py::arg("exc"), py::arg("tb"))
      .def("__repr__", [](const ane::Model& self) {
        return "<anekit._core.ane.Model " + (self.closed() ? std::string("closed") : self.hex_identifier()) + ">";
      });

  a.def(
      "compile",
      [](const std::string& mil_text, const py::object& weights, unsigned qos, bool perf_stats,
         const std::vector<std::string>& input_names, const std::vector<std::string>& output_names) {
        std::vector<std::unique_ptr<BufferView>> views;
        std::vector<ane::WeightFile> files;
        if (!weights.is_none()) {
          if (!py::isinstance<py::dict>(weights)) {
            throw py::type_error("[ane::compile] weights must be a dict {\"@model_path/...\": bytes-like} or None");
          }
          for (auto item : py::reinterpret_borrow<py::dict>(weights)) {
            if (!py::isinstance<py::str>(item.first)) {
              throw py::type_error("[ane::compile] weights keys must be str BLOBFILE paths");
            }
            const std::string path = item.first.cast<std::string>();
            views.push_back(std::make_unique<BufferView>(item.second, "[ane::compile] weights['" + path + "']"));
            files.push_back(ane::WeightFile{path, views.back()->data(), views.back()->size()});
          }
        }
        ane::CompileOptions options;
        options.qos = qos;
        options.perf_stats = perf_stats;
        options.input_names = input_names;
        options.output_names = output_names;
        std::unique_ptr<ane::Model> model = call_with_callbacks([&] {
          py::gil_scoped_release release;
          return ane::compile(mil_text, files, options);
        });
        return std::shared_ptr<ane::Model>(std::move(model));
      },
      py::arg("mil_text"), py::arg("weights") = py::none(), py::kw_only(), py::arg("qos") = ane::kDefaultQoS,
      py::arg("perf_stats") = false, py::arg("input_names") = std::vector<std::string>{},
      py::arg("output_names") = std::vector<std::string>{},
      "Compile and load a MIL program; weights maps each BLOBFILE path (\"@model_path/weights/x.bin\") to the "
      "whole blob file. input_names/output_names (declaration order) let the loaded model's modelAttributes "
      "choose each surface's request index. Raises CompileError with the framework's domain/code/description "
      "when it is refused.");

  a.def("install_surface_allocator", &ane::install_surface_allocator,
        "Make every new anekit.Surface IOSurface-backed (done automatically at import when the backend is built).");

  a.def(
      "fake_configure",
      [](const std::string& mode, long long compile_budget, const std::string& budget_end, const std::string& binding,
         const std::string& surfaces, std::uint64_t min_surface_bytes, bool model_attributes,
         const std::set<std::string>& faults, const std::set<std::string>& disabled_selectors,
         std::uint64_t perf_stats_ns) {
        ane::FakeConfig c;
        c.mode = mode;
        c.compile_budget = compile_budget;
        c.budget_end = budget_end;
        c.binding = binding;
        c.surfaces = surfaces;
        c.min_surface_bytes = min_surface_bytes;
        c.model_attributes = model_attributes;
        c.faults = faults;
        c.disabled_selectors = disabled_selectors;
        c.perf_stats_ns = perf_stats_ns;
        ane::fake_configure(c);
      },
      py::kw_only(), py::arg("mode") = "echo", py::arg("compile_budget") = -1, py::arg("budget_end") = "loud",
      py::arg("binding") = "declaration", py::arg("surfaces") = "exact", py::arg("min_surface_bytes") = 0,
      py::arg("model_attributes") = true, py::arg("faults") = std::set<std::string>{},
      py::arg("disabled_selectors") = std::set<std::string>{}, py::arg("perf_stats_ns") = 0,
      "Fake framework only: replace its configuration. mode 'echo'|'reference'; compile_budget (-1 = unlimited) "
      "with budget_end 'loud'|'silent'|'crash'; binding 'declaration'|'alphabetical' and surfaces 'exact'|'uniform' "
      "(captured by each model at compile time); min_surface_bytes refused at evaluate; model_attributes: loaded "
      "models report their symbol tables; faults from anekit.testing.FAULTS; disabled_selectors of _ANEClient; "
      "perf_stats_ns > 0 writes that hardware time into statType-2 stats surfaces.");
  a.def("fake_reset", &ane::fake_reset,
        "Fake framework only: default configuration; activity counters and compile budget back to zero.");
  a.def("fake_stats", &ane::fake_stats, "Fake framework only: its counters (compiles, evals, liveModels, ...).");
  a.def("set_fake_evaluator", &set_evaluator, py::arg("fn"),
        "Fake framework only: fn(mil_text, weights, inputs, outputs) computes outputs in mode 'reference'. "
        "weights/inputs map names to read-only memoryviews, outputs to writable ones, valid only during the call. "
        "None removes it.");
  a.def("set_fake_compile_checker", &set_checker, py::arg("fn"),
        "Fake framework only: fn(mil_text, weights) runs on every compile and raises to reject the program (the "
        "compile then fails with CompileError 'InvalidMILProgram (fake): <message>'). None removes it.");

  if (ane::built()) {
    ane::install_surface_allocator();
    // Drop the Python callbacks before the interpreter goes away.
    py::module_::import("atexit").attr("register")(py::cpp_function([] {
      if ((g_evaluator != nullptr || g_checker != nullptr) && ane::is_available(nullptr) &&
          ane::runtime_info().is_fake) {
        set_evaluator(py::none());
        set_checker(py::none());
      }
    }));
  }
}
