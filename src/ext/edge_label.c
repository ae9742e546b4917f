/* edge_label.c - labels for references (see edge_label.h).
 *
 * The checks go from the most specific container to generic layouts: items of
 * dicts, lists and tuples; fields of functions, cells, modules and types;
 * then any instance: its dict, its inline attribute values, and every object
 * member (slots included) declared along its MRO. The layout of inline
 * values differs per version and is read through cpython/internals.h.
 */
#include "edge_label.h"

#include <structmember.h>

#include "cpython/internals.h"
#include "safe_names.h"

#define HL_KEY_REPR_MAX 40

/* repr(key), shortened, for builtin keys; a description that runs none of
 * the key's code for others (safe_names.h). NULL only on MemoryError. */
static PyObject *hl__short_repr(PyObject *key) {
    return hlpy_safe_repr(key, HL_KEY_REPR_MAX);
}

static PyObject *hl__dict_label(PyObject *dict, PyObject *target) {
    PyObject *key, *value;
    Py_ssize_t position = 0;
    while (PyDict_Next(dict, &position, &key, &value)) {
        if (value == target) {
            PyObject *text = hl__short_repr(key); /* runs no Python code */
            if (text == NULL)
                return NULL;
            PyObject *label = PyUnicode_FromFormat("[%U]", text);
            Py_DECREF(text);
            return label;
        }
        if (key == target)
            return PyUnicode_FromString("(key)");
    }
    return NULL;
}

static PyObject *hl__sequence_label(PyObject *const *items, Py_ssize_t n, PyObject *target) {
    for (Py_ssize_t i = 0; i < n; i++) {
        if (items[i] == target)
            return PyUnicode_FromFormat("[%zd]", i);
    }
    return NULL;
}

static PyObject *hl__function_label(PyFunctionObject *function, PyObject *target) {
    static const struct {
        size_t offset;
        const char *name;
    } fields[] = {
        {offsetof(PyFunctionObject, func_closure), ".__closure__"},
        {offsetof(PyFunctionObject, func_defaults), ".__defaults__"},
        {offsetof(PyFunctionObject, func_kwdefaults), ".__kwdefaults__"},
        {offsetof(PyFunctionObject, func_dict), ".__dict__"},
        {offsetof(PyFunctionObject, func_globals), ".__globals__"},
        {offsetof(PyFunctionObject, func_code), ".__code__"},
        {offsetof(PyFunctionObject, func_builtins), ".__builtins__"},
        {offsetof(PyFunctionObject, func_module), ".__module__"},
        {offsetof(PyFunctionObject, func_annotations), ".__annotations__"},
        {offsetof(PyFunctionObject, func_name), ".__name__"},
        {offsetof(PyFunctionObject, func_qualname), ".__qualname__"},
        {offsetof(PyFunctionObject, func_doc), ".__doc__"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (*(PyObject **)((char *)function + fields[i].offset) == target)
            return PyUnicode_FromString(fields[i].name);
    }
    return NULL;
}

static PyObject *hl__type_label(PyTypeObject *type, PyObject *target) {
    if (type->tp_dict == target)
        return PyUnicode_FromString(".__dict__");
    if (type->tp_mro == target)
        return PyUnicode_FromString(".__mro__");
    if (type->tp_bases == target)
        return PyUnicode_FromString(".__bases__");
    if ((PyObject *)type->tp_base == target)
        return PyUnicode_FromString(".__base__");
    return NULL;
}

/* An object member (a slot, or a C type's field) of `source` that is target. */
static PyObject *hl__member_label(PyObject *source, PyObject *target) {
    PyObject *mro = Py_TYPE(source)->tp_mro;
    Py_ssize_t n = mro != NULL && PyTuple_Check(mro) ? PyTuple_GET_SIZE(mro) : 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTypeObject *type = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        for (PyMemberDef *member = type->tp_members; member != NULL && member->name != NULL;
             member++) {
            if (member->type != T_OBJECT && member->type != T_OBJECT_EX)
                continue;
            if (*(PyObject **)((char *)source + member->offset) == target)
                return PyUnicode_FromFormat(".%s", member->name);
        }
    }
    return NULL;
}

/* The label for the first check that recognises the reference, or NULL with
 * no exception when none does (or with one when out of memory). */
static PyObject *hl__find_label(PyObject *source, PyObject *target) {
    PyObject *label;
    if ((PyObject *)Py_TYPE(source) == target)
        return PyUnicode_FromString(".__class__");
    if (PyDict_Check(source))
        return hl__dict_label(source, target);
    if (PyList_Check(source))
        return hl__sequence_label(((PyListObject *)source)->ob_item, PyList_GET_SIZE(source),
                                  target);
    if (PyTuple_Check(source))
        return hl__sequence_label(((PyTupleObject *)source)->ob_item, PyTuple_GET_SIZE(source),
                                  target);
    if (PyCell_Check(source))
        return PyCell_GET(source) == target ? PyUnicode_FromString(".cell_contents") : NULL;
    if (PyFunction_Check(source))
        return hl__function_label((PyFunctionObject *)source, target);
    if (PyMethod_Check(source)) {
        if (PyMethod_GET_SELF(source) == target)
            return PyUnicode_FromString(".__self__");
        if (PyMethod_GET_FUNCTION(source) == target)
            return PyUnicode_FromString(".__func__");
    }
    if (PyModule_Check(source) && PyModule_GetDict(source) == target)
        return PyUnicode_FromString(".__dict__");
    if (PyType_Check(source) && (label = hl__type_label((PyTypeObject *)source, target)) != NULL)
        return label;
    /* The dict slot, or the managed dict, read without creating either. */
    PyObject **dict_slot = hlpy_cpython_dict_slot(source);
    if ((dict_slot != NULL && *dict_slot == target) || hlpy_cpython_managed_dict(source) == target)
        return PyUnicode_FromString(".__dict__");
    PyObject *name = hlpy_cpython_inline_attribute_name(source, target);
    if (name != NULL)
        return PyUnicode_FromFormat(".%U", name);
    return hl__member_label(source, target);
}

PyObject *hlpy_edge_label(PyObject *source, PyObject *target) {
    Py_INCREF(source);
    Py_INCREF(target);
    PyObject *label = hl__find_label(source, target);
    Py_DECREF(source);
    Py_DECREF(target);
    if (label == NULL && !PyErr_Occurred())
        Py_RETURN_NONE;
    return label;
}
