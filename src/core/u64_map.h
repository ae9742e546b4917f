/* u64_map.h - an open-addressing map from 64-bit keys to 32-bit values.
 *
 * Used where the core or the binding must dedupe many small keys quickly
 * (code pointers, (code, offset) pairs, (file, line) pairs). The key
 * UINT64_MAX is reserved as the empty marker. Not thread-safe: the owner says
 * what protects it.
 */
#ifndef HL_U64_MAP_H
#define HL_U64_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

#define HL_U64_MAP_EMPTY UINT64_MAX

typedef struct hl_u64_map_slot {
    uint64_t key;
    uint32_t value;
} hl_u64_map_slot;

typedef struct hl_u64_map {
    hl_u64_map_slot *slots;
    size_t mask;
    size_t count;
} hl_u64_map;

/* Prepare an empty map sized for about `expected` keys. Returns 0, or -1 when
 * out of memory (the map is then empty and safe to destroy). */
HL_WARN_UNUSED int hl_u64_map_init(hl_u64_map *map, size_t expected);

/* Free the map's memory. */
void hl_u64_map_destroy(hl_u64_map *map);

/* Look `key` (!= HL_U64_MAP_EMPTY) up. Returns 1 and stores its value in
 * *value_out when present, else 0. */
int hl_u64_map_get(const hl_u64_map *map, uint64_t key, uint32_t *value_out);

/* Return the value of `key`, inserting `value_if_new` first when absent; sets
 * *inserted to 1 when it inserted. Returns 0, or -1 when the map could not
 * grow (nothing changed). */
HL_WARN_UNUSED int hl_u64_map_get_or_put(hl_u64_map *map, uint64_t key, uint32_t value_if_new,
                                         uint32_t *value_out, int *inserted);

/* Map `key` to `value`, replacing any value it had. Returns 0, or -1 when
 * the map could not grow (nothing changed). */
HL_WARN_UNUSED int hl_u64_map_put(hl_u64_map *map, uint64_t key, uint32_t value);

/* Grow the map, if needed, so that `expected` keys in all fit without further
 * growth. Returns 0, or -1 when out of memory (the map is unchanged). */
HL_WARN_UNUSED int hl_u64_map_reserve(hl_u64_map *map, size_t expected);

/* Hint that `key` is about to be looked up or inserted: start loading its
 * slot into the cache. No effect on the map. */
void hl_u64_map_prefetch(const hl_u64_map *map, uint64_t key);

#endif /* HL_U64_MAP_H */
