/* edge_label.c - labels for references, as (kind, key) data (see
 * edge_label.h).
 *
 * Every check that applies is made, from the most specific container to
 * generic layouts: the type; items of dicts, lists and tuples; fields of
 * cells, functions, methods, modules and types; then any instance: its dict,
 * its inline attribute values, and every object member (slots included)
 * declared along its MRO. Two checks that name the same attribute (a
 * function's __closure__ is a field and a member) add one label. The layout
 * of inline values differs per version and is read through
 * cpython/internals.h.
 */
#include "edge_label.h"

#include "opaque_containers.h"

#include <structmember.h>

#include "cpython/internals.h"
#include "safe_names.h"

#define HL_KEY_REPR_MAX 40

int hlpy_edge_labels_add(PyObject *labels, const char *kind, PyObject *key) {
    if (key == NULL)
        return -1;
    PyObject *label = Py_BuildValue("(sN)", kind, key); /* steals key, even on failure */
    if (label == NULL)
        return -1;
    int rc = PyList_Append(labels, label);
    Py_DECREF(label);
    return rc;
}

/* Add an ("attribute", name) label, unless an earlier check added it (a
 * function's __closure__ is a field and a member). An object has few
 * attribute labels, so the search is short; items and dict entries, which a
 * container may have millions of, are never searched. Labels are tuples of
 * str: comparing them runs no code of the objects'. */
static int hl__attribute_object(PyObject *labels, PyObject *name) {
    if (name == NULL)
        return -1;
    Py_ssize_t n = PyList_GET_SIZE(labels);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *label = PyList_GET_ITEM(labels, i);
        PyObject *key = PyTuple_GET_ITEM(label, 1);
        if (PyUnicode_Check(key) &&
            PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(label, 0), "attribute") == 0) {
            if (PyUnicode_Compare(key, name) == 0) {
                Py_DECREF(name);
                return 0;
            }
        }
    }
    return hlpy_edge_labels_add(labels, "attribute", name);
}

static int hl__attribute(PyObject *labels, const char *name) {
    return hl__attribute_object(labels, PyUnicode_FromString(name));
}

static int hl__dict_labels(PyObject *labels, PyObject *dict, PyObject *target) {
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(dict, &position, &key, &value)) {
        if (value == target &&
            hlpy_edge_labels_add(labels, "value", hlpy_safe_repr(key, HL_KEY_REPR_MAX)) < 0)
            return -1;
        if (key == target && hlpy_edge_labels_add(labels, "key", Py_NewRef(Py_None)) < 0)
            return -1;
    }
    return 0;
}

static int hl__sequence_labels(PyObject *labels, PyObject *const *items, Py_ssize_t n,
                               PyObject *target) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == target && hlpy_edge_labels_add(labels, "item", PyLong_FromSsize_t(i)) < 0)
            return -1;
    }
    return 0;
}

static int hl__function_labels(PyObject *labels, PyFunctionObject *function, PyObject *target) {
    static const struct {
        size_t offset;
        const char *name;
    } fields[] = {
        {offsetof(PyFunctionObject, func_closure), "__closure__"},
        {offsetof(PyFunctionObject, func_defaults), "__defaults__"},
        {offsetof(PyFunctionObject, func_kwdefaults), "__kwdefaults__"},
        {offsetof(PyFunctionObject, func_dict), "__dict__"},
        {offsetof(PyFunctionObject, func_globals), "__globals__"},
        {offsetof(PyFunctionObject, func_code), "__code__"},
        {offsetof(PyFunctionObject, func_builtins), "__builtins__"},
        {offsetof(PyFunctionObject, func_module), "__module__"},
        {offsetof(PyFunctionObject, func_annotations), "__annotations__"},
        {offsetof(PyFunctionObject, func_name), "__name__"},
        {offsetof(PyFunctionObject, func_qualname), "__qualname__"},
        {offsetof(PyFunctionObject, func_doc), "__doc__"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (*(PyObject **)((char *)function + fields[i].offset) == target &&
            hl__attribute(labels, fields[i].name) < 0)
            return -1;
    }
    return 0;
}

static int hl__type_labels(PyObject *labels, PyTypeObject *type, PyObject *target) {
    const struct {
        PyObject *value;
        const char *name;
    } fields[] = {
        {type->tp_dict, "__dict__"},
        {type->tp_mro, "__mro__"},
        {type->tp_bases, "__bases__"},
        {(PyObject *)type->tp_base, "__base__"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].value == target && hl__attribute(labels, fields[i].name) < 0)
            return -1;
    }
    return 0;
}

