/* test_capture.c - CRC-32C and the capture-file codec.
 *
 * Round trips compare snapshots by content (a stack is its frame sequence,
 * not its position in stack_frames). Files are checked against bytes built
 * here by hand from docs/capture-format.md, so a layout change that the
 * codec makes consistently on both sides still fails. Hostile inputs are
 * made by encoding a good snapshot and then patching one section with
 * replace_payload(), which fixes the section's length and CRC so that the
 * decoder's checks behind the CRC are reached.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "crc32.h"
#include "hl_test.h"
#include "snapshot_data.h"

#define TAG(s)                                                                                     \
    ((uint32_t)(uint8_t)(s)[0] | ((uint32_t)(uint8_t)(s)[1] << 8) |                                \
     ((uint32_t)(uint8_t)(s)[2] << 16) | ((uint32_t)(uint8_t)(s)[3] << 24))

static char errbuf[256];

/* ---- a growable byte buffer, for building files by hand ------------------- */

typedef struct bytes {
    uint8_t *p;
    size_t len;
    size_t cap;
} bytes;

static void put_raw(bytes *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        ASSERT_NOT_NULL(b->p);
    }
    if (n)
        memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void put_u16(bytes *b, uint16_t v) {
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put_raw(b, x, 2);
}

static void put_u32(bytes *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put_raw(b, x, 4);
}

