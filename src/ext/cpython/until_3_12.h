/* cpython/until_3_12.h - what 3.11 and 3.12 share beyond the frames: the
 * runtime's interpreters lock is a PyThread lock, and finalization is asked
 * with the private _Py_IsFinalizing. Included by py3_11.c and py3_12.c after
 * the internal headers. since_3_13.h is its counterpart for later versions.
 */
#ifndef HLPY_CPYTHON_UNTIL_3_12_H
#define HLPY_CPYTHON_UNTIL_3_12_H

int hlpy_cpython_interpreters_lock_busy(void) {
    /* A PyThread lock says nothing of its holder: try to take it. */
    PyThread_type_lock lock = _PyRuntime.interpreters.mutex;
    if (lock == NULL || !PyThread_acquire_lock(lock, NOWAIT_LOCK))
        return 1;
    PyThread_release_lock(lock);
    return 0;
}

int hlpy_cpython_is_finalizing(void) {
    return _Py_IsFinalizing() != 0;
}

#endif /* HLPY_CPYTHON_UNTIL_3_12_H */
