/* cpython/compat.h - differences in CPython's public C API between versions.
 *
 * Only public names here (what Python.h declares without Py_BUILD_CORE); what
 * reaches into the interpreter's internals is in internals.h. Any file of the
 * binding may include this header.
 */
#ifndef HLPY_CPYTHON_COMPAT_H
#define HLPY_CPYTHON_COMPAT_H

#include <Python.h>

#if PY_VERSION_HEX < 0x030B0000
#error "heaplens needs CPython 3.11 or newer"
#endif

#ifdef Py_GIL_DISABLED
#error "heaplens does not support free-threaded CPython builds yet (see docs/free-threading.md)"
#endif

/* Type flags a version may lack: 0 there, so tests of them are false. */
#ifdef Py_TPFLAGS_INLINE_VALUES /* 3.13 */
#define HLPY_TPFLAGS_INLINE_VALUES Py_TPFLAGS_INLINE_VALUES
#else
#define HLPY_TPFLAGS_INLINE_VALUES 0
#endif
#ifdef Py_TPFLAGS_MANAGED_WEAKREF /* 3.12 */
#define HLPY_TPFLAGS_MANAGED_WEAKREF Py_TPFLAGS_MANAGED_WEAKREF
#else
#define HLPY_TPFLAGS_MANAGED_WEAKREF 0
#endif

/* PyRefTracer (3.13): a callback the interpreter calls for every object it
 * creates, one taken from a free list included, as CPython's own tracemalloc
 * uses it to move a reused block's trace to the line that reused it. 1 where
 * the running version has it, else 0. */
#if PY_VERSION_HEX >= 0x030D0000
#define HLPY_HAVE_REF_TRACER 1
#else
#define HLPY_HAVE_REF_TRACER 0
#endif

/* Module slots for subinterpreters (3.12) and free threading (3.13). The
 * module keeps process-wide state (the allocator hooks, static types), so it
 * may be imported by the main interpreter and by legacy subinterpreters that
 * share its GIL, never by one with its own GIL. */
#ifdef Py_mod_multiple_interpreters
#define HLPY_MODULE_INTERPRETER_SLOTS                                                              \
    {Py_mod_multiple_interpreters, Py_MOD_MULTIPLE_INTERPRETERS_SUPPORTED},
#else
#define HLPY_MODULE_INTERPRETER_SLOTS
#endif
#ifdef Py_mod_gil
#define HLPY_MODULE_GIL_SLOTS {Py_mod_gil, Py_MOD_GIL_USED},
#else
#define HLPY_MODULE_GIL_SLOTS
#endif

#endif /* HLPY_CPYTHON_COMPAT_H */
