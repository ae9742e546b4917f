/* got_patch.c - rewrite GOT slots of loaded objects (see got_patch.h). */
#define _GNU_SOURCE
#include "got_patch.h"

#include <elf.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* The relocation types that bind a GOT slot to a function's address. */
#if defined(__x86_64__)
#define HL_R_JUMP_SLOT R_X86_64_JUMP_SLOT
#define HL_R_GLOB_DAT R_X86_64_GLOB_DAT
#elif defined(__i386__)
#define HL_R_JUMP_SLOT R_386_JMP_SLOT
#define HL_R_GLOB_DAT R_386_GLOB_DAT
#elif defined(__aarch64__)
#define HL_R_JUMP_SLOT R_AARCH64_JUMP_SLOT
#define HL_R_GLOB_DAT R_AARCH64_GLOB_DAT
#elif defined(__arm__)
#define HL_R_JUMP_SLOT R_ARM_JUMP_SLOT
#define HL_R_GLOB_DAT R_ARM_GLOB_DAT
#elif defined(__powerpc64__)
#define HL_R_JUMP_SLOT R_PPC64_JMP_SLOT
#define HL_R_GLOB_DAT R_PPC64_GLOB_DAT
#elif defined(__s390x__)
#define HL_R_JUMP_SLOT R_390_JMP_SLOT
#define HL_R_GLOB_DAT R_390_GLOB_DAT
#endif

#if __ELF_NATIVE_CLASS == 64
#define HL_R_SYM(info) ELF64_R_SYM(info)
#define HL_R_TYPE(info) ELF64_R_TYPE(info)
#else
#define HL_R_SYM(info) ELF32_R_SYM(info)
#define HL_R_TYPE(info) ELF32_R_TYPE(info)
#endif

typedef struct patch_run {
    hl_got_hook *hooks;
    size_t n_hooks;
    hl_got_filter filter;
    void *filter_arg;
    long patched;
    int failed;
} patch_run;

/* The tables of one object, read from its dynamic section. */
typedef struct object_tables {
    uintptr_t base;
    const ElfW(Sym) * symtab;
    const char *strtab;
    uintptr_t jmprel;
    size_t jmprel_size;
    int jmprel_is_rela;
    uintptr_t rela;
    size_t rela_size;
    uintptr_t rel;
    size_t rel_size;
} object_tables;

/* An address from the dynamic section: glibc stores most of them relocated
 * (absolute), musl and the vDSO as offsets from the object's base. */
static uintptr_t dynamic_address(uintptr_t base, ElfW(Addr) value) {
    return (uintptr_t)value < base ? base + (uintptr_t)value : (uintptr_t)value;
}

/* Write `value` into the pointer at `slot`, making its page writable first
 * when a write would fault. The page is left writable: making it read-only
 * again could fault the dynamic linker, if another thread is still loading
 * that object and has yet to apply its relocations. Returns 0, or -1 when the
 * page could not be made writable (nothing written). */
static int write_slot(void **slot, void *value, uintptr_t relro_start, uintptr_t relro_end) {
    uintptr_t address = (uintptr_t)slot;
    if (address >= relro_start && address < relro_end) {
        long page_size = sysconf(_SC_PAGESIZE);
        uintptr_t page = address & ~((uintptr_t)page_size - 1);
        if (mprotect((void *)page, (size_t)page_size, PROT_READ | PROT_WRITE) != 0) {
            return -1;
        }
    }
    __atomic_store_n(slot, value, __ATOMIC_RELEASE);
    return 0;
}

/* Patch the slots of relocation `info` at `offset` when its symbol is hooked. */
static void patch_relocation(patch_run *run, const object_tables *t, ElfW(Addr) offset,
                             uint64_t info, uintptr_t relro_start, uintptr_t relro_end) {
    unsigned long type = (unsigned long)HL_R_TYPE(info);
    if (type != HL_R_JUMP_SLOT && type != HL_R_GLOB_DAT) {
        return;
    }
    size_t symbol_index = (size_t)HL_R_SYM(info);
    if (symbol_index == 0) {
        return;
    }
    const char *name = t->strtab + t->symtab[symbol_index].st_name;
    for (size_t i = 0; i < run->n_hooks; i++) {
        hl_got_hook *hook = &run->hooks[i];
        if (strcmp(name, hook->symbol) != 0) {
            continue;
        }
        void **slot = (void **)(t->base + (uintptr_t)offset);
        if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) == hook->replacement) {
            return;
        }
        if (write_slot(slot, hook->replacement, relro_start, relro_end) != 0) {
            run->failed = 1;
            return;
        }
        hook->n_patched++;
        run->patched++;
        return;
    }
}

