/* tracer_state.h - the allocation tracer's state: private to tracer.c.
 *
 * Only tracer.c includes this header, and the one instance is a static of
 * tracer.c. Every other file goes through the functions of tracer.h, so
 * what protects each field (below) is the tracer's own business, and the
 * fields can change without a look at the rest of the binding. tracer.h
 * describes the locking in full.
 */
#ifndef HLPY_TRACER_STATE_H
#define HLPY_TRACER_STATE_H

#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "live_table.h"
#include "stack_sums.h"
#include "stack_table.h"

#define HLPY_RECENT_STACKS_LOG2 8
#define HLPY_RECENT_STACKS (1 << HLPY_RECENT_STACKS_LOG2)
#define HLPY_TRACKED_DOMAINS 8

typedef struct hlpy_tracer {
    /* 1 while tracing. Written with the GIL and raw_lock both held, so a RAW
     * hook can re-check it under raw_lock; read by every hook. */
    atomic_int tracing;
    /* Bumped whenever the stack table's ids stop meaning what they meant
     * (stop, clear). Written with the GIL and raw_lock both held, so that
     * either one is enough to read it steadily: a RAW hook notes it with its
     * stack id under the GIL and compares it again under raw_lock before it
     * records, and drops the block (counting it in stale_stacks) when the
     * table was emptied in between. */
    _Atomic uint64_t stack_epoch;

    /* The traceback limit; kept after stop(). Written under the GIL by a
     * start, before that start moves stack_epoch on, so that a thread
     * without the GIL that reads stack_epoch and then this sees the limit
     * of that epoch's start. */
    atomic_int nframe;

    /* 1 while the blocks of extensions and native code get their native
     * frames in their stacks. Written under the GIL by a start, before
     * `tracing` is set; read by any thread, relaxed. */
    atomic_int native_frames;

    /* Protected by the GIL. */
    hl_live_table py_blocks;    /* MEM and OBJ blocks */
    hl_stack_table stacks;      /* every stack a live or past block used */
    hl_frame_ref *frame_buffer; /* nframe entries, scratch for captures */
    /* With native frames: scratch for a capture's anchors (nframe entries)
     * and for the merged stack (nframe + HLPY_NATIVE_MAX_FRAMES); else NULL. */
    uintptr_t *anchor_buffer;
    hl_frame_ref *mixed_buffer;
    /* Recently seen stacks, by the hash of their top frame: id + 1, 0 = none.
     * Allocation sites alternate (a loop body has several), so a one-entry
     * "same as last time" cache misses; this one rarely does. */
    uint32_t recent_stacks[HLPY_RECENT_STACKS];
    /* The highest block generation (live_table.h) handed out to a leak hunt
     * since tracing started; 0: none. */
    uint16_t last_generation;
    /* The MEM or OBJ block recorded last, until an object is created in it
     * or it is freed: that object's creation needs no second look at the
     * stack, which has not changed since. 0: none. */
    uintptr_t last_py_block;
    hl_stack_sums py_sums; /* MEM and OBJ blocks, in sums mode */

    /* The only interpreter traced. Written once, by the first start() (GIL
     * held) before it first sets `tracing`, and never again; hooks read it,
     * without the GIL, only while tracing. */
    PyInterpreterState *main_interpreter;

    /* Protected by raw_lock. */
    pthread_mutex_t raw_lock;
    hl_live_table raw_blocks;
    hl_stack_sums raw_sums;     /* RAW blocks, in sums mode */
    hl_stack_sums tracked_sums; /* tracked blocks (below), in sums mode */
    /* Blocks that extensions report with PyTraceMalloc_Track (NumPy's array
     * data: track_api.h), one table per tracemalloc domain in the order the
     * domains were first seen, each made on first use. A block of a domain
     * past the last table is counted in `dropped`. */
    uint32_t tracked_domains[HLPY_TRACKED_DOMAINS];
    hl_live_table tracked_blocks[HLPY_TRACKED_DOMAINS];
    int n_tracked_domains;

    /* The settings of the current start: written by start() (GIL held)
     * before `tracing` is set, read by any thread, hence atomics (relaxed:
     * a hook that sees `tracing` set under raw_lock, or holds the GIL, sees
     * the values start() wrote before). */
    _Atomic int sums_on; /* the sample rate is sampling.h's hlpy_sample_rate */

    /* Atomics, updated from both sides. */
    _Atomic uint64_t py_bytes;         /* the MEM and OBJ part of the traced total, as last
                                          published under the GIL: what threads without it read */
    _Atomic uint64_t raw_sums_bytes;   /* mirrors raw_sums.total_bytes + tracked_sums.total_bytes */
    atomic_int raw_sums_changed;       /* raw_sums or tracked_sums changed since the last peak
                                          copy */
    _Atomic uint64_t saved_peak_total; /* the total when the sums were last copied */
    _Atomic uint64_t traced_now;       /* the traced total (sums mode), for the timeline */
    _Atomic uint64_t traced_high;      /* highest total since the timeline last looked */
    _Atomic uint64_t peaks_not_copied; /* new highs reached without the GIL: not copied */
    _Atomic uint64_t raw_bytes;        /* mirrors the total_bytes of raw_blocks and of
                                          every tracked_blocks table */
    _Atomic uint64_t peak_bytes;       /* highest traced total seen */
    _Atomic uint64_t dropped;          /* blocks not recorded: a table could not grow */
    _Atomic uint64_t unknown_stacks;   /* RAW blocks recorded without frames */
    _Atomic uint64_t stale_stacks;     /* RAW blocks not recorded: the stack table was
                                          emptied while their stack was being captured */
    _Atomic uint64_t gil_unsafe;       /* RAW blocks recorded without frames because
                                          asking for the GIL could have hung (issue 15) */
    _Atomic uint64_t gil_timeouts;     /* RAW blocks recorded without frames because the
                                          stack servant got no GIL in time */
    _Atomic uint64_t bad_stack_ids;    /* traces a snapshot found pointing past the stack
                                          table and left out: 0 unless heaplens has a bug */
} hlpy_tracer;

#endif /* HLPY_TRACER_STATE_H */
