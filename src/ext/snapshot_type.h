/* snapshot_type.h - the heaplens._core.Snapshot type. */
#ifndef HLPY_SNAPSHOT_TYPE_H
#define HLPY_SNAPSHOT_TYPE_H

#include <Python.h>

#include "hl_common.h"

#include "snapshot_data.h"

/* Add the Snapshot type to `module`, creating it on the first call only (the
 * main interpreter's first import). Returns 0, or -1 with an exception. */
HL_WARN_UNUSED int hlpy_snapshot_type_add(PyObject *module);

/* New Snapshot that takes over *data (left empty, also on failure) and
 * borrows `filenames` (a list of str aligned with the string table, or NULL).
 * Returns a new reference, or NULL with an exception. */
HL_WARN_UNUSED PyObject *hlpy_snapshot_wrap(hl_snapshot_data *data, PyObject *filenames);

/* The data of a heaplens._core.Snapshot (borrowed, lives as long as obj),
 * or NULL with TypeError when obj is something else. */
HL_WARN_UNUSED const hl_snapshot_data *hlpy_snapshot_data(PyObject *obj);

/* New Snapshot read from the capture file at `path` (str or path-like).
 * Raises ValueError naming the file and the problem for a bad file, OSError
 * for one that cannot be opened. */
HL_WARN_UNUSED PyObject *hlpy_snapshot_load(PyObject *path);

#endif /* HLPY_SNAPSHOT_TYPE_H */
