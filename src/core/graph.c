/* graph.c - the heap graph: node arrays, address index, CSR edges, queries.
 *
 * Invariants: nodes [0, n_closed) have their out-edges in
 * out_edges[out_offsets[i], out_offsets[i + 1]); edges appended after
 * out_offsets[n_closed] belong to node n_closed (the open node). The address
 * index maps every non-virtual node's address to its id with linear probing
 * over n_index_slots slots (HL_NODE_NONE = empty), kept at most 3/4 full. The
 * reverse index, when built, is the transpose in the same form.
 */
#include "graph.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"
#include "u64_map.h"

/* The big arrays live in hl_big_calloc memory (huge pages: they are probed at
 * random), so each remembers its size in bytes for resizing and freeing. */
typedef struct hl__sizes_in_bytes {
    size_t addresses, type_ids, sizes, flags, out_offsets, out_edges, index_slots, in_offsets,
        in_edges;
} hl__sizes_in_bytes;

struct hl_graph {
    hl__sizes_in_bytes bytes;
    size_t n_nodes, node_capacity;
    uint64_t *addresses;
    uint32_t *type_ids;
    uint32_t *sizes; /* UINT32_MAX: the size is in big_sizes */
    uint8_t *flags;

    size_t n_closed;
    uint32_t *out_offsets; /* node_capacity + 1 entries */
    hl_node_id *out_edges;
    size_t n_edges, edge_capacity;

    hl_node_id *index_slots; /* tag << index_id_bits | id, or HL_NODE_NONE */
    size_t n_index_slots, n_indexed;
    unsigned index_id_bits;
    uint32_t index_id_mask;
    size_t index_id_limit; /* ids must stay below this to fit */

    uint32_t *in_offsets; /* NULL until hl_graph_build_reverse */
    hl_node_id *in_edges;

    hl_u64_map big_size_index; /* node id -> position in big_sizes */
    uint64_t *big_sizes;
    size_t n_big_sizes;

    /* Scratch of hl_graph_shortest_path, NULL until the first query and kept
     * for the next: path_parent[i] is HL_NODE_NONE between queries (a query
     * resets only the entries it set, the nodes left in path_queue), so a
     * query costs what it visits, not the size of the graph. Same
     * serialisation as the rest of the graph (the binding holds the GIL). */
    hl_node_id *path_parent, *path_queue;
    size_t path_scratch_bytes;

    int finished;
};

/* Map a 32-bit hash onto [0, n) without a division (Lemire's reduction). */
HL_INLINE size_t hl__reduce(uint32_t hash, size_t n) {
    return (size_t)(((uint64_t)hash * (uint64_t)n) >> 32);
}

/* Resize the big array `*array` of *bytes bytes to `element_size` *
 * `new_capacity` bytes. Returns 0, or -1 with the array unchanged. */
static HL_WARN_UNUSED int hl__grow(void **array, size_t *bytes, size_t element_size,
                                   size_t new_capacity) {
    size_t new_bytes = element_size * (new_capacity ? new_capacity : 1);
    void *grown = hl_big_realloc(*array, *bytes, new_bytes);
    if (grown == NULL)
        return -1;
    *array = grown;
    *bytes = new_bytes;
    return 0;
}

static void hl__release(void **array, size_t *bytes) {
    hl_big_free(*array, *bytes);
    *array = NULL;
    *bytes = 0;
}

static HL_WARN_UNUSED int hl__grow_nodes(hl_graph *graph, size_t capacity) {
    hl__sizes_in_bytes *bytes = &graph->bytes;
    if (hl__grow((void **)&graph->addresses, &bytes->addresses, sizeof(uint64_t), capacity) < 0 ||
        hl__grow((void **)&graph->type_ids, &bytes->type_ids, sizeof(uint32_t), capacity) < 0 ||
        hl__grow((void **)&graph->sizes, &bytes->sizes, sizeof(uint32_t), capacity) < 0 ||
        hl__grow((void **)&graph->flags, &bytes->flags, sizeof(uint8_t), capacity) < 0 ||
        hl__grow((void **)&graph->out_offsets, &bytes->out_offsets, sizeof(uint32_t),
                 capacity + 1) < 0)
        return -1; /* arrays already resized keep their own recorded sizes */
    graph->node_capacity = capacity;
    return 0;
}

