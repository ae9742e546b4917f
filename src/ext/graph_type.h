/* graph_type.h - the heaplens._core.HeapGraph type and build_graph(). */
#ifndef HLPY_GRAPH_TYPE_H
#define HLPY_GRAPH_TYPE_H

#include <Python.h>

#include "hl_common.h"

/* Add the HeapGraph type to `module`, creating it on the first call only (the
 * main interpreter's first import). Returns 0, or -1 with an exception. */
HL_WARN_UNUSED int hlpy_graph_type_add(PyObject *module);

/* build_graph(ignore=(), skip_frames_under=None, untracked=True) -> HeapGraph.
 * METH_FASTCALL | METH_KEYWORDS module function. */
HL_WARN_UNUSED PyObject *hlpy_build_graph(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                                          PyObject *kwnames);

#endif /* HLPY_GRAPH_TYPE_H */
