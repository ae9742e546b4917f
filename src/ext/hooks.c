/* hooks.c - the allocator wrappers (see hooks.h).
 *
 * Each wrapper calls the allocator that was installed before heaplens and,
 * while tracing, records the result. Rules kept by every wrapper:
 *  - a thread-local guard (hl_in_hook) makes nested allocations (pymalloc
 *    falling back to the RAW domain, the GIL being taken inside a RAW hook,
 *    an allocator under ours that allocates again) go straight through, and
 *    so do this thread's allocations while heaplens's own work suspends it.
 *    Frees, and the old block of a realloc, are not guarded: they are taken
 *    out of the tables even when nested or suspended, since the block is
 *    gone either way and a trace left behind would be stale
 *    (_core.suspend_recording() promises exactly this);
 *  - a RAW free is recorded before the real free, so another thread cannot
 *    get the same address and record it in between; a RAW realloc removes the
 *    old trace before the real call and puts it back if the call fails, for
 *    the same reason (MEM and OBJ: see hl__py_realloc_traced);
 *  - the user's allocation never fails because of heaplens, and errno is kept
 *    (tracer.c restores it).
 * While sampling, the calls that record nothing skip all of this (see the
 * fast paths below); the rules hold for the rest.
 */
#include "hooks.h"

#include <Python.h>

#include "cpython/compat.h"
#include "cpython/internals.h"
#include "sampling.h"
#include "tracer.h"

/* How many different allocators one domain's wrapper can have wrapped in
 * turn before a record is reused: the wrappers read the one in use through
 * a pointer, so a thread still in a call made through an older record (the
 * RAW domain runs without the GIL) keeps reading values that do not change
 * under it. Wrapping the same allocator again reuses its record as it is
 * (hl__install_one): rewriting one under a reader, when start and stop ran
 * in a loop, crashed 3.15. */
#define HL_SAVED_RING 8

typedef struct hl_domain_hook {
    PyMemAllocatorDomain domain;
    hlpy_alloc_domain tracer_domain;
    /* The allocator we wrap: one of `ring`, published with a release store
     * once written. Written under the GIL, read by the wrappers (for RAW,
     * without it). */
    _Atomic(const PyMemAllocatorEx *) saved;
    PyMemAllocatorEx ring[HL_SAVED_RING]; /* GIL */
    unsigned ring_next;                   /* GIL */
    int installed;                        /* GIL: our wrapper is (or was left) in place */
} hl_domain_hook;

/* Written under the GIL. */
static int hl_hook_users;                   /* hlpy_hook_user bits */
static hlpy_free_observer hl_free_observer; /* read by the MEM/OBJ wrappers (GIL held) */

static hl_domain_hook hl_hooks[3] = {
    {.domain = PYMEM_DOMAIN_RAW, .tracer_domain = HLPY_DOMAIN_RAW},
    {.domain = PYMEM_DOMAIN_MEM, .tracer_domain = HLPY_DOMAIN_MEM},
    {.domain = PYMEM_DOMAIN_OBJ, .tracer_domain = HLPY_DOMAIN_OBJ},
};

/* Times a domain's wrapper was found out of the allocator chain (another
 * tool set its own allocator over ours without calling ours) and put back. */
static _Atomic uint64_t hl_hooks_lost;

/* The RAW allocator last found on top of ours and calling ours (another
 * tool that wrapped heaplens): while it stays on top, no check is needed.
 * Written under the GIL by hlpy_hooks_check, read without it. */
static _Atomic uintptr_t hl_verified_raw_top_malloc;
static _Atomic uintptr_t hl_verified_raw_top_ctx;

/* 1 while our RAW wrapper is installed (a copy of hl_hooks[0].installed
 * that threads without the GIL may read). */
static atomic_int hl_raw_installed;

/* The allocator under `hook`'s wrapper. Any thread. */
HL_INLINE const PyMemAllocatorEx *hl__saved(hl_domain_hook *hook) {
    return atomic_load_explicit(&hook->saved, memory_order_acquire);
}

