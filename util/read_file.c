/* read_file.c — read_whole_file() (see read_file.h). */
#include "read_file.h"

#include "errors.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *read_whole_file(const char *path, const char *what, size_t *size, char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, err_size, "cannot open %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap + 1);
    errno = 0;
    while (text) {
        n += fread(text + n, 1, cap - n, f);
        if (n < cap) break;
        char *grown = realloc(text, cap * 2 + 1);
        if (!grown) { free(text); text = NULL; break; }
        text = grown;
        cap *= 2;
    }
    int read_error = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (!text) { fail(err, err_size, "out of memory reading %s", path); return NULL; }
    if (read_error) {
        fail(err, err_size, "cannot read %s %s: %s", what, path, strerror(read_error));
        free(text);
        return NULL;
    }
    text[n] = '\0';
    if (size) *size = n;
    return text;
}
