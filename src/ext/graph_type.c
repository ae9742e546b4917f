/* graph_type.c - heaplens._core.HeapGraph: queries on a built heap graph.
 *
 * A HeapGraph owns one hlpy_heap. Node ids cross into Python as ints and are
 * checked on the way back. Tracked nodes are kept alive by the heap's strong
 * references; an untracked node is only turned back into an object after one of its
 * tracked referrers is seen, right now, to refer to it (hl__object_of).
 */
#include "graph_type.h"

#include "edge_label.h"
#include "opaque_containers.h"
#include "cpython/internals.h"
#include "heapwalk.h"
#include "leak_tags.h"
#include "scc.h"

typedef struct hl_graph_object {
    PyObject_HEAD
    hlpy_heap heap;
} hl_graph_object;

static PyTypeObject *hl_graph_pytype;

/* The graph holds a reference to every tracked object, so it takes part in
 * garbage collection: otherwise any object it holds that comes to refer to
 * it (the wrapper that owns it, a list it is stored in) would make a cycle
 * the collector cannot see, and the whole heap would leak. */
static int hlpy_graph_traverse(PyObject *op, visitproc visit, void *arg) {
    hlpy_heap *heap = &((hl_graph_object *)op)->heap;
    Py_VISIT(Py_TYPE(op));
    for (size_t i = 0; heap->graph != NULL && i < heap->n_tracked; i++) {
        if (!(hl_graph_flags(heap->graph, (hl_node_id)i) & HL_NODE_IGNORED))
            Py_VISIT((PyObject *)(uintptr_t)hl_graph_address(heap->graph, (hl_node_id)i));
    }
    for (size_t i = 0; i < heap->n_frames; i++) {
        for (int k = 0; heap->frames[i].holds_locals && k < heap->frames[i].n_locals; k++)
            Py_VISIT(heap->frames[i].local_objects[k]);
    }
    return 0;
}

static int hlpy_graph_clear(PyObject *op) {
    hlpy_heap_clear(&((hl_graph_object *)op)->heap);
    return 0;
}

static void hlpy_graph_dealloc(PyObject *self) {
    PyObject_GC_UnTrack(self);
    hlpy_heap_clear(&((hl_graph_object *)self)->heap);
    PyTypeObject *type = Py_TYPE(self);
    type->tp_free(self);
    Py_DECREF(type);
}

/* 0, or -1 with RuntimeError when the collector cleared this graph. */
static int hl__check_alive(hl_graph_object *self) {
    if (self->heap.graph != NULL)
        return 0;
    PyErr_SetString(PyExc_RuntimeError,
                    "this heap graph was cleared by the garbage collector (it was part of a "
                    "reference cycle); build a new one");
    return -1;
}

/* Parse a node id argument. Returns 0, or -1 with IndexError/TypeError. */
static int hl__node_arg(hl_graph_object *self, PyObject *arg, hl_node_id *id_out) {
    if (hl__check_alive(self) < 0)
        return -1;
    Py_ssize_t id = PyNumber_AsSsize_t(arg, PyExc_IndexError);
    if (id == -1 && PyErr_Occurred())
        return -1;
    if (id < 0 || (size_t)id >= hl_graph_n_nodes(self->heap.graph)) {
        PyErr_Format(PyExc_IndexError, "node id %zd out of range [0, %zu)", id,
                     hl_graph_n_nodes(self->heap.graph));
        return -1;
    }
    *id_out = (hl_node_id)id;
    return 0;
}

typedef struct hl_search {
    PyObject *target;
    int found;
} hl_search;

static int hl__search_visit(PyObject *child, void *arg) {
    hl_search *search = arg;
    if (child == search->target) {
        search->found = 1;
        return 1; /* stop the traversal */
    }
    return 0;
}

/* How many untracked see-through containers (NumPy arrays: a view's base
 * chain) a confirmation may pass through to reach a tracked holder. */
#define HL__MAX_UNTRACKED_HOLDERS 8

/* The object of node `id` (borrowed), or NULL (no exception) when the node is
 * virtual or an untracked object that no holder confirmed now is seen to
 * hold: a live tracked referrer's tp_traverse, an executing frame, or an
 * untracked container heaplens sees through (opaque_containers.h), itself
 * confirmed so, at most `depth` more such containers deep. The untracked
 * holder's type is the graph's (read when the graph was built), so nothing
 * of a holder is read before it is confirmed. */
static PyObject *hl__confirmed(hl_graph_object *self, hl_node_id id, int depth) {
    hlpy_heap *heap = &self->heap;
    uint8_t flags = hl_graph_flags(heap->graph, id);
    if (flags & (HL_NODE_IGNORED | HL_NODE_VIRTUAL))
        return NULL;
    PyObject *candidate = (PyObject *)(uintptr_t)hl_graph_address(heap->graph, id);
    if (id < heap->n_tracked)
        return candidate;
    size_t n_referrers;
    const hl_node_id *referrers = hl_graph_in_edges(heap->graph, id, &n_referrers);
    for (size_t i = 0; i < n_referrers; i++) {
        hl_node_id from = referrers[i];
        uint8_t holder_flags = hl_graph_flags(heap->graph, from);
        if (holder_flags & HL_NODE_VIRTUAL)
            return candidate; /* the graph holds every frame local */
        if (holder_flags & HL_NODE_IGNORED)
            continue;
        PyObject *holder = NULL;
        if (from < heap->n_tracked) {
            holder = (PyObject *)(uintptr_t)hl_graph_address(heap->graph, from);
        } else if (depth > 0) {
            uint32_t type_id = hl_graph_type(heap->graph, from);
            if (type_id < heap->types.n_types && hlpy_opaque_type(heap->types.types[type_id]))
                holder = hl__confirmed(self, from, depth - 1);
        }
        if (holder == NULL)
            continue;
        hl_search search = {candidate, 0};
        traverseproc traverse = Py_TYPE(holder)->tp_traverse;
        if (traverse != NULL && PyObject_IS_GC(holder))
            (void)traverse(holder, hl__search_visit, &search);
        if (!search.found)
            (void)hlpy_opaque_traverse(holder, hl__search_visit, &search);
        if (search.found)
            return candidate;
    }
    return NULL;
}

