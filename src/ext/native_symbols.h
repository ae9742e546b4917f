/* native_symbols.h - names for native frames, when a snapshot is resolved.
 *
 * A native frame's program counter becomes (object path, function name):
 * dladdr finds the loaded object and its load bias, and the object's file is
 * read once per resolver for its symbol tables (elf_symbols.h), .symtab
 * first, so static functions and GCC's .cold parts get their own names; a
 * stripped file whose debug file is installed under
 * /usr/lib/debug/.build-id is read from there. A program counter with no
 * symbol is named by its offset in the object ("libfoo.so+0x1a2b"), and one
 * in no loaded object (its library was unloaded) by its address.
 *
 * A resolver lives for one snapshot; it is used by one thread, with the GIL.
 */
#ifndef HLPY_NATIVE_SYMBOLS_H
#define HLPY_NATIVE_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

typedef struct hlpy_native_symbols hlpy_native_symbols;

/* A new resolver, or NULL when out of memory. */
hlpy_native_symbols *hlpy_native_symbols_new(void);

/* Name the code at `pc`: its object's path in *object_out and its function in
 * function (a buffer of function_size bytes, NUL terminated, cut to fit).
 * The path lives as long as the resolver. Never fails: what cannot be found
 * is named as said above. */
void hlpy_native_symbols_name(hlpy_native_symbols *resolver, uintptr_t pc, const char **object_out,
                              char *function, size_t function_size);

/* Free the resolver and the files it read; NULL is allowed. */
void hlpy_native_symbols_free(hlpy_native_symbols *resolver);

#endif /* HLPY_NATIVE_SYMBOLS_H */
