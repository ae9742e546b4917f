/* timeline.h - heap size over time, kept to a fixed number of points.
 *
 * A sampler appends one raw sample every interval (traced bytes, the highest
 * traced size since the previous sample, resident set size). The timeline
 * holds at most `max_points` points however long the program runs: when it
 * is full, neighbouring points are merged in pairs (keeping the later point's
 * values and the larger maxima) and from then on every point stands for
 * twice as many raw samples. Points therefore stay evenly spaced, the peak
 * survives every merge, and memory stays bounded.
 *
 * The timeline takes no lock: its owner serialises appends and reads.
 */
#ifndef HL_TIMELINE_H
#define HL_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

typedef struct hl_timeline_point {
    uint64_t t_ns;       /* since the timeline's start */
    uint64_t traced;     /* traced bytes at t_ns */
    uint64_t traced_max; /* highest traced bytes since the previous point; >= traced */
    uint64_t rss;        /* resident set size at t_ns; 0 when unknown */
} hl_timeline_point;

typedef struct hl_timeline {
    int64_t start_ns;     /* wall clock of t_ns == 0, ns since the epoch */
    uint64_t interval_ns; /* the raw sampling interval asked for */
    hl_timeline_point *points;
    size_t n_points, max_points;
    /* Raw samples folded into the point being built: every point stands for
     * `stride` raw samples (a power of two). */
    uint64_t stride;
    uint64_t pending_samples;
    hl_timeline_point pending;
} hl_timeline;

/* Prepare an empty timeline of at most max_points (an even number >= 2)
 * points. Returns 0, or -1 when out of memory or max_points is unusable
 * (the timeline is then empty and safe to destroy). */
HL_WARN_UNUSED int hl_timeline_init(hl_timeline *timeline, size_t max_points, int64_t start_ns,
                                    uint64_t interval_ns);

/* Free the points; the struct may be initialised again. */
void hl_timeline_destroy(hl_timeline *timeline);

/* Fold one raw sample in. t_ns must not be below the previous sample's (a
 * smaller one is raised to it); traced_max below traced is raised to traced.
 * Never fails and never allocates. */
void hl_timeline_add(hl_timeline *timeline, hl_timeline_point sample);

/* Complete the point being built from fewer than `stride` samples, so that
 * the last samples are not lost (call once, at the end). */
void hl_timeline_flush(hl_timeline *timeline);

#endif /* HL_TIMELINE_H */
