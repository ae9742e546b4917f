/* big_alloc.c - see big_alloc.h. */
#define _GNU_SOURCE 1 /* mremap */
#include "big_alloc.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#define HL__HUGE_THRESHOLD ((size_t)2 << 20)
#endif

void *hl_big_calloc(size_t size) {
#if defined(__linux__)
    if (size >= HL__HUGE_THRESHOLD) {
#ifdef HL_FAULT_INJECTION
        if (hl_fault_should_fail())
            return NULL;
#endif
        void *ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (ptr == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(ptr, size, MADV_HUGEPAGE); /* a hint; fine if refused */
#endif
        return ptr;
    }
#endif
    return hl_calloc(1, size ? size : 1);
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
    hl_free(ptr);
}

void *hl_big_realloc(void *ptr, size_t old_size, size_t new_size) {
    if (ptr == NULL)
        return hl_big_calloc(new_size);
#if defined(__linux__)
    if (old_size >= HL__HUGE_THRESHOLD && new_size >= HL__HUGE_THRESHOLD) {
#ifdef HL_FAULT_INJECTION
        if (hl_fault_should_fail())
            return NULL;
#endif
        void *moved = mremap(ptr, old_size, new_size, MREMAP_MAYMOVE);
        if (moved == MAP_FAILED)
            return NULL;
#ifdef MADV_HUGEPAGE
        (void)madvise(moved, new_size, MADV_HUGEPAGE);
#endif
        return moved; /* pages past old_size come zeroed */
    }
    if (old_size >= HL__HUGE_THRESHOLD || new_size >= HL__HUGE_THRESHOLD) {
        /* Crossing the threshold: copy between the two kinds of memory. */
        void *fresh = hl_big_calloc(new_size);
        if (fresh == NULL)
            return NULL;
        memcpy(fresh, ptr, old_size < new_size ? old_size : new_size);
        hl_big_free(ptr, old_size);
        return fresh;
    }
#endif
    void *grown = hl_realloc(ptr, new_size ? new_size : 1);
    if (grown != NULL && new_size > old_size)
        memset((char *)grown + old_size, 0, new_size - old_size);
    return grown;
}
