/* graph_type.h - the heaplens._core.HeapGraph type and build_graph(). */
#ifndef HLPY_GRAPH_TYPE_H
#define HLPY_GRAPH_TYPE_H

#include <Python.h>

/* Create the HeapGraph type and add it to `module`. Returns 0, or -1 with an
 * exception. */
int hlpy_graph_type_add(PyObject *module);

/* build_graph(ignore=(), skip_frames_under=None, untracked=True) -> HeapGraph.
 * METH_FASTCALL | METH_KEYWORDS module function. */
PyObject *hlpy_build_graph(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                           PyObject *kwnames);

#endif /* HLPY_GRAPH_TYPE_H */
