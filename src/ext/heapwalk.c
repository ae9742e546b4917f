/* heapwalk.c - the heap walk (see heapwalk.h and docs/heap-graph.md).
 *
 * Order of node ids: the tracked objects in the collector's (gc.get_objects())
 * order, then one
 * virtual node per executing frame, then untracked objects in the order the
 * walk first meets them. Nodes are traversed in id order, so the CSR edges
 * come out in order with no sorting. Nothing here runs Python code once the
 * collector's objects are listed, to the end of the walk: tp_traverse, type lookups, dict
 * iteration over sys.modules and C __sizeof__ functions only.
 */
#include "heapwalk.h"

#include "opaque_containers.h"

#include "cpython/internals.h"

/* Nodes and edges queued before their lookups are resolved together. */
#define HL_FLUSH_NODES 512
#define HL_FLUSH_EDGES 1024

typedef struct hl_walk {
    hlpy_heap *heap;
    PyObject **pending; /* children visited, not yet resolved to node ids */
    size_t n_pending, pending_capacity;
    uint32_t counts[HL_FLUSH_NODES]; /* how many of them each unclosed node has */
    size_t n_counts;
    int untracked;
    int failed; /* set by a visit that ran out of memory */
    PyObject *skip_frames_under;
    PyTypeObject *ignore_type;
    PyObject **unseen; /* locals of skipped frames, borrowed during the walk */
    size_t n_unseen, unseen_capacity;
    PyObject **tracked_list; /* the collector's objects, owned until they are nodes */
    size_t n_tracked_list, tracked_capacity;
} hl_walk;

/* The node of `obj`, adding it when the walk includes untracked objects.
 * Returns 0 with *id_out set, 1 when obj is not in the graph (and is not to be
 * added), -1 when out of memory. The object's header is read only when it is
 * new. */
static int hl__node_for(hl_walk *walk, PyObject *obj, hl_node_id *id_out) {
    hl_graph *graph = walk->heap->graph;
    *id_out = hl_graph_find(graph, (uint64_t)(uintptr_t)obj);
    if (*id_out != HL_NODE_NONE)
        return 0;
    if (!walk->untracked)
        return 1;
    uint32_t type_id;
    if (hlpy_type_table_id(&walk->heap->types, Py_TYPE(obj), &type_id) < 0)
        return -1;
    uint8_t flags = PyObject_IS_GC(obj) && PyObject_GC_IsTracked(obj) ? HL_NODE_TRACKED : 0;
    return hl_graph_add_new_node(graph, (uint64_t)(uintptr_t)obj, type_id, flags, id_out);
}

/* tp_traverse callback: queue `child` as the next out-edge of the node being
 * traversed; hl__flush turns queued children into edges. */
static int hl__visit(PyObject *child, void *arg) {
    hl_walk *walk = arg;
    if (child == NULL)
        return 0;
    if (HL_UNLIKELY(walk->n_pending == walk->pending_capacity)) {
        size_t capacity = walk->pending_capacity ? 2 * walk->pending_capacity : 4096;
        PyObject **grown = realloc(walk->pending, capacity * sizeof(*grown));
        if (grown == NULL) {
            walk->failed = 1;
            return -1;
        }
        walk->pending = grown;
        walk->pending_capacity = capacity;
    }
    walk->pending[walk->n_pending++] = child;
    return 0;
}

/* Resolve the queued children of the traversed, unclosed nodes into edges and
 * close those nodes, in id order. The lookups are issued in three passes
 * (prefetch the index slots, prefetch the candidate nodes, resolve) so that
 * their memory loads overlap instead of waiting one by one. Returns 0, or -1
 * when out of memory. */
