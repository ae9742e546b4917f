/* gc_watch.c - see gc_watch.h.
 *
 * A window is the time between a collection's "start" and "stop" callbacks.
 * During the walk at "start" no Python object may be created (it would join
 * the list being walked), so types are first given window slots in C and
 * named after the walk; names and finalizer kinds of types live on in a
 * persistent table, so a record never refers to a type object.
 */
#include "gc_watch.h"

#include <string.h>
#include <time.h>

#include "finalizers.h"
#include "cpython/internals.h"
#include "free_watch.h"
#include "hooks.h"
#include "objsize.h"
#include "resolve.h"
#include "safe_names.h"
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

/* One collection, as the ring of recent ones keeps it. */
typedef struct hl_gc_record {
    int generation;
    double started, duration;
    Py_ssize_t collected, uncollectable; /* as the collector counts them */
    uint64_t freed, freed_bytes;         /* what the monitor saw freed */
    Py_ssize_t garbage;                  /* objects added to gc.garbage */
    Py_ssize_t watched;
} hl_gc_record;

/* Running totals of one generation. */
typedef struct hl_gc_generation_totals {
    uint64_t runs;
    double seconds, longest;
    uint64_t collected, uncollectable;
} hl_gc_generation_totals;

/* Freed objects of one (type entry, site) pair, over all collections. */
typedef struct hl_gc_freed_total {
    uint32_t entry; /* index in type_entries, or UINT32_MAX when unnamed */
    uint32_t site;  /* site (0: unknown) */
    uint64_t count, bytes;
} hl_gc_freed_total;

/* An object a collection added to gc.garbage. */
typedef struct hl_gc_garbage_entry {
    uint32_t entry;
    uint32_t site;
    uint64_t address;
} hl_gc_garbage_entry;

/* One frame of an allocation site: a file name (a reference to the code's
 * co_filename, or NULL when it is not a str) and a line. */
typedef struct hl_site_frame {
    PyObject *filename;
    int lineno;
} hl_site_frame;

typedef struct hl_site {
    uint32_t first, n_frames;
} hl_site;

/* The name and finalizer kind of a type met while recording. */
typedef struct hl_type_entry {
    char *name;       /* "module.Qualname", or a builtin's name; malloc'ed */
    const char *kind; /* a static string (finalizers.h), or NULL */
} hl_type_entry;

typedef struct hl_gc_watch {
    int recording;
    int breakdown;
    PyObject *garbage; /* gc.garbage; owned */

    /* What the monitor keeps is bounded by the number of types and
     * allocation sites met, never by the number of collections: running
     * totals, the last HLPY_GC_RECENT collections and the last
     * HLPY_GC_GARBAGE_KEPT objects of gc.garbage, in C memory (malloc) taken
     * when the monitor starts. */
    uint64_t n_collections;
    hl_gc_record *recent; /* ring of HLPY_GC_RECENT; slot n_collections % RECENT is next */
    hl_gc_generation_totals generations[3];
    uint64_t n_garbage;
    hl_gc_garbage_entry *garbage_kept; /* ring of HLPY_GC_GARBAGE_KEPT */
    hl_u64_map freed_index;            /* (entry << 32 | site) -> index in freed_totals */
    hl_gc_freed_total *freed_totals;
    size_t n_freed_totals, freed_totals_capacity;
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

    /* Persistent while recording: (name, finalizer kind) of every type seen,
     * in C memory. */
    hl_type_entry *type_entries;
    size_t n_type_entries, type_entries_capacity;
    hl_u64_map type_entry_index; /* hash of (name, kind) -> index in type_entries */
    hl_u64_map static_types;     /* static (immortal) type address -> entry index */
    /* Allocation sites, resolved while their stack ids are valid and kept
     * in C: site s (1 <= s < n_sites) is frames[sites[s].first ..
     * + sites[s].n_frames); site 0 is unknown. */
    hl_site *sites;
    size_t n_sites, sites_capacity;
    hl_site_frame *frames;
    size_t n_frames, frames_capacity;
    hl_u64_map site_index; /* stack id -> site, for sites_epoch */
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
        hlpy_tracer_stack_epoch() != W.stack_epoch)
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

