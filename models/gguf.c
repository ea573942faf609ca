/* gguf.c — GGUF v2/v3: the bounds-checked container parser declared in gguf.h (header,
 * metadata, tensor directory) and typed access to its values.  Turning a file into a
 * Model is gguf_model.c's (hyper-parameters, weights) and gguf_vocab.c's (vocabulary). */
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "tensor_types.h"


typedef struct {
    const uint8_t *base;
    size_t size, pos;
    char *err;
    size_t err_size;
} Cursor;

#define PRINT_MAX 80 /* longest key or name quoted in a message */

int gguf_print_len(GgufString s) { return s.length > PRINT_MAX ? PRINT_MAX : (int)s.length; }

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

const char *gguf_value_type_name(uint32_t type) {
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
    int n = gguf_print_len(kv->key);
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
                    gguf_print_len(kv->key), kv->key.bytes, type);
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

size_t gguf_type_block_bytes(uint32_t type) {
    const TensorTypeInfo *info = tensor_type_info(type);
    return info ? info->block_bytes : 0;
}

size_t gguf_type_block_values(uint32_t type) {
    const TensorTypeInfo *info = tensor_type_info(type);
    return info ? info->block_values : 0;
}

/* Size in bytes of a tensor from its dims and type, with every product overflow-checked. */
static int size_tensor(Cursor *c, GgufTensorInfo *t) {
    int n = gguf_print_len(t->name);
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
                    gguf_print_len(t->name), t->name.bytes, t->n_dims, GGUF_MAX_DIMS);
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
        int n = gguf_print_len(t->name);
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
                      "(offset %llu) overlap in the file", gguf_print_len(prev->name),
                      prev->name.bytes, (unsigned long long)prev->offset,
                      (unsigned long long)prev->n_bytes, gguf_print_len(t->name), t->name.bytes,
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

int gguf_string_equals(GgufString s, const char *name) {
    size_t n = strlen(name);
    return s.length == n && memcmp(s.bytes, name, n) == 0;
}

const GgufKv *gguf_find_kv(const GgufFile *file, const char *key) {
    for (uint64_t i = 0; i < file->n_kv; i++)
        if (gguf_string_equals(file->kvs[i].key, key)) return &file->kvs[i];
    return NULL;
}

const GgufTensorInfo *gguf_find_tensor(const GgufFile *file, const char *name) {
    for (uint64_t i = 0; i < file->n_tensors; i++)
        if (gguf_string_equals(file->tensors[i].name, name)) return &file->tensors[i];
    return NULL;
}

int gguf_kv_int(const GgufKv *kv, int64_t *out, char *err, size_t err_size) {
    switch (kv->type) {
    case GGUF_UINT8: case GGUF_UINT16: case GGUF_UINT32: case GGUF_BOOL: case GGUF_UINT64:
        if (kv->value.u > INT64_MAX)
            return fail(err, err_size, "key '%.*s' value %llu is too large", gguf_print_len(kv->key),
                        kv->key.bytes, (unsigned long long)kv->value.u);
        *out = (int64_t)kv->value.u;
        return 0;
    case GGUF_INT8: case GGUF_INT16: case GGUF_INT32: case GGUF_INT64:
        *out = kv->value.i;
        return 0;
    default:
        return fail(err, err_size, "key '%.*s' has type %s, expected an integer",
                    gguf_print_len(kv->key), kv->key.bytes, gguf_value_type_name(kv->type));
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
                    gguf_print_len(kv->key), kv->key.bytes, gguf_value_type_name(kv->type));
    *out = (double)integer;
    return 0;
}

int gguf_kv_string(const GgufKv *kv, GgufString *out, char *err, size_t err_size) {
    if (kv->type != GGUF_STRING)
        return fail(err, err_size, "key '%.*s' has type %s, expected a string",
                    gguf_print_len(kv->key), kv->key.bytes, gguf_value_type_name(kv->type));
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
