/* dominators.c - Lengauer-Tarjan dominators and retained sizes (see dominators.h).
 *
 * Numbering: the working arrays are indexed by depth-first preorder number.
 * The virtual root is number 0, reached nodes are 1 .. n_reached; pre[] maps a
 * node id to its number, or to HL__UNVISITED / HL__EXCLUDED, both larger than
 * any number. A node's number is larger than its DFS-tree ancestors', so its
 * dominator-tree ancestors (which are DFS-tree ancestors) come before it in
 * preorder: accumulating retained sizes from the last number down to the first
 * adds every node to its idom after all its own descendants were added to it.
 *
 * Arrays do two jobs each, one after the other, so that seven 4-byte arrays
 * cover the whole computation:
 *   semi[]     the DFS's edge cursor of each node on the DFS path, then a root
 *              mark, then the semidominator (final once the node is processed);
 *   ancestor[] the DFS parent, then the link of the path-compressed forest (a
 *              node is linked once processed, so ancestor[w] is still w's
 *              parent when w is processed);
 *   idom[]     the head of each node's bucket (the nodes whose semidominator it
 *              is), then its immediate dominator. The bucket of x is empty for
 *              good once x + 1 is processed, and x's idom is written later.
 *   samedom[]  the next node in the same bucket, then the node whose idom is
 *              also this node's (HL__NONE when the idom was known directly).
 * The linked forest uses no separate link step: nodes >= first_linked are the
 * processed ones, and eval compresses paths by pointer reversal instead of a
 * stack, so nothing here recurses or needs memory proportional to depth.
 */
#include "dominators.h"

#include <string.h>

#include "big_alloc.h"

#define HL__NONE UINT32_MAX
#define HL__UNVISITED UINT32_MAX
#define HL__EXCLUDED (UINT32_MAX - 1u)
#define HL__MAX_NODES ((size_t)UINT32_MAX - 3u)

struct hl_dominators {
    size_t n_nodes;
    size_t n_reachable;
    hl_node_id *idom;   /* n_nodes entries */
    uint64_t *retained; /* n_nodes entries */
    uint64_t total_size;
    size_t idom_bytes, retained_bytes;
    uint32_t *child_offsets; /* NULL until built; slot n_nodes is the virtual root */
    hl_node_id *children;
    size_t child_offsets_bytes, children_bytes;
    size_t peak_bytes;
};

/* Bytes held by one computation now and at most, for the peak it reports. */
typedef struct hl__meter {
    size_t now, peak;
} hl__meter;

/* Zeroed big array of `bytes` bytes, counted in *meter; NULL when out of memory. */
static HL_WARN_UNUSED void *hl__take(hl__meter *meter, size_t bytes) {
    void *array = hl_big_calloc(bytes);
    if (array != NULL) {
        meter->now += bytes;
        if (meter->now > meter->peak)
            meter->peak = meter->now;
    }
    return array;
}

/* Free an array from hl__take (NULL allowed) and set the pointer to NULL. */
static void hl__give(hl__meter *meter, void *array_pointer, size_t bytes) {
    void **array = array_pointer;
    if (*array != NULL) {
        hl_big_free(*array, bytes);
        meter->now -= bytes;
        *array = NULL;
    }
}

/* The working arrays of one computation, indexed by preorder number except
 * pre[] (by node id). */
typedef struct hl__work {
    uint32_t *pre, *vertex, *ancestor, *semi, *label, *idom, *samedom;
} hl__work;

/* Among the linked nodes on the forest path from v up to the first node that
 * is not linked (nodes >= first_linked are linked; v is one), return the one
 * whose semidominator is smallest, as label[] records it. Compresses the path
 * on the way: every node on it then links straight to the path's unlinked top,
 * with a label covering what it skipped. The path is walked up by reversing
 * ancestor links and back down by restoring them, so no stack is needed. */
