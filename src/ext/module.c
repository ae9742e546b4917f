/* module.c - heaplens._core: argument checking and result conversion only.
 *
 * Every function converts its arguments, calls the tracer (tracer.c,
 * resolve.c) or the snapshot type, and converts the result. Errors become
 * exceptions here and nowhere deeper than src/ext/.
 */
#include <Python.h>
#include <string.h>

#include "capture_io.h"
#include "census.h"
#include "fault_knob.h"
#include "finalizers.h"
#include "cpython/compat.h"
#include "cpython/internals.h"
#include "gc_watch.h"
#include "leak_tags.h"
#include "graph_type.h"
#include "hooks.h"
#include "resolve.h"
#include "safe_names.h"
#include "snapshot_type.h"
#include "stack_servant.h"
#include "stack_table.h"
#include "term_watch.h"
#include "timeline_thread.h"
#include "native_hooks.h"
#include "redirect.h"
#include "tracer.h"
#include "tracing.h"

static PyObject *hlpy_start(PyObject *module, PyObject *args, PyObject *kwargs) {
    static char *keywords[] = {"nframe", "sample_rate", "sums", "native", "native_frames", NULL};
    int nframe = 1, sums = 0, native = 0, native_frames = 0;
    long long sample_rate = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|i$Lppp:start", keywords, &nframe, &sample_rate,
                                     &sums, &native, &native_frames))
        return NULL;
    if (native_frames)
        native = HLPY_NATIVE_WITH_FRAMES; /* native frames are those of native blocks */
    if (nframe < 1 || nframe > HL_MAX_NFRAME) {
        PyErr_Format(PyExc_ValueError, "the number of frames must be in range [1; %d]",
                     HL_MAX_NFRAME);
        return NULL;
    }
    if (sample_rate < 0 || sample_rate > (1LL << 40)) {
        PyErr_SetString(
            PyExc_ValueError,
            "sample_rate must be 0 (record every block) or a number of bytes up to 1 TiB");
        return NULL;
    }
    if (hlpy_hooks_check() < 0)
        return NULL;
    if (hlpy_tracer_is_tracing() &&
        (hlpy_tracer_sample_rate() != (uint64_t)sample_rate || (sums && !hlpy_tracer_sums_on()) ||
         (native && !hlpy_native_hooks_recording()) ||
         (native_frames && !hlpy_tracer_native_frames()))) {
        PyErr_SetString(PyExc_RuntimeError,
                        "heaplens is already tracing with other settings: stop() it first");
        return NULL;
    }
    if (hlpy_tracing_start(nframe, (uint64_t)sample_rate, sums, native) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* take_sums_snapshot(at_peak) -> Snapshot aggregated by stack, from the sums.
 * The Snapshot object is made with this thread's hooks suspended, as its data
 * is: `heaplens run` takes the exit snapshot and then the one at the peak, and
 * a traced exit Snapshot could raise the traced heap to a new high that the
 * peak snapshot, read from the sums copied at the old high, does not hold. */
static PyObject *hlpy_take_sums_snapshot(PyObject *module, PyObject *arg) {
    int at_peak = PyObject_IsTrue(arg);
    if (at_peak < 0)
        return NULL;
    if (hlpy_hooks_check() < 0)
        return NULL;
    if (!hlpy_tracer_is_tracing()) {
        PyErr_SetString(PyExc_RuntimeError, "heaplens is not tracing");
        return NULL;
    }
    hl_snapshot_data data;
    PyObject *filenames;
    if (hlpy_resolve_sums_snapshot(at_peak, &data, &filenames) < 0)
        return NULL;
    int previous = hlpy_hooks_suspend();
    PyObject *snapshot = hlpy_snapshot_wrap(&data, filenames);
    hlpy_hooks_resume(previous);
    Py_DECREF(filenames);
    return snapshot;
}

/* suspend_recording() -> token: this thread's new blocks are not recorded
 * until resume_recording(token); frees are still recorded, so no stale trace
 * is left. For heaplens's own bookkeeping in Python while the program is
 * traced (`heaplens run` after a fork). Tokens nest. Never fails. */
static PyObject *hlpy_suspend_recording(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    return PyBool_FromLong(hlpy_hooks_suspend());
}

/* resume_recording(token): undo the suspend_recording() that returned token. */
static PyObject *hlpy_resume_recording(PyObject *module, PyObject *token) {
    (void)module;
    int previous = PyObject_IsTrue(token);
    if (previous < 0)
        return NULL;
    hlpy_hooks_resume(previous);
    Py_RETURN_NONE;
}

/* stop() first checks the hooks, so that traces missed since another tool
 * took them away are said (a warning) even when stopping. */
static PyObject *hlpy_stop(PyObject *module, PyObject *unused) {
    int checked = hlpy_hooks_check();
    hlpy_tracing_stop();
    if (checked < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* _at_exit(): stop tracing, and have the stack servant end before the
 * interpreter goes (registered with atexit by the module). */
static PyObject *hlpy_at_exit(PyObject *module, PyObject *unused) {
    PyObject *result = hlpy_stop(module, unused);
    hlpy_stack_servant_quit();
    return result;
}

/* is_tracing() is True only when heaplens records: a tracer whose hooks
 * another tool took away has them put back first (hlpy_hooks_check). */
static PyObject *hlpy_is_tracing(PyObject *module, PyObject *unused) {
    if (hlpy_hooks_check() < 0)
        return NULL;
    return PyBool_FromLong(hlpy_tracer_is_tracing());
}

static PyObject *hlpy_clear_traces(PyObject *module, PyObject *unused) {
    hlpy_tracing_clear();
    Py_RETURN_NONE;
}

static PyObject *hlpy_get_traceback_limit(PyObject *module, PyObject *unused) {
    int nframe = hlpy_tracer_nframe();
    return PyLong_FromLong(nframe ? nframe : 1);
}

static PyObject *hlpy_get_traced_memory(PyObject *module, PyObject *unused) {
    if (hlpy_hooks_check() < 0)
        return NULL;
    uint64_t current, peak;
    hlpy_tracer_traced_memory(&current, &peak);
    return Py_BuildValue("(KK)", (unsigned long long)current, (unsigned long long)peak);
}

static PyObject *hlpy_reset_peak(PyObject *module, PyObject *unused) {
    hlpy_tracer_reset_peak();
    Py_RETURN_NONE;
}

static PyObject *hlpy_get_tracer_memory(PyObject *module, PyObject *unused) {
    return PyLong_FromSize_t(hlpy_tracer_memory());
}

static PyObject *hlpy_get_tracer_counters(PyObject *module, PyObject *unused) {
    hlpy_tracer_counters c;
    hlpy_tracer_get_counters(&c);
    uint64_t redirected_slots;
    int redirect_failed;
    hlpy_redirect_counts(&redirected_slots, &redirect_failed);
    return Py_BuildValue(
        "{sKsKsKsKsKsKsKsnsnsKsKsOsKsi}", "dropped", (unsigned long long)c.dropped,
        "unknown_stacks", (unsigned long long)c.unknown_stacks, "stale_stacks",
        (unsigned long long)c.stale_stacks, "gil_unsafe", (unsigned long long)c.gil_unsafe,
        "gil_timeouts", (unsigned long long)c.gil_timeouts, "bad_stack_ids",
        (unsigned long long)c.bad_stack_ids, "hooks_lost", (unsigned long long)hlpy_hooks_lost(),
        "stacks", (Py_ssize_t)c.stacks, "live_blocks", (Py_ssize_t)c.live_blocks,
        "peaks_not_copied", (unsigned long long)c.peaks_not_copied, "sample_rate",
        (unsigned long long)c.sample_rate, "sums", c.sums ? Py_True : Py_False, "redirected_slots",
        (unsigned long long)redirected_slots, "redirect_failed", redirect_failed);
}

/* (frames, total_nframe) of the block holding obj, or None. */
static PyObject *hlpy_get_object_traceback(PyObject *module, PyObject *obj) {
    uintptr_t addr = (uintptr_t)obj - hlpy_cpython_preheader_size(Py_TYPE(obj));
    hl_stack_id stack;
    uint64_t size;
    if (!hlpy_tracer_find_block(addr, &stack, &size))
        Py_RETURN_NONE;
    PyObject *frames;
    int total;
    if (hlpy_resolve_stack_frames(stack, &frames, &total) < 0)
        return NULL;
    return Py_BuildValue("(Ni)", frames, total);
}

static PyObject *hlpy_get_stack_traceback(PyObject *module, PyObject *stack_arg) {
    (void)module;
    unsigned long stack = PyLong_AsUnsignedLong(stack_arg);
    if (stack == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    if (stack >= hlpy_tracer_n_stacks()) { /* 0 when not tracing */
        PyErr_Format(PyExc_IndexError, "no stack %lu in the tracer", stack);
        return NULL;
    }
    PyObject *frames;
    int total;
    if (hlpy_resolve_stack_frames((hl_stack_id)stack, &frames, &total) < 0)
        return NULL;
    return Py_BuildValue("(Ni)", frames, total);
}

static PyObject *hlpy_take_snapshot(PyObject *module, PyObject *unused) {
    if (hlpy_hooks_check() < 0)
        return NULL;
    hl_snapshot_data data;
    PyObject *filenames;
    if (hlpy_resolve_snapshot(&data, &filenames) < 0)
        return NULL;
    PyObject *snapshot = hlpy_snapshot_wrap(&data, filenames);
    Py_DECREF(filenames);
    return snapshot;
}

static PyObject *hlpy_load_snapshot(PyObject *module, PyObject *path) {
    return hlpy_snapshot_load(path);
}

static PyObject *hlpy_is_immortal(PyObject *module, PyObject *obj) {
    return PyBool_FromLong(hlpy_cpython_is_immortal(obj));
}

static PyObject *hlpy_module_type_layout(PyObject *module, PyObject *type) {
    if (!PyType_Check(type)) {
        PyErr_Format(PyExc_TypeError, "type_layout() takes a type, not %.100s",
                     Py_TYPE(type)->tp_name);
        return NULL;
    }
    hlpy_type_layout layout;
    hlpy_cpython_type_layout((PyTypeObject *)type, &layout);
    return Py_BuildValue("{sNsNsNsNsNsNsn}", "heap_type", PyBool_FromLong(layout.is_heap_type),
                         "immutable", PyBool_FromLong(layout.is_immutable), "managed_dict",
                         PyBool_FromLong(layout.has_managed_dict), "inline_values",
                         PyBool_FromLong(layout.has_inline_values), "values_array",
                         PyBool_FromLong(layout.has_values_array), "managed_weakref",
                         PyBool_FromLong(layout.has_managed_weakref), "preheader",
                         (Py_ssize_t)layout.preheader);
}

static PyMethodDef hl_module_methods[] = {
    {"start", (PyCFunction)(void (*)(void))hlpy_start, METH_VARARGS | METH_KEYWORDS,
     "start(nframe=1, *, sample_rate=0, sums=False, native=False, native_frames=False): start "
     "tracing Python allocations (and native ones, with their native frames)"},
    {"take_sums_snapshot", hlpy_take_sums_snapshot, METH_O,
     "take_sums_snapshot(at_peak) -> Snapshot by stack, now or at the peak (needs sums)"},
    {"write_capture", hlpy_write_capture, METH_VARARGS,
     "write_capture(path, snapshots, info, timeline): write a capture file"},
    {"load_capture", hlpy_load_capture, METH_O,
     "load_capture(path) -> (snapshots, info, timeline, version)"},
    {"timeline_start", hlpy_timeline_start, METH_VARARGS,
     "timeline_start(interval_ns, max_points=4096): sample heap size over time"},
    {"timeline_stop", hlpy_timeline_stop, METH_NOARGS,
     "timeline_stop() -> (start_ns, interval_ns, points, peak_t_ns) or None"},
    {"timeline_after_fork", hlpy_timeline_after_fork, METH_NOARGS,
     "timeline_after_fork(): restart sampling in a forked child"},
    {"term_watch_start", hlpy_term_watch_start, METH_VARARGS,
     "term_watch_start(signum, grace_seconds): see that Python's handler of signum runs"},
    {"term_watch_handled", hlpy_term_watch_handled, METH_NOARGS,
     "term_watch_handled(): the Python handler has started"},
    {"term_watch_after_fork", hlpy_term_watch_after_fork, METH_NOARGS,
     "term_watch_after_fork(): watch again in a forked child"},
    {"term_watch_stop", hlpy_term_watch_stop, METH_NOARGS,
     "term_watch_stop(): stop watching and give the signal back to Python's handler"},
    {"stop", hlpy_stop, METH_NOARGS, "stop(): stop tracing and free every trace"},
    {"_at_exit", hlpy_at_exit, METH_NOARGS,
     "_at_exit(): stop(), and end heaplens's helper threads"},
    {"suspend_recording", hlpy_suspend_recording, METH_NOARGS,
     "suspend_recording() -> token: record no new block on this thread (frees still)"},
    {"resume_recording", hlpy_resume_recording, METH_O,
     "resume_recording(token): undo the suspend_recording() that returned token"},
    {"is_tracing", hlpy_is_tracing, METH_NOARGS, "is_tracing() -> bool"},
    {"clear_traces", hlpy_clear_traces, METH_NOARGS, "clear_traces(): forget every trace"},
    {"get_traceback_limit", hlpy_get_traceback_limit, METH_NOARGS, "get_traceback_limit() -> int"},
    {"get_traced_memory", hlpy_get_traced_memory, METH_NOARGS,
     "get_traced_memory() -> (current, peak) traced bytes"},
    {"reset_peak", hlpy_reset_peak, METH_NOARGS, "reset_peak(): peak := current"},
    {"get_tracer_memory", hlpy_get_tracer_memory, METH_NOARGS,
     "get_tracer_memory() -> bytes used by the tracer's own tables"},
    {"get_tracer_counters", hlpy_get_tracer_counters, METH_NOARGS,
     "get_tracer_counters() -> dict: dropped, unknown_stacks, stale_stacks, gil_unsafe, "
     "gil_timeouts, bad_stack_ids, hooks_lost, stacks, live_blocks, peaks_not_copied, sample_rate, "
     "sums, redirected_slots, redirect_failed"},
    {"get_object_traceback", hlpy_get_object_traceback, METH_O,
     "get_object_traceback(obj) -> (frames, total_nframe) or None"},
    {"get_stack_traceback", hlpy_get_stack_traceback, METH_O,
     "get_stack_traceback(stack_id) -> (frames, total_nframe), frames most recent first"},
    {"take_snapshot", hlpy_take_snapshot, METH_NOARGS, "take_snapshot() -> Snapshot"},
    {"load_snapshot", hlpy_load_snapshot, METH_O, "load_snapshot(path) -> Snapshot"},
    {"build_graph", (PyCFunction)(void (*)(void))hlpy_build_graph, METH_FASTCALL | METH_KEYWORDS,
     "build_graph(ignore=(), skip_frames_under=None, untracked=True) -> HeapGraph"},
    {"count_types", hlpy_count_types, METH_O, "count_types(objects: list) -> [(type, count)]"},
    {"leak_tags_begin", hlpy_leak_tags_begin, METH_O,
     "leak_tags_begin(n_calls): start tagging the objects each call of a leak hunt creates"},
    {"leak_tags_set_call", hlpy_leak_tags_set_call, METH_O,
     "leak_tags_set_call(i): call i (1..n_calls) is under way; 0: between calls"},
    {"leak_tags_young", hlpy_leak_tags_young, METH_NOARGS,
     "leak_tags_young() -> int: tag the young generations with the call under way"},
    {"leak_tags_gc_callback", hlpy_leak_tags_gc_callback, METH_VARARGS,
     "the gc.callbacks entry of a leak hunt"},
    {"leak_tags_end", hlpy_leak_tags_end, METH_NOARGS, "leak_tags_end() -> dropped: end the hunt"},
    {"gc_watch_start", hlpy_gc_watch_start, METH_VARARGS,
     "gc_watch_start(breakdown, garbage): begin recording collections"},
    {"gc_watch_stop", hlpy_gc_watch_stop, METH_NOARGS,
     "gc_watch_stop() -> dict: recent collections, totals, freed, garbage"},
    {"gc_watch_callback", (PyCFunction)(void (*)(void))hlpy_gc_watch_callback, METH_FASTCALL,
     "gc_watch_callback(phase, info): the gc.callbacks entry of a gc monitor"},
    {"finalizer_kind", hlpy_finalizer_kind, METH_O,
     "finalizer_kind(obj) -> '__del__', 'tp_finalize', 'tp_del' or None"},
    {"type_name", hlpy_type_name, METH_VARARGS,
     "type_name(obj, qualified=False, with_module=False) -> str: type(obj)'s name, from C"},
    {"type_names", hlpy_type_names, METH_VARARGS,
     "type_names(objs: list, qualified=False, with_module=False) -> [str]"},
    {"name_of_type", hlpy_name_of_type, METH_VARARGS,
     "name_of_type(type, qualified=False, with_module=False) -> str, no descriptor run"},
    {"safe_repr", hlpy_safe_repr_function, METH_VARARGS,
     "safe_repr(obj, limit=60) -> str: a description that runs none of obj's code"},
    {"module_str", hlpy_module_str, METH_VARARGS,
     "module_str(module, key='__name__') -> str or None, read from the module's dict"},
    {"census_of", hlpy_census_of, METH_O,
     "census_of(objects: list) -> [(type, count, total_size)] by sys.getsizeof"},
    {"is_immortal", hlpy_is_immortal, METH_O,
     "is_immortal(obj) -> bool: the reference count of obj never changes"},
    {"type_layout", hlpy_module_type_layout, METH_O,
     "type_layout(type) -> dict: heap_type, immutable, managed_dict, inline_values, "
     "values_array, managed_weakref, preheader (bytes before each instance)"},
    HLPY_FAULT_KNOB_METHODS /* empty unless built with -Dfault_injection=true */
    {NULL, NULL, 0, NULL},
};

/* ---- subinterpreters ---------------------------------------------------- *
 *
 * heaplens traces the main interpreter only: the allocator hooks, the tracer's
 * tables and the Snapshot and HeapGraph types are process-wide and belong to
 * it. A legacy subinterpreter (one that shares the main GIL) may import the
 * module, for code that imports heaplens wherever it runs, but there every
 * function that would read or change that state raises RuntimeError, no type
 * is created or replaced, and nothing is registered to run at its exit (an
 * exit hook there once stopped the main interpreter's tracing). Interpreters
 * with a GIL of their own cannot import it (Py_mod_multiple_interpreters). */

/* The functions a subinterpreter may call: they only read the object given. */
static const char *const hl__subinterpreter_functions[] = {
    "is_immortal",  "type_layout", "finalizer_kind", "type_name", "type_names",
    "name_of_type", "safe_repr",   "module_str",     NULL};

static PyObject *hlpy_refused_outside_main(PyObject *name, PyObject *args, PyObject *kwargs) {
    PyErr_Format(PyExc_RuntimeError,
                 "heaplens._core.%U() runs in the main interpreter only: heaplens traces the main "
                 "interpreter, not subinterpreters",
                 name);
    return NULL;
}

static PyMethodDef hl_refused_def = {
    "refused", (PyCFunction)(void (*)(void))hlpy_refused_outside_main, METH_VARARGS | METH_KEYWORDS,
    "heaplens runs in the main interpreter only"};

/* Replace the module's functions by ones that refuse, but for the few that
 * only read their argument. Returns 0, or -1 with an exception set. */
static int hl__refuse_outside_main(PyObject *module) {
    for (PyMethodDef *method = hl_module_methods; method->ml_name != NULL; method++) {
        int allowed = 0;
        for (const char *const *name = hl__subinterpreter_functions; *name != NULL; name++)
            allowed |= strcmp(*name, method->ml_name) == 0;
        if (allowed)
            continue;
        PyObject *name = PyUnicode_FromString(method->ml_name);
        PyObject *refused = name != NULL ? PyCFunction_NewEx(&hl_refused_def, name, NULL) : NULL;
        Py_XDECREF(name);
        if (refused == NULL || PyObject_SetAttrString(module, method->ml_name, refused) < 0) {
            Py_XDECREF(refused);
            return -1;
        }
        Py_DECREF(refused);
    }
    return 0;
}

/* Stop tracing when the interpreter exits, while the objects the tracer
 * holds can still be released (as tracemalloc is stopped at finalization),
 * and end the stack servant before the interpreter goes. Returns 0, or -1
 * with an exception set. */
static int hl__stop_at_exit(PyObject *module) {
    PyObject *at_exit = PyObject_GetAttrString(module, "_at_exit");
    PyObject *atexit = at_exit ? PyImport_ImportModule("atexit") : NULL;
    PyObject *result = atexit ? PyObject_CallMethod(atexit, "register", "O", at_exit) : NULL;
    Py_XDECREF(at_exit);
    Py_XDECREF(atexit);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

static int hlpy_module_exec(PyObject *module) {
    if (hlpy_cpython_check_layout() < 0)
        return -1;
    if (PyModule_AddStringConstant(module, "BUILT_FOR_PYTHON", hlpy_cpython_built_version()) < 0 ||
        PyModule_AddIntConstant(module, "MAX_NFRAME", HL_MAX_NFRAME) < 0 ||
        PyModule_AddIntConstant(module, "NATIVE_DOMAIN", HLPY_NATIVE_DOMAIN) < 0 ||
        PyModule_AddIntConstant(module, "GC_RECENT", HLPY_GC_RECENT) < 0 ||
        PyModule_AddIntConstant(module, "GC_GARBAGE_KEPT", HLPY_GC_GARBAGE_KEPT) < 0)
        return -1;
    if (PyInterpreterState_Get() != PyInterpreterState_Main())
        return hl__refuse_outside_main(module);
    if (hlpy_timeline_init_once() < 0)
        return -1;
    if (hlpy_tracer_init_once() < 0)
        return -1;
    if (hlpy_snapshot_type_add(module) < 0 || hlpy_graph_type_add(module) < 0)
        return -1;
    return hl__stop_at_exit(module);
}

static PyModuleDef_Slot hl_module_slots[] = {
    {Py_mod_exec, hlpy_module_exec},
    HLPY_MODULE_INTERPRETER_SLOTS HLPY_MODULE_GIL_SLOTS{0, NULL},
};

static struct PyModuleDef hl_module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "heaplens._core",
    .m_doc = "heaplens's C core: the allocation tracer, snapshots and the heap graph.",
    .m_size = 0,
    .m_methods = hl_module_methods,
    .m_slots = hl_module_slots,
};

PyMODINIT_FUNC PyInit__core(void);
PyMODINIT_FUNC PyInit__core(void) {
    return PyModuleDef_Init(&hl_module_def);
}
