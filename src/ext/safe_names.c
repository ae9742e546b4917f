/* safe_names.c - see safe_names.h.
 *
 * Every type test is on Py_TYPE(obj) itself (Py_IS_TYPE, the type's flags),
 * never isinstance(), which asks obj.__class__. Only exact builtin types are
 * rendered from their value, by C code of the interpreter's own; a subclass
 * of str may override __repr__ and is shown by its type name and address.
 */
#include "safe_names.h"

#include <string.h>

#define HL_SAFE_REPR_DEFAULT 60

/* The part of a static type's tp_name after its last dot. */
static const char *hl__static_short_name(PyTypeObject *type) {
    const char *dot = strrchr(type->tp_name, '.');
    return dot ? dot + 1 : type->tp_name;
}

/* The module part of a type's dotted tp_name (a new reference), or NULL
 * with no exception when it has none, or with MemoryError. */
static PyObject *hl__tp_name_module(PyTypeObject *type) {
    const char *dot = strrchr(type->tp_name, '.');
    if (dot == NULL)
        return NULL;
    return PyUnicode_FromStringAndSize(type->tp_name, dot - type->tp_name);
}

/* A new reference to the module name of `type`, or NULL with no exception
 * when it is builtins or unknown, or NULL with MemoryError. A class's
 * __module__ is read from its own dict (no descriptor runs) and used only
 * when it is an exact str. A heap type made from a spec whose dict holds a
 * descriptor there instead (Cython's function types: their metaclass's
 * __module__ computes it from the name) is named by its tp_name, as a
 * static type is. */
static PyObject *hl__type_module(PyTypeObject *type) {
    if (PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE)) {
        /* A dict subclass (ctypes types keep a StgDict) is read with dict's
         * own lookup, which runs only str's hash and comparison. */
        PyObject *dict = type->tp_dict;
        if (dict == NULL || !PyDict_Check(dict))
            return NULL;
        PyObject *key = PyUnicode_InternFromString("__module__");
        if (key == NULL)
            return NULL;
        PyObject *module = PyDict_GetItemWithError(dict, key); /* borrowed */
        Py_DECREF(key);
        if (module == NULL && PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_MemoryError))
                PyErr_Clear();
            return NULL;
        }
        if (module == NULL)
            return NULL;
        if (!PyUnicode_CheckExact(module))
            return hl__tp_name_module(type);
        if (PyUnicode_CompareWithASCIIString(module, "builtins") == 0)
            return NULL;
        return Py_NewRef(module);
    }
    return hl__tp_name_module(type);
}

PyObject *hlpy_safe_type_name(PyTypeObject *type, int flags) {
    PyObject *name = NULL;
    if (PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE)) {
        PyHeapTypeObject *heap_type = (PyHeapTypeObject *)type;
        PyObject *held = flags & HLPY_NAME_QUALIFIED ? heap_type->ht_qualname : heap_type->ht_name;
        if (held != NULL && PyUnicode_CheckExact(held))
            name = Py_NewRef(held);
    }
    if (name == NULL)
        name = PyUnicode_FromString(hl__static_short_name(type));
    if (name == NULL || !(flags & HLPY_NAME_MODULE))
        return name;
    PyObject *module = hl__type_module(type);
    if (module == NULL)
        return PyErr_Occurred() ? (Py_DECREF(name), NULL) : name;
    PyObject *full = PyUnicode_FromFormat("%U.%U", module, name);
    Py_DECREF(module);
    Py_DECREF(name);
    return full;
}

/* A borrowed reference to the value of `key` in module `module`'s own dict
 * when it is an exact str, else NULL (with no exception, or MemoryError). */
static PyObject *hl__module_str_field(PyObject *module, const char *key) {
    PyObject *dict = PyModule_Check(module) ? PyModule_GetDict(module) : NULL; /* borrowed */
    if (dict == NULL || !PyDict_Check(dict))
        return NULL;
    PyObject *key_object = PyUnicode_InternFromString(key);
    if (key_object == NULL)
        return NULL;
    PyObject *value = PyDict_GetItemWithError(dict, key_object);
    Py_DECREF(key_object);
    if (value == NULL && PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_MemoryError))
        PyErr_Clear();
    return value != NULL && PyUnicode_CheckExact(value) ? value : NULL;
}

PyObject *hlpy_safe_module_name(PyObject *module) {
    PyObject *name = hl__module_str_field(module, "__name__");
    if (name != NULL)
        return Py_NewRef(name);
    return PyErr_Occurred() ? NULL : PyUnicode_FromString("?");
}

/* `<TypeName object at 0x...>`, the fallback. */
static PyObject *hl__generic(PyObject *obj) {
    PyObject *name = hlpy_safe_type_name(Py_TYPE(obj), HLPY_NAME_QUALIFIED | HLPY_NAME_MODULE);
    if (name == NULL)
        return NULL;
    PyObject *text = PyUnicode_FromFormat("<%U object at %p>", name, (void *)obj);
    Py_DECREF(name);
    return text;
}

