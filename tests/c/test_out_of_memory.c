/* test_out_of_memory.c - every "returns -1 when out of memory" path of the core.
 *
 * SQLite's way: run an operation with its Nth allocation failing, for N = 1,
 * 2, ... until it runs with no allocation failed. Each time, check what the
 * contract comment promises: the call returns -1 (or NULL), the structure is
 * unchanged and still usable (the operation is retried without the failure
 * and then succeeds, and every earlier entry is still there), and nothing
 * leaks (the ASan build of `make ctest` runs with leak detection on). The
 * core is the copy built with HL_FAULT_INJECTION (meson.build), whose
 * allocations go through src/core/hl_alloc.h.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "dominators.h"
#include "free_watch.h"
#include "graph.h"
#include "hl_alloc.h"
#include "hl_test.h"
#include "live_table.h"
#include "scc.h"
#include "snapshot_data.h"
#include "stack_cache.h"
#include "stack_sums.h"
#include "stack_table.h"
#include "stats.h"
#include "timeline.h"
#include "u64_map.h"

static char errbuf[256];

/* How many failure points a test went through, printed with its name. */
static uint64_t points;

/* Arm the failure of allocation n; returns n for chaining in loops. */
static void arm(uint64_t n) {
    hl_fault_arm(n, 0);
}

/* Disarm; returns how many allocations were failed since arm(). */
static uint64_t disarm(void) {
    hl_fault_disarm();
    return hl_fault_injected();
}

/* ---- the knob itself --------------------------------------------------------- */

static void test_knob_counts_and_fails_the_nth(void) {
    arm(3);
    void *a = hl_malloc(8), *b = hl_calloc(1, 8), *c = hl_malloc(8), *d = hl_realloc(NULL, 8);
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    ASSERT_NULL(c);
    ASSERT_NOT_NULL(d);
    ASSERT_EQ(hl_fault_seen(), 4);
    ASSERT_EQ(disarm(), 1);
    hl_fault_arm(2, 1); /* persistent: the 2nd and every later one */
    void *e = hl_malloc(8), *f = hl_malloc(8), *g = hl_malloc(8);
    ASSERT_NOT_NULL(e);
    ASSERT_NULL(f);
    ASSERT_NULL(g);
    ASSERT_EQ(disarm(), 2);
    void *h = hl_malloc(8);
    ASSERT_NOT_NULL(h);
    hl_free(a), hl_free(b), hl_free(d), hl_free(e), hl_free(h);
}

/* ---- live table: init, insert (region grow, directory grow, big list) ------ */

enum { LIVE_N = 6000 };

static uintptr_t live_addr(size_t i) {
    /* The first 2000 blocks each in a region of its own, so the directory
     * grows (it starts at 1024 slots, at most half full); the rest 100 to a
     * region, so regions' tables grow. Every 7th block is big (its size goes
     * to the big list). */
    if (i < 2000)
        return ((uintptr_t)(i + 1) << HL_REGION_SHIFT) + 16;
    size_t j = i - 2000;
    return ((uintptr_t)(j / 100 + 5000) << HL_REGION_SHIFT) + 16 * (j % 100) + 16;
}

static uint64_t live_size(size_t i) {
    return i % 7 == 0 ? (UINT64_C(1) << 33) + i : 32 + i;
}

static void test_live_table(void) {
    for (uint64_t n = 1;; n++, points++) {
        hl_live_table t;
        arm(n);
        int rc = hl_live_table_init(&t, 0);
        size_t failed_at = LIVE_N;
        for (size_t i = 0; rc == 0 && i < LIVE_N; i++) {
            uint64_t count = t.count, bytes = t.total_bytes;
            int inserted = hl_live_table_insert(&t, live_addr(i), live_size(i), (uint32_t)i);
            if (inserted < 0) {
                /* unchanged: same totals, the block unknown, the others there */
                ASSERT_EQ(t.count, count);
                ASSERT_U64_EQ(t.total_bytes, bytes);
                ASSERT_EQ(hl_live_table_find(&t, live_addr(i), NULL, NULL), 0);
                failed_at = i;
                break;
            }
            ASSERT_EQ(inserted, 0);
        }
        uint64_t injected = disarm();
        if (rc < 0) {
            ASSERT_GT(injected, 0);
            hl_live_table_destroy(&t); /* "empty and safe to destroy" */
            continue;
        }
        /* still usable: finish the job without failures */
        for (size_t i = failed_at; i < LIVE_N; i++)
            ASSERT_EQ(hl_live_table_insert(&t, live_addr(i), live_size(i), (uint32_t)i), 0);
        ASSERT_EQ(t.count, LIVE_N);
        for (size_t i = 0; i < LIVE_N; i += 13) {
            uint64_t size;
            uint32_t word;
            ASSERT_EQ(hl_live_table_find(&t, live_addr(i), &size, &word), 1);
            ASSERT_U64_EQ(size, live_size(i));
            ASSERT_EQ(word, (uint32_t)i);
        }
        for (size_t i = 0; i < LIVE_N; i++)
            ASSERT_EQ(hl_live_table_remove(&t, live_addr(i), NULL, NULL), 1);
        ASSERT_EQ(t.count, 0);
        hl_live_table_destroy(&t);
        if (injected == 0)
            break;
        ASSERT_LT(failed_at, LIVE_N); /* a failure must show as -1 */
    }
}