static int hl__flush(hl_walk *walk) {
    hl_graph *graph = walk->heap->graph;
    size_t n = walk->n_pending;
    for (size_t i = 0; i < n; i++)
        hl_graph_prefetch_slot(graph, (uint64_t)(uintptr_t)walk->pending[i]);
    for (size_t i = 0; i < n; i++)
        hl_graph_prefetch_node(graph, (uint64_t)(uintptr_t)walk->pending[i]);
    size_t k = 0;
    for (size_t node = 0; node < walk->n_counts; node++) {
        for (uint32_t j = 0; j < walk->counts[node]; j++, k++) {
            hl_node_id id;
            int found = hl__node_for(walk, walk->pending[k], &id);
            if (found < 0 || (found == 0 && hl_graph_add_edge(graph, id) < 0))
                return -1;
        }
        hl_graph_close_node(graph);
    }
    walk->n_pending = 0;
    walk->n_counts = 0;
    return 0;
}

/* Remember one reference of a frame left out of the graph: it is real but no
 * edge, and must not make its target look held from C. Returns 0, or -1 when
 * out of memory. */
static int hl__note_unseen(hl_walk *walk, PyObject *obj) {
    if (walk->n_unseen == walk->unseen_capacity) {
        size_t capacity = walk->unseen_capacity ? 2 * walk->unseen_capacity : 64;
        PyObject **grown = realloc(walk->unseen, capacity * sizeof(*grown));
        if (grown == NULL)
            return -1;
        walk->unseen = grown;
        walk->unseen_capacity = capacity;
    }
    walk->unseen[walk->n_unseen++] = obj;
    return 0;
}

/* 1 when the frame's code comes from a file under walk->skip_frames_under
 * (heaplens's own frames), else 0. */
static int hl__frame_is_skipped(hl_walk *walk, PyCodeObject *code) {
    if (walk->skip_frames_under == NULL || !PyUnicode_Check(code->co_filename))
        return 0;
    Py_ssize_t match =
        PyUnicode_Tailmatch(code->co_filename, walk->skip_frames_under, 0, PY_SSIZE_T_MAX, -1);
    if (match < 0)
        PyErr_Clear();
    return match != 0;
}

/* One virtual node for the frame under `cursor`, with its locals and the
 * other references it holds; or, for a skipped frame, its references noted as
 * unseen. Returns 0, or -1 when out of memory. */
static int hl__add_frame(hl_walk *walk, unsigned long thread_id, const hlpy_frame_cursor *cursor) {
    hlpy_heap *heap = walk->heap;
    PyCodeObject *code = hlpy_cpython_frame_code(cursor);
    int n_locals = hlpy_cpython_frame_n_locals(cursor);
    if (hl__frame_is_skipped(walk, code)) {
        for (int slot = 0; slot < n_locals; slot++) {
            PyObject *local = hlpy_cpython_frame_local(cursor, slot);
            if (local != NULL && hl__note_unseen(walk, local) < 0)
                return -1;
        }
        for (int which = 0; which < HLPY_FRAME_N_HELD; which++) {
            PyObject *held = hlpy_cpython_frame_held(cursor, which);
            if (held != NULL && hl__note_unseen(walk, held) < 0)
                return -1;
        }
        return 0;
    }
    hlpy_frame_root *frames = realloc(heap->frames, (heap->n_frames + 1) * sizeof(*frames));
    if (frames == NULL)
        return -1;
    heap->frames = frames;
    hlpy_frame_root *frame = &frames[heap->n_frames];
    memset(frame, 0, sizeof(*frame));
    size_t n_slots = (size_t)n_locals + HLPY_FRAME_N_HELD;
    frame->local_slots = malloc(n_slots * sizeof(int));
    frame->local_objects = malloc(n_slots * sizeof(PyObject *));
    if (frame->local_slots == NULL || frame->local_objects == NULL) {
        free(frame->local_slots);
        free(frame->local_objects);
        return -1;
    }
    hl_node_id id;
    int is_new;
    if (hl_graph_add_node(heap->graph, 0, UINT32_MAX, 0, &id, &is_new) < 0) {
        free(frame->local_slots);
        free(frame->local_objects);
        return -1;
    }
    if (heap->n_frames == 0)
        heap->first_frame_node = id;
    frame->thread_id = thread_id;
    frame->code = (PyCodeObject *)Py_NewRef(code);
    frame->lasti = hlpy_cpython_frame_lasti(cursor);
    for (int slot = 0; slot < n_locals; slot++) {
        PyObject *local = hlpy_cpython_frame_local(cursor, slot);
        if (local == NULL)
            continue;
        frame->local_slots[frame->n_locals] = slot;
        frame->local_objects[frame->n_locals] = local;
        frame->n_locals++;
    }
    for (int which = 0; which < HLPY_FRAME_N_HELD; which++) {
        PyObject *held = hlpy_cpython_frame_held(cursor, which);
        if (held == NULL)
            continue;
        frame->local_slots[frame->n_locals] = HLPY_FRAME_SLOT_OF_HELD(which);
        frame->local_objects[frame->n_locals] = held;
        frame->n_locals++;
    }
    heap->n_frames++;
    return 0;
}

