/* test_graph.c - unit tests of the heap graph (graph.c). */
#include <stdlib.h>

#include "graph.h"
#include "hl_test.h"

/* Build a graph of n nodes at addresses 16 * (i + 1) from an edge list
 * (pairs from, to), closing nodes in order. */
static hl_graph *build(size_t n, const int *edges, size_t n_edges) {
    hl_graph *graph = hl_graph_new(4, 4);
    ASSERT_NOT_NULL(graph);
    for (size_t i = 0; i < n; i++) {
        hl_node_id id;
        int is_new;
        ASSERT_EQ(hl_graph_add_node(graph, 16 * (i + 1), (uint32_t)(i % 3), HL_NODE_TRACKED, &id,
                                    &is_new),
                  0);
        ASSERT_EQ(id, i);
        ASSERT_EQ(is_new, 1);
        hl_graph_set_size(graph, id, 10 * (i + 1));
    }
    for (size_t node = 0; node < n; node++) {
        ASSERT_EQ(hl_graph_open_node(graph), node);
        for (size_t e = 0; e < n_edges; e++) {
            if ((size_t)edges[2 * e] == node)
                ASSERT_EQ(hl_graph_add_edge(graph, (hl_node_id)edges[2 * e + 1]), 0);
        }
        hl_graph_close_node(graph);
    }
    ASSERT_EQ(hl_graph_finish(graph), 0);
    return graph;
}

static void test_build_and_edges(void) {
    static const int edges[] = {0, 1, 0, 2, 1, 2, 2, 0, 2, 2, 3, 1, 3, 1};
    hl_graph *graph = build(4, edges, 7);
    ASSERT_EQ(hl_graph_n_nodes(graph), 4);
    ASSERT_EQ(hl_graph_n_edges(graph), 7);
    size_t count;
    const hl_node_id *out = hl_graph_out_edges(graph, 3, &count);
    ASSERT_EQ(count, 2); /* duplicates are kept */
    ASSERT_EQ(out[0], 1);
    ASSERT_EQ(out[1], 1);
    hl_graph_out_edges(graph, 1, &count);
    ASSERT_EQ(count, 1);
    ASSERT_EQ(hl_graph_find(graph, 16 * 3), 2);
    ASSERT_EQ(hl_graph_find(graph, 16 * 99), HL_NODE_NONE);
    ASSERT_EQ(hl_graph_find(graph, 0), HL_NODE_NONE);
    ASSERT_U64_EQ(hl_graph_size(graph, 3), 40);
    ASSERT_EQ(hl_graph_type(graph, 2), 2);

    ASSERT_EQ(hl_graph_build_reverse(graph), 0);
    const hl_node_id *in = hl_graph_in_edges(graph, 1, &count);
    ASSERT_EQ(count, 3);
    ASSERT_EQ(in[0], 0);
    ASSERT_EQ(in[1], 3);
    ASSERT_EQ(in[2], 3);
    in = hl_graph_in_edges(graph, 2, &count);
    ASSERT_EQ(count, 3);
    ASSERT_EQ(in[0], 0);
    ASSERT_EQ(in[1], 1);
    ASSERT_EQ(in[2], 2);
    hl_graph_in_edges(graph, 3, &count);
    ASSERT_EQ(count, 0);
    ASSERT_EQ(hl_graph_build_reverse(graph), 0); /* idempotent */
    hl_graph_free(graph);
}

static void test_dedupe_and_virtual_nodes(void) {
    hl_graph *graph = hl_graph_new(1, 1);
    hl_node_id a, b, v1, v2;
    int is_new;
    ASSERT_EQ(hl_graph_add_node(graph, 0x1000, 7, 0, &a, &is_new), 0);
    ASSERT_EQ(is_new, 1);
    ASSERT_EQ(hl_graph_add_node(graph, 0x1000, 9, 0, &b, &is_new), 0);
    ASSERT_EQ(is_new, 0);
    ASSERT_EQ(a, b);
    ASSERT_EQ(hl_graph_type(graph, a), 7);
    ASSERT_EQ(hl_graph_add_node(graph, 0, 1, 0, &v1, &is_new), 0);
    ASSERT_EQ(hl_graph_add_node(graph, 0, 1, 0, &v2, &is_new), 0);
    ASSERT_NE(v1, v2); /* virtual nodes are never deduplicated */
    ASSERT_TRUE(hl_graph_flags(graph, v1) & HL_NODE_VIRTUAL);
    ASSERT_EQ(hl_graph_finish(graph), -1); /* nodes still open */
    while (hl_graph_close_node(graph) != HL_NODE_NONE) {
    }
    ASSERT_EQ(hl_graph_finish(graph), 0);
    hl_graph_free(graph);
}

