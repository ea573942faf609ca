/* attention_decode.c — one query (a decode step) over keys already rotated in the cache.
 * The cached positions are cut into blocks of KEY_BLOCK, and the blocks into a few parts
 * per thread, each a contiguous run. A part reads whole cache rows in order (every head at
 * once, so memory is streamed rather than strided), keeping per query head a running
 * maximum, sum of exponentials and weighted sum of values (the online softmax). The parts'
 * results are merged in order at the end with the usual rescaling by exp(max_p - max), so
 * the answer does not depend on which thread ran which part. */
#include <math.h>
#include <string.h>

#include "attention.h"
#include "ops.h"

enum {
    KEY_BLOCK = 128,
    PARTS_PER_THREAD = 4 /* parts are taken by whichever thread is free (threads.c) */
};

/* Scratch, in each thread's region of the attention scratch: the thread's working rows,
 * then the running states of PARTS_PER_THREAD parts (thread t's region holds those of parts
 * t * PARTS_PER_THREAD and up, whichever thread runs them), then, in thread 0's region only,
 * the query as 16-bit integers for a q8_0 cache. */
typedef struct {
    float *scores;     /* [n_heads][KEY_BLOCK] */
    float *row;        /* one cache row as floats (kv_dim) */
} DecodeRows;

typedef struct {
    float *max, *sum;  /* [n_heads] running maximum and sum of exp(score - max) */
    float *out;        /* [n_heads][head_dim] running sum of exp(score - max) * value */
} PartState;

typedef struct {
    int16_t *q16;      /* [n_heads][head_dim]: q_h = q_scale[h] * q16_h */
    float *q_scale;    /* [n_heads] */
} IntegerQuery;

static size_t rows_floats(const AttentionSpec *spec) {
    return (size_t)spec->n_heads * KEY_BLOCK + (size_t)spec->n_kv_heads * spec->head_dim;
}

static size_t part_floats(const AttentionSpec *spec) {
    return (size_t)spec->n_heads * (2 + (size_t)spec->head_dim);
}

static size_t query_floats(const AttentionSpec *spec) {
    size_t q_dim = (size_t)spec->n_heads * spec->head_dim;
    return (q_dim + 1) / 2 + (size_t)spec->n_heads; /* q16, then the scales */
}

size_t attention_decode_floats(const AttentionSpec *spec) {
    return rows_floats(spec) + PARTS_PER_THREAD * part_floats(spec) + query_floats(spec);
}

static DecodeRows thread_rows(const AttentionSpec *spec, const AttentionScratch *s, int thread) {
    float *base = s->buffer + (size_t)thread * s->floats_per_thread;
    return (DecodeRows){base, base + (size_t)spec->n_heads * KEY_BLOCK};
}

static PartState part_state(const AttentionSpec *spec, const AttentionScratch *s, int part) {
    float *max = s->buffer + (size_t)(part / PARTS_PER_THREAD) * s->floats_per_thread +
                 rows_floats(spec) + (size_t)(part % PARTS_PER_THREAD) * part_floats(spec);
    return (PartState){max, max + spec->n_heads, max + 2 * (size_t)spec->n_heads};
}

static IntegerQuery integer_query(const AttentionSpec *spec, const AttentionScratch *s) {
    float *base = s->buffer + rows_floats(spec) + PARTS_PER_THREAD * part_floats(spec);
    return (IntegerQuery){(int16_t *)base, base + query_floats(spec) - spec->n_heads};
}

typedef struct {
    const AttentionSpec *spec;
    AttentionScratch *scratch;
    const KvCache *cache;
    int layer, length;
    int n_blocks, n_parts;
    int q8_in_place;       /* q8_0 cache with whole blocks per head: read without converting */
    const float *q;
    IntegerQuery q_int;    /* filled when q8_in_place */
} DecodeJob;

/* Folds the block's scores of head h (n of them) into its running max, sum and output;
 * leaves exp(score - max) in the scores for the weighted sum of values. */
static void fold_scores(const DecodeRows *d, const PartState *st, int h, int n, int head_dim) {
    float *scores = d->scores + (size_t)h * KEY_BLOCK;
    float block_max = max_of(scores, n), old = st->max[h];
    if (block_max > old) {
        float rescale = old == -INFINITY ? 0.0f : expf(old - block_max);
        st->sum[h] *= rescale;
        float *out = st->out + (size_t)h * head_dim;
        for (int i = 0; i < head_dim; i++) out[i] *= rescale;
        st->max[h] = block_max;
    }
    st->sum[h] += exp_shifted(scores, n, st->max[h]);
}

/* The scores of every query head against the key at `position` (stride KEY_BLOCK). */
static void row_scores(const DecodeJob *job, int position, float *scores, const DecodeRows *d,
                       float scale) {
    const AttentionSpec *spec = job->spec;
    const KvCache *cache = job->cache;
    const unsigned char *row = kvcache_key_row(cache, job->layer, position);
    int group = spec->n_heads / spec->n_kv_heads, hd = spec->head_dim;
    if (cache->type == KV_F16) {
        row_scores_f16(job->q, (const uint16_t *)row, spec->n_heads, group, hd, scale, scores,
                       KEY_BLOCK);
        return;
    }
    if (job->q8_in_place) {
        row_scores_q8_0(job->q_int.q16, job->q_int.q_scale, row, spec->n_heads, group, hd,
                        scale, scores, KEY_BLOCK);
        return;
    }
    /* q8_0 blocks that straddle heads: dequantise the row first */
    if (cache->type == KV_Q8_0) kvcache_load_key(cache, job->layer, position, d->row);
    row_scores_f32(job->q, cache->type == KV_F32 ? (const float *)row : d->row, spec->n_heads,
                   group, hd, scale, scores, KEY_BLOCK);
}