/* One virtual node per complete frame executing in every thread of the main
 * interpreter, innermost first within a thread. These frames' locals are not
 * visited by any tp_traverse while their thread owns them. Returns 0, or -1
 * when out of memory. */
static int hl__add_executing_frames(hl_walk *walk) {
    PyInterpreterState *interp = PyInterpreterState_Main();
    for (PyThreadState *tstate = PyInterpreterState_ThreadHead(interp); tstate != NULL;
         tstate = PyThreadState_Next(tstate)) {
        unsigned long thread_id = hlpy_cpython_thread_ident(tstate);
        hlpy_frame_cursor cursor;
        for (int more = hlpy_cpython_frame_first(tstate, &cursor); more;
             more = hlpy_cpython_frame_next(&cursor)) {
            if (hl__add_frame(walk, thread_id, &cursor) < 0)
                return -1;
        }
    }
    return 0;
}

/* hlpy_cpython_visit_gc_objects callback: list one tracked object, with a
 * reference. Returns 0, or -1 when out of memory. */
static int hl__list_tracked(PyObject *obj, void *arg) {
    hl_walk *walk = arg;
    if (walk->n_tracked_list == walk->tracked_capacity) {
        size_t capacity = walk->tracked_capacity ? 2 * walk->tracked_capacity : 65536;
        PyObject **grown = realloc(walk->tracked_list, capacity * sizeof(*grown));
        if (grown == NULL)
            return -1;
        walk->tracked_list = grown;
        walk->tracked_capacity = capacity;
    }
    walk->tracked_list[walk->n_tracked_list++] = Py_NewRef(obj);
    return 0;
}

/* Flag the modules of sys.modules stored under their own name, and mark
 * every module's globals as part of the backbone (see graph.h). */
static void hl__flag_modules(hlpy_heap *heap) {
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (modules != NULL && PyDict_Next(modules, &position, &key, &value)) {
        if (!PyModule_Check(value) || !PyUnicode_Check(key))
            continue;
        PyObject *name = PyModule_GetNameObject(value);
        if (name == NULL) {
            PyErr_Clear();
            continue;
        }
        int proper = PyUnicode_Check(name) && PyUnicode_Compare(name, key) == 0;
        Py_DECREF(name);
        hl_node_id id = hl_graph_find(heap->graph, (uint64_t)(uintptr_t)value);
        if (proper && id != HL_NODE_NONE)
            hl_graph_add_flags(heap->graph, id, HL_NODE_MODULE);
        hl_node_id globals =
            hl_graph_find(heap->graph, (uint64_t)(uintptr_t)PyModule_GetDict(value));
        if (globals != HL_NODE_NONE)
            hl_graph_add_flags(heap->graph, globals, HL_NODE_BACKBONE);
    }
}