/* An index slot packs a node id in its low id_bits bits and, above them, a
 * tag: more bits of the address's hash, so most probes that do not match are
 * rejected without loading the node's address (a cache miss each). All ones is
 * the empty slot; ids stay below the all-ones id. */
HL_INLINE uint32_t hl__tag_of(uint64_t hash64, unsigned id_bits) {
    return id_bits >= 32 ? 0 : (uint32_t)hash64 >> id_bits << id_bits;
}

HL_INLINE uint64_t hl__hash64(uint64_t address) {
    return (address >> 4) * 0x9E3779B97F4A7C15ull;
}

/* The home slot comes from the hash's high half, the tag from its low half. */
HL_INLINE size_t hl__home(uint64_t hash64, size_t n_slots) {
    return hl__reduce((uint32_t)(hash64 >> 32), n_slots);
}

/* Insert (address -> id) into an index with room. */
static void hl__index_put(hl_node_id *slots, size_t n_slots, unsigned id_bits, uint64_t address,
                          hl_node_id id) {
    uint64_t hash64 = hl__hash64(address);
    size_t slot = hl__home(hash64, n_slots);
    while (slots[slot] != HL_NODE_NONE)
        slot = slot + 1 == n_slots ? 0 : slot + 1;
    slots[slot] = hl__tag_of(hash64, id_bits) | id;
}

/* Bits needed for node ids below `limit` with the all-ones id kept free. */
static unsigned hl__id_bits_for(size_t limit) {
    unsigned bits = 1;
    while (bits < 32 && ((size_t)1 << bits) - 1 <= limit)
        bits++;
    return bits;
}

/* Rebuild the address index with `n_slots` slots and ids of id_bits bits
 * enough for `id_limit` nodes. Returns 0, or -1 with the old index kept. */
static HL_WARN_UNUSED int hl__index_resize(hl_graph *graph, size_t n_slots, size_t id_limit) {
    size_t slots_bytes = n_slots * sizeof(hl_node_id);
    hl_node_id *slots = hl_big_calloc(slots_bytes);
    if (slots == NULL)
        return -1;
    memset(slots, 0xff, n_slots * sizeof(hl_node_id));
    unsigned id_bits = hl__id_bits_for(id_limit);
    uint32_t old_mask = graph->index_id_mask;
    for (size_t i = 0; i < graph->n_index_slots; i++) {
        hl_node_id entry = graph->index_slots[i];
        if (entry != HL_NODE_NONE) {
            hl_node_id id = entry & old_mask;
            hl__index_put(slots, n_slots, id_bits, graph->addresses[id], id);
        }
    }
    hl__release((void **)&graph->index_slots, &graph->bytes.index_slots);
    graph->index_slots = slots;
    graph->bytes.index_slots = slots_bytes;
    graph->n_index_slots = n_slots;
    graph->index_id_bits = id_bits;
    graph->index_id_mask = id_bits >= 32 ? UINT32_MAX : ((uint32_t)1 << id_bits) - 1;
    graph->index_id_limit = ((size_t)1 << id_bits) - 1;
    return 0;
}

hl_graph *hl_graph_new(size_t expected_nodes, size_t expected_edges) {
    hl_graph *graph = hl_calloc(1, sizeof(*graph));
    if (graph == NULL)
        return NULL;
    if (expected_nodes < 64)
        expected_nodes = 64;
    if (expected_edges < 64)
        expected_edges = 64;
    if (hl_u64_map_init(&graph->big_size_index, 8) < 0 ||
        hl__grow_nodes(graph, expected_nodes) < 0 ||
        hl__grow((void **)&graph->out_edges, &graph->bytes.out_edges, sizeof(hl_node_id),
                 expected_edges) < 0 ||
        hl__index_resize(graph, expected_nodes + expected_nodes / 2, expected_nodes) < 0) {
        hl_graph_free(graph);
        return NULL;
    }
    graph->edge_capacity = expected_edges;
    graph->out_offsets[0] = 0;
    return graph;
}

