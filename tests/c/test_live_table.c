/* Unit tests of live_table.c: basic operations, big sizes, growth across
 * regions, iteration, and a randomized comparison against a plain array. */
#include "live_table.h"

#include "hl_test.h"

static void test_insert_find_remove(void) {
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    ASSERT_EQ(hl_live_table_insert(&t, 0x1000, 48, HL_STACK_WORD(7, 2)), 0);
    uint64_t size = 0;
    uint32_t word = 0;
    ASSERT_EQ(hl_live_table_find(&t, 0x1000, &size, &word), 1);
    ASSERT_U64_EQ(size, 48);
    ASSERT_EQ(HL_STACK_WORD_ID(word), 7);
    ASSERT_EQ(HL_STACK_WORD_DOMAIN(word), 2);
    ASSERT_EQ(hl_live_table_find(&t, 0x2000, NULL, NULL), 0);
    ASSERT_EQ(hl_live_table_insert(&t, 0x1000, 64, HL_STACK_WORD(8, 1)), 1); /* replace */
    ASSERT_U64_EQ(t.replaced_size, 48);
    ASSERT_EQ(t.replaced_stack_word, HL_STACK_WORD(7, 2));
    ASSERT_EQ(t.count, 1);
    ASSERT_U64_EQ(t.total_bytes, 64);
    ASSERT_EQ(hl_live_table_remove(&t, 0x1000, &size, &word), 1);
    ASSERT_U64_EQ(size, 64);
    ASSERT_EQ(hl_live_table_remove(&t, 0x1000, NULL, NULL), 0);
    ASSERT_EQ(t.count, 0);
    ASSERT_U64_EQ(t.total_bytes, 0);
    hl_live_table_destroy(&t);
}

static void test_big_sizes(void) {
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    uint64_t huge = UINT64_C(5) << 32;
    ASSERT_EQ(hl_live_table_insert(&t, 0x10, huge, 1), 0);
    ASSERT_EQ(hl_live_table_insert(&t, 0x20, UINT32_MAX, 1), 0); /* exactly the marker */
    uint64_t size;
    ASSERT_EQ(hl_live_table_find(&t, 0x10, &size, NULL), 1);
    ASSERT_U64_EQ(size, huge);
    ASSERT_EQ(hl_live_table_find(&t, 0x20, &size, NULL), 1);
    ASSERT_U64_EQ(size, UINT32_MAX);
    ASSERT_U64_EQ(t.total_bytes, huge + UINT32_MAX);
    ASSERT_EQ(hl_live_table_insert(&t, 0x10, 8, 1), 1); /* big replaced by small */
    ASSERT_U64_EQ(t.replaced_size, huge);
    ASSERT_EQ(t.n_big, 1);
    ASSERT_EQ(hl_live_table_remove(&t, 0x20, &size, NULL), 1);
    ASSERT_U64_EQ(size, UINT32_MAX);
    ASSERT_EQ(t.n_big, 0);
    ASSERT_U64_EQ(t.total_bytes, 8);
    hl_live_table_destroy(&t);
}

