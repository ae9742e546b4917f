/* tracer.c - recording live blocks and their stacks (see tracer.h).
 *
 * Invariants: while tracing, every stack id stored in either live table is
 * < stacks.n_entries (a RAW hook that captured its stack under the GIL and
 * records it later under raw_lock checks stack_epoch to keep it so); every
 * code pointer in the stack table's frame pool is a strong reference owned
 * by the tracer; py_blocks.total_bytes + raw_bytes is the traced total;
 * peak_bytes >= that total.
 *
 * stop() and clear_traces() give the code references back last, once the
 * tables are freed or emptied and the state is consistent: giving one back
 * can run any Python code (a weakref callback on a code object), which may
 * start tracing again or allocate.
 */
#include "tracer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cpython/internals.h"
#include "native_unwind.h"
#include "sampling.h"
#include "stack_merge.h"
#include "stack_servant.h"
#include "tracer_state.h"

/* The one tracer: its fields say what protects each. */
static hlpy_tracer hl_tracer = {
    .raw_lock = PTHREAD_MUTEX_INITIALIZER,
};

#define T (&hl_tracer)

/* Whether the current start keeps per-stack sums. Any thread; relaxed. */
HL_INLINE int hl__sums_on(void) {
    return atomic_load_explicit(&T->sums_on, memory_order_relaxed);
}

/* ---- fork safety -------------------------------------------------------- */

/* The child of a fork has only the forking thread; a raw_lock held by another
 * thread at the time would stay locked forever. Hold it across fork().
 *
 * Other libraries' fork handlers registered before heaplens's run while the
 * forking thread holds it (prepare handlers run in the reverse order of
 * registration, the others in order), and some allocate there (OpenBLAS,
 * NumPy's, frees in its prepare handler): a hook that took raw_lock again
 * on that thread would wait for itself. While `hl_in_fork` is set, this
 * thread's hooks record nothing, and frees leave their trace (a stale trace
 * beats a process that never forks). Initial-exec TLS: reading it never
 * allocates. */
static _Thread_local int hl_in_fork __attribute__((tls_model("initial-exec")));

/* The stack of the thread that created this one, when native code created it
 * without a Python state (hlpy_tracer_set_creator_stack), or NULL. */
static _Thread_local const hlpy_creator_stack *hl_creator_stack
    __attribute__((tls_model("initial-exec")));

static void hl__before_fork(void) {
    pthread_mutex_lock(&T->raw_lock);
    hl_in_fork = 1;
}
static void hl__after_fork(void) {
    hl_in_fork = 0;
    pthread_mutex_unlock(&T->raw_lock);
}

static int hl__read_waiting_stack(PyThreadState *tstate, hl_stack_id *id_out, uint64_t *epoch_out);
static int hl__intern_asker_frames(const hl_frame_ref *frames, uint16_t n, uint16_t total,
                                   uint64_t epoch, hl_stack_id *id_out, uint64_t *epoch_out);

