/* gguf_model.c — gguf_open_model(): maps a GGUF file of a llama-family architecture and
 * turns it into a Model: hyper-parameters and RoPE settings from the architecture's keys
 * (llama.*, qwen2.*), weight tensors checked for shape and type (and refused when the model
 * would ignore them), then the vocabulary (gguf_vocab.c). */
#include "gguf_reader.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "../util/half.h"
enum { OPTIONAL = 0, REQUIRED = 1 };

/* The llama-family architectures: the same decoder, differing only in the pair layout of
 * RoPE and in which biases their files may carry (llama.cpp's loaders: llama takes optional
 * q/k/v and attention-output biases, qwen2 optional q/k/v biases and rotates half-split
 * pairs, its LLAMA_ROPE_TYPE_NEOX). Others are refused by name. */
typedef struct {
    const char *name;
    RopeLayout layout;
    int output_bias; /* attn_output.bias allowed */
} Architecture;

static const Architecture ARCHITECTURES[] = {
    {"llama", ROPE_LAYOUT_INTERLEAVED, 1},
    {"qwen2", ROPE_LAYOUT_HALF_SPLIT, 0},
};

static const Architecture *architecture(const GgufReader *r) {
    for (size_t i = 0; i < sizeof ARCHITECTURES / sizeof ARCHITECTURES[0]; i++)
        if (strcmp(r->arch, ARCHITECTURES[i].name) == 0) return &ARCHITECTURES[i];
    return &ARCHITECTURES[0];
}

static const GgufKv *find_llama_kv(const GgufReader *r, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", r->arch, suffix);
    return gguf_find_kv(r->file, key);
}

/* An int hyper-parameter; `fallback` when absent (an error when required). */
static int read_int_key(GgufReader *r, const char *suffix, int required, int fallback, int *out) {
    const GgufKv *kv = find_llama_kv(r, suffix);
    if (!kv) {
        if (required) return fail(r->err, r->err_size, "missing key '%s.%s'", r->arch, suffix);
        *out = fallback;
        return 0;
    }
    int64_t value;
    if (gguf_kv_int(kv, &value, r->err, r->err_size)) return -1;
    if (value < 0 || value > INT_MAX)
        return fail(r->err, r->err_size, "key '%s.%s' value %lld is out of range", r->arch,
                    suffix, (long long)value);
    *out = (int)value;
    return 0;
}

static int read_float_key(GgufReader *r, const char *suffix, double fallback, double *out) {
    const GgufKv *kv = find_llama_kv(r, suffix);
    *out = fallback;
    return kv ? gguf_kv_float(kv, out, r->err, r->err_size) : 0;
}

int gguf_reader_copy_string(GgufReader *r, const GgufKv *kv, char *out, size_t out_size) {
    GgufString s = {NULL, 0};
    if (gguf_kv_string(kv, &s, r->err, r->err_size)) return -1;
    if (s.length >= out_size || memchr(s.bytes, 0, (size_t)s.length))
        return fail(r->err, r->err_size, "key '%.*s': value '%.*s' is too long or contains NUL",
                    gguf_print_len(kv->key), kv->key.bytes, gguf_print_len(s), s.bytes);
    memcpy(out, s.bytes, (size_t)s.length);
    out[s.length] = 0;
    return 0;
}

static int check_architecture(GgufReader *r) {
    const GgufKv *kv = gguf_find_kv(r->file, "general.architecture");
    if (!kv) return fail(r->err, r->err_size, "missing key 'general.architecture'");
    char arch[64];
    if (gguf_reader_copy_string(r, kv, arch, sizeof arch)) return -1;
    for (size_t i = 0; i < sizeof ARCHITECTURES / sizeof ARCHITECTURES[0]; i++)
        if (strcmp(arch, ARCHITECTURES[i].name) == 0) {
            r->arch = ARCHITECTURES[i].name;
            return 0;
        }
    return fail(r->err, r->err_size, "unsupported architecture '%s' (only 'llama' and 'qwen2')",
                arch);
}

