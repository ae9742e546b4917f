/* dominators.h - the dominator tree of the heap graph, and retained sizes.
 *
 * A virtual root refers to every root node the caller names (module objects,
 * objects held from C, executing frames). Node a dominates node b when every
 * path from the virtual root to b goes through a: if a went away, b would go
 * too. The immediate dominator (idom) of b is its nearest strict dominator; the
 * idoms form a tree whose root is the virtual root. The retained size of a is
 * the sum of the sizes (hl_graph_size) of the nodes it dominates, itself
 * included: the bytes that would be freed with it. Nodes no root reaches
 * (garbage, or only reachable through excluded nodes) have no idom and retain
 * nothing. Two roots never dominate each other, even when one refers to the
 * other: each is held from outside the graph. What the instances of a type
 * retain together comes from one walk down the tree (retained_by_type).
 *
 * The computation is Lengauer and Tarjan's algorithm with simple path
 * compression, O(m log n), with no recursion anywhere (a heap has chains
 * millions of objects long). It uses the graph's reverse index, building it if
 * needed (the graph keeps it for later queries).
 *
 * Memory: at most 28 bytes per node while computing, beyond the graph and its
 * reverse index, the result included; the result itself is 12 bytes per node
 * (4 idom + 8 retained). The children lists, built on demand, add 4 bytes per
 * node and 4 per reachable node.
 *
 * Not thread-safe: the owner serialises access (the binding holds the GIL). The
 * result does not refer to the graph and outlives it.
 */
#ifndef HL_DOMINATORS_H
#define HL_DOMINATORS_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "hl_common.h"

/* The idom of a node that only the virtual root dominates (a root, or a node
 * reachable from two roots through disjoint paths). Never a node id: ids stay
 * below HL_GRAPH_MAX_NODES, which is this value. */
#define HL_DOMINATOR_ROOT (UINT32_MAX - 1u)

typedef struct hl_dominators hl_dominators;

/* Compute the dominator tree of `graph` below a virtual root that refers to
 * roots[0 .. n_roots) (duplicates are allowed), and every node's retained size.
 * Nodes with any of `exclude_flags` (e.g. HL_NODE_IGNORED) are never entered,
 * roots included. Builds the graph's reverse index if it is not built (that is
 * the only change to the graph). On success stores a new result in *out (free
 * it with hl_dominators_free) and returns 0. Returns -1 with *out NULL when out
 * of memory, when a root id is not a node, when the graph is not finished
 * (hl_graph_finish), or when it has more than UINT32_MAX - 3 nodes. */
HL_WARN_UNUSED int hl_dominators_compute(hl_graph *graph, const hl_node_id *roots, size_t n_roots,
                                         uint8_t exclude_flags, hl_dominators **out);

/* Free a result and everything it owns. NULL is allowed. */
void hl_dominators_free(hl_dominators *dominators);

/* The number of nodes of the graph the result was computed on. */
size_t hl_dominators_n_nodes(const hl_dominators *dominators);

/* The number of nodes reached from the roots (the virtual root not counted). */
size_t hl_dominators_n_reachable(const hl_dominators *dominators);

/* The immediate dominator of node `id`: a node id, HL_DOMINATOR_ROOT, or
 * HL_NODE_NONE when no root reaches `id`. */
hl_node_id hl_dominators_idom(const hl_dominators *dominators, hl_node_id id);

/* The retained size of node `id` in bytes (0 when unreachable); for
 * HL_DOMINATOR_ROOT, the total size of the reachable nodes. */
uint64_t hl_dominators_retained(const hl_dominators *dominators, hl_node_id id);

/* Build the children lists of the dominator tree if they are not built yet.
 * Returns 0, or -1 when out of memory (the result is unchanged). */
HL_WARN_UNUSED int hl_dominators_build_children(hl_dominators *dominators);

/* The children of `id` (a node id, or HL_DOMINATOR_ROOT for the top of the
 * tree) in the dominator tree, in increasing id order: returns a borrowed
 * pointer to *count_out ids, valid until the result is freed. The children
 * lists must be built. */
const hl_node_id *hl_dominators_children(const hl_dominators *dominators, hl_node_id id,
                                         size_t *count_out);

/* Store in out[] the (at most k) reachable nodes of largest retained size,
 * largest first, ties in increasing id order; the virtual root is not a
 * candidate. Returns how many were stored: min(k, reachable nodes). Needs no
 * memory but out[], which has room for k ids; O(n log k). */
