/* convert_llama2c.c — the `convert_llama2c` tool: a llama2.c checkpoint (.bin, read by
 * models/llama2c.c) plus its SentencePiece .model -> a GGUF v3 file of architecture
 * `llama`, with the metadata keys and tensor names llama.cpp's convert-llama2c uses, and
 * the .model's whitespace rules (tokenizer.ggml.add_space_prefix / remove_extra_whitespaces,
 * as llama.cpp's HF converter writes them).
 * llama2.c rotates interleaved pairs (x[2k], x[2k+1]), which is what GGUF `llama` means,
 * so Q and K are written unpermuted (the key ropewalk.rope.layout says so).
 * IN may also be a GGUF this tool wrote (F32/F16 matrices, no RoPE scaling keys): it is
 * re-exported with the vocabulary keys of TOKENIZER.model and the same weights (F16 -> F32
 * -> F16 is exact), which is how a committed model gains keys without its checkpoint.
 *   convert_llama2c IN.bin|IN.gguf TOKENIZER.model OUT.gguf [--type f32|f16|q8_0]
 *                   [--context-length N] [--name NAME]                                 */
#include "../models/gguf_writer.h"
#include "../models/model.h"
#include "../tokenizer/vocab_export.h"
#include "../util/errors.h"
#include "../util/half.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *input, *tokenizer, *output;
    TensorType type;
    int context_length; /* 0: the checkpoint's */
    const char *name;   /* NULL: the checkpoint's base name */
} Options;

static const char USAGE[] =
    "usage: convert_llama2c IN.bin|IN.gguf TOKENIZER.model OUT.gguf [--type f32|f16|q8_0]\n"
    "                       [--context-length N] [--name NAME]\n"
    "  --type            weight matrices' type (norms stay f32); default f16\n"
    "  --context-length  llama.context_length to declare; default the checkpoint's seq_len\n"
    "  --name            general.name; default the checkpoint's file name\n";

/* ---------------------------------------------------------------- command line */

static int parse_type(const char *text, TensorType *type, char *err, size_t err_size) {
    if (strcmp(text, "f32") == 0) *type = TENSOR_F32;
    else if (strcmp(text, "f16") == 0) *type = TENSOR_F16;
    else if (strcmp(text, "q8_0") == 0) *type = TENSOR_Q8_0;
    else return fail(err, err_size, "--type '%s' is not one of f32, f16, q8_0", text);
    return 0;
}

static int parse_positive(const char *flag, const char *text, int *out, char *err,
                          size_t err_size) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value <= 0 || value > (1L << 24))
        return fail(err, err_size, "%s '%s' is not a whole number in 1..%ld", flag, text,
                    1L << 24);
    *out = (int)value;
    return 0;
}

static int parse_flag(Options *o, const char *flag, const char *value, char *err,
                      size_t err_size) {
    if (!value) return fail(err, err_size, "%s needs a value", flag);
    if (strcmp(flag, "--type") == 0) return parse_type(value, &o->type, err, err_size);
    if (strcmp(flag, "--context-length") == 0)
        return parse_positive(flag, value, &o->context_length, err, err_size);
    if (strcmp(flag, "--name") == 0) {
        if (!value[0]) return fail(err, err_size, "--name is empty");
        o->name = value;
        return 0;
    }
    return fail(err, err_size, "unknown option '%s'", flag);
}

static int parse_options(int argc, char **argv, Options *o, char *err, size_t err_size) {
    const char **positional[] = {&o->input, &o->tokenizer, &o->output};
    int n_positional = 0;
    memset(o, 0, sizeof *o);
    o->type = TENSOR_F16;
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) == 0) {
            if (parse_flag(o, argv[i], i + 1 < argc ? argv[i + 1] : NULL, err, err_size))
                return -1;
            i++;
        } else if (n_positional < 3) {
            *positional[n_positional++] = argv[i];
        } else {
            return fail(err, err_size, "unexpected extra argument '%s'", argv[i]);
        }
    }
    if (n_positional < 3)
        return fail(err, err_size, "expected IN.bin|IN.gguf TOKENIZER.model OUT.gguf, got %d of them",
                    n_positional);
    return 0;
}

/* ---------------------------------------------------------------- metadata */

static uint32_t file_type(TensorType type) { /* llama.cpp's general.file_type */
    return type == TENSOR_F32 ? 0 : type == TENSOR_F16 ? 1 : 7;
}

