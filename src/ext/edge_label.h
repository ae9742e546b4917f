/* edge_label.h - how one object refers to another, as data.
 *
 * A label is a (kind, key) tuple; Python renders it as text, in one place
 * (heaplens/_graph/labels.py), and decides on kinds, never on text:
 *
 *   ("attribute", name)  an attribute, slot or C field: obj.name (__dict__,
 *                        __class__, cell_contents, __self__ ... included)
 *   ("item", index)      an item of a list or tuple: obj[index]
 *   ("value", text)      a value of a dict, under the key described by
 *                        `text` (a repr for builtin keys, a description that
 *                        ran none of the key's code for others)
 *   ("key", None)        a key of a dict
 *
 * (graph_type.c adds the kinds of a frame's references: "local", "cell",
 * "free" with the variable's name, and "held" with what the frame holds
 * besides: "function", "locals dict", "code", "frame object".)
 */
#ifndef HLPY_EDGE_LABEL_H
#define HLPY_EDGE_LABEL_H

#include <Python.h>

#include "hl_common.h"

/* Every reference from `source` to `target` that heaplens can name, one
 * label each and none twice: `t = (y, x, x)` gives [("item", 1), ("item",
 * 2)]. Returns a new list (empty when it cannot name any), or NULL with an
 * exception only for out of memory. Runs no Python code of the objects'
 * (keys are described safely). Needs the GIL. */
HL_WARN_UNUSED PyObject *hlpy_edge_labels(PyObject *source, PyObject *target);

/* Append the label (kind, key) to the list `labels`. Steals `key`; a NULL
 * key means out of memory. Returns 0, or -1 with an exception. Needs the
 * GIL. */
HL_WARN_UNUSED int hlpy_edge_labels_add(PyObject *labels, const char *kind, PyObject *key);

#endif /* HLPY_EDGE_LABEL_H */