/* repr() of an exact builtin whose repr is the interpreter's C code; an
 * error (an int too long for str()) becomes a placeholder. */
static PyObject *hl__builtin_repr(PyObject *obj) {
    PyObject *text = PyObject_Repr(obj);
    if (text == NULL && !PyErr_ExceptionMatches(PyExc_MemoryError)) {
        PyErr_Clear();
        return PyUnicode_FromFormat("<%s that cannot be shown>", Py_TYPE(obj)->tp_name);
    }
    return text;
}

/* repr() of the first `limit` characters of an exact str or bytes, with
 * "..." when cut. */
static PyObject *hl__cut_repr(PyObject *obj, Py_ssize_t limit) {
    int is_str = PyUnicode_CheckExact(obj);
    Py_ssize_t length = is_str ? PyUnicode_GET_LENGTH(obj) : PyBytes_GET_SIZE(obj);
    if (length <= limit)
        return hl__builtin_repr(obj);
    PyObject *head = is_str ? PyUnicode_Substring(obj, 0, limit)
                            : PyBytes_FromStringAndSize(PyBytes_AS_STRING(obj), limit);
    if (head == NULL)
        return NULL;
    PyObject *text = hl__builtin_repr(head);
    Py_DECREF(head);
    if (text == NULL)
        return NULL;
    PyObject *cut = PyUnicode_FromFormat("%U...", text);
    Py_DECREF(text);
    return cut;
}

/* `<kind of N items>` for an exact builtin container, or NULL with no
 * exception when obj is none of them. */
static PyObject *hl__container(PyObject *obj) {
    Py_ssize_t n;
    if (Py_IS_TYPE(obj, &PyTuple_Type))
        n = PyTuple_GET_SIZE(obj);
    else if (Py_IS_TYPE(obj, &PyList_Type))
        n = PyList_GET_SIZE(obj);
    else if (Py_IS_TYPE(obj, &PyDict_Type))
        n = PyDict_GET_SIZE(obj);
    else if (Py_IS_TYPE(obj, &PySet_Type) || Py_IS_TYPE(obj, &PyFrozenSet_Type))
        n = PySet_GET_SIZE(obj);
    else if (Py_IS_TYPE(obj, &PyByteArray_Type))
        n = PyByteArray_GET_SIZE(obj);
    else
        return NULL;
    return PyUnicode_FromFormat("<%s of %zd item%s>", Py_TYPE(obj)->tp_name, n, n == 1 ? "" : "s");
}

/* The str in a C field, or NULL when it is not an exact str: formatted
 * with %V and a fallback of "?". (No "?" object is cached: a legacy
 * subinterpreter may call these functions, and objects are per interpreter.) */
static PyObject *hl__exact_str(PyObject *field) {
    return field != NULL && PyUnicode_CheckExact(field) ? field : NULL;
}

PyObject *hlpy_safe_repr(PyObject *obj, Py_ssize_t limit) {
    if (limit < 4)
        limit = 4;
    if (obj == Py_None || obj == Py_Ellipsis || obj == Py_NotImplemented ||
        Py_IS_TYPE(obj, &PyBool_Type) || Py_IS_TYPE(obj, &PyFloat_Type) ||
        Py_IS_TYPE(obj, &PyComplex_Type))
        return hl__builtin_repr(obj);
    if (Py_IS_TYPE(obj, &PyLong_Type)) {
        int overflow;
        (void)PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (overflow)
            return PyUnicode_FromString(overflow > 0 ? "<int above 2**63>" : "<int below -2**63>");
        return hl__builtin_repr(obj);
    }
    if (Py_IS_TYPE(obj, &PyUnicode_Type) || Py_IS_TYPE(obj, &PyBytes_Type))
        return hl__cut_repr(obj, limit);
    PyObject *text = hl__container(obj);
    if (text != NULL || PyErr_Occurred())
        return text;
    if (Py_IS_TYPE(obj, &PyFunction_Type)) {
        PyObject *name = hl__exact_str(((PyFunctionObject *)obj)->func_qualname);
        return PyUnicode_FromFormat("<function %V at %p>", name, "?", (void *)obj);
    }
    if (Py_IS_TYPE(obj, &PyCode_Type)) {
        PyCodeObject *code = (PyCodeObject *)obj;
        return PyUnicode_FromFormat("<code object %V at %p, file \"%V\", line %d>",
                                    hl__exact_str(code->co_qualname), "?", (void *)obj,
                                    hl__exact_str(code->co_filename), "?", code->co_firstlineno);
    }
    if (Py_IS_TYPE(obj, &PyModule_Type)) {
        PyObject *name = hlpy_safe_module_name(obj);
        if (name == NULL)
            return NULL;
        text = PyUnicode_FromFormat("<module '%U'>", name);
        Py_DECREF(name);
        return text;
    }
    if (PyType_Check(obj)) {
        PyObject *name =
            hlpy_safe_type_name((PyTypeObject *)obj, HLPY_NAME_QUALIFIED | HLPY_NAME_MODULE);
        if (name == NULL)
            return NULL;
        text = PyUnicode_FromFormat("<class '%U'>", name);
        Py_DECREF(name);
        return text;
    }
    /* Builtin types whose repr reads only C fields and tp_name (never an
     * object's own repr or attributes): their repr is shown as Python shows it. */
    if (Py_IS_TYPE(obj, &PyCFunction_Type) || Py_IS_TYPE(obj, &PyCell_Type) ||
        Py_IS_TYPE(obj, &PyGetSetDescr_Type) || Py_IS_TYPE(obj, &PyMemberDescr_Type) ||
        Py_IS_TYPE(obj, &PyMethodDescr_Type) || Py_IS_TYPE(obj, &PyWrapperDescr_Type) ||
        Py_IS_TYPE(obj, &PyClassMethodDescr_Type) || Py_IS_TYPE(obj, &PyRange_Type) ||
        Py_IS_TYPE(obj, &PyFrame_Type))
        return hl__builtin_repr(obj);
    if (Py_IS_TYPE(obj, &PyMethod_Type)) {
        PyObject *function = PyMethod_GET_FUNCTION(obj);
        PyObject *name = Py_IS_TYPE(function, &PyFunction_Type)
                             ? hl__exact_str(((PyFunctionObject *)function)->func_qualname)
                             : NULL;
        return PyUnicode_FromFormat("<bound method %V at %p>", name, "?", (void *)obj);
    }
    return hl__generic(obj);
}

