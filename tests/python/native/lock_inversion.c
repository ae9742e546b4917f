/* lock_inversion.c - a C library that holds a mutex of its own while it
 * calls PyMem_RawMalloc with the GIL released, and a second entry point that
 * takes that mutex while holding the GIL: the lock order that CPython's RAW
 * domain allows (a RAW allocator must work without the GIL, so it must never
 * wait for it) and that a RAW hook waiting for the GIL turns into a deadlock
 * (CPython's gh-155725; the stdlib tracemalloc of 3.15 calls the RAW
 * allocator under its table lock in the same way).
 *
 * inversion_hold_and_allocate(size) (load with ctypes.CDLL, which releases the
 * GIL): takes the mutex, says so, waits until the other side is about to take
 * it, allocates `size` bytes with PyMem_RawMalloc, frees them, lets go of the
 * mutex. Returns the nanoseconds the allocation took, or -1 when it failed.
 *
 * timed_raw_malloc(): below.
 *
 * inversion_take_when_held() (load with ctypes.PyDLL, which keeps the GIL):
 * waits until the first side holds the mutex, says it is about to take it,
 * and takes it, keeping the GIL all along, then lets go.
 */
#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

static pthread_mutex_t inversion_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_int inversion_held;    /* the allocating side holds the mutex */
static atomic_int inversion_waiting; /* the GIL side is about to take it */

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

int64_t inversion_hold_and_allocate(size_t size) {
    pthread_mutex_lock(&inversion_lock);
    atomic_store(&inversion_held, 1);
    while (!atomic_load(&inversion_waiting)) {
    }
    struct timespec pause = {0, 20 * 1000 * 1000}; /* the other side is now in lock() */
    nanosleep(&pause, NULL);
    int64_t began = now_ns();
    void *block = PyMem_RawMalloc(size);
    int64_t took = now_ns() - began;
    PyMem_RawFree(block);
    atomic_store(&inversion_held, 0);
    pthread_mutex_unlock(&inversion_lock);
    return block != NULL ? took : -1;
}

void inversion_take_when_held(void) {
    while (!atomic_load(&inversion_held)) {
    }
    atomic_store(&inversion_waiting, 1);
    pthread_mutex_lock(&inversion_lock);
    atomic_store(&inversion_waiting, 0);
    pthread_mutex_unlock(&inversion_lock);
}

/* timed_raw_malloc(size, delay_us) (load with ctypes.CDLL, which releases
 * the GIL): sleep `delay_us` microseconds, then allocate and free `size` bytes
 * with PyMem_RawMalloc; return the nanoseconds the allocation took, or -1
 * when it failed. */
int64_t timed_raw_malloc(size_t size, unsigned delay_us) {
    struct timespec pause = {delay_us / 1000000, (long)(delay_us % 1000000) * 1000};
    nanosleep(&pause, NULL);
    int64_t began = now_ns();
    void *block = PyMem_RawMalloc(size);
    int64_t took = now_ns() - began;
    PyMem_RawFree(block);
    return block != NULL ? took : -1;
}
