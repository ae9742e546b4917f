/* stack_merge.h - one stack from a thread's Python frames and its native
 * (C) frames, in call order.
 *
 * A thread's Python frames are run by invocations of the interpreter's eval
 * loop, each a C function on that thread's C stack. The binding tells, for
 * every Python frame, the C stack address of the invocation that runs it (its
 * anchor: an address inside that invocation's C frame); the unwinder tells,
 * for every native frame, its canonical frame address (CFA: the stack
 * pointer at its caller's call). The stack grows down, so a native frame
 * whose CFA lies below a Python frame's anchor was called, directly or not,
 * by that Python frame's invocation: it is more recent. Merging by these
 * addresses needs no symbol names, which stripped interpreters lack.
 *
 * Native frames are marked HL_FRAME_NATIVE in hl_frame_ref.reserved with
 * their program counter in .code; the core never looks at either.
 */
#ifndef HL_STACK_MERGE_H
#define HL_STACK_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "stack_table.h"

/* hl_frame_ref.reserved of a native frame: .code is a program counter inside
 * the calling instruction (return address minus one), .lasti is 0. */
#define HL_FRAME_NATIVE 1u

/* Whether `frame` is a native frame (else a Python one: a code object). */
static inline int hl_frame_is_native(const hl_frame_ref *frame) {
    return frame->reserved == HL_FRAME_NATIVE;
}

/* Write into out[0..max_out) the frames of `python` (n_python frames, most
 * recent first, each with its anchor in python_anchors; 0 for unknown) and
 * of `native` (n_native program counters, most recent first, with their CFAs
 * in native_cfas, increasing), most recent first: before each native frame,
 * every Python frame not yet written whose anchor is known and lies below
 * that frame's CFA. Python frames left over (unknown anchors, or ones above
 * the last native frame unwound) follow the native frames. Native frames
 * older than the oldest Python frame written are left out when there is one
 * (they are how the thread entered the interpreter); with no Python frame
 * they are all kept. Returns how many frames were written (at most max_out:
 * the oldest are cut). */
size_t hl_stack_merge(const hl_frame_ref *python, const uintptr_t *python_anchors, size_t n_python,
                      const uintptr_t *native, const uintptr_t *native_cfas, size_t n_native,
                      hl_frame_ref *out, size_t max_out);

#endif /* HL_STACK_MERGE_H */
