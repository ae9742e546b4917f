/* cpython/py3_15.c - the seam for CPython 3.15 (see internals.h).
 *
 * As 3.14 (stackref_frames.h): frames hold _PyStackRef values, read with
 * CPython's own functions (3.15 moved the tag bits). FRAME_OWNED_BY_CSTACK is
 * gone: every shim, the thread's base_frame sentinel included, is owned by
 * the interpreter. The collector keeps three generations.
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

#include "stackref_frames.h"
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
    return PyUnstable_IsImmortal(obj);
}
#define HL__HAS_INLINE_VALUES 1
#define HL__LINKED_FREE_LISTS 1
#include "objects.h"

#define HL__HAVE_DEBUG_OFFSETS 1
#include "layout_check.h"