static int read_rope_settings(GgufReader *r) {
    RopeFileSettings *s = &r->model->config.rope;
    const GgufKv *type = find_llama_kv(r, "rope.scaling.type");
    if (type && gguf_reader_copy_string(r, type, s->scaling_type, sizeof s->scaling_type)) return -1;
    if (read_float_key(r, "rope.freq_base", 10000.0, &s->freq_base) ||
        read_float_key(r, "rope.scaling.factor", 0, &s->scaling_factor) ||
        read_int_key(r, "rope.scaling.original_context_length", OPTIONAL, 0,
                     &s->original_context) ||
        read_float_key(r, "rope.scaling.attn_factor", 0, &s->attn_factor) ||
        read_float_key(r, "rope.scaling.yarn_beta_fast", 0, &s->beta_fast) ||
        read_float_key(r, "rope.scaling.yarn_beta_slow", 0, &s->beta_slow) ||
        read_float_key(r, "rope.scaling.low_freq_factor", 0, &s->low_freq_factor) ||
        read_float_key(r, "rope.scaling.high_freq_factor", 0, &s->high_freq_factor))
        return -1;
    if (s->attn_factor == 0 &&
        read_float_key(r, "rope.scaling.yarn_attn_factor", 0, &s->attn_factor))
        return -1;
    /* Older llama.cpp files say linear scaling with rope.scale_linear alone. */
    if (s->scaling_factor == 0 && find_llama_kv(r, "rope.scale_linear")) {
        if (read_float_key(r, "rope.scale_linear", 0, &s->scaling_factor)) return -1;
        if (!s->scaling_type[0]) snprintf(s->scaling_type, sizeof s->scaling_type, "linear");
    }
    return 0;
}

/* The architecture's pair layout (interleaved for llama, half-split for qwen2, as llama.cpp
 * rotates them); our own converter may say it explicitly with ropewalk.rope.layout
 * ("interleaved" or "half_split"). */
static int read_rope_layout(GgufReader *r) {
    Config *c = &r->model->config;
    c->rope_layout = architecture(r)->layout;
    const GgufKv *kv = gguf_find_kv(r->file, "ropewalk.rope.layout");
    char layout[32];
    if (!kv) return 0;
    if (gguf_reader_copy_string(r, kv, layout, sizeof layout)) return -1;
    if (strcmp(layout, "half_split") == 0) c->rope_layout = ROPE_LAYOUT_HALF_SPLIT;
    else if (strcmp(layout, "interleaved") != 0)
        return fail(r->err, r->err_size, "unknown ropewalk.rope.layout '%s'", layout);
    return 0;
}

static int read_config(GgufReader *r) {
    Config *c = &r->model->config;
    if (read_int_key(r, "context_length", REQUIRED, 0, &c->context_length) ||
        read_int_key(r, "embedding_length", REQUIRED, 0, &c->dim) ||
        read_int_key(r, "feed_forward_length", REQUIRED, 0, &c->hidden_dim) ||
        read_int_key(r, "block_count", REQUIRED, 0, &c->n_layers) ||
        read_int_key(r, "attention.head_count", REQUIRED, 0, &c->n_heads) ||
        read_int_key(r, "attention.head_count_kv", OPTIONAL, c->n_heads, &c->n_kv_heads))
        return -1;
    int divides = c->n_heads > 0 && c->dim % c->n_heads == 0;
    int value_dim;
    if (read_int_key(r, "attention.key_length", OPTIONAL, divides ? c->dim / c->n_heads : 0,
                     &c->head_dim) ||
        read_int_key(r, "attention.value_length", OPTIONAL, c->head_dim, &value_dim) ||
        read_int_key(r, "rope.dimension_count", OPTIONAL, c->head_dim, &c->rotary_dim))
        return -1;
    if (value_dim != c->head_dim)
        return fail(r->err, r->err_size, "attention.value_length %d differs from key_length %d "
                    "(unsupported)", value_dim, c->head_dim);
    double eps;
    if (read_float_key(r, "attention.layer_norm_rms_epsilon", 1e-5, &eps)) return -1;
    c->rms_eps = (float)eps;
    return read_rope_layout(r) || read_rope_settings(r) ? -1 : 0;
}

