/* hooks.h - heaplens's wrappers around Python's three allocator domains. */
#ifndef HLPY_HOOKS_H
#define HLPY_HOOKS_H

/* Put heaplens's wrappers in front of the RAW, MEM and OBJ allocators. When
 * they are still installed from an earlier start (someone else hooked on top
 * of them, so stop() had to leave them in place), reuse them. Needs the GIL. */
void hlpy_hooks_install(void);

/* Restore the allocators that were in place before install, for each domain
 * whose current allocator is still heaplens's own. A domain that another tool
 * hooked on top of ours keeps our wrapper, which passes calls straight through
 * while not tracing. Needs the GIL. */
void hlpy_hooks_uninstall(void);

/* Make this thread's allocations bypass the tracer until hlpy_hooks_resume()
 * is called with the returned value. heaplens's own work (building snapshots)
 * runs like this, so it never records itself and never grows the tables it is
 * reading. Any thread; never fails. */
int hlpy_hooks_suspend(void);
void hlpy_hooks_resume(int previous);

#endif /* HLPY_HOOKS_H */
