/* kvcache.h — per-layer storage of keys and values for the positions of one sequence,
 * in a chosen element type, with exact byte accounting. */
#ifndef ROPEWALK_KVCACHE_H
#define ROPEWALK_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { KV_F32 = 0, KV_F16 = 1 } KvType;

typedef struct {
    KvType type;
    int n_layers, capacity, kv_dim;
    size_t row_bytes;   /* bytes of one position's K (or V) in one layer */
    unsigned char *keys;   /* [layer][position][kv_dim] of type */
    unsigned char *values; /* same */
    size_t bytes;       /* total bytes allocated for keys + values */
} KvCache;

size_t kvcache_bytes(KvType type, int n_layers, int capacity, int kv_dim);
int kvcache_init(KvCache *cache, KvType type, int n_layers, int capacity, int kv_dim,
                 char *err, size_t err_size);
void kvcache_free(KvCache *cache);
const char *kv_type_name(KvType type);
int kv_type_from_name(const char *name, KvType *type);

/* Stores one position's key and value (kv_dim floats each) in layer `layer`. */
void kvcache_store(KvCache *cache, int layer, int position, const float *key, const float *value);
/* Reads one position's key or value back as floats. */
void kvcache_load_key(const KvCache *cache, int layer, int position, float *out);
void kvcache_load_value(const KvCache *cache, int layer, int position, float *out);
/* Reads `count` elements from element `first` of a position's key or value (one head). */
void kvcache_load_key_part(const KvCache *cache, int layer, int position, int first, int count,
                           float *out);
void kvcache_load_value_part(const KvCache *cache, int layer, int position, int first,
                             int count, float *out);

#endif
