/* tracer.h - the allocation tracer's state and its recording paths.
 *
 * Two live tables: MEM and OBJ blocks, whose hooks always run with the GIL
 * held, live in py_blocks with no lock of their own; RAW blocks, whose hooks
 * may run without the GIL (frees always may), live in raw_blocks under
 * raw_lock. The stack table is protected by the GIL: a RAW allocation from a
 * thread without the GIL takes the GIL to capture its stack, as CPython's
 * tracemalloc does, but only when waiting for it cannot hang (the thread has
 * a thread state and none attached, and the interpreter is not finalizing:
 * see hl__raw_stack); otherwise it is recorded with no frames. It records the
 * stack later, under raw_lock, and only when stack_epoch has not moved since
 * the capture. Only the main interpreter is traced (hl__traced_interpreter).
 *
 * raw_lock is never held while waiting for the GIL, and no Python code runs
 * while it is held, so the two locks cannot deadlock.
 *
 * Started with sums (what `heaplens run` does), the tracer also keeps live
 * bytes and blocks per stack (stack_sums.h): py_sums under the GIL,
 * raw_sums under raw_lock, and copies both at every new high, so the heap at
 * the peak is known by stack. Started with a sample rate, it records only
 * the blocks sampling.h chooses, and the sums count each recorded block as
 * what it stands for (hlpy_sampling_weigh): unbiased estimates at a small
 * fraction of the cost. Sampling implies sums, and the traced totals are
 * then those estimates.
 *
 * The state itself (tracer_state.h) is private to tracer.c: other files use
 * the functions below. The tracer does not install the allocator hooks:
 * tracing.h turns tracing on and off, hooks and tracer together, so that
 * hooks.c (which calls the recording paths below) and tracer.c do not
 * depend on each other.
 */
#ifndef HLPY_TRACER_H
#define HLPY_TRACER_H

#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"
#include "snapshot_data.h"
#include "stack_sums.h"
#include "stack_table.h"

typedef enum hlpy_alloc_domain {
    HLPY_DOMAIN_RAW = 0,
    HLPY_DOMAIN_MEM = 1,
    HLPY_DOMAIN_OBJ = 2,
} hlpy_alloc_domain;

/* The stack with no Python frame: always id 0 of the stack table, interned
 * first whenever the table is made or emptied, so that threads without the
 * GIL can name it without reading the table. */
#define HLPY_EMPTY_STACK ((hl_stack_id)0)

/* Set up the parts of the state that outlive start/stop (the lock, the fork
 * handlers, the stack servant's reader). Called once at module import. Returns 0, or -1 with an
 * exception. */
HL_WARN_UNUSED int hlpy_tracer_init_once(void);

/* 1 while stacks get native frames (hlpy_tracer_prepare's native_frames),
 * else 0. Any thread. */
int hlpy_tracer_native_frames(void);

/* The first half of a start, with traceback limit nframe (1..65535, checked
 * by the caller), keeping per-stack sums when `sums` is non-zero, and
 * recording one block per `sample_rate` bytes on average when sample_rate >
 * 0 (which implies sums), and with native_frames non-zero putting native
 * frames in the stacks of the blocks extensions report and of native blocks
 * (native_unwind.h): make the tables and reset the counters, without
 * tracing yet. Returns 0, or -1 with MemoryError (or RuntimeError when
 * native frames cannot be had) set (nothing to undo). The
 * caller checked that the tracer is not tracing, installs the hooks, then
 * calls hlpy_tracer_begin() (tracing.c). Needs the GIL. */
HL_WARN_UNUSED int hlpy_tracer_prepare(int nframe, uint64_t sample_rate, int sums,
                                       int native_frames);

/* The second half of a start: record from now on. Takes raw_lock. Needs
 * the GIL. */
void hlpy_tracer_begin(void);

/* ---- reading the state: for the rest of the binding ------------------- */

/* 1 while tracing. Any thread (a sequentially consistent load). */
int hlpy_tracer_is_tracing(void);