int hlpy_tracer_init_once(void) {
    static int done;
    if (done)
        return 0;
    if (pthread_atfork(hl__before_fork, hl__after_fork, hl__after_fork) != 0) {
        PyErr_SetString(PyExc_RuntimeError, "heaplens: could not register fork handlers");
        return -1;
    }
    if (hlpy_stack_servant_init_once(hl__read_waiting_stack, hl__intern_asker_frames) < 0)
        return -1;
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

/* The traced total, from the GIL holder's own tables. Needs the GIL. */
static uint64_t hl__traced_total(void) {
    if (hl__sums_on())
        return T->py_sums.total_bytes +
               atomic_load_explicit(&T->raw_sums_bytes, memory_order_relaxed);
    return T->py_blocks.total_bytes + atomic_load_explicit(&T->raw_bytes, memory_order_relaxed);
}

/* The traced total for a thread that may not hold the GIL: the MEM and OBJ
 * part as last published (hl__publish_py_bytes). Any thread. */
static uint64_t hl__traced_total_any_thread(void) {
    uint64_t raw = hl__sums_on() ? atomic_load_explicit(&T->raw_sums_bytes, memory_order_relaxed)
                                 : atomic_load_explicit(&T->raw_bytes, memory_order_relaxed);
    return atomic_load_explicit(&T->py_bytes, memory_order_relaxed) + raw;
}

/* Publish the MEM and OBJ part of the traced total for threads without the
 * GIL. Needs the GIL. */
HL_INLINE void hl__publish_py_bytes(void) {
    atomic_store_explicit(&T->py_bytes,
                          hl__sums_on() ? T->py_sums.total_bytes : T->py_blocks.total_bytes,
                          memory_order_relaxed);
}

/* ---- per-stack sums ------------------------------------------------------ */

/* Add (sign > 0) or take away the block at addr of `size` with `stack_word`
 * in sums. */
static void hl__sums_change(hl_stack_sums *sums, uintptr_t addr, uint64_t size, uint32_t stack_word,
                            int sign) {
    uint64_t bytes = size, blocks = 1;
    uint32_t id = HL_STACK_WORD_ID(stack_word);
    if (id >= sums->capacity)
        return; /* cannot happen: reserved before the block was recorded */
    if (hlpy_sampling_on())
        hlpy_sampling_weigh(size, addr, &bytes, &blocks);
    hl_stack_sums_change(sums, id, bytes, blocks, sign);
}

/* Copy both sums at a new high `total`. Needs the GIL; takes raw_lock when
 * the raw sums changed. */
static void hl__copy_peak(uint64_t total) {
    if (HL_UNLIKELY(hl_in_fork)) {
        atomic_fetch_add_explicit(&T->peaks_not_copied, 1, memory_order_relaxed);
        hl__raise_peak(total);
        return;
    }
    hl_stack_sums_save_peak(&T->py_sums);
    if (atomic_load_explicit(&T->raw_sums_changed, memory_order_relaxed)) {
        pthread_mutex_lock(&T->raw_lock);
        hl_stack_sums_save_peak(&T->raw_sums);
        hl_stack_sums_save_peak(&T->tracked_sums);
        atomic_store_explicit(&T->raw_sums_changed, 0, memory_order_relaxed);
        pthread_mutex_unlock(&T->raw_lock);
    }
    atomic_store_explicit(&T->saved_peak_total, total, memory_order_relaxed);
    hl__raise_peak(total);
}

/* After the sums changed: publish the total for the timeline and, at a new
 * high, copy the sums (when this thread holds the GIL; else count it). */
static void hl__sums_changed(int gil_held) {
    uint64_t total = gil_held ? hl__traced_total() : hl__traced_total_any_thread();
    atomic_store_explicit(&T->traced_now, total, memory_order_relaxed);
    if (total > atomic_load_explicit(&T->traced_high, memory_order_relaxed))
        atomic_store_explicit(&T->traced_high, total, memory_order_relaxed);
    if (total > atomic_load_explicit(&T->saved_peak_total, memory_order_relaxed)) {
        if (gil_held) {
            hl__copy_peak(total);
        } else {
            atomic_fetch_add_explicit(&T->peaks_not_copied, 1, memory_order_relaxed);
            hl__raise_peak(total);
        }
    }
}

/* ---- stacks ------------------------------------------------------------- */

/* The traceback limit of the current start. Any thread; relaxed. */
HL_INLINE int hl__nframe(void) {
    return atomic_load_explicit(&T->nframe, memory_order_relaxed);
}

/* The slot of the recent-stack cache for stacks whose innermost frame is
 * `top`. */
HL_INLINE uint32_t hl__recent_slot(const hl_frame_ref *top) {
    uint32_t key = (uint32_t)((uintptr_t)top->code >> 4) ^ (uint32_t)top->lasti;
    return (key * UINT32_C(0x9E3779B1)) >> (32 - HLPY_RECENT_STACKS_LOG2);
}

/* Intern the stack of `tstate` and store its id. Returns 0, or -1 when the
 * stack table could not grow. Needs the GIL.
 *
 * Fast path: the stack recorded last at the same innermost frame
 * (recent_stacks), which most allocations repeat. With one frame kept, the
 * capture (that frame and the count below it) is all there is to compare.
 * With more, the thread's frames are compared with that stack as they are
 * walked, nothing copied, and captured only when they differ: at 24 frames
 * that took start(25) from 377,000 to 334,000 instructions per request of
 * deep_stack on 3.14 (bench/instructions.py); start(1) keeps the plain
 * capture, which asking first would make 1-2% dearer. */
static int hl__intern_current_stack(PyThreadState *tstate, hl_stack_id *id_out) {
    hl_frame_ref *frames = T->frame_buffer;
    uint16_t total = 0;
    int n;
    uint32_t slot;
    int nframe = hl__nframe();
    if (nframe == 1) {
        n = hlpy_cpython_capture_stack(tstate, frames, 1, &total);
        if (n == 0) {
            *id_out = HLPY_EMPTY_STACK;
            return 0;
        }
        slot = hl__recent_slot(&frames[0]);
        uint32_t recent = T->recent_stacks[slot];
        if (recent != 0) {
            const hl_frame_ref *known = hl_stack_table_frames(&T->stacks, recent - 1);
            if (T->stacks.entries[recent - 1].total_nframe == total &&
                known[0].code == frames[0].code && known[0].lasti == frames[0].lasti) {
                *id_out = recent - 1;
                return 0;
            }
        }
    } else {
        hl_frame_ref top;
        if (!hlpy_cpython_stack_top(tstate, &top)) {
            *id_out = HLPY_EMPTY_STACK;
            return 0;
        }
        slot = hl__recent_slot(&top);
        uint32_t recent = T->recent_stacks[slot];
        if (recent != 0) {
            const hl_stack_entry *entry = &T->stacks.entries[recent - 1];
            if (hlpy_cpython_stack_equals(tstate, hl_stack_table_frames(&T->stacks, recent - 1),
                                          entry->nframe, entry->total_nframe, nframe)) {
                *id_out = recent - 1;
                return 0;
            }
        }
        n = hlpy_cpython_capture_stack(tstate, frames, nframe, &total);
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
    return PyThreadState_GetInterpreter(tstate) == T->main_interpreter;
}

/* Record the MEM or OBJ block at ptr, every one or one that sampling chose. */
static void hl__py_record(void *ptr, size_t size, hlpy_alloc_domain domain) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return;
    int saved_errno = errno;
    PyThreadState *tstate = hlpy_cpython_gil_tstate();
    if (tstate != NULL && !hl__traced_interpreter(tstate)) {
        errno = saved_errno;
        return;
    }
    hl_stack_id stack = HLPY_EMPTY_STACK; /* no thread state: late in shutdown */
    int inserted = -1;
    if (HL_LIKELY(tstate == NULL || hl__intern_current_stack(tstate, &stack) == 0) &&
        HL_LIKELY(!hl__sums_on() || hl_stack_sums_reserve(&T->py_sums, stack + 1) == 0))
        inserted =
            hl_live_table_insert(&T->py_blocks, (uintptr_t)ptr, size, HL_STACK_WORD(stack, domain));
    if (HL_UNLIKELY(inserted < 0)) {
        atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
        errno = saved_errno;
        return;
    }
    T->last_py_block = (uintptr_t)ptr;
    if (hl__sums_on()) {
        if (hlpy_sampling_on() && inserted == 0)
            hlpy_sampling_py_filter_add(&T->py_blocks,
                                        ptr); /* a replaced block was counted already */
        if (inserted == 1)
            hl__sums_change(&T->py_sums, (uintptr_t)ptr, T->py_blocks.replaced_size,
                            T->py_blocks.replaced_stack_word, -1);
        hl__sums_change(&T->py_sums, (uintptr_t)ptr, size, HL_STACK_WORD(stack, domain), +1);
        hl__publish_py_bytes();
        hl__sums_changed(1);
    } else {
        hl__publish_py_bytes();
        uint64_t total = hl__traced_total();
        if (total > atomic_load_explicit(&T->peak_bytes, memory_order_relaxed))
            hl__raise_peak(total);
    }
    errno = saved_errno;
}

void hlpy_tracer_py_alloc(void *ptr, size_t size, hlpy_alloc_domain domain) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return;
    if (hlpy_sampling_on()) {
        int saved_errno = errno; /* the slow side may call clock_gettime */
        int due = hlpy_sampling_due(size);
        errno = saved_errno;
        if (!due)
            return;
    }
    hl__py_record(ptr, size, domain);
}

void hlpy_tracer_py_free(void *ptr) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return;
    PyThreadState *tstate = hlpy_cpython_gil_tstate();
    if (tstate != NULL && !hl__traced_interpreter(tstate))
        return;
    if (T->last_py_block == (uintptr_t)ptr)
        T->last_py_block = 0;
    uint64_t size;
    uint32_t word;
    if (!hl_live_table_remove(&T->py_blocks, (uintptr_t)ptr, &size, &word))
        return;
    if (hl__sums_on()) {
        if (hlpy_sampling_on())
            hlpy_sampling_py_filter_remove(&T->py_blocks, ptr);
        hl__sums_change(&T->py_sums, (uintptr_t)ptr, size, word, -1);
        atomic_store_explicit(&T->traced_now, hl__traced_total(), memory_order_relaxed);
    }
    hl__publish_py_bytes();
}

void hlpy_tracer_py_new_object(PyObject *obj) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed))
        return;
    PyThreadState *tstate = hlpy_cpython_gil_tstate();
    if (tstate == NULL || !hl__traced_interpreter(tstate))
        return;
    uintptr_t block = (uintptr_t)obj - hlpy_cpython_preheader_size(Py_TYPE(obj));
    if (block == T->last_py_block) {
        /* Made in the block just recorded, at this very stack. */
        T->last_py_block = 0;
        return;
    }
    if (!hlpy_sampling_maybe_py((const void *)block))
        return;
    /* Nearly every block an object is made in again was recorded (all of them
     * when not sampling): the stack is captured first, and the table is
     * searched once, by the restack. The object is new, so the block takes the
     * current generation even where its stack is unchanged. */
    int saved_errno = errno;
    hl_stack_id stack;
    uint32_t word;
    uint64_t size;
    if (hl__intern_current_stack(tstate, &stack) < 0 ||
        (hl__sums_on() && hl_stack_sums_reserve(&T->py_sums, stack + 1) < 0) ||
        !hl_live_table_restack(&T->py_blocks, block, stack, &size, &word) ||
        HL_STACK_WORD_ID(word) == stack) {
        errno = saved_errno;
        return;
    }
    if (hl__sums_on()) {
        /* The total is unchanged: no new high to copy. */
        hl__sums_change(&T->py_sums, block, size, word, -1);
        hl__sums_change(&T->py_sums, block, size, HL_STACK_WORD(stack, HL_STACK_WORD_DOMAIN(word)),
                        +1);
    }
    errno = saved_errno;
}

/* The stack servant's reader (stack_servant.h): the stack of `tstate`, a
 * state of the main interpreter whose thread waits in a RAW hook, and the
 * stack epoch it belongs to. Runs on the servant, with the GIL. Returns 0, or
 * -1 when the stack table could not grow or tracing stopped. */
