/* timeline_thread.c - the sampling thread behind `heaplens run`'s memory
 * over time (see timeline_thread.h).
 *
 * Locking: `lock` guards `stopping` and the condition the thread sleeps on;
 * the timeline itself is written only by the thread and read only after it
 * was joined. Fork handlers hold `lock` across fork(), so the child never
 * inherits it locked.
 */
#include "timeline_thread.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "quiet_thread.h"
#include "timeline.h"
#include "tracer.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running;  /* a thread was started and not joined (GIL) */
    pid_t owner;  /* the process that started it: a forked child has no thread */
    int stopping; /* lock */
    hl_timeline timeline;
    size_t max_points;
    int64_t start_mono_ns;
    uint64_t last_peak_total;
    int64_t peak_t_ns; /* -1: unknown */
} S = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int64_t hl__now_ns(clockid_t clock) {
    struct timespec now;
    clock_gettime(clock, &now);
    return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

/* Resident set size in bytes from /proc/self/statm, or 0 when unknown. */
static uint64_t hl__rss_bytes(void) {
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    char *p = buf;
    strtoull(p, &p, 10); /* total program size */
    unsigned long long pages = strtoull(p, NULL, 10);
    long page = sysconf(_SC_PAGESIZE);
    return page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

/* Take one sample into the timeline. Only the thread calls this. */
static void hl__sample(void) {
    int64_t t = hl__now_ns(CLOCK_MONOTONIC) - S.start_mono_ns;
    uint64_t now, high, peak;
    hlpy_tracer_timeline_totals(&now, &high, &peak);
    if (peak > S.last_peak_total) {
        S.last_peak_total = peak;
        S.peak_t_ns = t;
    }
    hl_timeline_point point = {(uint64_t)(t < 0 ? 0 : t), now, high > now ? high : now,
                               hl__rss_bytes()};
    hl_timeline_add(&S.timeline, point);
    hlpy_hooks_check_without_gil(); /* another tool may have taken the hooks away */
}

static void *hl__thread_main(void *arg) {
    (void)arg;
    pthread_mutex_lock(&S.lock);
    while (!S.stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        uint64_t ns = (uint64_t)until.tv_nsec + S.timeline.interval_ns;
        until.tv_sec += (time_t)(ns / 1000000000u);
        until.tv_nsec = (long)(ns % 1000000000u);
        while (!S.stopping && pthread_cond_timedwait(&S.wake, &S.lock, &until) == 0) {
        }
        if (S.stopping)
            break;
        pthread_mutex_unlock(&S.lock);
        hl__sample();
        pthread_mutex_lock(&S.lock);
    }
    pthread_mutex_unlock(&S.lock);
    hl__sample(); /* the end of the run */
    return NULL;
}

/* Set up the state and start the thread. Returns 0, or -1 with an exception. */
static int hl__start(uint64_t interval_ns, size_t max_points) {
    if (hl_timeline_init(&S.timeline, max_points, hl__now_ns(CLOCK_REALTIME), interval_ns) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&S.wake, &attr);
    pthread_condattr_destroy(&attr);
    S.max_points = max_points;
    S.stopping = 0;
    S.start_mono_ns = hl__now_ns(CLOCK_MONOTONIC);
    S.last_peak_total = 0;
    S.peak_t_ns = -1;
    hl__sample(); /* t = 0 */
    if (hlpy_quiet_thread_start(&S.thread, hl__thread_main, NULL) != 0) {
        hl_timeline_destroy(&S.timeline);
        pthread_cond_destroy(&S.wake);
        PyErr_SetString(PyExc_RuntimeError, "heaplens: could not start the timeline thread");
        return -1;
    }
    S.running = 1;
    S.owner = getpid();
    return 0;
}

PyObject *hlpy_timeline_start(PyObject *module, PyObject *args) {
    (void)module;
    unsigned long long interval_ns;
    Py_ssize_t max_points = 4096;
    if (!PyArg_ParseTuple(args, "K|n:timeline_start", &interval_ns, &max_points))
        return NULL;
    if (interval_ns < 100000 || interval_ns > 3600ull * 1000000000ull) {
        PyErr_SetString(PyExc_ValueError, "the interval must be between 0.1 ms and one hour");
        return NULL;
    }
    if (max_points < 2 || max_points % 2 != 0 || max_points > 1 << 24) {
        PyErr_SetString(PyExc_ValueError, "max_points must be an even number from 2 to 2**24");
        return NULL;
    }
    if (S.running) {
        PyErr_SetString(PyExc_RuntimeError, "the timeline is already being sampled");
        return NULL;
    }
    if (!hlpy_tracer_is_tracing() || !hlpy_tracer_sums_on()) {
        PyErr_SetString(PyExc_RuntimeError, "the timeline needs the tracer started with sums=True");
        return NULL;
    }
    if (hl__start(interval_ns, (size_t)max_points) < 0)
        return NULL;
    Py_RETURN_NONE;
}

PyObject *hlpy_timeline_stop(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    if (!S.running)
        Py_RETURN_NONE;
    if (S.owner != getpid()) {
        /* A forked child that never called timeline_after_fork(): there is
         * no thread to join, and the points are the parent's. */
        S.running = 0;
        hl_timeline_destroy(&S.timeline);
        Py_RETURN_NONE;
    }
    pthread_mutex_lock(&S.lock);
    S.stopping = 1;
    pthread_cond_signal(&S.wake);
    pthread_mutex_unlock(&S.lock);
    Py_BEGIN_ALLOW_THREADS
    pthread_join(S.thread, NULL);
    Py_END_ALLOW_THREADS
    S.running = 0;
    pthread_cond_destroy(&S.wake);
    hl_timeline_flush(&S.timeline);
    hl_timeline *timeline = &S.timeline;
    PyObject *points = PyList_New((Py_ssize_t)timeline->n_points);
    for (size_t i = 0; points != NULL && i < timeline->n_points; i++) {
        const hl_timeline_point *p = &timeline->points[i];
        PyObject *item =
            Py_BuildValue("(KKKK)", (unsigned long long)p->t_ns, (unsigned long long)p->traced,
                          (unsigned long long)p->traced_max, (unsigned long long)p->rss);
        if (item == NULL)
            Py_CLEAR(points);
        else
            PyList_SET_ITEM(points, (Py_ssize_t)i, item);
    }
    PyObject *result = points == NULL ? NULL
                                      : Py_BuildValue("(LKNL)", (long long)timeline->start_ns,
                                                      (unsigned long long)timeline->interval_ns,
                                                      points, (long long)S.peak_t_ns);
    hl_timeline_destroy(&S.timeline);
    return result;
}

PyObject *hlpy_timeline_after_fork(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    if (!S.running)
        Py_RETURN_NONE;
    /* The thread did not survive the fork; its memory did. */
    S.running = 0;
    uint64_t interval_ns = S.timeline.interval_ns;
    hl_timeline_destroy(&S.timeline);
    if (!hlpy_tracer_is_tracing() || !hlpy_tracer_sums_on())
        Py_RETURN_NONE;
    if (hl__start(interval_ns, S.max_points) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static void hl__before_fork(void) {
    pthread_mutex_lock(&S.lock);
}
static void hl__after_fork(void) {
    pthread_mutex_unlock(&S.lock);
}

int hlpy_timeline_init_once(void) {
    static int done;
    if (done)
        return 0;
    if (pthread_atfork(hl__before_fork, hl__after_fork, hl__after_fork) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "heaplens: could not register fork handlers");
        return -1;
    }
    done = 1;
    return 0;
}
