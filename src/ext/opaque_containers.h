/* opaque_containers.h - references that containers hold where tp_traverse
 * does not show them.
 *
 * A NumPy array of dtype=object (a pandas object column) holds a reference
 * to each element in its data buffer, but ndarray is not a collector type
 * and has no tp_traverse: to the heap walk its elements looked held by
 * nothing it could see. This module recognises such containers without
 * importing their package, by their static type's name and a check of the
 * fields read, and visits what they hold:
 *
 *   numpy.ndarray (and subclasses): its base (the array or buffer it views),
 *   and, when its dtype is object, every element.
 *
 * The layout read is NumPy's public PyArrayObject_fields and the start of
 * PyArray_Descr, the same in NumPy 1.x and 2.x (see opaque_containers.c).
 * Nothing here runs Python code or allocates.
 */
#ifndef HLPY_OPAQUE_CONTAINERS_H
#define HLPY_OPAQUE_CONTAINERS_H

#include <Python.h>

#include "hl_common.h"

/* Visit (as tp_traverse would) what `obj` holds that its type's tp_traverse
 * does not show; does nothing for any other object. Returns what the first
 * visit that did not return 0 returned, else 0. Needs the GIL. */
int hlpy_opaque_traverse(PyObject *obj, visitproc visit, void *arg);

/* 1 when instances of `type` may be containers this module sees through
 * (whether one is depends on its fields: hlpy_opaque_traverse checks).
 * Needs the GIL. */
int hlpy_opaque_type(PyTypeObject *type);

/* Append to `labels` (edge_label.h) the label of each reference from the
 * container `source` to `target`: ("item", index) for an element (a flat
 * index in C order; a tuple of indices for more than one dimension),
 * ("attribute", "base") for the base. Returns 0, or -1 with an exception.
 * Needs the GIL. */
HL_WARN_UNUSED int hlpy_opaque_labels(PyObject *labels, PyObject *source, PyObject *target);

#endif /* HLPY_OPAQUE_CONTAINERS_H */