void hl_graph_free(hl_graph *graph) {
    if (graph == NULL)
        return;
    hl__sizes_in_bytes *bytes = &graph->bytes;
    hl__release((void **)&graph->addresses, &bytes->addresses);
    hl__release((void **)&graph->type_ids, &bytes->type_ids);
    hl__release((void **)&graph->sizes, &bytes->sizes);
    hl__release((void **)&graph->flags, &bytes->flags);
    hl__release((void **)&graph->out_offsets, &bytes->out_offsets);
    hl__release((void **)&graph->out_edges, &bytes->out_edges);
    hl__release((void **)&graph->index_slots, &bytes->index_slots);
    hl__release((void **)&graph->in_offsets, &bytes->in_offsets);
    hl__release((void **)&graph->in_edges, &bytes->in_edges);
    hl_big_free(graph->path_parent, graph->path_scratch_bytes);
    hl_big_free(graph->path_queue, graph->path_scratch_bytes);
    hl_free(graph->big_sizes);
    hl_u64_map_destroy(&graph->big_size_index);
    hl_free(graph);
}

hl_node_id hl_graph_find(const hl_graph *graph, uint64_t address) {
    if (address == 0)
        return HL_NODE_NONE;
    size_t n_slots = graph->n_index_slots;
    uint64_t hash64 = hl__hash64(address);
    size_t slot = hl__home(hash64, n_slots);
    uint32_t tag = hl__tag_of(hash64, graph->index_id_bits);
    uint32_t id_mask = graph->index_id_mask;
    for (;;) {
        hl_node_id entry = graph->index_slots[slot];
        if (entry == HL_NODE_NONE)
            return HL_NODE_NONE;
        if ((entry & ~id_mask) == tag && graph->addresses[entry & id_mask] == address)
            return entry & id_mask;
        slot = slot + 1 == n_slots ? 0 : slot + 1;
    }
}

int hl_graph_add_node(hl_graph *graph, uint64_t address, uint32_t type_id, uint8_t flags,
                      hl_node_id *id_out, int *is_new) {
    *is_new = 0;
    if (address != 0) {
        hl_node_id existing = hl_graph_find(graph, address);
        if (existing != HL_NODE_NONE) {
            *id_out = existing;
            return 0;
        }
    }
    if (hl_graph_add_new_node(graph, address, type_id, flags, id_out) < 0)
        return -1;
    *is_new = 1;
    return 0;
}

void hl_graph_prefetch_slot(const hl_graph *graph, uint64_t address) {
    size_t slot = hl__home(hl__hash64(address), graph->n_index_slots);
    __builtin_prefetch(&graph->index_slots[slot]);
}

void hl_graph_prefetch_node(const hl_graph *graph, uint64_t address) {
    uint64_t hash64 = hl__hash64(address);
    hl_node_id entry = graph->index_slots[hl__home(hash64, graph->n_index_slots)];
    if (entry != HL_NODE_NONE &&
        (entry & ~graph->index_id_mask) == hl__tag_of(hash64, graph->index_id_bits))
        __builtin_prefetch(&graph->addresses[entry & graph->index_id_mask]);
}

int hl_graph_add_new_node(hl_graph *graph, uint64_t address, uint32_t type_id, uint8_t flags,
                          hl_node_id *id_out) {
    if (graph->finished || graph->n_nodes >= HL_GRAPH_MAX_NODES)
        return -1;
    if (graph->n_nodes == graph->node_capacity) {
        size_t capacity = graph->node_capacity + graph->node_capacity / 2;
        if (capacity > HL_GRAPH_MAX_NODES)
            capacity = HL_GRAPH_MAX_NODES;
        if (hl__grow_nodes(graph, capacity) < 0)
            return -1;
    }
    if (address != 0 && ((graph->n_indexed + 1) * 4 > graph->n_index_slots * 3 ||
                         graph->n_nodes + 1 >= graph->index_id_limit)) {
        size_t n_slots = graph->n_index_slots + graph->n_index_slots / 2;
        if (hl__index_resize(graph, n_slots, n_slots + graph->n_nodes) < 0)
            return -1;
    }
    hl_node_id id = (hl_node_id)graph->n_nodes++;
    graph->addresses[id] = address;
    graph->type_ids[id] = type_id;
    graph->sizes[id] = 0;
    graph->flags[id] = address == 0 ? (uint8_t)(flags | HL_NODE_VIRTUAL) : flags;
    if (address != 0) {
        hl__index_put(graph->index_slots, graph->n_index_slots, graph->index_id_bits, address, id);
        graph->n_indexed++;
    }
    *id_out = id;
    return 0;
}

