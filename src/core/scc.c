/* scc.c - strongly connected components: Pearce's variant of Tarjan's
 * algorithm, iterative.
 *
 * D. J. Pearce, "A space-efficient algorithm for finding strongly connected
 * components", Information Processing Letters 116(1), 2016. Tarjan's index and
 * lowlink share one word per node (rindex), which becomes the component
 * number once the node's component is complete, so the finished rindex array
 * is the result's component array.
 *
 * Invariants while the search runs, for a node v:
 *  - rindex[v] == 0: not visited yet;
 *  - 1 <= rindex[v] <= c: visited, component not complete (on the depth-first
 *    stack or the component stack); the value is the lowest visit index v is
 *    known to reach;
 *  - c < rindex[v] <= n_nodes: in the complete component n_nodes - rindex[v];
 *  - rindex[v] == HL_NODE_NONE: excluded, never visited.
 * `index` (the next visit index) minus one is the number of visited nodes
 * whose component is not complete, and c is n_nodes minus the number of
 * complete components, so index - 1 <= c: the two ranges never meet, and a
 * complete node never lowers the rindex of a node still in progress.
 *
 * Recursion is replaced by an explicit depth-first stack of (node, position
 * in its out-edges) frames. A node is on the depth-first stack or on the
 * component stack, never both, so the two share one array of n_nodes ids,
 * growing towards each other from its two ends.
 */
#include "scc.h"

#include <stdlib.h>
#include <string.h>

#include "big_alloc.h"

/* Bits of a depth-first frame. */
enum {
    HL__FRAME_ROOT = 1u << 0, /* no edge seen so far reaches an earlier node */
    HL__FRAME_SELF = 1u << 1, /* the node refers to itself */
};

/* Working arrays, each n_nodes entries, indexed by depth (frame_positions,
 * frame_bits) or as described at the top (stack). */
typedef struct hl__scc_work {
    hl_node_id *stack;
    uint32_t *frame_positions; /* the next out-edge of the frame's node to look at */
    uint8_t *frame_bits;
    size_t bytes_stack, bytes_positions, bytes_bits;
} hl__scc_work;

static void hl__work_free(hl__scc_work *work) {
    hl_big_free(work->stack, work->bytes_stack);
    hl_big_free(work->frame_positions, work->bytes_positions);
    hl_big_free(work->frame_bits, work->bytes_bits);
    memset(work, 0, sizeof(*work));
}

/* Allocate zeroed memory for `count` elements of `size` bytes (at least one),
 * recording the bytes taken in *bytes_out. Returns NULL when out of memory. */
static HL_WARN_UNUSED void *hl__alloc(size_t count, size_t size, size_t *bytes_out) {
    *bytes_out = (count ? count : 1) * size;
    return hl_big_calloc(*bytes_out);
}

/* Shrink an array from *bytes to `count` elements of `size` bytes. Keeps the
 * larger block if shrinking fails (only the spare tail is wasted). */
static void hl__shrink(void **array, size_t *bytes, size_t count, size_t size) {
    size_t new_bytes = (count ? count : 1) * size;
    if (new_bytes >= *bytes)
        return;
    void *smaller = hl_big_realloc(*array, *bytes, new_bytes);
    if (smaller != NULL) {
        *array = smaller;
        *bytes = new_bytes;
    }
}

void hl_scc_free(hl_scc *scc) {
    hl_big_free(scc->component, scc->bytes_component);
    hl_big_free(scc->offsets, scc->bytes_offsets);
    hl_big_free(scc->members, scc->bytes_members);
    hl_big_free(scc->cyclic, scc->bytes_cyclic);
    hl_big_free(scc->cycles, scc->bytes_cycles);
    memset(scc, 0, sizeof(*scc));
}

size_t hl_scc_memory(const hl_scc *scc) {
    return scc->bytes_component + scc->bytes_offsets + scc->bytes_members + scc->bytes_cyclic +
           scc->bytes_cycles;
}

