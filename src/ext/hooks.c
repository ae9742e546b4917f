/* hooks.c - the allocator wrappers (see hooks.h).
 *
 * Each wrapper calls the allocator that was installed before heaplens and,
 * while tracing, records the result. Rules kept by every wrapper:
 *  - a thread-local guard makes nested calls (pymalloc falling back to the RAW
 *    domain, the GIL being taken inside a RAW hook) go straight through;
 *  - a free is recorded before the real free, so another thread cannot get the
 *    same address and record it in between;
 *  - a realloc removes the old trace before the real call and puts it back if
 *    the call fails, for the same reason;
 *  - the user's allocation never fails because of heaplens, and errno is kept
 *    (tracer.c restores it).
 * While sampling, the calls that record nothing skip all of this (see the
 * fast paths below); the rules hold for the rest.
 */
#include "hooks.h"

#include <Python.h>

#include "cpython/compat.h"
#include "tracer.h"

typedef struct hl_domain_hook {
    PyMemAllocatorDomain domain;
    hlpy_alloc_domain tracer_domain;
    PyMemAllocatorEx saved; /* the allocator we wrap; written under the GIL */
    int installed;          /* our wrapper is (or was left) in place */
} hl_domain_hook;

/* Written under the GIL. */
static int hl_hook_users;                   /* hlpy_hook_user bits */
static hlpy_free_observer hl_free_observer; /* read by the MEM/OBJ wrappers (GIL held) */

static hl_domain_hook hl_hooks[3] = {
    {PYMEM_DOMAIN_RAW, HLPY_DOMAIN_RAW, {0}, 0},
    {PYMEM_DOMAIN_MEM, HLPY_DOMAIN_MEM, {0}, 0},
    {PYMEM_DOMAIN_OBJ, HLPY_DOMAIN_OBJ, {0}, 0},
};

/* Set while this thread is inside a wrapper. Initial-exec TLS: reading it
 * never allocates, so it is safe inside malloc. */
static _Thread_local int hl_in_hook __attribute__((tls_model("initial-exec")));

/* ---- the sampling fast paths -------------------------------------------- */

/* While sampling, most blocks are not recorded. Each wrapper first decides
 * that inline, from the thread's countdown of bytes and the filters of
 * recorded blocks, and then hands the call straight to the real allocator
 * (a tail call: no frame, no guard); only the few blocks that are recorded,
 * or may have been, take the traced path below it. */

/* pymalloc serves requests up to this size itself; larger ones it passes to
 * the RAW domain, through our RAW wrapper, which must then find the guard
 * set or it would sample the same bytes a second time. */
#define HL_PYMALLOC_MAX 512

/* While sampling: 1 when a new block of `size` bytes is not to be recorded,
 * and the countdown had room for it (it is charged); 0 otherwise, and the
 * countdown is left for the traced path to decide. */
HL_INLINE int hl__sampling_skips(size_t size) {
    return hlpy_tracer_sampling() && hlpy_sample_charge(size);
}

/* ---- MEM and OBJ: the GIL is held ---------------------------------------- */

static HL_NOINLINE void *hl__py_malloc_traced(hl_domain_hook *hook, size_t size) {
    if (hl_in_hook)
        return hook->saved.malloc(hook->saved.ctx, size);
    hl_in_hook = 1;
    void *ptr = hook->saved.malloc(hook->saved.ctx, size);
    if (ptr != NULL)
        hlpy_tracer_py_alloc(ptr, size, hook->tracer_domain);
    hl_in_hook = 0;
    return ptr;
}

static void *hl_py_malloc(void *ctx, size_t size) {
    hl_domain_hook *hook = ctx;
    if (size <= HL_PYMALLOC_MAX && hl__sampling_skips(size))
        return hook->saved.malloc(hook->saved.ctx, size);
    return hl__py_malloc_traced(hook, size);
}

static HL_NOINLINE void *hl__py_calloc_traced(hl_domain_hook *hook, size_t nelem, size_t elsize) {
    if (hl_in_hook)
        return hook->saved.calloc(hook->saved.ctx, nelem, elsize);
    hl_in_hook = 1;
    void *ptr = hook->saved.calloc(hook->saved.ctx, nelem, elsize);
    if (ptr != NULL)
        hlpy_tracer_py_alloc(ptr, nelem * elsize, hook->tracer_domain);
    hl_in_hook = 0;
    return ptr;
}

static void *hl_py_calloc(void *ctx, size_t nelem, size_t elsize) {
    hl_domain_hook *hook = ctx;
    size_t size;
    if (!__builtin_mul_overflow(nelem, elsize, &size) && size <= HL_PYMALLOC_MAX &&
        hl__sampling_skips(size))
        return hook->saved.calloc(hook->saved.ctx, nelem, elsize);
    return hl__py_calloc_traced(hook, nelem, elsize);
}

