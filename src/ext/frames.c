/* frames.c - per-version access to CPython internals (see frames.h).
 *
 * CPython 3.11 and 3.12 keep the current frame in tstate->cframe and the last
 * executed instruction in frame->prev_instr; 3.13 keeps it in
 * tstate->current_frame and frame->instr_ptr, and names the code object
 * through _PyFrame_GetCode(). Each version's differences are the macros in the
 * first block; the logic below is shared. Frames are read, never created.
 */
#define Py_BUILD_CORE 1
#include "frames.h"

#include "internal/pycore_dict.h"
#include "internal/pycore_frame.h"
#include "internal/pycore_gc.h"
#include "internal/pycore_interp.h"
#include "internal/pycore_object.h"

#if PY_VERSION_HEX >= 0x030E0000
#error "heaplens: this CPython version has no frame seam yet (see src/ext/frames.c)"
#elif PY_VERSION_HEX >= 0x030D0000
#define HL__TOP_FRAME(tstate) ((tstate)->current_frame)
#define HL__FRAME_CODE(frame) _PyFrame_GetCode(frame)
#define HL__MAYBE_INCOMPLETE(frame)                                                                \
    ((frame)->owner == FRAME_OWNED_BY_CSTACK || (frame)->f_funcobj == Py_None)
#define HL__UNCHECKED_TSTATE() PyThreadState_GetUnchecked()
#define HL__IS_FINALIZING() Py_IsFinalizing()
#define HL__IS_SHIM(frame) ((frame)->owner == FRAME_OWNED_BY_CSTACK)
#define HL__FRAME_FUNCTION(frame) ((frame)->f_funcobj)
#elif PY_VERSION_HEX >= 0x030C0000
#define HL__TOP_FRAME(tstate) ((tstate)->cframe->current_frame)
#define HL__FRAME_CODE(frame) ((frame)->f_code)
#define HL__MAYBE_INCOMPLETE(frame)                                                                \
    ((frame)->owner == FRAME_OWNED_BY_CSTACK || (frame)->f_funcobj == Py_None)
#define HL__UNCHECKED_TSTATE() _PyThreadState_UncheckedGet()
#define HL__IS_FINALIZING() _Py_IsFinalizing()
#define HL__IS_SHIM(frame) ((frame)->owner == FRAME_OWNED_BY_CSTACK)
#define HL__FRAME_FUNCTION(frame) ((frame)->f_funcobj)
#elif PY_VERSION_HEX >= 0x030B0000
#define HL__TOP_FRAME(tstate) ((tstate)->cframe->current_frame)
#define HL__FRAME_CODE(frame) ((frame)->f_code)
#define HL__MAYBE_INCOMPLETE(frame) 0 /* 3.11 has no shim frames */
#define HL__UNCHECKED_TSTATE() _PyThreadState_UncheckedGet()
#define HL__IS_FINALIZING() _Py_IsFinalizing()
#define HL__IS_SHIM(frame) 0
#define HL__FRAME_FUNCTION(frame) ((frame)->f_func)
#else
#error "heaplens needs CPython 3.11 or newer"
#endif

#ifdef Py_GIL_DISABLED
#error "heaplens does not support free-threaded CPython builds yet"
#endif

int hlpy_frames_capture(PyThreadState *tstate, hl_frame_ref *out, int max_frames,
                        uint16_t *total_out) {
    int n = 0;
    uint32_t total = 0;
    _PyInterpreterFrame *frame = HL__TOP_FRAME(tstate);
    for (; frame != NULL && n < max_frames; frame = frame->previous) {
        if (_PyFrame_IsIncomplete(frame))
            continue;
        out[n].code = HL__FRAME_CODE(frame);
        out[n].lasti = _PyInterpreterFrame_LASTI(frame);
        out[n].reserved = 0;
        n++;
    }
    total = (uint32_t)n;
    /* The rest is only counted (tracemalloc's total_nframe), which a deep
     * stack makes the costliest part. A frame is incomplete while it is being
     * set up, before it can call anything, so below the recorded ones only the
     * interpreter's shims (3.12+: entry frames owned by the C stack, and
     * trampolines such as the one after a Python __init__, whose function is
     * None) can be incomplete; the frame's own fields say which to check,
     * without loading every code object. (The exception: a finalizer run while
     * a frame is being set up pushes frames above an incomplete one, which is
     * then counted; the recorded frames are still exact.) */
    for (; frame != NULL && total < HL_TOTAL_NFRAME_MAX; frame = frame->previous)
        total += !(HL__MAYBE_INCOMPLETE(frame) && _PyFrame_IsIncomplete(frame));
    *total_out = (uint16_t)total;
    return n;
}

