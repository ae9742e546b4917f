/* live_table.c - open-addressing table of live blocks (see live_table.h).
 *
 * Invariants: capacity is a power of two >= 64; count <= capacity * 3 / 4
 * after every insert; no entry has addr 0; every entry sits in the probe run
 * that starts at its home slot with no empty slot in between (backward-shift
 * deletion keeps this); an entry's size is HL_LIVE_SIZE_BIG exactly when the
 * big list holds its address; total_bytes is the sum of all sizes; the ring
 * holds n_pending non-zero addresses, each at most once, and zeros elsewhere.
 */
#include "live_table.h"

#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"

#define HL__LIVE_MIN_CAPACITY 64

/* Fibonacci hashing of the address without its always-zero low bits:
 * consecutive blocks scatter evenly, so probe runs stay short. (Hashing that
 * kept a pool's blocks in neighbouring slots was tried and measured: the
 * runs grew to 40 probes per operation.) */
HL_INLINE size_t hl__live_home(const hl_live_table *table, uintptr_t addr) {
    return (size_t)(((uint64_t)(addr >> 3) * UINT64_C(0x9E3779B97F4A7C15)) >> table->shift);
}

static size_t hl__round_capacity(size_t wanted) {
    size_t capacity = HL__LIVE_MIN_CAPACITY;
    while (capacity < wanted && capacity < ((size_t)1 << 40))
        capacity <<= 1;
    return capacity;
}

static unsigned hl__log2(size_t power_of_two) {
    unsigned log = 0;
    while (((size_t)1 << log) < power_of_two)
        log++;
    return log;
}

int hl_live_table_init(hl_live_table *table, size_t capacity) {
    memset(table, 0, sizeof(*table));
    capacity = hl__round_capacity(capacity);
    table->slots = hl_big_calloc(capacity * sizeof(hl_live_entry));
    if (table->slots == NULL)
        return -1;
    table->mask = capacity - 1;
    table->shift = 64 - hl__log2(capacity);
    table->min_capacity = capacity;
    return 0;
}

void hl_live_table_destroy(hl_live_table *table) {
    hl_big_free(table->slots, hl_live_table_capacity(table) * sizeof(hl_live_entry));
    free(table->big);
    memset(table, 0, sizeof(*table));
}

int hl_live_table_clear(hl_live_table *table) {
    size_t capacity = table->min_capacity ? table->min_capacity : HL__LIVE_MIN_CAPACITY;
    hl_live_entry *slots = hl_big_calloc(capacity * sizeof(hl_live_entry));
    table->count = 0;
    table->total_bytes = 0;
    table->n_big = 0;
    memset(table->pending, 0, sizeof(table->pending));
    table->n_pending = 0;
    memset(table->adds, 0, sizeof(table->adds));
    table->n_adds = 0;
    table->pending_add_bytes = 0;
    if (slots == NULL) {
        if (table->slots)
            memset(table->slots, 0, (table->mask + 1) * sizeof(hl_live_entry));
        return -1;
    }
    hl_big_free(table->slots, hl_live_table_capacity(table) * sizeof(hl_live_entry));
    table->slots = slots;
    table->mask = capacity - 1;
    table->shift = 64 - hl__log2(capacity);
    return 0;
}

/* Index of the big-list record for addr, or n_big when absent. */
static size_t hl__big_index(const hl_live_table *table, uintptr_t addr) {
    for (size_t i = 0; i < table->n_big; i++)
        if (table->big[i].addr == addr)
            return i;
    return table->n_big;
}

uint64_t hl_live_table_entry_size(const hl_live_table *table, const hl_live_entry *entry) {
    if (HL_LIKELY(entry->size != HL_LIVE_SIZE_BIG))
        return entry->size;
    size_t i = hl__big_index(table, entry->addr);
    return i < table->n_big ? table->big[i].size : HL_LIVE_SIZE_BIG;
}

/* Remember the real size of a big block. Returns 0, or -1 when out of memory. */
static int hl__big_add(hl_live_table *table, uintptr_t addr, uint64_t size) {
    if (table->n_big == table->big_capacity) {
        size_t capacity = table->big_capacity ? table->big_capacity * 2 : 8;
        hl_big_block *big = realloc(table->big, capacity * sizeof(hl_big_block));
        if (big == NULL)
            return -1;
        table->big = big;
        table->big_capacity = capacity;
    }
    table->big[table->n_big].addr = addr;
    table->big[table->n_big].size = size;
    table->n_big++;
    return 0;
}

static void hl__big_remove(hl_live_table *table, uintptr_t addr) {
    size_t i = hl__big_index(table, addr);
    if (i < table->n_big)
        table->big[i] = table->big[--table->n_big];
}

