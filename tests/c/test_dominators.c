/* test_dominators.c - unit tests of the dominator tree and retained sizes
 * (dominators.c): textbook graphs with their known idoms, small heaps checked
 * by hand, long chains, and random graphs against a naive algorithm. */
#include <stdlib.h>
#include <string.h>

#include "dominators.h"
#include "hl_test.h"

#define ROOT HL_DOMINATOR_ROOT
#define NONE HL_NODE_NONE

/* A graph of n nodes at addresses 16 * (i + 1) from edges from[e] -> to[e]
 * (any order; duplicates kept), with sizes[i] (or 10 * (i + 1) when sizes is
 * NULL), flags[i] (or none when flags is NULL) and type ids types[i] (or 0
 * when types is NULL). */
static hl_graph *build_typed(size_t n, const uint32_t *from, const uint32_t *to, size_t n_edges,
                             const uint64_t *sizes, const uint8_t *flags, const uint32_t *types) {
    hl_graph *graph = hl_graph_new(n, n_edges);
    ASSERT_NOT_NULL(graph);
    for (size_t i = 0; i < n; i++) {
        hl_node_id id;
        ASSERT_EQ(hl_graph_add_new_node(graph, 16 * (i + 1), types ? types[i] : 0,
                                        flags ? flags[i] : 0, &id),
                  0);
        ASSERT_EQ(id, i);
        hl_graph_set_size(graph, id, sizes ? sizes[i] : 10 * (i + 1));
    }
    /* Group the edges by source (a counting sort keeps their order). */
    size_t *start = calloc(n + 1, sizeof(size_t));
    uint32_t *sorted = malloc((n_edges ? n_edges : 1) * sizeof(uint32_t));
    for (size_t e = 0; e < n_edges; e++)
        start[from[e] + 1]++;
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    for (size_t e = 0; e < n_edges; e++)
        sorted[start[from[e]]++] = to[e];
    size_t e = 0;
    for (size_t node = 0; node < n; node++) {
        ASSERT_EQ(hl_graph_open_node(graph), node);
        for (; e < start[node]; e++)
            ASSERT_EQ(hl_graph_add_edge(graph, sorted[e]), 0);
        hl_graph_close_node(graph);
    }
    ASSERT_EQ(hl_graph_finish(graph), 0);
    free(start);
    free(sorted);
    return graph;
}

static hl_graph *build(size_t n, const uint32_t *from, const uint32_t *to, size_t n_edges,
                       const uint64_t *sizes, const uint8_t *flags) {
    return build_typed(n, from, to, n_edges, sizes, flags, NULL);
}

/* Build from pairs {from, to, from, to, ...} with default sizes. */
static hl_graph *build_pairs(size_t n, const uint32_t *pairs, size_t n_edges) {
    uint32_t *from = malloc((n_edges + 1) * sizeof(uint32_t));
    uint32_t *to = malloc((n_edges + 1) * sizeof(uint32_t));
    for (size_t e = 0; e < n_edges; e++) {
        from[e] = pairs[2 * e];
        to[e] = pairs[2 * e + 1];
    }
    hl_graph *graph = build(n, from, to, n_edges, NULL, NULL);
    free(from);
    free(to);
    return graph;
}

static hl_dominators *compute(hl_graph *graph, const hl_node_id *roots, size_t n_roots,
                              uint8_t exclude) {
    hl_dominators *dominators = NULL;
    ASSERT_EQ(hl_dominators_compute(graph, roots, n_roots, exclude, &dominators), 0);
    ASSERT_NOT_NULL(dominators);
    return dominators;
}

static void check_idoms(const hl_dominators *dominators, const hl_node_id *expected, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (hl_dominators_idom(dominators, (hl_node_id)i) != expected[i])
            fprintf(stderr, "\nnode %zu: ", i);
        ASSERT_EQ(hl_dominators_idom(dominators, (hl_node_id)i), expected[i]);
    }
}

/* Lengauer and Tarjan's example (TOPLAS 1979, figure 1): R A B C D E F G H I
 * J K L are nodes 0 .. 12. */
static void test_lengauer_tarjan_paper(void) {
    enum { R, A, B, C, D, E, F, G, H, I, J, K, L };
    static const uint32_t edges[] = {R, A, R, B, R, C, A, D, B, A, B, D, B, E, C, F, C, G, D, L, E,
                                     H, F, I, G, I, G, J, H, E, H, K, I, K, J, I, K, I, K, R, L, H};
    hl_graph *graph = build_pairs(13, edges, sizeof(edges) / sizeof(edges[0]) / 2);
    hl_node_id roots[] = {R};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    static const hl_node_id expected[] = {ROOT, R, R, R, R, R, C, C, R, R, G, R, D};
    check_idoms(dominators, expected, 13);
    ASSERT_EQ(hl_dominators_n_reachable(dominators), 13);
    ASSERT_EQ(hl_dominators_n_nodes(dominators), 13);

    /* Retained sizes: node i has size 10 * (i + 1). */
    ASSERT_U64_EQ(hl_dominators_retained(dominators, C), 40 + 70 + 80 + 110); /* C F G J */
    ASSERT_U64_EQ(hl_dominators_retained(dominators, G), 80 + 110);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, D), 50 + 130); /* D L */
    ASSERT_U64_EQ(hl_dominators_retained(dominators, I), 100);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, R), 10 * 91); /* everything */
    ASSERT_U64_EQ(hl_dominators_retained(dominators, ROOT), 10 * 91);

    /* Children lists, in increasing id order. */
    size_t count;
    ASSERT_EQ(hl_dominators_build_children(dominators), 0);
    ASSERT_EQ(hl_dominators_build_children(dominators), 0); /* idempotent */
    const hl_node_id *children = hl_dominators_children(dominators, R, &count);
    static const hl_node_id r_children[] = {A, B, C, D, E, H, I, K};
    ASSERT_EQ(count, 8);
    for (size_t i = 0; i < count; i++)
        ASSERT_EQ(children[i], r_children[i]);
    children = hl_dominators_children(dominators, C, &count);
    ASSERT_EQ(count, 2);
    ASSERT_EQ(children[0], F);
    ASSERT_EQ(children[1], G);
    children = hl_dominators_children(dominators, ROOT, &count);
    ASSERT_EQ(count, 1);
    ASSERT_EQ(children[0], R);
    hl_dominators_children(dominators, J, &count);
    ASSERT_EQ(count, 0);

    /* Top 4 by retained size: R (910), C (300), G (190), D (180). */
    hl_node_id top[20];
    ASSERT_EQ(hl_dominators_top(dominators, 4, top), 4);
    ASSERT_EQ(top[0], R);
    ASSERT_EQ(top[1], C);
    ASSERT_EQ(top[2], G);
    ASSERT_EQ(top[3], D);
    ASSERT_EQ(hl_dominators_top(dominators, 20, top), 13);
    ASSERT_EQ(top[12], A); /* 20 bytes, the smallest */
    ASSERT_EQ(hl_dominators_top(dominators, 0, top), 0);
    ASSERT_LE(hl_dominators_memory(dominators), 13 * 12 + 15 * 4 + 13 * 4 + 512);
    hl_dominators_free(dominators);

    /* The same graph entered at K, which refers to R and to I: K dominates
     * everything, R all but K and I. */
    roots[0] = K;
    dominators = compute(graph, roots, 1, 0);
    ASSERT_EQ(hl_dominators_idom(dominators, K), ROOT);
    ASSERT_EQ(hl_dominators_idom(dominators, R), K);
    ASSERT_EQ(hl_dominators_idom(dominators, I), K); /* K -> I directly */
    ASSERT_EQ(hl_dominators_idom(dominators, C), R);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, K), 10 * 91);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, R), 10 * 91 - 120 - 100);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* A 13-node example in the style of Appel's chapter on dominators
 * (A .. M as 0 .. 12), with idoms worked out by hand. */