/* 64-bit FNV-1a of a type's name and finalizer kind. */
static uint64_t hl__entry_hash(const char *name, const char *kind) {
    uint64_t hash = 14695981039346656037ULL;
    for (const char *c = name; *c; c++)
        hash = (hash ^ (unsigned char)*c) * 1099511628211ULL;
    hash = (hash ^ 0xff) * 1099511628211ULL;
    for (const char *c = kind ? kind : ""; *c; c++)
        hash = (hash ^ (unsigned char)*c) * 1099511628211ULL;
    return hash;
}

static int hl__same_kind(const char *a, const char *b) {
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The persistent entry index of `type`: one per (name, finalizer kind), as
 * a class may die and another take its address. Names are kept in C memory,
 * so a type met for the first time costs the program's heap no block (the
 * name is made as a str for a moment, read, and freed). Returns 0, or -1
 * with MemoryError set. */
static int hl__type_entry(PyTypeObject *type, uint32_t *entry_out) {
    int is_static = !PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE);
    if (is_static && hl_u64_map_get(&W.static_types, (uint64_t)(uintptr_t)type, entry_out))
        return 0;
    PyObject *name_object = hlpy_safe_type_name(type, HLPY_NAME_QUALIFIED | HLPY_NAME_MODULE);
    const char *name = name_object ? PyUnicode_AsUTF8(name_object) : NULL;
    if (name == NULL) {
        Py_XDECREF(name_object);
        return -1;
    }
    const char *kind = hlpy_type_finalizer_kind(type);
    uint64_t key = hl__entry_hash(name, kind);
    uint32_t entry;
    for (;; key++) { /* distinct names whose hashes collide take the next key */
        if (key == HL_U64_MAP_EMPTY)
            continue;
        if (!hl_u64_map_get(&W.type_entry_index, key, &entry))
            break;
        if (strcmp(W.type_entries[entry].name, name) == 0 &&
            hl__same_kind(W.type_entries[entry].kind, kind)) {
            Py_DECREF(name_object);
            goto found;
        }
    }
    if (W.n_type_entries == W.type_entries_capacity) {
        size_t capacity = W.type_entries_capacity ? 2 * W.type_entries_capacity : 64;
        hl_type_entry *grown = realloc(W.type_entries, capacity * sizeof(*grown));
        if (grown == NULL)
            goto out_of_memory;
        W.type_entries = grown;
        W.type_entries_capacity = capacity;
    }
    char *copy = strdup(name);
    if (copy == NULL)
        goto out_of_memory;
    entry = (uint32_t)W.n_type_entries;
    if (hl_u64_map_put(&W.type_entry_index, key, entry) < 0) {
        free(copy);
        goto out_of_memory;
    }
    W.type_entries[W.n_type_entries++] = (hl_type_entry){copy, kind};
    Py_DECREF(name_object);
found:
    *entry_out = entry;
    if (is_static && hl_u64_map_put(&W.static_types, (uint64_t)(uintptr_t)type, entry) < 0)
        return 0; /* only the cache failed */
    return 0;
out_of_memory:
    Py_DECREF(name_object);
    PyErr_NoMemory();
    return -1;
}

/* ---- the window ---------------------------------------------------------- */

/* Objects of the walk waiting to be watched, added in batches so that their
 * slots in the watch's map are fetched ahead. */
