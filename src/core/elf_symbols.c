/* elf_symbols.c - see elf_symbols.h.
 *
 * Every offset and size read from the file is checked against the mapping's
 * length before use (with overflow-free comparisons), and every name against
 * its string table's bounds (it must end with a NUL inside the table). */
#define _GNU_SOURCE
#include "elf_symbols.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* This process's ELF class's structures. */
typedef ElfW(Ehdr) hl_file_header;
typedef ElfW(Shdr) hl_section_header;
typedef ElfW(Sym) hl_symbol_entry;
typedef ElfW(Nhdr) hl_note_header;

typedef struct hl_elf_symbol {
    uint64_t address;
    uint64_t size;
    const char *name;
} hl_elf_symbol;

struct hl_elf_symbols {
    const unsigned char *map;
    size_t map_size;
    hl_elf_symbol *symbols; /* sorted by address */
    size_t n_symbols;
    const unsigned char *build_id; /* inside map, or NULL */
    size_t build_id_size;
};

/* Whether [offset, offset + size) lies inside a file of `file_size` bytes. */
static int hl__in_file(uint64_t offset, uint64_t size, size_t file_size) {
    return offset <= file_size && size <= file_size - offset;
}

static int hl__by_address(const void *a, const void *b) {
    const hl_elf_symbol *x = a, *y = b;
    if (x->address != y->address)
        return x->address < y->address ? -1 : 1;
    /* Of two symbols at one address, the sized one first (it is found). */
    return (x->size == 0) - (y->size == 0);
}

/* Append the function symbols of symbol table `table` (whose string table
 * is section `table->sh_link`) to s->symbols. Returns 0, or -1 (errno set)
 * when the table is malformed or memory ran out. */
static int hl__read_table(hl_elf_symbols *s, const hl_section_header *sections, size_t n_sections,
                          const hl_section_header *table, size_t *capacity) {
    if (table->sh_entsize != sizeof(hl_symbol_entry) || table->sh_link >= n_sections ||
        !hl__in_file(table->sh_offset, table->sh_size, s->map_size))
        goto malformed;
    const hl_section_header *strings = &sections[table->sh_link];
    if (strings->sh_type != SHT_STRTAB ||
        !hl__in_file(strings->sh_offset, strings->sh_size, s->map_size))
        goto malformed;
    const char *names = (const char *)s->map + strings->sh_offset;
    size_t names_size = (size_t)strings->sh_size;
    size_t n = (size_t)(table->sh_size / sizeof(hl_symbol_entry));
    const unsigned char *entries = s->map + table->sh_offset;
    for (size_t i = 0; i < n; i++) {
        hl_symbol_entry sym;
        memcpy(&sym, entries + i * sizeof sym, sizeof sym); /* the file may be unaligned */
        int type = sym.st_info & 0xf; /* ELF32_ST_TYPE and ELF64_ST_TYPE alike */
        if ((type != STT_FUNC && type != STT_GNU_IFUNC) || sym.st_shndx == SHN_UNDEF ||
            sym.st_value == 0 || sym.st_name >= names_size ||
            memchr(names + sym.st_name, '\0', names_size - sym.st_name) == NULL)
            continue;
        if (s->n_symbols == *capacity) {
            size_t grown = *capacity ? *capacity * 2 : 256;
            hl_elf_symbol *more = realloc(s->symbols, grown * sizeof *more);
            if (more == NULL) {
                errno = ENOMEM;
                return -1;
            }
            s->symbols = more;
            *capacity = grown;
        }
        s->symbols[s->n_symbols].address = sym.st_value;
        s->symbols[s->n_symbols].size = sym.st_size;
        s->symbols[s->n_symbols].name = names + sym.st_name;
        s->n_symbols++;
    }
    return 0;
malformed:
    errno = EINVAL;
    return -1;
}

/* Note the GNU build id if note section `notes` holds one. */
static void hl__read_build_id(hl_elf_symbols *s, const hl_section_header *notes) {
    if (!hl__in_file(notes->sh_offset, notes->sh_size, s->map_size))
        return;
    const unsigned char *p = s->map + notes->sh_offset;
    size_t left = (size_t)notes->sh_size;
    while (left >= sizeof(hl_note_header)) {
        hl_note_header note;
        memcpy(&note, p, sizeof note);
        size_t name_size = ((size_t)note.n_namesz + 3) & ~(size_t)3;
        size_t desc_size = ((size_t)note.n_descsz + 3) & ~(size_t)3;
        size_t body = left - sizeof note;
        if (name_size > body || desc_size > body - name_size)
            return;
        const unsigned char *name = p + sizeof note;
        if (note.n_type == NT_GNU_BUILD_ID && note.n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
            note.n_descsz > 0) {
            s->build_id = name + name_size;
            s->build_id_size = note.n_descsz;
            return;
        }
        p += sizeof note + name_size + desc_size;
        left = body - name_size - desc_size;
    }
}

