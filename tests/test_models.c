/* test_models.c — the model readers on real files (../shared/models, values from
 * PROVENANCE.md), the .bin and the GGUF bit for bit, a hand-built GGUF with every supported
 * tensor type and RoPE key, a llama2.c version 1 export and a separate-classifier legacy file
 * rebuilt from the .bin, and tensor_bytes against hand-computed sizes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../models/gguf.h"
#include "../models/model.h"
#include "../util/errors.h"
#include "harness.h"

#define BIN_PATH "models/stories260K.bin"
#define GGUF_PATH "models/stories260K.gguf"
#define RANDOM_PATH "models/llama-2-tiny-random.gguf"

/* ---- helpers ---- */

static int open_ok(TestContext *t, Model *m, const char *path) {
    char err[ERR_LEN] = "";
    int rc = model_open(m, path, err, sizeof err);
    CHECK(t, rc == 0, "model_open(%s) failed: %s", path, err);
    return rc == 0;
}

static int same_matrix(const Matrix *a, const Matrix *b) {
    return a->type == b->type && a->rows == b->rows && a->cols == b->cols &&
           memcmp(a->data, b->data, tensor_bytes(a->type, a->rows, a->cols)) == 0;
}

static int same_floats(const float *a, const float *b, int n) {
    return memcmp(a, b, (size_t)n * sizeof(float)) == 0;
}

/* ---- tensor_bytes ---- */

static void test_tensor_bytes(TestContext *t) {
    CHECK(t, tensor_bytes(TENSOR_F32, 2, 3) == 24, "F32 2x3 = 6 values x 4 bytes");
    CHECK(t, tensor_bytes(TENSOR_F16, 5, 7) == 70, "F16 5x7 = 35 values x 2 bytes");
    CHECK(t, tensor_bytes(TENSOR_Q8_0, 2, 64) == 136, "Q8_0 2 rows x 2 blocks x 34 bytes");
    CHECK(t, tensor_bytes(TENSOR_Q4_0, 3, 32) == 54, "Q4_0 3 rows x 1 block x 18 bytes");
    CHECK(t, tensor_bytes(TENSOR_Q8_0, 1, 33) == 0, "33 columns is not whole Q8_0 blocks");
    CHECK(t, tensor_bytes(TENSOR_Q4_0, 1, 48) == 0, "48 columns is not whole Q4_0 blocks");
    CHECK(t, tensor_bytes(TENSOR_F32, -1, 4) == 0, "negative rows");
    CHECK(t, tensor_bytes(TENSOR_F32, INT64_MAX, INT64_MAX) == 0, "overflow gives 0");
    CHECK(t, strcmp(tensor_type_name(TENSOR_Q4_0), "Q4_0") == 0, "name of Q4_0");
    CHECK(t, strcmp(tensor_type_name(TENSOR_F16), "F16") == 0, "name of F16");
}

/* ---- stories260K.bin (legacy llama2.c) ---- */

static void test_bin_header(TestContext *t) {
    REQUIRE_SHARED(t, path, BIN_PATH);
    Model m;
    if (!open_ok(t, &m, path)) return;
    const Config *c = &m.config;
    /* PROVENANCE.md: dim=64 hidden_dim=172 n_layers=5 n_heads=8 n_kv_heads=4 vocab=+512
     * seq_len=512, head_size 8, shared classifier, 1,056,540 bytes. */
    CHECK(t, m.format == MODEL_FORMAT_LLAMA2C, "format");
    CHECK(t, c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5, "dims %d %d %d", c->dim,
          c->hidden_dim, c->n_layers);
    CHECK(t, c->n_heads == 8 && c->n_kv_heads == 4 && c->head_dim == 8, "heads %d %d %d",
          c->n_heads, c->n_kv_heads, c->head_dim);
    CHECK(t, c->vocab_size == 512 && c->context_length == 512, "vocab %d ctx %d", c->vocab_size,
          c->context_length);
    CHECK(t, c->rotary_dim == 8 && c->rope_layout == ROPE_LAYOUT_INTERLEAVED, "rope");
    CHECK(t, c->rms_eps == 1e-5f && c->rope.freq_base == 10000.0, "eps/base");
    CHECK(t, m.weights.classifier.data == m.weights.token_embedding.data, "shared classifier");
    CHECK(t, m.vocab.n_tokens == 0, "a .bin has no vocabulary");
    CHECK(t, m.file_bytes == 1056540, "file_bytes %zu", m.file_bytes);
    /* 264,128 floats minus the two 512x4 freq_cis tables = 260,032 weight floats. */
    CHECK(t, m.weight_bytes == 260032u * 4, "weight_bytes %zu", m.weight_bytes);
    CHECK(t, strcmp(m.name, "stories260K.bin") == 0, "name '%s'", m.name);
    model_close(&m);
}

