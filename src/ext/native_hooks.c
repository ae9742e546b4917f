/* native_hooks.c - the wrappers of the malloc family and mmap (see
 * native_hooks.h). */
#define _GNU_SOURCE
#include "native_hooks.h"

#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hooks.h"
#include "redirect.h"
#include "sampling.h"
#include "tracer.h"

/* 1 while native blocks are recorded. Written under the GIL by start and
 * stop; read by every wrapper, relaxed (a block recorded just after stop is
 * dropped by the tracer, which checks `tracing` under its lock). */
static atomic_int hl_recording;

HL_INLINE int hl__recording(void) {
    return atomic_load_explicit(&hl_recording, memory_order_relaxed);
}

/* Record a new block, unless this thread is inside heaplens's own work. */
static void hl__record(void *ptr, size_t size) {
    int previous = hlpy_hooks_suspend();
    if (!previous)
        hlpy_tracer_tracked_alloc(HLPY_NATIVE_DOMAIN, (uintptr_t)ptr, size);
    hlpy_hooks_resume(previous);
}

/* Forget a block about to be freed (whoever frees it: frees are never
 * skipped, a trace left behind would be stale). */
HL_INLINE void hl__forget(void *ptr) {
    if (ptr != NULL && hl__recording() && hlpy_sampling_maybe_raw(ptr))
        (void)hlpy_tracer_tracked_free(HLPY_NATIVE_DOMAIN, (uintptr_t)ptr);
}

static void *hlpy_native_malloc(size_t size) {
    void *ptr = malloc(size);
    if (ptr != NULL && hl__recording())
        hl__record(ptr, size);
    return ptr;
}

static void *hlpy_native_calloc(size_t count, size_t size) {
    void *ptr = calloc(count, size);
    if (ptr != NULL && hl__recording())
        hl__record(ptr, count * size); /* calloc checked the product */
    return ptr;
}

static void hlpy_native_free(void *ptr) {
    hl__forget(ptr);
    free(ptr);
}

static void *hlpy_native_realloc(void *ptr, size_t size) {
    if (!hl__recording())
        return realloc(ptr, size);
    hlpy_raw_taken taken;
    int had = ptr != NULL && hlpy_sampling_maybe_raw(ptr) &&
              hlpy_tracer_tracked_take(HLPY_NATIVE_DOMAIN, (uintptr_t)ptr, &taken);
    void *moved = realloc(ptr, size);
    if (moved != NULL) {
        hl__record(moved, size);
    } else if (had && size != 0) {
        /* Failed: the old block lives on. (realloc(ptr, 0) freed it.) */
        int saved_errno = errno;
        hlpy_tracer_tracked_put_back(HLPY_NATIVE_DOMAIN, (uintptr_t)ptr, &taken);
        errno = saved_errno;
    }
    return moved;
}

static int hlpy_native_posix_memalign(void **out, size_t alignment, size_t size) {
    int result = posix_memalign(out, alignment, size);
    if (result == 0 && hl__recording())
        hl__record(*out, size);
    return result;
}

static void *hlpy_native_aligned_alloc(size_t alignment, size_t size) {
    void *ptr = aligned_alloc(alignment, size);
    if (ptr != NULL && hl__recording())
        hl__record(ptr, size);
    return ptr;
}

static void *hlpy_native_memalign(size_t alignment, size_t size) {
    void *ptr = memalign(alignment, size);
    if (ptr != NULL && hl__recording())
        hl__record(ptr, size);
    return ptr;
}

static void *hlpy_native_valloc(size_t size) {
    void *ptr = valloc(size);
    if (ptr != NULL && hl__recording())
        hl__record(ptr, size);
    return ptr;
}

/* pvalloc rounds the size up to whole pages. */
static size_t hl__page_rounded(size_t size) {
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    return size == 0 ? page : (size + page - 1) / page * page;
}

static void *hlpy_native_pvalloc(size_t size) {
    void *ptr = pvalloc(size);
    if (ptr != NULL && hl__recording())
        hl__record(ptr, hl__page_rounded(size));
    return ptr;
}

static void *hlpy_native_mmap(void *addr, size_t length, int prot, int flags, int fd,
                              off_t offset) {
    void *ptr = mmap(addr, length, prot, flags, fd, offset);
    if (ptr != MAP_FAILED && (flags & MAP_ANONYMOUS) && hl__recording())
        hl__record(ptr, hl__page_rounded(length));
    return ptr;
}

/* Forget the pages [addr, addr + length) of a recorded mapping that starts
 * at addr; what is left of it past them stays recorded, with its stack. An
 * unmap that starts inside a recorded mapping is not followed. */
static void hl__forget_pages(void *addr, size_t length) {
    if (!hl__recording() || !hlpy_sampling_maybe_raw(addr))
        return;
    hlpy_raw_taken taken;
    if (!hlpy_tracer_tracked_take(HLPY_NATIVE_DOMAIN, (uintptr_t)addr, &taken))
        return;
    size_t gone = hl__page_rounded(length);
    if (taken.size > gone) {
        taken.size -= gone;
        hlpy_tracer_tracked_put_back(HLPY_NATIVE_DOMAIN, (uintptr_t)addr + gone, &taken);
    }
}

