/* fuzz_encode.c — libFuzzer harness for the built-in SentencePiece-BPE encoder: arbitrary
 * bytes encoded with the vocabulary of models/kjv.gguf (built once; run from the project
 * root). Properties: the count query and the real call agree, every id is in range, and
 * decode(encode(text)) == text for valid UTF-8 without leading, trailing, repeated spaces,
 * NUL or U+2581 (tokenizer/README.md says so). */
#include "fuzz_common.h"

#include "../../tokenizer/model_vocab.h"

static Tokenizer *kjv_tokenizer; /* built once by LLVMFuzzerInitialize, read-only after */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[ERR_LEN];
    Model model;
    if (model_open(&model, "models/kjv.gguf", err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_encode: %s (run from the project root)\n", err);
        exit(1);
    }
    kjv_tokenizer = tokenizer_from_model_vocab(&model.vocab, err, sizeof err);
    model_close(&model);
    if (!kjv_tokenizer) { fprintf(stderr, "fuzz_encode: %s\n", err); exit(1); }
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
    char err[ERR_LEN] = "";
    const char *text = (const char *)data;
    int needed = tokenizer_encode(kjv_tokenizer, text, size, 1, NULL, 0, err, sizeof err);
    if (needed < 0) { fuzz_check_message(err); return 0; }
    int *ids = malloc((size_t)needed * sizeof *ids + 1);
    int n = tokenizer_encode(kjv_tokenizer, text, size, 1, ids, needed, err, sizeof err);
    FUZZ_ASSERT(n == needed, "count query said %d, encoding gave %d", needed, n);
    int vocab = tokenizer_vocab_size(kjv_tokenizer);
    for (int i = 0; i < n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < vocab, "id %d", ids[i]);
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