/* Call the allocator under `hook` (read once, so function and ctx match). */
#define HL_SAVED_CALL(hook, fn, ...)                                                               \
    __extension__({                                                                                \
        const PyMemAllocatorEx *saved_ = hl__saved(hook);                                          \
        saved_->fn(saved_->ctx, __VA_ARGS__);                                                      \
    })

/* Set while this thread is inside a wrapper (1), while heaplens's own work
 * runs on it (1, hlpy_hooks_suspend), or while it probes the chain
 * (HL_PROBING, hl__probe). Initial-exec TLS: reading it never allocates, so
 * it is safe inside malloc. */
#define HL_PROBING 2
static _Thread_local int hl_in_hook __attribute__((tls_model("initial-exec")));
/* The domains (bit 1 << domain index) whose wrapper this thread's probe
 * reached. */
static _Thread_local int hl_probe_reached __attribute__((tls_model("initial-exec")));

/* In a wrapper's nested branch (hl_in_hook set): note a probe that got here. */
HL_INLINE void hl__note_probe(const hl_domain_hook *hook) {
    if (HL_UNLIKELY(hl_in_hook == HL_PROBING))
        hl_probe_reached |= 1 << (int)(hook - hl_hooks);
}

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
    return hlpy_sampling_on() && hlpy_sample_charge(size);
}

/* ---- MEM and OBJ: the GIL is held ---------------------------------------- */

/* The GIL held is a GIL, not always the main one: a subinterpreter with a
 * GIL of its own (3.12 and later) allocates through these wrappers too, as
 * the allocators are the process's. The tracer leaves such blocks alone
 * (tracer.c checks the interpreter); the free observer, which keeps state
 * under the main GIL, must not see them either. 1 when the calling thread
 * runs the main interpreter (or, late in shutdown, no state at all). */
HL_INLINE int hl__holds_main_gil(void) {
    PyThreadState *tstate = hlpy_cpython_gil_tstate();
    return tstate == NULL || PyThreadState_GetInterpreter(tstate) == PyInterpreterState_Main();
}

static HL_NOINLINE void *hl__py_malloc_traced(hl_domain_hook *hook, size_t size) {
    if (hl_in_hook) {
        hl__note_probe(hook);
        return HL_SAVED_CALL(hook, malloc, size);
    }
    hl_in_hook = 1;
    void *ptr = HL_SAVED_CALL(hook, malloc, size);
    if (ptr != NULL)
        hlpy_tracer_py_alloc(ptr, size, hook->tracer_domain);
    hl_in_hook = 0;
    return ptr;
}

HL_INLINE void *hl__py_malloc(hl_domain_hook *hook, size_t size) {
    if (size <= HL_PYMALLOC_MAX && hl__sampling_skips(size))
        return HL_SAVED_CALL(hook, malloc, size);
    return hl__py_malloc_traced(hook, size);
}

static HL_NOINLINE void *hl__py_calloc_traced(hl_domain_hook *hook, size_t nelem, size_t elsize) {
    if (hl_in_hook)
        return HL_SAVED_CALL(hook, calloc, nelem, elsize);
    hl_in_hook = 1;
    void *ptr = HL_SAVED_CALL(hook, calloc, nelem, elsize);
    if (ptr != NULL)
        hlpy_tracer_py_alloc(ptr, nelem * elsize, hook->tracer_domain);
    hl_in_hook = 0;
    return ptr;
}

HL_INLINE void *hl__py_calloc(hl_domain_hook *hook, size_t nelem, size_t elsize) {
    size_t size;
    if (!__builtin_mul_overflow(nelem, elsize, &size) && size <= HL_PYMALLOC_MAX &&
        hl__sampling_skips(size))
        return HL_SAVED_CALL(hook, calloc, nelem, elsize);
    return hl__py_calloc_traced(hook, nelem, elsize);
}

