/* errors.c — formatting of one-line error messages into caller buffers. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

int fail(char *err, size_t err_size, const char *fmt, ...) {
    if (err && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
    }
    return -1;
}
