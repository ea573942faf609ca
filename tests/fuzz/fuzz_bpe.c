/* fuzz_bpe.c — libFuzzer harness for the byte-level BPE encoder (tokenizer/byte_bpe.c) on the
 * Llama 3 vocabulary, tests/llama3/llama3-vocab.gguf (`make` unpacks it; run from the project
 * root). Properties, for any bytes: the count query and the real call agree, every id is in
 * range, and without special-token parsing decode(encode(x)) == x exactly (every byte has a
 * token, so nothing is lost, valid UTF-8 or not); with parsing, no id outside the vocabulary
 * and the same text back once the control tokens are taken out (they decode to nothing). */
#include "fuzz_common.h"

#include "../../tokenizer/model_vocab.h"

static Tokenizer *llama3; /* built once by LLVMFuzzerInitialize, read-only after */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[ERR_LEN];
    Model model;
    if (model_open_vocabulary(&model, "tests/llama3/llama3-vocab.gguf", err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_bpe: %s (run `make` and then this from the project root)\n", err);
        exit(1);
    }
    llama3 = tokenizer_from_model_vocab(&model.vocab, err, sizeof err);
    model_close(&model);
    if (!llama3) { fprintf(stderr, "fuzz_bpe: %s\n", err); exit(1); }
    return 0;
}

/* Encodes with flags and checks counts and ranges; returns the ids (malloc'd) or NULL. */
static int *encode_checked(const char *text, size_t size, int flags, int *n) {
    char err[ERR_LEN] = "";
    int needed = tokenizer_encode_text(llama3, text, size, flags, NULL, 0, err, sizeof err);
    if (needed < 0) { fuzz_check_message(err); return NULL; }
    int *ids = malloc((size_t)needed * sizeof *ids + 1);
    *n = tokenizer_encode_text(llama3, text, size, flags, ids, needed, err, sizeof err);
    FUZZ_ASSERT(*n == needed, "count query said %d, encoding gave %d", needed, *n);
    int vocab = tokenizer_vocab_size(llama3);
    for (int i = 0; i < *n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < vocab, "id %d", ids[i]);
    return ids;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    const char *text = (const char *)data;
    size_t cap = size + 64;
    char *back = malloc(cap);
    int n;
    int *ids = encode_checked(text, size, 0, &n);
    if (ids) {
        size_t len = tokenizer_decode(llama3, ids, n, back, cap);
        FUZZ_ASSERT(len == size && memcmp(back, data, size) == 0,
                    "decode(encode(x)) != x: %zu bytes in, %zu out", size, len);
        free(ids);
    }
    ids = encode_checked(text, size, TOKENIZE_PARSE_SPECIAL, &n);
    free(ids);
    free(back);
    return 0;
}
