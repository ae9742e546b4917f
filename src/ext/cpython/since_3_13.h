/* cpython/since_3_13.h - what 3.13 and later share beyond the frames.
 *
 * The thread state attached to the calling thread is public API
 * (PyThreadState_GetUnchecked, Py_IsFinalizing); attribute values live inside
 * the instance (Py_TPFLAGS_INLINE_VALUES), and once __dict__ is read a dict
 * may exist beside still-valid values; the table of interned strings is a
 * cached object of the interpreter. Included by a version file before
 * objects.h, which uses hl__inline_values and hl__n_inline_values.
 */
#ifndef HLPY_CPYTHON_SINCE_3_13_H
#define HLPY_CPYTHON_SINCE_3_13_H

PyThreadState *hlpy_cpython_gil_tstate(void) {
    return PyThreadState_GetUnchecked();
}

PyThreadState *hlpy_cpython_this_thread_tstate(void) {
    return PyThreadState_GetUnchecked(); /* a thread-local */
}

int hlpy_cpython_gil_held_without_state(PyThreadState *own) {
    (void)own; /* a new interpreter's state is made before the caller's is swapped out */
    return 0;
}

int hlpy_cpython_interpreters_lock_busy(void) {
    /* A PyMutex: its low bit says whether it is held. */
    return (_Py_atomic_load_uint8_relaxed(&_PyRuntime.interpreters.mutex._bits) & 1) != 0;
}

int hlpy_cpython_is_finalizing(void) {
    return Py_IsFinalizing() != 0;
}

static inline PyDictValues *hl__inline_values(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_INLINE_VALUES))
        return NULL;
    PyDictValues *values = _PyObject_InlineValues(obj);
    return values->valid ? values : NULL;
}
static inline Py_ssize_t hl__n_inline_values(PyDictValues *values, PyDictKeysObject *keys) {
    return keys->dk_nentries < values->capacity ? keys->dk_nentries : values->capacity;
}

PyObject *hlpy_cpython_managed_dict(PyObject *obj) {
    if (!PyType_HasFeature(Py_TYPE(obj), Py_TPFLAGS_MANAGED_DICT))
        return NULL;
    return (PyObject *)_PyObject_ManagedDictPointer(obj)->dict;
}

PyObject *hlpy_cpython_dict_beside_inline_values(PyObject *obj) {
    if (hl__inline_values(obj) == NULL)
        return NULL;
    return hlpy_cpython_managed_dict(obj);
}

const void *hlpy_cpython_interned_table_candidate(void) {
    return _Py_INTERP_CACHED_OBJECT(PyInterpreterState_Main(), interned_strings);
}

#endif /* HLPY_CPYTHON_SINCE_3_13_H */