size_t hl_dominators_top(const hl_dominators *dominators, size_t k, hl_node_id *out);

/* What the instances of one type retain together (hl_dominators_retained_by_type). */
typedef struct hl_type_retained {
    uint64_t instances;     /* reached nodes of the type that count as instances */
    uint64_t top_instances; /* those that no other instance of the type dominates */
    uint64_t retained;      /* bytes of the nodes some instance dominates, each counted once */
} hl_type_retained;

/* For each type id t < n_types, store in rows[t] what the instances of t
 * retain: the total size of the nodes that have an instance of t among their
 * dominator-tree ancestors, themselves included, each node counted once
 * however many instances are above it. The subtrees of the top instances are
 * disjoint and cover all of that, so it is also the sum of their retained
 * sizes. An instance is a reached node of type t with none of `exclude_flags`
 * (the caller's, e.g. HL_NODE_BACKBONE so that a module's dict is not a
 * dict); nodes that are not instances are still walked through, and nodes of
 * type id >= n_types are never instances.
 *
 * This is a lower bound on what would be freed if every instance of t went
 * away at once, and equal to it when t has at most one instance: a node that
 * two instances hold, and nothing else, is dominated by neither, so it is not
 * counted, yet it would go with both.
 *
 * `graph` is the graph the result was computed on, unchanged since. Builds the
 * children lists if they are not built (the result keeps them). Overwrites
 * rows[0 .. n_types). Returns 0, or -1 when out of memory or when `graph` does
 * not have the result's number of nodes (rows[] are then all zero).
 * O(n_nodes + n_types) time, no recursion; while it runs it holds, beyond the
 * children lists, 4 bytes per node, 4 per type and 12 per level of the
 * dominator tree's depth. */
HL_WARN_UNUSED int hl_dominators_retained_by_type(hl_dominators *dominators, const hl_graph *graph,
                                                  uint8_t exclude_flags, size_t n_types,
                                                  hl_type_retained *rows);

/* The group of a node that belongs to none (hl_dominators_retained_by_group). */
#define HL_DOMINATORS_NO_GROUP UINT32_MAX

/* hl_dominators_retained_by_type with groups the caller chooses: group_of[i]
 * (one entry per node) is node i's group, < n_groups, or
 * HL_DOMINATORS_NO_GROUP. rows[g] gets the reached members of g, those that
 * no other member of g dominates, and the bytes of the nodes some member of g
 * dominates, each counted once. Builds the children lists if they are not
 * built. Overwrites rows[0 .. n_groups). Returns 0, or -1 when out of memory
 * or when a group_of entry is n_groups or more (rows[] are then all zero).
 * O(n_nodes + n_groups) time, one pass down the tree, no recursion; holds 4
 * bytes per group and 12 per level of the tree's depth while it runs. */
HL_WARN_UNUSED int hl_dominators_retained_by_group(hl_dominators *dominators,
                                                   const uint32_t *group_of, size_t n_groups,
                                                   hl_type_retained *rows);

/* Store in out[] (room for k ids) the (at most k) outermost candidates of
 * largest retained size, largest first, ties in increasing id order. A
 * candidate is a reached node i with candidate[i] != 0 (one entry per node);
 * it is outermost when no other candidate dominates it. This is what picking
 * candidates greedily by retained size, skipping any that an already picked
 * one dominates, gives (a dominator retains at least what the nodes it
 * dominates retain), except that on a tie the dominator wins. Stores the
 * count, min(k, outermost candidates), in *count_out. Builds the children
 * lists if they are not built. Returns 0, or -1 when out of memory
 * (*count_out 0). O(n log k) time, one pass down the tree; holds 5 bytes per
 * node while it runs. */
HL_WARN_UNUSED int hl_dominators_top_marked(hl_dominators *dominators, const uint8_t *candidate,
                                            size_t k, hl_node_id *out, size_t *count_out);

/* Bytes of memory the result holds now (children lists included). */
size_t hl_dominators_memory(const hl_dominators *dominators);

/* The most bytes hl_dominators_compute held at once, the result included (the
 * graph's reverse index not included). */
size_t hl_dominators_peak_memory(const hl_dominators *dominators);

#endif /* HL_DOMINATORS_H */