/* The object of node `id` as a new reference, or NULL with LookupError when
 * the node is virtual or an untracked object that no live holder still
 * holds (hl__confirmed). */
static PyObject *hl__object_of(hl_graph_object *self, hl_node_id id) {
    hlpy_heap *heap = &self->heap;
    if (hl_graph_flags(heap->graph, id) & HL_NODE_IGNORED) {
        PyErr_Format(PyExc_LookupError, "node %u was left out of the graph (ignored)", id);
        return NULL;
    }
    if (hl_graph_flags(heap->graph, id) & HL_NODE_VIRTUAL) {
        PyErr_Format(PyExc_LookupError, "node %u is an executing frame, not an object", id);
        return NULL;
    }
    if (id >= heap->n_tracked && hl_graph_build_reverse(heap->graph) < 0)
        return PyErr_NoMemory();
    PyObject *object = hl__confirmed(self, id, HL__MAX_UNTRACKED_HOLDERS);
    if (object != NULL)
        return Py_NewRef(object);
    PyErr_Format(PyExc_LookupError,
                 "node %u (untracked) may have been freed since the graph was built", id);
    return NULL;
}

static PyObject *hlpy_graph_find_method(PyObject *op, PyObject *obj) {
    hl_graph_object *self = (hl_graph_object *)op;
    if (hl__check_alive(self) < 0)
        return NULL;
    hl_node_id id = hl_graph_find(self->heap.graph, (uint64_t)(uintptr_t)obj);
    if (id == HL_NODE_NONE)
        return PyLong_FromLong(-1);
    if (id >= self->heap.n_tracked) {
        /* The address may now be another object's: check it is the same one. */
        PyObject *known = hl__object_of(self, id);
        if (known == NULL) {
            PyErr_Clear();
            return PyLong_FromLong(-1);
        }
        Py_DECREF(known);
        if (self->heap.types.types[hl_graph_type(self->heap.graph, id)] != Py_TYPE(obj))
            return PyLong_FromLong(-1);
    }
    return PyLong_FromUnsignedLong(id);
}

static PyObject *hlpy_graph_object_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    return hl__object_of(self, id);
}

static PyObject *hlpy_graph_type_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    uint32_t type_id = hl_graph_type(self->heap.graph, id);
    if (type_id >= self->heap.types.n_types)
        Py_RETURN_NONE;
    return Py_NewRef((PyObject *)self->heap.types.types[type_id]);
}

static PyObject *hlpy_graph_size_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(hl_graph_size(self->heap.graph, id));
}

static PyObject *hlpy_graph_address_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(hl_graph_address(self->heap.graph, id));
}

static PyObject *hlpy_graph_kind_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    uint8_t flags = hl_graph_flags(self->heap.graph, id);
    return PyUnicode_FromString(flags & HL_NODE_VIRTUAL   ? "frame"
                                : flags & HL_NODE_IGNORED ? "ignored"
                                                          : "object");
}

static PyObject *hlpy_graph_is_tracked_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    return PyBool_FromLong(hl_graph_flags(self->heap.graph, id) & HL_NODE_TRACKED);
}

static PyObject *hlpy_graph_is_backbone_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    return PyBool_FromLong(hl_graph_flags(self->heap.graph, id) & HL_NODE_BACKBONE);
}

static PyObject *hlpy_graph_root_kind_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    uint8_t flags = hl_graph_flags(self->heap.graph, id);
    if (flags & HL_NODE_MODULE)
        return PyUnicode_FromString("module");
    if (flags & HL_NODE_VIRTUAL)
        return PyUnicode_FromString("frame");
    if (flags & HL_NODE_EXTERNAL)
        return PyUnicode_FromString("external");
    Py_RETURN_NONE;
}

static PyObject *hl__id_list(const hl_node_id *ids, size_t n) {
    PyObject *list = PyList_New((Py_ssize_t)n);
    if (list == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        PyObject *item = PyLong_FromUnsignedLong(ids[i]);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    return list;
}

static PyObject *hlpy_graph_referents_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    size_t n;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    const hl_node_id *ids = hl_graph_out_edges(self->heap.graph, id, &n);
    return hl__id_list(ids, n);
}

static PyObject *hlpy_graph_referrers_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    size_t n;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    if (hl_graph_build_reverse(self->heap.graph) < 0)
        return PyErr_NoMemory();
    const hl_node_id *ids = hl_graph_in_edges(self->heap.graph, id, &n);
    return hl__id_list(ids, n);
}

