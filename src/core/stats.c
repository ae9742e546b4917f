/* stats.c - grouping and filtering of snapshot traces (see stats.h).
 *
 * Every function first folds the traces per stack (one linear pass over the
 * trace array, the only part that grows with the heap), then works on stacks,
 * of which there are few.
 */
#include "stats.h"
#include "hl_alloc.h"

#include <stdlib.h>
#include <string.h>

/* Sum sizes and counts per stack into two calloc'd arrays of n_stacks.
 * Returns 0, or -1 when out of memory (nothing allocated). */
static int hl__fold_by_stack(const hl_snapshot_data *snap, uint64_t **sizes_out,
                             uint64_t **counts_out) {
    size_t n = snap->n_stacks ? snap->n_stacks : 1;
    uint64_t *sizes = hl_calloc(n, sizeof(uint64_t));
    uint64_t *counts = hl_calloc(n, sizeof(uint64_t));
    if (sizes == NULL || counts == NULL) {
        hl_free(sizes);
        hl_free(counts);
        return -1;
    }
    const hl_trace_record *trace = snap->traces;
    if (snap->trace_counts == NULL) {
        for (uint64_t i = 0; i < snap->n_traces; i++, trace++) {
            sizes[trace->stack] += trace->size;
            counts[trace->stack]++;
        }
    } else {
        for (uint64_t i = 0; i < snap->n_traces; i++, trace++) {
            sizes[trace->stack] += trace->size;
            counts[trace->stack] += snap->trace_counts[i];
        }
    }
    *sizes_out = sizes;
    *counts_out = counts;
    return 0;
}

int hl_stats_group(const hl_snapshot_data *snap, hl_stats_key key, int cumulative,
                   hl_stat_group **groups_out, size_t *n_groups_out) {
    int rc = -1;
    uint64_t *stack_sizes = NULL, *stack_counts = NULL;
    uint64_t *sizes = NULL, *counts = NULL;
    hl_stat_group *groups = NULL;
    size_t n_keys;

    *groups_out = NULL;
    *n_groups_out = 0;
    if (cumulative && key == HL_STATS_BY_TRACEBACK)
        return -1;
    if (hl__fold_by_stack(snap, &stack_sizes, &stack_counts) < 0)
        return -1;

    if (key == HL_STATS_BY_TRACEBACK) {
        n_keys = snap->n_stacks;
        sizes = stack_sizes;
        counts = stack_counts;
        stack_sizes = stack_counts = NULL;
    } else {
        n_keys = key == HL_STATS_BY_LINENO ? snap->n_frames : snap->n_strings;
        sizes = hl_calloc(n_keys ? n_keys : 1, sizeof(uint64_t));
        counts = hl_calloc(n_keys ? n_keys : 1, sizeof(uint64_t));
        if (sizes == NULL || counts == NULL)
            goto done;
        for (uint32_t s = 0; s < snap->n_stacks; s++) {
            if (stack_counts[s] == 0)
                continue;
            const hl_stack *stack = &snap->stacks[s];
            uint32_t depth = cumulative ? stack->nframe : 1;
            for (uint32_t f = 0; f < depth; f++) {
                uint32_t frame = snap->stack_frames[stack->first + f];
                uint32_t k = key == HL_STATS_BY_LINENO ? frame : snap->frames[frame].filename;
                sizes[k] += stack_sizes[s];
                counts[k] += stack_counts[s];
            }
        }
    }

    size_t n_groups = 0;
    for (size_t k = 0; k < n_keys; k++)
        n_groups += counts[k] != 0;
    if (n_groups) {
        groups = hl_malloc(n_groups * sizeof(hl_stat_group));
        if (groups == NULL)
            goto done;
        size_t g = 0;
        for (size_t k = 0; k < n_keys; k++) {
            if (counts[k] == 0)
                continue;
            groups[g].key = (uint32_t)k;
            groups[g].size = sizes[k];
            groups[g].count = counts[k];
            g++;
        }
    }
    *groups_out = groups;
    *n_groups_out = n_groups;
    rc = 0;

done:
    hl_free(stack_sizes);
    hl_free(stack_counts);
    hl_free(sizes);
    hl_free(counts);
    return rc;
}

