/* kvcache.h — per-layer storage of keys and values for the positions of one sequence, in a
 * chosen element type (f32, f16, q8_0), with exact byte accounting.
 *
 * Positions are logical: 0..n_cached-1 in sequence order. The first n_pinned positions
 * (attention sinks, or llama.cpp's --keep tokens) stay in place; the others live in a ring,
 * so evicting the oldest unpinned positions is O(1) and the survivors' logical positions
 * move down (RoPE then sees only positions below the capacity). */
#ifndef ROPEWALK_KVCACHE_H
#define ROPEWALK_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { KV_F32 = 0, KV_F16 = 1, KV_Q8_0 = 2 } KvType;

typedef struct {
    KvType type;
    int n_layers, capacity, kv_dim;
    size_t row_bytes;      /* bytes of one position's K (or V) in one layer */
    unsigned char *keys;   /* [layer][slot] rows of row_bytes */
    unsigned char *values; /* same */
    size_t bytes;          /* total bytes allocated for keys + values */
    int n_cached;          /* logical positions in use */
    int n_pinned;          /* leading positions never evicted */
    int ring_head;         /* ring index of logical position n_pinned */
} KvCache;

size_t kvcache_bytes(KvType type, int n_layers, int capacity, int kv_dim);
/* Fails for q8_0 when kv_dim is not a multiple of 32, or when memory runs out. */
int kvcache_init(KvCache *cache, KvType type, int n_layers, int capacity, int kv_dim,
                 char *err, size_t err_size);
void kvcache_free(KvCache *cache);
const char *kv_type_name(KvType type);
int kv_type_from_name(const char *name, KvType *type);

/* Forgets every position; n_pinned positions will be kept by later evictions. */
void kvcache_reset(KvCache *cache, int n_pinned);
/* Drops the `count` oldest unpinned positions (count <= n_cached - n_pinned). */
void kvcache_evict(KvCache *cache, int count);

/* Stores one logical position's key and value (kv_dim floats each) in layer `layer`. */
void kvcache_store(KvCache *cache, int layer, int position, const float *key, const float *value);
/* Reads one position's key or value back as floats. */
void kvcache_load_key(const KvCache *cache, int layer, int position, float *out);
void kvcache_load_value(const KvCache *cache, int layer, int position, float *out);
/* The stored row (kv_dim elements of the cache's type) of a position's key or value. */
const unsigned char *kvcache_key_row(const KvCache *cache, int layer, int position);
const unsigned char *kvcache_value_row(const KvCache *cache, int layer, int position);
/* Reads `count` elements from element `first` of a position's key or value (one head). */
void kvcache_load_key_part(const KvCache *cache, int layer, int position, int first, int count,
                           float *out);
void kvcache_load_value_part(const KvCache *cache, int layer, int position, int first,
                             int count, float *out);

#endif
