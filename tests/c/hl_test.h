/* hl_test.h - assertion macros for the core's C unit tests.
 *
 * Each ASSERT_* prints both operands, the expression and the line, then
 * aborts, so a failure under a sanitizer still shows what was compared.
 * A test file defines test functions and lists them with RUN_TEST in main().
 */
#ifndef HL_TEST_H
#define HL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HL__FAIL(fmt, ...)                                                                         \
    do {                                                                                           \
        fprintf(stderr, "%s:%d: assertion failed: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);    \
        abort();                                                                                   \
    } while (0)

#define HL__ASSERT_INT(a, op, b)                                                                   \
    do {                                                                                           \
        int64_t hl__a = (int64_t)(a);                                                              \
        int64_t hl__b = (int64_t)(b);                                                              \
        if (!(hl__a op hl__b))                                                                     \
            HL__FAIL("%s %s %s (%" PRId64 " vs %" PRId64 ")", #a, #op, #b, hl__a, hl__b);          \
    } while (0)

#define ASSERT_EQ(a, b) HL__ASSERT_INT(a, ==, b)
#define ASSERT_NE(a, b) HL__ASSERT_INT(a, !=, b)
#define ASSERT_LT(a, b) HL__ASSERT_INT(a, <, b)
#define ASSERT_LE(a, b) HL__ASSERT_INT(a, <=, b)
#define ASSERT_GT(a, b) HL__ASSERT_INT(a, >, b)
#define ASSERT_GE(a, b) HL__ASSERT_INT(a, >=, b)

#define ASSERT_U64_EQ(a, b)                                                                        \
    do {                                                                                           \
        uint64_t hl__a = (uint64_t)(a);                                                            \
        uint64_t hl__b = (uint64_t)(b);                                                            \
        if (hl__a != hl__b)                                                                        \
            HL__FAIL("%s == %s (%" PRIu64 " vs %" PRIu64 ")", #a, #b, hl__a, hl__b);               \
    } while (0)

#define ASSERT_TRUE(x)                                                                             \
    do {                                                                                           \
        if (!(x))                                                                                  \
            HL__FAIL("%s is false%s", #x, "");                                                     \
    } while (0)

#define ASSERT_NULL(p)                                                                             \
    do {                                                                                           \
        const void *hl__p = (const void *)(p);                                                     \
        if (hl__p != NULL)                                                                         \
            HL__FAIL("%s is %p, not NULL", #p, hl__p);                                             \
    } while (0)

#define ASSERT_NOT_NULL(p)                                                                         \
    do {                                                                                           \
        if ((const void *)(p) == NULL)                                                             \
            HL__FAIL("%s is NULL%s", #p, "");                                                      \
    } while (0)

#define ASSERT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *hl__a = (a);                                                                   \
        const char *hl__b = (b);                                                                   \
        if (strcmp(hl__a, hl__b) != 0)                                                             \
            HL__FAIL("%s == %s (\"%s\" vs \"%s\")", #a, #b, hl__a, hl__b);                         \
    } while (0)

#define RUN_TEST(fn)                                                                               \
    do {                                                                                           \
        fprintf(stderr, "  %-50s", #fn);                                                           \
        fn();                                                                                      \
        fprintf(stderr, " ok\n");                                                                  \
        hl__tests_run++;                                                                           \
    } while (0)

static int hl__tests_run;

#define TEST_SUMMARY(name)                                                                         \
    do {                                                                                           \
        fprintf(stderr, "%s: %d passed, 0 failed\n", (name), hl__tests_run);                       \
        return 0;                                                                                  \
    } while (0)

#endif /* HL_TEST_H */
