/* Unit tests of got_patch.c: a libc function called by this executable is
 * redirected, patching twice rewrites nothing more, an unknown name patches
 * nothing, the filter chooses the objects, and patching the real address
 * back undoes it. */
#define _GNU_SOURCE
#include "got_patch.h"

#include <dlfcn.h>
#include <unistd.h>

#include "hl_test.h"

static pid_t fake_getppid(void) {
    return 424242;
}

/* Not inlined: the call must go through this executable's PLT or GOT. */
static HL_NOINLINE pid_t call_getppid(void) {
    return getppid();
}

static void test_redirects_and_restores(void) {
    pid_t real = call_getppid();
    ASSERT_NE(real, 424242);
    hl_got_hook hook = {"getppid", (void *)fake_getppid, 0};
    long patched = hl_got_patch(&hook, 1, NULL, NULL);
    ASSERT_GE(patched, 1);
    ASSERT_EQ((long)hook.n_patched, patched);
    ASSERT_EQ(call_getppid(), 424242);

    /* Again: every slot already holds the replacement. */
    ASSERT_EQ(hl_got_patch(&hook, 1, NULL, NULL), 0);
    ASSERT_EQ(hook.n_patched, 0UL);

    /* Back to libc's function. */
    hl_got_hook undo = {"getppid", dlsym(RTLD_DEFAULT, "getppid"), 0};
    ASSERT_TRUE(undo.replacement != NULL);
    ASSERT_GE(hl_got_patch(&undo, 1, NULL, NULL), 1);
    ASSERT_EQ(call_getppid(), real);
}

static void test_unknown_symbol_patches_nothing(void) {
    hl_got_hook hook = {"heaplens_no_such_function", (void *)fake_getppid, 0};
    ASSERT_EQ(hl_got_patch(&hook, 1, NULL, NULL), 0);
    ASSERT_EQ(hook.n_patched, 0UL);
}

/* Only the objects the filter accepts are patched: none, then only the
 * main program (whose path the loader gives as ""), with `arg` passed on. */
static int accept_main_program(const char *path, uintptr_t base, void *arg) {
    (void)base;
    ++*(int *)arg;
    return path[0] == '\0';
}

static int accept_nothing(const char *path, uintptr_t base, void *arg) {
    (void)path;
    (void)base;
    (void)arg;
    return 0;
}

static void test_the_filter_chooses_objects(void) {
    pid_t real = call_getppid();
    hl_got_hook hook = {"getppid", (void *)fake_getppid, 0};
    ASSERT_EQ(hl_got_patch(&hook, 1, accept_nothing, NULL), 0);
    ASSERT_EQ(call_getppid(), real);
    int asked = 0;
    ASSERT_GE(hl_got_patch(&hook, 1, accept_main_program, &asked), 1);
    ASSERT_GE(asked, 2); /* the program and at least libc */
    ASSERT_EQ(call_getppid(), 424242);
    hl_got_hook undo = {"getppid", dlsym(RTLD_DEFAULT, "getppid"), 0};
    ASSERT_GE(hl_got_patch(&undo, 1, NULL, NULL), 1);
    ASSERT_EQ(call_getppid(), real);
}

int main(void) {
    RUN_TEST(test_redirects_and_restores);
    RUN_TEST(test_unknown_symbol_patches_nothing);
    RUN_TEST(test_the_filter_chooses_objects);
    TEST_SUMMARY("test_got_patch");
}
