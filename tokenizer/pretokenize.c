/* pretokenize.c — Llama 3's pre-tokenizer regex (see pretokenize.h), written out as the
 * regex engine runs it: at each position the alternatives are tried in order and the
 * first that matches takes the longest run it can (leftmost-first, greedy, with the
 * backtracking the two whitespace alternatives need spelled out). */
#include "pretokenize.h"

#include "unicode_classes.h"
#include "utf8.h"

#include <stdint.h>
#include <string.h>

enum { END_OF_TEXT = 0xFFFFFFFFu, NOT_A_CHARACTER = 0xFFFFFFFEu };

typedef struct {
    const unsigned char *text;
    size_t len;
    int max_digits; /* \p{N}{1,max_digits} */
} Cursor;

/* The code point at byte offset at (END_OF_TEXT past the end, NOT_A_CHARACTER for a byte
 * that is not valid UTF-8) and its length in bytes. */
static uint32_t peek(const Cursor *c, size_t at, size_t *length) {
    uint32_t cp = END_OF_TEXT;
    *length = 0;
    if (at >= c->len) return cp;
    *length = utf8_char_length(c->text + at, c->len - at, &cp);
    if (*length == 0) *length = 1, cp = NOT_A_CHARACTER;
    return cp;
}

static int is_letter(uint32_t cp) { return cp < END_OF_TEXT - 1 && unicode_is_letter(cp); }
static int is_number(uint32_t cp) { return cp < END_OF_TEXT - 1 && unicode_is_number(cp); }
static int is_space(uint32_t cp) { return cp < END_OF_TEXT - 1 && unicode_is_whitespace(cp); }
static int is_newline(uint32_t cp) { return cp == '\r' || cp == '\n'; }
static int is_other(uint32_t cp) { /* [^\s\p{L}\p{N}] */
    return cp != END_OF_TEXT && !is_space(cp) && !is_letter(cp) && !is_number(cp);
}

/* ASCII case folding, plus U+017F LONG S, which Unicode folds to 's'. */
static uint32_t fold(uint32_t cp) {
    if (cp == 0x17F) return 's';
    return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
}

/* Bytes taken by (?i:'s|'t|'re|'ve|'m|'ll|'d) at `at` (which holds '\''), or 0. */
static size_t match_contraction(const Cursor *c, size_t at) {
    size_t n1, n2;
    uint32_t a = fold(peek(c, at + 1, &n1));
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 1 + n1;
    uint32_t b = fold(peek(c, at + 1 + n1, &n2));
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 1 + n1 + n2;
    return 0;
}

/* Offset just past the run of characters from `at` that satisfy `accept`, at most `most`. */
static size_t skip_run(const Cursor *c, size_t at, int (*accept)(uint32_t), int most) {
    size_t n;
    for (int taken = 0; taken < most && accept(peek(c, at, &n)); taken++) at += n;
    return at;
}

/* The whitespace alternatives \s*[\r\n]+ | \s+(?!\S) | \s+ at `at`; returns the end, or
 * `at` when there is no whitespace there. */
static size_t match_whitespace(const Cursor *c, size_t at) {
    size_t end = at, last_newline_end = 0, last_start = at, n;
    int count = 0;
    for (uint32_t cp; is_space(cp = peek(c, end, &n)); end += n, count++) {
        last_start = end;
        if (is_newline(cp)) last_newline_end = end + n;
    }
    if (last_newline_end) return last_newline_end;                       /* \s*[\r\n]+ */
    if (count > 1 && end < c->len) return last_start;                    /* \s+(?!\S) */
    return end;                                                          /* \s+ or nothing */
}

/* End of the word that starts at `at`. */
static size_t match_word(const Cursor *c, size_t at) {
    size_t n, n2;
    uint32_t cp = peek(c, at, &n);
    if (cp == '\'') {
        size_t k = match_contraction(c, at);
        if (k) return at + k;
    }
    if (!is_newline(cp) && !is_number(cp) && (is_letter(cp) || is_letter(peek(c, at + n, &n2))))
        return skip_run(c, at + n, is_letter, INT32_MAX);                /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (is_number(cp)) return skip_run(c, at, is_number, c->max_digits); /* \p{N}{1,3} */
    size_t from = cp == ' ' ? at + n : at;
    if (is_other(peek(c, from, &n2))) {                                  /*  ?[^\s\p{L}\p{N}]+[\r\n]* */
        size_t end = skip_run(c, from, is_other, INT32_MAX);
        return skip_run(c, end, is_newline, INT32_MAX);
    }
    size_t end = match_whitespace(c, at);
    return end > at ? end : at + n;                                      /* no match: one character */
}

int pretokenizer_digit_run(const char *name) {
    if (!name) return 0;
    if (strcmp(name, "llama-bpe") == 0) return 3;
    if (strcmp(name, "qwen2") == 0) return 1;
    return 0;
}

size_t pretokenize(const char *text, size_t len, int max_digits, size_t *ends) {
    Cursor c = {(const unsigned char *)text, len, max_digits};
    size_t count = 0;
    for (size_t at = 0; at < len; at = ends[count++]) ends[count] = match_word(&c, at);
    return count;
}
