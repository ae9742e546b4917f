/* graph.h - a compact directed graph of heap objects, in CSR form.
 *
 * Nodes are dense 32-bit ids. Each node has the address of the object it
 * stands for (0 for a virtual node, such as an executing frame), a type id
 * chosen by the caller, a size in bytes and a few flag bits. Forward edges are
 * stored as one offsets array and one edge array (CSR); the reverse index is
 * built on demand in the same form. Duplicate edges are kept: they are how a
 * container that holds the same object twice says so.
 *
 * A graph is built in one pass: add nodes (addresses are deduplicated through
 * an index), then for node 0, 1, 2, ... in order add its out-edges and close
 * it. Nodes may be added at any time before the last node is closed, so a walk
 * can discover new nodes while it emits the edges of earlier ones. After
 * hl_graph_finish the graph is read-only apart from the lazily built reverse
 * index.
 *
 * Memory: per node 8 (address) + 4 (type) + 4 (size) + 1 (flags) + 4 (offset)
 * + 5 to 8 (address index) bytes, plus 4 per edge; the reverse index adds 4 per
 * node and 4 per edge. Sizes of 4 GiB and more are kept in a side table.
 *
 * Not thread-safe: the owner serialises access (the binding holds the GIL).
 */
#ifndef HL_GRAPH_H
#define HL_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

typedef uint32_t hl_node_id;

#define HL_NODE_NONE UINT32_MAX
#define HL_GRAPH_MAX_NODES (UINT32_MAX - 1u)
#define HL_GRAPH_MAX_EDGES UINT32_MAX

/* Node flag bits. The core gives meaning only to HL_NODE_VIRTUAL (not in the
 * address index); the others are for the caller and for path queries. */
enum {
    HL_NODE_TRACKED = 1u << 0,   /* the object is tracked by the cyclic GC */
    HL_NODE_VIRTUAL = 1u << 1,   /* not an object: a frame, a synthetic root */
    HL_NODE_IGNORED = 1u << 2,   /* left out of queries, never traversed */
    HL_NODE_MODULE = 1u << 3,    /* a root: a module of sys.modules */
    HL_NODE_UNREACHED = 1u << 4, /* set by hl_graph_mark_unreferenced */
    HL_NODE_EXTERNAL = 1u << 5,  /* a root: held by references outside the graph */
    HL_NODE_BACKBONE = 1u << 6,  /* for the caller: a type, a module, their dict, or
                                    an interpreter table */
};

typedef struct hl_graph hl_graph;

/* A new, empty graph sized for about `expected_nodes` nodes and
 * `expected_edges` edges (hints only). Returns NULL when out of memory. Free it
 * with hl_graph_free. */
hl_graph *hl_graph_new(size_t expected_nodes, size_t expected_edges);

/* Free the graph and everything it owns. NULL is allowed. */
void hl_graph_free(hl_graph *graph);

/* Add a node for `address` (0 for a virtual node) unless one exists. Stores
 * the node's id in *id_out and sets *is_new to 1 when it was added (then
 * with `type_id`, `flags` and size 0), to 0 when the address was already a
 * node (nothing changes). Returns 0, or -1 when out of memory or past
 * HL_GRAPH_MAX_NODES (nothing changes). Only before hl_graph_finish. */
HL_WARN_UNUSED int hl_graph_add_node(hl_graph *graph, uint64_t address, uint32_t type_id,
                                     uint8_t flags, hl_node_id *id_out, int *is_new);

/* Add a node for `address`, which the caller knows is not a node yet (it just
 * looked it up). Same results as hl_graph_add_node without the lookup. */
HL_WARN_UNUSED int hl_graph_add_new_node(hl_graph *graph, uint64_t address, uint32_t type_id,
                                         uint8_t flags, hl_node_id *id_out);

/* Hints for a batch of lookups, which otherwise wait on memory one at a time:
 * prefetch_slot starts loading the index slot `address` hashes to;
 * prefetch_node, called after the slot has arrived, starts loading the
 * address of the node it names when its tag matches. Neither changes anything. */
void hl_graph_prefetch_slot(const hl_graph *graph, uint64_t address);
void hl_graph_prefetch_node(const hl_graph *graph, uint64_t address);

/* Set the size of node `id`. */
void hl_graph_set_size(hl_graph *graph, hl_node_id id, uint64_t size);

/* OR `flags` into node `id`'s flags. */
void hl_graph_add_flags(hl_graph *graph, hl_node_id id, uint8_t flags);

/* Append an edge from the open node (the first node not yet closed) to `to`.
 * Returns 0, or -1 when out of memory or past HL_GRAPH_MAX_EDGES. */
HL_WARN_UNUSED int hl_graph_add_edge(hl_graph *graph, hl_node_id to);

/* Close the open node: the edges added since the previous close are its
 * out-edges. Returns the id of the next node to fill, or HL_NODE_NONE when
 * every node added so far is closed. */
hl_node_id hl_graph_close_node(hl_graph *graph);

/* The id of the open node, or HL_NODE_NONE when every node is closed. */
hl_node_id hl_graph_open_node(const hl_graph *graph);

/* End building: every node must be closed. Releases spare capacity. Returns 0,
 * or -1 when a node is still open. */
