/* read_file.h — a whole file read into memory, the one way every part of the project does it. */
#ifndef ROPEWALK_READ_FILE_H
#define ROPEWALK_READ_FILE_H

#include <stddef.h>

/* The bytes of path, NUL-terminated (the caller frees them), their count in *size (if not
 * NULL); NULL with a message naming the file, "cannot open WHAT PATH: reason", when it
 * cannot be opened or read (what: "text file", "file", ...). */
char *read_whole_file(const char *path, const char *what, size_t *size, char *err, size_t err_size);

#endif
