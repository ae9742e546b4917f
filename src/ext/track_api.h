/* track_api.h - the blocks extensions report with PyTraceMalloc_Track.
 *
 * CPython's C API lets an extension that allocates memory itself report it
 * to tracemalloc: PyTraceMalloc_Track(domain, ptr, size) and
 * PyTraceMalloc_Untrack(domain, ptr). NumPy reports every array's data
 * this way (domain 389047). The functions are CPython's and feed only the
 * stdlib's tracemalloc, so heaplens redirects the calls: each loaded object's
 * GOT slots for the two functions are rewritten to heaplens's wrappers
 * (src/core/got_patch.h), which record the block in the tracer
 * (hlpy_tracer_tracked_alloc) and then call CPython's function, so that the
 * stdlib's tracemalloc, when it traces too, still sees every block. Objects
 * loaded later are patched as they load: the calls to dlopen are redirected
 * the same way, and the wrapper patches what the load added.
 *
 * docs/native.md explains the choice and its limits: a call from inside
 * CPython's own object, or through a function pointer taken before the
 * patch, is not redirected; a statically linked extension (built into the
 * interpreter) is not either.
 */
#ifndef HLPY_TRACK_API_H
#define HLPY_TRACK_API_H

#include <stdint.h>

#include "hl_common.h"

/* Redirect the calls of every loaded object, and of those loaded from now
 * on. Idempotent: the first call patches; later ones return at once. Any
 * thread; the first call needs the GIL (it reads CPython's functions).
 * Returns 0, or -1 when some slot could not be patched (the rest are; the
 * caller may warn). */
HL_WARN_UNUSED int hlpy_track_api_install(void);

/* What the redirection did, for get_tracer_counters(): slots rewritten so
 * far, objects looked at, and whether any patch failed. Any thread. */
typedef struct hlpy_track_api_counts {
    uint64_t slots;
    uint64_t objects;
    int failed;
} hlpy_track_api_counts;

void hlpy_track_api_counts_get(hlpy_track_api_counts *out);

#endif /* HLPY_TRACK_API_H */
