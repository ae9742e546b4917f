/* live_table.c - live blocks by region (see live_table.h).
 *
 * Invariants: the directory is a power of two in size and at most half full;
 * each region in it has a unique key and count >= 1; a region's table has
 * >= 8 slots and is at most 7/8 full, and every slot sits in the probe
 * run that starts at its home slot with no empty slot in between (backward-
 * shift deletion keeps this, in regions and in the directory alike); an
 * entry's size is HL_LIVE_SIZE_BIG exactly when the big list holds its
 * address; count and total_bytes sum over all regions; each non-empty entry
 * of the recent-regions cache names a region of the directory by its key.
 */
#include "live_table.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"

#define HL__REGION_MASK ((UINT32_C(1) << HL_REGION_SHIFT) - 1)
#define HL__REGION_MIN_SLOTS 8
#define HL__REGION_MAX_SLOTS (UINT32_C(1) << HL_REGION_SHIFT)
#define HL__DIR_MIN 1024

struct hl_region {
    uintptr_t key;
    uint32_t count;
    uint32_t n_slots;
    uint64_t mod_magic; /* UINT64_MAX / n_slots + 1, for hl__slot_home */
    hl_region_slot slots[];
};

static unsigned hl__log2(size_t power_of_two) {
    unsigned log = 0;
    while (((size_t)1 << log) < power_of_two)
        log++;
    return log;
}

/* ---- the directory ------------------------------------------------------ */

HL_INLINE size_t hl__dir_home(const hl_live_table *table, uintptr_t key) {
    return (size_t)(((uint64_t)key * UINT64_C(0x9E3779B97F4A7C15)) >> table->dir_shift);
}

/* Index of key's directory slot, or of the empty slot ending its run. */
HL_INLINE size_t hl__dir_probe(const hl_live_table *table, uintptr_t key) {
    size_t i = hl__dir_home(table, key);
    while (table->dir[i].region != NULL && table->dir[i].key != key)
        i = (i + 1) & table->dir_mask;
    return i;
}

/* The cache entry for key. Neighbouring pools get different entries. */
HL_INLINE hl_region_ref *hl__recent(hl_live_table *table, uintptr_t key) {
    return &table->recent[key & (HL_RECENT_REGIONS - 1)];
}

/* The region holding key, or NULL. Refreshes the cache. */
HL_INLINE hl_region *hl__find_region(hl_live_table *table, uintptr_t key) {
    hl_region_ref *recent = hl__recent(table, key);
    if (recent->region != NULL && recent->key == key)
        return recent->region;
    hl_region *region = table->dir[hl__dir_probe(table, key)].region;
    if (region != NULL) {
        recent->key = key;
        recent->region = region;
    }
    return region;
}

/* Same, for readers that must not touch the cache. */
static hl_region *hl__find_region_const(const hl_live_table *table, uintptr_t key) {
    if (table->dir == NULL)
        return NULL;
    const hl_region_ref *recent = &table->recent[key & (HL_RECENT_REGIONS - 1)];
    if (recent->region != NULL && recent->key == key)
        return recent->region;
    return table->dir[hl__dir_probe(table, key)].region;
}

/* Double the directory. Returns 0, or -1 when out of memory (unchanged). */
static int hl__dir_grow(hl_live_table *table) {
    size_t old_capacity = table->dir_mask + 1;
    size_t capacity = old_capacity * 2;
    hl_region_ref *old = table->dir;
    hl_region_ref *dir = hl_big_calloc(capacity * sizeof(hl_region_ref));
    if (dir == NULL)
        return -1;
    table->dir = dir;
    table->dir_mask = capacity - 1;
    table->dir_shift = 64 - hl__log2(capacity);
    for (size_t i = 0; i < old_capacity; i++)
        if (old[i].region != NULL)
            dir[hl__dir_probe(table, old[i].key)] = old[i];
    hl_big_free(old, old_capacity * sizeof(hl_region_ref));
    return 0;
}

/* Take the region at directory slot i out of the directory and free it. */
static void hl__dir_delete(hl_live_table *table, size_t i) {
    hl_region *region = table->dir[i].region;
    hl_region_ref *recent = hl__recent(table, region->key);
    if (recent->region == region)
        recent->region = NULL;
    if (table->spare == NULL && region->n_slots == HL__REGION_MIN_SLOTS) {
        table->spare = region; /* still counted in region_bytes */
    } else {
        table->region_bytes -= sizeof(hl_region) + (size_t)region->n_slots * sizeof(hl_region_slot);
        hl_free(region);
    }
    table->n_regions--;
    size_t hole = i, j = (i + 1) & table->dir_mask;
    while (table->dir[j].region != NULL) {
        size_t home = hl__dir_home(table, table->dir[j].key);
        if (((j - home) & table->dir_mask) >= ((j - hole) & table->dir_mask)) {
            table->dir[hole] = table->dir[j];
            hole = j;
        }
        j = (j + 1) & table->dir_mask;
    }
    table->dir[hole].region = NULL;
    table->dir[hole].key = 0;
}

