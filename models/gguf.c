/* gguf.c — GGUF v2/v3: the bounds-checked container parser declared in gguf.h (header,
 * metadata, tensor directory), and gguf_open_model(), which maps a file and turns a
 * 'llama' GGUF into a Model: hyper-parameters, RoPE settings, weights, vocabulary. */
#include "gguf.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "../util/half.h"

#define PRINT_MAX 80 /* longest key or name quoted in a message */

/* ======================================================================================
 * Container parser
 * ====================================================================================== */

typedef struct {
    const uint8_t *base;
    size_t size, pos;
    char *err;
    size_t err_size;
} Cursor;

static int print_len(GgufString s) { return s.length > PRINT_MAX ? PRINT_MAX : (int)s.length; }

static int mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
    if (a != 0 && b > UINT64_MAX / a) return -1;
    *out = a * b;
    return 0;
}

static int read_bytes(Cursor *c, void *out, size_t n, const char *what) {
    memset(out, 0, n);
    if (n > c->size - c->pos)
        return fail(c->err, c->err_size,
                    "truncated file: %s at byte %zu needs %zu bytes, the file has %zu", what,
                    c->pos, n, c->size);
    memcpy(out, c->base + c->pos, n); /* the host is little-endian (checked in gguf_parse) */
    c->pos += n;
    return 0;
}

static int read_u32(Cursor *c, uint32_t *out, const char *what) {
    return read_bytes(c, out, sizeof *out, what);
}

static int read_u64(Cursor *c, uint64_t *out, const char *what) {
    return read_bytes(c, out, sizeof *out, what);
}

static int read_string(Cursor *c, GgufString *out, const char *what) {
    uint64_t length;
    if (read_u64(c, &length, what)) return -1;
    if (length > c->size - c->pos)
        return fail(c->err, c->err_size,
                    "string length %llu of %s at byte %zu runs past the end of the file "
                    "(%zu bytes): truncated or corrupt",
                    (unsigned long long)length, what, c->pos - 8, c->size);
    out->bytes = (const char *)c->base + c->pos;
    out->length = length;
    c->pos += (size_t)length;
    return 0;
}

