/* track_api.c - PyTraceMalloc_Track/Untrack calls recorded by the tracer
 * (see track_api.h). */
#include <Python.h> /* first, as Python.h wants */

#include "track_api.h"

#include "hooks.h"
#include "redirect.h"
#include "tracer.h"

/* CPython's functions, as heaplens's own object links them (its GOT is never
 * patched). */
static int hlpy_track(unsigned int domain, uintptr_t ptr, size_t size) {
    int result = PyTraceMalloc_Track(domain, ptr, size); /* the stdlib's, if it traces */
    if (!hlpy_tracer_is_tracing())
        return result;
    int previous = hlpy_hooks_suspend(); /* heaplens's own work is never recorded */
    if (!previous)
        hlpy_tracer_tracked_alloc((uint32_t)domain, ptr, size);
    hlpy_hooks_resume(previous);
    return 0;
}

static int hlpy_untrack(unsigned int domain, uintptr_t ptr) {
    int found = hlpy_tracer_tracked_free((uint32_t)domain, ptr);
    int result = PyTraceMalloc_Untrack(domain, ptr);
    return found ? 0 : result;
}

static const hlpy_redirect hl_track_redirects[] = {
    {"PyTraceMalloc_Track", (void *)hlpy_track, (void *)PyTraceMalloc_Track},
    {"PyTraceMalloc_Untrack", (void *)hlpy_untrack, (void *)PyTraceMalloc_Untrack},
};

int hlpy_track_api_install(void) {
    return hlpy_redirect_add(hl_track_redirects,
                             sizeof hl_track_redirects / sizeof hl_track_redirects[0], 0);
}
