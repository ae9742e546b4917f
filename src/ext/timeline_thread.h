/* timeline_thread.h - a native thread that samples the traced total and the
 * resident set size every interval into a bounded timeline (timeline.h).
 *
 * The thread never takes the GIL and never runs Python code: it reads the
 * tracer's totals (hlpy_tracer_timeline_totals, lock-free; the tracer must
 * keep sums) and /proc/self/statm, and it blocks every signal
 * (quiet_thread.h). The functions below need the GIL.
 */
#ifndef HLPY_TIMELINE_THREAD_H
#define HLPY_TIMELINE_THREAD_H

#include <Python.h>

#include "hl_common.h"

/* _core.timeline_start(interval_ns, max_points=4096): start sampling.
 * RuntimeError when already sampling or when the tracer keeps no sums. */
HL_WARN_UNUSED PyObject *hlpy_timeline_start(PyObject *module, PyObject *args);

/* _core.timeline_stop() -> (start_ns, interval_ns, points, peak_t_ns) or
 * None when not sampling: stop the thread (waits for it) and hand over the
 * points; peak_t_ns is when the highest total was first seen (-1: unknown). */
HL_WARN_UNUSED PyObject *hlpy_timeline_stop(PyObject *module, PyObject *unused);

/* _core.timeline_after_fork(): in a child process, where the thread does not
 * exist, forget the parent's points and start sampling afresh. Does nothing
 * when the parent was not sampling. */
HL_WARN_UNUSED PyObject *hlpy_timeline_after_fork(PyObject *module, PyObject *unused);

/* Register the fork handlers; called once at import. Returns 0 or -1 with an exception. */
HL_WARN_UNUSED int hlpy_timeline_init_once(void);

#endif /* HLPY_TIMELINE_THREAD_H */
