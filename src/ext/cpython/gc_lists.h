/* cpython/gc_lists.h - the collector's lists, as every GIL build keeps them.
 *
 * Included once, by the version file (py3_NN.c), after it has included
 * CPython's internal headers and defined:
 *
 *   hl__lists_examined(max_generation)
 *                       how many of gcstate->generations[] a collection of
 *                       `max_generation` examines (0..NUM_GENERATIONS)
 *   HL__VISIT_WITH_PUBLIC_API
 *                       1 when PyUnstable_GC_VisitObjects exists (3.12+)
 *
 * The lists are read through PyInterpreterState.gc, whose offset the layout
 * check (layout_check.h) verified against the running interpreter where
 * CPython publishes it.
 */
#ifndef HLPY_CPYTHON_GC_LISTS_H
#define HLPY_CPYTHON_GC_LISTS_H

int hlpy_cpython_visit_young_generations(int max_generation, hlpy_gc_object_visitor visit,
                                         void *arg) {
    struct _gc_runtime_state *gcstate = &PyInterpreterState_Main()->gc;
    if (max_generation < 0)
        return 0;
    if (max_generation >= NUM_GENERATIONS)
        max_generation = NUM_GENERATIONS - 1;
    int n_lists = hl__lists_examined(max_generation);
    for (int list = 0; list < n_lists; list++) {
        PyGC_Head *head = &gcstate->generations[list].head;
        for (PyGC_Head *gc = _PyGCHead_NEXT(head); gc != head; gc = _PyGCHead_NEXT(gc)) {
            if (visit((PyObject *)(gc + 1), arg) < 0)
                return -1;
        }
    }
    return 0;
}

#if HL__VISIT_WITH_PUBLIC_API
typedef struct hl__gc_visit {
    hlpy_gc_object_visitor visit;
    void *arg;
    int stopped;
} hl__gc_visit;

/* PyUnstable_GC_VisitObjects's callback: 1 to go on, 0 to stop. */
static int hl__gc_visit_one(PyObject *obj, void *arg) {
    hl__gc_visit *state = arg;
    if (state->visit(obj, state->arg) < 0) {
        state->stopped = 1;
        return 0;
    }
    return 1;
}

int hlpy_cpython_visit_gc_objects(hlpy_gc_object_visitor visit, void *arg) {
    /* Public (unstable) API: it disables the collector meanwhile. */
    hl__gc_visit state = {visit, arg, 0};
    PyUnstable_GC_VisitObjects(hl__gc_visit_one, &state);
    return state.stopped ? -1 : 0;
}
#else
int hlpy_cpython_visit_gc_objects(hlpy_gc_object_visitor visit, void *arg) {
    /* What gc.get_objects() walks: the lists of every generation. */
    return hlpy_cpython_visit_young_generations(NUM_GENERATIONS - 1, visit, arg);
}
#endif

size_t hlpy_cpython_gc_long_lived_total(void) {
    Py_ssize_t total = PyInterpreterState_Main()->gc.long_lived_total;
    return total > 0 ? (size_t)total : 0;
}

#endif /* HLPY_CPYTHON_GC_LISTS_H */
