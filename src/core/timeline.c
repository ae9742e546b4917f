/* timeline.c - heap size over time in bounded memory (see timeline.h). */
#include "timeline.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

int hl_timeline_init(hl_timeline *timeline, size_t max_points, int64_t start_ns,
                     uint64_t interval_ns) {
    memset(timeline, 0, sizeof(*timeline));
    if (max_points < 2 || max_points % 2 != 0)
        return -1;
    timeline->points = hl_calloc(max_points, sizeof(hl_timeline_point));
    if (timeline->points == NULL)
        return -1;
    timeline->max_points = max_points;
    timeline->start_ns = start_ns;
    timeline->interval_ns = interval_ns;
    timeline->stride = 1;
    return 0;
}

void hl_timeline_destroy(hl_timeline *timeline) {
    hl_free(timeline->points);
    memset(timeline, 0, sizeof(*timeline));
}

/* Merge b (the later) into a: b's time and values, the larger maximum. */
static hl_timeline_point hl__merge(hl_timeline_point a, hl_timeline_point b) {
    if (a.traced_max > b.traced_max)
        b.traced_max = a.traced_max;
    return b;
}

/* Halve the number of points by merging neighbours, and double the stride. */
static void hl__thin(hl_timeline *timeline) {
    size_t half = timeline->n_points / 2;
    for (size_t i = 0; i < half; i++)
        timeline->points[i] = hl__merge(timeline->points[2 * i], timeline->points[2 * i + 1]);
    if (timeline->n_points % 2 != 0)
        timeline->points[half++] = timeline->points[timeline->n_points - 1];
    timeline->n_points = half;
    timeline->stride *= 2;
}

/* Append the pending point, thinning first when the timeline is full. */
static void hl__commit(hl_timeline *timeline) {
    if (timeline->points == NULL || timeline->pending_samples == 0)
        return;
    if (timeline->n_points == timeline->max_points)
        hl__thin(timeline);
    timeline->points[timeline->n_points++] = timeline->pending;
    timeline->pending_samples = 0;
}

void hl_timeline_add(hl_timeline *timeline, hl_timeline_point sample) {
    if (timeline->points == NULL)
        return;
    if (sample.traced_max < sample.traced)
        sample.traced_max = sample.traced;
    uint64_t last_t = timeline->pending_samples ? timeline->pending.t_ns
                      : timeline->n_points > 0  ? timeline->points[timeline->n_points - 1].t_ns
                                                : 0;
    if (sample.t_ns < last_t)
        sample.t_ns = last_t;
    timeline->pending = timeline->pending_samples ? hl__merge(timeline->pending, sample) : sample;
    timeline->pending_samples++;
    if (timeline->pending_samples < timeline->stride)
        return;
    if (timeline->n_points == timeline->max_points) {
        /* Thin first: the stride doubles, and this point must then gather
         * as many samples as its merged neighbours stand for. */
        hl__thin(timeline);
        if (timeline->pending_samples < timeline->stride)
            return;
    }
    hl__commit(timeline);
}

void hl_timeline_flush(hl_timeline *timeline) {
    hl__commit(timeline);
}