/* Replacing a small block by a big one at the same address (a free the
 * table never saw) needs a big-list entry: when that fails, the old entry
 * stays as it was. */
static void test_live_table_replace_by_big(void) {
    for (uint64_t n = 1;; n++, points++) {
        hl_live_table t;
        ASSERT_EQ(hl_live_table_init(&t, 0), 0);
        for (size_t i = 0; i < 200; i++)
            ASSERT_EQ(hl_live_table_insert(&t, live_addr(i), 32, 1), 0);
        uint64_t bytes = t.total_bytes;
        size_t replaced = 0;
        arm(n);
        for (size_t i = 0; i < 200; i++) {
            int rc = hl_live_table_insert(&t, live_addr(i), (UINT64_C(1) << 33) + i, 2);
            uint64_t size;
            uint32_t word;
            ASSERT_EQ(hl_live_table_find(&t, live_addr(i), &size, &word), 1);
            if (rc < 0) {
                ASSERT_U64_EQ(size, 32); /* unchanged */
                ASSERT_EQ(word, 1);
            } else {
                ASSERT_EQ(rc, 1);
                ASSERT_U64_EQ(size, (UINT64_C(1) << 33) + i);
                bytes += size - 32;
                replaced++;
            }
        }
        uint64_t injected = disarm();
        ASSERT_U64_EQ(t.total_bytes, bytes);
        ASSERT_EQ(t.n_big, replaced);
        hl_live_table_destroy(&t);
        if (injected == 0) {
            ASSERT_EQ(replaced, 200);
            break;
        }
        ASSERT_LT(replaced, 200);
    }
}

/* ---- stack table: intern (entries, frame pool and index grow) -------------- */

enum { STACK_N = 3000 };

static uint16_t stack_frames(size_t i, hl_frame_ref *frames) {
    uint16_t nframe = (uint16_t)(1 + i % 9);
    for (uint16_t k = 0; k < nframe; k++) {
        frames[k].code = (const void *)(uintptr_t)(0x1000 + 16 * ((i + k) % 97));
        frames[k].lasti = (int32_t)(i * 31 + k);
        frames[k].reserved = 0;
    }
    return nframe;
}

static int intern(hl_stack_table *t, size_t i, hl_stack_id *id, int *is_new) {
    hl_frame_ref frames[16];
    uint16_t nframe = stack_frames(i, frames);
    return hl_stack_table_intern(t, frames, nframe, nframe, hl_stack_hash(frames, nframe, nframe),
                                 id, is_new);
}

static void test_stack_table(void) {
    for (uint64_t n = 1;; n++, points++) {
        hl_stack_table t;
        hl_stack_id id;
        int is_new;
        arm(n);
        int rc = hl_stack_table_init(&t);
        size_t failed_at = STACK_N;
        for (size_t i = 0; rc == 0 && i < STACK_N; i++) {
            uint32_t before = t.n_entries;
            size_t pool_before = t.pool_used;
            if (intern(&t, i, &id, &is_new) < 0) {
                ASSERT_EQ(t.n_entries, before);
                ASSERT_EQ(t.pool_used, pool_before);
                failed_at = i;
                break;
            }
            ASSERT_EQ(id, (hl_stack_id)i);
        }
        uint64_t injected = disarm();
        if (rc < 0) {
            ASSERT_GT(injected, 0);
            hl_stack_table_destroy(&t);
            continue;
        }
        for (size_t i = failed_at; i < STACK_N; i++) {
            ASSERT_EQ(intern(&t, i, &id, &is_new), 0);
            ASSERT_EQ(id, (hl_stack_id)i); /* the failed one got no id */
            ASSERT_EQ(is_new, 1);
        }
        for (size_t i = 0; i < STACK_N; i += 7) { /* every stack is found again */
            ASSERT_EQ(intern(&t, i, &id, &is_new), 0);
            ASSERT_EQ(id, (hl_stack_id)i);
            ASSERT_EQ(is_new, 0);
        }
        hl_stack_table_destroy(&t);
        if (injected == 0)
            break;
        ASSERT_LT(failed_at, STACK_N);
    }
}

