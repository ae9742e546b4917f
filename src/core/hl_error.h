/* hl_error.h - error messages of the core, for callers that pass a buffer.
 *
 * Core functions that can fail for a reason a user should read (a corrupt
 * file, a broken invariant) take `char *errbuf, size_t errbuf_size` and fill
 * it with one sentence; the binding turns that into an exception.
 */
#ifndef HL_ERROR_H
#define HL_ERROR_H

#include <stddef.h>

#include "hl_common.h"

/* Format one sentence into errbuf (nothing when errbuf is NULL or
 * errbuf_size is 0; always NUL-terminated otherwise). Always returns -1, so a
 * caller can write `return hl_error_format(...)`. */
int hl_error_format(char *errbuf, size_t errbuf_size, const char *fmt, ...) HL_PRINTF_LIKE(3, 4);

#endif /* HL_ERROR_H */
