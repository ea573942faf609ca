/* llama2c_vocab.c — reads llama2.c's tokenizer.bin (int32 max_token_length, then per token:
 * float32 score, int32 length, the bytes) into a TokenizerVocab in SentencePiece spelling
 * (' ' -> U+2581, "\n<s>\n" -> "<s>", "\n</s>\n" -> "</s>") for the built-in tokenizer.
 * Every length is checked against the header and the file size. */
#include "tokenizer.h"

#include "../util/errors.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A tokenizer.bin does not say how its .model normalised text; llama2.c trains its
 * vocabularies (tinystories.py train_vocab) with SentencePiece's defaults: a dummy prefix
 * and extra whitespace removed, as tok512.model's normalizer_spec says. */
#define LLAMA2C_NORMALIZER ((TokenizerNormalizer){1, 1})

/* No real piece is near this long; a bigger header value means a corrupt file. */
#define MAX_PIECE_BYTES 65536

typedef struct {
    char **pieces;
    int *lengths;
    float *scores;
    int n_tokens;
} Llama2cPieces;

static void free_pieces(Llama2cPieces *p) {
    for (int i = 0; p->pieces && i < p->n_tokens; i++) free(p->pieces[i]);
    free(p->pieces);
    free(p->lengths);
    free(p->scores);
}

/* Reads the whole file; NULL with a message on error. */
static unsigned char *slurp(const char *path, size_t *size, char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail(err, err_size, "cannot open tokenizer '%s': %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *data = NULL;
    struct stat info;
    long end = fstat(fileno(f), &info) == 0 && S_ISREG(info.st_mode) && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0) fail(err, err_size, "cannot read tokenizer '%s' (not a regular file?)", path);
    else if (!(data = malloc((size_t)end + 1))) fail(err, err_size, "out of memory reading '%s'", path);
    else if (fread(data, 1, (size_t)end, f) != (size_t)end) {
        fail(err, err_size, "cannot read tokenizer '%s'", path);
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = end < 0 ? 0 : (size_t)end;
    return data;
}

/* The piece in SentencePiece spelling: a space becomes U+2581, BOS/EOS lose their newlines. */
static char *respell(const unsigned char *raw, int32_t len, int *out_len) {
    if (len == 5 && memcmp(raw, "\n<s>\n", 5) == 0) raw = (const unsigned char *)"<s>", len = 3;
    if (len == 6 && memcmp(raw, "\n</s>\n", 6) == 0) raw = (const unsigned char *)"</s>", len = 4;
    char *piece = malloc(3 * (size_t)len + 1);
    if (!piece) return NULL;
    int n = 0;
    for (int32_t i = 0; i < len; i++) {
        if (raw[i] == ' ') memcpy(piece + n, "\xE2\x96\x81", 3), n += 3;
        else piece[n++] = (char)raw[i];
    }
    *out_len = n;
    return piece;
}

static int parse_records(const unsigned char *data, size_t size, Llama2cPieces *p, const char *path,
                         char *err, size_t err_size) {
    int32_t max_length;
    if (size < 4) return fail(err, err_size, "tokenizer '%s' is too short for its header", path);
    memcpy(&max_length, data, 4);
    if (max_length < 0 || max_length > MAX_PIECE_BYTES)
        return fail(err, err_size, "tokenizer '%s' is corrupt: max_token_length %d", path, (int)max_length);
    size_t at = 4;
    for (int i = 0; i < p->n_tokens; i++) {
        int32_t len;
        if (size - at < 8) return fail(err, err_size, "tokenizer '%s' is truncated at token %d of %d", path, i, p->n_tokens);
        memcpy(&p->scores[i], data + at, 4);
        memcpy(&len, data + at + 4, 4);
        at += 8;
        if (!isfinite(p->scores[i])) return fail(err, err_size, "tokenizer '%s': token %d has a non-finite score", path, i);
        if (len < 0 || len > max_length)
            return fail(err, err_size, "tokenizer '%s' is corrupt: token %d has length %d (max_token_length %d)",
                        path, i, (int)len, (int)max_length);
        if ((size_t)len > size - at)
            return fail(err, err_size, "tokenizer '%s' is truncated inside token %d of %d", path, i, p->n_tokens);
        if (!(p->pieces[i] = respell(data + at, len, &p->lengths[i])))
            return fail(err, err_size, "out of memory reading '%s'", path);
        at += (size_t)len;
    }
    if (at != size)
        return fail(err, err_size, "tokenizer '%s' has %zu bytes after %d tokens: wrong vocab_size?", path, size - at, p->n_tokens);
    return 0;
}

static int find_spelling(const Llama2cPieces *p, const char *spelling) {
    for (int i = 0; i < p->n_tokens; i++)
        if ((size_t)p->lengths[i] == strlen(spelling) && memcmp(p->pieces[i], spelling, strlen(spelling)) == 0) return i;
    return -1;
}

Tokenizer *tokenizer_open_llama2c(const char *path, int vocab_size, char *err, size_t err_size) {
    if (!path || vocab_size <= 0 || vocab_size > (1 << 24)) {
        fail(err, err_size, "tokenizer '%s': bad path or vocab_size %d", path ? path : "(NULL)", vocab_size);
        return NULL;
    }
    size_t size;
    unsigned char *data = slurp(path, &size, err, err_size);
    if (!data) return NULL;
    Llama2cPieces p = {calloc((size_t)vocab_size, sizeof(char *)), calloc((size_t)vocab_size, sizeof(int)),
                       calloc((size_t)vocab_size, sizeof(float)), vocab_size};
    Tokenizer *tok = NULL;
    if (!p.pieces || !p.lengths || !p.scores) fail(err, err_size, "out of memory reading '%s'", path);
    else if (parse_records(data, size, &p, path, err, err_size) == 0) {
        TokenizerVocab vocab = {.n_tokens = vocab_size, .pieces = (const char *const *)p.pieces,
                                .piece_lengths = p.lengths, .scores = p.scores,
                                .bos_id = find_spelling(&p, "<s>"), .eos_id = find_spelling(&p, "</s>"),
                                .unk_id = find_spelling(&p, "<unk>"), .normalizer = LLAMA2C_NORMALIZER};
        tok = tokenizer_from_vocab(&vocab, err, err_size);
    }
    free_pieces(&p);
    free(data);
    return tok;
}