/* ---- stack cache: init, put ------------------------------------------------- */

/* A put that cannot copy its frames leaves its slot empty (a later find
 * misses) and the other slots as they were. */
static void test_stack_cache(void) {
    enum { N = 40 };
    for (uint64_t n = 1;; n++, points++) {
        hl_stack_cache c;
        hl_stack_id id;
        arm(n);
        int rc = hl_stack_cache_init(&c, 64);
        int put[N] = {0};
        for (size_t i = 0; rc == 0 && i < N; i++) {
            hl_frame_ref frames[16];
            uint16_t nframe = stack_frames(i, frames);
            uint64_t hash = hl_stack_hash(frames, nframe, nframe);
            put[i] = hl_stack_cache_put(&c, hash, 1, frames, nframe, nframe, (hl_stack_id)i) == 0;
        }
        uint64_t injected = disarm();
        if (rc < 0) {
            ASSERT_GT(injected, 0);
            ASSERT_EQ(hl_stack_cache_memory(&c), 0);
            hl_stack_cache_destroy(&c);
            continue;
        }
        /* Later puts may have replaced earlier ones (direct-mapped): look up
         * in reverse, the newest put of each slot first. */
        uint64_t seen = 0;
        for (size_t i = N; i-- > 0;) {
            hl_frame_ref frames[16];
            uint16_t nframe = stack_frames(i, frames);
            uint64_t hash = hl_stack_hash(frames, nframe, nframe);
            uint64_t bit = (uint64_t)1 << (hash & 63);
            int found = hl_stack_cache_find(&c, hash, 1, frames, nframe, nframe, &id);
            if (!(seen & bit) && put[i]) {
                ASSERT_EQ(found, 1);
                ASSERT_EQ(id, (hl_stack_id)i);
            } else if (!(seen & bit)) {
                ASSERT_EQ(found, 0);
            }
            seen |= bit;
        }
        hl_stack_cache_destroy(&c);
        if (injected == 0)
            break;
    }
}

/* ---- u64 map: init, put, get_or_put, reserve ------------------------------- */

enum { MAP_N = 5000 };

static void test_u64_map(void) {
    for (uint64_t n = 1;; n++, points++) {
        hl_u64_map map;
        arm(n);
        int rc = hl_u64_map_init(&map, 4);
        size_t failed_at = MAP_N;
        for (size_t i = 0; rc == 0 && i < MAP_N; i++) {
            size_t count = map.count;
            uint32_t value;
            int inserted, r;
            if (i % 2)
                r = hl_u64_map_put(&map, 1000 + 3 * i, (uint32_t)i);
            else
                r = hl_u64_map_get_or_put(&map, 1000 + 3 * i, (uint32_t)i, &value, &inserted);
            if (r < 0) {
                ASSERT_EQ(map.count, count);
                ASSERT_EQ(hl_u64_map_get(&map, 1000 + 3 * i, &value), 0);
                failed_at = i;
                break;
            }
        }
        if (rc == 0 && failed_at == MAP_N && hl_u64_map_reserve(&map, 4 * MAP_N) < 0)
            ASSERT_EQ(map.count, MAP_N);
        uint64_t injected = disarm();
        if (rc < 0) {
            ASSERT_GT(injected, 0);
            hl_u64_map_destroy(&map);
            continue;
        }
        for (size_t i = failed_at; i < MAP_N; i++)
            ASSERT_EQ(hl_u64_map_put(&map, 1000 + 3 * i, (uint32_t)i), 0);
        for (size_t i = 0; i < MAP_N; i++) {
            uint32_t value;
            ASSERT_EQ(hl_u64_map_get(&map, 1000 + 3 * i, &value), 1);
            ASSERT_EQ(value, (uint32_t)i);
        }
        hl_u64_map_destroy(&map);
        if (injected == 0)
            break;
    }
}