static PyObject *hlpy_graph_census_method(PyObject *op, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"tracked_only", NULL};
    hl_graph_object *self = (hl_graph_object *)op;
    int tracked_only = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:census", keywords, &tracked_only) ||
        hl__check_alive(self) < 0)
        return NULL;
    size_t n_types = self->heap.types.n_types;
    uint64_t *counts = calloc(n_types ? 2 * n_types : 1, sizeof(uint64_t));
    if (counts == NULL)
        return PyErr_NoMemory();
    uint64_t *sizes = counts + n_types;
    hl_graph_census(self->heap.graph, tracked_only ? HL_NODE_TRACKED : 0,
                    HL_NODE_IGNORED | HL_NODE_VIRTUAL, n_types, counts, sizes);
    PyObject *result = PyList_New(0);
    for (size_t t = 0; result != NULL && t < n_types; t++) {
        if (counts[t] == 0)
            continue;
        PyObject *row = Py_BuildValue("(OKK)", (PyObject *)self->heap.types.types[t],
                                      (unsigned long long)counts[t], (unsigned long long)sizes[t]);
        if (row == NULL || PyList_Append(result, row) < 0)
            Py_CLEAR(result);
        Py_XDECREF(row);
    }
    free(counts);
    return result;
}

static PyObject *hlpy_graph_unreferenced_method(PyObject *op, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"tracked_only", NULL};
    hl_graph_object *self = (hl_graph_object *)op;
    int tracked_only = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|p:unreferenced", keywords, &tracked_only) ||
        hl__check_alive(self) < 0)
        return NULL;
    hl_graph *graph = self->heap.graph;
    size_t count;
    if (hl_graph_mark_unreferenced(graph, tracked_only ? HL_NODE_TRACKED : 0, HL_NODE_TRACKED,
                                   &count) < 0)
        return PyErr_NoMemory();
    PyObject *result = PyList_New(0);
    for (size_t i = 0; result != NULL && i < hl_graph_n_nodes(graph); i++) {
        uint8_t flags = hl_graph_flags(graph, (hl_node_id)i);
        if (!(flags & HL_NODE_UNREACHED) || (flags & HL_NODE_IGNORED))
            continue;
        PyObject *item = PyLong_FromSize_t(i);
        if (item == NULL || PyList_Append(result, item) < 0)
            Py_CLEAR(result);
        Py_XDECREF(item);
    }
    return result;
}

/* Fill a target mark array (n_nodes bytes) from a sequence of node ids.
 * Returns a new array, or NULL with an exception. */
static uint8_t *hl__target_marks(hl_graph_object *self, PyObject *targets) {
    PyObject *sequence = PySequence_Fast(targets, "targets must be a sequence of node ids");
    if (sequence == NULL)
        return NULL;
    uint8_t *marks = calloc(hl_graph_n_nodes(self->heap.graph) + 1, 1);
    if (marks == NULL) {
        Py_DECREF(sequence);
        PyErr_NoMemory();
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(sequence); i++) {
        hl_node_id id;
        if (hl__node_arg(self, PySequence_Fast_GET_ITEM(sequence, i), &id) < 0) {
            free(marks);
            Py_DECREF(sequence);
            return NULL;
        }
        marks[id] = 1;
    }
    Py_DECREF(sequence);
    return marks;
}

/* Run one path query and convert the result: list of ids, or None. */
static PyObject *hl__run_path(hl_graph_object *self, const hl_graph_path_query *query, int *found) {
    hl_node_id *path;
    size_t length;
    int result = hl_graph_shortest_path(self->heap.graph, query, &path, &length);
    *found = result == 1;
    if (result < 0)
        return PyErr_NoMemory();
    if (result == 0)
        Py_RETURN_NONE;
    PyObject *list = hl__id_list(path, length);
    free(path);
    return list;
}

static PyObject *hl__path(hl_graph_object *self, PyObject *args, PyObject *kwargs, int backward) {
    static char *keywords[] = {"id", "targets", "max_depth", "tracked_only", NULL};
    PyObject *id_arg, *targets = Py_None;
    Py_ssize_t max_depth = -1;
    int tracked_only = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs,
                                     backward ? "O|Onp:path_back" : "OO|np:path_forward", keywords,
                                     &id_arg, &targets, &max_depth, &tracked_only))
        return NULL;
    hl_graph_path_query query = {.backward = backward, .max_depth = max_depth};
    if (hl__node_arg(self, id_arg, &query.start) < 0)
        return NULL;
    if (backward && hl_graph_build_reverse(self->heap.graph) < 0)
        return PyErr_NoMemory();
    query.require = tracked_only ? HL_NODE_TRACKED : 0;
    query.exclude = HL_NODE_IGNORED;
    uint8_t *marks = NULL;
    int found;
    PyObject *result;
    if (targets != Py_None) {
        marks = hl__target_marks(self, targets);
        if (marks == NULL)
            return NULL;
        query.target_marks = marks;
        result = hl__run_path(self, &query, &found);
        free(marks);
        return result;
    }
    /* Roots: modules and objects held from outside the graph first (a module
     * when both are as near); a frame only when nothing else holds it. */
    query.target_flags = HL_NODE_MODULE | HL_NODE_EXTERNAL;
    query.preferred_flags = HL_NODE_MODULE;
    query.exclude = HL_NODE_IGNORED | HL_NODE_VIRTUAL;
    result = hl__run_path(self, &query, &found);
    if (result == NULL || found || tracked_only)
        return result;
    Py_DECREF(result);
    query.target_flags = HL_NODE_MODULE | HL_NODE_EXTERNAL | HL_NODE_VIRTUAL;
    query.exclude = HL_NODE_IGNORED;
    return hl__run_path(self, &query, &found);
}

