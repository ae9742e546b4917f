/* census.h - counts and sizes by type over a list of objects, without a graph.
 *
 * The collector's view (what objgraph counts: gc.get_objects()) needs no
 * graph: one pass over the list, a type index, and sys.getsizeof sizes.
 */
#ifndef HLPY_CENSUS_H
#define HLPY_CENSUS_H

#include <Python.h>

#include "hl_common.h"

/* count_types(objects: list | None) -> [(type, count)], types in the order
 * first met; None counts every object the collector tracks, in place.
 * METH_O module function. */
HL_WARN_UNUSED PyObject *hlpy_count_types(PyObject *module, PyObject *objects);

/* census_of(objects: list | None) -> [(type, count, total_size)], sizes as
 * sys.getsizeof counts them (see objsize.h); None as for count_types.
 * METH_O module function. */
HL_WARN_UNUSED PyObject *hlpy_census_of(PyObject *module, PyObject *objects);

#endif /* HLPY_CENSUS_H */
