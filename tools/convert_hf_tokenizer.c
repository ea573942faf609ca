/* convert_hf_tokenizer.c — a Hugging Face tokenizer.json of the byte-level BPE kind (Llama 3)
 * written as a GGUF that holds a vocabulary and no tensors, with llama.cpp's conventions
 * (convert_hf_to_gguf.py): tokenizer.ggml.model "gpt2", tokens by id (an id that names no
 * token becomes "[PADn]", unused), added tokens as control (special) or user-defined ones,
 * the merges in order, tokenizer.ggml.pre "llama-bpe" when the pre-tokenizer is Llama 3's
 * regex (any other is refused), BOS and EOS from tokenizer_config.json when given.
 *
 *   convert_hf_tokenizer tokenizer.json [--config tokenizer_config.json] OUT.gguf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/gguf_vocab_writer.h"
#include "../util/errors.h"
#include "../util/json.h"

static const char LLAMA3_REGEX[] =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char USAGE[] = "usage: convert_hf_tokenizer tokenizer.json [--config tokenizer_config.json] OUT.gguf\n";

static const JsonValue *member(const JsonValue *v, const char *key, JsonKind kind) {
    const JsonValue *m = json_get(v, key);
    return m && m->kind == kind ? m : NULL;
}

/* The pre-tokenizer must be Split(Llama 3's regex), alone or first of a Sequence ending
 * in a ByteLevel without its own regex. */
static int check_pre_tokenizer(const JsonValue *root, char *err, size_t err_size) {
    const JsonValue *pre = member(root, "pre_tokenizer", JSON_OBJECT);
    const JsonValue *list = pre ? member(pre, "pretokenizers", JSON_ARRAY) : NULL;
    const JsonValue *split = list && list->n_items > 0 ? &list->items[0] : pre;
    const JsonValue *pattern = split ? member(split, "pattern", JSON_OBJECT) : NULL;
    const JsonValue *regex = pattern ? member(pattern, "Regex", JSON_STRING) : NULL;
    if (!regex || strcmp(regex->string, LLAMA3_REGEX) != 0)
        return fail(err, err_size, "the pre-tokenizer is not Llama 3's regex split (only 'llama-bpe' "
                    "is supported)");
    const JsonValue *normalizer = json_get(root, "normalizer");
    if (normalizer && normalizer->kind != JSON_NULL)
        return fail(err, err_size, "the tokenizer has a normalizer, which byte-level BPE here does not run");
    return 0;
}

/* Sets token `id` (0 <= id < n) to text with GGUF type `type`. */
static int set_token(ModelVocab *v, double id_value, const char *text, int type, char *err, size_t err_size) {
    int id = (int)id_value;
    if (id_value != (double)id || id < 0 || id >= v->n_tokens)
        return fail(err, err_size, "token '%.40s' has a bad id %g", text, id_value);
    free(v->pieces[id]);
    size_t length = strlen(text);
    if (!(v->pieces[id] = malloc(length + 1))) return fail(err, err_size, "out of memory");
    memcpy(v->pieces[id], text, length + 1);
    v->piece_lengths[id] = (int)length;
    v->types[id] = type;
    return 0;
}

static double largest_id(const JsonValue *vocab, const JsonValue *added) {
    double largest = -1;
    for (int i = 0; i < vocab->n_items; i++)
        if (vocab->items[i].kind == JSON_NUMBER && vocab->items[i].number > largest) largest = vocab->items[i].number;
    for (int i = 0; added && i < added->n_items; i++)
        largest = json_number(&added->items[i], "id", -1) > largest ? json_number(&added->items[i], "id", -1) : largest;
    return largest;
}

static int read_tokens(const JsonValue *root, ModelVocab *v, char *err, size_t err_size) {
    const JsonValue *model = member(root, "model", JSON_OBJECT);
    const JsonValue *type = model ? member(model, "type", JSON_STRING) : NULL;
    const JsonValue *vocab = model ? member(model, "vocab", JSON_OBJECT) : NULL;
    const JsonValue *added = member(root, "added_tokens", JSON_ARRAY);
    if (!type || strcmp(type->string, "BPE") != 0 || !vocab)
        return fail(err, err_size, "model is not a BPE model with a vocab object");
    double largest = largest_id(vocab, added);
    if (largest < 0 || largest >= (1 << 24)) return fail(err, err_size, "the vocabulary's ids run to %g", largest);
    v->n_tokens = (int)largest + 1;
    v->pieces = calloc((size_t)v->n_tokens, sizeof *v->pieces);
    v->piece_lengths = calloc((size_t)v->n_tokens, sizeof *v->piece_lengths);
    v->types = calloc((size_t)v->n_tokens, sizeof *v->types);
    if (!v->pieces || !v->piece_lengths || !v->types) return fail(err, err_size, "out of memory");
    for (int i = 0; i < vocab->n_items; i++)
        if (vocab->items[i].kind != JSON_NUMBER ||
            set_token(v, vocab->items[i].number, vocab->items[i].key, TOKEN_NORMAL, err, err_size))
            return fail(err, err_size, "vocab entry %d: %s", i, err[0] ? err : "not a number");
    for (int i = 0; added && i < added->n_items; i++) {
        const JsonValue *content = member(&added->items[i], "content", JSON_STRING);
        const JsonValue *special = json_get(&added->items[i], "special");
        if (!content) return fail(err, err_size, "added token %d has no content", i);
        int type_id = special && special->kind == JSON_BOOL && special->number ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
        if (set_token(v, json_number(&added->items[i], "id", -1), content->string, type_id, err, err_size)) return -1;
    }
    char pad[32];
    for (int id = 0; id < v->n_tokens; id++)
        if (!v->pieces[id] && (snprintf(pad, sizeof pad, "[PAD%d]", id), set_token(v, id, pad, TOKEN_UNUSED, err, err_size)))
            return -1;
    return 0;
}