static int add_model_keys(GgufWriter *w, const Model *m, const Options *o, char *err,
                          size_t err_size) {
    const Config *c = &m->config;
    int context = o->context_length ? o->context_length : c->context_length;
    return gguf_writer_add_string(w, "general.architecture", "llama", err, err_size) ||
           gguf_writer_add_string(w, "general.name", o->name ? o->name : m->name, err,
                                  err_size) ||
           gguf_writer_add_u32(w, "general.file_type", file_type(o->type), err, err_size) ||
           gguf_writer_add_u32(w, "llama.context_length", (uint32_t)context, err, err_size) ||
           gguf_writer_add_u32(w, "llama.embedding_length", (uint32_t)c->dim, err, err_size) ||
           gguf_writer_add_u32(w, "llama.feed_forward_length", (uint32_t)c->hidden_dim, err,
                               err_size) ||
           gguf_writer_add_u32(w, "llama.block_count", (uint32_t)c->n_layers, err, err_size) ||
           gguf_writer_add_u32(w, "llama.attention.head_count", (uint32_t)c->n_heads, err,
                               err_size) ||
           gguf_writer_add_u32(w, "llama.attention.head_count_kv", (uint32_t)c->n_kv_heads,
                               err, err_size) ||
           gguf_writer_add_u32(w, "llama.rope.dimension_count", (uint32_t)c->rotary_dim, err,
                               err_size) ||
           gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", c->rms_eps, err,
                               err_size) ||
           gguf_writer_add_f32(w, "llama.rope.freq_base", (float)c->rope.freq_base, err,
                               err_size) ||
           gguf_writer_add_string(w, "ropewalk.rope.layout", "interleaved", err, err_size)
               ? -1 : 0;
}

static int add_vocab_keys(GgufWriter *w, const ExportedVocab *v, char *err, size_t err_size) {
    const char *const *pieces = (const char *const *)v->pieces;
    if (gguf_writer_add_string(w, "tokenizer.ggml.model", "llama", err, err_size) ||
        gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", pieces, v->piece_lengths,
                                     v->n_tokens, err, err_size) ||
        gguf_writer_add_f32_array(w, "tokenizer.ggml.scores", v->scores, v->n_tokens, err,
                                  err_size) ||
        gguf_writer_add_i32_array(w, "tokenizer.ggml.token_type", (const int32_t *)v->types,
                                  v->n_tokens, err, err_size))
        return -1;
    const char *keys[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id"};
    const int ids[] = {v->bos_id, v->eos_id, v->unk_id};
    for (int i = 0; i < 3; i++)
        if (ids[i] >= 0 && gguf_writer_add_u32(w, keys[i], (uint32_t)ids[i], err, err_size))
            return -1;
    const TokenizerNormalizer *rules = &v->normalizer.flags;
    return gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", rules->add_space_prefix,
                                err, err_size) ||
           gguf_writer_add_bool(w, "tokenizer.ggml.remove_extra_whitespaces",
                                rules->remove_extra_whitespaces, err, err_size)
               ? -1 : 0;
}

/* The built-in tokenizer follows SentencePiece's identity rule and its whitespace flags;
 * a model that maps characters (nmt_nfkc, a charsmap) would tokenize differently. */
static int check_normalizer(const char *path, const SpmNormalizerSpec *spec, char *err,
                            size_t err_size) {
    if (spec->charsmap_bytes > 0 || !spec->escape_whitespaces)
        return fail(err, err_size, "'%s' uses normalizer '%s' (%zu-byte character map, "
                    "escape_whitespaces %d): the built-in tokenizer follows only 'identity' with "
                    "spaces escaped", path, spec->name, spec->charsmap_bytes,
                    spec->escape_whitespaces);
    return 0;
}

/* ---------------------------------------------------------------- tensors */

/* The writer keeps pointers to float data until it writes: F16 matrices of a GGUF input
 * are widened into buffers that live as long as the Converter. */
typedef struct {
    GgufWriter *writer;
    TensorType type;
    float **widened;
    int n_widened, capacity;
    char *err;
    size_t err_size;
} Converter;

static const float *float_data(Converter *cv, const char *name, const Matrix *m) {
    if (m->type == TENSOR_F32) return m->data;
    if (m->type != TENSOR_F16 || cv->n_widened == cv->capacity) {
        fail(cv->err, cv->err_size, "tensor '%s' is %s in the input, not f32 or f16", name,
             tensor_type_name(m->type));
        return NULL;
    }
    size_t n = (size_t)m->rows * (size_t)m->cols;
    float *out = malloc(n * sizeof *out);
    if (!out) {
        fail(cv->err, cv->err_size, "out of memory widening '%s'", name);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) out[i] = half_to_float(((const uint16_t *)m->data)[i]);
    return cv->widened[cv->n_widened++] = out;
}

