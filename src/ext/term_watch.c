/* term_watch.c - the watchdog behind `heaplens run`'s SIGTERM handling (see
 * term_watch.h).
 *
 * Invariants: while the watch is installed, the signal's action is
 * hl__on_signal, which first calls the action Python had (`python`, never
 * changed while installed) and then, once per signal not yet handled, wakes
 * the watchdog. `state` goes IDLE -> PENDING in the handler (compare and
 * swap, async-signal-safe), PENDING -> HANDLED when Python says so, and back
 * to IDLE only in a forked child. The watchdog never takes the GIL, never
 * allocates, and blocks every signal.
 */
#include "term_watch.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "quiet_thread.h"

enum { HL_IDLE, HL_PENDING, HL_HANDLED };

#define HL_FIRST_NUDGE_NS 2000000LL /* 2 ms: the Python handler usually ran by then */
#define HL_MAX_NUDGE_NS 50000000LL  /* then every 50 ms at most */

static struct {
    /* Written with the GIL before the action is installed or the watchdog
     * started, and only read after that (handler, watchdog). */
    struct sigaction python; /* the action Python had: its C handler */
    int signum;
    long long grace_ns;
    pthread_t main_thread; /* the thread Python runs signal handlers on */
    /* The GIL. */
    pthread_t thread;
    int running; /* a watchdog was started and not joined */
    pid_t owner; /* the process that started it: a forked child has none */
    /* Shared with the handler and the watchdog. */
    sem_t wake;       /* posted by the handler and by stop (async-signal-safe) */
    atomic_int state; /* HL_IDLE, HL_PENDING, HL_HANDLED */
    atomic_int stopping;
} W;

/* The signal's action while watched: Python's, then wake the watchdog unless
 * this signal is already being (or was) handled. Async-signal-safe; keeps
 * errno. */
static void hl__on_signal(int signum, siginfo_t *info, void *context) {
    int saved_errno = errno;
    if (W.python.sa_flags & SA_SIGINFO)
        W.python.sa_sigaction(signum, info, context);
    else if (W.python.sa_handler != SIG_DFL && W.python.sa_handler != SIG_IGN)
        W.python.sa_handler(signum);
    int idle = HL_IDLE;
    if (atomic_compare_exchange_strong(&W.state, &idle, HL_PENDING))
        sem_post(&W.wake);
    errno = saved_errno;
}

/* The grace period is over and Python never ran its handler: say so, and end
 * the process by the signal's default action, as it would have ended without
 * heaplens. Runs on the watchdog. Does not return. */
static void hl__give_up(void) {
    char message[256];
    char name[32];
    if (W.signum == SIGTERM)
        snprintf(name, sizeof name, "SIGTERM");
    else
        snprintf(name, sizeof name, "signal %d", W.signum);
    int n = snprintf(message, sizeof message,
                     "heaplens: the program did not handle %s within %.3g s (its main thread "
                     "blocks it, or runs long C code): ending it without the capture\n",
                     name, (double)W.grace_ns / 1e9);
    if (n > 0) {
        ssize_t ignored = write(STDERR_FILENO, message,
                                (size_t)n < sizeof message ? (size_t)n : sizeof message - 1);
        (void)ignored;
    }
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(W.signum, &fallback, NULL);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, W.signum);
    pthread_sigmask(SIG_UNBLOCK, &only, NULL);
    raise(W.signum); /* the default action ends the whole process */
    _exit(128 + W.signum);
}

static void hl__sleep_ns(long long ns) {
    struct timespec wait = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
    while (nanosleep(&wait, &wait) != 0 && errno == EINTR) {
    }
}

/* The watchdog: sleeps until a signal comes, then re-sends it to the main
 * thread until Python's handler has started or the grace period is over. */
static void *hl__watchdog(void *unused) {
    (void)unused;
    for (;;) {
        if (sem_wait(&W.wake) != 0)
            continue;
        if (atomic_load(&W.stopping))
            return NULL;
        long long waited = 0, step = HL_FIRST_NUDGE_NS;
        while (atomic_load(&W.state) == HL_PENDING) {
            if (atomic_load(&W.stopping))
                return NULL;
            if (waited >= W.grace_ns)
                hl__give_up();
            hl__sleep_ns(step);
            waited += step;
            if (atomic_load(&W.state) == HL_PENDING)
                pthread_kill(W.main_thread, W.signum); /* interrupts what it sleeps in */
            step = step * 2 < HL_MAX_NUDGE_NS ? step * 2 : HL_MAX_NUDGE_NS;
        }
    }
}

