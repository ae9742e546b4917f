/* opaque_containers.c - see opaque_containers.h. */
#include "opaque_containers.h"

#include <string.h>

#include "edge_label.h"

/* NumPy's PyArrayObject_fields (numpy/ndarraytypes.h), public and unchanged
 * since NumPy 1.7 up to 2.x: the fields read here, in order. */
typedef struct hl_ndarray {
    PyObject_HEAD
    char *data;
    int nd;
    Py_ssize_t *dimensions;
    Py_ssize_t *strides;
    PyObject *base;
    PyObject *descr;
} hl_ndarray;

/* The start of PyArray_Descr, the same in NumPy 1.x and 2.x. */
typedef struct hl_descr {
    PyObject_HEAD
    PyTypeObject *typeobj;
    char kind;
    char type;
    char byteorder;
    char former_flags;
    int type_num;
} hl_descr;

#define HL_NPY_OBJECT 17 /* NPY_OBJECT */
#define HL_NPY_MAXDIMS 64

/* 1 when `type` is numpy.ndarray or a subclass: a static type of that name
 * among its bases (a Python class of the same name would be a heap type). */
static int hl__is_ndarray_type(PyTypeObject *type) {
    for (; type != NULL; type = type->tp_base) {
        if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) && strcmp(type->tp_name, "numpy.ndarray") == 0)
            return type->tp_basicsize >= (Py_ssize_t)sizeof(hl_ndarray);
    }
    return 0;
}

/* 1 when `descr` is a NumPy dtype (numpy.dtype or one of its classes). */
static int hl__is_dtype(PyObject *descr) {
    for (PyTypeObject *type = Py_TYPE(descr); type != NULL; type = type->tp_base) {
        if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) && strcmp(type->tp_name, "numpy.dtype") == 0)
            return type->tp_basicsize >= (Py_ssize_t)sizeof(hl_descr);
    }
    return 0;
}

/* The array's fields when `obj` is an ndarray whose fields look sane, else
 * NULL; *holds_objects set when its elements are object references. */
static const hl_ndarray *hl__ndarray(PyObject *obj, int *holds_objects) {
    *holds_objects = 0;
    if (!hl__is_ndarray_type(Py_TYPE(obj)))
        return NULL;
    const hl_ndarray *array = (const hl_ndarray *)obj;
    if (array->nd < 0 || array->nd > HL_NPY_MAXDIMS || array->descr == NULL ||
        !hl__is_dtype(array->descr))
        return NULL;
    const hl_descr *descr = (const hl_descr *)array->descr;
    *holds_objects = descr->type_num == HL_NPY_OBJECT && descr->kind == 'O' &&
                     array->data != NULL && (array->nd == 0 || array->dimensions != NULL) &&
                     (array->nd == 0 || array->strides != NULL);
    return array;
}

int hlpy_opaque_type(PyTypeObject *type) {
    return hl__is_ndarray_type(type);
}

/* Call `each` for every element of an object array, in C order, with its
 * flat index; stops at the first that does not return 0 and returns that. */
typedef int (*hl_element_fn)(PyObject *item, Py_ssize_t flat, void *arg);

static int hl__each_element(const hl_ndarray *array, hl_element_fn each, void *arg) {
    Py_ssize_t index[HL_NPY_MAXDIMS];
    int nd = array->nd;
    for (int d = 0; d < nd; d++) {
        if (array->dimensions[d] <= 0)
            return 0;
        index[d] = 0;
    }
    Py_ssize_t flat = 0;
    for (;;) {
        const char *at = array->data;
        for (int d = 0; d < nd; d++)
            at += index[d] * array->strides[d];
        PyObject *item;
        memcpy(&item, at, sizeof item);
        if (item != NULL) {
            int rc = each(item, flat, arg);
            if (rc != 0)
                return rc;
        }
        flat++;
        int d = nd - 1;
        while (d >= 0 && ++index[d] == array->dimensions[d]) {
            index[d] = 0;
            d--;
        }
        if (d < 0)
            return 0;
    }
}

typedef struct hl_visit_arg {
    visitproc visit;
    void *arg;
} hl_visit_arg;

static int hl__visit_element(PyObject *item, Py_ssize_t flat, void *data) {
    (void)flat;
    hl_visit_arg *v = data;
    return v->visit(item, v->arg);
}

int hlpy_opaque_traverse(PyObject *obj, visitproc visit, void *arg) {
    int holds_objects;
    const hl_ndarray *array = hl__ndarray(obj, &holds_objects);
    if (array == NULL)
        return 0;
    if (array->base != NULL) {
        int rc = visit(array->base, arg);
        if (rc != 0)
            return rc;
    }
    if (!holds_objects)
        return 0;
    hl_visit_arg v = {visit, arg};
    return hl__each_element(array, hl__visit_element, &v);
}

typedef struct hl_label_arg {
    const hl_ndarray *array;
    PyObject *labels;
    PyObject *target;
} hl_label_arg;

/* The label key of element `flat`: the flat index for one dimension, else
 * the tuple of indices. NULL when out of memory. */
static PyObject *hl__element_key(const hl_ndarray *array, Py_ssize_t flat) {
    if (array->nd <= 1)
        return PyLong_FromSsize_t(flat);
    PyObject *key = PyTuple_New(array->nd);
    if (key == NULL)
        return NULL;
    for (int d = array->nd - 1; d >= 0; d--) {
        PyObject *i = PyLong_FromSsize_t(flat % array->dimensions[d]);
        if (i == NULL) {
            Py_DECREF(key);
            return NULL;
        }
        PyTuple_SET_ITEM(key, d, i);
        flat /= array->dimensions[d];
    }
    return key;
}

static int hl__label_element(PyObject *item, Py_ssize_t flat, void *data) {
    hl_label_arg *l = data;
    if (item != l->target)
        return 0;
    return hlpy_edge_labels_add(l->labels, "item", hl__element_key(l->array, flat));
}

int hlpy_opaque_labels(PyObject *labels, PyObject *source, PyObject *target) {
    int holds_objects;
    const hl_ndarray *array = hl__ndarray(source, &holds_objects);
    if (array == NULL)
        return 0;
    if (array->base == target &&
        hlpy_edge_labels_add(labels, "attribute", PyUnicode_FromString("base")) < 0)
        return -1;
    if (!holds_objects)
        return 0;
    hl_label_arg l = {array, labels, target};
    return hl__each_element(array, hl__label_element, &l) < 0 ? -1 : 0;
}