static PyObject *hlpy_graph_path_back_method(PyObject *op, PyObject *args, PyObject *kwargs) {
    return hl__path((hl_graph_object *)op, args, kwargs, 1);
}

static PyObject *hlpy_graph_path_forward_method(PyObject *op, PyObject *args, PyObject *kwargs) {
    return hl__path((hl_graph_object *)op, args, kwargs, 0);
}

static PyObject *hlpy_graph_cycles_method(PyObject *op, PyObject *unused) {
    hl_graph_object *self = (hl_graph_object *)op;
    if (hl__check_alive(self) < 0)
        return NULL;
    hl_scc scc;
    /* Types, modules and module globals make one big cycle with everything
     * defined in them (an instance refers to its class, a function to its
     * globals); leaving them out shows the cycles among the program's data. */
    if (hl_scc_compute(self->heap.graph, HL_NODE_IGNORED | HL_NODE_VIRTUAL | HL_NODE_BACKBONE,
                       &scc) < 0) {
        hl_scc_free(&scc);
        return PyErr_NoMemory();
    }
    PyObject *result = PyList_New((Py_ssize_t)scc.n_cycles);
    for (size_t i = 0; result != NULL && i < scc.n_cycles; i++) {
        size_t count;
        const hl_node_id *members = hl_scc_members(&scc, scc.cycles[i], &count);
        PyObject *ids = hl__id_list(members, count);
        if (ids == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, (Py_ssize_t)i, ids);
    }
    hl_scc_free(&scc);
    return result;
}

static PyObject *hlpy_graph_cycle_through_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_graph_path_query query = {
        .start_is_not_target = 1, .exclude = HL_NODE_IGNORED | HL_NODE_VIRTUAL, .max_depth = -1};
    int found;
    if (hl__node_arg(self, arg, &query.start) < 0)
        return NULL;
    return hl__run_path(self, &query, &found);
}

/* The dominator tree, computed on first use below a virtual root that refers
 * to every root: modules, objects held from outside the graph, frames.
 * Returns it (borrowed), or NULL with MemoryError. */
static hl_dominators *hl__dominators(hl_graph_object *self) {
    hlpy_heap *heap = &self->heap;
    if (heap->dominators != NULL)
        return heap->dominators;
    size_t n_nodes = hl_graph_n_nodes(heap->graph), n_roots = 0;
    hl_node_id *roots = malloc((n_nodes ? n_nodes : 1) * sizeof(hl_node_id));
    if (roots == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    for (size_t i = 0; i < n_nodes; i++) {
        uint8_t flags = hl_graph_flags(heap->graph, (hl_node_id)i);
        if ((flags & (HL_NODE_MODULE | HL_NODE_EXTERNAL | HL_NODE_VIRTUAL)) &&
            !(flags & HL_NODE_IGNORED))
            roots[n_roots++] = (hl_node_id)i;
    }
    int status =
        hl_dominators_compute(heap->graph, roots, n_roots, HL_NODE_IGNORED, &heap->dominators);
    free(roots);
    if (status < 0) {
        PyErr_NoMemory();
        return NULL;
    }
    return heap->dominators;
}

static PyObject *hlpy_graph_retained_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    hl_dominators *dominators = hl__dominators(self);
    if (dominators == NULL)
        return NULL;
    return PyLong_FromUnsignedLongLong(hl_dominators_retained(dominators, id));
}

static PyObject *hlpy_graph_idom_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    hl_dominators *dominators = hl__dominators(self);
    if (dominators == NULL)
        return NULL;
    hl_node_id idom = hl_dominators_idom(dominators, id);
    if (idom == HL_NODE_NONE)
        Py_RETURN_NONE;
    if (idom == HL_DOMINATOR_ROOT)
        return PyLong_FromLong(-1);
    return PyLong_FromUnsignedLong(idom);
}

/* Parse a count argument named `name`: an int (not a bool) >= 0. A count past
 * `clamp` is clamped to it. Returns 0, or -1 with TypeError/ValueError. */
static int hl__count_arg(PyObject *arg, const char *function, const char *name, size_t clamp,
                         size_t *count_out) {
    if (!PyLong_Check(arg) || PyBool_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "%s: %s must be an int, not %s", function, name,
                     Py_TYPE(arg)->tp_name);
        return -1;
    }
    int overflow;
    long long value = PyLong_AsLongLongAndOverflow(arg, &overflow);
    if (value == -1 && PyErr_Occurred())
        return -1;
    if (overflow < 0 || (overflow == 0 && value < 0)) {
        PyErr_Format(PyExc_ValueError, "%s: %s must be 0 or more, not %S", function, name, arg);
        return -1;
    }
    *count_out = overflow > 0 || (unsigned long long)value > clamp ? clamp : (size_t)value;
    return 0;
}