#define HL__BATCH 64
typedef struct hl_walk {
    PyObject *phase, *info; /* the callback's arguments */
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
    /* The tuple of (phase, info) the collector built to call us (3.11 calls
     * through a tuple; later versions pass the arguments as an array) is
     * freed right after we return, by the call machinery rather than the
     * collection: it is not watched. */
    if (Py_IS_TYPE(obj, &PyTuple_Type) && PyTuple_GET_SIZE(obj) == 2 &&
        PyTuple_GET_ITEM(obj, 0) == walk->phase && PyTuple_GET_ITEM(obj, 1) == walk->info)
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

/* Open the window of a collection of `generation`; phase and info are the
 * arguments of the "start" callback. */
static void hl__open_window(int generation, PyObject *phase, PyObject *info) {
    double began = hl__now();
    hl__reset_window();
    W.generation = generation;
    W.garbage_at_start = PyList_GET_SIZE(W.garbage);
    W.walk_failed = 0;
    if (W.breakdown) {
        if (W.window_type_index.slots == NULL) {
            W.walk_failed = 1;
        } else {
            hl_walk walk = {.phase = phase, .info = info, .n = 0};
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
    W.stack_epoch = hlpy_tracer_stack_epoch();
    W.window_tstate = hlpy_cpython_gil_tstate();
    W.window_open = 1;
    W.started = hl__now();
    W.own_seconds += W.started - began;
}

/* Grow `*array` (of `*capacity` items of `size` bytes) to hold `needed`.
 * Returns 0, or -1 when out of memory (the array is unchanged). */
static int hl__reserve(void **array, size_t *capacity, size_t needed, size_t size) {
    if (needed <= *capacity)
        return 0;
    size_t grown_capacity = *capacity ? *capacity : 64;
    while (grown_capacity < needed)
        grown_capacity *= 2;
    void *grown = realloc(*array, grown_capacity * size);
    if (grown == NULL)
        return -1;
    *array = grown;
    *capacity = grown_capacity;
    return 0;
}

/* The site of stack `stack`: 0 (unknown) when the tracer is off, the stack
 * is of another epoch, or memory ran out (counted as dropped). Each stack is
 * resolved once per stack epoch, into C memory: no Python object is made, so
 * a collection leaves the collector's counts and the allocated blocks as it
 * found them. Never fails. */
static uint32_t hl__site(hl_stack_id stack) {
    if (stack == HL_FREE_WATCH_NO_STACK || hlpy_tracer_stack_epoch() != W.stack_epoch ||
        stack >= hlpy_tracer_n_stacks()) /* 0 when not tracing */
        return 0;
    if (W.sites_epoch != W.stack_epoch) {
        /* Stack ids of another epoch name other stacks: forget them (the
         * sites already resolved stay, for the totals that use them). */
        hl_u64_map_destroy(&W.site_index);
        if (hl_u64_map_init(&W.site_index, 64) < 0)
            W.site_index.slots = NULL;
        W.sites_epoch = W.stack_epoch;
    }
    uint32_t site;
    if (W.site_index.slots == NULL) {
        W.dropped++;
        return 0;
    }
    if (hl_u64_map_get(&W.site_index, stack, &site))
        return site;
    const hl_stack_table *stacks = hlpy_tracer_stack_table();
    const hl_stack_entry *entry = &stacks->entries[stack];
    const hl_frame_ref *refs = hl_stack_table_frames(stacks, stack);
    size_t n = entry->nframe;
    if (W.n_sites >= UINT32_MAX || W.n_frames + n >= UINT32_MAX ||
        hl__reserve((void **)&W.sites, &W.sites_capacity, W.n_sites + 1, sizeof(hl_site)) < 0 ||
        hl__reserve((void **)&W.frames, &W.frames_capacity, W.n_frames + n, sizeof(hl_site_frame)) <
            0) {
        W.dropped++;
        return 0;
    }
    site = (uint32_t)W.n_sites;
    if (hl_u64_map_put(&W.site_index, stack, site) < 0) {
        W.dropped++;
        return 0;
    }
    W.sites[W.n_sites++] = (hl_site){(uint32_t)W.n_frames, (uint32_t)n};
    for (size_t i = 0; i < n; i++) {
        PyCodeObject *code = (PyCodeObject *)refs[i].code;
        PyObject *filename = code->co_filename;
        W.frames[W.n_frames++] = (hl_site_frame){
            filename != NULL && PyUnicode_Check(filename) ? Py_NewRef(filename) : NULL,
            hlpy_cpython_lineno(code, refs[i].lasti)};
    }
    return site;
}

/* A new reference to site `site` as a tuple of (filename, lineno) pairs,
 * most recent first, or to None for the unknown site; NULL with an
 * exception. */
static PyObject *hl__site_tuple(uint32_t site) {
    if (site == 0 || site >= W.n_sites)
        Py_RETURN_NONE;
    const hl_site *where = &W.sites[site];
    Py_ssize_t n = where->n_frames ? where->n_frames : 1;
    PyObject *out = PyTuple_New(n);
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        const hl_site_frame *frame = where->n_frames ? &W.frames[where->first + i] : NULL;
        PyObject *pair = frame && frame->filename
                             ? Py_BuildValue("(Oi)", frame->filename, frame->lineno)
                             : Py_BuildValue("(si)", "<unknown>", frame ? frame->lineno : 0);
        if (pair == NULL)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, i, pair);
    }
    return out;
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
        hlpy_tracer_stack_epoch() != W.stack_epoch)
        stack = HL_FREE_WATCH_NO_STACK;
    *stack_out = stack;
    return 1;
}