/* ---- stack sums: init, reserve -------------------------------------------- */

static void test_stack_sums(void) {
    for (uint64_t n = 1;; n++, points++) {
        hl_stack_sums sums;
        arm(n);
        int rc = hl_stack_sums_init(&sums);
        uint32_t reached = 0;
        for (uint32_t want = 1; rc == 0 && want <= 1u << 14; want *= 4) {
            uint32_t capacity = sums.capacity;
            if (hl_stack_sums_reserve(&sums, want) < 0) {
                ASSERT_EQ(sums.capacity, capacity);
                break;
            }
            ASSERT_GE(sums.capacity, want);
            hl_stack_sums_change(&sums, want - 1, 10, 1, +1);
            reached = want;
        }
        uint64_t injected = disarm();
        if (rc < 0) {
            hl_stack_sums_destroy(&sums);
            continue;
        }
        /* what was recorded before the failure is intact */
        uint64_t expected = 0;
        for (uint32_t want = 1; want <= reached; want *= 4) {
            ASSERT_U64_EQ(sums.now[want - 1].bytes, 10);
            expected += 10;
        }
        ASSERT_U64_EQ(sums.total_bytes, expected);
        ASSERT_EQ(hl_stack_sums_reserve(&sums, 1u << 14), 0);
        hl_stack_sums_save_peak(&sums);
        hl_stack_sums_destroy(&sums);
        if (injected == 0)
            break;
    }
}

/* ---- snapshot data and statistics ------------------------------------------ */

/* A small valid snapshot: 3 files, 6 frames, 5 stacks, 40 traces in 2 domains. */
static void make_snapshot(hl_snapshot_data *d) {
    static const char text[] = "a.pyb.pyc.py";
    hl_snapshot_data_init(d);
    d->n_strings = 3;
    d->string_offsets = malloc(4 * sizeof(uint64_t));
    d->string_bytes = malloc(sizeof(text));
    ASSERT_NOT_NULL(d->string_offsets);
    ASSERT_NOT_NULL(d->string_bytes);
    memcpy(d->string_bytes, text, sizeof(text));
    for (int i = 0; i <= 3; i++)
        d->string_offsets[i] = 4 * (uint64_t)i;
    d->n_frames = 6;
    d->frames = malloc(6 * sizeof(hl_frame));
    ASSERT_NOT_NULL(d->frames);
    for (uint32_t i = 0; i < 6; i++)
        d->frames[i] = (hl_frame){i % 3, (int32_t)(10 + i)};
    d->n_stacks = 5;
    d->stacks = malloc(5 * sizeof(hl_stack));
    d->n_stack_frames = 10;
    d->stack_frames = malloc(10 * sizeof(uint32_t));
    ASSERT_NOT_NULL(d->stacks);
    ASSERT_NOT_NULL(d->stack_frames);
    for (uint32_t i = 0; i < 5; i++) {
        d->stacks[i] = (hl_stack){2 * i, 2, 3};
        d->stack_frames[2 * i] = i;
        d->stack_frames[2 * i + 1] = (i + 1) % 6;
    }
    d->n_traces = 40;
    d->traces = malloc(40 * sizeof(hl_trace_record));
    ASSERT_NOT_NULL(d->traces);
    d->trace_counts = malloc(40 * sizeof(uint64_t)); /* aggregated: filters copy counts too */
    ASSERT_NOT_NULL(d->trace_counts);
    for (uint32_t i = 0; i < 40; i++) {
        d->traces[i] = (hl_trace_record){100 + i, i % 5, i % 2};
        d->trace_counts[i] = 1 + i % 3;
    }
    d->traceback_limit = 2;
    char detail[256];
    if (hl_snapshot_data_validate(d, detail, sizeof(detail)) < 0)
        HL__FAIL("test snapshot invalid: %s", detail);
}

