/* finalizers.c - see finalizers.h. */
#include "finalizers.h"

#include "cpython/internals.h"

static PyObject *hl__del_name; /* "__del__", interned; owned */

const char *hlpy_type_finalizer_kind(PyTypeObject *type) {
    if (type->tp_del != NULL)
        return "tp_del";
    if (type->tp_finalize == NULL)
        return NULL;
    if (hl__del_name == NULL && (hl__del_name = PyUnicode_InternFromString("__del__")) == NULL) {
        PyErr_Clear();
        return "tp_finalize";
    }
    /* A class that defines __del__ gets a tp_finalize that calls it; a C
     * type's tp_finalize shows in its dict as a slot wrapper named __del__.
     * The lookup in the MRO's dicts calls nothing. */
    PyObject *del = hlpy_cpython_type_lookup(type, hl__del_name);
    if (del != NULL && !Py_IS_TYPE(del, &PyWrapperDescr_Type))
        return "__del__";
    return "tp_finalize";
}

PyObject *hlpy_finalizer_kind(PyObject *module, PyObject *obj) {
    const char *kind = hlpy_type_finalizer_kind(Py_TYPE(obj));
    if (kind == NULL)
        Py_RETURN_NONE;
    return PyUnicode_FromString(kind);
}
