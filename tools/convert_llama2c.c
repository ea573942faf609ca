/* convert_llama2c.c — the `convert_llama2c` tool: a llama2.c checkpoint (.bin, read by
 * models/llama2c.c) plus its SentencePiece .model -> a GGUF v3 file of architecture
 * `llama`, with the metadata keys and tensor names llama.cpp's convert-llama2c uses.
 * llama2.c rotates interleaved pairs (x[2k], x[2k+1]), which is what GGUF `llama` means,
 * so Q and K are written unpermuted (the key ropewalk.rope.layout says so).
 *   convert_llama2c IN.bin TOKENIZER.model OUT.gguf [--type f32|f16|q8_0]
 *                   [--context-length N] [--name NAME]                                 */
#include "../models/gguf_writer.h"
#include "../models/model.h"
#include "../tokenizer/vocab_export.h"
#include "../util/errors.h"

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
    "usage: convert_llama2c IN.bin TOKENIZER.model OUT.gguf [--type f32|f16|q8_0]\n"
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
        return fail(err, err_size, "expected IN.bin TOKENIZER.model OUT.gguf, got %d of them",
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
    return 0;
}

/* ---------------------------------------------------------------- tensors */

static int add_matrix(GgufWriter *w, const char *name, const Matrix *m, TensorType type,
                      char *err, size_t err_size) {
    if (m->type != TENSOR_F32)
        return fail(err, err_size, "tensor '%s' is %s in the checkpoint, not f32", name,
                    tensor_type_name(m->type));
    uint64_t ne[2] = {(uint64_t)m->cols, (uint64_t)m->rows}; /* GGML order: row length first */
    if (type == TENSOR_Q8_0 && m->cols % QK_BLOCK != 0) { /* as llama.cpp: fall back */
        fprintf(stderr, "convert_llama2c: %s has rows of %d (not a multiple of %d): "
                "written as f16, not q8_0\n", name, m->cols, QK_BLOCK);
        type = TENSOR_F16;
    }
    return gguf_writer_add_tensor(w, name, m->data, 2, ne, type, err, err_size);
}

static int add_vector(GgufWriter *w, const char *name, const float *data, int length,
                      char *err, size_t err_size) {
    uint64_t ne[1] = {(uint64_t)length};
    return gguf_writer_add_tensor(w, name, data, 1, ne, TENSOR_F32, err, err_size);
}

static int add_layer(GgufWriter *w, int i, const LayerWeights *l, int dim, TensorType type,
                     char *err, size_t err_size) {
    static const char *const parts[] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_gate", "ffn_down", "ffn_up"};
    const Matrix *matrices[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w1, &l->w2, &l->w3};
    char name[64];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", i);
    if (add_vector(w, name, l->rms_att, dim, err, err_size)) return -1;
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", i);
    if (add_vector(w, name, l->rms_ffn, dim, err, err_size)) return -1;
    for (int k = 0; k < 7; k++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", i, parts[k]);
        if (add_matrix(w, name, matrices[k], type, err, err_size)) return -1;
    }
    return 0;
}

static int add_tensors(GgufWriter *w, const Model *m, TensorType type, char *err,
                       size_t err_size) {
    const Weights *wt = &m->weights;
    const Config *c = &m->config;
    if (add_matrix(w, "token_embd.weight", &wt->token_embedding, type, err, err_size) ||
        add_vector(w, "output_norm.weight", wt->rms_final, c->dim, err, err_size))
        return -1;
    /* A shared classifier is left out: readers then use token_embd.weight, as llama.cpp does. */
    if (wt->classifier.data != wt->token_embedding.data &&
        add_matrix(w, "output.weight", &wt->classifier, type, err, err_size))
        return -1;
    for (int i = 0; i < c->n_layers; i++)
        if (add_layer(w, i, &wt->layers[i], c->dim, type, err, err_size)) return -1;
    return 0;
}

/* ---------------------------------------------------------------- main */

static int convert(const Options *o, const Model *m, const ExportedVocab *v, char *err,
                   size_t err_size) {
    if (m->format != MODEL_FORMAT_LLAMA2C)
        return fail(err, err_size, "'%s' is not a llama2.c checkpoint", o->input);
    if (v->n_tokens != m->config.vocab_size)
        return fail(err, err_size, "'%s' has %d pieces but the checkpoint's vocab_size is %d",
                    o->tokenizer, v->n_tokens, m->config.vocab_size);
    GgufWriter *w = gguf_writer_new(err, err_size);
    int status = !w || add_model_keys(w, m, o, err, err_size) ||
                 add_vocab_keys(w, v, err, err_size) ||
                 add_tensors(w, m, o->type, err, err_size) ||
                 gguf_writer_write(w, o->output, err, err_size) ? -1 : 0;
    gguf_writer_free(w);
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
