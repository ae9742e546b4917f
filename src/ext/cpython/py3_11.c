/* cpython/py3_11.c - the seam for CPython 3.11 (see internals.h).
 *
 * 3.11 keeps the current frame in tstate->cframe, the last executed
 * instruction in frame->prev_instr and the code object in frame->f_code. It
 * has no shim frames, no immortal objects, and no public way to visit the
 * collector's objects, so the lists are walked as gc.get_objects() walks them.
 * Attribute values of a managed-dict instance live in a separate array that
 * the object points to.
 */
#define Py_BUILD_CORE 1
#include "internals.h"

#include <sched.h>
#include <sys/uio.h>
#include <unistd.h>

#include "compat.h"
#include "internal/pycore_code.h"
#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_object.h"
#include "internal/pycore_pystate.h"

#if PY_VERSION_HEX < 0x030B0000 || PY_VERSION_HEX >= 0x030C0000
#error "cpython/py3_11.c is for CPython 3.11 (meson picks the file for the interpreter)"
#endif

/* ---- frames ------------------------------------------------------------ */

/* frame_walk.h: an invocation of the eval loop flags its first frame
 * (is_entry) and keeps its _PyCFrame on the C stack. */
#define HL__ENTRY_FLAGGED 1

static inline _PyInterpreterFrame *hl__top_frame(PyThreadState *tstate) {
    return tstate->cframe->current_frame;
}
static inline int hl__runs_no_code(_PyInterpreterFrame *frame) {
    (void)frame;
    return 0; /* 3.11 has no shim frames: an entry frame is flagged, not added */
}
static inline int hl__may_be_trampoline(_PyInterpreterFrame *frame) {
    (void)frame;
    return 0;
}
static inline int hl__is_incomplete(_PyInterpreterFrame *frame) {
    return _PyFrame_IsIncomplete(frame);
}
static inline PyCodeObject *hl__code(_PyInterpreterFrame *frame) {
    return frame->f_code;
}
static inline int hl__lasti(_PyInterpreterFrame *frame) {
    return _PyInterpreterFrame_LASTI(frame);
}
static inline PyObject *hl__function(_PyInterpreterFrame *frame) {
    return (PyObject *)frame->f_func;
}
static inline PyObject *hl__local(_PyInterpreterFrame *frame, int slot) {
    return frame->localsplus[slot];
}

#include "frame_walk.h"

PyThreadState *hlpy_cpython_gil_tstate(void) {
    return _PyThreadState_UncheckedGet();
}

/* Copy size bytes at address into out without touching them in this thread:
 * the kernel reads them, and answers EFAULT instead of a crash when the
 * memory is gone. Returns 0, or -1 when they could not be read. */
static int hl__read_without_touching(const void *address, void *out, size_t size) {
    struct iovec local = {out, size};
    struct iovec remote = {(void *)address, size};
    return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == (ssize_t)size ? 0 : -1;
}

PyThreadState *hlpy_cpython_this_thread_tstate(void) {
    /* 3.11 answers with the GIL holder of any thread. It is this thread's when
     * it runs on this thread, which may be another state than this thread's
     * PyGILState one (Py_NewInterpreter runs the new interpreter's state on
     * the calling thread); a caller that took that for "no GIL" would wait for
     * the GIL it holds. Another thread's state may be freed at any moment, so
     * its thread id is copied by the kernel, never read here (ASan saw the
     * plain read touch a freed state), and the holder is re-read after it: a
     * thread clears the holder before its state is freed, so a holder still
     * in place was not freed before the id was copied. */
    PyThreadState *holder = _PyThreadState_UncheckedGet();
    if (holder == NULL)
        return NULL;
    if (holder == PyGILState_GetThisThreadState())
        return holder;
    unsigned long holder_thread;
    if (hl__read_without_touching(&holder->thread_id, &holder_thread, sizeof holder_thread) < 0)
        return NULL; /* freed and unmapped: not this thread's, which is running here */
    if (_PyThreadState_UncheckedGet() != holder || holder_thread != PyThread_get_thread_ident())
        return NULL;
    return holder;
}

int hlpy_cpython_gil_held_without_state(PyThreadState *own) {
    /* 3.11 keeps one current state for the process: whoever holds the GIL
     * runs it, and Py_NewInterpreter swaps its caller's state out (current:
     * NULL) while keeping the GIL. The GIL does not say which thread holds
     * it (last_holder may be a state freed since), but only its holder can
     * change `current` or release it: when either changes while this thread
     * watches, the holder was another thread, between taking the GIL and
     * swapping its state in (or out and releasing it), and waiting is safe.
     * A state that stays put for a while is taken to be this thread's own
     * window; the rare other thread descheduled in that window costs one
     * block's stack, never a hang. (Answering "held" at the first sight lost
     * a tenth of the stacks of threads allocating while others took and
     * dropped the GIL.) */
    (void)own;
    struct _gil_runtime_state *gil = &_PyRuntime.ceval.gil;
    for (int look = 0; look < 64; look++) {
        if (_PyThreadState_UncheckedGet() != NULL || _Py_atomic_load_relaxed(&gil->locked) == 0)
            return 0;
        if (look >= 8)
            sched_yield();
    }
    return 1;
}

#include "until_3_12.h"

/* ---- the collector -------------------------------------------------------- */

static inline int hl__lists_examined(int max_generation) {
    return max_generation + 1;
}
#define HL__VISIT_WITH_PUBLIC_API 0
#include "gc_lists.h"

/* ---- objects ------------------------------------------------------------- */

static inline PyDictValues *hl__inline_values(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    return *_PyObject_ValuesPointer(obj);
}
static inline Py_ssize_t hl__n_inline_values(PyDictValues *values, PyDictKeysObject *keys) {
    (void)values;
    return keys->dk_nentries;
}
static inline int hl__is_immortal(PyObject *obj) {
    (void)obj;
    return 0;
}
#define HL__HAS_INLINE_VALUES 0
#include "objects.h"

PyObject *hlpy_cpython_managed_dict(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    return *_PyObject_ManagedDictPointer(obj);
}

PyObject *hlpy_cpython_dict_beside_inline_values(PyObject *obj) {
    (void)obj; /* 3.11 keeps either the values or the dict */
    return NULL;
}

const void *hlpy_cpython_interned_table_candidate(void) {
    return NULL; /* a static of unicodeobject.c, and never tracked */
}

#define HL__HAVE_DEBUG_OFFSETS 0
#include "layout_check.h"
