/* cpython/frame_walk.h - the frame logic every version shares.
 *
 * Included once, by the version file (py3_NN.c), after it has included
 * CPython's internal headers and defined these primitives, each a static
 * inline function of an _PyInterpreterFrame *:
 *
 *   hl__top_frame(tstate)      the innermost frame of a thread, or NULL
 *   hl__may_be_shim(f)         0 when `f` is certainly not a shim (a frame
 *                              that runs no Python code of its own: an entry
 *                              frame owned by the C stack, a trampoline, the
 *                              thread's base frame), read from the frame's
 *                              own fields without loading its code
 *   hl__is_incomplete(f)       1 for a shim or a frame still being set up
 *                              (what tracemalloc skips); checks the owner
 *                              before it loads the code, which a shim may
 *                              not have
 *   hl__code(f), hl__lasti(f)  code object and instruction offset (code units)
 *   hl__function(f)            the function object, untagged, or NULL
 *   hl__local(f, slot)         local slot `slot`, untagged, or NULL
 *
 * A frame is incomplete while it is being set up, before it can call
 * anything, so below the innermost frame only shims can be incomplete: the
 * capture asks hl__is_incomplete, below the first complete frame, only of
 * those hl__may_be_shim cannot clear, without loading every code object. (The
 * exception: a finalizer run while a frame is being set up pushes frames
 * above an incomplete one, which is then recorded and counted as complete.)
 * The count walks the rest of the stack, as tracemalloc does: the
 * interpreter's recursion counter (3.12+) would spare the walk but leaves out
 * the trampolines of __init__ calls, which tracemalloc counts.
 */
#ifndef HLPY_CPYTHON_FRAME_WALK_H
#define HLPY_CPYTHON_FRAME_WALK_H

int hlpy_cpython_capture_stack(PyThreadState *tstate, hl_frame_ref *out, int max_frames,
                               uint16_t *total_out) {
    int n = 0;
    _PyInterpreterFrame *frame = hl__top_frame(tstate);
    /* The innermost frames may be shims or still being set up. */
    while (frame != NULL && hl__is_incomplete(frame))
        frame = frame->previous;
    /* Below the first complete frame only shims can be incomplete. */
    for (; frame != NULL && n < max_frames; frame = frame->previous) {
        if (hl__may_be_shim(frame) && hl__is_incomplete(frame))
            continue;
        out[n].code = hl__code(frame);
        out[n].lasti = hl__lasti(frame);
        out[n].reserved = 0;
        n++;
    }
    /* The rest is only counted (tracemalloc's total_nframe). */
    uint32_t total = (uint32_t)n;
    for (; frame != NULL && total < HL_TOTAL_NFRAME_MAX; frame = frame->previous)
        total += !(hl__may_be_shim(frame) && hl__is_incomplete(frame));
    *total_out = (uint16_t)total;
    return n;
}

/* The first frame from `frame` on (itself included) that runs Python code and
 * is complete, or NULL. */
static _PyInterpreterFrame *hl__first_complete(_PyInterpreterFrame *frame) {
    while (frame != NULL && hl__is_incomplete(frame))
        frame = frame->previous;
    return frame;
}

int hlpy_cpython_frame_first(PyThreadState *tstate, hlpy_frame_cursor *cursor) {
    cursor->frame = hl__first_complete(hl__top_frame(tstate));
    return cursor->frame != NULL;
}

int hlpy_cpython_frame_next(hlpy_frame_cursor *cursor) {
    _PyInterpreterFrame *frame = cursor->frame;
    cursor->frame = frame == NULL ? NULL : hl__first_complete(frame->previous);
    return cursor->frame != NULL;
}

PyCodeObject *hlpy_cpython_frame_code(const hlpy_frame_cursor *cursor) {
    return hl__code(cursor->frame);
}

int hlpy_cpython_frame_lasti(const hlpy_frame_cursor *cursor) {
    return hl__lasti(cursor->frame);
}

int hlpy_cpython_frame_n_locals(const hlpy_frame_cursor *cursor) {
    return hl__code(cursor->frame)->co_nlocalsplus;
}

PyObject *hlpy_cpython_frame_local(const hlpy_frame_cursor *cursor, int slot) {
    return hl__local(cursor->frame, slot);
}

PyObject *hlpy_cpython_frame_held(const hlpy_frame_cursor *cursor, int which) {
    _PyInterpreterFrame *frame = cursor->frame;
    switch (which) {
    case HLPY_FRAME_FUNCTION:
        return hl__function(frame);
    case HLPY_FRAME_LOCALS_DICT:
        return frame->f_locals;
    case HLPY_FRAME_CODE:
        return (PyObject *)hl__code(frame);
    case HLPY_FRAME_OBJECT:
        return (PyObject *)frame->frame_obj;
    default:
        return NULL;
    }
}

PyObject *hlpy_cpython_local_name(PyCodeObject *code, int slot, hlpy_local_kind *kind_out) {
    PyObject *names = code->co_localsplusnames;
    PyObject *kinds = code->co_localspluskinds;
    if (slot < 0 || !PyTuple_Check(names) || slot >= PyTuple_GET_SIZE(names))
        return NULL;
    *kind_out = HLPY_LOCAL_PLAIN;
    if (PyBytes_Check(kinds) && slot < PyBytes_GET_SIZE(kinds)) {
        unsigned char kind = (unsigned char)PyBytes_AS_STRING(kinds)[slot];
        if (kind & CO_FAST_CELL)
            *kind_out = HLPY_LOCAL_CELL;
        else if (kind & CO_FAST_FREE)
            *kind_out = HLPY_LOCAL_FREE;
    }
    return PyTuple_GET_ITEM(names, slot);
}

int hlpy_cpython_lineno(PyCodeObject *code, int lasti) {
    int lineno = PyCode_Addr2Line(code, lasti * (int)sizeof(_Py_CODEUNIT));
    return lineno < 0 ? 0 : lineno;
}

unsigned long hlpy_cpython_thread_ident(PyThreadState *tstate) {
    return tstate->thread_id;
}

#endif /* HLPY_CPYTHON_FRAME_WALK_H */