static int hlpy_native_munmap(void *addr, size_t length) {
    int saved_errno = errno;
    hl__forget_pages(addr, length);
    errno = saved_errno;
    return munmap(addr, length);
}

static void *hlpy_native_mremap(void *old, size_t old_size, size_t new_size, int flags, ...) {
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list args;
        va_start(args, flags);
        new_address = va_arg(args, void *);
        va_end(args);
    }
    if (!hl__recording())
        return mremap(old, old_size, new_size, flags, new_address);
    hlpy_raw_taken taken;
    int had = hlpy_sampling_maybe_raw(old) &&
              hlpy_tracer_tracked_take(HLPY_NATIVE_DOMAIN, (uintptr_t)old, &taken);
    void *moved = mremap(old, old_size, new_size, flags, new_address);
    int saved_errno = errno;
    if (moved != MAP_FAILED && had) {
        taken.size = hl__page_rounded(new_size);
        hlpy_tracer_tracked_put_back(HLPY_NATIVE_DOMAIN, (uintptr_t)moved, &taken);
    } else if (had) {
        hlpy_tracer_tracked_put_back(HLPY_NATIVE_DOMAIN, (uintptr_t)old, &taken);
    }
    errno = saved_errno;
    return moved;
}

/* ---- threads native code starts ------------------------------------------ */

/* What a thread that native code starts needs before its own routine: that
 * routine, and its creator's stack (tracer.h). Freed by the thread-specific
 * key's destructor when the thread ends (returned, pthread_exit, or
 * cancelled), so it is not tied to the routine returning. */
typedef struct hl_thread_start {
    void *(*routine)(void *);
    void *argument;
    hlpy_creator_stack creator;
} hl_thread_start;

static pthread_key_t hl_start_key;
static pthread_once_t hl_start_key_once = PTHREAD_ONCE_INIT;
static int hl_start_key_made;

static void hl__free_start(void *start) {
    hlpy_tracer_set_creator_stack(NULL);
    free(start);
}

static void hl__make_start_key(void) {
    hl_start_key_made = pthread_key_create(&hl_start_key, hl__free_start) == 0;
}

static void *hl__thread_begins(void *data) {
    hl_thread_start *start = data;
    void *(*routine)(void *) = start->routine;
    void *argument = start->argument;
    if (pthread_setspecific(hl_start_key, start) == 0) {
        hlpy_tracer_set_creator_stack(&start->creator);
    } else {
        free(start); /* no destructor would free it: no creator's stack */
    }
    return routine(argument);
}

/* A thread native code starts gets its creator's Python stack (native_hooks.h),
 * when recording. Without one (not recording, no Python frames, no memory)
 * the thread starts as it would have. */
static int hlpy_native_pthread_create(pthread_t *thread, const pthread_attr_t *attributes,
                                      void *(*routine)(void *), void *argument) {
    if (hl__recording()) {
        int saved_errno = errno;
        (void)pthread_once(&hl_start_key_once, hl__make_start_key);
        hl_thread_start *start = hl_start_key_made ? malloc(sizeof *start) : NULL;
        if (start != NULL) {
            int previous = hlpy_hooks_suspend();
            int have = hlpy_tracer_creator_stack(&start->creator);
            hlpy_hooks_resume(previous);
            if (have) {
                start->routine = routine;
                start->argument = argument;
                errno = saved_errno;
                int result = pthread_create(thread, attributes, hl__thread_begins, start);
                if (result != 0)
                    free(start);
                return result;
            }
            free(start);
        }
        errno = saved_errno;
    }
    return pthread_create(thread, attributes, routine, argument);
}

static const hlpy_redirect hl_native_redirects[] = {
    {"malloc", (void *)hlpy_native_malloc, (void *)malloc},
    {"calloc", (void *)hlpy_native_calloc, (void *)calloc},
    {"realloc", (void *)hlpy_native_realloc, (void *)realloc},
    {"free", (void *)hlpy_native_free, (void *)free},
    {"posix_memalign", (void *)hlpy_native_posix_memalign, (void *)posix_memalign},
    {"aligned_alloc", (void *)hlpy_native_aligned_alloc, (void *)aligned_alloc},
    {"memalign", (void *)hlpy_native_memalign, (void *)memalign},
    {"valloc", (void *)hlpy_native_valloc, (void *)valloc},
    {"pvalloc", (void *)hlpy_native_pvalloc, (void *)pvalloc},
    {"mmap", (void *)hlpy_native_mmap, (void *)mmap},
#if UINTPTR_MAX == UINT64_MAX
    {"mmap64", (void *)hlpy_native_mmap, (void *)mmap64}, /* the same function on 64-bit targets */
#endif
    {"munmap", (void *)hlpy_native_munmap, (void *)munmap},
    {"mremap", (void *)hlpy_native_mremap, (void *)mremap},
    {"pthread_create", (void *)hlpy_native_pthread_create, (void *)pthread_create},
};

int hlpy_native_hooks_on(void) {
    int result = hlpy_redirect_add(hl_native_redirects,
                                   sizeof hl_native_redirects / sizeof hl_native_redirects[0], 1);
    atomic_store(&hl_recording, 1);
    return result;
}

void hlpy_native_hooks_off(void) {
    atomic_store(&hl_recording, 0);
}

int hlpy_native_hooks_recording(void) {
    return hl__recording();
}
