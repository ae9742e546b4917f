/* test_scc.c - unit tests of strongly connected components (scc.c). */
#include <stdlib.h>

#include "graph.h"
#include "hl_test.h"
#include "scc.h"

/* Build a finished graph of n nodes at addresses 16 * (i + 1), node i with
 * flags[i] (or HL_NODE_TRACKED when flags is NULL), from an edge list of pairs
 * (from, to), in linear time (edges grouped by source, in list order). */
static hl_graph *build(size_t n, const uint32_t *edges, size_t n_edges, const uint8_t *flags) {
    hl_graph *graph = hl_graph_new(n, n_edges);
    ASSERT_NOT_NULL(graph);
    size_t *starts = calloc(n + 1, sizeof(size_t));
    uint32_t *targets = malloc((n_edges ? n_edges : 1) * sizeof(uint32_t));
    ASSERT_NOT_NULL(starts);
    ASSERT_NOT_NULL(targets);
    for (size_t e = 0; e < n_edges; e++)
        starts[edges[2 * e] + 1]++;
    for (size_t i = 0; i < n; i++)
        starts[i + 1] += starts[i];
    for (size_t e = 0; e < n_edges; e++)
        targets[starts[edges[2 * e]]++] = edges[2 * e + 1];
    for (size_t i = n; i > 0; i--)
        starts[i] = starts[i - 1];
    starts[0] = 0;
    for (size_t i = 0; i < n; i++) {
        hl_node_id id;
        ASSERT_EQ(hl_graph_add_new_node(graph, 16 * (i + 1), 0,
                                        flags ? flags[i] : (uint8_t)HL_NODE_TRACKED, &id),
                  0);
        ASSERT_EQ(id, i);
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t e = starts[i]; e < starts[i + 1]; e++)
            ASSERT_EQ(hl_graph_add_edge(graph, targets[e]), 0);
        hl_graph_close_node(graph);
    }
    ASSERT_EQ(hl_graph_finish(graph), 0);
    free(starts);
    free(targets);
    return graph;
}

/* Check everything the result promises that does not need the answer:
 * members and offsets partition the kept nodes consistently with component[],
 * excluded nodes have none, ids are reverse topological, cycle bits and the
 * cycle list agree with sizes and self-edges, and the working memory stays in
 * budget. */
static void check_consistent(const hl_graph *graph, const hl_scc *scc, uint8_t exclude) {
    size_t n = hl_graph_n_nodes(graph);
    ASSERT_EQ(scc->n_nodes, n);
    size_t n_kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (hl_graph_flags(graph, (hl_node_id)i) & exclude) {
            ASSERT_EQ(scc->component[i], HL_NODE_NONE);
        } else {
            ASSERT_LT(scc->component[i], scc->n_components);
            n_kept++;
        }
    }
    ASSERT_EQ(scc->n_members, n_kept);
    ASSERT_EQ(scc->offsets[0], 0);
    ASSERT_EQ(scc->offsets[scc->n_components], n_kept);
    uint8_t *seen = calloc(n ? n : 1, 1);
    size_t n_cycles = 0, n_cycle_members = 0;
    for (uint32_t c = 0; c < scc->n_components; c++) {
        size_t count;
        const hl_node_id *members = hl_scc_members(scc, c, &count);
        ASSERT_GE(count, 1);
        int self_edge = 0;
        for (size_t k = 0; k < count; k++) {
            ASSERT_LT(members[k], n);
            ASSERT_EQ(seen[members[k]], 0);
            seen[members[k]] = 1;
            ASSERT_EQ(scc->component[members[k]], c);
            size_t n_out;
            const hl_node_id *out = hl_graph_out_edges(graph, members[k], &n_out);
            for (size_t e = 0; e < n_out; e++)
                self_edge |= out[e] == members[k];
        }
        int is_cycle = count > 1 || self_edge;
        ASSERT_EQ(hl_scc_is_cycle(scc, c), is_cycle);
        if (is_cycle) {
            ASSERT_LT(n_cycles, scc->n_cycles);
            ASSERT_EQ(scc->cycles[n_cycles], c);
            n_cycles++;
            n_cycle_members += count;
        }
    }
    ASSERT_EQ(n_cycles, scc->n_cycles);
    ASSERT_EQ(n_cycle_members, scc->n_cycle_members);
    /* Reverse topological: an edge between kept nodes of two components goes
     * from the higher id to the lower. */
    for (size_t i = 0; i < n; i++) {
        if (scc->component[i] == HL_NODE_NONE)
            continue;
        size_t n_out;
        const hl_node_id *out = hl_graph_out_edges(graph, (hl_node_id)i, &n_out);
        for (size_t e = 0; e < n_out; e++) {
            uint32_t to = scc->component[out[e]];
            if (to != HL_NODE_NONE && to != scc->component[i])
                ASSERT_GT(scc->component[i], to);
        }
    }
    /* The budget in scc.h: 9 bytes per node of working memory. */
    ASSERT_LE(scc->work_bytes, 9 * (n ? n : 1));
    free(seen);
}