/* The state shared by the first pass and the searches. */
typedef struct hl__scc_state {
    const hl_graph *graph;
    uint32_t *rindex; /* becomes out->component */
    hl_node_id *stack;
    uint32_t *frame_positions;
    uint8_t *frame_bits;
    uint32_t *offsets;
    hl_node_id *members;
    uint64_t *cyclic;
    size_t n_nodes;
    size_t depth;        /* frames on the depth-first stack: stack[0 .. depth) */
    size_t stack_bottom; /* the component stack is stack[stack_bottom .. n_nodes) */
    uint32_t index;      /* the next visit index */
    uint32_t c;          /* n_nodes minus the complete components */
    size_t n_members;    /* members written so far */
} hl__scc_state;

/* Record a complete component whose members are members[offsets[id] ..
 * n_members) and which is a cycle when `is_cycle`. */
HL_INLINE void hl__close_component(hl__scc_state *state, int is_cycle) {
    size_t id = state->n_nodes - state->c;
    state->offsets[id + 1] = (uint32_t)state->n_members;
    if (is_cycle)
        state->cyclic[id >> 6] |= (uint64_t)1 << (id & 63);
    state->c--;
}

/* Push a frame for the unvisited node v. */
HL_INLINE void hl__visit(hl__scc_state *state, hl_node_id v) {
    state->rindex[v] = state->index++;
    state->stack[state->depth] = v;
    state->frame_positions[state->depth] = 0;
    state->frame_bits[state->depth] = HL__FRAME_ROOT;
    state->depth++;
}

/* Run the depth-first search from the unvisited node `start` until every node
 * it reaches is in a complete component. */
static void hl__search(hl__scc_state *state, hl_node_id start) {
    uint32_t *rindex = state->rindex;
    hl_node_id *stack = state->stack;
    hl__visit(state, start);
    while (state->depth > 0) {
        size_t top = state->depth - 1;
        hl_node_id v = stack[top];
        size_t count;
        const hl_node_id *edges = hl_graph_out_edges(state->graph, v, &count);
        size_t position = state->frame_positions[top];
        uint32_t low = rindex[v];
        unsigned bits = state->frame_bits[top];
        /* After a child's frame is popped, the edge to it is looked at again:
         * the child is visited now, so this only takes its rindex into low. */
        for (; position < count; position++) {
            hl_node_id w = edges[position];
            uint32_t w_index = rindex[w];
            if (w_index == 0)
                break;
            if (w_index < low) {
                low = w_index;
                bits &= ~(unsigned)HL__FRAME_ROOT;
            }
            if (w == v)
                bits |= HL__FRAME_SELF;
        }
        if (position < count) {
            /* Descend into an unvisited w; low must be in memory, since w's
             * subtree may refer back to v. */
            rindex[v] = low;
            state->frame_positions[top] = (uint32_t)position;
            state->frame_bits[top] = (uint8_t)bits;
            hl__visit(state, edges[position]);
            continue;
        }
        state->depth = top;
        if (!(bits & HL__FRAME_ROOT)) {
            /* v reaches an earlier node: it waits on the component stack for
             * its component's root to finish. */
            rindex[v] = low;
            stack[--state->stack_bottom] = v;
            continue;
        }
        /* v is the root of a component: v, then everything on the component
         * stack pushed since v was visited (those have rindex >= v's). */
        uint32_t c = state->c;
        size_t first = state->n_members;
        state->members[state->n_members++] = v;
        rindex[v] = c;
        while (state->stack_bottom < state->n_nodes && low <= rindex[stack[state->stack_bottom]]) {
            hl_node_id w = stack[state->stack_bottom++];
            rindex[w] = c;
            state->members[state->n_members++] = w;
        }
        state->index -= (uint32_t)(state->n_members - first);
        hl__close_component(state, state->n_members - first > 1 || (bits & HL__FRAME_SELF));
    }
}