/* Whether the current or last start keeps per-stack sums, and its sample
 * rate (0: every block). Any thread. */
int hlpy_tracer_sums_on(void);
uint64_t hlpy_tracer_sample_rate(void);

/* The traceback limit of the current or last start; 0 before the first.
 * Needs the GIL. */
int hlpy_tracer_nframe(void);

/* The stack epoch: it moves whenever stack ids stop meaning what they meant
 * (stop, clear). A file that keeps stack ids across calls (gc_watch.c,
 * leak_tags.c) notes it and drops its ids when it moved. Any thread. */
uint64_t hlpy_tracer_stack_epoch(void);

/* The number of interned stacks, 0 when not tracing: every id below it names
 * a stack. Needs the GIL. */
uint32_t hlpy_tracer_n_stacks(void);

/* The stack table, read-only, for resolving ids into frames (resolve.c).
 * The pointer is the same for the life of the process; what it points to
 * is the current start's table, which grows when a traced allocation
 * interns a new stack: read its fields again after anything that allocates
 * through Python's allocators. Needs the GIL, and tracing (else the table
 * is empty or freed). */
const hl_stack_table *hlpy_tracer_stack_table(void);

/* Add n to the count of traces found pointing past the stack table (a
 * tracer bug, reported in the counters). Any thread. */
void hlpy_tracer_count_bad_stack_ids(uint64_t n);

/* Copy every traced block, MEM and OBJ then RAW (domain 0), then the blocks
 * extensions reported (their own domains), into out->traces (interned stack ids) and out->n_traces;
 * when sampling, also out->trace_counts with the blocks each stands for, and sizes weighted
 * likewise (hlpy_sampling_weigh). The arrays are malloc'd and owned by
 * `out` (hl_snapshot_data_clear frees them). Returns 0, or -1 when memory
 * ran out (no exception; what was allocated is left in `out` for that
 * clear). Needs the GIL and tracing; takes raw_lock. */
HL_WARN_UNUSED int hlpy_tracer_copy_traces(hl_snapshot_data *out);

/* The tracer's counters, for get_tracer_counters(). Each field is read once,
 * relaxed, so fields may come from slightly different moments. */
typedef struct hlpy_tracer_counters {
    int tracing;
    uint64_t dropped;          /* blocks not recorded: a table could not grow */
    uint64_t unknown_stacks;   /* RAW blocks recorded without frames */
    uint64_t stale_stacks;     /* RAW blocks dropped: the stack table was emptied meanwhile */
    uint64_t gil_unsafe;       /* RAW blocks without frames: asking for the GIL could hang */
    uint64_t gil_timeouts;     /* RAW blocks without frames: no GIL for their stack in time */
    uint64_t bad_stack_ids;    /* traces left out of a snapshot: 0 unless heaplens has a bug */
    uint64_t peaks_not_copied; /* new highs reached without the GIL: sums not copied */
    uint32_t stacks;           /* interned stacks (0 when not tracing) */
    size_t live_blocks;        /* traced blocks (0 when not tracing) */
    uint64_t sample_rate;      /* 0 when not tracing or not sampling */
    int sums;                  /* 1 when tracing with sums */
} hlpy_tracer_counters;

/* Fill *out. Needs the GIL; takes raw_lock. Never fails. */
void hlpy_tracer_get_counters(hlpy_tracer_counters *out);

/* For the timeline thread, which holds no GIL and no lock: the traced total
 * now (sums mode), the highest total since the last call (which this resets
 * to the total now), and the total when the sums were last copied at a new
 * high. Any thread; never allocates. */
void hlpy_tracer_timeline_totals(uint64_t *now_out, uint64_t *high_out, uint64_t *peak_out);

