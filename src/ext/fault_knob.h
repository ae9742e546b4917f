/* fault_knob.h - _core._fault_inject() and _core._fault_disarm(): the core's
 * allocation-failure knob (src/core/hl_alloc.h) seen from Python, in a build
 * with meson -Dfault_injection=true only. In any other build the module has
 * neither function and HLPY_FAULT_KNOB_METHODS is empty, so tests can ask
 * hasattr(_core, "_fault_inject"). */
#ifndef HLPY_FAULT_KNOB_H
#define HLPY_FAULT_KNOB_H

#include <Python.h>

#include "hl_common.h"

#ifdef HL_FAULT_INJECTION

/* _fault_inject(n, persistent=False): fail the core's nth allocation from
 * now (n >= 1), and every later one too when persistent, until
 * _fault_disarm(). Returns None; ValueError when n < 1. */
HL_WARN_UNUSED PyObject *hlpy_fault_inject(PyObject *module, PyObject *args, PyObject *kwargs);

/* _fault_disarm() -> (allocations seen, allocations failed) since the arming. */
HL_WARN_UNUSED PyObject *hlpy_fault_disarm(PyObject *module, PyObject *unused);

#define HLPY_FAULT_KNOB_METHODS                                                                    \
    {"_fault_inject", (PyCFunction)(void (*)(void))hlpy_fault_inject,                              \
     METH_VARARGS | METH_KEYWORDS,                                                                 \
     "_fault_inject(n, persistent=False): fail the core's nth allocation from now (tests)"},       \
        {"_fault_disarm", hlpy_fault_disarm, METH_NOARGS,                                          \
         "_fault_disarm() -> (seen, failed): stop failing the core's allocations (tests)"},

#else

#define HLPY_FAULT_KNOB_METHODS

#endif /* HL_FAULT_INJECTION */

#endif /* HLPY_FAULT_KNOB_H */
