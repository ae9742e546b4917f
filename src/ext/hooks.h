/* hooks.h - heaplens's wrappers around Python's three allocator domains. */
#ifndef HLPY_HOOKS_H
#define HLPY_HOOKS_H

#include <Python.h> /* first, as Python.h wants; it brings <stdint.h> */

#include "hl_common.h"

/* Who needs the wrappers in place: they stay installed while any user does. */
typedef enum hlpy_hook_user {
    HLPY_HOOK_USER_TRACER = 1,   /* the allocation tracer */
    HLPY_HOOK_USER_GC_WATCH = 2, /* the gc monitor, which watches frees */
} hlpy_hook_user;

/* Put heaplens's wrappers in front of the RAW, MEM and OBJ allocators on
 * behalf of `user`. When they are still installed (for another user, or from
 * an earlier start that someone else hooked on top of), reuse them. Needs the
 * GIL. */
void hlpy_hooks_install(hlpy_hook_user user);

/* `user` no longer needs the wrappers. When no user does, restore the
 * allocators that were in place before install, for the MEM and OBJ domains
 * where the current allocator is still heaplens's own (the RAW wrapper
 * stays, passing calls through: see hooks.c). A domain that another tool hooked on top
 * of ours keeps our wrapper, which passes calls straight through while not
 * tracing. Needs the GIL. */
void hlpy_hooks_uninstall(hlpy_hook_user user);

/* Whether each domain whose wrapper is installed still reaches it: a small
 * block is allocated and freed in each. When another tool has set its own
 * allocator over ours without calling ours (the stdlib tracemalloc, started
 * before heaplens and stopped after, puts back what it found), our wrapper is
 * put back in front of what is there now, `hooks_lost` counts it, and a
 * RuntimeWarning says so. Returns 0 when nothing was lost, 1 when something
 * was put back, -1 when the warning raised (the hooks are back all the same).
 * Needs the GIL; for the public functions that read or change the tracer. */
HL_WARN_UNUSED int hlpy_hooks_check(void);

/* For a thread that runs periodically with no thread state (the timeline
 * thread of `heaplens run`): look, without the GIL and without allocating,
 * at the RAW domain's allocator (another tool that takes the chain away
 * takes all three domains); only when something other than our wrapper, or
 * the tool last seen calling it, is on top, take the GIL and run
 * hlpy_hooks_check(), its warning reported as unraisable if it raises.
 * Nothing runs in the main thread's place. Never waits for the GIL on a
 * thread that has a state attached or while the interpreter finalizes. */
void hlpy_hooks_check_without_gil(void);

/* 1 when the RAW allocator on top of the chain is not heaplens's wrapper:
 * another tool wraps it and may call it under a lock of its own (the stdlib
 * tracemalloc of 3.15 does), so the wrapper must not even wait a bounded time
 * for the GIL. Any thread; allocates nothing. */
int hlpy_hooks_raw_wrapped(void);

/* How many times a wrapper was found out of the chain and put back. */
uint64_t hlpy_hooks_lost(void);

/* Called for every free of an OBJ-domain block (moved = 0), before the block
 * is given back and while the tracer's trace of it is still there; and for
 * the old address of an OBJ block that a realloc moved (moved = 1), after the
 * move. The GIL is held. It must not allocate through Python's allocators or
 * run Python code. */
typedef void (*hlpy_free_observer)(void *ptr, int moved);

/* Install `observer` (NULL: none). The wrappers must be installed for it to
 * see anything. Needs the GIL. */
void hlpy_hooks_set_free_observer(hlpy_free_observer observer);

/* Have the tracer told of every object the interpreter creates, one taken
 * from a free list included (hlpy_tracer_py_new_object), where the running
 * version can say so (PyRefTracer, 3.13 and later; elsewhere these do
 * nothing). A tracer installed before is called after ours. Stopping puts
 * that one back when ours is still the one installed; when another tool has
 * installed its own since, ours stays under it and passes events through
 * while not tracing. Need the GIL. */
void hlpy_hooks_watch_new_objects(void);
void hlpy_hooks_unwatch_new_objects(void);

/* Make this thread's allocations bypass the tracer until hlpy_hooks_resume()
 * is called with the returned value. heaplens's own work (building snapshots)
 * runs like this, so it never records itself and never grows the tables it is
 * reading. Any thread; never fails. */
int hlpy_hooks_suspend(void);
void hlpy_hooks_resume(int previous);

#endif /* HLPY_HOOKS_H */
