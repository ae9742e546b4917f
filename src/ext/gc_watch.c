/* gc_watch.c - see gc_watch.h.
 *
 * A window is the time between a collection's "start" and "stop" callbacks.
 * During the walk at "start" no Python object may be created (it would join
 * the list being walked), so types are first given window slots in C and
 * named after the walk; names and finalizer kinds of types live on in a
 * persistent table, so a record never refers to a type object.
 */
#include "gc_watch.h"

#include <time.h>

#include "finalizers.h"
#include "cpython/internals.h"
#include "free_watch.h"
#include "hooks.h"
#include "objsize.h"
#include "resolve.h"
#include "tracer.h"
#include "u64_map.h"

/* One type met in a window's walk. */
typedef struct hl_window_type {
    PyTypeObject *type; /* borrowed, valid during the "start" callback only */
    hlpy_size_method size_method;
    size_t preheader;    /* bytes in front of an instance in its block */
    int frees_by_gc_del; /* tp_free is PyObject_GC_Del: every free is seen */
    uint32_t entry;      /* index in type_entries, set after the walk */
} hl_window_type;

typedef struct hl_gc_watch {
    int recording;
    int breakdown;
    PyObject *records; /* list of record tuples; owned */
    PyObject *garbage; /* gc.garbage; owned */
    double own_seconds;
    size_t peak_bytes;
    uint64_t dropped; /* watched blocks or frees lost for lack of memory, callback errors */

    /* The open window. */
    int window_open;
    PyThreadState *window_tstate; /* the collecting thread */
    int generation;
    Py_ssize_t garbage_at_start;
    uint64_t stack_epoch;
    double started;
    PyMemAllocatorEx obj_allocator; /* the OBJ allocator when the window opened */
    hl_free_watch blocks;
    hl_u64_map window_type_index; /* type address -> index in window_types */
    hl_window_type *window_types;
    size_t n_window_types, window_types_capacity;
    PyTypeObject *last_type; /* one-entry cache for the walk */
    uint32_t last_slot;
    int walk_failed;

    /* Persistent while recording: (name, finalizer kind) of every type seen. */
    PyObject *type_entries;     /* list of (str, str or None) */
    PyObject *type_entry_index; /* dict: entry tuple -> its index */
    hl_u64_map static_types;    /* static (immortal) type address -> entry index */
    PyObject *sites;            /* dict: stack id -> frames tuple, for sites_epoch */
    uint64_t sites_epoch;
} hl_gc_watch;

static hl_gc_watch W;

static double hl__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the free observer (allocator hook; GIL held) ----------------------- */

static void hl__observe_free(void *ptr, int moved) {
    if (!W.window_open)
        return;
    /* Another thread (running while a finalizer let go of the GIL) frees by
     * reference counting, not because of the collection: forget the block,
     * so the sweep never reads it. */
    if (moved || hlpy_cpython_gil_tstate() != W.window_tstate) {
        hl_free_watch_moved(&W.blocks, (uint64_t)(uintptr_t)ptr);
        return;
    }
    hl_stack_id stack;
    if (!hlpy_tracer_find_py_block_stack((uintptr_t)ptr, &stack) ||
        hlpy_tracer_state.stack_epoch != W.stack_epoch)
        stack = HL_FREE_WATCH_NO_STACK;
    (void)hl_free_watch_freed(&W.blocks, (uint64_t)(uintptr_t)ptr, stack);
}

/* ---- types ------------------------------------------------------------- */

/* The window slot of `type`, added when new. Returns 0, or -1 when out of
 * memory. Runs no Python code and creates no object (called in the walk). */
static int hl__window_slot(PyTypeObject *type, uint32_t *slot_out) {
    if (type == W.last_type) {
        *slot_out = W.last_slot;
        return 0;
    }
    uint32_t slot;
    int inserted;
    if (hl_u64_map_get_or_put(&W.window_type_index, (uint64_t)(uintptr_t)type,
                              (uint32_t)W.n_window_types, &slot, &inserted) < 0)
        return -1;
    if (inserted) {
        if (W.n_window_types == W.window_types_capacity) {
            size_t capacity = W.window_types_capacity ? 2 * W.window_types_capacity : 64;
            hl_window_type *grown = realloc(W.window_types, capacity * sizeof(*grown));
            if (grown == NULL)
                return -1; /* the map names a slot with no entry: the walk gives up */
            W.window_types = grown;
            W.window_types_capacity = capacity;
        }
        hl_window_type *entry = &W.window_types[W.n_window_types++];
        entry->type = type;
        entry->entry = UINT32_MAX;
        entry->preheader = hlpy_cpython_preheader_size(type);
        entry->frees_by_gc_del = type->tp_free == PyObject_GC_Del;
        if (hlpy_size_method_for(type, &entry->size_method) < 0)
            PyErr_Clear(); /* it fell back to the basic formula */
    }
    W.last_type = type;
    W.last_slot = slot;
    *slot_out = slot;
    return 0;
}

