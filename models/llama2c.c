/* llama2c.c — llama2.c checkpoints: the legacy format (7 int32 header, float32 weights,
 * freq_cis tables, then a classifier when vocab_size is negative) and the 'ak42' version 1
 * export (256-byte header, float32, shared-classifier flag).  Zero-copy: every tensor points
 * into the mapped file.  Version 2 (int8 groups) is refused with a clear message. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "gguf.h"
#include "model.h"

#define LLAMA2C_MAGIC 0x616b3432u /* "ak42" */
#define LEGACY_HEADER_BYTES 28
#define V1_HEADER_BYTES 256

typedef struct {
    int version;           /* 0 = legacy, 1 = 'ak42' version 1 */
    size_t header_bytes;
    int shared_classifier;
} Layout;

/* Where each block of float32 weights starts (each covers all layers). */
typedef struct {
    const float *embedding, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2, *w3, *rms_final,
        *classifier;
} Blocks;

static int32_t int_at(const uint8_t *bytes, size_t offset) {
    int32_t value;
    memcpy(&value, bytes + offset, sizeof value);
    return value;
}

static void set_config(Config *c, const int32_t h[7]) {
    c->dim = h[0];
    c->hidden_dim = h[1];
    c->n_layers = h[2];
    c->n_heads = h[3];
    c->n_kv_heads = h[4];
    c->vocab_size = h[5];
    c->context_length = h[6];
    c->head_dim = c->n_heads > 0 && c->dim % c->n_heads == 0 ? c->dim / c->n_heads : 0;
    c->rotary_dim = c->head_dim;
    c->rms_eps = 1e-5f;
    c->rope_layout = ROPE_LAYOUT_INTERLEAVED;
    c->rope.freq_base = 10000.0;
}

static int read_v1_header(Model *m, Layout *layout, char *err, size_t err_size) {
    const uint8_t *bytes = m->mapping;
    if (m->mapping_size < 8)
        return fail(err, err_size, "truncated: llama2.c header needs 8 bytes, file has %zu",
                    m->mapping_size);
    int32_t version = int_at(bytes, 4);
    if (version == 2)
        return fail(err, err_size, "unsupported llama2.c version 2 (int8 quantised export)");
    if (version != 1) return fail(err, err_size, "unknown llama2.c version %d", version);
    if (m->mapping_size < V1_HEADER_BYTES)
        return fail(err, err_size, "truncated: expected a %d-byte llama2.c header, file has %zu",
                    V1_HEADER_BYTES, m->mapping_size);
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = int_at(bytes, 8 + 4 * (size_t)i);
    if (bytes[36] > 1)
        return fail(err, err_size, "llama2.c shared_classifier flag is %d, not 0 or 1", bytes[36]);
    *layout = (Layout){1, V1_HEADER_BYTES, bytes[36]};
    set_config(&m->config, h);
    return 0;
}

static int read_legacy_header(Model *m, Layout *layout, char *err, size_t err_size) {
    if (m->mapping_size < LEGACY_HEADER_BYTES)
        return fail(err, err_size, "truncated: llama2.c header needs %d bytes, file has %zu",
                    LEGACY_HEADER_BYTES, m->mapping_size);
    int32_t h[7];
    for (int i = 0; i < 7; i++) h[i] = int_at(m->mapping, 4 * (size_t)i);
    if (h[5] == INT32_MIN) return fail(err, err_size, "vocab_size %d is invalid", h[5]);
    *layout = (Layout){0, LEGACY_HEADER_BYTES, h[5] > 0};
    h[5] = abs(h[5]); /* negative: a separate classifier follows */
    set_config(&m->config, h);
    return 0;
}

/* Exact file size the header implies; the config is validated, so nothing overflows. */
static uint64_t expected_bytes(const Config *c, const Layout *layout) {
    uint64_t dim = (uint64_t)c->dim, layers = (uint64_t)c->n_layers;
    uint64_t q_dim = (uint64_t)c->n_heads * (uint64_t)c->head_dim;
    uint64_t kv_dim = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
    uint64_t embedding = (uint64_t)c->vocab_size * dim;
    uint64_t floats = embedding + 2 * layers * dim + dim           /* table, norms */
                      + layers * (2 * q_dim * dim + 2 * kv_dim * dim) /* wq wo wk wv */
                      + layers * 3 * (uint64_t)c->hidden_dim * dim;  /* w1 w2 w3 */
    if (layout->version == 0) floats += (uint64_t)c->context_length * (uint64_t)c->head_dim;
    if (!layout->shared_classifier) floats += embedding;
    return layout->header_bytes + floats * sizeof(float);
}

