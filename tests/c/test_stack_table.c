/* Unit tests of stack_table.c: interning, identity of equal stacks, growth. */
#include "stack_table.h"

#include "hl_test.h"

static hl_frame_ref ref(uintptr_t code, int32_t lasti) {
    hl_frame_ref f = {(const void *)code, lasti, 0};
    return f;
}

static hl_stack_id intern(hl_stack_table *t, const hl_frame_ref *frames, uint16_t n, uint16_t total,
                          int *is_new) {
    hl_stack_id id;
    ASSERT_EQ(
        hl_stack_table_intern(t, frames, n, total, hl_stack_hash(frames, n, total), &id, is_new),
        0);
    return id;
}

static void test_equal_stacks_share_an_id(void) {
    hl_stack_table t;
    int is_new;
    ASSERT_EQ(hl_stack_table_init(&t), 0);
    hl_frame_ref a[2] = {ref(0x100, 4), ref(0x200, 10)};
    hl_frame_ref b[2] = {ref(0x100, 4), ref(0x200, 12)};
    hl_stack_id ia = intern(&t, a, 2, 2, &is_new);
    ASSERT_EQ(is_new, 1);
    ASSERT_EQ(intern(&t, a, 2, 2, &is_new), ia);
    ASSERT_EQ(is_new, 0);
    hl_stack_id ib = intern(&t, b, 2, 2, &is_new);
    ASSERT_NE(ia, ib);
    /* same frames, different total depth: a different stack */
    ASSERT_NE(intern(&t, a, 2, 5, &is_new), ia);
    ASSERT_EQ(is_new, 1);
    /* a prefix is a different stack */
    ASSERT_NE(intern(&t, a, 1, 2, &is_new), ia);
    /* the empty stack */
    hl_stack_id empty = intern(&t, a, 0, 0, &is_new);
    ASSERT_EQ(intern(&t, b, 0, 0, &is_new), empty);
    ASSERT_EQ(t.entries[ib].nframe, 2);
    ASSERT_EQ(hl_stack_table_frames(&t, ib)[1].lasti, 12);
    hl_stack_table_destroy(&t);
}

static void test_many_stacks_and_clear(void) {
    hl_stack_table t;
    int is_new;
    ASSERT_EQ(hl_stack_table_init(&t), 0);
    hl_frame_ref frames[25];
    for (uint32_t i = 0; i < 50000; i++) {
        for (int k = 0; k < 25; k++)
            frames[k] = ref(0x1000 + (uintptr_t)k * 64, (int32_t)(i * 3 + (uint32_t)k));
        ASSERT_EQ(intern(&t, frames, (uint16_t)(1 + i % 25), 30, &is_new), i);
        ASSERT_EQ(is_new, 1);
    }
    for (uint32_t i = 0; i < 50000; i += 97) {
        for (int k = 0; k < 25; k++)
            frames[k] = ref(0x1000 + (uintptr_t)k * 64, (int32_t)(i * 3 + (uint32_t)k));
        ASSERT_EQ(intern(&t, frames, (uint16_t)(1 + i % 25), 30, &is_new), i);
        ASSERT_EQ(is_new, 0);
    }
    ASSERT_GT(hl_stack_table_memory(&t), 0);
    hl_stack_table_clear(&t);
    ASSERT_EQ(t.n_entries, 0);
    ASSERT_EQ(intern(&t, frames, 3, 30, &is_new), 0);
    ASSERT_EQ(is_new, 1);
    hl_stack_table_destroy(&t);
}

int main(void) {
    RUN_TEST(test_equal_stacks_share_an_id);
    RUN_TEST(test_many_stacks_and_clear);
    TEST_SUMMARY("test_stack_table");
}
