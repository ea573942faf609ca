/* fuzz_tokenizer_bin.c — libFuzzer harness for the built-in tokenizer's vocabulary loading
 * from a llama2.c tokenizer.bin: the first two bytes choose the vocab_size the model would
 * declare (1..4096), the rest is the file. A vocabulary that loads must encode and decode a
 * fixed text with every id in range. */
#include "fuzz_common.h"

#include "../../tokenizer/tokenizer.h"

static const char sample[] = "In the beginning God created \xc3\xa9t\xc3\xa9 \xe2\x82\xac\xff\n<s>";

static void exercise(const Tokenizer *tok) {
    char err[ERR_LEN] = "", text[4096];
    int vocab = tokenizer_vocab_size(tok), ids[256];
    int n = tokenizer_encode(tok, sample, sizeof sample - 1, 1, ids, 256, err, sizeof err);
    if (n < 0) { fuzz_check_message(err); return; }
    FUZZ_ASSERT(n <= 256, "%d ids for %zu bytes", n, sizeof sample - 1);
    for (int i = 0; i < n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < vocab, "id %d", ids[i]);
    size_t len = tokenizer_decode(tok, ids, n, text, sizeof text);
    FUZZ_ASSERT(strlen(text) <= len, "decode length %zu < %zu", len, strlen(text));
    for (int id = 0; id < vocab; id++) tokenizer_decode_piece(tok, id ? id - 1 : -1, id, text, 64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    int vocab_size = 1 + (data[0] | data[1] << 8) % 4096;
    char err[ERR_LEN] = "", path[32];
    int fd = fuzz_memory_file(data + 2, size - 2, path);
    if (fd < 0) return 0;
    Tokenizer *tok = tokenizer_open_llama2c(path, vocab_size, err, sizeof err);
    if (tok) {
        FUZZ_ASSERT(tokenizer_vocab_size(tok) == vocab_size, "vocab %d", tokenizer_vocab_size(tok));
        exercise(tok);
        tokenizer_free(tok);
    } else {
        fuzz_check_message(err);
    }
    close(fd);
    return 0;
}
