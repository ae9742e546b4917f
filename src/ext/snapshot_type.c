/* snapshot_type.c - heaplens._core.Snapshot: a resolved snapshot held in C.
 *
 * The object owns one hl_snapshot_data and, lazily, a list of its file names
 * as str objects. It offers the raw operations that the Python classes in
 * heaplens/_snapshot.py build tracemalloc's API on: grouping (statistics),
 * filtering by (domain, stack), per-index access, dump and load. It never
 * creates one Python object per trace unless asked for that trace.
 * Instances are immutable once made; they need the GIL like any object.
 */
#include "snapshot_type.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "capture.h"
#include "stats.h"

typedef struct {
    PyObject_HEAD
    hl_snapshot_data data;
    PyObject *filenames; /* list of str, or NULL until first needed */
} hl_snapshot_object;

static PyTypeObject *hl_snapshot_type;

PyObject *hlpy_snapshot_wrap(hl_snapshot_data *data, PyObject *filenames) {
    hl_snapshot_object *self = PyObject_New(hl_snapshot_object, hl_snapshot_type);
    if (self == NULL) {
        hl_snapshot_data_clear(data);
        return NULL;
    }
    self->data = *data;
    hl_snapshot_data_init(data);
    self->filenames = Py_XNewRef(filenames);
    return (PyObject *)self;
}

static void hlpy_snapshot_dealloc(PyObject *op) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    hl_snapshot_data_clear(&self->data);
    Py_XDECREF(self->filenames);
    PyTypeObject *type = Py_TYPE(op);
    PyObject_Free(op);
    Py_DECREF(type);
}

/* The file-name list, decoding the string table on first use. Borrowed. */
static PyObject *hl__filenames(hl_snapshot_object *self) {
    if (self->filenames != NULL)
        return self->filenames;
    PyObject *list = PyList_New(self->data.n_strings);
    if (list == NULL)
        return NULL;
    for (uint32_t i = 0; i < self->data.n_strings; i++) {
        uint64_t start = self->data.string_offsets[i];
        uint64_t end = self->data.string_offsets[i + 1];
        PyObject *s = PyUnicode_DecodeUTF8(self->data.string_bytes + start,
                                           (Py_ssize_t)(end - start), "surrogatepass");
        if (s == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, s);
    }
    self->filenames = list;
    return list;
}

/* New (filename, lineno) tuple for frame index `frame`. */
static PyObject *hl__frame_tuple(hl_snapshot_object *self, uint32_t frame) {
    PyObject *names = hl__filenames(self);
    if (names == NULL)
        return NULL;
    const hl_frame *f = &self->data.frames[frame];
    return Py_BuildValue("(Oi)", PyList_GET_ITEM(names, f->filename), (int)f->lineno);
}

/* New tuple of frame tuples of stack `stack`, most recent first. */
static PyObject *hl__stack_tuple(hl_snapshot_object *self, uint32_t stack) {
    const hl_stack *s = &self->data.stacks[stack];
    PyObject *tuple = PyTuple_New(s->nframe);
    if (tuple == NULL)
        return NULL;
    for (uint32_t i = 0; i < s->nframe; i++) {
        PyObject *frame = hl__frame_tuple(self, self->data.stack_frames[s->first + i]);
        if (frame == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        PyTuple_SET_ITEM(tuple, i, frame);
    }
    return tuple;
}

static PyObject *hlpy_snapshot_stacks(PyObject *op, PyObject *unused) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    PyObject *list = PyList_New(self->data.n_stacks);
    if (list == NULL)
        return NULL;
    for (uint32_t s = 0; s < self->data.n_stacks; s++) {
        PyObject *frames = hl__stack_tuple(self, s);
        PyObject *item =
            frames ? Py_BuildValue("(NI)", frames, self->data.stacks[s].total_nframe) : NULL;
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, s, item);
    }
    return list;
}

static PyObject *hlpy_snapshot_trace(PyObject *op, PyObject *arg) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    Py_ssize_t index = PyLong_AsSsize_t(arg);
    if (index == -1 && PyErr_Occurred())
        return NULL;
    if (index < 0)
        index += (Py_ssize_t)self->data.n_traces;
    if (index < 0 || (uint64_t)index >= self->data.n_traces) {
        PyErr_SetString(PyExc_IndexError, "trace index out of range");
        return NULL;
    }
    const hl_trace_record *t = &self->data.traces[index];
    return Py_BuildValue("(IKI)", t->domain, (unsigned long long)t->size, t->stack);
}

