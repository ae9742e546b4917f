/* leak_tags.h - which call of a leak hunt created each object.
 *
 * A leak hunt (heaplens.find_leaks, heaplens.leak_check) numbers its measured
 * calls 1..n. Two signals say which call created an object:
 *   - the tracer stamps every block it records with the hunt's generation for
 *     the call under way (live_table.h), so a block allocated in call i says
 *     so, exactly, as long as its object came from the allocator;
 *   - CPython hands out some lists, tuples and dicts from free lists, reusing
 *     a block freed earlier, whose stamp then says nothing of the object.
 *     Such objects are tracked by the collector when they are made, so they
 *     sit in the young generation: the hunt runs a full collection before
 *     each call (everything older is then in the oldest generation) and tags
 *     the address of every object in generation 0 with the call's number, at
 *     the start of each collection during the call (leak_tags_gc_callback,
 *     in gc.callbacks) and when the call returns (leak_tags_young); outside
 *     the calls it tags what is young with 0.
 * Between calls, and while the hunt analyses the heap, blocks get the hunt's
 * own "bookkeeping" generation: an object whose block has it, and no young
 * tag from a call, was made by neither the calls nor before them.
 *
 * Objects that are neither tracked when made nor freshly allocated (an
 * untracked dict or tuple, a float, taken from a free list) are missed.
 * One hunt at a time. All state is protected by the GIL.
 */
#ifndef HLPY_LEAK_TAGS_H
#define HLPY_LEAK_TAGS_H

#include <Python.h>

#include "hl_common.h"

#include "heapwalk.h"

/* leak_tags_begin(n_calls) -> None. Start a hunt of n_calls (1..1000)
 * measured calls; the tracer must be on. Sets the bookkeeping generation.
 * RuntimeError when a hunt is already running or the tracer is off. METH_O. */
HL_WARN_UNUSED PyObject *hlpy_leak_tags_begin(PyObject *module, PyObject *n_calls);

/* leak_tags_set_call(i) -> None. Make call i (1..n_calls) the one under way,
 * or 0: between calls (bookkeeping). RuntimeError when no hunt runs or the
 * tracer was stopped or cleared since it began. METH_O. */
HL_WARN_UNUSED PyObject *hlpy_leak_tags_set_call(PyObject *module, PyObject *call);

/* leak_tags_young() -> int. Tag every object in the young generations with
 * the call under way (0 between calls: made outside the calls); returns how
 * many were tagged.
 * MemoryError when the tag map cannot grow. METH_NOARGS. */
HL_WARN_UNUSED PyObject *hlpy_leak_tags_young(PyObject *module, PyObject *unused);

/* leak_tags_gc_callback(phase, info): the gc.callbacks entry. On "start"
 * during a call, tags generation 0 as leak_tags_young does. Never raises: a
 * tag that cannot be stored is counted (see leak_tags_end). METH_VARARGS. */
HL_WARN_UNUSED PyObject *hlpy_leak_tags_gc_callback(PyObject *module, PyObject *args);

/* leak_tags_end() -> dropped. End the hunt, free the tags and stamp blocks
 * with generation 0 again; returns how many tags could not be stored (out of
 * memory). Does nothing (returns 0) when no hunt runs. METH_NOARGS. */
HL_WARN_UNUSED PyObject *hlpy_leak_tags_end(PyObject *module, PyObject *unused);

/* The objects of `heap` the running hunt's calls created: a new list of
 * (node, call, stack_id) tuples, in node order; stack_id is the tracer's
 * stack of the block, or -1 when the tracer has none. RuntimeError when no
 * hunt runs, or the tracer was stopped or cleared since it began. Needs the
 * GIL. */
HL_WARN_UNUSED PyObject *hlpy_leak_tags_of_heap(const hlpy_heap *heap);

#endif /* HLPY_LEAK_TAGS_H */
