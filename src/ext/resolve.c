/* resolve.c - turning the tracer's live tables into a resolved snapshot.
 *
 * Copies every live block (size, stack id) out of both live tables, then
 * resolves only the stacks those blocks use: each distinct (code, offset)
 * becomes a (file name, line, function) frame, computed once; frames are
 * deduplicated by (file, line, function) and stacks by their resolved frames,
 * because two offsets on one line of one function are one place for the
 * user (the tracemalloc API, which has no functions, merges frames of one
 * line in Python). Stacks with no Python frame resolve to
 * tracemalloc's "<unknown>" line 0 with total_nframe 1.
 *
 * Everything here runs with the GIL held; raw_lock is held only while the RAW
 * table is copied, and no Python code runs then.
 */
#include "resolve.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpython/internals.h"
#include "hooks.h"
#include "native_symbols.h"
#include "native_unwind.h"
#include "stack_merge.h"
#include "stack_table.h"
#include "tracer.h"
#include "u64_map.h"

#define HL__UNUSED_STACK UINT32_MAX

typedef struct hl_resolver {
    hl_snapshot_data *out;
    PyObject *filenames;         /* list: string index -> str */
    PyObject *filename_index;    /* dict: str -> int */
    hl_u64_map code_to_filename; /* code pointer -> string index */
    hl_u64_map code_to_function; /* code pointer -> string index of its qualified name */
    hl_u64_map site_to_frame;    /* (code index, lasti) -> frame index */
    hl_u64_map code_index;       /* code pointer -> small code number */
    hl_u64_map place_to_frame;   /* (string index, line) -> frame index */
    hl_stack_table resolved;     /* stacks of frame indices */
    uint32_t frames_capacity;
    hlpy_native_symbols *natives; /* made at the first native frame */
} hl_resolver;

/* Index of `filename` in the string table, adding it. Returns -1 with an
 * exception set on failure. */
static int64_t hl__filename_index(hl_resolver *r, PyObject *filename) {
    PyObject *known = PyDict_GetItemWithError(r->filename_index, filename);
    if (known != NULL)
        return PyLong_AsLongLong(known);
    if (PyErr_Occurred())
        return -1;
    Py_ssize_t index = PyList_GET_SIZE(r->filenames);
    PyObject *number = PyLong_FromSsize_t(index);
    if (number == NULL)
        return -1;
    int rc = PyDict_SetItem(r->filename_index, filename, number);
    Py_DECREF(number);
    if (rc < 0 || PyList_Append(r->filenames, filename) < 0)
        return -1;
    return index;
}

/* Frame index for (file, line, function string or HL_NO_FUNCTION), adding
 * the frame. Returns -1 with an exception. */
