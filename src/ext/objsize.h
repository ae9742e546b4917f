/* objsize.h - sys.getsizeof without calling Python code, for the heap walk.
 *
 * How an object is sized depends only on its type, so the walk decides once
 * per type (hlpy_size_method_for) and then sizes each instance with no lookup.
 */
#ifndef HLPY_OBJSIZE_H
#define HLPY_OBJSIZE_H

#include <Python.h>

#include "hl_common.h"
#include <stdint.h>

typedef enum hlpy_size_kind {
    HLPY_SIZE_BASIC,          /* object.__sizeof__: tp_basicsize + tp_itemsize * |ob_size| */
    HLPY_SIZE_LIST,           /* list.__sizeof__, computed inline (the commonest override) */
    HLPY_SIZE_C_METHOD,       /* a __sizeof__ written in C, called directly */
    HLPY_SIZE_C_CLASS_METHOD, /* the same, taking its defining class (METH_METHOD) */
} hlpy_size_kind;

typedef struct hlpy_size_method {
    hlpy_size_kind kind;
    PyCFunction c_sizeof;         /* for HLPY_SIZE_C_METHOD */
    PyCMethod c_class_sizeof;     /* for HLPY_SIZE_C_CLASS_METHOD */
    PyTypeObject *defining_class; /* borrowed: the type that holds the method */
} hlpy_size_method;

/* Learn how this interpreter's sys.getsizeof treats static types, once per
 * walk, before the walk (it calls sys.getsizeof). Returns 0, or -1 with an
 * exception when out of memory. Needs the GIL. */
HL_WARN_UNUSED int hlpy_size_calibrate(void);

/* Decide how to size instances of `type`. A __sizeof__ written in Python is
 * not called during a walk (it could run any code); such types get the basic
 * formula. Returns 0, or -1 with an exception set (only on the first call, when
 * the lookup names cannot be created). Needs the GIL; runs no Python code. */
HL_WARN_UNUSED int hlpy_size_method_for(PyTypeObject *type, hlpy_size_method *out);

/* sys.getsizeof(obj) by `method` (which hlpy_size_method_for chose for
 * Py_TYPE(obj)). A C __sizeof__ that fails has its exception cleared and the
 * basic formula used instead. Needs the GIL. */
uint64_t hlpy_size_of(PyObject *obj, const hlpy_size_method *method);

#endif /* HLPY_OBJSIZE_H */
