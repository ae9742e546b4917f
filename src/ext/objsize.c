/* objsize.c - sys.getsizeof for the heap walk (see objsize.h).
 *
 * sys.getsizeof(o) is o.__sizeof__() plus the pre-header the interpreter puts
 * in front of the object (collector header, managed dict), except that newer
 * releases leave the pre-header out for static types; which rule this
 * interpreter follows is measured once, on `int`. object.__sizeof__ is tp_basicsize + tp_itemsize *
 * |ob_size|; types that override it in C are called through their method's C function, which is
 * what sys.getsizeof ends up calling, minus the attribute lookup and frame.
 */
#include "objsize.h"

#include "cpython/internals.h"

static PyObject *hl__sizeof_name;   /* "__sizeof__", interned; owned */
static PyObject *hl__object_sizeof; /* object.__sizeof__ descriptor; borrowed from the type */
static PyObject *hl__list_sizeof;   /* list.__sizeof__ descriptor; borrowed */
static int hl__static_types_have_preheader = 1;

static int hl__init_names(void) {
    if (hl__sizeof_name != NULL)
        return 0;
    hl__sizeof_name = PyUnicode_InternFromString("__sizeof__");
    if (hl__sizeof_name == NULL)
        return -1;
    hl__object_sizeof = hlpy_cpython_type_lookup(&PyBaseObject_Type, hl__sizeof_name);
    hl__list_sizeof = hlpy_cpython_type_lookup(&PyList_Type, hl__sizeof_name);
    return 0;
}

int hlpy_size_calibrate(void) {
    /* sys.getsizeof(int) - type.__sizeof__(int): the pre-header, or 0. */
    PyObject *sys_size = PySys_GetObject("getsizeof"); /* borrowed */
    PyObject *with_header =
        sys_size ? PyObject_CallOneArg(sys_size, (PyObject *)&PyLong_Type) : NULL;
    PyObject *bare =
        PyObject_CallMethod((PyObject *)&PyType_Type, "__sizeof__", "O", (PyObject *)&PyLong_Type);
    if (with_header != NULL && bare != NULL)
        hl__static_types_have_preheader = PyLong_AsSsize_t(with_header) != PyLong_AsSsize_t(bare);
    Py_XDECREF(with_header);
    Py_XDECREF(bare);
    PyErr_Clear(); /* without sys.getsizeof, keep the default */
    return hl__init_names();
}

int hlpy_size_method_for(PyTypeObject *type, hlpy_size_method *out) {
    out->kind = HLPY_SIZE_BASIC;
    out->c_sizeof = NULL;
    if (hl__init_names() < 0)
        return -1;
    /* A lookup in the MRO's dicts: no descriptor is called. */
    PyObject *method = hlpy_cpython_type_lookup(type, hl__sizeof_name);
    if (method == NULL || method == hl__object_sizeof)
        return 0;
    if (method == hl__list_sizeof) {
        out->kind = HLPY_SIZE_LIST;
        return 0;
    }
    if (Py_IS_TYPE(method, &PyMethodDescr_Type)) {
        PyMethodDescrObject *descr = (PyMethodDescrObject *)method;
        int calling = descr->d_method->ml_flags & (METH_VARARGS | METH_KEYWORDS | METH_NOARGS |
                                                   METH_O | METH_FASTCALL | METH_METHOD);
        if (calling == METH_NOARGS) {
            out->kind = HLPY_SIZE_C_METHOD;
            out->c_sizeof = descr->d_method->ml_meth;
        } else if (calling == (METH_METHOD | METH_FASTCALL | METH_KEYWORDS)) {
            /* Argument Clinic's `defining_class` methods (ctypes, for one). */
            out->kind = HLPY_SIZE_C_CLASS_METHOD;
            out->c_class_sizeof = (PyCMethod)(void (*)(void))descr->d_method->ml_meth;
            out->defining_class = descr->d_common.d_type;
        }
    }
    return 0;
}

static uint64_t hl__basic_size(PyObject *obj) {
    PyTypeObject *type = Py_TYPE(obj);
    uint64_t size = (uint64_t)type->tp_basicsize;
    if (type->tp_itemsize > 0) {
        Py_ssize_t n = Py_SIZE(obj);
        size += (uint64_t)(n < 0 ? -n : n) * (uint64_t)type->tp_itemsize;
    }
    return size;
}

uint64_t hlpy_size_of(PyObject *obj, const hlpy_size_method *method) {
    uint64_t size;
    switch (method->kind) {
    case HLPY_SIZE_LIST:
        size = (uint64_t)Py_TYPE(obj)->tp_basicsize +
               (uint64_t)((PyListObject *)obj)->allocated * sizeof(PyObject *);
        break;
    case HLPY_SIZE_C_METHOD:
    case HLPY_SIZE_C_CLASS_METHOD: {
        PyObject *result = method->kind == HLPY_SIZE_C_METHOD
                               ? method->c_sizeof(obj, NULL)
                               : method->c_class_sizeof(obj, method->defining_class, NULL, 0, NULL);
        Py_ssize_t n = result != NULL ? PyLong_AsSsize_t(result) : -1;
        Py_XDECREF(result);
        if (n < 0) {
            PyErr_Clear();
            size = hl__basic_size(obj);
        } else {
            size = (uint64_t)n;
        }
        break;
    }
    default:
        size = hl__basic_size(obj);
    }
    /* sys.getsizeof leaves the pre-header out for a static type whose type is
     * exactly `type` (where this interpreter does that at all: calibrated);
     * a static type with another metaclass (numpy.dtype, whose type is
     * numpy._DTypeMeta) gets it, as any other object. */
    if (!hl__static_types_have_preheader && Py_IS_TYPE(obj, &PyType_Type) &&
        !PyType_HasFeature((PyTypeObject *)obj, Py_TPFLAGS_HEAPTYPE))
        return size;
    return size + hlpy_cpython_preheader_size(Py_TYPE(obj));
}
