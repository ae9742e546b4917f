/* cpython/internals.h - the one seam between heaplens and CPython's internals.
 *
 * Everything that reads interpreter state CPython does not publish (the frame
 * chain, the thread state the GIL holder runs, the collector's generation
 * lists, object pre-headers, where an instance keeps its attribute values,
 * immortality) goes through these functions. Each supported minor version has
 * one implementation file, cpython/py3_NN.c, which meson picks for the
 * interpreter it builds against; the logic the versions share is in
 * frame_walk.h and gc_lists.h, which a version file includes after defining a
 * few primitives. Public-API differences between versions are in compat.h.
 * Nothing else in src/ext/ includes an internal CPython header, tests
 * PY_VERSION_HEX, or names a private CPython function or field.
 *
 * Adding a version: copy the newest py3_NN.c, adjust its primitives to the new
 * headers, add one line to the CI matrix. See docs/versions.md.
 *
 * Everything here reads, never writes: no frame object is created, no Python
 * code runs, no exception is set unless a function says so.
 */
#ifndef HLPY_CPYTHON_INTERNALS_H
#define HLPY_CPYTHON_INTERNALS_H

#include <Python.h>
#include <stdint.h>

#include "stack_table.h"
#include "u64_map.h"

/* ---- the interpreter and its threads ------------------------------------ */

/* Compare the internal layouts this build was compiled against with those of
 * the running interpreter, as CPython publishes them for debuggers
 * (_Py_DebugOffsets, 3.13 and later), so that a heaplens built against one
 * patch release never reads another's moved fields. Called once, at import.
 * Returns 0, or -1 with ImportError set naming both versions. */
HL_WARN_UNUSED int hlpy_cpython_check_layout(void);

/* The CPython version this extension was compiled against, and the running
 * one, as "3.14.10" (static strings). */
const char *hlpy_cpython_built_version(void);
const char *hlpy_cpython_running_version(void);

/* The thread state that holds the GIL. Only for callers that hold it (the
 * MEM and OBJ allocator domains always do). Never fails, never allocates. */
PyThreadState *hlpy_cpython_gil_tstate(void);

/* The thread state attached on the calling thread (the one it runs Python
 * code with, and whose interpreter's GIL it holds), or NULL when none is.
 * It need not be the thread's PyGILState state: Py_NewInterpreter runs the
 * new interpreter's state on its caller's thread, and a thread that has any
 * state attached must never wait for the GIL (PyGILState_Ensure would wait
 * for itself, or attach a second state over the first). For the RAW domain,
 * which may run without the GIL. Never allocates, never blocks. */
PyThreadState *hlpy_cpython_this_thread_tstate(void);

/* 1 when the calling thread may hold the GIL while no thread state is
 * current, so that waiting for the GIL could wait for itself: 3.11's
 * Py_NewInterpreter swaps its caller's state out (keeping the GIL) and
 * allocates meanwhile. 0 where the version cannot do that. `own` is the
 * calling thread's PyGILState state. Never allocates, never blocks. */
int hlpy_cpython_gil_held_without_state(PyThreadState *own);

/* 1 when the runtime's lock on its list of interpreters (CPython's
 * HEAD_LOCK) is held, by any thread. CPython allocates under it with no
 * thread state attached (PyInterpreterState_New), and a thread holding the
 * GIL may be waiting for it, so a RAW hook must not wait for the GIL then:
 * Py_NewInterpreter hung that way (3.12). Never blocks, never allocates. */
int hlpy_cpython_interpreters_lock_busy(void);

/* 1 while the interpreter is shutting down (so no thread may wait for the GIL). */
int hlpy_cpython_is_finalizing(void);

/* The OS-level identifier of the thread that runs `tstate` (what
 * threading.get_ident() returns in that thread). */
unsigned long hlpy_cpython_thread_ident(PyThreadState *tstate);

/* ---- frames ------------------------------------------------------------ */

/* Capture the Python stack of `tstate` (which must be the calling thread's own
 * state): up to `max_frames` (code, instruction offset) pairs, most recent
 * first, skipping incomplete frames as tracemalloc does, and the total number
 * of complete frames (saturating at HL_TOTAL_NFRAME_MAX) in *total_out.
 * Returns the number of frames stored. Borrowed code pointers: the caller must
 * take references before the thread runs more Python code. Never allocates,
 * never fails, safe without the GIL for the calling thread's own frames. This
 * is the allocation hook's hot path. */
int hlpy_cpython_capture_stack(PyThreadState *tstate, hl_frame_ref *out, int max_frames,
                               uint16_t *total_out);

/* As hlpy_cpython_capture_stack, and also, for each frame stored, the C stack
 * address of the eval-loop invocation that runs it in anchors[i] (an address
 * inside that invocation's C frame: its entry frame since 3.12, its _PyCFrame
 * in 3.11), or 0 when unknown, for merging with native frames
 * (stack_merge.h). Same conditions. */
