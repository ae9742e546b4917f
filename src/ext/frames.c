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

#include "internal/pycore_frame.h"
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
#elif PY_VERSION_HEX >= 0x030C0000
#define HL__TOP_FRAME(tstate) ((tstate)->cframe->current_frame)
#define HL__FRAME_CODE(frame) ((frame)->f_code)
#define HL__MAYBE_INCOMPLETE(frame)                                                                \
    ((frame)->owner == FRAME_OWNED_BY_CSTACK || (frame)->f_funcobj == Py_None)
#define HL__UNCHECKED_TSTATE() _PyThreadState_UncheckedGet()
#define HL__IS_FINALIZING() _Py_IsFinalizing()
#elif PY_VERSION_HEX >= 0x030B0000
#define HL__TOP_FRAME(tstate) ((tstate)->cframe->current_frame)
#define HL__FRAME_CODE(frame) ((frame)->f_code)
#define HL__MAYBE_INCOMPLETE(frame) 0 /* 3.11 has no shim frames */
#define HL__UNCHECKED_TSTATE() _PyThreadState_UncheckedGet()
#define HL__IS_FINALIZING() _Py_IsFinalizing()
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

int hlpy_frames_lineno(PyCodeObject *code, int lasti) {
    int lineno = PyCode_Addr2Line(code, lasti * (int)sizeof(_Py_CODEUNIT));
    return lineno < 0 ? 0 : lineno;
}