static void test_empty_graph(void) {
    hl_graph *graph = build(0, NULL, 0, NULL);
    hl_scc scc;
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, 0);
    ASSERT_EQ(scc.n_members, 0);
    ASSERT_EQ(scc.n_cycles, 0);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);
    hl_scc_free(&scc); /* zeroed: freeing again is harmless */
    hl_graph_free(graph);
}

static void test_single_node_and_self_loop(void) {
    hl_graph *graph = build(1, NULL, 0, NULL);
    hl_scc scc;
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, 1);
    ASSERT_EQ(scc.component[0], 0);
    ASSERT_EQ(hl_scc_is_cycle(&scc, 0), 0);
    ASSERT_EQ(scc.n_cycles, 0);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);
    hl_graph_free(graph);

    /* 0 -> 0 twice, 1 -> 0: one cyclic singleton, one trivial. */
    static const uint32_t edges[] = {0, 0, 0, 0, 1, 0};
    graph = build(2, edges, 3, NULL);
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, 2);
    ASSERT_EQ(scc.component[0], 0);
    ASSERT_EQ(scc.component[1], 1);
    ASSERT_EQ(hl_scc_is_cycle(&scc, 0), 1);
    ASSERT_EQ(hl_scc_is_cycle(&scc, 1), 0);
    ASSERT_EQ(scc.n_cycles, 1);
    ASSERT_EQ(scc.cycles[0], 0);
    ASSERT_EQ(scc.n_cycle_members, 1);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);
    hl_graph_free(graph);
}

static void test_two_cycle(void) {
    /* 2 -> 0 <-> 1 -> 3 */
    static const uint32_t edges[] = {0, 1, 1, 0, 2, 0, 1, 3};
    hl_graph *graph = build(4, edges, 4, NULL);
    hl_scc scc;
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, 3);
    ASSERT_EQ(scc.component[3], 0);
    ASSERT_EQ(scc.component[0], 1);
    ASSERT_EQ(scc.component[1], 1);
    ASSERT_EQ(scc.component[2], 2);
    size_t count;
    const hl_node_id *members = hl_scc_members(&scc, 1, &count);
    ASSERT_EQ(count, 2);
    ASSERT_EQ(members[0], 0); /* where the search entered it */
    ASSERT_EQ(members[1], 1);
    ASSERT_EQ(scc.n_cycles, 1);
    ASSERT_EQ(scc.cycles[0], 1);
    ASSERT_EQ(scc.n_cycle_members, 2);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);
    hl_graph_free(graph);
}

