/* test_timeline.c - the bounded heap-size timeline. */
#include <stdint.h>
#include <stdlib.h>

#include "hl_test.h"
#include "timeline.h"

static hl_timeline_point point(uint64_t t, uint64_t traced, uint64_t max, uint64_t rss) {
    hl_timeline_point p = {t, traced, max, rss};
    return p;
}

static void test_rejects_odd_sizes(void) {
    hl_timeline timeline;
    ASSERT_EQ(hl_timeline_init(&timeline, 3, 0, 1), -1);
    ASSERT_NULL(timeline.points);
    ASSERT_EQ(hl_timeline_init(&timeline, 0, 0, 1), -1);
    hl_timeline_destroy(&timeline);
}

static void test_keeps_points_until_full(void) {
    hl_timeline timeline;
    ASSERT_EQ(hl_timeline_init(&timeline, 4, 100, 10), 0);
    for (uint64_t i = 0; i < 4; i++)
        hl_timeline_add(&timeline, point(i * 10, i, i, 0));
    ASSERT_EQ(timeline.n_points, 4);
    ASSERT_U64_EQ(timeline.stride, 1);
    ASSERT_U64_EQ(timeline.points[3].t_ns, 30);
    hl_timeline_destroy(&timeline);
}

/* A million samples fit in 64 points, evenly spaced, and the one spike
 * survives every thinning as a maximum. */
static void test_bounded_and_keeps_the_peak(void) {
    hl_timeline timeline;
    ASSERT_EQ(hl_timeline_init(&timeline, 64, 0, 1), 0);
    for (uint64_t i = 0; i < 1000000; i++) {
        uint64_t traced = i == 123457 ? 999999 : 1000 + i % 7;
        hl_timeline_add(&timeline, point(i, traced, traced, 0));
    }
    hl_timeline_flush(&timeline);
    ASSERT_LE(timeline.n_points, 64);
    ASSERT_GE(timeline.n_points, 30);
    uint64_t highest = 0;
    for (size_t i = 0; i < timeline.n_points; i++) {
        if (timeline.points[i].traced_max > highest)
            highest = timeline.points[i].traced_max;
        ASSERT_GE(timeline.points[i].traced_max, timeline.points[i].traced);
        if (i > 1 && i + 1 < timeline.n_points)
            ASSERT_U64_EQ(timeline.points[i].t_ns - timeline.points[i - 1].t_ns,
                          timeline.points[1].t_ns - timeline.points[0].t_ns);
    }
    ASSERT_U64_EQ(highest, 999999);
    ASSERT_U64_EQ(timeline.points[timeline.n_points - 1].t_ns, 999999);
    hl_timeline_destroy(&timeline);
}

static void test_repairs_bad_samples(void) {
    hl_timeline timeline;
    ASSERT_EQ(hl_timeline_init(&timeline, 4, 0, 1), 0);
    hl_timeline_add(&timeline, point(50, 10, 3, 0));  /* max below value */
    hl_timeline_add(&timeline, point(40, 10, 10, 0)); /* clock went back */
    ASSERT_U64_EQ(timeline.points[0].traced_max, 10);
    ASSERT_U64_EQ(timeline.points[1].t_ns, 50);
    hl_timeline_destroy(&timeline);
}

int main(void) {
    RUN_TEST(test_rejects_odd_sizes);
    RUN_TEST(test_keeps_points_until_full);
    RUN_TEST(test_bounded_and_keeps_the_peak);
    RUN_TEST(test_repairs_bad_samples);
    TEST_SUMMARY("timeline");
}
