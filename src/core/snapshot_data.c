/* snapshot_data.c - lifetime and validation of hl_snapshot_data.
 *
 * hl_snapshot_data_validate() is the gate every snapshot passes before the
 * rest of heaplens trusts its indices: the capture reader runs it on decoded
 * (untrusted) files and the writer runs it before encoding. It therefore
 * never reads outside an array whose length it has not yet checked, it checks
 * in dependency order (strings, frames, stacks, traces) so that each later
 * check may index the earlier arrays, and it reports the first broken
 * invariant in one sentence that names the offending element.
 *
 * Uniqueness of frames and stacks is checked with a temporary open-addressing
 * hash set of element indices, so validation is linear in the snapshot size.
 */
#include "snapshot_data.h"
#include "hl_alloc.h"
#include "hl_error.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reset *data to an empty snapshot; see snapshot_data.h. */
void hl_snapshot_data_init(hl_snapshot_data *data) {
    memset(data, 0, sizeof(*data));
}

/* Free every array owned by *data and reset it; see snapshot_data.h. */
void hl_snapshot_data_clear(hl_snapshot_data *data) {
    hl_free(data->string_offsets);
    hl_free(data->string_bytes);
    hl_free(data->frames);
    hl_free(data->stacks);
    hl_free(data->stack_frames);
    hl_free(data->traces);
    hl_free(data->trace_counts);
    hl_free(data->frame_functions);
    hl_snapshot_data_init(data);
}

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Check that the len bytes at s are UTF-8 as Python's "surrogatepass" error
 * handler writes it: well-formed sequences of at most four bytes, no overlong
 * forms, nothing above U+10FFFF, but encoded surrogates (U+D800..U+DFFF)
 * allowed. Returns 0 when valid, or -1 and the offset of the first byte of
 * the bad sequence in *bad_offset. */
static int hl__check_utf8(const unsigned char *s, uint64_t len, uint64_t *bad_offset) {
    uint64_t i = 0;

    while (i < len) {
        unsigned char lead = s[i];
        unsigned char low = 0x80, high = 0xBF; /* range of the 2nd byte */
        uint64_t n_cont, k;

        if (lead < 0x80) {
            i++;
            continue;
        }
        if (lead >= 0xC2 && lead <= 0xDF) {
            n_cont = 1;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            n_cont = 2;
            if (lead == 0xE0)
                low = 0xA0; /* reject overlong 3-byte forms */
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            n_cont = 3;
            if (lead == 0xF0)
                low = 0x90; /* reject overlong 4-byte forms */
            if (lead == 0xF4)
                high = 0x8F; /* reject code points above U+10FFFF */
        } else {
            *bad_offset = i;
            return -1;
        }
        if (len - i <= n_cont || s[i + 1] < low || s[i + 1] > high) {
            *bad_offset = i;
            return -1;
        }
        for (k = 2; k <= n_cont; k++) {
            if ((s[i + k] & 0xC0) != 0x80) {
                *bad_offset = i;
                return -1;
            }
        }
        i += n_cont + 1;
    }
    return 0;
}

/* ---- duplicate detection -------------------------------------------------- */

typedef uint64_t (*hl__hash_fn)(const hl_snapshot_data *data, uint32_t item);
typedef int (*hl__equal_fn)(const hl_snapshot_data *data, uint32_t a, uint32_t b);

/* A 64-bit finaliser (the splitmix64 one) so that nearby keys spread out. */
static uint64_t hl__mix64(uint64_t x) {
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9u;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBu;
    x ^= x >> 31;
    return x;
}

static uint64_t hl__frame_hash(const hl_snapshot_data *data, uint32_t item) {
    const hl_frame *f = &data->frames[item];
    return hl__mix64(((uint64_t)f->filename << 32) | (uint32_t)f->lineno);
}

/* Frames are equal when their place and (when names are known) their
 * function are: two functions on one line, such as a function and the
 * comprehension it holds, are two frames. */
static int hl__frame_equal(const hl_snapshot_data *data, uint32_t a, uint32_t b) {
    const hl_frame *fa = &data->frames[a];
    const hl_frame *fb = &data->frames[b];
    return fa->filename == fb->filename && fa->lineno == fb->lineno &&
           (data->frame_functions == NULL || data->frame_functions[a] == data->frame_functions[b]);
}

/* Stacks are compared by (total_nframe, frame sequence); their position in
 * stack_frames does not matter. Callers have checked every range. */
static uint64_t hl__stack_hash(const hl_snapshot_data *data, uint32_t item) {
    const hl_stack *s = &data->stacks[item];
    uint64_t h = hl__mix64(((uint64_t)s->nframe << 32) | s->total_nframe);
    uint32_t k;

    for (k = 0; k < s->nframe; k++)
        h = hl__mix64(h ^ data->stack_frames[(uint64_t)s->first + k]);
    return h;
}

static int hl__stack_equal(const hl_snapshot_data *data, uint32_t a, uint32_t b) {
    const hl_stack *sa = &data->stacks[a];
    const hl_stack *sb = &data->stacks[b];

    if (sa->nframe != sb->nframe || sa->total_nframe != sb->total_nframe)
        return 0;
    return memcmp(&data->stack_frames[sa->first], &data->stack_frames[sb->first],
                  (size_t)sa->nframe * sizeof(uint32_t)) == 0;
}