static int hl__read_waiting_stack(PyThreadState *tstate, hl_stack_id *id_out, uint64_t *epoch_out) {
    if (!atomic_load(&T->tracing)) /* stop() may have run meanwhile */
        return -1;
    *epoch_out = atomic_load_explicit(&T->stack_epoch, memory_order_relaxed);
    return hl__intern_current_stack(tstate, id_out);
}

/* Intern `frames` (n frames, total depth `total`) that may hold native
 * frames, taking a reference to each new stack's code objects. Returns 0, or
 * -1 when the stack table could not grow. Needs the GIL. */
static int hl__intern_frames(const hl_frame_ref *frames, uint16_t n, uint16_t total,
                             hl_stack_id *id_out) {
    int is_new = 0;
    if (hl_stack_table_intern(&T->stacks, frames, n, total, hl_stack_hash(frames, n, total), id_out,
                              &is_new) < 0)
        return -1;
    if (is_new)
        for (uint16_t i = 0; i < n; i++)
            if (!hl_frame_is_native(&frames[i]))
                Py_INCREF((PyObject *)frames[i].code);
    return 0;
}

/* The stack servant's interner (stack_servant.h). Runs on the servant, with
 * the GIL. Returns 0, or -1 when the table could not grow or tracing
 * stopped. */
static int hl__intern_asker_frames(const hl_frame_ref *frames, uint16_t n, uint16_t total,
                                   uint64_t epoch, hl_stack_id *id_out, uint64_t *epoch_out) {
    if (!atomic_load(&T->tracing))
        return -1;
    *epoch_out = atomic_load_explicit(&T->stack_epoch, memory_order_relaxed);
    if (*epoch_out != epoch)
        return -1; /* a creator's frames may name code objects freed since */
    return hl__intern_frames(frames, n, total, id_out);
}

/* No frames for a RAW block: the empty stack, valid in every epoch, counted
 * in unknown_stacks and in `why` (gil_unsafe or gil_timeouts, or NULL).
 * Returns 0, or -1 when tracing stopped meanwhile. */
static int hl__raw_no_stack(_Atomic uint64_t *why, hl_stack_id *id_out, uint64_t *epoch_out) {
    atomic_fetch_add_explicit(&T->unknown_stacks, 1, memory_order_relaxed);
    if (why != NULL)
        atomic_fetch_add_explicit(why, 1, memory_order_relaxed);
    *id_out = HLPY_EMPTY_STACK;
    *epoch_out = atomic_load_explicit(&T->stack_epoch, memory_order_relaxed);
    return atomic_load(&T->tracing) ? 0 : -1;
}

/* What the stack servant's answer `result` means for the caller of
 * hl__raw_stack or hl__native_stack: 0 with the id stored (answered, or the
 * empty stack, counted, when the ask was unsafe or unanswered), or -1 when
 * the stack could not be recorded. */
static int hl__servant_answer(hlpy_ask_result result, hl_stack_id *id_out, uint64_t *epoch_out) {
    switch (result) {
    case HLPY_ASK_ANSWERED:
        return 0;
    case HLPY_ASK_UNSAFE:
        return hl__raw_no_stack(&T->gil_unsafe, id_out, epoch_out);
    case HLPY_ASK_UNANSWERED:
        return hl__raw_no_stack(&T->gil_timeouts, id_out, epoch_out);
    default: /* HLPY_ASK_FAILED */
        return -1;
    }
}

/* The stack for a RAW allocation (from_raw_hook) or a block an extension
 * reported (not from_raw_hook), and the stack epoch it belongs to.
 *
 * Read here when this thread holds the main GIL with its own state. A thread
 * with a state of its own but none attached (it released the GIL) never
 * waits for the GIL: it may hold a lock that the GIL's holder waits for (see
 * stack_servant.h). The stack servant reads its frames instead, within a
 * bounded wait; past it the block gets the empty stack (no frames), counted
 * in gil_timeouts. The empty stack is also what a thread with no Python
 * state at all gets (it has no frames, as tracemalloc records it), and one
 * with any state attached (it holds a GIL already: the main one with another
 * interpreter's state while Py_NewInterpreter runs, or a subinterpreter's
 * own). So does a thread where asking is unsafe or bound to time out,
 * counted in gil_unsafe: one that may hold the GIL with no state (3.11's
 * Py_NewInterpreter), one that may hold CPython's lock on its interpreters
 * (PyInterpreterState_New while the GIL's holder waits for that lock: 3.12),
 * and a RAW block allocated through another tool's RAW hook
 * (stack_servant.h). None of it during shutdown.
 *
 * Returns 0, or -1 when the stack table could not grow, or when tracing
 * stopped meanwhile. */
static int hl__raw_stack(int from_raw_hook, hl_stack_id *id_out, uint64_t *epoch_out) {
    PyThreadState *current = hlpy_cpython_this_thread_tstate();
    PyThreadState *own = PyGILState_GetThisThreadState();
    if (current != NULL && current == own && hl__traced_interpreter(current)) {
        /* This thread holds the main GIL with its own state. */
        *epoch_out = atomic_load_explicit(&T->stack_epoch, memory_order_relaxed);
        return hl__intern_current_stack(current, id_out);
    }
    if (current == NULL && own == NULL && hl_creator_stack != NULL &&
        hl_creator_stack->epoch == atomic_load(&T->stack_epoch)) {
        /* A thread native code made: its creator's stack (interned, with
         * its code objects held, in this epoch). */
        *id_out = hl_creator_stack->id;
        *epoch_out = hl_creator_stack->epoch;
        return 0;
    }
    if (current != NULL || own == NULL || !hl__traced_interpreter(own) ||
        hlpy_cpython_is_finalizing())
        return hl__raw_no_stack(NULL, id_out, epoch_out);
    if (hlpy_cpython_gil_held_without_state(own) || hlpy_cpython_interpreters_lock_busy())
        return hl__raw_no_stack(&T->gil_unsafe, id_out, epoch_out);
    uint64_t epoch = atomic_load(&T->stack_epoch);
    int nframe = atomic_load(&T->nframe); /* this epoch's (see tracer_state.h) */
    return hl__servant_answer(
        hlpy_stack_servant_ask(own, from_raw_hook, epoch, nframe, id_out, epoch_out), id_out,
        epoch_out);
}

/* The total depth of a merged stack: the thread's Python frames
 * (python_total, of which n_python were captured) and its native frames in
 * the merged stack of n_merged frames. Never below n_merged. */
static uint16_t hl__mixed_total(uint16_t python_total, int n_python, size_t n_merged) {
    size_t total = python_total;
    if (n_merged > (size_t)n_python)
        total += n_merged - (size_t)n_python;
    return total > HL_TOTAL_NFRAME_MAX ? HL_TOTAL_NFRAME_MAX : (uint16_t)total;
}

/* How far up the C stack native frames are wanted: to the eval-loop
 * invocation of the outermost Python frame kept (`anchors` of n frames), as
 * older ones are left out of the merge (stack_merge.h); 0 (all of it) when
 * there is none or an anchor is unknown. */
static uintptr_t hl__unwind_bound(const uintptr_t *anchors, int n) {
    uintptr_t bound = 0;
    for (int i = 0; i < n; i++) {
        if (anchors[i] == 0)
            return 0;
        if (anchors[i] > bound)
            bound = anchors[i];
    }
    return bound;
}

