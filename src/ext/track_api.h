/* track_api.h - the blocks extensions report with PyTraceMalloc_Track.
 *
 * CPython's C API lets an extension that allocates memory itself report it
 * to tracemalloc: PyTraceMalloc_Track(domain, ptr, size) and
 * PyTraceMalloc_Untrack(domain, ptr). NumPy reports every array's data
 * this way (domain 389047). The functions are CPython's and feed only the
 * stdlib's tracemalloc, so heaplens redirects the calls: each loaded object's
 * GOT slots for the two functions are rewritten to heaplens's wrappers
 * (redirect.h), which record the block in the tracer
 * (hlpy_tracer_tracked_alloc) and then call CPython's function, so that the
 * stdlib's tracemalloc, when it traces too, still sees every block. Objects
 * loaded later are patched as they load (redirect.h).
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
 * thread. Returns 0, or -1 when some slot could not be patched (the rest
 * are; counted in hlpy_redirect_counts). */
HL_WARN_UNUSED int hlpy_track_api_install(void);

#endif /* HLPY_TRACK_API_H */