/* Flag the interpreter's table of interned strings as part of the backbone: it
 * is tracked from 3.14 on (every dict is), and holds thousands of strings it
 * keeps no reference count on, so it must not rank as what retains them. The
 * seam's candidate address is used only once the walk listed an exact dict
 * there that maps an interned probe string to itself. */
static PyObject *hl__interned_probe; /* interned; owned for the life of the process */

static void hl__flag_interned_table(hlpy_heap *heap) {
    PyObject *probe = hl__interned_probe;
    const void *candidate = hlpy_cpython_interned_table_candidate();
    if (candidate == NULL)
        return;
    hl_node_id id = hl_graph_find(heap->graph, (uint64_t)(uintptr_t)candidate);
    if (id == HL_NODE_NONE || (hl_graph_flags(heap->graph, id) & HL_NODE_VIRTUAL))
        return;
    PyObject *table = (PyObject *)candidate;
    if (probe == NULL || !PyDict_CheckExact(table))
        return;
    /* A str key in a dict of str keys: the lookup runs no Python code. */
    PyObject *found = PyDict_GetItemWithError(table, probe);
    if (found == probe)
        hl_graph_add_flags(heap->graph, id, HL_NODE_BACKBONE);
    PyErr_Clear();
}

/* Queue the out-edges of node `id`: a frame's locals, or what the object's
 * tp_traverse visits; and set the object's size. Returns 0, or -1 when out of
 * memory. */
static int hl__traverse_one(hl_walk *walk, hl_node_id id) {
    hlpy_heap *heap = walk->heap;
    hl_graph *graph = heap->graph;
    uint8_t flags = hl_graph_flags(graph, id);
    if (flags & HL_NODE_VIRTUAL) {
        hlpy_frame_root *frame = &heap->frames[id - heap->first_frame_node];
        for (int i = 0; i < frame->n_locals; i++) {
            if (hl__visit(frame->local_objects[i], walk) < 0)
                return -1;
        }
        return 0;
    }
    PyObject *obj = (PyObject *)(uintptr_t)hl_graph_address(graph, id);
    if (PyType_Check(obj) || PyModule_Check(obj))
        hl_graph_add_flags(graph, id, HL_NODE_BACKBONE);
    hl_graph_set_size(graph, id,
                      hlpy_size_of(obj, &heap->types.size_methods[hl_graph_type(graph, id)]));
    traverseproc traverse = Py_TYPE(obj)->tp_traverse;
    if (Py_TYPE(obj) == walk->ignore_type) {
        hl_graph_add_flags(graph, id, HL_NODE_IGNORED);
        return 0;
    }
    if (flags & HL_NODE_IGNORED)
        return 0;
    if (heap->types.see_through[hl_graph_type(graph, id)]) {
        /* Before tp_traverse, if any: a NumPy object array holds its
         * elements where tp_traverse does not look. */
        (void)hlpy_opaque_traverse(obj, hl__visit, walk);
        if (walk->failed)
            return -1;
    }
    if (traverse == NULL || !PyObject_IS_GC(obj))
        return 0;
    (void)traverse(obj, hl__visit, walk);
    PyObject *dict_beside_values = hlpy_cpython_dict_beside_inline_values(obj);
    if (dict_beside_values != NULL)
        (void)hl__visit(dict_beside_values, walk);
    if (PyType_Check(obj) && ((PyTypeObject *)obj)->tp_dict != NULL) {
        /* A class's namespace is part of the class, as a module's globals
         * are part of the module (hl__flag_modules). */
        hl_node_id namespace_id =
            hl_graph_find(graph, (uint64_t)(uintptr_t)((PyTypeObject *)obj)->tp_dict);
        if (namespace_id != HL_NODE_NONE)
            hl_graph_add_flags(graph, namespace_id, HL_NODE_BACKBONE);
    }
    return walk->failed ? -1 : 0;
}

/* The heaps that hold references (walked, not yet cleared). */
static hlpy_heap *hl_live_heaps;

