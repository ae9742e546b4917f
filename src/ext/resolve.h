/* resolve.h - from the tracer's live tables to resolved snapshots. */
#ifndef HLPY_RESOLVE_H
#define HLPY_RESOLVE_H

#include <Python.h>

#include "hl_common.h"

#include "snapshot_data.h"
#include "stack_table.h"

/* Fill *out (which is reset first) with every traced block and the resolved
 * stacks they use, and store in *filenames_out a new list of the file-name
 * strings, index-aligned with out's string table. When not tracing the
 * snapshot is empty. Returns 0, or -1 with an exception (out is then empty).
 * Needs the GIL; this thread's allocations meanwhile are not traced. */
HL_WARN_UNUSED int hlpy_resolve_snapshot(hl_snapshot_data *out, PyObject **filenames_out);

/* Like hlpy_resolve_snapshot, but an aggregated snapshot (trace_counts set,
 * one trace per resolved stack) made from the tracer's per-stack sums: the
 * heap now (at_peak == 0) or at its highest total. RuntimeError when the
 * tracer keeps no sums. Cost: O(stacks), not O(blocks). */
HL_WARN_UNUSED int hlpy_resolve_sums_snapshot(int at_peak, hl_snapshot_data *out,
                                              PyObject **filenames_out);

/* Store in *frames_out a new tuple of (filename, lineno) pairs of interned
 * stack `id`, most recent first, and its total depth in *total_out. Returns 0,
 * or -1 with an exception. Needs the GIL and tracing on. */
HL_WARN_UNUSED int hlpy_resolve_stack_frames(hl_stack_id id, PyObject **frames_out, int *total_out);

#endif /* HLPY_RESOLVE_H */
