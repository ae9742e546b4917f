/* sampling.h - which new blocks the tracer records when it samples, and the
 * filters that let a free skip the live tables for blocks never recorded.
 *
 * Started with a sample rate, the tracer records a block only when a Poisson
 * process with one point per `sample_rate` bytes on average falls inside it
 * (probability 1 - exp(-size / rate)); hlpy_sampling_weigh() says what a
 * recorded block then stands for. Each thread keeps its own countdown to the
 * next point in initial-exec TLS, so the allocator wrappers (hooks.c) can
 * charge a block to it inline, without a call, a lock or an allocation.
 *
 * This file knows nothing of Python: it sees the tracer's MEM and OBJ live
 * table only when a filter is rebuilt from it.
 */
#ifndef HLPY_SAMPLING_H
#define HLPY_SAMPLING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"
#include "live_table.h"

/* The current start's sample rate: mean bytes between recorded blocks, 0 to
 * record every block. Written by hlpy_sampling_start() (GIL held) before the
 * tracer sets `tracing`; read by any thread, relaxed (a hook that sees
 * `tracing` set under raw_lock, or holds the GIL, sees the value written
 * before). */
extern _Atomic uint64_t hlpy_sample_rate;

/* Per thread: bytes left before the next recorded block. Initial-exec TLS:
 * reading it never allocates. Only its own thread reads or writes it. */
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
 * until sampling is used. The MEM and OBJ filter and its shift are
 * protected by the GIL. The RAW filter is written under the tracer's
 * raw_lock and read without it: a thread frees a block only after the
 * thread that allocated it returned it, so it sees that block's count. */
#define HLPY_PY_FILTER_MIN_LOG2 12
#define HLPY_PY_FILTER_MAX_LOG2 20
#define HLPY_RAW_FILTER_LOG2 16
#define HLPY_SAMPLED_FILTER_STUCK 255
extern uint8_t hlpy_sampled_py_filter[1 << HLPY_PY_FILTER_MAX_LOG2];
extern unsigned hlpy_py_filter_shift; /* 64 - log2(slots in use); protected by the GIL */
extern _Atomic uint8_t hlpy_sampled_raw_filter[1 << HLPY_RAW_FILTER_LOG2];

/* The current start's sample rate (0: every block). Any thread; a relaxed
 * load. */
HL_INLINE uint64_t hlpy_sampling_rate(void) {
    return atomic_load_explicit(&hlpy_sample_rate, memory_order_relaxed);
}

/* 1 when the tracer was last started with a sample rate (the recording
 * functions still check that it is tracing). Any thread. */
HL_INLINE int hlpy_sampling_on(void) {
    return hlpy_sampling_rate() != 0;
}

/* While sampling: charge a new block of `size` bytes to this thread's
 * countdown when it has room for them, and return 1 (the block is not to be
 * recorded); else return 0, charging nothing: the countdown runs out on this
 * block, or this thread has not drawn one since tracing started, and
 * hlpy_sampling_due() decides. Any thread; never allocates. */
HL_INLINE int hlpy_sample_charge(size_t size) {
    int64_t left = hlpy_bytes_to_sample - (int64_t)size;
    if (left <= 0 || size >= (size_t)INT64_MAX)
        return 0;
    hlpy_bytes_to_sample = left;
    return 1;
}

/* The slow side of hlpy_sampling_due(): the countdown ran out on a block of
 * `size` bytes, or this thread has not drawn one since tracing started.
 * Returns 1 when the block is to be recorded, and draws the next gap. Any
 * thread; never allocates; may change errno (the first draw reads the
 * clock). */
int hlpy_sampling_draw(size_t size);

/* Whether a new block of `size` bytes is to be recorded when sampling: 1
 * with probability 1 - exp(-size / rate). Any thread; never allocates; may
 * change errno (see hlpy_sampling_draw). */
HL_INLINE int hlpy_sampling_due(size_t size) {
    return hlpy_sample_charge(size) ? 0 : hlpy_sampling_draw(size);
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
HL_INLINE int hlpy_sampling_maybe_py(const void *ptr) {
    return !hlpy_sampling_on() || hlpy_sampled_py_filter[hlpy__py_filter_slot(ptr)] != 0;
}

/* Like hlpy_sampling_maybe_py for a RAW block. Any thread. */
HL_INLINE int hlpy_sampling_maybe_raw(const void *ptr) {
    return !hlpy_sampling_on() ||
           atomic_load_explicit(&hlpy_sampled_raw_filter[hlpy__raw_filter_slot(ptr)],
                                memory_order_relaxed) != 0;
}

/* A new start with `rate` (0: record every block): store it, and have every
 * thread draw a fresh countdown at its next due block. Called by the tracer's
 * start, GIL held, before it sets `tracing`. Never fails. */
void hlpy_sampling_start(uint64_t rate);

/* What the recorded block at addr of `size` bytes stands for: itself when
 * not sampling, else size / p bytes, rounded, and 1 / p blocks
 * (p = 1 - exp(-size / rate)), rounded up or down by the address so that
 * sums of many blocks are unbiased. The same size and address always give
 * the same answer. Any thread; never fails. */
void hlpy_sampling_weigh(uint64_t size, uintptr_t addr, uint64_t *bytes_out, uint64_t *blocks_out);

/* Empty the MEM and OBJ filter and shrink it to its first size, counting
 * every block of `py_blocks` again (none, on a start or clear). Needs the
 * GIL. */
void hlpy_sampling_py_filter_reset(const hl_live_table *py_blocks);

/* Count the MEM or OBJ block just recorded at ptr (a new entry of
 * `py_blocks`, not one that replaced another); grow the filter, rebuilt from
 * `py_blocks`, when the recorded blocks outgrow it. Needs the GIL. */
void hlpy_sampling_py_filter_add(const hl_live_table *py_blocks, const void *ptr);

/* Uncount the recorded MEM or OBJ block at ptr, just taken out of
 * `py_blocks`; rebuild the filter from it when too many frees found their
 * slot stuck. Needs the GIL. */
void hlpy_sampling_py_filter_remove(const hl_live_table *py_blocks, const void *ptr);

/* Count (sign > 0) or uncount the recorded RAW block at ptr. Needs the
 * tracer's raw_lock. A stuck slot stays stuck until tracing restarts: the
 * filter cannot be rebuilt under readers that hold no lock. */
void hlpy_sampling_raw_filter_change(const void *ptr, int sign);

/* Empty the RAW filter. Needs raw_lock, and an empty RAW live table. */
void hlpy_sampling_raw_filter_clear(void);

#endif /* HLPY_SAMPLING_H */
