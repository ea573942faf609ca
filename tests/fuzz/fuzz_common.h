/* fuzz_common.h — what the libFuzzer harnesses share (header-only, harnesses only):
 * fuzz bytes as a file path (the readers take paths: an anonymous memory file seen as
 * /proc/self/fd/N), a check that every pointer a Model holds lies inside its mapping or is
 * readable heap, one short forward pass of a small model, and the abort that turns a
 * broken property into a libFuzzer crash. */
#ifndef ROPEWALK_FUZZ_COMMON_H
#define ROPEWALK_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../engine/transformer.h"
#include "../../models/model.h"
#include "../../tokenizer/model_vocab.h"
#include "../../tools/run_rope.h"
#include "../../util/errors.h"

/* A property the code promises does not hold: report and abort (libFuzzer saves the input). */
#define FUZZ_ASSERT(cond, ...)                                              \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "fuzz property failed: %s: ", #cond);           \
            fprintf(stderr, __VA_ARGS__);                                   \
            fprintf(stderr, "\n");                                          \
            abort();                                                        \
        }                                                                   \
    } while (0)

/* The library's messages are one line, not empty, and fit the buffer. */
static inline void fuzz_check_message(const char *err) {
    FUZZ_ASSERT(err[0] != 0, "a failure without a message");
    FUZZ_ASSERT(strchr(err, '\n') == NULL, "a message of several lines: %s", err);
}

/* The built-in tokenizer of the vocabulary in the GGUF at path (run from the project root);
 * exits naming the harness when it cannot be built. */
static inline Tokenizer *fuzz_vocab_tokenizer(const char *path, const char *harness) {
    char err[ERR_LEN];
    Model model;
    if (model_open_vocabulary(&model, path, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s (run from the project root, after `make`)\n", harness, err);
        exit(1);
    }
    Tokenizer *tok = tokenizer_from_model_vocab(&model.vocab, err, sizeof err);
    model_close(&model);
    if (!tok) { fprintf(stderr, "%s: %s\n", harness, err); exit(1); }
    return tok;
}

/* Encodes with TOKENIZE_* flags and checks that the count query and the real call agree and
 * every id is in range; returns the ids (malloc'd) and their count, or NULL on a failure
 * (whose message must be one line). */
static inline int *fuzz_encode_checked(const Tokenizer *tok, const char *text, size_t size, int flags,
                                       int *n) {
    char err[ERR_LEN] = "";
    int needed = tokenizer_encode_text(tok, text, size, flags, NULL, 0, err, sizeof err);
    if (needed < 0) { fuzz_check_message(err); return NULL; }
    int *ids = malloc((size_t)needed * sizeof *ids + 1);
    *n = tokenizer_encode_text(tok, text, size, flags, ids, needed, err, sizeof err);
    FUZZ_ASSERT(*n == needed, "count query said %d, encoding gave %d", needed, *n);
    int vocab = tokenizer_vocab_size(tok);
    for (int i = 0; i < *n; i++) FUZZ_ASSERT(ids[i] >= 0 && ids[i] < vocab, "id %d", ids[i]);
    return ids;
}

/* Writes the bytes to a memory file; its path goes to path (>= 32 bytes). Returns the fd
 * (close it when done) or -1. */
static inline int fuzz_memory_file(const uint8_t *data, size_t size, char *path) {
    int fd = memfd_create("fuzz", 0);
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) { close(fd); return -1; }
        done += (size_t)n;
    }
    snprintf(path, 32, "/proc/self/fd/%d", fd);
    return fd;
}

/* A tensor pointer either lies wholly inside the mapping or is heap the reader owns (then
 * reading every byte lets AddressSanitizer judge it). */
static inline unsigned fuzz_touch(const Model *m, const void *p, size_t bytes, const char *what) {
    FUZZ_ASSERT(p != NULL || bytes == 0, "%s is NULL", what);
    const uint8_t *b = p, *start = m->mapping, *end = start + m->mapping_size;
    unsigned sum = 0;
    if (b >= start && b < end) {
        FUZZ_ASSERT(bytes <= (size_t)(end - b), "%s: %zu bytes run past the mapping", what, bytes);
        return 0;
    }
    for (size_t i = 0; i < bytes; i++) sum += b[i];
    return sum;
}

