/* gguf_writer.c — the GGUF v3 writer: metadata is serialised into a growing byte buffer
 * as it is added; tensors are kept as (name, shape, type, float pointer) and converted
 * (F32 / F16 / Q8_0; Q4_0 through its own entry) row by row while the file is written. */
#include "gguf_writer.h"

#include "gguf.h"
#include "../util/errors.h"
#include "../util/half.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_VERSION 3u
#define Q8_0_BLOCK_BYTES (2 + QK_BLOCK)
#define Q4_0_BLOCK_BYTES (2 + QK_BLOCK / 2)

typedef struct {
    uint8_t *bytes;
    size_t length, capacity;
    int out_of_memory; /* sticky: checked once after a group of appends */
} ByteBuffer;

typedef struct {
    char *name;
    int n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    TensorType type;
    const float *data;
    uint64_t offset; /* within the data section */
    uint64_t n_bytes;
} PendingTensor;

struct GgufWriter {
    ByteBuffer metadata;
    char **keys;
    int n_keys;
    PendingTensor *tensors;
    int n_tensors;
    uint64_t data_bytes; /* data section size so far (each tensor padded) */
};

/* ---------------------------------------------------------------- byte buffer */

static void buffer_put(ByteBuffer *b, const void *data, size_t n) {
    if (b->out_of_memory) return;
    if (b->length + n > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->length + n) capacity *= 2;
        uint8_t *grown = realloc(b->bytes, capacity);
        if (!grown) { b->out_of_memory = 1; return; }
        b->bytes = grown;
        b->capacity = capacity;
    }
    memcpy(b->bytes + b->length, data, n);
    b->length += n;
}

/* GGUF is little-endian; so are the machines this project targets (x86-64, arm64). */
static void buffer_u32(ByteBuffer *b, uint32_t v) { buffer_put(b, &v, sizeof v); }
static void buffer_u64(ByteBuffer *b, uint64_t v) { buffer_put(b, &v, sizeof v); }

static void buffer_string(ByteBuffer *b, const char *s, size_t n) {
    buffer_u64(b, n);
    buffer_put(b, s, n);
}

static uint64_t align_up(uint64_t n) {
    return (n + GGUF_WRITER_ALIGNMENT - 1) / GGUF_WRITER_ALIGNMENT * GGUF_WRITER_ALIGNMENT;
}

/* ---------------------------------------------------------------- lifetime */

GgufWriter *gguf_writer_new(char *err, size_t err_size) {
    GgufWriter *w = calloc(1, sizeof *w);
    if (!w) fail(err, err_size, "out of memory allocating a GGUF writer");
    return w;
}

void gguf_writer_free(GgufWriter *w) {
    if (!w) return;
    for (int i = 0; i < w->n_keys; i++) free(w->keys[i]);
    for (int i = 0; i < w->n_tensors; i++) free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->metadata.bytes);
    free(w);
}

/* ---------------------------------------------------------------- metadata */

/* Checks and records the key, then writes it and the value type; the caller writes the
 * value and calls end_kv. */
static int begin_kv(GgufWriter *w, const char *key, GgufValueType type, char *err,
                    size_t err_size) {
    if (!w) return fail(err, err_size, "GGUF writer is NULL");
    if (!key || !key[0]) return fail(err, err_size, "GGUF metadata key is empty");
    for (int i = 0; i < w->n_keys; i++)
        if (strcmp(w->keys[i], key) == 0)
            return fail(err, err_size, "GGUF metadata key '%s' added twice", key);
    char **keys = realloc(w->keys, (size_t)(w->n_keys + 1) * sizeof *keys);
    char *copy = keys ? strdup(key) : NULL;
    if (keys) w->keys = keys;
    if (!copy) return fail(err, err_size, "out of memory adding GGUF key '%s'", key);
    w->keys[w->n_keys++] = copy;
    buffer_string(&w->metadata, key, strlen(key));
    buffer_u32(&w->metadata, (uint32_t)type);
    return 0;
}

static int end_kv(GgufWriter *w, const char *key, char *err, size_t err_size) {
    if (w->metadata.out_of_memory)
        return fail(err, err_size, "out of memory writing GGUF key '%s'", key);
    return 0;
}

int gguf_writer_add_u32(GgufWriter *w, const char *key, uint32_t value, char *err,
                        size_t err_size) {
    if (begin_kv(w, key, GGUF_UINT32, err, err_size)) return -1;
    buffer_u32(&w->metadata, value);
    return end_kv(w, key, err, err_size);
}