/* The freq_cis tables follow rms_final directly: real[pos][j] = cos(pos * 10000^(-2j/8)),
 * imag = sin (PROVENANCE: within 2.3e-6). Checks the reader's offsets end exactly there. */
static void test_bin_layout_ends_at_freq_tables(TestContext *t) {
    REQUIRE_SHARED(t, path, BIN_PATH);
    Model m;
    if (!open_ok(t, &m, path)) return;
    const float *real = m.weights.rms_final + 64, *imag = real + 512 * 4;
    CHECK(t, fabs(real[0] - 1.0) < 1e-5, "cos(0) = %g", real[0]);
    CHECK(t, fabs(real[4] - cos(1.0)) < 1e-5, "real[1][0] = %g, cos(1) = %g", real[4], cos(1.0));
    CHECK(t, fabs(real[5] - cos(0.1)) < 1e-5, "real[1][1] = %g, cos(0.1)", real[5]);
    CHECK(t, fabs(imag[4] - sin(1.0)) < 1e-5, "imag[1][0] = %g, sin(1) = %g", imag[4], sin(1.0));
    CHECK(t, fabs(imag[511 * 4 + 3] - sin(511 * 0.001)) < 1e-5, "imag[511][3] = %g",
          imag[511 * 4 + 3]);
    model_close(&m);
}

/* ---- stories260K.gguf ---- */

static void test_gguf_stories_metadata(TestContext *t) {
    REQUIRE_SHARED(t, path, GGUF_PATH);
    Model m;
    if (!open_ok(t, &m, path)) return;
    const Config *c = &m.config;
    /* PROVENANCE.md: context_length 2048, rope dim 8, no freq_base key (10000), eps 1e-5. */
    CHECK(t, m.format == MODEL_FORMAT_GGUF, "format");
    CHECK(t, c->context_length == 2048, "context %d", c->context_length);
    CHECK(t, c->dim == 64 && c->hidden_dim == 172 && c->n_layers == 5, "dims");
    CHECK(t, c->n_heads == 8 && c->n_kv_heads == 4 && c->head_dim == 8, "heads");
    CHECK(t, c->rotary_dim == 8 && c->vocab_size == 512, "rotary %d vocab %d", c->rotary_dim,
          c->vocab_size);
    CHECK(t, fabs(c->rms_eps - 1e-5) < 1e-11, "eps %g", c->rms_eps);
    CHECK(t, c->rope.freq_base == 10000.0 && c->rope.scaling_type[0] == 0 &&
             c->rope.scaling_factor == 0 && c->rope.freq_factors == NULL, "no rope scaling");
    CHECK(t, c->rope_layout == ROPE_LAYOUT_INTERLEAVED, "layout");
    CHECK(t, strcmp(m.name, "llama") == 0, "name '%s'", m.name);
    CHECK(t, m.weights.classifier.data != m.weights.token_embedding.data,
          "output.weight is stored separately");
    model_close(&m);
}

