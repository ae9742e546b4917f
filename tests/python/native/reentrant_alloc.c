/* reentrant_alloc.c - an allocator wrapper that allocates again from inside
 * the allocation path, for the tracer's re-entrancy tests (jemalloc's tests
 * call malloc from inside its hooks; profilers and debug allocators do it
 * for real).
 *
 * reentrant_install() puts this wrapper in front of the current RAW, MEM and
 * OBJ allocators (whatever they are: heaplens's hooks, or the defaults with
 * heaplens to be installed over us later); reentrant_uninstall() puts back
 * what it found. On every call, before doing the real work, the wrapper
 * allocates and frees a small block through the top of the RAW chain
 * (PyMem_RawMalloc) and, in the MEM and OBJ domains (which run with the
 * GIL), through the top of the MEM chain too: that re-enters heaplens's hooks
 * from inside an allocation, wherever they sit. A thread-local depth keeps
 * this wrapper itself from recursing (its nested calls go straight through).
 *
 * Load with ctypes.PyDLL: installing needs the GIL. reentrant_inner_calls()
 * says how many inner allocations were made. Inner blocks are
 * REENTRANT_INNER_SIZE (RAW) and REENTRANT_INNER_SIZE + 1 (MEM) bytes.
 */
#include <Python.h>
#include <stdatomic.h>
#include <stdint.h>

#define REENTRANT_INNER_SIZE 4321

typedef struct wrapped {
    PyMemAllocatorDomain domain;
    PyMemAllocatorEx saved;
} wrapped;

static wrapped domains[3] = {
    {PYMEM_DOMAIN_RAW, {0}}, {PYMEM_DOMAIN_MEM, {0}}, {PYMEM_DOMAIN_OBJ, {0}}};
static _Thread_local int depth;
static _Atomic uint64_t inner_calls;
static int installed;

/* Allocate and free through the top of the chain, from inside it. */
static void reenter(wrapped *w) {
    if (depth != 0)
        return;
    depth++;
    void *raw = PyMem_RawMalloc(REENTRANT_INNER_SIZE);
    PyMem_RawFree(raw);
    if (w->domain != PYMEM_DOMAIN_RAW) { /* the GIL is held here */
        void *mem = PyMem_Malloc(REENTRANT_INNER_SIZE + 1);
        PyMem_Free(mem);
    }
    depth--;
    atomic_fetch_add_explicit(&inner_calls, 1, memory_order_relaxed);
}

static void *w_malloc(void *ctx, size_t size) {
    wrapped *w = ctx;
    reenter(w);
    return w->saved.malloc(w->saved.ctx, size);
}

static void *w_calloc(void *ctx, size_t nelem, size_t elsize) {
    wrapped *w = ctx;
    reenter(w);
    return w->saved.calloc(w->saved.ctx, nelem, elsize);
}

static void *w_realloc(void *ctx, void *ptr, size_t new_size) {
    wrapped *w = ctx;
    reenter(w);
    return w->saved.realloc(w->saved.ctx, ptr, new_size);
}

static void w_free(void *ctx, void *ptr) {
    wrapped *w = ctx;
    reenter(w);
    w->saved.free(w->saved.ctx, ptr);
}

int reentrant_install(void) {
    if (installed)
        return -1;
    for (int i = 0; i < 3; i++) {
        PyMem_GetAllocator(domains[i].domain, &domains[i].saved);
        PyMemAllocatorEx mine = {&domains[i], w_malloc, w_calloc, w_realloc, w_free};
        PyMem_SetAllocator(domains[i].domain, &mine);
    }
    installed = 1;
    return 0;
}

/* Put back what reentrant_install() found, in the domains where this
 * wrapper is still on top; returns how many domains were not (another tool
 * is over it and still calls it: the wrapper then stays). */
int reentrant_uninstall(void) {
    int left = 0;
    for (int i = 0; i < 3; i++) {
        PyMemAllocatorEx current;
        PyMem_GetAllocator(domains[i].domain, &current);
        if (current.malloc == w_malloc)
            PyMem_SetAllocator(domains[i].domain, &domains[i].saved);
        else
            left++;
    }
    installed = 0;
    return left;
}

uint64_t reentrant_inner_calls(void) {
    return atomic_load(&inner_calls);
}
