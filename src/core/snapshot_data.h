/* snapshot_data.h - a resolved snapshot of traced memory, in plain C data.
 *
 * A snapshot is what the tracer's live tables look like once code objects and
 * instruction offsets have been turned into file names and line numbers. It is
 * the one data model shared by the statistics code (stats.c), the capture-file
 * codec (capture.c) and the binding (src/ext/snapshot_type.c).
 *
 * Invariants, checked by hl_snapshot_data_validate() and relied on everywhere:
 *  - strings are UTF-8 (filenames may carry lone surrogates encoded with
 *    "surrogatepass"), stored back to back in string_bytes; string i spans
 *    [string_offsets[i], string_offsets[i + 1]).
 *  - every frame's filename < n_strings; frames are unique by (filename, lineno)
 *    and, when frame_functions is present, function.
 *  - every stack's frames lie inside stack_frames and index frames; stacks are
 *    unique by their frame sequence and total_nframe; frame 0 of a stack is the
 *    most recent call. A stack has at least one frame.
 *  - every trace's stack < n_stacks.
 *  - trace_counts, when present, has n_traces entries, each >= 1: trace i then
 *    stands for trace_counts[i] blocks whose sizes add up to traces[i].size
 *    (an aggregated snapshot: one trace per stack and domain). When NULL,
 *    every trace is one block.
 *  - frame_functions, when present, has n_frames entries, each a string
 *    index or HL_NO_FUNCTION: the name of the function a frame's line is in.
 * All arrays are owned by the struct and released by hl_snapshot_data_clear().
 */
#ifndef HL_SNAPSHOT_DATA_H
#define HL_SNAPSHOT_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

/* One resolved frame: a file name (index into the string table) and a line.
 * A native frame (a C function: native frames in stacks) has the line
 * HL_NATIVE_LINENO, its object file's path as file name and its function's
 * name in frame_functions. */
typedef struct hl_frame {
    uint32_t filename;
    int32_t lineno;
} hl_frame;

/* One resolved traceback: nframe frame indices starting at stack_frames[first]. */
typedef struct hl_stack {
    uint32_t first;
    uint32_t nframe;
    uint32_t total_nframe; /* frames the thread had, before the nframe limit */
} hl_stack;

/* One live memory block. 16 bytes. */
typedef struct hl_trace_record {
    uint64_t size;
    uint32_t stack;
    uint32_t domain;
} hl_trace_record;

/* The line of a native frame (no Python line is negative). */
#define HL_NATIVE_LINENO (-1)

/* frame_functions entry of a frame whose function is not known. */
#define HL_NO_FUNCTION UINT32_MAX

typedef struct hl_snapshot_data {
    uint32_t n_strings;
    uint64_t *string_offsets; /* n_strings + 1 entries */
    char *string_bytes;

    uint32_t n_frames;
    hl_frame *frames;

    uint32_t n_stacks;
    hl_stack *stacks;
    uint64_t n_stack_frames;
    uint32_t *stack_frames;

    uint64_t n_traces;
    hl_trace_record *traces;
    uint64_t *trace_counts; /* NULL, or n_traces block counts (aggregated) */

    uint32_t *frame_functions; /* NULL, or n_frames function names (string indices) */

    uint32_t traceback_limit; /* the nframe the tracer ran with */
    int64_t timestamp_ns;     /* wall clock when taken, ns since the epoch */
} hl_snapshot_data;

/* Reset *data to an empty snapshot (all counts 0, all pointers NULL). */
void hl_snapshot_data_init(hl_snapshot_data *data);

/* Free every array owned by *data and reset it to empty. Safe on an empty one. */
void hl_snapshot_data_clear(hl_snapshot_data *data);

/* The number of blocks trace i stands for: 1 unless the snapshot is aggregated. */
static inline uint64_t hl_snapshot_trace_count(const hl_snapshot_data *data, uint64_t i) {
    return data->trace_counts != NULL ? data->trace_counts[i] : 1;
}

/* Check the invariants above. Returns 0 when they hold, or -1 and writes a
 * sentence naming the first broken one into errbuf (always NUL-terminated).
 * The duplicate checks allocate: when that fails, it returns -1 with errno
 * set to ENOMEM (a caller that must tell the two apart sets errno to 0 first). */
HL_WARN_UNUSED int hl_snapshot_data_validate(const hl_snapshot_data *data, char *errbuf,
                                             size_t errbuf_size);

#endif /* HL_SNAPSHOT_DATA_H */