static inline size_t fuzz_matrix_bytes(const Matrix *x) {
    size_t n = tensor_bytes(x->type, x->rows, x->cols);
    FUZZ_ASSERT(n > 0, "matrix %dx%d of type %d has no size", x->rows, x->cols, x->type);
    return n;
}

/* Every weight and vocabulary pointer of an opened model is inside memory it may read. */
static inline unsigned fuzz_check_model(const Model *m) {
    const Config *c = &m->config;
    const Weights *w = &m->weights;
    size_t vec = (size_t)c->dim * sizeof(float);
    unsigned sum = fuzz_touch(m, w->token_embedding.data, fuzz_matrix_bytes(&w->token_embedding), "embedding");
    sum += fuzz_touch(m, w->classifier.data, fuzz_matrix_bytes(&w->classifier), "classifier");
    sum += fuzz_touch(m, w->rms_final, vec, "rms_final");
    for (int i = 0; i < c->n_layers; i++) {
        const LayerWeights *l = &w->layers[i];
        const Matrix *mats[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w1, &l->w2, &l->w3};
        for (int k = 0; k < 7; k++) sum += fuzz_touch(m, mats[k]->data, fuzz_matrix_bytes(mats[k]), "matrix");
        sum += fuzz_touch(m, l->rms_att, vec, "rms_att") + fuzz_touch(m, l->rms_ffn, vec, "rms_ffn");
    }
    const RopeFileSettings *r = &c->rope;
    size_t pairs = (size_t)(c->rotary_dim > 0 ? c->rotary_dim : c->head_dim) / 2 * sizeof(float);
    if (r->freq_factors) sum += fuzz_touch(m, r->freq_factors, pairs, "rope_freqs");
    if (r->long_factors) sum += fuzz_touch(m, r->long_factors, pairs, "long factors");
    if (r->short_factors) sum += fuzz_touch(m, r->short_factors, pairs, "short factors");
    for (int i = 0; i < m->vocab.n_tokens; i++)
        sum += fuzz_touch(m, m->vocab.pieces[i], (size_t)m->vocab.piece_lengths[i] + 1, "piece");
    return sum;
}

/* A model small enough to run: three tokens through the engine (16 positions, one thread),
 * with the RoPE settings the file carries. Non-finite logits are an allowed, reported
 * outcome; a crash or sanitizer report is not. FUZZ_ENGINE=0 skips it (readers only). */
static inline void fuzz_run_small_model(const Model *m) {
    const Config *c = &m->config;
    const char *engine = getenv("FUZZ_ENGINE");
    if (engine && strcmp(engine, "0") == 0) return;
    if (c->dim > 512 || c->hidden_dim > 2048 || c->n_layers > 8 || c->vocab_size > 4096 ||
        c->n_heads > 64)
        return;
    char err[ERR_LEN] = "";
    RopeOptions flags;
    memset(&flags, 0, sizeof flags);
    EngineOptions o;
    memset(&o, 0, sizeof o);
    RopeFactorStorage storage;
    o.context = c->context_length < 16 ? c->context_length : 16;
    o.max_batch = 4;
    o.threads = 1;
    o.kv_type = KV_F32;
    if (rope_options_resolve(&flags, c, o.context, &o.rope, &storage, err, sizeof err) != 0) {
        fuzz_check_message(err);
        return;
    }
    Transformer *t = NULL;
    if (transformer_create(&t, m, &o, err, sizeof err) != 0) { fuzz_check_message(err); return; }
    int tokens[3] = {1 % c->vocab_size, 0, c->vocab_size - 1};
    const float *logits = transformer_append(t, tokens, o.context < 3 ? o.context : 3, 1, err,
                                             sizeof err);
    if (!logits) fuzz_check_message(err);
    transformer_free(t);
}

#endif