static PyObject *hlpy_graph_top_retainers_method(PyObject *op, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"k", "skip", NULL};
    hl_graph_object *self = (hl_graph_object *)op;
    PyObject *k_arg, *skip = NULL;
    size_t k;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|O:top_retainers", keywords, &k_arg, &skip) ||
        hl__check_alive(self) < 0)
        return NULL;
    hl_graph *graph = self->heap.graph;
    size_t n_nodes = hl_graph_n_nodes(graph);
    /* More than there are nodes is all of them: never an allocation k long. */
    if (hl__count_arg(k_arg, "top_retainers()", "k", n_nodes, &k) < 0)
        return NULL;
    hl_dominators *dominators = hl__dominators(self);
    if (dominators == NULL)
        return NULL;
    /* Candidates: objects, not frames or ignored nodes, and not the backbone
     * (a module, a class or the dict of one retains everything defined in it,
     * which says nothing a user can act on), nor the nodes in `skip`. */
    uint8_t *candidate = malloc(n_nodes ? n_nodes : 1);
    hl_node_id *top = malloc((k ? k : 1) * sizeof(hl_node_id));
    if (candidate == NULL || top == NULL) {
        free(candidate);
        free(top);
        return PyErr_NoMemory();
    }
    for (size_t i = 0; i < n_nodes; i++) {
        candidate[i] = !(hl_graph_flags(graph, (hl_node_id)i) &
                         (HL_NODE_VIRTUAL | HL_NODE_IGNORED | HL_NODE_BACKBONE));
    }
    PyObject *result = NULL;
    if (skip != NULL && skip != Py_None) {
        PyObject *sequence = PySequence_Fast(skip, "top_retainers(): skip must be a sequence of "
                                                   "node ids");
        if (sequence == NULL)
            goto done;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(sequence); i++) {
            hl_node_id id;
            if (hl__node_arg(self, PySequence_Fast_GET_ITEM(sequence, i), &id) < 0) {
                Py_DECREF(sequence);
                goto done;
            }
            candidate[id] = 0;
        }
        Py_DECREF(sequence);
    }
    size_t n;
    if (hl_dominators_top_marked(dominators, candidate, k, top, &n) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = hl__id_list(top, n);
done:
    free(candidate);
    free(top);
    return result;
}

/* retained_by_group(groups): what the members of each group (a sequence of
 * node ids; groups are disjoint) retain together, as retained_by_type does
 * for the instances of a type. */
