/* tracer.h - the allocation tracer's state and its recording paths.
 *
 * Two live tables: MEM and OBJ blocks, whose hooks always run with the GIL
 * held, live in py_blocks with no lock of their own; RAW blocks, whose hooks
 * may run without the GIL (frees always may), live in raw_blocks under
 * raw_lock. The stack table is protected by the GIL: a RAW allocation from a
 * thread without the GIL takes the GIL to capture its stack, as CPython's
 * tracemalloc does, but only when waiting for it cannot hang (the thread has
 * a thread state and none attached, and the interpreter is not finalizing:
 * see hl__raw_stack); otherwise it is recorded with no frames. It records the
 * stack later, under raw_lock, and only when stack_epoch has not moved since
 * the capture. Only the main interpreter is traced (hl__traced_interpreter).
 *
 * raw_lock is never held while waiting for the GIL, and no Python code runs
 * while it is held, so the two locks cannot deadlock.
 *
 * Started with sums (what `heaplens run` does), the tracer also keeps live
 * bytes and blocks per stack (stack_sums.h): py_sums under the GIL,
 * raw_sums under raw_lock, and copies both at every new high, so the heap at
 * the peak is known by stack. Started with a sample rate, it records a block
 * only when a Poisson process with one point per `sample_rate` bytes on
 * average falls inside it (probability 1 - exp(-size / rate)), and the sums
 * count each recorded block as size / probability bytes and 1 / probability
 * blocks: unbiased estimates at a small fraction of the cost. Sampling
 * implies sums, and the traced totals are then those estimates.
 */
#ifndef HLPY_TRACER_H
#define HLPY_TRACER_H

#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "live_table.h"
#include "snapshot_data.h"
#include "stack_sums.h"
#include "stack_table.h"

typedef enum hlpy_alloc_domain {
    HLPY_DOMAIN_RAW = 0,
    HLPY_DOMAIN_MEM = 1,
    HLPY_DOMAIN_OBJ = 2,
} hlpy_alloc_domain;

#define HLPY_RECENT_STACKS_LOG2 8
#define HLPY_RECENT_STACKS (1 << HLPY_RECENT_STACKS_LOG2)

typedef struct hlpy_tracer {
    /* 1 while tracing. Written with the GIL and raw_lock both held, so a RAW
     * hook can re-check it under raw_lock; read by every hook. */
    atomic_int tracing;
    /* Bumped whenever the stack table's ids stop meaning what they meant
     * (stop, clear). Written with the GIL and raw_lock both held, so that
     * either one is enough to read it steadily: a RAW hook notes it with its
     * stack id under the GIL and compares it again under raw_lock before it
     * records, and drops the block (counting it in stale_stacks) when the
     * table was emptied in between. */
    _Atomic uint64_t stack_epoch;

    /* Protected by the GIL. */
    int nframe;                 /* traceback limit; kept after stop() */
    hl_live_table py_blocks;    /* MEM and OBJ blocks */
    hl_stack_table stacks;      /* every stack a live or past block used */
    hl_frame_ref *frame_buffer; /* nframe entries, scratch for captures */
    /* Recently seen stacks, by the hash of their top frame: id + 1, 0 = none.
     * Allocation sites alternate (a loop body has several), so a one-entry
     * "same as last time" cache misses; this one rarely does. */
    uint32_t recent_stacks[HLPY_RECENT_STACKS];
    /* The highest block generation (live_table.h) handed out to a leak hunt
     * since tracing started; 0: none. */
    uint16_t last_generation;
    /* The MEM or OBJ block recorded last, until an object is created in it
     * or it is freed: that object's creation needs no second look at the
     * stack, which has not changed since. 0: none. */
    uintptr_t last_py_block;
    hl_stack_sums py_sums; /* MEM and OBJ blocks, in sums mode */

    /* The only interpreter traced. Written once, by the first start() (GIL
     * held) before it first sets `tracing`, and never again; hooks read it,
     * without the GIL, only while tracing. */
    PyInterpreterState *main_interpreter;

    /* Protected by raw_lock. */
    pthread_mutex_t raw_lock;
    hl_live_table raw_blocks;
    hl_stack_sums raw_sums; /* RAW blocks, in sums mode */

    /* The settings of the current start: written by start() (GIL held)
     * before `tracing` is set, read by any thread, hence atomics (relaxed:
     * a hook that sees `tracing` set under raw_lock, or holds the GIL, sees
     * the values start() wrote before). */
    _Atomic int sums_on;
    _Atomic uint64_t sample_rate; /* mean bytes between recorded blocks; 0: record every block */

    /* Atomics, updated from both sides. */
    _Atomic uint64_t py_bytes;         /* the MEM and OBJ part of the traced total, as last
                                          published under the GIL: what threads without it read */
    _Atomic uint64_t raw_sums_bytes;   /* mirrors raw_sums.total_bytes */
    atomic_int raw_sums_changed;       /* raw_sums changed since the last peak copy */
    _Atomic uint64_t saved_peak_total; /* the total when the sums were last copied */
    _Atomic uint64_t traced_now;       /* the traced total (sums mode), for the timeline */
    _Atomic uint64_t traced_high;      /* highest total since the timeline last looked */
    _Atomic uint64_t peaks_not_copied; /* new highs reached without the GIL: not copied */
    _Atomic uint64_t sample_epoch;     /* bumped at each start: threads redraw */
    _Atomic uint64_t raw_bytes;        /* mirrors raw_blocks.total_bytes */
    _Atomic uint64_t peak_bytes;       /* highest traced total seen */
    _Atomic uint64_t dropped;          /* blocks not recorded: a table could not grow */
    _Atomic uint64_t unknown_stacks;   /* RAW blocks recorded without frames */
    _Atomic uint64_t stale_stacks;     /* RAW blocks not recorded: the stack table was
                                          emptied while their stack was being captured */
    _Atomic uint64_t gil_unsafe;       /* RAW blocks recorded without frames because
                                          waiting for the GIL could have hung (issue 15) */
    _Atomic uint64_t bad_stack_ids;    /* traces a snapshot found pointing past the stack
                                          table and left out: 0 unless heaplens has a bug */
} hlpy_tracer;

