/* fault_knob.c - the core's allocation-failure knob for Python tests (see
 * fault_knob.h). Built into every extension, empty unless HL_FAULT_INJECTION. */
#include "fault_knob.h"

#ifdef HL_FAULT_INJECTION

#include "hl_alloc.h"

PyObject *hlpy_fault_inject(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"n", "persistent", NULL};
    unsigned long long n;
    int persistent = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "K|p:_fault_inject", keywords, &n, &persistent))
        return NULL;
    if (n < 1) {
        PyErr_SetString(PyExc_ValueError, "_fault_inject: n counts from 1 (the next allocation)");
        return NULL;
    }
    hl_fault_arm((uint64_t)n, persistent);
    Py_RETURN_NONE;
}

PyObject *hlpy_fault_disarm(PyObject *module, PyObject *unused) {
    hl_fault_disarm();
    return Py_BuildValue("(KK)", (unsigned long long)hl_fault_seen(),
                         (unsigned long long)hl_fault_injected());
}

#else

typedef int hlpy__fault_injection_is_off; /* ISO C wants a declaration in every file */

#endif /* HL_FAULT_INJECTION */