/* Find the slot holding addr, or the empty slot that ends its probe run. */
HL_INLINE size_t hl__probe(const hl_live_table *table, uintptr_t addr) {
    size_t i = hl__live_home(table, addr);
    while (table->slots[i].addr != 0 && table->slots[i].addr != addr)
        i = (i + 1) & table->mask;
    return i;
}

/* Move every entry into a fresh array of new_capacity slots. Returns 0, or -1
 * when out of memory (the table is then unchanged). */
static int hl__resize(hl_live_table *table, size_t new_capacity) {
    hl_live_entry *old_slots = table->slots;
    size_t old_capacity = table->mask + 1;
    hl_live_entry *slots = hl_big_calloc(new_capacity * sizeof(hl_live_entry));
    if (slots == NULL)
        return -1;
    table->slots = slots;
    table->mask = new_capacity - 1;
    table->shift = 64 - hl__log2(new_capacity);
    for (size_t i = 0; i < old_capacity; i++) {
        if (old_slots[i].addr == 0)
            continue;
        size_t j = hl__probe(table, old_slots[i].addr);
        slots[j] = old_slots[i];
    }
    hl_big_free(old_slots, old_capacity * sizeof(hl_live_entry));
    return 0;
}

/* Drop every queued removal of addr. Returns how many there were. */
HL_INLINE unsigned hl__cancel_pending(hl_live_table *table, uintptr_t addr) {
    unsigned found = 0;
    for (unsigned k = 0; k < HL_LIVE_PENDING; k++) {
        if (table->pending[k] == addr) {
            table->pending[k] = 0;
            found++;
        }
    }
    table->n_pending -= found;
    return found;
}

int hl_live_table_insert(hl_live_table *table, uintptr_t addr, uint64_t size,
                         uint32_t stack_word) {
    /* A block freed and handed out again (pymalloc reuses the last freed block
     * first) is simply replaced below. */
    if (table->n_pending)
        (void)hl__cancel_pending(table, addr);
    size_t i = hl__probe(table, addr);
    if (table->slots[i].addr == addr) {
        /* The address was freed behind our back (or reused): replace. */
        hl_live_entry *old = &table->slots[i];
        uint64_t old_size = hl_live_table_entry_size(table, old);
        if (size >= HL_LIVE_SIZE_BIG) {
            if (old->size == HL_LIVE_SIZE_BIG) {
                table->big[hl__big_index(table, addr)].size = size;
            } else if (hl__big_add(table, addr, size) < 0) {
                return -1;
            }
        } else if (old->size == HL_LIVE_SIZE_BIG) {
            hl__big_remove(table, addr);
        }
        table->total_bytes -= old_size;
        table->total_bytes += size;
        old->stack_word = stack_word;
        old->size = size >= HL_LIVE_SIZE_BIG ? HL_LIVE_SIZE_BIG : (uint32_t)size;
        return 0;
    }
    if (HL_UNLIKELY((table->count + 1) * 4 > (table->mask + 1) * 3)) {
        if (hl__resize(table, (table->mask + 1) * 2) < 0)
            return -1;
        i = hl__probe(table, addr);
    }
    if (HL_UNLIKELY(size >= HL_LIVE_SIZE_BIG) && hl__big_add(table, addr, size) < 0)
        return -1;
    table->slots[i].addr = addr;
    table->slots[i].stack_word = stack_word;
    table->slots[i].size = size >= HL_LIVE_SIZE_BIG ? HL_LIVE_SIZE_BIG : (uint32_t)size;
    table->count++;
    table->total_bytes += size;
    return 0;
}

int hl_live_table_find(const hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                       uint32_t *stack_word_out) {
    if (table->slots == NULL || addr == 0)
        return 0;
    size_t i = hl__probe(table, addr);
    if (table->slots[i].addr != addr)
        return 0;
    if (size_out)
        *size_out = hl_live_table_entry_size(table, &table->slots[i]);
    if (stack_word_out)
        *stack_word_out = table->slots[i].stack_word;
    return 1;
}

