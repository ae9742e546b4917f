/* track_api.c - redirect PyTraceMalloc_Track/Untrack to the tracer (see
 * track_api.h). */
#define _GNU_SOURCE
#include "track_api.h"

#include <Python.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>

#include "got_patch.h"
#include "hooks.h"
#include "tracer.h"

typedef int (*hl__track_fn)(unsigned int, uintptr_t, size_t);
typedef int (*hl__untrack_fn)(unsigned int, uintptr_t);
typedef void *(*hl__dlopen_fn)(const char *, int);

/* CPython's functions and the loader's dlopen, as this object links them
 * (its own GOT is never patched). Written once by the first install, under
 * patch_lock, before any slot points at a wrapper; read by the wrappers. */
static hl__track_fn hl_real_track;
static hl__untrack_fn hl_real_untrack;
static hl__dlopen_fn hl_real_dlopen;

/* Protects everything below: one patch pass at a time. */
static pthread_mutex_t hl_patch_lock = PTHREAD_MUTEX_INITIALIZER;
static int hl_installed;
static uintptr_t hl_own_base; /* this object's load address: never patched */
/* The objects already patched, by load address, so that a dlopen patches
 * only what it added. When the loader unloaded something since (its `subs`
 * count moved), an address may now be another object's: forget them all.
 * When full, every object is looked at again (patching what is patched
 * already rewrites nothing). */
#define HL_SEEN_MAX 4096
static uintptr_t hl_seen[HL_SEEN_MAX];
static size_t hl_n_seen;
static unsigned long long hl_seen_subs;

static _Atomic uint64_t hl_slots_patched;
static _Atomic uint64_t hl_objects_seen;
static atomic_int hl_patch_failed;

static int hlpy_track(unsigned int domain, uintptr_t ptr, size_t size) {
    int result = hl_real_track(domain, ptr, size); /* the stdlib's tracemalloc, if tracing */
    if (!hlpy_tracer_is_tracing())
        return result;
    int previous = hlpy_hooks_suspend(); /* heaplens's own work is never recorded */
    if (!previous)
        hlpy_tracer_tracked_alloc((uint32_t)domain, ptr, size);
    hlpy_hooks_resume(previous);
    return 0;
}

static int hlpy_untrack(unsigned int domain, uintptr_t ptr) {
    int found = hlpy_tracer_tracked_free((uint32_t)domain, ptr);
    int result = hl_real_untrack(domain, ptr);
    return found ? 0 : result;
}

/* The loader's count of objects unloaded so far. */
static int hl__read_subs(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    *(unsigned long long *)data = info->dlpi_subs;
    return 1; /* the first object tells */
}

/* dl_iterate_phdr's callback: the load address of the object that holds
 * the code address *data, stored back in *data; 1 when found. */
static int hl__find_own_object(struct dl_phdr_info *info, size_t size, void *data) {
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

/* got_patch's filter: every object but this one and those seen already. */
static int hl__not_seen(const char *path, uintptr_t base, void *arg) {
    (void)path;
    (void)arg;
    if (base == hl_own_base)
        return 0;
    for (size_t i = 0; i < hl_n_seen; i++) {
        if (hl_seen[i] == base)
            return 0;
    }
    if (hl_n_seen < HL_SEEN_MAX)
        hl_seen[hl_n_seen++] = base;
    atomic_fetch_add_explicit(&hl_objects_seen, 1, memory_order_relaxed);
    return 1;
}

static void *hlpy_dlopen(const char *file, int mode);

/* Patch the objects not patched yet. Needs patch_lock. */
static int hl__patch_new_objects(void) {
    unsigned long long subs = 0;
    dl_iterate_phdr(hl__read_subs, &subs);
    if (subs != hl_seen_subs) {
        hl_n_seen = 0;
        hl_seen_subs = subs;
    }
    hl_got_hook hooks[] = {
        {"PyTraceMalloc_Track", (void *)hlpy_track, 0},
        {"PyTraceMalloc_Untrack", (void *)hlpy_untrack, 0},
        {"dlopen", (void *)hlpy_dlopen, 0},
    };
    long patched = hl_got_patch(hooks, sizeof hooks / sizeof hooks[0], hl__not_seen, NULL);
    if (patched < 0) {
        atomic_store(&hl_patch_failed, 1);
        return -1;
    }
    atomic_fetch_add_explicit(&hl_slots_patched, (uint64_t)patched, memory_order_relaxed);
    return 0;
}

static void *hlpy_dlopen(const char *file, int mode) {
    void *handle = hl_real_dlopen(file, mode);
    if (handle != NULL) {
        pthread_mutex_lock(&hl_patch_lock);
        if (hl__patch_new_objects() < 0) {
            /* Counted in hl_patch_failed; the load itself succeeded. */
        }
        pthread_mutex_unlock(&hl_patch_lock);
    }
    return handle;
}

/* A forked child has only the forking thread: a patch_lock that another
 * thread of the parent held would stay held. */
static void hl__before_fork(void) {
    pthread_mutex_lock(&hl_patch_lock);
}

static void hl__after_fork(void) {
    pthread_mutex_unlock(&hl_patch_lock);
}

int hlpy_track_api_install(void) {
    int result = 0;
    pthread_mutex_lock(&hl_patch_lock);
    if (!hl_installed) {
        uintptr_t own = (uintptr_t)hlpy_track_api_install;
        if (dl_iterate_phdr(hl__find_own_object, &own) != 1) {
            pthread_mutex_unlock(&hl_patch_lock);
            atomic_store(&hl_patch_failed, 1);
            return -1;
        }
        hl_own_base = own;
        hl_real_track = PyTraceMalloc_Track;
        hl_real_untrack = PyTraceMalloc_Untrack;
        hl_real_dlopen = dlopen;
        hl_installed = 1;
        if (pthread_atfork(hl__before_fork, hl__after_fork, hl__after_fork) != 0) {
            /* No handlers: a fork while another thread patches is not covered. */
        }
        result = hl__patch_new_objects();
    }
    pthread_mutex_unlock(&hl_patch_lock);
    return result;
}

void hlpy_track_api_counts_get(hlpy_track_api_counts *out) {
    out->slots = atomic_load_explicit(&hl_slots_patched, memory_order_relaxed);
    out->objects = atomic_load_explicit(&hl_objects_seen, memory_order_relaxed);
    out->failed = atomic_load_explicit(&hl_patch_failed, memory_order_relaxed);
}
