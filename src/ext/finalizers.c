/* finalizers.c - see finalizers.h. */
#include "finalizers.h"

static PyObject *hl__del_name; /* "__del__", interned; owned */

PyObject *hlpy_finalizer_kind(PyObject *module, PyObject *obj) {
    PyTypeObject *type = Py_TYPE(obj);
    if (type->tp_del != NULL)
        return PyUnicode_FromString("tp_del");
    if (type->tp_finalize == NULL)
        Py_RETURN_NONE;
    if (hl__del_name == NULL && (hl__del_name = PyUnicode_InternFromString("__del__")) == NULL)
        return NULL;
    /* A class that defines __del__ gets a tp_finalize that calls it; a C
     * type's tp_finalize shows in its dict as a slot wrapper named __del__.
     * The lookup in the MRO's dicts calls nothing. */
    PyObject *del = _PyType_Lookup(type, hl__del_name);
    if (del != NULL && !Py_IS_TYPE(del, &PyWrapperDescr_Type))
        return PyUnicode_FromString("__del__");
    return PyUnicode_FromString("tp_finalize");
}