static HL_NOINLINE void *hl__py_realloc_traced(hl_domain_hook *hook, void *ptr, size_t new_size) {
    /* The old trace is removed after the real realloc. Another thread can
     * get the old address in between when the block is over 512 bytes
     * (pymalloc hands those to the C allocator, which threads without the
     * GIL use through the RAW domain); it then records the address in
     * raw_blocks, not in py_blocks, which this thread removes it from, and no
     * one reads the tables in between (that needs the GIL we hold), so
     * removing after is still exact. Nested calls still remove: the old
     * block is gone either way. */
    int nested = hl_in_hook;
    hl_in_hook = 1;
    void *ptr2 = HL_SAVED_CALL(hook, realloc, ptr, new_size);
    if (ptr2 != NULL) {
        if (ptr != ptr2 && ptr != NULL && hl_free_observer != NULL &&
            hook->domain == PYMEM_DOMAIN_OBJ && hl__holds_main_gil())
            hl_free_observer(ptr, 1);
        if (ptr != NULL && hlpy_sampling_maybe_py(ptr))
            hlpy_tracer_py_free(ptr);
        if (!nested)
            hlpy_tracer_py_alloc(ptr2, new_size, hook->tracer_domain);
    }
    hl_in_hook = nested;
    return ptr2;
}

HL_INLINE void *hl__py_realloc(hl_domain_hook *hook, void *ptr, size_t new_size) {
    /* Straight through only when there is nothing to tell: no observer that
     * wants to see the old block go, no old trace to remove. pymalloc passes
     * a block it does not own to the RAW domain whatever the new size, so the
     * guard stays set for the call. */
    if (new_size <= HL_PYMALLOC_MAX && hl_free_observer == NULL &&
        (ptr == NULL || !hlpy_sampling_maybe_py(ptr)) && hl__sampling_skips(new_size)) {
        int nested = hl_in_hook;
        hl_in_hook = 1;
        void *ptr2 = HL_SAVED_CALL(hook, realloc, ptr, new_size);
        hl_in_hook = nested;
        return ptr2;
    }
    return hl__py_realloc_traced(hook, ptr, new_size);
}

static HL_NOINLINE void hl__py_free_traced(hl_domain_hook *hook, void *ptr) {
    if (ptr != NULL) {
        if (hl_free_observer != NULL && hook->domain == PYMEM_DOMAIN_OBJ && hl__holds_main_gil())
            hl_free_observer(ptr, 0);
        if (hlpy_sampling_maybe_py(ptr))
            hlpy_tracer_py_free(ptr);
    }
    HL_SAVED_CALL(hook, free, ptr);
}

HL_INLINE void hl__py_free(hl_domain_hook *hook, void *ptr) {
    if (hl_free_observer == NULL && !hlpy_sampling_maybe_py(ptr)) {
        HL_SAVED_CALL(hook, free, ptr);
        return;
    }
    hl__py_free_traced(hook, ptr);
}

/* The MEM and OBJ entry points. Like the RAW ones they do not read ctx:
 * PyMem_SetAllocator writes a domain's allocator field by field while a
 * subinterpreter with a GIL of its own may be calling it (heaplens's own
 * start and stop do that), and such a thread may read our function with
 * another ctx (a NULL ctx crashed hl__py_free_traced on 3.12 and 3.13). */
#define HL_MEM_HOOK (&hl_hooks[1])
#define HL_OBJ_HOOK (&hl_hooks[2])
static void *hlpy_mem_malloc(void *ctx, size_t size) {
    (void)ctx;
    return hl__py_malloc(HL_MEM_HOOK, size);
}
static void *hlpy_mem_calloc(void *ctx, size_t nelem, size_t elsize) {
    (void)ctx;
    return hl__py_calloc(HL_MEM_HOOK, nelem, elsize);
}
static void *hlpy_mem_realloc(void *ctx, void *ptr, size_t new_size) {
    (void)ctx;
    return hl__py_realloc(HL_MEM_HOOK, ptr, new_size);
}
static void hlpy_mem_free(void *ctx, void *ptr) {
    (void)ctx;
    hl__py_free(HL_MEM_HOOK, ptr);
}
static void *hlpy_obj_malloc(void *ctx, size_t size) {
    (void)ctx;
    return hl__py_malloc(HL_OBJ_HOOK, size);
}
static void *hlpy_obj_calloc(void *ctx, size_t nelem, size_t elsize) {
    (void)ctx;
    return hl__py_calloc(HL_OBJ_HOOK, nelem, elsize);
}
static void *hlpy_obj_realloc(void *ctx, void *ptr, size_t new_size) {
    (void)ctx;
    return hl__py_realloc(HL_OBJ_HOOK, ptr, new_size);
}
static void hlpy_obj_free(void *ctx, void *ptr) {
    (void)ctx;
    hl__py_free(HL_OBJ_HOOK, ptr);
}