static void test_snapshot_validate_and_stats(void) {
    hl_snapshot_data d;
    make_snapshot(&d);
    for (uint64_t n = 1;; n++, points++) {
        hl_stat_group *groups = (hl_stat_group *)&groups; /* must be reset */
        uint32_t *domains = (uint32_t *)&domains;
        size_t n_groups = 99, n_domains = 99;
        hl_snapshot_data filtered;
        uint8_t keep[2 * 5];
        uint32_t both[2] = {0, 1};
        memset(keep, 1, sizeof(keep));
        keep[3] = 0;
        hl_snapshot_data_init(&filtered);

        arm(n);
        int validate = hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf));
        int grouped = hl_stats_group(&d, HL_STATS_BY_LINENO, 1, &groups, &n_groups);
        int listed = hl_stats_domains(&d, &domains, &n_domains);
        int copied = hl_stats_filter(&d, both, 2, keep, &filtered);
        uint64_t injected = disarm();

        /* validate may fail for memory only, with a message saying so */
        if (validate < 0)
            ASSERT_TRUE(strstr(errbuf, "memory") != NULL);
        if (grouped < 0)
            ASSERT_NULL(groups);
        else
            ASSERT_EQ(n_groups, 6);
        if (listed < 0)
            ASSERT_NULL(domains);
        else
            ASSERT_EQ(n_domains, 2);
        if (copied < 0) {
            ASSERT_EQ(filtered.n_traces, 0); /* "left empty" */
            ASSERT_NULL(filtered.traces);
            ASSERT_NULL(filtered.stacks);
        } else {
            ASSERT_EQ(filtered.n_traces, 36); /* traces 8, 18, 28, 38: domain 0, stack 3 */
        }
        if (grouped == 0)
            free(groups);
        if (listed == 0)
            free(domains);
        hl_snapshot_data_clear(&filtered);
        if (injected == 0) {
            ASSERT_EQ(validate + grouped + listed + copied, 0);
            break;
        }
        ASSERT_TRUE(validate < 0 || grouped < 0 || listed < 0 || copied < 0);
    }
    hl_snapshot_data_clear(&d);
}

/* ---- the heap graph: build, reverse index, CSR, queries, SCC, dominators --- */

enum { GRAPH_N = 3000 };

/* Build a graph of GRAPH_N nodes: a chain with a back edge every 10 nodes
 * (cycles) and an edge from every node to node 0. Returns NULL when out of
 * memory (everything built so far freed). */
static hl_graph *build_graph(void) {
    hl_graph *graph = hl_graph_new(4, 4);
    if (graph == NULL)
        return NULL;
    for (size_t i = 0; i < GRAPH_N; i++) {
        hl_node_id id;
        int is_new;
        if (hl_graph_add_node(graph, 64 * (i + 1), (uint32_t)(i % 4), HL_NODE_TRACKED, &id,
                              &is_new) < 0)
            goto fail;
        ASSERT_EQ(id, (hl_node_id)i);
        /* node 5's size does not fit in 32 bits: it goes to a side table */
        hl_graph_set_size(graph, id, i == 5 ? UINT64_C(5) << 32 : 8 + i);
    }
    for (size_t i = 0; i < GRAPH_N; i++) {
        if (i + 1 < GRAPH_N && hl_graph_add_edge(graph, (hl_node_id)(i + 1)) < 0)
            goto fail;
        if (i % 10 == 9 && hl_graph_add_edge(graph, (hl_node_id)(i - 9)) < 0)
            goto fail;
        if (i % 3 == 0 && hl_graph_add_edge(graph, 0) < 0)
            goto fail;
        hl_graph_close_node(graph);
    }
    ASSERT_EQ(hl_graph_finish(graph), 0);
    return graph;

fail:
    hl_graph_free(graph);
    return NULL;
}

static void test_graph_build(void) {
    for (uint64_t n = 1;; n++, points++) {
        arm(n);
        hl_graph *graph = build_graph();
        uint64_t injected = disarm();
        if (graph == NULL) {
            ASSERT_GT(injected, 0);
            continue;
        }
        ASSERT_EQ(hl_graph_n_nodes(graph), GRAPH_N);
        ASSERT_EQ(hl_graph_find(graph, 64 * 77), 76);
        /* exact, or (no room in the side table) the largest size it can say */
        if (hl_graph_size(graph, 5) != UINT64_C(5) << 32)
            ASSERT_U64_EQ(hl_graph_size(graph, 5), UINT32_MAX - 1);
        if (injected == 0)
            ASSERT_U64_EQ(hl_graph_size(graph, 5), UINT64_C(5) << 32);
        hl_graph_free(graph);
        if (injected == 0)
            break;
    }
}

