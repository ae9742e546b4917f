/* quiet_thread.c - helper threads with every signal blocked (quiet_thread.h).
 *
 * The creator waits until the new thread runs its function: by then the C
 * library (and a sanitizer's runtime, which allocates while it sets a thread
 * up) is done with it, so a fork() that follows at once does not copy a lock
 * that the half-started thread holds into a child that would wait on it
 * forever.
 */
#include "quiet_thread.h"

#include <errno.h>
#include <semaphore.h>
#include <signal.h>

typedef struct {
    void *(*run)(void *);
    void *arg;
    sem_t started; /* posted once the thread runs */
} hl_thread_start;

static void *hl__trampoline(void *opaque) {
    hl_thread_start *start = opaque; /* on the creator's stack until posted */
    void *(*run)(void *) = start->run;
    void *arg = start->arg;
    sem_post(&start->started);
    return run(arg);
}

int hlpy_quiet_thread_start(pthread_t *thread, void *(*run)(void *), void *arg) {
    hl_thread_start start = {.run = run, .arg = arg};
    if (sem_init(&start.started, 0, 0) != 0)
        return errno;
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous); /* the new thread inherits it */
    int err = pthread_create(thread, NULL, hl__trampoline, &start);
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    if (err == 0) {
        while (sem_wait(&start.started) != 0 && errno == EINTR) {
        }
    }
    sem_destroy(&start.started);
    return err;
}
