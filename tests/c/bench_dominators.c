/* bench_dominators.c - time hl_dominators_compute on a large heap-like graph.
 *
 * Usage: bench_dominators [n_nodes] [ordered|shuffle] [repeats] [seed]
 *
 * The graph is shaped like a Python heap of records, numbered in allocation
 * order the way the collector's list numbers a heap walk:
 *  - 1000 module nodes (the roots) and 200 type nodes; each type is held by a
 *    module and refers back to it and to the base type;
 *  - records of 8 nodes (instance, its __dict__, a name string, a number, a
 *    list, a tuple, two element objects) in blocks of about 1000 behind a
 *    container list that a random module holds. Inside a record the edges
 *    form a tree, plus: the instance and the tuple refer to their types (hubs
 *    with millions of referrers), one element refers back to the instance (a
 *    cycle), the dict refers to three of 4096 interned strings (attribute
 *    names, held by a module), half the tuples share the record's number,
 *    half the dicts refer to a random earlier object (shared references
 *    across the heap), and one record in a hundred links to the next record
 *    (long chains);
 *  - one block in a hundred is garbage (no container refers to it), and one
 *    instance in a thousand is also a root (held from C).
 * That is about 2 edges per node. "shuffle" renumbers the nodes at random, the
 * worst case for locality. Each run computes dominators and retained sizes of
 * every node; the graph's reverse index is built first and timed on its own.
 * Prints times, memory per node (the result's accounting and the growth
 * of the peak resident size) and a checksum. Not a test: run by hand.
 */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dominators.h"
#include "bench_util.h"
#include "graph.h"

enum { N_MODULES = 1000, N_TYPES = 200, RECORD = 8, BLOCK_RECORDS = 1000, STRING_POOL = 4096 };

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