/* A new reference to the display name of `type`: tp_name for static types
 * (which carries the module, as in "collections.OrderedDict"), module.qualname
 * for classes (builtins left out). Reads dicts only; runs no Python code. */
static PyObject *hl__type_name(PyTypeObject *type) {
    if (!PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE))
        return PyUnicode_FromString(type->tp_name);
    PyObject *qualname = ((PyHeapTypeObject *)type)->ht_qualname;
    PyObject *dict = type->tp_dict;
    PyObject *module = dict ? PyDict_GetItemString(dict, "__module__") : NULL;
    if (qualname == NULL || !PyUnicode_Check(qualname))
        return PyUnicode_FromString(type->tp_name);
    if (module == NULL || !PyUnicode_Check(module) ||
        PyUnicode_CompareWithASCIIString(module, "builtins") == 0)
        return Py_NewRef(qualname);
    return PyUnicode_FromFormat("%U.%U", module, qualname);
}

/* The persistent entry index of `type`. Returns 0, or -1 with an exception. */
static int hl__type_entry(PyTypeObject *type, uint32_t *entry_out) {
    int is_static = !PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE);
    if (is_static && hl_u64_map_get(&W.static_types, (uint64_t)(uintptr_t)type, entry_out))
        return 0;
    PyObject *name = hl__type_name(type);
    if (name == NULL)
        return -1;
    const char *kind = hlpy_type_finalizer_kind(type);
    PyObject *key = Py_BuildValue("(Nz)", name, kind);
    if (key == NULL)
        return -1;
    PyObject *known = PyDict_GetItemWithError(W.type_entry_index, key);
    long entry;
    if (known != NULL) {
        entry = PyLong_AsLong(known);
    } else if (PyErr_Occurred()) {
        Py_DECREF(key);
        return -1;
    } else {
        entry = (long)PyList_GET_SIZE(W.type_entries);
        PyObject *number = PyLong_FromLong(entry);
        int failed = number == NULL || PyList_Append(W.type_entries, key) < 0 ||
                     PyDict_SetItem(W.type_entry_index, key, number) < 0;
        Py_XDECREF(number);
        if (failed) {
            Py_DECREF(key);
            return -1;
        }
    }
    Py_DECREF(key);
    *entry_out = (uint32_t)entry;
    if (is_static) {
        uint32_t unused;
        int inserted;
        if (hl_u64_map_get_or_put(&W.static_types, (uint64_t)(uintptr_t)type, *entry_out, &unused,
                                  &inserted) < 0)
            return 0; /* only the cache failed */
    }
    return 0;
}

/* ---- the window ---------------------------------------------------------- */

/* Objects of the walk waiting to be watched, added in batches so that their
 * slots in the watch's map are fetched ahead. */
#define HL__BATCH 64
typedef struct hl_walk {
    PyObject *skip; /* not watched */
    uint64_t addresses[HL__BATCH];
    uint32_t slots[HL__BATCH];
    uint64_t sizes[HL__BATCH];
    size_t n;
} hl_walk;

static void hl__flush(hl_walk *walk) {
    (void)hl_free_watch_add_many(&W.blocks, walk->addresses, walk->slots, walk->sizes, walk->n);
    walk->n = 0; /* failures are counted in the watch */
}

static int hl__watch_object(PyObject *obj, void *arg) {
    hl_walk *walk = arg;
    uint32_t slot;
    if (obj == walk->skip)
        return 0;
    if (hl__window_slot(Py_TYPE(obj), &slot) < 0) {
        W.walk_failed = 1;
        return -1;
    }
    const hl_window_type *type = &W.window_types[slot];
    walk->addresses[walk->n] = (uint64_t)(uintptr_t)obj - type->preheader;
    walk->slots[walk->n] = slot;
    walk->sizes[walk->n] = hlpy_size_of(obj, &type->size_method);
    if (++walk->n == HL__BATCH)
        hl__flush(walk);
    return 0;
}

/* Forget the window's blocks and types. */
static void hl__reset_window(void) {
    W.window_open = 0;
    if (hl_free_watch_reset(&W.blocks) < 0)
        W.dropped++;
    hl_u64_map_destroy(&W.window_type_index);
    if (hl_u64_map_init(&W.window_type_index, 64) < 0)
        W.window_type_index.slots = NULL;
    W.n_window_types = 0;
    W.last_type = NULL;
}