static PyObject *hlpy_graph_retained_by_group_method(PyObject *op, PyObject *groups) {
    hl_graph_object *self = (hl_graph_object *)op;
    if (hl__check_alive(self) < 0)
        return NULL;
    PyObject *outer = PySequence_Fast(groups, "retained_by_group(): groups must be a sequence of "
                                              "sequences of node ids");
    if (outer == NULL)
        return NULL;
    size_t n_nodes = hl_graph_n_nodes(self->heap.graph);
    size_t n_groups = (size_t)PySequence_Fast_GET_SIZE(outer);
    uint32_t *group_of = malloc((n_nodes ? n_nodes : 1) * sizeof(uint32_t));
    hl_type_retained *rows = calloc(n_groups ? n_groups : 1, sizeof(*rows));
    PyObject *result = NULL;
    if (group_of == NULL || rows == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    memset(group_of, 0xff, n_nodes * sizeof(uint32_t));
    for (size_t g = 0; g < n_groups; g++) {
        PyObject *members = PySequence_Fast(PySequence_Fast_GET_ITEM(outer, (Py_ssize_t)g),
                                            "retained_by_group(): each group must be a sequence "
                                            "of node ids");
        if (members == NULL)
            goto done;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(members); i++) {
            hl_node_id id;
            if (hl__node_arg(self, PySequence_Fast_GET_ITEM(members, i), &id) < 0) {
                Py_DECREF(members);
                goto done;
            }
            if (group_of[id] != HL_DOMINATORS_NO_GROUP && group_of[id] != (uint32_t)g) {
                PyErr_Format(PyExc_ValueError,
                             "retained_by_group(): node %u is in groups %u and %zu", id,
                             group_of[id], g);
                Py_DECREF(members);
                goto done;
            }
            group_of[id] = (uint32_t)g;
        }
        Py_DECREF(members);
    }
    hl_dominators *dominators = hl__dominators(self);
    if (dominators == NULL)
        goto done;
    if (hl_dominators_retained_by_group(dominators, group_of, n_groups, rows) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyList_New((Py_ssize_t)n_groups);
    for (size_t g = 0; result != NULL && g < n_groups; g++) {
        PyObject *row = Py_BuildValue("(KKK)", (unsigned long long)rows[g].instances,
                                      (unsigned long long)rows[g].top_instances,
                                      (unsigned long long)rows[g].retained);
        if (row == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, (Py_ssize_t)g, row);
    }
done:
    Py_DECREF(outer);
    free(group_of);
    free(rows);
    return result;
}

/* One row of retained_by_type before it becomes a tuple. */
typedef struct hl__type_row {
    hl_type_retained totals;
    uint32_t type_id;
} hl__type_row;

/* qsort order of retained_by_type: largest retained first, then most
 * instances, then type id (the order the walk met the types). */
static int hl__compare_type_rows(const void *a_pointer, const void *b_pointer) {
    const hl__type_row *a = a_pointer, *b = b_pointer;
    if (a->totals.retained != b->totals.retained)
        return a->totals.retained > b->totals.retained ? -1 : 1;
    if (a->totals.instances != b->totals.instances)
        return a->totals.instances > b->totals.instances ? -1 : 1;
    return a->type_id < b->type_id ? -1 : a->type_id > b->type_id;
}

static PyObject *hlpy_graph_retained_by_type_method(PyObject *op, PyObject *unused) {
    hl_graph_object *self = (hl_graph_object *)op;
    if (hl__check_alive(self) < 0)
        return NULL;
    hl_dominators *dominators = hl__dominators(self);
    if (dominators == NULL)
        return NULL;
    size_t n_types = self->heap.types.n_types;
    hl_type_retained *totals = calloc(n_types ? n_types : 1, sizeof(*totals));
    hl__type_row *rows = calloc(n_types ? n_types : 1, sizeof(*rows));
    /* Classes, modules and module globals (the backbone) are not counted as
     * instances of `type`, `module` or `dict`: each would retain a whole
     * module's worth of definitions. Frames are not objects. */
    if (totals == NULL || rows == NULL ||
        hl_dominators_retained_by_type(dominators, self->heap.graph,
                                       HL_NODE_BACKBONE | HL_NODE_VIRTUAL | HL_NODE_IGNORED,
                                       n_types, totals) < 0) {
        free(totals);
        free(rows);
        return PyErr_NoMemory();
    }
    size_t n_rows = 0;
    for (size_t t = 0; t < n_types; t++) {
        if (totals[t].instances > 0)
            rows[n_rows++] = (hl__type_row){totals[t], (uint32_t)t};
    }
    free(totals);
    qsort(rows, n_rows, sizeof(*rows), hl__compare_type_rows);
    PyObject *result = PyList_New((Py_ssize_t)n_rows);
    for (size_t i = 0; result != NULL && i < n_rows; i++) {
        PyObject *row = Py_BuildValue("(OKKK)", (PyObject *)self->heap.types.types[rows[i].type_id],
                                      (unsigned long long)rows[i].totals.instances,
                                      (unsigned long long)rows[i].totals.top_instances,
                                      (unsigned long long)rows[i].totals.retained);
        if (row == NULL)
            Py_CLEAR(result);
        else
            PyList_SET_ITEM(result, (Py_ssize_t)i, row);
    }
    free(rows);
    return result;
}

static hlpy_frame_root *hl__frame_of(hl_graph_object *self, hl_node_id id) {
    hlpy_heap *heap = &self->heap;
    if (!(hl_graph_flags(heap->graph, id) & HL_NODE_VIRTUAL) || id < heap->first_frame_node ||
        id - heap->first_frame_node >= heap->n_frames) {
        PyErr_Format(PyExc_LookupError, "node %u is not a frame", id);
        return NULL;
    }
    return &heap->frames[id - heap->first_frame_node];
}

static PyObject *hlpy_graph_frame_method(PyObject *op, PyObject *arg) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id id;
    if (hl__node_arg(self, arg, &id) < 0)
        return NULL;
    hlpy_frame_root *frame = hl__frame_of(self, id);
    if (frame == NULL)
        return NULL;
    return Py_BuildValue("(kOi)", frame->thread_id, (PyObject *)frame->code,
                         hlpy_cpython_lineno(frame->code, frame->lasti));
}

/* The labels (edge_label.h) of the references out of a frame node to
 * `target`: ("local" / "cell" / "free", name) for its variables, ("held",
 * what) for the rest it holds. A new list, or NULL with an exception. */
static PyObject *hl__frame_edge_labels(hl_graph_object *self, hl_node_id source,
                                       hl_node_id target) {
    hlpy_frame_root *frame = hl__frame_of(self, source);
    if (frame == NULL)
        return NULL;
    PyObject *labels = PyList_New(0);
    if (labels == NULL)
        return NULL;
    PyObject *wanted = (PyObject *)(uintptr_t)hl_graph_address(self->heap.graph, target);
    for (int k = 0; k < frame->n_locals; k++) {
        if (frame->local_objects[k] != wanted)
            continue;
        int slot = frame->local_slots[k];
        int rc = 0;
        if (slot < 0) {
            static const char *const held_names[HLPY_FRAME_N_HELD] = {
                [HLPY_FRAME_FUNCTION] = "function",
                [HLPY_FRAME_LOCALS_DICT] = "locals dict",
                [HLPY_FRAME_CODE] = "code",
                [HLPY_FRAME_OBJECT] = "frame object",
            };
            rc = hlpy_edge_labels_add(
                labels, "held", PyUnicode_FromString(held_names[HLPY_FRAME_HELD_OF_SLOT(slot)]));
        } else {
            hlpy_local_kind kind;
            PyObject *name = hlpy_cpython_local_name(frame->code, slot, &kind);
            if (name != NULL) {
                const char *what = kind == HLPY_LOCAL_CELL   ? "cell"
                                   : kind == HLPY_LOCAL_FREE ? "free"
                                                             : "local";
                rc = hlpy_edge_labels_add(labels, what, Py_NewRef(name));
            }
        }
        if (rc < 0) {
            Py_DECREF(labels);
            return NULL;
        }
    }
    return labels;
}

