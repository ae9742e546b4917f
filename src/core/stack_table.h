/* stack_table.h - interning of captured Python stacks.
 *
 * A captured stack is an array of frame references, most recent first, each
 * an opaque code pointer and an instruction offset. The core never looks
 * inside a code pointer; the binding owns the objects they point to (it holds
 * a reference for every code pointer of every stack in the table).
 *
 * Interning gives each distinct (frames, total_nframe) a dense id 0, 1, 2...
 * that stays valid until hl_stack_table_clear(). The live table stores these
 * ids; snapshots resolve them. The table takes no lock: the tracer protects it
 * with the GIL.
 */
#ifndef HL_STACK_TABLE_H
#define HL_STACK_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

#define HL_MAX_NFRAME 65535
#define HL_TOTAL_NFRAME_MAX UINT16_MAX

typedef uint32_t hl_stack_id;

/* One captured frame: which code, and where in it (in code units). */
typedef struct hl_frame_ref {
    const void *code;
    int32_t lasti;
    uint32_t reserved; /* zero; keeps the struct free of padding for hashing */
} hl_frame_ref;

typedef struct hl_stack_entry {
    uint64_t hash;
    uint32_t first; /* index of the first frame in the frame pool */
    uint16_t nframe;
    uint16_t total_nframe;
} hl_stack_entry;

typedef struct hl_stack_table {
    hl_stack_entry *entries; /* indexed by stack id */
    uint32_t n_entries, entries_capacity;
    hl_frame_ref *pool; /* frames of all stacks, back to back */
    size_t pool_used, pool_capacity;
    uint32_t *index; /* open addressing: stack id + 1, or 0 for empty */
    size_t index_mask;
} hl_stack_table;

/* Prepare an empty table. Returns 0, or -1 when out of memory. */
HL_WARN_UNUSED int hl_stack_table_init(hl_stack_table *table);

/* Free all memory; the struct may be initialised again. */
void hl_stack_table_destroy(hl_stack_table *table);

/* Forget every stack (ids restart at 0), keeping the allocated memory. The
 * caller releases whatever it held for the old stacks' code pointers first. */
void hl_stack_table_clear(hl_stack_table *table);

/* Hash of a frame array and its total depth; pass it back to intern. */
uint64_t hl_stack_hash(const hl_frame_ref *frames, uint16_t nframe, uint16_t total_nframe);

/* Find or add the stack (frames[0..nframe), total_nframe) whose hash is
 * `hash`. nframe may be 0 (an allocation with no Python frame). Stores its id
 * in *id_out and sets *is_new to 1 when it was added (the caller then takes
 * its references to the code pointers), else 0. Returns 0, or -1 when the
 * table could not grow (nothing changed; the caller drops the trace). */
HL_WARN_UNUSED int hl_stack_table_intern(hl_stack_table *table, const hl_frame_ref *frames,
                                         uint16_t nframe, uint16_t total_nframe, uint64_t hash,
                                         hl_stack_id *id_out, int *is_new);

/* The frames of stack `id` (which must be < n_entries). */
static inline const hl_frame_ref *hl_stack_table_frames(const hl_stack_table *table,
                                                        hl_stack_id id) {
    return table->pool + table->entries[id].first;
}

/* Bytes of memory the table holds. */
size_t hl_stack_table_memory(const hl_stack_table *table);

#endif /* HL_STACK_TABLE_H */