static size_t scalar_size(uint32_t type) {
    switch (type) {
    case GGUF_UINT8: case GGUF_INT8: case GGUF_BOOL: return 1;
    case GGUF_UINT16: case GGUF_INT16: return 2;
    case GGUF_UINT32: case GGUF_INT32: case GGUF_FLOAT32: return 4;
    case GGUF_UINT64: case GGUF_INT64: case GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static const char *value_type_name(uint32_t type) {
    static const char *names[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                  "bool", "string", "array", "u64", "i64", "f64"};
    return type < sizeof names / sizeof names[0] ? names[type] : "unknown";
}

/* Decodes a little-endian scalar of the given type into the matching union member. */
static void decode_scalar(GgufKv *kv, const uint8_t *raw) {
    uint8_t u8 = raw[0];
    uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64;
    memcpy(&u16, raw, 2);
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_BOOL: kv->value.u = u8; break;
    case GGUF_INT8: kv->value.i = (int8_t)u8; break;
    case GGUF_UINT16: kv->value.u = u16; break;
    case GGUF_INT16: kv->value.i = (int16_t)u16; break;
    case GGUF_UINT32: memcpy(&u32, raw, 4); kv->value.u = u32; break;
    case GGUF_INT32: memcpy(&u32, raw, 4); kv->value.i = (int32_t)u32; break;
    case GGUF_FLOAT32: memcpy(&f32, raw, 4); kv->value.f = f32; break;
    case GGUF_UINT64: memcpy(&u64, raw, 8); kv->value.u = u64; break;
    case GGUF_INT64: memcpy(&u64, raw, 8); kv->value.i = (int64_t)u64; break;
    case GGUF_FLOAT64: memcpy(&f64, raw, 8); kv->value.f = f64; break;
    default: break;
    }
}

static int parse_array(Cursor *c, GgufKv *kv) {
    uint32_t type;
    uint64_t count;
    int n = print_len(kv->key);
    if (read_u32(c, &type, "array type") || read_u64(c, &count, "array count")) return -1;
    kv->value.array.type = (GgufValueType)type;
    kv->value.array.count = count;
    kv->value.array.data = c->base + c->pos;
    size_t remaining = c->size - c->pos;
    if (type == GGUF_ARRAY)
        return fail(c->err, c->err_size, "key '%.*s': nested arrays are not supported", n,
                    kv->key.bytes);
    size_t element = type == GGUF_STRING ? 8 : scalar_size(type);
    if (element == 0)
        return fail(c->err, c->err_size, "key '%.*s': unknown array element type %u", n,
                    kv->key.bytes, type);
    if (count > remaining / element)
        return fail(c->err, c->err_size,
                    "key '%.*s': array count %llu runs past the end of the file "
                    "(truncated or corrupt)", n,
                    kv->key.bytes, (unsigned long long)count);
    if (type != GGUF_STRING) {
        c->pos += (size_t)(count * element);
        return 0;
    }
    for (uint64_t i = 0; i < count; i++) {
        GgufString ignored;
        if (read_string(c, &ignored, "array string")) return -1;
    }
    return 0;
}

static int parse_kv(Cursor *c, GgufKv *kv) {
    uint32_t type;
    if (read_string(c, &kv->key, "metadata key") || read_u32(c, &type, "metadata value type"))
        return -1;
    kv->type = (GgufValueType)type;
    if (type == GGUF_STRING) return read_string(c, &kv->value.s, "metadata string");
    if (type == GGUF_ARRAY) return parse_array(c, kv);
    size_t size = scalar_size(type);
    if (size == 0)
        return fail(c->err, c->err_size, "key '%.*s' has unknown value type %u",
                    print_len(kv->key), kv->key.bytes, type);
    uint8_t raw[8] = {0};
    if (read_bytes(c, raw, size, "metadata value")) return -1;
    decode_scalar(kv, raw);
    return 0;
}

/* Grows *items (of item_size bytes each) so that index `used` fits; doubling. */
static int grow(void **items, size_t *capacity, size_t used, size_t item_size) {
    if (used < *capacity) return 0;
    size_t next = *capacity ? *capacity * 2 : 16;
    void *bigger = realloc(*items, next * item_size);
    if (!bigger) return -1;
    *items = bigger;
    *capacity = next;
    return 0;
}

static int parse_kvs(Cursor *c, GgufFile *file) {
    size_t capacity = 0;
    for (uint64_t i = 0; i < file->n_kv; i++) {
        if (grow((void **)&file->kvs, &capacity, (size_t)i, sizeof(GgufKv)))
            return fail(c->err, c->err_size, "out of memory reading metadata");
        memset(&file->kvs[i], 0, sizeof(GgufKv));
        if (parse_kv(c, &file->kvs[i])) return -1;
    }
    return 0;
}

/* GGML types: bytes per block and values per block (the types this parser can size). */
static const struct { uint32_t type; uint16_t bytes, values; } ggml_types[] = {
    {0, 4, 1},     /* F32 */  {1, 2, 1},     /* F16 */  {2, 18, 32},   /* Q4_0 */
    {3, 20, 32},   /* Q4_1 */ {6, 22, 32},   /* Q5_0 */ {7, 24, 32},   /* Q5_1 */
    {8, 34, 32},   /* Q8_0 */ {9, 36, 32},   /* Q8_1 */ {10, 84, 256}, /* Q2_K */
    {11, 110, 256}, /* Q3_K */ {12, 144, 256}, /* Q4_K */ {13, 176, 256}, /* Q5_K */
    {14, 210, 256}, /* Q6_K */ {15, 292, 256}, /* Q8_K */ {24, 1, 1},    /* I8 */
    {25, 2, 1},    /* I16 */  {26, 4, 1},    /* I32 */  {27, 8, 1},    /* I64 */
    {28, 8, 1},    /* F64 */  {30, 2, 1},    /* BF16 */
};

size_t gguf_type_block_bytes(uint32_t type) {
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].type == type) return ggml_types[i].bytes;
    return 0;
}

size_t gguf_type_block_values(uint32_t type) {
    for (size_t i = 0; i < sizeof ggml_types / sizeof ggml_types[0]; i++)
        if (ggml_types[i].type == type) return ggml_types[i].values;
    return 0;
}

