/* cpython/py3_15.c - the seam for CPython 3.15 (see internals.h).
 *
 * As 3.14: a frame's code object, function and local slots are _PyStackRef
 * values, read with CPython's own untagging functions (3.15 unified the tag
 * bits: an empty slot is no longer a zero word, and unboxed integers share the
 * tag space). FRAME_OWNED_BY_CSTACK is gone: every shim, the thread's
 * base_frame sentinel included, is owned by the interpreter, and its owner is
 * checked before anything else is read. The collector keeps three
 * generations.
 */
#define Py_BUILD_CORE 1
#include "internals.h"

#include "compat.h"
#include "internal/pycore_code.h"
#include "internal/pycore_debug_offsets.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_freelist_state.h"
#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_interpframe.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pystate.h"
#include "internal/pycore_runtime.h"
#include "internal/pycore_stackref.h"

#if PY_VERSION_HEX < 0x030F0000 || PY_VERSION_HEX >= 0x03100000
#error "cpython/py3_15.c is for CPython 3.15 (meson picks the file for the interpreter)"
#endif

/* ---- frames ------------------------------------------------------------ */

/* The object a stack reference holds (borrowed), or NULL for an empty slot
 * or an unboxed integer. */
static inline PyObject *hl__untag(_PyStackRef ref) {
    if (PyStackRef_IsNull(ref) || PyStackRef_IsTaggedInt(ref))
        return NULL;
    return PyStackRef_AsPyObjectBorrow(ref);
}

static inline _PyInterpreterFrame *hl__top_frame(PyThreadState *tstate) {
    return tstate->current_frame;
}
static inline int hl__may_be_shim(_PyInterpreterFrame *frame) {
    /* A trampoline (the shim that finishes a class's __init__ call) is owned
     * by the thread like any frame; its function is None. */
    return frame->owner >= FRAME_OWNED_BY_INTERPRETER || PyStackRef_IsNone(frame->f_funcobj);
}
static inline int hl__is_incomplete(_PyInterpreterFrame *frame) {
    if (frame->owner >= FRAME_OWNED_BY_INTERPRETER)
        return 1;
    PyObject *executable = hl__untag(frame->f_executable);
    if (executable == NULL || !PyCode_Check(executable))
        return 1;
    return _PyFrame_IsIncomplete(frame);
}
static inline PyCodeObject *hl__code(_PyInterpreterFrame *frame) {
    return _PyFrame_GetCode(frame);
}
static inline int hl__lasti(_PyInterpreterFrame *frame) {
    return _PyInterpreterFrame_LASTI(frame);
}
static inline PyObject *hl__function(_PyInterpreterFrame *frame) {
    return hl__untag(frame->f_funcobj);
}
static inline PyObject *hl__local(_PyInterpreterFrame *frame, int slot) {
    return hl__untag(frame->localsplus[slot]);
}

#include "frame_walk.h"

PyThreadState *hlpy_cpython_gil_tstate(void) {
    return PyThreadState_GetUnchecked();
}

PyThreadState *hlpy_cpython_tstate_if_gil_held(void) {
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
    return PyUnstable_IsImmortal(obj);
}
#define HL__HAS_INLINE_VALUES 1
#define HL__LINKED_FREE_LISTS 1
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