static void test_appel_example(void) {
    enum { A, B, C, D, E, F, G, H, I, J, K, L, M };
    static const uint32_t edges[] = {A, B, A, C, B, D, B, G, C, E, C, H, D, F, D, G, E, C, E,
                                     H, F, I, F, K, G, J, H, M, I, L, J, I, K, L, L, B, L, M};
    hl_graph *graph = build_pairs(13, edges, sizeof(edges) / sizeof(edges[0]) / 2);
    hl_node_id roots[] = {A};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    static const hl_node_id expected[] = {ROOT, A, A, B, C, D, B, C, B, G, F, B, A};
    check_idoms(dominators, expected, 13);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* Cooper, Harvey and Kennedy, "A Simple, Fast Dominance Algorithm", figures 2
 * and 4: irreducible graphs where every node's idom is the entry. */
static void test_cooper_harvey_kennedy(void) {
    /* Figure 2: 5 -> 4, 5 -> 3, 4 -> 1, 3 -> 2, 1 -> 2, 2 -> 1 (node k is k). */
    static const uint32_t figure2[] = {5, 4, 5, 3, 4, 1, 3, 2, 1, 2, 2, 1};
    hl_graph *graph = build_pairs(6, figure2, 6);
    hl_node_id roots[] = {5};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    static const hl_node_id expected2[] = {NONE, 5, 5, 5, 5, ROOT};
    check_idoms(dominators, expected2, 6);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, 0), 0); /* node 0 is not used */
    hl_dominators_free(dominators);
    hl_graph_free(graph);

    /* Figure 4: 6 -> 5, 6 -> 4, 5 -> 1, 4 -> 2, 4 -> 3, 1 -> 2, 2 -> 1, 2 -> 3,
     * 3 -> 2. */
    static const uint32_t figure4[] = {6, 5, 6, 4, 5, 1, 4, 2, 4, 3, 1, 2, 2, 1, 2, 3, 3, 2};
    graph = build_pairs(7, figure4, 9);
    roots[0] = 6;
    dominators = compute(graph, roots, 1, 0);
    static const hl_node_id expected4[] = {NONE, 6, 6, 6, 6, 6, ROOT};
    check_idoms(dominators, expected4, 7);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* A module M holds A and B, which share S: S is retained by neither A nor B
 * but by M, their common dominator. */
static void test_shared_child(void) {
    enum { M, A, B, S, T };
    static const uint32_t edges[] = {M, A, M, B, A, S, B, S, S, T};
    static const uint64_t sizes[] = {100, 10, 20, 1000, 5};
    uint32_t from[5], to[5];
    for (size_t e = 0; e < 5; e++) {
        from[e] = edges[2 * e];
        to[e] = edges[2 * e + 1];
    }
    hl_graph *graph = build(5, from, to, 5, sizes, NULL);
    hl_node_id roots[] = {M};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    static const hl_node_id expected[] = {ROOT, M, M, M, S};
    check_idoms(dominators, expected, 5);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, A), 10);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, B), 20);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, S), 1005);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, M), 1135);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* Cycles: R -> X -> Y -> Z -> X is entered at X only, so X retains the cycle;
 * P <-> Q both referred to by R retain only themselves. */
static void test_cycles(void) {
    enum { R, X, Y, Z, P, Q, W };
    static const uint32_t edges[] = {R, X, X, Y, Y, Z, Z, X, R, P, R, Q, P, Q, Q, P, Q, W, Z, Z};
    hl_graph *graph = build_pairs(7, edges, 10);
    hl_node_id roots[] = {R};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    static const hl_node_id expected[] = {ROOT, R, X, Y, R, R, Q};
    check_idoms(dominators, expected, 7);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, X), 20 + 30 + 40);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, Z), 40); /* its self-reference is nothing */
    ASSERT_U64_EQ(hl_dominators_retained(dominators, P), 50);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, Q), 60 + 70);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* Several roots: what two roots reach by separate paths hangs from the virtual
 * root; a root referred to by another root is still its own. */
static void test_multiple_roots(void) {
    enum { R1, R2, A, B, C, R3 };
    static const uint32_t edges[] = {R1, A, R2, A, A, B, R1, R3, R3, C, R2, R2};
    hl_graph *graph = build_pairs(6, edges, 6);
    hl_node_id roots[] = {R1, R2, R3, R1}; /* a duplicate is harmless */
    hl_dominators *dominators = compute(graph, roots, 4, 0);
    static const hl_node_id expected[] = {ROOT, ROOT, ROOT, A, R3, ROOT};
    check_idoms(dominators, expected, 6);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, R1), 10);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, R2), 20);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, A), 30 + 40);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, R3), 60 + 50);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, ROOT), 210);
    ASSERT_EQ(hl_dominators_build_children(dominators), 0);
    size_t count;
    const hl_node_id *children = hl_dominators_children(dominators, ROOT, &count);
    ASSERT_EQ(count, 4);
    ASSERT_EQ(children[0], R1);
    ASSERT_EQ(children[1], R2);
    ASSERT_EQ(children[2], A);
    ASSERT_EQ(children[3], R3);
    hl_dominators_free(dominators);

    /* The order of the roots does not matter. */
    hl_node_id reversed[] = {R3, R2, R1};
    dominators = compute(graph, reversed, 3, 0);
    check_idoms(dominators, expected, 6);
    hl_dominators_free(dominators);

    /* Without R3 among the roots, R1 dominates it. */
    dominators = compute(graph, roots, 2, 0);
    ASSERT_EQ(hl_dominators_idom(dominators, R3), R1);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, R1), 10 + 60 + 50);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* Nodes no root reaches have no idom and retain nothing, and garbage that
 * refers into the live heap changes no idom. */
