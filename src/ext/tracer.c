/* tracer.c - recording live blocks and their stacks (see tracer.h).
 *
 * Invariants: while tracing, every stack id stored in either live table is
 * < stacks.n_entries; every code pointer in the stack table's frame pool is a
 * strong reference owned by the tracer; py_blocks.total_bytes + raw_bytes is
 * the traced total; peak_bytes >= that total.
 */
#include "tracer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frames.h"
#include "hooks.h"

hlpy_tracer hlpy_tracer_state = {
    .raw_lock = PTHREAD_MUTEX_INITIALIZER,
};

#define T (&hlpy_tracer_state)

/* ---- fork safety -------------------------------------------------------- */

/* The child of a fork has only the forking thread; a raw_lock held by another
 * thread at the time would stay locked forever. Hold it across fork(). */
static void hl__before_fork(void) {
    pthread_mutex_lock(&T->raw_lock);
}
static void hl__after_fork(void) {
    pthread_mutex_unlock(&T->raw_lock);
}

int hlpy_tracer_init_once(void) {
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

/* ---- counters ----------------------------------------------------------- */

/* Raise the peak to `total` when it is higher. Lock-free; any thread. */
static void hl__raise_peak(uint64_t total) {
    uint64_t peak = atomic_load_explicit(&T->peak_bytes, memory_order_relaxed);
    while (total > peak &&
           !atomic_compare_exchange_weak_explicit(&T->peak_bytes, &peak, total,
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

static uint64_t hl__traced_total(void) {
    return T->py_blocks.total_bytes + atomic_load_explicit(&T->raw_bytes, memory_order_relaxed);
}

/* ---- stacks ------------------------------------------------------------- */

/* Intern the stack of `tstate` and store its id. Returns 0, or -1 when the
 * stack table could not grow. Needs the GIL. */
static int hl__intern_current_stack(PyThreadState *tstate, hl_stack_id *id_out) {
    hl_frame_ref *frames = T->frame_buffer;
    uint16_t total = 0;
    int n = hlpy_frames_capture(tstate, frames, T->nframe, &total);
    if (n == 0) {
        *id_out = T->empty_stack;
        return 0;
    }

    /* Fast path: a stack seen recently, found by its top frame. */
    uint32_t top = (uint32_t)((uintptr_t)frames[0].code >> 4) ^ (uint32_t)frames[0].lasti;
    uint32_t slot = (top * UINT32_C(0x9E3779B1)) >> (32 - HLPY_RECENT_STACKS_LOG2);
    uint32_t recent = T->recent_stacks[slot];
    if (recent != 0) {
        const hl_stack_entry *entry = &T->stacks.entries[recent - 1];
        if (entry->nframe == n && entry->total_nframe == total) {
            const hl_frame_ref *known = hl_stack_table_frames(&T->stacks, recent - 1);
            int i = 0;
            while (i < n && known[i].code == frames[i].code && known[i].lasti == frames[i].lasti)
                i++;
            if (i == n) {
                *id_out = recent - 1;
                return 0;
            }
        }
    }

    uint64_t hash = hl_stack_hash(frames, (uint16_t)n, total);
    int is_new = 0;
    if (hl_stack_table_intern(&T->stacks, frames, (uint16_t)n, total, hash, id_out, &is_new) < 0)
        return -1;
    if (is_new) {
        /* Keep the code objects alive for as long as the stack exists. */
        for (int i = 0; i < n; i++)
            Py_INCREF((PyObject *)frames[i].code);
    }
    T->recent_stacks[slot] = *id_out + 1;
    return 0;
}

/* ---- recording ---------------------------------------------------------- */

/* Whether allocations of this thread state's interpreter are traced: only
 * the main interpreter's. Since 3.12 a subinterpreter may have its own GIL,
 * under which it must not touch the tables the main GIL protects; its blocks
 * come from its own pools and are freed by its own threads. */
HL_INLINE int hl__traced_interpreter(PyThreadState *tstate) {
    return tstate->interp == T->main_interpreter;
}

void hlpy_tracer_py_alloc(void *ptr, size_t size, hlpy_alloc_domain domain) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return;
    PyThreadState *tstate = hlpy_frames_gil_tstate();
    if (tstate != NULL && !hl__traced_interpreter(tstate))
        return;
    int saved_errno = errno;
    hl_stack_id stack = T->empty_stack; /* no thread state: late in shutdown */
    if (HL_UNLIKELY(tstate != NULL && hl__intern_current_stack(tstate, &stack) < 0) ||
        HL_UNLIKELY(hl_live_table_insert(&T->py_blocks, (uintptr_t)ptr, size,
                                         HL_STACK_WORD(stack, domain)) < 0)) {
        atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
        errno = saved_errno;
        return;
    }
    uint64_t total = hl__traced_total();
    if (total > atomic_load_explicit(&T->peak_bytes, memory_order_relaxed))
        hl__raise_peak(total);
    errno = saved_errno;
}

void hlpy_tracer_py_free(void *ptr) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return;
    PyThreadState *tstate = hlpy_frames_gil_tstate();
    if (tstate != NULL && !hl__traced_interpreter(tstate))
        return;
    (void)hl_live_table_remove(&T->py_blocks, (uintptr_t)ptr, NULL, NULL);
}

/* The stack for a RAW allocation: captured under the GIL when this thread
 * has it or can safely take it, else the empty stack. Returns 0, or -1 when
 * the stack table could not grow, or when tracing stopped meanwhile. */
static int hl__raw_stack(hl_stack_id *id_out) {
    PyThreadState *tstate = hlpy_frames_tstate_if_gil_held();
    if (tstate != NULL && hl__traced_interpreter(tstate))
        return hl__intern_current_stack(tstate, id_out);

    PyThreadState *own = PyGILState_GetThisThreadState();
    if (tstate != NULL || own == NULL || !hl__traced_interpreter(own) ||
        hlpy_frames_is_finalizing()) {
        /* Another interpreter, a thread Python does not know, or shutdown:
         * no frames to record. */
        atomic_fetch_add_explicit(&T->unknown_stacks, 1, memory_order_relaxed);
        *id_out = T->empty_stack;
        return atomic_load(&T->tracing) ? 0 : -1;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    int rc = -1;
    if (atomic_load(&T->tracing)) /* stop() may have run while we waited */
        rc = hl__intern_current_stack(PyGILState_GetThisThreadState(), id_out);
    PyGILState_Release(gil);
    return rc;
}

void hlpy_tracer_raw_alloc(void *ptr, size_t size) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return;
    int saved_errno = errno;
    hl_stack_id stack;
    if (hl__raw_stack(&stack) == 0) {
        pthread_mutex_lock(&T->raw_lock);
        if (atomic_load_explicit(&T->tracing, memory_order_relaxed)) {
            if (hl_live_table_insert(&T->raw_blocks, (uintptr_t)ptr, size,
                                     HL_STACK_WORD(stack, HLPY_DOMAIN_RAW)) < 0)
                atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
            atomic_store_explicit(&T->raw_bytes, T->raw_blocks.total_bytes, memory_order_relaxed);
        }
        pthread_mutex_unlock(&T->raw_lock);
        hl__raise_peak(hl__traced_total());
    } else if (atomic_load(&T->tracing)) {
        atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
    }
    errno = saved_errno;
}

int hlpy_tracer_raw_take(void *ptr, uint64_t *size_out, uint32_t *stack_word_out) {
    int found = 0;
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return 0;
    pthread_mutex_lock(&T->raw_lock);
    if (atomic_load_explicit(&T->tracing, memory_order_relaxed) &&
        hl_live_table_remove(&T->raw_blocks, (uintptr_t)ptr, size_out, stack_word_out)) {
        atomic_store_explicit(&T->raw_bytes, T->raw_blocks.total_bytes, memory_order_relaxed);
        found = 1;
    }
    pthread_mutex_unlock(&T->raw_lock);
    return found;
}

void hlpy_tracer_raw_free(void *ptr) {
    (void)hlpy_tracer_raw_take(ptr, NULL, NULL);
}

void hlpy_tracer_raw_put_back(void *ptr, uint64_t size, uint32_t stack_word) {
    pthread_mutex_lock(&T->raw_lock);
    if (atomic_load_explicit(&T->tracing, memory_order_relaxed)) {
        if (hl_live_table_insert(&T->raw_blocks, (uintptr_t)ptr, size, stack_word) < 0)
            atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
        atomic_store_explicit(&T->raw_bytes, T->raw_blocks.total_bytes, memory_order_relaxed);
    }
    pthread_mutex_unlock(&T->raw_lock);
}

/* ---- start, stop, clear ------------------------------------------------- */

/* Take every code reference out of the stack table and empty it, then drop
 * the references. Dropping them can run arbitrary code (weakref callbacks of
 * code objects) that allocates and records new stacks, so the table is left
 * consistent before the first Py_DECREF. Needs the GIL. */
static void hl__release_stacks(void) {
    size_t n_codes = T->stacks.pool_used;
    PyObject **codes = NULL;
    if (n_codes) {
        codes = malloc(n_codes * sizeof(PyObject *));
        if (codes != NULL)
            for (size_t i = 0; i < n_codes; i++)
                codes[i] = (PyObject *)T->stacks.pool[i].code;
    }
    hl_stack_table_clear(&T->stacks);
    memset(T->recent_stacks, 0, sizeof(T->recent_stacks));
    /* The empty stack must stay id 0 and always exist while tracing. */
    hl_frame_ref none = {0};
    int is_new;
    if (T->stacks.index != NULL &&
        hl_stack_table_intern(&T->stacks, &none, 0, 0, hl_stack_hash(&none, 0, 0), &T->empty_stack,
                              &is_new) < 0)
        T->empty_stack = 0;
    if (codes == NULL) {
        /* Out of memory copying: leaking the references is the safe choice. */
        return;
    }
    for (size_t i = 0; i < n_codes; i++)
        Py_DECREF(codes[i]);
    free(codes);
}

static void hl__free_tables(void) {
    hl_live_table_destroy(&T->py_blocks);
    hl_stack_table_destroy(&T->stacks);
    free(T->frame_buffer);
    T->frame_buffer = NULL;
    memset(T->recent_stacks, 0, sizeof(T->recent_stacks));
}

int hlpy_tracer_start(int nframe) {
    if (atomic_load(&T->tracing))
        return 0;
    hl_frame_ref none = {0};
    int is_new;
    T->frame_buffer = calloc((size_t)nframe, sizeof(hl_frame_ref));
    if (T->frame_buffer == NULL || hl_live_table_init(&T->py_blocks, 1 << 12) < 0 ||
        hl_stack_table_init(&T->stacks) < 0 ||
        hl_stack_table_intern(&T->stacks, &none, 0, 0, hl_stack_hash(&none, 0, 0), &T->empty_stack,
                              &is_new) < 0) {
        hl__free_tables();
        PyErr_NoMemory();
        return -1;
    }
    pthread_mutex_lock(&T->raw_lock);
    int raw_ok = hl_live_table_init(&T->raw_blocks, 1 << 6) == 0;
    atomic_store(&T->raw_bytes, 0);
    pthread_mutex_unlock(&T->raw_lock);
    if (!raw_ok) {
        hl__free_tables();
        PyErr_NoMemory();
        return -1;
    }
    T->nframe = nframe;
    T->last_generation = 0;
    T->main_interpreter = PyInterpreterState_Main();
    atomic_store(&T->peak_bytes, 0);
    atomic_store(&T->dropped, 0);
    atomic_store(&T->unknown_stacks, 0);
    hlpy_hooks_install(HLPY_HOOK_USER_TRACER);
    atomic_store(&T->tracing, 1);
    return 0;
}

void hlpy_tracer_stop(void) {
    if (!atomic_load(&T->tracing))
        return;
    pthread_mutex_lock(&T->raw_lock);
    atomic_store(&T->tracing, 0);
    hl_live_table_destroy(&T->raw_blocks);
    atomic_store(&T->raw_bytes, 0);
    pthread_mutex_unlock(&T->raw_lock);
    hlpy_hooks_uninstall(HLPY_HOOK_USER_TRACER);
    hl_live_table_destroy(&T->py_blocks);
    hl__release_stacks();
    T->stack_epoch++;
    hl__free_tables();
    atomic_store(&T->peak_bytes, 0);
}

void hlpy_tracer_clear(void) {
    if (!atomic_load(&T->tracing))
        return;
    pthread_mutex_lock(&T->raw_lock);
    (void)hl_live_table_clear(&T->raw_blocks);
    atomic_store(&T->raw_bytes, 0);
    pthread_mutex_unlock(&T->raw_lock);
    (void)hl_live_table_clear(&T->py_blocks);
    atomic_store(&T->peak_bytes, 0);
    hl__release_stacks();
    T->stack_epoch++;
}

/* ---- queries ------------------------------------------------------------ */

void hlpy_tracer_traced_memory(uint64_t *current, uint64_t *peak) {
    if (!atomic_load(&T->tracing)) {
        *current = *peak = 0;
        return;
    }
    *current = hl__traced_total();
    *peak = atomic_load(&T->peak_bytes);
    if (*peak < *current)
        *peak = *current;
}

void hlpy_tracer_reset_peak(void) {
    if (atomic_load(&T->tracing)) {
        atomic_store(&T->peak_bytes, hl__traced_total());
    }
}

size_t hlpy_tracer_live_blocks(void) {
    if (!atomic_load(&T->tracing))
        return 0;
    pthread_mutex_lock(&T->raw_lock);
    size_t n = T->py_blocks.count + T->raw_blocks.count;
    pthread_mutex_unlock(&T->raw_lock);
    return n;
}

size_t hlpy_tracer_memory(void) {
    if (!atomic_load(&T->tracing))
        return 0;
    size_t bytes = hl_live_table_memory(&T->py_blocks) + hl_stack_table_memory(&T->stacks) +
                   (size_t)T->nframe * sizeof(hl_frame_ref);
    pthread_mutex_lock(&T->raw_lock);
    bytes += hl_live_table_memory(&T->raw_blocks);
    pthread_mutex_unlock(&T->raw_lock);
    return bytes;
}

int hlpy_tracer_find_py_block_stack(uintptr_t addr, hl_stack_id *stack_out) {
    uint64_t size;
    uint32_t word;
    if (!atomic_load(&T->tracing) || !hl_live_table_find(&T->py_blocks, addr, &size, &word))
        return 0;
    *stack_out = HL_STACK_WORD_ID(word);
    return 1;
}

int hlpy_tracer_find_py_block_generation(uintptr_t addr, uint16_t *generation_out) {
    if (!atomic_load(&T->tracing))
        return 0;
    return hl_live_table_find_generation(&T->py_blocks, addr, generation_out);
}

int hlpy_tracer_reserve_generations(int count, uint16_t *first_out) {
    if (!atomic_load(&T->tracing) || count < 1 || count > UINT16_MAX - 1)
        return -1;
    if ((int)T->last_generation + count > UINT16_MAX) {
        hl_live_table_forget_generations(&T->py_blocks);
        pthread_mutex_lock(&T->raw_lock);
        hl_live_table_forget_generations(&T->raw_blocks);
        pthread_mutex_unlock(&T->raw_lock);
        T->last_generation = 0;
    }
    *first_out = (uint16_t)(T->last_generation + 1);
    T->last_generation = (uint16_t)(T->last_generation + count);
    return 0;
}

void hlpy_tracer_set_generation(uint16_t generation) {
    if (!atomic_load(&T->tracing))
        return;
    hl_live_table_set_generation(&T->py_blocks, generation);
    pthread_mutex_lock(&T->raw_lock);
    hl_live_table_set_generation(&T->raw_blocks, generation);
    pthread_mutex_unlock(&T->raw_lock);
}

int hlpy_tracer_find_block(uintptr_t addr, hl_stack_id *stack_out, uint64_t *size_out) {
    uint32_t word;
    if (!atomic_load(&T->tracing))
        return 0;
    if (hl_live_table_find(&T->py_blocks, addr, size_out, &word)) {
        *stack_out = HL_STACK_WORD_ID(word);
        return 1;
    }
    pthread_mutex_lock(&T->raw_lock);
    int found = hl_live_table_find(&T->raw_blocks, addr, size_out, &word);
    pthread_mutex_unlock(&T->raw_lock);
    if (found)
        *stack_out = HL_STACK_WORD_ID(word);
    return found;
}
