/* Unit tests of stats.c on a small hand-made snapshot:
 *   strings: 0 "a.py", 1 "b.py"
 *   frames:  0 a.py:1, 1 a.py:2, 2 b.py:7
 *   stacks:  0 [0], 1 [1, 2], 2 [2, 2, 0] (recursion through b.py:7)
 *   traces:  stack 0: 10 + 20 bytes; stack 1: 5 (domain 3); stack 2: 100
 */
#include "stats.h"

#include <stdlib.h>

#include "hl_test.h"

static uint64_t offsets[] = {0, 4, 8};
static char bytes[] = "a.pyb.py";
static hl_frame frames[] = {{0, 1}, {0, 2}, {1, 7}};
static hl_stack stacks[] = {{0, 1, 1}, {1, 2, 2}, {3, 3, 9}};
static uint32_t stack_frames[] = {0, 1, 2, 2, 2, 0};
static hl_trace_record traces[] = {{10, 0, 0}, {20, 0, 0}, {5, 1, 3}, {100, 2, 0}};

static hl_snapshot_data sample(void) {
    hl_snapshot_data d;
    hl_snapshot_data_init(&d);
    d.n_strings = 2;
    d.string_offsets = offsets;
    d.string_bytes = bytes;
    d.n_frames = 3;
    d.frames = frames;
    d.n_stacks = 3;
    d.stacks = stacks;
    d.n_stack_frames = 6;
    d.stack_frames = stack_frames;
    d.n_traces = 4;
    d.traces = traces;
    d.traceback_limit = 3;
    return d;
}

static void expect(const hl_stat_group *g, uint32_t key, uint64_t size, uint64_t count) {
    ASSERT_EQ(g->key, key);
    ASSERT_U64_EQ(g->size, size);
    ASSERT_U64_EQ(g->count, count);
}

static void test_group_by_traceback(void) {
    hl_snapshot_data d = sample();
    hl_stat_group *g;
    size_t n;
    ASSERT_EQ(hl_stats_group(&d, HL_STATS_BY_TRACEBACK, 0, &g, &n), 0);
    ASSERT_EQ(n, 3);
    expect(&g[0], 0, 30, 2);
    expect(&g[1], 1, 5, 1);
    expect(&g[2], 2, 100, 1);
    free(g);
    ASSERT_EQ(hl_stats_group(&d, HL_STATS_BY_TRACEBACK, 1, &g, &n), -1);
}

static void test_group_by_lineno_and_filename(void) {
    hl_snapshot_data d = sample();
    hl_stat_group *g;
    size_t n;
    ASSERT_EQ(hl_stats_group(&d, HL_STATS_BY_LINENO, 0, &g, &n), 0);
    ASSERT_EQ(n, 3);
    expect(&g[0], 0, 30, 2);
    expect(&g[1], 1, 5, 1);
    expect(&g[2], 2, 100, 1);
    free(g);
    ASSERT_EQ(hl_stats_group(&d, HL_STATS_BY_FILENAME, 0, &g, &n), 0);
    ASSERT_EQ(n, 2);
    expect(&g[0], 0, 35, 3);
    expect(&g[1], 1, 100, 1);
    free(g);
}

static void test_cumulative_counts_every_frame(void) {
    hl_snapshot_data d = sample();
    hl_stat_group *g;
    size_t n;
    ASSERT_EQ(hl_stats_group(&d, HL_STATS_BY_LINENO, 1, &g, &n), 0);
    ASSERT_EQ(n, 3);
    expect(&g[0], 0, 30 + 100, 3);
    expect(&g[1], 1, 5, 1);
    expect(&g[2], 2, 5 + 200, 3); /* recursion counts twice, as tracemalloc does */
    free(g);
    ASSERT_EQ(hl_stats_group(&d, HL_STATS_BY_FILENAME, 1, &g, &n), 0);
    ASSERT_EQ(n, 2);
    expect(&g[0], 0, 30 + 5 + 100, 4);
    expect(&g[1], 1, 5 + 200, 3);
    free(g);
}

static void test_domains_and_filter(void) {
    hl_snapshot_data d = sample();
    uint32_t *domains;
    size_t n;
    ASSERT_EQ(hl_stats_domains(&d, &domains, &n), 0);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(domains[0], 0);
    ASSERT_EQ(domains[1], 3);
    /* keep domain 0 stacks 0 and 2, drop domain 3 entirely */
    uint8_t keep[] = {1, 0, 1, 0, 0, 0};
    hl_snapshot_data out;
    ASSERT_EQ(hl_stats_filter(&d, domains, n, keep, &out), 0);
    ASSERT_EQ(out.n_traces, 3);
    ASSERT_EQ(out.traces[2].size, 100);
    ASSERT_EQ(out.n_frames, 3);
    ASSERT_EQ(out.traceback_limit, 3);
    char err[128];
    ASSERT_EQ(hl_snapshot_data_validate(&out, err, sizeof err), 0);
    hl_snapshot_data_clear(&out);
    /* a domain missing from the list drops its traces */
    uint32_t only3 = 3;
    uint8_t keep3[] = {1, 1, 1};
    ASSERT_EQ(hl_stats_filter(&d, &only3, 1, keep3, &out), 0);
    ASSERT_EQ(out.n_traces, 1);
    ASSERT_EQ(out.traces[0].domain, 3);
    hl_snapshot_data_clear(&out);
    free(domains);
}

int main(void) {
    RUN_TEST(test_group_by_traceback);
    RUN_TEST(test_group_by_lineno_and_filename);
    RUN_TEST(test_cumulative_counts_every_frame);
    RUN_TEST(test_domains_and_filter);
    TEST_SUMMARY("test_stats");
}
