/* elf_symbols.h - the function symbols of an ELF file on disk, looked up by
 * address.
 *
 * Used when a report is made, never while allocating: the binding turns a
 * native frame's program counter into (object file, address in that file)
 * and asks here which function holds it. Both symbol tables are read:
 * .symtab (every function, static ones and GCC's .cold parts included, when
 * the file is not stripped) and .dynsym (the exported ones, always there).
 *
 * The file is mapped read-only and checked before anything in it is used:
 * a truncated, corrupt or hostile file gives no symbols, never a read out of
 * bounds. Only files of this process's own ELF class and byte order are read
 * (they are the ones it can have loaded).
 */
#ifndef HL_ELF_SYMBOLS_H
#define HL_ELF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

typedef struct hl_elf_symbols hl_elf_symbols;

/* Read the function symbols of the ELF file at `path`. Returns the table, or
 * NULL when the file cannot be read, is not an ELF file of this process's
 * class, or is malformed (errno says which for the first two; EINVAL for a
 * malformed file) or when memory ran out (ENOMEM). A valid file with no
 * symbols gives an empty table. Free it with hl_elf_symbols_close(). */
hl_elf_symbols *hl_elf_symbols_open(const char *path);

/* The name of the function whose code holds `address` (a link-time address
 * of the file: the run-time address minus the object's load bias), and the
 * address's offset in it (in *offset_out). Returns NULL when no function
 * symbol covers it. A symbol without a size covers addresses up to the next
 * symbol. The name lives as long as the table. */
const char *hl_elf_symbols_find(const hl_elf_symbols *symbols, uint64_t address,
                                uint64_t *offset_out);

/* How many function symbols were read. */
size_t hl_elf_symbols_count(const hl_elf_symbols *symbols);

/* The file's GNU build id as lowercase hex into out (size out_size, NUL
 * terminated), so the caller can look for a separate debug file
 * (/usr/lib/debug/.build-id/xx/rest.debug). Returns 0, or -1 when the file
 * has no build id or out is too small. */
HL_WARN_UNUSED int hl_elf_symbols_build_id(const hl_elf_symbols *symbols, char *out,
                                           size_t out_size);

/* Unmap the file and free the table; NULL is allowed. */
void hl_elf_symbols_close(hl_elf_symbols *symbols);

#endif /* HL_ELF_SYMBOLS_H */
