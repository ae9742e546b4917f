/* live_table.h - the table of live memory blocks: address -> (size, stack).
 *
 * One entry per traced block, 16 bytes: the address, a 32-bit "stack word"
 * (the interned stack id in the low 30 bits, the allocator domain in the top
 * two) and the size. Sizes of 4 GiB or more are rare; they keep the marker
 * HL_LIVE_SIZE_BIG in the entry and their real size in a small side list.
 *
 * Open addressing with linear probing and backward-shift deletion, so heavy
 * allocate/free churn leaves no tombstones behind. The table doubles at 3/4
 * load and never shrinks by itself (like a dict: the memory stays at the high
 * water mark until hl_live_table_clear). Address 0 marks an empty slot (nobody
 * traces NULL). The table itself takes no lock: the tracer says which lock
 * (or the GIL) protects each instance.
 *
 * Insertions and removals can be deferred (hl_live_table_add_later,
 * hl_live_table_remove_later), which is how the tracer hides the cache miss
 * that a random slot costs at millions of entries: the operation goes into a
 * small ring and its slot is prefetched; it is carried out when the ring comes
 * round again, by which time the slot is in cache. A block freed while its
 * insertion is still queued never touches the table. For any one address at
 * most one kind of operation is queued, so the two rings commute. Queued
 * insertions are not yet in `count`/`total_bytes` (their bytes are in
 * pending_add_bytes); queued removals still are. hl_live_table_flush() makes
 * everything exact. An instance uses either the deferred calls or the
 * immediate insert/remove, not both. The totals are an upper bound (exact
 * after hl_live_table_flush_removals) provided every block is removed before
 * its address is added again, which the allocator hooks guarantee.
 */
#ifndef HL_LIVE_TABLE_H
#define HL_LIVE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

#define HL_STACK_ID_BITS 30
#define HL_STACK_ID_MASK ((UINT32_C(1) << HL_STACK_ID_BITS) - 1)
#define HL_STACK_WORD(stack_id, domain) \
    ((uint32_t)(stack_id) | ((uint32_t)(domain) << HL_STACK_ID_BITS))
#define HL_STACK_WORD_ID(word) ((word) & HL_STACK_ID_MASK)
#define HL_STACK_WORD_DOMAIN(word) ((word) >> HL_STACK_ID_BITS)

#define HL_LIVE_SIZE_BIG UINT32_MAX
#define HL_LIVE_PENDING 8 /* deferred removals; a power of two */

typedef struct hl_live_entry {
    uintptr_t addr; /* 0: empty slot */
    uint32_t stack_word;
    uint32_t size; /* HL_LIVE_SIZE_BIG: see the big list */
} hl_live_entry;

typedef struct hl_big_block {
    uintptr_t addr;
    uint64_t size;
} hl_big_block;

typedef struct hl_pending_add {
    uintptr_t addr;
    uint64_t size;
    uint32_t stack_word;
    uint32_t replaces; /* the table still holds an older block at addr */
} hl_pending_add;

typedef struct hl_live_table {
    hl_live_entry *slots;
    size_t mask;    /* capacity - 1; capacity is a power of two */
    unsigned shift; /* 64 - log2(capacity), for Fibonacci hashing */
    size_t count;
    size_t min_capacity;
    uint64_t total_bytes; /* sum of the sizes of all entries */
    hl_big_block *big;
    size_t n_big, big_capacity;
    uintptr_t pending[HL_LIVE_PENDING]; /* addresses to remove; 0 = none */
    unsigned pending_next;               /* ring position to use next */
    unsigned n_pending;
    hl_pending_add adds[HL_LIVE_PENDING]; /* insertions to make; addr 0 = none */
    unsigned adds_next;
    unsigned n_adds;
    uint64_t pending_add_bytes; /* sum of the sizes in adds[] */
} hl_live_table;

/* Allocate an empty table with room for at least `capacity` slots (rounded up
 * to a power of two, at least 64). Returns 0, or -1 when out of memory (the
 * table is then left empty and safe to destroy). */
HL_WARN_UNUSED int hl_live_table_init(hl_live_table *table, size_t capacity);

/* Free the table's memory. The struct may be initialised again. */
void hl_live_table_destroy(hl_live_table *table);

/* Remove every entry and shrink back to the initial capacity. Returns 0, or -1
 * if the smaller array could not be allocated (the table is then empty but
 * keeps its old array). */
int hl_live_table_clear(hl_live_table *table);

/* Record block `addr` (non-zero) of `size` bytes with `stack_word`, replacing
 * an entry for the same address (and cancelling its queued removal). Returns 0, or -1 when the table could not
 * grow: the table is then unchanged and the caller counts a dropped trace. */
HL_WARN_UNUSED int hl_live_table_insert(hl_live_table *table, uintptr_t addr, uint64_t size,
                                        uint32_t stack_word);

/* Remove block `addr`. Returns 1 and fills *size_out and *stack_word_out (each
 * may be NULL) when it was there, 0 when it was not (a block allocated before
 * tracing started, or dropped). Never fails. */
int hl_live_table_remove(hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                         uint32_t *stack_word_out);

/* Insert block `addr` soon: queue it and prefetch its slot, carrying out the
 * oldest queued insertion when the ring is full. Returns 0, or -1 when that
 * older insertion could not be made (the table could not grow): the caller
 * counts a dropped trace. */
HL_WARN_UNUSED int hl_live_table_add_later(hl_live_table *table, uintptr_t addr, uint64_t size,
                                           uint32_t stack_word);

/* Remove block `addr` soon. A queued insertion of addr is simply dropped;
 * otherwise the removal is queued and its slot prefetched, carrying out the
 * oldest queued removal when the ring is full. Never fails. */
void hl_live_table_remove_later(hl_live_table *table, uintptr_t addr);

/* Carry out every queued removal now, including queued insertions that
 * replace an older block, so total_bytes + pending_add_bytes is exact. Never
 * fails. */
void hl_live_table_flush_removals(hl_live_table *table);

/* Carry out every queued operation now. Returns the number of insertions
 * that failed for lack of memory (the caller counts them as dropped). */
unsigned hl_live_table_flush(hl_live_table *table);

/* Look block `addr` up (ignoring the queue: flush first for an exact answer).
 * Returns 1 and fills the
 * outputs (each may be NULL) when found, else 0. */
int hl_live_table_find(const hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                       uint32_t *stack_word_out);

/* The size stored for an occupied slot, looking big blocks up. */
uint64_t hl_live_table_entry_size(const hl_live_table *table, const hl_live_entry *entry);

/* Number of slots; iterate slots[0 .. capacity) and skip addr == 0. */
static inline size_t hl_live_table_capacity(const hl_live_table *table) {
    return table->slots ? table->mask + 1 : 0;
}

/* Bytes of memory the table holds (slot array and big list). */
size_t hl_live_table_memory(const hl_live_table *table);

#endif /* HL_LIVE_TABLE_H */