static void test_index_growth(void) {
    /* Many nodes added while earlier ones are being closed, the way a heap walk
     * discovers objects. */
    hl_graph *graph = hl_graph_new(1, 1);
    const size_t n = 200000;
    hl_node_id id;
    int is_new;
    ASSERT_EQ(hl_graph_add_node(graph, 16, 0, 0, &id, &is_new), 0);
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ(hl_graph_open_node(graph), i);
        /* node i refers to node 2i+1 and 2i+2 (a binary tree), found by address */
        for (size_t child = 2 * i + 1; child <= 2 * i + 2 && child < n; child++) {
            ASSERT_EQ(hl_graph_add_node(graph, 16 * (child + 1), 0, 0, &id, &is_new), 0);
            ASSERT_EQ(id, child);
            ASSERT_EQ(hl_graph_add_edge(graph, id), 0);
        }
        hl_graph_close_node(graph);
    }
    ASSERT_EQ(hl_graph_open_node(graph), HL_NODE_NONE);
    ASSERT_EQ(hl_graph_finish(graph), 0);
    for (size_t i = 0; i < n; i += 997)
        ASSERT_EQ(hl_graph_find(graph, 16 * (i + 1)), i);
    ASSERT_EQ(hl_graph_n_edges(graph), n - 1);
    /* The budget in graph.h: at most 30 bytes per node plus 4 per edge here. */
    ASSERT_LE(hl_graph_memory(graph), 30 * n + 4 * (n - 1) + 4096);
    hl_graph_free(graph);
}

static void test_big_sizes(void) {
    hl_graph *graph = hl_graph_new(2, 2);
    hl_node_id a, b;
    int is_new;
    ASSERT_EQ(hl_graph_add_node(graph, 16, 0, 0, &a, &is_new), 0);
    ASSERT_EQ(hl_graph_add_node(graph, 32, 0, 0, &b, &is_new), 0);
    hl_graph_set_size(graph, a, 5ull << 32);
    hl_graph_set_size(graph, b, UINT32_MAX - 1);
    hl_graph_set_size(graph, a, 6ull << 32); /* overwrite a side entry */
    ASSERT_U64_EQ(hl_graph_size(graph, a), 6ull << 32);
    ASSERT_U64_EQ(hl_graph_size(graph, b), UINT32_MAX - 1);
    hl_graph_close_node(graph);
    hl_graph_close_node(graph);
    ASSERT_EQ(hl_graph_finish(graph), 0);
    uint64_t counts[1] = {0}, sizes[1] = {0};
    hl_graph_census(graph, 0, 0, 1, counts, sizes);
    ASSERT_U64_EQ(counts[0], 2);
    ASSERT_U64_EQ(sizes[0], (6ull << 32) + UINT32_MAX - 1);
    hl_graph_free(graph);
}

static void test_census_and_unreferenced(void) {
    /* 0 -> 1 -> 2, 3 -> 3 (self only), 4 isolated; node 4 ignored-source. */
    static const int edges[] = {0, 1, 1, 2, 3, 3, 4, 0};
    hl_graph *graph = build(5, edges, 4);
    hl_graph_add_flags(graph, 4, HL_NODE_IGNORED);
    uint64_t counts[3] = {0}, sizes[3] = {0};
    hl_graph_census(graph, HL_NODE_TRACKED, HL_NODE_IGNORED, 3, counts, sizes);
    /* types are i % 3: {0,3} {1} {2}; node 4 (type 1) ignored */
    ASSERT_U64_EQ(counts[0], 2);
    ASSERT_U64_EQ(sizes[0], 10 + 40);
    ASSERT_U64_EQ(counts[1], 1);
    ASSERT_U64_EQ(counts[2], 1);
    uint32_t degrees[5] = {0};
    hl_graph_in_degrees(graph, HL_NODE_IGNORED, degrees, 4); /* node 4 excluded as a target too */
    ASSERT_EQ(degrees[0], 0); /* only the ignored node 4 refers to 0 */
    ASSERT_EQ(degrees[1], 1);
    ASSERT_EQ(degrees[3], 1); /* its self-reference counts */
    ASSERT_EQ(degrees[4], 0);
    size_t count;
    ASSERT_EQ(hl_graph_mark_unreferenced(graph, HL_NODE_TRACKED, HL_NODE_TRACKED, &count), 0);
    /* 0 is referred to only by the ignored node; 3 only by itself; 4 by none */
    ASSERT_EQ(count, 3);
    ASSERT_TRUE(hl_graph_flags(graph, 0) & HL_NODE_UNREACHED);
    ASSERT_TRUE(!(hl_graph_flags(graph, 1) & HL_NODE_UNREACHED));
    ASSERT_TRUE(hl_graph_flags(graph, 3) & HL_NODE_UNREACHED);
    ASSERT_TRUE(hl_graph_flags(graph, 4) & HL_NODE_UNREACHED);
    hl_graph_free(graph);
}

