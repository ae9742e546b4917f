/* edge_label.h - say in words how one object refers to another. */
#ifndef HLPY_EDGE_LABEL_H
#define HLPY_EDGE_LABEL_H

#include <Python.h>

#include "hl_common.h"

/* A short label for the reference from `source` to `target`, written to read
 * after a description of `source`: "['key']" or "[3]" for an item, ".name" for
 * an attribute or slot, ".__dict__", ".__class__", ".__self__",
 * ".cell_contents", "(key)" when target is a dict key. Returns a new str, or
 * Py_None (new reference) when it cannot say, or NULL with an exception only
 * for out of memory. May run Python code (repr of dict keys); an exception
 * raised by a repr is not propagated. Needs the GIL. */
HL_WARN_UNUSED PyObject *hlpy_edge_label(PyObject *source, PyObject *target);

#endif /* HLPY_EDGE_LABEL_H */