/* Size in bytes of a tensor from its dims and type, with every product overflow-checked. */
static int size_tensor(Cursor *c, GgufTensorInfo *t) {
    int n = print_len(t->name);
    uint64_t elements = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        if (t->ne[d] == 0 || t->ne[d] > INT64_MAX)
            return fail(c->err, c->err_size, "tensor '%.*s' has dimension %u of size %llu", n,
                        t->name.bytes, d, (unsigned long long)t->ne[d]);
        if (mul_u64(elements, t->ne[d], &elements) || elements > INT64_MAX)
            return fail(c->err, c->err_size, "tensor '%.*s': element count overflows", n,
                        t->name.bytes);
    }
    uint64_t block_bytes = gguf_type_block_bytes(t->type);
    uint64_t block_values = gguf_type_block_values(t->type);
    if (block_bytes == 0)
        return fail(c->err, c->err_size, "tensor '%.*s' has unsupported type %u", n,
                    t->name.bytes, t->type);
    if (t->ne[0] % block_values != 0)
        return fail(c->err, c->err_size, "tensor '%.*s' (type %u): row length %llu is not a "
                    "multiple of its block size %llu", n, t->name.bytes, t->type,
                    (unsigned long long)t->ne[0], (unsigned long long)block_values);
    if (mul_u64(elements / block_values, block_bytes, &t->n_bytes))
        return fail(c->err, c->err_size, "tensor '%.*s': byte size overflows", n, t->name.bytes);
    return 0;
}

static int parse_tensor_info(Cursor *c, GgufTensorInfo *t) {
    if (read_string(c, &t->name, "tensor name") || read_u32(c, &t->n_dims, "tensor n_dims"))
        return -1;
    if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
        return fail(c->err, c->err_size, "tensor '%.*s' has n_dims %u (1..%d supported)",
                    print_len(t->name), t->name.bytes, t->n_dims, GGUF_MAX_DIMS);
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        if (d >= t->n_dims) t->ne[d] = 1;
        else if (read_u64(c, &t->ne[d], "tensor dimension")) return -1;
    if (read_u32(c, &t->type, "tensor type") || read_u64(c, &t->offset, "tensor offset"))
        return -1;
    return size_tensor(c, t);
}

static int parse_tensor_infos(Cursor *c, GgufFile *file) {
    size_t capacity = 0;
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        if (grow((void **)&file->tensors, &capacity, (size_t)i, sizeof(GgufTensorInfo)))
            return fail(c->err, c->err_size, "out of memory reading tensor infos");
        memset(&file->tensors[i], 0, sizeof(GgufTensorInfo));
        if (parse_tensor_info(c, &file->tensors[i])) return -1;
    }
    return 0;
}

static int read_alignment(Cursor *c, GgufFile *file) {
    file->alignment = 32;
    const GgufKv *kv = gguf_find_kv(file, "general.alignment");
    if (!kv) return 0;
    int64_t value;
    if (gguf_kv_int(kv, &value, c->err, c->err_size)) return -1;
    if (value < 8 || value > (1 << 20) || (value & (value - 1)) != 0)
        return fail(c->err, c->err_size, "general.alignment %lld is not a power of two >= 8",
                    (long long)value);
    file->alignment = (uint32_t)value;
    return 0;
}

/* Every tensor must lie inside the data section, at an aligned offset. */
static int place_tensors(Cursor *c, GgufFile *file) {
    file->data_offset = (c->pos + file->alignment - 1) / file->alignment * file->alignment;
    uint64_t available = file->data_offset <= c->size ? c->size - file->data_offset : 0;
    for (uint64_t i = 0; i < file->n_tensors; i++) {
        GgufTensorInfo *t = &file->tensors[i];
        int n = print_len(t->name);
        if (t->offset % file->alignment != 0)
            return fail(c->err, c->err_size, "tensor '%.*s' offset %llu is not aligned to %u", n,
                        t->name.bytes, (unsigned long long)t->offset, file->alignment);
        if (t->offset > available || t->n_bytes > available - t->offset)
            return fail(c->err, c->err_size,
                        "tensor '%.*s' (%llu bytes at offset %llu) extends past the end of the "
                        "file (%zu bytes): truncated or bad offset",
                        n, t->name.bytes, (unsigned long long)t->n_bytes,
                        (unsigned long long)t->offset, c->size);
        t->data = c->base + file->data_offset + t->offset;
    }
    return 0;
}