/* ---- RAW: maybe without the GIL ----------------------------------------- */

/* The RAW wrappers never read their ctx argument. CPython swaps the RAW
 * allocator out and back while other threads allocate (3.12 sets the
 * default one around its cache of extension modules, even for an import in
 * a subinterpreter with a GIL of its own), and a thread that reads the
 * domain's allocator meanwhile may get it half-written: our function with
 * another ctx. A ctx of NULL was seen to crash hlpy_raw_free (issue 15). */
#define HL_RAW_HOOK (&hl_hooks[0])

static HL_NOINLINE void *hl__raw_malloc_traced(hl_domain_hook *hook, size_t size) {
    hl_in_hook = 1;
    void *ptr = HL_SAVED_CALL(hook, malloc, size);
    if (ptr != NULL)
        hlpy_tracer_raw_alloc(ptr, size);
    hl_in_hook = 0;
    return ptr;
}

static void *hlpy_raw_malloc(void *ctx, size_t size) {
    hl_domain_hook *hook = HL_RAW_HOOK;
    (void)ctx;
    if (hl_in_hook) {
        hl__note_probe(hook);
        return HL_SAVED_CALL(hook, malloc, size);
    }
    if (hl__sampling_skips(size))
        return HL_SAVED_CALL(hook, malloc, size);
    return hl__raw_malloc_traced(hook, size);
}

static HL_NOINLINE void *hl__raw_calloc_traced(hl_domain_hook *hook, size_t nelem, size_t elsize) {
    hl_in_hook = 1;
    void *ptr = HL_SAVED_CALL(hook, calloc, nelem, elsize);
    if (ptr != NULL)
        hlpy_tracer_raw_alloc(ptr, nelem * elsize);
    hl_in_hook = 0;
    return ptr;
}

static void *hlpy_raw_calloc(void *ctx, size_t nelem, size_t elsize) {
    hl_domain_hook *hook = HL_RAW_HOOK;
    (void)ctx;
    size_t size;
    if (hl_in_hook || (!__builtin_mul_overflow(nelem, elsize, &size) && hl__sampling_skips(size)))
        return HL_SAVED_CALL(hook, calloc, nelem, elsize);
    return hl__raw_calloc_traced(hook, nelem, elsize);
}

static HL_NOINLINE void *hl__raw_realloc_traced(hl_domain_hook *hook, void *ptr, size_t new_size) {
    /* Other threads may allocate without the GIL: once the real realloc frees
     * the old block they may get its address, so the old trace goes first,
     * and comes back if the realloc fails (the old block then lives on). */
    hlpy_raw_taken taken;
    int took = ptr != NULL && hlpy_sampling_maybe_raw(ptr) && hlpy_tracer_raw_take(ptr, &taken);
    int nested = hl_in_hook;
    hl_in_hook = 1;
    void *ptr2 = HL_SAVED_CALL(hook, realloc, ptr, new_size);
    if (ptr2 == NULL) {
        if (took)
            hlpy_tracer_raw_put_back(ptr, &taken);
    } else if (!nested) {
        hlpy_tracer_raw_alloc(ptr2, new_size);
    }
    hl_in_hook = nested;
    return ptr2;
}

static void *hlpy_raw_realloc(void *ctx, void *ptr, size_t new_size) {
    hl_domain_hook *hook = HL_RAW_HOOK;
    (void)ctx;
    if (hlpy_sampling_on() && (ptr == NULL || !hlpy_sampling_maybe_raw(ptr)) &&
        (hl_in_hook || hl__sampling_skips(new_size)))
        return HL_SAVED_CALL(hook, realloc, ptr, new_size);
    return hl__raw_realloc_traced(hook, ptr, new_size);
}