void hl_graph_set_size(hl_graph *graph, hl_node_id id, uint64_t size) {
    if (size < UINT32_MAX) {
        graph->sizes[id] = (uint32_t)size;
        return;
    }
    uint32_t position;
    int inserted;
    uint64_t *grown = hl_realloc(graph->big_sizes, (graph->n_big_sizes + 1) * sizeof(uint64_t));
    if (grown == NULL)
        goto saturate;
    graph->big_sizes = grown;
    if (hl_u64_map_get_or_put(&graph->big_size_index, id, (uint32_t)graph->n_big_sizes, &position,
                              &inserted) < 0)
        goto saturate;
    if (inserted)
        graph->n_big_sizes++;
    graph->big_sizes[position] = size;
    graph->sizes[id] = UINT32_MAX;
    return;
saturate:
    /* Out of memory for a side entry: keep the largest size we can say. */
    graph->sizes[id] = UINT32_MAX - 1;
}

void hl_graph_add_flags(hl_graph *graph, hl_node_id id, uint8_t flags) {
    graph->flags[id] |= flags;
}

int hl_graph_add_edge(hl_graph *graph, hl_node_id to) {
    if (HL_UNLIKELY(graph->n_edges == graph->edge_capacity)) {
        if (graph->edge_capacity == HL_GRAPH_MAX_EDGES)
            return -1;
        size_t capacity = graph->edge_capacity + graph->edge_capacity / 2;
        if (capacity > HL_GRAPH_MAX_EDGES)
            capacity = HL_GRAPH_MAX_EDGES;
        if (hl__grow((void **)&graph->out_edges, &graph->bytes.out_edges, sizeof(hl_node_id),
                     capacity) < 0)
            return -1;
        graph->edge_capacity = capacity;
    }
    graph->out_edges[graph->n_edges++] = to;
    return 0;
}

hl_node_id hl_graph_close_node(hl_graph *graph) {
    if (graph->n_closed < graph->n_nodes) {
        graph->out_offsets[graph->n_closed + 1] = (uint32_t)graph->n_edges;
        graph->n_closed++;
    }
    return hl_graph_open_node(graph);
}

hl_node_id hl_graph_open_node(const hl_graph *graph) {
    return graph->n_closed < graph->n_nodes ? (hl_node_id)graph->n_closed : HL_NODE_NONE;
}

int hl_graph_finish(hl_graph *graph) {
    if (graph->n_closed != graph->n_nodes)
        return -1;
    graph->finished = 1;
    /* Shrinking never fails in practice; if it does, the larger block stays. */
    size_t n = graph->n_nodes ? graph->n_nodes : 1;
    if (hl__grow((void **)&graph->out_edges, &graph->bytes.out_edges, sizeof(hl_node_id),
                 graph->n_edges ? graph->n_edges : 1) == 0)
        graph->edge_capacity = graph->n_edges ? graph->n_edges : 1;
    if (hl__grow_nodes(graph, n) == 0)
        graph->node_capacity = n;
    return 0;
}

size_t hl_graph_n_nodes(const hl_graph *graph) {
    return graph->n_nodes;
}

size_t hl_graph_n_edges(const hl_graph *graph) {
    return graph->n_edges;
}

size_t hl_graph_memory(const hl_graph *graph) {
    const hl__sizes_in_bytes *bytes = &graph->bytes;
    return sizeof(*graph) + bytes->addresses + bytes->type_ids + bytes->sizes + bytes->flags +
           bytes->out_offsets + bytes->out_edges + bytes->index_slots + bytes->in_offsets +
           bytes->in_edges + graph->n_big_sizes * sizeof(uint64_t) +
           (graph->path_parent != NULL ? 2 * graph->path_scratch_bytes : 0);
}

uint64_t hl_graph_address(const hl_graph *graph, hl_node_id id) {
    return graph->addresses[id];
}

