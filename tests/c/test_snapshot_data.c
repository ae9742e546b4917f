/* test_snapshot_data.c - hl_snapshot_data_init/clear/validate.
 *
 * Each test starts from one small valid snapshot (make_valid), breaks one
 * invariant and checks the exact sentence validate reports.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl_test.h"
#include "snapshot_data.h"

static char errbuf[256];

static void *dup_bytes(const void *src, size_t n) {
    void *p = malloc(n ? n : 1);
    ASSERT_NOT_NULL(p);
    memcpy(p, src, n);
    return p;
}

/* Strings "a.py", "b.py", "caf\xc3\xa9.py"; four frames; three stacks of
 * which the second shares entries with the first; four traces. */
static void make_valid(hl_snapshot_data *d) {
    static const char text[] = "a.py"
                               "b.py"
                               "caf\xc3\xa9.py";
    static const uint64_t offsets[] = {0, 4, 8, 16};
    static const hl_frame frames[] = {{0, 1}, {0, 2}, {1, 10}, {2, -1}};
    static const uint32_t stack_frames[] = {0, 1, 2, 3, 2};
    static const hl_stack stacks[] = {{0, 3, 7}, {1, 2, 2}, {3, 2, 2}};
    static const hl_trace_record traces[] = {
        {16, 0, 0}, {32, 1, 0}, {(uint64_t)5 << 30, 2, 1}, {16, 0, 0}};

    hl_snapshot_data_init(d);
    d->n_strings = 3;
    d->string_offsets = dup_bytes(offsets, sizeof(offsets));
    d->string_bytes = dup_bytes(text, 16);
    d->n_frames = 4;
    d->frames = dup_bytes(frames, sizeof(frames));
    d->n_stacks = 3;
    d->stacks = dup_bytes(stacks, sizeof(stacks));
    d->n_stack_frames = 5;
    d->stack_frames = dup_bytes(stack_frames, sizeof(stack_frames));
    d->n_traces = 4;
    d->traces = dup_bytes(traces, sizeof(traces));
    d->traceback_limit = 3;
    d->timestamp_ns = 1700000000000000000;
}

/* Validate d, expect failure with message `expected`, then free d. */
static void expect_invalid(hl_snapshot_data *d, const char *expected) {
    memset(errbuf, 'x', sizeof(errbuf));
    ASSERT_EQ(hl_snapshot_data_validate(d, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, expected);
    hl_snapshot_data_clear(d);
}

/* Replace string 0 of a fresh valid snapshot with the given bytes. */
static void set_string0(hl_snapshot_data *d, const char *bytes, size_t len) {
    uint64_t shift;
    char *text;
    uint32_t i;

    make_valid(d);
    shift = len - 4; /* string 0 was "a.py" */
    text = malloc(16 + len);
    ASSERT_NOT_NULL(text);
    memcpy(text, bytes, len);
    memcpy(text + len, d->string_bytes + 4, 12);
    free(d->string_bytes);
    d->string_bytes = text;
    for (i = 1; i <= d->n_strings; i++)
        d->string_offsets[i] += shift;
}

static void test_init_is_valid_and_clear_is_idempotent(void) {
    hl_snapshot_data d;

    hl_snapshot_data_init(&d);
    ASSERT_EQ(hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)), 0);
    hl_snapshot_data_clear(&d);
    hl_snapshot_data_clear(&d);
    ASSERT_NULL(d.traces);
    ASSERT_EQ(d.n_traces, 0);
}

static void test_valid_snapshot(void) {
    hl_snapshot_data d;

    make_valid(&d);
    ASSERT_EQ(hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)), 0);
    /* errbuf may be NULL or empty */
    ASSERT_EQ(hl_snapshot_data_validate(&d, NULL, 0), 0);
    hl_snapshot_data_clear(&d);
    ASSERT_NULL(d.frames);
}

static void test_empty_string_table_with_offsets(void) {
    hl_snapshot_data d;
    uint64_t zero = 0;

    hl_snapshot_data_init(&d);
    d.string_offsets = &zero;
    ASSERT_EQ(hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)), 0);
    zero = 3;
    ASSERT_EQ(hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "string 0 starts at offset 3, not 0");
}