int hl_live_table_remove(hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                         uint32_t *stack_word_out) {
    if (table->slots == NULL || addr == 0)
        return 0;
    size_t i = hl__probe(table, addr);
    if (table->slots[i].addr != addr)
        return 0;
    uint64_t size = hl_live_table_entry_size(table, &table->slots[i]);
    if (table->slots[i].size == HL_LIVE_SIZE_BIG)
        hl__big_remove(table, addr);
    if (size_out)
        *size_out = size;
    if (stack_word_out)
        *stack_word_out = table->slots[i].stack_word;
    table->total_bytes -= size;
    table->count--;

    /* Backward-shift deletion: pull later entries of the run into the hole
     * when their home slot is not between the hole and themselves. */
    size_t hole = i;
    size_t j = (i + 1) & table->mask;
    while (table->slots[j].addr != 0) {
        size_t home = hl__live_home(table, table->slots[j].addr);
        size_t dist_home = (j - home) & table->mask;
        size_t dist_hole = (j - hole) & table->mask;
        if (dist_home >= dist_hole) {
            table->slots[hole] = table->slots[j];
            hole = j;
        }
        j = (j + 1) & table->mask;
    }
    table->slots[hole].addr = 0;
    return 1;
}

/* Carry out queued insertion `add` and empty its ring entry. Returns 0 or -1. */
static int hl__apply_add(hl_live_table *table, hl_pending_add *add) {
    int rc = hl_live_table_insert(table, add->addr, add->size, add->stack_word);
    table->pending_add_bytes -= add->size;
    table->n_adds--;
    add->addr = 0;
    return rc;
}

int hl_live_table_add_later(hl_live_table *table, uintptr_t addr, uint64_t size,
                            uint32_t stack_word) {
    int rc = 0;
    unsigned replaced = table->n_pending ? hl__cancel_pending(table, addr) : 0;
    hl_pending_add *add = &table->adds[table->adds_next];
    __builtin_prefetch(&table->slots[hl__live_home(table, addr)], 1);
    if (add->addr != 0)
        rc = hl__apply_add(table, add);
    add->addr = addr;
    add->size = size;
    add->stack_word = stack_word;
    add->replaces = replaced != 0;
    table->n_adds++;
    table->pending_add_bytes += size;
    table->adds_next = (table->adds_next + 1) & (HL_LIVE_PENDING - 1);
    return rc;
}

void hl_live_table_remove_later(hl_live_table *table, uintptr_t addr) {
    if (table->slots == NULL || addr == 0)
        return;
    if (table->n_adds) {
        for (unsigned k = 0; k < HL_LIVE_PENDING; k++) {
            hl_pending_add *add = &table->adds[k];
            if (add->addr != addr)
                continue;
            /* Freed before it reached the table. */
            int replaces = add->replaces;
            table->pending_add_bytes -= add->size;
            table->n_adds--;
            add->addr = 0;
            if (!replaces)
                return;
            break; /* the older block at addr must still go */
        }
    }
    unsigned at = table->pending_next;
    uintptr_t oldest = table->pending[at];
    __builtin_prefetch(&table->slots[hl__live_home(table, addr)], 1);
    if (oldest != 0) {
        table->pending[at] = 0;
        table->n_pending--;
        (void)hl_live_table_remove(table, oldest, NULL, NULL);
    }
    /* An address may be queued twice when it was handed out again without
     * being traced (an allocation that bypassed the tracer): the second
     * removal then finds nothing, and an insert cancels both. */
    table->pending[at] = addr;
    table->n_pending++;
    table->pending_next = (at + 1) & (HL_LIVE_PENDING - 1);
}

void hl_live_table_flush_removals(hl_live_table *table) {
    for (unsigned k = 0; table->n_pending && k < HL_LIVE_PENDING; k++) {
        uintptr_t addr = table->pending[k];
        if (addr != 0) {
            table->pending[k] = 0;
            table->n_pending--;
            (void)hl_live_table_remove(table, addr, NULL, NULL);
        }
    }
    /* A queued insertion that replaces an older block is a removal too: until
     * it is made, the old block's bytes are still counted. Replacing never
     * grows the table, so it cannot fail. */
    for (unsigned k = 0; table->n_adds && k < HL_LIVE_PENDING; k++) {
        hl_pending_add *add = &table->adds[k];
        if (add->addr != 0 && add->replaces)
            (void)hl__apply_add(table, add);
    }
}

unsigned hl_live_table_flush(hl_live_table *table) {
    unsigned failed = 0;
    hl_live_table_flush_removals(table);
    if (table->n_adds == 0)
        return 0;
    /* Oldest first, so a failure drops the same blocks an immediate insert
     * would have. */
    for (unsigned k = 0; k < HL_LIVE_PENDING; k++) {
        hl_pending_add *add = &table->adds[(table->adds_next + k) & (HL_LIVE_PENDING - 1)];
        if (add->addr != 0 && hl__apply_add(table, add) < 0)
            failed++;
    }
    return failed;
}

size_t hl_live_table_memory(const hl_live_table *table) {
    return hl_live_table_capacity(table) * sizeof(hl_live_entry) +
           table->big_capacity * sizeof(hl_big_block);
}
