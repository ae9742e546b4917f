/* free_watch.h - which of a set of watched blocks were freed, tallied.
 *
 * The gc monitor watches the blocks of the objects a collection may free: it
 * adds each one (address, a caller-chosen type id, a size) before the
 * collection, reports every free it sees during it, and tallies afterwards the
 * freed blocks by (type id, stack id). A free of an address that is not
 * watched, or that was already counted (an address freed and reused within
 * the window), is ignored; a watched block that is moved by a realloc is
 * forgotten without being counted.
 *
 * Memory: about 40 bytes per watched block at most (a half-full map of 16-byte
 * slots plus a 16-byte record), freed or shrunk by hl_free_watch_reset.
 * Not thread-safe: the owner says what protects it (the binding: the GIL).
 * Uses libc's allocator only, so it may run inside an allocator hook.
 */
#ifndef HL_FREE_WATCH_H
#define HL_FREE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"
#include "u64_map.h"

/* A stack id for a block freed with no known stack (tracer off). Real stack
 * ids stay below HL__WATCH_MOVED. */
#define HL_FREE_WATCH_NO_STACK UINT32_MAX
#define HL__WATCH_LIVE (UINT32_MAX - 1u)
#define HL__WATCH_MOVED (UINT32_MAX - 2u)

typedef struct hl_watched_block {
    uint64_t size;
    uint32_t type;
    uint32_t state; /* HL__WATCH_LIVE, HL__WATCH_MOVED, or the stack id it was freed with */
} hl_watched_block;

/* One line of a tally: the blocks of one (type, stack) freed in the window. */
typedef struct hl_free_tally_row {
    uint32_t type;
    uint32_t stack; /* HL_FREE_WATCH_NO_STACK when unknown */
    uint64_t count;
    uint64_t bytes;
} hl_free_tally_row;

typedef struct hl_free_watch {
    hl_u64_map index; /* address -> record */
    hl_watched_block *blocks;
    size_t n_blocks, blocks_capacity;
    uint32_t *freed; /* records freed in the window, in order */
    size_t n_freed, freed_capacity;
    uint64_t dropped; /* blocks not watched, or frees not counted, for lack of memory */
    hl_free_tally_row *rows;
    size_t n_rows, rows_capacity;
} hl_free_watch;

/* Prepare an empty watch (the caller zeroes it first). Returns 0, or -1 when
 * out of memory (the watch is then safe to destroy). */
HL_WARN_UNUSED int hl_free_watch_init(hl_free_watch *watch);

/* Free everything the watch holds. */
void hl_free_watch_destroy(hl_free_watch *watch);

/* Forget every watched block, freed record and tally, keeping small tables for
 * reuse and giving big ones back. Returns 0, or -1 when out of memory (the
 * watch is then empty but unusable until init; hl_free_watch_add fails). */
HL_WARN_UNUSED int hl_free_watch_reset(hl_free_watch *watch);

/* Watch the block at `address` (not 0 or UINT64_MAX). Adding an address twice
 * keeps the first record. Returns 0, or -1 when out of memory: the block is
 * then not watched and counted in `dropped`. */
int hl_free_watch_add(hl_free_watch *watch, uint64_t address, uint32_t type, uint64_t size);

/* Watch n blocks at once, as hl_free_watch_add does for each: faster for
 * many (their slots are fetched ahead). Returns 0, or -1 when some could not
 * be watched (counted in `dropped`). */
int hl_free_watch_add_many(hl_free_watch *watch, const uint64_t *addresses, const uint32_t *types,
                           const uint64_t *sizes, size_t n);

/* Make room for `expected` watched blocks in all, so that adding them does
 * not grow the tables. Returns 0, or -1 when out of memory (nothing changed;
 * adds still work and grow as needed). */
int hl_free_watch_reserve(hl_free_watch *watch, size_t expected);

/* A free of `address` happened with allocation stack `stack` (or
 * HL_FREE_WATCH_NO_STACK). Returns 1 when it was a watched live block (now
 * counted as freed), else 0. Allocates only to grow the freed list; when that
 * fails the free is counted in `dropped` and 0 returned. */
int hl_free_watch_freed(hl_free_watch *watch, uint64_t address, uint32_t stack);

/* The block at `address` was moved by a realloc, or freed in a way that must
 * not be counted: stop watching it, uncounted. */
void hl_free_watch_moved(hl_free_watch *watch, uint64_t address);

/* Decides whether a watched block that no free was seen for is gone anyway
 * (for example kept by an allocator's free list): returns 1 and stores the
 * stack to count it with in *stack_out, or 0 to leave it live. */
typedef int (*hl_free_watch_judge)(uint64_t address, uint32_t type, void *arg, uint32_t *stack_out);

/* Ask `judge` about every watched block still live, in no particular order,
 * and count those it says are gone as freed. Returns how many it counted. */
size_t hl_free_watch_sweep_live(hl_free_watch *watch, hl_free_watch_judge judge, void *arg);

/* Tally the freed blocks by (type, stack): stores a borrowed pointer to the
 * rows in *rows_out (valid until the next reset, tally or destroy), most bytes
 * first, ties by type then stack, and returns their number; 0 when nothing was
 * freed. Returns -1 when out of memory (*rows_out NULL). */
HL_WARN_UNUSED long hl_free_watch_tally(hl_free_watch *watch, const hl_free_tally_row **rows_out);

/* Bytes of memory the watch holds. */
size_t hl_free_watch_memory(const hl_free_watch *watch);

#endif /* HL_FREE_WATCH_H */