static void test_string_table_broken(void) {
    hl_snapshot_data d;

    make_valid(&d);
    free(d.string_offsets);
    d.string_offsets = NULL;
    expect_invalid(&d, "string table has 3 strings but no offsets");

    make_valid(&d);
    d.string_offsets[2] = 2;
    expect_invalid(&d, "string 1 ends before it starts (offsets 4 and 2)");

    make_valid(&d);
    free(d.string_bytes);
    d.string_bytes = NULL;
    expect_invalid(&d, "string table has 16 bytes of text but no byte buffer");
}

static void test_utf8_accepted(void) {
    static const char *const good[] = {
        "",                 /* empty */
        "plain.py",         /* ASCII */
        "\xc3\xa9",         /* U+00E9 */
        "\xe2\x82\xac",     /* U+20AC */
        "\xf0\x9f\x90\x8d", /* U+1F40D */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF */
        "\xed\xa0\x80",     /* lone surrogate U+D800 (surrogatepass) */
        "\xed\xbf\xbf",     /* lone surrogate U+DFFF */
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        hl_snapshot_data d;

        set_string0(&d, good[i], strlen(good[i]));
        if (hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)) != 0)
            HL__FAIL("string %zu rejected: %s", i, errbuf);
        hl_snapshot_data_clear(&d);
    }
    /* an embedded NUL is a valid code point */
    {
        hl_snapshot_data d;
        set_string0(&d, "a\0b", 3);
        ASSERT_EQ(hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)), 0);
        hl_snapshot_data_clear(&d);
    }
}

static void test_utf8_rejected(void) {
    static const struct {
        const char *bytes;
        const char *message;
    } bad[] = {
        {"\x80", "string 0 is not valid UTF-8 (at byte 0)"},             /* lone continuation */
        {"ab\xc0\x80", "string 0 is not valid UTF-8 (at byte 2)"},       /* overlong NUL */
        {"\xc1\xbf", "string 0 is not valid UTF-8 (at byte 0)"},         /* overlong */
        {"\xe0\x80\x80", "string 0 is not valid UTF-8 (at byte 0)"},     /* overlong 3 */
        {"\xf0\x80\x80\x80", "string 0 is not valid UTF-8 (at byte 0)"}, /* overlong 4 */
        {"\xf4\x90\x80\x80", "string 0 is not valid UTF-8 (at byte 0)"}, /* > U+10FFFF */
        {"\xf5\x80\x80\x80", "string 0 is not valid UTF-8 (at byte 0)"}, /* bad lead */
        {"\xff", "string 0 is not valid UTF-8 (at byte 0)"},
        {"x\xe2\x82", "string 0 is not valid UTF-8 (at byte 1)"},    /* cut short */
        {"\xe2\x28\xa1", "string 0 is not valid UTF-8 (at byte 0)"}, /* bad 2nd byte */
        {"\xe2\x82\x28", "string 0 is not valid UTF-8 (at byte 0)"}, /* bad 3rd byte */
        {"\xc3", "string 0 is not valid UTF-8 (at byte 0)"},
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hl_snapshot_data d;

        set_string0(&d, bad[i].bytes, strlen(bad[i].bytes));
        expect_invalid(&d, bad[i].message);
    }
    /* A sequence cut by the end of the string is caught even when the
     * next string's bytes would complete it. */
    {
        hl_snapshot_data d;
        make_valid(&d);
        d.string_bytes[3] = '\xc3'; /* "a.p\xc3" followed by "b.py" */
        expect_invalid(&d, "string 0 is not valid UTF-8 (at byte 3)");
    }
}

static void test_frames_broken(void) {
    hl_snapshot_data d;

    make_valid(&d);
    d.frames[2].filename = 3;
    expect_invalid(&d, "frame 2 refers to string 3 but there are 3 strings");

    make_valid(&d);
    d.frames[3].filename = 1;
    d.frames[3].lineno = 10;
    expect_invalid(&d, "frames 2 and 3 are identical (string 1, line 10)");

    make_valid(&d);
    free(d.frames);
    d.frames = NULL;
    expect_invalid(&d, "snapshot has 4 frames but no frame array");
}