static int64_t hl__place_frame(hl_resolver *r, uint32_t filename, int lineno, uint32_t function) {
    /* The map is keyed by a hash of (file, line, function); a hit on another
     * frame (a collision) moves on to the next key of a fixed sequence. */
    uint64_t key = ((uint64_t)filename << 32) | (uint32_t)lineno;
    key ^= (uint64_t)function * UINT64_C(0x9E3779B97F4A7C15);
    uint32_t frame;
    int inserted;
    for (;;) {
        if (key == UINT64_MAX) /* the map's empty marker */
            key = 0;
        if (hl_u64_map_get_or_put(&r->place_to_frame, key, r->out->n_frames, &frame, &inserted) <
            0) {
            PyErr_NoMemory();
            return -1;
        }
        if (inserted)
            break;
        const hl_frame *known = &r->out->frames[frame];
        if (known->filename == filename && known->lineno == lineno &&
            r->out->frame_functions[frame] == function)
            return frame;
        key = key * UINT64_C(6364136223846793005) + UINT64_C(1442695040888963407);
    }
    if (r->out->n_frames == r->frames_capacity) {
        uint32_t capacity = r->frames_capacity ? r->frames_capacity * 2 : 256;
        hl_frame *frames = realloc(r->out->frames, capacity * sizeof(hl_frame));
        if (frames == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        r->out->frames = frames;
        uint32_t *functions = realloc(r->out->frame_functions, capacity * sizeof(uint32_t));
        if (functions == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        r->out->frame_functions = functions;
        r->frames_capacity = capacity;
    }
    r->out->frames[frame].filename = filename;
    r->out->frames[frame].lineno = lineno;
    r->out->frame_functions[frame] = function;
    r->out->n_frames++;
    return frame;
}

/* Index of the string `text` (UTF-8, invalid bytes escaped) in the string
 * table. Returns -1 with an exception. */
static int64_t hl__text_index(hl_resolver *r, const char *text) {
    PyObject *string = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "backslashreplace");
    int64_t index = string != NULL ? hl__filename_index(r, string) : -1;
    Py_XDECREF(string);
    return index;
}

/* Frame index of a native frame: (object path, HL_NATIVE_LINENO, function),
 * named here (native_symbols.h), so every program counter of one function
 * is one frame. Returns -1 with an exception. */
static int64_t hl__native_frame(hl_resolver *r, const hl_frame_ref *site, uint64_t key) {
    if (r->natives == NULL && (r->natives = hlpy_native_symbols_new()) == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    const char *object;
    char function[512];
    hlpy_native_symbols_name(r->natives, (uintptr_t)site->code, &object, function, sizeof function);
    int64_t filename = hl__text_index(r, object);
    int64_t name = filename < 0 ? -1 : hl__text_index(r, function);
    int64_t place =
        name < 0 ? -1 : hl__place_frame(r, (uint32_t)filename, HL_NATIVE_LINENO, (uint32_t)name);
    if (place < 0)
        return -1;
    uint32_t frame = (uint32_t)place;
    int inserted;
    if (hl_u64_map_get_or_put(&r->site_to_frame, key, frame, &frame, &inserted) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return frame;
}

/* Frame index of a captured (code, lasti), or of a native frame. Returns -1
 * with an exception. */
static int64_t hl__site_frame(hl_resolver *r, const hl_frame_ref *site) {
    uint32_t code_number, frame;
    int inserted;
    if (hl_u64_map_get_or_put(&r->code_index, (uint64_t)(uintptr_t)site->code,
                              (uint32_t)r->code_index.count, &code_number, &inserted) < 0)
        goto nomem;
    uint64_t key = ((uint64_t)code_number << 32) | (uint32_t)site->lasti;
    if (hl_u64_map_get(&r->site_to_frame, key, &frame))
        return frame;
    if (hl_frame_is_native(site))
        return hl__native_frame(r, site, key);

    PyCodeObject *code = (PyCodeObject *)site->code;
    uint32_t filename;
    if (!hl_u64_map_get(&r->code_to_filename, (uint64_t)(uintptr_t)code, &filename)) {
        PyObject *name = code->co_filename;
        int64_t index;
        if (name != NULL && PyUnicode_Check(name)) {
            index = hl__filename_index(r, name);
        } else {
            PyObject *unknown = PyUnicode_FromString("<unknown>");
            index = unknown ? hl__filename_index(r, unknown) : -1;
            Py_XDECREF(unknown);
        }
        if (index < 0)
            return -1;
        filename = (uint32_t)index;
        if (hl_u64_map_get_or_put(&r->code_to_filename, (uint64_t)(uintptr_t)code, filename,
                                  &filename, &inserted) < 0)
            goto nomem;
    }
    uint32_t function;
    if (!hl_u64_map_get(&r->code_to_function, (uint64_t)(uintptr_t)code, &function)) {
        PyObject *name = code->co_qualname;
        int64_t index = HL_NO_FUNCTION;
        if (name != NULL && PyUnicode_Check(name) && (index = hl__filename_index(r, name)) < 0)
            return -1;
        function = (uint32_t)index;
        if (hl_u64_map_get_or_put(&r->code_to_function, (uint64_t)(uintptr_t)code, function,
                                  &function, &inserted) < 0)
            goto nomem;
    }
    int64_t place = hl__place_frame(r, filename, hlpy_cpython_lineno(code, site->lasti), function);
    if (place < 0)
        return -1;
    frame = (uint32_t)place;
    if (hl_u64_map_get_or_put(&r->site_to_frame, key, frame, &frame, &inserted) < 0)
        goto nomem;
    return frame;

nomem:
    PyErr_NoMemory();
    return -1;
}

/* Resolve interned stack `id` and return its index among resolved stacks.
 * Returns -1 with an exception. */
static int64_t hl__resolve_stack(hl_resolver *r, hl_stack_id id, hl_frame_ref *scratch) {
    const hl_stack_table *stacks = hlpy_tracer_stack_table();
    const hl_stack_entry *entry = &stacks->entries[id];
    const hl_frame_ref *sites = hl_stack_table_frames(stacks, id);
    uint16_t nframe = entry->nframe, total = entry->total_nframe;
    if (nframe == 0) {
        PyObject *unknown = PyUnicode_FromString("<unknown>");
        int64_t filename = unknown ? hl__filename_index(r, unknown) : -1;
        Py_XDECREF(unknown);
        int64_t frame =
            filename < 0 ? -1 : hl__place_frame(r, (uint32_t)filename, 0, HL_NO_FUNCTION);
        if (frame < 0)
            return -1;
        scratch[0].code = (const void *)(uintptr_t)frame;
        scratch[0].lasti = 0;
        scratch[0].reserved = 0;
        nframe = 1;
        total = 1;
    } else {
        for (uint16_t i = 0; i < nframe; i++) {
            int64_t frame = hl__site_frame(r, &sites[i]);
            if (frame < 0)
                return -1;
            /* The resolved-stack table reuses the interner with frame indices
             * in place of code pointers. */
            scratch[i].code = (const void *)(uintptr_t)frame;
            scratch[i].lasti = 0;
            scratch[i].reserved = 0;
        }
    }
    hl_stack_id resolved;
    int is_new;
    if (hl_stack_table_intern(&r->resolved, scratch, nframe, total,
                              hl_stack_hash(scratch, nframe, total), &resolved, &is_new) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return resolved;
}

/* Copy the live tables into out->traces, with interned stack ids for now.
 * Returns 0, or -1 with an exception. */
static int hl__copy_traces(hl_snapshot_data *out) {
    if (hlpy_tracer_copy_traces(out) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* Fill out->traces and out->trace_counts with one trace per stack of the
 * tracer's per-stack sums (now, or at the peak), for the stacks that hold
 * something: in domain 0 what Python's allocators hold, in domain
 * HLPY_NATIVE_DOMAIN what is outside them (native blocks and those that
 * extensions report). Returns 0, or -1 with an exception. */
static int hl__copy_sums(hl_snapshot_data *out, int at_peak) {
    hl_stack_sum *sums, *outside;
    uint32_t n_sums;
    if (hlpy_tracer_copy_sums(at_peak, &sums, &outside, &n_sums) < 0) {
        if (!hlpy_tracer_sums_on()) {
            PyErr_SetString(PyExc_RuntimeError,
                            "the tracer keeps no per-stack sums: start it with sums=True");
            return -1;
        }
        PyErr_NoMemory();
        return -1;
    }
    const hl_stack_sum *sides[2] = {sums, outside};
    const uint32_t domains[2] = {0, HLPY_NATIVE_DOMAIN};
    uint64_t used = 0;
    for (int side = 0; side < 2; side++) {
        for (uint32_t i = 0; i < n_sums; i++)
            used += sides[side][i].bytes != 0 || sides[side][i].blocks != 0;
    }
    out->traces = malloc((used ? used : 1) * sizeof(hl_trace_record));
    out->trace_counts = malloc((used ? used : 1) * sizeof(uint64_t));
    if (out->traces == NULL || out->trace_counts == NULL) {
        free(sums);
        free(outside);
        PyErr_NoMemory();
        return -1;
    }
    uint64_t n = 0;
    for (int side = 0; side < 2; side++) {
        for (uint32_t i = 0; i < n_sums; i++) {
            const hl_stack_sum *sum = &sides[side][i];
            if (sum->bytes == 0 && sum->blocks == 0)
                continue;
            out->traces[n].size = sum->bytes;
            out->traces[n].stack = i;
            out->traces[n].domain = domains[side];
            out->trace_counts[n] = sum->blocks ? sum->blocks : 1;
            n++;
        }
    }
    out->n_traces = n;
    free(sums);
    free(outside);
    return 0;
}

/* Merge the traces of an aggregated snapshot that resolved to the same
 * stack and are in the same domain (two offsets on one line are one place;
 * the sums have two domains: 0 and the rest), keeping first-seen order.
 * n_stacks: the resolved stacks. Returns 0, or -1 with an exception. */
static int hl__fold_aggregated(hl_snapshot_data *out, uint32_t n_stacks) {
    size_t n_slots = 2 * (size_t)(n_stacks ? n_stacks : 1);
    uint64_t *slot_of = malloc(n_slots * sizeof(uint64_t));
    if (slot_of == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < n_slots; i++)
        slot_of[i] = UINT64_MAX;
    uint64_t kept = 0;
    for (uint64_t i = 0; i < out->n_traces; i++) {
        size_t slot = 2 * (size_t)out->traces[i].stack + (out->traces[i].domain != 0);
        if (slot_of[slot] == UINT64_MAX) {
            slot_of[slot] = kept;
            out->traces[kept] = out->traces[i];
            out->trace_counts[kept] = out->trace_counts[i];
            kept++;
        } else {
            out->traces[slot_of[slot]].size += out->traces[i].size;
            out->trace_counts[slot_of[slot]] += out->trace_counts[i];
        }
    }
    out->n_traces = kept;
    free(slot_of);
    return 0;
}

/* Move the resolved stacks and the file names into *out. Returns 0 or -1. */
static int hl__finish(hl_resolver *r) {
    hl_snapshot_data *out = r->out;
    const hl_stack_table *resolved = &r->resolved;

    out->n_stacks = resolved->n_entries;
    out->n_stack_frames = resolved->pool_used;
    out->stacks = malloc((out->n_stacks ? out->n_stacks : 1) * sizeof(hl_stack));
    out->stack_frames = malloc((out->n_stack_frames ? out->n_stack_frames : 1) * sizeof(uint32_t));
    if (out->stacks == NULL || out->stack_frames == NULL)
        goto nomem;
    for (uint32_t s = 0; s < resolved->n_entries; s++) {
        out->stacks[s].first = resolved->entries[s].first;
        out->stacks[s].nframe = resolved->entries[s].nframe;
        out->stacks[s].total_nframe = resolved->entries[s].total_nframe;
    }
    for (size_t i = 0; i < resolved->pool_used; i++)
        out->stack_frames[i] = (uint32_t)(uintptr_t)resolved->pool[i].code;

    /* Encode every file name once, growing the byte buffer as needed. */
    Py_ssize_t n_strings = PyList_GET_SIZE(r->filenames);
    size_t total = 0, capacity = 256;
    out->string_offsets = malloc((size_t)(n_strings + 1) * sizeof(uint64_t));
    out->string_bytes = malloc(capacity);
    if (out->string_offsets == NULL || out->string_bytes == NULL)
        goto nomem;
    for (Py_ssize_t i = 0; i < n_strings; i++) {
        PyObject *bytes =
            PyUnicode_AsEncodedString(PyList_GET_ITEM(r->filenames, i), "utf-8", "surrogatepass");
        if (bytes == NULL)
            return -1;
        size_t len = (size_t)PyBytes_GET_SIZE(bytes);
        if (total + len > capacity) {
            while (total + len > capacity)
                capacity *= 2;
            char *grown = realloc(out->string_bytes, capacity);
            if (grown == NULL) {
                Py_DECREF(bytes);
                goto nomem;
            }
            out->string_bytes = grown;
        }
        memcpy(out->string_bytes + total, PyBytes_AS_STRING(bytes), len);
        out->string_offsets[i] = total;
        total += len;
        Py_DECREF(bytes);
    }
    out->string_offsets[n_strings] = total;
    out->n_strings = (uint32_t)n_strings;
    return 0;

nomem:
    PyErr_NoMemory();
    return -1;
}

/* What a snapshot is made of: every traced block, or the per-stack sums. */
typedef enum hl__source {
    HL__FROM_BLOCKS = 0,
    HL__FROM_SUMS_NOW = 1,
    HL__FROM_SUMS_AT_PEAK = 2,
} hl__source;

static int hl__resolve_snapshot(hl_snapshot_data *out, PyObject **filenames_out,
                                hl__source source) {
    hl_resolver r;
    uint32_t *id_map = NULL;
    hl_frame_ref *scratch = NULL;
    int rc = -1;

    memset(&r, 0, sizeof(r));
    hl_snapshot_data_init(out);
    *filenames_out = NULL;
    r.out = out;
    r.filenames = PyList_New(0);
    r.filename_index = PyDict_New();
    if (r.filenames == NULL || r.filename_index == NULL)
        goto done;
    if (hl_u64_map_init(&r.code_to_filename, 64) < 0 ||
        hl_u64_map_init(&r.code_to_function, 64) < 0 ||
        hl_u64_map_init(&r.site_to_frame, 256) < 0 || hl_u64_map_init(&r.code_index, 64) < 0 ||
        hl_u64_map_init(&r.place_to_frame, 256) < 0 || hl_stack_table_init(&r.resolved) < 0) {
        PyErr_NoMemory();
        goto done;
    }

    out->traceback_limit = (uint32_t)hlpy_tracer_nframe();
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    out->timestamp_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
    if (!hlpy_tracer_is_tracing()) {
        rc = 0;
        goto done;
    }
    if (source == HL__FROM_BLOCKS ? hl__copy_traces(out) < 0
                                  : hl__copy_sums(out, source == HL__FROM_SUMS_AT_PEAK) < 0)
        goto done;

    /* Resolve each used stack once, in the order first seen. */
    uint32_t n_ids = hlpy_tracer_n_stacks();
    id_map = malloc((n_ids ? n_ids : 1) * sizeof(uint32_t));
    scratch =
        malloc(((size_t)hlpy_tracer_nframe() + HLPY_NATIVE_MAX_FRAMES + 1) * sizeof(hl_frame_ref));
    if (id_map == NULL || scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (uint32_t i = 0; i < n_ids; i++)
        id_map[i] = HL__UNUSED_STACK;
    /* A stack id past the table would be a tracer bug (a RAW block recorded
     * with an id from before clear_traces()): such a trace is left out and
     * counted, never used to index. */
    uint64_t kept = 0, bad = 0;
    for (uint64_t i = 0; i < out->n_traces; i++) {
        hl_trace_record *trace = &out->traces[i];
        if (trace->stack >= n_ids) {
            bad++;
            continue;
        }
        if (id_map[trace->stack] == HL__UNUSED_STACK) {
            int64_t resolved = hl__resolve_stack(&r, trace->stack, scratch);
            if (resolved < 0)
                goto done;
            id_map[trace->stack] = (uint32_t)resolved;
        }
        trace->stack = id_map[trace->stack];
        if (out->trace_counts != NULL)
            out->trace_counts[kept] = out->trace_counts[i];
        out->traces[kept++] = *trace;
    }
    out->n_traces = kept;
    if (bad != 0)
        hlpy_tracer_count_bad_stack_ids(bad);
    if (source != HL__FROM_BLOCKS && hl__fold_aggregated(out, r.resolved.n_entries) < 0)
        goto done;
    if (hl__finish(&r) < 0)
        goto done;
    rc = 0;

done:
    if (rc == 0 && out->string_offsets == NULL && hl__finish(&r) < 0)
        rc = -1;
    if (rc == 0) {
        *filenames_out = r.filenames;
        r.filenames = NULL;
    } else {
        hl_snapshot_data_clear(out);
    }
    Py_XDECREF(r.filenames);
    Py_XDECREF(r.filename_index);
    hl_u64_map_destroy(&r.code_to_filename);
    hl_u64_map_destroy(&r.code_to_function);
    hl_u64_map_destroy(&r.site_to_frame);
    hl_u64_map_destroy(&r.code_index);
    hl_u64_map_destroy(&r.place_to_frame);
    hl_stack_table_destroy(&r.resolved);
    hlpy_native_symbols_free(r.natives);
    free(id_map);
    free(scratch);
    return rc;
}

static int hl__resolve_stack_frames(hl_stack_id id, PyObject **frames_out, int *total_out) {
    if (id >= hlpy_tracer_n_stacks()) { /* a tracer bug: count it, never index with it */
        hlpy_tracer_count_bad_stack_ids(1);
        id = HLPY_EMPTY_STACK;
        if (id >= hlpy_tracer_n_stacks()) {
            *frames_out = Py_BuildValue("((si))", "<unknown>", 0);
            *total_out = 1;
            return *frames_out != NULL ? 0 : -1;
        }
    }
    const hl_stack_table *stacks = hlpy_tracer_stack_table();
    const hl_stack_entry *entry = &stacks->entries[id];
    const hl_frame_ref *sites = hl_stack_table_frames(stacks, id);
    Py_ssize_t n = entry->nframe ? entry->nframe : 1;
    PyObject *tuple = PyTuple_New(n);
    if (tuple == NULL)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *frame;
        if (entry->nframe == 0) {
            frame = Py_BuildValue("(si)", "<unknown>", 0);
        } else {
            PyCodeObject *code = (PyCodeObject *)sites[i].code;
            PyObject *name = code->co_filename;
            int lineno = hlpy_cpython_lineno(code, sites[i].lasti);
            if (name != NULL && PyUnicode_Check(name))
                frame = Py_BuildValue("(Oi)", name, lineno);
            else
                frame = Py_BuildValue("(si)", "<unknown>", lineno);
        }
        if (frame == NULL) {
            Py_DECREF(tuple);
            return -1;
        }
        PyTuple_SET_ITEM(tuple, i, frame);
    }
    *frames_out = tuple;
    *total_out = entry->nframe ? entry->total_nframe : 1;
    return 0;
}

int hlpy_resolve_snapshot(hl_snapshot_data *out, PyObject **filenames_out) {
    int previous = hlpy_hooks_suspend();
    int rc = hl__resolve_snapshot(out, filenames_out, HL__FROM_BLOCKS);
    hlpy_hooks_resume(previous);
    return rc;
}

int hlpy_resolve_sums_snapshot(int at_peak, hl_snapshot_data *out, PyObject **filenames_out) {
    int previous = hlpy_hooks_suspend();
    int rc = hl__resolve_snapshot(out, filenames_out,
                                  at_peak ? HL__FROM_SUMS_AT_PEAK : HL__FROM_SUMS_NOW);
    hlpy_hooks_resume(previous);
    return rc;
}

int hlpy_resolve_stack_frames(hl_stack_id id, PyObject **frames_out, int *total_out) {
    int previous = hlpy_hooks_suspend();
    int rc = hl__resolve_stack_frames(id, frames_out, total_out);
    hlpy_hooks_resume(previous);
    return rc;
}
