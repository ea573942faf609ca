/* normalize.c — SentencePiece's "identity" normalizer (normalizer.cc of libsentencepiece
 * 0.1.x) with escape_whitespaces on and its two whitespace flags as the model says:
 * remove_extra_whitespaces drops leading/trailing spaces and collapses runs of spaces to
 * one; add_dummy_prefix puts a U+2581 in front.  Each space is written as U+2581, and every
 * byte that does not start a valid UTF-8 character becomes U+FFFD (one per byte, as
 * SentencePiece does).  Only ' ' is whitespace here: tabs and newlines pass through. */
#include "backends.h"
#include "utf8.h"

#include <string.h>

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
        size_t n = utf8_char_length(s + at, len - at, NULL);
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