static void test_stacks_broken(void) {
    hl_snapshot_data d;

    make_valid(&d);
    d.stacks[1].nframe = 0;
    expect_invalid(&d, "stack 1 has no frames");

    make_valid(&d);
    d.stacks[2].first = 4;
    expect_invalid(&d, "stack 2 spans stack_frames[4..6) but there are 5 entries");

    make_valid(&d);
    d.stacks[2].first = UINT32_MAX; /* first + nframe must not wrap */
    expect_invalid(&d,
                   "stack 2 spans stack_frames[4294967295..4294967297) but there are 5 entries");

    make_valid(&d);
    d.stacks[0].total_nframe = 2;
    expect_invalid(&d, "stack 0 has total_nframe 2 below its nframe 3");

    make_valid(&d);
    d.stack_frames[4] = 99;
    expect_invalid(&d, "stack 2 refers to frame 99 but there are 4 frames");

    /* Same frames at a different position are the same stack. */
    make_valid(&d);
    d.stack_frames[3] = 1;
    d.stack_frames[4] = 2;
    expect_invalid(&d, "stacks 1 and 2 are identical");

    /* Same frames, different total_nframe: distinct stacks. */
    make_valid(&d);
    d.stack_frames[3] = 1;
    d.stack_frames[4] = 2;
    d.stacks[2].total_nframe = 9;
    ASSERT_EQ(hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)), 0);
    hl_snapshot_data_clear(&d);

    make_valid(&d);
    free(d.stacks);
    d.stacks = NULL;
    expect_invalid(&d, "snapshot has 3 stacks but no stack array");

    make_valid(&d);
    free(d.stack_frames);
    d.stack_frames = NULL;
    expect_invalid(&d, "snapshot has 5 stack frame entries but no array for them");
}

static void test_traces_broken(void) {
    hl_snapshot_data d;

    make_valid(&d);
    d.traces[3].stack = 3;
    expect_invalid(&d, "trace 3 refers to stack 3 but there are 3 stacks");

    make_valid(&d);
    free(d.traces);
    d.traces = NULL;
    expect_invalid(&d, "snapshot has 4 traces but no trace array");
}

static void test_many_distinct_frames_and_stacks(void) {
    /* Enough elements to make the duplicate check's hash set resize and
     * collide; all distinct, then one duplicate at the end. */
    enum { N = 5000 };
    hl_snapshot_data d;
    uint32_t i;

    hl_snapshot_data_init(&d);
    d.n_strings = 1;
    d.string_offsets = calloc(2, sizeof(uint64_t));
    d.n_frames = N;
    d.frames = calloc(N, sizeof(hl_frame));
    d.n_stacks = N;
    d.stacks = calloc(N, sizeof(hl_stack));
    d.n_stack_frames = 2 * N;
    d.stack_frames = calloc(2 * N, sizeof(uint32_t));
    ASSERT_NOT_NULL(d.frames);
    ASSERT_NOT_NULL(d.stacks);
    ASSERT_NOT_NULL(d.stack_frames);
    ASSERT_NOT_NULL(d.string_offsets);
    for (i = 0; i < N; i++) {
        d.frames[i].lineno = (int32_t)i;
        d.stacks[i].first = 2 * i;
        d.stacks[i].nframe = 2;
        d.stacks[i].total_nframe = 2;
        d.stack_frames[2 * i] = i;
        d.stack_frames[2 * i + 1] = (i * 7) % N;
    }
    ASSERT_EQ(hl_snapshot_data_validate(&d, errbuf, sizeof(errbuf)), 0);
    d.stack_frames[2 * (N - 1)] = 17;
    d.stack_frames[2 * (N - 1) + 1] = (17 * 7) % N;
    expect_invalid(&d, "stacks 17 and 4999 are identical");
}

static void test_small_errbuf_is_terminated(void) {
    hl_snapshot_data d;
    char small[8];

    make_valid(&d);
    d.traces[0].stack = 77;
    memset(small, 'x', sizeof(small));
    ASSERT_EQ(hl_snapshot_data_validate(&d, small, sizeof(small)), -1);
    ASSERT_STR_EQ(small, "trace 0");
    ASSERT_EQ(hl_snapshot_data_validate(&d, NULL, 0), -1);
    hl_snapshot_data_clear(&d);
}

int main(void) {
    RUN_TEST(test_init_is_valid_and_clear_is_idempotent);
    RUN_TEST(test_valid_snapshot);
    RUN_TEST(test_empty_string_table_with_offsets);
    RUN_TEST(test_string_table_broken);
    RUN_TEST(test_utf8_accepted);
    RUN_TEST(test_utf8_rejected);
    RUN_TEST(test_frames_broken);
    RUN_TEST(test_stacks_broken);
    RUN_TEST(test_traces_broken);
    RUN_TEST(test_many_distinct_frames_and_stacks);
    RUN_TEST(test_small_errbuf_is_terminated);
    TEST_SUMMARY("test_snapshot_data");
}
