// Declares the `anekit._core.ane` submodule initialiser, implemented in bind_ane.cpp. Kept out of
// csrc/ane/ane.h so that header stays pure C++ without pybind11; module.cpp calls init_ane(m) after
// init_surface(m) (the ANE bindings accept anekit.Surface objects).
#pragma once

#include <pybind11/pybind11.h>

void init_ane(pybind11::module_& m);