/* ---- one region's table ------------------------------------------------- */

/* A block's home slot is its offset in 8-byte steps modulo the table size:
 * blocks of a pool sit in address order, so walking a pool (as allocating,
 * freeing a list or a collection does) walks its table in order, which the
 * hardware prefetcher follows, and consecutive blocks never share a home.
 * Any table size works, so a region grows by half, not double, and tables
 * stay about 3/4 full. The modulo is Lemire's multiply-based fastmod with a
 * constant kept per region. (A multiplicative hash was measured: every
 * operation then missed the cache. Scaling the offset to the table was too:
 * a pool's first blocks then crowd into the first slots.) */
HL_INLINE uint32_t hl__slot_home(const hl_region *region, uint32_t offset) {
    uint64_t low = region->mod_magic * (uint64_t)((offset - 1) >> 3);
    return (uint32_t)(((__uint128_t)low * region->n_slots) >> 64);
}

HL_INLINE uint32_t hl__slot_next(const hl_region *region, uint32_t i) {
    return i + 1 == region->n_slots ? 0 : i + 1;
}

/* How far slot j is past slot from, going round the table. */
HL_INLINE uint32_t hl__slot_distance(const hl_region *region, uint32_t from, uint32_t j) {
    return j >= from ? j - from : j + region->n_slots - from;
}

/* Index of offset's slot in region, or of the empty slot ending its run. */
HL_INLINE uint32_t hl__slot_probe(const hl_region *region, uint16_t offset) {
    uint32_t i = hl__slot_home(region, offset);
    while (region->slots[i].offset != 0 && region->slots[i].offset != offset)
        i = hl__slot_next(region, i);
    return i;
}

static hl_region *hl__region_new(uintptr_t key, uint32_t n_slots) {
    hl_region *region = hl_calloc(1, sizeof(hl_region) + n_slots * sizeof(hl_region_slot));
    if (region == NULL)
        return NULL;
    region->key = key;
    region->n_slots = n_slots;
    region->mod_magic = UINT64_MAX / n_slots + 1;
    return region;
}

/* A new, empty region for key (which has none), put in the directory.
 * Returns NULL when out of memory. */
static hl_region *hl__region_create(hl_live_table *table, uintptr_t key) {
    size_t i = hl__dir_probe(table, key);
    if ((table->n_regions + 1) * 2 > table->dir_mask + 1) {
        if (hl__dir_grow(table) < 0)
            return NULL;
        i = hl__dir_probe(table, key);
    }
    hl_region *region = table->spare;
    if (region != NULL) {
        table->spare = NULL; /* its bytes are counted already */
        memset(region->slots, 0, (size_t)region->n_slots * sizeof(hl_region_slot));
        region->key = key;
        region->count = 0;
    } else {
        region = hl__region_new(key, HL__REGION_MIN_SLOTS);
        if (region == NULL)
            return NULL;
        table->region_bytes += sizeof(hl_region) + HL__REGION_MIN_SLOTS * sizeof(hl_region_slot);
    }
    table->dir[i].key = key;
    table->dir[i].region = region;
    table->n_regions++;
    return region;
}

/* Replace the region at directory slot i by a copy with twice the slots.
 * Returns the new region, or NULL when out of memory (nothing changed). */
static hl_region *hl__region_grow(hl_live_table *table, size_t i) {
    hl_region *old = table->dir[i].region;
    uint32_t n_slots = old->n_slots + old->n_slots / 2;
    if (n_slots > HL__REGION_MAX_SLOTS)
        return NULL;
    hl_region *region = hl__region_new(old->key, n_slots);
    if (region == NULL)
        return NULL;
    for (uint32_t k = 0; k < old->n_slots; k++)
        if (old->slots[k].offset != 0)
            region->slots[hl__slot_probe(region, old->slots[k].offset)] = old->slots[k];
    region->count = old->count;
    table->region_bytes += (size_t)(n_slots - old->n_slots) * sizeof(hl_region_slot);
    table->dir[i].region = region;
    hl_region_ref *recent = hl__recent(table, region->key);
    if (recent->region == old)
        recent->region = region;
    hl_free(old);
    return region;
}

/* ---- big sizes ---------------------------------------------------------- */

static size_t hl__big_index(const hl_live_table *table, uintptr_t addr) {
    for (size_t i = 0; i < table->n_big; i++)
        if (table->big[i].addr == addr)
            return i;
    return table->n_big;
}

