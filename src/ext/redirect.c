/* redirect.c - GOT redirections for every loaded object (see redirect.h). */
#define _GNU_SOURCE
#include "redirect.h"

#include <Python.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "got_patch.h"

#define HL_MAX_SETS 8
#define HL_MAX_HOOKS 64
#define HL_SEEN_MAX 4096

/* The kinds of object a set of redirections applies to. */
enum {
    HL_KIND_GENERAL, /* every object but heaplens's */
    HL_KIND_NATIVE,  /* also not CPython's, libc, the linker, sanitizers */
    HL_KIND_CTYPES,  /* ctypes' own object only (dlsym) */
    HL_N_KINDS
};

typedef struct hl_redirect_set {
    const hlpy_redirect *redirects;
    size_t n;
    int kind;
} hl_redirect_set;

/* The objects of one kind of set already patched, by load address, so that a
 * dlopen patches only what it added. When the loader unloaded something
 * since (its `subs` count moved) an address may now be another object's:
 * all are forgotten. When full, every object is looked at again (patching
 * what is patched already rewrites nothing). */
typedef struct hl_seen {
    uintptr_t bases[HL_SEEN_MAX];
    size_t n;
} hl_seen;

/* Everything here is protected by patch_lock, but the counters (atomics). */
static pthread_mutex_t hl_patch_lock = PTHREAD_MUTEX_INITIALIZER;
static hl_redirect_set hl_sets[HL_MAX_SETS];
static size_t hl_n_sets;
static int hl_ready;               /* the fields below are set */
static uintptr_t hl_own_base;      /* heaplens's object: never patched */
static uintptr_t hl_python_base;   /* CPython's object: no native redirection */
static unsigned long long hl_subs; /* the loader's unload count at the last pass */
static hl_seen hl_seen_by_kind[HL_N_KINDS];
/* The loader's dlopen, as heaplens's own object links it. */
static void *(*hl_real_dlopen)(const char *, int);

/* Set while this thread holds patch_lock for a fork (hl__before_fork). */
static _Thread_local int hl_in_fork __attribute__((tls_model("initial-exec")));

static _Atomic uint64_t hl_slots_patched;
static atomic_int hl_patch_failed;

typedef struct hl_filter_arg {
    hl_seen *seen;
    int kind;
} hl_filter_arg;

/* 1 when `path` names an object that native redirections leave alone. */
static int hl__native_exempt(const char *path) {
    static const char *const exempt[] = {"/libc.so",    "libc.musl",  "/ld-linux", "/ld-musl",
                                         "/libasan.",   "/libubsan.", "/libtsan.", "/liblsan.",
                                         "/libhwasan.", "linux-vdso"};
    for (size_t i = 0; i < sizeof exempt / sizeof exempt[0]; i++) {
        if (strstr(path, exempt[i]) != NULL)
            return 1;
    }
    return 0;
}

/* got_patch's filter: objects of the set's kind not seen yet. */
static int hl__accept(const char *path, uintptr_t base, void *data) {
    hl_filter_arg *arg = data;
    if (base == hl_own_base)
        return 0;
    if (arg->kind == HL_KIND_NATIVE && (base == hl_python_base || hl__native_exempt(path)))
        return 0;
    if (arg->kind == HL_KIND_CTYPES && strstr(path, "/_ctypes") == NULL)
        return 0;
    hl_seen *seen = arg->seen;
    for (size_t i = 0; i < seen->n; i++) {
        if (seen->bases[i] == base)
            return 0;
    }
    if (seen->n < HL_SEEN_MAX)
        seen->bases[seen->n++] = base;
    return 1;
}

/* dl_iterate_phdr's callback: the loader's count of objects unloaded. */
static int hl__read_subs(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    *(unsigned long long *)data = info->dlpi_subs;
    return 1; /* the first object tells */
}

/* dl_iterate_phdr's callback: the load address of the object that holds
 * the address *data, stored back in *data; 1 when found. */
static int hl__find_object(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    uintptr_t *address = data;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        uintptr_t start = (uintptr_t)info->dlpi_addr + header->p_vaddr;
        if (header->p_type == PT_LOAD && *address >= start && *address < start + header->p_memsz) {
            *address = (uintptr_t)info->dlpi_addr;
            return 1;
        }
    }
    return 0;
}

static void *hlpy_dlopen(const char *file, int mode);
static void *hlpy_dlsym(void *handle, const char *name);

/* Patch, for the sets of one kind, the objects not patched yet. Needs
 * patch_lock. */
