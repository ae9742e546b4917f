/* native_unwind.h - the calling thread's native (C) frames, for native
 * frames in stacks (start(native_frames=True), heaplens run
 * --native-frames).
 *
 * Unwound with the unwinder that ships with the toolchain (libgcc's
 * _Unwind_Backtrace, driven by the .eh_frame tables every object carries,
 * so it needs no frame pointers, which most distributions' libraries lack).
 * Only program counters and canonical frame addresses are taken here;
 * names come later, when a snapshot is resolved (resolve.c), never while
 * allocating. Frames of heaplens's own object and of CPython's (the
 * interpreter's eval loop and its C API: the Python frames stand for them)
 * are left out.
 */
#ifndef HLPY_NATIVE_UNWIND_H
#define HLPY_NATIVE_UNWIND_H

#include <stdint.h>

#include "hl_common.h"

/* Native frames kept per stack, at most; the oldest beyond are cut. */
#define HLPY_NATIVE_MAX_FRAMES 48

typedef struct hlpy_native_frames {
    uintptr_t pcs[HLPY_NATIVE_MAX_FRAMES];  /* inside the call instruction */
    uintptr_t cfas[HLPY_NATIVE_MAX_FRAMES]; /* increasing */
    int n;
} hlpy_native_frames;

/* Note where heaplens's and CPython's code lie, once. Returns 0, or -1 when
 * they cannot be found (native frames then stay off). Needs the GIL. */
HL_WARN_UNUSED int hlpy_native_unwind_init(void);

/* Unwind the calling thread's C stack into *out (out->n frames, most recent
 * first), up to the first frame whose CFA lies above `bound` (0: no bound;
 * the frames older than the outermost Python frame kept are not wanted,
 * stack_merge.h, and each frame unwound costs about two thousand
 * instructions). Any thread, any lock state; takes no lock of heaplens's and
 * allocates nothing (libgcc looks objects up with glibc's lock-free
 * _dl_find_object). Returns out->n. */
int hlpy_native_unwind(hlpy_native_frames *out, uintptr_t bound);

#endif /* HLPY_NATIVE_UNWIND_H */