/* Count one reference to the object at `address` in in_degrees, when it is a
 * tracked node of `graph`. */
static void hl__count_held(const hl_graph *graph, const void *address, uint32_t *in_degrees,
                           size_t n_tracked) {
    hl_node_id id = hl_graph_find(graph, (uint64_t)(uintptr_t)address);
    if (id < n_tracked)
        in_degrees[id]++;
}

/* Count the references `holder` holds (its tracked nodes, its frames' code
 * and locals, its types) to tracked nodes of `graph`. */
static void hl__count_heap_references(const hlpy_heap *holder, const hl_graph *graph,
                                      uint32_t *in_degrees, size_t n_tracked) {
    for (size_t i = 0; holder->owns_tracked && i < holder->n_tracked; i++) {
        if (!(hl_graph_flags(holder->graph, (hl_node_id)i) & HL_NODE_IGNORED))
            hl__count_held(graph, (void *)(uintptr_t)hl_graph_address(holder->graph, (hl_node_id)i),
                           in_degrees, n_tracked);
    }
    for (size_t i = 0; i < holder->n_frames; i++) {
        const hlpy_frame_root *frame = &holder->frames[i];
        hl__count_held(graph, frame->code, in_degrees, n_tracked);
        for (int k = 0; frame->holds_locals && k < frame->n_locals; k++) {
            if (frame->local_objects[k] != NULL)
                hl__count_held(graph, frame->local_objects[k], in_degrees, n_tracked);
        }
    }
    for (size_t i = 0; i < holder->types.n_types; i++)
        hl__count_held(graph, holder->types.types[i], in_degrees, n_tracked);
}

/* Flag HL_NODE_EXTERNAL on every tracked object whose reference count is
 * more than the references the graph found to it: something the walk cannot
 * see holds it (C code, an interpreter's value stack), as the cyclic GC
 * reasons. The walk holds one reference of each; the references heaplens
 * itself holds (this walk's type table and frames, and every other live heap
 * graph) are counted as seen. Returns 0,
 * or -1 when out of memory. Runs before the graph takes any other reference. */
static int hl__flag_external(hlpy_heap *heap, const hl_walk *walk) {
    size_t n = heap->n_tracked;
    uint32_t *in_degrees = calloc(n ? n : 1, sizeof(uint32_t));
    if (in_degrees == NULL)
        return -1;
    hl_graph_in_degrees(heap->graph, HL_NODE_IGNORED, in_degrees, n);
    for (size_t i = 0; i < walk->n_unseen; i++) {
        hl_node_id id = hl_graph_find(heap->graph, (uint64_t)(uintptr_t)walk->unseen[i]);
        if (id < n)
            in_degrees[id]++;
    }
    hl__count_heap_references(heap, heap->graph, in_degrees, n);
    for (const hlpy_heap *other = hl_live_heaps; other != NULL; other = other->next_live)
        hl__count_heap_references(other, heap->graph, in_degrees, n);
    for (size_t i = 0; i < n; i++) {
        PyObject *obj = (PyObject *)(uintptr_t)hl_graph_address(heap->graph, (hl_node_id)i);
        if ((Py_ssize_t)in_degrees[i] < Py_REFCNT(obj) - 1)
            hl_graph_add_flags(heap->graph, (hl_node_id)i, HL_NODE_EXTERNAL);
    }
    free(in_degrees);
    return 0;
}

/* Traverse every node in id order, emitting its edges and setting its size;
 * nodes found along the way are traversed in turn. Returns 0, or -1 when out
 * of memory. */
static int hl__traverse_all(hl_walk *walk) {
    hl_graph *graph = walk->heap->graph;
    size_t next = 0;
    for (;;) {
        if (next < hl_graph_n_nodes(graph)) {
            size_t before = walk->n_pending;
            if (hl__traverse_one(walk, (hl_node_id)next) < 0)
                return -1;
            walk->counts[walk->n_counts++] = (uint32_t)(walk->n_pending - before);
            next++;
            if (walk->n_counts < HL_FLUSH_NODES && walk->n_pending < HL_FLUSH_EDGES)
                continue;
        } else if (walk->n_counts == 0) {
            return 0; /* every node traversed and closed */
        }
        if (hl__flush(walk) < 0)
            return -1;
    }
}