uint32_t hl_graph_type(const hl_graph *graph, hl_node_id id) {
    return graph->type_ids[id];
}

uint64_t hl_graph_size(const hl_graph *graph, hl_node_id id) {
    uint32_t size = graph->sizes[id];
    uint32_t position;
    if (size == UINT32_MAX && hl_u64_map_get(&graph->big_size_index, id, &position))
        return graph->big_sizes[position];
    return size;
}

uint8_t hl_graph_flags(const hl_graph *graph, hl_node_id id) {
    return graph->flags[id];
}

const hl_node_id *hl_graph_out_edges(const hl_graph *graph, hl_node_id id, size_t *count_out) {
    uint32_t begin = graph->out_offsets[id];
    *count_out = graph->out_offsets[id + 1] - begin;
    return graph->out_edges + begin;
}

/* How many edges ahead hl_graph_build_reverse prefetches. */
#define HL__REVERSE_AHEAD 16

int hl_graph_build_reverse(hl_graph *graph) {
    if (graph->in_offsets != NULL)
        return 0;
    if (!graph->finished)
        return -1;
    size_t n_nodes = graph->n_nodes;
    size_t offsets_bytes = (n_nodes + 1) * sizeof(uint32_t);
    size_t edges_bytes = (graph->n_edges ? graph->n_edges : 1) * sizeof(hl_node_id);
    uint32_t *offsets = hl_big_calloc(offsets_bytes);
    hl_node_id *edges = hl_big_calloc(edges_bytes);
    if (offsets == NULL || edges == NULL) {
        hl_big_free(offsets, offsets_bytes);
        hl_big_free(edges, edges_bytes);
        return -1;
    }
    /* Counting sort by target: count, prefix-sum into start positions, then
     * place each source; scanning sources in order keeps each list sorted. */
    /* The counters and list slots of targets are touched at random: prefetch
     * them a few edges ahead, or each is a cache miss in turn. */
    const hl_node_id *targets = graph->out_edges;
    size_t n_edges = graph->n_edges;
    for (size_t e = 0; e < n_edges; e++) {
        if (e + HL__REVERSE_AHEAD < n_edges)
            __builtin_prefetch(&offsets[targets[e + HL__REVERSE_AHEAD] + 1], 1);
        offsets[targets[e] + 1]++;
    }
    for (size_t i = 0; i < n_nodes; i++)
        offsets[i + 1] += offsets[i];
    for (size_t source = 0; source < n_nodes; source++) {
        for (uint32_t e = graph->out_offsets[source]; e < graph->out_offsets[source + 1]; e++) {
            if (e + HL__REVERSE_AHEAD < n_edges)
                __builtin_prefetch(&offsets[targets[e + HL__REVERSE_AHEAD]], 1);
            if (e + HL__REVERSE_AHEAD / 2 < n_edges)
                __builtin_prefetch(&edges[offsets[targets[e + HL__REVERSE_AHEAD / 2]]], 1);
            edges[offsets[targets[e]]++] = (hl_node_id)source;
        }
    }
    /* Each offsets[t] now holds the end of t's list, which is the start of
     * t + 1's: shift right by one to get starts back. */
    memmove(offsets + 1, offsets, n_nodes * sizeof(uint32_t));
    offsets[0] = 0;
    graph->in_offsets = offsets;
    graph->in_edges = edges;
    graph->bytes.in_offsets = offsets_bytes;
    graph->bytes.in_edges = edges_bytes;
    return 0;
}

const hl_node_id *hl_graph_in_edges(const hl_graph *graph, hl_node_id id, size_t *count_out) {
    uint32_t begin = graph->in_offsets[id];
    *count_out = graph->in_offsets[id + 1] - begin;
    return graph->in_edges + begin;
}

int hl_graph_csr(const hl_graph *graph, int backward, const uint32_t **offsets_out,
                 const hl_node_id **edges_out) {
    *offsets_out = NULL;
    *edges_out = NULL;
    if (!graph->finished || (backward && graph->in_offsets == NULL))
        return -1;
    *offsets_out = backward ? graph->in_offsets : graph->out_offsets;
    *edges_out = backward ? graph->in_edges : graph->out_edges;
    return 0;
}

