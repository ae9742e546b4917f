/* standalone_driver.c - run a libFuzzer-style target without libFuzzer.
 *
 *   fuzz_capture [PATH...] [--seconds N] [--runs N] [--seed S]
 *
 * Each PATH is a corpus directory (every regular file in it, not
 * recursively) or a single input file (to replay a crash found by
 * libFuzzer). Every input is run once as is; then, until N seconds have
 * passed or N mutated inputs have run (default: 0 seconds, i.e. replay
 * only), inputs are made by applying one to eight random mutations to a
 * corpus entry: bit flips, byte and 32-bit word overwrites with boundary
 * values, truncation, insertion, deletion, duplication and splicing with
 * another entry. The mutations depend only on the seed (printed first), so
 * a failure is reproduced by running again with --seed. A failed check
 * aborts the process, so a normal exit means no crash.
 *
 * Test-only code: it uses POSIX <dirent.h> to list the corpus.
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT_SIZE (1u << 20)
#define MAX_CORPUS 4096

typedef struct input {
    uint8_t *data;
    size_t size;
} input;

static input corpus[MAX_CORPUS];
static size_t corpus_size;
static uint64_t rng_state;

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (p == NULL) {
        fprintf(stderr, "fuzz driver: out of memory\n");
        exit(2);
    }
    return p;
}

/* xorshift64*: small, fast, and fully determined by the seed. */
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Du;
}

static size_t rng_below(size_t n) {
    return n ? (size_t)(rng_next() % n) : 0;
}

/* Read one file into the corpus; files too large or unreadable are skipped. */
static void add_file(const char *path) {
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "fuzz driver: cannot open %s\n", path);
        exit(2);
    }
    buf = xmalloc(MAX_INPUT_SIZE);
    n = fread(buf, 1, MAX_INPUT_SIZE, f);
    fclose(f);
    if (corpus_size == MAX_CORPUS) {
        free(buf);
        return;
    }
    corpus[corpus_size].data = buf;
    corpus[corpus_size].size = n;
    corpus_size++;
}

/* Add path: a directory's regular files, or the file itself. */
static void add_path(const char *path) {
    struct stat st;
    DIR *dir;
    struct dirent *entry;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz driver: no such file or directory: %s\n", path);
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    dir = opendir(path);
    if (dir == NULL) {
        fprintf(stderr, "fuzz driver: cannot list %s\n", path);
        exit(2);
    }
    while ((entry = readdir(dir)) != NULL) {
        size_t len = strlen(path) + strlen(entry->d_name) + 2;
        char *full;

        if (entry->d_name[0] == '.')
            continue;
        full = xmalloc(len);
        snprintf(full, len, "%s/%s", path, entry->d_name);
        if (stat(full, &st) == 0 && S_ISREG(st.st_mode))
            add_file(full);
        free(full);
    }
    closedir(dir);
}

