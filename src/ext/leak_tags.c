/* leak_tags.c - which call of a leak hunt created each object (leak_tags.h).
 *
 * Invariants: H.active is 1 between leak_tags_begin and leak_tags_end, and
 * then the tracer was on with stack epoch H.stack_epoch when the hunt began;
 * H.tags maps an object address to the last call (1..n_calls) in which an
 * object at that address sat in the young generation. Protected by the GIL.
 */
#include "leak_tags.h"

#include "cpython/internals.h"
#include "tracer.h"
#include "u64_map.h"

#define HL_LEAK_MAX_CALLS 1000

static struct {
    int active;
    int n_calls;
    int call;                   /* the call under way, 0: between calls */
    uint16_t first;             /* generation of call 1; call i has first + i - 1 */
    uint16_t bookkeeping;       /* first + n_calls: between calls and after them */
    uint64_t stack_epoch;       /* the tracer's, when the hunt began */
    hl_u64_map tags;            /* object address -> call */
    unsigned long long dropped; /* tags the map had no room for */
} H;

/* 0 when a hunt runs on the tracer it began with, else -1 with RuntimeError. */
static int hl__check_hunt(void) {
    if (!H.active) {
        PyErr_SetString(PyExc_RuntimeError, "no leak hunt is running");
        return -1;
    }
    if (!hlpy_tracer_is_tracing() || hlpy_tracer_stack_epoch() != H.stack_epoch) {
        PyErr_SetString(PyExc_RuntimeError,
                        "the tracer was stopped or its traces cleared during the leak hunt, so "
                        "the hunt cannot tell which objects its calls created");
        return -1;
    }
    return 0;
}

PyObject *hlpy_leak_tags_begin(PyObject *module, PyObject *n_calls_arg) {
    (void)module;
    long n_calls = PyLong_AsLong(n_calls_arg);
    if (n_calls == -1 && PyErr_Occurred())
        return NULL;
    if (n_calls < 1 || n_calls > HL_LEAK_MAX_CALLS) {
        PyErr_Format(PyExc_ValueError, "a leak hunt measures 1 to %d calls, not %ld",
                     HL_LEAK_MAX_CALLS, n_calls);
        return NULL;
    }
    if (H.active) {
        PyErr_SetString(PyExc_RuntimeError,
                        "a leak hunt is already running (find_leaks and leak_check do not nest)");
        return NULL;
    }
    uint16_t first;
    if (hlpy_tracer_reserve_generations((int)n_calls + 1, &first) < 0) {
        PyErr_SetString(PyExc_RuntimeError, "a leak hunt needs the tracer on");
        return NULL;
    }
    if (hl_u64_map_init(&H.tags, 1024) < 0)
        return PyErr_NoMemory();
    H.active = 1;
    H.n_calls = (int)n_calls;
    H.call = 0;
    H.first = first;
    H.bookkeeping = (uint16_t)(first + n_calls);
    H.stack_epoch = hlpy_tracer_stack_epoch();
    H.dropped = 0;
    hlpy_tracer_set_generation(H.bookkeeping);
    Py_RETURN_NONE;
}

PyObject *hlpy_leak_tags_set_call(PyObject *module, PyObject *call_arg) {
    (void)module;
    long call = PyLong_AsLong(call_arg);
    if (call == -1 && PyErr_Occurred())
        return NULL;
    if (hl__check_hunt() < 0)
        return NULL;
    if (call < 0 || call > H.n_calls) {
        PyErr_Format(PyExc_ValueError, "call %ld is not in 0..%d", call, H.n_calls);
        return NULL;
    }
    H.call = (int)call;
    hlpy_tracer_set_generation(call == 0 ? H.bookkeeping : (uint16_t)(H.first + call - 1));
    Py_RETURN_NONE;
}

static int hl__tag_object(PyObject *obj, void *arg) {
    size_t *count = arg;
    if (hl_u64_map_put(&H.tags, (uint64_t)(uintptr_t)obj, (uint32_t)H.call) < 0) {
        H.dropped++;
        return 0;
    }
    (*count)++;
    return 0;
}

/* Tag generations 0..max_generation with the call under way. Returns the
 * number tagged. Allocates only the map's own memory (raw malloc). */