HL_INLINE uint32_t hl__eval(uint32_t *ancestor, uint32_t *label, const uint32_t *semi, uint32_t v,
                            uint32_t first_linked) {
    if (ancestor[v] < first_linked)
        return label[v]; /* v is the top of its path */
    /* Up: reverse the links until `node` is the last linked node on the path. */
    uint32_t below = HL__NONE, node = v;
    while (ancestor[node] >= first_linked) {
        uint32_t next = ancestor[node];
        ancestor[node] = below;
        below = node;
        node = next;
    }
    /* Down: each node below the top links to the top's ancestor and takes the
     * better of its label and the label of the (already compressed) node
     * above it. */
    uint32_t top_link = ancestor[node];
    uint32_t above_label = label[node];
    while (below != HL__NONE) {
        uint32_t next = ancestor[below];
        ancestor[below] = top_link;
        uint32_t own_label = label[below];
        if (semi[above_label] < semi[own_label])
            label[below] = above_label;
        else
            above_label = own_label;
        below = next;
    }
    return label[v];
}

/* How many nodes ahead the loops over nodes prefetch, by stage: offsets, then
 * edge lists, then what the edges point at. On a heap numbered in allocation
 * order most of these hit the cache anyway; in a shuffled one they are cache
 * misses that would otherwise come one after the other. */
#define HL__AHEAD_OFFSETS 24
#define HL__AHEAD_EDGES 12
#define HL__AHEAD_TARGETS 6
#define HL__PREFETCH_EDGES 8 /* at most this many edges of one node */

/* Number the nodes reached from the roots in depth-first preorder, filling
 * pre[], vertex[] and ancestor[] (the DFS parent; 0 for a node entered from the
 * virtual root). Iterative: the path is walked back through ancestor[], and
 * each node on it keeps its position in the edge array in semi[]. Returns the
 * number of nodes reached. */
static uint32_t hl__depth_first(const uint32_t *offsets, const hl_node_id *edges,
                                const hl_node_id *roots, size_t n_roots, hl__work *work) {
    uint32_t *pre = work->pre, *vertex = work->vertex, *ancestor = work->ancestor;
    uint32_t *cursor = work->semi;
    uint32_t n_reached = 0, current = 0, position = 0, end = 0;
    size_t next_root = 0;
    vertex[0] = HL__NONE;
    ancestor[0] = 0;
    for (;;) {
        hl_node_id next;
        if (current == 0) {
            while (next_root < n_roots && pre[roots[next_root]] != HL__UNVISITED)
                next_root++;
            if (next_root == n_roots)
                break;
            next = roots[next_root++];
        } else {
            while (position < end && pre[edges[position]] != HL__UNVISITED)
                position++;
            if (position == end) {
                /* Done with `current`: resume its parent where it stopped. */
                current = ancestor[current];
                if (current != 0) {
                    position = cursor[current];
                    end = offsets[vertex[current] + 1];
                }
                continue;
            }
            next = edges[position++];
            cursor[current] = position;
            /* The siblings entered after `next` returns: their offsets were
             * prefetched when `current` was entered, now their edges. */
            for (uint32_t e = position; e < end && e - position < 2; e++)
                __builtin_prefetch(&edges[offsets[edges[e]]]);
        }
        n_reached++;
        pre[next] = n_reached;
        vertex[n_reached] = next;
        ancestor[n_reached] = current;
        current = n_reached;
        position = offsets[next];
        end = offsets[next + 1];
        /* The next nodes entered are likely among these targets: start
         * loading their offsets while their pre[] entries are read. */
        for (uint32_t e = position; e < end && e - position < HL__PREFETCH_EDGES; e++)
            __builtin_prefetch(&offsets[edges[e]]);
    }
    return n_reached;
}

/* Lengauer-Tarjan over the numbered nodes: semidominators in reverse preorder
 * with the buckets, then the deferred idoms in preorder. Leaves in idom[w] the
 * number of w's immediate dominator (0: the virtual root) for w in
 * 1 .. n_reached. semi[] must hold 0 for the roots, nonzero for other nodes.
 * in_offsets and in_edges are the graph's reverse index. */
