/* stack_table.c - interning of captured stacks (see stack_table.h).
 *
 * Invariants: entries[0 .. n_entries) are the interned stacks in id order;
 * their frames are in pool[first .. first + nframe); the index holds id + 1 of
 * every entry exactly once, in the probe run from its hash, and is never more
 * than half full.
 */
#include "stack_table.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

#define HL__STACK_INDEX_MIN 1024

int hl_stack_table_init(hl_stack_table *table) {
    memset(table, 0, sizeof(*table));
    table->index = hl_calloc(HL__STACK_INDEX_MIN, sizeof(uint32_t));
    if (table->index == NULL)
        return -1;
    table->index_mask = HL__STACK_INDEX_MIN - 1;
    return 0;
}

void hl_stack_table_destroy(hl_stack_table *table) {
    hl_free(table->entries);
    hl_free(table->pool);
    hl_free(table->index);
    memset(table, 0, sizeof(*table));
}

void hl_stack_table_clear(hl_stack_table *table) {
    table->n_entries = 0;
    table->pool_used = 0;
    if (table->index)
        memset(table->index, 0, (table->index_mask + 1) * sizeof(uint32_t));
}

uint64_t hl_stack_hash(const hl_frame_ref *frames, uint16_t nframe, uint16_t total_nframe) {
    uint64_t hash = UINT64_C(0xcbf29ce484222325) ^ ((uint64_t)total_nframe << 32) ^ nframe;
    for (uint16_t i = 0; i < nframe; i++) {
        uint64_t word =
            (uint64_t)(uintptr_t)frames[i].code ^ ((uint64_t)(uint32_t)frames[i].lasti << 40);
        hash = (hash ^ word) * UINT64_C(0x100000001b3);
        hash ^= hash >> 29;
    }
    hash *= UINT64_C(0x9E3779B97F4A7C15);
    return hash ^ (hash >> 32);
}

static int hl__stack_equal(const hl_stack_table *table, const hl_stack_entry *entry,
                           const hl_frame_ref *frames, uint16_t nframe, uint16_t total_nframe) {
    if (entry->nframe != nframe || entry->total_nframe != total_nframe)
        return 0;
    const hl_frame_ref *stored = table->pool + entry->first;
    for (uint16_t i = 0; i < nframe; i++)
        if (stored[i].code != frames[i].code || stored[i].lasti != frames[i].lasti)
            return 0;
    return 1;
}

/* Double the index. Returns 0, or -1 when out of memory (index unchanged). */
static int hl__grow_index(hl_stack_table *table) {
    size_t capacity = (table->index_mask + 1) * 2;
    uint32_t *index = hl_calloc(capacity, sizeof(uint32_t));
    if (index == NULL)
        return -1;
    for (uint32_t id = 0; id < table->n_entries; id++) {
        size_t i = (size_t)table->entries[id].hash & (capacity - 1);
        while (index[i] != 0)
            i = (i + 1) & (capacity - 1);
        index[i] = id + 1;
    }
    hl_free(table->index);
    table->index = index;
    table->index_mask = capacity - 1;
    return 0;
}

int hl_stack_table_intern(hl_stack_table *table, const hl_frame_ref *frames, uint16_t nframe,
                          uint16_t total_nframe, uint64_t hash, hl_stack_id *id_out, int *is_new) {
    size_t i = (size_t)hash & table->index_mask;
    for (;;) {
        uint32_t slot = table->index[i];
        if (slot == 0)
            break;
        const hl_stack_entry *entry = &table->entries[slot - 1];
        if (entry->hash == hash && hl__stack_equal(table, entry, frames, nframe, total_nframe)) {
            *id_out = slot - 1;
            *is_new = 0;
            return 0;
        }
        i = (i + 1) & table->index_mask;
    }

    /* A new stack: make room everywhere first, so failure changes nothing. */
    if (table->n_entries >= (1u << 30) - 1)
        return -1;
    if (table->n_entries == table->entries_capacity) {
        uint32_t capacity = table->entries_capacity ? table->entries_capacity * 2 : 256;
        hl_stack_entry *entries = hl_realloc(table->entries, capacity * sizeof(hl_stack_entry));
        if (entries == NULL)
            return -1;
        table->entries = entries;
        table->entries_capacity = capacity;
    }
    if (table->pool_used + nframe > table->pool_capacity) {
        size_t capacity = table->pool_capacity ? table->pool_capacity : 1024;
        while (capacity < table->pool_used + nframe)
            capacity *= 2;
        if (capacity > UINT32_MAX)
            return -1;
        hl_frame_ref *pool = hl_realloc(table->pool, capacity * sizeof(hl_frame_ref));
        if (pool == NULL)
            return -1;
        table->pool = pool;
        table->pool_capacity = capacity;
    }
    if ((size_t)(table->n_entries + 1) * 2 > table->index_mask + 1) {
        if (hl__grow_index(table) < 0)
            return -1;
        i = (size_t)hash & table->index_mask;
        while (table->index[i] != 0)
            i = (i + 1) & table->index_mask;
    }

    hl_stack_id id = table->n_entries++;
    hl_stack_entry *entry = &table->entries[id];
    entry->hash = hash;
    entry->first = (uint32_t)table->pool_used;
    entry->nframe = nframe;
    entry->total_nframe = total_nframe;
    if (nframe)
        memcpy(table->pool + table->pool_used, frames, nframe * sizeof(hl_frame_ref));
    table->pool_used += nframe;
    table->index[i] = id + 1;
    *id_out = id;
    *is_new = 1;
    return 0;
}

size_t hl_stack_table_memory(const hl_stack_table *table) {
    return (size_t)table->entries_capacity * sizeof(hl_stack_entry) +
           table->pool_capacity * sizeof(hl_frame_ref) +
           (table->index ? (table->index_mask + 1) * sizeof(uint32_t) : 0);
}