/* Look for two equal items among items 0..n_items-1 using a temporary hash
 * set of item indices. Returns 0 after setting *found (1 when a pair was
 * found; then *first < *second are the lowest-indexed duplicate's earlier
 * twin and the duplicate itself), or -1 when the set could not be allocated. */
static int hl__find_duplicate(const hl_snapshot_data *data, uint32_t n_items, hl__hash_fn hash,
                              hl__equal_fn equal, int *found, uint32_t *first, uint32_t *second) {
    uint32_t *slots; /* item index + 1; 0 marks an empty slot */
    size_t capacity = 8, mask;
    uint32_t item;

    *found = 0;
    if (n_items < 2)
        return 0;
    while (capacity / 2 < n_items) {
        if (capacity > SIZE_MAX / 2 / sizeof(uint32_t))
            return -1;
        capacity *= 2;
    }
    slots = hl_calloc(capacity, sizeof(uint32_t));
    if (slots == NULL)
        return -1;
    mask = capacity - 1;
    for (item = 0; item < n_items && !*found; item++) {
        size_t slot = (size_t)hash(data, item) & mask;

        while (slots[slot] != 0) {
            uint32_t other = slots[slot] - 1;
            if (equal(data, other, item)) {
                *found = 1;
                *first = other;
                *second = item;
                break;
            }
            slot = (slot + 1) & mask;
        }
        if (!*found)
            slots[slot] = item + 1;
    }
    hl_free(slots);
    return 0;
}

/* ---- validation ----------------------------------------------------------- */

/* Check the string table: offsets present, starting at 0, non-decreasing,
 * bytes present, and each string valid (surrogatepass) UTF-8. */
static int hl__validate_strings(const hl_snapshot_data *data, char *errbuf, size_t errbuf_size) {
    uint64_t total, bad;
    uint32_t i;

    if (data->string_offsets == NULL) {
        if (data->n_strings != 0)
            return hl_error_format(errbuf, errbuf_size,
                                   "string table has %" PRIu32 " strings but no offsets",
                                   data->n_strings);
        return 0;
    }
    if (data->string_offsets[0] != 0)
        return hl_error_format(errbuf, errbuf_size, "string 0 starts at offset %" PRIu64 ", not 0",
                               data->string_offsets[0]);
    for (i = 0; i < data->n_strings; i++) {
        if (data->string_offsets[i + 1] < data->string_offsets[i])
            return hl_error_format(errbuf, errbuf_size,
                                   "string %" PRIu32 " ends before it starts (offsets %" PRIu64
                                   " and %" PRIu64 ")",
                                   i, data->string_offsets[i], data->string_offsets[i + 1]);
    }
    total = data->string_offsets[data->n_strings];
    if ((uint64_t)(size_t)total != total)
        return hl_error_format(errbuf, errbuf_size,
                               "string table of %" PRIu64 " bytes does not fit in memory", total);
    if (total > 0 && data->string_bytes == NULL)
        return hl_error_format(errbuf, errbuf_size,
                               "string table has %" PRIu64 " bytes of text but no byte buffer",
                               total);
    for (i = 0; i < data->n_strings; i++) {
        uint64_t start = data->string_offsets[i];
        uint64_t len = data->string_offsets[i + 1] - start;

        if (len > 0 &&
            hl__check_utf8((const unsigned char *)data->string_bytes + start, len, &bad) < 0)
            return hl_error_format(errbuf, errbuf_size,
                                   "string %" PRIu32 " is not valid UTF-8 (at byte %" PRIu64 ")", i,
                                   bad);
    }
    return 0;
}

/* Check that every frame names an existing string and no frame repeats. */
static int hl__validate_frames(const hl_snapshot_data *data, char *errbuf, size_t errbuf_size) {
    uint32_t i, first, second;
    int found;

    if (data->n_frames > 0 && data->frames == NULL)
        return hl_error_format(errbuf, errbuf_size,
                               "snapshot has %" PRIu32 " frames but no frame array",
                               data->n_frames);
    for (i = 0; i < data->n_frames; i++) {
        if (data->frames[i].filename >= data->n_strings)
            return hl_error_format(errbuf, errbuf_size,
                                   "frame %" PRIu32 " refers to string %" PRIu32
                                   " but there are %" PRIu32 " strings",
                                   i, data->frames[i].filename, data->n_strings);
    }
    if (hl__find_duplicate(data, data->n_frames, hl__frame_hash, hl__frame_equal, &found, &first,
                           &second) < 0) {
        errno = ENOMEM; /* how a caller tells this from a broken invariant */
        return hl_error_format(errbuf, errbuf_size,
                               "out of memory while checking frames for duplicates");
    }
    if (found)
        return hl_error_format(errbuf, errbuf_size,
                               "frames %" PRIu32 " and %" PRIu32 " are identical (string %" PRIu32
                               ", line %" PRId32 ")",
                               first, second, data->frames[second].filename,
                               data->frames[second].lineno);
    return 0;
}