PyThreadState *hlpy_frames_gil_tstate(void) {
    return HL__UNCHECKED_TSTATE();
}

PyThreadState *hlpy_frames_tstate_if_gil_held(void) {
    /* 3.11 answers with the GIL holder of any thread; 3.12+ with this thread's
     * attached state. Comparing with this thread's own state covers both. */
    PyThreadState *holder = HL__UNCHECKED_TSTATE();
    if (holder == NULL || holder != PyGILState_GetThisThreadState())
        return NULL;
    return holder;
}

int hlpy_frames_is_finalizing(void) {
    return HL__IS_FINALIZING() != 0;
}

size_t hlpy_frames_preheader_size(PyObject *obj) {
    return _PyType_PreHeaderSize(Py_TYPE(obj));
}

size_t hlpy_frames_preheader_size_of_type(PyTypeObject *type) {
    return _PyType_PreHeaderSize(type);
}

int hlpy_frames_lineno(PyCodeObject *code, int lasti) {
    int lineno = PyCode_Addr2Line(code, lasti * (int)sizeof(_Py_CODEUNIT));
    return lineno < 0 ? 0 : lineno;
}

int hlpy_frames_visit_executing(hlpy_executing_frame_visitor visit, void *arg) {
    PyInterpreterState *interp = PyInterpreterState_Main();
    for (PyThreadState *tstate = PyInterpreterState_ThreadHead(interp); tstate != NULL;
         tstate = PyThreadState_Next(tstate)) {
        for (_PyInterpreterFrame *frame = HL__TOP_FRAME(tstate); frame != NULL;
             frame = frame->previous) {
            if (HL__IS_SHIM(frame) || _PyFrame_IsIncomplete(frame))
                continue;
            PyCodeObject *code = HL__FRAME_CODE(frame);
            PyObject *held[HLPY_FRAME_N_HELD];
            held[HLPY_FRAME_FUNCTION] = (PyObject *)HL__FRAME_FUNCTION(frame);
            held[HLPY_FRAME_LOCALS_DICT] = frame->f_locals;
            held[HLPY_FRAME_CODE] = (PyObject *)code;
            held[HLPY_FRAME_OBJECT] = (PyObject *)frame->frame_obj;
            if (visit(tstate->thread_id, code, _PyInterpreterFrame_LASTI(frame), frame->localsplus,
                      code->co_nlocalsplus, held, arg) < 0)
                return -1;
        }
    }
    return 0;
}

#if PY_VERSION_HEX >= 0x030C0000
typedef struct hl__gc_visit {
    hlpy_gc_object_visitor visit;
    void *arg;
    int stopped;
} hl__gc_visit;

/* PyUnstable_GC_VisitObjects's callback: 1 to go on, 0 to stop. */
static int hl__gc_visit_one(PyObject *obj, void *arg) {
    hl__gc_visit *state = arg;
    if (state->visit(obj, state->arg) < 0) {
        state->stopped = 1;
        return 0;
    }
    return 1;
}
#endif

