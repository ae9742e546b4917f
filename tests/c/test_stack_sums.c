/* test_stack_sums.c - per-stack totals and the copy at the peak. */
#include <stdint.h>
#include <stdlib.h>

#include "hl_test.h"
#include "stack_sums.h"

static void test_add_subtract_and_clamp(void) {
    hl_stack_sums sums;
    ASSERT_EQ(hl_stack_sums_init(&sums), 0);
    hl_stack_sums_change(&sums, 3, 100, 2, +1);
    hl_stack_sums_change(&sums, 3, 40, 1, -1);
    ASSERT_U64_EQ(sums.now[3].bytes, 60);
    ASSERT_U64_EQ(sums.now[3].blocks, 1);
    hl_stack_sums_change(&sums, 3, 1000, 5, -1); /* more than there is */
    ASSERT_U64_EQ(sums.now[3].bytes, 0);
    ASSERT_U64_EQ(sums.total_bytes, 0);
    ASSERT_U64_EQ(sums.total_blocks, 0);
    hl_stack_sums_destroy(&sums);
}

/* A model check: random growth and shrinking; after every new high the
 * copy must equal the live sums exactly, and between highs it must not move. */
static void test_peak_copy_matches_a_full_copy(void) {
    hl_stack_sums sums;
    enum { N_STACKS = 5000 };
    static hl_stack_sum model_peak[N_STACKS];
    uint64_t rng = 12345, best = 0;
    ASSERT_EQ(hl_stack_sums_init(&sums), 0);
    ASSERT_EQ(hl_stack_sums_reserve(&sums, N_STACKS), 0);
    ASSERT_GE(sums.capacity, N_STACKS);
    for (int step = 0; step < 200000; step++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        uint32_t id = (uint32_t)(rng >> 33) % N_STACKS;
        uint64_t bytes = (rng >> 20) % 512 + 1;
        int grow = (step / 5000) % 2 == 0 ? (rng >> 60) < 11 : (rng >> 60) < 5;
        hl_stack_sums_change(&sums, id, bytes, 1, grow ? +1 : -1);
        if (sums.total_bytes > best) {
            best = sums.total_bytes;
            hl_stack_sums_save_peak(&sums);
            for (uint32_t s = 0; s < N_STACKS; s++)
                model_peak[s] = sums.now[s];
        }
        if (step % 997 == 0) {
            uint64_t total = 0;
            for (uint32_t s = 0; s < N_STACKS; s++) {
                ASSERT_U64_EQ(sums.at_peak[s].bytes, model_peak[s].bytes);
                ASSERT_U64_EQ(sums.at_peak[s].blocks, model_peak[s].blocks);
                total += sums.at_peak[s].bytes;
            }
            ASSERT_U64_EQ(total, best);
            ASSERT_U64_EQ(sums.peak_bytes, best);
        }
    }
    hl_stack_sums_clear(&sums);
    ASSERT_U64_EQ(sums.peak_bytes, 0);
    ASSERT_U64_EQ(sums.at_peak[1].bytes, 0);
    ASSERT_EQ(sums.n_changed, 0);
    hl_stack_sums_destroy(&sums);
}

static void test_reserve_keeps_amounts(void) {
    hl_stack_sums sums;
    ASSERT_EQ(hl_stack_sums_init(&sums), 0);
    hl_stack_sums_change(&sums, 255, 7, 1, +1);
    ASSERT_EQ(hl_stack_sums_reserve(&sums, 100000), 0);
    ASSERT_U64_EQ(sums.now[255].bytes, 7);
    ASSERT_U64_EQ(sums.now[99999].bytes, 0);
    ASSERT_EQ(sums.changed[255], 1);
    ASSERT_GT(hl_stack_sums_memory(&sums), 100000 * 32);
    hl_stack_sums_destroy(&sums);
}

int main(void) {
    RUN_TEST(test_add_subtract_and_clamp);
    RUN_TEST(test_peak_copy_matches_a_full_copy);
    RUN_TEST(test_reserve_keeps_amounts);
    TEST_SUMMARY("stack_sums");
}
