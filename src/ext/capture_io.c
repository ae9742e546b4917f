/* capture_io.c - whole capture files to and from Python (see capture_io.h).
 *
 * The file is read and checked in C (capture.c) with the GIL released; only
 * then are Python objects made. Nothing here unpickles anything.
 */
#include "capture_io.h"

#include <errno.h>
#include <stdlib.h>

#include "capture.h"
#include "snapshot_type.h"
#include "timeline.h"

/* Raise the error of a failed capture call (src/core/capture.h) on `path`:
 * OSError with its errno for the operating system's errors, MemoryError when
 * the core ran out of memory (ENOMEM: never decided by reading the message),
 * else `content_error` with the message, which names the file. */
static void hl__raise_capture_error(PyObject *path, PyObject *content_error, const char *what,
                                    const char *message) {
    int os_errno = hl_capture_os_errno();
    PyObject *shown;
    if (os_errno != 0 && os_errno != ENOMEM) {
        errno = os_errno;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        return;
    }
    shown = PyOS_FSPath(path); /* the file name, not a PosixPath(...) repr */
    if (shown == NULL) {
        PyErr_Clear();
        shown = Py_NewRef(path);
    }
    if (os_errno == ENOMEM) /* nothing wrong with the file: the core ran out of memory */
        PyErr_Format(PyExc_MemoryError, "%R %s: %s", shown, what, message);
    else
        PyErr_Format(content_error, "%R %s: %s", shown, what, message);
    Py_DECREF(shown);
}

/* Fill *timeline from Python's (start_ns, interval_ns, points). Returns 0,
 * or -1 with an exception (the timeline is then destroyed). */
static int hl__timeline_from_python(PyObject *arg, hl_timeline *timeline) {
    long long start_ns;
    unsigned long long interval_ns;
    PyObject *points;
    if (!PyArg_ParseTuple(arg, "LKO:timeline", &start_ns, &interval_ns, &points))
        return -1;
    PyObject *seq = PySequence_Fast(points, "timeline points must be a sequence");
    if (seq == NULL)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    memset(timeline, 0, sizeof(*timeline));
    timeline->start_ns = start_ns;
    timeline->interval_ns = interval_ns;
    timeline->points = calloc(n ? (size_t)n : 1, sizeof(hl_timeline_point));
    if (timeline->points == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    timeline->max_points = (size_t)n;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned long long t, traced, traced_max, rss;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(seq, i), "KKKK:timeline point", &t, &traced,
                              &traced_max, &rss)) {
            Py_DECREF(seq);
            hl_timeline_destroy(timeline);
            return -1;
        }
        hl_timeline_point point = {t, traced, traced_max, rss};
        timeline->points[timeline->n_points++] = point;
    }
    Py_DECREF(seq);
    return 0;
}

PyObject *hlpy_write_capture(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *path, *snapshots, *info, *timeline_arg, *path_bytes = NULL;
    PyObject *snap_seq = NULL, *info_seq = NULL;
    hl_timeline timeline = {0};
    hl_capture_writer *writer = NULL;
    char errbuf[256];
    int have_timeline = 0;
    if (!PyArg_ParseTuple(args, "OOOO:write_capture", &path, &snapshots, &info, &timeline_arg))
        return NULL;
    snap_seq = PySequence_Fast(snapshots, "snapshots must be a sequence of (name, Snapshot)");
    info_seq = snap_seq ? PySequence_Fast(info, "info must be a sequence of (key, value)") : NULL;
    if (info_seq == NULL)
        goto fail;
    if (timeline_arg != Py_None) {
        if (hl__timeline_from_python(timeline_arg, &timeline) < 0)
            goto fail;
        have_timeline = 1;
    }
    if (!PyUnicode_FSConverter(path, &path_bytes))
        goto fail;
    writer = hl_capture_writer_open_file(PyBytes_AS_STRING(path_bytes), errbuf, sizeof errbuf);
    if (writer == NULL) {
        hl__raise_capture_error(path, PyExc_OSError, "cannot be written", errbuf);
        goto fail;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(info_seq); i++) {
        const char *key, *value;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(info_seq, i), "ss:info", &key, &value))
            goto fail;
        if (hl_capture_writer_add_info(writer, key, value, errbuf, sizeof errbuf) < 0) {
            hl__raise_capture_error(path, PyExc_ValueError, "cannot be written", errbuf);
            goto fail;
        }
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(snap_seq); i++) {
        const char *name;
        PyObject *snap_obj;
        if (!PyArg_ParseTuple(PySequence_Fast_GET_ITEM(snap_seq, i), "sO:snapshot", &name,
                              &snap_obj))
            goto fail;
        const hl_snapshot_data *data = hlpy_snapshot_data(snap_obj);
        if (data == NULL)
            goto fail;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = hl_capture_writer_add_snapshot(writer, name, data, errbuf, sizeof errbuf);
        Py_END_ALLOW_THREADS
        if (rc < 0) {
            hl__raise_capture_error(path, PyExc_ValueError, "cannot be written", errbuf);
            goto fail;
        }
    }
    if (have_timeline &&
        hl_capture_writer_add_timeline(writer, &timeline, errbuf, sizeof errbuf) < 0) {
        hl__raise_capture_error(path, PyExc_ValueError, "cannot be written", errbuf);
        goto fail;
    }
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = hl_capture_writer_finish(writer, NULL, NULL, errbuf, sizeof errbuf);
    Py_END_ALLOW_THREADS
    writer = NULL; /* finish frees it, on success and failure */
    if (rc < 0) {
        hl__raise_capture_error(path, PyExc_OSError, "cannot be written", errbuf);
        goto fail;
    }
    hl_timeline_destroy(&timeline);
    Py_DECREF(path_bytes);
    Py_DECREF(snap_seq);
    Py_DECREF(info_seq);
    Py_RETURN_NONE;