/* Read the section headers and the symbol tables. Returns 0, or -1 (errno). */
static int hl__parse(hl_elf_symbols *s) {
    hl_file_header header;
    if (s->map_size < sizeof header)
        goto malformed;
    memcpy(&header, s->map, sizeof header);
    if (memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
        goto malformed;
    if (header.e_ident[EI_CLASS] != (sizeof(void *) == 8 ? ELFCLASS64 : ELFCLASS32) ||
        header.e_ident[EI_DATA] !=
            (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? ELFDATA2LSB : ELFDATA2MSB) ||
        header.e_shentsize != sizeof(hl_section_header))
        goto malformed;
    size_t n_sections = header.e_shnum;
    if (n_sections == 0 ||
        !hl__in_file(header.e_shoff, (uint64_t)n_sections * sizeof(hl_section_header), s->map_size))
        goto malformed;
    hl_section_header *sections = malloc(n_sections * sizeof *sections);
    if (sections == NULL) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(sections, s->map + header.e_shoff, n_sections * sizeof *sections);
    size_t capacity = 0;
    int rc = 0;
    for (size_t i = 0; i < n_sections && rc == 0; i++) {
        if (sections[i].sh_type == SHT_SYMTAB || sections[i].sh_type == SHT_DYNSYM)
            rc = hl__read_table(s, sections, n_sections, &sections[i], &capacity);
        else if (sections[i].sh_type == SHT_NOTE && s->build_id == NULL)
            hl__read_build_id(s, &sections[i]);
    }
    free(sections);
    if (rc < 0)
        return -1;
    if (s->n_symbols > 1)
        qsort(s->symbols, s->n_symbols, sizeof *s->symbols, hl__by_address);
    return 0;
malformed:
    errno = EINVAL;
    return -1;
}

hl_elf_symbols *hl_elf_symbols_open(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat info;
    if (fstat(fd, &info) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return NULL;
    }
    if (!S_ISREG(info.st_mode) || info.st_size <= 0) {
        close(fd);
        errno = EINVAL;
        return NULL;
    }
    hl_elf_symbols *s = calloc(1, sizeof *s);
    if (s == NULL) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    s->map_size = (size_t)info.st_size;
    void *map = mmap(NULL, s->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        free(s);
        return NULL;
    }
    s->map = map;
    if (hl__parse(s) < 0) {
        int saved = errno;
        hl_elf_symbols_close(s);
        errno = saved;
        return NULL;
    }
    return s;
}

/* How far past an unsized symbol an address may lie and still be its. */
#define HL__UNSIZED_REACH 65536

const char *hl_elf_symbols_find(const hl_elf_symbols *s, uint64_t address, uint64_t *offset_out) {
    size_t low = 0, high = s->n_symbols; /* the first symbol above address */
    while (low < high) {
        size_t mid = low + (high - low) / 2;
        if (s->symbols[mid].address <= address)
            low = mid + 1;
        else
            high = mid;
    }
    /* Symbols at or below address, nearest first: a sized one must cover
     * it; an unsized one (hand-written assembly) covers up to the next
     * symbol, and at most HL__UNSIZED_REACH bytes. Overlapping sized
     * symbols (aliases, nested .cold parts) are tried a few deep. */
    for (size_t tried = 0; low > 0 && tried < 8; tried++, low--) {
        const hl_elf_symbol *sym = &s->symbols[low - 1];
        uint64_t offset = address - sym->address;
        if (sym->size != 0 ? offset < sym->size : tried == 0 && offset < HL__UNSIZED_REACH) {
            *offset_out = offset;
            return sym->name;
        }
    }
    return NULL;
}

size_t hl_elf_symbols_count(const hl_elf_symbols *s) {
    return s->n_symbols;
}

int hl_elf_symbols_build_id(const hl_elf_symbols *s, char *out, size_t out_size) {
    static const char digits[] = "0123456789abcdef";
    if (s->build_id == NULL || out_size < s->build_id_size * 2 + 1)
        return -1;
    for (size_t i = 0; i < s->build_id_size; i++) {
        out[2 * i] = digits[s->build_id[i] >> 4];
        out[2 * i + 1] = digits[s->build_id[i] & 15];
    }
    out[s->build_id_size * 2] = '\0';
    return 0;
}

void hl_elf_symbols_close(hl_elf_symbols *s) {
    if (s == NULL)
        return;
    if (s->map != NULL)
        munmap((void *)s->map, s->map_size);
    free(s->symbols);
    free(s);
}