/* Start the watchdog for this process. Returns 0, or -1 with an exception
 * (the semaphore is then destroyed). GIL held. */
static int hl__start_watchdog(void) {
    if (sem_init(&W.wake, 0, 0) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    atomic_store(&W.state, HL_IDLE);
    atomic_store(&W.stopping, 0);
    W.main_thread = pthread_self();
    int err = hlpy_quiet_thread_start(&W.thread, hl__watchdog, NULL);
    if (err != 0) {
        sem_destroy(&W.wake);
        PyErr_Format(PyExc_RuntimeError, "heaplens: could not start the signal watchdog: %s",
                     strerror(err));
        return -1;
    }
    W.running = 1;
    W.owner = getpid();
    return 0;
}

static int hl__is_watch_installed(void) {
    struct sigaction current;
    return sigaction(W.signum, NULL, &current) == 0 && (current.sa_flags & SA_SIGINFO) &&
           current.sa_sigaction == hl__on_signal;
}

PyObject *hlpy_term_watch_start(PyObject *module, PyObject *args) {
    (void)module;
    int signum;
    double grace_seconds;
    if (!PyArg_ParseTuple(args, "id:term_watch_start", &signum, &grace_seconds))
        return NULL;
    if (signum <= 0 || signum >= NSIG || signum == SIGKILL || signum == SIGSTOP) {
        PyErr_Format(PyExc_ValueError, "signal number %d cannot be watched", signum);
        return NULL;
    }
    if (!(grace_seconds > 0 && grace_seconds <= 3600)) {
        PyErr_SetString(PyExc_ValueError, "the grace period must be from 0 to 3600 seconds");
        return NULL;
    }
    if (W.running && W.owner == getpid()) {
        PyErr_SetString(PyExc_RuntimeError, "a signal is already being watched");
        return NULL;
    }
    struct sigaction python;
    if (sigaction(signum, NULL, &python) != 0)
        return PyErr_SetFromErrno(PyExc_OSError);
    int handled = (python.sa_flags & SA_SIGINFO)
                      ? python.sa_sigaction != NULL
                      : (python.sa_handler != SIG_DFL && python.sa_handler != SIG_IGN);
    if (!handled) {
        PyErr_Format(PyExc_ValueError,
                     "signal %d has no handler to watch: install one with signal.signal() first",
                     signum);
        return NULL;
    }
    W.python = python;
    W.signum = signum;
    W.grace_ns = (long long)(grace_seconds * 1e9);
    if (hl__start_watchdog() < 0)
        return NULL;
    struct sigaction watched = python;
    watched.sa_flags = (python.sa_flags | SA_SIGINFO) & ~SA_RESETHAND;
    watched.sa_sigaction = hl__on_signal;
    if (sigaction(signum, &watched, NULL) != 0) {
        PyObject *stopped = hlpy_term_watch_stop(NULL, NULL);
        Py_XDECREF(stopped);
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

PyObject *hlpy_term_watch_handled(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    atomic_store(&W.state, HL_HANDLED);
    Py_RETURN_NONE;
}

PyObject *hlpy_term_watch_after_fork(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    if (!W.running || W.owner == getpid())
        Py_RETURN_NONE;
    W.running = 0; /* the parent's watchdog is not in this process */
    if (!hl__is_watch_installed())
        Py_RETURN_NONE; /* the program took the signal over */
    if (hl__start_watchdog() < 0) {
        sigaction(W.signum, &W.python, NULL); /* Python's handler alone, as without the watch */
        return NULL;
    }
    Py_RETURN_NONE;
}

PyObject *hlpy_term_watch_stop(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    if (!W.running)
        Py_RETURN_NONE;
    W.running = 0;
    if (hl__is_watch_installed())
        sigaction(W.signum, &W.python, NULL);
    if (W.owner != getpid())
        Py_RETURN_NONE; /* a forked child that never called term_watch_after_fork() */
    atomic_store(&W.stopping, 1);
    sem_post(&W.wake);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(W.thread, NULL);
    Py_END_ALLOW_THREADS
    sem_destroy(&W.wake);
    Py_RETURN_NONE;
}