static void test_unreachable(void) {
    enum { R, A, B, G1, G2, U };
    static const uint32_t edges[] = {R, A, A, B, G1, G2, G2, G1, G1, B, U, U};
    hl_graph *graph = build_pairs(6, edges, 6);
    hl_node_id roots[] = {R};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    static const hl_node_id expected[] = {ROOT, R, A, NONE, NONE, NONE};
    check_idoms(dominators, expected, 6);
    ASSERT_EQ(hl_dominators_n_reachable(dominators), 3);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, A), 20 + 30);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, G1), 0);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, ROOT), 60);
    hl_node_id top[6];
    ASSERT_EQ(hl_dominators_top(dominators, 6, top), 3); /* reachable nodes only */
    ASSERT_EQ(top[0], R);
    ASSERT_EQ(top[1], A);
    ASSERT_EQ(top[2], B);
    ASSERT_EQ(hl_dominators_build_children(dominators), 0);
    size_t count;
    hl_dominators_children(dominators, G1, &count);
    ASSERT_EQ(count, 0);
    hl_dominators_free(dominators);

    /* No roots at all: nothing is reachable. */
    dominators = compute(graph, NULL, 0, 0);
    ASSERT_EQ(hl_dominators_n_reachable(dominators), 0);
    for (hl_node_id i = 0; i < 6; i++) {
        ASSERT_EQ(hl_dominators_idom(dominators, i), NONE);
        ASSERT_U64_EQ(hl_dominators_retained(dominators, i), 0);
    }
    ASSERT_U64_EQ(hl_dominators_retained(dominators, ROOT), 0);
    ASSERT_EQ(hl_dominators_top(dominators, 6, top), 0);
    ASSERT_EQ(hl_dominators_build_children(dominators), 0);
    hl_dominators_children(dominators, ROOT, &count);
    ASSERT_EQ(count, 0);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* Excluded nodes are never entered: C is reached through A only once B is
 * left out; an excluded root reaches nothing. */
static void test_excluded(void) {
    enum { R, A, B, C, R2, D };
    static const uint32_t edges[] = {R, A, R, B, A, C, B, C, R2, D};
    static const uint8_t flags[] = {0, 0, HL_NODE_IGNORED, 0, HL_NODE_IGNORED | HL_NODE_MODULE, 0};
    uint32_t from[5], to[5];
    for (size_t e = 0; e < 5; e++) {
        from[e] = edges[2 * e];
        to[e] = edges[2 * e + 1];
    }
    hl_graph *graph = build(6, from, to, 5, NULL, flags);
    hl_node_id roots[] = {R, R2};
    hl_dominators *dominators = compute(graph, roots, 2, HL_NODE_IGNORED);
    static const hl_node_id expected[] = {ROOT, R, NONE, A, NONE, NONE};
    check_idoms(dominators, expected, 6);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, A), 20 + 40);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, B), 0);
    hl_dominators_free(dominators);

    /* Excluding nothing, B counts again and C hangs from R. */
    dominators = compute(graph, roots, 2, 0);
    static const hl_node_id expected_all[] = {ROOT, R, R, R, ROOT, R2};
    check_idoms(dominators, expected_all, 6);
    hl_dominators_free(dominators);

    /* Excluding by a flag no node has changes nothing. */
    dominators = compute(graph, roots, 2, HL_NODE_EXTERNAL);
    check_idoms(dominators, expected_all, 6);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* A chain a million nodes long: no recursion, and each node retains the rest
 * of the chain. The chain is numbered backwards so the node ids do not follow
 * the DFS order. */
