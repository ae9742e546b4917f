/* big_alloc.c - see big_alloc.h. */
#define _DEFAULT_SOURCE 1
#include "big_alloc.h"

#include <stdlib.h>

#if defined(__linux__)
#include <sys/mman.h>
#define HL__HUGE_THRESHOLD ((size_t)2 << 20)
#endif

void *hl_big_calloc(size_t size) {
#if defined(__linux__)
    if (size >= HL__HUGE_THRESHOLD) {
        void *ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ptr == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(ptr, size, MADV_HUGEPAGE); /* a hint; fine if refused */
#endif
        return ptr;
    }
#endif
    return calloc(1, size ? size : 1);
}

void hl_big_free(void *ptr, size_t size) {
    if (ptr == NULL)
        return;
#if defined(__linux__)
    if (size >= HL__HUGE_THRESHOLD) {
        munmap(ptr, size);
        return;
    }
#endif
    free(ptr);
}