int gguf_writer_add_i32(GgufWriter *w, const char *key, int32_t value, char *err,
                        size_t err_size) {
    if (begin_kv(w, key, GGUF_INT32, err, err_size)) return -1;
    buffer_put(&w->metadata, &value, sizeof value);
    return end_kv(w, key, err, err_size);
}

int gguf_writer_add_bool(GgufWriter *w, const char *key, int value, char *err,
                         size_t err_size) {
    if (begin_kv(w, key, GGUF_BOOL, err, err_size)) return -1;
    uint8_t byte = value ? 1 : 0;
    buffer_put(&w->metadata, &byte, 1);
    return end_kv(w, key, err, err_size);
}

int gguf_writer_add_f32(GgufWriter *w, const char *key, float value, char *err,
                        size_t err_size) {
    if (begin_kv(w, key, GGUF_FLOAT32, err, err_size)) return -1;
    buffer_put(&w->metadata, &value, sizeof value);
    return end_kv(w, key, err, err_size);
}

int gguf_writer_add_string(GgufWriter *w, const char *key, const char *value, char *err,
                           size_t err_size) {
    if (!value) return fail(err, err_size, "GGUF string value for '%s' is NULL", key ? key : "");
    if (begin_kv(w, key, GGUF_STRING, err, err_size)) return -1;
    buffer_string(&w->metadata, value, strlen(value));
    return end_kv(w, key, err, err_size);
}

static int begin_array(GgufWriter *w, const char *key, GgufValueType element,
                       const void *values, int count, char *err, size_t err_size) {
    if (count < 0) return fail(err, err_size, "GGUF array '%s' has negative length %d",
                               key ? key : "", count);
    if (!values && count > 0)
        return fail(err, err_size, "GGUF array '%s' data is NULL", key ? key : "");
    if (begin_kv(w, key, GGUF_ARRAY, err, err_size)) return -1;
    buffer_u32(&w->metadata, (uint32_t)element);
    buffer_u64(&w->metadata, (uint64_t)count);
    return 0;
}

int gguf_writer_add_string_array(GgufWriter *w, const char *key, const char *const *strings,
                                 const int *lengths, int count, char *err, size_t err_size) {
    for (int i = 0; strings && i < count; i++)
        if (!strings[i] || (lengths && lengths[i] < 0))
            return fail(err, err_size, "GGUF array '%s': string %d is NULL or has a "
                        "negative length", key ? key : "", i);
    if (begin_array(w, key, GGUF_STRING, strings, count, err, err_size)) return -1;
    for (int i = 0; i < count; i++)
        buffer_string(&w->metadata, strings[i],
                      lengths ? (size_t)lengths[i] : strlen(strings[i]));
    return end_kv(w, key, err, err_size);
}

int gguf_writer_add_f32_array(GgufWriter *w, const char *key, const float *values, int count,
                              char *err, size_t err_size) {
    if (begin_array(w, key, GGUF_FLOAT32, values, count, err, err_size)) return -1;
    if (count > 0) buffer_put(&w->metadata, values, (size_t)count * sizeof *values);
    return end_kv(w, key, err, err_size);
}

int gguf_writer_add_i32_array(GgufWriter *w, const char *key, const int32_t *values,
                              int count, char *err, size_t err_size) {
    if (begin_array(w, key, GGUF_INT32, values, count, err, err_size)) return -1;
    if (count > 0) buffer_put(&w->metadata, values, (size_t)count * sizeof *values);
    return end_kv(w, key, err, err_size);
}

/* ---------------------------------------------------------------- tensors */

static uint64_t encoded_bytes(TensorType type, uint64_t n_values) {
    if (type == TENSOR_F32) return n_values * 4;
    if (type == TENSOR_F16) return n_values * 2;
    if (type == TENSOR_Q4_0) return n_values / QK_BLOCK * Q4_0_BLOCK_BYTES;
    return n_values / QK_BLOCK * Q8_0_BLOCK_BYTES;
}