/* Patch every relocation of a table of `size` bytes at `table`, of RELA
 * entries when is_rela, else REL entries. */
static void patch_table(patch_run *run, const object_tables *t, uintptr_t table, size_t size,
                        int is_rela, uintptr_t relro_start, uintptr_t relro_end) {
    if (table == 0 || size == 0) {
        return;
    }
    if (is_rela) {
        const ElfW(Rela) *entries = (const ElfW(Rela) *)table;
        for (size_t i = 0; i < size / sizeof(ElfW(Rela)); i++) {
            patch_relocation(run, t, entries[i].r_offset, (uint64_t)entries[i].r_info, relro_start,
                             relro_end);
        }
    } else {
        const ElfW(Rel) *entries = (const ElfW(Rel) *)table;
        for (size_t i = 0; i < size / sizeof(ElfW(Rel)); i++) {
            patch_relocation(run, t, entries[i].r_offset, (uint64_t)entries[i].r_info, relro_start,
                             relro_end);
        }
    }
}

/* dl_iterate_phdr's callback: patch one object. Always returns 0 (go on). */
static int patch_object(struct dl_phdr_info *info, size_t info_size, void *data) {
    (void)info_size;
    patch_run *run = data;
    const char *name = info->dlpi_name != NULL ? info->dlpi_name : "";
    object_tables t;
    memset(&t, 0, sizeof t);
    t.base = (uintptr_t)info->dlpi_addr;
    if (run->filter != NULL && !run->filter(name, t.base, run->filter_arg)) {
        return 0;
    }
    const ElfW(Dyn) *dynamic = NULL;
    uintptr_t relro_start = 0, relro_end = 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        if (header->p_type == PT_DYNAMIC) {
            dynamic = (const ElfW(Dyn) *)(t.base + header->p_vaddr);
        } else if (header->p_type == PT_GNU_RELRO) {
            relro_start = t.base + header->p_vaddr;
            relro_end = relro_start + header->p_memsz;
        }
    }
    if (dynamic == NULL) {
        return 0;
    }
    for (const ElfW(Dyn) *entry = dynamic; entry->d_tag != DT_NULL; entry++) {
        switch (entry->d_tag) {
        case DT_SYMTAB:
            t.symtab = (const ElfW(Sym) *)dynamic_address(t.base, entry->d_un.d_ptr);
            break;
        case DT_STRTAB:
            t.strtab = (const char *)dynamic_address(t.base, entry->d_un.d_ptr);
            break;
        case DT_JMPREL:
            t.jmprel = dynamic_address(t.base, entry->d_un.d_ptr);
            break;
        case DT_PLTRELSZ:
            t.jmprel_size = (size_t)entry->d_un.d_val;
            break;
        case DT_PLTREL:
            t.jmprel_is_rela = entry->d_un.d_val == DT_RELA;
            break;
        case DT_RELA:
            t.rela = dynamic_address(t.base, entry->d_un.d_ptr);
            break;
        case DT_RELASZ:
            t.rela_size = (size_t)entry->d_un.d_val;
            break;
        case DT_REL:
            t.rel = dynamic_address(t.base, entry->d_un.d_ptr);
            break;
        case DT_RELSZ:
            t.rel_size = (size_t)entry->d_un.d_val;
            break;
        default:
            break;
        }
    }
    if (t.symtab == NULL || t.strtab == NULL) {
        return 0;
    }
    patch_table(run, &t, t.jmprel, t.jmprel_size, t.jmprel_is_rela, relro_start, relro_end);
    patch_table(run, &t, t.rela, t.rela_size, 1, relro_start, relro_end);
    patch_table(run, &t, t.rel, t.rel_size, 0, relro_start, relro_end);
    return 0;
}

long hl_got_patch(hl_got_hook *hooks, size_t n_hooks, hl_got_filter filter, void *arg) {
#if defined(HL_R_JUMP_SLOT)
    for (size_t i = 0; i < n_hooks; i++) {
        hooks[i].n_patched = 0;
    }
    patch_run run = {hooks, n_hooks, filter, arg, 0, 0};
    dl_iterate_phdr(patch_object, &run);
    return run.failed ? -1 : run.patched;
#else
    (void)hooks;
    (void)n_hooks;
    (void)filter;
    (void)arg;
    return -1;
#endif
}