static void hl__lengauer_tarjan(const uint32_t *in_offsets, const hl_node_id *in_edges,
                                uint32_t n_reached, hl__work *work) {
    const uint32_t *pre = work->pre, *vertex = work->vertex;
    uint32_t *ancestor = work->ancestor, *semi = work->semi, *label = work->label;
    uint32_t *idom = work->idom, *samedom = work->samedom;
    for (uint32_t w = n_reached; w >= 1; w--) {
        /* Prefetch, for nodes a little further down the loop, their offsets,
         * their lists of sources, and the sources' numbers. */
        if (w > HL__AHEAD_OFFSETS)
            __builtin_prefetch(&in_offsets[vertex[w - HL__AHEAD_OFFSETS]]);
        if (w > HL__AHEAD_EDGES)
            __builtin_prefetch(&in_edges[in_offsets[vertex[w - HL__AHEAD_EDGES]]]);
        if (w > HL__AHEAD_TARGETS) {
            hl_node_id node = vertex[w - HL__AHEAD_TARGETS];
            uint32_t begin = in_offsets[node], stop = in_offsets[node + 1];
            for (uint32_t e = begin; e < stop && e - begin < HL__PREFETCH_EDGES; e++)
                __builtin_prefetch(&pre[in_edges[e]]);
        }

        uint32_t parent = ancestor[w];
        /* The semidominator: the smallest number from which a path reaches w
         * through nodes numbered above w only. A predecessor numbered below w
         * is a candidate itself; one above it offers the smallest
         * semidominator on its forest path. The DFS parent is a predecessor;
         * a root is a successor of the virtual root, number 0. */
        uint32_t best = semi[w] == 0 ? 0 : parent;
        if (best != 0) {
            hl_node_id node = vertex[w];
            uint32_t stop = in_offsets[node + 1];
            for (uint32_t e = in_offsets[node]; e < stop; e++) {
                /* A type or an interned string has millions of referrers,
                 * each a miss in pre[] and in the forest: prefetch in
                 * stages along the list. */
                if (stop - e > 16)
                    __builtin_prefetch(&pre[in_edges[e + 16]]);
                if (stop - e > 8) {
                    uint32_t ahead = pre[in_edges[e + 8]];
                    if (ahead <= n_reached) {
                        __builtin_prefetch(&ancestor[ahead]);
                        __builtin_prefetch(&label[ahead]);
                    }
                }
                if (stop - e > 4) {
                    uint32_t ahead = pre[in_edges[e + 4]];
                    if (ahead <= n_reached)
                        __builtin_prefetch(&semi[label[ahead]]);
                }
                uint32_t v = pre[in_edges[e]];
                if (v < w) {
                    if (v < best)
                        best = v;
                } else if (v != w && v <= n_reached) {
                    uint32_t candidate = semi[hl__eval(ancestor, label, semi, v, w + 1)];
                    if (candidate < best)
                        best = candidate;
                }
            }
        }
        semi[w] = best;
        samedom[w] = idom[best]; /* into best's bucket */
        idom[best] = w;
        /* w is linked now (first_linked = w). Every node v whose
         * semidominator is w's parent has a forest path up to w; the node u
         * of smallest semidominator on it decides: idom(v) is the parent when
         * semi(u) = semi(v), else idom(u), known only later. */
        uint32_t v = idom[parent];
        while (v != HL__NONE) {
            uint32_t next = samedom[v];
            uint32_t u = hl__eval(ancestor, label, semi, v, w);
            if (semi[u] < semi[v]) {
                samedom[v] = u;
            } else {
                samedom[v] = HL__NONE;
                idom[v] = parent;
            }
            v = next;
        }
        idom[parent] = HL__NONE;
    }
    for (uint32_t w = 1; w <= n_reached; w++) {
        if (samedom[w] != HL__NONE)
            idom[w] = idom[samedom[w]]; /* samedom[w] < w: already final */
    }
}