/* Object members (slots, C types' fields) of `source` that are target. */
static int hl__member_labels(PyObject *labels, PyObject *source, PyObject *target) {
    PyObject *mro = Py_TYPE(source)->tp_mro;
    Py_ssize_t n = mro != NULL && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *type = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        for (PyMemberDef *member = type->tp_members; member != NULL && member->name != NULL;
             member++) {
            if (member->type != T_OBJECT && member->type != T_OBJECT_EX)
                continue;
            if (*(PyObject **)((char *)source + member->offset) == target &&
                hl__attribute(labels, member->name) < 0)
                return -1;
        }
    }
    return 0;
}

/* The labels of the container kinds, and of the fields of the builtin types
 * that have them. */
static int hl__builtin_labels(PyObject *labels, PyObject *source, PyObject *target) {
    if (PyDict_Check(source))
        return hl__dict_labels(labels, source, target);
    if (PyList_Check(source))
        return hl__sequence_labels(labels, ((PyListObject *)source)->ob_item,
                                   PyList_GET_SIZE(source), target);
    if (PyTuple_Check(source))
        return hl__sequence_labels(labels, ((PyTupleObject *)source)->ob_item,
                                   PyTuple_GET_SIZE(source), target);
    if (PyCell_Check(source))
        return PyCell_GET(source) == target ? hl__attribute(labels, "cell_contents") : 0;
    if (PyFunction_Check(source))
        return hl__function_labels(labels, (PyFunctionObject *)source, target);
    if (PyMethod_Check(source)) {
        if (PyMethod_GET_SELF(source) == target && hl__attribute(labels, "__self__") < 0)
            return -1;
        if (PyMethod_GET_FUNCTION(source) == target && hl__attribute(labels, "__func__") < 0)
            return -1;
        return 0;
    }
    if (PyModule_Check(source) && PyModule_GetDict(source) == target)
        return hl__attribute(labels, "__dict__");
    if (PyType_Check(source))
        return hl__type_labels(labels, (PyTypeObject *)source, target);
    return 0;
}

/* The labels of any instance: its dict (the slot, or the managed dict, read
 * without creating either), its inline attribute values, its members. */
static int hl__instance_labels(PyObject *labels, PyObject *source, PyObject *target) {
    PyObject **dict_slot = hlpy_cpython_dict_slot(source);
    if (((dict_slot != NULL && *dict_slot == target) ||
         hlpy_cpython_managed_dict(source) == target) &&
        hl__attribute(labels, "__dict__") < 0)
        return -1;
    Py_ssize_t position = 0;
    PyObject *name;
    while ((name = hlpy_cpython_inline_attribute_name(source, target, &position)) != NULL) {
        if (hl__attribute_object(labels, Py_NewRef(name)) < 0)
            return -1;
    }
    return hl__member_labels(labels, source, target);
}

PyObject *hlpy_edge_labels(PyObject *source, PyObject *target) {
    PyObject *labels = PyList_New(0);
    if (labels == NULL)
        return NULL;
    Py_INCREF(source);
    Py_INCREF(target);
    int rc = 0;
    if ((PyObject *)Py_TYPE(source) == target)
        rc = hl__attribute(labels, "__class__");
    if (rc == 0)
        rc = hl__builtin_labels(labels, source, target);
    if (rc == 0) /* a subclass of dict, list ... may have attributes too */
        rc = hl__instance_labels(labels, source, target);
    if (rc == 0 && hlpy_opaque_type(Py_TYPE(source)))
        rc = hlpy_opaque_labels(labels, source, target);
    Py_DECREF(source);
    Py_DECREF(target);
    if (rc < 0)
        Py_CLEAR(labels);
    return labels;
}