/* The unique tensor of that name; NULL (with a message when required) if absent. */
static int find_tensor(GgufReader *r, const char *name, int required, const GgufTensorInfo **out) {
    *out = NULL;
    for (uint64_t i = 0; i < r->file->n_tensors; i++) {
        if (!gguf_string_equals(r->file->tensors[i].name, name)) continue;
        if (*out) return fail(r->err, r->err_size, "duplicate tensor '%s'", name);
        *out = &r->file->tensors[i];
        r->used[i] = 1;
    }
    if (!*out && required) return fail(r->err, r->err_size, "missing tensor '%s'", name);
    return 0;
}

/* ne must be [ne0, ne1] (ne1 == 1 allows a vector written with one or two dims). */
static int check_shape(GgufReader *r, const GgufTensorInfo *t, int64_t ne0, int64_t ne1) {
    if (t->ne[0] == (uint64_t)ne0 && t->ne[1] == (uint64_t)ne1 && t->ne[2] == 1 && t->ne[3] == 1)
        return 0;
    return fail(r->err, r->err_size, "tensor '%.*s' has shape [%llu,%llu,%llu,%llu], expected "
                "[%lld,%lld]", gguf_print_len(t->name), t->name.bytes, (unsigned long long)t->ne[0],
                (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                (unsigned long long)t->ne[3], (long long)ne0, (long long)ne1);
}

static int is_matrix_type(uint32_t type) {
    const TensorTypeInfo *info = tensor_type_info(type);
    return info && info->computed;
}

/* A rows x cols matrix stored as ne = [cols, rows]; zero-copy. */
static int load_matrix(GgufReader *r, const char *name, int64_t rows, int64_t cols, Matrix *out) {
    const GgufTensorInfo *t;
    if (find_tensor(r, name, REQUIRED, &t)) return -1;
    if (!is_matrix_type(t->type))
        return fail(r->err, r->err_size, "tensor '%s' has type %s, which the engine does not "
                    "compute (matrices: %s)", name, tensor_type_name((TensorType)t->type),
                    tensor_types_computed());
    if (check_shape(r, t, cols, rows)) return -1;
    *out = (Matrix){t->data, (TensorType)t->type, (int)rows, (int)cols, NULL};
    r->model->weight_bytes += (size_t)t->n_bytes;
    return 0;
}

/* A vector of n floats: zero-copy for F32, converted into a model-owned buffer for F16. */
static int load_vector(GgufReader *r, const char *name, int required, int64_t n, const float **out) {
    const GgufTensorInfo *t;
    *out = NULL;
    if (find_tensor(r, name, required, &t)) return -1;
    if (!t) return 0;
    if (t->type != TENSOR_F32 && t->type != TENSOR_F16)
        return fail(r->err, r->err_size, "tensor '%s' has unsupported type %u (vectors: F32, F16)",
                    name, t->type);
    if (check_shape(r, t, n, 1)) return -1;
    r->model->weight_bytes += (size_t)t->n_bytes;
    if (t->type == TENSOR_F32) {
        *out = t->data;
        return 0;
    }
    float *converted = model_owned_alloc(r->model, (size_t)n * sizeof(float));
    if (!converted) return fail(r->err, r->err_size, "out of memory converting '%s'", name);
    const uint8_t *half = t->data;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h;
        memcpy(&h, half + 2 * i, 2);
        converted[i] = half_to_float(h);
    }
    *out = converted;
    return 0;
}