int hlpy_frames_visit_gc_objects(hlpy_gc_object_visitor visit, void *arg) {
#if PY_VERSION_HEX >= 0x030C0000
    /* Public (unstable) API from 3.12: it disables the collector meanwhile. */
    hl__gc_visit state = {visit, arg, 0};
    PyUnstable_GC_VisitObjects(hl__gc_visit_one, &state);
    return state.stopped ? -1 : 0;
#else
    /* 3.11: walk the three generations' lists, as gc.get_objects() does. */
    return hlpy_frames_visit_young_generations(NUM_GENERATIONS - 1, visit, arg);
#endif
}

int hlpy_frames_visit_young_generations(int max_generation, hlpy_gc_object_visitor visit,
                                        void *arg) {
    /* 3.11 to 3.13 (without free threading) keep the same three lists; a
     * collection of generation g merges 0..g and examines them. */
    struct _gc_runtime_state *gcstate = &PyInterpreterState_Main()->gc;
    if (max_generation >= NUM_GENERATIONS)
        max_generation = NUM_GENERATIONS - 1;
    for (int generation = 0; generation <= max_generation; generation++) {
        PyGC_Head *head = &gcstate->generations[generation].head;
        for (PyGC_Head *gc = _PyGCHead_NEXT(head); gc != head; gc = _PyGCHead_NEXT(gc)) {
            if (visit((PyObject *)(gc + 1), arg) < 0)
                return -1;
        }
    }
    return 0;
}

size_t hlpy_frames_gc_long_lived_total(void) {
    Py_ssize_t total = PyInterpreterState_Main()->gc.long_lived_total;
    return total > 0 ? (size_t)total : 0;
}

/* The inline values of `obj` (not yet moved to a dict), or NULL. */
static PyDictValues *hl__inline_values(PyObject *obj) {
    PyTypeObject *type = Py_TYPE(obj);
#if PY_VERSION_HEX >= 0x030D0000
    if (!PyType_HasFeature(type, Py_TPFLAGS_INLINE_VALUES))
        return NULL;
    PyDictValues *values = _PyObject_InlineValues(obj);
    return values->valid ? values : NULL;
#elif PY_VERSION_HEX >= 0x030C0000
    if (!PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
    return _PyDictOrValues_IsValues(dorv) ? _PyDictOrValues_GetValues(dorv) : NULL;
#else
    if (!PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    return *_PyObject_ValuesPointer(obj);
#endif
}

PyObject *hlpy_layout_managed_dict(PyObject *obj) {
    PyTypeObject *type = Py_TYPE(obj);
    if (!PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT))
        return NULL;
#if PY_VERSION_HEX >= 0x030D0000
    return (PyObject *)_PyObject_ManagedDictPointer(obj)->dict;
#elif PY_VERSION_HEX >= 0x030C0000
    PyDictOrValues dorv = *_PyObject_DictOrValuesPointer(obj);
    return _PyDictOrValues_IsValues(dorv) ? NULL : (PyObject *)_PyDictOrValues_GetDict(dorv);
#else
    return *_PyObject_ManagedDictPointer(obj);
#endif
}

PyObject *hlpy_layout_dict_beside_inline_values(PyObject *obj) {
#if PY_VERSION_HEX >= 0x030D0000
    if (hl__inline_values(obj) == NULL)
        return NULL;
    return hlpy_layout_managed_dict(obj);
#else
    (void)obj; /* 3.11 and 3.12 keep either the values or the dict */
    return NULL;
#endif
}

PyObject *hlpy_layout_inline_attribute_name(PyObject *obj, PyObject *target) {
    PyDictValues *values = hl__inline_values(obj);
    if (values == NULL)
        return NULL;
    PyDictKeysObject *keys = ((PyHeapTypeObject *)Py_TYPE(obj))->ht_cached_keys;
    if (keys == NULL)
        return NULL;
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(keys);
    Py_ssize_t n_values = keys->dk_nentries;
#if PY_VERSION_HEX >= 0x030D0000
    if (n_values > values->capacity)
        n_values = values->capacity;
#endif
    for (Py_ssize_t i = 0; i < n_values; i++) {
        if (values->values[i] == target && entries[i].me_key != NULL)
            return entries[i].me_key;
    }
    return NULL;
}