static void test_long_chain(void) {
    const size_t n = 1000000;
    uint32_t *from = malloc(n * sizeof(uint32_t));
    uint32_t *to = malloc(n * sizeof(uint32_t));
    uint64_t *sizes = malloc(n * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        sizes[i] = i % 7 + 1;
    /* n-1 -> n-2 -> ... -> 0, and 0 -> n-1 closes a cycle back to the root. */
    for (size_t i = 0; i + 1 < n; i++) {
        from[i] = (uint32_t)(i + 1);
        to[i] = (uint32_t)i;
    }
    from[n - 1] = 0;
    to[n - 1] = (uint32_t)(n - 1);
    hl_graph *graph = build(n, from, to, n, sizes, NULL);
    hl_node_id roots[] = {(hl_node_id)(n - 1)};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    ASSERT_EQ(hl_dominators_n_reachable(dominators), n);
    ASSERT_EQ(hl_dominators_idom(dominators, (hl_node_id)(n - 1)), ROOT);
    uint64_t suffix = 0;
    for (size_t i = 0; i < n; i++) {
        suffix += sizes[i];
        if (i + 1 < n)
            ASSERT_EQ(hl_dominators_idom(dominators, (hl_node_id)i), i + 1);
        if (hl_dominators_retained(dominators, (hl_node_id)i) != suffix)
            ASSERT_U64_EQ(hl_dominators_retained(dominators, (hl_node_id)i), suffix);
    }
    /* The budget in dominators.h: 28 bytes per node while computing. */
    ASSERT_LE(hl_dominators_peak_memory(dominators), 28 * n + 64);
    ASSERT_GE(hl_dominators_peak_memory(dominators), 12 * n);
    ASSERT_EQ(hl_dominators_build_children(dominators), 0);
    size_t count;
    const hl_node_id *children = hl_dominators_children(dominators, 5, &count);
    ASSERT_EQ(count, 1);
    ASSERT_EQ(children[0], 4);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
    free(from);
    free(to);
    free(sizes);
}

/* A deep chain whose every node holds a payload that a list at the top also
 * holds: the DFS reaches each payload from deep in the chain, and its idom is
 * the list's holder far above (SEMI-NCA would climb the whole chain for each
 * payload here; Lengauer-Tarjan does not). */
static void test_deep_chain_with_shared_payloads(void) {
    const size_t k = 200000;
    /* 0: holder, 1: list, chain nodes 2 .. k+1, payloads k+2 .. 2k+1. Edges
     * are added in an order that makes the DFS go down the chain first. */
    size_t n = 2 * k + 2, n_edges = 0;
    uint32_t *from = malloc(3 * n * sizeof(uint32_t));
    uint32_t *to = malloc(3 * n * sizeof(uint32_t));
#define EDGE(a, b) (from[n_edges] = (uint32_t)(a), to[n_edges++] = (uint32_t)(b))
    EDGE(0, 2);
    EDGE(0, 1);
    for (size_t i = 0; i < k; i++) {
        if (i + 1 < k)
            EDGE(2 + i, 3 + i);
        EDGE(2 + i, k + 2 + i);
        EDGE(1, k + 2 + i);
    }
#undef EDGE
    hl_graph *graph = build(n, from, to, n_edges, NULL, NULL);
    hl_node_id roots[] = {0};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    ASSERT_EQ(hl_dominators_idom(dominators, 1), 0);
    for (size_t i = 0; i < k; i++) {
        ASSERT_EQ(hl_dominators_idom(dominators, (hl_node_id)(2 + i)), i == 0 ? 0 : 1 + i);
        ASSERT_EQ(hl_dominators_idom(dominators, (hl_node_id)(k + 2 + i)), 0);
    }
    ASSERT_U64_EQ(hl_dominators_retained(dominators, 1), 20);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
    free(from);
    free(to);
}

/* hl_graph_csr, which the computation reads the graph through (graph.c has
 * it for this module), and the reverse index the computation leaves built. */
static void test_graph_csr(void) {
    static const uint32_t edges[] = {0, 1, 0, 2, 2, 1, 1, 1};
    hl_graph *graph = build_pairs(3, edges, 4);
    const uint32_t *offsets;
    const hl_node_id *targets;
    ASSERT_EQ(hl_graph_csr(graph, 1, &offsets, &targets), -1); /* no reverse index yet */
    ASSERT_NULL(offsets);
    ASSERT_EQ(hl_graph_csr(graph, 0, &offsets, &targets), 0);
    ASSERT_EQ(offsets[0], 0);
    ASSERT_EQ(offsets[1], 2);
    ASSERT_EQ(offsets[3], 4);
    ASSERT_EQ(targets[0], 1);
    ASSERT_EQ(targets[3], 1);
    hl_node_id roots[] = {0};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    hl_dominators_free(dominators);
    ASSERT_EQ(hl_graph_csr(graph, 1, &offsets, &targets), 0);
    ASSERT_EQ(offsets[1] - offsets[0], 0); /* nothing refers to 0 */
    ASSERT_EQ(offsets[2] - offsets[1], 3); /* 0, 1 and 2 refer to 1 */
    ASSERT_EQ(targets[offsets[1]], 0);
    ASSERT_EQ(targets[offsets[1] + 2], 2);
    hl_graph_free(graph);

    graph = hl_graph_new(1, 1); /* not finished */
    ASSERT_EQ(hl_graph_csr(graph, 0, &offsets, &targets), -1);
    hl_graph_free(graph);
}

static void test_errors(void) {
    static const uint32_t edges[] = {0, 1};
    hl_graph *graph = build_pairs(2, edges, 1);
    hl_dominators *dominators = (hl_dominators *)&dominators; /* must be reset */
    hl_node_id bad[] = {0, 2};
    ASSERT_EQ(hl_dominators_compute(graph, bad, 2, 0, &dominators), -1);
    ASSERT_NULL(dominators);
    bad[1] = HL_NODE_NONE;
    ASSERT_EQ(hl_dominators_compute(graph, bad, 2, 0, &dominators), -1);
    ASSERT_NULL(dominators);
    hl_graph_free(graph);

    /* A graph with an open node. */
    graph = hl_graph_new(2, 2);
    hl_node_id id;
    ASSERT_EQ(hl_graph_add_new_node(graph, 16, 0, 0, &id), 0);
    hl_node_id roots[] = {0};
    ASSERT_EQ(hl_dominators_compute(graph, roots, 1, 0, &dominators), -1);
    ASSERT_NULL(dominators);
    hl_graph_close_node(graph);
    ASSERT_EQ(hl_graph_finish(graph), 0);
    ASSERT_EQ(hl_dominators_compute(graph, roots, 1, 0, &dominators), 0);
    ASSERT_EQ(hl_dominators_idom(dominators, 0), ROOT);
    hl_dominators_free(dominators);
    hl_graph_free(graph);

    /* An empty graph. */
    graph = hl_graph_new(0, 0);
    ASSERT_EQ(hl_graph_finish(graph), 0);
    ASSERT_EQ(hl_dominators_compute(graph, NULL, 0, 0, &dominators), 0);
    ASSERT_EQ(hl_dominators_n_reachable(dominators), 0);
    ASSERT_EQ(hl_dominators_build_children(dominators), 0);
    size_t count;
    hl_dominators_children(dominators, ROOT, &count);
    ASSERT_EQ(count, 0);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
    hl_dominators_free(NULL);
}

/* ---- the naive algorithm, for random graphs -------------------------------- */

static uint32_t random_state = 12345;

static uint32_t random_below(uint32_t bound) {
    random_state ^= random_state << 13;
    random_state ^= random_state >> 17;
    random_state ^= random_state << 5;
    return random_state % bound;
}

/* Mark in reached[] the nodes reachable from the roots without entering an
 * excluded node or `removed` (HL_NODE_NONE: none); returns their total size. */
static uint64_t naive_reach(const hl_graph *graph, const hl_node_id *roots, size_t n_roots,
                            uint8_t exclude, hl_node_id removed, uint8_t *reached,
                            hl_node_id *queue) {
    size_t n = hl_graph_n_nodes(graph), head = 0, tail = 0;
    uint64_t total = 0;
    memset(reached, 0, n);
    for (size_t r = 0; r < n_roots; r++) {
        hl_node_id id = roots[r];
        if (id == removed || reached[id] || (hl_graph_flags(graph, id) & exclude))
            continue;
        reached[id] = 1;
        queue[tail++] = id;
    }
    while (head < tail) {
        hl_node_id id = queue[head++];
        total += hl_graph_size(graph, id);
        size_t count;
        const hl_node_id *out = hl_graph_out_edges(graph, id, &count);
        for (size_t e = 0; e < count; e++) {
            hl_node_id next = out[e];
            if (next == removed || reached[next] || (hl_graph_flags(graph, next) & exclude))
                continue;
            reached[next] = 1;
            queue[tail++] = next;
        }
    }
    return total;
}

/* Check a result against removal: v dominates exactly the nodes that become
 * unreachable when v is removed, retained(v) is their size, and idom(w) is the
 * strict dominator of w that dominates the fewest nodes. Also checks the
 * children lists and the top-k order. */
static void check_naive(hl_graph *graph, const hl_node_id *roots, size_t n_roots, uint8_t exclude) {
    size_t n = hl_graph_n_nodes(graph);
    hl_dominators *dominators = compute(graph, roots, n_roots, exclude);
    uint8_t *reached = malloc(n + 1);
    uint8_t *dominates = malloc(n * n + 1); /* dominates[v * n + w] */
    size_t *dominated_count = calloc(n + 1, sizeof(size_t));
    hl_node_id *queue = malloc((n + 1) * sizeof(hl_node_id));
    uint64_t total = naive_reach(graph, roots, n_roots, exclude, HL_NODE_NONE, reached, queue);
    uint8_t *reachable = malloc(n + 1);
    memcpy(reachable, reached, n);
    size_t n_reachable = 0;
    for (size_t v = 0; v < n; v++)
        n_reachable += reachable[v];
    ASSERT_EQ(hl_dominators_n_reachable(dominators), n_reachable);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, ROOT), total);
    for (size_t v = 0; v < n; v++) {
        if (!reachable[v]) {
            memset(dominates + v * n, 0, n);
            ASSERT_EQ(hl_dominators_idom(dominators, (hl_node_id)v), NONE);
            ASSERT_U64_EQ(hl_dominators_retained(dominators, (hl_node_id)v), 0);
            continue;
        }
        uint64_t without =
            naive_reach(graph, roots, n_roots, exclude, (hl_node_id)v, reached, queue);
        ASSERT_U64_EQ(hl_dominators_retained(dominators, (hl_node_id)v), total - without);
        for (size_t w = 0; w < n; w++) {
            dominates[v * n + w] = reachable[w] && !reached[w];
            dominated_count[v] += dominates[v * n + w];
        }
    }
    for (size_t w = 0; w < n; w++) {
        if (!reachable[w])
            continue;
        hl_node_id expected = ROOT;
        size_t best = SIZE_MAX;
        for (size_t v = 0; v < n; v++) {
            if (v != w && dominates[v * n + w] && dominated_count[v] < best) {
                best = dominated_count[v];
                expected = (hl_node_id)v;
            }
        }
        ASSERT_EQ(hl_dominators_idom(dominators, (hl_node_id)w), expected);
    }
    /* Children: each reachable node once, under its idom, in id order. */
    ASSERT_EQ(hl_dominators_build_children(dominators), 0);
    size_t listed = 0;
    for (size_t parent = 0; parent <= n; parent++) {
        hl_node_id id = parent == n ? ROOT : (hl_node_id)parent;
        size_t count;
        const hl_node_id *children = hl_dominators_children(dominators, id, &count);
        for (size_t i = 0; i < count; i++) {
            ASSERT_EQ(hl_dominators_idom(dominators, children[i]), id);
            if (i > 0)
                ASSERT_LT(children[i - 1], children[i]);
        }
        listed += count;
    }
    ASSERT_EQ(listed, n_reachable);
    /* Top k: sorted, and nothing left out ranks above the last one kept. */
    size_t k = random_below((uint32_t)n + 2);
    hl_node_id *top = malloc((k + 1) * sizeof(hl_node_id));
    size_t got = hl_dominators_top(dominators, k, top);
    ASSERT_EQ(got, k < n_reachable ? k : n_reachable);
    memset(reached, 0, n);
    for (size_t i = 0; i < got; i++) {
        ASSERT_TRUE(reachable[top[i]]);
        reached[top[i]] = 1;
        if (i > 0) {
            uint64_t a = hl_dominators_retained(dominators, top[i - 1]);
            uint64_t b = hl_dominators_retained(dominators, top[i]);
            ASSERT_TRUE(a > b || (a == b && top[i - 1] < top[i]));
        }
    }
    if (got > 0) {
        uint64_t last = hl_dominators_retained(dominators, top[got - 1]);
        for (size_t v = 0; v < n; v++) {
            if (reachable[v] && !reached[v]) {
                uint64_t mine = hl_dominators_retained(dominators, (hl_node_id)v);
                ASSERT_TRUE(mine < last || (mine == last && v > top[got - 1]));
            }
        }
    }
    free(top);
    free(reachable);
    free(queue);
    free(dominated_count);
    free(dominates);
    free(reached);
    hl_dominators_free(dominators);
}

