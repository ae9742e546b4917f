/* stack_merge.c - see stack_merge.h. */
#include "stack_merge.h"

size_t hl_stack_merge(const hl_frame_ref *python, const uintptr_t *python_anchors, size_t n_python,
                      const uintptr_t *native, const uintptr_t *native_cfas, size_t n_native,
                      hl_frame_ref *out, size_t max_out) {
    size_t n_out = 0, next_python = 0, python_end = 0;
    for (size_t i = 0; i < n_native && n_out < max_out; i++) {
        while (next_python < n_python && n_out < max_out && python_anchors[next_python] != 0 &&
               python_anchors[next_python] < native_cfas[i]) {
            out[n_out++] = python[next_python++];
            python_end = n_out;
        }
        if (n_out == max_out)
            break;
        out[n_out].code = (const void *)native[i];
        out[n_out].lasti = 0;
        out[n_out].reserved = HL_FRAME_NATIVE;
        n_out++;
    }
    while (next_python < n_python && n_out < max_out) {
        out[n_out++] = python[next_python++];
        python_end = n_out;
    }
    /* Native frames older than the oldest Python frame kept: the thread's
     * way into the interpreter (main, the C library's start routines). */
    return python_end > 0 ? python_end : n_out;
}
