/* cpython/py3_14.c - the seam for CPython 3.14 (see internals.h).
 *
 * As 3.13 (since_3_13.h), except that a frame's code object, function and
 * local slots are _PyStackRef values (stackref_frames.h). Shims (the entry
 * frame, trampolines, the thread's base frame) are owned by the interpreter
 * or the C stack and may have no code object.
 *
 * The collector: 3.14.0 to 3.14.4 shipped an incremental collector whose
 * three lists are the young generation and the two halves of the old one;
 * 3.14.5 went back to three generations in the same memory. Which one runs is
 * read from the running version (Py_Version), not the one built against.
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

#if PY_VERSION_HEX < 0x030E0000 || PY_VERSION_HEX >= 0x030F0000
#error "cpython/py3_14.c is for CPython 3.14 (meson picks the file for the interpreter)"
#endif

/* ---- frames ------------------------------------------------------------ */

#include "stackref_frames.h"
#include "frame_walk.h"
#include "since_3_13.h"

/* ---- the collector -------------------------------------------------------- */

static inline int hl__lists_examined(int max_generation) {
    /* Under the incremental collector (3.14.0-3.14.4) a collection past the
     * young generation may take objects from both old lists. */
    if (max_generation >= 1 && Py_Version < 0x030E0500)
        return NUM_GENERATIONS;
    return max_generation + 1;
}
#define HL__VISIT_WITH_PUBLIC_API 1
#include "gc_lists.h"

/* ---- objects ------------------------------------------------------------- */

static inline int hl__is_immortal(PyObject *obj) {
    return PyUnstable_IsImmortal(obj);
}
#define HL__HAS_INLINE_VALUES 1
#define HL__LINKED_FREE_LISTS 1
#include "objects.h"

#define HL__HAVE_DEBUG_OFFSETS 1
#include "layout_check.h"
