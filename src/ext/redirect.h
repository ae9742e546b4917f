/* redirect.h - calls that loaded objects make, redirected to heaplens by
 * rewriting their GOT slots (src/core/got_patch.h).
 *
 * A caller registers a set of redirections once; they apply to every object
 * loaded now and to every object loaded later (the calls to dlopen are
 * redirected too, and after each successful load the new objects are
 * patched). heaplens's own object is never patched, so that its calls reach
 * the real functions. A set marked `native` (malloc and the rest) also
 * leaves alone the objects whose calls are already traced or must not be
 * redirected: CPython's own object (its allocations are the Python domains'),
 * the C library, the dynamic linker and sanitizer runtimes.
 *
 * ctypes finds a C function with dlsym, whose answer no GOT slot stands
 * between (ctypes.CDLL(None).malloc): the calls of ctypes' own object to
 * dlsym are redirected too, and a lookup that finds the original of a
 * registered redirection returns its replacement.
 *
 * Patching happens under one mutex, with fork handlers that keep it usable
 * in a child. The slots stay patched for the life of the process: each
 * wrapper passes calls straight through while heaplens does not want them.
 */
#ifndef HLPY_REDIRECT_H
#define HLPY_REDIRECT_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

typedef struct hlpy_redirect {
    const char *symbol;
    void *replacement;
    void *original; /* the function as heaplens's own object links it */
} hlpy_redirect;

/* Register `n` redirections (the array must live for the process) and patch
 * every loaded object they apply to. `native`: skip CPython's object, the C
 * library, the dynamic linker and sanitizer runtimes. Registering the same
 * array again does nothing. Returns 0, or -1 when a slot could not be
 * patched (the others are; counted in hlpy_redirect_counts) or no room is
 * left for another set (8). Any thread. */
HL_WARN_UNUSED int hlpy_redirect_add(const hlpy_redirect *redirects, size_t n, int native);

/* GOT slots rewritten so far, and whether any could not be. Any thread. */
void hlpy_redirect_counts(uint64_t *slots_out, int *failed_out);

#endif /* HLPY_REDIRECT_H */