static PyObject *hlpy_graph_edge_labels_method(PyObject *op, PyObject *const *args,
                                               Py_ssize_t nargs) {
    hl_graph_object *self = (hl_graph_object *)op;
    hl_node_id source, target;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "edge_labels(source_id, target_id) takes two node ids");
        return NULL;
    }
    if (hl__node_arg(self, args[0], &source) < 0 || hl__node_arg(self, args[1], &target) < 0)
        return NULL;
    if (hl_graph_flags(self->heap.graph, source) & HL_NODE_VIRTUAL)
        return hl__frame_edge_labels(self, source, target);
    PyObject *source_object = hl__object_of(self, source);
    if (source_object == NULL)
        return NULL;
    PyObject *target_object = hl__object_of(self, target);
    if (target_object == NULL) {
        Py_DECREF(source_object);
        return NULL;
    }
    PyObject *labels = hlpy_edge_labels(source_object, target_object);
    Py_DECREF(source_object);
    Py_DECREF(target_object);
    return labels;
}

static PyObject *hlpy_graph_get_n_nodes(PyObject *op, void *closure) {
    if (hl__check_alive((hl_graph_object *)op) < 0)
        return NULL;
    return PyLong_FromSize_t(hl_graph_n_nodes(((hl_graph_object *)op)->heap.graph));
}

static PyObject *hlpy_graph_get_n_edges(PyObject *op, void *closure) {
    if (hl__check_alive((hl_graph_object *)op) < 0)
        return NULL;
    return PyLong_FromSize_t(hl_graph_n_edges(((hl_graph_object *)op)->heap.graph));
}

static PyObject *hlpy_graph_get_n_tracked(PyObject *op, void *closure) {
    return PyLong_FromSize_t(((hl_graph_object *)op)->heap.n_tracked);
}

static PyObject *hlpy_graph_get_nbytes(PyObject *op, void *closure) {
    hlpy_heap *heap = &((hl_graph_object *)op)->heap;
    if (hl__check_alive((hl_graph_object *)op) < 0)
        return NULL;
    size_t bytes = hl_graph_memory(heap->graph);
    bytes += hlpy_type_table_memory(&heap->types);
    bytes += heap->n_frames * sizeof(hlpy_frame_root);
    return PyLong_FromSize_t(bytes);
}

static PyObject *hlpy_graph_leak_tags_method(PyObject *op, PyObject *unused) {
    (void)unused;
    hl_graph_object *self = (hl_graph_object *)op;
    if (hl__check_alive(self) < 0)
        return NULL;
    return hlpy_leak_tags_of_heap(&self->heap);
}