/* Add `count` objects and `bytes` to the total of (entry, site). Returns 0,
 * or -1 when out of memory (the caller counts them as dropped). */
static int hl__add_freed(uint32_t entry, uint32_t site, uint64_t count, uint64_t bytes) {
    uint64_t key = ((uint64_t)entry << 32) | site;
    if (key == HL_U64_MAP_EMPTY)
        key--; /* an unnamed type at the last site: shares a row, harmlessly */
    if (W.n_freed_totals == W.freed_totals_capacity) {
        size_t capacity = W.freed_totals_capacity ? 2 * W.freed_totals_capacity : 64;
        hl_gc_freed_total *grown = realloc(W.freed_totals, capacity * sizeof(*grown));
        if (grown == NULL)
            return -1;
        W.freed_totals = grown;
        W.freed_totals_capacity = capacity;
    }
    uint32_t index;
    int inserted;
    if (hl_u64_map_get_or_put(&W.freed_index, key, (uint32_t)W.n_freed_totals, &index, &inserted) <
        0)
        return -1;
    if (inserted)
        W.freed_totals[W.n_freed_totals++] = (hl_gc_freed_total){entry, site, 0, 0};
    W.freed_totals[index].count += count;
    W.freed_totals[index].bytes += bytes;
    return 0;
}

/* Fold the window's freed blocks into the totals by (type, site); sets the
 * record's freed and freed_bytes. Creates Python objects only for a type or
 * a site never met before. */
static void hl__tally_freed(Py_ssize_t collected, hl_gc_record *record) {
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
    if (n < 0) {
        W.dropped++;
        return;
    }
    for (long i = 0; i < n; i++) {
        uint32_t slot = rows[i].type;
        uint32_t entry = slot < W.n_window_types ? W.window_types[slot].entry : UINT32_MAX;
        record->freed += rows[i].count;
        record->freed_bytes += rows[i].bytes;
        if (hl__add_freed(entry, hl__site(rows[i].stack), rows[i].count, rows[i].bytes) < 0)
            W.dropped += rows[i].count;
    }
}

/* Keep the objects gc.garbage gained since the window opened in the ring of
 * the last HLPY_GC_GARBAGE_KEPT; returns how many it gained. */
static Py_ssize_t hl__keep_new_garbage(void) {
    Py_ssize_t end = PyList_GET_SIZE(W.garbage);
    Py_ssize_t begin = W.garbage_at_start < end ? W.garbage_at_start : end;
    for (Py_ssize_t i = begin; i < end; i++) {
        PyObject *obj = PyList_GET_ITEM(W.garbage, i);
        PyTypeObject *type = Py_TYPE(obj);
        uint32_t entry;
        if (hl__type_entry(type, &entry) < 0) {
            PyErr_Clear();
            entry = UINT32_MAX;
        }
        hl_stack_id stack;
        uintptr_t block = (uintptr_t)obj - hlpy_cpython_preheader_size(type);
        if (!hlpy_tracer_find_py_block_stack(block, &stack))
            stack = HL_FREE_WATCH_NO_STACK;
        W.garbage_kept[W.n_garbage % HLPY_GC_GARBAGE_KEPT] =
            (hl_gc_garbage_entry){entry, hl__site(stack), (uint64_t)(uintptr_t)obj};
        W.n_garbage++;
    }
    return end - begin;
}

/* A collection's count from the "stop" info dict: 0 when missing. */
static Py_ssize_t hl__info_count(PyObject *info, const char *key) {
    PyObject *value = PyDict_GetItemString(info, key);
    Py_ssize_t n = value && PyLong_Check(value) ? PyLong_AsSsize_t(value) : 0;
    if (n < 0) {
        PyErr_Clear();
        n = PY_SSIZE_T_MAX;
    }
    return n;
}

