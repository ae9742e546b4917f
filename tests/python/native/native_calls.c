/* native_calls.c - a library that allocates with libc directly, as pandas,
 * Pillow or a C++ extension does, for the tests of native tracing
 * (src/ext/native_hooks.c). Loaded with ctypes (see __init__.py); each
 * function does one thing and returns what libc returned.
 *
 *   nc_malloc(size), nc_calloc(count, size), nc_realloc(ptr, size),
 *   nc_free(ptr), nc_posix_memalign(alignment, size) (NULL on failure),
 *   nc_aligned_alloc(alignment, size), nc_memalign(alignment, size),
 *   nc_valloc(size), nc_pvalloc(size)
 *   nc_mmap_anonymous(size), nc_mmap_file(fd, size), nc_munmap(ptr, size),
 *   nc_mremap(ptr, old_size, new_size) (may move)
 *   nc_malloc_in_thread(size): nc_malloc on a new pthread that Python does
 *       not know; returns the block.
 *   nc_touch(ptr, size): write every page (so that RSS counts them).
 *   nc_loop(n, size): n rounds of malloc(size), touch one byte, free; the
 *       hot loop of an allocation-heavy C library (bench/native_cost.py).
 *   nc_register_fork_handlers(): pthread_atfork handlers that malloc and
 *       free, as some libraries' do (OpenBLAS frees in its prepare handler).
 *       Registered before heaplens's, they run after its prepare handler,
 *       while heaplens holds its locks for the fork.
 *   nc_churn_start(n, size): n pthreads (Python does not know them) loop
 *       malloc, realloc, mmap/munmap and free until nc_churn_stop(), which
 *       joins them and returns how many blocks they allocated.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

void *nc_malloc(size_t size) {
    return malloc(size);
}

void *nc_calloc(size_t count, size_t size) {
    return calloc(count, size);
}

void *nc_realloc(void *ptr, size_t size) {
    return realloc(ptr, size);
}

void nc_free(void *ptr) {
    free(ptr);
}

void *nc_posix_memalign(size_t alignment, size_t size) {
    void *ptr = NULL;
    return posix_memalign(&ptr, alignment, size) == 0 ? ptr : NULL;
}

void *nc_aligned_alloc(size_t alignment, size_t size) {
    return aligned_alloc(alignment, size);
}

void *nc_memalign(size_t alignment, size_t size) {
    return memalign(alignment, size);
}

void *nc_valloc(size_t size) {
    return valloc(size);
}

void *nc_pvalloc(size_t size) {
    return pvalloc(size);
}

void *nc_mmap_anonymous(size_t size) {
    void *ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return ptr == MAP_FAILED ? NULL : ptr;
}

void *nc_mmap_file(int fd, size_t size) {
    void *ptr = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    return ptr == MAP_FAILED ? NULL : ptr;
}

int nc_munmap(void *ptr, size_t size) {
    return munmap(ptr, size);
}

void *nc_mremap(void *ptr, size_t old_size, size_t new_size) {
    void *moved = mremap(ptr, old_size, new_size, MREMAP_MAYMOVE);
    return moved == MAP_FAILED ? NULL : moved;
}

typedef struct request {
    size_t size;
    void *result;
} request;

static void *malloc_thread(void *arg) {
    request *r = arg;
    r->result = nc_malloc(r->size);
    return NULL;
}

void *nc_malloc_in_thread(size_t size) {
    request r = {size, NULL};
    pthread_t thread;
    if (pthread_create(&thread, NULL, malloc_thread, &r) != 0)
        return NULL;
    pthread_join(thread, NULL);
    return r.result;
}

void nc_touch(void *ptr, size_t size) {
    memset(ptr, 1, size);
}

#define MAX_CHURN 16
static atomic_int churn_stop;
static _Atomic uint64_t churn_count;
static pthread_t churn_threads[MAX_CHURN];
static int churn_n;
static size_t churn_size;

static void *churn(void *arg) {
    (void)arg;
    while (!atomic_load(&churn_stop)) {
        void *a = malloc(churn_size);
        void *b = calloc(4, churn_size);
        a = realloc(a, churn_size * 3);
        void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m != MAP_FAILED)
            munmap(m, 65536);
        free(b);
        free(a);
        atomic_fetch_add(&churn_count, 3);
    }
    return NULL;
}

int nc_churn_start(int n, size_t size) {
    if (n > MAX_CHURN)
        n = MAX_CHURN;
    atomic_store(&churn_stop, 0);
    atomic_store(&churn_count, 0);
    churn_size = size;
    for (churn_n = 0; churn_n < n; churn_n++) {
        if (pthread_create(&churn_threads[churn_n], NULL, churn, NULL) != 0)
            return -1;
    }
    return 0;
}

uint64_t nc_churn_stop(void) {
    atomic_store(&churn_stop, 1);
    for (int i = 0; i < churn_n; i++)
        pthread_join(churn_threads[i], NULL);
    churn_n = 0;
    return atomic_load(&churn_count);
}

static void *fork_scratch;

static void fork_prepare(void) {
    fork_scratch = malloc(4096);
    free(fork_scratch);
    fork_scratch = malloc(100);
}

static void fork_after(void) {
    free(fork_scratch);
    fork_scratch = NULL;
}

int nc_register_fork_handlers(void) {
    return pthread_atfork(fork_prepare, fork_after, fork_after);
}

uint64_t nc_loop(uint64_t n, size_t size) {
    uint64_t sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        char *p = malloc(size);
        if (p == NULL)
            continue;
        p[0] = (char)i;
        sum += (unsigned char)p[0];
        free(p);
    }
    return sum;
}
