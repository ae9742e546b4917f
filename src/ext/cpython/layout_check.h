/* cpython/layout_check.h - refuse to read internals that moved.
 *
 * A heaplens built against one patch release of a minor version may be
 * imported by another (a wheel built on 3.14.10 run on 3.14.3, say), and
 * CPython changes internal layouts between patch releases (PyInterpreterState
 * did within 3.14). From 3.13 on, CPython publishes the offsets of the fields
 * debuggers read in _PyRuntime.debug_offsets; the import compares every one of
 * them that heaplens reads with the offsets it was compiled with, and refuses
 * with a message naming both versions when one differs. Before 3.13 nothing
 * is published; those series kept their layouts across patch releases, and the
 * check is of the minor version alone.
 *
 * Fields heaplens reads that are not published are checked by a probe instead
 * (objects.h: hl__free_lists_found; the interned table is verified where it
 * is used, heapwalk.c). The struct's own size is no guide: CPython's build
 * defines macros an extension does not see, and 3.15's PyInterpreterState
 * differs by 8 bytes after the fields read here.
 *
 * Included once, by the version file, after objects.h and after it has
 * defined HL__HAVE_DEBUG_OFFSETS (0 or 1).
 */
#ifndef HLPY_CPYTHON_LAYOUT_CHECK_H
#define HLPY_CPYTHON_LAYOUT_CHECK_H

#include <stdio.h>
#include <string.h>

const char *hlpy_cpython_built_version(void) {
    return PY_VERSION;
}

const char *hlpy_cpython_running_version(void) {
    static char text[32];
    if (text[0] == '\0')
        snprintf(text, sizeof(text), "%lu.%lu.%lu", (Py_Version >> 24) & 0xff,
                 (Py_Version >> 16) & 0xff, (Py_Version >> 8) & 0xff);
    return text;
}

/* Sets ImportError for a layout that differs in `what`; returns -1. */
static int hl__layout_differs(const char *what) {
    PyErr_Format(PyExc_ImportError,
                 "heaplens was built against CPython %s but runs on CPython %s, whose internal "
                 "layout differs (%s); reinstall heaplens with this interpreter "
                 "(pip install --force-reinstall --no-binary heaplens heaplens)",
                 hlpy_cpython_built_version(), hlpy_cpython_running_version(), what);
    return -1;
}

int hlpy_cpython_check_layout(void) {
    if ((Py_Version >> 16) != (PY_VERSION_HEX >> 16))
        return hl__layout_differs("another minor version");
#if HL__HAVE_DEBUG_OFFSETS
    const _Py_DebugOffsets *published = &_PyRuntime.debug_offsets;
    if (memcmp(published->cookie, _Py_Debug_Cookie, sizeof(published->cookie)) != 0)
        return hl__layout_differs("no debug offsets where they belong");
    struct {
        const char *what;
        uint64_t published, built;
    } fields[] = {
#define HL__FIELD(section, field, type, member)                                                    \
    {#type "." #member, published->section.field, offsetof(type, member)}
        HL__FIELD(interpreter_state, gc, PyInterpreterState, gc),
        HL__FIELD(thread_state, current_frame, PyThreadState, current_frame),
        HL__FIELD(thread_state, thread_id, PyThreadState, thread_id),
        HL__FIELD(interpreter_frame, previous, _PyInterpreterFrame, previous),
        HL__FIELD(interpreter_frame, executable, _PyInterpreterFrame, f_executable),
        HL__FIELD(interpreter_frame, instr_ptr, _PyInterpreterFrame, instr_ptr),
        HL__FIELD(interpreter_frame, localsplus, _PyInterpreterFrame, localsplus),
        HL__FIELD(interpreter_frame, owner, _PyInterpreterFrame, owner),
        HL__FIELD(code_object, localsplusnames, PyCodeObject, co_localsplusnames),
        HL__FIELD(code_object, localspluskinds, PyCodeObject, co_localspluskinds),
        HL__FIELD(code_object, co_code_adaptive, PyCodeObject, co_code_adaptive),
        HL__FIELD(gc, collecting, struct _gc_runtime_state, collecting),
#undef HL__FIELD
        {"sizeof(_PyInterpreterFrame)", published->interpreter_frame.size,
         sizeof(_PyInterpreterFrame)},
        {"sizeof(struct _gc_runtime_state)", published->gc.size, sizeof(struct _gc_runtime_state)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].published != fields[i].built) {
            char what[160];
            snprintf(what, sizeof(what), "%s is at %llu, not %llu", fields[i].what,
                     (unsigned long long)fields[i].published, (unsigned long long)fields[i].built);
            return hl__layout_differs(what);
        }
    }
    /* What is read but not published is found by a probe. */
    if (!hl__free_lists_found())
        return hl__layout_differs("the float free list is not in PyInterpreterState where "
                                  "heaplens reads it");
#endif
    return 0;
}

#endif /* HLPY_CPYTHON_LAYOUT_CHECK_H */
