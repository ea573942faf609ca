/* errors.c — formatting of one-line error messages into caller buffers. Text from files or
 * the command line (a GGUF key, a path) may hold control characters; they become '?' so a
 * message is always one printable line. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>

int fail(char *err, size_t err_size, const char *fmt, ...) {
    if (err && err_size > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_size, fmt, ap);
        va_end(ap);
        for (char *p = err; *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
    }
    return -1;
}
