/* hl_common.h - small compiler helpers shared by every core module.
 *
 * The core is plain C11 and never includes CPython's headers. It allocates with libc's
 * malloc/calloc/realloc/free, through the wrappers of hl_alloc.h (so that a
 * test build can make them fail): heaplens hooks Python's allocator domains,
 * never libc, so core code may run inside an allocator hook without
 * re-entering the tracer.
 */
#ifndef HL_COMMON_H
#define HL_COMMON_H

#if defined(__GNUC__) || defined(__clang__)
#define HL_WARN_UNUSED __attribute__((warn_unused_result))
#define HL_LIKELY(x) __builtin_expect(!!(x), 1)
#define HL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define HL_INLINE static inline __attribute__((always_inline))
#define HL_NOINLINE __attribute__((noinline))
#define HL_PRINTF_LIKE(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define HL_WARN_UNUSED
#define HL_LIKELY(x) (x)
#define HL_UNLIKELY(x) (x)
#define HL_INLINE static inline
#define HL_NOINLINE
#define HL_PRINTF_LIKE(fmt_index, first_arg)
#endif

#endif /* HL_COMMON_H */
