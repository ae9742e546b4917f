/* stack_cache.h - a small cache from captured frames to the stack id they
 * were interned under, for threads that may not touch the stack table.
 *
 * The stack table (stack_table.h) is the GIL's; a thread that allocates
 * without the GIL must not read it. It captures its frames itself, looks them
 * up here, and only on a miss has them interned by a thread that holds the
 * GIL, then puts the answer here. Entries are tagged with the stack epoch
 * they belong to: an id is only ever found for the epoch it was put for, so
 * emptying the stack table needs no cache flush (its epoch moves on).
 *
 * Direct-mapped: a put replaces whatever was in its slot. The cache never
 * dereferences a code pointer; it compares them. The caller makes sure that,
 * within an epoch, a code pointer names one object (the stack table holds a
 * reference to every code object of its stacks). No lock: the caller has one.
 */
#ifndef HL_STACK_CACHE_H
#define HL_STACK_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"
#include "stack_table.h"

typedef struct hl_stack_cache_slot {
    uint64_t hash;
    uint64_t epoch;
    hl_frame_ref *frames; /* nframe of them, owned; NULL: the slot is empty */
    hl_stack_id id;
    uint16_t nframe;
    uint16_t total_nframe;
} hl_stack_cache_slot;

typedef struct hl_stack_cache {
    hl_stack_cache_slot *slots;
    size_t mask; /* number of slots - 1 */
} hl_stack_cache;

/* Prepare an empty cache of `n_slots` slots (a power of two). Returns 0, or
 * -1 when out of memory (the cache is then empty and every find misses). */
HL_WARN_UNUSED int hl_stack_cache_init(hl_stack_cache *cache, size_t n_slots);

/* Free all memory; the struct may be initialised again. */
void hl_stack_cache_destroy(hl_stack_cache *cache);

/* The id put for (frames[0..nframe), total_nframe) in `epoch`, whose hash is
 * `hash` (hl_stack_hash): 1 with *id_out set, or 0 when not cached. */
int hl_stack_cache_find(const hl_stack_cache *cache, uint64_t hash, uint64_t epoch,
                        const hl_frame_ref *frames, uint16_t nframe, uint16_t total_nframe,
                        hl_stack_id *id_out);

/* Remember `id` for (frames[0..nframe), total_nframe) in `epoch`, in place
 * of what the slot held. Returns 0, or -1 when out of memory (the slot is
 * left empty). */
HL_WARN_UNUSED int hl_stack_cache_put(hl_stack_cache *cache, uint64_t hash, uint64_t epoch,
                                      const hl_frame_ref *frames, uint16_t nframe,
                                      uint16_t total_nframe, hl_stack_id id);

/* Bytes of memory the cache holds. */
size_t hl_stack_cache_memory(const hl_stack_cache *cache);

#endif /* HL_STACK_CACHE_H */
