/* attention.h — causal grouped-query attention of a block of queries over the KV cache.
 * Query i of the block sits at position pos + i and attends to cached positions 0..pos+i.
 * Keys are either already rotated in the cache, or stored raw and rotated here with the
 * frequencies of the query's current length (the exact policy for dynamic scaling). */
#ifndef ROPEWALK_ATTENTION_H
#define ROPEWALK_ATTENTION_H

#include "kvcache.h"
#include "rope.h"
#include "self_extend.h"
#include "threads.h"

typedef struct {
    int n_heads, n_kv_heads, head_dim;
    RopeLayout layout;
    const RopeConfig *rope_at_attention; /* NULL: keys in the cache are already rotated */
    const float *key_angles;  /* raw keys with fixed frequencies: cos/sin of every position
                                 [context][rotary_dim], computed once; NULL otherwise */
    SelfExtend self_extend;   /* group 0: off. On: keys cached raw with fixed frequencies
                                 (key_angles set), queries given raw, both rotated here */
} AttentionSpec;

typedef struct {
    float *buffer;  /* per thread: scores for a group of heads, plus key/value rows */
    size_t floats_per_thread;
    int threads;
} AttentionScratch;

int attention_scratch_init(AttentionScratch *s, const AttentionSpec *spec, int context,
                           int threads);
void attention_scratch_free(AttentionScratch *s);
size_t attention_scratch_bytes(const AttentionSpec *spec, int context, int threads);

/* q: n x (n_heads*head_dim), rotated (raw with Self-Extend); out: the same shape. */
void attention_block(ThreadPool *pool, const AttentionSpec *spec, AttentionScratch *scratch,
                     const KvCache *cache, int layer, const float *q, int n, int pos, float *out);

/* One query at position pos over keys already rotated in the cache (attention_decode.c);
 * attention_block calls it for such a step. */
void attention_decode(ThreadPool *pool, const AttentionSpec *spec, AttentionScratch *scratch,
                      const KvCache *cache, int layer, const float *q, int pos, float *out);
/* Scratch floats per thread that attention_decode needs. */
size_t attention_decode_floats(const AttentionSpec *spec);

#endif
