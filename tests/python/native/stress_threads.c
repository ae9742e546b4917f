/* Threads Python does not know, churning the RAW allocator, for the stress
 * tests (tests/stress/torture.py, tests/python/test_stress_torture.py).
 *
 * stress_threads_start() makes pthreads that have no Python thread state and
 * never take the GIL. Each loops over its own slots calling PyMem_RawMalloc,
 * PyMem_RawRealloc and PyMem_RawFree (the calls CPython documents as safe
 * without the GIL) until stress_threads_stop(). Every block is filled with a
 * byte derived from its slot and generation, and that fill is checked before
 * the block is resized or freed: a tracer that wrote into a user's block, or
 * handed one address to two owners, shows up as a mismatch.
 *
 * Invariants: at most one run at a time (the caller starts and stops from
 * one Python thread); the slots belong to their thread alone; only the
 * counters and the stop flag are shared, and they are atomic. Loaded with
 * ctypes.CDLL, so the GIL is released around both calls. */

#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#define STRESS_MAX_THREADS 64
#define STRESS_SLOTS 48

/* Written by stress_threads_start/stop (one caller at a time), read by the
 * workers: atomic. */
static atomic_int stress_stop_flag;
/* Added to by every worker, read by stress_threads_stop: atomic. */
static atomic_llong stress_operations;
static atomic_llong stress_mismatches;
static atomic_llong stress_failed_allocations;

/* Owned by the starting thread between start and stop. */
static pthread_t stress_threads[STRESS_MAX_THREADS];
static int stress_n_threads;

typedef struct {
    unsigned char *block; /* NULL when the slot is empty */
    size_t size;
    unsigned char fill;
} stress_slot;

/* A small xorshift generator: each worker has its own state. */
static uint32_t stress_next(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* A size that is small (pymalloc's range when it comes through PyMem) most of
 * the time and over 512 bytes, up to about 64 KiB, otherwise. */
static size_t stress_size(uint32_t *state) {
    uint32_t r = stress_next(state);
    if (r % 4 != 0) {
        return 1 + (r >> 8) % 512;
    }
    return 513 + (r >> 8) % 65000;
}

/* Counts a mismatch when the first `size` bytes of `block` are not all
 * `fill`. */
static void stress_check(const unsigned char *block, size_t size, unsigned char fill) {
    for (size_t i = 0; i < size; i++) {
        if (block[i] != fill) {
            atomic_fetch_add(&stress_mismatches, 1);
            return;
        }
    }
}

/* The worker: allocate, check, resize and free its slots until the stop flag
 * is set, then free what it still holds. `arg` is its seed (by value). */
static void *stress_worker(void *arg) {
    uint32_t state = (uint32_t)(uintptr_t)arg | 1u;
    stress_slot slots[STRESS_SLOTS];
    memset(slots, 0, sizeof(slots));
    long long operations = 0;
    while (!atomic_load_explicit(&stress_stop_flag, memory_order_relaxed)) {
        stress_slot *slot = &slots[stress_next(&state) % STRESS_SLOTS];
        uint32_t choice = stress_next(&state) % 3;
        if (slot->block == NULL) {
            size_t size = stress_size(&state);
            slot->block = PyMem_RawMalloc(size);
            if (slot->block == NULL) {
                atomic_fetch_add(&stress_failed_allocations, 1);
                continue;
            }
            slot->size = size;
            slot->fill = (unsigned char)stress_next(&state);
            memset(slot->block, slot->fill, size);
        } else if (choice == 0) {
            size_t size = stress_size(&state);
            stress_check(slot->block, slot->size, slot->fill);
            unsigned char *grown = PyMem_RawRealloc(slot->block, size);
            if (grown == NULL) {
                atomic_fetch_add(&stress_failed_allocations, 1);
                continue; /* the old block is still ours */
            }
            stress_check(grown, slot->size < size ? slot->size : size, slot->fill);
            slot->block = grown;
            slot->size = size;
            slot->fill = (unsigned char)stress_next(&state);
            memset(slot->block, slot->fill, size);
        } else {
            stress_check(slot->block, slot->size, slot->fill);
            PyMem_RawFree(slot->block);
            slot->block = NULL;
        }
        operations++;
    }
    for (int i = 0; i < STRESS_SLOTS; i++) {
        if (slots[i].block != NULL) {
            stress_check(slots[i].block, slots[i].size, slots[i].fill);
            PyMem_RawFree(slots[i].block);
        }
    }
    atomic_fetch_add(&stress_operations, operations);
    return NULL;
}

/* Start n_threads (1..64) workers seeded from `seed`. Returns the number
 * started (fewer when pthread_create fails), or -1 when a run is already
 * going or n_threads is out of range. Any GIL state. */
int stress_threads_start(int n_threads, unsigned seed) {
    if (stress_n_threads != 0 || n_threads < 1 || n_threads > STRESS_MAX_THREADS) {
        return -1;
    }
    atomic_store(&stress_stop_flag, 0);
    atomic_store(&stress_operations, 0);
    atomic_store(&stress_mismatches, 0);
    atomic_store(&stress_failed_allocations, 0);
    for (int i = 0; i < n_threads; i++) {
        uintptr_t thread_seed = (uintptr_t)seed * 2654435761u + (uintptr_t)i * 40503u + 1u;
        if (pthread_create(&stress_threads[i], NULL, stress_worker, (void *)thread_seed) != 0) {
            break;
        }
        stress_n_threads++;
    }
    return stress_n_threads;
}

/* Stop the workers and join them. Returns the number of operations they
 * made; stores the number of fill mismatches in *mismatches and of failed
 * allocations in *failed (either pointer may be NULL). Returns -1 when no run
 * was going. Call without the GIL (ctypes.CDLL does): a worker may be inside
 * the tracer's hook, which can wait for the GIL. */
long long stress_threads_stop(long long *mismatches, long long *failed) {
    if (stress_n_threads == 0) {
        return -1;
    }
    atomic_store(&stress_stop_flag, 1);
    for (int i = 0; i < stress_n_threads; i++) {
        pthread_join(stress_threads[i], NULL);
    }
    stress_n_threads = 0;
    if (mismatches != NULL) {
        *mismatches = atomic_load(&stress_mismatches);
    }
    if (failed != NULL) {
        *failed = atomic_load(&stress_failed_allocations);
    }
    return atomic_load(&stress_operations);
}

/* After fork() in the child: the workers did not survive, forget them (the
 * blocks they held leak, in the child only). */
void stress_threads_forget_after_fork(void) {
    stress_n_threads = 0;
}