/* Adds every query head's weight (stride KEY_BLOCK) times the value at `position`. */
static void row_accumulate(const DecodeJob *job, int position, const float *weights,
                           const DecodeRows *d, const PartState *st) {
    const AttentionSpec *spec = job->spec;
    const KvCache *cache = job->cache;
    const unsigned char *row = kvcache_value_row(cache, job->layer, position);
    int group = spec->n_heads / spec->n_kv_heads, hd = spec->head_dim;
    if (cache->type == KV_F16) {
        row_accumulate_f16(st->out, weights, KEY_BLOCK, (const uint16_t *)row, spec->n_heads,
                           group, hd);
        return;
    }
    if (job->q8_in_place) {
        row_accumulate_q8_0(st->out, weights, KEY_BLOCK, row, spec->n_heads, group, hd);
        return;
    }
    if (cache->type == KV_Q8_0) kvcache_load_value(cache, job->layer, position, d->row);
    row_accumulate_f32(st->out, weights, KEY_BLOCK,
                       cache->type == KV_F32 ? (const float *)row : d->row, spec->n_heads, group,
                       hd);
}

/* Part p: blocks [p * n_blocks / n_parts, (p + 1) * n_blocks / n_parts). */
static void attend_part(const DecodeJob *job, int part, int thread) {
    const AttentionSpec *spec = job->spec;
    DecodeRows d = thread_rows(spec, job->scratch, thread);
    PartState st = part_state(spec, job->scratch, part);
    int hd = spec->head_dim;
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < spec->n_heads; h++) st.max[h] = -INFINITY, st.sum[h] = 0.0f;
    memset(st.out, 0, (size_t)spec->n_heads * hd * sizeof(float));
    int begin = (int)((long)part * job->n_blocks / job->n_parts);
    int end = (int)((long)(part + 1) * job->n_blocks / job->n_parts);
    for (int b = begin; b < end; b++) {
        int first = b * KEY_BLOCK;
        int n = job->length - first < KEY_BLOCK ? job->length - first : KEY_BLOCK;
        for (int j = 0; j < n; j++) row_scores(job, first + j, d.scores + j, &d, scale);
        for (int h = 0; h < spec->n_heads; h++) fold_scores(&d, &st, h, n, hd);
        for (int j = 0; j < n; j++) row_accumulate(job, first + j, d.scores + j, &d, &st);
    }
}

static void attend_parts(void *ctx, int begin, int end, int thread) {
    for (int part = begin; part < end; part++) attend_part(ctx, part, thread);
}

/* out_h = sum over parts of exp(max_p - max) out_p / sum of exp(max_p - max) sum_p, over
 * the parts that saw keys (a NaN sum is kept, so that it reaches the layer's check). */
static void merge_partials(const DecodeJob *job, float *out) {
    const AttentionSpec *spec = job->spec;
    int hd = spec->head_dim;
    for (int h = 0; h < spec->n_heads; h++) {
        float max = -INFINITY, total = 0.0f;
        for (int p = 0; p < job->n_parts; p++) {
            PartState st = part_state(spec, job->scratch, p);
            if (st.sum[h] != 0.0f && st.max[h] > max) max = st.max[h];
        }
        float *o = out + (size_t)h * hd;
        memset(o, 0, (size_t)hd * sizeof(float));
        for (int p = 0; p < job->n_parts; p++) {
            PartState st = part_state(spec, job->scratch, p);
            if (st.sum[h] == 0.0f) continue;
            float weight = expf(st.max[h] - max);
            total += weight * st.sum[h];
            axpy_f32(o, weight, st.out + (size_t)h * hd, hd);
        }
        for (int i = 0; i < hd; i++) o[i] /= total;
    }
}

void attention_decode(ThreadPool *pool, const AttentionSpec *spec, AttentionScratch *scratch,
                      const KvCache *cache, int layer, const float *q, int pos, float *out) {
    int n_blocks = (pos + 1 + KEY_BLOCK - 1) / KEY_BLOCK;
    double cost = 2.0 * KEY_BLOCK * spec->n_heads * spec->head_dim; /* multiply-adds a block */
    int blocks_per_part = min_chunk_for_cost(cost);
    int n_parts = n_blocks / blocks_per_part, most = scratch->threads * PARTS_PER_THREAD;
    n_parts = n_parts < 1 ? 1 : n_parts > most ? most : n_parts;
    DecodeJob job = {spec, scratch, cache, layer, pos + 1, n_blocks, n_parts,
                     cache->type == KV_Q8_0 && spec->head_dim % 32 == 0, q,
                     integer_query(spec, scratch)};
    if (job.q8_in_place)
        for (int h = 0; h < spec->n_heads; h++)
            job.q_int.q_scale[h] = quantize_head_i16(q + (size_t)h * spec->head_dim,
                                                     spec->head_dim,
                                                     job.q_int.q16 + (size_t)h * spec->head_dim);
    parallel_for(pool, n_parts, 1, attend_parts, &job);
    merge_partials(&job, out);
}
