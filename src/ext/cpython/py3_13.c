/* cpython/py3_13.c - the seam for CPython 3.13 (see internals.h).
 *
 * 3.13 keeps the current frame in tstate->current_frame, the next instruction
 * in frame->instr_ptr and the code object (or None) in frame->f_executable.
 * Shim frames are owned by the C stack or run a trampoline (their function is
 * None). Attribute values live inside the instance (Py_TPFLAGS_INLINE_VALUES),
 * and once __dict__ is read a dict may exist beside still-valid values. It is
 * the first version to publish _Py_DebugOffsets, which the import checks.
 */
#define Py_BUILD_CORE 1
#include "internals.h"

#include "compat.h"
#include "internal/pycore_code.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pystate.h"
#include "internal/pycore_runtime.h"

#if PY_VERSION_HEX < 0x030D0000 || PY_VERSION_HEX >= 0x030E0000
#error "cpython/py3_13.c is for CPython 3.13 (meson picks the file for the interpreter)"
#endif

/* ---- frames ------------------------------------------------------------ */

static inline _PyInterpreterFrame *hl__top_frame(PyThreadState *tstate) {
    return tstate->current_frame;
}
static inline int hl__may_be_shim(_PyInterpreterFrame *frame) {
    return frame->owner == FRAME_OWNED_BY_CSTACK || frame->f_funcobj == Py_None;
}
static inline int hl__is_incomplete(_PyInterpreterFrame *frame) {
    /* Checks the owner before it loads the code. */
    return _PyFrame_IsIncomplete(frame);
}
static inline PyCodeObject *hl__code(_PyInterpreterFrame *frame) {
    return _PyFrame_GetCode(frame);
}
static inline int hl__lasti(_PyInterpreterFrame *frame) {
    return _PyInterpreterFrame_LASTI(frame);
}
static inline PyObject *hl__function(_PyInterpreterFrame *frame) {
    return frame->f_funcobj;
}
static inline PyObject *hl__local(_PyInterpreterFrame *frame, int slot) {
    return frame->localsplus[slot];
}

#include "frame_walk.h"

PyThreadState *hlpy_cpython_gil_tstate(void) {
    return PyThreadState_GetUnchecked();
}

PyThreadState *hlpy_cpython_tstate_if_gil_held(void) {
    /* The calling thread's attached state, if it is the one that holds the
     * GIL (a state created by PyGILState may be attached without it). */
    PyThreadState *holder = PyThreadState_GetUnchecked();
    if (holder == NULL || holder != PyGILState_GetThisThreadState())
        return NULL;
    return holder;
}

int hlpy_cpython_gil_held_without_state(PyThreadState *own) {
    (void)own; /* a new interpreter's state is made before the caller's is swapped out */
    return 0;
}

int hlpy_cpython_is_finalizing(void) {
    return Py_IsFinalizing() != 0;
}

/* ---- the collector -------------------------------------------------------- */

static inline int hl__lists_examined(int max_generation) {
    return max_generation + 1;
}
#define HL__VISIT_WITH_PUBLIC_API 1
#include "gc_lists.h"

/* ---- objects ------------------------------------------------------------- */

static inline PyDictValues *hl__inline_values(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_INLINE_VALUES))
        return NULL;
    PyDictValues *values = _PyObject_InlineValues(obj);
    return values->valid ? values : NULL;
}
static inline Py_ssize_t hl__n_inline_values(PyDictValues *values, PyDictKeysObject *keys) {
    return keys->dk_nentries < values->capacity ? keys->dk_nentries : values->capacity;
}
static inline int hl__is_immortal(PyObject *obj) {
    return _Py_IsImmortal(obj);
}
#define HL__HAS_INLINE_VALUES 1
#include "objects.h"

PyObject *hlpy_cpython_managed_dict(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    return (PyObject *)_PyObject_ManagedDictPointer(obj)->dict;
}

PyObject *hlpy_cpython_dict_beside_inline_values(PyObject *obj) {
    if (hl__inline_values(obj) == NULL)
        return NULL;
    return hlpy_cpython_managed_dict(obj);
}

const void *hlpy_cpython_interned_table_candidate(void) {
    return _Py_INTERP_CACHED_OBJECT(PyInterpreterState_Main(), interned_strings);
}

#define HL__HAVE_DEBUG_OFFSETS 1
#include "layout_check.h"
