/* fuzz_bpe.c — libFuzzer harness for the byte-level BPE encoder (tokenizer/byte_bpe.c) on the
 * Llama 3 vocabulary, tests/llama3/llama3-vocab.gguf (`make` unpacks it; run from the project
 * root). Properties, for any bytes: the count query and the real call agree, every id is in
 * range, and without special-token parsing decode(encode(x)) == x exactly (every byte has a
 * token, so nothing is lost, valid UTF-8 or not); with parsing, no id outside the vocabulary
 * and the same text back once the control tokens are taken out (they decode to nothing). */
#include "fuzz_common.h"

static Tokenizer *llama3; /* built once by LLVMFuzzerInitialize, read-only after */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    llama3 = fuzz_vocab_tokenizer("tests/llama3/llama3-vocab.gguf", "fuzz_bpe");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    const char *text = (const char *)data;
    size_t cap = size + 64;
    char *back = malloc(cap);
    int n;
    int *ids = fuzz_encode_checked(llama3, text, size, 0, &n);
    if (ids) {
        size_t len = tokenizer_decode(llama3, ids, n, back, cap);
        FUZZ_ASSERT(len == size && memcmp(back, data, size) == 0,
                    "decode(encode(x)) != x: %zu bytes in, %zu out", size, len);
        free(ids);
    }
    ids = fuzz_encode_checked(llama3, text, size, TOKENIZE_PARSE_SPECIAL, &n);
    free(ids);
    free(back);
    return 0;
}