static void hl__close_window(PyObject *info) {
    double ended = hl__now();
    W.window_open = 0;
    hl_gc_record record = {
        .generation = W.generation,
        .started = W.started,
        .duration = ended - W.started,
        .collected = hl__info_count(info, "collected"),
        .uncollectable = hl__info_count(info, "uncollectable"),
        .watched = (Py_ssize_t)W.blocks.n_blocks,
    };
    if (W.breakdown)
        hl__tally_freed(record.collected, &record);
    record.garbage = hl__keep_new_garbage();
    W.recent[W.n_collections % HLPY_GC_RECENT] = record;
    W.n_collections++;
    hl_gc_generation_totals *totals = &W.generations[record.generation];
    totals->runs++;
    totals->seconds += record.duration;
    if (record.duration > totals->longest)
        totals->longest = record.duration;
    totals->collected += (uint64_t)record.collected;
    totals->uncollectable += (uint64_t)record.uncollectable;
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
    hl_u64_map_destroy(&W.freed_index);
    hl_u64_map_destroy(&W.site_index);
    free(W.window_types);
    free(W.recent);
    free(W.garbage_kept);
    free(W.freed_totals);
    Py_CLEAR(W.garbage);
    for (size_t i = 0; i < W.n_type_entries; i++)
        free(W.type_entries[i].name);
    free(W.type_entries);
    hl_u64_map_destroy(&W.type_entry_index);
    for (size_t i = 0; i < W.n_frames; i++)
        Py_XDECREF(W.frames[i].filename);
    free(W.frames);
    free(W.sites);
    memset(&W, 0, sizeof(W));
}

