/* big_alloc.h - zeroed memory for large tables, on huge pages where possible.
 *
 * The live table's region directory is probed at hashed positions; on a heap
 * of gigabytes it reaches megabytes, where probes on 4 KiB pages would miss
 * the TLB (and in a VM each miss walks two page tables). Arrays of 2 MiB or
 * more are therefore mapped directly and marked for transparent huge pages.
 * The heap graph's arrays (node arrays, address index, edges) are the same
 * case at tens of millions of entries.
 * Smaller ones come from calloc.
 */
#ifndef HL_BIG_ALLOC_H
#define HL_BIG_ALLOC_H

#include <stddef.h>

#include "hl_common.h"

/* Zeroed memory of `size` bytes, or NULL when out of memory. Free it with
 * hl_big_free() and the same size. */
HL_WARN_UNUSED void *hl_big_calloc(size_t size);

/* Resize memory from hl_big_calloc from old_size to new_size bytes, keeping
 * the common prefix and zeroing any new bytes (ptr NULL: allocate). Returns the
 * new pointer, or NULL when out of memory with ptr unchanged. */
HL_WARN_UNUSED void *hl_big_realloc(void *ptr, size_t old_size, size_t new_size);

/* Release memory from hl_big_calloc(ptr may be NULL). */
void hl_big_free(void *ptr, size_t size);

#endif /* HL_BIG_ALLOC_H */