static void test_gguf_stories_vocab(TestContext *t) {
    REQUIRE_SHARED(t, path, GGUF_PATH);
    Model m;
    if (!open_ok(t, &m, path)) return;
    const ModelVocab *v = &m.vocab;
    REQUIRE(t, v->n_tokens == 512 && v->types && v->scores, "512 tokens with types and scores");
    CHECK(t, v->bos_id == 1 && v->eos_id == 2 && v->unk_id == 0, "specials %d %d %d", v->bos_id,
          v->eos_id, v->unk_id);
    CHECK(t, strcmp(v->model_name, "llama") == 0, "tokenizer model '%s'", v->model_name);
    int counts[7] = {0};
    for (int i = 0; i < v->n_tokens; i++)
        if (v->types[i] >= 1 && v->types[i] <= 6) counts[v->types[i]]++;
    /* 1xUNKNOWN(2), 2xCONTROL(3), 256xBYTE(6), 253xNORMAL(1) */
    CHECK(t, counts[TOKEN_UNKNOWN] == 1 && counts[TOKEN_CONTROL] == 2 &&
             counts[TOKEN_BYTE] == 256 && counts[TOKEN_NORMAL] == 253,
          "type counts %d %d %d %d", counts[2], counts[3], counts[6], counts[1]);
    /* sp.encode("Once upon a time") = 403 407 261 378 = ▁Once ▁upon ▁a ▁time */
    CHECK(t, v->piece_lengths[403] == 7 && strcmp(v->pieces[403], "\xe2\x96\x81Once") == 0,
          "piece 403 '%s'", v->pieces[403]);
    CHECK(t, strcmp(v->pieces[407], "\xe2\x96\x81upon") == 0, "piece 407 '%s'", v->pieces[407]);
    CHECK(t, strcmp(v->pieces[3], "<0x00>") == 0 && strcmp(v->pieces[258], "<0xFF>") == 0,
          "byte pieces '%s' '%s'", v->pieces[3], v->pieces[258]);
    CHECK(t, strcmp(v->pieces[0], "<unk>") == 0, "piece 0 '%s'", v->pieces[0]);
    /* tok512: merges 259..511 have score -(id - 259): 403 -> -144 */
    CHECK(t, v->scores[403] == -144.0f && v->scores[259] == 0.0f, "scores %g %g", v->scores[403],
          v->scores[259]);
    model_close(&m);
}

/* The container itself: GGUF v3, 48 tensors, 19 KV pairs, data at byte 14176 (PROVENANCE). */
static void test_gguf_container_counts(TestContext *t) {
    REQUIRE_SHARED(t, path, GGUF_PATH);
    size_t size;
    char *bytes = read_file(path, &size);
    REQUIRE(t, bytes, "read %s", path);
    GgufFile file;
    char err[ERR_LEN] = "";
    int rc = gguf_parse(&file, bytes, size, err, sizeof err);
    CHECK(t, rc == 0, "gguf_parse: %s", err);
    if (rc == 0) {
        CHECK(t, file.version == 3 && file.n_tensors == 48 && file.n_kv == 19,
              "version %u tensors %llu kv %llu", file.version,
              (unsigned long long)file.n_tensors, (unsigned long long)file.n_kv);
        CHECK(t, file.alignment == 32 && file.data_offset == 14176, "alignment %u data at %llu",
              file.alignment, (unsigned long long)file.data_offset);
        const GgufTensorInfo *q = gguf_find_tensor(&file, "blk.0.attn_k.weight");
        CHECK(t, q && q->n_dims == 2 && q->ne[0] == 64 && q->ne[1] == 32 && q->type == 0,
              "attn_k [64,32] F32");
        const GgufKv *kv = gguf_find_kv(&file, "tokenizer.ggml.seperator_token_id");
        int64_t value = 0;
        CHECK(t, kv && gguf_kv_int(kv, &value, err, sizeof err) == 0 && value == 0xFFFFFFFFLL,
              "seperator id 0xFFFFFFFF");
        gguf_free(&file);
    }
    free(bytes);
}

/* PROVENANCE: every tensor of the .bin is bit-identical to the GGUF's; output.weight is a
 * stored duplicate of token_embd. */
static void test_bin_equals_gguf(TestContext *t) {
    REQUIRE_SHARED(t, bin_path, BIN_PATH);
    Model bin;
    if (!open_ok(t, &bin, bin_path)) return;
    REQUIRE_SHARED(t, gguf_path, GGUF_PATH);
    Model gguf;
    if (!open_ok(t, &gguf, gguf_path)) { model_close(&bin); return; }
    const Weights *a = &bin.weights, *b = &gguf.weights;
    CHECK(t, same_matrix(&a->token_embedding, &b->token_embedding), "token embedding");
    CHECK(t, same_matrix(&a->token_embedding, &b->classifier), "classifier = embedding");
    CHECK(t, same_floats(a->rms_final, b->rms_final, 64), "rms_final");
    for (int i = 0; i < 5; i++) {
        const LayerWeights *x = &a->layers[i], *y = &b->layers[i];
        CHECK(t, same_floats(x->rms_att, y->rms_att, 64) && same_floats(x->rms_ffn, y->rms_ffn, 64),
              "layer %d norms", i);
        CHECK(t, same_matrix(&x->wq, &y->wq) && same_matrix(&x->wk, &y->wk) &&
                 same_matrix(&x->wv, &y->wv) && same_matrix(&x->wo, &y->wo),
              "layer %d attention", i);
        CHECK(t, same_matrix(&x->w1, &y->w1) && same_matrix(&x->w2, &y->w2) &&
                 same_matrix(&x->w3, &y->w3),
              "layer %d feed-forward", i);
    }
    model_close(&bin);
    model_close(&gguf);
}

