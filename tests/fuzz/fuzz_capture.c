/* fuzz_capture.c - fuzz target for the capture-file reader.
 *
 * Built two ways, both by meson.build: with clang -fsanitize=fuzzer as a
 * libFuzzer target (-Dlibfuzzer=true; tests/fuzz/run_libfuzzer.sh, make
 * fuzz), or with standalone_driver.c (any compiler) which feeds it a corpus
 * and random mutations (-Dunit_tests=true, a meson test). Either way a
 * failed check calls abort().
 *
 * Each input is tried twice: as given, and with its header and section
 * CRCs recomputed. Random mutations almost never keep a CRC valid, so
 * without the second try the fuzzer would only ever exercise the checksum
 * test; with it, mutated payloads reach the section parsers and
 * hl_snapshot_data_validate().
 *
 * Properties checked for every input:
 *  - decoding either fails with a non-empty one-line message and an empty
 *    result, or succeeds;
 *  - a decoded capture re-encodes (so everything decoded is valid), the
 *    re-encoding decodes to the same counts, names and info, and encoding
 *    that again yields the same bytes (decode and encode are inverses);
 *  - the single-snapshot API agrees with the whole-capture API.
 * Set HL_FUZZ_STATS=1 to print how many inputs decoded, at exit.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "crc32.h"
#include "snapshot_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_capture: check failed at line %d: %s\n", __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static unsigned long stats_inputs, stats_decoded_raw, stats_decoded_fixed;

static void print_stats(void) {
    fprintf(stderr,
            "fuzz_capture stats: %lu inputs, %lu decoded as given, "
            "%lu decoded after CRC fix-up\n",
            stats_inputs, stats_decoded_raw, stats_decoded_fixed);
}

static uint32_t load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void store_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Recompute the header CRC and the CRC of every complete section in place,
 * following the lengths as far as they stay inside the buffer. */
static void fix_crcs(uint8_t *buf, size_t size) {
    size_t pos = 20;

    if (size < 20)
        return;
    store_u32(buf + 16, hl_crc32c_compute(buf, 16));
    while (size - pos >= 20) {
        uint64_t length =
            (uint64_t)load_u32(buf + pos + 8) | ((uint64_t)load_u32(buf + pos + 12) << 32);

        if (length > size - pos - 20)
            break;
        store_u32(buf + pos + 16, hl_crc32c_update(hl_crc32c_compute(buf + pos, 16), buf + pos + 20,
                                                   (size_t)length));
        pos += 20 + (size_t)length;
    }
}

/* Encode every snapshot and info pair of *capture into a new buffer. */
static void encode_capture(const hl_capture *capture, uint8_t **out, size_t *out_len) {
    char err[256];
    hl_capture_writer *writer = hl_capture_writer_open_memory(err, sizeof(err));
    size_t i;

    CHECK(writer != NULL);
    for (i = 0; i < capture->n_info; i++)
        CHECK(hl_capture_writer_add_info(writer, capture->info[i].key, capture->info[i].value, err,
                                         sizeof(err)) == 0);
    for (i = 0; i < capture->n_snapshots; i++)
        CHECK(hl_capture_writer_add_snapshot(writer, capture->snapshots[i].name,
                                             &capture->snapshots[i].data, err, sizeof(err)) == 0);
    if (capture->has_timeline)
        CHECK(hl_capture_writer_add_timeline(writer, &capture->timeline, err, sizeof(err)) == 0);
    CHECK(hl_capture_writer_finish(writer, out, out_len, err, sizeof(err)) == 0);
}

/* Decode one input and check the properties above. Returns 1 if it decoded. */
static int check_input(const uint8_t *data, size_t size) {
    hl_capture capture, again;
    hl_snapshot_data single;
    uint8_t *first, *second;
    size_t first_len, second_len, i;
    char err[256];
    int rc;

    memset(err, 0, sizeof(err));
    rc = hl_capture_decode_all(data, size, &capture, err, sizeof(err));
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
        CHECK(capture.n_snapshots == 0 && capture.snapshots == NULL);
        CHECK(capture.n_info == 0 && capture.info == NULL);
        CHECK(hl_capture_decode(data, size, &single, err, sizeof(err)) == -1);
        CHECK(single.n_traces == 0 && single.traces == NULL && single.string_offsets == NULL);
        return 0;
    }

    /* the single-snapshot reader agrees */
    rc = hl_capture_decode(data, size, &single, err, sizeof(err));
    CHECK((rc == 0) == (capture.n_snapshots == 1));
    if (rc == 0) {
        CHECK(single.n_traces == capture.snapshots[0].data.n_traces);
        CHECK(single.n_stacks == capture.snapshots[0].data.n_stacks);
        hl_snapshot_data_clear(&single);
    }

    encode_capture(&capture, &first, &first_len);
    CHECK(hl_capture_decode_all(first, first_len, &again, err, sizeof(err)) == 0);
    CHECK(again.n_snapshots == capture.n_snapshots);
    CHECK(again.n_info == capture.n_info);
    CHECK(again.has_timeline == capture.has_timeline);
    CHECK(again.timeline.n_points == capture.timeline.n_points);
    for (i = 0; i < capture.n_snapshots; i++) {
        const hl_snapshot_data *a = &capture.snapshots[i].data;
        const hl_snapshot_data *b = &again.snapshots[i].data;

        CHECK(strcmp(capture.snapshots[i].name, again.snapshots[i].name) == 0);
        CHECK(a->n_strings == b->n_strings && a->n_frames == b->n_frames);
        CHECK(a->n_stacks == b->n_stacks && a->n_stack_frames == b->n_stack_frames);
        CHECK(a->n_traces == b->n_traces);
        CHECK((a->trace_counts == NULL) == (b->trace_counts == NULL) || a->n_traces == 0);
        for (uint64_t t = 0; t < a->n_traces; t++)
            CHECK(hl_snapshot_trace_count(a, t) == hl_snapshot_trace_count(b, t));
        CHECK(a->traceback_limit == b->traceback_limit && a->timestamp_ns == b->timestamp_ns);
        CHECK(hl_snapshot_data_validate(b, err, sizeof(err)) == 0);
    }
    for (i = 0; i < capture.n_info; i++) {
        CHECK(strcmp(capture.info[i].key, again.info[i].key) == 0);
        CHECK(strcmp(capture.info[i].value, again.info[i].value) == 0);
    }
    encode_capture(&again, &second, &second_len);
    CHECK(first_len == second_len && memcmp(first, second, first_len) == 0);

    free(first);
    free(second);
    hl_capture_clear(&again);
    hl_capture_clear(&capture);
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *fixed;

    if (stats_inputs++ == 0 && getenv("HL_FUZZ_STATS") != NULL)
        atexit(print_stats);
    stats_decoded_raw += (unsigned long)check_input(data, size);

    /* An exact-size copy, so that reads past the end trip ASan. */
    fixed = malloc(size ? size : 1);
    CHECK(fixed != NULL);
    if (size)
        memcpy(fixed, data, size);
    fix_crcs(fixed, size);
    stats_decoded_fixed += (unsigned long)check_input(fixed, size);
    free(fixed);
    return 0;
}