static void test_textbook_example(void) {
    /* Cormen et al., Introduction to Algorithms, figure 22.9: a..h as 0..7.
     * Components {a, b, e}, {c, d}, {f, g}, {h} (h refers to itself), and the
     * condensation is the chain abe -> cd -> fg -> h, so ids are fixed. */
    enum { a, b, c, d, e, f, g, h };
    static const uint32_t edges[] = {a, b, b, c, b, e, b, f, c, d, c, g, d, c,
                                     d, h, e, a, e, f, f, g, g, f, g, h, h, h};
    hl_graph *graph = build(8, edges, sizeof(edges) / sizeof(edges[0]) / 2, NULL);
    hl_scc scc;
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, 4);
    static const uint32_t expected[] = {3, 3, 2, 2, 3, 1, 1, 0};
    for (size_t i = 0; i < 8; i++)
        ASSERT_EQ(scc.component[i], expected[i]);
    ASSERT_EQ(scc.n_cycles, 4);
    ASSERT_EQ(scc.n_cycle_members, 8);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);

    /* Without h's self-reference h is trivial. Reversing every edge reverses
     * the condensation: the same components, ids in the opposite order. */
    size_t n_edges = sizeof(edges) / sizeof(edges[0]) / 2;
    uint32_t reversed[sizeof(edges) / sizeof(edges[0])];
    for (size_t k = 0; k < n_edges; k++) {
        reversed[2 * k] = edges[2 * k + 1];
        reversed[2 * k + 1] = edges[2 * k];
    }
    hl_graph_free(graph);
    graph = build(8, reversed, n_edges - 1, NULL); /* the last edge is h -> h */
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, 4);
    for (size_t i = 0; i < 8; i++)
        ASSERT_EQ(scc.component[i], 3 - expected[i]);
    ASSERT_EQ(scc.n_cycles, 3);
    ASSERT_EQ(scc.n_cycle_members, 7);
    ASSERT_EQ(hl_scc_is_cycle(&scc, scc.component[h]), 0);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);
    hl_graph_free(graph);
}

/* A chain 0 -> 1 -> ... -> n - 1 (ids descending along it when `descending`),
 * plus an edge from its last node back to its first when `close`. */
static hl_graph *build_chain(size_t n, int descending, int close) {
    uint32_t *edges = malloc(2 * n * sizeof(uint32_t));
    ASSERT_NOT_NULL(edges);
    size_t n_edges = 0;
    for (size_t k = 0; k + 1 < n; k++, n_edges++) {
        edges[2 * n_edges] = (uint32_t)(descending ? n - 1 - k : k);
        edges[2 * n_edges + 1] = (uint32_t)(descending ? n - 2 - k : k + 1);
    }
    if (close) {
        edges[2 * n_edges] = descending ? 0 : (uint32_t)(n - 1);
        edges[2 * n_edges + 1] = descending ? (uint32_t)(n - 1) : 0;
        n_edges++;
    }
    hl_graph *graph = build(n, edges, n_edges, NULL);
    free(edges);
    return graph;
}

static void test_long_chain(void) {
    /* A million deep: a recursive search would overflow the C stack. */
    const size_t n = 1000000;
    for (int descending = 0; descending <= 1; descending++) {
        hl_graph *graph = build_chain(n, descending, 0);
        hl_scc scc;
        ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
        ASSERT_EQ(scc.n_components, n);
        ASSERT_EQ(scc.n_cycles, 0);
        /* Each node refers to the next along the chain: later ids come first. */
        for (size_t k = 0; k < n; k++) {
            size_t node = descending ? n - 1 - k : k;
            ASSERT_EQ(scc.component[node], n - 1 - k);
        }
        check_consistent(graph, &scc, 0);
        hl_scc_free(&scc);
        hl_graph_free(graph);
    }
}

static void test_long_cycle(void) {
    const size_t n = 1000000;
    for (int descending = 0; descending <= 1; descending++) {
        hl_graph *graph = build_chain(n, descending, 1);
        hl_scc scc;
        ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
        ASSERT_EQ(scc.n_components, 1);
        ASSERT_EQ(scc.n_cycles, 1);
        ASSERT_EQ(scc.n_cycle_members, n);
        ASSERT_EQ(scc.cycles[0], 0);
        ASSERT_EQ(scc.component[0], 0);
        ASSERT_EQ(scc.component[n / 2], 0);
        ASSERT_EQ(scc.component[n - 1], 0);
        size_t count;
        const hl_node_id *members = hl_scc_members(&scc, 0, &count);
        ASSERT_EQ(count, n);
        ASSERT_EQ(members[0], 0); /* the search starts at node 0 */
        check_consistent(graph, &scc, 0);
        /* The result is 8 bytes a node and a little. */
        ASSERT_LE(hl_scc_memory(&scc), 8 * n + 4096);
        hl_scc_free(&scc);
        hl_graph_free(graph);
    }
}

