/* attention.c — one work item is (query, kv head): scores of the heads that share that kv
 * head against every visible key, softmax, and the weighted sum of values. */
#include "attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/half.h"
#include "ops.h"

static size_t floats_per_thread(const AttentionSpec *spec, int context) {
    int group = spec->n_heads / spec->n_kv_heads;
    return (size_t)group * (size_t)context + 2 * (size_t)spec->head_dim + ROPE_MAX_PAIRS * 2;
}

size_t attention_scratch_bytes(const AttentionSpec *spec, int context, int threads) {
    return floats_per_thread(spec, context) * (size_t)threads * sizeof(float);
}

int attention_scratch_init(AttentionScratch *s, const AttentionSpec *spec, int context,
                           int threads) {
    s->floats_per_thread = floats_per_thread(spec, context);
    s->threads = threads;
    s->buffer = malloc(attention_scratch_bytes(spec, context, threads));
    return s->buffer ? 0 : -1;
}

void attention_scratch_free(AttentionScratch *s) {
    free(s->buffer);
    s->buffer = NULL;
}

typedef struct {
    const AttentionSpec *spec;
    AttentionScratch *scratch;
    const KvCache *cache;
    int layer, pos, n_items;
    const float *q;
    float *out;
} AttentionJob;

/* Key `position` of kv head g as floats, rotated for a query of length `length` when the
 * cache holds raw keys. Returns a pointer to the key (into the cache or into buf). */
static const float *key_head(const AttentionJob *job, int position, int g, double *inv_freq,
                             double attention_factor, float *buf, float *cos_sin) {
    const AttentionSpec *spec = job->spec;
    const KvCache *cache = job->cache;
    int hd = spec->head_dim;
    const float *key;
    if (cache->type == KV_F32) {
        key = (const float *)kvcache_key_row(cache, job->layer, position) + (size_t)g * hd;
    } else {
        /* f16: convert this head only */
        const uint16_t *row = (const uint16_t *)kvcache_key_row(cache, job->layer, position);
        for (int i = 0; i < hd; i++) buf[i] = half_to_float(row[(size_t)g * hd + i]);
        key = buf;
    }
    const RopeConfig *rope = spec->rope_at_attention;
    if (!rope) return key;
    if (key != buf) memcpy(buf, key, (size_t)hd * sizeof(float));
    rope_cos_sin(inv_freq, rope->rotary_dim / 2, attention_factor, position, cos_sin);
    rope_rotate(buf, 1, hd, rope->rotary_dim, spec->layout, cos_sin);
    return buf;
}

static void value_head(const AttentionJob *job, int position, int g, float *buf,
                       const float **value) {
    const KvCache *cache = job->cache;
    int hd = job->spec->head_dim;
    if (cache->type == KV_F32) {
        *value = (const float *)kvcache_value_row(cache, job->layer, position) + (size_t)g * hd;
        return;
    }
    const uint16_t *row = (const uint16_t *)kvcache_value_row(cache, job->layer, position);
    for (int i = 0; i < hd; i++) buf[i] = half_to_float(row[(size_t)g * hd + i]);
    *value = buf;
}

static void attend_one(const AttentionJob *job, int query, int g, float *scratch) {
    const AttentionSpec *spec = job->spec;
    int hd = spec->head_dim, group = spec->n_heads / spec->n_kv_heads;
    int q_dim = spec->n_heads * hd;
    int length = job->pos + query + 1;
    float *scores = scratch;
    float *row_buf = scores + (size_t)group * length;
    float *cos_sin = row_buf + hd;
    double inv_freq[ROPE_MAX_PAIRS];
    double attention_factor = 1.0;
    if (spec->rope_at_attention)
        attention_factor = rope_inv_freq(spec->rope_at_attention, length, inv_freq);
    const float *q = job->q + (size_t)query * q_dim + (size_t)g * group * hd;
    float inv_sqrt = 1.0f / sqrtf((float)hd);
    for (int j = 0; j < length; j++) {
        const float *k = key_head(job, j, g, inv_freq, attention_factor, row_buf, cos_sin);
        for (int h = 0; h < group; h++)
            scores[(size_t)h * length + j] = dot_f32(q + (size_t)h * hd, k, hd) * inv_sqrt;
    }
    float *out = job->out + (size_t)query * q_dim + (size_t)g * group * hd;
    memset(out, 0, (size_t)group * hd * sizeof(float));
    for (int h = 0; h < group; h++) softmax(scores + (size_t)h * length, length);
    for (int j = 0; j < length; j++) {
        const float *v;
        value_head(job, j, g, row_buf, &v);
        for (int h = 0; h < group; h++)
            axpy_f32(out + (size_t)h * hd, scores[(size_t)h * length + j], v, hd);
    }
}

/* Later queries see more keys: items are dealt from both ends of the block alternately so
 * that contiguous slices of the item range carry similar work. */
static void attention_items(void *ctx, int begin, int end, int thread) {
    AttentionJob *job = ctx;
    float *scratch = job->scratch->buffer + (size_t)thread * job->scratch->floats_per_thread;
    int n_kv = job->spec->n_kv_heads;
    for (int slot = begin; slot < end; slot++) {
        int item = slot % 2 == 0 ? slot / 2 : job->n_items - 1 - slot / 2;
        attend_one(job, item / n_kv, item % n_kv, scratch);
    }
}

void attention_block(ThreadPool *pool, const AttentionSpec *spec, AttentionScratch *scratch,
                     const KvCache *cache, int layer, const float *q, int n, int pos, float *out) {
    AttentionJob job = {spec, scratch, cache, layer, pos, n * spec->n_kv_heads, q, out};
    parallel_for(pool, job.n_items, 1, attention_items, &job);
}
