/* census.c - counts and sizes by type over a list (see census.h).
 *
 * Nothing in the loops runs Python code or creates a container, so the list
 * (or the collector's own lists) cannot change while it is read; each type met is held with a
 * reference until the result is built. Results are lists of tuples, never dicts keyed by type,
 * so no metaclass __hash__ or __eq__ runs.
 */
#include "census.h"

#include "cpython/internals.h"
#include "objsize.h"
#include "type_table.h"

typedef struct hl_type_counts {
    hlpy_type_table types;
    uint64_t *counts, *sizes; /* by type id, types.capacity entries */
    size_t capacity;
} hl_type_counts;

static void hl__counts_clear(hl_type_counts *table) {
    hlpy_type_table_clear(&table->types);
    free(table->counts);
    free(table->sizes);
}

/* The row (type id) of `type`, with zeroed counts when new. Returns the row,
 * or -1 when out of memory (no exception set). */
static Py_ssize_t hl__row_of(hl_type_counts *table, PyTypeObject *type) {
    uint32_t row;
    size_t known = table->types.n_types;
    if (hlpy_type_table_id(&table->types, type, &row) < 0)
        return -1;
    if (table->types.n_types > known) {
        if (table->capacity < table->types.capacity) {
            size_t capacity = table->types.capacity;
            uint64_t *counts = realloc(table->counts, capacity * sizeof(uint64_t));
            if (counts != NULL)
                table->counts = counts;
            uint64_t *sizes = realloc(table->sizes, capacity * sizeof(uint64_t));
            if (sizes != NULL)
                table->sizes = sizes;
            if (counts == NULL || sizes == NULL)
                return -1;
            table->capacity = capacity;
        }
        table->counts[row] = 0;
        table->sizes[row] = 0;
    }
    return row;
}

typedef struct hl_count_walk {
    hl_type_counts *table;
    int with_sizes;
    PyTypeObject *last_type;
    Py_ssize_t row;
} hl_count_walk;

/* Count (and size) one object. Returns 0, or -1 when out of memory (no
 * exception set: this may run inside the collector's object walk). */
static int hl__count_one(PyObject *obj, void *arg) {
    hl_count_walk *walk = arg;
    if (Py_TYPE(obj) != walk->last_type) {
        walk->last_type = Py_TYPE(obj);
        walk->row = hl__row_of(walk->table, walk->last_type);
        if (walk->row < 0)
            return -1;
    }
    walk->table->counts[walk->row]++;
    if (walk->with_sizes)
        walk->table->sizes[walk->row] +=
            hlpy_size_of(obj, &walk->table->types.size_methods[walk->row]);
    return 0;
}

/* Count (and, with_sizes, size) every item of `objects`, or with objects
 * None every object the collector tracks, walked in place (no list: on a
 * heap of millions that list costs as much as the count). Returns 0, or -1
 * with an exception. */
static int hl__count(hl_type_counts *table, PyObject *objects, int with_sizes) {
    if (objects != Py_None && !PyList_Check(objects)) {
        PyErr_SetString(PyExc_TypeError, "expected a list of objects, or None for all of them");
        return -1;
    }
    if (hlpy_type_table_init(&table->types) < 0 || (with_sizes && hlpy_size_calibrate() < 0)) {
        if (!PyErr_Occurred())
            PyErr_NoMemory();
        return -1;
    }
    hl_count_walk walk = {table, with_sizes, NULL, 0};
    int failed = 0;
    if (objects == Py_None) {
        failed = hlpy_cpython_visit_gc_objects(hl__count_one, &walk) < 0;
    } else {
        for (Py_ssize_t i = 0; !failed && i < PyList_GET_SIZE(objects); i++)
            failed = hl__count_one(PyList_GET_ITEM(objects, i), &walk) < 0;
    }
    if (failed) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

PyObject *hlpy_count_types(PyObject *module, PyObject *objects) {
    hl_type_counts table = {0};
    PyObject *result = NULL;
    if (hl__count(&table, objects, 0) == 0) {
        /* Pairs, not a dict keyed by type: a metaclass's __hash__ or __eq__
         * would run while the dict is filled, and again in every lookup. */
        result = PyList_New((Py_ssize_t)table.types.n_types);
        for (size_t t = 0; result != NULL && t < table.types.n_types; t++) {
            PyObject *row = Py_BuildValue("(OK)", (PyObject *)table.types.types[t],
                                          (unsigned long long)table.counts[t]);
            if (row == NULL)
                Py_CLEAR(result);
            else
                PyList_SET_ITEM(result, (Py_ssize_t)t, row);
        }
    }
    hl__counts_clear(&table);
    return result;
}

PyObject *hlpy_census_of(PyObject *module, PyObject *objects) {
    hl_type_counts table = {0};
    PyObject *result = NULL;
    if (hl__count(&table, objects, 1) == 0) {
        result = PyList_New((Py_ssize_t)table.types.n_types);
        for (size_t t = 0; result != NULL && t < table.types.n_types; t++) {
            PyObject *row = Py_BuildValue("(OKK)", (PyObject *)table.types.types[t],
                                          (unsigned long long)table.counts[t],
                                          (unsigned long long)table.sizes[t]);
            if (row == NULL)
                Py_CLEAR(result);
            else
                PyList_SET_ITEM(result, (Py_ssize_t)t, row);
        }
    }
    hl__counts_clear(&table);
    return result;
}
