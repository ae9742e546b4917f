/* capture.c - the capture-file codec (format: docs/capture-format.md).
 *
 * Writing. A writer streams sections through a 64 KiB chunk. Each section's
 * CRC sits in its header, before the payload, so a section is produced in
 * two passes over the same payload generator: the first feeds the bytes to
 * the CRC only, the second sends them to the file or memory buffer. The
 * payload length is computed up front from the counts and both passes check
 * that the generator produced exactly that many bytes. Encoding never
 * depends on host byte order or on struct layout: every integer is stored
 * byte by byte.
 *
 * Reading. The decoder works on one contiguous buffer and treats it as
 * hostile. Before reading a section it checks that the whole section is
 * present and that its CRC matches; inside a payload every count is checked
 * against the bytes actually remaining before anything is allocated, so
 * allocations stay within a small multiple of the input size; all size
 * arithmetic is done in uint64_t on values already bounded by the buffer
 * length. Cross-references between tables are left to
 * hl_snapshot_data_validate(), which runs on every snapshot at the end.
 * On any failure everything decoded so far is freed.
 */
#define _POSIX_C_SOURCE 200809L /* pread, O_CLOEXEC, fstat */
#include "capture.h"
#include "hl_alloc.h"
#include "hl_error.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "crc32.h"

/* The errno of the last failure that came from the operating system, in this
 * thread (see hl_capture_os_errno). */
static _Thread_local int hl__last_os_errno;

/* Remember an OS error number for hl_capture_os_errno() and describe it. */
static const char *hl__os_error(int error) {
    hl__last_os_errno = error;
    return strerror(error);
}

int hl_capture_os_errno(void) {
    return hl__last_os_errno;
}

/* Format an "out of memory ..." message into errbuf and remember ENOMEM for
 * hl_capture_os_errno(), so that the binding raises MemoryError without
 * reading the message. Always returns -1. */
static int hl__no_memory(char *errbuf, size_t errbuf_size, const char *fmt, ...)
    HL_PRINTF_LIKE(3, 4);
static int hl__no_memory(char *errbuf, size_t errbuf_size, const char *fmt, ...) {
    va_list args;

    hl__last_os_errno = ENOMEM;
    if (errbuf != NULL && errbuf_size > 0) {
        va_start(args, fmt);
        vsnprintf(errbuf, errbuf_size, fmt, args);
        va_end(args);
    }
    return -1;
}

#define HL__HEADER_SIZE 20u
#define HL__SECTION_HEADER_SIZE 20u
#define HL__CHUNK_SIZE (64u * 1024u)
#define HL__META_SIZE 16u
#define HL__ERROR_SIZE 256u

/* Header flags 0..15 must be understood; 1.0 defines none. */
#define HL__HEADER_FLAGS_MUST_UNDERSTAND 0x0000FFFFu
/* Section flag bit 0: a reader that does not know the tag must reject the file. */
#define HL__SECTION_REQUIRED 0x1u

#define HL__TAG(a, b, c, d)                                                                        \
    ((uint32_t)(a) | ((uint32_t)(b) << 8) | ((uint32_t)(c) << 16) | ((uint32_t)(d) << 24))
#define HL__TAG_SNAPSHOT HL__TAG('S', 'N', 'A', 'P')
#define HL__TAG_META HL__TAG('M', 'E', 'T', 'A')
#define HL__TAG_STRINGS HL__TAG('S', 'T', 'R', 'S')
#define HL__TAG_FRAMES HL__TAG('F', 'R', 'M', 'S')
#define HL__TAG_STACKS HL__TAG('S', 'T', 'K', 'S')
#define HL__TAG_TRACES HL__TAG('T', 'R', 'C', 'S')
#define HL__TAG_INFO HL__TAG('I', 'N', 'F', 'O')
#define HL__TAG_COUNTS HL__TAG('C', 'N', 'T', 'S')
#define HL__TAG_FUNCTIONS HL__TAG('F', 'N', 'C', 'S')
#define HL__TAG_TIMELINE HL__TAG('T', 'I', 'M', 'E')
#define HL__TAG_END HL__TAG('E', 'N', 'D', ' ')

/* Bits for the snapshot-scoped sections a snapshot has seen so far. */
#define HL__HAS_META 0x01u
#define HL__HAS_STRINGS 0x02u
#define HL__HAS_FRAMES 0x04u
#define HL__HAS_STACKS 0x08u
#define HL__HAS_TRACES 0x10u
#define HL__HAS_COUNTS 0x20u
#define HL__HAS_FUNCTIONS 0x40u

/* What the reader knows about the snapshot being read. */
typedef struct hl__scope {
    unsigned seen;        /* HL__HAS_* bits */
    uint64_t n_counts;    /* entries of its COUNTS section */
    uint32_t n_functions; /* entries of its FUNCTIONS section */
} hl__scope;

static const uint8_t hl__magic[8] = {0x89, 'H', 'L', 'C', '\r', '\n', 0x1A, '\n'};

/* ---- small helpers -------------------------------------------------------- */

