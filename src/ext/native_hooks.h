/* native_hooks.h - native memory: the malloc family and anonymous mmap of
 * every loaded object, recorded by the tracer (heaplens.start(native=True)).
 *
 * The calls that loaded objects make to malloc, calloc, realloc, free,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc, mmap, munmap,
 * mremap and pthread_create are redirected to wrappers (redirect.h, as a `native` set: CPython's
 * own object, whose allocations the Python domains trace already, the C
 * library, the dynamic linker and sanitizer runtimes are left alone). Each
 * wrapper calls the real function and, while native tracing is on, records
 * the block in HLPY_NATIVE_DOMAIN with the Python stack that was running
 * (hlpy_tracer_tracked_alloc: any thread, with or without the GIL). A
 * thread Python does not know has no frames of its own: when native code
 * started it with pthread_create (redirected too) while recording, its
 * blocks get the Python stack of the thread that started it, the line that
 * asked for the work (tracer.h: hlpy_tracer_creator_stack); else none.
 * Frees are recorded before the real
 * free, so another thread cannot get the address and record it in between.
 * Only anonymous mappings are recorded: a file mapped into memory is the
 * file's pages, not memory the program allocated.
 *
 * The redirection lasts for the process once installed; while native
 * tracing is off, the wrappers pass calls straight through.
 */
#ifndef HLPY_NATIVE_HOOKS_H
#define HLPY_NATIVE_HOOKS_H

#include "hl_common.h"

/* Redirect the calls (once per process) and record from now on. Returns 0,
 * or -1 when some slot could not be patched (the rest are; the counters say
 * so). Needs the GIL, and tracing. */
HL_WARN_UNUSED int hlpy_native_hooks_on(void);

/* Record no more native blocks (the wrappers stay, passing calls through).
 * Any thread. */
void hlpy_native_hooks_off(void);

/* 1 while native blocks are recorded. Any thread. */
int hlpy_native_hooks_recording(void);

#endif /* HLPY_NATIVE_HOOKS_H */
