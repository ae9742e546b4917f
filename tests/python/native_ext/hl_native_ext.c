/* hl_native_ext.c - a CPython extension module that allocates with libc
 * directly, as pandas, Pillow or a database driver does, for the tests of
 * native tracing (tests/python/test_native_ext.py; src/ext/native_hooks.c).
 * Unlike native/native_calls.c (loaded with ctypes, which releases the GIL
 * around each call), this is an extension module imported as one: built with
 * meson by native_ext/__init__.py, loaded by the import system, called with
 * the GIL held.
 *
 * Each function does one thing with libc and returns what it returned.
 * Blocks and mappings are handed to Python as integers (their addresses);
 * the module keeps nothing, so a block not freed stays allocated.
 *
 *   malloc(size) -> address; raises MemoryError when malloc returns NULL.
 *   malloc_nogil(size) -> address: the same, with the GIL released.
 *   realloc(address, size) -> address (0 when size is 0: glibc frees).
 *   free(address): free(); free(0) is free(NULL).
 *   mmap(size) -> address: an anonymous private read-write mapping.
 *   munmap(address, size) -> None; raises OSError when munmap fails.
 *   thread_malloc(size) -> address: malloc on a pthread this module creates,
 *       which Python does not know (no thread state), joined before return.
 *   thread_free(address): free() on such a pthread.
 *   thread_call(callable) -> callable's result: calls it on a pthread this
 *       module creates, with a thread state of its own (PyGILState_Ensure);
 *       the calling thread waits for it with the GIL released.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* An address from Python: a non-negative int that fits a pointer. Returns 0,
 * or -1 with an exception set. */
static int address_from_object(PyObject *object, void **address) {
    unsigned long long value = PyLong_AsUnsignedLongLong(object);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) {
        return -1;
    }
    if (value > UINTPTR_MAX) {
        PyErr_SetString(PyExc_OverflowError, "address out of range");
        return -1;
    }
    *address = (void *)(uintptr_t)value;
    return 0;
}

static PyObject *address_to_object(void *address) {
    return PyLong_FromUnsignedLongLong((unsigned long long)(uintptr_t)address);
}

static PyObject *hlne_malloc(PyObject *module, PyObject *arg) {
    (void)module;
    size_t size = PyLong_AsSize_t(arg);
    if (size == (size_t)-1 && PyErr_Occurred()) {
        return NULL;
    }
    void *block = malloc(size);
    if (block == NULL) {
        return PyErr_NoMemory();
    }
    return address_to_object(block);
}

static PyObject *hlne_malloc_nogil(PyObject *module, PyObject *arg) {
    (void)module;
    size_t size = PyLong_AsSize_t(arg);
    if (size == (size_t)-1 && PyErr_Occurred()) {
        return NULL;
    }
    void *block;
    Py_BEGIN_ALLOW_THREADS
    block = malloc(size);
    Py_END_ALLOW_THREADS
    if (block == NULL) {
        return PyErr_NoMemory();
    }
    return address_to_object(block);
}

static PyObject *hlne_realloc(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *block;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "realloc(address, size)");
        return NULL;
    }
    if (address_from_object(args[0], &block) < 0) {
        return NULL;
    }
    size_t size = PyLong_AsSize_t(args[1]);
    if (size == (size_t)-1 && PyErr_Occurred()) {
        return NULL;
    }
    void *moved = realloc(block, size);
    if (moved == NULL && size != 0) {
        return PyErr_NoMemory();
    }
    return address_to_object(moved);
}

static PyObject *hlne_free(PyObject *module, PyObject *arg) {
    (void)module;
    void *block;
    if (address_from_object(arg, &block) < 0) {
        return NULL;
    }
    free(block);
    Py_RETURN_NONE;
}

static PyObject *hlne_mmap(PyObject *module, PyObject *arg) {
    (void)module;
    size_t size = PyLong_AsSize_t(arg);
    if (size == (size_t)-1 && PyErr_Occurred()) {
        return NULL;
    }
    void *mapping = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return address_to_object(mapping);
}

static PyObject *hlne_munmap(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    void *mapping;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "munmap(address, size)");
        return NULL;
    }
    if (address_from_object(args[0], &mapping) < 0) {
        return NULL;
    }
    size_t size = PyLong_AsSize_t(args[1]);
    if (size == (size_t)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (munmap(mapping, size) != 0) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    Py_RETURN_NONE;
}

