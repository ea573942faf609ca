/* model.c — the format-free Model: opening by magic, closing, validation of every
 * hyper-parameter and tensor shape, tensor sizes, and the plumbing the readers share
 * (file mapping, model-owned allocations). */
#include "model.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/errors.h"
#include "gguf.h"

/* Sane upper bounds: far above any real llama-family model, low enough that every size
 * product below fits comfortably in 64 bits. */
#define MAX_DIM (1 << 16)
#define MAX_HIDDEN (1 << 20)
#define MAX_LAYERS 1024
#define MAX_HEADS (1 << 12)
#define MAX_VOCAB 10000000
#define MAX_CONTEXT (1 << 24)

/* model->owned is a singly linked list of these, each followed by the caller's bytes. */
typedef union OwnedBlock {
    union OwnedBlock *next;
    max_align_t align;
} OwnedBlock;

void *model_owned_alloc(Model *model, size_t bytes) {
    if (bytes > SIZE_MAX - sizeof(OwnedBlock)) return NULL;
    OwnedBlock *block = malloc(sizeof(OwnedBlock) + bytes);
    if (!block) return NULL;
    block->next = model->owned;
    model->owned = block;
    model->owned_bytes += bytes;
    return block + 1;
}

static void free_owned(Model *model) {
    OwnedBlock *block = model->owned;
    while (block) {
        OwnedBlock *next = block->next;
        free(block);
        block = next;
    }
}

void model_vocab_free(ModelVocab *vocab) {
    if (vocab->pieces)
        for (int i = 0; i < vocab->n_tokens; i++) free(vocab->pieces[i]);
    free(vocab->pieces);
    free(vocab->piece_lengths);
    free(vocab->scores);
    free(vocab->types);
    free(vocab->merges);
    free(vocab->merge_lengths);
    free(vocab->merge_bytes);
    memset(vocab, 0, sizeof *vocab);
}

void model_close(Model *model) {
    if (!model) return;
    if (model->mapping) munmap(model->mapping, model->mapping_size);
    free(model->weights.layers);
    model_vocab_free(&model->vocab);
    free_owned(model);
    free(model->repacked);
    memset(model, 0, sizeof *model);
}

