/* cpython/stackref_frames.h - the frame primitives of 3.14 and later.
 *
 * From 3.14 a frame's code object, function and local slots are _PyStackRef
 * values: tagged words whose low bits say how the reference is counted, and
 * a local may hold an unboxed integer that is no object. They are read with
 * CPython's own PyStackRef_* functions, never by masking bits here (the tag
 * scheme differs between versions and builds). Shims (the entry frame,
 * trampolines, the thread's base frame) are owned by the interpreter (or, in
 * 3.14, the C stack) and may have no code object: the owner is checked before
 * anything else is read. Included by a version file before frame_walk.h.
 */
#ifndef HLPY_CPYTHON_STACKREF_FRAMES_H
#define HLPY_CPYTHON_STACKREF_FRAMES_H

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
static inline int hl__runs_no_code(_PyInterpreterFrame *frame) {
    /* Entry frames (3.14's FRAME_OWNED_BY_CSTACK) and the thread's base frame
     * (3.15) are owned by the interpreter or beyond. */
    return frame->owner >= FRAME_OWNED_BY_INTERPRETER;
}
static inline int hl__may_be_trampoline(_PyInterpreterFrame *frame) {
    /* The shim that finishes a class's __init__ call is owned by the thread
     * like any frame; its function is None. */
    return PyStackRef_IsNone(frame->f_funcobj);
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

#endif /* HLPY_CPYTHON_STACKREF_FRAMES_H */
