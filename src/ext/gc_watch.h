/* gc_watch.h - the C side of heaplens.gc_monitor(): what each collection did.
 *
 * gc_watch_callback sits in gc.callbacks while a monitor runs. On "start" it
 * notes the time and the length of gc.garbage and, with the breakdown on,
 * watches the memory block of every object in the generations about to be
 * examined (free_watch.h), with its type and sys.getsizeof size. Until "stop",
 * an allocator free observer (hooks.h) counts the watched blocks the
 * collecting thread frees, with their allocation stacks when the tracer is on.
 * On "stop" it appends one record per collection. Nothing is kept alive and
 * nothing about the collection is changed: no gc.DEBUG_SAVEALL, no references
 * to the objects or their types, and gc.garbage is only read.
 *
 * All state is protected by the GIL (callbacks and OBJ-domain frees hold it).
 */
#ifndef HLPY_GC_WATCH_H
#define HLPY_GC_WATCH_H

#include <Python.h>

/* gc_watch_start(breakdown) -> None. Begin recording; with breakdown true,
 * collected objects are counted by type and allocation site (which needs the
 * allocator wrappers in place until gc_watch_stop). The caller then puts
 * gc_watch_callback into gc.callbacks. RuntimeError when already recording.
 * METH_O. */
PyObject *hlpy_gc_watch_start(PyObject *module, PyObject *breakdown);

/* gc_watch_stop() -> (records, own_seconds, peak_watch_bytes, dropped), and
 * stop recording (the caller has taken gc_watch_callback out of gc.callbacks).
 * Each record is a tuple
 *   (generation, started, duration, collected, uncollectable, freed, garbage,
 *    watched)
 * where started is time.perf_counter() at the collection's start, freed is a
 * tuple of (type_name, finalizer_kind, site, count, bytes) rows (most bytes
 * first; site a tuple of (filename, lineno) frames, most recent first, or
 * None), garbage a tuple of (type_name, finalizer_kind, address, site) for
 * the objects the collection added to gc.garbage, and watched the number of
 * objects watched (0 without breakdown). RuntimeError when not recording.
 * METH_NOARGS. */
PyObject *hlpy_gc_watch_stop(PyObject *module, PyObject *unused);

/* gc_watch_callback(phase, info): the gc.callbacks entry. Does nothing when
 * not recording. Errors inside (out of memory) are counted, never raised: the
 * collector would only print them. METH_VARARGS. */
PyObject *hlpy_gc_watch_callback(PyObject *module, PyObject *args);

#endif /* HLPY_GC_WATCH_H */
