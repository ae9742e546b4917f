/* gc_watch.h - the C side of heaplens.gc_monitor(): what each collection did.
 *
 * gc_watch_callback sits in gc.callbacks while a monitor runs. On "start" it
 * notes the time and the length of gc.garbage and, with the breakdown on,
 * watches the memory block of every object in the generations about to be
 * examined (free_watch.h), with its type and sys.getsizeof size. Until "stop",
 * an allocator free observer (hooks.h) counts the watched blocks the
 * collecting thread frees, with their allocation stacks when the tracer is on.
 * On "stop" it adds the collection to running totals and to a ring of the
 * recent ones, all in memory sized when the monitor starts or by the types
 * and sites met, never by the number of collections. Nothing is kept alive and
 * nothing about the collection is changed: no gc.DEBUG_SAVEALL, no references
 * to the objects or their types, and gc.garbage is only read.
 *
 * All state is protected by the GIL (callbacks and OBJ-domain frees hold it).
 */
#ifndef HLPY_GC_WATCH_H
#define HLPY_GC_WATCH_H

#include <Python.h>

#include "hl_common.h"

/* What the monitor keeps is bounded: running totals, the last
 * HLPY_GC_RECENT collections and the last HLPY_GC_GARBAGE_KEPT objects added
 * to gc.garbage, whatever the number of collections. */
#define HLPY_GC_RECENT 256
#define HLPY_GC_GARBAGE_KEPT 1024

/* gc_watch_start(breakdown, garbage) -> None. Begin recording; with
 * breakdown true, collected objects are counted by type and allocation site
 * (which needs the allocator wrappers in place until gc_watch_stop). garbage
 * is gc.garbage, passed in so that nothing is imported here. The caller then
 * puts gc_watch_callback into gc.callbacks. RuntimeError when already
 * recording. METH_VARARGS. */
HL_WARN_UNUSED PyObject *hlpy_gc_watch_start(PyObject *module, PyObject *args);

/* gc_watch_stop() -> dict, and stop recording (the caller has taken
 * gc_watch_callback out of gc.callbacks). The dict holds
 *   recent: the last HLPY_GC_RECENT collections, oldest first, each
 *     (generation, started, duration, collected, uncollectable, freed,
 *      freed_bytes, garbage, watched): started is time.perf_counter() at its
 *     start, freed and freed_bytes what the monitor saw it free, garbage how
 *     many objects it added to gc.garbage, watched the objects watched (0
 *     without breakdown);
 *   n_collections: every collection recorded;
 *   generations: per generation (runs, seconds, longest, collected,
 *     uncollectable);
 *   freed: (type_name, finalizer_kind, site, count, bytes) over all
 *     collections, by type and site (site a tuple of (filename, lineno)
 *     frames, most recent first, or None);
 *   garbage: the last HLPY_GC_GARBAGE_KEPT objects added to gc.garbage, each
 *     (type_name, finalizer_kind, address, site); n_garbage: all of them;
 *   own_seconds, peak_watch_bytes, dropped.
 * RuntimeError when not recording. METH_NOARGS. */
HL_WARN_UNUSED PyObject *hlpy_gc_watch_stop(PyObject *module, PyObject *unused);

/* gc_watch_callback(phase, info): the gc.callbacks entry. Does nothing when
 * not recording. Errors inside (out of memory) are counted, never raised: the
 * collector would only print them. It makes no Python object that outlives
 * the call. METH_FASTCALL. */
HL_WARN_UNUSED PyObject *hlpy_gc_watch_callback(PyObject *module, PyObject *const *args,
                                                Py_ssize_t nargs);

#endif /* HLPY_GC_WATCH_H */