/* The stack of a block an extension reported or native code allocated, with
 * its native frames (unwound here, by this thread, up to what the merge
 * keeps) between its Python frames (stack_merge.h), and the stack epoch it
 * belongs to. As
 * hl__raw_stack, except that a thread Python does not know gets its native
 * frames (interned by the stack servant), and that a thread without the GIL
 * reads its own Python frames, at most HLPY_STACK_CACHE_MAX_FRAMES of them,
 * and has the servant intern the merged stack. Returns 0, or -1 when the
 * stack table could not grow or tracing stopped meanwhile. */
static int hl__native_stack(hl_stack_id *id_out, uint64_t *epoch_out) {
    PyThreadState *current = hlpy_cpython_this_thread_tstate();
    PyThreadState *own = PyGILState_GetThisThreadState();
    uint16_t total = 0;
    hlpy_native_frames unwound;
    const hlpy_native_frames *native = &unwound;
    if (current != NULL && current == own && hl__traced_interpreter(current)) {
        /* This thread holds the main GIL with its own state. */
        *epoch_out = atomic_load_explicit(&T->stack_epoch, memory_order_relaxed);
        int nframe = hl__nframe();
        int n = hlpy_cpython_capture_anchored(current, T->frame_buffer, T->anchor_buffer, nframe,
                                              &total);
        hlpy_native_unwind(&unwound, hl__unwind_bound(T->anchor_buffer, n));
        size_t merged = hl_stack_merge(T->frame_buffer, T->anchor_buffer, (size_t)n, native->pcs,
                                       native->cfas, (size_t)native->n, T->mixed_buffer,
                                       (size_t)nframe + HLPY_NATIVE_MAX_FRAMES);
        return hl__intern_frames(T->mixed_buffer, (uint16_t)merged,
                                 hl__mixed_total(total, n, merged), id_out);
    }
    if (current != NULL || (own != NULL && !hl__traced_interpreter(own)) ||
        hlpy_cpython_is_finalizing())
        return hl__raw_no_stack(NULL, id_out, epoch_out);
    if (own != NULL &&
        (hlpy_cpython_gil_held_without_state(own) || hlpy_cpython_interpreters_lock_busy()))
        return hl__raw_no_stack(&T->gil_unsafe, id_out, epoch_out);
    uint64_t epoch = atomic_load(&T->stack_epoch);
    int nframe = atomic_load(&T->nframe); /* this epoch's (see tracer_state.h) */
    if (nframe > HLPY_STACK_CACHE_MAX_FRAMES)
        nframe = HLPY_STACK_CACHE_MAX_FRAMES;
    hl_frame_ref python[HLPY_STACK_CACHE_MAX_FRAMES];
    uintptr_t anchors[HLPY_STACK_CACHE_MAX_FRAMES];
    hl_frame_ref merged[HLPY_STACK_CACHE_MAX_FRAMES + HLPY_NATIVE_MAX_FRAMES];
    int n = 0;
    const hlpy_creator_stack *creator = hl_creator_stack;
    if (own != NULL) {
        n = hlpy_cpython_capture_anchored(own, python, anchors, nframe, &total);
    } else if (creator != NULL && creator->epoch == epoch) {
        /* A thread native code made: its C frames, then its creator's
         * Python frames (their code objects are held while the epoch
         * lasts; the servant checks it before it interns them). */
        n = creator->n_frames < nframe ? creator->n_frames : nframe;
        memcpy(python, creator->frames, (size_t)n * sizeof(hl_frame_ref));
        memset(anchors, 0, sizeof anchors);
        total = creator->total_nframe;
    }
    hlpy_native_unwind(&unwound, own != NULL ? hl__unwind_bound(anchors, n) : 0);
    size_t n_merged = hl_stack_merge(python, anchors, (size_t)n, native->pcs, native->cfas,
                                     (size_t)native->n, merged, sizeof merged / sizeof merged[0]);
    if (n_merged == 0)
        return hl__raw_no_stack(NULL, id_out, epoch_out);
    return hl__servant_answer(hlpy_stack_servant_intern(merged, (uint16_t)n_merged,
                                                        hl__mixed_total(total, n, n_merged), epoch,
                                                        id_out, epoch_out),
                              id_out, epoch_out);
}

int hlpy_tracer_creator_stack(hlpy_creator_stack *out) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed) || HL_UNLIKELY(hl_in_fork))
        return 0;
    PyThreadState *own = PyGILState_GetThisThreadState();
    if (own == NULL) {
        /* A thread native code made makes another: it passes its own on. */
        if (hl_creator_stack == NULL || hl_creator_stack->epoch != atomic_load(&T->stack_epoch))
            return 0;
        *out = *hl_creator_stack;
        return 1;
    }
    int saved_errno = errno;
    hl_stack_id id;
    uint64_t epoch;
    int got = hl__raw_stack(0, &id, &epoch) == 0 && id != HLPY_EMPTY_STACK;
    if (got) {
        int nframe = atomic_load(&T->nframe);
        if (nframe > HLPY_STACK_CACHE_MAX_FRAMES)
            nframe = HLPY_STACK_CACHE_MAX_FRAMES;
        out->epoch = epoch;
        out->id = id;
        out->n_frames =
            (uint16_t)hlpy_cpython_capture_stack(own, out->frames, nframe, &out->total_nframe);
    }
    errno = saved_errno;
    return got;
}

void hlpy_tracer_set_creator_stack(const hlpy_creator_stack *stack) {
    hl_creator_stack = stack;
}

/* Whether a stack id noted in `epoch` still names the same stack: tracing,
 * and the stack table not emptied since. Needs raw_lock (or the GIL). */
HL_INLINE int hl__raw_epoch_current(uint64_t epoch) {
    return atomic_load_explicit(&T->tracing, memory_order_relaxed) &&
           atomic_load_explicit(&T->stack_epoch, memory_order_relaxed) == epoch;
}

/* The bytes of the RAW and tracked blocks, for raw_bytes. Needs raw_lock. */
static uint64_t hl__raw_side_bytes(void) {
    uint64_t bytes = T->raw_blocks.total_bytes;
    for (int i = 0; i < T->n_tracked_domains; i++)
        bytes += T->tracked_blocks[i].total_bytes;
    return bytes;
}

/* The bytes of the RAW and tracked sums, for raw_sums_bytes. Needs raw_lock. */
static uint64_t hl__raw_side_sums_bytes(void) {
    return T->raw_sums.total_bytes + T->tracked_sums.total_bytes;
}

/* Record a RAW block under raw_lock (held by the caller), in the table and,
 * in sums mode, in raw_sums. Counts a drop when it cannot. The caller checked
 * hl__raw_epoch_current for stack_word's id. */