/* Like naive_reach, with every node marked in removed[] taken out. */
static uint64_t naive_reach_without(const hl_graph *graph, const hl_node_id *roots, size_t n_roots,
                                    uint8_t exclude, const uint8_t *removed, uint8_t *reached,
                                    hl_node_id *queue) {
    size_t n = hl_graph_n_nodes(graph), head = 0, tail = 0;
    uint64_t total = 0;
    memset(reached, 0, n);
    for (size_t r = 0; r < n_roots; r++) {
        hl_node_id id = roots[r];
        if (removed[id] || reached[id] || (hl_graph_flags(graph, id) & exclude))
            continue;
        reached[id] = 1;
        queue[tail++] = id;
    }
    while (head < tail) {
        hl_node_id id = queue[head++];
        total += hl_graph_size(graph, id);
        size_t count;
        const hl_node_id *out = hl_graph_out_edges(graph, id, &count);
        for (size_t e = 0; e < count; e++) {
            hl_node_id next = out[e];
            if (removed[next] || reached[next] || (hl_graph_flags(graph, next) & exclude))
                continue;
            reached[next] = 1;
            queue[tail++] = next;
        }
    }
    return total;
}

/* Check hl_dominators_retained_by_type against its definition, by removal:
 * v dominates the nodes that become unreachable when v alone is removed; a
 * type retains the nodes some instance dominates; a top instance is one that
 * no other instance dominates. Also checks the bound against removing every
 * instance at once: never more, and the same with at most one instance. */
static void check_by_type_naive(hl_graph *graph, const hl_node_id *roots, size_t n_roots,
                                uint8_t exclude, uint8_t instance_exclude, size_t n_types) {
    size_t n = hl_graph_n_nodes(graph);
    hl_dominators *dominators = compute(graph, roots, n_roots, exclude);
    hl_type_retained *rows = malloc((n_types + 1) * sizeof(hl_type_retained));
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, instance_exclude, n_types, rows),
              0);
    uint8_t *removed = calloc(n + 1, 1);
    uint8_t *reached = malloc(n + 1);
    uint8_t *reachable = malloc(n + 1);
    uint8_t *covered = malloc(n + 1);
    uint8_t *dominates = malloc(n * n + 1); /* dominates[v * n + w] */
    hl_node_id *queue = malloc((n + 1) * sizeof(hl_node_id));
    uint64_t total = naive_reach_without(graph, roots, n_roots, exclude, removed, reached, queue);
    memcpy(reachable, reached, n);
    for (size_t v = 0; v < n; v++) {
        if (!reachable[v]) {
            memset(dominates + v * n, 0, n);
            continue;
        }
        removed[v] = 1;
        naive_reach_without(graph, roots, n_roots, exclude, removed, reached, queue);
        removed[v] = 0;
        for (size_t w = 0; w < n; w++)
            dominates[v * n + w] = reachable[w] && !reached[w];
    }