static void test_growth_keeps_everything(void) {
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    for (uintptr_t i = 1; i <= 100000; i++)
        ASSERT_EQ(hl_live_table_insert(&t, i * 16, i, (uint32_t)i), 0);
    ASSERT_EQ(t.count, 100000);
    ASSERT_GT(t.n_regions, 1);
    for (uintptr_t i = 1; i <= 100000; i += 7) {
        uint32_t word;
        ASSERT_EQ(hl_live_table_find(&t, i * 16, NULL, &word), 1);
        ASSERT_EQ(word, i);
    }
    /* Remove every other one: backward shifting must keep the rest findable. */
    for (uintptr_t i = 1; i <= 100000; i += 2)
        ASSERT_EQ(hl_live_table_remove(&t, i * 16, NULL, NULL), 1);
    for (uintptr_t i = 1; i <= 100000; i++)
        ASSERT_EQ(hl_live_table_find(&t, i * 16, NULL, NULL), (int)(i % 2 == 0));
    /* iteration sees every remaining block exactly once */
    hl_live_iter iter = {0, 0};
    uintptr_t addr;
    uint64_t size;
    uint32_t word;
    size_t seen = 0;
    uint64_t sum = 0;
    while (hl_live_table_next(&t, &iter, &addr, &size, &word)) {
        ASSERT_EQ(addr % 32, 0);
        ASSERT_EQ(size, addr / 16);
        seen++;
        sum += size;
    }
    ASSERT_EQ(seen, 50000);
    ASSERT_U64_EQ(sum, t.total_bytes);
    ASSERT_EQ(hl_live_table_clear(&t), 0);
    ASSERT_EQ(t.count, 0);
    ASSERT_EQ(t.n_regions, 0);
    ASSERT_EQ(hl_live_table_find(&t, 32, NULL, NULL), 0);
    hl_live_table_destroy(&t);
}

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng_state = UINT64_C(0x9E3779B97F4A7C15);
static uint64_t rng(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

#define MODEL_ADDRS 3000
static uint64_t model_size[MODEL_ADDRS]; /* 0: not live */
static uint32_t model_word[MODEL_ADDRS];

/* Drive the table with random allocations and frees over a small address
 * space (so addresses are reused often, as pymalloc does) and compare it with
 * the model after every step that makes it exact. */
/* Drive the table with random allocations and frees over a small address
 * space spread across several regions (so addresses are reused often, as
 * pymalloc does, and regions come and go) and compare it with the model. */
static void test_model(void) {
    hl_live_table t;
    memset(model_size, 0, sizeof model_size);
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    for (int step = 0; step < 400000; step++) {
        size_t a = (size_t)(rng() % MODEL_ADDRS);
        uintptr_t addr = (uintptr_t)(a + 1) * 48;
        if (model_size[a] == 0 || rng() % 3 == 0) {
            /* allocate (or, when live, the block was freed untraced and reused) */
            uint64_t size = 1 + rng() % 1000;
            uint32_t word = (uint32_t)(rng() & HL_STACK_ID_MASK);
            ASSERT_EQ(hl_live_table_insert(&t, addr, size, word), model_size[a] != 0);
            if (model_size[a] != 0) {
                ASSERT_U64_EQ(t.replaced_size, model_size[a]);
                ASSERT_EQ(t.replaced_stack_word, model_word[a]);
            }
            model_size[a] = size;
            model_word[a] = word;
        } else {
            ASSERT_EQ(hl_live_table_remove(&t, addr, NULL, NULL), 1);
            model_size[a] = 0;
        }
        if (step % 20000 == 0 || step == 399999) {
            uint64_t total = 0;
            size_t live = 0;
            for (size_t k = 0; k < MODEL_ADDRS; k++) {
                uint64_t size;
                uint32_t word;
                int found = hl_live_table_find(&t, (uintptr_t)(k + 1) * 48, &size, &word);
                ASSERT_EQ(found, model_size[k] != 0);
                if (found) {
                    ASSERT_U64_EQ(size, model_size[k]);
                    ASSERT_EQ(word, model_word[k]);
                    total += size;
                    live++;
                }
            }
            ASSERT_EQ(t.count, live);
            ASSERT_U64_EQ(t.total_bytes, total);
        }
    }
    hl_live_table_destroy(&t);
}

static void test_unaligned_and_neighbouring_addresses(void) {
    /* Any alignment works: offsets are exact bytes within a region. */
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    uintptr_t base = (uintptr_t)1 << 30;
    for (uintptr_t k = 0; k < 3000; k++)
        ASSERT_EQ(hl_live_table_insert(&t, base + k, k + 1, (uint32_t)k), 0);
    ASSERT_EQ(t.count, 3000);
    for (uintptr_t k = 0; k < 3000; k++) {
        uint64_t size;
        ASSERT_EQ(hl_live_table_find(&t, base + k, &size, NULL), 1);
        ASSERT_U64_EQ(size, k + 1);
    }
    for (uintptr_t k = 0; k < 3000; k++)
        ASSERT_EQ(hl_live_table_remove(&t, base + k, NULL, NULL), 1);
    ASSERT_EQ(t.n_regions, 0); /* empty regions are freed */
    ASSERT_EQ(t.region_bytes, 0);
    hl_live_table_destroy(&t);
}

/* A block allocated and freed alone in its region, again and again (a C
 * library's malloc/free loop), reuses one emptied region instead of making
 * and freeing one each time; the spare region stays counted, and goes with
 * the table. */
static void test_an_emptied_region_is_kept_for_the_next(void) {
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    ASSERT_EQ(hl_live_table_insert(&t, (uintptr_t)1 << 30, 64, 7), 0);
    size_t one_region = t.region_bytes;
    ASSERT_GT(one_region, 0);
    ASSERT_EQ(hl_live_table_remove(&t, (uintptr_t)1 << 30, NULL, NULL), 1);
    ASSERT_EQ(t.n_regions, 0);
    ASSERT_TRUE(t.spare != NULL);
    ASSERT_EQ(t.region_bytes, one_region);
    for (uintptr_t k = 1; k <= 1000; k++) {
        uintptr_t addr = ((uintptr_t)1 << 30) + k * ((uintptr_t)1 << HL_REGION_SHIFT) + 16;
        ASSERT_EQ(hl_live_table_insert(&t, addr, k, (uint32_t)k), 0);
        ASSERT_TRUE(t.spare == NULL);
        ASSERT_EQ(t.region_bytes, one_region);
        uint64_t size;
        uint32_t word;
        ASSERT_EQ(hl_live_table_find(&t, addr, &size, &word), 1);
        ASSERT_U64_EQ(size, k);
        ASSERT_EQ(word, (uint32_t)k);
        ASSERT_EQ(hl_live_table_find(&t, addr - ((uintptr_t)1 << HL_REGION_SHIFT), NULL, NULL),
                  0); /* the last region's block is gone with it */
        ASSERT_EQ(hl_live_table_remove(&t, addr, NULL, NULL), 1);
        ASSERT_EQ(t.count, 0);
    }
    ASSERT_U64_EQ(t.total_bytes, 0);
    hl_live_table_destroy(&t); /* frees the spare (ASan would see a leak) */
}

static void test_memory_is_counted(void) {
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    size_t empty = hl_live_table_memory(&t);
    for (uintptr_t i = 1; i <= 10000; i++)
        ASSERT_EQ(hl_live_table_insert(&t, i * 4096, 64, 1), 0);
    ASSERT_GT(hl_live_table_memory(&t), empty + 10000 * sizeof(hl_region_slot));
    hl_live_table_destroy(&t);
}

/* Blocks keep the generation they were recorded in, through replacement,
 * region growth and the deletion of their neighbours, until forgotten. */
static void test_generations(void) {
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 0), 0);
    enum { N = 3000 }; /* enough to grow regions */
    for (uintptr_t i = 0; i < N; i++) {
        hl_live_table_set_generation(&t, (uint16_t)(i % 7));
        ASSERT_EQ(hl_live_table_insert(&t, 0x100000 + 16 * i, 16, 1), 0);
    }
    for (uintptr_t i = 0; i < N; i += 3)
        ASSERT_EQ(hl_live_table_remove(&t, 0x100000 + 16 * i, NULL, NULL), 1);
    hl_live_table_set_generation(&t, 65535);
    ASSERT_EQ(hl_live_table_insert(&t, 0x100000 + 16 * 1, 32, 2), 1); /* replaced: restamped */
    uint16_t generation = 0;
    for (uintptr_t i = 0; i < N; i++) {
        int found = hl_live_table_find_generation(&t, 0x100000 + 16 * i, &generation);
        ASSERT_EQ(found, i % 3 != 0);
        if (found)
            ASSERT_EQ(generation, i == 1 ? 65535 : (int)(i % 7));
    }
    ASSERT_EQ(hl_live_table_find_generation(&t, 0x10, &generation), 0);
    hl_live_table_forget_generations(&t);
    for (uintptr_t i = 1; i < N; i += 3) {
        ASSERT_EQ(hl_live_table_find_generation(&t, 0x100000 + 16 * i, &generation), 1);
        ASSERT_EQ(generation, 0);
    }
    hl_live_table_destroy(&t);
}