int hlpy_cpython_capture_anchored(PyThreadState *tstate, hl_frame_ref *out, uintptr_t *anchors,
                                  int max_frames, uint16_t *total_out);

/* The innermost frame hlpy_cpython_capture_stack would store, in *top_out.
 * Returns 1, or 0 when it would store none. Same conditions. */
int hlpy_cpython_stack_top(PyThreadState *tstate, hl_frame_ref *top_out);

/* Whether hlpy_cpython_capture_stack(tstate, out, max_frames, &total) would
 * store exactly the `n_known` frames `known` and give `total_known`: 1 or 0.
 * It compares while it walks and stores nothing, so the allocation hook asks
 * it first about the stack it recorded last at the same innermost frame, which
 * most allocations repeat. Same conditions as hlpy_cpython_capture_stack. */
int hlpy_cpython_stack_equals(PyThreadState *tstate, const hl_frame_ref *known, int n_known,
                              uint16_t total_known, int max_frames);

/* A position in one thread's chain of executing frames, innermost first. Only
 * complete frames that run Python code are visited (no shims, no frame being
 * set up). Valid while the caller holds the GIL and runs no Python code. */
typedef struct hlpy_frame_cursor {
    void *frame; /* the interpreter's frame; opaque outside the version file */
} hlpy_frame_cursor;

/* Place `cursor` on the innermost frame of `tstate`. Returns 1, or 0 when the
 * thread runs no Python code. Needs the GIL. */
int hlpy_cpython_frame_first(PyThreadState *tstate, hlpy_frame_cursor *cursor);

/* Move `cursor` to the frame that called the current one. Returns 1, or 0 at
 * the bottom of the stack (the cursor is then spent). */
int hlpy_cpython_frame_next(hlpy_frame_cursor *cursor);

/* The current frame's code object (borrowed). */
PyCodeObject *hlpy_cpython_frame_code(const hlpy_frame_cursor *cursor);

/* The current frame's instruction offset, in code units, for
 * hlpy_cpython_lineno. */
int hlpy_cpython_frame_lasti(const hlpy_frame_cursor *cursor);

/* How many local slots the current frame has: locals, then cells, then free
 * variables, as hlpy_cpython_local_name names them. */
int hlpy_cpython_frame_n_locals(const hlpy_frame_cursor *cursor);

/* The object in local slot `slot` (0 <= slot < n_locals), borrowed, with any
 * tag bits the interpreter keeps in the slot removed; NULL when the slot is
 * empty or holds an unboxed value that is not an object. */
PyObject *hlpy_cpython_frame_local(const hlpy_frame_cursor *cursor, int slot);

/* The other strong references an executing frame holds, besides its locals. */
enum {
    HLPY_FRAME_FUNCTION,
    HLPY_FRAME_LOCALS_DICT,
    HLPY_FRAME_CODE,
    HLPY_FRAME_OBJECT,
    HLPY_FRAME_N_HELD
};

/* The current frame's reference `which` (one of HLPY_FRAME_*), borrowed, or
 * NULL when absent. Its globals and builtins are borrowed, not held. */
PyObject *hlpy_cpython_frame_held(const hlpy_frame_cursor *cursor, int which);

/* What a local slot of a code object holds. */
typedef enum hlpy_local_kind {
    HLPY_LOCAL_PLAIN, /* an ordinary local variable or argument */
    HLPY_LOCAL_CELL,  /* a cell: a local that inner functions read */
    HLPY_LOCAL_FREE,  /* a free variable: a cell of an outer function */
} hlpy_local_kind;

/* The name of local slot `slot` of `code` (borrowed) and its kind, or NULL
 * when `slot` is out of range. */
PyObject *hlpy_cpython_local_name(PyCodeObject *code, int slot, hlpy_local_kind *kind_out);

/* Line number of instruction offset `lasti` (in code units) of `code`, or 0
 * when unknown, as tracemalloc reports it. Needs the GIL. */
int hlpy_cpython_lineno(PyCodeObject *code, int lasti);

/* ---- the cyclic collector ----------------------------------------------- */

/* Called for each object: return 0 to go on, -1 to stop. It must not run
 * Python code, create or free container objects, or start a collection. */
typedef int (*hlpy_gc_object_visitor)(PyObject *obj, void *arg);

/* Call `visit` for every object the cyclic GC of the main interpreter tracks
 * (what gc.get_objects() lists, without building the list), in the collector's
 * order. Returns 0, or -1 when a visit returned -1. Needs the GIL. */
int hlpy_cpython_visit_gc_objects(hlpy_gc_object_visitor visit, void *arg);

/* Call `visit` for every object in the collector's generations 0 through
 * `max_generation` (clamped to the oldest) of the main interpreter: what a
 * collection of that generation examines. The visitor must not change the
 * collector's lists: no allocation of tracked objects, no deallocation, no
 * Python code. Returns 0, or -1 when a visit returned -1. Needs the GIL. */