int hl_dominators_compute(hl_graph *graph, const hl_node_id *roots, size_t n_roots,
                          uint8_t exclude_flags, hl_dominators **out) {
    *out = NULL;
    size_t n_nodes = hl_graph_n_nodes(graph);
    if (n_nodes > HL__MAX_NODES)
        return -1;
    for (size_t i = 0; i < n_roots; i++) {
        if (roots[i] >= n_nodes)
            return -1;
    }
    const uint32_t *out_offsets, *in_offsets;
    const hl_node_id *out_edges, *in_edges;
    if (hl_graph_build_reverse(graph) < 0 || hl_graph_csr(graph, 0, &out_offsets, &out_edges) < 0 ||
        hl_graph_csr(graph, 1, &in_offsets, &in_edges) < 0)
        return -1;

    hl__meter meter = {0, 0};
    hl__work work;
    memset(&work, 0, sizeof(work));
    hl_dominators *result = hl_big_calloc(sizeof(*result));
    if (result == NULL)
        return -1;
    result->n_nodes = n_nodes;
    size_t node_bytes = (n_nodes ? n_nodes : 1) * sizeof(uint32_t);
    size_t number_bytes = (n_nodes + 1) * sizeof(uint32_t);
    size_t reached_bytes = 0;
    work.pre = hl__take(&meter, node_bytes);
    work.vertex = hl__take(&meter, number_bytes);
    work.ancestor = hl__take(&meter, number_bytes);
    work.semi = hl__take(&meter, number_bytes);
    if (work.pre == NULL || work.vertex == NULL || work.ancestor == NULL || work.semi == NULL)
        goto fail;
    for (size_t i = 0; i < n_nodes; i++)
        work.pre[i] =
            hl_graph_flags(graph, (hl_node_id)i) & exclude_flags ? HL__EXCLUDED : HL__UNVISITED;

    uint32_t n_reached = hl__depth_first(out_offsets, out_edges, roots, n_roots, &work);

    reached_bytes = ((size_t)n_reached + 1) * sizeof(uint32_t);
    work.label = hl__take(&meter, reached_bytes);
    work.idom = hl__take(&meter, reached_bytes);
    work.samedom = hl__take(&meter, reached_bytes);
    if (work.label == NULL || work.idom == NULL || work.samedom == NULL)
        goto fail;
    for (uint32_t i = 0; i <= n_reached; i++) {
        work.label[i] = i;
        work.idom[i] = HL__NONE; /* empty buckets */
        work.semi[i] = 1;        /* not a root (the DFS cursors are done with) */
    }
    for (size_t i = 0; i < n_roots; i++) {
        uint32_t number = work.pre[roots[i]];
        if (number <= n_reached)
            work.semi[number] = 0;
    }

    hl__lengauer_tarjan(in_offsets, in_edges, n_reached, &work);
    hl__give(&meter, &work.label, reached_bytes);
    hl__give(&meter, &work.ancestor, number_bytes);
    hl__give(&meter, &work.samedom, reached_bytes);
    hl__give(&meter, &work.semi, number_bytes);

    /* idom[] in node ids from here on (the virtual root as HL_DOMINATOR_ROOT). */
    uint32_t *vertex = work.vertex, *idom = work.idom;
    for (uint32_t w = 1; w <= n_reached; w++)
        idom[w] = idom[w] == 0 ? HL_DOMINATOR_ROOT : vertex[idom[w]];

    /* In node order: each reached node starts with its own size, and pre[]
     * becomes the result's idom array. */
    result->retained_bytes = (n_nodes ? n_nodes : 1) * sizeof(uint64_t);
    result->retained = hl__take(&meter, result->retained_bytes);
    if (result->retained == NULL)
        goto fail;
    uint64_t *retained = result->retained;
    uint32_t *pre = work.pre;
    uint64_t total = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        if (i + HL__AHEAD_EDGES < n_nodes && pre[i + HL__AHEAD_EDGES] <= n_reached)
            __builtin_prefetch(&idom[pre[i + HL__AHEAD_EDGES]]);
        uint32_t number = pre[i];
        if (number > n_reached) {
            pre[i] = HL_NODE_NONE;
            continue;
        }
        uint64_t size = hl_graph_size(graph, (hl_node_id)i);
        retained[i] = size;
        total += size;
        pre[i] = idom[number];
    }
    result->total_size = total;

    /* Then, in reverse preorder, every node adds what it retains to its idom
     * after all its own descendants were added to it (see the top). */
    for (uint32_t w = n_reached; w >= 1; w--) {
        if (w > HL__AHEAD_EDGES) {
            __builtin_prefetch(&retained[vertex[w - HL__AHEAD_EDGES]]);
            if (idom[w - HL__AHEAD_EDGES] != HL_DOMINATOR_ROOT)
                __builtin_prefetch(&retained[idom[w - HL__AHEAD_EDGES]], 1);
        }
        if (idom[w] != HL_DOMINATOR_ROOT)
            retained[idom[w]] += retained[vertex[w]];
    }
    result->idom = work.pre;
    result->idom_bytes = node_bytes;
    work.pre = NULL;
    result->n_reachable = n_reached;
    result->peak_bytes = meter.peak;
    hl__give(&meter, &work.vertex, number_bytes);
    hl__give(&meter, &work.idom, reached_bytes);
    *out = result;
    return 0;