static int add_matrix(Converter *cv, const char *name, const Matrix *m) {
    const float *data = float_data(cv, name, m);
    if (!data) return -1;
    uint64_t ne[2] = {(uint64_t)m->cols, (uint64_t)m->rows}; /* GGML order: row length first */
    TensorType type = cv->type;
    if (type == TENSOR_Q8_0 && m->cols % QK_BLOCK != 0) { /* as llama.cpp: fall back */
        fprintf(stderr, "convert_llama2c: %s has rows of %d (not a multiple of %d): "
                "written as f16, not q8_0\n", name, m->cols, QK_BLOCK);
        type = TENSOR_F16;
    }
    return gguf_writer_add_tensor(cv->writer, name, data, 2, ne, type, cv->err, cv->err_size);
}

static int add_vector(Converter *cv, const char *name, const float *data, int length) {
    uint64_t ne[1] = {(uint64_t)length};
    return gguf_writer_add_tensor(cv->writer, name, data, 1, ne, TENSOR_F32, cv->err,
                                  cv->err_size);
}

static int add_layer(Converter *cv, int i, const LayerWeights *l, int dim) {
    static const char *const parts[] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_gate", "ffn_down", "ffn_up"};
    const Matrix *matrices[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w1, &l->w2, &l->w3};
    char name[64];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", i);
    if (add_vector(cv, name, l->rms_att, dim)) return -1;
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", i);
    if (add_vector(cv, name, l->rms_ffn, dim)) return -1;
    for (int k = 0; k < 7; k++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", i, parts[k]);
        if (add_matrix(cv, name, matrices[k])) return -1;
    }
    return 0;
}

static int add_tensors(Converter *cv, const Model *m) {
    const Weights *wt = &m->weights;
    const Config *c = &m->config;
    if (add_matrix(cv, "token_embd.weight", &wt->token_embedding) ||
        add_vector(cv, "output_norm.weight", wt->rms_final, c->dim))
        return -1;
    /* A shared classifier is left out: readers then use token_embd.weight, as llama.cpp does. */
    if (wt->classifier.data != wt->token_embedding.data &&
        add_matrix(cv, "output.weight", &wt->classifier))
        return -1;
    for (int i = 0; i < c->n_layers; i++)
        if (add_layer(cv, i, &wt->layers[i], c->dim)) return -1;
    return 0;
}

/* ---------------------------------------------------------------- main */

/* A GGUF input is re-exported only when this tool's keys describe it completely. */
static int check_input(const Options *o, const Model *m, char *err, size_t err_size) {
    if (m->format == MODEL_FORMAT_LLAMA2C) return 0;
    const RopeFileSettings *r = &m->config.rope;
    if (m->config.rope_layout != ROPE_LAYOUT_INTERLEAVED || r->scaling_type[0] ||
        r->freq_factors || r->long_factors || r->short_factors)
        return fail(err, err_size, "'%s' carries RoPE settings beyond a base and interleaved "
                    "pairs: this tool would drop them", o->input);
    return 0;
}

static int convert(const Options *o, const Model *m, const ExportedVocab *v, char *err,
                   size_t err_size) {
    if (check_input(o, m, err, err_size) ||
        check_normalizer(o->tokenizer, &v->normalizer, err, err_size))
        return -1;
    if (v->n_tokens != m->config.vocab_size)
        return fail(err, err_size, "'%s' has %d pieces but the checkpoint's vocab_size is %d",
                    o->tokenizer, v->n_tokens, m->config.vocab_size);
    int capacity = 2 + 7 * m->config.n_layers;
    Converter cv = {gguf_writer_new(err, err_size), o->type, calloc((size_t)capacity,
                    sizeof(float *)), 0, capacity, err, err_size};
    int status = !cv.writer || !cv.widened || add_model_keys(cv.writer, m, o, err, err_size) ||
                 add_vocab_keys(cv.writer, v, err, err_size) || add_tensors(&cv, m) ||
                 gguf_writer_write(cv.writer, o->output, err, err_size) ? -1 : 0;
    if (!cv.widened && cv.writer) status = fail(err, err_size, "out of memory");
    for (int i = 0; i < cv.n_widened; i++) free(cv.widened[i]);
    free(cv.widened);
    gguf_writer_free(cv.writer);
    return status;
}

int main(int argc, char **argv) {
    char err[ERR_LEN] = "";
    Options options;
    if (parse_options(argc, argv, &options, err, sizeof err)) {
        fprintf(stderr, "convert_llama2c: %s\n%s", err, USAGE);
        return 2;
    }
    Model model;
    ExportedVocab vocab;
    int status = model_open(&model, options.input, err, sizeof err);
    if (status == 0) {
        status = exported_vocab_load(options.tokenizer, &vocab, err, sizeof err);
        if (status == 0) status = convert(&options, &model, &vocab, err, sizeof err);
        exported_vocab_free(&vocab);
        model_close(&model);
    }
    if (status != 0) {
        fprintf(stderr, "convert_llama2c: %s\n", err);
        return 1;
    }
    fprintf(stderr, "convert_llama2c: wrote %s\n", options.output);
    return 0;
}
