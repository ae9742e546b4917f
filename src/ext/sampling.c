/* sampling.c - the sampling countdowns, weights and filters (see sampling.h).
 *
 * Invariants: while sampling, a slot of either filter is at least the number
 * of recorded blocks alive at addresses with its hash, unless it is stuck at
 * HLPY_SAMPLED_FILTER_STUCK; a thread whose hl_sample_epoch_seen differs from
 * hl_sample_epoch has not drawn a countdown for the current start and draws one
 * at its next due block.
 */
#include "sampling.h"

#include <math.h>
#include <string.h>
#include <time.h>

_Atomic uint64_t hlpy_sample_rate;

/* Bumped by every start, so threads draw afresh. Written with the GIL held;
 * read by any thread, relaxed. */
static _Atomic uint64_t hl_sample_epoch;

/* Per thread: bytes left before the next recorded block, the generator, and
 * the start it belongs to. Initial-exec TLS: safe inside malloc. */
_Thread_local int64_t hlpy_bytes_to_sample __attribute__((tls_model("initial-exec")));
static _Thread_local uint64_t hl_sample_rng __attribute__((tls_model("initial-exec")));
static _Thread_local uint64_t hl_sample_epoch_seen __attribute__((tls_model("initial-exec")));

uint8_t hlpy_sampled_py_filter[1 << HLPY_PY_FILTER_MAX_LOG2];
unsigned hlpy_py_filter_shift = 64 - HLPY_PY_FILTER_MIN_LOG2;
_Atomic uint8_t hlpy_sampled_raw_filter[1 << HLPY_RAW_FILTER_LOG2];
/* Frees that found their MEM or OBJ slot stuck at HLPY_SAMPLED_FILTER_STUCK
 * since that filter was last rebuilt. Protected by the GIL. */
static size_t hl_py_filter_stuck_frees;

#define HL__PY_FILTER_SLOTS ((size_t)1 << (64 - hlpy_py_filter_shift))
#define HL__RAW_FILTER_SLOTS ((size_t)1 << HLPY_RAW_FILTER_LOG2)

void hlpy_sampling_start(uint64_t rate) {
    atomic_store(&hlpy_sample_rate, rate);
    atomic_fetch_add(&hl_sample_epoch, 1);
}

/* ---- the countdowns ----------------------------------------------------- */

/* An exponentially distributed gap with mean sample_rate, at least 1. */
static int64_t hl__draw_gap(void) {
    /* xorshift64*: fast, and good enough for spacing samples. */
    uint64_t x = hl_sample_rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    hl_sample_rng = x;
    double u = (double)((x * UINT64_C(2685821657736338717)) >> 11) * 0x1.0p-53; /* [0, 1) */
    double gap = -log1p(-u) * (double)hlpy_sampling_rate();
    if (gap < 1.0)
        return 1;
    if (gap > 4.0e18)
        return INT64_C(4000000000000000000);
    return (int64_t)gap;
}

HL_NOINLINE int hlpy_sampling_draw(size_t size) {
    uint64_t epoch = atomic_load_explicit(&hl_sample_epoch, memory_order_relaxed);
    if (hl_sample_epoch_seen != epoch) {
        hl_sample_epoch_seen = epoch;
        if (hl_sample_rng == 0) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            hl_sample_rng = ((uint64_t)(uintptr_t)&hl_sample_rng * UINT64_C(0x9E3779B97F4A7C15)) ^
                            (uint64_t)now.tv_nsec ^ ((uint64_t)now.tv_sec << 32) ^ epoch;
            if (hl_sample_rng == 0)
                hl_sample_rng = 1;
        }
        int64_t left = hl__draw_gap() - (int64_t)size;
        if (left > 0) {
            hlpy_bytes_to_sample = left;
            return 0;
        }
    }
    /* A point of the process fell inside this block. The process is
     * memoryless, so the next gap starts afresh after it. */
    hlpy_bytes_to_sample = hl__draw_gap();
    return 1;
}

