/* u64_map.c - open-addressing u64 -> u32 map (see u64_map.h).
 *
 * Invariants: capacity is a power of two; the map is at most half full; empty
 * slots hold HL_U64_MAP_EMPTY. There is no deletion, so no tombstones.
 */
#include "u64_map.h"
#include "hl_alloc.h"

#include <stdlib.h>

static size_t hl__u64_slot(uint64_t key, size_t mask) {
    key ^= key >> 33;
    key *= UINT64_C(0xff51afd7ed558ccd);
    key ^= key >> 33;
    return (size_t)key & mask;
}

static int hl__u64_map_alloc(hl_u64_map *map, size_t capacity) {
    map->slots = hl_malloc(capacity * sizeof(hl_u64_map_slot));
    if (map->slots == NULL)
        return -1;
    for (size_t i = 0; i < capacity; i++)
        map->slots[i].key = HL_U64_MAP_EMPTY;
    map->mask = capacity - 1;
    return 0;
}

/* Move every key into a new table of `capacity` slots (a power of two that
 * holds them at most half full). Returns 0, or -1 (map unchanged). */
static int hl__u64_map_rehash(hl_u64_map *map, size_t capacity) {
    hl_u64_map bigger;
    if (hl__u64_map_alloc(&bigger, capacity) < 0)
        return -1;
    for (size_t j = 0; j <= map->mask; j++) {
        if (map->slots[j].key == HL_U64_MAP_EMPTY)
            continue;
        size_t k = hl__u64_slot(map->slots[j].key, bigger.mask);
        while (bigger.slots[k].key != HL_U64_MAP_EMPTY)
            k = (k + 1) & bigger.mask;
        bigger.slots[k] = map->slots[j];
    }
    hl_free(map->slots);
    map->slots = bigger.slots;
    map->mask = bigger.mask;
    return 0;
}

int hl_u64_map_reserve(hl_u64_map *map, size_t expected) {
    size_t capacity = map->mask + 1;
    while (capacity < expected * 2)
        capacity *= 2;
    return capacity == map->mask + 1 ? 0 : hl__u64_map_rehash(map, capacity);
}

void hl_u64_map_prefetch(const hl_u64_map *map, uint64_t key) {
#if defined(__GNUC__) || defined(__clang__)
    __builtin_prefetch(&map->slots[hl__u64_slot(key, map->mask)], 1);
#else
    (void)map;
    (void)key;
#endif
}

int hl_u64_map_init(hl_u64_map *map, size_t expected) {
    size_t capacity = 16;
    while (capacity < expected * 2)
        capacity *= 2;
    map->count = 0;
    map->slots = NULL;
    map->mask = 0;
    return hl__u64_map_alloc(map, capacity);
}

void hl_u64_map_destroy(hl_u64_map *map) {
    hl_free(map->slots);
    map->slots = NULL;
    map->mask = 0;
    map->count = 0;
}

int hl_u64_map_get(const hl_u64_map *map, uint64_t key, uint32_t *value_out) {
    size_t i = hl__u64_slot(key, map->mask);
    while (map->slots[i].key != HL_U64_MAP_EMPTY) {
        if (map->slots[i].key == key) {
            *value_out = map->slots[i].value;
            return 1;
        }
        i = (i + 1) & map->mask;
    }
    return 0;
}

int hl_u64_map_get_or_put(hl_u64_map *map, uint64_t key, uint32_t value_if_new, uint32_t *value_out,
                          int *inserted) {
    size_t i = hl__u64_slot(key, map->mask);
    while (map->slots[i].key != HL_U64_MAP_EMPTY) {
        if (map->slots[i].key == key) {
            *value_out = map->slots[i].value;
            *inserted = 0;
            return 0;
        }
        i = (i + 1) & map->mask;
    }
    if ((map->count + 1) * 2 > map->mask + 1) {
        if (hl__u64_map_rehash(map, (map->mask + 1) * 2) < 0)
            return -1;
        i = hl__u64_slot(key, map->mask);
        while (map->slots[i].key != HL_U64_MAP_EMPTY)
            i = (i + 1) & map->mask;
    }
    map->slots[i].key = key;
    map->slots[i].value = value_if_new;
    map->count++;
    *value_out = value_if_new;
    *inserted = 1;
    return 0;
}

int hl_u64_map_put(hl_u64_map *map, uint64_t key, uint32_t value) {
    uint32_t old_value;
    int inserted;
    if (hl_u64_map_get_or_put(map, key, value, &old_value, &inserted) < 0)
        return -1;
    if (!inserted) {
        size_t i = hl__u64_slot(key, map->mask);
        while (map->slots[i].key != key)
            i = (i + 1) & map->mask;
        map->slots[i].value = value;
    }
    return 0;
}
