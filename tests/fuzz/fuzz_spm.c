/* fuzz_spm.c — libFuzzer harness for the SentencePiece shim: arbitrary text encoded by
 * libsentencepiece with models/kjv.model, ids in range and decodable; and, as a
 * differential check, the built-in encoder over models/kjv.gguf's vocabulary (the same
 * tokenizer, identity normalizer, the same whitespace rules, byte fallback) must give the
 * very same ids on every input. */
#include "fuzz_common.h"

#include "../../tokenizer/model_vocab.h"

static Tokenizer *spm, *builtin; /* built once by LLVMFuzzerInitialize, read-only after */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char err[ERR_LEN];
    spm = tokenizer_open_sentencepiece("models/kjv.model", err, sizeof err);
    if (!spm) { fprintf(stderr, "fuzz_spm: %s (run from the project root)\n", err); exit(1); }
    Model model;
    if (model_open(&model, "models/kjv.gguf", err, sizeof err) != 0) return 0;
    builtin = tokenizer_from_model_vocab(&model.vocab, err, sizeof err);
    model_close(&model);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 1 << 16) return 0;
    const char *text = (const char *)data;
    int n = 0, m = 0;
    int *ids = fuzz_encode_checked(spm, text, size, TOKENIZE_ADD_BOS, &n);
    if (!ids) return 0;
    size_t cap = 4 * size + 64;
    char *back = malloc(cap);
    tokenizer_decode(spm, ids, n, back, cap);
    int *mine = builtin ? fuzz_encode_checked(builtin, text, size, TOKENIZE_ADD_BOS, &m) : NULL;
    if (mine) {
        int first = 0;
        while (first < n && first < m && ids[first] == mine[first]) first++;
        FUZZ_ASSERT(n == m && first == n, "builtin and SentencePiece differ at id %d "
                    "(%d vs %d ids)", first, m, n);
    }
    free(mine);
    free(back);
    free(ids);
    return 0;
}