static void hlpy_raw_free(void *ctx, void *ptr) {
    hl_domain_hook *hook = HL_RAW_HOOK;
    (void)ctx;
    if (ptr != NULL && hlpy_sampling_maybe_raw(ptr))
        hlpy_tracer_raw_free(ptr);
    HL_SAVED_CALL(hook, free, ptr);
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
        out->malloc = hlpy_raw_malloc;
        out->calloc = hlpy_raw_calloc;
        out->realloc = hlpy_raw_realloc;
        out->free = hlpy_raw_free;
    } else if (hook->domain == PYMEM_DOMAIN_MEM) {
        out->malloc = hlpy_mem_malloc;
        out->calloc = hlpy_mem_calloc;
        out->realloc = hlpy_mem_realloc;
        out->free = hlpy_mem_free;
    } else {
        out->malloc = hlpy_obj_malloc;
        out->calloc = hlpy_obj_calloc;
        out->realloc = hlpy_obj_realloc;
        out->free = hlpy_obj_free;
    }
}

/* Whether `alloc` is our wrapper for `hook`'s domain (its ctx is not read). */
static int hl__is_ours(const PyMemAllocatorEx *alloc, hl_domain_hook *hook) {
    PyMemAllocatorEx ours;
    hl__wrapper_for(hook, &ours);
    return alloc->malloc == ours.malloc;
}

void hlpy_hooks_set_free_observer(hlpy_free_observer observer) {
    hl_free_observer = observer;
}

/* Put our wrapper in front of whatever allocator `hook`'s domain has now.
 * Needs the GIL. */
static void hl__install_one(hl_domain_hook *hook) {
    /* A record another thread may still be reading is never rewritten: the
     * allocator under ours is nearly always one it wrapped before (start and
     * stop in a loop wrap the default again and again), and that record is
     * used as it is; a new one takes the oldest slot. */
    PyMemAllocatorEx under;
    PyMem_GetAllocator(hook->domain, &under);
    PyMemAllocatorEx *record = NULL;
    for (int i = 0; i < HL_SAVED_RING && record == NULL; i++) {
        PyMemAllocatorEx *known = &hook->ring[i];
        if (known->malloc == under.malloc && known->ctx == under.ctx &&
            known->calloc == under.calloc && known->realloc == under.realloc &&
            known->free == under.free)
            record = known;
    }
    if (record == NULL) {
        record = &hook->ring[hook->ring_next];
        hook->ring_next = (hook->ring_next + 1) % HL_SAVED_RING;
        *record = under;
    }
    atomic_store_explicit(&hook->saved, record, memory_order_release);
    PyMemAllocatorEx wrapper;
    hl__wrapper_for(hook, &wrapper);
    PyMem_SetAllocator(hook->domain, &wrapper);
    hook->installed = 1;
    if (hook->domain == PYMEM_DOMAIN_RAW)
        atomic_store(&hl_raw_installed, 1);
}

/* The domains (bit 1 << index in hl_hooks) whose wrapper a call into the
 * domain's allocator reaches now: one small block is allocated and freed in
 * each, with this thread marked as probing, so that our wrapper notes it and
 * records nothing, wherever it sits in a chain of wrappers. Needs the GIL. */
static int hl__probe(void) {
    int previous = hl_in_hook;
    int64_t countdown = hlpy_bytes_to_sample;
    hlpy_bytes_to_sample = 0; /* no sampling fast path: take the guarded one */
    hl_in_hook = HL_PROBING;
    hl_probe_reached = 0;
    PyMem_RawFree(PyMem_RawMalloc(1));
    PyMem_Free(PyMem_Malloc(1));
    PyObject_Free(PyObject_Malloc(1));
    hl_in_hook = previous;
    hlpy_bytes_to_sample = countdown;
    return hl_probe_reached;
}

void hlpy_hooks_install(hlpy_hook_user user) {
    hl_hook_users |= (int)user;
    int reached = hl__probe();
    for (int i = 0; i < 3; i++) {
        hl_domain_hook *hook = &hl_hooks[i];
        if (hook->installed && (reached & (1 << i)))
            continue; /* left in place by an earlier stop(), still wrapping */
        if (hook->installed)
            atomic_fetch_add(&hl_hooks_lost, 1); /* left in place, then taken out */
        hl__install_one(hook);
    }
}

