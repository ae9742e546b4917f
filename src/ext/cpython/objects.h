/* cpython/objects.h - object and type layout logic every version shares.
 *
 * Included once, by the version file (py3_NN.c), after it has defined:
 *
 *   hl__inline_values(obj)       the PyDictValues holding `obj`'s attribute
 *                                values outside any dict, or NULL
 *   hl__n_inline_values(values, keys)
 *                                how many of those values may be read
 *   HL__HAS_INLINE_VALUES        1 when values live inside the object itself
 *                                (3.13 and later), 0 when in a separate array
 *   hl__is_immortal(obj)         1 for an immortal object
 *   HL__LINKED_FREE_LISTS        (optional) 1 when the free lists link their
 *                                entries through the object's first word, in
 *                                PyInterpreterState.object_state.freelists
 *                                (3.14 and later); left undefined (0) where a
 *                                deallocated object keeps a reference count of 0
 *
 * and, from compat.h, HLPY_TPFLAGS_* (0 for a flag the version lacks).
 */
#ifndef HLPY_CPYTHON_OBJECTS_H
#define HLPY_CPYTHON_OBJECTS_H

size_t hlpy_cpython_preheader_size(PyTypeObject *type) {
    return _PyType_PreHeaderSize(type);
}

int hlpy_cpython_is_immortal(PyObject *obj) {
    return hl__is_immortal(obj);
}

void hlpy_cpython_type_layout(PyTypeObject *type, hlpy_type_layout *out) {
    out->is_heap_type = PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE);
    out->is_immutable = PyType_HasFeature(type, Py_TPFLAGS_IMMUTABLETYPE);
    out->has_managed_dict = PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT);
    out->has_inline_values =
        HL__HAS_INLINE_VALUES ? PyType_HasFeature(type, HLPY_TPFLAGS_INLINE_VALUES) : 0;
    out->has_values_array = !HL__HAS_INLINE_VALUES && out->has_managed_dict;
    out->has_managed_weakref =
        HLPY_TPFLAGS_MANAGED_WEAKREF != 0 && PyType_HasFeature(type, HLPY_TPFLAGS_MANAGED_WEAKREF);
    out->preheader = _PyType_PreHeaderSize(type);
}

PyObject *hlpy_cpython_type_lookup(PyTypeObject *type, PyObject *name) {
    /* Borrowed from the MRO's dicts on every supported version; it neither
     * calls descriptors nor sets an exception. */
    return _PyType_Lookup(type, name);
}

PyObject **hlpy_cpython_dict_slot(PyObject *obj) {
    PyTypeObject *type = Py_TYPE(obj);
    if (PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT) || type->tp_dictoffset == 0)
        return NULL;
    return _PyObject_GetDictPtr(obj);
}

PyObject *hlpy_cpython_inline_attribute_name(PyObject *obj, PyObject *target,
                                             Py_ssize_t *position) {
    PyDictValues *values = hl__inline_values(obj);
    if (values == NULL)
        return NULL;
    PyDictKeysObject *keys = ((PyHeapTypeObject *)Py_TYPE(obj))->ht_cached_keys;
    if (keys == NULL)
        return NULL;
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(keys);
    Py_ssize_t n_values = hl__n_inline_values(values, keys);
    for (Py_ssize_t i = *position; i < n_values; i++) {
        if (values->values[i] == target && entries[i].me_key != NULL) {
            *position = i + 1;
            return entries[i].me_key;
        }
    }
    *position = n_values;
    return NULL;
}

#ifndef HL__LINKED_FREE_LISTS
#define HL__LINKED_FREE_LISTS 0
#endif

#if HL__LINKED_FREE_LISTS
/* 1 when the interpreter's free lists are where this build reads them: a
 * float made and let go goes to the head of the float free list (it has room,
 * since making it took one out or the list was not full). Needs the GIL. */
static inline int hl__free_lists_found(void) {
    PyObject *probe = PyFloat_FromDouble(0.25);
    if (probe == NULL) {
        PyErr_Clear();
        return 1; /* no memory: nothing learnt, nothing read yet */
    }
    void *address = probe;
    Py_DECREF(probe);
    /* The importing interpreter's own lists: a subinterpreter's float goes there. */
    return PyInterpreterState_Get()->object_state.freelists.floats.freelist == address;
}

int hlpy_cpython_free_lists_index(hl_u64_map *index) {
    /* Every member of struct _Py_freelists is a struct _Py_freelist; lists of
     * memory that is no object (dict keys, stack chunks) are read too, and
     * cannot match an object's address. */
    struct _Py_freelists *all = &PyInterpreterState_Main()->object_state.freelists;
    struct _Py_freelist *lists = (struct _Py_freelist *)all;
    size_t n_lists = sizeof(*all) / sizeof(struct _Py_freelist);
    for (size_t i = 0; i < n_lists; i++) {
        void *entry = lists[i].freelist;
        /* size counts the entries (-1: disabled); it also bounds the walk. */
        for (Py_ssize_t n = lists[i].size; entry != NULL && n > 0; n--) {
            if (hl_u64_map_put(index, (uint64_t)(uintptr_t)entry, 1) < 0)
                return -1;
            entry = *(void **)entry;
        }
    }
    return 0;
}

int hlpy_cpython_in_free_list(PyObject *obj, const hl_u64_map *index) {
    uint32_t unused;
    return hl_u64_map_get(index, (uint64_t)(uintptr_t)obj, &unused);
}
#else
static inline int hl__free_lists_found(void) {
    return 1; /* not read on this version */
}

int hlpy_cpython_free_lists_index(hl_u64_map *index) {
    (void)index;
    return 0;
}

int hlpy_cpython_in_free_list(PyObject *obj, const hl_u64_map *index) {
    (void)index;
    return Py_REFCNT(obj) == 0;
}
#endif

#endif /* HLPY_CPYTHON_OBJECTS_H */
