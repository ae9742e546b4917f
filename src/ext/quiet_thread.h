/* quiet_thread.h - start a helper thread that never receives asynchronous
 * signals.
 *
 * A signal sent to the process (kill, SIGTERM from multiprocessing, Ctrl-C)
 * goes to any one thread that does not block it. If the kernel picks one of
 * heaplens's helper threads, CPython's C handler only sets a flag there, and
 * a main thread sleeping in a lock or a read is not woken to run the Python
 * handler: the program hangs where it would have ended. Helper threads
 * therefore block every signal, from their first instruction.
 */
#ifndef HLPY_QUIET_THREAD_H
#define HLPY_QUIET_THREAD_H

#include <pthread.h>

/* Start run(arg) on a new joinable thread whose signal mask blocks every
 * signal (the mask is set before the thread exists, so no signal can reach it
 * in between), and return once it runs run. The calling thread's mask is
 * unchanged on return. Returns 0, or an error number (pthread_create's, or
 * sem_init's errno). Any thread; the new one must not need what the caller
 * holds (the GIL) before it calls run. */
int hlpy_quiet_thread_start(pthread_t *thread, void *(*run)(void *), void *arg)
    __attribute__((warn_unused_result));

#endif /* HLPY_QUIET_THREAD_H */
