/* finalizers.h - which kind of finalizer an object's type has.
 *
 * Objects with finalizers in reference cycles are the hard case of the cyclic
 * collector: before 3.4 they were never freed (gc.garbage); since PEP 442 the
 * collector runs tp_finalize once and frees them unless the finalizer
 * resurrects them, and legacy tp_del still blocks collection.
 */
#ifndef HLPY_FINALIZERS_H
#define HLPY_FINALIZERS_H

#include <Python.h>

#include "hl_common.h"

/* The kind of finalizer instances of `type` have, as finalizer_kind() names
 * it (a static string), or NULL for none. Never fails; runs no Python code.
 * Needs the GIL. */
const char *hlpy_type_finalizer_kind(PyTypeObject *type);

/* finalizer_kind(obj) -> '__del__' (a method written in Python or a class's
 * __del__), 'tp_finalize' (a C finalizer, such as a generator's), 'tp_del'
 * (the legacy slot, which keeps cycles in gc.garbage), or None. METH_O module
 * function; runs no Python code. */
HL_WARN_UNUSED PyObject *hlpy_finalizer_kind(PyObject *module, PyObject *obj);

#endif /* HLPY_FINALIZERS_H */