static void hl__raw_record_locked(void *ptr, uint64_t size, uint32_t stack_word) {
    int inserted = -1;
    int sums_on = hl__sums_on();
    if (!sums_on || hl_stack_sums_reserve(&T->raw_sums, HL_STACK_WORD_ID(stack_word) + 1) == 0)
        inserted = hl_live_table_insert(&T->raw_blocks, (uintptr_t)ptr, size, stack_word);
    if (inserted < 0) {
        atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
    } else if (sums_on) {
        if (hlpy_sampling_on() && inserted == 0)
            hlpy_sampling_raw_filter_change(ptr, +1); /* a replaced block was counted already */
        if (inserted == 1)
            hl__sums_change(&T->raw_sums, (uintptr_t)ptr, T->raw_blocks.replaced_size,
                            T->raw_blocks.replaced_stack_word, -1);
        hl__sums_change(&T->raw_sums, (uintptr_t)ptr, size, stack_word, +1);
        atomic_store_explicit(&T->raw_sums_bytes, hl__raw_side_sums_bytes(), memory_order_relaxed);
        atomic_store_explicit(&T->raw_sums_changed, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&T->raw_bytes, hl__raw_side_bytes(), memory_order_relaxed);
}

static void hl__tracked_record_locked(uint32_t domain, uintptr_t ptr, uint64_t size,
                                      uint32_t stack_word);

/* A block recorded off the GIL's tables, under raw_lock: RAW (from_raw_hook)
 * or tracked in `domain`. */
typedef struct hl_side_block {
    int from_raw_hook;
    uint32_t domain; /* tracked blocks only */
    uintptr_t ptr;
    uint64_t size;
} hl_side_block;

/* Record `block` with this thread's stack (hl__raw_stack), then raise the
 * peak or note the sums' change. What cannot be recorded is counted. */
static void hl__record_side_block(const hl_side_block *block) {
    hl_stack_id stack;
    uint64_t epoch;
    int got;
    if (!block->from_raw_hook && atomic_load_explicit(&T->native_frames, memory_order_relaxed)) {
        got = hl__native_stack(&stack, &epoch);
    } else {
        got = hl__raw_stack(block->from_raw_hook, &stack, &epoch);
    }
    if (got < 0) {
        if (atomic_load(&T->tracing))
            atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
        return;
    }
    int recorded = 0;
    pthread_mutex_lock(&T->raw_lock);
    if (hl__raw_epoch_current(epoch)) {
        uint32_t word = HL_STACK_WORD(stack, HLPY_DOMAIN_RAW);
        if (block->from_raw_hook)
            hl__raw_record_locked((void *)block->ptr, block->size, word);
        else
            hl__tracked_record_locked(block->domain, block->ptr, block->size, word);
        recorded = 1;
    } else if (atomic_load_explicit(&T->tracing, memory_order_relaxed)) {
        /* clear_traces() emptied the stack table after the capture: the
         * id names another stack now, or none. */
        atomic_fetch_add_explicit(&T->stale_stacks, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&T->raw_lock);
    if (recorded) {
        PyThreadState *current = hlpy_cpython_this_thread_tstate();
        int gil_held = current != NULL && current == PyGILState_GetThisThreadState() &&
                       hl__traced_interpreter(current);
        if (hl__sums_on())
            hl__sums_changed(gil_held);
        else
            hl__raise_peak(gil_held ? hl__traced_total() : hl__traced_total_any_thread());
    }
}

void hlpy_tracer_raw_alloc(void *ptr, size_t size) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed) || HL_UNLIKELY(hl_in_fork))
        return;
    int saved_errno = errno;
    if (!hlpy_sampling_on() || hlpy_sampling_due(size)) {
        hl_side_block block = {1, 0, (uintptr_t)ptr, size};
        hl__record_side_block(&block);
    }
    errno = saved_errno;
}

int hlpy_tracer_raw_take(void *ptr, hlpy_raw_taken *taken) {
    int found = 0;
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed) || HL_UNLIKELY(hl_in_fork))
        return 0;
    uint64_t size;
    uint32_t word;
    pthread_mutex_lock(&T->raw_lock);
    if (atomic_load_explicit(&T->tracing, memory_order_relaxed) &&
        hl_live_table_remove(&T->raw_blocks, (uintptr_t)ptr, &size, &word)) {
        atomic_store_explicit(&T->raw_bytes, hl__raw_side_bytes(), memory_order_relaxed);
        if (hlpy_sampling_on())
            hlpy_sampling_raw_filter_change(ptr, -1);
        if (hl__sums_on()) {
            hl__sums_change(&T->raw_sums, (uintptr_t)ptr, size, word, -1);
            atomic_store_explicit(&T->raw_sums_bytes, hl__raw_side_sums_bytes(),
                                  memory_order_relaxed);
            atomic_store_explicit(&T->raw_sums_changed, 1, memory_order_relaxed);
        }
        if (taken != NULL) {
            taken->size = size;
            taken->stack_word = word;
            taken->stack_epoch = atomic_load_explicit(&T->stack_epoch, memory_order_relaxed);
        }
        found = 1;
    }
    pthread_mutex_unlock(&T->raw_lock);
    return found;
}

void hlpy_tracer_raw_free(void *ptr) {
    (void)hlpy_tracer_raw_take(ptr, NULL);
}

void hlpy_tracer_raw_put_back(void *ptr, const hlpy_raw_taken *taken) {
    if (HL_UNLIKELY(hl_in_fork))
        return; /* cannot happen: nothing was taken (see hl_in_fork) */
    pthread_mutex_lock(&T->raw_lock);
    if (hl__raw_epoch_current(taken->stack_epoch))
        hl__raw_record_locked(ptr, taken->size, taken->stack_word);
    else if (atomic_load_explicit(&T->tracing, memory_order_relaxed))
        atomic_fetch_add_explicit(&T->stale_stacks, 1, memory_order_relaxed);
    pthread_mutex_unlock(&T->raw_lock);
}

/* ---- blocks reported by extensions (PyTraceMalloc_Track) ---------------- */

/* The table of tracemalloc domain `domain`, made when `create` and it has
 * none yet; NULL when it has none (or no room is left for another domain,
 * or no memory). Needs raw_lock. */
static hl_live_table *hl__tracked_table(uint32_t domain, int create) {
    for (int i = 0; i < T->n_tracked_domains; i++) {
        if (T->tracked_domains[i] == domain)
            return &T->tracked_blocks[i];
    }
    if (!create || T->n_tracked_domains == HLPY_TRACKED_DOMAINS)
        return NULL;
    hl_live_table *table = &T->tracked_blocks[T->n_tracked_domains];
    if (hl_live_table_init(table, 1 << 6) < 0)
        return NULL;
    T->tracked_domains[T->n_tracked_domains++] = domain;
    return table;
}

/* Take the block at ptr out of domain's table: 1 (and *taken filled, when
 * not NULL) when it was there, else 0. Needs raw_lock and tracing. */
static int hl__tracked_take_locked(uint32_t domain, uintptr_t ptr, hlpy_raw_taken *taken) {
    uint64_t size;
    uint32_t word;
    hl_live_table *table = hl__tracked_table(domain, 0);
    if (table == NULL || !hl_live_table_remove(table, ptr, &size, &word))
        return 0;
    atomic_store_explicit(&T->raw_bytes, hl__raw_side_bytes(), memory_order_relaxed);
    if (domain == HLPY_NATIVE_DOMAIN && hlpy_sampling_on())
        hlpy_sampling_raw_filter_change((const void *)ptr, -1);
    if (hl__sums_on()) {
        hl__sums_change(&T->tracked_sums, ptr, size, word, -1);
        atomic_store_explicit(&T->raw_sums_bytes, hl__raw_side_sums_bytes(), memory_order_relaxed);
        atomic_store_explicit(&T->raw_sums_changed, 1, memory_order_relaxed);
    }
    if (taken != NULL) {
        taken->size = size;
        taken->stack_word = word;
        taken->stack_epoch = atomic_load_explicit(&T->stack_epoch, memory_order_relaxed);
    }
    return 1;
}

/* Record a tracked block under raw_lock, as hl__raw_record_locked does a RAW
 * one (without the sampling filter, which only speeds up RAW frees). */