static int compare_offsets(const void *a, const void *b) {
    const GgufTensorInfo *x = *(const GgufTensorInfo *const *)a;
    const GgufTensorInfo *y = *(const GgufTensorInfo *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Tensors that share bytes would alias each other's weights silently: refuse the file.
 * Runs after place_tensors, so every range is inside the file (no overflow). */
static int check_no_overlap(Cursor *c, const GgufFile *file) {
    size_t n = (size_t)file->n_tensors;
    if (n < 2) return 0;
    const GgufTensorInfo **order = malloc(n * sizeof *order);
    if (!order) return fail(c->err, c->err_size, "out of memory checking tensor offsets");
    for (size_t i = 0; i < n; i++) order[i] = &file->tensors[i];
    qsort(order, n, sizeof *order, compare_offsets);
    int rc = 0;
    for (size_t i = 1; i < n && rc == 0; i++) {
        const GgufTensorInfo *prev = order[i - 1], *t = order[i];
        if (t->offset < prev->offset + prev->n_bytes)
            rc = fail(c->err, c->err_size, "tensors '%.*s' (offset %llu, %llu bytes) and '%.*s' "
                      "(offset %llu) overlap in the file", print_len(prev->name),
                      prev->name.bytes, (unsigned long long)prev->offset,
                      (unsigned long long)prev->n_bytes, print_len(t->name), t->name.bytes,
                      (unsigned long long)t->offset);
    }
    free(order);
    return rc;
}

static int parse_header(Cursor *c, GgufFile *file) {
    char magic[4];
    if (read_bytes(c, magic, 4, "magic")) return -1;
    if (memcmp(magic, "GGUF", 4) != 0) return fail(c->err, c->err_size, "bad magic: not a GGUF file");
    if (read_u32(c, &file->version, "version")) return -1;
    if (file->version != 2 && file->version != 3)
        return fail(c->err, c->err_size, "unsupported GGUF version %u (only 2 and 3)",
                    file->version);
    if (read_u64(c, &file->n_tensors, "tensor count") || read_u64(c, &file->n_kv, "metadata count"))
        return -1;
    size_t remaining = c->size - c->pos; /* smallest KV is 13 bytes, smallest tensor info 32 */
    if (file->n_kv > remaining / 13)
        return fail(c->err, c->err_size, "metadata count %llu is more than the file could hold",
                    (unsigned long long)file->n_kv);
    if (file->n_tensors > remaining / 32)
        return fail(c->err, c->err_size, "tensor count %llu is more than the file could hold",
                    (unsigned long long)file->n_tensors);
    return 0;
}

int gguf_parse(GgufFile *file, const void *data, size_t size, char *err, size_t err_size) {
    memset(file, 0, sizeof *file);
    const uint16_t probe = 1;
    if (*(const uint8_t *)&probe != 1)
        return fail(err, err_size, "GGUF reading needs a little-endian host");
    Cursor c = {data, size, 0, err, err_size};
    if (parse_header(&c, file) || parse_kvs(&c, file) || parse_tensor_infos(&c, file) ||
        read_alignment(&c, file) || place_tensors(&c, file) || check_no_overlap(&c, file)) {
        gguf_free(file);
        return -1;
    }
    return 0;
}

void gguf_free(GgufFile *file) {
    free(file->kvs);
    free(file->tensors);
    memset(file, 0, sizeof *file);
}

static int same_name(GgufString s, const char *name) {
    size_t n = strlen(name);
    return s.length == n && memcmp(s.bytes, name, n) == 0;
}

const GgufKv *gguf_find_kv(const GgufFile *file, const char *key) {
    for (uint64_t i = 0; i < file->n_kv; i++)
        if (same_name(file->kvs[i].key, key)) return &file->kvs[i];
    return NULL;
}

const GgufTensorInfo *gguf_find_tensor(const GgufFile *file, const char *name) {
    for (uint64_t i = 0; i < file->n_tensors; i++)
        if (same_name(file->tensors[i].name, name)) return &file->tensors[i];
    return NULL;
}

int gguf_kv_int(const GgufKv *kv, int64_t *out, char *err, size_t err_size) {
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_BOOL: case GGUF_UINT64:
        if (kv->value.u > INT64_MAX)
            return fail(err, err_size, "key '%.*s' value %llu is too large", print_len(kv->key),
                        kv->key.bytes, (unsigned long long)kv->value.u);
        *out = (int64_t)kv->value.u;
        return 0;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64:
        *out = kv->value.i;
        return 0;
    default:
        return fail(err, err_size, "key '%.*s' has type %s, expected an integer",
                    print_len(kv->key), kv->key.bytes, value_type_name(kv->type));
    }
}

int gguf_kv_float(const GgufKv *kv, double *out, char *err, size_t err_size) {
    if (kv->type == GGUF_FLOAT32 || kv->type == GGUF_FLOAT64) {
        *out = kv->value.f;
        return 0;
    }
    int64_t integer = 0;
    if (kv->type == GGUF_BOOL || gguf_kv_int(kv, &integer, NULL, 0))
        return fail(err, err_size, "key '%.*s' has type %s, expected a number",
                    print_len(kv->key), kv->key.bytes, value_type_name(kv->type));
    *out = (double)integer;
    return 0;
}

int gguf_kv_string(const GgufKv *kv, GgufString *out, char *err, size_t err_size) {
    if (kv->type != GGUF_STRING)
        return fail(err, err_size, "key '%.*s' has type %s, expected a string",
                    print_len(kv->key), kv->key.bytes, value_type_name(kv->type));
    *out = kv->value.s;
    return 0;
}

GgufString gguf_next_array_string(const uint8_t **cursor) {
    GgufString s;
    memcpy(&s.length, *cursor, 8);
    s.bytes = (const char *)*cursor + 8;
    *cursor += 8 + s.length;
    return s;
}

/* ======================================================================================
 * Model reader for architecture 'llama'
 * ====================================================================================== */

typedef struct {
    Model *model;
    const GgufFile *file;
    unsigned char *used; /* per tensor: taken by the model */
    char *err;
    size_t err_size;
} Reader;

enum { OPTIONAL = 0, REQUIRED = 1 };

static const GgufKv *find_llama_kv(const Reader *r, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "llama.%s", suffix);
    return gguf_find_kv(r->file, key);
}