fail:
    hl__give(&meter, &work.pre, node_bytes);
    hl__give(&meter, &work.vertex, number_bytes);
    hl__give(&meter, &work.ancestor, number_bytes);
    hl__give(&meter, &work.semi, number_bytes);
    hl__give(&meter, &work.label, reached_bytes);
    hl__give(&meter, &work.idom, reached_bytes);
    hl__give(&meter, &work.samedom, reached_bytes);
    hl_dominators_free(result);
    return -1;
}

void hl_dominators_free(hl_dominators *dominators) {
    if (dominators == NULL)
        return;
    hl_big_free(dominators->idom, dominators->idom_bytes);
    hl_big_free(dominators->retained, dominators->retained_bytes);
    hl_big_free(dominators->child_offsets, dominators->child_offsets_bytes);
    hl_big_free(dominators->children, dominators->children_bytes);
    hl_big_free(dominators, sizeof(*dominators));
}

size_t hl_dominators_n_nodes(const hl_dominators *dominators) {
    return dominators->n_nodes;
}

size_t hl_dominators_n_reachable(const hl_dominators *dominators) {
    return dominators->n_reachable;
}

hl_node_id hl_dominators_idom(const hl_dominators *dominators, hl_node_id id) {
    return dominators->idom[id];
}

uint64_t hl_dominators_retained(const hl_dominators *dominators, hl_node_id id) {
    return id == HL_DOMINATOR_ROOT ? dominators->total_size : dominators->retained[id];
}

int hl_dominators_build_children(hl_dominators *dominators) {
    if (dominators->child_offsets != NULL)
        return 0;
    size_t n_nodes = dominators->n_nodes;
    size_t offsets_bytes = (n_nodes + 2) * sizeof(uint32_t);
    size_t children_bytes =
        (dominators->n_reachable ? dominators->n_reachable : 1) * sizeof(hl_node_id);
    uint32_t *offsets = hl_big_calloc(offsets_bytes);
    hl_node_id *children = hl_big_calloc(children_bytes);
    if (offsets == NULL || children == NULL) {
        hl_big_free(offsets, offsets_bytes);
        hl_big_free(children, children_bytes);
        return -1;
    }
    /* Counting sort by idom (the virtual root as slot n_nodes), as the graph
     * builds its reverse index: children come out in increasing id order. */
    const hl_node_id *idom = dominators->idom;
    for (size_t i = 0; i < n_nodes; i++) {
        if (idom[i] != HL_NODE_NONE)
            offsets[(idom[i] == HL_DOMINATOR_ROOT ? n_nodes : idom[i]) + 1]++;
    }
    for (size_t i = 0; i <= n_nodes; i++)
        offsets[i + 1] += offsets[i];
    for (size_t i = 0; i < n_nodes; i++) {
        if (idom[i] != HL_NODE_NONE)
            children[offsets[idom[i] == HL_DOMINATOR_ROOT ? n_nodes : idom[i]]++] = (hl_node_id)i;
    }
    memmove(offsets + 1, offsets, (n_nodes + 1) * sizeof(uint32_t));
    offsets[0] = 0;
    dominators->child_offsets = offsets;
    dominators->children = children;
    dominators->child_offsets_bytes = offsets_bytes;
    dominators->children_bytes = children_bytes;
    return 0;
}