/* Copy the per-stack sums now (at_peak == 0) or at the peak into two new
 * malloc'd arrays indexed by stack id (caller frees both), of *n_out
 * entries: in *out the blocks of Python's allocators (MEM, OBJ and RAW
 * added up), in *outside_out those outside them (blocks extensions report
 * and native blocks: the tracked domains). Returns 0, or -1 when sums are
 * off, tracing is off, or memory ran out (no exception; both NULL). Needs
 * the GIL; takes raw_lock. */
HL_WARN_UNUSED int hlpy_tracer_copy_sums(int at_peak, hl_stack_sum **out,
                                         hl_stack_sum **outside_out, uint32_t *n_out);

/* The first half of a stop: record nothing from now on, and free the RAW
 * side (under raw_lock). Does nothing when not tracing. The caller then
 * uninstalls the hooks and calls hlpy_tracer_release() (tracing.c). Needs
 * the GIL. */
void hlpy_tracer_halt(void);

/* The second half of a stop: free the MEM and OBJ side and the stack
 * table, and give back every code reference the tracer held, last, since
 * that can run any Python code (which may start tracing again). Call it only
 * after hlpy_tracer_halt() stopped a start, with no Python code run in
 * between. Needs the GIL. */
void hlpy_tracer_release(void);

/* Forget every trace and stack but keep tracing. Returns 0, or -1 when the
 * tables could not be set up again (cannot happen: their arrays are kept);
 * the caller must then stop tracing (hlpy_tracing_stop). Does nothing and
 * returns 0 when not tracing. May run Python code (code references given
 * back). Needs the GIL. */
HL_WARN_UNUSED int hlpy_tracer_clear(void);

/* Traced bytes now and at the peak. Needs the GIL. */
void hlpy_tracer_traced_memory(uint64_t *current, uint64_t *peak);

/* Set the peak to the current traced size. Needs the GIL. */
void hlpy_tracer_reset_peak(void);

/* Number of traced blocks (0 when not tracing). Needs the GIL. */
size_t hlpy_tracer_live_blocks(void);

/* Bytes of memory the tracer's own tables use. Needs the GIL. */
size_t hlpy_tracer_memory(void);

/* Look up the block at addr. Returns 1 and stores its stack id and size when
 * traced, else 0. Needs the GIL. */
int hlpy_tracer_find_block(uintptr_t addr, hl_stack_id *stack_out, uint64_t *size_out);

/* The stack id of the MEM or OBJ block at addr: returns 1 and stores it when
 * traced, else 0 (also when not tracing). Cheaper than find_block: no lock.
 * Needs the GIL; never allocates. */
int hlpy_tracer_find_py_block_stack(uintptr_t addr, hl_stack_id *stack_out);

/* Hand out `count` (1..65534) consecutive unused block generations for a
 * leak hunt: returns 0 and stores the first in *first_out, or -1 when not
 * tracing. When the 16-bit generations run out, every traced block is first
 * set back to generation 0, as if recorded outside any hunt, so a generation
 * handed out earlier means nothing after another hunt began. Needs the GIL. */
HL_WARN_UNUSED int hlpy_tracer_reserve_generations(int count, uint16_t *first_out);

/* Stamp the blocks traced from now on with `generation` (0: outside any
 * hunt). Does nothing when not tracing. Needs the GIL. */
void hlpy_tracer_set_generation(uint16_t generation);

/* The generation of the MEM or OBJ block at addr: returns 1 and stores it
 * when traced, else 0. Needs the GIL; never allocates. */
int hlpy_tracer_find_py_block_generation(uintptr_t addr, uint16_t *generation_out);

/* Recording paths, called by the hooks (hooks.c) with the reentrancy guard
 * set. The py_ ones need the GIL; the raw_ ones do not. They never fail:
 * what cannot be recorded is counted in `dropped`. errno is preserved. */
void hlpy_tracer_py_alloc(void *ptr, size_t size, hlpy_alloc_domain domain);
void hlpy_tracer_py_free(void *ptr);
void hlpy_tracer_raw_alloc(void *ptr, size_t size);
void hlpy_tracer_raw_free(void *ptr);