static int check_tensor(const GgufWriter *w, const char *name, const float *data, int n_dims,
                        const uint64_t *ne, TensorType type, char *err, size_t err_size) {
    if (!name || !name[0]) return fail(err, err_size, "GGUF tensor name is empty");
    if (!data || !ne) return fail(err, err_size, "GGUF tensor '%s': data or shape is NULL", name);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return fail(err, err_size, "GGUF tensor '%s' has %d dimensions (1..%d allowed)", name,
                    n_dims, GGUF_MAX_DIMS);
    for (int d = 0; d < n_dims; d++)
        if (ne[d] == 0 || ne[d] > ((uint64_t)1 << 40))
            return fail(err, err_size, "GGUF tensor '%s': dimension %d is %llu", name, d,
                        (unsigned long long)ne[d]);
    if (type != TENSOR_F32 && type != TENSOR_F16 && type != TENSOR_Q8_0)
        return fail(err, err_size, "GGUF tensor '%s': the writer cannot produce type %d", name,
                    (int)type);
    if (type == TENSOR_Q8_0 && ne[0] % QK_BLOCK != 0)
        return fail(err, err_size, "GGUF tensor '%s': Q8_0 needs a row length divisible by "
                    "%d, not %llu", name, QK_BLOCK, (unsigned long long)ne[0]);
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return fail(err, err_size, "GGUF tensor '%s' added twice", name);
    return 0;
}

/* Records a checked tensor; the data is converted to `type` when the file is written. */
static int push_tensor(GgufWriter *w, const char *name, const float *data, int n_dims,
                       const uint64_t *ne, TensorType type, char *err, size_t err_size) {
    PendingTensor *grown = realloc(w->tensors, (size_t)(w->n_tensors + 1) * sizeof *grown);
    if (!grown) return fail(err, err_size, "out of memory adding GGUF tensor '%s'", name);
    w->tensors = grown;
    PendingTensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name)))
        return fail(err, err_size, "out of memory adding GGUF tensor '%s'", name);
    uint64_t n_values = 1;
    for (int d = 0; d < n_dims; d++) n_values *= (t->ne[d] = ne[d]);
    t->n_dims = n_dims;
    t->type = type;
    t->data = data;
    t->offset = w->data_bytes;
    t->n_bytes = encoded_bytes(type, n_values);
    w->data_bytes = align_up(w->data_bytes + t->n_bytes);
    w->n_tensors++;
    return 0;
}

int gguf_writer_add_tensor(GgufWriter *w, const char *name, const float *data, int n_dims,
                           const uint64_t *ne, TensorType type, char *err, size_t err_size) {
    if (!w) return fail(err, err_size, "GGUF writer is NULL");
    if (check_tensor(w, name, data, n_dims, ne, type, err, err_size)) return -1;
    return push_tensor(w, name, data, n_dims, ne, type, err, err_size);
}

void gguf_quantize_q8_0_block(const float *x, uint8_t *out) {
    float max_abs = 0;
    for (int j = 0; j < QK_BLOCK; j++) max_abs = fmaxf(max_abs, fabsf(x[j]));
    float d = max_abs / 127.0f;
    float inverse = d != 0 ? 1.0f / d : 0.0f;
    uint16_t d_half = float_to_half(d);
    memcpy(out, &d_half, 2);
    for (int j = 0; j < QK_BLOCK; j++) out[2 + j] = (uint8_t)(int8_t)roundf(x[j] * inverse);
}

/* ---------------------------------------------------------------- Q4_0 (separate entry) */

void gguf_quantize_q4_0_block(const float *x, uint8_t *out) {
    float max_abs = 0, max_value = 0; /* the value of largest magnitude, with its sign */
    for (int j = 0; j < QK_BLOCK; j++)
        if (fabsf(x[j]) > max_abs) { max_abs = fabsf(x[j]); max_value = x[j]; }
    float d = max_value / -8.0f;
    float inverse = d != 0 ? 1.0f / d : 0.0f;
    uint16_t d_half = float_to_half(d);
    memcpy(out, &d_half, 2);
    for (int j = 0; j < QK_BLOCK / 2; j++) { /* GGML: (int8_t)(v + 8.5f), i.e. floor */
        int low = (int)floorf(x[j] * inverse + 8.5f);
        int high = (int)floorf(x[j + QK_BLOCK / 2] * inverse + 8.5f);
        low = low < 0 ? 0 : low > 15 ? 15 : low;
        high = high < 0 ? 0 : high > 15 ? 15 : high;
        out[2 + j] = (uint8_t)(low | (high << 4));
    }
}

int gguf_writer_add_q4_0_tensor(GgufWriter *w, const char *name, const float *data,
                                int n_dims, const uint64_t *ne, char *err, size_t err_size) {
    if (!w) return fail(err, err_size, "GGUF writer is NULL");
    if (check_tensor(w, name, data, n_dims, ne, TENSOR_F32, err, err_size)) return -1;
    if (ne[0] % QK_BLOCK != 0)
        return fail(err, err_size, "GGUF tensor '%s': Q4_0 needs a row length divisible by "
                    "%d, not %llu", name, QK_BLOCK, (unsigned long long)ne[0]);
    return push_tensor(w, name, data, n_dims, ne, TENSOR_Q4_0, err, err_size);
}