#define IS_INSTANCE(v, t)                                                                          \
    (reachable[v] && hl_graph_type(graph, (hl_node_id)(v)) == (t) &&                               \
     !(hl_graph_flags(graph, (hl_node_id)(v)) & instance_exclude))
    for (uint32_t t = 0; t < n_types; t++) {
        uint64_t instances = 0, top_instances = 0, retained = 0;
        memset(covered, 0, n);
        for (size_t x = 0; x < n; x++) {
            if (!IS_INSTANCE(x, t))
                continue;
            instances++;
            int top = 1;
            for (size_t y = 0; y < n; y++) {
                if (y != x && IS_INSTANCE(y, t) && dominates[y * n + x])
                    top = 0;
            }
            top_instances += top;
            for (size_t w = 0; w < n; w++)
                covered[w] |= dominates[x * n + w];
        }
        for (size_t w = 0; w < n; w++)
            retained += covered[w] ? hl_graph_size(graph, (hl_node_id)w) : 0;
        ASSERT_U64_EQ(rows[t].instances, instances);
        ASSERT_U64_EQ(rows[t].top_instances, top_instances);
        ASSERT_U64_EQ(rows[t].retained, retained);
        for (size_t v = 0; v < n; v++)
            removed[v] = IS_INSTANCE(v, t);
        uint64_t freed =
            total - naive_reach_without(graph, roots, n_roots, exclude, removed, reached, queue);
        ASSERT_TRUE(freed >= retained);
        if (instances <= 1)
            ASSERT_U64_EQ(freed, retained);
    }
#undef IS_INSTANCE
    /* Once more, with the children lists already built: the same rows. */
    hl_type_retained *again = malloc((n_types + 1) * sizeof(hl_type_retained));
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, instance_exclude, n_types, again),
              0);
    ASSERT_EQ(memcmp(rows, again, n_types * sizeof(hl_type_retained)), 0);
    free(again);
    free(queue);
    free(dominates);
    free(covered);
    free(reachable);
    free(reached);
    free(removed);
    free(rows);
    hl_dominators_free(dominators);
}

/* One random graph: uniform edges, or a heap-like tree with extra edges back
 * and across; random roots (maybe none, maybe repeated), random excluded
 * nodes, random sizes with a few of 4 GiB and more. */
static void random_trial(size_t n) {
    size_t n_edges = random_below((uint32_t)(3 * n + 1));
    int tree_like = random_below(2) == 0;
    uint32_t *from = malloc((n_edges + n + 1) * sizeof(uint32_t));
    uint32_t *to = malloc((n_edges + n + 1) * sizeof(uint32_t));
    size_t e = 0;
    if (tree_like) {
        for (size_t i = 1; i < n; i++)
            from[e] = random_below((uint32_t)i), to[e++] = (uint32_t)i;
    }
    for (size_t i = 0; i < n_edges; i++)
        from[e] = random_below((uint32_t)n), to[e++] = random_below((uint32_t)n);
    uint64_t *sizes = malloc(n * sizeof(uint64_t));
    uint8_t *flags = malloc(n);
    uint32_t *types = malloc(n * sizeof(uint32_t));
    int with_excluded = random_below(3) == 0;
    uint32_t n_graph_types = 1 + random_below(5);
    for (size_t i = 0; i < n; i++) {
        sizes[i] = random_below(20) == 0 ? ((uint64_t)5 << 32) + i : random_below(100);
        flags[i] = with_excluded && random_below(6) == 0 ? HL_NODE_IGNORED : 0;
        if (random_below(5) == 0)
            flags[i] |= HL_NODE_BACKBONE;
        types[i] = random_below(n_graph_types);
    }
    hl_graph *graph = build_typed(n, from, to, e, sizes, flags, types);
    size_t n_roots = random_below(4);
    hl_node_id roots[4];
    for (size_t r = 0; r < n_roots; r++)
        roots[r] = tree_like && r == 0 ? 0 : random_below((uint32_t)n);
    check_naive(graph, roots, n_roots, HL_NODE_IGNORED);
    /* Sometimes a type id is past n_types, sometimes a type has no node. */
    size_t n_types = n_graph_types + random_below(3) - 1;
    check_by_type_naive(graph, roots, n_roots, HL_NODE_IGNORED,
                        random_below(2) ? HL_NODE_BACKBONE : 0, n_types);
    hl_graph_free(graph);
    free(sizes);
    free(flags);
    free(types);
    free(from);
    free(to);
}

static void test_random_graphs(void) {
    for (int trial = 0; trial < 400; trial++)
        random_trial(1 + random_below(40));
}

static void test_random_larger_graphs(void) {
    for (int trial = 0; trial < 6; trial++)
        random_trial(500 + random_below(1000));
}

/* Retained size per type on a small heap worked out by hand: a module R
 * holds a list L of items A1 A2 A3 (type 2), A3 holds A4 (and A4 refers back
 * to A3), each item holds a payload P (type 3), A1 and A2 share S. L also
 * holds X, an item flagged as backbone (not an instance), which holds a node
 * Q of a type past n_types, which holds the item B. G, an item, is garbage. */