/* Open the window of a collection of `generation`. `call_args`, the tuple the
 * collector built to call us, is freed right after we return, by the call
 * machinery rather than the collection: it is not watched. */
static void hl__open_window(int generation, PyObject *call_args) {
    double began = hl__now();
    hl__reset_window();
    W.generation = generation;
    W.garbage_at_start = PyList_GET_SIZE(W.garbage);
    W.walk_failed = 0;
    if (W.breakdown) {
        if (W.window_type_index.slots == NULL) {
            W.walk_failed = 1;
        } else {
            hl_walk walk = {.skip = call_args, .n = 0};
            /* Sizing the tables for the whole heap up front spares rehashing;
             * when that fails, adds still grow the tables as needed. */
            if (generation == 2)
                (void)hl_free_watch_reserve(&W.blocks, hlpy_cpython_gc_long_lived_total() + 4096);
            (void)hlpy_cpython_visit_young_generations(generation, hl__watch_object, &walk);
            hl__flush(&walk);
        }
        if (W.walk_failed) {
            /* Out of memory: record this collection without a breakdown. */
            W.dropped += W.blocks.n_blocks + 1;
            if (hl_free_watch_reset(&W.blocks) < 0)
                W.dropped++;
        }
        for (size_t i = 0; i < W.n_window_types; i++) {
            if (hl__type_entry(W.window_types[i].type, &W.window_types[i].entry) < 0) {
                PyErr_Clear();
                W.window_types[i].entry = UINT32_MAX;
            }
            W.window_types[i].type = NULL; /* may die in the collection */
        }
        size_t memory = hl_free_watch_memory(&W.blocks);
        if (memory > W.peak_bytes)
            W.peak_bytes = memory;
    }
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &W.obj_allocator);
    W.stack_epoch = hlpy_tracer_state.stack_epoch;
    W.window_tstate = hlpy_cpython_gil_tstate();
    W.window_open = 1;
    W.started = hl__now();
    W.own_seconds += W.started - began;
}

/* A new reference to the frames of stack `stack`, or to None when unknown.
 * Returns NULL with an exception on failure. */
static PyObject *hl__site(hl_stack_id stack) {
    if (stack == HL_FREE_WATCH_NO_STACK || hlpy_tracer_state.stack_epoch != W.stack_epoch ||
        !atomic_load(&hlpy_tracer_state.tracing))
        Py_RETURN_NONE;
    if (W.sites_epoch != W.stack_epoch) {
        PyDict_Clear(W.sites);
        W.sites_epoch = W.stack_epoch;
    }
    PyObject *key = PyLong_FromUnsignedLong(stack);
    if (key == NULL)
        return NULL;
    PyObject *frames = PyDict_GetItemWithError(W.sites, key);
    if (frames != NULL) {
        Py_DECREF(key);
        return Py_NewRef(frames);
    }
    int total;
    if (PyErr_Occurred() || hlpy_resolve_stack_frames(stack, &frames, &total) < 0) {
        Py_DECREF(key);
        return NULL;
    }
    int failed = PyDict_SetItem(W.sites, key, frames);
    Py_DECREF(key);
    if (failed) {
        Py_DECREF(frames);
        return NULL;
    }
    return frames;
}

/* The (name, kind) entry of window slot `slot`, borrowed, or NULL when the
 * type could not be named. */
static PyObject *hl__slot_entry(uint32_t slot) {
    if (slot >= W.n_window_types || W.window_types[slot].entry == UINT32_MAX)
        return NULL;
    return PyList_GET_ITEM(W.type_entries, W.window_types[slot].entry);
}

/* A watched block no free was seen for, at the end of a window: its object
 * was deallocated into a free list (lists, tuples, dicts keep a few for
 * reuse) when the seam says so (`free_lists`: its index of them). The memory
 * is still the object's: every free of a block whose type frees with
 * PyObject_GC_Del passes the free observer, and a block freed by another
 * thread was forgotten. */
static int hl__in_free_list(uint64_t address, uint32_t slot, void *free_lists,
                            uint32_t *stack_out) {
    if (slot >= W.n_window_types || !W.window_types[slot].frees_by_gc_del)
        return 0;
    PyObject *obj = (PyObject *)(uintptr_t)(address + W.window_types[slot].preheader);
    if (!hlpy_cpython_in_free_list(obj, free_lists))
        return 0;
    hl_stack_id stack;
    if (!hlpy_tracer_find_py_block_stack((uintptr_t)address, &stack) ||
        hlpy_tracer_state.stack_epoch != W.stack_epoch)
        stack = HL_FREE_WATCH_NO_STACK;
    *stack_out = stack;
    return 1;
}