static void hl__tracked_record_locked(uint32_t domain, uintptr_t ptr, uint64_t size,
                                      uint32_t stack_word) {
    int sums_on = hl__sums_on();
    if (domain != HLPY_NATIVE_DOMAIN && hl__tracked_table(HLPY_NATIVE_DOMAIN, 0) != NULL) {
        /* An extension reports a block that native tracing recorded from its
         * malloc (NumPy does both): counted once, in the reported domain. */
        hl__tracked_take_locked(HLPY_NATIVE_DOMAIN, ptr, NULL);
    }
    hl_live_table *table = hl__tracked_table(domain, 1);
    int inserted = -1;
    if (table != NULL && (!sums_on || hl_stack_sums_reserve(&T->tracked_sums,
                                                            HL_STACK_WORD_ID(stack_word) + 1) == 0))
        inserted = hl_live_table_insert(table, ptr, size, stack_word);
    if (inserted < 0) {
        atomic_fetch_add_explicit(&T->dropped, 1, memory_order_relaxed);
        return;
    }
    if (domain == HLPY_NATIVE_DOMAIN && inserted == 0 && hlpy_sampling_on())
        hlpy_sampling_raw_filter_change((const void *)ptr, +1);
    if (sums_on) {
        if (inserted == 1)
            hl__sums_change(&T->tracked_sums, ptr, table->replaced_size, table->replaced_stack_word,
                            -1);
        hl__sums_change(&T->tracked_sums, ptr, size, stack_word, +1);
        atomic_store_explicit(&T->raw_sums_bytes, hl__raw_side_sums_bytes(), memory_order_relaxed);
        atomic_store_explicit(&T->raw_sums_changed, 1, memory_order_relaxed);
    }
    atomic_store_explicit(&T->raw_bytes, hl__raw_side_bytes(), memory_order_relaxed);
}

static int hl__forget_python_block(uintptr_t ptr);

void hlpy_tracer_tracked_alloc(uint32_t domain, uintptr_t ptr, size_t size) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed) || HL_UNLIKELY(hl_in_fork))
        return;
    int saved_errno = errno;
    if (hlpy_sampling_on() && !hlpy_sampling_due(size)) {
        /* Not sampled: a block this address stood for before is gone (a
         * native block's address was freed first, which removed it). */
        if (domain != HLPY_NATIVE_DOMAIN)
            (void)hlpy_tracer_tracked_free(domain, ptr);
        errno = saved_errno;
        return;
    }
    if (domain == 0)
        (void)hl__forget_python_block(ptr); /* replaced, as in the stdlib */
    hl_side_block block = {0, domain, ptr, size};
    hl__record_side_block(&block);
    errno = saved_errno;
}

int hlpy_tracer_tracked_take(uint32_t domain, uintptr_t ptr, hlpy_raw_taken *taken) {
    if (!atomic_load_explicit(&T->tracing, memory_order_relaxed) || HL_UNLIKELY(hl_in_fork))
        return 0;
    pthread_mutex_lock(&T->raw_lock);
    int found = atomic_load_explicit(&T->tracing, memory_order_relaxed) &&
                hl__tracked_take_locked(domain, ptr, taken);
    pthread_mutex_unlock(&T->raw_lock);
    return found;
}

/* Domain 0 is tracemalloc's domain of Python's allocators: an extension that
 * untracks or tracks an address there speaks of the block the Python
 * domains recorded (NumPy 2.5 allocates array data with PyMem_RawMalloc,
 * then moves its trace to its own domain: Untrack(0), Track(389047)). Take
 * that block's RAW trace, and its MEM or OBJ trace when this thread holds
 * the GIL (the table is the GIL's). Returns 1 when there was one. */
static int hl__forget_python_block(uintptr_t ptr) {
    int found = hlpy_tracer_raw_take((void *)ptr, NULL);
    PyThreadState *current = hlpy_cpython_this_thread_tstate();
    if (current != NULL && current == PyGILState_GetThisThreadState() &&
        hl__traced_interpreter(current)) {
        size_t before = T->py_blocks.count;
        hlpy_tracer_py_free((void *)ptr);
        found |= T->py_blocks.count != before;
    }
    return found;
}

int hlpy_tracer_tracked_free(uint32_t domain, uintptr_t ptr) {
    int found = hlpy_tracer_tracked_take(domain, ptr, NULL);
    if (domain == 0 && atomic_load_explicit(&T->tracing, memory_order_relaxed))
        found |= hl__forget_python_block(ptr);
    return found;
}

void hlpy_tracer_tracked_put_back(uint32_t domain, uintptr_t ptr, const hlpy_raw_taken *taken) {
    if (HL_UNLIKELY(hl_in_fork))
        return; /* cannot happen: nothing was taken (see hl_in_fork) */
    pthread_mutex_lock(&T->raw_lock);
    if (hl__raw_epoch_current(taken->stack_epoch))
        hl__tracked_record_locked(domain, ptr, taken->size, taken->stack_word);
    else if (atomic_load_explicit(&T->tracing, memory_order_relaxed))
        atomic_fetch_add_explicit(&T->stale_stacks, 1, memory_order_relaxed);
    pthread_mutex_unlock(&T->raw_lock);
}

/* Free every tracked table. Needs raw_lock. */
static void hl__tracked_destroy(void) {
    for (int i = 0; i < T->n_tracked_domains; i++)
        hl_live_table_destroy(&T->tracked_blocks[i]);
    T->n_tracked_domains = 0;
}

/* ---- start, stop, clear ------------------------------------------------- */

/* The code references the stack table holds (one per frame in its pool),
 * handed over to the caller, who must give them back with
 * hl__give_back_codes() once the table is emptied or freed. Returns a
 * malloc'd array (its length in *n_out), or NULL with *n_out = 0 when there
 * are none or memory ran out (the references then leak: the safe choice).
 * Needs the GIL. */
static PyObject **hl__take_codes(size_t *n_out) {
    size_t n_frames = T->stacks.pool_used, n_codes = 0;
    PyObject **codes = n_frames ? malloc(n_frames * sizeof(PyObject *)) : NULL;
    for (size_t i = 0; codes != NULL && i < n_frames; i++)
        if (!hl_frame_is_native(&T->stacks.pool[i])) /* a program counter, not an object */
            codes[n_codes++] = (PyObject *)T->stacks.pool[i].code;
    *n_out = n_codes;
    return codes;
}

/* Drop the references hl__take_codes() handed over. This can run any Python
 * code (weakref callbacks of code objects, which may allocate, or stop and
 * start tracing), so callers do it last, with the tracer's state consistent.
 * Needs the GIL. */
static void hl__give_back_codes(PyObject **codes, size_t n_codes) {
    for (size_t i = 0; i < n_codes; i++)
        Py_DECREF(codes[i]);
    free(codes);
}

/* Intern the empty stack, which must be the first: HLPY_EMPTY_STACK. After
 * hl_stack_table_clear() of a table that held it this cannot fail (the
 * arrays are kept). Returns 0, or -1 when out of memory. Needs the GIL. */
static int hl__intern_empty_stack(void) {
    hl_frame_ref none = {0};
    hl_stack_id id;
    int is_new;
    if (hl_stack_table_intern(&T->stacks, &none, 0, 0, hl_stack_hash(&none, 0, 0), &id, &is_new) <
        0)
        return -1;
    return id == HLPY_EMPTY_STACK ? 0 : -1;
}

static void hl__free_tables(void) {
    hl_live_table_destroy(&T->py_blocks);
    hl_stack_sums_destroy(&T->py_sums);
    hl_stack_table_destroy(&T->stacks);
    free(T->frame_buffer);
    T->frame_buffer = NULL;
    free(T->anchor_buffer);
    T->anchor_buffer = NULL;
    free(T->mixed_buffer);
    T->mixed_buffer = NULL;
    atomic_store(&T->native_frames, 0);
    memset(T->recent_stacks, 0, sizeof(T->recent_stacks));
    atomic_store_explicit(&T->py_bytes, 0, memory_order_relaxed);
}