int hl_scc_compute(const hl_graph *graph, uint8_t exclude_flags, hl_scc *out) {
    memset(out, 0, sizeof(*out));
    hl__scc_work work = {0};
    if (hl_graph_open_node(graph) != HL_NODE_NONE)
        return -1;
    size_t n_nodes = hl_graph_n_nodes(graph);
    out->n_nodes = n_nodes;
    out->component = hl__alloc(n_nodes, sizeof(uint32_t), &out->bytes_component);
    out->members = hl__alloc(n_nodes, sizeof(hl_node_id), &out->bytes_members);
    /* Up to one component per node; pages past the last one used are never
     * touched (big allocations are mapped on demand) and are given back by
     * the shrink at the end. */
    out->offsets = hl__alloc(n_nodes + 1, sizeof(uint32_t), &out->bytes_offsets);
    out->cyclic = hl__alloc((n_nodes + 63) / 64, sizeof(uint64_t), &out->bytes_cyclic);
    work.stack = hl__alloc(n_nodes, sizeof(hl_node_id), &work.bytes_stack);
    work.frame_positions = hl__alloc(n_nodes, sizeof(uint32_t), &work.bytes_positions);
    work.frame_bits = hl__alloc(n_nodes, sizeof(uint8_t), &work.bytes_bits);
    if (out->component == NULL || out->members == NULL || out->offsets == NULL ||
        out->cyclic == NULL || work.stack == NULL || work.frame_positions == NULL ||
        work.frame_bits == NULL)
        goto fail;
    out->work_bytes = work.bytes_stack + work.bytes_positions + work.bytes_bits;

    hl__scc_state state = {
        .graph = graph,
        .rindex = out->component,
        .stack = work.stack,
        .frame_positions = work.frame_positions,
        .frame_bits = work.frame_bits,
        .offsets = out->offsets,
        .members = out->members,
        .cyclic = out->cyclic,
        .n_nodes = n_nodes,
        .stack_bottom = n_nodes,
        .index = 1,
        .c = (uint32_t)n_nodes,
    };
    /* First pass, in order: mark excluded nodes, and close the components of
     * nodes without out-edges at once. They are sinks of the condensation, so
     * numbering them first keeps the order topological, and the search then
     * neither enters them nor pushes a frame for them (in a heap, most leaves
     * are strings and numbers). */
    size_t n_excluded = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        if (hl_graph_flags(graph, (hl_node_id)i) & exclude_flags) {
            state.rindex[i] = HL_NODE_NONE;
            n_excluded++;
            continue;
        }
        size_t count;
        (void)hl_graph_out_edges(graph, (hl_node_id)i, &count);
        if (count == 0) {
            state.rindex[i] = state.c;
            state.members[state.n_members++] = (hl_node_id)i;
            hl__close_component(&state, 0);
        }
    }
    for (size_t i = 0; i < n_nodes; i++) {
        if (state.rindex[i] == 0)
            hl__search(&state, (hl_node_id)i);
    }
    hl__work_free(&work);

    /* rindex n_nodes - k marks component k: number components from 0. */
    size_t n_components = n_nodes - state.c;
    uint32_t *component = out->component;
    for (size_t i = 0; i < n_nodes; i++) {
        if (component[i] != HL_NODE_NONE)
            component[i] = (uint32_t)n_nodes - component[i];
    }
    out->n_components = n_components;
    out->n_members = n_nodes - n_excluded;
    hl__shrink((void **)&out->members, &out->bytes_members, out->n_members, sizeof(hl_node_id));
    hl__shrink((void **)&out->offsets, &out->bytes_offsets, n_components + 1, sizeof(uint32_t));
    hl__shrink((void **)&out->cyclic, &out->bytes_cyclic, (n_components + 63) / 64,
               sizeof(uint64_t));

    /* The list of cyclic components, for callers that skip the trivial ones. */
    size_t n_cycles = 0, n_cycle_members = 0;
    for (size_t word = 0; word < (n_components + 63) / 64; word++)
        n_cycles += (size_t)__builtin_popcountll(out->cyclic[word]);
    out->cycles = hl__alloc(n_cycles, sizeof(uint32_t), &out->bytes_cycles);
    if (out->cycles == NULL)
        goto fail;
    for (size_t word = 0, k = 0; word < (n_components + 63) / 64; word++) {
        for (uint64_t bits = out->cyclic[word]; bits != 0; bits &= bits - 1) {
            uint32_t id = (uint32_t)(word * 64 + (size_t)__builtin_ctzll(bits));
            out->cycles[k++] = id;
            n_cycle_members += out->offsets[id + 1] - out->offsets[id];
        }
    }
    out->n_cycles = n_cycles;
    out->n_cycle_members = n_cycle_members;
    return 0;

fail:
    hl__work_free(&work);
    hl_scc_free(out);
    return -1;
}
