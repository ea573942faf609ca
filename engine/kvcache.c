/* kvcache.c — K/V rows per layer and slot, stored as f32, f16 or q8_0 (GGML's block of 32:
 * an f16 scale d = max|x| / 127 and 32 int8 round(x / d)), and the pinned-prefix + ring
 * mapping from logical positions to slots. */
#include "kvcache.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "../util/half.h"
#include "ops.h"

enum { Q8_BLOCK = 32, Q8_BLOCK_BYTES = 34 };

static size_t row_bytes(KvType type, int kv_dim) {
    switch (type) {
    case KV_F32: return (size_t)kv_dim * 4;
    case KV_F16: return (size_t)kv_dim * 2;
    case KV_Q8_0: return (size_t)(kv_dim / Q8_BLOCK) * Q8_BLOCK_BYTES;
    }
    return 0;
}

size_t kvcache_bytes(KvType type, int n_layers, int capacity, int kv_dim) {
    return 2 * (size_t)n_layers * (size_t)capacity * row_bytes(type, kv_dim);
}

static const char *const type_names[] = {"f32", "f16", "q8_0"};

const char *kv_type_name(KvType type) {
    return (unsigned)type < 3 ? type_names[type] : "unknown";
}

int kv_type_from_name(const char *name, KvType *type) {
    for (int t = 0; t < 3; t++)
        if (!strcmp(name, type_names[t])) { *type = (KvType)t; return 0; }
    return -1;
}

int kvcache_init(KvCache *cache, KvType type, int n_layers, int capacity, int kv_dim,
                 char *err, size_t err_size) {
    memset(cache, 0, sizeof *cache);
    if (type == KV_Q8_0 && kv_dim % Q8_BLOCK != 0)
        return fail(err, err_size, "--kv-type q8_0 needs a kv width that is a multiple of 32 "
                    "(this model's is %d)", kv_dim);
    cache->type = type;
    cache->n_layers = n_layers;
    cache->capacity = capacity;
    cache->kv_dim = kv_dim;
    cache->row_bytes = row_bytes(type, kv_dim);
    size_t half = kvcache_bytes(type, n_layers, capacity, kv_dim) / 2;
    cache->keys = malloc(half);
    cache->values = malloc(half);
    if (!cache->keys || !cache->values) {
        kvcache_free(cache);
        return fail(err, err_size, "out of memory for a KV cache of %zu bytes", 2 * half);
    }
    cache->bytes = 2 * half;
    return 0;
}

void kvcache_free(KvCache *cache) {
    free(cache->keys);
    free(cache->values);
    cache->keys = cache->values = NULL;
    cache->bytes = 0;
}

void kvcache_reset(KvCache *cache, int n_pinned) {
    cache->n_cached = 0;
    cache->n_pinned = n_pinned < cache->capacity ? n_pinned : cache->capacity;
    cache->ring_head = 0;
}

void kvcache_evict(KvCache *cache, int count) {
    int ring = cache->capacity - cache->n_pinned;
    if (count <= 0 || ring <= 0) return;
    cache->ring_head = (cache->ring_head + count) % ring;
    cache->n_cached -= count;
}

static int slot_of(const KvCache *cache, int position) {
    if (position < cache->n_pinned) return position;
    int ring = cache->capacity - cache->n_pinned;
    return cache->n_pinned + (cache->ring_head + position - cache->n_pinned) % ring;
}

static size_t row_offset(const KvCache *cache, int layer, int position) {
    return ((size_t)layer * (size_t)cache->capacity + (size_t)slot_of(cache, position)) *
           cache->row_bytes;
}

static void store_row(const KvCache *cache, unsigned char *dst, const float *src) {
    switch (cache->type) {
    case KV_F32: memcpy(dst, src, cache->row_bytes); break;
    case KV_F16: {
        uint16_t *h = (uint16_t *)dst;
        for (int i = 0; i < cache->kv_dim; i++) h[i] = float_to_half(src[i]);
        break;
    }
    case KV_Q8_0: quantize_row_q8_0(src, cache->kv_dim, dst); break;
    }
}

static void load_part(const KvCache *cache, const unsigned char *row, int first, int count,
                      float *dst) {
    switch (cache->type) {
    case KV_F32: memcpy(dst, (const float *)row + first, (size_t)count * sizeof(float)); break;
    case KV_F16: half_to_float_row((const uint16_t *)row + first, dst, count); break;
    case KV_Q8_0:
        if (first % Q8_BLOCK == 0 && count % Q8_BLOCK == 0) { /* whole blocks */
            dequantize_row_q8_0(row + (size_t)(first / Q8_BLOCK) * Q8_BLOCK_BYTES, count, dst);
            break;
        }
        for (int i = 0; i < count; i++) {
            const unsigned char *block = row + (size_t)((first + i) / Q8_BLOCK) * Q8_BLOCK_BYTES;
            uint16_t dh;
            memcpy(&dh, block, 2);
            dst[i] = half_to_float(dh) * (float)(int8_t)block[2 + (first + i) % Q8_BLOCK];
        }
        break;
    }
}

void kvcache_store(KvCache *cache, int layer, int position, const float *key, const float *value) {
    size_t off = row_offset(cache, layer, position);
    store_row(cache, cache->keys + off, key);
    store_row(cache, cache->values + off, value);
}

void kvcache_load_key(const KvCache *cache, int layer, int position, float *out) {
    load_part(cache, cache->keys + row_offset(cache, layer, position), 0, cache->kv_dim, out);
}

void kvcache_load_value(const KvCache *cache, int layer, int position, float *out) {
    load_part(cache, cache->values + row_offset(cache, layer, position), 0, cache->kv_dim, out);
}

void kvcache_load_key_part(const KvCache *cache, int layer, int position, int first, int count,
                           float *out) {
    load_part(cache, cache->keys + row_offset(cache, layer, position), first, count, out);
}

void kvcache_load_value_part(const KvCache *cache, int layer, int position, int first,
                             int count, float *out) {
    load_part(cache, cache->values + row_offset(cache, layer, position), first, count, out);
}

const unsigned char *kvcache_key_row(const KvCache *cache, int layer, int position) {
    return cache->keys + row_offset(cache, layer, position);
}

const unsigned char *kvcache_value_row(const KvCache *cache, int layer, int position) {
    return cache->values + row_offset(cache, layer, position);
}