int hlpy_tracer_native_frames(void) {
    return atomic_load_explicit(&T->native_frames, memory_order_relaxed);
}

int hlpy_tracer_prepare(int nframe, uint64_t sample_rate, int sums, int native_frames) {
    int sums_on = sums || sample_rate != 0;
    hlpy_sampling_start(sample_rate);
    atomic_store(&T->sums_on, sums_on);
    T->frame_buffer = calloc((size_t)nframe, sizeof(hl_frame_ref));
    if (native_frames) {
        if (hlpy_native_unwind_init() < 0) {
            free(T->frame_buffer);
            T->frame_buffer = NULL;
            PyErr_SetString(PyExc_RuntimeError,
                            "heaplens: native frames: CPython's code was not found among the "
                            "loaded objects");
            return -1;
        }
        T->anchor_buffer = calloc((size_t)nframe, sizeof(uintptr_t));
        T->mixed_buffer = calloc((size_t)nframe + HLPY_NATIVE_MAX_FRAMES, sizeof(hl_frame_ref));
    }
    if (T->frame_buffer == NULL ||
        (native_frames && (T->anchor_buffer == NULL || T->mixed_buffer == NULL)) ||
        hl_live_table_init(&T->py_blocks, 1 << 12) < 0 ||
        (sums_on && hl_stack_sums_init(&T->py_sums) < 0) || hl_stack_table_init(&T->stacks) < 0 ||
        hl__intern_empty_stack() < 0) {
        hl__free_tables();
        PyErr_NoMemory();
        return -1;
    }
    if (sample_rate != 0)
        hlpy_sampling_py_filter_reset(&T->py_blocks); /* the table is empty: a reset */
    pthread_mutex_lock(&T->raw_lock);
    hl__tracked_destroy(); /* none: halt freed them */
    int raw_ok = hl_live_table_init(&T->raw_blocks, 1 << 6) == 0 &&
                 (!sums_on || (hl_stack_sums_init(&T->raw_sums) == 0 &&
                               hl_stack_sums_init(&T->tracked_sums) == 0));
    atomic_store(&T->raw_bytes, 0);
    atomic_store(&T->raw_sums_bytes, 0);
    atomic_store(&T->raw_sums_changed, 0);
    if (sample_rate != 0)
        hlpy_sampling_raw_filter_clear();
    if (!raw_ok) {
        hl_live_table_destroy(&T->raw_blocks);
        hl_stack_sums_destroy(&T->raw_sums);
        hl_stack_sums_destroy(&T->tracked_sums);
    }
    pthread_mutex_unlock(&T->raw_lock);
    if (!raw_ok) {
        hl__free_tables();
        PyErr_NoMemory();
        return -1;
    }
    atomic_store(&T->nframe, nframe);
    atomic_store(&T->native_frames, native_frames);
    /* The ids of a new start's stacks mean nothing to the last start's, and
     * its limit comes with its epoch (stack_servant.c caches by both). */
    atomic_fetch_add(&T->stack_epoch, 1);
    T->last_generation = 0;
    if (T->main_interpreter == NULL) /* once, before any hook is installed */
        T->main_interpreter = PyInterpreterState_Main();
    atomic_store(&T->peak_bytes, 0);
    atomic_store(&T->py_bytes, 0);
    atomic_store(&T->dropped, 0);
    atomic_store(&T->unknown_stacks, 0);
    atomic_store(&T->stale_stacks, 0);
    atomic_store(&T->gil_unsafe, 0);
    atomic_store(&T->gil_timeouts, 0);
    atomic_store(&T->bad_stack_ids, 0);
    atomic_store(&T->saved_peak_total, 0);
    atomic_store(&T->traced_now, 0);
    atomic_store(&T->traced_high, 0);
    atomic_store(&T->peaks_not_copied, 0);
    T->last_py_block = 0;
    return 0;
}

void hlpy_tracer_begin(void) {
    pthread_mutex_lock(&T->raw_lock);
    atomic_store(&T->tracing, 1);
    pthread_mutex_unlock(&T->raw_lock);
}

void hlpy_tracer_halt(void) {
    if (!atomic_load(&T->tracing))
        return;
    pthread_mutex_lock(&T->raw_lock);
    atomic_store(&T->tracing, 0);
    atomic_fetch_add(&T->stack_epoch, 1);
    hl_live_table_destroy(&T->raw_blocks);
    hl__tracked_destroy();
    hl_stack_sums_destroy(&T->raw_sums);
    hl_stack_sums_destroy(&T->tracked_sums);
    atomic_store(&T->raw_bytes, 0);
    atomic_store(&T->raw_sums_bytes, 0);
    pthread_mutex_unlock(&T->raw_lock);
}

void hlpy_tracer_release(void) {
    size_t n_codes;
    PyObject **codes = hl__take_codes(&n_codes);
    hl__free_tables();
    atomic_store(&T->peak_bytes, 0);
    /* Last: a weakref callback run by this may start tracing again, with
     * tables of its own that nothing here touches any more. */
    hl__give_back_codes(codes, n_codes);
}

int hlpy_tracer_clear(void) {
    if (!atomic_load(&T->tracing))
        return 0;
    pthread_mutex_lock(&T->raw_lock);
    atomic_fetch_add(&T->stack_epoch, 1); /* RAW hooks mid-capture drop theirs */
    (void)hl_live_table_clear(&T->raw_blocks);
    for (int i = 0; i < T->n_tracked_domains; i++)
        (void)hl_live_table_clear(&T->tracked_blocks[i]);
    if (hlpy_sampling_on())
        hlpy_sampling_raw_filter_clear();
    atomic_store(&T->raw_bytes, 0);
    if (hl__sums_on())
        hl_stack_sums_clear(&T->raw_sums);
    if (hl__sums_on())
        hl_stack_sums_clear(&T->tracked_sums);
    atomic_store(&T->raw_sums_bytes, 0);
    atomic_store(&T->raw_sums_changed, 0);
    pthread_mutex_unlock(&T->raw_lock);
    (void)hl_live_table_clear(&T->py_blocks);
    T->last_py_block = 0;
    if (hlpy_sampling_on())
        hlpy_sampling_py_filter_reset(&T->py_blocks);
    if (hl__sums_on())
        hl_stack_sums_clear(&T->py_sums);
    atomic_store(&T->py_bytes, 0);
    atomic_store(&T->peak_bytes, 0);
    atomic_store(&T->saved_peak_total, 0);
    atomic_store(&T->traced_now, 0);
    size_t n_codes;
    PyObject **codes = hl__take_codes(&n_codes);
    hl_stack_table_clear(&T->stacks);
    memset(T->recent_stacks, 0, sizeof(T->recent_stacks));
    if (hl__intern_empty_stack() < 0) {
        /* Cannot happen (the arrays are kept); without the empty stack no
         * block can be recorded safely: the caller stops. */
        hl__give_back_codes(codes, n_codes);
        return -1;
    }
    /* Last: this may run Python code (see hl__give_back_codes). */
    hl__give_back_codes(codes, n_codes);
    return 0;
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
        uint64_t total = hl__traced_total();
        atomic_store(&T->peak_bytes, total);
        if (hl__sums_on()) {
            atomic_store(&T->raw_sums_changed, 1);
            hl__copy_peak(total);
        }
    }
}