static void test_graph_queries(void) {
    hl_graph *graph = build_graph();
    ASSERT_NOT_NULL(graph);
    for (uint64_t n = 1;; n++, points++) {
        size_t count;
        hl_node_id *path = NULL;
        size_t length = 0;
        static uint8_t marks[GRAPH_N];
        marks[50] = 1;
        hl_graph_path_query query = {.start = 50,
                                     .backward = 0,
                                     .target_flags = 0,
                                     .target_marks = marks,
                                     .max_depth = -1,
                                     .start_is_not_target = 1};

        arm(n);
        int marked = hl_graph_mark_unreferenced(graph, HL_NODE_TRACKED, HL_NODE_TRACKED, &count);
        int found = hl_graph_shortest_path(graph, &query, &path, &length); /* a cycle back to 50 */
        int reversed = hl_graph_build_reverse(graph);
        uint64_t injected = disarm();

        if (marked == 0)
            ASSERT_EQ(count, 0); /* every node is referred to */
        if (found < 0)
            ASSERT_NULL(path);
        else {
            ASSERT_EQ(found, 1);
            ASSERT_EQ(length, 11); /* 50 -> 51 ... 59 -> 50 */
            ASSERT_EQ(path[0], 50);
            ASSERT_EQ(path[length - 1], 50);
            free(path);
        }
        const uint32_t *offsets;
        const hl_node_id *edges;
        if (reversed < 0) {
            /* unchanged: no reverse index, the forward one intact */
            ASSERT_EQ(hl_graph_csr(graph, 1, &offsets, &edges), -1);
            ASSERT_NULL(offsets);
        } else {
            ASSERT_EQ(hl_graph_csr(graph, 1, &offsets, &edges), 0);
            hl_graph_in_edges(graph, 0, &count);
            ASSERT_EQ(count, 1001); /* from the nodes i % 3 == 0, and from node 9 */
        }
        ASSERT_EQ(hl_graph_csr(graph, 0, &offsets, &edges), 0);
        int back = 1;
        if (reversed == 0) { /* who refers to 55, back to 50: 50 -> 51 ... -> 55 */
            hl_graph_path_query from_55 = {
                .start = 55, .backward = 1, .target_marks = marks, .max_depth = -1};
            arm(n);
            back = hl_graph_shortest_path(graph, &from_55, &path, &length);
            injected += disarm();
            if (back < 0) {
                ASSERT_NULL(path);
            } else {
                ASSERT_EQ(back, 1);
                ASSERT_EQ(length, 6);
                ASSERT_EQ(path[0], 50);
                free(path);
            }
        }
        if (injected == 0) {
            ASSERT_EQ(back, 1);
            ASSERT_EQ(marked + reversed, 0);
            ASSERT_EQ(found, 1);
            break;
        }
        ASSERT_TRUE(marked < 0 || found < 0 || reversed < 0 || back < 0);
    }
    hl_graph_free(graph);
}

static void test_scc_and_dominators(void) {
    for (uint64_t n = 1;; n++, points++) {
        /* a fresh graph each time: the reverse index that the dominators
         * build must be built (and fail) here too */
        hl_graph *graph = build_graph();
        ASSERT_NOT_NULL(graph);
        hl_scc scc;
        hl_dominators *dominators = (hl_dominators *)&dominators;
        hl_node_id root = 0, top[5];
        hl_type_retained rows[4];

        arm(n);
        int sccs = hl_scc_compute(graph, 0, &scc);
        int doms = hl_dominators_compute(graph, &root, 1, 0, &dominators);
        int by_type =
            doms == 0 ? hl_dominators_retained_by_type(dominators, graph, 0, 4, rows) : -1;
        int children = doms == 0 ? hl_dominators_build_children(dominators) : -1;
        uint64_t injected = disarm();

        if (sccs < 0) {
            ASSERT_NULL(scc.component); /* nothing half-built left to free */
            ASSERT_NULL(scc.members);
        } else {
            ASSERT_EQ(scc.n_nodes, GRAPH_N);
            ASSERT_GT(scc.n_cycles, 0);
        }
        hl_scc_free(&scc);
        if (doms < 0) {
            ASSERT_NULL(dominators);
        } else {
            ASSERT_EQ(hl_dominators_n_reachable(dominators), GRAPH_N);
            ASSERT_EQ(hl_dominators_top(dominators, 5, top), 5);
            if (children < 0) /* unchanged: build it again without failure */
                ASSERT_EQ(hl_dominators_build_children(dominators), 0);
            size_t count;
            hl_dominators_children(dominators, HL_DOMINATOR_ROOT, &count);
            ASSERT_EQ(count, 1);
            hl_dominators_free(dominators);
        }
        if (injected == 0) {
            ASSERT_EQ(sccs + doms + children + by_type, 0);
            hl_graph_free(graph);
            break;
        }
        /* All four may succeed with a failure injected: the SCC result gives
         * its spare pages back with a shrinking realloc, and keeps them when
         * that fails. The results were checked above either way. */
        hl_graph_free(graph);
    }
}