extern hlpy_tracer hlpy_tracer_state;

/* ---- the sampling fast path, inlined into the allocator wrappers --------- */

/* Per thread: bytes left before the next recorded block. Initial-exec TLS:
 * reading it never allocates. */
extern _Thread_local int64_t hlpy_bytes_to_sample __attribute__((tls_model("initial-exec")));

/* Two counting filters of the blocks recorded while sampling, one for MEM
 * and OBJ blocks, one for RAW blocks: slot hash(address) counts the recorded
 * blocks alive at addresses with that hash. A free whose slot is 0 was never
 * recorded and skips the live table (and, for RAW, raw_lock). Counting, not
 * a bit per slot, because allocators hand the same addresses out again and
 * again: a bit left set by a block freed long ago would send every later
 * free at that address to the table. A slot that reaches 255 stays there (it
 * may stand for more blocks than it can count) until the filter is rebuilt
 * from its live table (MEM and OBJ) or tracing restarts (RAW).
 *
 * The MEM and OBJ filter is read on nearly every free, so it starts small
 * enough to stay in the first-level cache (4 KiB) and grows, rebuilt from
 * the live table, when the recorded blocks outgrow it (more than one per
 * eight slots). The RAW filter, read on the rarer frees of large blocks, has
 * a fixed size: it cannot be rebuilt under readers that hold no lock.
 *
 * Static arrays, so a wrapper that reads one during stop() or from another
 * interpreter reads memory that stays valid; untouched pages cost nothing
 * until sampling is used. The MEM and OBJ filter and its shift are written
 * and read under the GIL. The RAW filter is written under raw_lock and read
 * without it: a thread frees a block only after the thread that allocated it
 * returned it, so it sees that block's count. */
#define HLPY_PY_FILTER_MIN_LOG2 12
#define HLPY_PY_FILTER_MAX_LOG2 20
#define HLPY_RAW_FILTER_LOG2 16
#define HLPY_SAMPLED_FILTER_STUCK 255
extern uint8_t hlpy_sampled_py_filter[1 << HLPY_PY_FILTER_MAX_LOG2];
extern unsigned hlpy_py_filter_shift; /* 64 - log2(slots in use) */
extern _Atomic uint8_t hlpy_sampled_raw_filter[1 << HLPY_RAW_FILTER_LOG2];

