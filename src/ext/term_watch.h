/* term_watch.h - make sure a termination signal that `heaplens run` handles in
 * Python is handled, or ends the process as it would have without heaplens.
 *
 * `heaplens run` catches SIGTERM in Python to write the capture before the
 * program dies. CPython's C handler only sets a flag for the main thread to
 * act on between bytecodes, and that is not enough: when the signal lands on
 * another thread, or just before the main thread goes to sleep in a lock or
 * a read, the main thread sleeps on and the program, which SIGTERM would
 * have ended, hangs (multiprocessing's Pool.terminate() waited forever for
 * such a worker). The watch wraps Python's C handler: when the signal comes,
 * a watchdog thread (quiet_thread.h) re-sends it to the main thread every few
 * milliseconds, which interrupts whatever it sleeps in, until the Python
 * handler says it has started (term_watch_handled). If it has not started
 * within the grace period (the main thread blocks the signal, or runs long C
 * code), the watchdog says so on stderr and ends the process by the signal's
 * default action: the capture is lost, the program is not left hanging.
 *
 * All functions below need the GIL and run on the thread that Python calls
 * its main thread (the one that may handle signals).
 */
#ifndef HLPY_TERM_WATCH_H
#define HLPY_TERM_WATCH_H

#include <Python.h>

#include "hl_common.h"

/* _core.term_watch_start(signum, grace_seconds): watch signum, whose handler
 * must already be a Python function (signal.signal). Returns None;
 * ValueError for a bad number or a signal Python does not handle;
 * RuntimeError when already watching or the thread cannot start. */
HL_WARN_UNUSED PyObject *hlpy_term_watch_start(PyObject *module, PyObject *args);

/* _core.term_watch_handled(): the Python handler has started; stop
 * re-sending the signal. Further signals are passed to Python's handler
 * only, until term_watch_after_fork(). Never fails. */
HL_WARN_UNUSED PyObject *hlpy_term_watch_handled(PyObject *module, PyObject *unused);

/* _core.term_watch_after_fork(): in a forked child, whose only thread is the
 * one that forked, watch again from this thread (the watchdog did not
 * survive the fork). Does nothing when the parent was not watching.
 * RuntimeError when the thread cannot start (the signal is then left to
 * Python's handler alone). */
HL_WARN_UNUSED PyObject *hlpy_term_watch_after_fork(PyObject *module, PyObject *unused);

/* _core.term_watch_stop(): stop the watchdog (waits for it) and give the
 * signal back to Python's handler when the watch still wraps it. Does
 * nothing when not watching. */
HL_WARN_UNUSED PyObject *hlpy_term_watch_stop(PyObject *module, PyObject *unused);

#endif /* HLPY_TERM_WATCH_H */
