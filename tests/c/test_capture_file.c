/* test_capture_file.c - the capture reader on files (hl_capture_read_file*).
 *
 * The buffer decoder is tested in test_capture.c. Here the point is what the
 * file reader does before it reads the body (issue 15, defect 8): it refuses
 * what is not a regular file without reading it, checks the header and the
 * section table against the file's real size, and so never lets a length
 * field make it read or allocate more than the file holds. Memory is measured
 * as growth of the peak RSS (getrusage), in KiB.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "crc32.h"
#include "hl_test.h"
#include "snapshot_data.h"

#define GIB ((uint64_t)1 << 30)
#define HEADER_SIZE 20u
#define SECTION_HEADER_SIZE 20u

static char errbuf[256];
static char dir[] = "/tmp/hl_capture_file_XXXXXX";
static char path[4096];

static void store_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void store_u64(uint8_t *p, uint64_t v) {
    store_u32(p, (uint32_t)v);
    store_u32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t load_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static long peak_rss_kib(void) {
    struct rusage usage;
    ASSERT_EQ(getrusage(RUSAGE_SELF, &usage), 0);
    return usage.ru_maxrss;
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void write_bytes(const char *where, const uint8_t *data, size_t len) {
    FILE *f = fopen(where, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fwrite(data, 1, len, f), len);
    ASSERT_EQ(fclose(f), 0);
}

/* A good capture in memory: one INFO pair and two empty snapshots. */
static uint8_t *good_capture(size_t *len) {
    hl_capture_writer *writer = hl_capture_writer_open_memory(errbuf, sizeof(errbuf));
    hl_snapshot_data empty;
    uint8_t *buf;

    ASSERT_NOT_NULL(writer);
    hl_snapshot_data_init(&empty);
    ASSERT_EQ(hl_capture_writer_add_info(writer, "key", "value", errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "one", &empty, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_add_snapshot(writer, "two", &empty, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_finish(writer, &buf, len, errbuf, sizeof(errbuf)), 0);
    return buf;
}

/* Offsets of the section headers of a capture's bytes; returns their count. */
static size_t section_offsets(const uint8_t *buf, size_t len, size_t *offsets, size_t max) {
    size_t n = 0, pos = HEADER_SIZE;
    while (pos < len && n < max) {
        offsets[n++] = pos;
        pos += SECTION_HEADER_SIZE + (size_t)load_u64(buf + pos + 8);
    }
    return n;
}

/* Read path expecting failure; returns errbuf. */
static const char *read_fails(void) {
    hl_capture capture;
    hl_snapshot_data one;

    ASSERT_EQ(hl_capture_read_file(path, &one, errbuf, sizeof(errbuf)), -1);
    ASSERT_NULL(one.traces);
    ASSERT_EQ(hl_capture_read_file_all(path, &capture, errbuf, sizeof(errbuf)), -1);
    ASSERT_EQ(capture.n_snapshots, 0);
    ASSERT_EQ(capture.n_info, 0);
    return errbuf;
}

static void assert_contains(const char *text, const char *part) {
    if (strstr(text, part) == NULL)
        HL__FAIL("\"%s\" does not contain \"%s\"", text, part);
}

/* A valid 20-byte file header, version 1.1. */
static void file_header(uint8_t *out) {
    static const uint8_t magic[8] = {0x89, 'H', 'L', 'C', '\r', '\n', 0x1A, '\n'};
    memcpy(out, magic, 8);
    out[8] = 1, out[9] = 0, out[10] = 1, out[11] = 0;
    store_u32(out + 12, 0);
    store_u32(out + 16, hl_crc32c_compute(out, 16));
}

/* ---- not regular files ----------------------------------------------------- */

static void test_dev_zero(void) {
    long before = peak_rss_kib();
    double start = now_seconds();
    hl_capture capture;

    strcpy(path, "/dev/zero");
    ASSERT_EQ(hl_capture_read_file_all(path, &capture, errbuf, sizeof(errbuf)), -1);
    ASSERT_STR_EQ(errbuf, "not a regular file (a character device): a capture is read from a "
                          "file of known size");
    ASSERT_EQ(hl_capture_os_errno(), 0);
    ASSERT_LT(now_seconds() - start, 1.0);
    ASSERT_LT(peak_rss_kib() - before, 8 * 1024);
}

static void test_fifo_without_writer(void) {
    double start = now_seconds();

    snprintf(path, sizeof(path), "%s/capture.fifo", dir);
    ASSERT_EQ(mkfifo(path, 0600), 0);
    /* Nobody opens the other end: a blocking open would wait forever. */
    alarm(20);
    assert_contains(read_fails(), "not a regular file (a FIFO)");
    alarm(0);
    ASSERT_LT(now_seconds() - start, 1.0);
    ASSERT_EQ(unlink(path), 0);
}

static void test_directory(void) {
    strcpy(path, dir);
    ASSERT_STR_EQ(read_fails(), "cannot read: Is a directory");
    ASSERT_EQ(hl_capture_os_errno(), EISDIR);
}

/* ---- sparse files ------------------------------------------------------------ */

/* A sparse file of size bytes starting with head (n bytes) and, when tail is
 * not NULL, ending with the tail_len bytes at tail. */
static void sparse_file(const uint8_t *head, size_t n, uint64_t size, const uint8_t *tail,
                        size_t tail_len) {
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fwrite(head, 1, n, f), n);
    ASSERT_EQ(fclose(f), 0);
    ASSERT_EQ(truncate(path, (off_t)(size - tail_len)), 0);
    if (tail != NULL) {
        f = fopen(path, "ab");
        ASSERT_NOT_NULL(f);
        ASSERT_EQ(fwrite(tail, 1, tail_len, f), tail_len);
        ASSERT_EQ(fclose(f), 0);
    }
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_U64_EQ(st.st_size, size);
}

static void test_sparse_3gb_with_valid_header(void) {
    uint8_t head[HEADER_SIZE];
    long before;
    double start;

    snprintf(path, sizeof(path), "%s/sparse.hlc", dir);
    file_header(head);
    sparse_file(head, sizeof(head), 3 * GIB, NULL, 0);
    before = peak_rss_kib();
    start = now_seconds();
    ASSERT_STR_EQ(read_fails(), "checksum mismatch in section 0x00000000 at offset 20");
    ASSERT_LT(now_seconds() - start, 1.0);
    ASSERT_LT(peak_rss_kib() - before, 8 * 1024);
    ASSERT_EQ(unlink(path), 0);
}

/* Header, one optional section of 256 MiB of zeros (a hole) with a wrong CRC,
 * END: every length agrees with the file, so only the CRC refuses it, and
 * checking that must not read the section into memory. */
static void test_sparse_file_with_consistent_table(void) {
    uint8_t head[HEADER_SIZE + SECTION_HEADER_SIZE];
    uint8_t end[SECTION_HEADER_SIZE] = {'E', 'N', 'D', ' '};
    uint64_t size = 256u << 20;
    long before;

    snprintf(path, sizeof(path), "%s/table.hlc", dir);
    file_header(head);
    memcpy(head + HEADER_SIZE, "ZZZZ", 4);
    store_u32(head + HEADER_SIZE + 4, 0);
    store_u64(head + HEADER_SIZE + 8, size - sizeof(head) - sizeof(end));
    store_u32(head + HEADER_SIZE + 16, 0);
    store_u32(end + 4, 1);
    store_u32(end + 16, hl_crc32c_compute(end, 16));
    sparse_file(head, sizeof(head), size, end, sizeof(end));
    before = peak_rss_kib();
    ASSERT_STR_EQ(read_fails(), "checksum mismatch in section 'ZZZZ' at offset 20");
    ASSERT_LT(peak_rss_kib() - before, 8 * 1024);
    ASSERT_EQ(unlink(path), 0);
}

/* ---- lengths and the table ------------------------------------------------- */

static void test_every_truncation(void) {
    size_t len, cut;
    uint8_t *buf = good_capture(&len);

    snprintf(path, sizeof(path), "%s/cut.hlc", dir);
    for (cut = 1; cut < len; cut++) {
        write_bytes(path, buf, cut);
        const char *message = read_fails();
        if (cut >= HEADER_SIZE)
            assert_contains(message, "truncated");
    }
    write_bytes(path, buf, len);
    hl_capture capture;
    ASSERT_EQ(hl_capture_read_file_all(path, &capture, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(capture.n_snapshots, 2);
    ASSERT_STR_EQ(capture.info[0].value, "value");
    hl_capture_clear(&capture);
    free(buf);
}

static void test_lengths_beyond_the_file(void) {
    static const uint64_t claims[] = {1u << 20, (uint64_t)1 << 40, UINT64_MAX};
    size_t len, offsets[16], n, i, k;
    uint8_t *buf = good_capture(&len);
    char expected[128];

    snprintf(path, sizeof(path), "%s/long.hlc", dir);
    n = section_offsets(buf, len, offsets, 16);
    ASSERT_GT(n, 5);
    for (i = 0; i < n; i++) {
        for (k = 0; k < sizeof(claims) / sizeof(claims[0]); k++) {
            uint8_t *copy = malloc(len);
            ASSERT_NOT_NULL(copy);
            memcpy(copy, buf, len);
            store_u64(copy + offsets[i] + 8, claims[k]);
            write_bytes(path, copy, len);
            snprintf(expected, sizeof(expected), "needs %llu bytes, %llu remain",
                     (unsigned long long)claims[k],
                     (unsigned long long)(len - offsets[i] - SECTION_HEADER_SIZE));
            assert_contains(read_fails(), expected);
            free(copy);
        }
    }
    free(buf);
}

/* An early payload is damaged and a later length is impossible: the reader
 * walks the whole table before any payload, so the length is reported. */
static void test_table_before_payloads(void) {
    size_t len, offsets[16], n;
    uint8_t *buf = good_capture(&len);

    snprintf(path, sizeof(path), "%s/order.hlc", dir);
    n = section_offsets(buf, len, offsets, 16);
    buf[offsets[0] + SECTION_HEADER_SIZE] ^= 0xFF;
    store_u64(buf + offsets[n - 1] + 8, (uint64_t)1 << 40);
    write_bytes(path, buf, len);
    assert_contains(read_fails(), "truncated: section END needs 1099511627776 bytes, 0 remain");
    free(buf);
}

static void test_trailing_data_and_unknown_required(void) {
    size_t len;
    uint8_t *buf = good_capture(&len);
    uint8_t *longer = malloc(len + 7);
    uint8_t file[HEADER_SIZE + 2 * SECTION_HEADER_SIZE];

    ASSERT_NOT_NULL(longer);
    snprintf(path, sizeof(path), "%s/trailing.hlc", dir);
    memcpy(longer, buf, len);
    memset(longer + len, 0, 7);
    write_bytes(path, longer, len + 7);
    ASSERT_STR_EQ(read_fails(), "7 bytes of trailing data after the END section");

    /* an empty required section of a tag this version does not know */
    file_header(file);
    memcpy(file + HEADER_SIZE, "QQQQ", 4);
    store_u32(file + HEADER_SIZE + 4, 1);
    store_u64(file + HEADER_SIZE + 8, 0);
    store_u32(file + HEADER_SIZE + 16, hl_crc32c_compute(file + HEADER_SIZE, 16));
    memcpy(file + HEADER_SIZE + SECTION_HEADER_SIZE, "END ", 4);
    store_u32(file + HEADER_SIZE + SECTION_HEADER_SIZE + 4, 1);
    store_u64(file + HEADER_SIZE + SECTION_HEADER_SIZE + 8, 0);
    store_u32(file + HEADER_SIZE + SECTION_HEADER_SIZE + 16,
              hl_crc32c_compute(file + HEADER_SIZE + SECTION_HEADER_SIZE, 16));
    write_bytes(path, file, sizeof(file));
    ASSERT_STR_EQ(read_fails(), "unknown required section 'QQQQ' (written by a newer heaplens?)");
    /* the same section, optional: skipped, and the file is a valid empty capture */
    store_u32(file + HEADER_SIZE + 4, 0);
    store_u32(file + HEADER_SIZE + 16, hl_crc32c_compute(file + HEADER_SIZE, 16));
    write_bytes(path, file, sizeof(file));
    hl_capture capture;
    ASSERT_EQ(hl_capture_read_file_all(path, &capture, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(capture.n_snapshots, 0);
    hl_capture_clear(&capture);
    free(longer);
    free(buf);
}

/* A section of more than 1 MiB (streamed for its CRC) still reads back. */
static void test_large_section_reads(void) {
    hl_capture_writer *writer = hl_capture_writer_open_memory(errbuf, sizeof(errbuf));
    size_t value_len = 3u << 20, len;
    char *value = malloc(value_len + 1);
    uint8_t *buf;
    hl_capture capture;

    ASSERT_NOT_NULL(writer);
    ASSERT_NOT_NULL(value);
    memset(value, 'v', value_len);
    value[value_len] = '\0';
    ASSERT_EQ(hl_capture_writer_add_info(writer, "big", value, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(hl_capture_writer_finish(writer, &buf, &len, errbuf, sizeof(errbuf)), 0);
    snprintf(path, sizeof(path), "%s/big.hlc", dir);
    write_bytes(path, buf, len);
    ASSERT_EQ(hl_capture_read_file_all(path, &capture, errbuf, sizeof(errbuf)), 0);
    ASSERT_EQ(strlen(capture.info[0].value), value_len);
    hl_capture_clear(&capture);
    /* one byte of it damaged: refused by the streamed CRC, naming the offset */
    buf[len / 2] ^= 1;
    write_bytes(path, buf, len);
    ASSERT_STR_EQ(read_fails(), "checksum mismatch in section INFO at offset 20");
    free(buf);
    free(value);
}

static void remove_files(void) {
    static const char *const names[] = {"cut.hlc", "long.hlc", "order.hlc", "trailing.hlc",
                                        "big.hlc"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    ASSERT_EQ(rmdir(dir), 0);
}

int main(void) {
    ASSERT_NOT_NULL(mkdtemp(dir));
    RUN_TEST(test_dev_zero);
    RUN_TEST(test_fifo_without_writer);
    RUN_TEST(test_directory);
    RUN_TEST(test_sparse_3gb_with_valid_header);
    RUN_TEST(test_sparse_file_with_consistent_table);
    RUN_TEST(test_every_truncation);
    RUN_TEST(test_lengths_beyond_the_file);
    RUN_TEST(test_table_before_payloads);
    RUN_TEST(test_trailing_data_and_unknown_required);
    RUN_TEST(test_large_section_reads);
    remove_files();
    TEST_SUMMARY("test_capture_file");
}
