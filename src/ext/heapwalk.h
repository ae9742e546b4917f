/* heapwalk.h - build the heap graph of the live interpreter (see docs/heap-graph.md).
 *
 * The walk holds the GIL from start to end, disables the cyclic collector, and
 * runs no Python code once it starts listing the collector's objects, so no
 * object it has seen can be freed or moved while it builds. Everything it owns
 * is released by hlpy_heap_clear.
 */
#ifndef HLPY_HEAPWALK_H
#define HLPY_HEAPWALK_H

#include <Python.h>

#include "hl_common.h"

#include "dominators.h"
#include "graph.h"
#include "type_table.h"

/* A virtual node for an executing frame: which function, where, and for each
 * object it refers to which local slot holds it, or, for the other references
 * a frame holds (cpython/internals.h: HLPY_FRAME_FUNCTION...), a negative slot. */
#define HLPY_FRAME_SLOT_OF_HELD(which) (-1 - (which))
#define HLPY_FRAME_HELD_OF_SLOT(slot) (-1 - (slot))

typedef struct hlpy_frame_root {
    unsigned long thread_id;
    PyCodeObject *code; /* owned */
    int lasti;
    int n_locals;
    int *local_slots;         /* n_locals entries, owned; index into co_localsplusnames,
                                 or HLPY_FRAME_SLOT_OF_HELD(...) */
    PyObject **local_objects; /* n_locals entries; owned references once holds_locals */
    int holds_locals;
} hlpy_frame_root;

typedef struct hlpy_heap {
    hl_graph *graph;
    /* Nodes [0, n_tracked) are the collector's objects in gc.get_objects()
     * order, each owned (once owns_tracked) unless flagged HL_NODE_IGNORED. */
    size_t n_tracked;
    int owns_tracked;
    hlpy_type_table types;     /* the node type ids */
    hl_dominators *dominators; /* computed on first use, or NULL */
    hlpy_frame_root *frames;   /* nodes [first_frame_node, + n_frames) */
    size_t n_frames;
    hl_node_id first_frame_node;
    /* Every heap that holds references is on one list (the GIL protects it),
     * so that a later walk counts them as the references they are. */
    struct hlpy_heap *next_live, *prev_live;
    int is_live;
} hlpy_heap;

typedef struct hlpy_walk_options {
    PyObject *ignore;            /* iterable of objects to leave out, or NULL */
    PyObject *skip_frames_under; /* str: frames of code under this path are not roots, or NULL */
    int untracked;               /* 1: add untracked referents as nodes */
    PyTypeObject *ignore_type;   /* instances of it are never traversed, or NULL */
} hlpy_walk_options;

/* Walk the heap into *heap (zeroed by the caller). Returns 0, or -1 with an
 * exception set and *heap cleared. Needs the GIL; the main interpreter only. */
HL_WARN_UNUSED int hlpy_heap_walk(hlpy_heap *heap, const hlpy_walk_options *options);

/* Release everything *heap owns and zero it. Needs the GIL. */
void hlpy_heap_clear(hlpy_heap *heap);

#endif /* HLPY_HEAPWALK_H */
