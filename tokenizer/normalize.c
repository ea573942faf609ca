/* normalize.c — SentencePiece's "identity" normalizer (normalizer.cc of libsentencepiece
 * 0.1.x) with escape_whitespaces on and its two whitespace flags as the model says:
 * remove_extra_whitespaces drops leading/trailing spaces and collapses runs of spaces to
 * one; add_dummy_prefix puts a U+2581 in front.  Each space is written as U+2581, and every
 * byte that does not start a valid UTF-8 character becomes U+FFFD (one per byte, as
 * SentencePiece does).  Only ' ' is whitespace here: tabs and newlines pass through. */
#include "backends.h"

#include <string.h>

static int is_trail(unsigned char c) { return (c & 0xC0) == 0x80; }

static int valid_code_point(unsigned long c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

/* Length of the valid UTF-8 character at s (n bytes left), or 0 when it is not valid
 * (SentencePiece's DecodeUTF8: shortest form, no surrogates, at most U+10FFFF). */
static size_t utf8_char_length(const unsigned char *s, size_t n) {
    if (s[0] < 0x80) return 1;
    if (n >= 2 && (s[0] & 0xE0) == 0xC0) {
        unsigned long c = ((s[0] & 0x1Ful) << 6) | (s[1] & 0x3Ful);
        return is_trail(s[1]) && c >= 0x80 && valid_code_point(c) ? 2 : 0;
    }
    if (n >= 3 && (s[0] & 0xF0) == 0xE0) {
        unsigned long c = ((s[0] & 0x0Ful) << 12) | ((s[1] & 0x3Ful) << 6) | (s[2] & 0x3Ful);
        return is_trail(s[1]) && is_trail(s[2]) && c >= 0x800 && valid_code_point(c) ? 3 : 0;
    }
    if (n >= 4 && (s[0] & 0xF8) == 0xF0) {
        unsigned long c = ((s[0] & 0x07ul) << 18) | ((s[1] & 0x3Ful) << 12) | ((s[2] & 0x3Ful) << 6) |
                          (s[3] & 0x3Ful);
        int trails = is_trail(s[1]) && is_trail(s[2]) && is_trail(s[3]);
        return trails && c >= 0x10000 && valid_code_point(c) ? 4 : 0;
    }
    return 0;
}

static const char SPACE_SYMBOL[] = "\xE2\x96\x81";   /* U+2581 */
static const char REPLACEMENT[] = "\xEF\xBF\xBD";    /* U+FFFD */

size_t spm_normalize(const char *text, size_t len, TokenizerNormalizer rules, char *out) {
    const unsigned char *s = (const unsigned char *)text;
    size_t at = 0, used = 0;
    if (rules.remove_extra_whitespaces)
        while (at < len && s[at] == ' ') at++; /* leading spaces */
    if (at == len) return 0; /* nothing left: not even the prefix */
    if (rules.add_space_prefix) memcpy(out, SPACE_SYMBOL, 3), used = 3;
    int prev_space = 1;      /* only read when runs of spaces are collapsed */
    while (at < len) {
        size_t n = utf8_char_length(s + at, len - at);
        if (n == 0) {
            memcpy(out + used, REPLACEMENT, 3), used += 3, prev_space = 0;
            at++;
        } else if (s[at] == ' ') {
            if (!(rules.remove_extra_whitespaces && prev_space))
                memcpy(out + used, SPACE_SYMBOL, 3), used += 3;
            prev_space = 1;
            at++;
        } else {
            memcpy(out + used, s + at, n), used += n, prev_space = 0;
            at += n;
        }
    }
    if (rules.remove_extra_whitespaces) /* trailing spaces */
        while (used >= 3 && memcmp(out + used - 3, SPACE_SYMBOL, 3) == 0) used -= 3;
    return used;
}
