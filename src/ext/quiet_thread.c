/* quiet_thread.c - helper threads with every signal blocked (quiet_thread.h). */
#include "quiet_thread.h"

#include <signal.h>

int hlpy_quiet_thread_start(pthread_t *thread, void *(*run)(void *), void *arg) {
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous); /* the new thread inherits it */
    int err = pthread_create(thread, NULL, run, arg);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    return err;
}