static PyMethodDef hl_graph_methods[] = {
    {"find", hlpy_graph_find_method, METH_O, "find(obj) -> node id, or -1"},
    {"object", hlpy_graph_object_method, METH_O, "object(id) -> the object (LookupError if gone)"},
    {"type", hlpy_graph_type_method, METH_O, "type(id) -> type of the node (None for a frame)"},
    {"size", hlpy_graph_size_method, METH_O, "size(id) -> sys.getsizeof size"},
    {"address", hlpy_graph_address_method, METH_O, "address(id) -> id() of the object (0: frame)"},
    {"kind", hlpy_graph_kind_method, METH_O, "kind(id) -> 'object', 'frame' or 'ignored'"},
    {"is_tracked", hlpy_graph_is_tracked_method, METH_O, "is_tracked(id) -> bool"},
    {"is_backbone", hlpy_graph_is_backbone_method, METH_O,
     "is_backbone(id) -> bool: a class, a module, or the namespace dict of one"},
    {"root_kind", hlpy_graph_root_kind_method, METH_O,
     "root_kind(id) -> 'module', 'frame', 'external' or None"},
    {"referents", hlpy_graph_referents_method, METH_O, "referents(id) -> [id], one per reference"},
    {"referrers", hlpy_graph_referrers_method, METH_O, "referrers(id) -> [id], one per reference"},
    {"census", (PyCFunction)(void (*)(void))hlpy_graph_census_method, METH_VARARGS | METH_KEYWORDS,
     "census(tracked_only=False) -> [(type, count, total_size)]"},
    {"unreferenced", (PyCFunction)(void (*)(void))hlpy_graph_unreferenced_method,
     METH_VARARGS | METH_KEYWORDS, "unreferenced(tracked_only=True) -> [id]"},
    {"path_back", (PyCFunction)(void (*)(void))hlpy_graph_path_back_method,
     METH_VARARGS | METH_KEYWORDS,
     "path_back(id, targets=None, max_depth=-1, tracked_only=False) -> [id] or None"},
    {"path_forward", (PyCFunction)(void (*)(void))hlpy_graph_path_forward_method,
     METH_VARARGS | METH_KEYWORDS,
     "path_forward(id, targets, max_depth=-1, tracked_only=False) -> [id] or None"},
    {"frame", hlpy_graph_frame_method, METH_O, "frame(id) -> (thread_id, code, lineno)"},
    {"retained", hlpy_graph_retained_method, METH_O,
     "retained(id) -> bytes freed if the node went away (dominator tree from every root)"},
    {"idom", hlpy_graph_idom_method, METH_O,
     "idom(id) -> immediate dominator id, -1 for the virtual root, None when unreachable"},
    {"top_retainers", (PyCFunction)(void (*)(void))hlpy_graph_top_retainers_method,
     METH_VARARGS | METH_KEYWORDS,
     "top_retainers(k, skip=()) -> the (at most) k node ids of largest retained size among the "
     "objects that are not types, modules or their dicts, nor in skip, leaving out any that "
     "another of them dominates (its memory is counted there); k past the number of nodes is "
     "all of them"},
    {"retained_by_group", hlpy_graph_retained_by_group_method, METH_O,
     "retained_by_group(groups) -> [(members, top_members, retained)] for each group (a "
     "sequence of node ids; a node in at most one group): bytes of the objects some member "
     "dominates, each counted once; top members are those no other member of the group "
     "dominates"},
    {"retained_by_type", hlpy_graph_retained_by_type_method, METH_NOARGS,
     "retained_by_type() -> [(type, instances, top_instances, retained)], largest retained "
     "first: bytes of the objects some instance dominates, each counted once (types, modules "
     "and module globals are not instances; top instances are those no other instance of the "
     "type dominates)"},
    {"cycles", hlpy_graph_cycles_method, METH_NOARGS,
     "cycles() -> [[id, ...]]: the members of each reference cycle (strongly connected "
     "component), types, modules and module globals left out"},
    {"cycle_through", hlpy_graph_cycle_through_method, METH_O,
     "cycle_through(id) -> [id, ..., id]: a shortest cycle from id back to id, or None"},
    {"leak_tags", hlpy_graph_leak_tags_method, METH_NOARGS,
     "leak_tags() -> [(id, call, stack_id)]: the objects the running leak hunt's calls created"},
    {"edge_labels", (PyCFunction)(void (*)(void))hlpy_graph_edge_labels_method, METH_FASTCALL,
     "edge_labels(source_id, target_id) -> [(kind, key)], one per reference heaplens can name"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef hl_graph_getset[] = {
    {"n_nodes", hlpy_graph_get_n_nodes, NULL, "number of nodes", NULL},
    {"n_edges", hlpy_graph_get_n_edges, NULL, "number of references", NULL},
    {"n_tracked", hlpy_graph_get_n_tracked, NULL, "nodes 0 .. n_tracked-1 are gc.get_objects()",
     NULL},
    {"nbytes", hlpy_graph_get_nbytes, NULL, "memory the graph holds, in bytes", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot hl_graph_slots[] = {
    {Py_tp_dealloc, hlpy_graph_dealloc},
    {Py_tp_traverse, hlpy_graph_traverse},
    {Py_tp_clear, hlpy_graph_clear},
    {Py_tp_methods, hl_graph_methods},
    {Py_tp_getset, hl_graph_getset},
    {Py_tp_doc, "The live heap as a graph, taken by heaplens._core.build_graph()."},
    {0, NULL},
};

static PyType_Spec hl_graph_spec = {
    .name = "heaplens._core.HeapGraph",
    .basicsize = sizeof(hl_graph_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_HAVE_GC,
    .slots = hl_graph_slots,
};

int hlpy_graph_type_add(PyObject *module) {
    /* Made once, by the main interpreter's first import: a second import (after
     * its module was removed from sys.modules) must not orphan the objects
     * made with the first type. */
    if (hl_graph_pytype == NULL)
        hl_graph_pytype = (PyTypeObject *)PyType_FromSpec(&hl_graph_spec);
    if (hl_graph_pytype == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "HeapGraph", (PyObject *)hl_graph_pytype);
}

/* Parse build_graph's arguments from a vectorcall. Returns 0, or -1 with
 * TypeError. (A vectorcall creates no args tuple or kwargs dict: either would
 * be a live object the walk sees holding the ignored objects.) */
static int hl__parse_build_args(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames,
                                hlpy_walk_options *options) {
    static const char *const names[] = {"ignore", "skip_frames_under", "untracked"};
    PyObject *values[3] = {NULL, NULL, NULL};
    if (nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "build_graph() takes at most 3 arguments");
        return -1;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        values[i] = args[i];
    Py_ssize_t n_keywords = kwnames != NULL ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < n_keywords; k++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, k);
        int matched = 0;
        for (int j = 0; j < 3 && !matched; j++) {
            if (PyUnicode_CompareWithASCIIString(name, names[j]) != 0)
                continue;
            if (values[j] != NULL) {
                PyErr_Format(PyExc_TypeError, "build_graph() got multiple values for '%s'",
                             names[j]);
                return -1;
            }
            values[j] = args[nargs + k];
            matched = 1;
        }
        if (!matched) {
            PyErr_Format(PyExc_TypeError, "build_graph() got an unexpected keyword argument '%U'",
                         name);
            return -1;
        }
    }
    options->ignore = values[0] != Py_None ? values[0] : NULL;
    options->skip_frames_under = values[1] != Py_None ? values[1] : NULL;
    options->untracked = 1;
    if (values[2] != NULL) {
        int truth = PyObject_IsTrue(values[2]);
        if (truth < 0)
            return -1;
        options->untracked = truth;
    }
    return 0;
}

PyObject *hlpy_build_graph(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames) {
    hlpy_walk_options options = {0};
    if (hl__parse_build_args(args, nargs, kwnames, &options) < 0)
        return NULL;
    options.ignore_type = hl_graph_pytype; /* other graphs refer to everything */
    hl_graph_object *self = PyObject_GC_New(hl_graph_object, hl_graph_pytype);
    if (self == NULL)
        return NULL;
    memset(&self->heap, 0, sizeof(self->heap));
    if (hlpy_heap_walk(&self->heap, &options) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    PyObject_GC_Track((PyObject *)self);
    return (PyObject *)self;
}
