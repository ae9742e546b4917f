/* free_watch.c - see free_watch.h.
 *
 * Records live in an array, in the order they were added; the map gives an
 * address's record. Nothing is ever removed from the map within a window: a
 * record's state says whether it is live, freed (with its stack) or moved, so
 * an address freed twice in a window (freed, reused, freed again) counts once.
 */
#include "free_watch.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

/* Tables this many entries or smaller are kept across resets. */
#define HL__KEEP_ENTRIES 4096

static int hl__grow(void **array, size_t *capacity, size_t needed, size_t item_size) {
    if (needed <= *capacity)
        return 0;
    size_t capacity2 = *capacity ? *capacity : 64;
    while (capacity2 < needed)
        capacity2 *= 2;
    void *array2 = hl_realloc(*array, capacity2 * item_size);
    if (array2 == NULL)
        return -1;
    *array = array2;
    *capacity = capacity2;
    return 0;
}

int hl_free_watch_init(hl_free_watch *watch) {
    memset(watch, 0, sizeof(*watch));
    return hl_u64_map_init(&watch->index, 256);
}

void hl_free_watch_destroy(hl_free_watch *watch) {
    hl_u64_map_destroy(&watch->index);
    hl_free(watch->blocks);
    hl_free(watch->freed);
    hl_free(watch->rows);
    memset(watch, 0, sizeof(*watch));
}

/* Give back an array bigger than HL__KEEP_ENTRIES entries. */
static void hl__shrink(void **array, size_t *capacity) {
    if (*capacity > HL__KEEP_ENTRIES) {
        hl_free(*array);
        *array = NULL;
        *capacity = 0;
    }
}

int hl_free_watch_reset(hl_free_watch *watch) {
    watch->n_blocks = watch->n_freed = watch->n_rows = 0;
    watch->dropped = 0;
    hl__shrink((void **)&watch->blocks, &watch->blocks_capacity);
    hl__shrink((void **)&watch->freed, &watch->freed_capacity);
    hl__shrink((void **)&watch->rows, &watch->rows_capacity);
    if (watch->index.slots != NULL && watch->index.mask + 1 <= 2 * HL__KEEP_ENTRIES) {
        if (watch->index.count > 0) {
            for (size_t i = 0; i <= watch->index.mask; i++)
                watch->index.slots[i].key = HL_U64_MAP_EMPTY;
            watch->index.count = 0;
        }
        return 0;
    }
    hl_u64_map_destroy(&watch->index);
    return hl_u64_map_init(&watch->index, 256);
}

int hl_free_watch_add(hl_free_watch *watch, uint64_t address, uint32_t type, uint64_t size) {
    if (watch->index.slots == NULL || hl__grow((void **)&watch->blocks, &watch->blocks_capacity,
                                               watch->n_blocks + 1, sizeof(hl_watched_block)) < 0) {
        watch->dropped++;
        return -1;
    }
    uint32_t record;
    int inserted;
    if (hl_u64_map_get_or_put(&watch->index, address, (uint32_t)watch->n_blocks, &record,
                              &inserted) < 0) {
        watch->dropped++;
        return -1;
    }
    if (inserted) {
        hl_watched_block *block = &watch->blocks[watch->n_blocks++];
        block->size = size;
        block->type = type;
        block->state = HL__WATCH_LIVE;
    }
    return 0;
}

int hl_free_watch_add_many(hl_free_watch *watch, const uint64_t *addresses, const uint32_t *types,
                           const uint64_t *sizes, size_t n) {
    int result = 0;
    if (watch->index.slots == NULL) {
        watch->dropped += n;
        return n ? -1 : 0;
    }
    /* Grow first so that the prefetched slots stay where they are. */
    if (hl_u64_map_reserve(&watch->index, watch->index.count + n) == 0) {
        for (size_t i = 0; i < n; i++)
            hl_u64_map_prefetch(&watch->index, addresses[i]);
    }
    for (size_t i = 0; i < n; i++) {
        if (hl_free_watch_add(watch, addresses[i], types[i], sizes[i]) < 0)
            result = -1;
    }
    return result;
}

int hl_free_watch_reserve(hl_free_watch *watch, size_t expected) {
    if (watch->index.slots == NULL || hl__grow((void **)&watch->blocks, &watch->blocks_capacity,
                                               expected, sizeof(hl_watched_block)) < 0)
        return -1;
    return hl_u64_map_reserve(&watch->index, expected);
}

