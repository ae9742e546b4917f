/* hooks.h - heaplens's wrappers around Python's three allocator domains. */
#ifndef HLPY_HOOKS_H
#define HLPY_HOOKS_H

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
 * allocators that were in place before install, for each domain whose current
 * allocator is still heaplens's own. A domain that another tool hooked on top
 * of ours keeps our wrapper, which passes calls straight through while not
 * tracing. Needs the GIL. */
void hlpy_hooks_uninstall(hlpy_hook_user user);

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
