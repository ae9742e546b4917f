/* hl_error.c - see hl_error.h. */
#include "hl_error.h"

#include <stdarg.h>
#include <stdio.h>

int hl_error_format(char *errbuf, size_t errbuf_size, const char *fmt, ...) {
    va_list ap;

    if (errbuf == NULL || errbuf_size == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(errbuf, errbuf_size, fmt, ap);
    va_end(ap);
    return -1;
}