/* Apply one random mutation to buf (capacity MAX_INPUT_SIZE), updating *size. */
static void mutate(uint8_t *buf, size_t *size) {
    static const uint8_t byte_values[] = {0x00, 0x01, 0x7F, 0x80, 0xFF, 0x20, 0x10};
    static const uint32_t word_values[] = {
        0,    1,     2,      3,       4,          16,         20,         0x7F,
        0xFF, 0x100, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF};
    size_t n = *size;

    switch (rng_below(9)) {
    case 0: /* flip a bit */
        if (n)
            buf[rng_below(n)] ^= (uint8_t)(1u << rng_below(8));
        break;
    case 1: /* set a byte */
        if (n)
            buf[rng_below(n)] =
                rng_below(2) ? byte_values[rng_below(sizeof(byte_values))] : (uint8_t)rng_next();
        break;
    case 2: /* set a little-endian 32-bit word (counts and lengths) */
        if (n >= 4) {
            size_t at = rng_below(n - 3);
            uint32_t v = word_values[rng_below(sizeof(word_values) / sizeof(word_values[0]))];
            if (rng_below(4) == 0)
                v += (uint32_t)rng_below(64) - 32;
            buf[at] = (uint8_t)v;
            buf[at + 1] = (uint8_t)(v >> 8);
            buf[at + 2] = (uint8_t)(v >> 16);
            buf[at + 3] = (uint8_t)(v >> 24);
        }
        break;
    case 3: /* truncate */
        *size = rng_below(n + 1);
        break;
    case 4: /* insert random bytes */
    {
        size_t count = 1 + rng_below(16), at = rng_below(n + 1), i;
        if (n + count > MAX_INPUT_SIZE)
            break;
        memmove(buf + at + count, buf + at, n - at);
        for (i = 0; i < count; i++)
            buf[at + i] = (uint8_t)rng_next();
        *size = n + count;
        break;
    }
    case 5: /* delete a range */
        if (n) {
            size_t at = rng_below(n), count = 1 + rng_below(n - at < 32 ? n - at : 32);
            memmove(buf + at, buf + at + count, n - at - count);
            *size = n - count;
        }
        break;
    case 6: /* duplicate a range in place (repeats a section or record) */
        if (n) {
            size_t from = rng_below(n), count = 1 + rng_below(n - from < 64 ? n - from : 64);
            size_t at = rng_below(n), tail = n - at;
            if (n + count > MAX_INPUT_SIZE)
                break;
            memmove(buf + at + count, buf + at, tail);
            memmove(buf + at, buf + (from >= at ? from + count : from), count);
            *size = n + count;
        }
        break;
    case 7: /* overwrite a range with a copy of another range */
        if (n >= 2) {
            size_t from = rng_below(n), to = rng_below(n);
            size_t count = 1 + rng_below(16);
            if (count > n - from)
                count = n - from;
            if (count > n - to)
                count = n - to;
            memmove(buf + to, buf + from, count);
        }
        break;
    default: /* splice: our prefix, another entry's suffix */
        if (corpus_size) {
            const input *other = &corpus[rng_below(corpus_size)];
            size_t keep = rng_below(n + 1), from = rng_below(other->size + 1);
            size_t count = other->size - from;
            if (keep + count > MAX_INPUT_SIZE)
                count = MAX_INPUT_SIZE - keep;
            memcpy(buf + keep, other->data + from, count);
            *size = keep + count;
        }
        break;
    }
}

/* Run the target on an exact-size copy so that ASan sees any overread. */
static void run_one(const uint8_t *data, size_t size) {
    uint8_t *copy = xmalloc(size);
    if (size)
        memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    free(copy);
}

int main(int argc, char **argv) {
    unsigned long long seconds = 0, max_runs = 0, runs = 0;
    uint64_t seed = (uint64_t)time(NULL);
    uint8_t *buf;
    time_t start;
    size_t i;
    int a;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--seconds") == 0 && a + 1 < argc)
            seconds = strtoull(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--runs") == 0 && a + 1 < argc)
            max_runs = strtoull(argv[++a], NULL, 10);
        else if (strcmp(argv[a], "--seed") == 0 && a + 1 < argc)
            seed = strtoull(argv[++a], NULL, 10);
        else if (argv[a][0] == '-') {
            fprintf(stderr, "usage: %s [PATH...] [--seconds N] [--runs N] [--seed S]\n", argv[0]);
            return 2;
        } else
            add_path(argv[a]);
    }
    fprintf(stderr, "fuzz_capture: seed %llu, %zu corpus files\n", (unsigned long long)seed,
            corpus_size);
    rng_state = seed * 0x9E3779B97F4A7C15u + 1; /* never zero for xorshift */
    if (rng_state == 0)
        rng_state = 1;

    run_one(NULL, 0);
    runs++;
    for (i = 0; i < corpus_size; i++, runs++)
        run_one(corpus[i].data, corpus[i].size);

    buf = xmalloc(MAX_INPUT_SIZE);
    start = time(NULL);
    while ((seconds > 0 || max_runs > 0) && corpus_size > 0) {
        const input *base = &corpus[rng_below(corpus_size)];
        size_t size = base->size, k, n_mutations = 1 + rng_below(8);

        if ((runs & 255) == 0 && seconds > 0 && difftime(time(NULL), start) >= (double)seconds)
            break;
        if (max_runs > 0 && runs >= max_runs)
            break;
        memcpy(buf, base->data, size);
        for (k = 0; k < n_mutations; k++)
            mutate(buf, &size);
        run_one(buf, size);
        runs++;
    }
    free(buf);
    for (i = 0; i < corpus_size; i++)
        free(corpus[i].data);
    printf("fuzz_capture: %llu inputs, 0 crashes\n", runs);
    return 0;
}
