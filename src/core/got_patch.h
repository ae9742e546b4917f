/* got_patch.h - redirect the calls that loaded shared objects make to a
 * named function, by rewriting their global offset tables.
 *
 * A call from a shared object (or a position-independent executable) to a
 * function of another object goes through a slot of the caller's global
 * offset table (GOT), which the dynamic linker fills with the callee's
 * address: through the PLT for a plain call (a JUMP_SLOT relocation), or
 * directly for a call compiled with -fno-plt or a function pointer taken
 * (GLOB_DAT). Writing another address into those slots redirects every such
 * call the object makes, with no change to its code and none to the callee;
 * calls inside the callee's own object, and calls through a pointer taken
 * before the rewrite, are not redirected.
 *
 * The relocations are read from each object's dynamic section as the loader
 * mapped it (dl_iterate_phdr): DT_JMPREL and DT_RELA (DT_REL on the targets
 * that use it), with DT_SYMTAB and DT_STRTAB for the names. A slot in the
 * read-only part left by RELRO is made writable for the write and read-only
 * again after. Lazy binding does not matter: a slot still pointing at the
 * PLT's resolver is simply overwritten, and the resolver is then never asked
 * for it. The callee's own address is not read from any slot (a lazy slot
 * holds the resolver, not the callee); the caller gets it with dlsym().
 *
 * Linux with glibc or musl, ELF64 and ELF32; the relocation types of x86-64,
 * i386, AArch64, ARM, PowerPC64 and s390x (elsewhere nothing is patched).
 * Not thread-safe with itself (the caller serialises patching); safe beside
 * threads that make the calls, since each slot is one aligned pointer
 * written at once.
 */
#ifndef HL_GOT_PATCH_H
#define HL_GOT_PATCH_H

#include <stddef.h>
#include <stdint.h>

#include "hl_common.h"

typedef struct hl_got_hook {
    const char *symbol;      /* the function's name, as the objects import it */
    void *replacement;       /* the address to put in their GOT slots */
    unsigned long n_patched; /* out: slots rewritten by the last patch call */
} hl_got_hook;

/* Whether to patch the loaded object at `path` (the main program's is "")
 * whose load address is `base`: 1 to patch it, 0 to leave it. */
typedef int (*hl_got_filter)(const char *path, uintptr_t base, void *arg);

/* For every loaded object that `filter` accepts (every one when NULL; it is
 * called with `arg`), rewrite each GOT slot bound to hooks[i].symbol to
 * hooks[i].replacement, for all n_hooks hooks, and set each hook's
 * n_patched. A slot that already holds the replacement is left alone (and
 * not counted), so calling this again after more objects were loaded
 * rewrites only what is new. A slot in RELRO is left writable (see
 * got_patch.c). Returns the number of slots rewritten, or -1 when a slot
 * could not be made writable (the others are still patched) or the target's
 * relocations are not known here. Allocates nothing. */
HL_WARN_UNUSED long hl_got_patch(hl_got_hook *hooks, size_t n_hooks, hl_got_filter filter,
                                 void *arg);

#endif /* HL_GOT_PATCH_H */