/* blk.i.attn_{q,k,v}.bias (and attn_output.bias where the architecture has it), optional. */
static int load_biases(GgufReader *r, int i, LayerWeights *l) {
    const Config *c = &r->model->config;
    int64_t q_dim = (int64_t)c->n_heads * c->head_dim, kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    char name[4][64];
    static const char *parts[4] = {"attn_q", "attn_k", "attn_v", "attn_output"};
    for (int k = 0; k < 4; k++) snprintf(name[k], sizeof name[k], "blk.%d.%s.bias", i, parts[k]);
    if (load_vector(r, name[0], OPTIONAL, q_dim, &l->bq) ||
        load_vector(r, name[1], OPTIONAL, kv_dim, &l->bk) ||
        load_vector(r, name[2], OPTIONAL, kv_dim, &l->bv))
        return -1;
    return architecture(r)->output_bias ? load_vector(r, name[3], OPTIONAL, c->dim, &l->bo) : 0;
}

static int load_layer(GgufReader *r, int i) {
    const Config *c = &r->model->config;
    LayerWeights *l = &r->model->weights.layers[i];
    int64_t q_dim = (int64_t)c->n_heads * c->head_dim, kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    char name[8][64];
    static const char *parts[8] = {"attn_norm", "ffn_norm", "attn_q", "attn_k", "attn_v",
                                   "attn_output", "ffn_gate", "ffn_down"};
    for (int k = 0; k < 8; k++) snprintf(name[k], sizeof name[k], "blk.%d.%s.weight", i, parts[k]);
    char up[64];
    snprintf(up, sizeof up, "blk.%d.ffn_up.weight", i);
    if (load_vector(r, name[0], REQUIRED, c->dim, &l->rms_att) ||
        load_vector(r, name[1], REQUIRED, c->dim, &l->rms_ffn) ||
        load_matrix(r, name[2], q_dim, c->dim, &l->wq) ||
        load_matrix(r, name[3], kv_dim, c->dim, &l->wk) ||
        load_matrix(r, name[4], kv_dim, c->dim, &l->wv) ||
        load_matrix(r, name[5], c->dim, q_dim, &l->wo) ||
        load_matrix(r, name[6], c->hidden_dim, c->dim, &l->w1) ||
        load_matrix(r, name[7], c->dim, c->hidden_dim, &l->w2) ||
        load_matrix(r, up, c->hidden_dim, c->dim, &l->w3))
        return -1;
    return load_biases(r, i, l);
}

/* vocab_size comes from token_embd.weight: ne = [dim, vocab]. */
static int read_vocab_size(GgufReader *r) {
    Config *c = &r->model->config;
    const GgufTensorInfo *t;
    if (find_tensor(r, "token_embd.weight", REQUIRED, &t)) return -1;
    if (t->n_dims != 2 || t->ne[0] != (uint64_t)c->dim || t->ne[1] > INT_MAX)
        return fail(r->err, r->err_size, "tensor 'token_embd.weight' has shape [%llu,%llu] "
                    "(n_dims %u), expected [%d, vocab]", (unsigned long long)t->ne[0],
                    (unsigned long long)t->ne[1], t->n_dims, c->dim);
    c->vocab_size = (int)t->ne[1];
    return 0;
}

/* Per-pair RoPE factors (rotary_dim/2 each): theta_k is divided by them, so > 0 and finite. */
static int load_factors(GgufReader *r, const char *name, const float **out) {
    int pairs = r->model->config.rotary_dim / 2;
    if (load_vector(r, name, OPTIONAL, pairs, out)) return -1;
    for (int k = 0; *out && k < pairs; k++)
        if (!isfinite((*out)[k]) || (*out)[k] <= 0)
            return fail(r->err, r->err_size, "tensor '%s' value %g at pair %d is not a finite "
                        "number > 0", name, (*out)[k], k);
    return 0;
}

