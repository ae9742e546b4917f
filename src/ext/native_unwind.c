/* native_unwind.c - see native_unwind.h.
 *
 * The left-out ranges are written once, under the GIL, before any start()
 * that asks for native frames, and only read afterwards (hl_ready, with
 * release/acquire ordering, publishes them). */
#define _GNU_SOURCE
#include "native_unwind.h"

#include <Python.h>
#include <link.h>
#include <stdatomic.h>
#include <unwind.h>

#define HL__MAX_SKIPPED 8
/* Frames looked at, at most, kept or not (a deep recursion in C). */
#define HL__MAX_VISITED 512

typedef struct hl_code_range {
    uintptr_t start, end;
} hl_code_range;

static hl_code_range hl_skipped[HL__MAX_SKIPPED];
static int hl_n_skipped;
static atomic_int hl_ready;

/* dl_iterate_phdr callback: add the executable segments of the object that
 * holds *data's address to hl_skipped. */
static int hl__note_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uintptr_t address = *(uintptr_t *)data;
    int holds = 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        uintptr_t start = (uintptr_t)info->dlpi_addr + header->p_vaddr;
        if (header->p_type == PT_LOAD && address >= start && address < start + header->p_memsz)
            holds = 1;
    }
    if (!holds)
        return 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum && hl_n_skipped < HL__MAX_SKIPPED; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        if (header->p_type != PT_LOAD || !(header->p_flags & PF_X))
            continue;
        uintptr_t start = (uintptr_t)info->dlpi_addr + header->p_vaddr;
        hl_skipped[hl_n_skipped].start = start;
        hl_skipped[hl_n_skipped].end = start + header->p_memsz;
        hl_n_skipped++;
    }
    return 1;
}

int hlpy_native_unwind_init(void) {
    if (atomic_load_explicit(&hl_ready, memory_order_acquire))
        return 0;
    uintptr_t own = (uintptr_t)hlpy_native_unwind, python = (uintptr_t)PyMem_RawMalloc;
    hl_n_skipped = 0;
    if (dl_iterate_phdr(hl__note_object, &own) != 1 ||
        dl_iterate_phdr(hl__note_object, &python) != 1)
        return -1;
    atomic_store_explicit(&hl_ready, 1, memory_order_release);
    return 0;
}

HL_INLINE int hl__skipped(uintptr_t pc) {
    for (int i = 0; i < hl_n_skipped; i++)
        if (pc >= hl_skipped[i].start && pc < hl_skipped[i].end)
            return 1;
    return 0;
}

typedef struct hl_unwind_state {
    hlpy_native_frames *out;
    uintptr_t bound; /* 0: none */
    int visited;
} hl_unwind_state;

static _Unwind_Reason_Code hl__visit(struct _Unwind_Context *context, void *data) {
    hl_unwind_state *state = data;
    if (++state->visited > HL__MAX_VISITED)
        return _URC_END_OF_STACK;
    int before_instruction = 0;
    uintptr_t pc = (uintptr_t)_Unwind_GetIPInfo(context, &before_instruction);
    if (pc == 0)
        return _URC_END_OF_STACK;
    /* A return address points past the call; step back into it, unless
     * this frame was interrupted (a signal frame), where it is exact. */
    if (!before_instruction)
        pc--;
    uintptr_t cfa = (uintptr_t)_Unwind_GetCFA(context);
    if (state->bound != 0 && cfa > state->bound)
        return _URC_END_OF_STACK;
    if (hl__skipped(pc))
        return _URC_NO_REASON;
    hlpy_native_frames *out = state->out;
    out->pcs[out->n] = pc;
    out->cfas[out->n] = cfa;
    if (++out->n == HLPY_NATIVE_MAX_FRAMES)
        return _URC_END_OF_STACK;
    return _URC_NO_REASON;
}

int hlpy_native_unwind(hlpy_native_frames *out, uintptr_t bound) {
    out->n = 0;
    if (!atomic_load_explicit(&hl_ready, memory_order_acquire))
        return 0;
    hl_unwind_state state = {out, bound, 0};
    _Unwind_Backtrace(hl__visit, &state);
    return out->n;
}