const hl_node_id *hl_dominators_children(const hl_dominators *dominators, hl_node_id id,
                                         size_t *count_out) {
    size_t slot = id == HL_DOMINATOR_ROOT ? dominators->n_nodes : id;
    uint32_t begin = dominators->child_offsets[slot];
    *count_out = dominators->child_offsets[slot + 1] - begin;
    return dominators->children + begin;
}

/* One level of the path in hl_dominators_retained_by_type: the position in
 * children[] of the node on the path (a position names a node, and its next
 * sibling is the next position), the end of its siblings, and its type when
 * it is an instance (HL__NONE when not). */
typedef struct hl__level {
    uint32_t position, siblings_end, instance_type;
} hl__level;

/* How many siblings ahead the walk prefetches a node's children offsets and
 * instance type, then its first child: in a tree numbered in no useful order
 * each is a cache miss, and most nodes are leaves, entered one after the
 * other. */
#define HL__AHEAD_SIBLINGS 8
#define HL__AHEAD_SIBLING_CHILDREN 4

/* A depth-first walk of the dominator tree that keeps, per group, how many
 * members are on the path from the top to the current node: a member entered
 * while its group's count is 0 is a top member, and what it retains is what
 * its group retains below it. The path grows with the depth, not with the
 * number of nodes. instance_type[] (the group of each node, HL__NONE for
 * none) is read in id order, so the walk can prefetch it. */
int hl_dominators_retained_by_group(hl_dominators *dominators, const uint32_t *instance_type,
                                    size_t n_types, hl_type_retained *rows) {
    size_t n_nodes = dominators->n_nodes;
    size_t on_path_bytes = (n_types ? n_types : 1) * sizeof(uint32_t);
    size_t path_capacity = 1024, path_bytes = path_capacity * sizeof(hl__level);
    uint32_t *on_path = NULL;
    hl__level *path = NULL;
    if (n_types > 0)
        memset(rows, 0, n_types * sizeof(*rows));
    if (hl_dominators_build_children(dominators) < 0)
        return -1;
    for (size_t i = 0; i < n_nodes; i++) {
        if (instance_type[i] != HL_DOMINATORS_NO_GROUP && instance_type[i] >= n_types)
            return -1;
    }
    on_path = hl_big_calloc(on_path_bytes);
    path = hl_big_calloc(path_bytes);
    if (on_path == NULL || path == NULL)
        goto fail;
    const uint32_t *offsets = dominators->child_offsets;
    const hl_node_id *children = dominators->children;
    const uint64_t *retained = dominators->retained;

    size_t depth = 0;
    path[0].position = offsets[n_nodes]; /* the first child of the virtual root */
    path[0].siblings_end = offsets[n_nodes + 1];
    while (path[0].position < path[0].siblings_end) {
        /* Enter the node at path[depth]. */
        hl__level *level = &path[depth];
        uint32_t position = level->position;
        if (position + HL__AHEAD_SIBLINGS < level->siblings_end) {
            hl_node_id ahead = children[position + HL__AHEAD_SIBLINGS];
            __builtin_prefetch(&offsets[ahead]);
            __builtin_prefetch(&instance_type[ahead]);
        }
        if (position + HL__AHEAD_SIBLING_CHILDREN < level->siblings_end)
            __builtin_prefetch(&children[offsets[children[position + HL__AHEAD_SIBLING_CHILDREN]]]);
        hl_node_id node = children[position];
        uint32_t type = instance_type[node];
        level->instance_type = type;
        if (type != HL__NONE) {
            rows[type].instances++;
            if (on_path[type]++ == 0) {
                rows[type].top_instances++;
                rows[type].retained += retained[node];
            }
        }
        if (offsets[node] < offsets[node + 1]) {
            if (depth + 1 == path_capacity) {
                hl__level *grown = hl_big_realloc(path, path_bytes, 2 * path_bytes);
                if (grown == NULL)
                    goto fail;
                path = grown;
                path_capacity *= 2;
                path_bytes *= 2;
            }
            depth++;
            path[depth].position = offsets[node]; /* its first child */
            path[depth].siblings_end = offsets[node + 1];
            continue;
        }
        /* Leave it, and every ancestor whose last child was left, up to the
         * first one with a next sibling (or past the last child of the
         * virtual root, which ends the loop). */
        for (;;) {
            level = &path[depth];
            if (level->instance_type != HL__NONE)
                on_path[level->instance_type]--;
            if (++level->position < level->siblings_end || depth == 0)
                break;
            depth--;
        }
    }

    hl_big_free(on_path, on_path_bytes);
    hl_big_free(path, path_bytes);
    return 0;

fail:
    hl_big_free(on_path, on_path_bytes);
    hl_big_free(path, path_bytes);
    if (n_types > 0)
        memset(rows, 0, n_types * sizeof(*rows));
    return -1;
}