/* ---- llama-2-tiny-random.gguf (F16) ---- */

static void test_gguf_f16_random(TestContext *t) {
    REQUIRE_SHARED(t, path, RANDOM_PATH);
    Model m;
    if (!open_ok(t, &m, path)) return;
    const Config *c = &m.config;
    const Weights *w = &m.weights;
    /* PROVENANCE: dims 8/32, 1 layer, 2 heads (kv 2), rope dim 4, context 4096, vocab 32000. */
    CHECK(t, c->dim == 8 && c->hidden_dim == 32 && c->n_layers == 1, "dims");
    CHECK(t, c->n_heads == 2 && c->n_kv_heads == 2 && c->head_dim == 4 && c->rotary_dim == 4,
          "heads");
    CHECK(t, c->vocab_size == 32000 && c->context_length == 4096, "vocab/context");
    CHECK(t, strcmp(m.name, "LLaMA v2") == 0, "name '%s'", m.name);
    CHECK(t, w->token_embedding.type == TENSOR_F16 && w->token_embedding.rows == 32000 &&
             w->token_embedding.cols == 8, "token_embd F16 [8,32000]");
    CHECK(t, w->classifier.type == TENSOR_F16 && w->classifier.data != w->token_embedding.data,
          "separate F16 output");
    const LayerWeights *l = &w->layers[0];
    CHECK(t, l->wq.type == TENSOR_F16 && l->wq.rows == 8 && l->wq.cols == 8, "wq 8x8");
    CHECK(t, l->w1.rows == 32 && l->w1.cols == 8 && l->w2.rows == 8 && l->w2.cols == 32,
          "gate 32x8, down 8x32");
    /* Hand-checkable: the model is a fresh HF init, and LlamaRMSNorm initialises to ones. */
    int ones = 1;
    for (int i = 0; i < 8; i++)
        ones &= l->rms_att[i] == 1.0f && l->rms_ffn[i] == 1.0f && w->rms_final[i] == 1.0f;
    CHECK(t, ones, "norm weights are all 1.0");
    /* Llama 2 vocabulary: 0 <unk>, 1 <s>, 2 </s>, 3.. bytes (13 = <0x0A>), 29871 = "▁". */
    const ModelVocab *v = &m.vocab;
    REQUIRE(t, v->n_tokens == 32000, "n_tokens %d", v->n_tokens);
    CHECK(t, strcmp(v->pieces[1], "<s>") == 0 && strcmp(v->pieces[2], "</s>") == 0,
          "specials '%s' '%s'", v->pieces[1], v->pieces[2]);
    CHECK(t, strcmp(v->pieces[13], "<0x0A>") == 0, "piece 13 '%s'", v->pieces[13]);
    CHECK(t, strcmp(v->pieces[29871], "\xe2\x96\x81") == 0, "piece 29871 '%s'", v->pieces[29871]);
    CHECK(t, v->bos_id == 1 && v->eos_id == 2 && v->unk_id == 0, "special ids");
    /* 1,024,000 (two F16 32000x8) + 2,048 (layer F16 matrices) + 96 (three F32 norms) */
    CHECK(t, m.weight_bytes == 1026144, "weight_bytes %zu", m.weight_bytes);
    model_close(&m);
}

/* ---- a GGUF written from scratch ---- */

