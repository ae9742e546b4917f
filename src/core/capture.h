/* capture.h - read and write heaplens capture files (.hlc).
 *
 * A capture file holds zero or more named snapshots (hl_snapshot_data) and
 * optional key/value information, in the versioned, checksummed,
 * little-endian container described in docs/capture-format.md.
 *
 * The reader treats its input as hostile: it never reads outside the buffer,
 * never allocates more than a small multiple of the input size, checks every
 * checksum, and runs hl_snapshot_data_validate() on every snapshot before
 * returning it. The writer refuses snapshots that do not validate.
 *
 * Every function here is reentrant (no global state). Error messages are one
 * sentence, written NUL-terminated into errbuf when errbuf_size > 0, and
 * never contain the file name: callers prefix it.
 */
#ifndef HL_CAPTURE_H
#define HL_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"
#include "snapshot_data.h"
#include "timeline.h"

/* The format version this code writes; it reads every HL_CAPTURE_VERSION_MAJOR.x. */
#define HL_CAPTURE_VERSION_MAJOR 1
#define HL_CAPTURE_VERSION_MINOR 1

/* ---- single snapshot ------------------------------------------------------ */

/* Encode *snap as a capture holding one snapshot named "" into a new buffer.
 * Returns 0 and sets *out_buf (malloc'd, caller frees with free()) and
 * *out_len; or -1 (snapshot invalid, out of memory) with *out_buf = NULL,
 * *out_len = 0. The output depends only on the snapshot's content, never on
 * the host: the same snapshot always encodes to the same bytes. */
HL_WARN_UNUSED int hl_capture_encode(const hl_snapshot_data *snap, uint8_t **out_buf,
                                     size_t *out_len, char *errbuf, size_t errbuf_size);

/* Write *snap as a capture holding one snapshot named "" to path. The file is
 * written as path + ".part" and renamed over path when complete, so path
 * never holds a partial capture. Returns 0, or -1 (snapshot invalid, cannot
 * open, write or rename) after removing the partial file. */
HL_WARN_UNUSED int hl_capture_write_file(const char *path, const hl_snapshot_data *snap,
                                         char *errbuf, size_t errbuf_size);

/* Decode a capture holding exactly one snapshot from len bytes at buf (which
 * may be untrusted; buf may be NULL when len is 0). *out is treated as
 * uninitialised. Returns 0 with *out owning the snapshot (release it with
 * hl_snapshot_data_clear); or -1 with *out empty and errbuf saying what is
 * wrong, including "capture holds 2 snapshots, expected 1". */
HL_WARN_UNUSED int hl_capture_decode(const uint8_t *buf, size_t len, hl_snapshot_data *out,
                                     char *errbuf, size_t errbuf_size);

/* Read the file at path (checked as hl_capture_read_file_all() checks it)
 * and decode it as hl_capture_decode() does. */
HL_WARN_UNUSED int hl_capture_read_file(const char *path, hl_snapshot_data *out, char *errbuf,
                                        size_t errbuf_size);

/* ---- whole captures: several snapshots and info --------------------------- */

/* One snapshot of a capture. name is NUL-terminated UTF-8, owned. */
typedef struct hl_capture_snapshot {
    char *name;
    hl_snapshot_data data;
} hl_capture_snapshot;

/* One key/value pair of file-level information (e.g. "python_version").
 * Both strings are NUL-terminated UTF-8, owned. */
typedef struct hl_capture_info {
    char *key;
    char *value;
} hl_capture_info;

/* A decoded capture file; owns everything it points to. */
typedef struct hl_capture {
    uint16_t version_major; /* as read from the file */
    uint16_t version_minor;
    size_t n_snapshots;
    hl_capture_snapshot *snapshots; /* in file order */
    size_t n_info;
    hl_capture_info *info; /* in file order; keys may repeat */
    int has_timeline;      /* 1: the file holds a TIMELINE section */
    hl_timeline timeline;  /* its points (max_points == n_points); empty when none */
} hl_capture;

/* Reset *capture to empty (no snapshots, no info). */
void hl_capture_init(hl_capture *capture);

/* Free everything *capture owns and reset it to empty. Safe on an empty one. */
void hl_capture_clear(hl_capture *capture);