static void test_lasso(void) {
    /* A chain of n nodes whose last node refers back to its middle: the first
     * half are trivial components, the second half is one cycle. */
    const size_t n = 1000000;
    uint32_t *edges = malloc(2 * n * sizeof(uint32_t));
    ASSERT_NOT_NULL(edges);
    for (size_t k = 0; k + 1 < n; k++) {
        edges[2 * k] = (uint32_t)k;
        edges[2 * k + 1] = (uint32_t)(k + 1);
    }
    edges[2 * (n - 1)] = (uint32_t)(n - 1);
    edges[2 * (n - 1) + 1] = (uint32_t)(n / 2);
    hl_graph *graph = build(n, edges, n, NULL);
    free(edges);
    hl_scc scc;
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, n / 2 + 1);
    ASSERT_EQ(scc.n_cycles, 1);
    ASSERT_EQ(scc.cycles[0], 0);
    ASSERT_EQ(scc.n_cycle_members, n - n / 2);
    ASSERT_EQ(scc.component[n / 2], 0);
    ASSERT_EQ(scc.component[n / 2 - 1], 1);
    ASSERT_EQ(scc.component[0], n / 2);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);
    hl_graph_free(graph);
}

static void test_excluded_nodes(void) {
    /* 0 -> 1 -> 2 -> 0 is a cycle through 1; 3 is virtual and in a two-cycle
     * with 2; 4 -> 4 is ignored. */
    static const uint32_t edges[] = {0, 1, 1, 2, 2, 0, 2, 3, 3, 2, 4, 4, 4, 0};
    static const uint8_t flags[] = {HL_NODE_TRACKED, HL_NODE_IGNORED, HL_NODE_MODULE,
                                    HL_NODE_VIRTUAL, HL_NODE_IGNORED};
    hl_graph *graph = build(5, edges, 7, flags);
    hl_scc scc;
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), 0);
    ASSERT_EQ(scc.n_components, 2);
    ASSERT_EQ(scc.n_members, 5);
    ASSERT_EQ(scc.component[0], 0);
    ASSERT_EQ(scc.component[3], 0);
    ASSERT_EQ(scc.component[4], 1);
    ASSERT_EQ(scc.n_cycles, 2);
    check_consistent(graph, &scc, 0);
    hl_scc_free(&scc);

    /* Without node 1 the big cycle is broken; without 3, the two-cycle. */
    ASSERT_EQ(hl_scc_compute(graph, HL_NODE_IGNORED | HL_NODE_VIRTUAL, &scc), 0);
    ASSERT_EQ(scc.n_components, 2);
    ASSERT_EQ(scc.n_members, 2);
    ASSERT_EQ(scc.component[0], 0);
    ASSERT_EQ(scc.component[1], HL_NODE_NONE);
    ASSERT_EQ(scc.component[2], 1);
    ASSERT_EQ(scc.component[3], HL_NODE_NONE);
    ASSERT_EQ(scc.component[4], HL_NODE_NONE);
    ASSERT_EQ(scc.n_cycles, 0);
    check_consistent(graph, &scc, HL_NODE_IGNORED | HL_NODE_VIRTUAL);
    hl_scc_free(&scc);

    /* Only the virtual node out: 0 and 2 still meet through 1. */
    ASSERT_EQ(hl_scc_compute(graph, HL_NODE_VIRTUAL, &scc), 0);
    ASSERT_EQ(scc.component[0], scc.component[2]);
    ASSERT_EQ(scc.component[1], scc.component[2]);
    ASSERT_EQ(scc.component[3], HL_NODE_NONE);
    ASSERT_EQ(scc.n_cycles, 2);
    check_consistent(graph, &scc, HL_NODE_VIRTUAL);
    hl_scc_free(&scc);

    /* Everything excluded. */
    ASSERT_EQ(hl_scc_compute(graph, 0xff, &scc), 0);
    ASSERT_EQ(scc.n_components, 0);
    ASSERT_EQ(scc.n_members, 0);
    check_consistent(graph, &scc, 0xff);
    hl_scc_free(&scc);
    hl_graph_free(graph);
}

static void test_open_graph_fails(void) {
    hl_graph *graph = hl_graph_new(4, 4);
    hl_node_id id;
    ASSERT_EQ(hl_graph_add_new_node(graph, 16, 0, 0, &id), 0);
    hl_scc scc;
    ASSERT_EQ(hl_scc_compute(graph, 0, &scc), -1);
    ASSERT_NULL(scc.component);
    ASSERT_EQ(scc.n_components, 0);
    hl_scc_free(&scc);
    hl_graph_free(graph);
}