static void test_retained_by_type(void) {
    enum { R, L, A1, A2, A3, A4, P1, P2, P3, P4, S, G, X, Q, B, N };
    static const uint32_t edges[] = {R,  L,  L,  A1, L,  A2, L,  A3, A3, A4, A4, A3, A1, P1, A2, P2,
                                     A3, P3, A4, P4, A1, S,  A2, S,  G,  P1, L,  X,  X,  Q,  Q,  B};
    static const uint32_t types[N] = {0, 1, 2, 2, 2, 2, 3, 3, 3, 3, 3, 2, 2, 7, 2};
    uint8_t flags[N] = {0};
    flags[R] = HL_NODE_BACKBONE | HL_NODE_MODULE;
    flags[X] = HL_NODE_BACKBONE;
    size_t n_edges = sizeof(edges) / sizeof(edges[0]) / 2;
    uint32_t from[sizeof(edges) / sizeof(edges[0]) / 2], to[sizeof(edges) / sizeof(edges[0]) / 2];
    for (size_t e = 0; e < n_edges; e++) {
        from[e] = edges[2 * e];
        to[e] = edges[2 * e + 1];
    }
    hl_graph *graph = build_typed(N, from, to, n_edges, NULL, flags, types);
    hl_node_id roots[] = {R};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    ASSERT_EQ(hl_dominators_idom(dominators, A4), A3);
    ASSERT_EQ(hl_dominators_idom(dominators, S), L);
    ASSERT_EQ(hl_dominators_idom(dominators, B), Q);

    /* Sizes are 10 * (id + 1): A1 30, P1 70, S 110, ... */
    hl_type_retained rows[4];
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, HL_NODE_BACKBONE, 4, rows), 0);
    ASSERT_U64_EQ(rows[0].instances, 0); /* R is backbone */
    ASSERT_U64_EQ(rows[0].retained, 0);
    ASSERT_U64_EQ(rows[1].instances, 1);
    ASSERT_U64_EQ(rows[1].top_instances, 1);
    ASSERT_U64_EQ(rows[1].retained, 10 * 120 - 10 - 120); /* all but R and G */
    /* Items: A1 A2 A3 A4 B; A4 is inside A3. A1 (30 + 70), A2 (40 + 80), A3
     * with A4 (50 + 60 + 90 + 100) and B (150); S is held by two items and
     * dominated by neither. */
    ASSERT_U64_EQ(rows[2].instances, 5);
    ASSERT_U64_EQ(rows[2].top_instances, 4);
    ASSERT_U64_EQ(rows[2].retained, 100 + 120 + 300 + 150);
    ASSERT_U64_EQ(rows[2].retained, hl_dominators_retained(dominators, A1) +
                                        hl_dominators_retained(dominators, A2) +
                                        hl_dominators_retained(dominators, A3) +
                                        hl_dominators_retained(dominators, B));
    ASSERT_U64_EQ(rows[3].instances, 5);
    ASSERT_U64_EQ(rows[3].top_instances, 5);
    ASSERT_U64_EQ(rows[3].retained, 70 + 80 + 90 + 100 + 110);

    /* Removing every item at once would free S too: the per-type figure is a
     * lower bound of that. */
    uint8_t removed[N] = {0}, reached[N];
    hl_node_id queue[N];
    removed[A1] = removed[A2] = removed[A3] = removed[A4] = removed[B] = 1;
    uint64_t left = naive_reach_without(graph, roots, 1, 0, removed, reached, queue);
    ASSERT_U64_EQ(hl_dominators_retained(dominators, ROOT) - left, 670 + 110);

    /* Excluding nothing, R and X are instances too: X becomes a top item,
     * and B is inside it. */
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, 0, 4, rows), 0);
    ASSERT_U64_EQ(rows[0].instances, 1);
    ASSERT_U64_EQ(rows[0].retained, 10 * 120 - 120);
    ASSERT_U64_EQ(rows[2].instances, 6);
    ASSERT_U64_EQ(rows[2].top_instances, 4);
    ASSERT_U64_EQ(rows[2].retained, 100 + 120 + 300 + 130 + 140 + 150);

    /* Fewer types: type 3 and beyond are never instances. */
    hl_type_retained few[3];
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, HL_NODE_BACKBONE, 3, few), 0);
    ASSERT_U64_EQ(few[2].retained, 670);
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, 0, 0, NULL), 0);
    hl_dominators_free(dominators);

    /* No roots: nothing is reached, nothing is retained. */
    dominators = compute(graph, NULL, 0, 0);
    rows[2].instances = 99;
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, 0, 4, rows), 0);
    for (size_t t = 0; t < 4; t++) {
        ASSERT_U64_EQ(rows[t].instances, 0);
        ASSERT_U64_EQ(rows[t].retained, 0);
    }
    hl_dominators_free(dominators);

    /* A graph that is not the result's: -1, and rows all zero. */
    dominators = compute(graph, roots, 1, 0);
    static const uint32_t other_edges[] = {0, 1};
    hl_graph *other = build_pairs(2, other_edges, 1);
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, other, 0, 4, rows), -1);
    for (size_t t = 0; t < 4; t++)
        ASSERT_U64_EQ(rows[t].instances, 0);
    hl_graph_free(other);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

/* A dominator tree a million levels deep, types 0 1 2 in turn down the chain:
 * no recursion, and each type's top instance is its first on the chain,
 * retaining everything below it. */
static void test_retained_by_type_deep(void) {
    const size_t n = 1000000;
    uint32_t *from = malloc(n * sizeof(uint32_t));
    uint32_t *to = malloc(n * sizeof(uint32_t));
    uint32_t *types = malloc(n * sizeof(uint32_t));
    uint64_t *sizes = malloc(n * sizeof(uint64_t));
    /* n-1 -> n-2 -> ... -> 0; node i has type i % 3. */
    for (size_t i = 0; i < n; i++) {
        types[i] = (uint32_t)(i % 3);
        sizes[i] = i % 5 + 1;
        if (i + 1 < n) {
            from[i] = (uint32_t)(i + 1);
            to[i] = (uint32_t)i;
        }
    }
    hl_graph *graph = build_typed(n, from, to, n - 1, sizes, NULL, types);
    hl_node_id roots[] = {(hl_node_id)(n - 1)};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    hl_type_retained rows[3];
    ASSERT_EQ(hl_dominators_retained_by_type(dominators, graph, 0, 3, rows), 0);
    for (uint32_t t = 0; t < 3; t++) {
        size_t first = n - 1;
        while (first % 3 != t)
            first--;
        uint64_t below = 0;
        for (size_t i = 0; i <= first; i++)
            below += sizes[i];
        ASSERT_U64_EQ(rows[t].instances, (n + 2 - t) / 3);
        ASSERT_U64_EQ(rows[t].top_instances, 1);
        ASSERT_U64_EQ(rows[t].retained, below);
    }
    hl_dominators_free(dominators);
    hl_graph_free(graph);
    free(from);
    free(to);
    free(types);
    free(sizes);
}

/* Naive reference: whether candidate `a` strictly dominates `b` (walking idoms). */
static int strictly_dominates(const hl_dominators *dominators, hl_node_id a, hl_node_id b) {
    for (hl_node_id d = hl_dominators_idom(dominators, b); d != ROOT && d != NONE;
         d = hl_dominators_idom(dominators, d)) {
        if (d == a)
            return 1;
    }
    return 0;
}

/* hl_dominators_top_marked against its definition on random graphs: the
 * outermost candidates (no other candidate dominates them), ranked by retained
 * size then id, first k of them. */