HL_INLINE int hl__has(uint8_t flags, uint8_t require, uint8_t exclude) {
    return (flags & require) == require && (flags & exclude) == 0;
}

void hl_graph_census(const hl_graph *graph, uint8_t require, uint8_t exclude, size_t n_types,
                     uint64_t *counts, uint64_t *sizes) {
    for (size_t i = 0; i < graph->n_nodes; i++) {
        uint32_t type_id = graph->type_ids[i];
        if (!hl__has(graph->flags[i], require, exclude) || type_id >= n_types)
            continue;
        counts[type_id]++;
        sizes[type_id] +=
            graph->sizes[i] == UINT32_MAX ? hl_graph_size(graph, (hl_node_id)i) : graph->sizes[i];
    }
}

int hl_graph_mark_unreferenced(hl_graph *graph, uint8_t source_require, uint8_t node_require,
                               size_t *count_out) {
    size_t n_nodes = graph->n_nodes;
    uint8_t *referenced = hl_calloc(n_nodes ? n_nodes : 1, 1);
    if (referenced == NULL)
        return -1;
    for (size_t source = 0; source < graph->n_closed; source++) {
        if (!hl__has(graph->flags[source], source_require, HL_NODE_IGNORED))
            continue;
        for (uint32_t e = graph->out_offsets[source]; e < graph->out_offsets[source + 1]; e++) {
            if (graph->out_edges[e] != source)
                referenced[graph->out_edges[e]] = 1;
        }
    }
    size_t count = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        int mark = !referenced[i] && hl__has(graph->flags[i], node_require, 0);
        graph->flags[i] = (uint8_t)(mark ? graph->flags[i] | HL_NODE_UNREACHED
                                         : graph->flags[i] & ~HL_NODE_UNREACHED);
        count += (size_t)mark;
    }
    hl_free(referenced);
    *count_out = count;
    return 0;
}

void hl_graph_in_degrees(const hl_graph *graph, uint8_t source_exclude, uint32_t *counts,
                         size_t n_counts) {
    for (size_t source = 0; source < graph->n_closed; source++) {
        if (graph->flags[source] & source_exclude)
            continue;
        for (uint32_t e = graph->out_offsets[source]; e < graph->out_offsets[source + 1]; e++) {
            hl_node_id target = graph->out_edges[e];
            if (target < n_counts)
                counts[target]++;
        }
    }
}

HL_INLINE int hl__is_target(const hl_graph *graph, const hl_graph_path_query *query,
                            hl_node_id id) {
    return (graph->flags[id] & query->target_flags) != 0 ||
           (query->target_marks != NULL && query->target_marks[id] != 0);
}

/* Make the path scratch arrays if they are not made yet. Returns 0, or -1
 * when out of memory (nothing changes). */
static HL_WARN_UNUSED int hl__path_scratch(hl_graph *graph) {
    if (graph->path_parent != NULL)
        return 0;
    size_t array_bytes = (graph->n_nodes ? graph->n_nodes : 1) * sizeof(hl_node_id);
    hl_node_id *parent = hl_big_calloc(array_bytes);
    hl_node_id *queue = hl_big_calloc(array_bytes);
    if (parent == NULL || queue == NULL) {
        hl_big_free(parent, array_bytes);
        hl_big_free(queue, array_bytes);
        return -1;
    }
    memset(parent, 0xff, graph->n_nodes * sizeof(hl_node_id));
    graph->path_parent = parent;
    graph->path_queue = queue;
    graph->path_scratch_bytes = array_bytes;
    return 0;
}

/* Copy the path that parent[] records into a new array: through back_from
 * and back to start (a cycle) when back_from is a node, else from start to
 * found. Reference order as hl_graph_shortest_path promises. Returns NULL
 * when out of memory. */
