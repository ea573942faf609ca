/* errors.h — the one way modules report a failure: a one-line message written into a
 * caller-owned buffer, and a non-zero return.  No module prints or exits on its own. */
#ifndef ROPEWALK_ERRORS_H
#define ROPEWALK_ERRORS_H

#include <stddef.h>

#define ERR_LEN 256

/* Formats a message into err (if err is non-NULL) and returns -1, so that a failing
 * function can end with `return fail(err, n, "...", ...);`. */
int fail(char *err, size_t err_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