static int check_size(const Model *m, const Layout *layout, char *err, size_t err_size) {
    uint64_t expected = expected_bytes(&m->config, layout);
    uint64_t actual = m->mapping_size;
    if (actual < expected)
        return fail(err, err_size, "truncated: expected %llu bytes, file has %llu",
                    (unsigned long long)expected, (unsigned long long)actual);
    if (actual > expected) {
        uint64_t classifier = (uint64_t)m->config.vocab_size * (uint64_t)m->config.dim * 4;
        int looks_unshared = layout->shared_classifier && actual == expected + classifier;
        return fail(err, err_size, "file is longer than expected: %llu bytes, the header implies "
                    "%llu%s", (unsigned long long)actual, (unsigned long long)expected,
                    looks_unshared ? " (the extra bytes fit a classifier, but the header says "
                                     "it is shared)" : "");
    }
    return 0;
}

static const float *take(const float **cursor, uint64_t n) {
    const float *start = *cursor;
    *cursor += n;
    return start;
}

static void locate_blocks(const Model *m, const Layout *layout, Blocks *b) {
    const Config *c = &m->config;
    uint64_t dim = (uint64_t)c->dim, layers = (uint64_t)c->n_layers;
    uint64_t kv_dim = (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
    uint64_t hidden = (uint64_t)c->hidden_dim, vocab = (uint64_t)c->vocab_size;
    const float *p = (const float *)((const uint8_t *)m->mapping + layout->header_bytes);
    if (layout->version == 1) {
        b->rms_att = take(&p, layers * dim);
        b->rms_ffn = take(&p, layers * dim);
        b->rms_final = take(&p, dim);
    }
    b->embedding = take(&p, vocab * dim);
    if (layout->version == 0) b->rms_att = take(&p, layers * dim);
    b->wq = take(&p, layers * dim * dim);
    b->wk = take(&p, layers * kv_dim * dim);
    b->wv = take(&p, layers * kv_dim * dim);
    b->wo = take(&p, layers * dim * dim);
    if (layout->version == 0) b->rms_ffn = take(&p, layers * dim);
    b->w1 = take(&p, layers * hidden * dim);
    b->w2 = take(&p, layers * dim * hidden);
    b->w3 = take(&p, layers * hidden * dim);
    if (layout->version == 0) {
        b->rms_final = take(&p, dim);
        take(&p, (uint64_t)c->context_length * (uint64_t)c->head_dim); /* freq_cis real+imag */
    }
    b->classifier = layout->shared_classifier ? b->embedding : take(&p, vocab * dim);
}

static Matrix f32_matrix(const float *base, int index, int rows, int cols) {
    return (Matrix){base + (size_t)index * (size_t)rows * (size_t)cols, TENSOR_F32, rows, cols, NULL};
}

static int assign_weights(Model *m, const Blocks *b, char *err, size_t err_size) {
    const Config *c = &m->config;
    Weights *w = &m->weights;
    int dim = c->dim, kv_dim = c->n_kv_heads * c->head_dim, hidden = c->hidden_dim;
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->layers) return fail(err, err_size, "out of memory for %d layers", c->n_layers);
    w->token_embedding = f32_matrix(b->embedding, 0, c->vocab_size, dim);
    w->classifier = f32_matrix(b->classifier, 0, c->vocab_size, dim);
    w->rms_final = b->rms_final;
    for (int i = 0; i < c->n_layers; i++) {
        LayerWeights *l = &w->layers[i];
        l->rms_att = b->rms_att + (size_t)i * (size_t)dim;
        l->rms_ffn = b->rms_ffn + (size_t)i * (size_t)dim;
        l->wq = f32_matrix(b->wq, i, dim, dim);
        l->wk = f32_matrix(b->wk, i, kv_dim, dim);
        l->wv = f32_matrix(b->wv, i, kv_dim, dim);
        l->wo = f32_matrix(b->wo, i, dim, dim);
        l->w1 = f32_matrix(b->w1, i, hidden, dim);
        l->w2 = f32_matrix(b->w2, i, dim, hidden);
        l->w3 = f32_matrix(b->w3, i, hidden, dim);
    }
    return 0;
}

static int read_checkpoint(Model *m, char *err, size_t err_size) {
    Layout layout = {0, 0, 0};
    uint32_t magic = 0;
    if (m->mapping_size >= 4) memcpy(&magic, m->mapping, 4);
    if (magic == LLAMA2C_MAGIC ? read_v1_header(m, &layout, err, err_size)
                               : read_legacy_header(m, &layout, err, err_size))
        return -1;
    if (model_validate_config(&m->config, err, err_size) ||
        check_size(m, &layout, err, err_size))
        return -1;
    Blocks blocks = {0};
    locate_blocks(m, &layout, &blocks);
    return assign_weights(m, &blocks, err, err_size);
}

int llama2c_open_model(Model *model, const char *path, char *err, size_t err_size) {
    memset(model, 0, sizeof *model);
    if (model_map_file(model, path, err, err_size)) return -1;
    model->format = MODEL_FORMAT_LLAMA2C;
    model->vocab.bos_id = model->vocab.eos_id = model->vocab.unk_id = -1;
    model->vocab.eot_id = model->vocab.eom_id = -1;
    int rc = read_checkpoint(model, err, err_size);
    if (rc == 0) rc = model_finish(model, path, err, err_size);
    if (rc != 0) model_close(model);
    return rc;
}
