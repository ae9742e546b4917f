/* stack_servant.c - stacks for RAW allocations without the GIL, read by a
 * helper thread (see stack_servant.h).
 *
 * A request lives on its asker's stack. The asker puts it on the queue
 * (PENDING) and waits on `answered` until its deadline. The servant takes the
 * GIL, then, under the lock, takes the whole queue and marks each request
 * READING: from then on the asker must wait for it, whatever its deadline,
 * since the servant is reading its frames. A READING request is marked
 * ANSWERED once read; the servant then never touches it again. An asker whose
 * deadline passes while its request is still PENDING takes it off the queue
 * and leaves: the servant never sees it.
 */
#include "stack_servant.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "cpython/internals.h"
#include "hooks.h"
#include "quiet_thread.h"
#include "stack_cache.h"

/* Slots of the cache (a power of two). */
#define HL_STACK_CACHE_SLOTS 1024

typedef enum { HL_PENDING, HL_READING, HL_ANSWERED } hl_request_state;

typedef struct hl_stack_request {
    PyThreadState *tstate;      /* the asker's, not attached; or NULL with frames */
    const hl_frame_ref *frames; /* frames the asker read itself, to intern; or NULL */
    uint16_t n_frames, total_nframe;
    uint64_t frames_epoch;         /* the stack epoch the frames were read in */
    hl_request_state state;        /* lock */
    struct hl_stack_request *next; /* lock: the queue */
    /* Written by the servant before it marks the request ANSWERED: the
     * reader's result (0 or -1, or 1 when not read) and what it stored. */
    int result;
    hl_stack_id id;
    uint64_t epoch;
} hl_stack_request;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work;        /* the servant waits on it for requests, or quit */
    pthread_cond_t answered;    /* askers wait on it (CLOCK_MONOTONIC) */
    hl_stack_request *queue;    /* lock: PENDING requests */
    int running;                /* lock: a servant thread lives in this process */
    int quitting;               /* lock: exit: never start one again */
    hlpy_stack_reader read;     /* set once, at import, before any ask */
    hlpy_stack_interner intern; /* the same */
    pthread_mutex_t cache_lock;
    hl_stack_cache cache;         /* cache_lock; made at import (empty if no memory) */
    pthread_condattr_t monotonic; /* the clock of `answered`; set once, at import */
} S = {.lock = PTHREAD_MUTEX_INITIALIZER,
       .work = PTHREAD_COND_INITIALIZER,
       .cache_lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- fork ---------------------------------------------------------------- */

static void hl__before_fork(void) {
    pthread_mutex_lock(&S.lock);
    pthread_mutex_lock(&S.cache_lock);
}
static void hl__after_fork_parent(void) {
    pthread_mutex_unlock(&S.cache_lock);
    pthread_mutex_unlock(&S.lock);
}
/* The child has no servant thread, and no asker but the forking thread,
 * which is not asking: forget both. CPython deletes the servant's thread
 * state in the child. The condition variables may record waiters that do
 * not exist in the child (the parent's servant waits on `work` nearly all
 * the time), which a later signal could wait for: they are made anew. */
static void hl__after_fork_child(void) {
    S.queue = NULL;
    S.running = 0;
    pthread_cond_init(&S.work, NULL);
    pthread_cond_init(&S.answered, &S.monotonic);
    pthread_mutex_unlock(&S.cache_lock);
    pthread_mutex_unlock(&S.lock);
}

int hlpy_stack_servant_init_once(hlpy_stack_reader read, hlpy_stack_interner intern) {
    static int done;
    if (done)
        return 0;
    S.read = read;
    S.intern = intern;
    if (hl_stack_cache_init(&S.cache, HL_STACK_CACHE_SLOTS) < 0) {
        /* No memory for it: every find misses, every ask goes to the servant. */
    }
    int err = pthread_condattr_init(&S.monotonic);
    if (err == 0) {
        err = pthread_condattr_setclock(&S.monotonic, CLOCK_MONOTONIC);
        if (err == 0)
            err = pthread_cond_init(&S.answered, &S.monotonic);
    }
    if (err == 0 &&
        pthread_atfork(hl__before_fork, hl__after_fork_parent, hl__after_fork_child) != 0)
        err = ENOMEM;
    if (err != 0) {
        errno = err;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    done = 1;
    return 0;
}

/* ---- the servant --------------------------------------------------------- */

/* Answer every request in `batch` with the reader, or the interner for one
 * that brings its frames. Needs the GIL. */
static void hl__read_batch(hl_stack_request *batch) {
    for (hl_stack_request *request = batch; request != NULL; request = request->next) {
        if (request->frames != NULL)
            request->result = S.intern(request->frames, request->n_frames, request->total_nframe,
                                       request->frames_epoch, &request->id, &request->epoch);
        else
            request->result = S.read(request->tstate, &request->id, &request->epoch);
    }
}

/* Mark every request of `batch` answered (`result` 1 when `unread`) and wake
 * the askers. Takes the lock. After this the requests are the askers' again. */
static void hl__answer_batch(hl_stack_request *batch, int unread) {
    pthread_mutex_lock(&S.lock);
    while (batch != NULL) {
        hl_stack_request *next = batch->next; /* read before the asker may leave */
        if (unread)
            batch->result = 1;
        batch->state = HL_ANSWERED;
        batch = next;
    }
    pthread_cond_broadcast(&S.answered);
    pthread_mutex_unlock(&S.lock);
}

/* The servant's loop. It makes its thread state (taking the GIL) once, and
 * takes the GIL again only to answer requests, and never once the
 * interpreter is finalizing (a thread state may then be deleted under it). */
static void *hl__serve(void *unused) {
    (void)unused;
    (void)hlpy_hooks_suspend(); /* for good: nothing of this thread is traced */
    int finalizing = hlpy_cpython_is_finalizing();
    PyThreadState *mine = NULL;
    if (!finalizing) {
        (void)PyGILState_Ensure(); /* never released: the state lives as long as the process */
        mine = PyThreadState_Get();
    }
    pthread_mutex_lock(&S.lock);
    for (;;) {
        /* Here this thread holds the GIL, unless finalizing. */
        hl_stack_request *batch = S.queue;
        S.queue = NULL;
        for (hl_stack_request *request = batch; request != NULL; request = request->next)
            request->state = HL_READING;
        pthread_mutex_unlock(&S.lock);
        if (!finalizing) {
            hl__read_batch(batch);
            (void)PyEval_SaveThread();
        }
        hl__answer_batch(batch, finalizing);
        pthread_mutex_lock(&S.lock);
        if (finalizing)
            S.quitting = 1;
        while (S.queue == NULL && !S.quitting)
            pthread_cond_wait(&S.work, &S.lock);
        if (S.quitting)
            break;
        pthread_mutex_unlock(&S.lock);
        finalizing = hlpy_cpython_is_finalizing();
        if (!finalizing)
            PyEval_RestoreThread(mine);
        pthread_mutex_lock(&S.lock);
    }
    S.running = 0;
    /* Askers that came meanwhile get no answer. */
    hl_stack_request *left = S.queue;
    S.queue = NULL;
    pthread_mutex_unlock(&S.lock);
    hl__answer_batch(left, 1);
    return NULL;
}

/* Start the servant thread. Needs the lock, with running 0 and quitting 0;
 * gives it up meanwhile and takes it again. Returns 0, or -1 when no thread
 * could be started (running stays 0). */
static int hl__start_servant(void) {
    S.running = 1;
    pthread_mutex_unlock(&S.lock);
    pthread_t thread;
    int err = hlpy_quiet_thread_start(&thread, hl__serve, NULL);
    if (err == 0)
        pthread_detach(thread);
    pthread_mutex_lock(&S.lock);
    if (err != 0)
        S.running = 0;
    return err == 0 ? 0 : -1;
}

/* ---- asking -------------------------------------------------------------- */

/* Take `request` off the queue. Needs the lock; it must be PENDING. */
static void hl__unqueue(hl_stack_request *request) {
    hl_stack_request **link = &S.queue;
    while (*link != NULL && *link != request)
        link = &(*link)->next;
    if (*link == request)
        *link = request->next;
}

/* Ask the servant for the stack of `request` (its tstate's, or its frames)
 * and wait for the answer (see hlpy_stack_servant_ask), unless the call came
 * from a RAW hook and through another tool's (HLPY_ASK_UNSAFE). */
static hlpy_ask_result hl__ask_servant(hl_stack_request request, int from_raw_hook,
                                       hl_stack_id *id_out, uint64_t *epoch_out) {
    if (from_raw_hook && hlpy_hooks_raw_wrapped())
        return HLPY_ASK_UNSAFE;
    request.state = HL_PENDING;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_nsec += (long)HLPY_STACK_SERVANT_WAIT_MS * 1000000;
    deadline.tv_sec += deadline.tv_nsec / 1000000000;
    deadline.tv_nsec %= 1000000000;
    pthread_mutex_lock(&S.lock);
    if (S.quitting || S.read == NULL || (!S.running && hl__start_servant() < 0)) {
        pthread_mutex_unlock(&S.lock);
        return HLPY_ASK_UNANSWERED;
    }
    request.next = S.queue;
    S.queue = &request;
    pthread_cond_signal(&S.work);
    while (request.state != HL_ANSWERED) {
        if (request.state == HL_READING) {
            /* The servant holds the GIL and reads our frames: not long. */
            pthread_cond_wait(&S.answered, &S.lock);
        } else if (pthread_cond_timedwait(&S.answered, &S.lock, &deadline) == ETIMEDOUT &&
                   request.state == HL_PENDING) {
            hl__unqueue(&request);
            request.result = 1;
            break;
        }
    }
    pthread_mutex_unlock(&S.lock);
    if (request.result == 1)
        return HLPY_ASK_UNANSWERED;
    if (request.result < 0)
        return HLPY_ASK_FAILED;
    *id_out = request.id;
    *epoch_out = request.epoch;
    return HLPY_ASK_ANSWERED;
}

hlpy_ask_result hlpy_stack_servant_ask(PyThreadState *tstate, int from_raw_hook, uint64_t epoch,
                                       int nframe, hl_stack_id *id_out, uint64_t *epoch_out) {
    hl_stack_request request = {.tstate = tstate};
    if (nframe < 1 || nframe > HLPY_STACK_CACHE_MAX_FRAMES)
        return hl__ask_servant(request, from_raw_hook, id_out, epoch_out);
    hl_frame_ref frames[HLPY_STACK_CACHE_MAX_FRAMES];
    uint16_t total = 0;
    int n = hlpy_cpython_capture_stack(tstate, frames, nframe, &total);
    uint64_t hash = hl_stack_hash(frames, (uint16_t)n, total);
    pthread_mutex_lock(&S.cache_lock);
    int hit = hl_stack_cache_find(&S.cache, hash, epoch, frames, (uint16_t)n, total, id_out);
    pthread_mutex_unlock(&S.cache_lock);
    if (hit) {
        *epoch_out = epoch;
        return HLPY_ASK_ANSWERED;
    }
    hlpy_ask_result result = hl__ask_servant(request, from_raw_hook, id_out, epoch_out);
    if (result == HLPY_ASK_ANSWERED && *epoch_out == epoch) {
        /* The servant read the same frames, with the same limit (that of
         * this epoch's start). */
        pthread_mutex_lock(&S.cache_lock);
        if (hl_stack_cache_put(&S.cache, hash, epoch, frames, (uint16_t)n, total, *id_out) < 0) {
            /* No memory for the copy: this stack will be asked for again. */
        }
        pthread_mutex_unlock(&S.cache_lock);
    }
    return result;
}

hlpy_ask_result hlpy_stack_servant_intern(const hl_frame_ref *frames, uint16_t n_frames,
                                          uint16_t total_nframe, uint64_t epoch,
                                          hl_stack_id *id_out, uint64_t *epoch_out) {
    uint64_t hash = hl_stack_hash(frames, n_frames, total_nframe);
    pthread_mutex_lock(&S.cache_lock);
    int hit = hl_stack_cache_find(&S.cache, hash, epoch, frames, n_frames, total_nframe, id_out);
    pthread_mutex_unlock(&S.cache_lock);
    if (hit) {
        *epoch_out = epoch;
        return HLPY_ASK_ANSWERED;
    }
    hl_stack_request request = {.frames = frames,
                                .n_frames = n_frames,
                                .total_nframe = total_nframe,
                                .frames_epoch = epoch};
    hlpy_ask_result result = hl__ask_servant(request, 0, id_out, epoch_out);
    if (result == HLPY_ASK_ANSWERED && *epoch_out == epoch) {
        pthread_mutex_lock(&S.cache_lock);
        if (hl_stack_cache_put(&S.cache, hash, epoch, frames, n_frames, total_nframe, *id_out) <
            0) {
            /* No memory for the copy: this stack will be asked for again. */
        }
        pthread_mutex_unlock(&S.cache_lock);
    }
    return result;
}

size_t hlpy_stack_servant_memory(void) {
    pthread_mutex_lock(&S.cache_lock);
    size_t bytes = hl_stack_cache_memory(&S.cache);
    pthread_mutex_unlock(&S.cache_lock);
    return bytes;
}

void hlpy_stack_servant_quit(void) {
    pthread_mutex_lock(&S.lock);
    S.quitting = 1;
    pthread_cond_signal(&S.work);
    pthread_mutex_unlock(&S.lock);
}
