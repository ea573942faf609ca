/* gguf_vocab.c — a GGUF's tokenizer.ggml.* keys into ModelVocab: the pieces, scores and
 * token types, the special ids, the tokenizer family name and SentencePiece's whitespace
 * rules (add_space_prefix, remove_extra_whitespaces), with llama.cpp's defaults for a file
 * that does not record them; and the opening of a GGUF for its vocabulary alone (the form
 * tokenizers ship in), weights or none. */
#include "gguf_reader.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#include "../util/errors.h"
/* The array under `key` if present; it must hold `count` elements of `type`. */
static int find_array(GgufReader *r, const char *key, GgufValueType type, uint64_t count,
                      const GgufKv **out) {
    *out = gguf_find_kv(r->file, key);
    if (!*out) return 0;
    if ((*out)->type != GGUF_ARRAY || (*out)->value.array.type != type ||
        (*out)->value.array.count != count)
        return fail(r->err, r->err_size, "key '%s' must be an array of %llu %s values", key,
                    (unsigned long long)count, gguf_value_type_name(type));
    return 0;
}

static int read_pieces(GgufReader *r, const GgufKv *tokens) {
    ModelVocab *v = &r->model->vocab;
    size_t n = (size_t)tokens->value.array.count;
    v->pieces = calloc(n, sizeof *v->pieces);
    v->piece_lengths = calloc(n, sizeof *v->piece_lengths);
    if (!v->pieces || !v->piece_lengths) return fail(r->err, r->err_size, "out of memory (vocab)");
    v->n_tokens = (int)n;
    r->model->owned_bytes += n * (sizeof *v->pieces + sizeof *v->piece_lengths);
    const uint8_t *cursor = tokens->value.array.data;
    for (size_t i = 0; i < n; i++) {
        GgufString s = gguf_next_array_string(&cursor);
        if (s.length >= INT_MAX)
            return fail(r->err, r->err_size, "token %zu is %llu bytes long", i,
                        (unsigned long long)s.length);
        if (!(v->pieces[i] = malloc((size_t)s.length + 1)))
            return fail(r->err, r->err_size, "out of memory (vocab)");
        memcpy(v->pieces[i], s.bytes, (size_t)s.length);
        v->pieces[i][s.length] = 0;
        v->piece_lengths[i] = (int)s.length;
        r->model->owned_bytes += (size_t)s.length + 1;
    }
    return 0;
}

static int read_scores_and_types(GgufReader *r) {
    ModelVocab *v = &r->model->vocab;
    const GgufKv *scores, *types;
    if (find_array(r, "tokenizer.ggml.scores", GGUF_FLOAT32, (uint64_t)v->n_tokens, &scores) ||
        find_array(r, "tokenizer.ggml.token_type", GGUF_INT32, (uint64_t)v->n_tokens, &types))
        return -1;
    v->scores = calloc((size_t)v->n_tokens, sizeof *v->scores);
    if (!v->scores) return fail(r->err, r->err_size, "out of memory (vocab)");
    r->model->owned_bytes += (size_t)v->n_tokens * sizeof *v->scores;
    if (scores) memcpy(v->scores, scores->value.array.data, (size_t)v->n_tokens * sizeof(float));
    if (!types) return 0;
    v->types = malloc((size_t)v->n_tokens * sizeof *v->types);
    if (!v->types) return fail(r->err, r->err_size, "out of memory (vocab)");
    r->model->owned_bytes += (size_t)v->n_tokens * sizeof *v->types;
    memcpy(v->types, types->value.array.data, (size_t)v->n_tokens * sizeof(int32_t));
    return 0;
}

/* tokenizer.ggml.merges, when the file has it: an array of strings, copied into one block. */
static int read_merges(GgufReader *r) {
    ModelVocab *v = &r->model->vocab;
    const GgufKv *kv = gguf_find_kv(r->file, "tokenizer.ggml.merges");
    if (!kv) return 0;
    if (kv->type != GGUF_ARRAY || kv->value.array.type != GGUF_STRING || kv->value.array.count > INT_MAX / 2)
        return fail(r->err, r->err_size, "tokenizer.ggml.merges is not an array of strings");
    size_t n = (size_t)kv->value.array.count, total = 0;
    const uint8_t *cursor = kv->value.array.data;
    for (size_t i = 0; i < n; i++) total += (size_t)gguf_next_array_string(&cursor).length + 1;
    v->merges = malloc((n ? n : 1) * sizeof *v->merges);
    v->merge_lengths = malloc((n ? n : 1) * sizeof *v->merge_lengths);
    v->merge_bytes = malloc(total ? total : 1);
    if (!v->merges || !v->merge_lengths || !v->merge_bytes)
        return fail(r->err, r->err_size, "out of memory (%zu merges)", n);
    r->model->owned_bytes += n * (sizeof *v->merges + sizeof *v->merge_lengths) + total;
    cursor = kv->value.array.data;
    char *at = v->merge_bytes;
    for (size_t i = 0; i < n; i++) {
        GgufString s = gguf_next_array_string(&cursor);
        if (s.length >= INT_MAX)
            return fail(r->err, r->err_size, "merge %zu is %llu bytes long", i, (unsigned long long)s.length);
        memcpy(at, s.bytes, (size_t)s.length);
        at[s.length] = 0;
        v->merges[i] = at, v->merge_lengths[i] = (int)s.length;
        at += s.length + 1;
    }
    v->n_merges = (int)n;
    return 0;
}