/* xorshift64*: fast, deterministic, good enough for shapes. */
static uint64_t next_random(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t below(uint64_t bound) {
    return (uint32_t)((next_random() >> 32) * bound >> 32);
}

static void die(const char *what) {
    fprintf(stderr, "bench_dominators: %s\n", what);
    exit(1);
}

/* The edge list being generated, and the sizes of the nodes. */
typedef struct edge_list {
    uint32_t *from, *to;
    size_t count, capacity;
} edge_list;

static void add_edge(edge_list *edges, size_t from, size_t to) {
    if (edges->count == edges->capacity) {
        edges->capacity = edges->capacity ? 2 * edges->capacity : 1024;
        edges->from = realloc(edges->from, edges->capacity * sizeof(uint32_t));
        edges->to = realloc(edges->to, edges->capacity * sizeof(uint32_t));
        if (edges->from == NULL || edges->to == NULL)
            die("out of memory");
    }
    edges->from[edges->count] = (uint32_t)from;
    edges->to[edges->count] = (uint32_t)to;
    edges->count++;
}

/* Generate the heap described at the top with about n nodes; stores the
 * sizes, the roots and the node count. */
static void generate(size_t n, edge_list *edges, uint32_t **sizes_out, uint32_t **roots_out,
                     size_t *n_roots_out, size_t *n_out) {
    size_t first_string = N_MODULES + N_TYPES, first_record = first_string + STRING_POOL;
    if (n < first_record + 2 * RECORD)
        n = first_record + 2 * RECORD;
    uint32_t *sizes = malloc(n * sizeof(uint32_t));
    uint32_t *roots = malloc((N_MODULES + n / 1000 + 1) * sizeof(uint32_t));
    if (sizes == NULL || roots == NULL)
        die("out of memory");
    size_t n_roots = 0;
    for (size_t m = 0; m < N_MODULES; m++) {
        roots[n_roots++] = (uint32_t)m;
        sizes[m] = 72;
    }
    size_t base_type = N_MODULES;
    for (size_t t = 0; t < N_TYPES; t++) {
        size_t type = N_MODULES + t, module = below(N_MODULES);
        sizes[type] = 900;
        add_edge(edges, module, type);
        add_edge(edges, type, module);
        if (type != base_type)
            add_edge(edges, type, base_type);
    }
    for (size_t s = 0; s < STRING_POOL; s++) { /* interned strings, held by module 0 */
        add_edge(edges, 0, first_string + s);
        sizes[first_string + s] = 50 + below(30);
    }
    size_t node = first_record;
    size_t previous_instance = 0;
    while (node + 1 + RECORD <= n) {
        /* A container list and up to BLOCK_RECORDS records behind it. */
        size_t container = node++;
        sizes[container] = 56 + 8 * BLOCK_RECORDS;
        if (below(100) != 0)
            add_edge(edges, below(N_MODULES), container);
        for (size_t r = 0; r < BLOCK_RECORDS && node + RECORD <= n; r++, node += RECORD) {
            size_t instance = node, dict = node + 1, name = node + 2, number = node + 3;
            size_t list = node + 4, tuple = node + 5, first = node + 6, second = node + 7;
            size_t type = N_MODULES + below(N_TYPES);
            add_edge(edges, container, instance);
            add_edge(edges, instance, dict);
            add_edge(edges, instance, type);
            add_edge(edges, dict, name);
            add_edge(edges, dict, number);
            add_edge(edges, dict, list);
            for (int key = 0; key < 3; key++) /* attribute names */
                add_edge(edges, dict, first_string + below(STRING_POOL));
            if (previous_instance != 0 && below(2) == 0)
                add_edge(edges, dict, first_record + 1 + below(previous_instance - first_record));
            add_edge(edges, list, tuple);
            add_edge(edges, list, first);
            add_edge(edges, tuple, second);
            add_edge(edges, tuple, type);
            if (below(2) == 0)
                add_edge(edges, tuple, number);
            add_edge(edges, first, instance);
            add_edge(edges, second, first);
            if (below(100) == 0 && node + 2 * RECORD <= n)
                add_edge(edges, second, node + RECORD);
            if (below(1000) == 0)
                roots[n_roots++] = (uint32_t)instance;
            sizes[instance] = 56;
            sizes[dict] = 104 + 8 * below(64);
            sizes[name] = 49 + below(40);
            sizes[number] = 28;
            sizes[list] = 72;
            sizes[tuple] = 56;
            sizes[first] = 48 + below(200);
            sizes[second] = 48 + below(200);
            previous_instance = instance;
        }
    }
    *n_out = node;
    *sizes_out = sizes;
    *roots_out = roots;
    *n_roots_out = n_roots;
}

static hl_graph *build_graph(size_t n, int shuffle, hl_node_id **roots_out, size_t *n_roots_out) {
    edge_list edges = {NULL, NULL, 0, 0};
    uint32_t *sizes, *roots;
    size_t n_roots;
    generate(n, &edges, &sizes, &roots, &n_roots, &n);
    /* The new number of each node: itself, or a random permutation. */
    uint32_t *renumber = malloc(n * sizeof(uint32_t));
    if (renumber == NULL)
        die("out of memory");
    for (size_t i = 0; i < n; i++)
        renumber[i] = (uint32_t)i;
    if (shuffle) {
        for (size_t i = n - 1; i > 0; i--) {
            size_t j = below(i + 1);
            uint32_t swap = renumber[i];
            renumber[i] = renumber[j];
            renumber[j] = swap;
        }
    }
    /* Group the edges by (new) source, then feed the graph in node order. */
    size_t m = edges.count;
    uint32_t *starts = calloc(n + 1, sizeof(uint32_t));
    uint32_t *targets = malloc((m ? m : 1) * sizeof(uint32_t));
    if (starts == NULL || targets == NULL)
        die("out of memory");
    for (size_t e = 0; e < m; e++)
        starts[renumber[edges.from[e]] + 1]++;
    for (size_t i = 0; i < n; i++)
        starts[i + 1] += starts[i];
    for (size_t e = 0; e < m; e++)
        targets[starts[renumber[edges.from[e]]]++] = renumber[edges.to[e]];
    free(edges.from);
    free(edges.to);
    uint32_t *new_sizes = malloc(n * sizeof(uint32_t));
    if (new_sizes == NULL)
        die("out of memory");
    for (size_t i = 0; i < n; i++)
        new_sizes[renumber[i]] = sizes[i];
    free(sizes);
    for (size_t r = 0; r < n_roots; r++)
        roots[r] = renumber[roots[r]];
    free(renumber);

    hl_graph *graph = hl_graph_new(n, m);
    if (graph == NULL)
        die("out of memory");
    for (size_t i = 0; i < n; i++) {
        hl_node_id id;
        if (hl_graph_add_new_node(graph, 16 * (i + 1), 0, HL_NODE_TRACKED, &id) < 0)
            die("out of memory");
        hl_graph_set_size(graph, id, new_sizes[i]);
    }
    free(new_sizes);
    uint32_t begin = 0;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t e = begin; e < starts[i]; e++) {
            if (hl_graph_add_edge(graph, targets[e]) < 0)
                die("out of memory");
        }
        begin = starts[i];
        hl_graph_close_node(graph);
    }
    free(starts);
    free(targets);
    if (hl_graph_finish(graph) < 0)
        die("graph not finished");
    *roots_out = roots;
    *n_roots_out = n_roots;
    return graph;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    int shuffle = argc > 2 && strcmp(argv[2], "shuffle") == 0;
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    if (argc > 4)
        rng_state = strtoull(argv[4], NULL, 10) | 1;

    double start = now_seconds();
    hl_node_id *roots;
    size_t n_roots;
    hl_graph *graph = build_graph(n, shuffle, &roots, &n_roots);
    n = hl_graph_n_nodes(graph);
    size_t graph_bytes = hl_graph_memory(graph);
    printf("graph: %zu nodes, %zu edges (%.2f per node, %s), %zu roots, %.1f MiB, built in "
           "%.2f s\n",
           n, hl_graph_n_edges(graph), (double)hl_graph_n_edges(graph) / (double)n,
           shuffle ? "shuffled" : "allocation order", n_roots, (double)graph_bytes / (1 << 20),
           now_seconds() - start);

    start = now_seconds();
    if (hl_graph_build_reverse(graph) < 0)
        die("out of memory building the reverse index");
    double reverse_seconds = now_seconds() - start;
    printf("reverse index: %.3f s, %.1f bytes per node\n", reverse_seconds,
           (double)(hl_graph_memory(graph) - graph_bytes) / (double)n);

    double best = 1e30;
    for (int run = 0; run < repeats; run++) {
        long rss_before = status_kb("VmRSS");
        int peak_reset = reset_peak_rss() == 0;
        start = now_seconds();
        hl_dominators *dominators;
        if (hl_dominators_compute(graph, roots, n_roots, HL_NODE_IGNORED, &dominators) < 0)
            die("out of memory computing dominators");
        double seconds = now_seconds() - start;
        long rss_peak = status_kb("VmHWM");
        if (seconds < best)
            best = seconds;
        /* A checksum of the answer, and its largest retainers. */
        uint64_t checksum = 0;
        size_t depth_max = 0;
        for (size_t i = 0; i < n; i += 7) {
            hl_node_id idom = hl_dominators_idom(dominators, (hl_node_id)i);
            checksum = checksum * 31 + idom + hl_dominators_retained(dominators, (hl_node_id)i);
            size_t depth = 0;
            while (idom != HL_NODE_NONE && idom != HL_DOMINATOR_ROOT && depth < 1000000) {
                idom = hl_dominators_idom(dominators, idom);
                depth++;
            }
            if (depth > depth_max)
                depth_max = depth;
        }
        hl_node_id top[3];
        size_t n_top = hl_dominators_top(dominators, 3, top);
        printf("run %d: %.3f s for %zu reachable nodes; peak %.1f bytes per node by the "
               "accounting",
               run + 1, seconds, hl_dominators_n_reachable(dominators),
               (double)hl_dominators_peak_memory(dominators) / (double)n);
        if (peak_reset && rss_before >= 0 && rss_peak >= 0)
            printf(", %.1f by peak RSS", (double)(rss_peak - rss_before) * 1024.0 / (double)n);
        printf("; checksum %016llx, dominator tree depth (sampled) %zu, total %.1f MiB, top:",
               (unsigned long long)checksum, depth_max,
               (double)hl_dominators_retained(dominators, HL_DOMINATOR_ROOT) / (1 << 20));
        for (size_t i = 0; i < n_top; i++)
            printf(" %u (%.1f MiB)", top[i],
                   (double)hl_dominators_retained(dominators, top[i]) / (1 << 20));
        printf("\n");
        hl_dominators_free(dominators);
    }
    printf("best: %.3f s; with the reverse index built first: %.3f s\n", best,
           best + reverse_seconds);
    free(roots);
    hl_graph_free(graph);
    return 0;
}
