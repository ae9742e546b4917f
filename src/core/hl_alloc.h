/* hl_alloc.h - the core's allocator, with allocation failures on demand.
 *
 * Every allocation of src/core goes through hl_malloc, hl_calloc and
 * hl_realloc (and hl_big_* in big_alloc.c, which asks the same question), so
 * that every "returns -1 when out of memory" path can be run by a test.
 * They are libc's functions: heaplens hooks Python's allocator domains, never
 * libc, so core code may run inside an allocator hook without re-entering
 * the tracer.
 *
 * A release build is exactly libc (the wrappers are inline and vanish). A
 * build with HL_FAULT_INJECTION defined (meson -Dfault_injection=true, or
 * the core library that tests/c/test_out_of_memory.c links) can be told, as
 * SQLite's test harness does, to fail the Nth allocation from now, or the
 * Nth and every one after it until disarmed (fault.c). The knob is process
 * wide and safe to use from any thread: allocations are counted atomically.
 */
#ifndef HL_ALLOC_H
#define HL_ALLOC_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hl_common.h"

#ifdef HL_FAULT_INJECTION

/* 1 when the allocation being made must fail (it is the one armed for, or a
 * later one in persistent mode), else 0. Counts the allocation when armed. */
int hl_fault_should_fail(void);

/* Fail the nth core allocation from now (n >= 1), and, when persistent is
 * non-zero, every allocation after it too, until hl_fault_disarm(). Resets
 * the counts below. n = 0 disarms. */
void hl_fault_arm(uint64_t n, int persistent);

/* Stop failing allocations. The counts below keep their values. */
void hl_fault_disarm(void);

/* Allocations seen since the last hl_fault_arm() (made or failed). */
uint64_t hl_fault_seen(void);

/* Allocations failed on purpose since the last hl_fault_arm(). */
uint64_t hl_fault_injected(void);

HL_INLINE void *hl_malloc(size_t size) {
    return hl_fault_should_fail() ? NULL : malloc(size);
}

HL_INLINE void *hl_calloc(size_t count, size_t size) {
    return hl_fault_should_fail() ? NULL : calloc(count, size);
}

/* Like realloc: on failure ptr is left as it was. */
HL_INLINE void *hl_realloc(void *ptr, size_t size) {
    return hl_fault_should_fail() ? NULL : realloc(ptr, size);
}

#else /* a release build: libc, nothing else */

HL_INLINE void *hl_malloc(size_t size) {
    return malloc(size);
}

HL_INLINE void *hl_calloc(size_t count, size_t size) {
    return calloc(count, size);
}

HL_INLINE void *hl_realloc(void *ptr, size_t size) {
    return realloc(ptr, size);
}

#endif /* HL_FAULT_INJECTION */

HL_INLINE void hl_free(void *ptr) {
    free(ptr);
}

#endif /* HL_ALLOC_H */