/* 1 when an interpreter other than the main one exists: one with a GIL of
 * its own may be calling the MEM and OBJ allocators right now, without the
 * main GIL, and would read them half-written (3.15 crashed so). The
 * wrappers then stay, passing calls through. Needs the GIL. */
static int hl__other_interpreters(void) {
    PyInterpreterState *interp = PyInterpreterState_Head();
    return interp != NULL && PyInterpreterState_Next(interp) != NULL;
}

void hlpy_hooks_uninstall(hlpy_hook_user user) {
    hl_hook_users &= ~(int)user;
    if (hl_hook_users != 0)
        return;
    for (int i = 0; i < 3; i++) {
        hl_domain_hook *hook = &hl_hooks[i];
        PyMemAllocatorEx current;
        /* The RAW wrapper stays, passing calls through while not tracing:
         * PyMem_SetAllocator is not atomic for threads that call the RAW
         * allocator meanwhile without the GIL, and one on 3.15 called a
         * half-written function pointer when start and stop ran in a loop.
         * Left in place, it costs a few instructions per RAW call. */
        if (!hook->installed || hook->domain == PYMEM_DOMAIN_RAW || hl__other_interpreters())
            continue;
        PyMem_GetAllocator(hook->domain, &current);
        if (hl__is_ours(&current, hook)) {
            PyMemAllocatorEx saved = *hl__saved(hook);
            PyMem_SetAllocator(hook->domain, &saved);
            hook->installed = 0;
            if (hook->domain == PYMEM_DOMAIN_RAW)
                atomic_store(&hl_raw_installed, 0);
        }
    }
}

int hlpy_hooks_check(void) {
    if (hl_hook_users == 0)
        return 0;
    int reached = hl__probe(), lost = 0;
    if (reached & 1) { /* whatever is on top of our RAW wrapper calls it */
        PyMemAllocatorEx top;
        PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &top);
        atomic_store(&hl_verified_raw_top_malloc, (uintptr_t)top.malloc);
        atomic_store(&hl_verified_raw_top_ctx, (uintptr_t)top.ctx);
    }
    for (int i = 0; i < 3; i++) {
        hl_domain_hook *hook = &hl_hooks[i];
        if (!hook->installed || (reached & (1 << i)))
            continue;
        hl__install_one(hook);
        lost++;
    }
    if (lost == 0)
        return 0;
    atomic_fetch_add(&hl_hooks_lost, (uint64_t)lost);
    if (PyErr_WarnEx(PyExc_RuntimeWarning,
                     "heaplens: another tool replaced Python's memory allocators without "
                     "calling heaplens's (tracemalloc.stop() after heaplens started does this); "
                     "heaplens put its hooks back, but blocks allocated in between were not traced",
                     1) < 0)
        return -1;
    return 1;
}

uint64_t hlpy_hooks_lost(void) {
    return atomic_load(&hl_hooks_lost);
}

int hlpy_hooks_raw_wrapped(void) {
    PyMemAllocatorEx top;
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &top);
    return top.malloc != hlpy_raw_malloc;
}

void hlpy_hooks_check_without_gil(void) {
    /* No allocation here: a tool under ours may take the GIL in its RAW hook
     * (the stdlib tracemalloc does), and one that is being stopped meanwhile
     * crashes there (3.11). Reading the domain's allocator is enough to see
     * that nothing changed: ours on top, or the tool last seen calling ours. */
    if (!atomic_load(&hl_raw_installed))
        return;
    PyMemAllocatorEx top;
    PyMem_GetAllocator(PYMEM_DOMAIN_RAW, &top);
    if (top.malloc == hlpy_raw_malloc ||
        ((uintptr_t)top.malloc == atomic_load(&hl_verified_raw_top_malloc) &&
         (uintptr_t)top.ctx == atomic_load(&hl_verified_raw_top_ctx)))
        return;
    /* Something else is on top: see, with the GIL, whether it calls ours.
     * Waiting for the GIL is safe on a thread with no state attached, unless
     * the interpreter is going away. */
    if (hlpy_cpython_this_thread_tstate() != NULL || hlpy_cpython_is_finalizing())
        return;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (hlpy_hooks_check() < 0)
        PyErr_WriteUnraisable(NULL);
    PyGILState_Release(gil);
}