void hlpy_sampling_weigh(uint64_t size, uintptr_t addr, uint64_t *bytes_out, uint64_t *blocks_out) {
    uint64_t rate = hlpy_sampling_rate();
    if (rate == 0) {
        *bytes_out = size;
        *blocks_out = 1;
        return;
    }
    double p = -expm1(-(double)size / (double)rate);
    if (!(p > 1e-12)) { /* size 0: never chosen by the process; count it as itself */
        *bytes_out = size;
        *blocks_out = 1;
        return;
    }
    double bytes = (double)size / p, blocks = 1.0 / p;
    *bytes_out = bytes >= 1.8e19 ? UINT64_MAX : (uint64_t)(bytes + 0.5);
    if (blocks >= 1.8e19) {
        *blocks_out = UINT64_MAX;
        return;
    }
    /* Counts are whole: 1/p = 4.55 becomes 4 or 5, 5 for 55% of addresses,
     * so that the sum over many blocks stays unbiased (rounding every block
     * to 5 would overstate the count by 10%). The address decides, so a block
     * weighs the same when it is added and when it is taken away. */
    uint64_t whole = (uint64_t)blocks;
    double u = (double)(hlpy__address_hash((const void *)addr) >> 11) * 0x1.0p-53; /* [0, 1) */
    *blocks_out = whole + (u < blocks - (double)whole);
}

/* ---- the filters -------------------------------------------------------- */

/* Count the MEM or OBJ block at ptr. Needs the GIL. */
static void hl__py_filter_count(const void *ptr) {
    uint8_t *slot = &hlpy_sampled_py_filter[hlpy__py_filter_slot(ptr)];
    if (*slot != HLPY_SAMPLED_FILTER_STUCK)
        (*slot)++;
}

/* Size the MEM and OBJ filter to 2^log2 slots and count every block of
 * `py_blocks` again, so slots stuck at the top by blocks that are gone come
 * down. Needs the GIL. */
static void hl__py_filter_rebuild(const hl_live_table *py_blocks, unsigned log2) {
    hlpy_py_filter_shift = 64 - log2;
    memset(hlpy_sampled_py_filter, 0, HL__PY_FILTER_SLOTS);
    hl_py_filter_stuck_frees = 0;
    hl_live_iter iter = {0, 0};
    uintptr_t addr;
    uint64_t size;
    uint32_t word;
    while (hl_live_table_next(py_blocks, &iter, &addr, &size, &word))
        hl__py_filter_count((const void *)addr);
}

void hlpy_sampling_py_filter_reset(const hl_live_table *py_blocks) {
    hl__py_filter_rebuild(py_blocks, HLPY_PY_FILTER_MIN_LOG2);
}

void hlpy_sampling_py_filter_add(const hl_live_table *py_blocks, const void *ptr) {
    unsigned log2 = 64 - hlpy_py_filter_shift;
    if (py_blocks->count > HL__PY_FILTER_SLOTS / 8 && log2 < HLPY_PY_FILTER_MAX_LOG2) {
        log2 = log2 + 2 > HLPY_PY_FILTER_MAX_LOG2 ? HLPY_PY_FILTER_MAX_LOG2 : log2 + 2;
        hl__py_filter_rebuild(py_blocks, log2); /* counts ptr too: it is in the table */
        return;
    }
    hl__py_filter_count(ptr);
}

void hlpy_sampling_py_filter_remove(const hl_live_table *py_blocks, const void *ptr) {
    uint8_t *slot = &hlpy_sampled_py_filter[hlpy__py_filter_slot(ptr)];
    if (*slot != HLPY_SAMPLED_FILTER_STUCK) {
        if (*slot != 0) /* always: the block was counted when recorded */
            (*slot)--;
    } else if (++hl_py_filter_stuck_frees > HL__PY_FILTER_SLOTS) {
        hl__py_filter_rebuild(py_blocks, 64 - hlpy_py_filter_shift);
    }
}

void hlpy_sampling_raw_filter_change(const void *ptr, int sign) {
    _Atomic uint8_t *slot = &hlpy_sampled_raw_filter[hlpy__raw_filter_slot(ptr)];
    uint8_t count = atomic_load_explicit(slot, memory_order_relaxed);
    if (count == HLPY_SAMPLED_FILTER_STUCK || (sign < 0 && count == 0))
        return;
    atomic_store_explicit(slot, (uint8_t)(sign > 0 ? count + 1 : count - 1), memory_order_relaxed);
}

void hlpy_sampling_raw_filter_clear(void) {
    for (size_t i = 0; i < HL__RAW_FILTER_SLOTS; i++)
        atomic_store_explicit(&hlpy_sampled_raw_filter[i], 0, memory_order_relaxed);
}