/* ---------------------------------------------------------------- file */

static int write_header(const GgufWriter *w, FILE *f) {
    ByteBuffer head = {0};
    buffer_put(&head, GGUF_MAGIC, 4);
    buffer_u32(&head, GGUF_VERSION);
    buffer_u64(&head, (uint64_t)w->n_tensors);
    buffer_u64(&head, (uint64_t)w->n_keys);
    buffer_put(&head, w->metadata.bytes, w->metadata.length);
    for (int i = 0; i < w->n_tensors; i++) {
        const PendingTensor *t = &w->tensors[i];
        buffer_string(&head, t->name, strlen(t->name));
        buffer_u32(&head, (uint32_t)t->n_dims);
        for (int d = 0; d < t->n_dims; d++) buffer_u64(&head, t->ne[d]);
        buffer_u32(&head, (uint32_t)t->type);
        buffer_u64(&head, t->offset);
    }
    static const uint8_t zeros[GGUF_WRITER_ALIGNMENT];
    buffer_put(&head, zeros, align_up(head.length) - head.length);
    int ok = !head.out_of_memory && fwrite(head.bytes, 1, head.length, f) == head.length;
    free(head.bytes);
    return ok ? 0 : -1;
}

/* One row of ne[0] values converted to the tensor's type. */
static int write_row(const PendingTensor *t, const float *row, uint8_t *scratch, FILE *f) {
    uint64_t n = t->ne[0];
    if (t->type == TENSOR_F32) return fwrite(row, 4, n, f) == n ? 0 : -1;
    if (t->type == TENSOR_F16) {
        uint16_t *halves = (uint16_t *)scratch;
        for (uint64_t j = 0; j < n; j++) halves[j] = float_to_half(row[j]);
        return fwrite(halves, 2, n, f) == n ? 0 : -1;
    }
    if (t->type == TENSOR_Q4_0) {
        for (uint64_t b = 0; b < n / QK_BLOCK; b++)
            gguf_quantize_q4_0_block(row + b * QK_BLOCK, scratch + b * Q4_0_BLOCK_BYTES);
        size_t bytes = n / QK_BLOCK * Q4_0_BLOCK_BYTES;
        return fwrite(scratch, 1, bytes, f) == bytes ? 0 : -1;
    }
    for (uint64_t b = 0; b < n / QK_BLOCK; b++)
        gguf_quantize_q8_0_block(row + b * QK_BLOCK, scratch + b * Q8_0_BLOCK_BYTES);
    size_t bytes = n / QK_BLOCK * Q8_0_BLOCK_BYTES;
    return fwrite(scratch, 1, bytes, f) == bytes ? 0 : -1;
}

static int write_tensor(const PendingTensor *t, FILE *f) {
    uint64_t rows = 1;
    for (int d = 1; d < t->n_dims; d++) rows *= t->ne[d];
    uint8_t *scratch = malloc(t->ne[0] * 4 + Q8_0_BLOCK_BYTES);
    if (!scratch) return -1;
    int status = 0;
    for (uint64_t r = 0; r < rows && status == 0; r++)
        status = write_row(t, t->data + r * t->ne[0], scratch, f);
    free(scratch);
    static const uint8_t zeros[GGUF_WRITER_ALIGNMENT];
    size_t pad = align_up(t->n_bytes) - t->n_bytes;
    if (status == 0 && pad > 0 && fwrite(zeros, 1, pad, f) != pad) status = -1;
    return status;
}

int gguf_writer_write(const GgufWriter *w, const char *path, char *err, size_t err_size) {
    if (!w) return fail(err, err_size, "GGUF writer is NULL");
    if (!path || !path[0]) return fail(err, err_size, "GGUF output path is empty");
    FILE *f = fopen(path, "wb");
    if (!f) return fail(err, err_size, "cannot create '%s': %s", path, strerror(errno));
    int status = write_header(w, f);
    for (int i = 0; i < w->n_tensors && status == 0; i++) status = write_tensor(&w->tensors[i], f);
    int saved_errno = errno;
    if (fclose(f) != 0 && status == 0) { status = -1; saved_errno = errno; }
    if (status == 0) return 0;
    remove(path);
    return fail(err, err_size, "cannot write '%s': %s", path,
                saved_errno ? strerror(saved_errno) : "out of memory");
}
