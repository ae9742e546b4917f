/* scc.h - strongly connected components of the heap graph.
 *
 * A strongly connected component is a largest set of nodes that all reach one
 * another along out-edges: in a heap, a group of objects that keep each other
 * alive, which reference counting alone can never free. Most heap objects are
 * trivial components (one node, no self-reference); the cycles are the rest.
 *
 * The result numbers components 0 .. n_components - 1 in reverse topological
 * order of the condensation: when a node of component a refers to a node of
 * component b != a, then a > b. Walking components in increasing id therefore
 * visits everything a component refers to before the component itself.
 *
 * Memory: the result holds 4 bytes per node (component ids), 4 per member
 * node, 4 per component plus one bit (offsets, cycle bits) and 4 per cyclic
 * component. Computing it takes 9 more bytes per node (scc->work_bytes),
 * released before hl_scc_compute returns; of those, only the part the
 * depth-first search reaches is touched. Offsets and cycle bits are reserved
 * for one component per node while computing and shrunk to fit at the end
 * (big allocations are mapped on demand, so the unused tail costs address
 * space, not memory).
 *
 * A result is plain data: read it from any thread once computed.
 */
#ifndef HL_SCC_H
#define HL_SCC_H

#include <stddef.h>
#include <stdint.h>

#include "graph.h"
#include "hl_common.h"

typedef struct hl_scc {
    size_t n_nodes;      /* the graph's nodes: entries of component */
    size_t n_components; /* components, cyclic or not */
    size_t n_members;    /* nodes in some component: the nodes not excluded */

    /* component[i]: the component of node i, or HL_NODE_NONE for an excluded
     * node. */
    uint32_t *component;
    /* The members of component c are members[offsets[c] .. offsets[c + 1]),
     * its first member being the node where the depth-first search entered
     * it. offsets has n_components + 1 entries. */
    uint32_t *offsets;
    hl_node_id *members;

    /* Bit c % 64 of cyclic[c / 64] is set when component c is a cycle: two
     * nodes or more, or one node that refers to itself. */
    uint64_t *cyclic;
    /* The ids of the cyclic components, in increasing order, and how many
     * nodes they hold together. */
    uint32_t *cycles;
    size_t n_cycles;
    size_t n_cycle_members;

    /* Bytes of working memory hl_scc_compute held at its peak on top of the
     * result (for budgets and benchmarks). */
    size_t work_bytes;

    /* Private: the allocated size of each array, for hl_scc_free. */
    size_t bytes_component, bytes_offsets, bytes_members, bytes_cyclic, bytes_cycles;
} hl_scc;

/* Compute the strongly connected components of the finished `graph` along its
 * out-edges, leaving out every node whose flags include any of
 * `exclude_flags` (0 keeps every node): such a node is in no component and
 * edges into it are ignored, as if it and its edges were not there. Runs in
 * time linear in nodes plus edges without recursion, so chains of any depth
 * are fine. Fills *out (any previous contents are overwritten, not freed);
 * free it with hl_scc_free. Returns 0, or -1 when out of memory or when the
 * graph still has an open node; *out is then empty (all zero) and may still
 * be passed to hl_scc_free. The graph is only read. */
HL_WARN_UNUSED int hl_scc_compute(const hl_graph *graph, uint8_t exclude_flags, hl_scc *out);

/* Release everything *scc holds and zero it. An all-zero hl_scc is allowed. */
void hl_scc_free(hl_scc *scc);

/* Bytes of memory the result holds. */
size_t hl_scc_memory(const hl_scc *scc);

/* The members of component `component` (< n_components): a borrowed pointer
 * to *count_out node ids, valid until hl_scc_free. */
HL_INLINE const hl_node_id *hl_scc_members(const hl_scc *scc, uint32_t component,
                                           size_t *count_out) {
    *count_out = scc->offsets[component + 1] - scc->offsets[component];
    return scc->members + scc->offsets[component];
}

/* 1 when component `component` (< n_components) is a cycle, else 0. */
HL_INLINE int hl_scc_is_cycle(const hl_scc *scc, uint32_t component) {
    return (int)((scc->cyclic[component >> 6] >> (component & 63)) & 1);
}

#endif /* HL_SCC_H */