static HL_NOINLINE void *hl__py_realloc_traced(hl_domain_hook *hook, void *ptr, size_t new_size) {
    /* Under the GIL nobody else can take the old address between our remove
     * and the real realloc, so remove after. Nested calls still remove: the
     * old block is gone either way. */
    int nested = hl_in_hook;
    hl_in_hook = 1;
    void *ptr2 = hook->saved.realloc(hook->saved.ctx, ptr, new_size);
    if (ptr2 != NULL) {
        if (ptr != ptr2 && ptr != NULL && hl_free_observer != NULL &&
            hook->domain == PYMEM_DOMAIN_OBJ)
            hl_free_observer(ptr, 1);
        if (ptr != NULL && hlpy_tracer_maybe_sampled(ptr))
            hlpy_tracer_py_free(ptr);
        if (!nested)
            hlpy_tracer_py_alloc(ptr2, new_size, hook->tracer_domain);
    }
    hl_in_hook = nested;
    return ptr2;
}

static void *hl_py_realloc(void *ctx, void *ptr, size_t new_size) {
    hl_domain_hook *hook = ctx;
    /* Straight through only when there is nothing to tell: no observer that
     * wants to see the old block go, no old trace to remove. pymalloc passes
     * a block it does not own to the RAW domain whatever the new size, so the
     * guard stays set for the call. */
    if (new_size <= HL_PYMALLOC_MAX && hl_free_observer == NULL &&
        (ptr == NULL || !hlpy_tracer_maybe_sampled(ptr)) && hl__sampling_skips(new_size)) {
        int nested = hl_in_hook;
        hl_in_hook = 1;
        void *ptr2 = hook->saved.realloc(hook->saved.ctx, ptr, new_size);
        hl_in_hook = nested;
        return ptr2;
    }
    return hl__py_realloc_traced(hook, ptr, new_size);
}

static HL_NOINLINE void hl__py_free_traced(hl_domain_hook *hook, void *ptr) {
    if (ptr != NULL) {
        if (hl_free_observer != NULL && hook->domain == PYMEM_DOMAIN_OBJ)
            hl_free_observer(ptr, 0);
        if (hlpy_tracer_maybe_sampled(ptr))
            hlpy_tracer_py_free(ptr);
    }
    hook->saved.free(hook->saved.ctx, ptr);
}

static void hl_py_free(void *ctx, void *ptr) {
    hl_domain_hook *hook = ctx;
    if (hl_free_observer == NULL && !hlpy_tracer_maybe_sampled(ptr)) {
        hook->saved.free(hook->saved.ctx, ptr);
        return;
    }
    hl__py_free_traced(hook, ptr);
}

/* ---- RAW: maybe without the GIL ----------------------------------------- */

static HL_NOINLINE void *hl__raw_malloc_traced(hl_domain_hook *hook, size_t size) {
    hl_in_hook = 1;
    void *ptr = hook->saved.malloc(hook->saved.ctx, size);
    if (ptr != NULL)
        hlpy_tracer_raw_alloc(ptr, size);
    hl_in_hook = 0;
    return ptr;
}

static void *hl_raw_malloc(void *ctx, size_t size) {
    hl_domain_hook *hook = ctx;
    if (hl_in_hook || hl__sampling_skips(size))
        return hook->saved.malloc(hook->saved.ctx, size);
    return hl__raw_malloc_traced(hook, size);
}

static HL_NOINLINE void *hl__raw_calloc_traced(hl_domain_hook *hook, size_t nelem, size_t elsize) {
    hl_in_hook = 1;
    void *ptr = hook->saved.calloc(hook->saved.ctx, nelem, elsize);
    if (ptr != NULL)
        hlpy_tracer_raw_alloc(ptr, nelem * elsize);
    hl_in_hook = 0;
    return ptr;
}

static void *hl_raw_calloc(void *ctx, size_t nelem, size_t elsize) {
    hl_domain_hook *hook = ctx;
    size_t size;
    if (hl_in_hook || (!__builtin_mul_overflow(nelem, elsize, &size) && hl__sampling_skips(size)))
        return hook->saved.calloc(hook->saved.ctx, nelem, elsize);
    return hl__raw_calloc_traced(hook, nelem, elsize);
}

static HL_NOINLINE void *hl__raw_realloc_traced(hl_domain_hook *hook, void *ptr, size_t new_size) {
    /* Other threads may allocate without the GIL: once the real realloc frees
     * the old block they may get its address, so the old trace goes first,
     * and comes back if the realloc fails (the old block then lives on). */
    uint64_t old_size = 0;
    uint32_t old_word = 0;
    int took = ptr != NULL && hlpy_tracer_maybe_raw_sampled(ptr) &&
               hlpy_tracer_raw_take(ptr, &old_size, &old_word);
    int nested = hl_in_hook;
    hl_in_hook = 1;
    void *ptr2 = hook->saved.realloc(hook->saved.ctx, ptr, new_size);
    if (ptr2 == NULL) {
        if (took)
            hlpy_tracer_raw_put_back(ptr, old_size, old_word);
    } else if (!nested) {
        hlpy_tracer_raw_alloc(ptr2, new_size);
    }
    hl_in_hook = nested;
    return ptr2;
}