/* The stack with no Python frame: always id 0 of the stack table, interned
 * first whenever the table is made or emptied, so that threads without the
 * GIL can name it without reading the table. */
#define HLPY_EMPTY_STACK ((hl_stack_id)0)

/* The current start's sample rate (0: every block) and sums setting.
 * Any thread; relaxed loads. */
HL_INLINE uint64_t hlpy_tracer_sample_rate(void) {
    return atomic_load_explicit(&hlpy_tracer_state.sample_rate, memory_order_relaxed);
}
HL_INLINE int hlpy_tracer_sums_on(void) {
    return atomic_load_explicit(&hlpy_tracer_state.sums_on, memory_order_relaxed);
}

/* 1 when the tracer was last started with a sample rate (the recording
 * functions still check that it is tracing). Any thread. */
HL_INLINE int hlpy_tracer_sampling(void) {
    return hlpy_tracer_sample_rate() != 0;
}

/* While sampling: charge a new block of `size` bytes to this thread's
 * countdown when it has room for them, and return 1 (the block is not to be
 * recorded); else return 0, charging nothing: the countdown runs out on this
 * block, or this thread has not drawn one since tracing started, and the
 * recording functions decide. Any thread; never allocates. */
HL_INLINE int hlpy_sample_charge(size_t size) {
    int64_t left = hlpy_bytes_to_sample - (int64_t)size;
    if (left <= 0 || size >= (size_t)INT64_MAX)
        return 0;
    hlpy_bytes_to_sample = left;
    return 1;
}

HL_INLINE uint64_t hlpy__address_hash(const void *ptr) {
    return ((uint64_t)(uintptr_t)ptr >> 4) * UINT64_C(0x9E3779B97F4A7C15);
}

HL_INLINE size_t hlpy__py_filter_slot(const void *ptr) {
    return (size_t)(hlpy__address_hash(ptr) >> hlpy_py_filter_shift);
}

HL_INLINE size_t hlpy__raw_filter_slot(const void *ptr) {
    return (size_t)(hlpy__address_hash(ptr) >> (64 - HLPY_RAW_FILTER_LOG2));
}

/* 0 when the MEM or OBJ block at ptr was surely not recorded while
 * sampling; 1 when it may have been, or when not sampling. Needs the GIL. */
HL_INLINE int hlpy_tracer_maybe_sampled(const void *ptr) {
    return !hlpy_tracer_sampling() || hlpy_sampled_py_filter[hlpy__py_filter_slot(ptr)] != 0;
}

/* Like hlpy_tracer_maybe_sampled for a RAW block. Any thread. */
HL_INLINE int hlpy_tracer_maybe_raw_sampled(const void *ptr) {
    return !hlpy_tracer_sampling() ||
           atomic_load_explicit(&hlpy_sampled_raw_filter[hlpy__raw_filter_slot(ptr)],
                                memory_order_relaxed) != 0;
}

/* Set up the parts of the state that outlive start/stop (the lock, the fork
 * handlers). Called once at module import. Returns 0, or -1 with an exception. */
int hlpy_tracer_init_once(void);

/* Start tracing with traceback limit nframe (1..65535, checked by the caller),
 * keeping per-stack sums when `sums` is non-zero, and recording one block per
 * `sample_rate` bytes on average when sample_rate > 0 (which implies sums).
 * Does nothing when already tracing. Returns 0, or -1 with an exception set.
 * Needs the GIL. */
int hlpy_tracer_start(int nframe, uint64_t sample_rate, int sums);

/* What the recorded block at addr of `size` bytes stands for: itself when
 * not sampling, else size / p bytes, rounded, and 1 / p blocks
 * (p = 1 - exp(-size / rate)), rounded up or down by the address so that
 * sums of many blocks are unbiased. The same size and address always give
 * the same answer. */
void hlpy_tracer_weigh(uint64_t size, uintptr_t addr, uint64_t *bytes_out, uint64_t *blocks_out);

/* Copy the per-stack sums, py and raw added up, now (at_peak == 0) or at the
 * peak, into a new malloc'd array indexed by stack id (caller frees); its
 * length in *n_out. Returns 0, or -1 when sums are off, tracing is off, or
 * memory ran out (no exception). Needs the GIL; takes raw_lock. */
