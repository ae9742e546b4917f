/* stack_cache.c - frames to stack id, for threads without the GIL (see
 * stack_cache.h). */
#include "stack_cache.h"

#include <string.h>

#include "hl_alloc.h"

int hl_stack_cache_init(hl_stack_cache *cache, size_t n_slots) {
    cache->slots = hl_calloc(n_slots, sizeof(hl_stack_cache_slot));
    cache->mask = cache->slots != NULL ? n_slots - 1 : 0;
    return cache->slots != NULL ? 0 : -1;
}

void hl_stack_cache_destroy(hl_stack_cache *cache) {
    if (cache->slots != NULL) {
        for (size_t i = 0; i <= cache->mask; i++)
            hl_free(cache->slots[i].frames);
    }
    hl_free(cache->slots);
    cache->slots = NULL;
    cache->mask = 0;
}

int hl_stack_cache_find(const hl_stack_cache *cache, uint64_t hash, uint64_t epoch,
                        const hl_frame_ref *frames, uint16_t nframe, uint16_t total_nframe,
                        hl_stack_id *id_out) {
    if (cache->slots == NULL)
        return 0;
    const hl_stack_cache_slot *slot = &cache->slots[hash & cache->mask];
    if (slot->frames == NULL || slot->hash != hash || slot->epoch != epoch ||
        slot->nframe != nframe || slot->total_nframe != total_nframe ||
        (nframe != 0 && memcmp(slot->frames, frames, (size_t)nframe * sizeof(hl_frame_ref)) != 0))
        return 0;
    *id_out = slot->id;
    return 1;
}

int hl_stack_cache_put(hl_stack_cache *cache, uint64_t hash, uint64_t epoch,
                       const hl_frame_ref *frames, uint16_t nframe, uint16_t total_nframe,
                       hl_stack_id id) {
    if (cache->slots == NULL)
        return -1;
    hl_stack_cache_slot *slot = &cache->slots[hash & cache->mask];
    /* One byte at least: an empty stack still marks the slot as used. */
    size_t bytes = nframe != 0 ? (size_t)nframe * sizeof(hl_frame_ref) : 1;
    hl_frame_ref *copy = slot->frames != NULL && slot->nframe == nframe ? slot->frames : NULL;
    if (copy == NULL) {
        hl_free(slot->frames);
        slot->frames = NULL;
        copy = hl_malloc(bytes);
        if (copy == NULL)
            return -1;
    }
    if (nframe != 0)
        memcpy(copy, frames, bytes);
    slot->frames = copy;
    slot->hash = hash;
    slot->epoch = epoch;
    slot->id = id;
    slot->nframe = nframe;
    slot->total_nframe = total_nframe;
    return 0;
}

size_t hl_stack_cache_memory(const hl_stack_cache *cache) {
    if (cache->slots == NULL)
        return 0;
    size_t bytes = (cache->mask + 1) * sizeof(hl_stack_cache_slot);
    for (size_t i = 0; i <= cache->mask; i++)
        if (cache->slots[i].frames != NULL)
            bytes += (size_t)cache->slots[i].nframe * sizeof(hl_frame_ref);
    return bytes;
}