/* A block an extension reported with PyTraceMalloc_Track(domain, ptr, size)
 * (track_api.c), recorded in tracemalloc domain `domain` with the current
 * stack, as a RAW block is: any thread, with the GIL or without; replaces
 * what was recorded at (domain, ptr). Never fails: what cannot be recorded
 * is counted in `dropped` (so is a ninth domain). errno is preserved. */
void hlpy_tracer_tracked_alloc(uint32_t domain, uintptr_t ptr, size_t size);

/* PyTraceMalloc_Untrack(domain, ptr): forget the block. Returns 1 when it
 * was traced, else 0. Any thread. */
int hlpy_tracer_tracked_free(uint32_t domain, uintptr_t ptr);

/* The tracemalloc domain of native blocks (malloc, mmap ... of extensions:
 * native_hooks.h): "HLN". A block reported in another domain at an address
 * recorded here is moved there (counted once). */
#define HLPY_NATIVE_DOMAIN 4738126u

/* Like hlpy_tracer_raw_take and hlpy_tracer_raw_put_back, for a tracked
 * block (a native realloc that fails, a munmap of part of a mapping: the
 * caller may change taken->size before putting back at another address). */
struct hlpy_raw_taken;
int hlpy_tracer_tracked_take(uint32_t domain, uintptr_t ptr, struct hlpy_raw_taken *taken);
void hlpy_tracer_tracked_put_back(uint32_t domain, uintptr_t ptr,
                                  const struct hlpy_raw_taken *taken);

/* The interpreter created `obj` (hooks.c, where the version can say so):
 * when its memory block is traced and was not recorded just before, move the
 * block's trace to the current stack, as CPython's tracemalloc does, so that
 * an object taken from a free list is charged to the line that reused it,
 * not to the one that first allocated its block. Needs the GIL; never
 * allocates through Python's allocators; never fails (a stack that cannot
 * be interned leaves the trace as it was). */
/* The Python stack of the thread that created a thread which has no Python
 * state of its own (a pthread native code starts): that thread's blocks are
 * attributed to it (and, with native frames, to it below their own C
 * frames). The stack is interned, so its code objects live while `epoch`
 * is the tracer's stack epoch; a copy of its frames serves the merge. */
typedef struct hlpy_creator_stack {
    uint64_t epoch;
    hl_stack_id id;
    uint16_t n_frames, total_nframe;
    hl_frame_ref frames[64]; /* HLPY_STACK_CACHE_MAX_FRAMES */
} hlpy_creator_stack;

/* Fill *out with the calling thread's stack, for a thread it is about to
 * create. Returns 1, or 0 when there is none to give (not tracing, no
 * Python frames, the stack could not be had). Any thread, no lock held;
 * never waits for the GIL (a thread without it asks the stack servant). */
int hlpy_tracer_creator_stack(hlpy_creator_stack *out);

/* Make `stack` (NULL: none) the creator's stack of the calling thread; it
 * must stay valid while the thread runs. Any thread. */
void hlpy_tracer_set_creator_stack(const hlpy_creator_stack *stack);

void hlpy_tracer_py_new_object(PyObject *obj);

/* A RAW trace taken out of the table for a realloc: what to put back. */
typedef struct hlpy_raw_taken {
    uint64_t size;
    uint32_t stack_word;
    uint64_t stack_epoch; /* of the table its stack id belongs to */
} hlpy_raw_taken;

/* For a RAW realloc: remove ptr's trace and return 1, filling *taken (when
 * not NULL), when it was traced, else 0. Put it back with
 * hlpy_tracer_raw_put_back() if the realloc fails, since the old block then
 * lives on; it is put back only when tracing has not stopped and the stack
 * table not been emptied meanwhile (counted in stale_stacks). No GIL needed. */
int hlpy_tracer_raw_take(void *ptr, hlpy_raw_taken *taken);
void hlpy_tracer_raw_put_back(void *ptr, const hlpy_raw_taken *taken);

#endif /* HLPY_TRACER_H */
