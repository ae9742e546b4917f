/* type_table.h - dense ids for the types met in a walk, with how to size them.
 *
 * The heap walk and the census both turn each object's type into a small id
 * and size objects by a per-type method (objsize.h). The table holds a
 * reference to each type, so ids stay valid while the table lives.
 */
#ifndef HLPY_TYPE_TABLE_H
#define HLPY_TYPE_TABLE_H

#include <Python.h>

#include "hl_common.h"
#include <stdint.h>

#include "objsize.h"
#include "u64_map.h"

typedef struct hlpy_type_table {
    hl_u64_map index;               /* type address -> id */
    PyTypeObject **types;           /* id -> type, each owned */
    hlpy_size_method *size_methods; /* id -> how to size its instances */
    uint8_t *see_through;           /* id -> 1: instances hold references tp_traverse does
                                       not show (opaque_containers.h) */
    size_t n_types, capacity;
    PyTypeObject *last_type; /* a one-entry cache: objects come in runs of a type */
    uint32_t last_id;
} hlpy_type_table;

/* Prepare an empty table (zeroed by the caller). Returns 0, or -1 when out of
 * memory (no exception set). */
HL_WARN_UNUSED int hlpy_type_table_init(hlpy_type_table *table);

/* The id of `type`, registered (with a reference and its size method) when
 * new. Returns 0, or -1 when out of memory (no exception set: callers may be
 * inside a walk). Needs the GIL; runs no Python code. */
HL_WARN_UNUSED int hlpy_type_table_id(hlpy_type_table *table, PyTypeObject *type, uint32_t *id_out);

/* Release the types and the memory, and zero the table. Needs the GIL. */
void hlpy_type_table_clear(hlpy_type_table *table);

/* Bytes the table holds. */
size_t hlpy_type_table_memory(const hlpy_type_table *table);

#endif /* HLPY_TYPE_TABLE_H */