/* The groups are the types: node types and flags are read once, in id order,
 * into a group array for hl_dominators_retained_by_group. */
int hl_dominators_retained_by_type(hl_dominators *dominators, const hl_graph *graph,
                                   uint8_t exclude_flags, size_t n_types, hl_type_retained *rows) {
    size_t n_nodes = dominators->n_nodes;
    size_t types_bytes = (n_nodes ? n_nodes : 1) * sizeof(uint32_t);
    if (n_types > 0)
        memset(rows, 0, n_types * sizeof(*rows));
    if (hl_graph_n_nodes(graph) != n_nodes)
        return -1;
    uint32_t *instance_type = hl_big_calloc(types_bytes);
    if (instance_type == NULL)
        return -1;
    for (size_t i = 0; i < n_nodes; i++) {
        uint32_t type = hl_graph_type(graph, (hl_node_id)i);
        int instance = type < n_types && !(hl_graph_flags(graph, (hl_node_id)i) & exclude_flags);
        instance_type[i] = instance ? type : HL__NONE; /* unreached nodes are never entered */
    }
    int status = hl_dominators_retained_by_group(dominators, instance_type, n_types, rows);
    hl_big_free(instance_type, types_bytes);
    return status;
}

/* Whether node a ranks after node b in hl_dominators_top's order. */
HL_INLINE int hl__ranks_after(const uint64_t *retained, hl_node_id a, hl_node_id b) {
    return retained[a] < retained[b] || (retained[a] == retained[b] && a > b);
}

/* Restore the heap order of heap[0 .. count) (the entry ranking last on top)
 * below position `at`. */
static void hl__sift_down(const uint64_t *retained, hl_node_id *heap, size_t count, size_t at) {
    for (;;) {
        size_t worst = at, left = 2 * at + 1, right = left + 1;
        if (left < count && hl__ranks_after(retained, heap[left], heap[worst]))
            worst = left;
        if (right < count && hl__ranks_after(retained, heap[right], heap[worst]))
            worst = right;
        if (worst == at)
            return;
        hl_node_id swap = heap[at];
        heap[at] = heap[worst];
        heap[worst] = swap;
        at = worst;
    }
}

/* Offer node `id` to the heap out[0 .. *count) of the best k so far (the one
 * ranking last on top). */