static PyObject *hlpy_snapshot_group(PyObject *op, PyObject *args) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    int key, cumulative;
    if (!PyArg_ParseTuple(args, "ip:group", &key, &cumulative))
        return NULL;
    if (key < HL_STATS_BY_TRACEBACK || key > HL_STATS_BY_FILENAME ||
        (cumulative && key == HL_STATS_BY_TRACEBACK)) {
        PyErr_SetString(PyExc_ValueError, "invalid grouping key");
        return NULL;
    }
    hl_stat_group *groups;
    size_t n;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hl_stats_group(&self->data, (hl_stats_key)key, cumulative, &groups, &n);
    Py_END_ALLOW_THREADS
    if (rc < 0)
        return PyErr_NoMemory();
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *item = Py_BuildValue("(IKK)", groups[i].key, (unsigned long long)groups[i].size,
                                       (unsigned long long)groups[i].count);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, item);
    }
    free(groups);
    return list;
}

static PyObject *hlpy_snapshot_domains(PyObject *op, PyObject *unused) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    uint32_t *domains;
    size_t n;
    if (hl_stats_domains(&self->data, &domains, &n) < 0)
        return PyErr_NoMemory();
    PyObject *list = PyList_New((Py_ssize_t)n);
    for (size_t i = 0; list != NULL && i < n; i++) {
        PyObject *d = PyLong_FromUnsignedLong(domains[i]);
        if (d == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, d);
    }
    free(domains);
    return list;
}

/* filter(domains, keep): keep is bytes of len(domains) * n_stacks flags. */
static PyObject *hlpy_snapshot_filter(PyObject *op, PyObject *args) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    PyObject *domain_list;
    Py_buffer keep;
    if (!PyArg_ParseTuple(args, "O!y*:filter", &PyList_Type, &domain_list, &keep))
        return NULL;
    Py_ssize_t n_domains = PyList_GET_SIZE(domain_list);
    PyObject *result = NULL;
    uint32_t *domains = PyMem_Malloc((size_t)(n_domains ? n_domains : 1) * sizeof(uint32_t));
    if (domains == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    if ((size_t)keep.len != (size_t)n_domains * self->data.n_stacks) {
        PyErr_SetString(PyExc_ValueError, "keep must hold one flag per (domain, stack)");
        goto done;
    }
    for (Py_ssize_t i = 0; i < n_domains; i++) {
        unsigned long d = PyLong_AsUnsignedLong(PyList_GET_ITEM(domain_list, i));
        if (d == (unsigned long)-1 && PyErr_Occurred())
            goto done;
        domains[i] = (uint32_t)d;
    }
    hl_snapshot_data filtered;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hl_stats_filter(&self->data, domains, (size_t)n_domains, keep.buf, &filtered);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        PyErr_NoMemory();
        goto done;
    }
    result = hlpy_snapshot_wrap(&filtered, self->filenames);

done:
    PyMem_Free(domains);
    PyBuffer_Release(&keep);
    return result;
}

static PyObject *hlpy_snapshot_dump(PyObject *op, PyObject *arg) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    PyObject *path_bytes;
    if (!PyUnicode_FSConverter(arg, &path_bytes))
        return NULL;
    char errbuf[256];
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hl_capture_write_file(PyBytes_AS_STRING(path_bytes), &self->data, errbuf, sizeof errbuf);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        int os_errno = hl_capture_os_errno();
        if (os_errno == ENOMEM) {
            PyErr_Format(PyExc_MemoryError, "cannot write heaplens capture %R: %s", arg, errbuf);
        } else if (os_errno != 0) {
            errno = os_errno;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
        } else {
            PyErr_Format(PyExc_OSError, "cannot write heaplens capture %R: %s", arg, errbuf);
        }
    }
    Py_DECREF(path_bytes);
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

