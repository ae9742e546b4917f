/* type_table.c - see type_table.h. */
#include "type_table.h"

#include <string.h>

#include "opaque_containers.h"

int hlpy_type_table_init(hlpy_type_table *table) {
    return hl_u64_map_init(&table->index, 512);
}

int hlpy_type_table_id(hlpy_type_table *table, PyTypeObject *type, uint32_t *id_out) {
    if (type == table->last_type) {
        *id_out = table->last_id;
        return 0;
    }
    uint32_t id;
    int inserted;
    if (hl_u64_map_get_or_put(&table->index, (uint64_t)(uintptr_t)type, (uint32_t)table->n_types,
                              &id, &inserted) < 0)
        return -1;
    if (inserted) {
        if (table->n_types == table->capacity) {
            size_t capacity = table->capacity ? 2 * table->capacity : 256;
            PyTypeObject **types = realloc(table->types, capacity * sizeof(*types));
            if (types != NULL)
                table->types = types;
            hlpy_size_method *methods = realloc(table->size_methods, capacity * sizeof(*methods));
            if (methods != NULL)
                table->size_methods = methods;
            uint8_t *see_through = realloc(table->see_through, capacity);
            if (see_through != NULL)
                table->see_through = see_through;
            if (types == NULL || methods == NULL || see_through == NULL)
                return -1; /* the map now names an id with no entry: callers give
                              up on the whole table, and clearing it is safe */
            table->capacity = capacity;
        }
        table->types[id] = (PyTypeObject *)Py_NewRef(type);
        if (hlpy_size_method_for(type, &table->size_methods[id]) < 0)
            PyErr_Clear(); /* it fell back to the basic formula */
        table->see_through[id] = (uint8_t)hlpy_opaque_type(type);
        table->n_types++;
    }
    table->last_type = type;
    table->last_id = id;
    *id_out = id;
    return 0;
}

void hlpy_type_table_clear(hlpy_type_table *table) {
    hl_u64_map_destroy(&table->index);
    for (size_t i = 0; i < table->n_types; i++)
        Py_DECREF(table->types[i]);
    free(table->types);
    free(table->size_methods);
    free(table->see_through);
    memset(table, 0, sizeof(*table));
}

size_t hlpy_type_table_memory(const hlpy_type_table *table) {
    return table->capacity * (sizeof(PyTypeObject *) + sizeof(hlpy_size_method) + 1) +
           (table->index.mask + 1) * sizeof(hl_u64_map_slot);
}