int hlpy_heap_walk(hlpy_heap *heap, const hlpy_walk_options *options) {
    hl_walk walk = {.heap = heap, .untracked = options->untracked};
    PyObject *ignore = NULL;
    int gc_was_enabled = -1;
    memset(heap, 0, sizeof(*heap));
    if (PyInterpreterState_Get() != PyInterpreterState_Main()) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the heap graph is only available in the main interpreter");
        return -1;
    }
    if (options->skip_frames_under != NULL && !PyUnicode_Check(options->skip_frames_under)) {
        PyErr_SetString(PyExc_TypeError, "skip_frames_under must be a str");
        return -1;
    }
    walk.skip_frames_under = options->skip_frames_under;
    walk.ignore_type = options->ignore_type;
    /* Everything that may run Python code happens first. */
    if (hlpy_size_calibrate() < 0)
        return -1;
    if (hl__interned_probe == NULL &&
        (hl__interned_probe = PyUnicode_InternFromString("heaplens.interned-probe")) == NULL)
        return -1;
    ignore = options->ignore != NULL ? PySequence_Tuple(options->ignore) : PyTuple_New(0);
    if (ignore == NULL)
        return -1;
    gc_was_enabled = PyGC_Disable();

    /* From here on no Python code runs and nothing is collected. The
     * collector's objects are listed in place (gc.get_objects() would build a
     * Python list of them), each with a reference taken. */
    if (hlpy_cpython_visit_gc_objects(hl__list_tracked, &walk) < 0)
        goto out_of_memory;
    size_t n_objects = walk.n_tracked_list;
    PyObject **tracked = walk.tracked_list;
    heap->graph = hl_graph_new(n_objects * 5 / 2, n_objects * 3);
    if (heap->graph == NULL || hlpy_type_table_init(&heap->types) < 0)
        goto out_of_memory;
    /* The collector lists each object once, so no lookup is needed; the
     * prefetch a few objects ahead overlaps the index slots' cache misses. */
    for (size_t i = 0; i < n_objects; i++) {
        uint32_t type_id;
        hl_node_id id;
        if (i + 16 < n_objects)
            hl_graph_prefetch_slot(heap->graph, (uint64_t)(uintptr_t)tracked[i + 16]);
        if (hlpy_type_table_id(&heap->types, Py_TYPE(tracked[i]), &type_id) < 0 ||
            hl_graph_add_new_node(heap->graph, (uint64_t)(uintptr_t)tracked[i], type_id,
                                  HL_NODE_TRACKED, &id) < 0)
            goto out_of_memory;
    }
    heap->n_tracked = n_objects;
    if (hl__add_executing_frames(&walk) < 0)
        goto out_of_memory;
    /* The ignored objects, the tuple of them and the caller's container. */
    for (Py_ssize_t i = 0; i <= PyTuple_GET_SIZE(ignore) + 1; i++) {
        PyObject *obj = i < PyTuple_GET_SIZE(ignore)    ? PyTuple_GET_ITEM(ignore, i)
                        : i == PyTuple_GET_SIZE(ignore) ? ignore
                                                        : options->ignore;
        if (obj == NULL)
            continue;
        hl_node_id id;
        int found = hl__node_for(&walk, obj, &id);
        if (found < 0)
            goto out_of_memory;
        if (found == 0)
            hl_graph_add_flags(heap->graph, id, HL_NODE_IGNORED);
    }
    if (hl__traverse_all(&walk) < 0 || hl_graph_finish(heap->graph) < 0)
        goto out_of_memory;
    hl__flag_modules(heap);
    hl__flag_interned_table(heap);
    if (hl__flag_external(heap, &walk) < 0)
        goto out_of_memory;
    /* Hold the frames' locals, so that an untracked object a frame refers to
     * stays valid (and provably the same object) while the graph lives.
     * Ignored objects are not held; their slots become NULL. */
    for (size_t i = 0; i < heap->n_frames; i++) {
        hlpy_frame_root *frame = &heap->frames[i];
        for (int k = 0; k < frame->n_locals; k++) {
            hl_node_id id =
                hl_graph_find(heap->graph, (uint64_t)(uintptr_t)frame->local_objects[k]);
            if (id != HL_NODE_NONE && (hl_graph_flags(heap->graph, id) & HL_NODE_IGNORED))
                frame->local_objects[k] = NULL;
            else
                Py_INCREF(frame->local_objects[k]);
        }
        frame->holds_locals = 1;
    }
    /* The graph's nodes now own the references the list took. */
    free(walk.tracked_list);
    walk.tracked_list = NULL;
    walk.n_tracked_list = 0;
    heap->owns_tracked = 1;
    /* Ignored objects are not held: holding them would keep alive the very
     * objects a caller asked to leave out (such as the graph's owner, which
     * would make a cycle). Releasing one may run a finalizer: the walk is
     * over. */
    for (size_t i = 0; i < heap->n_tracked; i++) {
        if (hl_graph_flags(heap->graph, (hl_node_id)i) & HL_NODE_IGNORED)
            Py_DECREF((PyObject *)(uintptr_t)hl_graph_address(heap->graph, (hl_node_id)i));
    }
    free(walk.pending);
    free(walk.unseen);
    Py_DECREF(ignore);
    heap->next_live = hl_live_heaps;
    heap->prev_live = NULL;
    if (hl_live_heaps != NULL)
        hl_live_heaps->prev_live = heap;
    hl_live_heaps = heap;
    heap->is_live = 1;
    if (gc_was_enabled == 1)
        PyGC_Enable();
    return 0;

