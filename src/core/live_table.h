/* live_table.h - the table of live memory blocks: address -> (size, stack).
 *
 * Each traced block has a 32-bit "stack word" (the interned stack id in the
 * low 30 bits, the allocator domain in the top two), a size, and a 16-bit
 * generation: the table's current generation when the block was recorded,
 * so that a leak hunt can tell the blocks each call allocated (0 is the
 * generation of blocks recorded outside any hunt). Sizes of
 * 4 GiB or more are rare; they keep the marker HL_LIVE_SIZE_BIG and their
 * real size in a small side list.
 *
 * Layout: the address space is cut into 16 KiB regions (one pymalloc pool
 * each). A directory maps a region to its own small open-addressing table of
 * 12-byte slots keyed by the block's offset in the region. Python allocates
 * and frees blocks of one pool together, so consecutive operations touch the
 * same few warm cache lines instead of a random line of one huge array; the
 * directory is small enough to stay in cache; and growth is per region, so
 * there is never a big rehash. A region table grows by half when an insert
 * would make it more than 7/8 full (so it is about 3/4 full on average); a
 * region that becomes empty is freed. Linear probing with backward-shift deletion leaves
 * no tombstones under churn.
 *
 * (Deferring operations through small prefetching rings was built and
 * measured: with the regions' locality it cost more than it saved.)
 *
 * The table takes no lock: the tracer says which lock (or the GIL) protects
 * each instance.
 */
#ifndef HL_LIVE_TABLE_H
#define HL_LIVE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

#define HL_STACK_ID_BITS 30
#define HL_STACK_ID_MASK ((UINT32_C(1) << HL_STACK_ID_BITS) - 1)
#define HL_STACK_WORD(stack_id, domain)                                                            \
    ((uint32_t)(stack_id) | ((uint32_t)(domain) << HL_STACK_ID_BITS))
#define HL_STACK_WORD_ID(word) ((word)&HL_STACK_ID_MASK)
#define HL_STACK_WORD_DOMAIN(word) ((word) >> HL_STACK_ID_BITS)

#define HL_LIVE_SIZE_BIG UINT32_MAX
#define HL_REGION_SHIFT 14
#define HL_RECENT_REGIONS 16 /* a power of two */

typedef struct hl_region_slot {
    uint16_t offset;     /* (addr & region mask) + 1; 0: empty slot */
    uint16_t generation; /* the table's generation when the block was recorded */
    uint32_t stack_word;
    uint32_t size; /* HL_LIVE_SIZE_BIG: see the big list */
} hl_region_slot;

typedef struct hl_region hl_region; /* opaque: one region's table */

typedef struct hl_region_ref {
    uintptr_t key;     /* addr >> HL_REGION_SHIFT */
    hl_region *region; /* NULL: empty directory slot */
} hl_region_ref;

typedef struct hl_big_block {
    uintptr_t addr;
    uint64_t size;
} hl_big_block;

typedef struct hl_live_table {
    hl_region_ref *dir;
    size_t dir_mask;    /* directory capacity - 1 */
    unsigned dir_shift; /* 64 - log2(directory capacity) */
    size_t n_regions;
    size_t region_bytes;                     /* memory held by region tables */
    hl_region_ref recent[HL_RECENT_REGIONS]; /* regions found lately, by key; region
                                                NULL when empty */
    /* A region of the smallest size emptied lately, kept (and counted in
     * region_bytes) for the next region made: a block allocated and freed
     * alone in its region (a C library's malloc/free loop) would otherwise
     * make and free a region every time. NULL: none. */
    hl_region *spare;

    size_t count;
    uint64_t total_bytes; /* sum of the sizes of all entries */
    hl_big_block *big;
    size_t n_big, big_capacity;

    uint16_t generation; /* stamped on every block inserted; 0 after init */

    /* The entry the last insert that returned 1 replaced. */
    uint64_t replaced_size;
    uint32_t replaced_stack_word;
} hl_live_table;

/* Position of an iteration over the table; start from {0, 0}. */
typedef struct hl_live_iter {
    size_t dir_index;
    uint32_t slot;
} hl_live_iter;

/* Allocate an empty table whose directory has room for about `regions`
 * regions. Returns 0, or -1 when out of memory (the table is then empty and
 * safe to destroy). */
HL_WARN_UNUSED int hl_live_table_init(hl_live_table *table, size_t regions);

/* Free the table's memory. The struct may be initialised again. */
void hl_live_table_destroy(hl_live_table *table);

/* Remove every entry and free every region. Returns 0 (kept for callers that
 * check; it cannot fail). */
int hl_live_table_clear(hl_live_table *table);

/* Record block `addr` (non-zero) of `size` bytes with `stack_word`. Returns
 * 0 for a new entry; 1 when it replaced an entry for the same address (a
 * free the table never saw), whose size and stack word are then in
 * table->replaced_size and replaced_stack_word; or -1 when memory for the
 * region could not be had: the table is then unchanged and the caller
 * counts a dropped trace. */
HL_WARN_UNUSED int hl_live_table_insert(hl_live_table *table, uintptr_t addr, uint64_t size,
                                        uint32_t stack_word);

/* Remove block `addr`. Returns 1 and fills *size_out and *stack_word_out (each
 * may be NULL) when it was there, 0 when it was not (a block allocated before
 * tracing started, or dropped). Never fails. */
int hl_live_table_remove(hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                         uint32_t *stack_word_out);

/* Look block `addr` up without changing anything. Returns 1 and fills the outputs (each may be
 * NULL) when found, else 0. */
int hl_live_table_find(const hl_live_table *table, uintptr_t addr, uint64_t *size_out,
                       uint32_t *stack_word_out);

/* Give block `addr` the stack id `stack_id` (its domain is kept) and the
 * table's current generation, as if it had just been recorded. Returns 1 and
 * fills the outputs (each may be NULL) with its size and its former stack
 * word when it is in the table, else 0 and changes nothing. */
int hl_live_table_restack(hl_live_table *table, uintptr_t addr, uint32_t stack_id,
                          uint64_t *size_out, uint32_t *old_stack_word_out);

/* The generation of block `addr`: returns 1 and stores it when the block is
 * in the table, else 0. */
int hl_live_table_find_generation(const hl_live_table *table, uintptr_t addr,
                                  uint16_t *generation_out);

/* Stamp every block inserted from now on with `generation`. */
void hl_live_table_set_generation(hl_live_table *table, uint16_t generation);

/* Set the generation of every block in the table to 0, as if each had been
 * recorded outside any hunt (for when the 16-bit generations wrap around). */
void hl_live_table_forget_generations(hl_live_table *table);

/* Step an iteration: returns 1 and fills the outputs with the next entry, or
 * 0 at the end. The table must not change during an iteration. */
int hl_live_table_next(const hl_live_table *table, hl_live_iter *iter, uintptr_t *addr_out,
                       uint64_t *size_out, uint32_t *stack_word_out);

/* Bytes of memory the table holds (directory, regions, big list). */
size_t hl_live_table_memory(const hl_live_table *table);

#endif /* HL_LIVE_TABLE_H */