int hlpy_tracer_copy_sums(int at_peak, hl_stack_sum **out, hl_stack_sum **outside_out,
                          uint32_t *n_out) {
    *out = *outside_out = NULL;
    *n_out = 0;
    if (!atomic_load(&T->tracing) || !hl__sums_on())
        return -1;
    uint32_t n = T->stacks.n_entries;
    hl_stack_sum *sums = calloc(n ? n : 1, sizeof(hl_stack_sum));
    hl_stack_sum *outside = calloc(n ? n : 1, sizeof(hl_stack_sum));
    if (sums == NULL || outside == NULL) {
        free(sums);
        free(outside);
        return -1;
    }
    const hl_stack_sums *py = &T->py_sums;
    const hl_stack_sum *py_side = at_peak ? py->at_peak : py->now;
    for (uint32_t i = 0; i < n && i < py->capacity; i++)
        sums[i] = py_side[i];
    pthread_mutex_lock(&T->raw_lock);
    const hl_stack_sums *raw = &T->raw_sums;
    const hl_stack_sum *raw_side = at_peak ? raw->at_peak : raw->now;
    for (uint32_t i = 0; i < n && i < raw->capacity; i++) {
        sums[i].bytes += raw_side[i].bytes;
        sums[i].blocks += raw_side[i].blocks;
    }
    const hl_stack_sums *tracked = &T->tracked_sums;
    const hl_stack_sum *tracked_side = at_peak ? tracked->at_peak : tracked->now;
    for (uint32_t i = 0; i < n && i < tracked->capacity; i++)
        outside[i] = tracked_side[i];
    pthread_mutex_unlock(&T->raw_lock);
    *out = sums;
    *outside_out = outside;
    *n_out = n;
    return 0;
}

size_t hlpy_tracer_live_blocks(void) {
    if (!atomic_load(&T->tracing))
        return 0;
    pthread_mutex_lock(&T->raw_lock);
    size_t n = T->py_blocks.count + T->raw_blocks.count;
    for (int i = 0; i < T->n_tracked_domains; i++)
        n += T->tracked_blocks[i].count;
    pthread_mutex_unlock(&T->raw_lock);
    return n;
}

size_t hlpy_tracer_memory(void) {
    if (!atomic_load(&T->tracing))
        return 0;
    size_t bytes = hl_live_table_memory(&T->py_blocks) + hl_stack_table_memory(&T->stacks) +
                   (size_t)hl__nframe() * sizeof(hl_frame_ref) + hl_stack_sums_memory(&T->py_sums);
    pthread_mutex_lock(&T->raw_lock);
    bytes += hl_live_table_memory(&T->raw_blocks) + hl_stack_sums_memory(&T->raw_sums) +
             hl_stack_sums_memory(&T->tracked_sums);
    for (int i = 0; i < T->n_tracked_domains; i++)
        bytes += hl_live_table_memory(&T->tracked_blocks[i]);
    pthread_mutex_unlock(&T->raw_lock);
    return bytes + hlpy_stack_servant_memory();
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

/* ---- reading the state -------------------------------------------------- */

int hlpy_tracer_is_tracing(void) {
    return atomic_load(&T->tracing);
}

int hlpy_tracer_sums_on(void) {
    return hl__sums_on();
}

uint64_t hlpy_tracer_sample_rate(void) {
    return hlpy_sampling_rate();
}

int hlpy_tracer_nframe(void) {
    return hl__nframe();
}

uint64_t hlpy_tracer_stack_epoch(void) {
    return atomic_load(&T->stack_epoch);
}

uint32_t hlpy_tracer_n_stacks(void) {
    return atomic_load(&T->tracing) ? T->stacks.n_entries : 0;
}

const hl_stack_table *hlpy_tracer_stack_table(void) {
    return &T->stacks;
}

void hlpy_tracer_count_bad_stack_ids(uint64_t n) {
    atomic_fetch_add(&T->bad_stack_ids, n);
}

/* Append every block of `table` to traces[n...] (which has room) and return
 * the new count, in tracemalloc domain `domain` (0 for Python's allocators).
 * When the tracer samples, counts (with the same room) receives the blocks
 * each recorded block stands for, and the size is weighted likewise. */
static uint64_t hl__copy_table(const hl_live_table *table, uint32_t domain, hl_trace_record *traces,
                               uint64_t *counts, uint64_t n) {
    hl_live_iter iter = {0, 0};
    uintptr_t addr;
    uint64_t size;
    uint32_t word;
    while (hl_live_table_next(table, &iter, &addr, &size, &word)) {
        traces[n].size = size;
        traces[n].stack = HL_STACK_WORD_ID(word);
        traces[n].domain = domain;
        if (counts != NULL)
            hlpy_sampling_weigh(size, addr, &traces[n].size, &counts[n]);
        n++;
    }
    return n;
}

int hlpy_tracer_copy_traces(hl_snapshot_data *out) {
    size_t capacity = T->py_blocks.count + 64;
    int weighted = hlpy_sampling_on();
    out->traces = malloc(capacity * sizeof(hl_trace_record));
    if (out->traces == NULL ||
        (weighted && (out->trace_counts = malloc(capacity * sizeof(uint64_t))) == NULL))
        return -1;
    uint64_t n = 0;
    n = hl__copy_table(&T->py_blocks, 0, out->traces, out->trace_counts, n);

    pthread_mutex_lock(&T->raw_lock);
    size_t raw_side = T->raw_blocks.count;
    for (int i = 0; i < T->n_tracked_domains; i++)
        raw_side += T->tracked_blocks[i].count;
    if (n + raw_side > capacity) {
        capacity = n + raw_side;
        hl_trace_record *bigger = realloc(out->traces, capacity * sizeof(hl_trace_record));
        if (bigger != NULL)
            out->traces = bigger;
        uint64_t *more = !weighted || bigger == NULL
                             ? NULL
                             : realloc(out->trace_counts, capacity * sizeof(uint64_t));
        if (more != NULL)
            out->trace_counts = more;
        if (bigger == NULL || (weighted && more == NULL)) {
            pthread_mutex_unlock(&T->raw_lock);
            return -1;
        }
    }
    n = hl__copy_table(&T->raw_blocks, 0, out->traces, out->trace_counts, n);
    for (int i = 0; i < T->n_tracked_domains; i++)
        n = hl__copy_table(&T->tracked_blocks[i], T->tracked_domains[i], out->traces,
                           out->trace_counts, n);
    pthread_mutex_unlock(&T->raw_lock);
    out->n_traces = n;
    return 0;
}

void hlpy_tracer_get_counters(hlpy_tracer_counters *out) {
    int tracing = atomic_load(&T->tracing);
    out->tracing = tracing;
    out->dropped = atomic_load(&T->dropped);
    out->unknown_stacks = atomic_load(&T->unknown_stacks);
    out->stale_stacks = atomic_load(&T->stale_stacks);
    out->gil_unsafe = atomic_load(&T->gil_unsafe);
    out->gil_timeouts = atomic_load(&T->gil_timeouts);
    out->bad_stack_ids = atomic_load(&T->bad_stack_ids);
    out->peaks_not_copied = atomic_load(&T->peaks_not_copied);
    out->stacks = tracing ? T->stacks.n_entries : 0;
    out->live_blocks = hlpy_tracer_live_blocks();
    out->sample_rate = tracing ? hlpy_sampling_rate() : 0;
    out->sums = tracing && hl__sums_on();
}

void hlpy_tracer_timeline_totals(uint64_t *now_out, uint64_t *high_out, uint64_t *peak_out) {
    uint64_t now = atomic_load_explicit(&T->traced_now, memory_order_relaxed);
    *now_out = now;
    *high_out = atomic_exchange_explicit(&T->traced_high, now, memory_order_relaxed);
    *peak_out = atomic_load_explicit(&T->saved_peak_total, memory_order_relaxed);
}