/* ---- module functions ---------------------------------------------------- */

/* The flags of the optional (qualified, with_module) arguments. */
static int hl__flags(int qualified, int with_module) {
    return (qualified ? HLPY_NAME_QUALIFIED : 0) | (with_module ? HLPY_NAME_MODULE : 0);
}

PyObject *hlpy_type_name(PyObject *module, PyObject *args) {
    PyObject *obj;
    int qualified = 0, with_module = 0;
    if (!PyArg_ParseTuple(args, "O|pp:type_name", &obj, &qualified, &with_module))
        return NULL;
    return hlpy_safe_type_name(Py_TYPE(obj), hl__flags(qualified, with_module));
}

PyObject *hlpy_type_names(PyObject *module, PyObject *args) {
    PyObject *objects;
    int qualified = 0, with_module = 0;
    if (!PyArg_ParseTuple(args, "O!|pp:type_names", &PyList_Type, &objects, &qualified,
                          &with_module))
        return NULL;
    int flags = hl__flags(qualified, with_module);
    Py_ssize_t n = PyList_GET_SIZE(objects);
    PyObject *out = PyList_New(n);
    /* The list is read by index each time: no Python code runs here, but a
     * name's allocation could run a collection whose finalizers shrink it. */
    for (Py_ssize_t i = 0; out != NULL && i < n; i++) {
        PyObject *name = i < PyList_GET_SIZE(objects)
                             ? hlpy_safe_type_name(Py_TYPE(PyList_GET_ITEM(objects, i)), flags)
                             : PyUnicode_FromString("?");
        if (name == NULL)
            Py_CLEAR(out);
        else
            PyList_SET_ITEM(out, i, name);
    }
    return out;
}

PyObject *hlpy_name_of_type(PyObject *module, PyObject *args) {
    PyObject *type;
    int qualified = 0, with_module = 0;
    if (!PyArg_ParseTuple(args, "O|pp:name_of_type", &type, &qualified, &with_module))
        return NULL;
    if (!PyType_Check(type)) {
        PyErr_Format(PyExc_TypeError, "name_of_type() takes a type, not %.100s",
                     Py_TYPE(type)->tp_name);
        return NULL;
    }
    return hlpy_safe_type_name((PyTypeObject *)type, hl__flags(qualified, with_module));
}

PyObject *hlpy_safe_repr_function(PyObject *module, PyObject *args) {
    PyObject *obj;
    Py_ssize_t limit = HL_SAFE_REPR_DEFAULT;
    if (!PyArg_ParseTuple(args, "O|n:safe_repr", &obj, &limit))
        return NULL;
    return hlpy_safe_repr(obj, limit);
}

PyObject *hlpy_module_str(PyObject *module, PyObject *args) {
    PyObject *obj;
    const char *key = "__name__";
    if (!PyArg_ParseTuple(args, "O|s:module_str", &obj, &key))
        return NULL;
    PyObject *value = hl__module_str_field(obj, key);
    if (value != NULL)
        return Py_NewRef(value);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}