static void put_u64(bytes *b, uint64_t v) {
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get_u64(const uint8_t *p) {
    return (uint64_t)get_u32(p) | ((uint64_t)get_u32(p + 4) << 32);
}

static void set_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Append the 20-byte file header with the given version and flags. */
static void put_file_header(bytes *b, uint16_t major, uint16_t minor, uint32_t flags) {
    static const uint8_t magic[8] = {0x89, 'H', 'L', 'C', '\r', '\n', 0x1A, '\n'};
    size_t start = b->len;

    put_raw(b, magic, 8);
    put_u16(b, major);
    put_u16(b, minor);
    put_u32(b, flags);
    put_u32(b, hl_crc32c_compute(b->p + start, 16));
}

/* Append a section with a correct CRC. */
static void put_section(bytes *b, const char *tag, uint32_t flags, const void *payload, size_t n) {
    size_t start = b->len;

    put_u32(b, TAG(tag));
    put_u32(b, flags);
    put_u64(b, n);
    put_u32(b, 0);
    put_raw(b, payload, n);
    set_u32(b->p + start + 16,
            hl_crc32c_update(hl_crc32c_compute(b->p + start, 16), b->p + start + 20, n));
}

/* Offset of the nth (0-based) section with this tag, or SIZE_MAX. */
static size_t find_section(const uint8_t *buf, size_t len, const char *tag, int nth) {
    size_t pos = 20;

    while (pos + 20 <= len) {
        uint64_t n = get_u64(buf + pos + 8);
        if (get_u32(buf + pos) == TAG(tag) && nth-- == 0)
            return pos;
        if (n > len - pos - 20)
            break;
        pos += 20 + (size_t)n;
    }
    return SIZE_MAX;
}

/* A copy of buf with the nth `tag` section's payload replaced by n bytes,
 * length and CRC fixed up. Caller frees result.p. */
static bytes replace_payload(const uint8_t *buf, size_t len, const char *tag, int nth,
                             const void *payload, size_t n) {
    size_t at = find_section(buf, len, tag, nth);
    bytes out = {0};
    uint32_t flags;
    size_t old_end;

    ASSERT_TRUE(at != SIZE_MAX);
    flags = get_u32(buf + at + 4);
    old_end = at + 20 + (size_t)get_u64(buf + at + 8);
    put_raw(&out, buf, at);
    put_section(&out, tag, flags, payload, n);
    put_raw(&out, buf + old_end, len - old_end);
    return out;
}

/* A copy of buf with a section inserted at byte offset `at`. */
static bytes insert_section(const uint8_t *buf, size_t len, size_t at, const char *tag,
                            uint32_t flags, const void *payload, size_t n) {
    bytes out = {0};

    put_raw(&out, buf, at);
    put_section(&out, tag, flags, payload, n);
    put_raw(&out, buf + at, len - at);
    return out;
}

/* A copy of the nth `tag` section's payload; its length in *n. */
static uint8_t *copy_payload(const uint8_t *buf, size_t len, const char *tag, int nth, size_t *n) {
    size_t at = find_section(buf, len, tag, nth);
    uint8_t *p;

    ASSERT_TRUE(at != SIZE_MAX);
    *n = (size_t)get_u64(buf + at + 8);
    p = malloc(*n + 16); /* room for tests that grow it */
    ASSERT_NOT_NULL(p);
    memcpy(p, buf + at + 20, *n);
    return p;
}

/* ---- snapshots ------------------------------------------------------------ */

static void *dup_bytes(const void *src, size_t n) {
    void *p = malloc(n ? n : 1);
    ASSERT_NOT_NULL(p);
    if (n)
        memcpy(p, src, n);
    return p;
}

static void set_strings(hl_snapshot_data *d, const char *const *strings, const size_t *lengths,
                        uint32_t n) {
    uint64_t total = 0;
    uint32_t i;

    d->n_strings = n;
    d->string_offsets = malloc((n + 1) * sizeof(uint64_t));
    ASSERT_NOT_NULL(d->string_offsets);
    d->string_offsets[0] = 0;
    for (i = 0; i < n; i++) {
        total += lengths ? lengths[i] : strlen(strings[i]);
        d->string_offsets[i + 1] = total;
    }
    d->string_bytes = malloc(total ? total : 1);
    ASSERT_NOT_NULL(d->string_bytes);
    for (i = 0; i < n; i++)
        memcpy(d->string_bytes + d->string_offsets[i], strings[i],
               d->string_offsets[i + 1] - d->string_offsets[i]);
}

/* One file, two frames, one stack of two frames (of 5), one 1 MiB trace. */
static void make_small(hl_snapshot_data *d) {
    static const char *const strings[] = {"app.py", "lib.py"};
    static const hl_frame frames[] = {{0, 12}, {1, 340}};
    static const uint32_t stack_frames[] = {1, 0};
    static const hl_stack stacks[] = {{0, 2, 5}};
    static const hl_trace_record traces[] = {{1u << 20, 0, 0}};

    hl_snapshot_data_init(d);
    set_strings(d, strings, NULL, 2);
    d->n_frames = 2;
    d->frames = dup_bytes(frames, sizeof(frames));
    d->n_stacks = 1;
    d->stacks = dup_bytes(stacks, sizeof(stacks));
    d->n_stack_frames = 2;
    d->stack_frames = dup_bytes(stack_frames, sizeof(stack_frames));
    d->n_traces = 1;
    d->traces = dup_bytes(traces, sizeof(traces));
    d->traceback_limit = 2;
    d->timestamp_ns = 1712345678901234567;
}

/* A pseudo-random but deterministic snapshot of the given size. */
static void make_many(hl_snapshot_data *d, uint32_t n_files, uint32_t n_frames, uint32_t n_stacks,
                      uint64_t n_traces) {
    uint64_t rng = 0x9E3779B97F4A7C15u;
    uint64_t i;
    uint32_t s, k;
    char name[64];
    char **names = malloc(n_files * sizeof(char *));

    ASSERT_NOT_NULL(names);
    hl_snapshot_data_init(d);
    for (s = 0; s < n_files; s++) {
        snprintf(name, sizeof(name), "/usr/lib/python3/module_%u.py", s);
        names[s] = dup_bytes(name, strlen(name) + 1);
    }
    set_strings(d, (const char *const *)names, NULL, n_files);
    for (s = 0; s < n_files; s++)
        free(names[s]);
    free(names);

    d->n_frames = n_frames;
    d->frames = malloc(n_frames * sizeof(hl_frame));
    ASSERT_NOT_NULL(d->frames);
    for (s = 0; s < n_frames; s++) { /* distinct (file, line) pairs */
        d->frames[s].filename = s % n_files;
        d->frames[s].lineno = (int32_t)(s / n_files) + 1;
    }
    /* Stack s has 1 + s % 10 frames; frame 0 of stack s is s % n_frames, so
     * stacks are distinct as long as n_stacks <= n_frames. */
    d->n_stacks = n_stacks;
    d->stacks = malloc(n_stacks * sizeof(hl_stack));
    d->stack_frames = malloc((size_t)n_stacks * 10 * sizeof(uint32_t));
    ASSERT_NOT_NULL(d->stacks);
    ASSERT_NOT_NULL(d->stack_frames);
    for (s = 0; s < n_stacks; s++) {
        uint32_t nframe = 1 + s % 10;
        d->stacks[s].first = (uint32_t)d->n_stack_frames;
        d->stacks[s].nframe = nframe;
        d->stacks[s].total_nframe = nframe + (s % 3) * 7;
        for (k = 0; k < nframe; k++) {
            rng = rng * 6364136223846793005u + 1442695040888963407u;
            d->stack_frames[d->n_stack_frames++] =
                k == 0 ? s % n_frames : (uint32_t)(rng >> 33) % n_frames;
        }
    }
    d->n_traces = n_traces;
    d->traces = malloc((size_t)(n_traces ? n_traces : 1) * sizeof(hl_trace_record));
    ASSERT_NOT_NULL(d->traces);
    for (i = 0; i < n_traces; i++) {
        rng = rng * 6364136223846793005u + 1442695040888963407u;
        d->traces[i].size = (rng >> 40) + 1;
        d->traces[i].stack = (uint32_t)((rng >> 8) % n_stacks);
        d->traces[i].domain = (uint32_t)(rng & 3);
    }
    d->traceback_limit = 10;
    d->timestamp_ns = -1; /* before the epoch is representable */
}

/* Assert that a and b hold the same snapshot (stacks compared by content). */
static void assert_same_snapshot(const hl_snapshot_data *a, const hl_snapshot_data *b) {
    uint64_t i;

    ASSERT_EQ(a->n_strings, b->n_strings);
    for (i = 0; i < a->n_strings; i++) {
        uint64_t la = a->string_offsets[i + 1] - a->string_offsets[i];
        uint64_t lb = b->string_offsets[i + 1] - b->string_offsets[i];
        ASSERT_U64_EQ(la, lb);
        ASSERT_EQ(memcmp(a->string_bytes + a->string_offsets[i],
                         b->string_bytes + b->string_offsets[i], (size_t)la),
                  0);
    }
    ASSERT_EQ(a->n_frames, b->n_frames);
    for (i = 0; i < a->n_frames; i++) {
        ASSERT_EQ(a->frames[i].filename, b->frames[i].filename);
        ASSERT_EQ(a->frames[i].lineno, b->frames[i].lineno);
    }
    ASSERT_EQ(a->n_stacks, b->n_stacks);
    for (i = 0; i < a->n_stacks; i++) {
        const hl_stack *sa = &a->stacks[i], *sb = &b->stacks[i];
        ASSERT_EQ(sa->nframe, sb->nframe);
        ASSERT_EQ(sa->total_nframe, sb->total_nframe);
        ASSERT_EQ(memcmp(&a->stack_frames[sa->first], &b->stack_frames[sb->first],
                         sa->nframe * sizeof(uint32_t)),
                  0);
    }
    ASSERT_U64_EQ(a->n_traces, b->n_traces);
    for (i = 0; i < a->n_traces; i++) {
        ASSERT_U64_EQ(a->traces[i].size, b->traces[i].size);
        ASSERT_EQ(a->traces[i].stack, b->traces[i].stack);
        ASSERT_EQ(a->traces[i].domain, b->traces[i].domain);
        ASSERT_U64_EQ(hl_snapshot_trace_count(a, i), hl_snapshot_trace_count(b, i));
    }
    ASSERT_EQ(a->frame_functions == NULL || a->n_frames == 0,
              b->frame_functions == NULL || b->n_frames == 0);
    if (a->frame_functions != NULL && b->frame_functions != NULL)
        for (i = 0; i < a->n_frames; i++)
            ASSERT_EQ(a->frame_functions[i], b->frame_functions[i]);
    ASSERT_EQ(a->traceback_limit, b->traceback_limit);
    ASSERT_EQ(a->timestamp_ns, b->timestamp_ns);
}

/* Encode, decode, compare; then check that re-encoding gives the same
 * bytes. Returns the encoding (caller frees) and its length in *len. */
static uint8_t *round_trip(const hl_snapshot_data *d, size_t *len) {
    hl_snapshot_data back;
    uint8_t *buf, *again;
    size_t again_len;

    if (hl_capture_encode(d, &buf, len, errbuf, sizeof(errbuf)) != 0)
        HL__FAIL("encode failed: %s", errbuf);
    if (hl_capture_decode(buf, *len, &back, errbuf, sizeof(errbuf)) != 0)
        HL__FAIL("decode failed: %s", errbuf);
    assert_same_snapshot(d, &back);
    ASSERT_EQ(hl_capture_encode(&back, &again, &again_len, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(again_len, *len);
    ASSERT_EQ(memcmp(again, buf, *len), 0);
    free(again);
    hl_snapshot_data_clear(&back);
    return buf;
}

/* Decode buf, expect failure with exactly `expected`, and an empty result. */
static void expect_reject(const uint8_t *buf, size_t len, const char *expected) {
    hl_snapshot_data out;

    memset(&out, 0xAB, sizeof(out));
    memset(errbuf, 'x', sizeof(errbuf));
    if (hl_capture_decode(buf, len, &out, errbuf, sizeof(errbuf)) == 0)
        HL__FAIL("decode accepted a file that should fail with \"%s\"", expected);
    ASSERT_STR_EQ(errbuf, expected);
    ASSERT_NULL(out.traces);
    ASSERT_NULL(out.string_offsets);
    ASSERT_EQ(out.n_traces, 0);
}

/* Patch one section's payload and expect the decoder to reject it. */
static void expect_reject_patched(const uint8_t *buf, size_t len, const char *tag,
                                  const void *payload, size_t n, const char *expected) {
    bytes patched = replace_payload(buf, len, tag, 0, payload, n);
    expect_reject(patched.p, patched.len, expected);
    free(patched.p);
}

/* ---- CRC ------------------------------------------------------------------ */

/* CRC-32C one bit at a time, straight from the definition. */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t n) {
    uint32_t reg = 0xFFFFFFFFu;
    size_t i;
    int bit;

    for (i = 0; i < n; i++) {
        reg ^= p[i];
        for (bit = 0; bit < 8; bit++)
            reg = (reg & 1) ? (reg >> 1) ^ 0x82F63B78u : reg >> 1;
    }
    return ~reg;
}

static void test_crc32c_known_answer(void) {
    uint8_t buf[1000];
    size_t i;

    ASSERT_U64_EQ(hl_crc32c_compute("123456789", 9), 0xE3069283u);
    ASSERT_U64_EQ(hl_crc32c_compute("123456789", 9), HL_CRC32C_CHECK);
    ASSERT_U64_EQ(hl_crc32c_compute(NULL, 0), 0);
    /* RFC 3720 B.4: 32 bytes of zeros, of 0xFF, and 0..31 */
    memset(buf, 0, 32);
    ASSERT_U64_EQ(hl_crc32c_compute(buf, 32), 0x8A9136AAu);
    memset(buf, 0xFF, 32);
    ASSERT_U64_EQ(hl_crc32c_compute(buf, 32), 0x62A8AB43u);
    for (i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    ASSERT_U64_EQ(hl_crc32c_compute(buf, 32), 0x46DD794Eu);
    /* Every table entry: one-byte inputs exercise each entry once. */
    for (i = 0; i < 256; i++) {
        uint8_t b = (uint8_t)i;
        ASSERT_U64_EQ(hl_crc32c_compute(&b, 1), crc32c_bitwise(&b, 1));
    }
    for (i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)(i * 131 + 7);
    ASSERT_U64_EQ(hl_crc32c_compute(buf, sizeof(buf)), crc32c_bitwise(buf, sizeof(buf)));
    /* every length and alignment around the 8-byte steps */
    {
        size_t offset, n;
        for (offset = 0; offset < 8; offset++)
            for (n = 0; n <= 64; n++)
                ASSERT_U64_EQ(hl_crc32c_compute(buf + offset, n), crc32c_bitwise(buf + offset, n));
    }
    /* chaining */
    for (i = 0; i <= sizeof(buf); i += 97)
        ASSERT_U64_EQ(hl_crc32c_update(hl_crc32c_compute(buf, i), buf + i, sizeof(buf) - i),
                      hl_crc32c_compute(buf, sizeof(buf)));
}

/* ---- round trips ---------------------------------------------------------- */

static void test_round_trip_empty(void) {
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len;

    hl_snapshot_data_init(&d);
    buf = round_trip(&d, &len);
    /* header + SNAP(4) + META(16) + STRS(4) + FRMS(4) + STKS(4) + TRCS(8) + END */
    ASSERT_EQ(len, 20 + 7 * 20 + 4 + 16 + 4 + 4 + 4 + 8);
    free(buf);
}

static void test_round_trip_one_trace(void) {
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len;

    make_small(&d);
    buf = round_trip(&d, &len);
    free(buf);
    hl_snapshot_data_clear(&d);
}

static void test_round_trip_many(void) {
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len;

    make_many(&d, 37, 1000, 800, 100000);
    buf = round_trip(&d, &len);
    ASSERT_GT(len, 100000 * 16);
    free(buf);
    hl_snapshot_data_clear(&d);
}

static void test_round_trip_utf8(void) {
    static const char *const strings[] = {
        "",                                        /* empty */
        "caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.py", /* é, 日本 */
        "\xf0\x9f\x90\x8d.py",                     /* snake emoji */
        "bad\xed\xb2\x80name.py",                  /* lone surrogate (surrogatepass) */
        "nul\0inside",                             /* NUL is data */
    };
    static const size_t lengths[] = {0, 15, 7, 13, 10};
    static const hl_frame frames[] = {{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}};
    static const uint32_t stack_frames[] = {0, 1, 2, 3, 4};
    static const hl_stack stacks[] = {{0, 5, 5}};
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len;

    hl_snapshot_data_init(&d);
    set_strings(&d, strings, lengths, 5);
    d.n_frames = 5;
    d.frames = dup_bytes(frames, sizeof(frames));
    d.n_stacks = 1;
    d.stacks = dup_bytes(stacks, sizeof(stacks));
    d.n_stack_frames = 5;
    d.stack_frames = dup_bytes(stack_frames, sizeof(stack_frames));
    d.traceback_limit = 5;
    buf = round_trip(&d, &len);
    free(buf);
    hl_snapshot_data_clear(&d);
}

static void test_round_trip_extreme_values(void) {
    static const char *const strings[] = {"x.py"};
    static const hl_frame frames[] = {{0, INT32_MIN}, {0, -1}, {0, INT32_MAX}};
    static const uint32_t stack_frames[] = {0, 1, 2};
    static const hl_stack stacks[] = {{0, 3, UINT32_MAX}, {1, 1, 1}};
    static const hl_trace_record traces[] = {
        {(uint64_t)5 << 30, 0, 0}, /* > 4 GiB */
        {UINT64_MAX, 1, UINT32_MAX},
        {0, 0, 0x80000000u},
    };
    static const int64_t timestamps[] = {INT64_MIN, -1, 0, INT64_MAX};
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len, i;

    hl_snapshot_data_init(&d);
    set_strings(&d, strings, NULL, 1);
    d.n_frames = 3;
    d.frames = dup_bytes(frames, sizeof(frames));
    d.n_stacks = 2;
    d.stacks = dup_bytes(stacks, sizeof(stacks));
    d.n_stack_frames = 3;
    d.stack_frames = dup_bytes(stack_frames, sizeof(stack_frames));
    d.n_traces = 3;
    d.traces = dup_bytes(traces, sizeof(traces));
    d.traceback_limit = UINT32_MAX;
    for (i = 0; i < sizeof(timestamps) / sizeof(timestamps[0]); i++) {
        d.timestamp_ns = timestamps[i];
        buf = round_trip(&d, &len);
        free(buf);
    }
    hl_snapshot_data_clear(&d);
}

static void test_round_trip_total_nframe_above_nframe(void) {
    hl_snapshot_data d, back;
    uint8_t *buf;
    size_t len;

    make_small(&d);
    d.stacks[0].total_nframe = 1000;
    buf = round_trip(&d, &len);
    ASSERT_EQ(hl_capture_decode(buf, len, &back, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(back.stacks[0].nframe, 2);
    ASSERT_EQ(back.stacks[0].total_nframe, 1000);
    hl_snapshot_data_clear(&back);
    free(buf);
    hl_snapshot_data_clear(&d);
}

/* The encoding is fixed by the spec, not by the host: compare with bytes
 * built by hand for make_small(). */
static void test_golden_bytes(void) {
    hl_snapshot_data d;
    bytes want = {0}, payload = {0};
    uint8_t *buf;
    size_t len;

    make_small(&d);
    put_file_header(&want, 1, 1, 0);
    put_u32(&payload, 0); /* name "" */
    put_section(&want, "SNAP", 1, payload.p, payload.len);
    payload.len = 0;
    put_u32(&payload, 2);                    /* traceback_limit */
    put_u32(&payload, 0);                    /* reserved */
    put_u64(&payload, 1712345678901234567u); /* timestamp_ns */
    put_section(&want, "META", 1, payload.p, payload.len);
    payload.len = 0;
    put_u32(&payload, 2);
    put_u32(&payload, 6);
    put_u32(&payload, 6);
    put_raw(&payload, "app.pylib.py", 12);
    put_section(&want, "STRS", 1, payload.p, payload.len);
    payload.len = 0;
    put_u32(&payload, 2);
    put_u32(&payload, 0);
    put_u32(&payload, 12);
    put_u32(&payload, 1);
    put_u32(&payload, 340);
    put_section(&want, "FRMS", 1, payload.p, payload.len);
    payload.len = 0;
    put_u32(&payload, 1); /* one stack */
    put_u32(&payload, 2); /* nframe */
    put_u32(&payload, 5); /* total_nframe */
    put_u32(&payload, 1);
    put_u32(&payload, 0);
    put_section(&want, "STKS", 1, payload.p, payload.len);
    payload.len = 0;
    put_u64(&payload, 1);
    put_u64(&payload, 1u << 20);
    put_u32(&payload, 0);
    put_u32(&payload, 0);
    put_section(&want, "TRCS", 1, payload.p, payload.len);
    put_section(&want, "END ", 1, NULL, 0);

    ASSERT_EQ(hl_capture_encode(&d, &buf, &len, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(len, want.len);
    ASSERT_EQ(memcmp(buf, want.p, len), 0);
    /* a couple of bytes spelled out, to pin the byte order */
    ASSERT_EQ(buf[0], 0x89);
    ASSERT_EQ(buf[8], 1);
    ASSERT_EQ(buf[9], 0);
    ASSERT_EQ(memcmp(buf + 20, "SNAP\x01\0\0\0\x04\0\0\0\0\0\0\0", 16), 0);
    free(buf);
    free(want.p);
    free(payload.p);
    hl_snapshot_data_clear(&d);
}

/* Two snapshots with the same content but differently laid out stack_frames
 * (one shares entries between stacks) encode to the same bytes. */
static void test_encoding_is_deterministic(void) {
    static const uint32_t shared[] = {1, 0};
    static const hl_stack shared_stacks[] = {{0, 2, 2}, {1, 1, 1}};
    static const uint32_t separate[] = {9, 9, 1, 0, 0};
    static const hl_stack separate_stacks[] = {{2, 2, 2}, {4, 1, 1}};
    hl_snapshot_data a, b;
    uint8_t *buf_a, *buf_b;
    size_t len_a, len_b;

    make_small(&a);
    make_small(&b);
    a.stacks = realloc(a.stacks, sizeof(shared_stacks));
    b.stacks = realloc(b.stacks, sizeof(separate_stacks));
    a.stack_frames = realloc(a.stack_frames, sizeof(shared));
    b.stack_frames = realloc(b.stack_frames, sizeof(separate));
    ASSERT_NOT_NULL(a.stacks);
    ASSERT_NOT_NULL(b.stacks);
    ASSERT_NOT_NULL(a.stack_frames);
    ASSERT_NOT_NULL(b.stack_frames);
    memcpy(a.stacks, shared_stacks, sizeof(shared_stacks));
    memcpy(b.stacks, separate_stacks, sizeof(separate_stacks));
    memcpy(a.stack_frames, shared, sizeof(shared));
    memcpy(b.stack_frames, separate, sizeof(separate));
    a.n_stacks = b.n_stacks = 2;
    a.n_stack_frames = 2;
    b.n_stack_frames = 5;
    ASSERT_EQ(hl_capture_encode(&a, &buf_a, &len_a, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_encode(&b, &buf_b, &len_b, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(len_a, len_b);
    ASSERT_EQ(memcmp(buf_a, buf_b, len_a), 0);
    free(buf_a);
    free(buf_b);
    free(round_trip(&a, &len_a));
    hl_snapshot_data_clear(&a);
    hl_snapshot_data_clear(&b);
}

static void test_encode_refuses_invalid_snapshot(void) {
    hl_snapshot_data d;
    uint8_t *buf = (uint8_t *)&d;
    size_t len = 123;

    make_small(&d);
    d.traces[0].stack = 4;
    ASSERT_EQ(hl_capture_encode(&d, &buf, &len, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "trace 0 refers to stack 4 but there are 1 stacks");
    ASSERT_NULL(buf);
    ASSERT_EQ(len, 0);
    hl_snapshot_data_clear(&d);
}

/* ---- files ---------------------------------------------------------------- */

static void test_file_round_trip(void) {
    static const char path[] = "test_capture_tmp.hlc";
    hl_snapshot_data d, back;
    FILE *f;

    make_many(&d, 5, 50, 40, 5000);
    remove(path);
    if (hl_capture_write_file(path, &d, errbuf, sizeof(errbuf)) != 0)
        HL__FAIL("write_file failed: %s", errbuf);
    f = fopen("test_capture_tmp.hlc.part", "rb");
    ASSERT_NULL(f); /* renamed into place */
    if (hl_capture_read_file(path, &back, errbuf, sizeof(errbuf)) != 0)
        HL__FAIL("read_file failed: %s", errbuf);
    assert_same_snapshot(&d, &back);
    hl_snapshot_data_clear(&back);
    /* overwriting an existing capture works */
    ASSERT_EQ(hl_capture_write_file(path, &d, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(remove(path), 0);
    hl_snapshot_data_clear(&d);
}

static void test_file_errors(void) {
    hl_snapshot_data d, back;
    FILE *f;

    make_small(&d);
    ASSERT_EQ(hl_capture_write_file("no/such/dir/x.hlc", &d, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "cannot open for writing: No such file or directory");
    ASSERT_EQ(hl_capture_read_file("no/such/file.hlc", &back, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "cannot open: No such file or directory");
    ASSERT_NULL(back.traces);

    /* an invalid snapshot leaves no file behind */
    d.frames[0].filename = 9;
    ASSERT_EQ(hl_capture_write_file("test_capture_bad.hlc", &d, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "frame 0 refers to string 9 but there are 2 strings");
    ASSERT_NULL(f = fopen("test_capture_bad.hlc", "rb"));
    ASSERT_NULL(f = fopen("test_capture_bad.hlc.part", "rb"));

    /* an empty file */
    f = fopen("test_capture_empty.hlc", "wb");
    ASSERT_NOT_NULL(f);
    fclose(f);
    ASSERT_EQ(hl_capture_read_file("test_capture_empty.hlc", &back, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "empty file (not a heaplens capture)");
    remove("test_capture_empty.hlc");
    hl_snapshot_data_clear(&d);
}

/* ---- several snapshots and info ------------------------------------------- */

static void test_several_snapshots(void) {
    hl_snapshot_data peak, exit_snap, one;
    hl_capture_writer *writer;
    hl_capture capture;
    uint8_t *buf;
    size_t len;

    make_many(&peak, 3, 30, 20, 500);
    make_small(&exit_snap);
    writer = hl_capture_writer_open_memory(errbuf, sizeof(errbuf));
    ASSERT_NOT_NULL(writer);
    ASSERT_EQ(
        hl_capture_writer_add_info(writer, "python_version", "3.12.1", errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "peak", &peak, errbuf, sizeof(errbuf)), 0);
    /* an invalid snapshot is refused and the writer stays usable */
    exit_snap.traces[0].stack = 1;
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "exit", &exit_snap, errbuf, sizeof(errbuf)),
              -1);
    ASSERT_STR_EQ(errbuf, "trace 0 refers to stack 1 but there are 1 stacks");
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "bad\xff", &peak, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "snapshot name is not valid UTF-8 text");
    exit_snap.traces[0].stack = 0;
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "exit", &exit_snap, errbuf, sizeof(errbuf)),
              0);
    ASSERT_EQ(hl_capture_writer_add_info(writer, "argv", "python -m heaplens \xc3\xa9", errbuf,
                                         sizeof(errbuf)),
              0);
    ASSERT_EQ(hl_capture_writer_add_info(writer, "", "", errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_finish(writer, &buf, &len, errbuf, sizeof(errbuf)), 0);

    if (hl_capture_decode_all(buf, len, &capture, errbuf, sizeof(errbuf)) != 0)
        HL__FAIL("decode_all failed: %s", errbuf);
    ASSERT_EQ(capture.version_major, 1);
    ASSERT_EQ(capture.version_minor, 1);
    ASSERT_EQ(capture.n_snapshots, 2);
    ASSERT_STR_EQ(capture.snapshots[0].name, "peak");
    ASSERT_STR_EQ(capture.snapshots[1].name, "exit");
    assert_same_snapshot(&capture.snapshots[0].data, &peak);
    assert_same_snapshot(&capture.snapshots[1].data, &exit_snap);
    ASSERT_EQ(capture.n_info, 3);
    ASSERT_STR_EQ(capture.info[0].key, "python_version");
    ASSERT_STR_EQ(capture.info[0].value, "3.12.1");
    ASSERT_STR_EQ(capture.info[1].key, "argv");
    ASSERT_STR_EQ(capture.info[1].value, "python -m heaplens \xc3\xa9");
    ASSERT_STR_EQ(capture.info[2].key, "");
    hl_capture_clear(&capture);
    hl_capture_clear(&capture);

    expect_reject(buf, len, "capture holds 2 snapshots, expected 1");

    /* A semantic error in the second snapshot names it. */
    {
        size_t n;
        uint8_t *traces = copy_payload(buf, len, "TRCS", 1, &n);
        bytes patched;

        set_u32(traces + 8 + 8, 7); /* trace 0's stack */
        patched = replace_payload(buf, len, "TRCS", 1, traces, n);
        ASSERT_EQ(hl_capture_decode_all(patched.p, patched.len, &capture, errbuf, sizeof(errbuf)),
                  -1);
        ASSERT_STR_EQ(errbuf, "snapshot 1: trace 0 refers to stack 7 but there are 1 stacks");
        ASSERT_EQ(capture.n_snapshots, 0);
        ASSERT_NULL(capture.snapshots);
        free(patched.p);
        free(traces);
    }
    free(buf);

    /* No snapshot at all is a valid capture, but not a valid single snapshot. */
    writer = hl_capture_writer_open_memory(errbuf, sizeof(errbuf));
    ASSERT_NOT_NULL(writer);
    ASSERT_EQ(hl_capture_writer_finish(writer, &buf, &len, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(len, 40);
    ASSERT_EQ(hl_capture_decode_all(buf, len, &capture, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(capture.n_snapshots, 0);
    hl_capture_clear(&capture);
    ASSERT_EQ(hl_capture_decode(buf, len, &one, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "capture holds no snapshot");
    free(buf);

    /* A file writer with several snapshots, read back whole. */
    writer = hl_capture_writer_open_file("test_capture_multi.hlc", errbuf, sizeof(errbuf));
    ASSERT_NOT_NULL(writer);
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "peak", &peak, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "exit", &exit_snap, errbuf, sizeof(errbuf)),
              0);
    ASSERT_EQ(hl_capture_writer_finish(writer, NULL, NULL, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_read_file_all("test_capture_multi.hlc", &capture, errbuf, sizeof(errbuf)),
              0);
    ASSERT_EQ(capture.n_snapshots, 2);
    assert_same_snapshot(&capture.snapshots[1].data, &exit_snap);
    hl_capture_clear(&capture);
    remove("test_capture_multi.hlc");

    /* An aborted file writer leaves nothing behind. */
    writer = hl_capture_writer_open_file("test_capture_aborted.hlc", errbuf, sizeof(errbuf));
    ASSERT_NOT_NULL(writer);
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "peak", &peak, errbuf, sizeof(errbuf)), 0);
    hl_capture_writer_abort(writer);
    ASSERT_NULL(fopen("test_capture_aborted.hlc.part", "rb"));
    ASSERT_NULL(fopen("test_capture_aborted.hlc", "rb"));
    hl_capture_writer_abort(NULL);

    hl_snapshot_data_clear(&peak);
    hl_snapshot_data_clear(&exit_snap);
}

/* Many tiny sections: arrays grow geometrically, so this stays fast. */
static void test_many_small_sections(void) {
    enum { N_INFO = 100000, N_SNAPSHOTS = 1000 };
    hl_capture_writer *writer = hl_capture_writer_open_memory(errbuf, sizeof(errbuf));
    hl_snapshot_data d;
    hl_capture capture;
    char key[32];
    uint8_t *buf;
    size_t len;
    int i;

    ASSERT_NOT_NULL(writer);
    make_small(&d);
    for (i = 0; i < N_INFO; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ASSERT_EQ(hl_capture_writer_add_info(writer, key, "v", errbuf, sizeof(errbuf)), 0);
    }
    for (i = 0; i < N_SNAPSHOTS; i++) {
        snprintf(key, sizeof(key), "s%d", i);
        ASSERT_EQ(hl_capture_writer_add_snapshot(writer, key, &d, errbuf, sizeof(errbuf)), 0);
    }
    ASSERT_EQ(hl_capture_writer_finish(writer, &buf, &len, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_decode_all(buf, len, &capture, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(capture.n_info, N_INFO);
    ASSERT_EQ(capture.n_snapshots, N_SNAPSHOTS);
    ASSERT_STR_EQ(capture.info[N_INFO - 1].key, "k99999");
    ASSERT_STR_EQ(capture.snapshots[N_SNAPSHOTS - 1].name, "s999");
    assert_same_snapshot(&capture.snapshots[777].data, &d);
    hl_capture_clear(&capture);
    free(buf);
    hl_snapshot_data_clear(&d);
}

/* ---- rejection ------------------------------------------------------------ */

static uint8_t *small_file(size_t *len) {
    hl_snapshot_data d;
    uint8_t *buf;

    make_small(&d);
    ASSERT_EQ(hl_capture_encode(&d, &buf, len, errbuf, sizeof(errbuf)), 0);
    hl_snapshot_data_clear(&d);
    return buf;
}

static void test_reject_empty_and_foreign(void) {
    static const uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13,
                                  'I',  'H', 'D', 'R', 0,    0,    0,    1,    0, 0, 0, 1};
    static const char text[] = "Traceback (most recent call last):\n";

    expect_reject(NULL, 0, "empty file (not a heaplens capture)");
    expect_reject(png, sizeof(png), "not a heaplens capture (bad magic)");
    expect_reject((const uint8_t *)text, strlen(text), "not a heaplens capture (bad magic)");
    expect_reject((const uint8_t *)"\x89HLX", 4, "not a heaplens capture (bad magic)");
}

static void test_reject_every_truncation(void) {
    size_t len, cut;
    uint8_t *buf = small_file(&len);

    expect_reject(buf, 0, "empty file (not a heaplens capture)");
    expect_reject(buf, 5, "truncated: header needs 20 bytes, 5 remain");
    expect_reject(buf, 19, "truncated: header needs 20 bytes, 19 remain");
    expect_reject(buf, 20, "truncated: file ends without an END section");
    expect_reject(buf, 27, "truncated: section header needs 20 bytes, 7 remain");
    expect_reject(buf, 41, "truncated: section SNAPSHOT needs 4 bytes, 1 remain");
    expect_reject(buf, len - 20, "truncated: file ends without an END section");
    expect_reject(buf, len - 1, "truncated: section header needs 20 bytes, 19 remain");
    for (cut = 1; cut < len; cut++) {
        hl_snapshot_data out;
        uint8_t *copy = dup_bytes(buf, cut); /* exact size, so ASan sees overreads */

        ASSERT_EQ(hl_capture_decode(copy, cut, &out, errbuf, sizeof(errbuf)), -1);
        if (strncmp(errbuf, "truncated: ", 11) != 0)
            HL__FAIL("prefix of %zu bytes: unexpected message \"%s\"", cut, errbuf);
        free(copy);
    }
    free(buf);
}

static void test_reject_every_bit_flip(void) {
    size_t len, bit, i;
    uint8_t *buf = small_file(&len);
    uint8_t *copy = malloc(len);

    ASSERT_NOT_NULL(copy);
    /* Every byte of the file is under a CRC or is the magic or the version,
     * so every single-bit flip must be detected. */
    for (bit = 0; bit < len * 8; bit++) {
        hl_snapshot_data out;

        memcpy(copy, buf, len);
        copy[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        memset(errbuf, 0, sizeof(errbuf));
        if (hl_capture_decode(copy, len, &out, errbuf, sizeof(errbuf)) == 0)
            HL__FAIL("flipping bit %zu went unnoticed", bit);
        ASSERT_GT(strlen(errbuf), 0);
        ASSERT_NULL(strchr(errbuf, '\n'));
    }
    /* Whole-byte damage of every byte: must fail or yield valid data. */
    for (i = 0; i < len; i++) {
        static const uint8_t values[] = {0x00, 0xFF, 0x7F, 0x80, 0x01};
        size_t v;

        for (v = 0; v < sizeof(values); v++) {
            hl_snapshot_data out;

            memcpy(copy, buf, len);
            if (copy[i] == values[v])
                continue;
            copy[i] = values[v];
            if (hl_capture_decode(copy, len, &out, errbuf, sizeof(errbuf)) == 0) {
                ASSERT_EQ(hl_snapshot_data_validate(&out, errbuf, sizeof(errbuf)), 0);
                hl_snapshot_data_clear(&out);
            }
        }
    }
    free(copy);
    free(buf);
}

static void test_reject_versions_and_header_flags(void) {
    size_t len;
    uint8_t *buf = small_file(&len);
    bytes b = {0};
    hl_snapshot_data out;
    hl_capture capture;

    put_file_header(&b, 7, 0, 0);
    put_raw(&b, buf + 20, len - 20);
    expect_reject(b.p, b.len, "unsupported format version 7.0 (this heaplens reads 1.x)");
    b.len = 0;
    put_file_header(&b, 0, 9, 0);
    put_raw(&b, buf + 20, len - 20);
    expect_reject(b.p, b.len, "unsupported format version 0.9 (this heaplens reads 1.x)");

    /* A newer minor version is read. */
    b.len = 0;
    put_file_header(&b, 1, 5, 0);
    put_raw(&b, buf + 20, len - 20);
    ASSERT_EQ(hl_capture_decode_all(b.p, b.len, &capture, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(capture.version_minor, 5);
    hl_capture_clear(&capture);

    /* must-understand flag: rejected; advisory flag: ignored */
    b.len = 0;
    put_file_header(&b, 1, 0, 0x4);
    put_raw(&b, buf + 20, len - 20);
    expect_reject(b.p, b.len, "unsupported header flags 0x00000004");
    b.len = 0;
    put_file_header(&b, 1, 0, 0x00100000u);
    put_raw(&b, buf + 20, len - 20);
    ASSERT_EQ(hl_capture_decode(b.p, b.len, &out, errbuf, sizeof(errbuf)), 0);
    hl_snapshot_data_clear(&out);

    /* header CRC */
    memcpy(b.p, buf, len);
    b.p[12] = 1;
    expect_reject(b.p, len, "checksum mismatch in header");
    free(b.p);
    free(buf);
}

static void test_unknown_sections(void) {
    size_t len, end;
    uint8_t *buf = small_file(&len);
    hl_snapshot_data d, out;
    bytes b;

    make_small(&d);
    end = len - 20;
    /* unknown required section: rejected */
    b = insert_section(buf, len, end, "HEAP", 1, "abc", 3);
    expect_reject(b.p, b.len, "unknown required section 'HEAP' (written by a newer heaplens?)");
    free(b.p);
    b = insert_section(buf, len, end, "\x01\x02\x03\x04", 3, NULL, 0);
    expect_reject(b.p, b.len, "unknown required section 0x04030201 (written by a newer heaplens?)");
    free(b.p);

    /* unknown optional sections, at the start, inside the snapshot and at
     * the end: skipped */
    b = insert_section(buf, len, end, "HEAP", 0, "some future data", 16);
    {
        size_t frames_at = find_section(b.p, b.len, "FRMS", 0);
        bytes c = insert_section(b.p, b.len, frames_at, "XTRA", 0x2, "x", 1);
        bytes e = insert_section(c.p, c.len, 20, "ZERO", 0, NULL, 0);

        ASSERT_EQ(hl_capture_decode(e.p, e.len, &out, errbuf, sizeof(errbuf)), 0);
        assert_same_snapshot(&d, &out);
        hl_snapshot_data_clear(&out);
        free(c.p);
        free(e.p);
    }
    free(b.p);

    /* a known section whose required bit is clear is still understood */
    {
        bytes c = {0};
        put_raw(&c, buf, len);
        c.p[20 + 4] = 0; /* SNAP flags */
        set_u32(c.p + 20 + 16, hl_crc32c_update(hl_crc32c_compute(c.p + 20, 16), c.p + 40, 4));
        ASSERT_EQ(hl_capture_decode(c.p, c.len, &out, errbuf, sizeof(errbuf)), 0);
        hl_snapshot_data_clear(&out);
        free(c.p);
    }
    hl_snapshot_data_clear(&d);
    free(buf);
}

static void test_reject_section_structure(void) {
    size_t len;
    uint8_t *buf = small_file(&len);
    size_t snap_at = find_section(buf, len, "SNAP", 0);
    size_t meta_at = find_section(buf, len, "META", 0);
    size_t trcs_at = find_section(buf, len, "TRCS", 0);
    size_t end_at = find_section(buf, len, "END ", 0);
    bytes b = {0};

    /* checksum */
    put_raw(&b, buf, len);
    b.p[trcs_at + 30] ^= 0x10;
    expect_reject(b.p, b.len, "checksum mismatch in section TRACES");
    b.len = 0;

    /* a section header field is covered by the CRC too */
    put_raw(&b, buf, len);
    b.p[meta_at + 5] = 0x80; /* reserved flag bit */
    expect_reject(b.p, b.len, "checksum mismatch in section META");
    b.len = 0;

    /* a length pointing past the end */
    put_raw(&b, buf, len);
    set_u32(b.p + trcs_at + 8, 1200);
    expect_reject(b.p, b.len, "truncated: section TRACES needs 1200 bytes, 44 remain");
    set_u32(b.p + trcs_at + 12, 0x10000);
    expect_reject(b.p, b.len, "truncated: section TRACES needs 281474976711856 bytes, 44 remain");
    b.len = 0;

    /* data after END */
    put_raw(&b, buf, len);
    put_raw(&b, "garbage", 7);
    expect_reject(b.p, b.len, "7 bytes of trailing data after the END section");
    b.len = 0;

    /* END with a payload */
    put_raw(&b, buf, end_at);
    put_section(&b, "END ", 1, "x", 1);
    expect_reject(b.p, b.len, "section END is not empty");
    free(b.p);

    /* snapshot section before SNAPSHOT; then without any SNAPSHOT at all */
    b.p = NULL;
    b.len = b.cap = 0;
    put_raw(&b, buf, snap_at);
    put_raw(&b, buf + meta_at, len - meta_at);
    expect_reject(b.p, b.len, "section META appears before any SNAPSHOT section");
    b.len = 0;

    /* duplicate section */
    {
        bytes c = insert_section(buf, len, trcs_at, "FRMS", 1, "\0\0\0\0", 4);
        expect_reject(c.p, c.len, "duplicate FRAMES section in snapshot 0");
        free(c.p);
    }

    /* missing section: drop TRACES */
    put_raw(&b, buf, trcs_at);
    put_raw(&b, buf + end_at, len - end_at);
    expect_reject(b.p, b.len, "snapshot 0 has no TRACES section");
    b.len = 0;

    /* missing section detected at the next SNAPSHOT */
    put_raw(&b, buf, trcs_at);
    put_raw(&b, buf + snap_at, len - snap_at);
    expect_reject(b.p, b.len, "snapshot 0 has no TRACES section");
    free(b.p);
    free(buf);
}

static void test_reject_bad_payloads(void) {
    size_t len;
    uint8_t *buf = small_file(&len);
    bytes p = {0};

    /* SNAPSHOT */
    expect_reject_patched(buf, len, "SNAP", "\0\0", 2, "section SNAPSHOT is too short (2 bytes)");
    expect_reject_patched(buf, len, "SNAP", "\x05\0\0\0peak", 8,
                          "section SNAPSHOT declares a name of 5 bytes but holds 4");
    expect_reject_patched(buf, len, "SNAP", "\x04\0\0\0pe\xc3k", 8,
                          "snapshot name is not valid UTF-8 text");
    expect_reject_patched(buf, len, "SNAP", "\x04\0\0\0pe\0k", 8,
                          "snapshot name is not valid UTF-8 text");

    /* META: short is an error, longer is fine (future fields) */
    expect_reject_patched(buf, len, "META", "\x02\0\0\0\0\0\0\0", 8,
                          "section META is too short (8 bytes)");
    {
        hl_snapshot_data out;
        uint8_t meta[24] = {3};
        bytes c = replace_payload(buf, len, "META", 0, meta, sizeof(meta));
        ASSERT_EQ(hl_capture_decode(c.p, c.len, &out, errbuf, sizeof(errbuf)), 0);
        ASSERT_EQ(out.traceback_limit, 3);
        hl_snapshot_data_clear(&out);
        free(c.p);
    }

    /* STRINGS */
    expect_reject_patched(buf, len, "STRS", "\x01\0", 2, "section STRINGS is too short (2 bytes)");
    put_u32(&p, 1000);
    put_u32(&p, 3);
    put_raw(&p, "abc", 3);
    expect_reject_patched(buf, len, "STRS", p.p, p.len,
                          "section STRINGS declares 1000 strings but has room for 1");
    p.len = 0;
    put_u32(&p, 2);
    put_u32(&p, 3);
    put_u32(&p, UINT32_MAX);
    put_raw(&p, "abcdef", 6);
    expect_reject_patched(buf, len, "STRS", p.p, p.len,
                          "section STRINGS declares 4294967298 bytes of text but holds 6");
    p.len = 0;
    put_u32(&p, 2);
    put_u32(&p, 3);
    put_u32(&p, 2);
    put_raw(&p, "abcdefg", 7);
    expect_reject_patched(buf, len, "STRS", p.p, p.len,
                          "section STRINGS has 2 unexpected trailing bytes");
    p.len = 0;
    put_u32(&p, 2);
    put_u32(&p, 3);
    put_u32(&p, 2);
    put_raw(&p,
            "a\xe9"
            "cde",
            5);
    expect_reject_patched(buf, len, "STRS", p.p, p.len, "string 0 is not valid UTF-8 (at byte 1)");
    p.len = 0;

    /* FRAMES */
    expect_reject_patched(buf, len, "FRMS", "", 0, "section FRAMES is too short (0 bytes)");
    put_u32(&p, 1000);
    put_u32(&p, 0);
    put_u32(&p, 1);
    put_u32(&p, 1);
    put_u32(&p, 2);
    expect_reject_patched(buf, len, "FRMS", p.p, p.len,
                          "section FRAMES declares 1000 frames but has room for 2");
    set_u32(p.p, 1);
    expect_reject_patched(buf, len, "FRMS", p.p, p.len,
                          "section FRAMES has 8 unexpected trailing bytes");
    set_u32(p.p, 2);
    set_u32(p.p + 4, 7); /* frame 0's file name */
    expect_reject_patched(buf, len, "FRMS", p.p, p.len,
                          "frame 0 refers to string 7 but there are 2 strings");
    set_u32(p.p + 4, 1);
    set_u32(p.p + 8, 2);
    expect_reject_patched(buf, len, "FRMS", p.p, p.len,
                          "frames 0 and 1 are identical (string 1, line 2)");
    p.len = 0;

    /* STACKS */
    expect_reject_patched(buf, len, "STKS", "\0", 1, "section STACKS is too short (1 bytes)");
    put_u32(&p, 1);
    put_u32(&p, 2);
    put_u32(&p, 5);
    put_u32(&p, 1);
    put_u32(&p, 99); /* frame index out of range */
    expect_reject_patched(buf, len, "STKS", p.p, p.len,
                          "stack 0 refers to frame 99 but there are 2 frames");
    set_u32(p.p + 16, 0);
    set_u32(p.p + 4, 3); /* nframe past the payload */
    expect_reject_patched(buf, len, "STKS", p.p, p.len, "section STACKS ends inside stack 0");
    set_u32(p.p + 4, UINT32_MAX);
    expect_reject_patched(buf, len, "STKS", p.p, p.len, "section STACKS ends inside stack 0");
    set_u32(p.p + 4, 1); /* one frame index too many */
    expect_reject_patched(buf, len, "STKS", p.p, p.len,
                          "section STACKS has 4 unexpected trailing bytes");
    set_u32(p.p, 2); /* two stacks of which the first eats the second's header */
    set_u32(p.p + 4, 2);
    expect_reject_patched(buf, len, "STKS", p.p, p.len, "section STACKS ends inside stack 0");
    set_u32(p.p, 3);
    expect_reject_patched(buf, len, "STKS", p.p, p.len,
                          "section STACKS declares 3 stacks but has room for 2");
    set_u32(p.p, 1);
    set_u32(p.p + 4, 2);
    set_u32(p.p + 8, 1); /* total_nframe below nframe */
    expect_reject_patched(buf, len, "STKS", p.p, p.len,
                          "stack 0 has total_nframe 1 below its nframe 2");
    p.len = 0;
    put_u32(&p, 1);
    put_u32(&p, 0);
    put_u32(&p, 0);
    expect_reject_patched(buf, len, "STKS", p.p, p.len, "stack 0 has no frames");
    p.len = 0;
    put_u32(&p, 2);
    put_u32(&p, 1);
    put_u32(&p, 1);
    put_u32(&p, 0);
    put_u32(&p, 1);
    put_u32(&p, 1);
    put_u32(&p, 0);
    expect_reject_patched(buf, len, "STKS", p.p, p.len, "stacks 0 and 1 are identical");
    p.len = 0;

    /* TRACES */
    expect_reject_patched(buf, len, "TRCS", "\0\0\0\0", 4, "section TRACES is too short (4 bytes)");
    put_u64(&p, (uint64_t)1 << 60); /* must not allocate 16 EiB */
    put_u64(&p, 1);
    put_u32(&p, 0);
    put_u32(&p, 0);
    expect_reject_patched(buf, len, "TRCS", p.p, p.len,
                          "section TRACES declares 1152921504606846976 traces but has room for 1");
    set_u32(p.p, 0);
    set_u32(p.p + 4, 0);
    expect_reject_patched(buf, len, "TRCS", p.p, p.len,
                          "section TRACES has 16 unexpected trailing bytes");
    set_u32(p.p, 1);
    set_u32(p.p + 16, 1);
    expect_reject_patched(buf, len, "TRCS", p.p, p.len,
                          "trace 0 refers to stack 1 but there are 1 stacks");
    p.len = 0;

    free(p.p);
    free(buf);
}

static void test_reject_bad_info(void) {
    size_t len;
    uint8_t *buf = small_file(&len);
    size_t end = len - 20;
    bytes p = {0}, b;
    hl_capture capture;

    put_u32(&p, 1);
    put_raw(&p, "k", 1);
    put_u32(&p, 2);
    put_raw(&p, "v", 1);
    b = insert_section(buf, len, end, "INFO", 0, p.p, p.len);
    expect_reject(b.p, b.len, "section INFO declares a value of 2 bytes but holds 1");
    free(b.p);
    set_u32(p.p, 9);
    b = insert_section(buf, len, end, "INFO", 0, p.p, p.len);
    expect_reject(b.p, b.len, "section INFO declares a key of 9 bytes but has room for 2");
    free(b.p);
    b = insert_section(buf, len, end, "INFO", 0, p.p, 7);
    expect_reject(b.p, b.len, "section INFO is too short (7 bytes)");
    free(b.p);
    set_u32(p.p, 1);
    p.p[4] = 0xC0;
    set_u32(p.p + 5, 1);
    b = insert_section(buf, len, end, "INFO", 0, p.p, p.len);
    expect_reject(b.p, b.len, "info key is not valid UTF-8 text");
    free(b.p);
    p.p[4] = 'k';
    p.p[9] = 0;
    b = insert_section(buf, len, end, "INFO", 0, p.p, p.len);
    expect_reject(b.p, b.len, "info value is not valid UTF-8 text");
    free(b.p);
    p.p[9] = 'v';
    b = insert_section(buf, len, 20, "INFO", 0, p.p, p.len);
    ASSERT_EQ(hl_capture_decode_all(b.p, b.len, &capture, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(capture.n_info, 1);
    ASSERT_STR_EQ(capture.info[0].value, "v");
    hl_capture_clear(&capture);
    free(b.p);
    free(p.p);
    free(buf);
}

/* A snapshot of tracemalloc's worst realistic size class, to keep an eye on
 * speed and memory: 1 M traces (16 MiB of records). */
static void test_large_snapshot(void) {
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len;

    make_many(&d, 200, 20000, 15000, 1u << 20);
    buf = round_trip(&d, &len);
    ASSERT_GT(len, (1u << 20) * 16);
    free(buf);
    hl_snapshot_data_clear(&d);
}

/* ---- version 1.1: counts, function names, timeline ------------------------ */

/* make_small's snapshot, aggregated: its trace stands for 7 blocks, and
 * frame 1 is in function "main" (string 2). */
static void make_aggregated(hl_snapshot_data *d) {
    static const char *const strings[] = {"app.py", "lib.py", "main"};
    static const uint64_t counts[] = {7};
    static const uint32_t functions[] = {HL_NO_FUNCTION, 2};

    make_small(d);
    free(d->string_offsets);
    free(d->string_bytes);
    set_strings(d, strings, NULL, 3);
    d->trace_counts = dup_bytes(counts, sizeof(counts));
    d->frame_functions = dup_bytes(functions, sizeof(functions));
}

static void test_counts_and_functions_round_trip(void) {
    hl_snapshot_data d, back;
    uint8_t *buf;
    size_t len, at;

    make_aggregated(&d);
    ASSERT_EQ(hl_capture_encode(&d, &buf, &len, errbuf, sizeof(errbuf)), 0);
    /* COUNTS is required (old readers must refuse), FUNCTIONS optional. */
    at = find_section(buf, len, "CNTS", 0);
    ASSERT_TRUE(at != SIZE_MAX);
    ASSERT_EQ(get_u32(buf + at + 4), 1);
    ASSERT_U64_EQ(get_u64(buf + at + 8), 16);
    ASSERT_U64_EQ(get_u64(buf + at + 20), 1);
    ASSERT_U64_EQ(get_u64(buf + at + 28), 7);
    at = find_section(buf, len, "FNCS", 0);
    ASSERT_TRUE(at != SIZE_MAX);
    ASSERT_EQ(get_u32(buf + at + 4), 0);
    ASSERT_EQ(get_u32(buf + at + 20), 2);
    ASSERT_EQ(get_u32(buf + at + 24), HL_NO_FUNCTION);
    ASSERT_EQ(get_u32(buf + at + 28), 2);
    if (hl_capture_decode(buf, len, &back, errbuf, sizeof(errbuf)) != 0)
        HL__FAIL("decode failed: %s", errbuf);
    assert_same_snapshot(&d, &back);
    ASSERT_NOT_NULL(back.trace_counts);
    hl_snapshot_data_clear(&back);
    free(buf);
    hl_snapshot_data_clear(&d);
}

static void test_reject_bad_counts_and_functions(void) {
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len;
    bytes p = {0};

    make_aggregated(&d);
    ASSERT_EQ(hl_capture_encode(&d, &buf, &len, errbuf, sizeof(errbuf)), 0);
    put_u64(&p, 2);
    put_u64(&p, 1);
    put_u64(&p, 1);
    expect_reject_patched(buf, len, "CNTS", p.p, p.len, "snapshot 0 has 1 traces but 2 counts");
    expect_reject_patched(buf, len, "CNTS", p.p, 16,
                          "section COUNTS declares 2 counts but has room for 1");
    set_u32(p.p, 1);
    expect_reject_patched(buf, len, "CNTS", p.p, 20,
                          "section COUNTS has 4 unexpected trailing bytes");
    p.len = 0;
    put_u64(&p, 1);
    put_u64(&p, 0);
    expect_reject_patched(buf, len, "CNTS", p.p, p.len, "trace 0 stands for 0 blocks");
    p.len = 0;
    put_u32(&p, 2);
    put_u32(&p, 0);
    put_u32(&p, 3);
    expect_reject_patched(buf, len, "FNCS", p.p, p.len,
                          "frame 1 names function string 3 but there are 3 strings");
    p.len = 0;
    put_u32(&p, 1);
    put_u32(&p, 0);
    expect_reject_patched(buf, len, "FNCS", p.p, p.len,
                          "snapshot 0 has 2 frames but 1 function names");
    free(p.p);
    free(buf);
    hl_snapshot_data_clear(&d);
}

static void test_timeline_round_trip_and_rejects(void) {
    hl_capture_writer *writer;
    hl_timeline timeline;
    hl_capture capture;
    hl_snapshot_data d;
    uint8_t *buf;
    size_t len, at;
    bytes p = {0}, b;

    ASSERT_EQ(hl_timeline_init(&timeline, 8, -5, 10000000), 0);
    for (uint64_t i = 0; i < 3; i++) {
        hl_timeline_point point = {i * 10, 100 * i, 100 * i + 50, 4096};
        hl_timeline_add(&timeline, point);
    }
    make_small(&d);
    writer = hl_capture_writer_open_memory(errbuf, sizeof(errbuf));
    ASSERT_NOT_NULL(writer);
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "exit", &d, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_add_timeline(writer, &timeline, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_finish(writer, &buf, &len, errbuf, sizeof(errbuf)), 0);
    at = find_section(buf, len, "TIME", 0);
    ASSERT_TRUE(at != SIZE_MAX);
    ASSERT_EQ(get_u32(buf + at + 4), 0); /* optional */
    ASSERT_U64_EQ(get_u64(buf + at + 8), 24 + 3 * 32);
    ASSERT_U64_EQ(get_u64(buf + at + 20), (uint64_t)-5); /* start_ns, two's complement */
    ASSERT_U64_EQ(get_u64(buf + at + 28), 10000000);
    ASSERT_U64_EQ(get_u64(buf + at + 36), 3);
    ASSERT_U64_EQ(get_u64(buf + at + 44 + 32 * 2 + 16), 250); /* point 2's traced_max */
    if (hl_capture_decode_all(buf, len, &capture, errbuf, sizeof(errbuf)) != 0)
        HL__FAIL("decode_all failed: %s", errbuf);
    ASSERT_EQ(capture.has_timeline, 1);
    ASSERT_EQ(capture.timeline.start_ns, -5);
    ASSERT_EQ(capture.timeline.n_points, 3);
    ASSERT_U64_EQ(capture.timeline.points[1].traced, 100);
    ASSERT_U64_EQ(capture.timeline.points[1].rss, 4096);
    hl_capture_clear(&capture);

    /* Hostile timelines. */
    put_u64(&p, 0);
    put_u64(&p, 1);
    put_u64(&p, 2);
    for (int i = 0; i < 2; i++) {
        put_u64(&p, 10 - (uint64_t)i); /* time going backwards at point 1 */
        put_u64(&p, 5);
        put_u64(&p, 5);
        put_u64(&p, 0);
    }
    b = replace_payload(buf, len, "TIME", 0, p.p, p.len);
    ASSERT_EQ(hl_capture_decode_all(b.p, b.len, &capture, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "timeline point 1 is earlier than the one before");
    free(b.p);
    set_u32(p.p + 24 + 32 + 16, 4); /* point 1: max 4 below its value 5 */
    set_u32(p.p + 24 + 32, 11);
    b = replace_payload(buf, len, "TIME", 0, p.p, p.len);
    ASSERT_EQ(hl_capture_decode_all(b.p, b.len, &capture, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "timeline point 1 has a maximum below its value");
    free(b.p);
    b = replace_payload(buf, len, "TIME", 0, p.p, p.len - 8);
    ASSERT_EQ(hl_capture_decode_all(b.p, b.len, &capture, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "section TIMELINE declares 2 points but has room for 1");
    free(b.p);
    at = find_section(buf, len, "TIME", 0);
    b = insert_section(buf, len, at, "TIME", 0, buf + at + 20, 24 + 3 * 32);
    ASSERT_EQ(hl_capture_decode_all(b.p, b.len, &capture, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "duplicate TIMELINE section");
    free(b.p);

    /* The writer refuses points out of order. */
    timeline.points[2].t_ns = 1;
    writer = hl_capture_writer_open_memory(errbuf, sizeof(errbuf));
    ASSERT_EQ(hl_capture_writer_add_timeline(writer, &timeline, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "timeline point 2 is out of order");
    hl_capture_writer_abort(writer);

    free(p.p);
    free(buf);
    hl_timeline_destroy(&timeline);
    hl_snapshot_data_clear(&d);
}

int main(void) {
    RUN_TEST(test_crc32c_known_answer);
    RUN_TEST(test_round_trip_empty);
    RUN_TEST(test_round_trip_one_trace);
    RUN_TEST(test_round_trip_many);
    RUN_TEST(test_round_trip_utf8);
    RUN_TEST(test_round_trip_extreme_values);
    RUN_TEST(test_round_trip_total_nframe_above_nframe);
    RUN_TEST(test_golden_bytes);
    RUN_TEST(test_encoding_is_deterministic);
    RUN_TEST(test_encode_refuses_invalid_snapshot);
    RUN_TEST(test_file_round_trip);
    RUN_TEST(test_file_errors);
    RUN_TEST(test_several_snapshots);
    RUN_TEST(test_many_small_sections);
    RUN_TEST(test_reject_empty_and_foreign);
    RUN_TEST(test_reject_every_truncation);
    RUN_TEST(test_reject_every_bit_flip);
    RUN_TEST(test_reject_versions_and_header_flags);
    RUN_TEST(test_unknown_sections);
    RUN_TEST(test_reject_section_structure);
    RUN_TEST(test_reject_bad_payloads);
    RUN_TEST(test_reject_bad_info);
    RUN_TEST(test_large_snapshot);
    RUN_TEST(test_counts_and_functions_round_trip);
    RUN_TEST(test_reject_bad_counts_and_functions);
    RUN_TEST(test_timeline_round_trip_and_rejects);
    TEST_SUMMARY("test_capture");
}