/* A special token id: -1 when absent or 0xFFFFFFFF (GGUF's "none"); else in range. */
static int read_token_id(GgufReader *r, const char *key, int *out) {
    const GgufKv *kv = gguf_find_kv(r->file, key);
    *out = -1;
    if (!kv) return 0;
    int64_t id;
    if (gguf_kv_int(kv, &id, r->err, r->err_size)) return -1;
    if (id == -1 || id == UINT32_MAX) return 0;
    if (id < 0 || id >= r->model->vocab.n_tokens)
        return fail(r->err, r->err_size, "%s %lld is out of range (vocabulary of %d)", key,
                    (long long)id, r->model->vocab.n_tokens);
    *out = (int)id;
    return 0;
}

/* A bool key (llama.cpp reads these as bool only); `fallback` when absent. */
static int read_flag(GgufReader *r, const char *key, int fallback, int *out) {
    const GgufKv *kv = gguf_find_kv(r->file, key);
    *out = fallback;
    if (!kv) return 0;
    if (kv->type != GGUF_BOOL)
        return fail(r->err, r->err_size, "key '%s' must be a bool, not %s", key,
                    gguf_value_type_name(kv->type));
    *out = kv->value.u != 0;
    return 0;
}

int gguf_read_vocab(GgufReader *r) {
    ModelVocab *v = &r->model->vocab;
    v->bos_id = v->eos_id = v->unk_id = v->eot_id = v->eom_id = -1;
    const GgufKv *tokens = gguf_find_kv(r->file, "tokenizer.ggml.tokens");
    if (!tokens) return 0;
    if (tokens->type != GGUF_ARRAY || tokens->value.array.type != GGUF_STRING)
        return fail(r->err, r->err_size, "tokenizer.ggml.tokens is not an array of strings");
    if (tokens->value.array.count != (uint64_t)r->model->config.vocab_size)
        return fail(r->err, r->err_size, "vocabulary has %llu tokens but token_embd.weight has "
                    "%d rows", (unsigned long long)tokens->value.array.count,
                    r->model->config.vocab_size);
    const GgufKv *name = gguf_find_kv(r->file, "tokenizer.ggml.model");
    const GgufKv *pre = gguf_find_kv(r->file, "tokenizer.ggml.pre");
    if (read_pieces(r, tokens) || read_scores_and_types(r) || read_merges(r) ||
        (name && gguf_reader_copy_string(r, name, v->model_name, sizeof v->model_name)) ||
        (pre && gguf_reader_copy_string(r, pre, v->pre_tokenizer, sizeof v->pre_tokenizer)) ||
        read_flag(r, "tokenizer.ggml.add_bos_token", strcmp(v->model_name, "gpt2") != 0, &v->add_bos) ||
        read_token_id(r, "tokenizer.ggml.bos_token_id", &v->bos_id) ||
        read_token_id(r, "tokenizer.ggml.eos_token_id", &v->eos_id) ||
        read_token_id(r, "tokenizer.ggml.unknown_token_id", &v->unk_id) ||
        read_token_id(r, "tokenizer.ggml.eot_token_id", &v->eot_id) ||
        read_token_id(r, "tokenizer.ggml.eom_token_id", &v->eom_id) ||
        read_flag(r, "tokenizer.ggml.add_space_prefix", 1, &v->add_space_prefix) ||
        read_flag(r, "tokenizer.ggml.remove_extra_whitespaces", 0, &v->remove_extra_whitespaces))
        return -1;
    return 0;
}

/* The vocabulary's size from tokenizer.ggml.tokens itself, for a file read without its
 * weights (with them, token_embd.weight's rows must agree: gguf_read_vocab checks). */
static int size_from_tokens(GgufReader *r) {
    const GgufKv *tokens = gguf_find_kv(r->file, "tokenizer.ggml.tokens");
    if (!tokens)
        return fail(r->err, r->err_size, "the file has no vocabulary (no tokenizer.ggml.tokens)");
    if (tokens->type != GGUF_ARRAY || tokens->value.array.count == 0 ||
        tokens->value.array.count > INT_MAX / 2)
        return fail(r->err, r->err_size, "tokenizer.ggml.tokens is not a non-empty array of "
                    "at most %d strings", INT_MAX / 2);
    r->model->config.vocab_size = (int)tokens->value.array.count;
    return 0;
}

int gguf_open_vocabulary(Model *model, const char *path, char *err, size_t err_size) {
    GgufFile file;
    if (gguf_map_and_parse(model, path, &file, err, err_size)) return -1;
    GgufReader reader = {model, &file, "llama", NULL, err, err_size};
    int rc = size_from_tokens(&reader) || gguf_read_vocab(&reader) ? -1 : 0;
    gguf_free(&file);
    if (rc != 0) model_close(model);
    return rc;
}
