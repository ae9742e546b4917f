/* Unit tests of stack_cache.c: hits only for the same frames, depth and
 * epoch; replacement in a slot; out of memory. */
#include "stack_cache.h"

#include "hl_alloc.h"
#include "hl_test.h"

static hl_frame_ref ref(uintptr_t code, int32_t lasti) {
    hl_frame_ref f = {(const void *)code, lasti, 0};
    return f;
}

static int find(const hl_stack_cache *c, uint64_t epoch, const hl_frame_ref *frames, uint16_t n,
                uint16_t total, hl_stack_id *id) {
    return hl_stack_cache_find(c, hl_stack_hash(frames, n, total), epoch, frames, n, total, id);
}

static void put(hl_stack_cache *c, uint64_t epoch, const hl_frame_ref *frames, uint16_t n,
                uint16_t total, hl_stack_id id) {
    ASSERT_EQ(hl_stack_cache_put(c, hl_stack_hash(frames, n, total), epoch, frames, n, total, id),
              0);
}

static void test_hits_only_the_same_stack_in_the_same_epoch(void) {
    hl_stack_cache c;
    ASSERT_EQ(hl_stack_cache_init(&c, 64), 0);
    hl_frame_ref a[3] = {ref(0x100, 4), ref(0x200, 10), ref(0x300, 2)};
    hl_frame_ref b[3] = {ref(0x100, 4), ref(0x200, 12), ref(0x300, 2)};
    hl_stack_id id = 0;
    ASSERT_EQ(find(&c, 1, a, 3, 3, &id), 0);
    put(&c, 1, a, 3, 3, 42);
    ASSERT_EQ(find(&c, 1, a, 3, 3, &id), 1);
    ASSERT_EQ(id, 42);
    ASSERT_EQ(find(&c, 2, a, 3, 3, &id), 0); /* another epoch */
    ASSERT_EQ(find(&c, 1, a, 3, 4, &id), 0); /* another depth */
    ASSERT_EQ(find(&c, 1, a, 2, 3, &id), 0); /* a prefix */
    ASSERT_EQ(find(&c, 1, b, 3, 3, &id), 0); /* another line */
    /* The empty stack is cached too. */
    put(&c, 1, a, 0, 0, 0);
    ASSERT_EQ(find(&c, 1, b, 0, 0, &id), 1);
    ASSERT_EQ(id, 0);
    ASSERT_GT(hl_stack_cache_memory(&c), 64 * sizeof(hl_stack_cache_slot));
    hl_stack_cache_destroy(&c);
    ASSERT_EQ(hl_stack_cache_memory(&c), 0);
}

static void test_a_put_replaces_its_slot(void) {
    hl_stack_cache c;
    ASSERT_EQ(hl_stack_cache_init(&c, 1), 0); /* one slot: every put collides */
    hl_frame_ref a[2] = {ref(0x100, 4), ref(0x200, 10)};
    hl_frame_ref b[1] = {ref(0x500, 6)};
    hl_stack_id id = 0;
    put(&c, 7, a, 2, 2, 1);
    put(&c, 7, b, 1, 9, 2);
    ASSERT_EQ(find(&c, 7, a, 2, 2, &id), 0);
    ASSERT_EQ(find(&c, 7, b, 1, 9, &id), 1);
    ASSERT_EQ(id, 2);
    put(&c, 8, b, 1, 9, 3); /* same frames, a new epoch */
    ASSERT_EQ(find(&c, 7, b, 1, 9, &id), 0);
    ASSERT_EQ(find(&c, 8, b, 1, 9, &id), 1);
    ASSERT_EQ(id, 3);
    hl_stack_cache_destroy(&c);
}

static void test_without_memory_every_find_misses(void) {
    hl_stack_cache c = {0};
    hl_frame_ref a[1] = {ref(0x100, 4)};
    hl_stack_id id = 0;
    ASSERT_EQ(find(&c, 1, a, 1, 1, &id), 0);
    ASSERT_EQ(hl_stack_cache_put(&c, hl_stack_hash(a, 1, 1), 1, a, 1, 1, 5), -1);
    ASSERT_EQ(hl_stack_cache_memory(&c), 0);
    hl_stack_cache_destroy(&c); /* an empty struct may be destroyed */
}

int main(void) {
    RUN_TEST(test_hits_only_the_same_stack_in_the_same_epoch);
    RUN_TEST(test_a_put_replaces_its_slot);
    RUN_TEST(test_without_memory_every_find_misses);
    TEST_SUMMARY("test_stack_cache");
}