static int hl__patch_kind(int kind) {
    hl_got_hook hooks[HL_MAX_HOOKS];
    size_t n_hooks = 0;
    if (kind == HL_KIND_GENERAL)
        hooks[n_hooks++] = (hl_got_hook){"dlopen", (void *)hlpy_dlopen, 0};
    if (kind == HL_KIND_CTYPES)
        hooks[n_hooks++] = (hl_got_hook){"dlsym", (void *)hlpy_dlsym, 0};
    for (size_t s = 0; s < hl_n_sets; s++) {
        if (hl_sets[s].kind != kind)
            continue;
        for (size_t i = 0; i < hl_sets[s].n && n_hooks < HL_MAX_HOOKS; i++)
            hooks[n_hooks++] = (hl_got_hook){hl_sets[s].redirects[i].symbol,
                                             hl_sets[s].redirects[i].replacement, 0};
    }
    if (n_hooks == 0)
        return 0;
    hl_filter_arg arg = {&hl_seen_by_kind[kind], kind};
    long patched = hl_got_patch(hooks, n_hooks, hl__accept, &arg);
    if (patched < 0) {
        atomic_store(&hl_patch_failed, 1);
        return -1;
    }
    atomic_fetch_add_explicit(&hl_slots_patched, (uint64_t)patched, memory_order_relaxed);
    return 0;
}

/* Patch what is new, for both kinds. Needs patch_lock. */
static int hl__patch_new_objects(void) {
    unsigned long long subs = 0;
    dl_iterate_phdr(hl__read_subs, &subs);
    if (subs != hl_subs) {
        for (int kind = 0; kind < HL_N_KINDS; kind++)
            hl_seen_by_kind[kind].n = 0;
        hl_subs = subs;
    }
    int result = 0;
    for (int kind = 0; kind < HL_N_KINDS; kind++) {
        if (hl__patch_kind(kind) < 0)
            result = -1;
    }
    return result;
}

static void *hlpy_dlopen(const char *file, int mode) {
    void *handle = hl_real_dlopen(file, mode);
    if (handle != NULL && !hl_in_fork) { /* else patched at the next dlopen */
        pthread_mutex_lock(&hl_patch_lock);
        if (hl__patch_new_objects() < 0) {
            /* Counted in hl_patch_failed; the load itself succeeded. */
        }
        pthread_mutex_unlock(&hl_patch_lock);
    }
    return handle;
}

/* ctypes' lookups: the replacement of a registered redirection when the
 * lookup found its original. */
static void *hlpy_dlsym(void *handle, const char *name) {
    void *found = dlsym(handle, name);
    if (found == NULL || name == NULL || hl_in_fork)
        return found;
    pthread_mutex_lock(&hl_patch_lock);
    for (size_t s = 0; s < hl_n_sets; s++) {
        for (size_t i = 0; i < hl_sets[s].n; i++) {
            const hlpy_redirect *r = &hl_sets[s].redirects[i];
            if (r->original == found && strcmp(r->symbol, name) == 0) {
                found = r->replacement;
                goto done;
            }
        }
    }
done:
    pthread_mutex_unlock(&hl_patch_lock);
    return found;
}

/* A forked child has only the forking thread: a patch_lock that another
 * thread of the parent held would stay held. While this thread holds it
 * for the fork (hl_in_fork), another library's fork handler that loads or
 * looks up a function (see tracer.c's hl_in_fork) must not take it again. */

static void hl__before_fork(void) {
    pthread_mutex_lock(&hl_patch_lock);
    hl_in_fork = 1;
}

static void hl__after_fork(void) {
    hl_in_fork = 0;
    pthread_mutex_unlock(&hl_patch_lock);
}

/* Find heaplens's and CPython's objects, once. Needs patch_lock. */
static int hl__get_ready(void) {
    uintptr_t own = (uintptr_t)hlpy_redirect_add;
    uintptr_t python = (uintptr_t)PyMem_RawMalloc;
    if (dl_iterate_phdr(hl__find_object, &own) != 1 ||
        dl_iterate_phdr(hl__find_object, &python) != 1)
        return -1;
    hl_own_base = own;
    hl_python_base = python;
    hl_real_dlopen = dlopen;
    dl_iterate_phdr(hl__read_subs, &hl_subs);
    if (pthread_atfork(hl__before_fork, hl__after_fork, hl__after_fork) != 0) {
        /* No handlers: a fork while another thread patches is not covered. */
    }
    hl_ready = 1;
    return 0;
}

int hlpy_redirect_add(const hlpy_redirect *redirects, size_t n, int native) {
    int result = 0;
    pthread_mutex_lock(&hl_patch_lock);
    for (size_t s = 0; s < hl_n_sets; s++) {
        if (hl_sets[s].redirects == redirects) {
            pthread_mutex_unlock(&hl_patch_lock);
            return 0;
        }
    }
    if ((!hl_ready && hl__get_ready() < 0) || hl_n_sets == HL_MAX_SETS) {
        atomic_store(&hl_patch_failed, 1);
        pthread_mutex_unlock(&hl_patch_lock);
        return -1;
    }
    int kind = native ? HL_KIND_NATIVE : HL_KIND_GENERAL;
    hl_sets[hl_n_sets++] = (hl_redirect_set){redirects, n, kind};
    /* Every object must now be patched for the new set too. */
    hl_seen_by_kind[kind].n = 0;
    result = hl__patch_new_objects();
    pthread_mutex_unlock(&hl_patch_lock);
    return result;
}

void hlpy_redirect_counts(uint64_t *slots_out, int *failed_out) {
    *slots_out = atomic_load_explicit(&hl_slots_patched, memory_order_relaxed);
    *failed_out = atomic_load_explicit(&hl_patch_failed, memory_order_relaxed);
}
