/* test_free_watch.c - unit tests of the freed-block watch (free_watch.c). */
#include <stdlib.h>

#include "free_watch.h"
#include "hl_test.h"

static void test_counts_only_watched_blocks_once(void) {
    hl_free_watch watch;
    ASSERT_EQ(hl_free_watch_init(&watch), 0);
    ASSERT_EQ(hl_free_watch_add(&watch, 0x1000, 7, 56), 0);
    ASSERT_EQ(hl_free_watch_add(&watch, 0x2000, 7, 64), 0);
    ASSERT_EQ(hl_free_watch_add(&watch, 0x3000, 9, 1000), 0);
    ASSERT_EQ(hl_free_watch_add(&watch, 0x3000, 1, 1), 0); /* a second add keeps the first */

    ASSERT_EQ(hl_free_watch_freed(&watch, 0x1000, 5), 1);
    ASSERT_EQ(hl_free_watch_freed(&watch, 0x1000, 5), 0); /* reused address, freed again */
    ASSERT_EQ(hl_free_watch_freed(&watch, 0x9000, 5), 0); /* never watched */
    ASSERT_EQ(hl_free_watch_freed(&watch, 0x2000, 5), 1);
    ASSERT_EQ(hl_free_watch_freed(&watch, 0x3000, HL_FREE_WATCH_NO_STACK), 1);

    const hl_free_tally_row *rows;
    ASSERT_EQ(hl_free_watch_tally(&watch, &rows), 2);
    ASSERT_EQ(rows[0].type, 9); /* most bytes first */
    ASSERT_EQ(rows[0].stack, HL_FREE_WATCH_NO_STACK);
    ASSERT_U64_EQ(rows[0].count, 1);
    ASSERT_U64_EQ(rows[0].bytes, 1000);
    ASSERT_EQ(rows[1].type, 7);
    ASSERT_EQ(rows[1].stack, 5);
    ASSERT_U64_EQ(rows[1].count, 2);
    ASSERT_U64_EQ(rows[1].bytes, 120);
    hl_free_watch_destroy(&watch);
}

static void test_moved_blocks_are_not_counted(void) {
    hl_free_watch watch;
    ASSERT_EQ(hl_free_watch_init(&watch), 0);
    ASSERT_EQ(hl_free_watch_add(&watch, 0x1000, 1, 10), 0);
    hl_free_watch_moved(&watch, 0x1000);
    ASSERT_EQ(hl_free_watch_freed(&watch, 0x1000, 3), 0);
    const hl_free_tally_row *rows;
    ASSERT_EQ(hl_free_watch_tally(&watch, &rows), 0);
    hl_free_watch_destroy(&watch);
}

static void test_reset_forgets_everything(void) {
    hl_free_watch watch;
    ASSERT_EQ(hl_free_watch_init(&watch), 0);
    for (uint64_t round = 0; round < 3; round++) {
        /* A big window (its tables are given back at reset), then a small one. */
        size_t n = round == 1 ? 100000 : 50;
        for (uint64_t i = 0; i < n; i++)
            ASSERT_EQ(hl_free_watch_add(&watch, 16 * (i + 1), (uint32_t)(i % 3), 16), 0);
        for (uint64_t i = 0; i < n; i += 2)
            ASSERT_EQ(hl_free_watch_freed(&watch, 16 * (i + 1), (uint32_t)round), 1);
        const hl_free_tally_row *rows;
        long n_rows = hl_free_watch_tally(&watch, &rows);
        ASSERT_EQ(n_rows, 3);
        uint64_t total = 0;
        for (long r = 0; r < n_rows; r++) {
            ASSERT_EQ(rows[r].stack, round);
            total += rows[r].count;
        }
        ASSERT_U64_EQ(total, (n + 1) / 2);
        ASSERT_EQ(hl_free_watch_reset(&watch), 0);
        ASSERT_EQ(hl_free_watch_freed(&watch, 16, 0), 0);
        ASSERT_EQ(hl_free_watch_tally(&watch, &rows), 0);
    }
    ASSERT_LT(hl_free_watch_memory(&watch), 200000);
    hl_free_watch_destroy(&watch);
}

static int judge_even_types_gone(uint64_t address, uint32_t type, void *arg, uint32_t *stack_out) {
    int *calls = arg;
    (*calls)++;
    *stack_out = (uint32_t)(address >> 4);
    return type % 2 == 0;
}