static size_t hl__tag_young(int max_generation) {
    size_t count = 0;
    if (H.active)
        (void)hlpy_cpython_visit_young_generations(max_generation, hl__tag_object, &count);
    return count;
}

PyObject *hlpy_leak_tags_young(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    if (hl__check_hunt() < 0)
        return NULL;
    unsigned long long dropped = H.dropped;
    size_t count = hl__tag_young(1);
    if (H.dropped != dropped)
        return PyErr_NoMemory();
    return PyLong_FromSize_t(count);
}

PyObject *hlpy_leak_tags_gc_callback(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *phase, *info;
    if (!PyArg_ParseTuple(args, "UO:leak_tags_gc_callback", &phase, &info))
        return NULL;
    /* Generation 0 only: what is in generation 1 was in 0 at an earlier
     * collection of this call (the full collection before the call left both
     * empty), and a collection moves objects only after "start". */
    if (H.active && H.call > 0 && PyUnicode_CompareWithASCIIString(phase, "start") == 0)
        (void)hl__tag_young(0);
    Py_RETURN_NONE;
}

PyObject *hlpy_leak_tags_end(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    if (!H.active)
        return PyLong_FromLong(0);
    unsigned long long dropped = H.dropped;
    hl_u64_map_destroy(&H.tags);
    memset(&H, 0, sizeof(H));
    hlpy_tracer_set_generation(0);
    return PyLong_FromUnsignedLongLong(dropped);
}

/* The call that created the object at `address` of type `type`, 0 when it is
 * older than the hunt, or -1 when the hunt itself made it.
 *
 * A young tag, when there is one, is the latest word for a collector type:
 * every tracked object is tagged when it sits in generation 0 (with 0 when
 * that was outside the calls), and a tag from a call can only be stale for
 * an object made untracked at the same address later, which the stamp of a
 * fresh block then corrects. Without a young tag, the block's stamp decides. */
static int hl__call_of(uintptr_t address, PyTypeObject *type, hl_stack_id *stack_out) {
    uintptr_t block = address - hlpy_cpython_preheader_size(type);
    int stamp_call = 0;
    uint16_t generation;
    if (hlpy_tracer_find_py_block_generation(block, &generation)) {
        if (generation == H.bookkeeping)
            stamp_call = -1;
        else if (generation >= H.first && generation < H.bookkeeping)
            stamp_call = generation - H.first + 1;
        if (!hlpy_tracer_find_py_block_stack(block, stack_out))
            *stack_out = (hl_stack_id)-1;
    }
    uint32_t young_call;
    /* Only collector types have young tags: an object of another type at a
     * tagged address took the memory of a tracked object freed since. */
    if (PyType_IS_GC(type) && hl_u64_map_get(&H.tags, (uint64_t)address, &young_call)) {
        if (young_call == 0)
            return -1;
        return stamp_call > (int)young_call ? stamp_call : (int)young_call;
    }
    return stamp_call;
}

PyObject *hlpy_leak_tags_of_heap(const hlpy_heap *heap) {
    if (hl__check_hunt() < 0)
        return NULL;
    PyObject *rows = PyList_New(0);
    if (rows == NULL)
        return NULL;
    size_t n_nodes = hl_graph_n_nodes(heap->graph);
    for (size_t i = 0; i < n_nodes; i++) {
        hl_node_id id = (hl_node_id)i;
        if (hl_graph_flags(heap->graph, id) & (HL_NODE_VIRTUAL | HL_NODE_IGNORED))
            continue;
        uint32_t type_id = hl_graph_type(heap->graph, id);
        if (type_id >= heap->types.n_types)
            continue;
        hl_stack_id stack = (hl_stack_id)-1;
        int call = hl__call_of((uintptr_t)hl_graph_address(heap->graph, id),
                               heap->types.types[type_id], &stack);
        if (call <= 0)
            continue;
        PyObject *row = Py_BuildValue("(nil)", (Py_ssize_t)i, call,
                                      stack == (hl_stack_id)-1 ? -1L : (long)stack);
        if (row == NULL || PyList_Append(rows, row) < 0) {
            Py_XDECREF(row);
            Py_DECREF(rows);
            return NULL;
        }
        Py_DECREF(row);
    }
    return rows;
}