/* ---- capture: writer (memory and file) and reader --------------------------- */

static int write_capture(const hl_snapshot_data *d, hl_capture_writer *writer, uint8_t **buf,
                         size_t *len) {
    if (writer == NULL)
        return -1;
    if (hl_capture_writer_add_info(writer, "python", "3.x", errbuf, sizeof(errbuf)) < 0 ||
        hl_capture_writer_add_snapshot(writer, "peak", d, errbuf, sizeof(errbuf)) < 0 ||
        hl_capture_writer_add_snapshot(writer, "exit", d, errbuf, sizeof(errbuf)) < 0) {
        hl_capture_writer_abort(writer);
        return -1;
    }
    return hl_capture_writer_finish(writer, buf, len, errbuf, sizeof(errbuf));
}

static void test_capture_write_and_read(void) {
    static const char path[] = "test_oom_capture.hlc";
    hl_snapshot_data d;
    uint8_t *good;
    size_t good_len;

    make_snapshot(&d);
    ASSERT_EQ(
        write_capture(&d, hl_capture_writer_open_memory(errbuf, sizeof(errbuf)), &good, &good_len),
        0);
    remove(path);
    for (uint64_t n = 1;; n++, points++) {
        uint8_t *buf = NULL;
        size_t len = 0;
        hl_capture capture;

        arm(n);
        int in_memory =
            write_capture(&d, hl_capture_writer_open_memory(errbuf, sizeof(errbuf)), &buf, &len);
        int in_memory_errno = hl_capture_os_errno();
        int to_file = write_capture(&d, hl_capture_writer_open_file(path, errbuf, sizeof(errbuf)),
                                    NULL, NULL);
        int to_file_errno = hl_capture_os_errno();
        int read_back =
            hl_capture_read_file_all("test_oom_good.hlc", &capture, errbuf, sizeof(errbuf));
        int read_errno = hl_capture_os_errno();
        uint64_t injected = disarm();

        /* a failure for memory says so with ENOMEM (the binding's MemoryError),
         * never as a bad snapshot or a bad file */
        if (in_memory < 0)
            ASSERT_EQ(in_memory_errno, ENOMEM);
        if (to_file < 0)
            ASSERT_EQ(to_file_errno, ENOMEM);
        if (read_back < 0 && n > 1)
            ASSERT_EQ(read_errno, ENOMEM);

        if (in_memory < 0) {
            ASSERT_NULL(buf);
        } else {
            ASSERT_EQ(len, good_len);
            ASSERT_EQ(memcmp(buf, good, len), 0);
            free(buf);
        }
        /* a failed file write leaves neither the file nor its .part */
        ASSERT_EQ(access(path, F_OK) == 0, to_file == 0);
        ASSERT_EQ(access("test_oom_capture.hlc.part", F_OK), -1);
        if (to_file == 0)
            ASSERT_EQ(remove(path), 0);
        if (read_back < 0) {
            ASSERT_EQ(capture.n_snapshots, 0);
            ASSERT_NULL(capture.snapshots);
        } else {
            ASSERT_EQ(capture.n_snapshots, 2);
            ASSERT_EQ(capture.snapshots[1].data.n_traces, 40);
            hl_capture_clear(&capture);
        }
        if (n == 1) { /* the file the reader reads, once the knob has been seen to work */
            FILE *f = fopen("test_oom_good.hlc", "wb");
            ASSERT_NOT_NULL(f);
            ASSERT_EQ(fwrite(good, 1, good_len, f), good_len);
            ASSERT_EQ(fclose(f), 0);
            continue;
        }
        if (injected == 0) {
            ASSERT_EQ(in_memory + to_file + read_back, 0);
            break;
        }
        ASSERT_TRUE(in_memory < 0 || to_file < 0 || read_back < 0);
    }
    /* decoding from a buffer, alone */
    for (uint64_t n = 1;; n++, points++) {
        hl_capture capture;
        arm(n);
        int all = hl_capture_decode_all(good, good_len, &capture, errbuf, sizeof(errbuf));
        uint64_t injected = disarm();
        if (all < 0) {
            ASSERT_TRUE(strstr(errbuf, "memory") != NULL);
            ASSERT_EQ(hl_capture_os_errno(), ENOMEM);
            ASSERT_EQ(capture.n_snapshots, 0);
        } else {
            hl_capture_clear(&capture);
        }
        if (injected == 0) {
            ASSERT_EQ(all, 0);
            break;
        }
        ASSERT_EQ(all, -1);
    }
    ASSERT_EQ(remove("test_oom_good.hlc"), 0);
    free(good);
    hl_snapshot_data_clear(&d);
}

