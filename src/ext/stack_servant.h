/* stack_servant.h - the Python stack of a RAW allocation made by a thread
 * that does not hold the GIL, read without that thread ever waiting for the
 * GIL.
 *
 * PyMem_RawMalloc may be called with no thread state attached by a thread
 * that holds a lock of its own, while the GIL's holder waits for that lock: a
 * C extension's mutex, or the table lock of the stdlib tracemalloc of 3.15,
 * which calls the RAW allocator under it. A RAW hook that waited for the GIL
 * there hung both threads for ever (CPython's RAW-domain contract forbids
 * it; gh-155725 is the same defect in tracemalloc). So the hook never waits
 * for the GIL itself. It reads its own frames (they cannot change meanwhile:
 * only this thread pushes and pops them, and it is inside the hook; the code
 * objects live as long as the frames) and looks them up in a cache of the
 * stacks already interned in this stack epoch (stack_cache.h): a repeated
 * allocation site needs no GIL at all. On a miss it asks the servant, a
 * helper thread with a thread state of its own, to take the GIL and intern
 * the asking thread's stack, waits for the answer a bounded time only
 * (HLPY_STACK_SERVANT_WAIT_MS), and caches it. When no answer comes in time,
 * the asker records its block without frames; a GIL holder blocked on the
 * asker's lock gets that lock as soon as the asker returns.
 *
 * One servant per process, started by the first ask (so a program whose
 * threads never release the GIL to allocate never has one, and heaplens
 * adds no thread that allocates beside the program's), kept across stop()
 * and start(), started again by the first ask in a forked child (which has
 * no copy of the thread), told to quit at exit, before the interpreter goes,
 * after which it never touches the interpreter again. Its own allocations
 * are not traced.
 *
 * Locking: the servant's lock guards the queue of requests, each request's
 * state and the servant's running/quitting flags; the cache's lock guards
 * the cache. Neither is ever held while waiting for the GIL or for the
 * other, and the GIL may be held while taking either (the servant does).
 * Fork handlers hold both across fork().
 */
#ifndef HLPY_STACK_SERVANT_H
#define HLPY_STACK_SERVANT_H

#include <Python.h>
#include <stdint.h>

#include "hl_common.h"
#include "stack_table.h"

/* How long an asker waits for its stack. A GIL held by busy Python threads is
 * handed over after one switch interval (5 ms by default), so this covers
 * about ten threads contending for it; a GIL held longer than this in one C
 * call (or by a thread that waits for the asker) costs the asker its frames,
 * not a hang. */
#define HLPY_STACK_SERVANT_WAIT_MS 50

/* Reads the stack of `tstate` (a thread state of the main interpreter, not
 * attached, whose thread is waiting in hlpy_stack_servant_capture) and its
 * stack epoch. Runs on the servant, with the GIL. Returns 0, or -1 (nothing
 * stored) when the stack could not be recorded. */
typedef int (*hlpy_stack_reader)(PyThreadState *tstate, hl_stack_id *id_out, uint64_t *epoch_out);

/* Interns the `n_frames` frames `frames` (total depth `total_nframe`) that an
 * asker read in stack epoch `epoch`, if that is still the current one, and
 * stores the id and that epoch. Runs on the servant, with the GIL. Returns
 * 0, or -1 (nothing stored) when the stack could not be recorded. */
typedef int (*hlpy_stack_interner)(const hl_frame_ref *frames, uint16_t n_frames,
                                   uint16_t total_nframe, uint64_t epoch, hl_stack_id *id_out,
                                   uint64_t *epoch_out);

/* How many frames a stack may keep (the start's traceback limit) for the
 * cache to be used; beyond that every ask goes to the servant. The asker
 * captures them on its own C stack: 16 bytes each. */
#define HLPY_STACK_CACHE_MAX_FRAMES 64

/* Set up what outlives every servant (the fork handlers, the clock of the
 * waits, the cache) and name the reader and the interner that answer asks. Returns 0, or -1 with
 * an exception set. GIL, once per process. */
HL_WARN_UNUSED int hlpy_stack_servant_init_once(hlpy_stack_reader read, hlpy_stack_interner intern);

typedef enum hlpy_ask_result {
    HLPY_ASK_ANSWERED,   /* *id_out and *epoch_out are set */
    HLPY_ASK_FAILED,     /* the reader could not record the stack */
    HLPY_ASK_UNANSWERED, /* no servant runs, or no answer in time */
    HLPY_ASK_UNSAFE,     /* not in the cache, and not asked: the caller is
                          * heaplens's RAW hook, another tool's RAW hook is on
                          * top of it and may have called it under a lock of
                          * its own that the GIL's holder waits for (the
                          * stdlib tracemalloc of 3.15 does): every ask
                          * would time out */
} hlpy_ask_result;

/* The stack id of `tstate`, the calling thread's own state, which is not
 * attached on it, for a block recorded by heaplens's RAW hook when
 * from_raw_hook, else by another entry (PyTraceMalloc_Track, which no other
 * tool's allocator calls): from the cache for stack epoch `epoch`, whose start keeps
 * `nframe` frames; else have the servant read it, waiting for the answer at
 * most HLPY_STACK_SERVANT_WAIT_MS (and starting the servant first when none
 * runs in this process: one that cannot be started leaves the ask
 * unanswered). Any thread of the main interpreter that does not hold the
 * GIL, not while the interpreter finalizes; never waits for the GIL.
 * Nothing is stored unless the result is HLPY_ASK_ANSWERED; *epoch_out is
 * the epoch of the id, which the caller checks before recording it. */
HL_WARN_UNUSED hlpy_ask_result hlpy_stack_servant_ask(PyThreadState *tstate, int from_raw_hook,
                                                      uint64_t epoch, int nframe,
                                                      hl_stack_id *id_out, uint64_t *epoch_out);

/* The stack id of `frames` (n_frames frames, total depth total_nframe),
 * which the calling thread read itself: its Python frames merged with its
 * native ones, or native frames alone on a thread with no Python state. As
 * hlpy_stack_servant_ask: found in the cache of this `epoch`, else interned
 * by the servant within the bounded wait. The frames' code objects must stay
 * alive until it returns (they are the caller's own frames'). Never waits
 * for the GIL. */
HL_WARN_UNUSED hlpy_ask_result hlpy_stack_servant_intern(const hl_frame_ref *frames,
                                                         uint16_t n_frames, uint16_t total_nframe,
                                                         uint64_t epoch, hl_stack_id *id_out,
                                                         uint64_t *epoch_out);

/* Bytes of memory the stack cache holds. Any thread. */
size_t hlpy_stack_servant_memory(void);

/* Tell the servant to end, for good: the interpreter is exiting. Any
 * thread; does not wait for it. */
void hlpy_stack_servant_quit(void);

#endif /* HLPY_STACK_SERVANT_H */