int hlpy_cpython_visit_young_generations(int max_generation, hlpy_gc_object_visitor visit,
                                         void *arg);

/* How many objects survived the last full collection of the main
 * interpreter (the collector's own estimate of the old generation's size).
 * Needs the GIL. */
size_t hlpy_cpython_gc_long_lived_total(void);

/* Where the main interpreter's table of interned strings (a dict) should be,
 * read from a field _Py_DebugOffsets does not publish: unverified, so the caller
 * reads nothing through it before finding it among the objects it listed;
 * NULL where the table is no object heaplens can reach (3.11). The table's
 * references are not counted in its strings' reference counts: it keeps none
 * of them alive. */
const void *hlpy_cpython_interned_table_candidate(void);

/* ---- objects and types -------------------------------------------------- */

/* Objects deallocated into one of the main interpreter's free lists (lists,
 * tuples, dicts... kept for reuse, their memory not given back, so no free of
 * their block is ever seen). Up to 3.13 such an object keeps a reference
 * count of 0; from 3.14 on the free list links its entries through the
 * object's first word, over the reference count, so the lists are read.
 *
 * hlpy_cpython_free_lists_index fills `index` (initialised and empty) with
 * what hlpy_cpython_in_free_list needs: every entry of every free list from
 * 3.14 on, nothing before. Returns 0, or -1 when out of memory (the index is
 * then incomplete and must not be used, but is safe to destroy). Needs the
 * GIL; the answer holds until the interpreter runs again. */
HL_WARN_UNUSED int hlpy_cpython_free_lists_index(hl_u64_map *index);

/* 1 when `obj`, a block whose memory no free was seen for and which still
 * belongs to the object that was there, sits in a free list, else 0. `index`
 * is what hlpy_cpython_free_lists_index filled since the interpreter last ran. */
int hlpy_cpython_in_free_list(PyObject *obj, const hl_u64_map *index);

/* Bytes in front of an instance of `type` that belong to its memory block
 * (the GC header and the managed-dict and weakref pre-header), so
 * block = (char *)obj - this. */
size_t hlpy_cpython_preheader_size(PyTypeObject *type);

/* 1 when `obj` is immortal (its reference count never changes and says
 * nothing about who holds it), else 0. Always 0 before 3.12. */
int hlpy_cpython_is_immortal(PyObject *obj);

/* What the running interpreter does with instances of a type: facts that
 * Python code must not infer from flag bits or version numbers. */
typedef struct hlpy_type_layout {
    int is_heap_type;        /* made by a class statement or type() */
    int is_immutable;        /* attributes of the type cannot be set */
    int has_managed_dict;    /* the instance dict is managed by the interpreter */
    int has_inline_values;   /* attribute values can live inside the instance (3.13+) */
    int has_values_array;    /* managed dict whose values may live in an array
                                of their own before any dict exists (3.11, 3.12) */
    int has_managed_weakref; /* the weakref list is in the pre-header */
    size_t preheader;        /* hlpy_cpython_preheader_size */
} hlpy_type_layout;

/* Fill *out for `type`. Never fails. */
void hlpy_cpython_type_layout(PyTypeObject *type, hlpy_type_layout *out);

/* Look `name` up in the dicts of `type`'s MRO, as attribute lookup on the
 * type does before calling any descriptor: no Python code runs and no
 * exception is set. Returns a borrowed reference, or NULL when absent. */
PyObject *hlpy_cpython_type_lookup(PyTypeObject *type, PyObject *name);

/* The address of `obj`'s instance-dict slot when its type has a
 * tp_dictoffset slot (not a managed dict), else NULL. Never creates the dict. */
PyObject **hlpy_cpython_dict_slot(PyObject *obj);

/* The instance dictionary of `obj` when its type manages it (no tp_dictoffset
 * slot) and it has been created, else NULL. Borrowed. */
PyObject *hlpy_cpython_managed_dict(PyObject *obj);

/* The instance dictionary of `obj` when it exists beside valid inline values,
 * else NULL. Borrowed. 3.13 and later keep both once `__dict__` is read and
 * the values still fit, and tp_traverse then visits only the values, so the
 * dict's reference from the object is invisible to a walk without this. */
PyObject *hlpy_cpython_dict_beside_inline_values(PyObject *obj);

/* When `obj` keeps its attribute values inline (no dict created yet): the
 * name (borrowed) of the next attribute whose value is `target`, searching
 * from value *position (0 for the first) and leaving *position past it; NULL
 * when there is none (or no inline values). */
PyObject *hlpy_cpython_inline_attribute_name(PyObject *obj, PyObject *target, Py_ssize_t *position);

#endif /* HLPY_CPYTHON_INTERNALS_H */