/* Check every stack's range, frame indices and total_nframe, then that no
 * two stacks are equal. */
static int hl__validate_stacks(const hl_snapshot_data *data, char *errbuf, size_t errbuf_size) {
    uint32_t i, k, first, second;
    int found;

    if (data->n_stacks > 0 && data->stacks == NULL)
        return hl_error_format(errbuf, errbuf_size,
                               "snapshot has %" PRIu32 " stacks but no stack array",
                               data->n_stacks);
    if (data->n_stack_frames > 0 && data->stack_frames == NULL)
        return hl_error_format(errbuf, errbuf_size,
                               "snapshot has %" PRIu64 " stack frame entries but no array for them",
                               data->n_stack_frames);
    for (i = 0; i < data->n_stacks; i++) {
        const hl_stack *s = &data->stacks[i];
        uint64_t end = (uint64_t)s->first + s->nframe;

        if (s->nframe == 0)
            return hl_error_format(errbuf, errbuf_size, "stack %" PRIu32 " has no frames", i);
        if (end > data->n_stack_frames)
            return hl_error_format(errbuf, errbuf_size,
                                   "stack %" PRIu32 " spans stack_frames[%" PRIu32 "..%" PRIu64
                                   ") but there are %" PRIu64 " entries",
                                   i, s->first, end, data->n_stack_frames);
        if (s->total_nframe < s->nframe)
            return hl_error_format(errbuf, errbuf_size,
                                   "stack %" PRIu32 " has total_nframe %" PRIu32
                                   " below its nframe %" PRIu32,
                                   i, s->total_nframe, s->nframe);
        for (k = 0; k < s->nframe; k++) {
            uint32_t frame = data->stack_frames[(uint64_t)s->first + k];
            if (frame >= data->n_frames)
                return hl_error_format(errbuf, errbuf_size,
                                       "stack %" PRIu32 " refers to frame %" PRIu32
                                       " but there are %" PRIu32 " frames",
                                       i, frame, data->n_frames);
        }
    }
    if (hl__find_duplicate(data, data->n_stacks, hl__stack_hash, hl__stack_equal, &found, &first,
                           &second) < 0) {
        errno = ENOMEM; /* how a caller tells this from a broken invariant */
        return hl_error_format(errbuf, errbuf_size,
                               "out of memory while checking stacks for duplicates");
    }
    if (found)
        return hl_error_format(errbuf, errbuf_size,
                               "stacks %" PRIu32 " and %" PRIu32 " are identical", first, second);
    return 0;
}

/* Check that every frame's function name, when known, is an existing string. */
static int hl__validate_functions(const hl_snapshot_data *data, char *errbuf, size_t errbuf_size) {
    uint32_t i;

    if (data->frame_functions == NULL)
        return 0;
    for (i = 0; i < data->n_frames; i++) {
        uint32_t name = data->frame_functions[i];
        if (name != HL_NO_FUNCTION && name >= data->n_strings)
            return hl_error_format(errbuf, errbuf_size,
                                   "frame %" PRIu32 " names function string %" PRIu32
                                   " but there are %" PRIu32 " strings",
                                   i, name, data->n_strings);
    }
    return 0;
}

/* Check that every trace names an existing stack (and stands for at least
 * one block when the snapshot is aggregated). */
static int hl__validate_traces(const hl_snapshot_data *data, char *errbuf, size_t errbuf_size) {
    uint64_t i;

    if (data->n_traces > 0 && data->traces == NULL)
        return hl_error_format(errbuf, errbuf_size,
                               "snapshot has %" PRIu64 " traces but no trace array",
                               data->n_traces);
    for (i = 0; i < data->n_traces; i++) {
        if (data->traces[i].stack >= data->n_stacks)
            return hl_error_format(errbuf, errbuf_size,
                                   "trace %" PRIu64 " refers to stack %" PRIu32
                                   " but there are %" PRIu32 " stacks",
                                   i, data->traces[i].stack, data->n_stacks);
        if (data->trace_counts != NULL && data->trace_counts[i] == 0)
            return hl_error_format(errbuf, errbuf_size, "trace %" PRIu64 " stands for 0 blocks", i);
    }
    return 0;
}

/* Check the invariants listed in snapshot_data.h, in dependency order.
 * Returns 0, or -1 with the first broken invariant described in errbuf
 * (also -1, with errno set to ENOMEM, if memory for the duplicate check runs
 * out). Reads *data only. */
int hl_snapshot_data_validate(const hl_snapshot_data *data, char *errbuf, size_t errbuf_size) {
    if (hl__validate_strings(data, errbuf, errbuf_size) < 0)
        return -1;
    if (hl__validate_frames(data, errbuf, errbuf_size) < 0)
        return -1;
    if (hl__validate_functions(data, errbuf, errbuf_size) < 0)
        return -1;
    if (hl__validate_stacks(data, errbuf, errbuf_size) < 0)
        return -1;
    if (hl__validate_traces(data, errbuf, errbuf_size) < 0)
        return -1;
    return 0;
}