static void test_top_marked_random(void) {
    srand(15);
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + (size_t)(rand() % 40), n_edges = (size_t)(rand() % 80);
        uint32_t *from = malloc((n_edges + 1) * sizeof(uint32_t));
        uint32_t *to = malloc((n_edges + 1) * sizeof(uint32_t));
        uint64_t *sizes = malloc(n * sizeof(uint64_t));
        uint8_t *candidate = malloc(n);
        for (size_t e = 0; e < n_edges; e++) {
            from[e] = (uint32_t)(rand() % (int)n);
            to[e] = (uint32_t)(rand() % (int)n);
        }
        for (size_t i = 0; i < n; i++) {
            sizes[i] = (uint64_t)(rand() % 4); /* zero sizes make ties */
            candidate[i] = (uint8_t)(rand() % 3 != 0);
        }
        hl_graph *graph = build(n, from, to, n_edges, sizes, NULL);
        hl_node_id roots[] = {0, (hl_node_id)(n / 2)};
        hl_dominators *dominators = compute(graph, roots, 2, 0);
        /* The expected list: outermost reached candidates, sorted. */
        hl_node_id *expected = malloc(n * sizeof(hl_node_id));
        size_t n_expected = 0;
        for (size_t i = 0; i < n; i++) {
            if (!candidate[i] || hl_dominators_idom(dominators, (hl_node_id)i) == NONE)
                continue;
            int outer = 1;
            for (size_t j = 0; j < n && outer; j++) {
                if (j != i && candidate[j] &&
                    strictly_dominates(dominators, (hl_node_id)j, (hl_node_id)i))
                    outer = 0;
            }
            if (outer)
                expected[n_expected++] = (hl_node_id)i;
        }
        for (size_t a = 1; a < n_expected; a++) { /* insertion sort: retained desc, id asc */
            for (size_t b = a; b > 0; b--) {
                uint64_t rb = hl_dominators_retained(dominators, expected[b]);
                uint64_t ra = hl_dominators_retained(dominators, expected[b - 1]);
                if (rb > ra || (rb == ra && expected[b] < expected[b - 1])) {
                    hl_node_id swap = expected[b];
                    expected[b] = expected[b - 1];
                    expected[b - 1] = swap;
                }
            }
        }
        for (size_t k = 0; k <= n_expected + 1; k++) {
            hl_node_id *out = malloc((k + 1) * sizeof(hl_node_id));
            size_t count = 99;
            ASSERT_EQ(hl_dominators_top_marked(dominators, candidate, k, out, &count), 0);
            ASSERT_EQ(count, k < n_expected ? k : n_expected);
            for (size_t i = 0; i < count; i++)
                ASSERT_EQ(out[i], expected[i]);
            free(out);
        }
        free(expected);
        hl_dominators_free(dominators);
        hl_graph_free(graph);
        free(from);
        free(to);
        free(sizes);
        free(candidate);
    }
}

/* A chain a million long where every node is a candidate: only its head is
 * outermost, found in one pass (the quadratic walk up the idoms that this
 * replaces took minutes). With the head not a candidate, the next one is. */
static void test_top_marked_deep_chain(void) {
    const size_t n = 1000000;
    uint32_t *from = malloc(n * sizeof(uint32_t));
    uint32_t *to = malloc(n * sizeof(uint32_t));
    for (size_t i = 0; i + 1 < n; i++) {
        from[i] = (uint32_t)i;
        to[i] = (uint32_t)(i + 1);
    }
    hl_graph *graph = build(n, from, to, n - 1, NULL, NULL);
    hl_node_id roots[] = {0};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    uint8_t *candidate = malloc(n);
    memset(candidate, 1, n);
    hl_node_id out[3];
    size_t count;
    ASSERT_EQ(hl_dominators_top_marked(dominators, candidate, 3, out, &count), 0);
    ASSERT_EQ(count, 1);
    ASSERT_EQ(out[0], 0);
    candidate[0] = 0;
    ASSERT_EQ(hl_dominators_top_marked(dominators, candidate, 3, out, &count), 0);
    ASSERT_EQ(count, 1);
    ASSERT_EQ(out[0], 1);
    ASSERT_EQ(hl_dominators_top_marked(dominators, candidate, 0, out, &count), 0);
    ASSERT_EQ(count, 0);
    free(candidate);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
    free(from);
    free(to);
}

/* hl_dominators_retained_by_group with groups that are not types: members
 * inside another member of their group count once; a group id out of range is
 * refused. Graph: 0 -> 1 -> 2 -> 3, 0 -> 4; sizes 10 20 30 40 50. */
static void test_retained_by_group(void) {
    const uint32_t pairs[] = {0, 1, 1, 2, 2, 3, 0, 4};
    hl_graph *graph = build_pairs(5, pairs, 4);
    hl_node_id roots[] = {0};
    hl_dominators *dominators = compute(graph, roots, 1, 0);
    const uint32_t G = HL_DOMINATORS_NO_GROUP;
    uint32_t group_of[5] = {G, 0, 1, 0, 1};
    hl_type_retained rows[2];
    ASSERT_EQ(hl_dominators_retained_by_group(dominators, group_of, 2, rows), 0);
    ASSERT_U64_EQ(rows[0].instances, 2);
    ASSERT_U64_EQ(rows[0].top_instances, 1);
    ASSERT_U64_EQ(rows[0].retained, 20 + 30 + 40); /* node 3 is inside node 1 */
    ASSERT_U64_EQ(rows[1].instances, 2);
    ASSERT_U64_EQ(rows[1].top_instances, 2);
    ASSERT_U64_EQ(rows[1].retained, 30 + 40 + 50);
    group_of[4] = 2;
    ASSERT_EQ(hl_dominators_retained_by_group(dominators, group_of, 2, rows), -1);
    ASSERT_U64_EQ(rows[0].instances, 0);
    hl_dominators_free(dominators);
    hl_graph_free(graph);
}

int main(void) {
    RUN_TEST(test_lengauer_tarjan_paper);
    RUN_TEST(test_appel_example);
    RUN_TEST(test_cooper_harvey_kennedy);
    RUN_TEST(test_shared_child);
    RUN_TEST(test_cycles);
    RUN_TEST(test_multiple_roots);
    RUN_TEST(test_unreachable);
    RUN_TEST(test_excluded);
    RUN_TEST(test_long_chain);
    RUN_TEST(test_deep_chain_with_shared_payloads);
    RUN_TEST(test_graph_csr);
    RUN_TEST(test_errors);
    RUN_TEST(test_retained_by_type);
    RUN_TEST(test_retained_by_type_deep);
    RUN_TEST(test_top_marked_random);
    RUN_TEST(test_top_marked_deep_chain);
    RUN_TEST(test_retained_by_group);
    RUN_TEST(test_random_graphs);
    RUN_TEST(test_random_larger_graphs);
    TEST_SUMMARY("dominators");
}