/* An int hyper-parameter; `fallback` when absent (an error when required). */
static int read_int_key(Reader *r, const char *suffix, int required, int fallback, int *out) {
    const GgufKv *kv = find_llama_kv(r, suffix);
    if (!kv) {
        if (required) return fail(r->err, r->err_size, "missing key 'llama.%s'", suffix);
        *out = fallback;
        return 0;
    }
    int64_t value;
    if (gguf_kv_int(kv, &value, r->err, r->err_size)) return -1;
    if (value < 0 || value > INT_MAX)
        return fail(r->err, r->err_size, "key 'llama.%s' value %lld is out of range", suffix,
                    (long long)value);
    *out = (int)value;
    return 0;
}

static int read_float_key(Reader *r, const char *suffix, double fallback, double *out) {
    const GgufKv *kv = find_llama_kv(r, suffix);
    *out = fallback;
    return kv ? gguf_kv_float(kv, out, r->err, r->err_size) : 0;
}

/* Copies a string value into a fixed buffer; too long or containing NUL is an error. */
static int copy_string(Reader *r, const GgufKv *kv, char *out, size_t out_size) {
    GgufString s = {NULL, 0};
    if (gguf_kv_string(kv, &s, r->err, r->err_size)) return -1;
    if (s.length >= out_size || memchr(s.bytes, 0, (size_t)s.length))
        return fail(r->err, r->err_size, "key '%.*s': value '%.*s' is too long or contains NUL",
                    print_len(kv->key), kv->key.bytes, print_len(s), s.bytes);
    memcpy(out, s.bytes, (size_t)s.length);
    out[s.length] = 0;
    return 0;
}

static int check_architecture(Reader *r) {
    const GgufKv *kv = gguf_find_kv(r->file, "general.architecture");
    if (!kv) return fail(r->err, r->err_size, "missing key 'general.architecture'");
    char arch[64];
    if (copy_string(r, kv, arch, sizeof arch)) return -1;
    if (strcmp(arch, "llama") != 0)
        return fail(r->err, r->err_size, "unsupported architecture '%s' (only 'llama')", arch);
    return 0;
}

