/* cpython/py3_12.c - the seam for CPython 3.12 (see internals.h).
 *
 * As 3.11 (tstate->cframe, frame->prev_instr, frame->f_code), with shim frames
 * (entry frames owned by the C stack, and trampolines such as the one after a
 * Python __init__, whose function is None), immortal objects, and
 * PyUnstable_GC_VisitObjects. A managed-dict instance holds either a pointer
 * to its values array or its dict, told apart by a tag bit.
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

#if PY_VERSION_HEX < 0x030C0000 || PY_VERSION_HEX >= 0x030D0000
#error "cpython/py3_12.c is for CPython 3.12 (meson picks the file for the interpreter)"
#endif

/* ---- frames ------------------------------------------------------------ */

static inline _PyInterpreterFrame *hl__top_frame(PyThreadState *tstate) {
    return tstate->cframe->current_frame;
}
static inline int hl__runs_no_code(_PyInterpreterFrame *frame) {
    return frame->owner == FRAME_OWNED_BY_CSTACK;
}
static inline int hl__may_be_trampoline(_PyInterpreterFrame *frame) {
    return frame->f_funcobj == Py_None;
}
static inline int hl__is_incomplete(_PyInterpreterFrame *frame) {
    return frame->owner == FRAME_OWNED_BY_CSTACK || _PyFrame_IsIncomplete(frame);
}
static inline PyCodeObject *hl__code(_PyInterpreterFrame *frame) {
    return frame->f_code;
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
    return _PyThreadState_UncheckedGet();
}

PyThreadState *hlpy_cpython_this_thread_tstate(void) {
    return _PyThreadState_UncheckedGet(); /* a thread-local since 3.12 */
}

int hlpy_cpython_gil_held_without_state(PyThreadState *own) {
    (void)own; /* a new interpreter's state is made before the caller's is swapped out */
    return 0;
}

#include "until_3_12.h"

/* ---- the collector -------------------------------------------------------- */

static inline int hl__lists_examined(int max_generation) {
    return max_generation + 1;
}
#define HL__VISIT_WITH_PUBLIC_API 1
#include "gc_lists.h"

/* ---- objects ------------------------------------------------------------- */

static inline PyDictValues *hl__inline_values(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
    return _PyDictOrValues_IsValues(dorv) ? _PyDictOrValues_GetValues(dorv) : NULL;
}
static inline Py_ssize_t hl__n_inline_values(PyDictValues *values, PyDictKeysObject *keys) {
    (void)values;
    return keys->dk_nentries;
}
static inline int hl__is_immortal(PyObject *obj) {
    return _Py_IsImmortal(obj);
}
#define HL__HAS_INLINE_VALUES 0
#include "objects.h"

PyObject *hlpy_cpython_managed_dict(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
    return _PyDictOrValues_IsValues(dorv) ? NULL : (PyObject *)_PyDictOrValues_GetDict(dorv);
}

PyObject *hlpy_cpython_dict_beside_inline_values(PyObject *obj) {
    (void)obj; /* 3.12 keeps either the values or the dict */
    return NULL;
}

const void *hlpy_cpython_interned_table_candidate(void) {
    return _Py_INTERP_CACHED_OBJECT(PyInterpreterState_Main(), interned_strings);
}

#define HL__HAVE_DEBUG_OFFSETS 0
#include "layout_check.h"
