/* native_symbols.c - see native_symbols.h. */
#define _GNU_SOURCE
#include "native_symbols.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_symbols.h"

/* One loaded object met so far: its load bias, path and symbols (NULL when
 * its file gave none). */
typedef struct hl_native_object {
    uintptr_t base; /* dli_fbase: identifies the object */
    uintptr_t bias; /* l_addr: run-time address minus link-time address */
    char *path;
    hl_elf_symbols *symbols;
} hl_native_object;

struct hlpy_native_symbols {
    hl_native_object *objects;
    size_t n_objects, capacity;
};

hlpy_native_symbols *hlpy_native_symbols_new(void) {
    return calloc(1, sizeof(hlpy_native_symbols));
}

/* The symbols of `path`, or of its separate debug file when `path` has no
 * .symtab of its own (a stripped library: .dynsym only) and one is
 * installed. NULL when neither can be read. */
static hl_elf_symbols *hl__read_symbols(const char *path) {
    hl_elf_symbols *symbols = hl_elf_symbols_open(path);
    char build_id[130];
    if (symbols == NULL || hl_elf_symbols_build_id(symbols, build_id, sizeof build_id) < 0 ||
        strlen(build_id) < 3)
        return symbols;
    char debug_path[256];
    snprintf(debug_path, sizeof debug_path, "/usr/lib/debug/.build-id/%.2s/%s.debug", build_id,
             build_id + 2);
    hl_elf_symbols *debug = hl_elf_symbols_open(debug_path);
    if (debug == NULL)
        return symbols;
    if (hl_elf_symbols_count(debug) > hl_elf_symbols_count(symbols)) {
        hl_elf_symbols_close(symbols);
        return debug;
    }
    hl_elf_symbols_close(debug);
    return symbols;
}

/* The object holding `pc`, read on first sight; NULL when `pc` lies in no
 * loaded object or memory ran out. */
static hl_native_object *hl__object_of(hlpy_native_symbols *r, uintptr_t pc) {
    Dl_info info;
    struct link_map *map = NULL;
    if (dladdr1((void *)pc, &info, (void **)&map, RTLD_DL_LINKMAP) == 0 || map == NULL)
        return NULL;
    uintptr_t base = (uintptr_t)info.dli_fbase;
    for (size_t i = 0; i < r->n_objects; i++)
        if (r->objects[i].base == base)
            return &r->objects[i];
    if (r->n_objects == r->capacity) {
        size_t capacity = r->capacity ? r->capacity * 2 : 16;
        hl_native_object *objects = realloc(r->objects, capacity * sizeof *objects);
        if (objects == NULL)
            return NULL;
        r->objects = objects;
        r->capacity = capacity;
    }
    /* The main program's link map has an empty name: its file is read as
     * /proc/self/exe and named by dladdr's path. */
    int is_main = map->l_name == NULL || map->l_name[0] == '\0';
    const char *file = is_main ? "/proc/self/exe" : map->l_name;
    char *path =
        strdup(is_main && info.dli_fname != NULL && info.dli_fname[0] ? info.dli_fname : file);
    if (path == NULL)
        return NULL;
    hl_native_object *object = &r->objects[r->n_objects++];
    object->base = base;
    object->bias = (uintptr_t)map->l_addr;
    object->path = path;
    object->symbols = hl__read_symbols(file);
    return object;
}

void hlpy_native_symbols_name(hlpy_native_symbols *r, uintptr_t pc, const char **object_out,
                              char *function, size_t function_size) {
    hl_native_object *object = r != NULL ? hl__object_of(r, pc) : NULL;
    if (object == NULL) {
        *object_out = "<unknown native object>";
        snprintf(function, function_size, "0x%llx", (unsigned long long)pc);
        return;
    }
    *object_out = object->path;
    uint64_t address = (uint64_t)(pc - object->bias), offset = 0;
    const char *name =
        object->symbols != NULL ? hl_elf_symbols_find(object->symbols, address, &offset) : NULL;
    if (name != NULL) {
        snprintf(function, function_size, "%s", name);
        return;
    }
    const char *slash = strrchr(object->path, '/');
    snprintf(function, function_size, "%s+0x%llx", slash ? slash + 1 : object->path,
             (unsigned long long)(pc - object->base));
}

void hlpy_native_symbols_free(hlpy_native_symbols *r) {
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n_objects; i++) {
        free(r->objects[i].path);
        hl_elf_symbols_close(r->objects[i].symbols);
    }
    free(r->objects);
    free(r);
}