PyObject *hlpy_snapshot_load(PyObject *path) {
    PyObject *path_bytes;
    if (!PyUnicode_FSConverter(path, &path_bytes))
        return NULL;
    char errbuf[256];
    hl_snapshot_data data;
    int rc;
    hl_snapshot_data_init(&data);
    Py_BEGIN_ALLOW_THREADS
    rc = hl_capture_read_file(PyBytes_AS_STRING(path_bytes), &data, errbuf, sizeof errbuf);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_bytes);
    if (rc < 0) {
        int os_errno = hl_capture_os_errno();
        if (os_errno == ENOMEM) {
            PyErr_Format(PyExc_MemoryError, "cannot read heaplens capture %R: %s", path, errbuf);
        } else if (os_errno != 0) {
            errno = os_errno;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        } else {
            PyErr_Format(PyExc_ValueError, "%R is not a valid heaplens capture: %s", path, errbuf);
        }
        return NULL;
    }
    return hlpy_snapshot_wrap(&data, NULL);
}

const hl_snapshot_data *hlpy_snapshot_data(PyObject *obj) {
    if (!PyObject_TypeCheck(obj, hl_snapshot_type)) {
        PyErr_Format(PyExc_TypeError, "expected a heaplens._core.Snapshot, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    return &((hl_snapshot_object *)obj)->data;
}

/* [tuple of function names per frame of stack s ("" when unknown)] by stack. */
static PyObject *hlpy_snapshot_stack_functions(PyObject *op, PyObject *unused) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    PyObject *names = hl__filenames(self);
    PyObject *empty = names ? PyUnicode_FromString("") : NULL;
    PyObject *list = empty ? PyList_New(self->data.n_stacks) : NULL;
    if (list == NULL) {
        Py_XDECREF(empty);
        return NULL;
    }
    for (uint32_t s = 0; s < self->data.n_stacks; s++) {
        const hl_stack *stack = &self->data.stacks[s];
        PyObject *tuple = PyTuple_New(stack->nframe);
        if (tuple == NULL) {
            Py_DECREF(list);
            Py_DECREF(empty);
            return NULL;
        }
        for (uint32_t i = 0; i < stack->nframe; i++) {
            uint32_t frame = self->data.stack_frames[stack->first + i];
            uint32_t function = self->data.frame_functions != NULL
                                    ? self->data.frame_functions[frame]
                                    : HL_NO_FUNCTION;
            PyObject *name = function == HL_NO_FUNCTION ? empty : PyList_GET_ITEM(names, function);
            PyTuple_SET_ITEM(tuple, i, Py_NewRef(name));
        }
        PyList_SET_ITEM(list, s, tuple);
    }
    Py_DECREF(empty);
    return list;
}

/* The number of blocks trace i stands for (1 unless aggregated). */
static PyObject *hlpy_snapshot_trace_count_method(PyObject *op, PyObject *arg) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    Py_ssize_t index = PyLong_AsSsize_t(arg);
    if (index == -1 && PyErr_Occurred())
        return NULL;
    if (index < 0 || (uint64_t)index >= self->data.n_traces) {
        PyErr_SetString(PyExc_IndexError, "trace index out of range");
        return NULL;
    }
    return PyLong_FromUnsignedLongLong(hl_snapshot_trace_count(&self->data, (uint64_t)index));
}

static PyObject *hlpy_snapshot_get_int(PyObject *op, void *which) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    switch ((intptr_t)which) {
    case 0:
        return PyLong_FromUnsignedLongLong(self->data.n_traces);
    case 1:
        return PyLong_FromUnsignedLong(self->data.n_stacks);
    case 2:
        return PyLong_FromUnsignedLong(self->data.traceback_limit);
    case 4:
        return PyBool_FromLong(self->data.trace_counts != NULL);
    default:
        return PyLong_FromLongLong(self->data.timestamp_ns);
    }
}

static PyObject *hlpy_snapshot_total_size(PyObject *op, PyObject *unused) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    uint64_t total = 0;
    for (uint64_t i = 0; i < self->data.n_traces; i++)
        total += self->data.traces[i].size;
    return PyLong_FromUnsignedLongLong(total);
}