PyObject *hlpy_gc_watch_start(PyObject *module, PyObject *args) {
    PyObject *garbage;
    int breakdown;
    if (!PyArg_ParseTuple(args, "pO!:gc_watch_start", &breakdown, &PyList_Type, &garbage))
        return NULL;
    if (W.recording) {
        PyErr_SetString(PyExc_RuntimeError, "a gc monitor is already running");
        return NULL;
    }
    memset(&W, 0, sizeof(W));
    W.garbage = Py_NewRef(garbage);
    W.recent = calloc(HLPY_GC_RECENT, sizeof(*W.recent));
    W.garbage_kept = calloc(HLPY_GC_GARBAGE_KEPT, sizeof(*W.garbage_kept));
    W.sites = calloc(64, sizeof(*W.sites));
    W.sites_capacity = W.sites ? 64 : 0;
    W.n_sites = 1; /* site 0: unknown */
    if (hl_u64_map_init(&W.type_entry_index, 64) < 0 || W.sites == NULL || W.recent == NULL ||
        W.garbage_kept == NULL || hl_free_watch_init(&W.blocks) < 0 ||
        hl_u64_map_init(&W.window_type_index, 64) < 0 || hl_u64_map_init(&W.static_types, 64) < 0 ||
        hl_u64_map_init(&W.freed_index, 64) < 0 || hl_u64_map_init(&W.site_index, 64) < 0) {
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

/* New references to the (name, finalizer kind) of type entry `entry`
 * ("?" and None for an unnamed type). Returns 0, or -1 with an exception. */
static int hl__entry_parts(uint32_t entry, PyObject **name, PyObject **kind) {
    const hl_type_entry *known = entry < W.n_type_entries ? &W.type_entries[entry] : NULL;
    const char *text = known ? known->name : "?";
    *name = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
    *kind = known && known->kind ? PyUnicode_FromString(known->kind) : Py_NewRef(Py_None);
    if (*name == NULL || *kind == NULL) {
        Py_CLEAR(*name);
        Py_CLEAR(*kind);
        return -1;
    }
    return 0;
}

/* A new list of the recent collections, oldest first, or NULL. */
static PyObject *hl__recent_list(void) {
    uint64_t kept = W.n_collections < HLPY_GC_RECENT ? W.n_collections : HLPY_GC_RECENT;
    PyObject *out = PyList_New((Py_ssize_t)kept);
    for (uint64_t i = 0; out != NULL && i < kept; i++) {
        const hl_gc_record *r = &W.recent[(W.n_collections - kept + i) % HLPY_GC_RECENT];
        PyObject *row = Py_BuildValue("(iddnnKKnn)", r->generation, r->started, r->duration,
                                      r->collected, r->uncollectable, (unsigned long long)r->freed,
                                      (unsigned long long)r->freed_bytes, r->garbage, r->watched);
        if (row == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, row);
    }
    return out;
}

/* A new tuple of the per-generation totals, or NULL. */
static PyObject *hl__generations_tuple(void) {
    PyObject *out = PyTuple_New(3);
    for (Py_ssize_t g = 0; out != NULL && g < 3; g++) {
        const hl_gc_generation_totals *t = &W.generations[g];
        PyObject *row =
            Py_BuildValue("(KddKK)", (unsigned long long)t->runs, t->seconds, t->longest,
                          (unsigned long long)t->collected, (unsigned long long)t->uncollectable);
        if (row == NULL)
            Py_CLEAR(out);
        else
            PyTuple_SET_ITEM(out, g, row);
    }
    return out;
}

/* A new list of (type_name, finalizer_kind, site, count, bytes), or NULL. */
static PyObject *hl__freed_list(void) {
    PyObject *out = PyList_New((Py_ssize_t)W.n_freed_totals);
    for (size_t i = 0; out != NULL && i < W.n_freed_totals; i++) {
        const hl_gc_freed_total *t = &W.freed_totals[i];
        PyObject *name, *kind;
        PyObject *row =
            hl__entry_parts(t->entry, &name, &kind) < 0
                ? NULL
                : Py_BuildValue("(NNNKK)", name, kind, hl__site_tuple(t->site),
                                (unsigned long long)t->count, (unsigned long long)t->bytes);
        if (row == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, row);
    }
    return out;
}

/* A new list of the kept gc.garbage entries (type_name, finalizer_kind,
 * address, site), oldest first, or NULL. */
static PyObject *hl__garbage_list(void) {
    uint64_t kept = W.n_garbage < HLPY_GC_GARBAGE_KEPT ? W.n_garbage : HLPY_GC_GARBAGE_KEPT;
    PyObject *out = PyList_New((Py_ssize_t)kept);
    for (uint64_t i = 0; out != NULL && i < kept; i++) {
        const hl_gc_garbage_entry *e =
            &W.garbage_kept[(W.n_garbage - kept + i) % HLPY_GC_GARBAGE_KEPT];
        PyObject *name, *kind;
        PyObject *row = hl__entry_parts(e->entry, &name, &kind) < 0
                            ? NULL
                            : Py_BuildValue("(NNKN)", name, kind, (unsigned long long)e->address,
                                            hl__site_tuple(e->site));
        if (row == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, (Py_ssize_t)i, row);
    }
    return out;
}

PyObject *hlpy_gc_watch_stop(PyObject *module, PyObject *unused) {
    if (!W.recording) {
        PyErr_SetString(PyExc_RuntimeError, "no gc monitor is running");
        return NULL;
    }
    PyObject *result = Py_BuildValue(
        "{sNsKsNsNsNsKsdsnsK}", "recent", hl__recent_list(), "n_collections",
        (unsigned long long)W.n_collections, "generations", hl__generations_tuple(), "freed",
        hl__freed_list(), "garbage", hl__garbage_list(), "n_garbage",
        (unsigned long long)W.n_garbage, "own_seconds", W.own_seconds, "peak_watch_bytes",
        (Py_ssize_t)W.peak_bytes, "dropped", (unsigned long long)W.dropped);
    hl__release();
    return result;
}

PyObject *hlpy_gc_watch_callback(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    /* METH_FASTCALL: a call through an argument tuple would leave one more
     * object counted in the collector's young generation after each
     * collection (tuples are freed into a free list, which the count does not
     * see), and CPython's test_gc.test_get_count would see it. */
    if (nargs != 2 || !PyUnicode_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "gc_watch_callback(phase: str, info: dict)");
        return NULL;
    }
    PyObject *phase = args[0], *info = args[1];
    if (!W.recording)
        Py_RETURN_NONE;
    if (PyUnicode_CompareWithASCIIString(phase, "start") == 0) {
        PyObject *generation = PyDict_GetItemString(info, "generation");
        long g = generation ? PyLong_AsLong(generation) : 2;
        if (g < 0 || g > 2) {
            PyErr_Clear();
            g = 2;
        }
        hl__open_window((int)g, phase, info);
    } else if (PyUnicode_CompareWithASCIIString(phase, "stop") == 0 && W.window_open) {
        hl__close_window(info);
    }
    Py_RETURN_NONE;
}
