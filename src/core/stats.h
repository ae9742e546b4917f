/* stats.h - statistics and filtering over a resolved snapshot, in C.
 *
 * These are the O(number of traces) parts of tracemalloc's Snapshot.statistics
 * and Snapshot.filter_traces. They reduce millions of traces to a short list
 * of groups (or a filtered copy); the binding turns groups into Python objects
 * and sorts them.
 */
#ifndef HL_STATS_H
#define HL_STATS_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"
#include "snapshot_data.h"

typedef enum hl_stats_key {
    HL_STATS_BY_TRACEBACK = 0, /* group key: stack index */
    HL_STATS_BY_LINENO = 1,    /* group key: frame index */
    HL_STATS_BY_FILENAME = 2,  /* group key: string index of the file name */
} hl_stats_key;

typedef struct hl_stat_group {
    uint32_t key;
    uint64_t size;
    uint64_t count;
} hl_stat_group;

/* Group the traces of `snap` by `key`. Non-cumulative: each trace counts once,
 * under its whole stack, its most recent frame, or that frame's file.
 * Cumulative (lineno and filename only): each trace counts once for every
 * frame of its stack, as tracemalloc does (a frame repeated by recursion
 * counts again). On success returns 0 and stores a malloc'd array of the
 * groups with count > 0, in increasing key order, in *groups_out (NULL when
 * there are none; the caller frees it) and their number in *n_groups_out.
 * Returns -1 when out of memory or when cumulative is asked with
 * HL_STATS_BY_TRACEBACK. */
HL_WARN_UNUSED int hl_stats_group(const hl_snapshot_data *snap, hl_stats_key key, int cumulative,
                                  hl_stat_group **groups_out, size_t *n_groups_out);

/* Store in *domains_out (malloc'd, caller frees; NULL when empty) the
 * distinct domains of the traces in increasing order and their number in
 * *n_out. Returns 0, or -1 when out of memory (*domains_out NULL, *n_out 0). */
HL_WARN_UNUSED int hl_stats_domains(const hl_snapshot_data *snap, uint32_t **domains_out,
                                    size_t *n_out);

/* Make *dst (which must be empty) a deep copy of src that keeps only the
 * traces whose (domain, stack) is kept: trace t is kept when some i has
 * domains[i] == t.domain and keep[i * src->n_stacks + t.stack] != 0. Returns 0,
 * or -1 when out of memory (dst is then left empty). */
HL_WARN_UNUSED int hl_stats_filter(const hl_snapshot_data *src, const uint32_t *domains,
                                   size_t n_domains, const uint8_t *keep, hl_snapshot_data *dst);

#endif /* HL_STATS_H */