typedef struct {
    unsigned char *data;
    size_t size, cap;
    int n_keys;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
    if (b->size + n > b->cap) {
        b->cap = (b->size + n) * 2;
        b->data = realloc(b->data, b->cap);
    }
    memcpy(b->data + b->size, p, n);
    b->size += n;
}
static void put_u32(Buf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(Buf *b, const char *s) { put_u64(b, strlen(s)); put(b, s, strlen(s)); }
static void key(Buf *b, const char *k, uint32_t type) {
    put_str(b, k);
    put_u32(b, type);
    b->n_keys++;
}
static void kv_u32(Buf *b, const char *k, uint32_t v) { key(b, k, GGUF_UINT32); put_u32(b, v); }
static void kv_f32(Buf *b, const char *k, float v) { key(b, k, GGUF_FLOAT32); put(b, &v, 4); }
static void kv_str(Buf *b, const char *k, const char *v) { key(b, k, GGUF_STRING); put_str(b, v); }
static void kv_array(Buf *b, const char *k, uint32_t type, uint64_t n, const void *items,
                     size_t item_size) {
    key(b, k, GGUF_ARRAY);
    put_u32(b, type);
    put_u64(b, n);
    if (items) put(b, items, n * item_size);
}

typedef struct {
    const char *name;
    uint64_t ne0, ne1; /* ne1 == 0: a vector */
    uint32_t type;
} TinyTensor;

/* dim 32, hidden 64, 1 layer, 2 heads of 16 (key_length given), 1 kv head, rope dim 8. */
static const TinyTensor tiny_tensors[] = {
    {"token_embd.weight", 32, 4, TENSOR_F32},    {"output_norm.weight", 32, 0, TENSOR_F16},
    {"blk.0.attn_norm.weight", 32, 0, TENSOR_F32}, {"blk.0.ffn_norm.weight", 32, 0, TENSOR_F16},
    {"blk.0.attn_q.weight", 32, 32, TENSOR_Q8_0}, {"blk.0.attn_k.weight", 32, 16, TENSOR_Q4_0},
    {"blk.0.attn_v.weight", 32, 16, TENSOR_F16},  {"blk.0.attn_output.weight", 32, 32, TENSOR_F32},
    {"blk.0.ffn_gate.weight", 32, 64, TENSOR_Q8_0}, {"blk.0.ffn_down.weight", 64, 32, TENSOR_Q4_0},
    {"blk.0.ffn_up.weight", 32, 64, TENSOR_F16},  {"rope_freqs.weight", 4, 0, TENSOR_F32},
};
#define TINY_TENSORS (sizeof tiny_tensors / sizeof tiny_tensors[0])
#define TINY_ALIGN 64

static void tiny_metadata(Buf *b) {
    static const char *tokens[4] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81hi"};
    const float scores[4] = {0, 0, 0, -1.5f};
    const int32_t types[4] = {2, 3, 3, 1};
    kv_str(b, "general.architecture", "llama");
    kv_str(b, "general.name", "tiny");
    kv_u32(b, "general.alignment", TINY_ALIGN);
    kv_u32(b, "llama.context_length", 128);
    kv_u32(b, "llama.embedding_length", 32);
    kv_u32(b, "llama.feed_forward_length", 64);
    kv_u32(b, "llama.block_count", 1);
    kv_u32(b, "llama.attention.head_count", 2);
    kv_u32(b, "llama.attention.head_count_kv", 1);
    kv_u32(b, "llama.attention.key_length", 16);
    kv_u32(b, "llama.rope.dimension_count", 8);
    kv_f32(b, "llama.attention.layer_norm_rms_epsilon", 1e-6f);
    kv_f32(b, "llama.rope.freq_base", 500000.0f);
    kv_str(b, "llama.rope.scaling.type", "yarn");
    kv_f32(b, "llama.rope.scaling.factor", 4.0f);
    kv_u32(b, "llama.rope.scaling.original_context_length", 32);
    kv_f32(b, "llama.rope.scaling.attn_factor", 1.25f);
    kv_f32(b, "llama.rope.scaling.yarn_beta_fast", 32.0f);
    kv_f32(b, "llama.rope.scaling.yarn_beta_slow", 1.0f);
    kv_str(b, "ropewalk.rope.layout", "half_split");
    kv_str(b, "tokenizer.ggml.model", "llama");
    key(b, "tokenizer.ggml.tokens", GGUF_ARRAY);
    put_u32(b, GGUF_STRING);
    put_u64(b, 4);
    for (int i = 0; i < 4; i++) put_str(b, tokens[i]);
    kv_array(b, "tokenizer.ggml.scores", GGUF_FLOAT32, 4, scores, 4);
    kv_array(b, "tokenizer.ggml.token_type", GGUF_INT32, 4, types, 4);
    kv_u32(b, "tokenizer.ggml.bos_token_id", 1);
    kv_u32(b, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(b, "tokenizer.ggml.unknown_token_id", 0);
}

static size_t tiny_tensor_bytes(const TinyTensor *x) {
    return tensor_bytes((TensorType)x->type, x->ne1 ? (int64_t)x->ne1 : 1, (int64_t)x->ne0);
}

/* Tensor data: Q8_0 blocks are scale 1.0 (0x3C00) then int8 1..32; Q4_0 blocks scale 0.5
 * (0x3800) then nibbles 0x21; F16 values 1.0, except output_norm [1] = -2.0 (0xC000) and
 * [2] = 0x3555 = 0.25 * (1 + 341/1024) = 0.333251953125; F32 values (i + 1) * 0.5. */
static void tiny_data(Buf *b, const TinyTensor *x) {
    size_t n = tiny_tensor_bytes(x);
    unsigned char *d = calloc(1, n);
    for (size_t at = 0; at < n;) {
        if (x->type == TENSOR_Q8_0) {
            d[at] = 0x00, d[at + 1] = 0x3C;
            for (int k = 0; k < 32; k++) d[at + 2 + k] = (unsigned char)(k + 1);
            at += 34;
        } else if (x->type == TENSOR_Q4_0) {
            d[at] = 0x00, d[at + 1] = 0x38;
            memset(d + at + 2, 0x21, 16);
            at += 18;
        } else if (x->type == TENSOR_F16) {
            uint16_t h = 0x3C00;
            if (strcmp(x->name, "output_norm.weight") == 0 && at == 2) h = 0xC000;
            if (strcmp(x->name, "output_norm.weight") == 0 && at == 4) h = 0x3555;
            memcpy(d + at, &h, 2);
            at += 2;
        } else {
            float f = (float)(at / 4 + 1) * 0.5f;
            memcpy(d + at, &f, 4);
            at += 4;
        }
    }
    put(b, d, n);
    free(d);
}

static void pad_to(Buf *b, size_t alignment) {
    static const unsigned char zeros[TINY_ALIGN] = {0};
    if (b->size % alignment) put(b, zeros, alignment - b->size % alignment);
}

static Buf build_tiny_gguf(uint32_t version) {
    Buf meta = {0}, b = {0};
    tiny_metadata(&meta);
    put(&b, "GGUF", 4);
    put_u32(&b, version);
    put_u64(&b, TINY_TENSORS);
    put_u64(&b, (uint64_t)meta.n_keys);
    put(&b, meta.data, meta.size);
    free(meta.data);
    uint64_t offset = 0;
    for (size_t i = 0; i < TINY_TENSORS; i++) {
        const TinyTensor *x = &tiny_tensors[i];
        put_str(&b, x->name);
        put_u32(&b, x->ne1 ? 2 : 1);
        put_u64(&b, x->ne0);
        if (x->ne1) put_u64(&b, x->ne1);
        put_u32(&b, x->type);
        put_u64(&b, offset);
        offset += (tiny_tensor_bytes(x) + TINY_ALIGN - 1) / TINY_ALIGN * TINY_ALIGN;
    }
    for (size_t i = 0; i < TINY_TENSORS; i++) {
        pad_to(&b, TINY_ALIGN);
        tiny_data(&b, &tiny_tensors[i]);
    }
    return b;
}

static void check_tiny_config(TestContext *t, const Config *c) {
    CHECK(t, c->dim == 32 && c->hidden_dim == 64 && c->n_layers == 1, "dims");
    CHECK(t, c->n_heads == 2 && c->n_kv_heads == 1 && c->head_dim == 16 && c->rotary_dim == 8,
          "heads %d kv %d head_dim %d rotary %d", c->n_heads, c->n_kv_heads, c->head_dim,
          c->rotary_dim);
    CHECK(t, c->vocab_size == 4 && c->context_length == 128, "vocab/context");
    CHECK(t, c->rms_eps == 1e-6f, "eps %g", c->rms_eps);
    const RopeFileSettings *r = &c->rope;
    CHECK(t, r->freq_base == 500000.0 && strcmp(r->scaling_type, "yarn") == 0, "base/type");
    CHECK(t, r->scaling_factor == 4.0 && r->original_context == 32 && r->attn_factor == 1.25,
          "factor %g orig %d attn %g", r->scaling_factor, r->original_context, r->attn_factor);
    CHECK(t, r->beta_fast == 32.0 && r->beta_slow == 1.0, "betas");
    CHECK(t, c->rope_layout == ROPE_LAYOUT_HALF_SPLIT, "ropewalk.rope.layout half_split");
    REQUIRE(t, r->freq_factors, "rope_freqs.weight loaded");
    /* F32 pattern (i + 1) * 0.5 */
    CHECK(t, r->freq_factors[0] == 0.5f && r->freq_factors[3] == 2.0f, "freq factors");
    CHECK(t, r->long_factors == NULL && r->short_factors == NULL, "no longrope factors");
}

static void check_tiny_weights(TestContext *t, const Model *m) {
    const Weights *w = &m->weights;
    const LayerWeights *l = &w->layers[0];
    CHECK(t, l->wq.type == TENSOR_Q8_0 && l->wq.rows == 32 && l->wq.cols == 32, "wq Q8_0 32x32");
    CHECK(t, l->wk.type == TENSOR_Q4_0 && l->wk.rows == 16 && l->wk.cols == 32, "wk Q4_0 16x32");
    CHECK(t, l->wv.type == TENSOR_F16 && l->wo.type == TENSOR_F32 && l->wo.rows == 32, "wv wo");
    CHECK(t, l->w2.type == TENSOR_Q4_0 && l->w2.rows == 32 && l->w2.cols == 64, "w2 Q4_0 32x64");
    const unsigned char *q = l->wq.data, *k = l->wk.data;
    CHECK(t, q[0] == 0x00 && q[1] == 0x3C && q[2] == 1 && q[33] == 32, "Q8_0 block bytes");
    CHECK(t, k[1] == 0x38 && k[2] == 0x21 && k[17] == 0x21, "Q4_0 block bytes");
    CHECK(t, w->rms_final[0] == 1.0f && w->rms_final[1] == -2.0f &&
             w->rms_final[2] == 0.333251953125f, "F16 norm converted: %g %g %.12g",
          w->rms_final[0], w->rms_final[1], w->rms_final[2]);
    CHECK(t, l->rms_ffn[31] == 1.0f && l->rms_att[3] == 2.0f, "norms");
    CHECK(t, w->classifier.data == w->token_embedding.data, "no output.weight: shared");
    /* 512 + 64 + 128 + 64 + 1088 + 288 + 1024 + 4096 + 2176 + 1152 + 4096 + 16 (rope_freqs) */
    CHECK(t, m->weight_bytes == 14704, "weight_bytes %zu", m->weight_bytes);
    const ModelVocab *v = &m->vocab;
    CHECK(t, v->n_tokens == 4 && strcmp(v->pieces[3], "\xe2\x96\x81hi") == 0 &&
             v->scores[3] == -1.5f && v->types[0] == TOKEN_UNKNOWN, "vocab");
    CHECK(t, strcmp(m->name, "tiny") == 0, "name");
}

static void test_gguf_built_from_scratch(TestContext *t) {
    for (uint32_t version = 2; version <= 3; version++) {
        Buf b = build_tiny_gguf(version);
        const char *path = temp_path("tiny.gguf");
        REQUIRE(t, write_file(path, b.data, b.size) == 0, "write %s", path);
        free(b.data);
        Model m;
        if (!open_ok(t, &m, path)) return;
        check_tiny_config(t, &m.config);
        check_tiny_weights(t, &m);
        model_close(&m);
    }
}

/* ---- llama2.c variants rebuilt from stories260K.bin ---- */

/* Float offsets of the legacy blocks (PROVENANCE order, dim 64, kv_dim 32, hidden 172). */
enum {
    L_EMB = 0, L_RMS_ATT = 32768, L_WQ = L_RMS_ATT + 320, L_WK = L_WQ + 20480,
    L_WV = L_WK + 10240, L_WO = L_WV + 10240, L_RMS_FFN = L_WO + 20480, L_W1 = L_RMS_FFN + 320,
    L_W2 = L_W1 + 55040, L_W3 = L_W2 + 55040, L_RMS_FINAL = L_W3 + 55040, L_END = L_RMS_FINAL + 64
};

static void test_llama2c_version1(TestContext *t) {
    REQUIRE_SHARED(t, path, BIN_PATH);
    size_t size;
    char *legacy = read_file(path, &size);
    REQUIRE(t, legacy, "read");
    const float *f = (const float *)(legacy + 28);
    Buf b = {0};
    unsigned char header[256] = {0};
    uint32_t magic = 0x616b3432;
    int32_t version = 1;
    memcpy(header, &magic, 4);
    memcpy(header + 4, &version, 4);
    memcpy(header + 8, legacy, 28); /* the same 7 ints */
    header[36] = 1;                 /* shared classifier */
    put(&b, header, sizeof header);
    /* version 1 order: norms first, then embedding and the matrices */
    put(&b, f + L_RMS_ATT, 320 * 4);
    put(&b, f + L_RMS_FFN, 320 * 4);
    put(&b, f + L_RMS_FINAL, 64 * 4);
    put(&b, f + L_EMB, 32768 * 4);
    put(&b, f + L_WQ, (L_RMS_FFN - L_WQ) * 4); /* wq wk wv wo */
    put(&b, f + L_W1, (L_RMS_FINAL - L_W1) * 4); /* w1 w2 w3 */
    const char *v1_path = temp_path("v1.bin");
    REQUIRE(t, write_file(v1_path, b.data, b.size) == 0, "write");
    free(b.data);
    free(legacy);
    Model a, v1;
    if (!open_ok(t, &a, path)) return;
    if (!open_ok(t, &v1, v1_path)) { model_close(&a); return; }
    CHECK(t, v1.file_bytes == 256 + (size_t)L_END * 4, "v1 size");
    CHECK(t, same_matrix(&a.weights.token_embedding, &v1.weights.token_embedding), "embedding");
    CHECK(t, same_floats(a.weights.rms_final, v1.weights.rms_final, 64), "rms_final");
    for (int i = 0; i < 5; i++) {
        const LayerWeights *x = &a.weights.layers[i], *y = &v1.weights.layers[i];
        CHECK(t, same_floats(x->rms_att, y->rms_att, 64) && same_floats(x->rms_ffn, y->rms_ffn, 64) &&
                 same_matrix(&x->wq, &y->wq) && same_matrix(&x->wv, &y->wv) &&
                 same_matrix(&x->w2, &y->w2) && same_matrix(&x->w3, &y->w3), "layer %d", i);
    }
    CHECK(t, v1.config.context_length == 512 && v1.config.n_kv_heads == 4, "v1 config");
    model_close(&a);
    model_close(&v1);
}

/* Negative vocab_size: a classifier of vocab x dim floats follows the freq_cis tables. */
static void test_llama2c_separate_classifier(TestContext *t) {
    REQUIRE_SHARED(t, path, BIN_PATH);
    size_t size;
    char *legacy = read_file(path, &size);
    REQUIRE(t, legacy, "read");
    Buf b = {0};
    put(&b, legacy, size);
    int32_t negative_vocab = -512;
    memcpy(b.data + 20, &negative_vocab, 4);
    float *classifier = malloc(512 * 64 * sizeof(float));
    for (int i = 0; i < 512 * 64; i++) classifier[i] = (float)i;
    put(&b, classifier, 512 * 64 * sizeof(float));
    const char *out = temp_path("wcls.bin");
    REQUIRE(t, write_file(out, b.data, b.size) == 0, "write");
    free(b.data);
    free(legacy);
    free(classifier);
    Model m;
    if (!open_ok(t, &m, out)) return;
    const Matrix *c = &m.weights.classifier;
    CHECK(t, m.config.vocab_size == 512, "vocab %d", m.config.vocab_size);
    CHECK(t, c->data != m.weights.token_embedding.data && c->rows == 512 && c->cols == 64,
          "separate classifier");
    CHECK(t, ((const float *)c->data)[0] == 0.0f && ((const float *)c->data)[1000] == 1000.0f,
          "classifier values are the appended block");
    model_close(&m);
}

static const TestCase model_tests[] = {
    {"tensor_bytes", test_tensor_bytes},
    {"bin_header", test_bin_header},
    {"bin_layout_ends_at_freq_tables", test_bin_layout_ends_at_freq_tables},
    {"gguf_stories_metadata", test_gguf_stories_metadata},
    {"gguf_stories_vocab", test_gguf_stories_vocab},
    {"gguf_container_counts", test_gguf_container_counts},
    {"bin_equals_gguf", test_bin_equals_gguf},
    {"gguf_f16_random", test_gguf_f16_random},
    {"gguf_built_from_scratch", test_gguf_built_from_scratch},
    {"llama2c_version1", test_llama2c_version1},
    {"llama2c_separate_classifier", test_llama2c_separate_classifier},
    {NULL, NULL},
};

TEST_SUITE(models, model_tests)
