/* stack_sums.h - live bytes and blocks per stack, and a copy of them taken
 * at the peak.
 *
 * The tracer adds every recorded block to its stack's sum and subtracts it
 * when the block is freed, so "what is live, by stack" is always at hand in
 * O(stacks) instead of a walk over millions of blocks. At the peak the
 * caller asks for a copy; only the stacks that changed since the previous
 * copy are copied (each change marks its stack once), so copying at every
 * new high while memory grows costs O(1) per allocation, amortised, and the
 * copy is exact: it is the live heap by stack at the highest total seen.
 *
 * The structure takes no lock; the tracer says which lock protects each
 * instance. Amounts are whatever the tracer adds: bytes and blocks, or their
 * estimates when it samples.
 */
#ifndef HL_STACK_SUMS_H
#define HL_STACK_SUMS_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

typedef struct hl_stack_sum {
    uint64_t bytes;
    uint64_t blocks;
} hl_stack_sum;

typedef struct hl_stack_sums {
    hl_stack_sum *now;     /* by stack id, capacity entries */
    hl_stack_sum *at_peak; /* by stack id: `now` when save_peak last ran */
    uint8_t *changed;      /* by stack id: 1 when listed in changed_ids */
    uint32_t *changed_ids; /* stacks whose `now` may differ from `at_peak` */
    uint32_t n_changed;
    uint32_t capacity;
    uint64_t total_bytes, total_blocks; /* sums of `now` */
    uint64_t peak_bytes, peak_blocks;   /* sums of `at_peak` */
} hl_stack_sums;

/* Prepare empty sums. Returns 0, or -1 when out of memory (then safe to destroy). */
HL_WARN_UNUSED int hl_stack_sums_init(hl_stack_sums *sums);

/* Free the arrays; the struct may be initialised again. */
void hl_stack_sums_destroy(hl_stack_sums *sums);

/* Make room for stack ids below n_stacks. Returns 0, or -1 when out of
 * memory (nothing changed: the caller must then not add a block of a stack
 * >= capacity, and drops it). */
HL_WARN_UNUSED int hl_stack_sums_reserve(hl_stack_sums *sums, uint32_t n_stacks);

/* Add (sign > 0) or subtract (sign < 0) bytes and blocks on stack `id`
 * (< capacity). A subtraction never goes below zero. Never fails. */
static inline void hl_stack_sums_change(hl_stack_sums *sums, uint32_t id, uint64_t bytes,
                                        uint64_t blocks, int sign) {
    hl_stack_sum *sum = &sums->now[id];
    if (sign > 0) {
        sum->bytes += bytes;
        sum->blocks += blocks;
        sums->total_bytes += bytes;
        sums->total_blocks += blocks;
    } else {
        bytes = bytes < sum->bytes ? bytes : sum->bytes;
        blocks = blocks < sum->blocks ? blocks : sum->blocks;
        sum->bytes -= bytes;
        sum->blocks -= blocks;
        sums->total_bytes -= bytes;
        sums->total_blocks -= blocks;
    }
    if (!sums->changed[id]) {
        sums->changed[id] = 1;
        sums->changed_ids[sums->n_changed++] = id;
    }
}

/* Copy `now` into `at_peak` for every stack changed since the last copy,
 * and the totals. Never fails. */
void hl_stack_sums_save_peak(hl_stack_sums *sums);

/* Forget every amount and the peak copy (stack ids restart). */
void hl_stack_sums_clear(hl_stack_sums *sums);

/* Bytes of memory the sums hold. */
size_t hl_stack_sums_memory(const hl_stack_sums *sums);

#endif /* HL_STACK_SUMS_H */