static PyObject *hlpy_snapshot_frame(PyObject *op, PyObject *arg) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    unsigned long index = PyLong_AsUnsignedLong(arg);
    if (index == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (index >= self->data.n_frames) {
        PyErr_SetString(PyExc_IndexError, "frame index out of range");
        return NULL;
    }
    return hl__frame_tuple(self, (uint32_t)index);
}

static PyObject *hlpy_snapshot_filename(PyObject *op, PyObject *arg) {
    hl_snapshot_object *self = (hl_snapshot_object *)op;
    unsigned long index = PyLong_AsUnsignedLong(arg);
    if (index == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    PyObject *names = hl__filenames(self);
    if (names == NULL)
        return NULL;
    if (index >= (unsigned long)PyList_GET_SIZE(names)) {
        PyErr_SetString(PyExc_IndexError, "string index out of range");
        return NULL;
    }
    return Py_NewRef(PyList_GET_ITEM(names, (Py_ssize_t)index));
}

static PyMethodDef hl_snapshot_methods[] = {
    {"stacks", hlpy_snapshot_stacks, METH_NOARGS,
     "stacks() -> list of (frames, total_nframe); frames are (filename, lineno), most recent "
     "first"},
    {"trace", hlpy_snapshot_trace, METH_O, "trace(i) -> (domain, size, stack index)"},
    {"group", hlpy_snapshot_group, METH_VARARGS,
     "group(key, cumulative) -> list of (key index, size, count); key 0=traceback 1=lineno "
     "2=filename"},
    {"domains", hlpy_snapshot_domains, METH_NOARGS, "domains() -> sorted list of trace domains"},
    {"filter", hlpy_snapshot_filter, METH_VARARGS,
     "filter(domains, keep) -> Snapshot keeping traces whose (domain, stack) flag is set"},
    {"dump", hlpy_snapshot_dump, METH_O, "dump(path): write a heaplens capture file"},
    {"total_size", hlpy_snapshot_total_size, METH_NOARGS, "total_size() -> sum of trace sizes"},
    {"frame", hlpy_snapshot_frame, METH_O, "frame(i) -> (filename, lineno)"},
    {"filename", hlpy_snapshot_filename, METH_O, "filename(i) -> str"},
    {"stack_functions", hlpy_snapshot_stack_functions, METH_NOARGS,
     "stack_functions() -> [tuple of function names of each stack's frames]"},
    {"trace_count", hlpy_snapshot_trace_count_method, METH_O,
     "trace_count(i) -> blocks trace i stands for (1 unless aggregated)"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef hl_snapshot_getset[] = {
    {"n_traces", hlpy_snapshot_get_int, NULL, "number of traces", (void *)0},
    {"n_stacks", hlpy_snapshot_get_int, NULL, "number of distinct tracebacks", (void *)1},
    {"traceback_limit", hlpy_snapshot_get_int, NULL, "nframe at capture time", (void *)2},
    {"timestamp_ns", hlpy_snapshot_get_int, NULL, "wall clock when taken", (void *)3},
    {"aggregated", hlpy_snapshot_get_int, NULL, "True when a trace may stand for many blocks",
     (void *)4},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyType_Slot hl_snapshot_slots[] = {
    {Py_tp_dealloc, hlpy_snapshot_dealloc},
    {Py_tp_methods, hl_snapshot_methods},
    {Py_tp_getset, hl_snapshot_getset},
    {Py_tp_doc, "A resolved heaplens snapshot held in C (use heaplens.tracemalloc.Snapshot)."},
    {0, NULL},
};

static PyType_Spec hl_snapshot_spec = {
    .name = "heaplens._core.Snapshot",
    .basicsize = sizeof(hl_snapshot_object),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = hl_snapshot_slots,
};

int hlpy_snapshot_type_add(PyObject *module) {
    /* Made once, by the main interpreter's first import: a second import (after
     * its module was removed from sys.modules) must not orphan the objects
     * made with the first type. */
    if (hl_snapshot_type == NULL)
        hl_snapshot_type = (PyTypeObject *)PyType_FromSpec(&hl_snapshot_spec);
    if (hl_snapshot_type == NULL)
        return -1;
    return PyModule_AddObjectRef(module, "Snapshot", (PyObject *)hl_snapshot_type);
}
