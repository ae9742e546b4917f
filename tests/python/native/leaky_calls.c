/* leaky_calls.c - a library whose functions leak, or do not, memory that no
 * Python object holds, for the tests of the native leak hunt
 * (heaplens.find_leaks(native=True), the pytest plugin's --heaplens-native).
 * Loaded with ctypes (see __init__.py).
 *
 *   lc_leak(size): malloc(size) and forget it (kept on a private list, so
 *       that lc_release_leaked() can give it back; no Python object holds it).
 *   lc_leak_mmap(size): the same with an anonymous mmap.
 *   lc_leak_every_other(size): lc_leak(size) on every second call (the 2nd,
 *       4th ...), nothing on the others: it grows, but not in every call.
 *   lc_churn(size): malloc(size), touch it, free it: no leak.
 *   lc_cache_once(size): malloc(size) on the first call only and keep it for
 *       ever, as a library's lazily made table: no growth after that.
 *   lc_release_leaked(): free what lc_leak and lc_leak_mmap kept; returns
 *       how many blocks it freed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

typedef struct leaked {
    struct leaked *next;
    size_t mapped; /* 0: malloc'd; else the length of the mapping */
} leaked;

static leaked *leaked_list;
static void *cached;

static void keep(leaked *block, size_t mapped) {
    block->next = leaked_list;
    block->mapped = mapped;
    leaked_list = block;
}

int lc_leak(size_t size) {
    if (size < sizeof(leaked))
        size = sizeof(leaked);
    leaked *block = malloc(size);
    if (block == NULL)
        return -1;
    memset(block, 1, size);
    keep(block, 0);
    return 0;
}

int lc_leak_mmap(size_t size) {
    void *ptr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ptr == MAP_FAILED)
        return -1;
    keep(ptr, size);
    return 0;
}

int lc_leak_every_other(size_t size) {
    static unsigned long calls;
    return ++calls % 2 == 0 ? lc_leak(size) : 0;
}

int lc_churn(size_t size) {
    char *block = malloc(size);
    if (block == NULL)
        return -1;
    memset(block, 1, size);
    int first = block[0];
    free(block);
    return first;
}

int lc_cache_once(size_t size) {
    if (cached == NULL) {
        cached = malloc(size);
        if (cached == NULL)
            return -1;
        memset(cached, 1, size);
    }
    return 0;
}

int lc_release_leaked(void) {
    int n = 0;
    while (leaked_list != NULL) {
        leaked *block = leaked_list;
        leaked_list = block->next;
        if (block->mapped)
            munmap(block, block->mapped);
        else
            free(block);
        n++;
    }
    return n;
}
