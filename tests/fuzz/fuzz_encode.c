/* fuzz_encode.c — libFuzzer harness for the built-in SentencePiece-BPE encoder: arbitrary
 * bytes encoded with the vocabulary of models/kjv.gguf (built once; run from the project
 * root). Properties: the count query and the real call agree, every id is in range, and
 * decode(encode(text)) == text for valid UTF-8 without leading, trailing, repeated spaces,
 * NUL or U+2581 (tokenizer/README.md says so). */
#include "fuzz_common.h"

static Tokenizer *kjv_tokenizer; /* built once by LLVMFuzzerInitialize, read-only after */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    kjv_tokenizer = fuzz_vocab_tokenizer("models/kjv.gguf", "fuzz_encode");
    return 0;
}

static int valid_utf8(const uint8_t *s, size_t n) {
    for (size_t i = 0; i < n;) {
        size_t len = s[i] < 0x80 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2 : (s[i] & 0xF0) == 0xE0 ? 3
                   : (s[i] & 0xF8) == 0xF0 ? 4 : 0;
        if (!len || i + len > n) return 0;
        uint32_t c = len == 1 ? s[i] : (uint32_t)(s[i] & (0x7F >> len));
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return 0;
            c = c << 6 | (s[i + k] & 0x3F);
        }
        static const uint32_t min_for_length[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (c < min_for_length[len] || c > 0x10FFFF || (c >= 0xD800 && c < 0xE000)) return 0;
        i += len;
    }
    return 1;
}

/* U+2581 in the input decodes as a space: no round trip for it either. */
static int round_trip_applies(const uint8_t *s, size_t n) {
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ' || memchr(s, 0, n)) return 0;
    if (memmem(s, n, "\xe2\x96\x81", 3)) return 0;
    for (size_t i = 1; i < n; i++)
        if (s[i] == ' ' && s[i - 1] == ' ') return 0;
    return valid_utf8(s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    int n;
    int *ids = fuzz_encode_checked(kjv_tokenizer, (const char *)data, size, TOKENIZE_ADD_BOS, &n);
    if (!ids) return 0;
    size_t cap = 4 * size + 64;
    char *back = malloc(cap);
    size_t len = tokenizer_decode(kjv_tokenizer, ids, n, back, cap);
    if (round_trip_applies(data, size))
        FUZZ_ASSERT(len == size && memcmp(back, data, size) == 0,
                    "decode(encode(x)) != x: %zu bytes in, %zu out", size, len);
    free(back);
    free(ids);
    return 0;
}
