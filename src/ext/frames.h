/* frames.h - the one seam between heaplens and CPython's private structures.
 *
 * Everything that reads interpreter internals (the frame chain, the current
 * thread state, object pre-headers, where an instance keeps its attribute
 * values) lives behind these functions, with one implementation per supported
 * CPython minor version in frames.c. The rest of src/ext/ uses only the public
 * C API and these. hlpy_frames_* read frames and thread states; hlpy_layout_*
 * read object layouts.
 */
#ifndef HLPY_FRAMES_H
#define HLPY_FRAMES_H

#include <Python.h>
#include <stdint.h>

#include "stack_table.h"

/* Capture the Python stack of `tstate` (which must be the calling thread's own
 * state): up to `max_frames` (code, instruction offset) pairs, most recent
 * first, skipping incomplete frames as tracemalloc does, and the total number
 * of complete frames (saturating at HL_TOTAL_NFRAME_MAX) in *total_out.
 * Returns the number of frames stored. Borrowed code pointers: the caller must
 * take references before the thread runs more Python code. Never allocates,
 * never fails, safe without the GIL for the calling thread's own frames. */
int hlpy_frames_capture(PyThreadState *tstate, hl_frame_ref *out, int max_frames,
                        uint16_t *total_out);

/* The thread state that holds the GIL. Only for callers that hold it (the
 * MEM and OBJ allocator domains always do). Never fails, never allocates. */
PyThreadState *hlpy_frames_gil_tstate(void);

/* The calling thread's state when the calling thread holds the GIL, else NULL.
 * For the RAW domain, which may run without the GIL. Never allocates. */
PyThreadState *hlpy_frames_tstate_if_gil_held(void);

/* 1 while the interpreter is shutting down (so no thread may wait for the GIL). */
int hlpy_frames_is_finalizing(void);

/* Bytes in front of `obj` that belong to its memory block (the GC header and
 * the managed-dict pre-header), so block = (char *)obj - this. */
size_t hlpy_frames_preheader_size(PyObject *obj);

/* The same for any instance of `type`. */
size_t hlpy_frames_preheader_size_of_type(PyTypeObject *type);

/* Line number of instruction offset `lasti` (in code units) of `code`, or 0
 * when unknown, as tracemalloc reports it. Needs the GIL. */
int hlpy_frames_lineno(PyCodeObject *code, int lasti);

/* The other strong references an executing frame holds, besides its locals
 * (NULL when absent). Its globals and builtins are borrowed, not held. */
enum {
    HLPY_FRAME_FUNCTION,
    HLPY_FRAME_LOCALS_DICT,
    HLPY_FRAME_CODE,
    HLPY_FRAME_OBJECT,
    HLPY_FRAME_N_HELD
};

/* Called by hlpy_frames_visit_executing for one executing frame: `locals` has
 * `n_locals` slots (locals, then cells, then free variables, named by
 * code->co_localsplusnames); empty slots are NULL; `held` has
 * HLPY_FRAME_N_HELD entries. Everything is borrowed and valid only during the
 * call. Return 0 to go on, -1 to stop. */
typedef int (*hlpy_executing_frame_visitor)(unsigned long thread_id, PyCodeObject *code, int lasti,
                                            PyObject *const *locals, int n_locals,
                                            PyObject *const *held, void *arg);

/* Call `visit` for every complete frame executing in every thread of the main
 * interpreter, innermost first within a thread. These frames' locals are not
 * visited by any tp_traverse while their thread owns them. Returns 0, or -1 when
 * a visit returned -1. Needs the GIL; runs no Python code. */
int hlpy_frames_visit_executing(hlpy_executing_frame_visitor visit, void *arg);

/* Called by hlpy_frames_visit_gc_objects for each object: return 0 to go on,
 * -1 to stop. It must not run Python code, create or free container objects,
 * or start a collection. */
typedef int (*hlpy_gc_object_visitor)(PyObject *obj, void *arg);

/* Call `visit` for every object the cyclic GC of the main interpreter tracks
 * (what gc.get_objects() lists, without building the list), in the collector's
 * order. Returns 0, or -1 when a visit returned -1. Needs the GIL. */
int hlpy_frames_visit_gc_objects(hlpy_gc_object_visitor visit, void *arg);

/* Call `visit` for every object in the collector's generations 0 through
 * `max_generation` (clamped to the oldest) of the main interpreter: what a
 * collection of that generation examines. The visitor must not change the
 * collector's lists: no allocation of tracked objects, no deallocation, no
 * Python code. Returns 0, or -1 when a visit returned -1. Needs the GIL. */
int hlpy_frames_visit_young_generations(int max_generation, hlpy_gc_object_visitor visit,
                                        void *arg);

/* How many objects survived the last full collection of the main
 * interpreter (the collector's own estimate of the old generation's size).
 * Needs the GIL. */
size_t hlpy_frames_gc_long_lived_total(void);

/* The instance dictionary of `obj` when its type manages it (no tp_dictoffset
 * slot) and it has been created, else NULL. Borrowed. */
PyObject *hlpy_layout_managed_dict(PyObject *obj);

/* The instance dictionary of `obj` when it exists beside valid inline values,
 * else NULL. Borrowed. 3.13 keeps both once `__dict__` is read and the values
 * still fit, and its tp_traverse then visits only the values, so the dict's
 * reference from the object is invisible to a walk without this. */
PyObject *hlpy_layout_dict_beside_inline_values(PyObject *obj);

/* When `obj` keeps its attribute values inline (no dict created yet) and one
 * of them is `target`, the attribute's name (borrowed), else NULL. */
PyObject *hlpy_layout_inline_attribute_name(PyObject *obj, PyObject *target);

#endif /* HLPY_FRAMES_H */
