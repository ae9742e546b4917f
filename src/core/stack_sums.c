/* stack_sums.c - per-stack live totals with an exact copy at the peak
 * (see stack_sums.h). */
#include "stack_sums.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

int hl_stack_sums_init(hl_stack_sums *sums) {
    memset(sums, 0, sizeof(*sums));
    return hl_stack_sums_reserve(sums, 256);
}

void hl_stack_sums_destroy(hl_stack_sums *sums) {
    hl_free(sums->now);
    hl_free(sums->at_peak);
    hl_free(sums->changed);
    hl_free(sums->changed_ids);
    memset(sums, 0, sizeof(*sums));
}

/* Grow *array from old_n to new_n items of item_size, zeroing the new part.
 * Returns 0, or -1 leaving *array as it was. */
static int hl__grow(void **array, size_t old_n, size_t new_n, size_t item_size) {
    void *grown = hl_realloc(*array, new_n * item_size);
    if (grown == NULL)
        return -1;
    memset((char *)grown + old_n * item_size, 0, (new_n - old_n) * item_size);
    *array = grown;
    return 0;
}

int hl_stack_sums_reserve(hl_stack_sums *sums, uint32_t n_stacks) {
    if (n_stacks <= sums->capacity)
        return 0;
    uint64_t capacity = sums->capacity ? sums->capacity : 256;
    while (capacity < n_stacks)
        capacity *= 2;
    if (capacity > UINT32_MAX)
        capacity = UINT32_MAX;
    size_t old = sums->capacity, n = (size_t)capacity;
    /* Each array grows on its own; one that grew while a later one failed
     * is merely larger than capacity says, which is harmless. */
    if (hl__grow((void **)&sums->now, old, n, sizeof(hl_stack_sum)) < 0 ||
        hl__grow((void **)&sums->at_peak, old, n, sizeof(hl_stack_sum)) < 0 ||
        hl__grow((void **)&sums->changed, old, n, 1) < 0 ||
        hl__grow((void **)&sums->changed_ids, old, n, sizeof(uint32_t)) < 0)
        return -1;
    sums->capacity = (uint32_t)n;
    return 0;
}

void hl_stack_sums_save_peak(hl_stack_sums *sums) {
    for (uint32_t i = 0; i < sums->n_changed; i++) {
        uint32_t id = sums->changed_ids[i];
        sums->at_peak[id] = sums->now[id];
        sums->changed[id] = 0;
    }
    sums->n_changed = 0;
    sums->peak_bytes = sums->total_bytes;
    sums->peak_blocks = sums->total_blocks;
}

void hl_stack_sums_clear(hl_stack_sums *sums) {
    if (sums->capacity > 0) {
        memset(sums->now, 0, sums->capacity * sizeof(hl_stack_sum));
        memset(sums->at_peak, 0, sums->capacity * sizeof(hl_stack_sum));
        memset(sums->changed, 0, sums->capacity);
    }
    sums->n_changed = 0;
    sums->total_bytes = sums->total_blocks = 0;
    sums->peak_bytes = sums->peak_blocks = 0;
}

size_t hl_stack_sums_memory(const hl_stack_sums *sums) {
    return (size_t)sums->capacity * (2 * sizeof(hl_stack_sum) + 1 + sizeof(uint32_t));
}