int hl_free_watch_freed(hl_free_watch *watch, uint64_t address, uint32_t stack) {
    uint32_t record;
    if (watch->n_blocks == 0 || !hl_u64_map_get(&watch->index, address, &record))
        return 0;
    hl_watched_block *block = &watch->blocks[record];
    if (block->state != HL__WATCH_LIVE)
        return 0;
    if (hl__grow((void **)&watch->freed, &watch->freed_capacity, watch->n_freed + 1,
                 sizeof(uint32_t)) < 0) {
        watch->dropped++;
        return 0;
    }
    block->state = stack >= HL__WATCH_MOVED ? HL_FREE_WATCH_NO_STACK : stack;
    watch->freed[watch->n_freed++] = record;
    return 1;
}

void hl_free_watch_moved(hl_free_watch *watch, uint64_t address) {
    uint32_t record;
    if (watch->n_blocks != 0 && hl_u64_map_get(&watch->index, address, &record) &&
        watch->blocks[record].state == HL__WATCH_LIVE)
        watch->blocks[record].state = HL__WATCH_MOVED;
}

size_t hl_free_watch_sweep_live(hl_free_watch *watch, hl_free_watch_judge judge, void *arg) {
    size_t counted = 0;
    if (watch->n_blocks == 0)
        return 0;
    for (size_t i = 0; i <= watch->index.mask; i++) {
        const hl_u64_map_slot *slot = &watch->index.slots[i];
        if (slot->key == HL_U64_MAP_EMPTY)
            continue;
        hl_watched_block *block = &watch->blocks[slot->value];
        uint32_t stack;
        if (block->state == HL__WATCH_LIVE && judge(slot->key, block->type, arg, &stack) &&
            hl_free_watch_freed(watch, slot->key, stack))
            counted++;
    }
    return counted;
}

static int hl__row_order(const void *a, const void *b) {
    const hl_free_tally_row *x = a, *y = b;
    if (x->bytes != y->bytes)
        return x->bytes > y->bytes ? -1 : 1;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return x->stack < y->stack ? -1 : x->stack > y->stack;
}

long hl_free_watch_tally(hl_free_watch *watch, const hl_free_tally_row **rows_out) {
    *rows_out = NULL;
    watch->n_rows = 0;
    hl_u64_map keys;
    if (hl_u64_map_init(&keys, 64) < 0)
        return -1;
    for (size_t i = 0; i < watch->n_freed; i++) {
        const hl_watched_block *block = &watch->blocks[watch->freed[i]];
        uint64_t key = ((uint64_t)block->type << 32) | block->state;
        uint32_t row;
        int inserted;
        if (key == HL_U64_MAP_EMPTY) /* type and stack both UINT32_MAX: fold onto a neighbour */
            key--;
        if (hl_u64_map_get_or_put(&keys, key, (uint32_t)watch->n_rows, &row, &inserted) < 0 ||
            (inserted && hl__grow((void **)&watch->rows, &watch->rows_capacity, watch->n_rows + 1,
                                  sizeof(hl_free_tally_row)) < 0)) {
            hl_u64_map_destroy(&keys);
            watch->n_rows = 0;
            return -1;
        }
        if (inserted) {
            hl_free_tally_row *fresh = &watch->rows[watch->n_rows++];
            fresh->type = block->type;
            fresh->stack = block->state;
            fresh->count = 0;
            fresh->bytes = 0;
        }
        watch->rows[row].count++;
        watch->rows[row].bytes += block->size;
    }
    hl_u64_map_destroy(&keys);
    if (watch->n_rows > 1)
        qsort(watch->rows, watch->n_rows, sizeof(hl_free_tally_row), hl__row_order);
    *rows_out = watch->rows;
    return (long)watch->n_rows;
}

size_t hl_free_watch_memory(const hl_free_watch *watch) {
    size_t slots = watch->index.slots ? watch->index.mask + 1 : 0;
    return slots * sizeof(hl_u64_map_slot) + watch->blocks_capacity * sizeof(hl_watched_block) +
           watch->freed_capacity * sizeof(uint32_t) +
           watch->rows_capacity * sizeof(hl_free_tally_row);
}
