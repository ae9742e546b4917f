/* capture_io.h - whole capture files (several snapshots, info, timeline)
 * to and from Python objects. */
#ifndef HLPY_CAPTURE_IO_H
#define HLPY_CAPTURE_IO_H

#include <Python.h>

#include "hl_common.h"

/* _core.write_capture(path, snapshots, info, timeline): write a capture file
 * at path (atomically: a partial file never takes its place). snapshots: a
 * sequence of (name, _core.Snapshot); info: a sequence of (key, value) str
 * pairs; timeline: None or (start_ns, interval_ns, [(t_ns, traced,
 * traced_max, rss), ...]). Returns None; OSError when the file cannot be
 * written, ValueError/TypeError for bad arguments. */
HL_WARN_UNUSED PyObject *hlpy_write_capture(PyObject *module, PyObject *args);

/* _core.load_capture(path) -> (snapshots, info, timeline, (major, minor)),
 * shaped as write_capture takes them. ValueError naming the file and the
 * problem when it is not a valid capture; OSError when it cannot be read. */
HL_WARN_UNUSED PyObject *hlpy_load_capture(PyObject *module, PyObject *path);

#endif /* HLPY_CAPTURE_IO_H */