static void test_sweep_counts_what_the_judge_says_is_gone(void) {
    hl_free_watch watch;
    ASSERT_EQ(hl_free_watch_init(&watch), 0);
    for (uint32_t i = 0; i < 10; i++)
        ASSERT_EQ(hl_free_watch_add(&watch, 16 * (i + 1), i, 100), 0);
    ASSERT_EQ(hl_free_watch_freed(&watch, 16, 0), 1); /* type 0: freed already */
    hl_free_watch_moved(&watch, 32);                  /* type 1: moved, never judged */
    int calls = 0;
    /* Types 2, 4, 6, 8 are gone; 3, 5, 7, 9 live. */
    ASSERT_EQ(hl_free_watch_sweep_live(&watch, judge_even_types_gone, &calls), 4);
    ASSERT_EQ(calls, 8);
    const hl_free_tally_row *rows;
    ASSERT_EQ(hl_free_watch_tally(&watch, &rows), 5);
    for (int r = 0; r < 5; r++) {
        ASSERT_EQ(rows[r].type % 2, 0);
        ASSERT_EQ(rows[r].stack, rows[r].type == 0 ? 0 : rows[r].type + 1);
    }
    calls = 0;
    ASSERT_EQ(hl_free_watch_sweep_live(&watch, judge_even_types_gone, &calls), 0);
    ASSERT_EQ(calls, 4);
    hl_free_watch_destroy(&watch);
}

/* Random windows against a plain array model. */
static void test_random_windows_match_a_model(void) {
    enum { N = 2000, TYPES = 5, STACKS = 4 };
    static uint64_t sizes[N];
    static uint32_t types[N];
    static int freed[N];
    srand(7);
    hl_free_watch watch;
    ASSERT_EQ(hl_free_watch_init(&watch), 0);
    for (int round = 0; round < 20; round++) {
        uint64_t expect_count[TYPES][STACKS] = {{0}}, expect_bytes[TYPES][STACKS] = {{0}};
        static uint64_t addresses[N];
        for (int i = 0; i < N; i++) {
            sizes[i] = (uint64_t)(rand() % 500);
            types[i] = (uint32_t)(rand() % TYPES);
            freed[i] = 0;
            addresses[i] = 0x10000 + 32 * (uint64_t)i;
            if (round % 2 == 0)
                ASSERT_EQ(hl_free_watch_add(&watch, addresses[i], types[i], sizes[i]), 0);
        }
        if (round % 2 == 1) { /* the batched path, in uneven batches */
            for (int i = 0; i < N; i += 37) {
                size_t n = (size_t)(N - i < 37 ? N - i : 37);
                ASSERT_EQ(hl_free_watch_add_many(&watch, addresses + i, types + i, sizes + i, n),
                          0);
            }
        }
        if (round == 3)
            ASSERT_EQ(hl_free_watch_reserve(&watch, 3 * N), 0);
        for (int k = 0; k < N; k++) {
            int i = rand() % (N + 100); /* some frees are of unwatched addresses */
            uint32_t stack = (uint32_t)(rand() % STACKS);
            int counted = hl_free_watch_freed(&watch, 0x10000 + 32 * (uint64_t)i, stack);
            ASSERT_EQ(counted, i < N && !freed[i]);
            if (counted) {
                freed[i] = 1;
                expect_count[types[i]][stack]++;
                expect_bytes[types[i]][stack] += sizes[i];
            }
        }
        const hl_free_tally_row *rows;
        long n_rows = hl_free_watch_tally(&watch, &rows);
        ASSERT_GE(n_rows, 0);
        long expect_rows = 0;
        for (int t = 0; t < TYPES; t++)
            for (int s = 0; s < STACKS; s++)
                expect_rows += expect_count[t][s] > 0;
        ASSERT_EQ(n_rows, expect_rows);
        for (long r = 0; r < n_rows; r++) {
            ASSERT_U64_EQ(rows[r].count, expect_count[rows[r].type][rows[r].stack]);
            ASSERT_U64_EQ(rows[r].bytes, expect_bytes[rows[r].type][rows[r].stack]);
            if (r > 0)
                ASSERT_LE(rows[r].bytes, rows[r - 1].bytes);
        }
        ASSERT_EQ(hl_free_watch_reset(&watch), 0);
    }
    hl_free_watch_destroy(&watch);
}

int main(void) {
    RUN_TEST(test_counts_only_watched_blocks_once);
    RUN_TEST(test_moved_blocks_are_not_counted);
    RUN_TEST(test_reset_forgets_everything);
    RUN_TEST(test_sweep_counts_what_the_judge_says_is_gone);
    RUN_TEST(test_random_windows_match_a_model);
    return 0;
}
