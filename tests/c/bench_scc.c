/* bench_scc.c - time hl_scc_compute on a large heap-like graph.
 *
 * Usage: bench_scc [n_nodes] [heap|tree] [repeats] [seed]
 *
 * The graph has n_nodes nodes and about 2 * n_nodes edges, numbered the way a
 * heap walk numbers them: containers first (the collector's list, roughly in
 * allocation order), then leaves (strings, numbers) in the order their
 * referrers are traversed. Containers form a tree whose parent links mostly
 * point a little way back, so the tree is deep; on top of it:
 *  - back edges to an ancestor a few levels up (small cycles of many sizes);
 *  - in "heap" mode, edges from containers to a few hundred shared early
 *    nodes (types, modules) and random cross edges: like a Python heap,
 *    where every instance refers to its class and the class reaches the
 *    instance through its module, this makes one giant component;
 *  - in "tree" mode, fewer back edges and cross edges to leaves only, so the
 *    cycles stay small.
 * Prints the time of each run, the components found and the memory taken.
 * Not a test: built with the unit tests, run by hand.
 */
#define _GNU_SOURCE 1
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "graph.h"
#include "scc.h"

static uint64_t rng_state;

/* xorshift64*: fast and good enough for a benchmark's shapes. */
static uint64_t next_random(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t below(uint64_t bound) {
    return (uint32_t)((next_random() >> 32) * bound >> 32);
}

/* A geometric-ish distance with the given mean (at least 0). */
static uint32_t geometric(uint32_t mean) {
    uint32_t d = 0;
    while (below(mean + 1) != 0 && d < 64 * mean)
        d++;
    return d;
}

static hl_graph *build_graph(size_t n, int heap_mode) {
    size_t n_containers = n * 6 / 10, n_leaves = n - n_containers;
    size_t capacity = 2 * n + 16;
    uint32_t *from = malloc(capacity * sizeof(uint32_t));
    uint32_t *to = malloc(capacity * sizeof(uint32_t));
    uint32_t *parent = malloc((n_containers ? n_containers : 1) * sizeof(uint32_t));
    if (from == NULL || to == NULL || parent == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    size_t m = 0;
#define EDGE(a, b)                                                                                 \
    do {                                                                                           \
        from[m] = (a);                                                                             \
        to[m] = (b);                                                                               \
        m++;                                                                                       \
    } while (0)
    /* The container tree. */
    parent[0] = 0;
    for (size_t i = 1; i < n_containers; i++) {
        uint32_t back = 1 + geometric(8);
        uint32_t p = below(100) < 85 ? (back > i ? 0 : (uint32_t)(i - back)) : below(i);
        parent[i] = p;
        EDGE(p, (uint32_t)i);
    }
    /* Leaves, handed out to containers in order. */
    for (size_t j = 0; j < n_leaves && n_containers; j++)
        EDGE((uint32_t)(j * n_containers / n_leaves), (uint32_t)(n_containers + j));
    /* Small cycles: an edge to an ancestor 1 to ~10 levels up (fewer in tree
     * mode, or their paths overlap into long components along the chains). */
    for (size_t k = 0; k < (heap_mode ? n / 5 : n / 50) && n_containers > 1; k++) {
        uint32_t i = 1 + below(n_containers - 1), a = i;
        for (uint32_t up = 1 + geometric(2); up > 0 && a != 0; up--)
            a = parent[a];
        EDGE(i, a);
    }
    /* The rest: shared early nodes and cross edges. */
    while (m < 2 * n && n_containers > 0) {
        uint32_t i = below(n_containers);
        if (heap_mode) {
            if (below(2) == 0)
                EDGE(i, below(n_containers < 256 ? n_containers : 256));
            else
                EDGE(i, below(n));
        } else {
            /* To a leaf: no new cycles. */
            EDGE(i, (uint32_t)(n_containers + below(n_leaves)));
        }
    }
#undef EDGE
    free(parent);

    /* Group by source (counting sort), then feed the graph in node order. */
    uint32_t *starts = calloc(n + 1, sizeof(uint32_t));
    uint32_t *targets = malloc((m ? m : 1) * sizeof(uint32_t));
    if (starts == NULL || targets == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t e = 0; e < m; e++)
        starts[from[e] + 1]++;
    for (size_t i = 0; i < n; i++)
        starts[i + 1] += starts[i];
    for (size_t e = 0; e < m; e++)
        targets[starts[from[e]]++] = to[e];
    free(from);
    free(to);
    hl_graph *graph = hl_graph_new(n, m);
    if (graph == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        hl_node_id id;
        if (hl_graph_add_new_node(graph, 16 * (i + 1), 0,
                                  i < n_containers ? HL_NODE_TRACKED : (uint8_t)0, &id) < 0) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    uint32_t begin = 0;
    for (size_t i = 0; i < n; i++) {
        for (uint32_t e = begin; e < starts[i]; e++) {
            if (hl_graph_add_edge(graph, targets[e]) < 0) {
                fprintf(stderr, "out of memory\n");
                exit(1);
            }
        }
        begin = starts[i];
        hl_graph_close_node(graph);
    }
    free(starts);
    free(targets);
    if (hl_graph_finish(graph) < 0) {
        fprintf(stderr, "graph not finished\n");
        exit(1);
    }
    return graph;
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
    int heap_mode = argc > 2 ? strcmp(argv[2], "tree") != 0 : 1;
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    rng_state = argc > 4 ? strtoull(argv[4], NULL, 10) : 88172645463325252ull;
    if (rng_state == 0)
        rng_state = 1;

    double start = now_seconds();
    hl_graph *graph = build_graph(n, heap_mode);
    printf("graph: %zu nodes, %zu edges (%s), %.1f MiB, built in %.2f s\n", hl_graph_n_nodes(graph),
           hl_graph_n_edges(graph), heap_mode ? "heap" : "tree",
           (double)hl_graph_memory(graph) / (1 << 20), now_seconds() - start);

    double best = 1e30;
    for (int run = 0; run < repeats; run++) {
        long rss_before = status_kb("VmRSS");
        int peak_ok = reset_peak_rss() == 0;
        hl_scc scc;
        start = now_seconds();
        if (hl_scc_compute(graph, HL_NODE_IGNORED | HL_NODE_VIRTUAL, &scc) < 0) {
            fprintf(stderr, "hl_scc_compute failed\n");
            return 1;
        }
        double elapsed = now_seconds() - start;
        long peak = status_kb("VmHWM");
        if (elapsed < best)
            best = elapsed;
        size_t largest = 0;
        for (size_t k = 0; k < scc.n_cycles; k++) {
            uint32_t c = scc.cycles[k];
            size_t size = scc.offsets[c + 1] - scc.offsets[c];
            if (size > largest)
                largest = size;
        }
        printf("run %d: %.3f s; %zu components, %zu cycles holding %zu nodes, largest %zu\n", run,
               elapsed, scc.n_components, scc.n_cycles, scc.n_cycle_members, largest);
        printf("  memory: result %.2f B/node, working %.2f B/node (allocated)",
               (double)hl_scc_memory(&scc) / (double)n, (double)scc.work_bytes / (double)n);
        if (peak_ok && peak >= 0 && rss_before >= 0)
            printf(", peak resident growth %.2f B/node",
                   (double)(peak - rss_before) * 1024.0 / (double)n);
        printf("\n");
        hl_scc_free(&scc);
    }
    printf("best: %.3f s\n", best);
    hl_graph_free(graph);
    return 0;
}