HL_INLINE void hl__offer(const uint64_t *retained, hl_node_id *out, size_t *count, size_t k,
                         hl_node_id id) {
    if (*count < k) {
        size_t at = (*count)++;
        out[at] = id;
        while (at > 0 && hl__ranks_after(retained, out[at], out[(at - 1) / 2])) {
            hl_node_id swap = out[at];
            out[at] = out[(at - 1) / 2];
            out[(at - 1) / 2] = swap;
            at = (at - 1) / 2;
        }
    } else if (hl__ranks_after(retained, out[0], id)) {
        out[0] = id;
        hl__sift_down(retained, out, *count, 0);
    }
}

/* Heapsort the heap out[0 .. count): moving the last-ranked to the end leaves
 * the best first. */
static void hl__sort_heap(const uint64_t *retained, hl_node_id *out, size_t count) {
    for (size_t end = count; end > 1; end--) {
        hl_node_id swap = out[0];
        out[0] = out[end - 1];
        out[end - 1] = swap;
        hl__sift_down(retained, out, end - 1, 0);
    }
}

size_t hl_dominators_top(const hl_dominators *dominators, size_t k, hl_node_id *out) {
    const uint64_t *retained = dominators->retained;
    size_t count = 0;
    if (k == 0)
        return 0;
    for (size_t i = 0; i < dominators->n_nodes; i++) {
        if (dominators->idom[i] != HL_NODE_NONE)
            hl__offer(retained, out, &count, k, (hl_node_id)i);
    }
    hl__sort_heap(retained, out, count);
    return count;
}

/* Breadth-first down the tree: the reachable nodes, each after its idom, are
 * stored in order[] (n_reachable entries), which is also the queue. */
static void hl__top_down(const hl_dominators *dominators, hl_node_id *order) {
    size_t count, n_children;
    const hl_node_id *children = hl_dominators_children(dominators, HL_DOMINATOR_ROOT, &count);
    memcpy(order, children, count * sizeof(hl_node_id));
    for (size_t i = 0; i < count; i++) {
        children = hl_dominators_children(dominators, order[i], &n_children);
        memcpy(order + count, children, n_children * sizeof(hl_node_id));
        count += n_children;
    }
}

int hl_dominators_top_marked(hl_dominators *dominators, const uint8_t *candidate, size_t k,
                             hl_node_id *out, size_t *count_out) {
    size_t n_nodes = dominators->n_nodes;
    size_t order_bytes =
        (dominators->n_reachable ? dominators->n_reachable : 1) * sizeof(hl_node_id);
    size_t below_bytes = n_nodes ? n_nodes : 1;
    *count_out = 0;
    if (hl_dominators_build_children(dominators) < 0)
        return -1;
    hl_node_id *order = hl_big_calloc(order_bytes);
    uint8_t *below = hl_big_calloc(below_bytes); /* 1: a candidate is a strict ancestor */
    if (order == NULL || below == NULL) {
        hl_big_free(order, order_bytes);
        hl_big_free(below, below_bytes);
        return -1;
    }
    hl__top_down(dominators, order);
    const uint64_t *retained = dominators->retained;
    size_t count = 0;
    for (size_t i = 0; i < dominators->n_reachable; i++) {
        hl_node_id node = order[i], parent = dominators->idom[node];
        if (parent != HL_DOMINATOR_ROOT)
            below[node] = (uint8_t)(candidate[parent] || below[parent]);
        if (candidate[node] && !below[node] && k > 0)
            hl__offer(retained, out, &count, k, node);
    }
    hl__sort_heap(retained, out, count);
    hl_big_free(order, order_bytes);
    hl_big_free(below, below_bytes);
    *count_out = count;
    return 0;
}

size_t hl_dominators_memory(const hl_dominators *dominators) {
    return sizeof(*dominators) + dominators->idom_bytes + dominators->retained_bytes +
           dominators->child_offsets_bytes + dominators->children_bytes;
}

size_t hl_dominators_peak_memory(const hl_dominators *dominators) {
    return dominators->peak_bytes;
}