/* The answer by brute force: reach[u * n + v] when v is reachable from u along
 * edges between kept nodes (u reaches itself), by relaxation to a fixed point. */
static uint8_t *naive_reach(size_t n, const uint32_t *edges, size_t n_edges, const uint8_t *kept) {
    uint8_t *reach = calloc(n * n + 1, 1);
    ASSERT_NOT_NULL(reach);
    for (size_t u = 0; u < n; u++)
        reach[u * n + u] = kept[u];
    for (int changed = 1; changed;) {
        changed = 0;
        for (size_t e = 0; e < n_edges; e++) {
            uint32_t from = edges[2 * e], to = edges[2 * e + 1];
            if (!kept[from] || !kept[to])
                continue;
            for (size_t u = 0; u < n; u++) {
                if (reach[u * n + from] && !reach[u * n + to]) {
                    reach[u * n + to] = 1;
                    changed = 1;
                }
            }
        }
    }
    return reach;
}

static void test_random_against_naive(void) {
    srand(20240611);
    for (int trial = 0; trial < 400; trial++) {
        size_t n = 1 + (size_t)(rand() % 40);
        /* From sparse (mostly trivial components) to dense (one big one). */
        size_t n_edges = (size_t)(rand() % (int)(1 + (trial % 4 + 1) * n));
        uint32_t *edges = malloc((2 * n_edges + 2) * sizeof(uint32_t));
        uint8_t *flags = malloc(n);
        uint8_t *kept = malloc(n);
        for (size_t e = 0; e < n_edges; e++) {
            edges[2 * e] = (uint32_t)(rand() % (int)n);
            /* Mostly forward edges with some back ones, like a heap. */
            edges[2 * e + 1] = rand() % 3 ? (uint32_t)(edges[2 * e] + (uint32_t)rand() % 4) % n
                                          : (uint32_t)(rand() % (int)n);
        }
        for (size_t i = 0; i < n; i++)
            flags[i] = rand() % 6 == 0 ? HL_NODE_IGNORED
                                       : (rand() % 8 == 0 ? HL_NODE_VIRTUAL : HL_NODE_TRACKED);
        uint8_t exclude = (uint8_t)(trial % 3 == 0   ? 0
                                    : trial % 3 == 1 ? HL_NODE_IGNORED
                                                     : HL_NODE_IGNORED | HL_NODE_VIRTUAL);
        for (size_t i = 0; i < n; i++)
            kept[i] = (flags[i] & exclude) == 0;
        hl_graph *graph = build(n, edges, n_edges, flags);
        hl_scc scc;
        ASSERT_EQ(hl_scc_compute(graph, exclude, &scc), 0);
        check_consistent(graph, &scc, exclude);
        uint8_t *reach = naive_reach(n, edges, n_edges, kept);
        size_t n_classes = 0;
        for (size_t u = 0; u < n; u++) {
            if (!kept[u])
                continue;
            int first_of_class = 1;
            for (size_t v = 0; v < n; v++) {
                if (!kept[v])
                    continue;
                int together = reach[u * n + v] && reach[v * n + u];
                ASSERT_EQ(scc.component[u] == scc.component[v], together);
                if (together && v < u)
                    first_of_class = 0;
            }
            n_classes += (size_t)first_of_class;
        }
        ASSERT_EQ(scc.n_components, n_classes);
        free(reach);
        hl_scc_free(&scc);
        hl_graph_free(graph);
        free(kept);
        free(flags);
        free(edges);
    }
}

int main(void) {
    RUN_TEST(test_empty_graph);
    RUN_TEST(test_single_node_and_self_loop);
    RUN_TEST(test_two_cycle);
    RUN_TEST(test_textbook_example);
    RUN_TEST(test_long_chain);
    RUN_TEST(test_long_cycle);
    RUN_TEST(test_lasso);
    RUN_TEST(test_excluded_nodes);
    RUN_TEST(test_open_graph_fails);
    RUN_TEST(test_random_against_naive);
    TEST_SUMMARY("scc");
}