static int read_rope_settings(Reader *r) {
    RopeFileSettings *s = &r->model->config.rope;
    const GgufKv *type = find_llama_kv(r, "rope.scaling.type");
    if (type && copy_string(r, type, s->scaling_type, sizeof s->scaling_type)) return -1;
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

/* Interleaved pairs are llama.cpp's 'llama' rope mode; our own converter may say so
 * explicitly with ropewalk.rope.layout ("interleaved" or "half_split"). */
static int read_rope_layout(Reader *r) {
    Config *c = &r->model->config;
    c->rope_layout = ROPE_LAYOUT_INTERLEAVED;
    const GgufKv *kv = gguf_find_kv(r->file, "ropewalk.rope.layout");
    char layout[32];
    if (!kv) return 0;
    if (copy_string(r, kv, layout, sizeof layout)) return -1;
    if (strcmp(layout, "half_split") == 0) c->rope_layout = ROPE_LAYOUT_HALF_SPLIT;
    else if (strcmp(layout, "interleaved") != 0)
        return fail(r->err, r->err_size, "unknown ropewalk.rope.layout '%s'", layout);
    return 0;
}

static int read_config(Reader *r) {
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
static int find_tensor(Reader *r, const char *name, int required, const GgufTensorInfo **out) {
    *out = NULL;
    for (uint64_t i = 0; i < r->file->n_tensors; i++) {
        if (!same_name(r->file->tensors[i].name, name)) continue;
        if (*out) return fail(r->err, r->err_size, "duplicate tensor '%s'", name);
        *out = &r->file->tensors[i];
        r->used[i] = 1;
    }
    if (!*out && required) return fail(r->err, r->err_size, "missing tensor '%s'", name);
    return 0;
}

/* ne must be [ne0, ne1] (ne1 == 1 allows a vector written with one or two dims). */
static int check_shape(Reader *r, const GgufTensorInfo *t, int64_t ne0, int64_t ne1) {
    if (t->ne[0] == (uint64_t)ne0 && t->ne[1] == (uint64_t)ne1 && t->ne[2] == 1 && t->ne[3] == 1)
        return 0;
    return fail(r->err, r->err_size, "tensor '%.*s' has shape [%llu,%llu,%llu,%llu], expected "
                "[%lld,%lld]", print_len(t->name), t->name.bytes, (unsigned long long)t->ne[0],
                (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                (unsigned long long)t->ne[3], (long long)ne0, (long long)ne1);
}

static int is_matrix_type(uint32_t type) {
    return type == TENSOR_F32 || type == TENSOR_F16 || type == TENSOR_Q8_0 || type == TENSOR_Q4_0;
}

/* A rows x cols matrix stored as ne = [cols, rows]; zero-copy. */
static int load_matrix(Reader *r, const char *name, int64_t rows, int64_t cols, Matrix *out) {
    const GgufTensorInfo *t;
    if (find_tensor(r, name, REQUIRED, &t)) return -1;
    if (!is_matrix_type(t->type))
        return fail(r->err, r->err_size, "tensor '%s' has unsupported type %u "
                    "(matrices: F32, F16, Q8_0, Q4_0)", name, t->type);
    if (check_shape(r, t, cols, rows)) return -1;
    *out = (Matrix){t->data, (TensorType)t->type, (int)rows, (int)cols};
    r->model->weight_bytes += (size_t)t->n_bytes;
    return 0;
}

/* A vector of n floats: zero-copy for F32, converted into a model-owned buffer for F16. */
static int load_vector(Reader *r, const char *name, int required, int64_t n, const float **out) {
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

static int load_layer(Reader *r, int i) {
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
    return 0;
}

/* vocab_size comes from token_embd.weight: ne = [dim, vocab]. */
static int read_vocab_size(Reader *r) {
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
static int load_factors(Reader *r, const char *name, const float **out) {
    int pairs = r->model->config.rotary_dim / 2;
    if (load_vector(r, name, OPTIONAL, pairs, out)) return -1;
    for (int k = 0; *out && k < pairs; k++)
        if (!isfinite((*out)[k]) || (*out)[k] <= 0)
            return fail(r->err, r->err_size, "tensor '%s' value %g at pair %d is not a finite "
                        "number > 0", name, (*out)[k], k);
    return 0;
}

static int read_rope_factors(Reader *r) {
    RopeFileSettings *rope = &r->model->config.rope;
    if (load_factors(r, "rope_freqs.weight", &rope->freq_factors) ||
        load_factors(r, "rope_factors_long.weight", &rope->long_factors) ||
        load_factors(r, "rope_factors_short.weight", &rope->short_factors))
        return -1;
    return 0;
}

static int read_weights(Reader *r) {
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

/* ---- vocabulary ---- */

/* The array under `key` if present; it must hold `count` elements of `type`. */
static int find_array(Reader *r, const char *key, GgufValueType type, uint64_t count,
                      const GgufKv **out) {
    *out = gguf_find_kv(r->file, key);
    if (!*out) return 0;
    if ((*out)->type != GGUF_ARRAY || (*out)->value.array.type != type ||
        (*out)->value.array.count != count)
        return fail(r->err, r->err_size, "key '%s' must be an array of %llu %s values", key,
                    (unsigned long long)count, value_type_name(type));
    return 0;
}

static int read_pieces(Reader *r, const GgufKv *tokens) {
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

static int read_scores_and_types(Reader *r) {
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

/* A special token id: -1 when absent or 0xFFFFFFFF (GGUF's "none"); else in range. */
static int read_token_id(Reader *r, const char *key, int *out) {
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

static int read_vocab(Reader *r) {
    ModelVocab *v = &r->model->vocab;
    v->bos_id = v->eos_id = v->unk_id = -1;
    const GgufKv *tokens = gguf_find_kv(r->file, "tokenizer.ggml.tokens");
    if (!tokens) return 0;
    if (tokens->type != GGUF_ARRAY || tokens->value.array.type != GGUF_STRING)
        return fail(r->err, r->err_size, "tokenizer.ggml.tokens is not an array of strings");
    if (tokens->value.array.count != (uint64_t)r->model->config.vocab_size)
        return fail(r->err, r->err_size, "vocabulary has %llu tokens but token_embd.weight has "
                    "%d rows", (unsigned long long)tokens->value.array.count,
                    r->model->config.vocab_size);
    const GgufKv *name = gguf_find_kv(r->file, "tokenizer.ggml.model");
    if (read_pieces(r, tokens) || read_scores_and_types(r) ||
        (name && copy_string(r, name, v->model_name, sizeof v->model_name)) ||
        read_token_id(r, "tokenizer.ggml.bos_token_id", &v->bos_id) ||
        read_token_id(r, "tokenizer.ggml.eos_token_id", &v->eos_id) ||
        read_token_id(r, "tokenizer.ggml.unknown_token_id", &v->unk_id))
        return -1;
    return 0;
}

static void read_name(Reader *r) {
    const GgufKv *kv = gguf_find_kv(r->file, "general.name");
    if (!kv || kv->type != GGUF_STRING) return;
    int length = (int)(kv->value.s.length < sizeof r->model->name - 1
                           ? kv->value.s.length : sizeof r->model->name - 1);
    snprintf(r->model->name, sizeof r->model->name, "%.*s", length, kv->value.s.bytes);
}

/* Like llama.cpp, refuse tensors the model would ignore (biases, experts, ...): running
 * without them would be a silently different model. */
static int check_all_used(Reader *r) {
    for (uint64_t i = 0; i < r->file->n_tensors; i++) {
        const GgufTensorInfo *t = &r->file->tensors[i];
        if (!r->used[i])
            return fail(r->err, r->err_size, "tensor '%.*s' is not part of a llama model "
                        "(unsupported feature)", print_len(t->name), t->name.bytes);
    }
    return 0;
}

static int read_model(Reader *r) {
    if (check_architecture(r) || read_config(r) || read_vocab_size(r) ||
        model_validate_config(&r->model->config, r->err, r->err_size) || read_weights(r) ||
        check_all_used(r) || read_vocab(r))
        return -1;
    read_name(r);
    return 0;
}

int gguf_open_model(Model *model, const char *path, char *err, size_t err_size) {
    memset(model, 0, sizeof *model);
    if (model_map_file(model, path, err, err_size)) return -1;
    model->format = MODEL_FORMAT_GGUF;
    GgufFile file;
    if (gguf_parse(&file, model->mapping, model->mapping_size, err, err_size)) {
        model_close(model);
        return -1;
    }
    Reader reader = {model, &file, calloc((size_t)file.n_tensors + 1, 1), err, err_size};
    int rc = reader.used ? read_model(&reader) : fail(err, err_size, "out of memory");
    free(reader.used);
    gguf_free(&file);
    if (rc == 0) rc = model_finish(model, path, err, err_size);
    if (rc != 0) model_close(model);
    return rc;
}