static void test_paths(void) {
    /* 0 -> 1 -> 2 -> 3 -> 4, and a shortcut 0 -> 5 -> 4; 6 -> 3. */
    static const int edges[] = {0, 1, 1, 2, 2, 3, 3, 4, 0, 5, 5, 4, 6, 3};
    hl_graph *graph = build(7, edges, 7);
    hl_node_id *path;
    size_t length;
    uint8_t marks[7] = {0};
    marks[4] = 1;
    hl_graph_path_query forward = {
        .start = 0, .backward = 0, .target_marks = marks, .max_depth = -1};
    ASSERT_EQ(hl_graph_shortest_path(graph, &forward, &path, &length), 1);
    ASSERT_EQ(length, 3);
    ASSERT_EQ(path[0], 0);
    ASSERT_EQ(path[1], 5);
    ASSERT_EQ(path[2], 4);
    free(path);

    /* Backward needs the reverse index. */
    hl_graph_path_query backward = {
        .start = 4, .backward = 1, .target_marks = marks, .max_depth = -1};
    ASSERT_EQ(hl_graph_shortest_path(graph, &backward, &path, &length), -1);
    ASSERT_EQ(hl_graph_build_reverse(graph), 0);
    memset(marks, 0, sizeof(marks));
    marks[0] = 1;
    marks[6] = 1;
    ASSERT_EQ(hl_graph_shortest_path(graph, &backward, &path, &length), 1);
    /* 6 -> 3 -> 4 and 0 -> 5 -> 4 are both length 3; either is right. */
    ASSERT_EQ(length, 3);
    ASSERT_TRUE(path[0] == 0 || path[0] == 6);
    ASSERT_EQ(path[2], 4);
    free(path);

    /* Excluding node 5 forces the long way to 0 (or 6). */
    hl_graph_add_flags(graph, 5, HL_NODE_IGNORED);
    marks[6] = 0;
    backward.exclude = HL_NODE_IGNORED;
    ASSERT_EQ(hl_graph_shortest_path(graph, &backward, &path, &length), 1);
    ASSERT_EQ(length, 5);
    ASSERT_EQ(path[0], 0);
    ASSERT_EQ(path[1], 1);
    ASSERT_EQ(path[4], 4);
    free(path);

    /* max_depth 3 is one edge short of it. */
    backward.max_depth = 3;
    ASSERT_EQ(hl_graph_shortest_path(graph, &backward, &path, &length), 0);
    ASSERT_NULL(path);
    backward.max_depth = 4;
    ASSERT_EQ(hl_graph_shortest_path(graph, &backward, &path, &length), 1);
    free(path);

    /* Flag targets, and the start as its own target. */
    hl_graph_add_flags(graph, 2, HL_NODE_MODULE);
    hl_graph_path_query by_flag = {
        .start = 4, .backward = 1, .target_flags = HL_NODE_MODULE, .max_depth = -1};
    ASSERT_EQ(hl_graph_shortest_path(graph, &by_flag, &path, &length), 1);
    ASSERT_EQ(length, 3);
    ASSERT_EQ(path[0], 2);
    ASSERT_EQ(path[1], 3);
    free(path);
    /* Two targets at the same depth: the preferred kind wins. 4 <- 3 <- 2
     * (module) and 4 <- 3 <- 6 (unreferenced-like): prefer the module even
     * though 6 is seen first or last. */
    hl_graph_add_flags(graph, 6, HL_NODE_UNREACHED);
    hl_graph_path_query prefer = {.start = 4,
                                  .backward = 1,
                                  .target_flags = HL_NODE_MODULE | HL_NODE_UNREACHED,
                                  .preferred_flags = HL_NODE_MODULE,
                                  .max_depth = -1};
    ASSERT_EQ(hl_graph_shortest_path(graph, &prefer, &path, &length), 1);
    ASSERT_EQ(path[0], 2);
    free(path);
    prefer.preferred_flags = HL_NODE_UNREACHED;
    ASSERT_EQ(hl_graph_shortest_path(graph, &prefer, &path, &length), 1);
    ASSERT_EQ(path[0], 6);
    free(path);
    by_flag.start = 2;
    ASSERT_EQ(hl_graph_shortest_path(graph, &by_flag, &path, &length), 1);
    ASSERT_EQ(length, 1);
    free(path);
    hl_graph_free(graph);
}