/* Merges as "left right" strings (tokenizer.json has them so, or as [left, right] pairs). */
static int read_merges(const JsonValue *root, ModelVocab *v, char *err, size_t err_size) {
    const JsonValue *merges = member(member(root, "model", JSON_OBJECT), "merges", JSON_ARRAY);
    if (!merges || merges->n_items == 0) return fail(err, err_size, "model has no merges");
    size_t total = 0;
    for (int i = 0; i < merges->n_items; i++) {
        const JsonValue *m = &merges->items[i];
        if (m->kind == JSON_STRING) total += strlen(m->string) + 1;
        else if (m->kind == JSON_ARRAY && m->n_items == 2 && m->items[0].kind == JSON_STRING && m->items[1].kind == JSON_STRING)
            total += strlen(m->items[0].string) + strlen(m->items[1].string) + 2;
        else return fail(err, err_size, "merge %d is neither a string nor a pair of strings", i);
    }
    v->n_merges = merges->n_items;
    v->merges = malloc((size_t)v->n_merges * sizeof *v->merges);
    v->merge_lengths = malloc((size_t)v->n_merges * sizeof *v->merge_lengths);
    v->merge_bytes = malloc(total);
    if (!v->merges || !v->merge_lengths || !v->merge_bytes) return fail(err, err_size, "out of memory");
    char *at = v->merge_bytes;
    for (int i = 0; i < merges->n_items; i++) {
        const JsonValue *m = &merges->items[i];
        int n = m->kind == JSON_STRING ? sprintf(at, "%s", m->string)
                                       : sprintf(at, "%s %s", m->items[0].string, m->items[1].string);
        v->merges[i] = at, v->merge_lengths[i] = n;
        at += n + 1;
    }
    return 0;
}

/* The id of the token a config entry names ("<s>" or {"content": "<s>"}), or -1. */
static int config_token(const ModelVocab *v, const JsonValue *config, const char *key) {
    const JsonValue *entry = json_get(config, key);
    if (entry && entry->kind == JSON_OBJECT) entry = member(entry, "content", JSON_STRING);
    if (!entry || entry->kind != JSON_STRING) return -1;
    for (int id = 0; id < v->n_tokens; id++)
        if (strcmp(v->pieces[id], entry->string) == 0) return id;
    return -1;
}

static int read_config(const char *path, ModelVocab *v, char *err, size_t err_size) {
    v->bos_id = v->eos_id = v->unk_id = -1;
    if (!path) return 0;
    JsonValue *config = json_parse_file(path);
    if (!config) return fail(err, err_size, "cannot read '%s' as JSON", path);
    v->bos_id = config_token(v, config, "bos_token");
    v->eos_id = config_token(v, config, "eos_token");
    const JsonValue *add_bos = json_get(config, "add_bos_token");
    v->add_bos = add_bos && add_bos->kind == JSON_BOOL ? add_bos->number != 0 : v->bos_id >= 0;
    json_free(config);
    return 0;
}

static int convert(const char *input, const char *config, const char *output, char *err, size_t err_size) {
    JsonValue *root = json_parse_file(input);
    if (!root) return fail(err, err_size, "cannot read '%s' as JSON", input);
    ModelVocab v;
    memset(&v, 0, sizeof v);
    snprintf(v.model_name, sizeof v.model_name, "gpt2");
    snprintf(v.pre_tokenizer, sizeof v.pre_tokenizer, "llama-bpe");
    GgufWriter *w = NULL;
    int rc = check_pre_tokenizer(root, err, err_size) || read_tokens(root, &v, err, err_size) ||
             read_merges(root, &v, err, err_size) || read_config(config, &v, err, err_size) ||
             !(w = gguf_writer_new(err, err_size)) ||
             gguf_writer_add_string(w, "general.architecture", "llama", err, err_size) ||
             gguf_writer_add_model_vocab(w, &v, err, err_size) ||
             gguf_writer_write(w, output, err, err_size) ? -1 : 0;
    if (rc == 0) fprintf(stderr, "convert_hf_tokenizer: %d tokens, %d merges, BOS %d, EOS %d -> %s\n",
                         v.n_tokens, v.n_merges, v.bos_id, v.eos_id, output);
    gguf_writer_free(w);
    model_vocab_free(&v);
    json_free(root);
    return rc;
}

int main(int argc, char **argv) {
    char err[ERR_LEN] = "";
    const char *config = NULL, *paths[2] = {NULL, NULL};
    int n_paths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) config = argv[++i];
        else if (argv[i][0] == '-' || n_paths == 2) {
            fprintf(stderr, "convert_hf_tokenizer: unexpected argument '%s'\n%s", argv[i], USAGE);
            return 2;
        } else paths[n_paths++] = argv[i];
    }
    if (n_paths != 2) {
        fprintf(stderr, "%s", USAGE);
        return 2;
    }
    if (convert(paths[0], config, paths[1], err, sizeof err)) {
        fprintf(stderr, "convert_hf_tokenizer: %s\n", err);
        return 1;
    }
    return 0;
}