fail:
    hl_capture_writer_abort(writer);
    if (have_timeline)
        hl_timeline_destroy(&timeline);
    Py_XDECREF(path_bytes);
    Py_XDECREF(snap_seq);
    Py_XDECREF(info_seq);
    return NULL;
}

/* New (start_ns, interval_ns, [(t_ns, traced, traced_max, rss)...]) or None. */
static PyObject *hl__timeline_to_python(const hl_capture *capture) {
    if (!capture->has_timeline)
        Py_RETURN_NONE;
    const hl_timeline *timeline = &capture->timeline;
    PyObject *points = PyList_New((Py_ssize_t)timeline->n_points);
    if (points == NULL)
        return NULL;
    for (size_t i = 0; i < timeline->n_points; i++) {
        const hl_timeline_point *p = &timeline->points[i];
        PyObject *item =
            Py_BuildValue("(KKKK)", (unsigned long long)p->t_ns, (unsigned long long)p->traced,
                          (unsigned long long)p->traced_max, (unsigned long long)p->rss);
        if (item == NULL) {
            Py_DECREF(points);
            return NULL;
        }
        PyList_SET_ITEM(points, (Py_ssize_t)i, item);
    }
    return Py_BuildValue("(LKN)", (long long)timeline->start_ns,
                         (unsigned long long)timeline->interval_ns, points);
}

PyObject *hlpy_load_capture(PyObject *module, PyObject *path) {
    (void)module;
    PyObject *path_bytes, *snapshots = NULL, *info = NULL, *timeline = NULL;
    hl_capture capture;
    char errbuf[256];
    int rc;
    if (!PyUnicode_FSConverter(path, &path_bytes))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    rc = hl_capture_read_file_all(PyBytes_AS_STRING(path_bytes), &capture, errbuf, sizeof errbuf);
    Py_END_ALLOW_THREADS
    Py_DECREF(path_bytes);
    if (rc < 0) {
        hl__raise_capture_error(path, PyExc_ValueError, "is not a valid heaplens capture", errbuf);
        return NULL;
    }
    snapshots = PyList_New(0);
    info = PyList_New(0);
    if (snapshots == NULL || info == NULL)
        goto fail;
    for (size_t i = 0; i < capture.n_snapshots; i++) {
        PyObject *snap = hlpy_snapshot_wrap(&capture.snapshots[i].data, NULL);
        PyObject *item = snap ? Py_BuildValue("(sN)", capture.snapshots[i].name, snap) : NULL;
        if (item == NULL || PyList_Append(snapshots, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    for (size_t i = 0; i < capture.n_info; i++) {
        PyObject *item = Py_BuildValue("(ss)", capture.info[i].key, capture.info[i].value);
        if (item == NULL || PyList_Append(info, item) < 0) {
            Py_XDECREF(item);
            goto fail;
        }
        Py_DECREF(item);
    }
    timeline = hl__timeline_to_python(&capture);
    if (timeline == NULL)
        goto fail;
    PyObject *result =
        Py_BuildValue("(NNN(II))", snapshots, info, timeline, (unsigned)capture.version_major,
                      (unsigned)capture.version_minor);
    hl_capture_clear(&capture);
    return result;

fail:
    Py_XDECREF(snapshots);
    Py_XDECREF(info);
    hl_capture_clear(&capture);
    return NULL;
}