int model_map_file(Model *model, const char *path, char *err, size_t err_size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail(err, err_size, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(err, err_size, "'%s' is not a regular file", path);
    }
    if (st.st_size == 0) {
        close(fd);
        return fail(err, err_size, "'%s' is an empty file", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return fail(err, err_size, "'%s' is too large to map", path);
    }
    void *mapping = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (mapping == MAP_FAILED)
        return fail(err, err_size, "cannot map '%s': %s", path, strerror(map_errno));
    model->mapping = mapping;
    model->mapping_size = model->file_bytes = (size_t)st.st_size;
    return 0;
}

/* Reads the first four bytes; -1 with a message for missing, unreadable or tiny files. */
static int read_magic(const char *path, unsigned char magic[4], char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    if (!f) return fail(err, err_size, "cannot open '%s': %s", path, strerror(errno));
    errno = 0;
    size_t got = fread(magic, 1, 4, f);
    int read_error = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (read_error) return fail(err, err_size, "cannot read '%s': %s", path, strerror(read_error));
    if (got == 0) return fail(err, err_size, "'%s' is an empty file", path);
    if (got < 4)
        return fail(err, err_size, "'%s' is too small to be a model (%zu bytes)", path, got);
    return 0;
}

/* Clears model and reads the first four bytes of path; -1 with a message when it cannot. */
static int open_magic(Model *model, const char *path, unsigned char magic[4], char *err,
                      size_t err_size) {
    memset(model, 0, sizeof *model);
    if (!path || !*path) return fail(err, err_size, "no model path given");
    return read_magic(path, magic, err, err_size);
}

int model_open(Model *model, const char *path, char *err, size_t err_size) {
    unsigned char magic[4];
    if (open_magic(model, path, magic, err, err_size) != 0) return -1;
    if (memcmp(magic, "GGUF", 4) == 0) return gguf_open_model(model, path, err, err_size);
    /* "24ka" is 0x616b3432 little-endian: the versioned llama2.c export. */
    if (memcmp(magic, "24ka", 4) == 0) return llama2c_open_model(model, path, err, err_size);
    /* The legacy llama2.c format has no magic: try it, and say so if it fails. */
    char reason[ERR_LEN];
    if (llama2c_open_model(model, path, reason, sizeof reason) == 0) return 0;
    return fail(err, err_size, "'%s' is not a GGUF file, and not a valid llama2.c checkpoint: %s",
                path, reason);
}

int model_open_vocabulary(Model *model, const char *path, char *err, size_t err_size) {
    unsigned char magic[4];
    if (open_magic(model, path, magic, err, err_size) != 0) return -1;
    return memcmp(magic, "GGUF", 4) == 0 ? gguf_open_vocabulary(model, path, err, err_size)
                                         : model_open(model, path, err, err_size);
}

size_t tensor_bytes(TensorType type, int64_t rows, int64_t cols) {
    const TensorTypeInfo *info = tensor_type_info(type);
    if (rows < 0 || cols < 0 || !info || cols % info->block_values != 0) return 0;
    uint64_t row_bytes = (uint64_t)cols / info->block_values * info->block_bytes;
    if (row_bytes != 0 && (uint64_t)rows > SIZE_MAX / row_bytes) return 0;
    return (size_t)(row_bytes * (uint64_t)rows);
}

const char *tensor_type_name(TensorType type) {
    const TensorTypeInfo *info = tensor_type_info(type);
    return info ? info->name : "unknown";
}

/* ---- validation ---- */

static int check_range(const char *what, int value, int max, char *err, size_t err_size) {
    if (value <= 0) return fail(err, err_size, "%s must be > 0 (got %d)", what, value);
    if (value > max) return fail(err, err_size, "%s %d exceeds the limit %d", what, value, max);
    return 0;
}

static int validate_sizes(const Config *c, char *err, size_t err_size) {
    if (check_range("dim", c->dim, MAX_DIM, err, err_size) ||
        check_range("hidden_dim", c->hidden_dim, MAX_HIDDEN, err, err_size) ||
        check_range("n_layers", c->n_layers, MAX_LAYERS, err, err_size) ||
        check_range("n_heads", c->n_heads, MAX_HEADS, err, err_size) ||
        check_range("n_kv_heads", c->n_kv_heads, MAX_HEADS, err, err_size) ||
        check_range("vocab_size", c->vocab_size, MAX_VOCAB, err, err_size) ||
        check_range("context_length", c->context_length, MAX_CONTEXT, err, err_size))
        return -1;
    return 0;
}

static int validate_heads(const Config *c, char *err, size_t err_size) {
    if (c->head_dim <= 0 && c->dim % c->n_heads != 0)
        return fail(err, err_size, "n_heads %d does not divide dim %d", c->n_heads, c->dim);
    if (check_range("head_dim", c->head_dim, MAX_DIM, err, err_size)) return -1;
    if (c->head_dim % 2 != 0) return fail(err, err_size, "head_dim %d is odd", c->head_dim);
    if ((int64_t)c->n_heads * c->head_dim > MAX_DIM * 4)
        return fail(err, err_size, "n_heads * head_dim = %lld exceeds the limit %d",
                    (long long)c->n_heads * c->head_dim, MAX_DIM * 4);
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return fail(err, err_size, "n_kv_heads %d does not divide n_heads %d", c->n_kv_heads,
                    c->n_heads);
    if (c->rotary_dim <= 0 || c->rotary_dim % 2 != 0 || c->rotary_dim > c->head_dim)
        return fail(err, err_size, "rotary_dim %d must be even, > 0 and <= head_dim %d",
                    c->rotary_dim, c->head_dim);
    return 0;
}

static int bad_double(double value, double min) { return !isfinite(value) || value < min; }

static int validate_numbers(const Config *c, char *err, size_t err_size) {
    if (!(c->rms_eps > 0 && c->rms_eps < 1))
        return fail(err, err_size, "rms_eps %g must be in (0, 1)", c->rms_eps);
    if (c->rope_layout != ROPE_LAYOUT_INTERLEAVED && c->rope_layout != ROPE_LAYOUT_HALF_SPLIT)
        return fail(err, err_size, "unknown rope_layout %d", (int)c->rope_layout);
    const RopeFileSettings *r = &c->rope;
    if (bad_double(r->freq_base, 0) || r->freq_base <= 1)
        return fail(err, err_size, "rope freq_base %g must be a finite number > 1", r->freq_base);
    if (bad_double(r->scaling_factor, 0) || bad_double(r->attn_factor, 0) ||
        bad_double(r->low_freq_factor, 0) || bad_double(r->high_freq_factor, 0) ||
        bad_double(r->beta_fast, 0) || bad_double(r->beta_slow, 0))
        return fail(err, err_size, "a rope scaling parameter is negative or not finite");
    if (r->original_context < 0 || r->original_context > MAX_CONTEXT)
        return fail(err, err_size, "rope original_context %d out of range", r->original_context);
    if (memchr(r->scaling_type, 0, sizeof r->scaling_type) == NULL)
        return fail(err, err_size, "rope scaling_type is not NUL-terminated");
    return 0;
}

int model_validate_config(const Config *config, char *err, size_t err_size) {
    if (validate_sizes(config, err, err_size) || validate_heads(config, err, err_size) ||
        validate_numbers(config, err, err_size))
        return -1;
    return 0;
}

/* Is [data, data + bytes) inside the mapped file?  (Skipped when nothing is mapped.) */
static int inside_mapping(const Model *model, const void *data, size_t bytes) {
    if (!model->mapping) return 1;
    const char *start = model->mapping, *p = data;
    if (p < start) return 0;
    size_t offset = (size_t)(p - start);
    return offset <= model->mapping_size && bytes <= model->mapping_size - offset;
}

static int check_matrix(const Model *model, const char *what, int layer, const Matrix *m,
                        int64_t rows, int64_t cols, char *err, size_t err_size) {
    char name[48];
    if (layer < 0) snprintf(name, sizeof name, "%s", what);
    else snprintf(name, sizeof name, "layer %d %s", layer, what);
    if (!m->data) return fail(err, err_size, "%s: no data", name);
    if (m->rows != rows || m->cols != cols)
        return fail(err, err_size, "%s has shape %dx%d, expected %lldx%lld", name, m->rows,
                    m->cols, (long long)rows, (long long)cols);
    size_t bytes = tensor_bytes(m->type, m->rows, m->cols);
    if (bytes == 0)
        return fail(err, err_size, "%s: type %d (%s) cannot hold %d columns", name, (int)m->type,
                    tensor_type_name(m->type), m->cols);
    if (!inside_mapping(model, m->data, bytes))
        return fail(err, err_size, "%s lies outside the mapped file", name);
    return 0;
}

static int check_layer(const Model *model, int i, char *err, size_t err_size) {
    const Config *c = &model->config;
    const LayerWeights *l = &model->weights.layers[i];
    int64_t q_dim = (int64_t)c->n_heads * c->head_dim, kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    if (!l->rms_att || !l->rms_ffn)
        return fail(err, err_size, "layer %d: missing norm weights", i);
    if (check_matrix(model, "wq", i, &l->wq, q_dim, c->dim, err, err_size) ||
        check_matrix(model, "wk", i, &l->wk, kv_dim, c->dim, err, err_size) ||
        check_matrix(model, "wv", i, &l->wv, kv_dim, c->dim, err, err_size) ||
        check_matrix(model, "wo", i, &l->wo, c->dim, q_dim, err, err_size) ||
        check_matrix(model, "w1", i, &l->w1, c->hidden_dim, c->dim, err, err_size) ||
        check_matrix(model, "w2", i, &l->w2, c->dim, c->hidden_dim, err, err_size) ||
        check_matrix(model, "w3", i, &l->w3, c->hidden_dim, c->dim, err, err_size))
        return -1;
    return 0;
}

static int validate_vocab(const Model *model, char *err, size_t err_size) {
    const ModelVocab *v = &model->vocab;
    if (v->n_tokens == 0) return 0;
    if (v->n_tokens != model->config.vocab_size)
        return fail(err, err_size, "vocabulary has %d tokens, the model %d", v->n_tokens,
                    model->config.vocab_size);
    if (!v->pieces || !v->piece_lengths || !v->scores)
        return fail(err, err_size, "vocabulary arrays are missing");
    int ids[3] = {v->bos_id, v->eos_id, v->unk_id};
    for (int i = 0; i < 3; i++)
        if (ids[i] < -1 || ids[i] >= v->n_tokens)
            return fail(err, err_size, "special token id %d out of range [0, %d)", ids[i],
                        v->n_tokens);
    return 0;
}

int model_validate(const Model *model, char *err, size_t err_size) {
    const Config *c = &model->config;
    const Weights *w = &model->weights;
    if (model_validate_config(c, err, err_size)) return -1;
    if (!w->layers) return fail(err, err_size, "no layer weights");
    if (!w->rms_final) return fail(err, err_size, "missing final norm weights");
    if (check_matrix(model, "token_embedding", -1, &w->token_embedding, c->vocab_size, c->dim,
                     err, err_size) ||
        check_matrix(model, "classifier", -1, &w->classifier, c->vocab_size, c->dim, err,
                     err_size))
        return -1;
    for (int i = 0; i < c->n_layers; i++)
        if (check_layer(model, i, err, err_size)) return -1;
    return validate_vocab(model, err, err_size);
}

/* ---- finishing ---- */

static size_t count_weight_bytes(const Model *model) {
    const Config *c = &model->config;
    const Weights *w = &model->weights;
    size_t total = tensor_bytes(w->token_embedding.type, w->token_embedding.rows,
                                w->token_embedding.cols);
    if (w->classifier.data != w->token_embedding.data)
        total += tensor_bytes(w->classifier.type, w->classifier.rows, w->classifier.cols);
    total += (size_t)(2 * c->n_layers + 1) * (size_t)c->dim * sizeof(float); /* norms */
    for (int i = 0; i < c->n_layers; i++) {
        const Matrix *m[7] = {&w->layers[i].wq, &w->layers[i].wk, &w->layers[i].wv,
                              &w->layers[i].wo, &w->layers[i].w1, &w->layers[i].w2,
                              &w->layers[i].w3};
        for (int k = 0; k < 7; k++) total += tensor_bytes(m[k]->type, m[k]->rows, m[k]->cols);
    }
    return total;
}

static void set_base_name(Model *model, const char *path) {
    const char *slash = strrchr(path, '/');
    snprintf(model->name, sizeof model->name, "%s", slash ? slash + 1 : path);
}

int model_finish(Model *model, const char *path, char *err, size_t err_size) {
    if (model_validate(model, err, err_size)) return -1;
    if (!model->name[0]) set_base_name(model, path);
    if (model->weight_bytes == 0) model->weight_bytes = count_weight_bytes(model);
    return 0;
}