/* ---- small ones: timeline, free watch ------------------------------------- */

static void test_timeline_and_free_watch(void) {
    for (uint64_t n = 1;; n++, points++) {
        hl_timeline timeline;
        hl_free_watch watch;
        const hl_free_tally_row *rows;
        memset(&watch, 0, sizeof(watch));

        arm(n);
        int timeline_rc = hl_timeline_init(&timeline, 64, 0, 1000);
        int watch_rc = hl_free_watch_init(&watch);
        int added = 0;
        int reserved = watch_rc == 0 ? hl_free_watch_reserve(&watch, 64) : -1;
        uint64_t many[10] = {1 << 20, 2 << 20, 3 << 20, 4 << 20, 5 << 20,
                             6 << 20, 7 << 20, 8 << 20, 9 << 20, 10 << 20};
        uint32_t many_types[10] = {0};
        int many_rc =
            watch_rc == 0 ? hl_free_watch_add_many(&watch, many, many_types, many, 10) : -1;
        for (uint64_t i = 0; watch_rc == 0 && i < 2000; i++) {
            uint64_t dropped = watch.dropped;
            if (hl_free_watch_add(&watch, 4096 + 64 * i, (uint32_t)(i % 5), 64) < 0) {
                ASSERT_EQ(watch.dropped, dropped + 1); /* counted, not recorded */
                break;
            }
            added++;
        }
        for (int i = 0; watch_rc == 0 && i < added; i += 2)
            (void)hl_free_watch_freed(&watch, 4096 + 64 * (uint64_t)i, 7);
        long n_rows = watch_rc == 0 ? hl_free_watch_tally(&watch, &rows) : -1;
        uint64_t injected = disarm();

        if (timeline_rc == 0)
            hl_timeline_destroy(&timeline);
        if (n_rows < 0 && watch_rc == 0)
            ASSERT_NULL(rows);
        hl_free_watch_destroy(&watch); /* safe after a failed init too */
        if (injected == 0) {
            ASSERT_EQ(timeline_rc + watch_rc + reserved + many_rc, 0);
            ASSERT_EQ(added, 2000);
            ASSERT_GT(n_rows, 0);
            break;
        }
    }
}

#define RUN_OOM_TEST(fn)                                                                           \
    do {                                                                                           \
        points = 0;                                                                                \
        RUN_TEST(fn);                                                                              \
        fprintf(stderr, "    (%" PRIu64 " allocation failures tried)\n", points);                  \
    } while (0)

int main(void) {
    RUN_TEST(test_knob_counts_and_fails_the_nth);
    RUN_OOM_TEST(test_live_table);
    RUN_OOM_TEST(test_live_table_replace_by_big);
    RUN_OOM_TEST(test_stack_table);
    RUN_OOM_TEST(test_stack_cache);
    RUN_OOM_TEST(test_u64_map);
    RUN_OOM_TEST(test_stack_sums);
    RUN_OOM_TEST(test_snapshot_validate_and_stats);
    RUN_OOM_TEST(test_graph_build);
    RUN_OOM_TEST(test_graph_queries);
    RUN_OOM_TEST(test_scc_and_dominators);
    RUN_OOM_TEST(test_capture_write_and_read);
    RUN_OOM_TEST(test_timeline_and_free_watch);
    TEST_SUMMARY("test_out_of_memory");
}