int hl_stats_domains(const hl_snapshot_data *snap, uint32_t **domains_out, size_t *n_out) {
    uint32_t *domains = NULL;
    size_t n = 0, capacity = 0;
    uint32_t last = 0;
    int have_last = 0;

    *domains_out = NULL; /* on failure too, as hl_stats_group does */
    *n_out = 0;
    for (uint64_t i = 0; i < snap->n_traces; i++) {
        uint32_t domain = snap->traces[i].domain;
        if (have_last && domain == last)
            continue; /* traces of one domain come in long runs */
        last = domain;
        have_last = 1;
        size_t j = 0;
        while (j < n && domains[j] != domain)
            j++;
        if (j < n)
            continue;
        if (n == capacity) {
            capacity = capacity ? capacity * 2 : 4;
            uint32_t *bigger = hl_realloc(domains, capacity * sizeof(uint32_t));
            if (bigger == NULL) {
                hl_free(domains);
                return -1;
            }
            domains = bigger;
        }
        /* insertion keeps the list sorted */
        size_t at = n;
        while (at > 0 && domains[at - 1] > domain) {
            domains[at] = domains[at - 1];
            at--;
        }
        domains[at] = domain;
        n++;
    }
    *domains_out = domains;
    *n_out = n;
    return 0;
}

/* Duplicate `size` bytes of src into *dst (NULL for size 0). Returns 0 or -1. */
static int hl__dup(void **dst, const void *src, size_t size) {
    *dst = NULL;
    if (size == 0)
        return 0;
    *dst = hl_malloc(size);
    if (*dst == NULL)
        return -1;
    memcpy(*dst, src, size);
    return 0;
}

int hl_stats_filter(const hl_snapshot_data *src, const uint32_t *domains, size_t n_domains,
                    const uint8_t *keep, hl_snapshot_data *dst) {
    hl_snapshot_data_init(dst);
    dst->traceback_limit = src->traceback_limit;
    dst->timestamp_ns = src->timestamp_ns;
    dst->n_strings = src->n_strings;
    dst->n_frames = src->n_frames;
    dst->n_stacks = src->n_stacks;
    dst->n_stack_frames = src->n_stack_frames;
    uint64_t string_bytes = src->string_offsets ? src->string_offsets[src->n_strings] : 0;
    if (hl__dup((void **)&dst->string_offsets, src->string_offsets,
                src->string_offsets ? (src->n_strings + 1) * sizeof(uint64_t) : 0) < 0 ||
        hl__dup((void **)&dst->string_bytes, src->string_bytes, string_bytes) < 0 ||
        hl__dup((void **)&dst->frames, src->frames, src->n_frames * sizeof(hl_frame)) < 0 ||
        hl__dup((void **)&dst->stacks, src->stacks, src->n_stacks * sizeof(hl_stack)) < 0 ||
        hl__dup((void **)&dst->stack_frames, src->stack_frames,
                src->n_stack_frames * sizeof(uint32_t)) < 0 ||
        hl__dup((void **)&dst->frame_functions, src->frame_functions,
                src->frame_functions ? src->n_frames * sizeof(uint32_t) : 0) < 0)
        goto fail;

    uint64_t kept = 0;
    if (src->n_traces) {
        dst->traces = hl_malloc(src->n_traces * sizeof(hl_trace_record));
        if (dst->traces == NULL)
            goto fail;
        if (src->trace_counts != NULL) {
            dst->trace_counts = hl_malloc(src->n_traces * sizeof(uint64_t));
            if (dst->trace_counts == NULL)
                goto fail;
        }
    }
    uint32_t last_domain = 0;
    const uint8_t *mask = NULL;
    int have_last = 0;
    for (uint64_t i = 0; i < src->n_traces; i++) {
        const hl_trace_record *trace = &src->traces[i];
        if (!have_last || trace->domain != last_domain) {
            mask = NULL;
            for (size_t d = 0; d < n_domains; d++)
                if (domains[d] == trace->domain)
                    mask = keep + d * (size_t)src->n_stacks;
            last_domain = trace->domain;
            have_last = 1;
        }
        if (mask != NULL && mask[trace->stack]) {
            if (dst->trace_counts != NULL)
                dst->trace_counts[kept] = src->trace_counts[i];
            dst->traces[kept++] = *trace;
        }
    }
    dst->n_traces = kept;
    return 0;

fail:
    hl_snapshot_data_clear(dst);
    return -1;
}