out_of_memory:
    PyErr_Format(PyExc_MemoryError, "not enough memory for the heap graph (%zu objects so far)",
                 heap->graph ? hl_graph_n_nodes(heap->graph) : 0);
    free(walk.pending);
    free(walk.unseen);
    for (size_t i = 0; i < walk.n_tracked_list; i++)
        Py_DECREF(walk.tracked_list[i]);
    free(walk.tracked_list);
    Py_XDECREF(ignore);
    hlpy_heap_clear(heap);
    if (gc_was_enabled == 1)
        PyGC_Enable();
    return -1;
}

void hlpy_heap_clear(hlpy_heap *heap) {
    if (heap->is_live) {
        if (heap->prev_live != NULL)
            heap->prev_live->next_live = heap->next_live;
        else
            hl_live_heaps = heap->next_live;
        if (heap->next_live != NULL)
            heap->next_live->prev_live = heap->prev_live;
        heap->is_live = 0;
    }
    for (size_t i = 0; heap->owns_tracked && i < heap->n_tracked; i++) {
        if (!(hl_graph_flags(heap->graph, (hl_node_id)i) & HL_NODE_IGNORED))
            Py_DECREF((PyObject *)(uintptr_t)hl_graph_address(heap->graph, (hl_node_id)i));
    }
    hl_graph_free(heap->graph);
    hlpy_type_table_clear(&heap->types);
    hl_dominators_free(heap->dominators);
    for (size_t i = 0; i < heap->n_frames; i++) {
        hlpy_frame_root *frame = &heap->frames[i];
        Py_XDECREF(frame->code);
        for (int k = 0; frame->holds_locals && k < frame->n_locals; k++)
            Py_XDECREF(frame->local_objects[k]);
        free(frame->local_slots);
        free(frame->local_objects);
    }
    free(heap->frames);
    memset(heap, 0, sizeof(*heap));
}
