/* Unit tests of u64_map.c. */
#include "u64_map.h"

#include "hl_test.h"

static void test_get_or_put(void) {
    hl_u64_map m;
    uint32_t value;
    int inserted;
    ASSERT_EQ(hl_u64_map_init(&m, 0), 0);
    ASSERT_EQ(hl_u64_map_get(&m, 42, &value), 0);
    ASSERT_EQ(hl_u64_map_get_or_put(&m, 42, 7, &value, &inserted), 0);
    ASSERT_EQ(inserted, 1);
    ASSERT_EQ(value, 7);
    ASSERT_EQ(hl_u64_map_get_or_put(&m, 42, 9, &value, &inserted), 0);
    ASSERT_EQ(inserted, 0);
    ASSERT_EQ(value, 7);
    ASSERT_EQ(hl_u64_map_get_or_put(&m, 0, 1, &value, &inserted), 0); /* key 0 is fine */
    ASSERT_EQ(hl_u64_map_get(&m, 0, &value), 1);
    ASSERT_EQ(value, 1);
    hl_u64_map_destroy(&m);
}

static void test_growth(void) {
    hl_u64_map m;
    uint32_t value;
    int inserted;
    ASSERT_EQ(hl_u64_map_init(&m, 4), 0);
    for (uint64_t k = 0; k < 200000; k++)
        ASSERT_EQ(
            hl_u64_map_get_or_put(&m, k * UINT64_C(0x100000001), (uint32_t)k, &value, &inserted),
            0);
    ASSERT_EQ(m.count, 200000);
    for (uint64_t k = 0; k < 200000; k++) {
        ASSERT_EQ(hl_u64_map_get(&m, k * UINT64_C(0x100000001), &value), 1);
        ASSERT_EQ(value, k);
    }
    ASSERT_EQ(hl_u64_map_get(&m, 3, &value), 0);
    hl_u64_map_destroy(&m);
}

static void test_reserve_keeps_keys_and_stops_growth(void) {
    hl_u64_map map;
    ASSERT_EQ(hl_u64_map_init(&map, 4), 0);
    uint32_t value;
    int inserted;
    for (uint64_t key = 0; key < 10; key++)
        ASSERT_EQ(hl_u64_map_get_or_put(&map, key * 977, (uint32_t)key, &value, &inserted), 0);
    ASSERT_EQ(hl_u64_map_reserve(&map, 5000), 0);
    size_t mask = map.mask;
    ASSERT_GE(mask + 1, 10000);
    ASSERT_EQ(hl_u64_map_reserve(&map, 100), 0); /* never shrinks */
    ASSERT_EQ(map.mask, mask);
    for (uint64_t key = 0; key < 5000; key++) {
        hl_u64_map_prefetch(&map, key * 977);
        ASSERT_EQ(hl_u64_map_get_or_put(&map, key * 977, (uint32_t)key, &value, &inserted), 0);
        ASSERT_EQ(value, key);
        ASSERT_EQ(inserted, key >= 10);
    }
    ASSERT_EQ(map.mask, mask); /* no growth past the reserve */
    ASSERT_EQ(map.count, 5000);
    hl_u64_map_destroy(&map);
}

/* put inserts or replaces, across growth. */
static void test_put_replaces(void) {
    hl_u64_map map;
    ASSERT_EQ(hl_u64_map_init(&map, 4), 0);
    for (uint64_t key = 0; key < 5000; key++)
        ASSERT_EQ(hl_u64_map_put(&map, key * 48, (uint32_t)key), 0);
    for (uint64_t key = 0; key < 5000; key += 2)
        ASSERT_EQ(hl_u64_map_put(&map, key * 48, 7), 0);
    ASSERT_EQ(map.count, 5000);
    uint32_t value = 0;
    for (uint64_t key = 0; key < 5000; key++) {
        ASSERT_EQ(hl_u64_map_get(&map, key * 48, &value), 1);
        ASSERT_EQ(value, key % 2 == 0 ? 7 : (uint32_t)key);
    }
    hl_u64_map_destroy(&map);
}

int main(void) {
    RUN_TEST(test_get_or_put);
    RUN_TEST(test_growth);
    RUN_TEST(test_reserve_keeps_keys_and_stops_growth);
    RUN_TEST(test_put_replaces);
    TEST_SUMMARY("test_u64_map");
}