/* Decode every snapshot and info pair of the capture in len bytes at buf
 * (untrusted). *out is treated as uninitialised. Returns 0 with *out filled
 * (release with hl_capture_clear); or -1 with *out empty and a message in
 * errbuf. A capture with no snapshot is valid. */
HL_WARN_UNUSED int hl_capture_decode_all(const uint8_t *buf, size_t len, hl_capture *out,
                                         char *errbuf, size_t errbuf_size);

/* Read the file at path and decode it as hl_capture_decode_all() does. The
 * path must name a regular file (a device or FIFO is refused unread); its
 * header and section table are checked against the file's real size before
 * the body is read, so no length field can make this read or allocate more
 * than the file holds ("Reading a file" in docs/capture-format.md). */
HL_WARN_UNUSED int hl_capture_read_file_all(const char *path, hl_capture *out, char *errbuf,
                                            size_t errbuf_size);

/* ---- streaming writer ----------------------------------------------------- */

/* A capture being written, section by section, to a file or to memory.
 * Sections are streamed in 64 KiB chunks, so writing a snapshot of millions
 * of traces to a file needs no buffer of the snapshot's size. One thread at a
 * time may use a writer. */
typedef struct hl_capture_writer hl_capture_writer;

/* Start a capture file at path (written as path + ".part" until finished).
 * Returns a new writer, or NULL with a message when the file cannot be
 * created or memory runs out. */
HL_WARN_UNUSED hl_capture_writer *hl_capture_writer_open_file(const char *path, char *errbuf,
                                                              size_t errbuf_size);

/* Start a capture in memory. Returns a new writer, or NULL when out of memory. */
HL_WARN_UNUSED hl_capture_writer *hl_capture_writer_open_memory(char *errbuf, size_t errbuf_size);

/* Append one INFO pair (key and value: UTF-8 text, may be ""). Returns 0 or -1. */
HL_WARN_UNUSED int hl_capture_writer_add_info(hl_capture_writer *writer, const char *key,
                                              const char *value, char *errbuf, size_t errbuf_size);

/* Append the heap-size timeline (file-scoped; at most one per capture),
 * reading *timeline only: its complete points, not the one being built.
 * Returns 0 or -1 (points out of order: nothing written; I/O or memory:
 * the writer is failed). */
HL_WARN_UNUSED int hl_capture_writer_add_timeline(hl_capture_writer *writer,
                                                  const hl_timeline *timeline, char *errbuf,
                                                  size_t errbuf_size);

/* Append *snap as a snapshot called name (UTF-8, e.g. "peak"; may be ""),
 * reading *snap only. Returns 0 or -1. When -1 comes from a snapshot or name
 * that does not validate, nothing was written and the writer remains usable;
 * after an I/O or memory error the writer is failed and every later call,
 * including finish, returns -1 with the same message. */
HL_WARN_UNUSED int hl_capture_writer_add_snapshot(hl_capture_writer *writer, const char *name,
                                                  const hl_snapshot_data *snap, char *errbuf,
                                                  size_t errbuf_size);

/* Write the END section, complete the output and free the writer (on
 * success and on failure alike). For a memory writer, *out_buf (malloc'd,
 * caller frees) and *out_len receive the capture; for a file writer they may
 * be NULL and are left alone, and the finished file is renamed into place.
 * Returns 0, or -1 with a message (the partial file is removed). */
HL_WARN_UNUSED int hl_capture_writer_finish(hl_capture_writer *writer, uint8_t **out_buf,
                                            size_t *out_len, char *errbuf, size_t errbuf_size);

/* Abandon a capture: free the writer and remove its partial file. NULL is a no-op. */
void hl_capture_writer_abort(hl_capture_writer *writer);

/* After a failed call in this thread: the errno of the operating-system
 * error that caused it (open, read, write, rename), ENOMEM when memory ran
 * out, or 0 when the failure was about the contents (a corrupt or foreign
 * file, an invalid snapshot). The file-level calls, the decoders and the
 * writer's open calls reset it to 0 on entry. */
int hl_capture_os_errno(void);

#endif /* HL_CAPTURE_H */