static void test_restack(void) {
    hl_live_table t;
    ASSERT_EQ(hl_live_table_init(&t, 4), 0);
    ASSERT_EQ(hl_live_table_insert(&t, 0x2000, 48, HL_STACK_WORD(5, 2)), 0);
    ASSERT_EQ(hl_live_table_insert(&t, 0x2040, (uint64_t)1 << 33, HL_STACK_WORD(6, 1)), 0);
    hl_live_table_set_generation(&t, 9);
    uint64_t size = 0;
    uint32_t old_word = 0, word = 0;
    ASSERT_EQ(hl_live_table_restack(&t, 0x2000, 11, &size, &old_word), 1);
    ASSERT_EQ(size, 48);
    ASSERT_EQ(old_word, HL_STACK_WORD(5, 2));
    ASSERT_EQ(hl_live_table_find(&t, 0x2000, &size, &word), 1);
    ASSERT_EQ(word, HL_STACK_WORD(11, 2)); /* the domain stays */
    uint16_t generation = 0;
    ASSERT_EQ(hl_live_table_find_generation(&t, 0x2000, &generation), 1);
    ASSERT_EQ(generation, 9);
    ASSERT_EQ(hl_live_table_restack(&t, 0x2040, 12, &size, NULL), 1); /* a big block */
    ASSERT_EQ(size, (uint64_t)1 << 33);
    ASSERT_EQ(hl_live_table_restack(&t, 0x2010, 13, NULL, NULL), 0);
    ASSERT_EQ(t.count, 2);
    ASSERT_EQ(t.total_bytes, 48 + ((uint64_t)1 << 33));
    hl_live_table_destroy(&t);
}

int main(void) {
    RUN_TEST(test_insert_find_remove);
    RUN_TEST(test_big_sizes);
    RUN_TEST(test_growth_keeps_everything);
    RUN_TEST(test_model);
    RUN_TEST(test_unaligned_and_neighbouring_addresses);
    RUN_TEST(test_memory_is_counted);
    RUN_TEST(test_an_emptied_region_is_kept_for_the_next);
    RUN_TEST(test_generations);
    RUN_TEST(test_restack);
    TEST_SUMMARY("test_live_table");
}
