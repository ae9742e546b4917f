/* tracked_blocks.c - an extension's own memory, reported to tracemalloc with
 * PyTraceMalloc_Track as NumPy reports its arrays' data, for the tests of
 * src/ext/track_api.c.
 *
 * Loaded with ctypes (see __init__.py), so it is loaded after heaplens, as
 * an extension imported late is: its calls reach heaplens only if the
 * library was patched when dlopen loaded it.
 *
 *   tracked_alloc(domain, size): malloc(size), reported; returns the block.
 *   tracked_free(domain, ptr): reported gone, then free(ptr).
 *   tracked_realloc(domain, ptr, size): realloc, the old block untracked
 *       and the new one tracked; returns the new block.
 *   tracked_alloc_in_thread(domain, size): tracked_alloc on a new pthread
 *       that Python does not know; returns the block.
 *   tracked_track_only(domain, ptr, size): only PyTraceMalloc_Track (a
 *       pointer that is not a block: the API takes any address); returns
 *       what it returned.
 *   tracked_untrack_only(domain, ptr): only PyTraceMalloc_Untrack; returns
 *       what it returned.
 *   tracked_raw_moved(domain, size): PyMem_RawMalloc(size), then its trace
 *       moved from domain 0 to `domain` (Untrack(0), Track(domain)), as
 *       NumPy 2.5 does for array data; returns the block.
 *   tracked_raw_free(domain, ptr): Untrack(domain), then PyMem_RawFree.
 */
#include <Python.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

void *tracked_alloc(unsigned int domain, size_t size) {
    void *ptr = malloc(size);
    if (ptr != NULL)
        (void)PyTraceMalloc_Track(domain, (uintptr_t)ptr, size);
    return ptr;
}

void tracked_free(unsigned int domain, void *ptr) {
    (void)PyTraceMalloc_Untrack(domain, (uintptr_t)ptr);
    free(ptr);
}

void *tracked_realloc(unsigned int domain, void *ptr, size_t size) {
    void *moved = realloc(ptr, size);
    if (moved == NULL)
        return NULL;
    (void)PyTraceMalloc_Untrack(domain, (uintptr_t)ptr);
    (void)PyTraceMalloc_Track(domain, (uintptr_t)moved, size);
    return moved;
}

typedef struct request {
    unsigned int domain;
    size_t size;
    void *result;
} request;

static void *alloc_thread(void *arg) {
    request *r = arg;
    r->result = tracked_alloc(r->domain, r->size);
    return NULL;
}

void *tracked_alloc_in_thread(unsigned int domain, size_t size) {
    request r = {domain, size, NULL};
    pthread_t thread;
    if (pthread_create(&thread, NULL, alloc_thread, &r) != 0)
        return NULL;
    pthread_join(thread, NULL);
    return r.result;
}

int tracked_track_only(unsigned int domain, uintptr_t ptr, size_t size) {
    return PyTraceMalloc_Track(domain, ptr, size);
}

int tracked_untrack_only(unsigned int domain, uintptr_t ptr) {
    return PyTraceMalloc_Untrack(domain, ptr);
}

void *tracked_raw_moved(unsigned int domain, size_t size) {
    void *ptr = PyMem_RawMalloc(size);
    if (ptr != NULL) {
        (void)PyTraceMalloc_Untrack(0, (uintptr_t)ptr);
        (void)PyTraceMalloc_Track(domain, (uintptr_t)ptr, size);
    }
    return ptr;
}

void tracked_raw_free(unsigned int domain, void *ptr) {
    (void)PyTraceMalloc_Untrack(domain, (uintptr_t)ptr);
    PyMem_RawFree(ptr);
}