/* A new tuple of (type_name, finalizer_kind, site, count, bytes) rows for
 * the window's freed blocks, or NULL with an exception. */
static PyObject *hl__freed_rows(Py_ssize_t collected) {
    /* The sweep reads memory no free was seen for, so it needs every free to
     * have passed our wrapper: skip it if someone changed the OBJ allocator
     * meanwhile (a tool below us may have been unhooked with ours). */
    PyMemAllocatorEx now;
    PyMem_GetAllocator(PYMEM_DOMAIN_OBJ, &now);
    int chain_unchanged = now.ctx == W.obj_allocator.ctx && now.free == W.obj_allocator.free;
    if (chain_unchanged && (Py_ssize_t)W.blocks.n_freed < collected) {
        hl_u64_map free_lists;
        if (hl_u64_map_init(&free_lists, 256) == 0 &&
            hlpy_cpython_free_lists_index(&free_lists) == 0)
            (void)hl_free_watch_sweep_live(&W.blocks, hl__in_free_list, &free_lists);
        else
            W.dropped++;
        hl_u64_map_destroy(&free_lists);
    }
    const hl_free_tally_row *rows;
    long n = hl_free_watch_tally(&W.blocks, &rows);
    if (n < 0)
        return PyErr_NoMemory();
    PyObject *out = PyTuple_New(n);
    for (long i = 0; out != NULL && i < n; i++) {
        PyObject *entry = hl__slot_entry(rows[i].type);
        PyObject *site = hl__site(rows[i].stack);
        PyObject *row =
            site == NULL ? NULL
            : entry == NULL
                ? Py_BuildValue("(sONKK)", "?", Py_None, site, (unsigned long long)rows[i].count,
                                (unsigned long long)rows[i].bytes)
                : Py_BuildValue("(OONKK)", PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1),
                                site, (unsigned long long)rows[i].count,
                                (unsigned long long)rows[i].bytes);
        if (row == NULL)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, i, row);
    }
    return out;
}

/* A new tuple of (type_name, finalizer_kind, address, site) for the objects
 * gc.garbage gained since the window opened, or NULL with an exception. */
static PyObject *hl__new_garbage(void) {
    Py_ssize_t end = PyList_GET_SIZE(W.garbage);
    Py_ssize_t begin = W.garbage_at_start < end ? W.garbage_at_start : end;
    PyObject *out = PyTuple_New(end - begin);
    for (Py_ssize_t i = begin; out != NULL && i < end; i++) {
        PyObject *obj = PyList_GET_ITEM(W.garbage, i);
        PyObject *name = hl__type_name(Py_TYPE(obj));
        hl_stack_id stack;
        uintptr_t block = (uintptr_t)obj - hlpy_cpython_preheader_size(Py_TYPE(obj));
        if (!hlpy_tracer_find_py_block_stack(block, &stack))
            stack = HL_FREE_WATCH_NO_STACK;
        PyObject *site = name ? hl__site(stack) : NULL;
        PyObject *row = site ? Py_BuildValue("(NzKN)", name, hlpy_type_finalizer_kind(Py_TYPE(obj)),
                                             (unsigned long long)(uintptr_t)obj, site)
                             : NULL;
        if (site == NULL)
            Py_XDECREF(name);
        if (row == NULL)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, i - begin, row);
    }
    return out;
}

static void hl__close_window(PyObject *info) {
    double ended = hl__now();
    W.window_open = 0;
    PyObject *collected = PyDict_GetItemString(info, "collected");
    PyObject *uncollectable = PyDict_GetItemString(info, "uncollectable");
    Py_ssize_t n_collected = collected && PyLong_Check(collected) ? PyLong_AsSsize_t(collected) : 0;
    if (n_collected < 0) {
        PyErr_Clear();
        n_collected = PY_SSIZE_T_MAX;
    }
    PyObject *freed = W.breakdown ? hl__freed_rows(n_collected) : PyTuple_New(0);
    PyObject *garbage = freed ? hl__new_garbage() : NULL;
    PyObject *record = garbage == NULL
                           ? NULL
                           : Py_BuildValue("(iddOONNn)", W.generation, W.started, ended - W.started,
                                           collected ? collected : Py_None,
                                           uncollectable ? uncollectable : Py_None, freed, garbage,
                                           (Py_ssize_t)W.blocks.n_blocks);
    if (record == NULL) {
        Py_XDECREF(freed);
        PyErr_Clear();
        W.dropped++;
    } else {
        if (PyList_Append(W.records, record) < 0) {
            PyErr_Clear();
            W.dropped++;
        }
        Py_DECREF(record);
    }
    W.dropped += W.blocks.dropped;
    hl__reset_window();
    W.own_seconds += hl__now() - ended;
}