int hlpy_tracer_copy_sums(int at_peak, hl_stack_sum **out, uint32_t *n_out);

/* Stop tracing, unhook the allocators where possible, and free every trace,
 * stack and code reference the tracer held. Needs the GIL. */
void hlpy_tracer_stop(void);

/* Forget every trace and stack but keep tracing. Needs the GIL. */
void hlpy_tracer_clear(void);

/* Traced bytes now and at the peak. Needs the GIL. */
void hlpy_tracer_traced_memory(uint64_t *current, uint64_t *peak);

/* Set the peak to the current traced size. Needs the GIL. */
void hlpy_tracer_reset_peak(void);

/* Number of traced blocks (0 when not tracing). Needs the GIL. */
size_t hlpy_tracer_live_blocks(void);

/* Bytes of memory the tracer's own tables use. Needs the GIL. */
size_t hlpy_tracer_memory(void);

/* Look up the block at addr. Returns 1 and stores its stack id and size when
 * traced, else 0. Needs the GIL. */
int hlpy_tracer_find_block(uintptr_t addr, hl_stack_id *stack_out, uint64_t *size_out);

/* The stack id of the MEM or OBJ block at addr: returns 1 and stores it when
 * traced, else 0 (also when not tracing). Cheaper than find_block: no lock.
 * Needs the GIL; never allocates. */
int hlpy_tracer_find_py_block_stack(uintptr_t addr, hl_stack_id *stack_out);

/* Hand out `count` (1..65534) consecutive unused block generations for a
 * leak hunt: returns 0 and stores the first in *first_out, or -1 when not
 * tracing. When the 16-bit generations run out, every traced block is first
 * set back to generation 0, as if recorded outside any hunt, so a generation
 * handed out earlier means nothing after another hunt began. Needs the GIL. */
int hlpy_tracer_reserve_generations(int count, uint16_t *first_out);

/* Stamp the blocks traced from now on with `generation` (0: outside any
 * hunt). Does nothing when not tracing. Needs the GIL. */
void hlpy_tracer_set_generation(uint16_t generation);

/* The generation of the MEM or OBJ block at addr: returns 1 and stores it
 * when traced, else 0. Needs the GIL; never allocates. */
int hlpy_tracer_find_py_block_generation(uintptr_t addr, uint16_t *generation_out);

/* Recording paths, called by the hooks (hooks.c) with the reentrancy guard
 * set. The py_ ones need the GIL; the raw_ ones do not. They never fail:
 * what cannot be recorded is counted in `dropped`. errno is preserved. */
void hlpy_tracer_py_alloc(void *ptr, size_t size, hlpy_alloc_domain domain);
void hlpy_tracer_py_free(void *ptr);
void hlpy_tracer_raw_alloc(void *ptr, size_t size);
void hlpy_tracer_raw_free(void *ptr);

/* The interpreter created `obj` (hooks.c, where the version can say so):
 * when its memory block is traced and was not recorded just before, move the
 * block's trace to the current stack, as CPython's tracemalloc does, so that
 * an object taken from a free list is charged to the line that reused it,
 * not to the one that first allocated its block. Needs the GIL; never
 * allocates through Python's allocators; never fails (a stack that cannot
 * be interned leaves the trace as it was). */
void hlpy_tracer_py_new_object(PyObject *obj);

/* A RAW trace taken out of the table for a realloc: what to put back. */
typedef struct hlpy_raw_taken {
    uint64_t size;
    uint32_t stack_word;
    uint64_t stack_epoch; /* of the table its stack id belongs to */
} hlpy_raw_taken;

/* For a RAW realloc: remove ptr's trace and return 1, filling *taken (when
 * not NULL), when it was traced, else 0. Put it back with
 * hlpy_tracer_raw_put_back() if the realloc fails, since the old block then
 * lives on; it is put back only when tracing has not stopped and the stack
 * table not been emptied meanwhile (counted in stale_stacks). No GIL needed. */
int hlpy_tracer_raw_take(void *ptr, hlpy_raw_taken *taken);
void hlpy_tracer_raw_put_back(void *ptr, const hlpy_raw_taken *taken);

#endif /* HLPY_TRACER_H */