static void test_cycle_paths(void) {
    /* 0 -> 1 -> 2 -> 0 (a 3-cycle), 2 -> 3 -> 3 (a self-loop), 1 -> 4 (no way back). */
    static const int edges[] = {0, 1, 1, 2, 2, 0, 2, 3, 3, 3, 1, 4};
    hl_graph *graph = build(5, edges, 6);
    hl_node_id *path;
    size_t length;
    hl_graph_path_query cycle = {.start = 0, .start_is_not_target = 1, .max_depth = -1};
    ASSERT_EQ(hl_graph_shortest_path(graph, &cycle, &path, &length), 1);
    ASSERT_EQ(length, 4);
    ASSERT_EQ(path[0], 0);
    ASSERT_EQ(path[1], 1);
    ASSERT_EQ(path[2], 2);
    ASSERT_EQ(path[3], 0);
    free(path);
    cycle.start = 3;
    ASSERT_EQ(hl_graph_shortest_path(graph, &cycle, &path, &length), 1);
    ASSERT_EQ(length, 2);
    ASSERT_EQ(path[0], 3);
    ASSERT_EQ(path[1], 3);
    free(path);
    cycle.start = 4;
    ASSERT_EQ(hl_graph_shortest_path(graph, &cycle, &path, &length), 0);
    cycle.start = 1;
    cycle.max_depth = 1; /* 1 -> 2 -> 0 -> 1 needs three edges */
    ASSERT_EQ(hl_graph_shortest_path(graph, &cycle, &path, &length), 0);
    /* Backward: the same cycle read through in-edges, still in reference order. */
    ASSERT_EQ(hl_graph_build_reverse(graph), 0);
    hl_graph_path_query back = {
        .start = 0, .backward = 1, .start_is_not_target = 1, .max_depth = -1};
    ASSERT_EQ(hl_graph_shortest_path(graph, &back, &path, &length), 1);
    ASSERT_EQ(length, 4);
    ASSERT_EQ(path[0], 0);
    ASSERT_EQ(path[1], 1);
    ASSERT_EQ(path[2], 2);
    ASSERT_EQ(path[3], 0);
    free(path);
    hl_graph_free(graph);
}

/* Naive reachability distance by repeated relaxation, to check BFS on random
 * graphs. */
static int naive_distance(size_t n, const int *edges, size_t n_edges, int from, int to) {
    int *distance = malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++)
        distance[i] = -1;
    distance[from] = 0;
    for (size_t round = 0; round < n; round++) {
        for (size_t e = 0; e < n_edges; e++) {
            int a = edges[2 * e], b = edges[2 * e + 1];
            if (distance[a] >= 0 && (distance[b] < 0 || distance[b] > distance[a] + 1))
                distance[b] = distance[a] + 1;
        }
    }
    int result = distance[to];
    free(distance);
    return result;
}

