/* kvcache.c — K/V rows per layer and position, stored as f32 or f16. */
#include "kvcache.h"

#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "../util/half.h"

static size_t element_bytes(KvType type) { return type == KV_F16 ? 2 : 4; }

size_t kvcache_bytes(KvType type, int n_layers, int capacity, int kv_dim) {
    return 2 * (size_t)n_layers * (size_t)capacity * (size_t)kv_dim * element_bytes(type);
}

const char *kv_type_name(KvType type) { return type == KV_F16 ? "f16" : "f32"; }

int kv_type_from_name(const char *name, KvType *type) {
    if (!strcmp(name, "f32")) { *type = KV_F32; return 0; }
    if (!strcmp(name, "f16")) { *type = KV_F16; return 0; }
    return -1;
}

int kvcache_init(KvCache *cache, KvType type, int n_layers, int capacity, int kv_dim,
                 char *err, size_t err_size) {
    memset(cache, 0, sizeof *cache);
    cache->type = type;
    cache->n_layers = n_layers;
    cache->capacity = capacity;
    cache->kv_dim = kv_dim;
    cache->row_bytes = (size_t)kv_dim * element_bytes(type);
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

static size_t row_offset(const KvCache *cache, int layer, int position) {
    return ((size_t)layer * (size_t)cache->capacity + (size_t)position) * cache->row_bytes;
}

static void store_row(const KvCache *cache, unsigned char *dst, const float *src) {
    if (cache->type == KV_F32) {
        memcpy(dst, src, cache->row_bytes);
        return;
    }
    uint16_t *h = (uint16_t *)dst;
    for (int i = 0; i < cache->kv_dim; i++) h[i] = float_to_half(src[i]);
}

static void load_part(const KvCache *cache, const unsigned char *row, int first, int count,
                      float *dst) {
    if (cache->type == KV_F32) {
        memcpy(dst, (const float *)row + first, (size_t)count * sizeof(float));
        return;
    }
    half_to_float_row((const uint16_t *)row + first, dst, count);
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
