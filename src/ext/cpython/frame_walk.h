/* cpython/frame_walk.h - the frame logic every version shares.
 *
 * Included once, by the version file (py3_NN.c), after it has included
 * CPython's internal headers and defined these primitives, each a static
 * inline function of an _PyInterpreterFrame *:
 *
 *   hl__top_frame(tstate)      the innermost frame of a thread, or NULL
 *   hl__runs_no_code(f)        1 for a frame that runs no Python code of
 *                              its own and is never counted: an entry frame
 *                              owned by the C stack, the thread's base frame
 *                              (read from the frame's owner alone)
 *   hl__may_be_trampoline(f)   0 when `f` is certainly not the trampoline
 *                              that finishes a class's __init__ call (3.12+:
 *                              owned by the thread, its function None), read
 *                              without loading its code
 *   hl__is_incomplete(f)       1 for a frame that runs no code, or one still
 *                              being set up, or a trampoline not yet
 *                              traceable (what tracemalloc skips); checks
 *                              the owner before it loads the code
 *   hl__code(f), hl__lasti(f)  code object and instruction offset (code units)
 *   hl__function(f)            the function object, untagged, or NULL
 *   hl__local(f, slot)         local slot `slot`, untagged, or NULL
 *
 * A frame is incomplete while it is being set up, before it can call
 * anything, so below the innermost complete frame only frames that run no
 * code and trampolines can be (whether a trampoline is traceable differs by
 * version: 3.14's first traceable instruction lies past the ones it runs). The
 * capture and the count decide every frame below it from its owner and its
 * function, without loading its code object; only a trampoline is asked
 * whether it is incomplete. (The exception: a finalizer run while a frame is
 * being set up pushes frames above an incomplete one, which is then recorded
 * and counted as complete.)
 * The count walks the rest of the stack, as tracemalloc does: the
 * interpreter's recursion counter (3.12+) would spare the walk but leaves out
 * the trampolines of __init__ calls, which tracemalloc counts on some
 * versions. The cap on the total is applied once, after the walk (a thread's
 * frames form a finite chain), so the loop does no more than it must.
 */
#ifndef HLPY_CPYTHON_FRAME_WALK_H
#define HLPY_CPYTHON_FRAME_WALK_H

/* Whether tracemalloc skips `frame`, which lies below the innermost complete
 * frame (see above). */
static inline int hl__skipped_below_top(_PyInterpreterFrame *frame) {
    return hl__runs_no_code(frame) ||
           (HL_UNLIKELY(hl__may_be_trampoline(frame)) && hl__is_incomplete(frame));
}

/* How many frames from `frame` down tracemalloc counts (`frame` lies below
 * the innermost complete frame), before the cap. */
static size_t hl__count_below_top(_PyInterpreterFrame *frame) {
    size_t total = 0;
    for (; frame != NULL; frame = frame->previous)
        total += !hl__skipped_below_top(frame);
    return total;
}

int hlpy_cpython_capture_stack(PyThreadState *tstate, hl_frame_ref *out, int max_frames,
                               uint16_t *total_out) {
    int n = 0;
    _PyInterpreterFrame *frame = hl__top_frame(tstate);
    /* The innermost frames may be shims or still being set up. */
    while (frame != NULL && hl__is_incomplete(frame))
        frame = frame->previous;
    /* Below the first complete frame, see hl__skipped_below_top. */
    for (; frame != NULL && n < max_frames; frame = frame->previous) {
        if (hl__skipped_below_top(frame))
            continue;
        out[n].code = hl__code(frame);
        out[n].lasti = hl__lasti(frame);
        out[n].reserved = 0;
        n++;
    }
    /* The rest is only counted (tracemalloc's total_nframe). */
    size_t total = (size_t)n + hl__count_below_top(frame);
    if (total > HL_TOTAL_NFRAME_MAX)
        total = HL_TOTAL_NFRAME_MAX;
    *total_out = (uint16_t)total;
    return n;
}

/* The frames and anchors (see internals.h). The frames stored and the total
 * are those of hlpy_cpython_capture_stack: the frames it skips are skipped
 * here by the same tests. Since 3.12 every eval-loop invocation pushes an
 * entry frame (a shim that runs no code) that lives in its C frame, below
 * the frames it runs: those frames' anchor is its address. 3.11 flags the
 * first frame an invocation runs (is_entry) instead, and keeps the
 * invocation's _PyCFrame in its C frame, chained from tstate->cframe: the
 * frames down to the flagged one are anchored at that _PyCFrame. The walk
 * goes on past max_frames until the last frame stored is anchored. */
int hlpy_cpython_capture_anchored(PyThreadState *tstate, hl_frame_ref *out, uintptr_t *anchors,
                                  int max_frames, uint16_t *total_out) {
    int n = 0, unanchored = 0; /* out[unanchored..n) wait for their entry frame */
    int complete_seen = 0;
    size_t past_max = 0;
#ifdef HL__ENTRY_FLAGGED
    _PyCFrame *cframe = tstate->cframe;
#endif
    _PyInterpreterFrame *frame = hl__top_frame(tstate);
    for (; frame != NULL; frame = frame->previous) {
        if (n == max_frames && unanchored == n)
            break;
#ifndef HL__ENTRY_FLAGGED
        if (hl__runs_no_code(frame)) {
            for (; unanchored < n; unanchored++)
                anchors[unanchored] = (uintptr_t)frame;
            continue;
        }
#endif
        int skipped = complete_seen ? hl__skipped_below_top(frame) : hl__is_incomplete(frame);
        if (!skipped) {
            complete_seen = 1;
            if (n < max_frames) {
                out[n].code = hl__code(frame);
                out[n].lasti = hl__lasti(frame);
                out[n].reserved = 0;
                anchors[n] = 0;
                n++;
            } else {
                past_max++;
            }
        }
#ifdef HL__ENTRY_FLAGGED
        for (; unanchored < n; unanchored++)
            anchors[unanchored] = (uintptr_t)cframe;
        if (frame->is_entry && cframe != NULL)
            cframe = cframe->previous;
#endif
    }
    size_t total = (size_t)n + past_max + hl__count_below_top(frame);
    if (total > HL_TOTAL_NFRAME_MAX)
        total = HL_TOTAL_NFRAME_MAX;
    *total_out = (uint16_t)total;
    return n;
}

int hlpy_cpython_stack_top(PyThreadState *tstate, hl_frame_ref *top_out) {
    _PyInterpreterFrame *frame = hl__top_frame(tstate);
    while (frame != NULL && hl__is_incomplete(frame))
        frame = frame->previous;
    if (frame == NULL)
        return 0;
    top_out->code = hl__code(frame);
    top_out->lasti = hl__lasti(frame);
    top_out->reserved = 0;
    return 1;
}

int hlpy_cpython_stack_equals(PyThreadState *tstate, const hl_frame_ref *known, int n_known,
                              uint16_t total_known, int max_frames) {
    int n = 0;
    _PyInterpreterFrame *frame = hl__top_frame(tstate);
    while (frame != NULL && hl__is_incomplete(frame))
        frame = frame->previous;
    for (; frame != NULL && n < max_frames; frame = frame->previous) {
        if (hl__skipped_below_top(frame))
            continue;
        if (n == n_known || hl__code(frame) != known[n].code || hl__lasti(frame) != known[n].lasti)
            return 0;
        n++;
    }
    if (n != n_known)
        return 0;
    size_t total = (size_t)n + hl__count_below_top(frame);
    if (total > HL_TOTAL_NFRAME_MAX)
        total = HL_TOTAL_NFRAME_MAX;
    return total == total_known;
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