static uint64_t hl__slot_size(const hl_live_table *table, const hl_region_slot *slot,
                              uintptr_t addr) {
    if (HL_LIKELY(slot->size != HL_LIVE_SIZE_BIG))
        return slot->size;
    size_t i = hl__big_index(table, addr);
    return i < table->n_big ? table->big[i].size : HL_LIVE_SIZE_BIG;
}

static int hl__big_add(hl_live_table *table, uintptr_t addr, uint64_t size) {
    if (table->n_big == table->big_capacity) {
        size_t capacity = table->big_capacity ? table->big_capacity * 2 : 8;
        hl_big_block *big = hl_realloc(table->big, capacity * sizeof(hl_big_block));
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

/* ---- the table ---------------------------------------------------------- */

int hl_live_table_init(hl_live_table *table, size_t regions) {
    memset(table, 0, sizeof(*table));
    size_t capacity = HL__DIR_MIN;
    while (capacity < regions * 2)
        capacity *= 2;
    table->dir = hl_big_calloc(capacity * sizeof(hl_region_ref));
    if (table->dir == NULL)
        return -1;
    table->dir_mask = capacity - 1;
    table->dir_shift = 64 - hl__log2(capacity);
    return 0;
}

static void hl__free_regions(hl_live_table *table) {
    hl_free(table->spare);
    table->spare = NULL;
    if (table->dir == NULL)
        return;
    for (size_t i = 0; i <= table->dir_mask; i++) {
        hl_free(table->dir[i].region);
        table->dir[i].region = NULL;
        table->dir[i].key = 0;
    }
    table->n_regions = 0;
    table->region_bytes = 0;
    memset(table->recent, 0, sizeof(table->recent));
}

void hl_live_table_destroy(hl_live_table *table) {
    hl__free_regions(table);
    if (table->dir != NULL)
        hl_big_free(table->dir, (table->dir_mask + 1) * sizeof(hl_region_ref));
    hl_free(table->big);
    memset(table, 0, sizeof(*table));
}

int hl_live_table_clear(hl_live_table *table) {
    hl__free_regions(table);
    table->count = 0;
    table->total_bytes = 0;
    table->n_big = 0;
    return 0;
}

int hl_live_table_insert(hl_live_table *table, uintptr_t addr, uint64_t size, uint32_t stack_word) {
    uintptr_t key = addr >> HL_REGION_SHIFT;
    uint16_t offset = (uint16_t)((addr & HL__REGION_MASK) + 1);
    hl_region *region = hl__find_region(table, key);
    if (region == NULL && (region = hl__region_create(table, key)) == NULL)
        return -1;
    uint32_t i = hl__slot_probe(region, offset);
    hl_region_slot *slot = &region->slots[i];
    if (slot->offset == offset) {
        /* The address was freed behind our back (or reused): replace. */
        uint64_t old_size = hl__slot_size(table, slot, addr);
        if (size >= HL_LIVE_SIZE_BIG) {
            if (slot->size == HL_LIVE_SIZE_BIG)
                table->big[hl__big_index(table, addr)].size = size;
            else if (hl__big_add(table, addr, size) < 0)
                return -1;
        } else if (slot->size == HL_LIVE_SIZE_BIG) {
            hl__big_remove(table, addr);
        }
        table->total_bytes += size - old_size;
        table->replaced_size = old_size;
        table->replaced_stack_word = slot->stack_word;
        slot->stack_word = stack_word;
        slot->generation = table->generation;
        slot->size = size >= HL_LIVE_SIZE_BIG ? HL_LIVE_SIZE_BIG : (uint32_t)size;
        return 1;
    }
    if (HL_UNLIKELY((region->count + 1) * 8 > region->n_slots * 7)) {
        region = hl__region_grow(table, hl__dir_probe(table, key));
        if (region == NULL)
            return -1;
        i = hl__slot_probe(region, offset);
        slot = &region->slots[i];
    }
    if (HL_UNLIKELY(size >= HL_LIVE_SIZE_BIG) && hl__big_add(table, addr, size) < 0) {
        if (region->count == 0)
            hl__dir_delete(table, hl__dir_probe(table, key));
        return -1;
    }
    slot->offset = offset;
    slot->generation = table->generation;
    slot->stack_word = stack_word;
    slot->size = size >= HL_LIVE_SIZE_BIG ? HL_LIVE_SIZE_BIG : (uint32_t)size;
    region->count++;
    table->count++;
    table->total_bytes += size;
    return 0;
}

/* The slot of block `addr`, or NULL when it is not in the table. */
static const hl_region_slot *hl__find_slot(const hl_live_table *table, uintptr_t addr) {
    if (addr == 0)
        return NULL;
    const hl_region *region = hl__find_region_const(table, addr >> HL_REGION_SHIFT);
    if (region == NULL)
        return NULL;
    uint16_t offset = (uint16_t)((addr & HL__REGION_MASK) + 1);
    const hl_region_slot *slot = &region->slots[hl__slot_probe(region, offset)];
    return slot->offset == offset ? slot : NULL;
}

int hl_live_table_find(const hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                       uint32_t *stack_word_out) {
    const hl_region_slot *slot = hl__find_slot(table, addr);
    if (slot == NULL)
        return 0;
    if (size_out)
        *size_out = hl__slot_size(table, slot, addr);
    if (stack_word_out)
        *stack_word_out = slot->stack_word;
    return 1;
}

int hl_live_table_restack(hl_live_table *table, uintptr_t addr, uint32_t stack_id,
                          uint64_t *size_out, uint32_t *old_stack_word_out) {
    hl_region_slot *slot = (hl_region_slot *)hl__find_slot(table, addr);
    if (slot == NULL)
        return 0;
    if (size_out)
        *size_out = hl__slot_size(table, slot, addr);
    if (old_stack_word_out)
        *old_stack_word_out = slot->stack_word;
    slot->stack_word =
        HL_STACK_WORD(stack_id & HL_STACK_ID_MASK, HL_STACK_WORD_DOMAIN(slot->stack_word));
    slot->generation = table->generation;
    return 1;
}

int hl_live_table_find_generation(const hl_live_table *table, uintptr_t addr,
                                  uint16_t *generation_out) {
    const hl_region_slot *slot = hl__find_slot(table, addr);
    if (slot == NULL)
        return 0;
    *generation_out = slot->generation;
    return 1;
}

void hl_live_table_set_generation(hl_live_table *table, uint16_t generation) {
    table->generation = generation;
}

void hl_live_table_forget_generations(hl_live_table *table) {
    for (size_t i = 0; table->dir != NULL && i <= table->dir_mask; i++) {
        hl_region *region = table->dir[i].region;
        for (uint32_t k = 0; region != NULL && k < region->n_slots; k++)
            region->slots[k].generation = 0;
    }
}

int hl_live_table_remove(hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                         uint32_t *stack_word_out) {
    if (table->dir == NULL || addr == 0)
        return 0;
    uintptr_t key = addr >> HL_REGION_SHIFT;
    hl_region *region = hl__find_region(table, key);
    if (region == NULL)
        return 0;
    uint16_t offset = (uint16_t)((addr & HL__REGION_MASK) + 1);
    uint32_t i = hl__slot_probe(region, offset);
    if (region->slots[i].offset != offset)
        return 0;
    uint64_t size = hl__slot_size(table, &region->slots[i], addr);
    if (region->slots[i].size == HL_LIVE_SIZE_BIG)
        hl__big_remove(table, addr);
    if (size_out)
        *size_out = size;
    if (stack_word_out)
        *stack_word_out = region->slots[i].stack_word;
    table->total_bytes -= size;
    table->count--;

    if (--region->count == 0) {
        hl__dir_delete(table, hl__dir_probe(table, key));
        return 1;
    }
    /* Backward-shift deletion inside the region. */
    uint32_t hole = i, j = hl__slot_next(region, i);
    while (region->slots[j].offset != 0) {
        uint32_t home = hl__slot_home(region, region->slots[j].offset);
        if (hl__slot_distance(region, home, j) >= hl__slot_distance(region, hole, j)) {
            region->slots[hole] = region->slots[j];
            hole = j;
        }
        j = hl__slot_next(region, j);
    }
    region->slots[hole].offset = 0;
    return 1;
}

int hl_live_table_next(const hl_live_table *table, hl_live_iter *iter, uintptr_t *addr_out,
                       uint64_t *size_out, uint32_t *stack_word_out) {
    if (table->dir == NULL)
        return 0;
    for (; iter->dir_index <= table->dir_mask; iter->dir_index++, iter->slot = 0) {
        const hl_region *region = table->dir[iter->dir_index].region;
        if (region == NULL)
            continue;
        for (; iter->slot < region->n_slots; iter->slot++) {
            const hl_region_slot *slot = &region->slots[iter->slot];
            if (slot->offset == 0)
                continue;
            uintptr_t addr = (region->key << HL_REGION_SHIFT) | (uintptr_t)(slot->offset - 1);
            *addr_out = addr;
            *size_out = hl__slot_size(table, slot, addr);
            *stack_word_out = slot->stack_word;
            iter->slot++;
            return 1;
        }
    }
    return 0;
}

size_t hl_live_table_memory(const hl_live_table *table) {
    return (table->dir ? (table->dir_mask + 1) * sizeof(hl_region_ref) : 0) + table->region_bytes +
           table->big_capacity * sizeof(hl_big_block);
}
