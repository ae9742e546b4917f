/* Unit tests of got_patch.c: a libc function called by this executable is
 * redirected, patching twice rewrites nothing more, an unknown name patches
 * nothing, skipped objects stay as they were, and patching the real address
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
    long patched = hl_got_patch(&hook, 1, NULL, 0);
    ASSERT_GE(patched, 1);
    ASSERT_EQ((long)hook.n_patched, patched);
    ASSERT_EQ(call_getppid(), 424242);

    /* Again: every slot already holds the replacement. */
    ASSERT_EQ(hl_got_patch(&hook, 1, NULL, 0), 0);
    ASSERT_EQ(hook.n_patched, 0UL);

    /* Back to libc's function. */
    hl_got_hook undo = {"getppid", dlsym(RTLD_DEFAULT, "getppid"), 0};
    ASSERT_TRUE(undo.replacement != NULL);
    ASSERT_GE(hl_got_patch(&undo, 1, NULL, 0), 1);
    ASSERT_EQ(call_getppid(), real);
}

static void test_unknown_symbol_patches_nothing(void) {
    hl_got_hook hook = {"heaplens_no_such_function", (void *)fake_getppid, 0};
    ASSERT_EQ(hl_got_patch(&hook, 1, NULL, 0), 0);
    ASSERT_EQ(hook.n_patched, 0UL);
}

/* This executable's name as the loader lists it is "" (the main program),
 * so it cannot be skipped by name; skipping every library must still patch
 * it, and skipping a name no object has changes nothing. */
static void test_skipped_objects_stay(void) {
    pid_t real = call_getppid();
    const char *skip[] = {".so", ".so.1", ".so.2", ".so.6"};
    hl_got_hook hook = {"getppid", (void *)fake_getppid, 0};
    ASSERT_GE(hl_got_patch(&hook, 1, skip, 4), 1);
    ASSERT_EQ(call_getppid(), 424242);
    hl_got_hook undo = {"getppid", dlsym(RTLD_DEFAULT, "getppid"), 0};
    ASSERT_GE(hl_got_patch(&undo, 1, skip, 4), 1);
    ASSERT_EQ(call_getppid(), real);
}

int main(void) {
    RUN_TEST(test_redirects_and_restores);
    RUN_TEST(test_unknown_symbol_patches_nothing);
    RUN_TEST(test_skipped_objects_stay);
    TEST_SUMMARY("test_got_patch");
}
