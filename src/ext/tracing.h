/* tracing.h - turning tracing on and off: the tracer's tables (tracer.h) and
 * the allocator hooks (hooks.h), in the order that keeps every hook safe.
 *
 * The hooks call the tracer's recording paths, so the tracer cannot also
 * call the hooks without a cycle between the two; this layer, above both,
 * is the only one that knows of each. module.c calls it.
 */
#ifndef HLPY_TRACING_H
#define HLPY_TRACING_H

#include <Python.h> /* first, as Python.h wants; it brings <stdint.h> */

#include "hl_common.h"

/* What `native` asks of hlpy_tracing_start. */
enum { HLPY_NATIVE_OFF = 0, HLPY_NATIVE_ON = 1, HLPY_NATIVE_WITH_FRAMES = 2 };

/* Start tracing with traceback limit nframe (1..65535, checked by the caller),
 * keeping per-stack sums when `sums` is non-zero, recording one block per
 * `sample_rate` bytes on average when sample_rate > 0 (which implies sums),
 * and native memory too when `native` is HLPY_NATIVE_ON (native_hooks.h),
 * with native frames in the stacks of native blocks and of blocks extensions
 * report when it is HLPY_NATIVE_WITH_FRAMES (native_unwind.h).
 * Does nothing when already tracing. Returns 0, or -1 with an exception set
 * (nothing is then hooked for the tracer). Needs the GIL. */
HL_WARN_UNUSED int hlpy_tracing_start(int nframe, uint64_t sample_rate, int sums, int native);

/* Stop tracing, unhook the allocators where possible, and free every trace,
 * stack and code reference the tracer held. Does nothing when not tracing.
 * May run Python code (code references given back). Needs the GIL. */
void hlpy_tracing_stop(void);

/* Forget every trace and stack but keep tracing (or stop, should the tables
 * not be set up again, which cannot happen). May run Python code. Needs the
 * GIL. */
void hlpy_tracing_clear(void);

#endif /* HLPY_TRACING_H */
