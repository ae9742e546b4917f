/* fault.c - the allocation-failure knob of a fault-injection build (see
 * hl_alloc.h). Compiled to nothing in a release build.
 *
 * State: target (0 = disarmed, else the 1-based index of the allocation to
 * fail), persistent, and the two counts. All are atomics with relaxed order:
 * the knob is set by a test while no other thread allocates in the core, or
 * by a Python test that only needs "some allocation after this point fails";
 * no other memory is published through them.
 */
#include "hl_alloc.h"

#ifdef HL_FAULT_INJECTION

#include <stdatomic.h>

static _Atomic uint64_t hl__fault_target;
static _Atomic int hl__fault_persistent;
static _Atomic uint64_t hl__fault_seen_count;
static _Atomic uint64_t hl__fault_injected_count;

int hl_fault_should_fail(void) {
    uint64_t target = atomic_load_explicit(&hl__fault_target, memory_order_relaxed);
    if (HL_LIKELY(target == 0))
        return 0;
    uint64_t index = atomic_fetch_add_explicit(&hl__fault_seen_count, 1, memory_order_relaxed) + 1;
    if (index == target ||
        (index > target && atomic_load_explicit(&hl__fault_persistent, memory_order_relaxed))) {
        atomic_fetch_add_explicit(&hl__fault_injected_count, 1, memory_order_relaxed);
        return 1;
    }
    return 0;
}

void hl_fault_arm(uint64_t n, int persistent) {
    atomic_store_explicit(&hl__fault_target, 0, memory_order_relaxed);
    atomic_store_explicit(&hl__fault_seen_count, 0, memory_order_relaxed);
    atomic_store_explicit(&hl__fault_injected_count, 0, memory_order_relaxed);
    atomic_store_explicit(&hl__fault_persistent, persistent != 0, memory_order_relaxed);
    atomic_store_explicit(&hl__fault_target, n, memory_order_relaxed);
}

void hl_fault_disarm(void) {
    atomic_store_explicit(&hl__fault_target, 0, memory_order_relaxed);
}

uint64_t hl_fault_seen(void) {
    return atomic_load_explicit(&hl__fault_seen_count, memory_order_relaxed);
}

uint64_t hl_fault_injected(void) {
    return atomic_load_explicit(&hl__fault_injected_count, memory_order_relaxed);
}

#else

typedef int hl__fault_injection_is_off; /* ISO C wants a declaration in every file */

#endif /* HL_FAULT_INJECTION */