static int read_rope_factors(GgufReader *r) {
    RopeFileSettings *rope = &r->model->config.rope;
    if (load_factors(r, "rope_freqs.weight", &rope->freq_factors) ||
        load_factors(r, "rope_factors_long.weight", &rope->long_factors) ||
        load_factors(r, "rope_factors_short.weight", &rope->short_factors))
        return -1;
    return 0;
}

static int read_weights(GgufReader *r) {
    Model *m = r->model;
    const Config *c = &m->config;
    Weights *w = &m->weights;
    w->layers = calloc((size_t)c->n_layers, sizeof *w->layers);
    if (!w->layers) return fail(r->err, r->err_size, "out of memory for %d layers", c->n_layers);
    if (load_matrix(r, "token_embd.weight", c->vocab_size, c->dim, &w->token_embedding) ||
        load_vector(r, "output_norm.weight", REQUIRED, c->dim, &w->rms_final))
        return -1;
    const GgufTensorInfo *output;
    if (find_tensor(r, "output.weight", OPTIONAL, &output)) return -1;
    if (!output) w->classifier = w->token_embedding;
    else if (load_matrix(r, "output.weight", c->vocab_size, c->dim, &w->classifier)) return -1;
    for (int i = 0; i < c->n_layers; i++)
        if (load_layer(r, i)) return -1;
    return read_rope_factors(r);
}

static void read_name(GgufReader *r) {
    const GgufKv *kv = gguf_find_kv(r->file, "general.name");
    if (!kv || kv->type != GGUF_STRING) return;
    int length = (int)(kv->value.s.length < sizeof r->model->name - 1
                           ? kv->value.s.length : sizeof r->model->name - 1);
    snprintf(r->model->name, sizeof r->model->name, "%.*s", length, kv->value.s.bytes);
}

/* Like llama.cpp, refuse tensors the model would ignore (experts, fused qkv, ...): running
 * without them would be a silently different model. */
static int check_all_used(GgufReader *r) {
    for (uint64_t i = 0; i < r->file->n_tensors; i++) {
        const GgufTensorInfo *t = &r->file->tensors[i];
        if (!r->used[i])
            return fail(r->err, r->err_size, "tensor '%.*s' is not part of a %s model "
                        "(unsupported feature)", gguf_print_len(t->name), t->name.bytes, r->arch);
    }
    return 0;
}

static int read_model(GgufReader *r) {
    if (check_architecture(r) || read_config(r) || read_vocab_size(r) ||
        model_validate_config(&r->model->config, r->err, r->err_size) || read_weights(r) ||
        check_all_used(r) || gguf_read_vocab(r))
        return -1;
    read_name(r);
    return 0;
}

int gguf_map_and_parse(Model *model, const char *path, GgufFile *file, char *err,
                       size_t err_size) {
    memset(model, 0, sizeof *model);
    if (model_map_file(model, path, err, err_size)) return -1;
    model->format = MODEL_FORMAT_GGUF;
    if (gguf_parse(file, model->mapping, model->mapping_size, err, err_size)) {
        model_close(model);
        return -1;
    }
    return 0;
}

int gguf_open_model(Model *model, const char *path, char *err, size_t err_size) {
    GgufFile file;
    if (gguf_map_and_parse(model, path, &file, err, err_size)) return -1;
    GgufReader reader = {model, &file, "llama", calloc((size_t)file.n_tensors + 1, 1), err, err_size};
    int rc = reader.used ? 0 : fail(err, err_size, "out of memory");
    if (rc == 0 && file.n_tensors == 0)
        rc = fail(err, err_size, "'%s' holds a vocabulary and no weights: it opens only for "
                  "--tokenize and --detokenize", path);
    if (rc == 0) rc = read_model(&reader);
    free(reader.used);
    gguf_free(&file);
    if (rc == 0) rc = model_finish(model, path, err, err_size);
    if (rc != 0) model_close(model);
    return rc;
}
