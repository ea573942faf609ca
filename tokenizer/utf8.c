/* utf8.c — reading UTF-8 strictly (see utf8.h). */
#include "utf8.h"

static int is_trail(unsigned char c) { return (c & 0xC0) == 0x80; }

static int valid_code_point(uint32_t c) { return c < 0xD800 || (c >= 0xE000 && c <= 0x10FFFF); }

/* Bytes of the character a lead byte announces, or 0 for a byte that cannot lead. */
static size_t announced_length(unsigned char lead) {
    return lead < 0x80 ? 1 : (lead & 0xE0) == 0xC0 ? 2 : (lead & 0xF0) == 0xE0 ? 3
         : (lead & 0xF8) == 0xF0 ? 4 : 0;
}

size_t utf8_char_length(const unsigned char *s, size_t n, uint32_t *code_point) {
    static const uint32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
    static const unsigned char lead_bits[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
    size_t length = announced_length(s[0]);
    if (length == 0 || length > n) return 0;
    uint32_t c = s[0] & lead_bits[length];
    for (size_t k = 1; k < length; k++) {
        if (!is_trail(s[k])) return 0;
        c = (c << 6) | (s[k] & 0x3Fu);
    }
    if (c < smallest[length] || !valid_code_point(c)) return 0;
    if (code_point) *code_point = c;
    return length;
}

size_t utf8_complete_prefix(const unsigned char *s, size_t n) {
    /* only the last three bytes can be the start of an unfinished character */
    for (size_t back = 1; back <= 3 && back <= n; back++) {
        unsigned char c = s[n - back];
        if (is_trail(c)) continue;
        size_t want = announced_length(c);
        return want > back ? n - back : n;
    }
    return n;
}
