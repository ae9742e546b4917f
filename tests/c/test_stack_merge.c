/* Unit tests of stack_merge.c: Python frames go before the first native
 * frame whose CFA lies above their anchor, frames with no anchor go last,
 * native frames older than every Python frame are dropped, and the output
 * is cut at its size with the oldest frames dropped. */
#include "stack_merge.h"

#include "hl_test.h"

static hl_frame_ref py(uintptr_t code) {
    hl_frame_ref frame = {(const void *)code, 7, 0};
    return frame;
}

static void test_interleaves_by_stack_address(void) {
    /* malloc <- ext_inner (cfa 100) <- ext_outer (200) <- [py a, py b run by
     * the eval loop at 250] <- eval (300) <- callback caller (400) <- [py c
     * at 450] <- eval (500) */
    hl_frame_ref python[] = {py(0xa), py(0xb), py(0xc)};
    uintptr_t anchors[] = {250, 250, 450};
    uintptr_t native[] = {0x1001, 0x1002, 0x1003, 0x1004, 0x1005};
    uintptr_t cfas[] = {100, 200, 300, 400, 500};
    hl_frame_ref out[16];
    size_t n = hl_stack_merge(python, anchors, 3, native, cfas, 5, out, 16);
    /* eval (500), older than every Python frame, is left out. */
    ASSERT_EQ(n, 7);
    uintptr_t want[] = {0x1001, 0x1002, 0xa, 0xb, 0x1003, 0x1004, 0xc};
    int want_native[] = {1, 1, 0, 0, 1, 1, 0};
    for (size_t i = 0; i < n; i++) {
        ASSERT_EQ((uintptr_t)out[i].code, want[i]);
        ASSERT_EQ(hl_frame_is_native(&out[i]), want_native[i]);
        ASSERT_EQ(out[i].lasti, want_native[i] ? 0 : 7);
    }
}

static void test_unknown_anchors_and_short_unwinds_go_last(void) {
    hl_frame_ref python[] = {py(0xa), py(0xb), py(0xc)};
    uintptr_t anchors[] = {250, 0, 900};
    uintptr_t native[] = {0x1001, 0x1002, 0x1003};
    uintptr_t cfas[] = {100, 300, 400};
    hl_frame_ref out[16];
    size_t n = hl_stack_merge(python, anchors, 3, native, cfas, 3, out, 16);
    ASSERT_EQ(n, 6);
    uintptr_t want[] = {0x1001, 0xa, 0x1002, 0x1003, 0xb, 0xc};
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ((uintptr_t)out[i].code, want[i]);
    /* No native frames: the Python frames as they were. */
    n = hl_stack_merge(python, anchors, 3, native, cfas, 0, out, 16);
    ASSERT_EQ(n, 3);
    ASSERT_EQ((uintptr_t)out[2].code, 0xc);
    /* No Python frames: the native ones. */
    n = hl_stack_merge(python, anchors, 0, native, cfas, 3, out, 16);
    ASSERT_EQ(n, 3);
    ASSERT_TRUE(hl_frame_is_native(&out[2]));
}

static void test_cut_at_the_output_size(void) {
    hl_frame_ref python[] = {py(0xa), py(0xb)};
    uintptr_t anchors[] = {150, 150};
    uintptr_t native[] = {0x1001, 0x1002, 0x1003};
    uintptr_t cfas[] = {100, 200, 300};
    hl_frame_ref out[3];
    for (size_t size = 0; size <= 3; size++) {
        size_t n = hl_stack_merge(python, anchors, 2, native, cfas, 3, out, size);
        ASSERT_EQ(n, size);
    }
    ASSERT_EQ((uintptr_t)out[0].code, 0x1001);
    ASSERT_EQ((uintptr_t)out[1].code, 0xa);
    ASSERT_EQ((uintptr_t)out[2].code, 0xb);
}

int main(void) {
    RUN_TEST(test_interleaves_by_stack_address);
    RUN_TEST(test_unknown_anchors_and_short_unwinds_go_last);
    RUN_TEST(test_cut_at_the_output_size);
    TEST_SUMMARY("test_stack_merge");
}