static void *hl_raw_realloc(void *ctx, void *ptr, size_t new_size) {
    hl_domain_hook *hook = ctx;
    if (hlpy_tracer_sampling() && (ptr == NULL || !hlpy_tracer_maybe_raw_sampled(ptr)) &&
        (hl_in_hook || hl__sampling_skips(new_size)))
        return hook->saved.realloc(hook->saved.ctx, ptr, new_size);
    return hl__raw_realloc_traced(hook, ptr, new_size);
}

static void hl_raw_free(void *ctx, void *ptr) {
    hl_domain_hook *hook = ctx;
    if (ptr != NULL && hlpy_tracer_maybe_raw_sampled(ptr))
        hlpy_tracer_raw_free(ptr);
    hook->saved.free(hook->saved.ctx, ptr);
}

int hlpy_hooks_suspend(void) {
    int previous = hl_in_hook;
    hl_in_hook = 1;
    return previous;
}

void hlpy_hooks_resume(int previous) {
    hl_in_hook = previous;
}

/* ---- object creation ---------------------------------------------------- */

#if HLPY_HAVE_REF_TRACER
/* The reference tracer installed before ours, called after ours. Written
 * under the GIL; the interpreter calls tracers with the GIL held. */
static PyRefTracer hl_previous_ref_tracer;
static void *hl_previous_ref_tracer_data;

/* Objects made inside a wrapper or while this thread's hooks are suspended
 * (heaplens's own work) are left alone, as tracemalloc leaves those made
 * while its reentrancy flag is set. */
static int hl__on_ref_event(PyObject *obj, PyRefTracerEvent event, void *data) {
    (void)data;
    if (event == PyRefTracer_CREATE && !hl_in_hook)
        hlpy_tracer_py_new_object(obj);
    if (hl_previous_ref_tracer != NULL)
        return hl_previous_ref_tracer(obj, event, hl_previous_ref_tracer_data);
    return 0;
}
#endif

void hlpy_hooks_watch_new_objects(void) {
#if HLPY_HAVE_REF_TRACER
    void *data = NULL;
    PyRefTracer current = PyRefTracer_GetTracer(&data);
    if (current == hl__on_ref_event)
        return;
    hl_previous_ref_tracer = current;
    hl_previous_ref_tracer_data = data;
    (void)PyRefTracer_SetTracer(hl__on_ref_event, NULL);
#endif
}

void hlpy_hooks_unwatch_new_objects(void) {
#if HLPY_HAVE_REF_TRACER
    void *data = NULL;
    if (PyRefTracer_GetTracer(&data) != hl__on_ref_event)
        return;
    (void)PyRefTracer_SetTracer(hl_previous_ref_tracer, hl_previous_ref_tracer_data);
    hl_previous_ref_tracer = NULL;
    hl_previous_ref_tracer_data = NULL;
#endif
}

/* ---- installation ------------------------------------------------------- */

static void hl__wrapper_for(hl_domain_hook *hook, PyMemAllocatorEx *out) {
    out->ctx = hook;
    if (hook->domain == PYMEM_DOMAIN_RAW) {
        out->malloc = hl_raw_malloc;
        out->calloc = hl_raw_calloc;
        out->realloc = hl_raw_realloc;
        out->free = hl_raw_free;
    } else {
        out->malloc = hl_py_malloc;
        out->calloc = hl_py_calloc;
        out->realloc = hl_py_realloc;
        out->free = hl_py_free;
    }
}

static int hl__is_ours(const PyMemAllocatorEx *alloc, hl_domain_hook *hook) {
    return alloc->ctx == hook && (alloc->malloc == hl_raw_malloc || alloc->malloc == hl_py_malloc);
}

void hlpy_hooks_set_free_observer(hlpy_free_observer observer) {
    hl_free_observer = observer;
}

void hlpy_hooks_install(hlpy_hook_user user) {
    hl_hook_users |= (int)user;
    for (int i = 0; i < 3; i++) {
        hl_domain_hook *hook = &hl_hooks[i];
        if (hook->installed)
            continue; /* left in place by an earlier stop(), still wrapping */
        PyMemAllocatorEx wrapper;
        PyMem_GetAllocator(hook->domain, &hook->saved);
        hl__wrapper_for(hook, &wrapper);
        PyMem_SetAllocator(hook->domain, &wrapper);
        hook->installed = 1;
    }
}

void hlpy_hooks_uninstall(hlpy_hook_user user) {
    hl_hook_users &= ~(int)user;
    if (hl_hook_users != 0)
        return;
    for (int i = 0; i < 3; i++) {
        hl_domain_hook *hook = &hl_hooks[i];
        PyMemAllocatorEx current;
        if (!hook->installed)
            continue;
        PyMem_GetAllocator(hook->domain, &current);
        if (hl__is_ours(&current, hook)) {
            PyMem_SetAllocator(hook->domain, &hook->saved);
            hook->installed = 0;
        }
    }
}