/* What a raw thread is asked to do: malloc(size) into block, or free(block). */
typedef struct {
    size_t size;
    void *block;
    int do_free;
} raw_job;

static void *raw_thread_main(void *argument) {
    raw_job *job = argument;
    if (job->do_free) {
        free(job->block);
    } else {
        job->block = malloc(job->size);
    }
    return NULL;
}

/* Runs job on a new pthread and joins it, with the GIL released. Returns 0,
 * or -1 with OSError set when the thread could not be created. */
static int run_raw_thread(raw_job *job) {
    pthread_t thread;
    int error;
    Py_BEGIN_ALLOW_THREADS
    error = pthread_create(&thread, NULL, raw_thread_main, job);
    if (error == 0) {
        pthread_join(thread, NULL);
    }
    Py_END_ALLOW_THREADS
    if (error != 0) {
        errno = error;
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    return 0;
}

static PyObject *hlne_thread_malloc(PyObject *module, PyObject *arg) {
    (void)module;
    raw_job job = {.size = PyLong_AsSize_t(arg)};
    if (job.size == (size_t)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (run_raw_thread(&job) < 0) {
        return NULL;
    }
    if (job.block == NULL) {
        return PyErr_NoMemory();
    }
    return address_to_object(job.block);
}

static PyObject *hlne_thread_free(PyObject *module, PyObject *arg) {
    (void)module;
    raw_job job = {.do_free = 1};
    if (address_from_object(arg, &job.block) < 0) {
        return NULL;
    }
    if (run_raw_thread(&job) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* A call made on a pthread with a thread state of its own: the callable and,
 * once done, its result (a new reference) or the exception it raised. */
typedef struct {
    PyObject *callable;
    PyObject *result;
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *exception;
#else
    PyObject *exc_type, *exc_value, *exc_traceback;
#endif
} python_job;

static void *python_thread_main(void *argument) {
    python_job *job = argument;
    PyGILState_STATE state = PyGILState_Ensure();
    job->result = PyObject_CallNoArgs(job->callable);
    if (job->result == NULL) {
#if PY_VERSION_HEX >= 0x030C0000
        job->exception = PyErr_GetRaisedException();
#else
        PyErr_Fetch(&job->exc_type, &job->exc_value, &job->exc_traceback);
#endif
    }
    PyGILState_Release(state);
    return NULL;
}

static PyObject *hlne_thread_call(PyObject *module, PyObject *callable) {
    (void)module;
    python_job job = {.callable = callable};
    pthread_t thread;
    int error;
    Py_BEGIN_ALLOW_THREADS
    error = pthread_create(&thread, NULL, python_thread_main, &job);
    if (error == 0) {
        pthread_join(thread, NULL);
    }
    Py_END_ALLOW_THREADS
    if (error != 0) {
        errno = error;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (job.result == NULL) {
#if PY_VERSION_HEX >= 0x030C0000
        PyErr_SetRaisedException(job.exception);
#else
        PyErr_Restore(job.exc_type, job.exc_value, job.exc_traceback);
#endif
    }
    return job.result;
}

static PyMethodDef hlne_methods[] = {
    {"malloc", hlne_malloc, METH_O, "malloc(size) -> address"},
    {"malloc_nogil", hlne_malloc_nogil, METH_O, "malloc(size) with the GIL released"},
    {"realloc", (PyCFunction)(void (*)(void))hlne_realloc, METH_FASTCALL,
     "realloc(address, size) -> address"},
    {"free", hlne_free, METH_O, "free(address)"},
    {"mmap", hlne_mmap, METH_O, "mmap(size) -> address of an anonymous mapping"},
    {"munmap", (PyCFunction)(void (*)(void))hlne_munmap, METH_FASTCALL, "munmap(address, size)"},
    {"thread_malloc", hlne_thread_malloc, METH_O,
     "malloc(size) on a pthread Python does not know -> address"},
    {"thread_free", hlne_thread_free, METH_O, "free(address) on a pthread Python does not know"},
    {"thread_call", hlne_thread_call, METH_O,
     "callable() on a new pthread with a thread state of its own -> its result"},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot hlne_slots[] = {
    {0, NULL},
};

static struct PyModuleDef hlne_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "hl_native_ext",
    .m_doc = "Allocates with libc on request, for heaplens's tests of native tracing.",
    .m_size = 0,
    .m_methods = hlne_methods,
    .m_slots = hlne_slots,
};

PyMODINIT_FUNC PyInit_hl_native_ext(void) {
    return PyModuleDef_Init(&hlne_module);
}