/* ---- module functions ---------------------------------------------------- */

static void hl__release(void) {
    hlpy_hooks_set_free_observer(NULL);
    if (W.breakdown)
        hlpy_hooks_uninstall(HLPY_HOOK_USER_GC_WATCH);
    W.window_open = 0;
    hl_free_watch_destroy(&W.blocks);
    hl_u64_map_destroy(&W.window_type_index);
    hl_u64_map_destroy(&W.static_types);
    free(W.window_types);
    Py_CLEAR(W.records);
    Py_CLEAR(W.garbage);
    Py_CLEAR(W.type_entries);
    Py_CLEAR(W.type_entry_index);
    Py_CLEAR(W.sites);
    memset(&W, 0, sizeof(W));
}

PyObject *hlpy_gc_watch_start(PyObject *module, PyObject *breakdown_arg) {
    int breakdown = PyObject_IsTrue(breakdown_arg);
    if (breakdown < 0)
        return NULL;
    if (W.recording) {
        PyErr_SetString(PyExc_RuntimeError, "a gc monitor is already running");
        return NULL;
    }
    /* gc from sys.modules when loaded (it always is when called from
     * heaplens._gc_monitor): an import statement here could re-enter the
     * import machinery from wherever the monitor is started. */
    PyObject *gc_name = PyUnicode_FromString("gc");
    PyObject *gc = gc_name ? PyImport_GetModule(gc_name) : NULL;
    if (gc == NULL && gc_name != NULL && !PyErr_Occurred())
        gc = PyImport_Import(gc_name);
    Py_XDECREF(gc_name);
    PyObject *garbage = gc ? PyObject_GetAttrString(gc, "garbage") : NULL;
    Py_XDECREF(gc);
    if (garbage == NULL)
        return NULL;
    if (!PyList_Check(garbage)) {
        Py_DECREF(garbage);
        PyErr_SetString(PyExc_RuntimeError, "gc.garbage is not a list");
        return NULL;
    }
    memset(&W, 0, sizeof(W));
    W.garbage = garbage;
    W.records = PyList_New(0);
    W.type_entries = PyList_New(0);
    W.type_entry_index = PyDict_New();
    W.sites = PyDict_New();
    if (W.records == NULL || W.type_entries == NULL || W.type_entry_index == NULL ||
        W.sites == NULL || hl_free_watch_init(&W.blocks) < 0 ||
        hl_u64_map_init(&W.window_type_index, 64) < 0 || hl_u64_map_init(&W.static_types, 64) < 0) {
        hl__release();
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    if (breakdown && hlpy_size_calibrate() < 0) {
        hl__release();
        return NULL;
    }
    W.breakdown = breakdown;
    W.recording = 1;
    if (breakdown) {
        hlpy_hooks_install(HLPY_HOOK_USER_GC_WATCH);
        hlpy_hooks_set_free_observer(hl__observe_free);
    }
    Py_RETURN_NONE;
}

PyObject *hlpy_gc_watch_stop(PyObject *module, PyObject *unused) {
    if (!W.recording) {
        PyErr_SetString(PyExc_RuntimeError, "no gc monitor is running");
        return NULL;
    }
    PyObject *result = Py_BuildValue("(OdnK)", W.records, W.own_seconds, (Py_ssize_t)W.peak_bytes,
                                     (unsigned long long)W.dropped);
    hl__release();
    return result;
}

PyObject *hlpy_gc_watch_callback(PyObject *module, PyObject *args) {
    PyObject *phase, *info;
    if (!PyArg_ParseTuple(args, "UO!:gc_watch_callback", &phase, &PyDict_Type, &info))
        return NULL;
    if (!W.recording)
        Py_RETURN_NONE;
    if (PyUnicode_CompareWithASCIIString(phase, "start") == 0) {
        PyObject *generation = PyDict_GetItemString(info, "generation");
        long g = generation ? PyLong_AsLong(generation) : 2;
        if (g < 0 || g > 2) {
            PyErr_Clear();
            g = 2;
        }
        hl__open_window((int)g, args);
    } else if (PyUnicode_CompareWithASCIIString(phase, "stop") == 0 && W.window_open) {
        hl__close_window(info);
    }
    Py_RETURN_NONE;
}
