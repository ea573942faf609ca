/* utf8.h — reading one UTF-8 character: the strict rule (shortest form, no surrogates, at
 * most U+10FFFF) that SentencePiece and the byte-level BPE pre-tokenizer both apply. */
#ifndef ROPEWALK_UTF8_H
#define ROPEWALK_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Length (1-4) of the valid UTF-8 character at s (n > 0 bytes left), or 0 when the bytes
 * there do not start one; *code_point (if not NULL) gets its value. */
size_t utf8_char_length(const unsigned char *s, size_t n, uint32_t *code_point);

/* Length of the longest prefix of s[0..n) that does not end inside a character which the
 * bytes after it could still complete: the part of a stream that can be printed now. */
size_t utf8_complete_prefix(const unsigned char *s, size_t n);

#endif