static void test_random_paths(void) {
    srand(12345);
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 2 + (size_t)(rand() % 30);
        size_t n_edges = (size_t)(rand() % (int)(3 * n));
        int *edges = malloc((2 * n_edges + 2) * sizeof(int));
        for (size_t e = 0; e < 2 * n_edges; e++)
            edges[e] = rand() % (int)n;
        hl_graph *graph = build(n, edges, n_edges);
        ASSERT_EQ(hl_graph_build_reverse(graph), 0);
        int from = rand() % (int)n, to = rand() % (int)n;
        uint8_t *marks = calloc(n, 1);
        marks[to] = 1;
        hl_node_id *path;
        size_t length;
        int expected = naive_distance(n, edges, n_edges, from, to);
        hl_graph_path_query forward = {
            .start = (hl_node_id)from, .target_marks = marks, .max_depth = -1};
        int found = hl_graph_shortest_path(graph, &forward, &path, &length);
        ASSERT_EQ(found, expected >= 0);
        if (found) {
            ASSERT_EQ(length, expected + 1);
            ASSERT_EQ(path[0], from);
            ASSERT_EQ(path[length - 1], to);
            for (size_t i = 0; i + 1 < length; i++) {
                size_t count;
                const hl_node_id *out = hl_graph_out_edges(graph, path[i], &count);
                int edge_exists = 0;
                for (size_t k = 0; k < count; k++)
                    edge_exists |= out[k] == path[i + 1];
                ASSERT_TRUE(edge_exists);
            }
            free(path);
        }
        /* The same distance backward from `to` looking for `from`. */
        memset(marks, 0, n);
        marks[from] = 1;
        hl_graph_path_query backward = {
            .start = (hl_node_id)to, .backward = 1, .target_marks = marks, .max_depth = -1};
        found = hl_graph_shortest_path(graph, &backward, &path, &length);
        ASSERT_EQ(found, expected >= 0);
        if (found) {
            ASSERT_EQ(length, expected + 1);
            ASSERT_EQ(path[0], from);
            ASSERT_EQ(path[length - 1], to);
            free(path);
        }
        free(marks);
        free(edges);
        hl_graph_free(graph);
    }
}

/* The path scratch is made once and left clean after each query: a search
 * that fails, one that finds a cycle and one that finds a target, repeated,
 * give the same answers, and the graph's memory grows only at the first. */
static void test_path_scratch_reused(void) {
    const size_t n = 100000;
    hl_graph *graph = hl_graph_new(n, n);
    for (size_t i = 0; i < n; i++) {
        hl_node_id id;
        ASSERT_EQ(hl_graph_add_new_node(graph, 16 * (i + 1), 0, i == 0 ? HL_NODE_MODULE : 0, &id),
                  0);
    }
    for (size_t i = 0; i < n; i++) {
        if (i + 1 < n)
            ASSERT_EQ(hl_graph_add_edge(graph, (hl_node_id)(i + 1)), 0);
        hl_graph_close_node(graph);
    }
    ASSERT_EQ(hl_graph_finish(graph), 0);
    ASSERT_EQ(hl_graph_build_reverse(graph), 0);
    size_t before = hl_graph_memory(graph), after = 0;
    hl_node_id *path;
    size_t length;
    for (int round = 0; round < 3; round++) {
        hl_graph_path_query to_root = {.start = (hl_node_id)(n - 1),
                                       .backward = 1,
                                       .target_flags = HL_NODE_MODULE,
                                       .max_depth = -1};
        ASSERT_EQ(hl_graph_shortest_path(graph, &to_root, &path, &length), 1);
        ASSERT_EQ(length, n);
        ASSERT_EQ(path[0], 0);
        ASSERT_EQ(path[n - 1], n - 1);
        free(path);
        if (round == 0)
            after = hl_graph_memory(graph);
        ASSERT_EQ(hl_graph_memory(graph), after);
        hl_graph_path_query no_cycle = {.start = 5, .start_is_not_target = 1, .max_depth = -1};
        ASSERT_EQ(hl_graph_shortest_path(graph, &no_cycle, &path, &length), 0);
        for (hl_node_id start = 1; start < 1000; start++) {
            to_root.start = start;
            ASSERT_EQ(hl_graph_shortest_path(graph, &to_root, &path, &length), 1);
            ASSERT_EQ(length, start + 1);
            free(path);
        }
    }
    ASSERT_EQ(after, before + 2 * n * sizeof(hl_node_id));
    hl_graph_free(graph);
}

int main(void) {
    RUN_TEST(test_build_and_edges);
    RUN_TEST(test_dedupe_and_virtual_nodes);
    RUN_TEST(test_index_growth);
    RUN_TEST(test_big_sizes);
    RUN_TEST(test_census_and_unreferenced);
    RUN_TEST(test_paths);
    RUN_TEST(test_random_paths);
    RUN_TEST(test_cycle_paths);
    RUN_TEST(test_path_scratch_reused);
    return 0;
}
