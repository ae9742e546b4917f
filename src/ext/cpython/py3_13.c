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
static inline int hl__runs_no_code(_PyInterpreterFrame *frame) {
    return frame->owner == FRAME_OWNED_BY_CSTACK;
}
static inline int hl__may_be_trampoline(_PyInterpreterFrame *frame) {
    return frame->f_funcobj == Py_None;
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
#include "since_3_13.h"

/* ---- the collector -------------------------------------------------------- */

static inline int hl__lists_examined(int max_generation) {
    return max_generation + 1;
}
#define HL__VISIT_WITH_PUBLIC_API 1
#include "gc_lists.h"

/* ---- objects ------------------------------------------------------------- */

static inline int hl__is_immortal(PyObject *obj) {
    return _Py_IsImmortal(obj);
}
#define HL__HAS_INLINE_VALUES 1
#include "objects.h"

#define HL__HAVE_DEBUG_OFFSETS 1
#include "layout_check.h"
