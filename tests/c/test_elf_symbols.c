/* Unit tests of elf_symbols.c: this test's own static and exported
 * functions are named from its file on disk, an address past every function
 * is not, and truncated, bit-flipped and non-ELF files give no table and no
 * read out of bounds (the ASan build checks that). */
#define _GNU_SOURCE
#include "elf_symbols.h"

#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hl_test.h"

static HL_NOINLINE int static_function_to_find(int x) {
    return x * 3 + 1;
}

HL_NOINLINE int exported_function_to_find(int x);
HL_NOINLINE int exported_function_to_find(int x) {
    return x * 5 + 2;
}

/* The load bias of this executable (0 when it is not position independent). */
static int note_main_bias(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    if (info->dlpi_name == NULL || info->dlpi_name[0] == '\0') {
        *(uintptr_t *)data = (uintptr_t)info->dlpi_addr;
        return 1;
    }
    return 0;
}

static uintptr_t main_bias(void) {
    uintptr_t bias = 0;
    dl_iterate_phdr(note_main_bias, &bias);
    return bias;
}

static char *read_file(const char *path, size_t *size_out) {
    FILE *f = fopen(path, "rb");
    ASSERT_NOT_NULL(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *data = malloc((size_t)size);
    ASSERT_NOT_NULL(data);
    ASSERT_EQ((long)fread(data, 1, (size_t)size, f), size);
    fclose(f);
    *size_out = (size_t)size;
    return data;
}

static void write_file(const char *path, const char *data, size_t size) {
    FILE *f = fopen(path, "wb");
    ASSERT_NOT_NULL(f);
    ASSERT_EQ(fwrite(data, 1, size, f), size);
    fclose(f);
}

static void test_names_this_programs_functions(void) {
    ASSERT_EQ(static_function_to_find(1) + exported_function_to_find(1), 11);
    hl_elf_symbols *symbols = hl_elf_symbols_open("/proc/self/exe");
    ASSERT_NOT_NULL(symbols);
    ASSERT_GT(hl_elf_symbols_count(symbols), 10);
    uintptr_t bias = main_bias();
    uint64_t offset = 99;
    const char *name = hl_elf_symbols_find(
        symbols, (uint64_t)((uintptr_t)static_function_to_find - bias + 2), &offset);
    ASSERT_NOT_NULL(name);
    ASSERT_STR_EQ(name, "static_function_to_find");
    ASSERT_EQ(offset, 2);
    name = hl_elf_symbols_find(symbols, (uint64_t)((uintptr_t)exported_function_to_find - bias),
                               &offset);
    ASSERT_NOT_NULL(name);
    ASSERT_STR_EQ(name, "exported_function_to_find");
    ASSERT_EQ(offset, 0);
    /* Below every function, and far past the last one (which has a size). */
    ASSERT_NULL(hl_elf_symbols_find(symbols, 1, &offset));
    ASSERT_NULL(hl_elf_symbols_find(symbols, UINT64_MAX / 2, &offset));
    char build_id[128];
    ASSERT_EQ(hl_elf_symbols_build_id(symbols, build_id, sizeof build_id), 0);
    ASSERT_GE(strlen(build_id), 16);
    ASSERT_EQ(hl_elf_symbols_build_id(symbols, build_id, 4), -1);
    hl_elf_symbols_close(symbols);
}

static void test_not_elf_and_missing(void) {
    errno = 0;
    ASSERT_NULL(hl_elf_symbols_open("/nonexistent/heaplens-no-such-file"));
    ASSERT_EQ(errno, ENOENT);
    char path[] = "/tmp/hl_elf_test_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    write_file(path, "not an ELF file at all, just text", 33);
    errno = 0;
    ASSERT_NULL(hl_elf_symbols_open(path));
    ASSERT_EQ(errno, EINVAL);
    write_file(path, "", 0);
    ASSERT_NULL(hl_elf_symbols_open(path));
    ASSERT_NULL(hl_elf_symbols_open("/tmp")); /* a directory */
    unlink(path);
    hl_elf_symbols_close(NULL);
}

/* Every prefix length of a few hundred, and random bytes flipped in the
 * headers and tables: whatever comes back, looking up works and nothing is
 * read out of bounds. */
static void test_truncated_and_corrupt_files(void) {
    size_t size;
    char *data = read_file("/proc/self/exe", &size);
    char path[] = "/tmp/hl_elf_test_XXXXXX";
    int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    uint64_t offset;
    for (size_t cut = 0; cut < size; cut += size / 97 + 1) {
        write_file(path, data, cut);
        hl_elf_symbols *symbols = hl_elf_symbols_open(path);
        if (symbols != NULL) {
            (void)hl_elf_symbols_find(symbols, 0x1000, &offset);
            hl_elf_symbols_close(symbols);
        }
    }
    char *copy = malloc(size);
    ASSERT_NOT_NULL(copy);
    srand(12345);
    for (int round = 0; round < 300; round++) {
        memcpy(copy, data, size);
        for (int k = 0; k < 16; k++) {
            size_t at = (size_t)rand() % size;
            if (k < 8 && size > 4096)
                at = (size_t)rand() % 64; /* the header, often */
            copy[at] = (char)rand();
        }
        write_file(path, copy, size);
        hl_elf_symbols *symbols = hl_elf_symbols_open(path);
        if (symbols != NULL) {
            for (uint64_t a = 0; a < 0x100000; a += 0x777)
                (void)hl_elf_symbols_find(symbols, a, &offset);
            hl_elf_symbols_close(symbols);
        }
    }
    free(copy);
    free(data);
    unlink(path);
}

int main(void) {
    RUN_TEST(test_names_this_programs_functions);
    RUN_TEST(test_not_elf_and_missing);
    RUN_TEST(test_truncated_and_corrupt_files);
    TEST_SUMMARY("test_elf_symbols");
}