static void hl__store_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void hl__store_u32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void hl__store_u64(uint8_t *p, uint64_t v) {
    hl__store_u32(p, (uint32_t)v);
    hl__store_u32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t hl__load_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t hl__load_u32(const uint8_t *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t hl__load_u64(const uint8_t *p) {
    return (uint64_t)hl__load_u32(p) | ((uint64_t)hl__load_u32(p + 4) << 32);
}

/* Two's complement bit patterns to and from int64_t without relying on
 * implementation-defined conversions of out-of-range values. */
static uint64_t hl__i64_bits(int64_t v) {
    return v < 0 ? ~(uint64_t)(-(v + 1)) : (uint64_t)v;
}

static int64_t hl__i64_from_bits(uint64_t v) {
    return v > (uint64_t)INT64_MAX ? -(int64_t)(~v) - 1 : (int64_t)v;
}

static uint32_t hl__i32_bits(int32_t v) {
    return v < 0 ? ~(uint32_t)(-(v + 1)) : (uint32_t)v;
}

static int32_t hl__i32_from_bits(uint32_t v) {
    return v > (uint32_t)INT32_MAX ? -(int32_t)(~v) - 1 : (int32_t)v;
}

/* hl_malloc(count * item_size), or NULL when the product overflows size_t or
 * memory runs out. count must be > 0. */
static void *hl__alloc_array(uint64_t count, size_t item_size) {
    if (count > SIZE_MAX / item_size)
        return NULL;
    return hl_malloc((size_t)count * item_size);
}

/* Make room for element n of array, which holds n elements of item_size
 * bytes and grows geometrically: its capacity is the smallest power of two
 * >= n, so it is reallocated only when n is 0 or a power of two. This keeps a
 * file of a million tiny sections linear to decode. Returns the (possibly
 * moved) array, or NULL when out of memory; array is then still valid. */
static void *hl__reserve_one(void *array, size_t n, size_t item_size) {
    if (n != 0 && (n & (n - 1)) != 0)
        return array; /* not full */
    if (n > SIZE_MAX / 2 / item_size)
        return NULL;
    return hl_realloc(array, (n == 0 ? 1 : 2 * n) * item_size);
}

/* Check that len bytes are UTF-8 text without NUL bytes (the rule for
 * snapshot names and INFO pairs). The UTF-8 rules live in one place,
 * hl_snapshot_data_validate(), so this asks it about a one-string snapshot.
 * Returns 0 when the text is acceptable, -1 otherwise. */
static int hl__check_text(const char *text, uint64_t len) {
    hl_snapshot_data one;
    uint64_t offsets[2];

    if (len > 0 && memchr(text, '\0', (size_t)len) != NULL)
        return -1;
    hl_snapshot_data_init(&one);
    offsets[0] = 0;
    offsets[1] = len;
    one.n_strings = 1;
    one.string_offsets = offsets;
    one.string_bytes = (char *)text; /* read only */
    return hl_snapshot_data_validate(&one, NULL, 0);
}

/* Describe a tag for messages: its name for the sections of this version,
 * 'ABCD' for other printable tags, 0x... otherwise. Returns buf. */
static const char *hl__tag_name(uint32_t tag, char *buf, size_t buf_size) {
    uint8_t b[4];
    int i;

    switch (tag) {
    case HL__TAG_SNAPSHOT:
        return "SNAPSHOT";
    case HL__TAG_META:
        return "META";
    case HL__TAG_STRINGS:
        return "STRINGS";
    case HL__TAG_FRAMES:
        return "FRAMES";
    case HL__TAG_STACKS:
        return "STACKS";
    case HL__TAG_TRACES:
        return "TRACES";
    case HL__TAG_INFO:
        return "INFO";
    case HL__TAG_COUNTS:
        return "COUNTS";
    case HL__TAG_FUNCTIONS:
        return "FUNCTIONS";
    case HL__TAG_TIMELINE:
        return "TIMELINE";
    case HL__TAG_END:
        return "END";
    default:
        break;
    }
    hl__store_u32(b, tag);
    for (i = 0; i < 4; i++) {
        if (b[i] < 0x20 || b[i] > 0x7E || b[i] == '\'') {
            snprintf(buf, buf_size, "0x%08" PRIX32, tag);
            return buf;
        }
    }
    snprintf(buf, buf_size, "'%c%c%c%c'", b[0], b[1], b[2], b[3]);
    return buf;
}

/* ---- writer --------------------------------------------------------------- */

enum hl__pass {
    HL__PASS_CHECKSUM, /* bytes only feed the section CRC */
    HL__PASS_OUTPUT    /* bytes go to the file or memory buffer */
};

struct hl_capture_writer {
    FILE *file;      /* NULL for a memory writer */
    char *path;      /* file writer: final path */
    char *temp_path; /* file writer: path + ".part", written until finish */
    uint8_t *mem;    /* memory writer: the capture so far */
    size_t mem_len;
    size_t mem_cap;

    enum hl__pass pass;
    uint32_t crc;   /* running section CRC during HL__PASS_CHECKSUM */
    uint64_t count; /* payload bytes produced in the current pass */

    int failed; /* sticky: an I/O or memory error happened; error says which */
    char error[HL__ERROR_SIZE];

    size_t chunk_used;
    uint8_t chunk[HL__CHUNK_SIZE];
};

/* Payload generator: emits one section's payload through hl__put(). */
typedef void (*hl__payload_fn)(hl_capture_writer *writer, const void *arg);

static void hl__writer_set_error(hl_capture_writer *writer, const char *fmt, ...)
    HL_PRINTF_LIKE(2, 3);

/* Record the first I/O or memory error; the writer is failed from now on. */
static void hl__writer_set_error(hl_capture_writer *writer, const char *fmt, ...) {
    va_list ap;

    if (writer->failed)
        return;
    writer->failed = 1;
    va_start(ap, fmt);
    vsnprintf(writer->error, sizeof(writer->error), fmt, ap);
    va_end(ap);
}

/* Copy the writer's sticky error into errbuf and return -1. */
static int hl__writer_report(const hl_capture_writer *writer, char *errbuf, size_t errbuf_size) {
    return hl_error_format(errbuf, errbuf_size, "%s", writer->error);
}

/* Hand the chunk's bytes to the current pass's destination and empty it. */
static void hl__flush(hl_capture_writer *writer) {
    size_t n = writer->chunk_used;

    writer->chunk_used = 0;
    if (writer->failed || n == 0)
        return;
    if (writer->pass == HL__PASS_CHECKSUM) {
        writer->crc = hl_crc32c_update(writer->crc, writer->chunk, n);
        return;
    }
    if (writer->file != NULL) {
        if (fwrite(writer->chunk, 1, n, writer->file) != n)
            hl__writer_set_error(writer, "write failed: %s", hl__os_error(errno));
        return;
    }
    if (writer->mem_cap - writer->mem_len < n) {
        size_t cap = writer->mem_cap ? writer->mem_cap : HL__CHUNK_SIZE;
        uint8_t *grown;

        while (cap - writer->mem_len < n) {
            if (cap > SIZE_MAX / 2) {
                hl__writer_set_error(writer, "capture does not fit in memory");
                return;
            }
            cap *= 2;
        }
        grown = hl_realloc(writer->mem, cap);
        if (grown == NULL) {
            hl__last_os_errno = ENOMEM;
            hl__writer_set_error(writer, "out of memory writing the capture");
            return;
        }
        writer->mem = grown;
        writer->mem_cap = cap;
    }
    memcpy(writer->mem + writer->mem_len, writer->chunk, n);
    writer->mem_len += n;
}

/* Append n bytes to the current pass. Errors are recorded in the writer. */
static void hl__put(hl_capture_writer *writer, const void *data, size_t n) {
    const uint8_t *p = data;

    writer->count += n;
    while (n > 0 && !writer->failed) {
        size_t room = HL__CHUNK_SIZE - writer->chunk_used;
        size_t take = n < room ? n : room;

        memcpy(writer->chunk + writer->chunk_used, p, take);
        writer->chunk_used += take;
        p += take;
        n -= take;
        if (writer->chunk_used == HL__CHUNK_SIZE)
            hl__flush(writer);
    }
}

static void hl__put_u32(hl_capture_writer *writer, uint32_t v) {
    uint8_t b[4];
    hl__store_u32(b, v);
    hl__put(writer, b, sizeof(b));
}

static void hl__put_u64(hl_capture_writer *writer, uint64_t v) {
    uint8_t b[8];
    hl__store_u64(b, v);
    hl__put(writer, b, sizeof(b));
}

/* Write one section whose payload is exactly length bytes produced by
 * emit(writer, arg): a CRC pass, then the header, then an output pass.
 * Returns 0, or -1 with the writer failed. */
static int hl__write_section(hl_capture_writer *writer, uint32_t tag, uint32_t flags,
                             uint64_t length, hl__payload_fn emit, const void *arg) {
    uint8_t header[HL__SECTION_HEADER_SIZE];
    char tag_buf[16];

    hl__store_u32(header, tag);
    hl__store_u32(header + 4, flags);
    hl__store_u64(header + 8, length);

    writer->pass = HL__PASS_CHECKSUM;
    writer->crc = hl_crc32c_compute(header, 16);
    writer->count = 0;
    if (emit != NULL)
        emit(writer, arg);
    hl__flush(writer);
    if (!writer->failed && writer->count != length)
        hl__writer_set_error(
            writer, "internal error: section %s produced %" PRIu64 " bytes, expected %" PRIu64,
            hl__tag_name(tag, tag_buf, sizeof(tag_buf)), writer->count, length);
    hl__store_u32(header + 16, writer->crc);

    writer->pass = HL__PASS_OUTPUT;
    hl__put(writer, header, sizeof(header));
    writer->count = 0;
    if (emit != NULL)
        emit(writer, arg);
    hl__flush(writer);
    if (!writer->failed && writer->count != length)
        hl__writer_set_error(writer, "internal error: section %s changed between passes",
                             hl__tag_name(tag, tag_buf, sizeof(tag_buf)));
    return writer->failed ? -1 : 0;
}

/* Emit the 20-byte file header. */
static void hl__put_file_header(hl_capture_writer *writer) {
    uint8_t header[HL__HEADER_SIZE];

    memcpy(header, hl__magic, sizeof(hl__magic));
    hl__store_u16(header + 8, HL_CAPTURE_VERSION_MAJOR);
    hl__store_u16(header + 10, HL_CAPTURE_VERSION_MINOR);
    hl__store_u32(header + 12, 0);
    hl__store_u32(header + 16, hl_crc32c_compute(header, 16));
    writer->pass = HL__PASS_OUTPUT;
    hl__put(writer, header, sizeof(header));
    hl__flush(writer);
}

/* Allocate a writer with no destination yet. Returns it, or NULL. */
static hl_capture_writer *hl__writer_new(void) {
    hl_capture_writer *writer = hl_malloc(sizeof(*writer));

    if (writer == NULL)
        return NULL;
    writer->file = NULL;
    writer->path = NULL;
    writer->temp_path = NULL;
    writer->mem = NULL;
    writer->mem_len = 0;
    writer->mem_cap = 0;
    writer->pass = HL__PASS_OUTPUT;
    writer->crc = 0;
    writer->count = 0;
    writer->failed = 0;
    writer->error[0] = '\0';
    writer->chunk_used = 0;
    return writer;
}

/* Start a capture file; see capture.h. */
hl_capture_writer *hl_capture_writer_open_file(const char *path, char *errbuf, size_t errbuf_size) {
    static const char suffix[] = ".part";
    hl__last_os_errno = 0;
    hl_capture_writer *writer = hl__writer_new();
    size_t path_len = strlen(path);

    if (writer == NULL)
        goto out_of_memory;
    writer->path = hl_malloc(path_len + 1);
    writer->temp_path = hl_malloc(path_len + sizeof(suffix));
    if (writer->path == NULL || writer->temp_path == NULL)
        goto out_of_memory;
    memcpy(writer->path, path, path_len + 1);
    memcpy(writer->temp_path, path, path_len);
    memcpy(writer->temp_path + path_len, suffix, sizeof(suffix));

    writer->file = fopen(writer->temp_path, "wb");
    if (writer->file == NULL) {
        hl_error_format(errbuf, errbuf_size, "cannot open for writing: %s", hl__os_error(errno));
        hl_capture_writer_abort(writer);
        return NULL;
    }
    hl__put_file_header(writer);
    if (writer->failed) {
        hl__writer_report(writer, errbuf, errbuf_size);
        hl_capture_writer_abort(writer);
        return NULL;
    }
    return writer;

out_of_memory:
    hl__no_memory(errbuf, errbuf_size, "out of memory starting a capture");
    hl_capture_writer_abort(writer);
    return NULL;
}

/* Start a capture in memory; see capture.h. */
hl_capture_writer *hl_capture_writer_open_memory(char *errbuf, size_t errbuf_size) {
    hl__last_os_errno = 0;
    hl_capture_writer *writer = hl__writer_new();

    if (writer == NULL) {
        hl__no_memory(errbuf, errbuf_size, "out of memory starting a capture");
        return NULL;
    }
    hl__put_file_header(writer);
    if (writer->failed) {
        hl__writer_report(writer, errbuf, errbuf_size);
        hl_capture_writer_abort(writer);
        return NULL;
    }
    return writer;
}

/* Abandon a capture; see capture.h. */
void hl_capture_writer_abort(hl_capture_writer *writer) {
    if (writer == NULL)
        return;
    if (writer->file != NULL) {
        fclose(writer->file);
        remove(writer->temp_path);
    }
    hl_free(writer->path);
    hl_free(writer->temp_path);
    hl_free(writer->mem);
    hl_free(writer);
}

/* -- payload generators; each emits exactly the length its caller computed -- */

typedef struct hl__text_pair {
    const char *first;
    size_t first_len;
    const char *second; /* NULL when the payload holds one text */
    size_t second_len;
} hl__text_pair;

static void hl__emit_texts(hl_capture_writer *writer, const void *arg) {
    const hl__text_pair *texts = arg;

    hl__put_u32(writer, (uint32_t)texts->first_len);
    hl__put(writer, texts->first, texts->first_len);
    if (texts->second != NULL) {
        hl__put_u32(writer, (uint32_t)texts->second_len);
        hl__put(writer, texts->second, texts->second_len);
    }
}

static void hl__emit_meta(hl_capture_writer *writer, const void *arg) {
    const hl_snapshot_data *snap = arg;

    hl__put_u32(writer, snap->traceback_limit);
    hl__put_u32(writer, 0); /* reserved */
    hl__put_u64(writer, hl__i64_bits(snap->timestamp_ns));
}

static void hl__emit_strings(hl_capture_writer *writer, const void *arg) {
    const hl_snapshot_data *snap = arg;
    uint32_t i;

    hl__put_u32(writer, snap->n_strings);
    for (i = 0; i < snap->n_strings; i++)
        hl__put_u32(writer, (uint32_t)(snap->string_offsets[i + 1] - snap->string_offsets[i]));
    if (snap->n_strings > 0 && snap->string_offsets[snap->n_strings] > 0)
        hl__put(writer, snap->string_bytes, (size_t)snap->string_offsets[snap->n_strings]);
}

static void hl__emit_frames(hl_capture_writer *writer, const void *arg) {
    const hl_snapshot_data *snap = arg;
    uint8_t record[8];
    uint32_t i;

    hl__put_u32(writer, snap->n_frames);
    for (i = 0; i < snap->n_frames; i++) {
        hl__store_u32(record, snap->frames[i].filename);
        hl__store_u32(record + 4, hl__i32_bits(snap->frames[i].lineno));
        hl__put(writer, record, sizeof(record));
    }
}

static void hl__emit_stacks(hl_capture_writer *writer, const void *arg) {
    const hl_snapshot_data *snap = arg;
    uint8_t entry[8];
    uint32_t i, k;

    hl__put_u32(writer, snap->n_stacks);
    for (i = 0; i < snap->n_stacks; i++) {
        const hl_stack *s = &snap->stacks[i];

        hl__store_u32(entry, s->nframe);
        hl__store_u32(entry + 4, s->total_nframe);
        hl__put(writer, entry, sizeof(entry));
        for (k = 0; k < s->nframe; k++)
            hl__put_u32(writer, snap->stack_frames[(uint64_t)s->first + k]);
    }
}

/* Traces are the bulk of a capture (16 bytes each, millions of them), so
 * they are encoded 256 at a time into a local batch. */
static void hl__emit_traces(hl_capture_writer *writer, const void *arg) {
    const hl_snapshot_data *snap = arg;
    uint8_t batch[256 * 16];
    uint64_t i = 0;

    hl__put_u64(writer, snap->n_traces);
    while (i < snap->n_traces && !writer->failed) {
        size_t used = 0;

        for (; i < snap->n_traces && used < sizeof(batch); i++, used += 16) {
            hl__store_u64(batch + used, snap->traces[i].size);
            hl__store_u32(batch + used + 8, snap->traces[i].stack);
            hl__store_u32(batch + used + 12, snap->traces[i].domain);
        }
        hl__put(writer, batch, used);
    }
}

static void hl__emit_counts(hl_capture_writer *writer, const void *arg) {
    const hl_snapshot_data *snap = arg;
    uint8_t batch[512 * 8];
    uint64_t i = 0;

    hl__put_u64(writer, snap->n_traces);
    while (i < snap->n_traces && !writer->failed) {
        size_t used = 0;

        for (; i < snap->n_traces && used < sizeof(batch); i++, used += 8)
            hl__store_u64(batch + used, snap->trace_counts[i]);
        hl__put(writer, batch, used);
    }
}

static void hl__emit_functions(hl_capture_writer *writer, const void *arg) {
    const hl_snapshot_data *snap = arg;
    uint32_t i;

    hl__put_u32(writer, snap->n_frames);
    for (i = 0; i < snap->n_frames; i++)
        hl__put_u32(writer, snap->frame_functions[i]);
}

static void hl__emit_timeline(hl_capture_writer *writer, const void *arg) {
    const hl_timeline *timeline = arg;
    size_t i;

    hl__put_u64(writer, hl__i64_bits(timeline->start_ns));
    hl__put_u64(writer, timeline->interval_ns);
    hl__put_u64(writer, (uint64_t)timeline->n_points);
    for (i = 0; i < timeline->n_points; i++) {
        const hl_timeline_point *point = &timeline->points[i];
        uint8_t record[32];

        hl__store_u64(record, point->t_ns);
        hl__store_u64(record + 8, point->traced);
        hl__store_u64(record + 16, point->traced_max);
        hl__store_u64(record + 24, point->rss);
        hl__put(writer, record, sizeof(record));
    }
}

/* Append the TIMELINE section; see capture.h. */
int hl_capture_writer_add_timeline(hl_capture_writer *writer, const hl_timeline *timeline,
                                   char *errbuf, size_t errbuf_size) {
    size_t i;

    if (writer->failed)
        return hl__writer_report(writer, errbuf, errbuf_size);
    for (i = 0; i < timeline->n_points; i++) {
        const hl_timeline_point *point = &timeline->points[i];
        if (point->traced_max < point->traced ||
            (i > 0 && point->t_ns < timeline->points[i - 1].t_ns))
            return hl_error_format(errbuf, errbuf_size, "timeline point %zu is out of order", i);
    }
    if (hl__write_section(writer, HL__TAG_TIMELINE, 0, 24u + 32u * (uint64_t)timeline->n_points,
                          hl__emit_timeline, timeline) < 0)
        return hl__writer_report(writer, errbuf, errbuf_size);
    return 0;
}

/* Append an INFO pair; see capture.h. */
int hl_capture_writer_add_info(hl_capture_writer *writer, const char *key, const char *value,
                               char *errbuf, size_t errbuf_size) {
    hl__text_pair texts;

    if (writer->failed)
        return hl__writer_report(writer, errbuf, errbuf_size);
    texts.first = key;
    texts.first_len = strlen(key);
    texts.second = value;
    texts.second_len = strlen(value);
    if (texts.first_len > UINT32_MAX || texts.second_len > UINT32_MAX)
        return hl_error_format(errbuf, errbuf_size, "info key or value is longer than 4 GiB");
    if (hl__check_text(key, texts.first_len) < 0)
        return hl_error_format(errbuf, errbuf_size, "info key is not valid UTF-8 text");
    if (hl__check_text(value, texts.second_len) < 0)
        return hl_error_format(errbuf, errbuf_size, "info value is not valid UTF-8 text");
    if (hl__write_section(writer, HL__TAG_INFO, 0,
                          8u + (uint64_t)texts.first_len + texts.second_len, hl__emit_texts,
                          &texts) < 0)
        return hl__writer_report(writer, errbuf, errbuf_size);
    return 0;
}

/* Append a snapshot; see capture.h. */
int hl_capture_writer_add_snapshot(hl_capture_writer *writer, const char *name,
                                   const hl_snapshot_data *snap, char *errbuf, size_t errbuf_size) {
    hl__text_pair texts;
    uint64_t strings_len, stacks_len;
    uint32_t i;

    if (writer->failed)
        return hl__writer_report(writer, errbuf, errbuf_size);
    texts.first = name;
    texts.first_len = strlen(name);
    texts.second = NULL;
    texts.second_len = 0;
    if (texts.first_len > UINT32_MAX || hl__check_text(name, texts.first_len) < 0)
        return hl_error_format(errbuf, errbuf_size, "snapshot name is not valid UTF-8 text");
    errno = 0;
    if (hl_snapshot_data_validate(snap, errbuf, errbuf_size) < 0) {
        if (errno == ENOMEM) /* not an invalid snapshot: memory ran out checking it */
            hl__last_os_errno = ENOMEM;
        return -1;
    }

    /* Lengths of the variable payloads; validation bounded every term. */
    strings_len = 4u + 4u * (uint64_t)snap->n_strings;
    for (i = 0; i < snap->n_strings; i++) {
        uint64_t len = snap->string_offsets[i + 1] - snap->string_offsets[i];
        if (len > UINT32_MAX)
            return hl_error_format(errbuf, errbuf_size, "string %" PRIu32 " is longer than 4 GiB",
                                   i);
        strings_len += len;
    }
    stacks_len = 4u;
    for (i = 0; i < snap->n_stacks; i++)
        stacks_len += 8u + 4u * (uint64_t)snap->stacks[i].nframe;

    if (hl__write_section(writer, HL__TAG_SNAPSHOT, HL__SECTION_REQUIRED,
                          4u + (uint64_t)texts.first_len, hl__emit_texts, &texts) < 0 ||
        hl__write_section(writer, HL__TAG_META, HL__SECTION_REQUIRED, HL__META_SIZE, hl__emit_meta,
                          snap) < 0 ||
        hl__write_section(writer, HL__TAG_STRINGS, HL__SECTION_REQUIRED, strings_len,
                          hl__emit_strings, snap) < 0 ||
        hl__write_section(writer, HL__TAG_FRAMES, HL__SECTION_REQUIRED,
                          4u + 8u * (uint64_t)snap->n_frames, hl__emit_frames, snap) < 0 ||
        hl__write_section(writer, HL__TAG_STACKS, HL__SECTION_REQUIRED, stacks_len, hl__emit_stacks,
                          snap) < 0 ||
        hl__write_section(writer, HL__TAG_TRACES, HL__SECTION_REQUIRED, 8u + 16u * snap->n_traces,
                          hl__emit_traces, snap) < 0)
        return hl__writer_report(writer, errbuf, errbuf_size);
    /* Counts change what the traces mean: a reader that does not know them
     * must refuse the file. Function names are extra: it may skip them. */
    if (snap->trace_counts != NULL && snap->n_traces > 0 &&
        hl__write_section(writer, HL__TAG_COUNTS, HL__SECTION_REQUIRED, 8u + 8u * snap->n_traces,
                          hl__emit_counts, snap) < 0)
        return hl__writer_report(writer, errbuf, errbuf_size);
    if (snap->frame_functions != NULL && snap->n_frames > 0 &&
        hl__write_section(writer, HL__TAG_FUNCTIONS, 0, 4u + 4u * (uint64_t)snap->n_frames,
                          hl__emit_functions, snap) < 0)
        return hl__writer_report(writer, errbuf, errbuf_size);
    return 0;
}

/* Finish and free a writer; see capture.h. */
int hl_capture_writer_finish(hl_capture_writer *writer, uint8_t **out_buf, size_t *out_len,
                             char *errbuf, size_t errbuf_size) {
    int rc = -1;

    if (out_buf != NULL && writer->file == NULL)
        *out_buf = NULL;
    if (out_len != NULL && writer->file == NULL)
        *out_len = 0;
    if (hl__write_section(writer, HL__TAG_END, HL__SECTION_REQUIRED, 0, NULL, NULL) < 0)
        goto done;
    if (writer->file != NULL) {
        FILE *file = writer->file;

        writer->file = NULL; /* closed below, whatever happens */
        if (fclose(file) != 0) {
            hl__writer_set_error(writer, "write failed: %s", hl__os_error(errno));
            remove(writer->temp_path);
            goto done;
        }
        if (rename(writer->temp_path, writer->path) != 0) {
#ifdef _WIN32
            /* Windows' rename() does not replace an existing file. */
            if (remove(writer->path) == 0 && rename(writer->temp_path, writer->path) == 0) {
                rc = 0;
                goto done;
            }
#endif
            hl__writer_set_error(writer, "cannot move the finished capture into place: %s",
                                 hl__os_error(errno));
            remove(writer->temp_path);
            goto done;
        }
    } else {
        if (out_buf != NULL) {
            *out_buf = writer->mem;
            writer->mem = NULL;
        }
        if (out_len != NULL)
            *out_len = writer->mem_len;
    }
    rc = 0;

done:
    if (rc < 0)
        hl__writer_report(writer, errbuf, errbuf_size);
    hl_capture_writer_abort(writer);
    return rc;
}

/* Encode one snapshot into memory; see capture.h. */
int hl_capture_encode(const hl_snapshot_data *snap, uint8_t **out_buf, size_t *out_len,
                      char *errbuf, size_t errbuf_size) {
    hl_capture_writer *writer;

    *out_buf = NULL;
    *out_len = 0;
    writer = hl_capture_writer_open_memory(errbuf, errbuf_size);
    if (writer == NULL)
        return -1;
    if (hl_capture_writer_add_snapshot(writer, "", snap, errbuf, errbuf_size) < 0) {
        hl_capture_writer_abort(writer);
        return -1;
    }
    return hl_capture_writer_finish(writer, out_buf, out_len, errbuf, errbuf_size);
}

/* Write one snapshot to a file; see capture.h. */
int hl_capture_write_file(const char *path, const hl_snapshot_data *snap, char *errbuf,
                          size_t errbuf_size) {
    hl__last_os_errno = 0;
    hl_capture_writer *writer = hl_capture_writer_open_file(path, errbuf, errbuf_size);

    if (writer == NULL)
        return -1;
    if (hl_capture_writer_add_snapshot(writer, "", snap, errbuf, errbuf_size) < 0) {
        hl_capture_writer_abort(writer);
        return -1;
    }
    return hl_capture_writer_finish(writer, NULL, NULL, errbuf, errbuf_size);
}

/* ---- reader --------------------------------------------------------------- */

/* Reset *capture to empty; see capture.h. */
void hl_capture_init(hl_capture *capture) {
    memset(capture, 0, sizeof(*capture));
}

/* Free a capture; see capture.h. */
void hl_capture_clear(hl_capture *capture) {
    size_t i;

    for (i = 0; i < capture->n_snapshots; i++) {
        hl_free(capture->snapshots[i].name);
        hl_snapshot_data_clear(&capture->snapshots[i].data);
    }
    hl_free(capture->snapshots);
    for (i = 0; i < capture->n_info; i++) {
        hl_free(capture->info[i].key);
        hl_free(capture->info[i].value);
    }
    hl_free(capture->info);
    hl_timeline_destroy(&capture->timeline);
    hl_capture_init(capture);
}

/* Copy a text of len bytes into a new NUL-terminated string after checking
 * it (UTF-8, no NUL). Returns the copy, or NULL with *bad_text set to 1 when
 * the text is not acceptable, 0 when memory ran out. */
static char *hl__copy_text(const uint8_t *bytes, uint32_t len, int *bad_text) {
    char *copy;

    *bad_text = 0;
    if (hl__check_text((const char *)bytes, len) < 0) {
        *bad_text = 1;
        return NULL;
    }
    copy = hl_malloc((size_t)len + 1);
    if (copy == NULL)
        return NULL;
    if (len > 0)
        memcpy(copy, bytes, len);
    copy[len] = '\0';
    return copy;
}

/* SNAPSHOT payload: append a new, empty snapshot with the given name.
 * Returns 0 or -1 with a message. */
static int hl__parse_snapshot(const uint8_t *p, uint64_t len, hl_capture *out, char *errbuf,
                              size_t errbuf_size) {
    hl_capture_snapshot *grown;
    uint32_t name_len;
    char *name;
    int bad_text;

    if (len < 4)
        return hl_error_format(errbuf, errbuf_size,
                               "section SNAPSHOT is too short (%" PRIu64 " bytes)", len);
    name_len = hl__load_u32(p);
    if (name_len != len - 4)
        return hl_error_format(errbuf, errbuf_size,
                               "section SNAPSHOT declares a name of %" PRIu32
                               " bytes but holds %" PRIu64,
                               name_len, len - 4);
    name = hl__copy_text(p + 4, name_len, &bad_text);
    if (name == NULL) {
        if (!bad_text)
            hl__last_os_errno = ENOMEM;
        return hl_error_format(errbuf, errbuf_size,
                               bad_text ? "snapshot name is not valid UTF-8 text"
                                        : "out of memory reading section SNAPSHOT");
    }
    /* Each SNAPSHOT section takes at least 24 bytes of input, so the array
     * stays within a small multiple of the input size. */
    grown = hl__reserve_one(out->snapshots, out->n_snapshots, sizeof(*grown));
    if (grown == NULL) {
        hl_free(name);
        return hl__no_memory(errbuf, errbuf_size, "out of memory reading section SNAPSHOT");
    }
    out->snapshots = grown;
    grown[out->n_snapshots].name = name;
    hl_snapshot_data_init(&grown[out->n_snapshots].data);
    out->n_snapshots++;
    return 0;
}

/* INFO payload: append one key/value pair. Returns 0 or -1 with a message. */
static int hl__parse_info(const uint8_t *p, uint64_t len, hl_capture *out, char *errbuf,
                          size_t errbuf_size) {
    hl_capture_info *grown;
    uint32_t key_len, value_len;
    char *key, *value;
    int bad_text;

    if (len < 8)
        return hl_error_format(errbuf, errbuf_size, "section INFO is too short (%" PRIu64 " bytes)",
                               len);
    key_len = hl__load_u32(p);
    if (key_len > len - 8)
        return hl_error_format(errbuf, errbuf_size,
                               "section INFO declares a key of %" PRIu32
                               " bytes but has room for %" PRIu64,
                               key_len, len - 8);
    value_len = hl__load_u32(p + 4 + key_len);
    if (value_len != len - 8 - key_len)
        return hl_error_format(errbuf, errbuf_size,
                               "section INFO declares a value of %" PRIu32
                               " bytes but holds %" PRIu64,
                               value_len, len - 8 - key_len);
    key = hl__copy_text(p + 4, key_len, &bad_text);
    if (key == NULL) {
        if (!bad_text)
            hl__last_os_errno = ENOMEM;
        return hl_error_format(errbuf, errbuf_size,
                               bad_text ? "info key is not valid UTF-8 text"
                                        : "out of memory reading section INFO");
    }
    value = hl__copy_text(p + 8 + key_len, value_len, &bad_text);
    if (value == NULL) {
        hl_free(key);
        if (!bad_text)
            hl__last_os_errno = ENOMEM;
        return hl_error_format(errbuf, errbuf_size,
                               bad_text ? "info value is not valid UTF-8 text"
                                        : "out of memory reading section INFO");
    }
    grown = hl__reserve_one(out->info, out->n_info, sizeof(*grown));
    if (grown == NULL) {
        hl_free(key);
        hl_free(value);
        return hl__no_memory(errbuf, errbuf_size, "out of memory reading section INFO");
    }
    out->info = grown;
    grown[out->n_info].key = key;
    grown[out->n_info].value = value;
    out->n_info++;
    return 0;
}

/* META payload: traceback_limit, reserved, timestamp_ns; later bytes ignored. */
static int hl__parse_meta(const uint8_t *p, uint64_t len, hl_snapshot_data *snap, char *errbuf,
                          size_t errbuf_size) {
    if (len < HL__META_SIZE)
        return hl_error_format(errbuf, errbuf_size, "section META is too short (%" PRIu64 " bytes)",
                               len);
    snap->traceback_limit = hl__load_u32(p);
    snap->timestamp_ns = hl__i64_from_bits(hl__load_u64(p + 8));
    return 0;
}

/* STRINGS payload: count, lengths, bytes. Always allocates n + 1 offsets. */
static int hl__parse_strings(const uint8_t *p, uint64_t len, hl_snapshot_data *snap, char *errbuf,
                             size_t errbuf_size) {
    uint64_t room, text_len, total = 0;
    uint32_t n, i;

    if (len < 4)
        return hl_error_format(errbuf, errbuf_size,
                               "section STRINGS is too short (%" PRIu64 " bytes)", len);
    n = hl__load_u32(p);
    room = (len - 4) / 4;
    if (n > room)
        return hl_error_format(
            errbuf, errbuf_size,
            "section STRINGS declares %" PRIu32 " strings but has room for %" PRIu64, n, room);
    text_len = len - 4 - 4 * (uint64_t)n;
    for (i = 0; i < n; i++)
        total += hl__load_u32(p + 4 + 4 * (uint64_t)i); /* < 2^64: n, lengths < 2^32 */
    if (total > text_len)
        return hl_error_format(errbuf, errbuf_size,
                               "section STRINGS declares %" PRIu64
                               " bytes of text but holds %" PRIu64,
                               total, text_len);
    if (total < text_len)
        return hl_error_format(errbuf, errbuf_size,
                               "section STRINGS has %" PRIu64 " unexpected trailing bytes",
                               text_len - total);

    snap->string_offsets = hl__alloc_array((uint64_t)n + 1, sizeof(uint64_t));
    if (snap->string_offsets == NULL)
        goto out_of_memory;
    if (total > 0) {
        snap->string_bytes = hl_malloc((size_t)total); /* total <= len <= buffer size */
        if (snap->string_bytes == NULL)
            goto out_of_memory;
        memcpy(snap->string_bytes, p + 4 + 4 * (uint64_t)n, (size_t)total);
    }
    snap->string_offsets[0] = 0;
    for (i = 0; i < n; i++)
        snap->string_offsets[i + 1] =
            snap->string_offsets[i] + hl__load_u32(p + 4 + 4 * (uint64_t)i);
    snap->n_strings = n;
    return 0;

out_of_memory:
    return hl__no_memory(errbuf, errbuf_size, "out of memory reading section STRINGS");
}

/* Check a payload made of a `head`-byte header, whose record count is a u32
 * (count_bytes 4) or u64 (8) at offset count_at, followed by exactly that
 * many `record`-byte records. Stores the count in *n_out. Returns 0, or -1
 * with "section S is too short", "section S declares N ITEMS but has room
 * for R" or "section S has K unexpected trailing bytes". */
static int hl__fixed_records(const uint8_t *p, uint64_t len, const char *section, const char *items,
                             uint64_t head, uint64_t count_at, int count_bytes, uint64_t record,
                             uint64_t *n_out, char *errbuf, size_t errbuf_size) {
    uint64_t n, room;

    if (len < head)
        return hl_error_format(errbuf, errbuf_size, "section %s is too short (%" PRIu64 " bytes)",
                               section, len);
    n = count_bytes == 4 ? hl__load_u32(p + count_at) : hl__load_u64(p + count_at);
    room = (len - head) / record;
    if (n > room)
        return hl_error_format(errbuf, errbuf_size,
                               "section %s declares %" PRIu64 " %s but has room for %" PRIu64,
                               section, n, items, room);
    if (len - head - record * n != 0)
        return hl_error_format(errbuf, errbuf_size,
                               "section %s has %" PRIu64 " unexpected trailing bytes", section,
                               len - head - record * n);
    *n_out = n;
    return 0;
}

/* FRAMES payload: count, then (filename, lineno) records. */
static int hl__parse_frames(const uint8_t *p, uint64_t len, hl_snapshot_data *snap, char *errbuf,
                            size_t errbuf_size) {
    uint64_t n64;
    uint32_t n, i;

    if (hl__fixed_records(p, len, "FRAMES", "frames", 4, 0, 4, 8, &n64, errbuf, errbuf_size) < 0)
        return -1;
    n = (uint32_t)n64;
    if (n == 0)
        return 0;
    snap->frames = hl__alloc_array(n, sizeof(hl_frame));
    if (snap->frames == NULL)
        return hl__no_memory(errbuf, errbuf_size, "out of memory reading section FRAMES");
    p += 4;
    for (i = 0; i < n; i++, p += 8) {
        snap->frames[i].filename = hl__load_u32(p);
        snap->frames[i].lineno = hl__i32_from_bits(hl__load_u32(p + 4));
    }
    snap->n_frames = n;
    return 0;
}

/* STACKS payload: count, then per stack nframe, total_nframe, frame indices.
 * Frames of consecutive stacks are stored back to back in stack_frames. */
static int hl__parse_stacks(const uint8_t *p, uint64_t len, hl_snapshot_data *snap, char *errbuf,
                            size_t errbuf_size) {
    uint64_t room, frame_capacity, used = 0, pos;
    uint32_t n, i, k;

    if (len < 4)
        return hl_error_format(errbuf, errbuf_size,
                               "section STACKS is too short (%" PRIu64 " bytes)", len);
    n = hl__load_u32(p);
    room = (len - 4) / 8;
    if (n > room)
        return hl_error_format(
            errbuf, errbuf_size,
            "section STACKS declares %" PRIu32 " stacks but has room for %" PRIu64, n, room);
    /* Bytes not taken by the stack headers can only hold frame indices. */
    frame_capacity = (len - 4 - 8 * (uint64_t)n) / 4;
    if (n > 0) {
        snap->stacks = hl__alloc_array(n, sizeof(hl_stack));
        if (snap->stacks == NULL)
            goto out_of_memory;
    }
    if (frame_capacity > 0) {
        snap->stack_frames = hl__alloc_array(frame_capacity, sizeof(uint32_t));
        if (snap->stack_frames == NULL)
            goto out_of_memory;
    }
    pos = 4;
    for (i = 0; i < n; i++) {
        uint32_t nframe = hl__load_u32(p + pos); /* pos + 8 <= len: see below */
        uint32_t total_nframe = hl__load_u32(p + pos + 4);

        if (nframe > frame_capacity - used)
            return hl_error_format(errbuf, errbuf_size, "section STACKS ends inside stack %" PRIu32,
                                   i);
        if (used > UINT32_MAX)
            return hl_error_format(errbuf, errbuf_size,
                                   "section STACKS holds more than 2^32 frame indices");
        pos += 8;
        snap->stacks[i].first = (uint32_t)used;
        snap->stacks[i].nframe = nframe;
        snap->stacks[i].total_nframe = total_nframe;
        for (k = 0; k < nframe; k++, pos += 4)
            snap->stack_frames[used + k] = hl__load_u32(p + pos);
        used += nframe;
        /* Invariant: pos = 4 + 8 * (i + 1) + 4 * used, and used <= frame_capacity,
         * so the remaining n - i - 1 stack headers still fit in len. */
    }
    if (pos != len)
        return hl_error_format(errbuf, errbuf_size,
                               "section STACKS has %" PRIu64 " unexpected trailing bytes",
                               len - pos);
    snap->n_stacks = n;
    snap->n_stack_frames = used;
    return 0;

out_of_memory:
    return hl__no_memory(errbuf, errbuf_size, "out of memory reading section STACKS");
}

/* TRACES payload: u64 count, then 16-byte (size, stack, domain) records. */
static int hl__parse_traces(const uint8_t *p, uint64_t len, hl_snapshot_data *snap, char *errbuf,
                            size_t errbuf_size) {
    uint64_t n, i;

    if (hl__fixed_records(p, len, "TRACES", "traces", 8, 0, 8, 16, &n, errbuf, errbuf_size) < 0)
        return -1;
    if (n == 0)
        return 0;
    snap->traces = hl__alloc_array(n, sizeof(hl_trace_record));
    if (snap->traces == NULL)
        return hl__no_memory(errbuf, errbuf_size, "out of memory reading section TRACES");
    p += 8;
    for (i = 0; i < n; i++, p += 16) {
        snap->traces[i].size = hl__load_u64(p);
        snap->traces[i].stack = hl__load_u32(p + 8);
        snap->traces[i].domain = hl__load_u32(p + 12);
    }
    snap->n_traces = n;
    return 0;
}

/* COUNTS payload: u64 count, then one u64 block count per trace. */
static int hl__parse_counts(const uint8_t *p, uint64_t len, hl_snapshot_data *snap,
                            hl__scope *scope, char *errbuf, size_t errbuf_size) {
    uint64_t n, i;

    if (hl__fixed_records(p, len, "COUNTS", "counts", 8, 0, 8, 8, &n, errbuf, errbuf_size) < 0)
        return -1;
    scope->n_counts = n;
    if (n == 0)
        return 0;
    snap->trace_counts = hl__alloc_array(n, sizeof(uint64_t));
    if (snap->trace_counts == NULL)
        return hl__no_memory(errbuf, errbuf_size, "out of memory reading section COUNTS");
    for (i = 0; i < n; i++)
        snap->trace_counts[i] = hl__load_u64(p + 8 + 8 * i);
    return 0;
}

/* FUNCTIONS payload: u32 count, then one u32 string index per frame. */
static int hl__parse_functions(const uint8_t *p, uint64_t len, hl_snapshot_data *snap,
                               hl__scope *scope, char *errbuf, size_t errbuf_size) {
    uint64_t n64;
    uint32_t n, i;

    if (hl__fixed_records(p, len, "FUNCTIONS", "names", 4, 0, 4, 4, &n64, errbuf, errbuf_size) < 0)
        return -1;
    n = (uint32_t)n64;
    scope->n_functions = n;
    if (n == 0)
        return 0;
    snap->frame_functions = hl__alloc_array(n, sizeof(uint32_t));
    if (snap->frame_functions == NULL)
        return hl__no_memory(errbuf, errbuf_size, "out of memory reading section FUNCTIONS");
    for (i = 0; i < n; i++)
        snap->frame_functions[i] = hl__load_u32(p + 4 + 4 * (uint64_t)i);
    return 0;
}

/* TIMELINE payload: start, interval, u64 count, 32-byte points. */
static int hl__parse_timeline(const uint8_t *p, uint64_t len, hl_capture *out, char *errbuf,
                              size_t errbuf_size) {
    uint64_t n, i;
    hl_timeline *timeline = &out->timeline;

    if (out->has_timeline)
        return hl_error_format(errbuf, errbuf_size, "duplicate TIMELINE section");
    if (hl__fixed_records(p, len, "TIMELINE", "points", 24, 16, 8, 32, &n, errbuf, errbuf_size) < 0)
        return -1;
    memset(timeline, 0, sizeof(*timeline));
    timeline->start_ns = hl__i64_from_bits(hl__load_u64(p));
    timeline->interval_ns = hl__load_u64(p + 8);
    timeline->stride = 1;
    if (n > 0) {
        timeline->points = hl__alloc_array(n, sizeof(hl_timeline_point));
        if (timeline->points == NULL)
            return hl__no_memory(errbuf, errbuf_size, "out of memory reading section TIMELINE");
    }
    timeline->max_points = (size_t)n;
    out->has_timeline = 1;
    for (i = 0; i < n; i++) {
        const uint8_t *record = p + 24 + 32 * i;
        hl_timeline_point *point = &timeline->points[i];

        point->t_ns = hl__load_u64(record);
        point->traced = hl__load_u64(record + 8);
        point->traced_max = hl__load_u64(record + 16);
        point->rss = hl__load_u64(record + 24);
        timeline->n_points = (size_t)i + 1;
        if (point->traced_max < point->traced)
            return hl_error_format(errbuf, errbuf_size,
                                   "timeline point %" PRIu64 " has a maximum below its value", i);
        if (i > 0 && point->t_ns < timeline->points[i - 1].t_ns)
            return hl_error_format(errbuf, errbuf_size,
                                   "timeline point %" PRIu64 " is earlier than the one before", i);
    }
    return 0;
}

/* Check that the snapshot just ended (if any) had every section it needs.
 * seen holds HL__HAS_* bits. Returns 0 or -1 with a message. */
static int hl__check_complete(const hl_capture *out, const hl__scope *scope, char *errbuf,
                              size_t errbuf_size) {
    static const struct {
        unsigned bit;
        const char *name;
    } needed[] = {{HL__HAS_META, "META"},
                  {HL__HAS_STRINGS, "STRINGS"},
                  {HL__HAS_FRAMES, "FRAMES"},
                  {HL__HAS_STACKS, "STACKS"},
                  {HL__HAS_TRACES, "TRACES"}};
    const hl_snapshot_data *snap;
    size_t i;

    if (out->n_snapshots == 0)
        return 0;
    for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (!(scope->seen & needed[i].bit))
            return hl_error_format(errbuf, errbuf_size, "snapshot %zu has no %s section",
                                   out->n_snapshots - 1, needed[i].name);
    }
    snap = &out->snapshots[out->n_snapshots - 1].data;
    if ((scope->seen & HL__HAS_COUNTS) && scope->n_counts != snap->n_traces)
        return hl_error_format(errbuf, errbuf_size,
                               "snapshot %zu has %" PRIu64 " traces but %" PRIu64 " counts",
                               out->n_snapshots - 1, snap->n_traces, scope->n_counts);
    if ((scope->seen & HL__HAS_FUNCTIONS) && scope->n_functions != snap->n_frames)
        return hl_error_format(errbuf, errbuf_size,
                               "snapshot %zu has %" PRIu32 " frames but %" PRIu32 " function names",
                               out->n_snapshots - 1, snap->n_frames, scope->n_functions);
    return 0;
}

/* Parse a snapshot-scoped section into the current (last) snapshot, after
 * checking there is one and that it does not have this section yet. */
static int hl__parse_scoped(uint32_t tag, const uint8_t *p, uint64_t len, hl_capture *out,
                            hl__scope *scope, char *errbuf, size_t errbuf_size) {
    hl_snapshot_data *snap;
    unsigned bit;
    char tag_buf[16];
    const char *name = hl__tag_name(tag, tag_buf, sizeof(tag_buf));

    if (out->n_snapshots == 0)
        return hl_error_format(errbuf, errbuf_size,
                               "section %s appears before any SNAPSHOT section", name);
    switch (tag) {
    case HL__TAG_META:
        bit = HL__HAS_META;
        break;
    case HL__TAG_STRINGS:
        bit = HL__HAS_STRINGS;
        break;
    case HL__TAG_FRAMES:
        bit = HL__HAS_FRAMES;
        break;
    case HL__TAG_STACKS:
        bit = HL__HAS_STACKS;
        break;
    case HL__TAG_COUNTS:
        bit = HL__HAS_COUNTS;
        break;
    case HL__TAG_FUNCTIONS:
        bit = HL__HAS_FUNCTIONS;
        break;
    default:
        bit = HL__HAS_TRACES;
        break;
    }
    if (scope->seen & bit)
        return hl_error_format(errbuf, errbuf_size, "duplicate %s section in snapshot %zu", name,
                               out->n_snapshots - 1);
    scope->seen |= bit;
    snap = &out->snapshots[out->n_snapshots - 1].data;
    switch (tag) {
    case HL__TAG_META:
        return hl__parse_meta(p, len, snap, errbuf, errbuf_size);
    case HL__TAG_STRINGS:
        return hl__parse_strings(p, len, snap, errbuf, errbuf_size);
    case HL__TAG_FRAMES:
        return hl__parse_frames(p, len, snap, errbuf, errbuf_size);
    case HL__TAG_STACKS:
        return hl__parse_stacks(p, len, snap, errbuf, errbuf_size);
    case HL__TAG_COUNTS:
        return hl__parse_counts(p, len, snap, scope, errbuf, errbuf_size);
    case HL__TAG_FUNCTIONS:
        return hl__parse_functions(p, len, snap, scope, errbuf, errbuf_size);
    default:
        return hl__parse_traces(p, len, snap, errbuf, errbuf_size);
    }
}

/* Check the file header: magic, version, CRC, flags. Returns 0 or -1. */
static int hl__check_header(const uint8_t *buf, size_t len, hl_capture *out, char *errbuf,
                            size_t errbuf_size) {
    uint16_t major, minor;
    uint32_t flags;

    if (len == 0)
        return hl_error_format(errbuf, errbuf_size, "empty file (not a heaplens capture)");
    if (memcmp(buf, hl__magic, len < sizeof(hl__magic) ? len : sizeof(hl__magic)) != 0)
        return hl_error_format(errbuf, errbuf_size, "not a heaplens capture (bad magic)");
    if (len < HL__HEADER_SIZE)
        return hl_error_format(errbuf, errbuf_size, "truncated: header needs %u bytes, %zu remain",
                               HL__HEADER_SIZE, len);
    major = hl__load_u16(buf + 8);
    minor = hl__load_u16(buf + 10);
    if (major != HL_CAPTURE_VERSION_MAJOR)
        return hl_error_format(errbuf, errbuf_size,
                               "unsupported format version %u.%u (this heaplens reads %d.x)",
                               (unsigned)major, (unsigned)minor, HL_CAPTURE_VERSION_MAJOR);
    if (hl_crc32c_compute(buf, 16) != hl__load_u32(buf + 16))
        return hl_error_format(errbuf, errbuf_size, "checksum mismatch in header");
    flags = hl__load_u32(buf + 12);
    if (flags & HL__HEADER_FLAGS_MUST_UNDERSTAND)
        return hl_error_format(errbuf, errbuf_size, "unsupported header flags 0x%08" PRIX32,
                               flags & HL__HEADER_FLAGS_MUST_UNDERSTAND);
    out->version_major = major;
    out->version_minor = minor;
    return 0;
}

/* Validate every snapshot, naming the snapshot when there are several. */
static int hl__validate_all(const hl_capture *out, char *errbuf, size_t errbuf_size) {
    char detail[HL__ERROR_SIZE];
    size_t i;

    for (i = 0; i < out->n_snapshots; i++) {
        errno = 0;
        if (hl_snapshot_data_validate(&out->snapshots[i].data, detail, sizeof(detail)) < 0) {
            if (errno == ENOMEM)
                hl__last_os_errno = ENOMEM;
            if (out->n_snapshots == 1)
                return hl_error_format(errbuf, errbuf_size, "%s", detail);
            return hl_error_format(errbuf, errbuf_size, "snapshot %zu: %s", i, detail);
        }
    }
    return 0;
}

/* Walk the sections after the header up to and including END. */
static int hl__parse_sections(const uint8_t *buf, size_t len, hl_capture *out, char *errbuf,
                              size_t errbuf_size) {
    size_t pos = HL__HEADER_SIZE;
    hl__scope scope = {0};
    char tag_buf[16];

    for (;;) {
        size_t remain = len - pos;
        const uint8_t *header = buf + pos;
        const uint8_t *payload;
        uint32_t tag, flags;
        uint64_t length;
        const char *name;

        if (remain == 0)
            return hl_error_format(errbuf, errbuf_size,
                                   "truncated: file ends without an END section");
        if (remain < HL__SECTION_HEADER_SIZE)
            return hl_error_format(errbuf, errbuf_size,
                                   "truncated: section header needs %u bytes, %zu remain",
                                   HL__SECTION_HEADER_SIZE, remain);
        tag = hl__load_u32(header);
        flags = hl__load_u32(header + 4);
        length = hl__load_u64(header + 8);
        name = hl__tag_name(tag, tag_buf, sizeof(tag_buf));
        remain -= HL__SECTION_HEADER_SIZE;
        if (length > remain)
            return hl_error_format(errbuf, errbuf_size,
                                   "truncated: section %s needs %" PRIu64 " bytes, %zu remain",
                                   name, length, remain);
        payload = header + HL__SECTION_HEADER_SIZE;
        if (hl_crc32c_update(hl_crc32c_compute(header, 16), payload, (size_t)length) !=
            hl__load_u32(header + 16))
            return hl_error_format(errbuf, errbuf_size, "checksum mismatch in section %s", name);
        pos += HL__SECTION_HEADER_SIZE + (size_t)length;

        switch (tag) {
        case HL__TAG_END:
            if (length != 0)
                return hl_error_format(errbuf, errbuf_size, "section END is not empty");
            if (pos != len)
                return hl_error_format(errbuf, errbuf_size,
                                       "%zu bytes of trailing data after the END section",
                                       len - pos);
            if (hl__check_complete(out, &scope, errbuf, errbuf_size) < 0)
                return -1;
            return hl__validate_all(out, errbuf, errbuf_size);
        case HL__TAG_SNAPSHOT:
            if (hl__check_complete(out, &scope, errbuf, errbuf_size) < 0)
                return -1;
            memset(&scope, 0, sizeof(scope));
            if (hl__parse_snapshot(payload, length, out, errbuf, errbuf_size) < 0)
                return -1;
            break;
        case HL__TAG_INFO:
            if (hl__parse_info(payload, length, out, errbuf, errbuf_size) < 0)
                return -1;
            break;
        case HL__TAG_TIMELINE:
            if (hl__parse_timeline(payload, length, out, errbuf, errbuf_size) < 0)
                return -1;
            break;
        case HL__TAG_META:
        case HL__TAG_STRINGS:
        case HL__TAG_FRAMES:
        case HL__TAG_STACKS:
        case HL__TAG_TRACES:
        case HL__TAG_COUNTS:
        case HL__TAG_FUNCTIONS:
            if (hl__parse_scoped(tag, payload, length, out, &scope, errbuf, errbuf_size) < 0)
                return -1;
            break;
        default:
            if (flags & HL__SECTION_REQUIRED)
                return hl_error_format(errbuf, errbuf_size,
                                       "unknown required section %s (written by a newer heaplens?)",
                                       name);
            break; /* unknown optional section: skipped */
        }
    }
}

/* Decode a whole capture; see capture.h. */
int hl_capture_decode_all(const uint8_t *buf, size_t len, hl_capture *out, char *errbuf,
                          size_t errbuf_size) {
    hl__last_os_errno = 0;
    hl_capture_init(out);
    if (hl__check_header(buf, len, out, errbuf, errbuf_size) < 0 ||
        hl__parse_sections(buf, len, out, errbuf, errbuf_size) < 0) {
        hl_capture_clear(out);
        return -1;
    }
    return 0;
}

/* Decode a one-snapshot capture; see capture.h. */
int hl_capture_decode(const uint8_t *buf, size_t len, hl_snapshot_data *out, char *errbuf,
                      size_t errbuf_size) {
    hl_capture capture;

    hl_snapshot_data_init(out);
    if (hl_capture_decode_all(buf, len, &capture, errbuf, errbuf_size) < 0)
        return -1;
    if (capture.n_snapshots != 1) {
        if (capture.n_snapshots == 0)
            hl_error_format(errbuf, errbuf_size, "capture holds no snapshot");
        else
            hl_error_format(errbuf, errbuf_size, "capture holds %zu snapshots, expected 1",
                            capture.n_snapshots);
        hl_capture_clear(&capture);
        return -1;
    }
    *out = capture.snapshots[0].data;
    hl_snapshot_data_init(&capture.snapshots[0].data);
    hl_capture_clear(&capture);
    return 0;
}

/* ---- reading a file: the table first, then the body ----------------------
 *
 * A file is trusted no more than a buffer, and its size is the one thing a
 * length field cannot lie about. So before the body is read into memory:
 * the file must be a regular file (a device such as /dev/zero or a FIFO has
 * no size to check against: it is refused before a byte is read, and a FIFO
 * is opened without waiting for a writer); the header must be a heaplens
 * header; and the section table is walked with small reads: every section's
 * length must fit in what is left of the file, the table must end with END
 * exactly at the end of the file, an empty section's CRC is checked on the
 * spot (a run of zeros, as in a sparse file, fails there), and a section of
 * more than HL__STREAM_CRC_MIN bytes has its CRC checked by streaming it
 * through a fixed buffer. Only then is the file read, into one buffer of its
 * real size, and decoded by hl_capture_decode_all(), which checks everything
 * again on the bytes actually read (the file may change in between). */

#define HL__STREAM_CRC_MIN ((uint64_t)1 << 20)

/* A read-ahead window over the file for the table walk: section headers that
 * fall in the current window cost no system call. */
typedef struct hl__window {
    int fd;
    uint64_t file_size;
    uint64_t start; /* file offset of data[0] */
    size_t len;     /* valid bytes in data */
    uint8_t *data;  /* HL__CHUNK_SIZE bytes */
} hl__window;

/* Read up to n bytes at offset, retrying on EINTR and short reads. Returns
 * the count read (less than n only at end of file), or -1 with errno set. */
static ssize_t hl__pread_full(int fd, void *buf, size_t n, uint64_t offset) {
    size_t done = 0;

    while (done < n) {
        ssize_t got = pread(fd, (uint8_t *)buf + done, n - done, (off_t)(offset + done));
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (got == 0)
            break;
        done += (size_t)got;
    }
    return (ssize_t)done;
}

/* Point *out at the n (<= HL__CHUNK_SIZE) bytes at offset, which the caller
 * has checked lie inside the file. Returns 0, or -1 with a message. */
static int hl__window_get(hl__window *window, uint64_t offset, size_t n, const uint8_t **out,
                          char *errbuf, size_t errbuf_size) {
    if (offset < window->start || offset + n > window->start + window->len) {
        uint64_t want = window->file_size - offset;
        ssize_t got = hl__pread_full(window->fd, window->data,
                                     want < HL__CHUNK_SIZE ? (size_t)want : HL__CHUNK_SIZE, offset);
        if (got < 0)
            return hl_error_format(errbuf, errbuf_size, "read failed: %s", hl__os_error(errno));
        window->start = offset;
        window->len = (size_t)got;
        if (window->len < n)
            return hl_error_format(errbuf, errbuf_size,
                                   "the file shrank while being read (%" PRIu64 " bytes expected)",
                                   window->file_size);
    }
    *out = window->data + (offset - window->start);
    return 0;
}

/* Check the CRC of the section whose 20-byte header is at offset by streaming
 * its payload through the window's buffer. Returns 0 or -1 with a message. */
static int hl__stream_crc(hl__window *window, uint64_t offset, const uint8_t *header,
                          const char *name, char *errbuf, size_t errbuf_size) {
    uint32_t expected = hl__load_u32(header + 16);
    uint64_t length = hl__load_u64(header + 8);
    uint32_t crc = hl_crc32c_compute(header, 16);
    uint64_t pos = offset + HL__SECTION_HEADER_SIZE;
    uint64_t end = pos + length;

    window->len = 0; /* the buffer is about to be reused */
    while (pos < end) {
        size_t n = end - pos < HL__CHUNK_SIZE ? (size_t)(end - pos) : HL__CHUNK_SIZE;
        ssize_t got = hl__pread_full(window->fd, window->data, n, pos);
        if (got < 0)
            return hl_error_format(errbuf, errbuf_size, "read failed: %s", hl__os_error(errno));
        if ((size_t)got < n)
            return hl_error_format(errbuf, errbuf_size,
                                   "the file shrank while being read (%" PRIu64 " bytes expected)",
                                   window->file_size);
        crc = hl_crc32c_update(crc, window->data, n);
        pos += n;
    }
    if (crc != expected)
        return hl_error_format(errbuf, errbuf_size,
                               "checksum mismatch in section %s at offset %" PRIu64, name, offset);
    return 0;
}

/* Check the header and the section table of the file open as fd, of
 * file_size bytes, without reading any payload of HL__STREAM_CRC_MIN bytes
 * or less. Returns 0 when the table is consistent with the file's size, -1
 * with a message otherwise. */
static int hl__check_table(int fd, uint64_t file_size, char *errbuf, size_t errbuf_size) {
    hl__window window = {fd, file_size, 0, 0, NULL};
    uint64_t pos = HL__HEADER_SIZE;
    const uint8_t *bytes = NULL; /* set by hl__window_get before any use (gcc 16 -O3 cannot tell) */
    hl_capture header_only;
    char tag_buf[16];
    int rc = -1;

    window.data = hl_malloc(HL__CHUNK_SIZE);
    if (window.data == NULL)
        return hl__no_memory(errbuf, errbuf_size, "out of memory reading the file");
    hl_capture_init(&header_only);
    {
        size_t head = file_size < HL__HEADER_SIZE ? (size_t)file_size : HL__HEADER_SIZE;
        if (hl__window_get(&window, 0, head, &bytes, errbuf, errbuf_size) < 0 ||
            hl__check_header(bytes, head, &header_only, errbuf, errbuf_size) < 0)
            goto done;
    }
    for (;;) {
        uint64_t remain = file_size - pos;
        uint64_t length;
        uint32_t tag, flags;
        const char *name;

        if (remain == 0) {
            hl_error_format(errbuf, errbuf_size, "truncated: file ends without an END section");
            goto done;
        }
        if (remain < HL__SECTION_HEADER_SIZE) {
            hl_error_format(errbuf, errbuf_size,
                            "truncated: section header needs %u bytes, %" PRIu64 " remain",
                            HL__SECTION_HEADER_SIZE, remain);
            goto done;
        }
        if (hl__window_get(&window, pos, HL__SECTION_HEADER_SIZE, &bytes, errbuf, errbuf_size) < 0)
            goto done;
        tag = hl__load_u32(bytes);
        flags = hl__load_u32(bytes + 4);
        length = hl__load_u64(bytes + 8);
        name = hl__tag_name(tag, tag_buf, sizeof(tag_buf));
        remain -= HL__SECTION_HEADER_SIZE;
        if (length > remain) {
            hl_error_format(errbuf, errbuf_size,
                            "truncated: section %s needs %" PRIu64 " bytes, %" PRIu64 " remain",
                            name, length, remain);
            goto done;
        }
        if (length == 0 && hl_crc32c_compute(bytes, 16) != hl__load_u32(bytes + 16)) {
            hl_error_format(errbuf, errbuf_size,
                            "checksum mismatch in section %s at offset %" PRIu64, name, pos);
            goto done;
        }
        if (length > HL__STREAM_CRC_MIN) {
            uint8_t copy[HL__SECTION_HEADER_SIZE];
            memcpy(copy, bytes, sizeof(copy)); /* the window is reused */
            if (hl__stream_crc(&window, pos, copy, name, errbuf, errbuf_size) < 0)
                goto done;
        }
        if (tag == HL__TAG_END) {
            if (length != 0 || remain != 0) {
                hl_error_format(errbuf, errbuf_size,
                                length != 0 ? "section END is not empty"
                                            : "%" PRIu64
                                              " bytes of trailing data after the END section",
                                remain);
                goto done;
            }
            break;
        }
        if ((flags & HL__SECTION_REQUIRED) &&
            name == tag_buf) { /* a tag this version does not know */
            hl_error_format(errbuf, errbuf_size,
                            "unknown required section %s (written by a newer heaplens?)", name);
            goto done;
        }
        pos += HL__SECTION_HEADER_SIZE + length;
    }
    rc = 0;

done:
    hl_free(window.data);
    hl_capture_clear(&header_only);
    return rc;
}

/* What a file that is not a regular file is, for messages. */
static const char *hl__file_kind(mode_t mode) {
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a regular file";
}

/* Read the capture file at path into a new buffer after checking its table
 * (see above). Returns 0 with *out_buf (malloc'd; caller frees) and *out_len,
 * or -1 with a message and *out_buf NULL. */
static int hl__read_whole_file(const char *path, uint8_t **out_buf, size_t *out_len, char *errbuf,
                               size_t errbuf_size) {
    struct stat st;
    uint8_t *buf = NULL;
    uint64_t size;
    ssize_t got;
    int fd, rc = -1;

    *out_buf = NULL;
    *out_len = 0;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer. */
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return hl_error_format(errbuf, errbuf_size, "cannot open: %s", hl__os_error(errno));
    if (fstat(fd, &st) < 0) {
        hl_error_format(errbuf, errbuf_size, "cannot stat: %s", hl__os_error(errno));
        goto done;
    }
    if (S_ISDIR(st.st_mode)) {
        hl_error_format(errbuf, errbuf_size, "cannot read: %s", hl__os_error(EISDIR));
        goto done;
    }
    if (!S_ISREG(st.st_mode)) {
        hl_error_format(errbuf, errbuf_size,
                        "not a regular file (%s): a capture is read from a file of known size",
                        hl__file_kind(st.st_mode));
        goto done;
    }
    size = (uint64_t)st.st_size;
    if (size > SIZE_MAX - 1 || size > (uint64_t)SSIZE_MAX) {
        hl_error_format(errbuf, errbuf_size, "file is too large to read into memory");
        goto done;
    }
    if (hl__check_table(fd, size, errbuf, errbuf_size) < 0)
        goto done;
    buf = hl_malloc(size ? (size_t)size : 1);
    if (buf == NULL) {
        hl__no_memory(errbuf, errbuf_size, "out of memory reading the file (%" PRIu64 " bytes)",
                      size);
        goto done;
    }
    got = hl__pread_full(fd, buf, (size_t)size, 0);
    if (got < 0) {
        hl_error_format(errbuf, errbuf_size, "read failed: %s", hl__os_error(errno));
        goto done;
    }
    *out_buf = buf;
    *out_len = (size_t)got; /* shorter when the file shrank: the decoder says what is missing */
    buf = NULL;
    rc = 0;

done:
    hl_free(buf);
    close(fd);
    return rc;
}

/* Read and decode a whole capture file; see capture.h. */
int hl_capture_read_file_all(const char *path, hl_capture *out, char *errbuf, size_t errbuf_size) {
    hl__last_os_errno = 0;
    uint8_t *buf;
    size_t len;
    int rc;

    hl_capture_init(out);
    if (hl__read_whole_file(path, &buf, &len, errbuf, errbuf_size) < 0)
        return -1;
    rc = hl_capture_decode_all(buf, len, out, errbuf, errbuf_size);
    hl_free(buf);
    return rc;
}

/* Read and decode a one-snapshot capture file; see capture.h. */
int hl_capture_read_file(const char *path, hl_snapshot_data *out, char *errbuf,
                         size_t errbuf_size) {
    hl__last_os_errno = 0;
    uint8_t *buf;
    size_t len;
    int rc;

    hl_snapshot_data_init(out);
    if (hl__read_whole_file(path, &buf, &len, errbuf, errbuf_size) < 0)
        return -1;
    rc = hl_capture_decode(buf, len, out, errbuf, errbuf_size);
    hl_free(buf);
    return rc;
}
