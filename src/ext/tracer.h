/* tracer.h - the allocation tracer's state and its recording paths.
 *
 * Two live tables: MEM and OBJ blocks, whose hooks always run with the GIL
 * held, live in py_blocks with no lock of their own; RAW blocks, whose hooks
 * may run without the GIL (frees always may), live in raw_blocks under
 * raw_lock. The stack table is protected by the GIL: a RAW allocation from a
 * thread without the GIL takes the GIL to capture its stack, as CPython's
 * tracemalloc does, but only when the thread has a thread state and the
 * interpreter is not finalizing; otherwise it is recorded with no frames.
 * Only the main interpreter is traced (see hl__traced_interpreter).
 *
 * raw_lock is never held while waiting for the GIL, and no Python code runs
 * while it is held, so the two locks cannot deadlock.
 */
#ifndef HLPY_TRACER_H
#define HLPY_TRACER_H

#include <Python.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "live_table.h"
#include "snapshot_data.h"
#include "stack_table.h"

typedef enum hlpy_alloc_domain {
    HLPY_DOMAIN_RAW = 0,
    HLPY_DOMAIN_MEM = 1,
    HLPY_DOMAIN_OBJ = 2,
} hlpy_alloc_domain;

#define HLPY_RECENT_STACKS_LOG2 8
#define HLPY_RECENT_STACKS (1 << HLPY_RECENT_STACKS_LOG2)

typedef struct hlpy_tracer {
    /* 1 while tracing. Written with the GIL held (and raw_lock, so RAW hooks
     * can re-check it under the lock); read by every hook. */
    atomic_int tracing;

    /* Protected by the GIL. */
    int nframe;                 /* traceback limit; kept after stop() */
    hl_live_table py_blocks;    /* MEM and OBJ blocks */
    hl_stack_table stacks;      /* every stack a live or past block used */
    hl_frame_ref *frame_buffer; /* nframe entries, scratch for captures */
    /* Recently seen stacks, by the hash of their top frame: id + 1, 0 = none.
     * Allocation sites alternate (a loop body has several), so a one-entry
     * "same as last time" cache misses; this one rarely does. */
    uint32_t recent_stacks[HLPY_RECENT_STACKS];
    hl_stack_id empty_stack; /* the stack with no Python frame */
    /* Bumped whenever stacks are released (stop, clear): a stack id kept
     * from an older epoch means nothing. */
    uint64_t stack_epoch;
    /* The highest block generation (live_table.h) handed out to a leak hunt
     * since tracing started; 0: none. */
    uint16_t last_generation;
    PyInterpreterState *main_interpreter; /* the only one traced */

    /* Protected by raw_lock. */
    pthread_mutex_t raw_lock;
    hl_live_table raw_blocks;

    /* Atomics, updated from both sides. */
    _Atomic uint64_t raw_bytes;      /* mirrors raw_blocks.total_bytes */
    _Atomic uint64_t peak_bytes;     /* highest traced total seen */
    _Atomic uint64_t dropped;        /* blocks not recorded: a table could not grow */
    _Atomic uint64_t unknown_stacks; /* RAW blocks recorded without frames */
} hlpy_tracer;

extern hlpy_tracer hlpy_tracer_state;

/* Set up the parts of the state that outlive start/stop (the lock, the fork
 * handlers). Called once at module import. Returns 0, or -1 with an exception. */
int hlpy_tracer_init_once(void);

/* Start tracing with traceback limit nframe (1..65535, checked by the caller).
 * Does nothing when already tracing. Returns 0, or -1 with an exception set.
 * Needs the GIL. */
int hlpy_tracer_start(int nframe);

/* Stop tracing, unhook the allocators where possible, and free every trace,
 * stack and code reference the tracer held. Needs the GIL. */
void hlpy_tracer_stop(void);

/* Forget every trace and stack but keep tracing. Needs the GIL. */
void hlpy_tracer_clear(void);

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
int hlpy_tracer_reserve_generations(int count, uint16_t *first_out);

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

/* For a RAW realloc: remove ptr's trace and return 1 with its size and stack
 * word when it was traced; put it back with hlpy_tracer_raw_put_back() if the
 * realloc fails, since the old block then lives on. No GIL needed. */
int hlpy_tracer_raw_take(void *ptr, uint64_t *size_out, uint32_t *stack_word_out);
void hlpy_tracer_raw_put_back(void *ptr, uint64_t size, uint32_t stack_word);

#endif /* HLPY_TRACER_H */