static hl_node_id *hl__path_copy(const hl_graph_path_query *query, const hl_node_id *parent,
                                 hl_node_id back_from, hl_node_id found, size_t *length_out) {
    if (back_from != HL_NODE_NONE) {
        /* start ... back_from, then start again. */
        size_t length = 2;
        for (hl_node_id id = back_from; id != query->start; id = parent[id])
            length++;
        hl_node_id *path = hl_malloc(length * sizeof(hl_node_id));
        if (path == NULL)
            return NULL;
        path[length - 1] = query->start;
        size_t i = length - 2;
        for (hl_node_id id = back_from; id != query->start; id = parent[id])
            path[i--] = id;
        path[0] = query->start;
        if (query->backward) {
            for (size_t a = 0, b = length - 1; a < b; a++, b--) {
                hl_node_id swap = path[a];
                path[a] = path[b];
                path[b] = swap;
            }
        }
        *length_out = length;
        return path;
    }
    size_t length = 1;
    for (hl_node_id id = found; id != query->start; id = parent[id])
        length++;
    hl_node_id *path = hl_malloc(length * sizeof(hl_node_id));
    if (path == NULL)
        return NULL;
    /* Walking parents goes from the found node back to start. A backward
     * search reached the target through in-edges, so that walk is already in
     * reference order; a forward one is reversed. */
    size_t i = 0;
    for (hl_node_id id = found;; id = parent[id]) {
        path[query->backward ? i : length - 1 - i] = id;
        i++;
        if (id == query->start)
            break;
    }
    *length_out = length;
    return path;
}

int hl_graph_shortest_path(hl_graph *graph, const hl_graph_path_query *query, hl_node_id **path_out,
                           size_t *length_out) {
    *path_out = NULL;
    *length_out = 0;
    size_t n_nodes = graph->n_nodes;
    if (query->start >= n_nodes || (query->backward && graph->in_offsets == NULL))
        return -1;
    if (hl__path_scratch(graph) < 0)
        return -1;
    const uint32_t *offsets = query->backward ? graph->in_offsets : graph->out_offsets;
    const hl_node_id *edges = query->backward ? graph->in_edges : graph->out_edges;

    /* parent[i] is the node we reached i from (the start is its own parent);
     * HL_NODE_NONE means not reached. The queue holds each node at most once
     * and is processed level by level to count depth; at the end it lists
     * every node whose parent[] was set, which is how they are reset. */
    hl_node_id *parent = graph->path_parent;
    hl_node_id *queue = graph->path_queue;
    size_t head = 0, tail = 0;
    parent[query->start] = query->start;
    queue[tail++] = query->start;
    hl_node_id found = HL_NODE_NONE;
    int64_t depth = 0;
    /* Looking for a way back to start: expand start first, and stop at the
     * first edge that returns to it. */
    hl_node_id back_from = HL_NODE_NONE;
    while (head < tail && found == HL_NODE_NONE) {
        size_t level_end = tail;
        for (; head < level_end && found == HL_NODE_NONE && back_from == HL_NODE_NONE; head++) {
            hl_node_id id = queue[head];
            if (!(query->start_is_not_target && id == query->start) &&
                hl__is_target(graph, query, id)) {
                found = id;
                /* Same depth, better kind: look at the rest of this level. */
                for (size_t other = head; other < level_end; other++) {
                    hl_node_id candidate = queue[other];
                    if ((graph->flags[candidate] & query->preferred_flags) &&
                        hl__is_target(graph, query, candidate)) {
                        found = candidate;
                        break;
                    }
                }
                if (graph->flags[id] & query->preferred_flags)
                    found = id;
                break;
            }
            if (query->max_depth >= 0 && depth >= query->max_depth)
                continue;
            for (uint32_t e = offsets[id]; e < offsets[id + 1] && back_from == HL_NODE_NONE; e++) {
                hl_node_id next = edges[e];
                if (query->start_is_not_target && next == query->start) {
                    back_from = id;
                    break;
                }
                if (parent[next] != HL_NODE_NONE ||
                    !hl__has(graph->flags[next], query->require, query->exclude))
                    continue;
                parent[next] = id;
                queue[tail++] = next;
            }
        }
        depth++;
        if (back_from != HL_NODE_NONE)
            break;
    }
    int result = 0;
    if (back_from != HL_NODE_NONE || found != HL_NODE_NONE) {
        *path_out = hl__path_copy(query, parent, back_from, found, length_out);
        result = *path_out != NULL ? 1 : -1;
    }
    for (size_t i = 0; i < tail; i++)
        parent[queue[i]] = HL_NODE_NONE;
    return result;
}