HL_WARN_UNUSED int hl_graph_finish(hl_graph *graph);

size_t hl_graph_n_nodes(const hl_graph *graph);
size_t hl_graph_n_edges(const hl_graph *graph);

/* Bytes of memory the graph holds now (arrays, index, reverse index). */
size_t hl_graph_memory(const hl_graph *graph);

/* The node whose address is `address`, or HL_NODE_NONE. */
hl_node_id hl_graph_find(const hl_graph *graph, uint64_t address);

uint64_t hl_graph_address(const hl_graph *graph, hl_node_id id);
uint32_t hl_graph_type(const hl_graph *graph, hl_node_id id);
uint64_t hl_graph_size(const hl_graph *graph, hl_node_id id);
uint8_t hl_graph_flags(const hl_graph *graph, hl_node_id id);

/* The out-edges of `id`: returns a borrowed pointer to *count_out ids, valid
 * until the graph is freed. */
const hl_node_id *hl_graph_out_edges(const hl_graph *graph, hl_node_id id, size_t *count_out);

/* Build the reverse index if it is not built yet. Returns 0, or -1 when out of
 * memory (the graph is unchanged). Only after hl_graph_finish. */
HL_WARN_UNUSED int hl_graph_build_reverse(hl_graph *graph);

/* The in-edges of `id` (one per reference, sources in increasing id order).
 * The reverse index must be built. Borrowed pointer, like out-edges. */
const hl_node_id *hl_graph_in_edges(const hl_graph *graph, hl_node_id id, size_t *count_out);

/* Borrowed pointers to the whole forward index (backward 0) or reverse index
 * (backward 1) in CSR form: the edges of node i are
 * edges[offsets[i] .. offsets[i + 1]), for i < hl_graph_n_nodes. For loops over
 * millions of nodes that cannot afford a call per node and prefetch ahead
 * (the dominator tree); valid until the graph is freed. Returns 0, or -1 when
 * the graph is not finished or, for backward, the reverse index is not built
 * (the pointers are then NULL). */
HL_WARN_UNUSED int hl_graph_csr(const hl_graph *graph, int backward, const uint32_t **offsets_out,
                                const hl_node_id **edges_out);

/* Sum count and size per type id over nodes whose flags include all of
 * `require` and none of `exclude`. counts and sizes have n_types entries and
 * are added to (the caller zeroes them); nodes with a type id >= n_types are
 * skipped. */
void hl_graph_census(const hl_graph *graph, uint8_t require, uint8_t exclude, size_t n_types,
                     uint64_t *counts, uint64_t *sizes);

/* Set HL_NODE_UNREACHED on every node with flags including `node_require`
 * that no node with flags including `source_require` (and not HL_NODE_IGNORED)
 * refers to, and clear it elsewhere. Stores the number of marked nodes in
 * *count_out. Needs no reverse index. Returns 0, or -1 when out of memory. */
HL_WARN_UNUSED int hl_graph_mark_unreferenced(hl_graph *graph, uint8_t source_require,
                                              uint8_t node_require, size_t *count_out);

/* Count the edges into each node id < n_counts from sources without any of
 * `source_exclude` (duplicates count), adding to counts[] (zeroed by the
 * caller). */
void hl_graph_in_degrees(const hl_graph *graph, uint8_t source_exclude, uint32_t *counts,
                         size_t n_counts);

/* What a path query may step through and where it stops. */
typedef struct hl_graph_path_query {
    hl_node_id start;
    int backward;                /* 1: follow in-edges (who refers to me), 0: out-edges */
    uint8_t target_flags;        /* a node with any of these flags is a target */
    const uint8_t *target_marks; /* or NULL; a node i with target_marks[i] != 0 is a target */
    uint8_t require;             /* nodes without all of these flags are not entered */
    uint8_t exclude;             /* nodes with any of these flags are not entered */
    int64_t max_depth;           /* edges at most; < 0 for no limit */
    uint8_t preferred_flags;     /* among targets at the nearest depth, prefer these */
    int start_is_not_target;     /* 1: the start counts only when reached again (a cycle) */
} hl_graph_path_query;

/* Breadth-first search from query->start for the nearest target (start itself
 * counts when it is one, unless start_is_not_target: then a path that comes
 * back to start, a cycle, has start at both ends); among the targets at that depth, the first with
 * any of query->preferred_flags wins, else the first found. On success stores a malloc'd array of
 * node ids in *path_out and its length in *length_out, in reference order (each node refers to the
 * next): target ... start for a backward query, start ... target for a forward one. The caller
 * frees it. Returns 1 when found, 0 when no target is reachable (*path_out NULL), -1 when out of
 * memory or the reverse index is missing for a backward query. Time is linear in what the search
 * visits, not in the size of the graph: the first query makes two scratch arrays of 4 bytes per
 * node that the graph keeps for the next ones (counted in hl_graph_memory); that is the only
 * change to the graph. */
HL_WARN_UNUSED int hl_graph_shortest_path(hl_graph *graph, const hl_graph_path_query *query,
                                          hl_node_id **path_out, size_t *length_out);

#endif /* HL_GRAPH_H */
