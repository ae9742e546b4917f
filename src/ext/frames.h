/* frames.h - the one seam between heaplens and CPython's private structures.
 *
 * Everything that reads interpreter internals (the frame chain, the current
 * thread state, object pre-headers) lives behind these functions, with one
 * implementation per supported CPython minor version in frames.c. The rest of
 * src/ext/ uses only the public C API and these.
 */
#ifndef HLPY_FRAMES_H
#define HLPY_FRAMES_H

#include <Python.h>
#include <stdint.h>

#include "stack_table.h"

/* Capture the Python stack of `tstate` (which must be the calling thread's own
 * state): up to `max_frames` (code, instruction offset) pairs, most recent
 * first, skipping incomplete frames as tracemalloc does, and the total number
 * of complete frames (saturating at HL_TOTAL_NFRAME_MAX) in *total_out.
 * Returns the number of frames stored. Borrowed code pointers: the caller must
 * take references before the thread runs more Python code. Never allocates,
 * never fails, safe without the GIL for the calling thread's own frames. */
int hlpy_frames_capture(PyThreadState *tstate, hl_frame_ref *out, int max_frames,
                        uint16_t *total_out);

/* The thread state that holds the GIL. Only for callers that hold it (the
 * MEM and OBJ allocator domains always do). Never fails, never allocates. */
PyThreadState *hlpy_frames_gil_tstate(void);

/* The calling thread's state when the calling thread holds the GIL, else NULL.
 * For the RAW domain, which may run without the GIL. Never allocates. */
PyThreadState *hlpy_frames_tstate_if_gil_held(void);

/* 1 while the interpreter is shutting down (so no thread may wait for the GIL). */
int hlpy_frames_is_finalizing(void);

/* Bytes in front of `obj` that belong to its memory block (the GC header and
 * the managed-dict pre-header), so block = (char *)obj - this. */
size_t hlpy_frames_preheader_size(PyObject *obj);

/* Line number of instruction offset `lasti` (in code units) of `code`, or 0
 * when unknown, as tracemalloc reports it. Needs the GIL. */
int hlpy_frames_lineno(PyCodeObject *code, int lasti);

#endif /* HLPY_FRAMES_H */
