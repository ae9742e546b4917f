/* raw_threads.c - threads Python does not know, for the tracer's tests.
 *
 * Loaded with ctypes.CDLL (see __init__.py): every call below runs with the
 * GIL released, and the pthreads it creates have no Python thread state, so
 * the tracer's RAW hook meets them as CPython's tracemalloc meets threads a C
 * library made: no GIL, no frames.
 *
 *   raw_threads_churn_start(n, size): n threads loop PyMem_RawMalloc, then
 *       PyMem_RawRealloc, then PyMem_RawFree until raw_threads_churn_stop(),
 *       which joins them and returns how many blocks they allocated.
 *   raw_threads_alloc_kept(n, per_thread, size, out): n threads each allocate
 *       per_thread blocks and store them in out[] (n * per_thread entries),
 *       then exit; returns 0, or -1 when an allocation failed.
 *   raw_threads_realloc_all(n_ptrs, ptrs, new_size, n_threads): the threads
 *       realloc the given blocks (which another thread allocated, so they
 *       may be traced with a stack) to new_size, storing the new addresses
 *       back; returns 0, or -1 when a realloc failed.
 *   raw_threads_free_all(n_ptrs, ptrs): PyMem_RawFree every block, here.
 */
#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#define MAX_THREADS 64

static atomic_int churn_stop;
static _Atomic uint64_t churn_count;
static pthread_t churn_threads[MAX_THREADS];
static int churn_n;
static size_t churn_size;

static void *churn_main(void *arg) {
    size_t size = churn_size + (size_t)(uintptr_t)arg;
    void *blocks[32];
    uint64_t count = 0;
    while (!atomic_load(&churn_stop)) {
        for (int i = 0; i < 32; i++)
            blocks[i] = PyMem_RawMalloc(size);
        for (int i = 0; i < 32; i += 2) {
            void *bigger = blocks[i] ? PyMem_RawRealloc(blocks[i], size * 2) : NULL;
            if (bigger != NULL)
                blocks[i] = bigger;
        }
        for (int i = 0; i < 32; i++)
            PyMem_RawFree(blocks[i]);
        count += 32;
    }
    atomic_fetch_add(&churn_count, count);
    return NULL;
}

int raw_threads_churn_start(int n, size_t size) {
    if (n < 1 || n > MAX_THREADS || churn_n != 0)
        return -1;
    atomic_store(&churn_stop, 0);
    atomic_store(&churn_count, 0);
    churn_size = size;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&churn_threads[i], NULL, churn_main, (void *)(uintptr_t)(i * 8)) != 0)
            break;
        churn_n++;
    }
    return churn_n == n ? 0 : -1;
}

uint64_t raw_threads_churn_stop(void) {
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < churn_n; i++)
        pthread_join(churn_threads[i], NULL);
    churn_n = 0;
    return atomic_load(&churn_count);
}

typedef struct job {
    void **ptrs;
    size_t first, count, size;
    int failed;
} job;

static void *alloc_main(void *arg) {
    job *j = arg;
    for (size_t i = 0; i < j->count; i++) {
        j->ptrs[j->first + i] = PyMem_RawMalloc(j->size);
        j->failed |= j->ptrs[j->first + i] == NULL;
    }
    return NULL;
}

static void *realloc_main(void *arg) {
    job *j = arg;
    for (size_t i = 0; i < j->count; i++) {
        void *moved = PyMem_RawRealloc(j->ptrs[j->first + i], j->size);
        if (moved == NULL)
            j->failed = 1;
        else
            j->ptrs[j->first + i] = moved;
    }
    return NULL;
}

/* Run `body` on n threads, each over its share of ptrs[0..n_ptrs). */
static int run_jobs(int n, void **ptrs, size_t n_ptrs, size_t size, void *(*body)(void *)) {
    pthread_t threads[MAX_THREADS];
    job jobs[MAX_THREADS];
    if (n < 1 || n > MAX_THREADS)
        return -1;
    size_t share = (n_ptrs + (size_t)n - 1) / (size_t)n;
    int started = 0, failed = 0;
    for (int i = 0; i < n; i++) {
        size_t first = share * (size_t)i;
        jobs[i] =
            (job){ptrs, first,
                  first >= n_ptrs ? 0 : (n_ptrs - first < share ? n_ptrs - first : share), size, 0};
        if (pthread_create(&threads[i], NULL, body, &jobs[i]) != 0) {
            failed = 1;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(threads[i], NULL);
        failed |= jobs[i].failed;
    }
    return failed ? -1 : 0;
}

int raw_threads_alloc_kept(int n, size_t per_thread, size_t size, void **out) {
    return run_jobs(n, out, per_thread * (size_t)n, size, alloc_main);
}

int raw_threads_realloc_all(size_t n_ptrs, void **ptrs, size_t new_size, int n_threads) {
    return run_jobs(n_threads, ptrs, n_ptrs, new_size, realloc_main);
}

void raw_threads_free_all(size_t n_ptrs, void **ptrs) {
    for (size_t i = 0; i < n_ptrs; i++) {
        PyMem_RawFree(ptrs[i]);
        ptrs[i] = NULL;
    }
}
