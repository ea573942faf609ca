/* attention.c — causal grouped-query attention over the KV cache.
 * A block of queries (prefill) is cut into work items of one kv head and a run of up to
 * QUERY_TILE consecutive queries. The item copies the keys and values it needs for that kv
 * head into float row tiles (converting f16/q8_0 and applying RoPE when keys are cached
 * raw), then for each query head of the group computes the scores as one sgemm, the causal
 * softmax row by row, and the weighted values as a second sgemm. One query over keys already
 * rotated (a decode step) goes to attention_decode.c instead. With Self-Extend the item also
 * rotates far keys and queries to their grouped positions and merges the two score rows
 * (self_extend.h). */
#include "attention.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

enum { QUERY_TILE = 128 }; /* queries per item: the tiles are converted once per item */

static size_t floats_per_thread(const AttentionSpec *spec, int context) {
    /* key and value tiles, QUERY_TILE rows of scores, a key row; with raw keys whose
     * frequencies depend on the length, also the cos/sin table of every key position */
    size_t table = spec->rope_at_attention && rope_depends_on_length(spec->rope_at_attention)
                       ? (size_t)spec->head_dim * (size_t)context : 0;
    size_t tiles = (2 * (size_t)spec->head_dim + QUERY_TILE) * (size_t)context +
                   2 * (size_t)spec->head_dim + table;
    if (self_extend_on(&spec->self_extend)) /* grouped keys and scores, two query tiles */
        tiles += ((size_t)spec->head_dim + QUERY_TILE) * (size_t)context +
                 2 * (size_t)QUERY_TILE * spec->head_dim;
    size_t decode = attention_decode_floats(spec);
    return tiles > decode ? tiles : decode;
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
    int layer, pos, n, n_tiles, n_items, query_tile;
    int per_query;       /* each query has its own frequencies: items are queries */
    const float *q;
    float *out;
} AttentionJob;

typedef struct {
    float *keys, *values; /* [length][head_dim] */
    float *scores;        /* [QUERY_TILE][context] */
    int context;          /* row stride of scores */
    int filled_head;      /* kv head whose rows 0..filled_length-1 the tile holds, or -1 */
    int filled_length;
    float *row;          /* head_dim floats */
    const float *cos_sin; /* [position][rotary_dim]: cos/sin table for raw keys */
    float *own_cos_sin;   /* this thread's table, for frequencies that vary */
    /* Self-Extend only: keys rotated to their grouped positions, the grouped scores, and a
     * tile of queries rotated to their ordinary and their grouped positions */
    float *grouped_keys, *grouped_scores, *near_queries, *far_queries;
} Tile;

/* cos/sin of every key position 0..length-1 with the frequencies of a sequence of
 * `length` tokens (raw keys only). Angles advance by complex multiplication in double,
 * re-anchored on exact values every ANGLE_ANCHOR positions: the drift stays below 1e-13
 * rad, far under float precision, and the table costs a few multiplies per entry. */
enum { ANGLE_ANCHOR = 256 };

static void fill_key_angles(const AttentionJob *job, int length, Tile *tile) {
    const RopeConfig *rope = job->spec->rope_at_attention;
    if (job->spec->key_angles) return; /* fixed frequencies: the shared table holds them */
    tile->cos_sin = tile->own_cos_sin;
    int pairs = rope->rotary_dim / 2;
    double inv_freq[ROPE_MAX_PAIRS];
    double factor = rope_inv_freq(rope, length, inv_freq);
    for (int k = 0; k < pairs; k++) {
        double step_c = cos(inv_freq[k]), step_s = sin(inv_freq[k]), c = 1.0, s = 0.0;
        for (int j = 0; j < length; j++) {
            if (j % ANGLE_ANCHOR == 0) {
                c = cos((double)j * inv_freq[k]);
                s = sin((double)j * inv_freq[k]);
            }
            float *cs = tile->own_cos_sin + (size_t)j * rope->rotary_dim + 2 * k;
            cs[0] = (float)(factor * c);
            cs[1] = (float)(factor * s);
            double next_c = c * step_c - s * step_s;
            s = s * step_c + c * step_s;
            c = next_c;
        }
    }
}

/* Fills the tile's key and value rows for positions from..to-1 of kv head g; raw keys are
 * rotated with the angle table (fill_key_angles first). */
static void fill_tile(const AttentionJob *job, int g, int from, int to, Tile *tile) {
    const AttentionSpec *spec = job->spec;
    const KvCache *cache = job->cache;
    int hd = spec->head_dim;
    const RopeConfig *rope = spec->rope_at_attention;
    for (int j = from; j < to; j++) {
        float *key = tile->keys + (size_t)j * hd;
        kvcache_load_key_part(cache, job->layer, j, g * hd, hd, key);
        if (self_extend_on(&spec->self_extend)) {
            float *grouped = tile->grouped_keys + (size_t)j * hd;
            memcpy(grouped, key, (size_t)hd * sizeof *key);
            int at = self_extend_key_position(&spec->self_extend, j);
            rope_rotate(grouped, 1, hd, rope->rotary_dim, spec->layout,
                        tile->cos_sin + (size_t)at * rope->rotary_dim);
        }
        if (rope)
            rope_rotate(key, 1, hd, rope->rotary_dim, spec->layout,
                        tile->cos_sin + (size_t)j * rope->rotary_dim);
        kvcache_load_value_part(cache, job->layer, j, g * hd, hd, tile->values + (size_t)j * hd);
    }
}

/* Self-Extend: the raw queries first..last-1 of head h rotated to their ordinary positions
 * (near_queries) and to their grouped ones (far_queries), hd floats a row. */
static void rotate_queries(const AttentionJob *job, int h, int first, int last, Tile *tile) {
    const AttentionSpec *spec = job->spec;
    const SelfExtend *se = &spec->self_extend;
    int hd = spec->head_dim, rot = spec->rope_at_attention->rotary_dim;
    for (int r = 0; r < last - first; r++) {
        int p = job->pos + first + r;
        const float *raw = job->q + (size_t)(first + r) * spec->n_heads * hd + (size_t)h * hd;
        float *near = tile->near_queries + (size_t)r * hd, *far = tile->far_queries + (size_t)r * hd;
        memcpy(near, raw, (size_t)hd * sizeof *raw);
        memcpy(far, raw, (size_t)hd * sizeof *raw);
        rope_rotate(near, 1, hd, rot, spec->layout, tile->cos_sin + (size_t)p * rot);
        rope_rotate(far, 1, hd, rot, spec->layout,
                    tile->cos_sin + (size_t)self_extend_query_position(se, p) * rot);
    }
}

/* Self-Extend: the far-key scores of the rows (grouped queries x grouped keys), over the
 * keys that are far for the last query of the tile; 0 when none is. */
static int grouped_scores(const AttentionJob *job, int first, int last, Tile *tile) {
    const SelfExtend *se = &job->spec->self_extend;
    int hd = job->spec->head_dim, rows = last - first;
    int far = job->pos + last - se->window; /* keys 0..far-1 are far for the last query */
    if (far <= 0) return 0;
    zero_rows(tile->grouped_scores, rows, far, tile->context);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, far, hd, 1.0f / sqrtf((float)hd),
                tile->far_queries, hd, tile->grouped_keys, hd, 1.0f, tile->grouped_scores,
                tile->context);
    return far;
}

/* Query head h (absolute) for queries first..last-1 of the block, over the tile's keys:
 * S = Q K^T / sqrt(hd) by sgemm, query i keeps exp(s - max) of its first pos+i+1 scores and
 * zeroes the rest, then O = P V by sgemm, each row divided by its sum of exponentials at the
 * end (hd values per row, not one per key). */
static void attend_head(const AttentionJob *job, int h, int first, int last, Tile *tile) {
    const AttentionSpec *spec = job->spec;
    int hd = spec->head_dim, q_dim = spec->n_heads * hd, rows = last - first;
    int length = job->pos + last, self_extend = self_extend_on(&spec->self_extend);
    const float *q = job->q + (size_t)first * q_dim + (size_t)h * hd;
    int q_stride = q_dim;
    float *out = job->out + (size_t)first * q_dim + (size_t)h * hd;
    if (self_extend) {
        rotate_queries(job, h, first, last, tile);
        q = tile->near_queries;
        q_stride = hd;
    }
    /* both products add into rows zeroed here (beta 1): with beta 0 OpenBLAS clears them in
     * a strided pass of its own, several times slower than memset */
    zero_rows(tile->scores, rows, length, tile->context);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, length, hd,
                1.0f / sqrtf((float)hd), q, q_stride, tile->keys, hd, 1.0f, tile->scores,
                tile->context);
    int far = self_extend ? grouped_scores(job, first, last, tile) : 0;
    float inv_sum[QUERY_TILE];
    for (int r = 0; r < rows; r++) {
        float *scores = tile->scores + (size_t)r * tile->context;
        int seen = job->pos + first + r + 1;
        if (far > 0)
            self_extend_merge_scores(scores, tile->grouped_scores + (size_t)r * tile->context,
                                     seen - 1, &spec->self_extend);
        inv_sum[r] = 1.0f / exp_shifted(scores, seen, max_of(scores, seen));
        memset(scores + seen, 0, (size_t)(length - seen) * sizeof(float));
    }
    zero_rows(out, rows, hd, (size_t)q_dim);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, length, 1.0f,
                tile->scores, tile->context, tile->values, hd, 1.0f, out, q_dim);
    for (int r = 0; r < rows; r++)
        for (int d = 0; d < hd; d++) out[(size_t)r * q_dim + d] *= inv_sum[r];
}

static Tile thread_tile(const AttentionJob *job, int thread) {
    int hd = job->spec->head_dim, context = job->cache->capacity;
    float *base = job->scratch->buffer + (size_t)thread * job->scratch->floats_per_thread;
    Tile tile;
    tile.keys = base;
    tile.values = base + (size_t)hd * context;
    tile.scores = base + 2 * (size_t)hd * context;
    tile.context = context;
    tile.row = tile.scores + (size_t)QUERY_TILE * context;
    tile.own_cos_sin = tile.row + 2 * hd;
    tile.cos_sin = job->spec->key_angles ? job->spec->key_angles : tile.own_cos_sin;
    /* Self-Extend's rows follow the table's place (the frequencies are fixed then, so the
     * thread's own table is unused) */
    tile.grouped_keys = tile.own_cos_sin;
    tile.grouped_scores = tile.grouped_keys + (size_t)hd * context;
    tile.near_queries = tile.grouped_scores + (size_t)QUERY_TILE * context;
    tile.far_queries = tile.near_queries + (size_t)QUERY_TILE * hd;
    tile.filled_head = -1;
    tile.filled_length = 0;
    return tile;
}

static void attend_queries(const AttentionJob *job, int g, int first, int last, Tile *tile) {
    const AttentionSpec *spec = job->spec;
    int group = spec->n_heads / spec->n_kv_heads, length = job->pos + last;
    /* within a block every query sees the same frequencies, so rows converted for an earlier
     * tile of the same head stay valid; per-query items rotate keys differently each time */
    int from = !job->per_query && tile->filled_head == g ? tile->filled_length : 0;
    if (from < length) fill_tile(job, g, from, length, tile);
    tile->filled_head = job->per_query ? -1 : g;
    tile->filled_length = from > length ? from : length;
    for (int h = g * group; h < (g + 1) * group; h++) attend_head(job, h, first, last, tile);
}

/* An item is one query with all kv heads (per_query), or one kv head with a tile of
 * consecutive queries that share their frequencies. */
static void attend_item(const AttentionJob *job, int item, Tile *tile) {
    if (job->per_query) {
        if (job->spec->rope_at_attention) fill_key_angles(job, job->pos + item + 1, tile);
        for (int g = 0; g < job->spec->n_kv_heads; g++)
            attend_queries(job, g, item, item + 1, tile);
        return;
    }
    int g = item / job->n_tiles, first = (item % job->n_tiles) * job->query_tile;
    int last = first + job->query_tile < job->n ? first + job->query_tile : job->n;
    if (job->spec->rope_at_attention) fill_key_angles(job, job->pos + last, tile);
    attend_queries(job, g, first, last, tile);
}

/* Items are ordered head by head, tiles in sequence order, and each thread takes one
 * contiguous share, so it extends one head's converted rows tile after tile instead of
 * rebuilding them (with as many kv heads as threads or a multiple, every share carries the
 * same work). */
static void attention_items(void *ctx, int begin, int end, int thread) {
    AttentionJob *job = ctx;
    Tile tile = thread_tile(job, thread);
    for (int item = begin; item < end; item++) attend_item(job, item, &tile);
}

/* Do the queries of the block see different frequencies (dynamic scaling past its original
 * length)? Then each query needs its own rotation of the keys. */
static int queries_differ(const RopeConfig *rope, int pos, int n) {
    if (!rope || !rope_depends_on_length(rope)) return 0;
    double first[ROPE_MAX_PAIRS], last[ROPE_MAX_PAIRS];
    double f1 = rope_inv_freq(rope, pos + 1, first), f2 = rope_inv_freq(rope, pos + n, last);
    return f1 != f2 || memcmp(first, last, (size_t)(rope->rotary_dim / 2) * sizeof(double)) != 0;
}

void attention_block(ThreadPool *pool, const AttentionSpec *spec, AttentionScratch *scratch,
                     const KvCache *cache, int layer, const float *q, int n, int pos, float *out) {
    if (n == 1 && !spec->rope_at_attention) {
        attention_decode(pool, spec, scratch, cache, layer, q, pos, out);
        return;
    }
    int per_query = queries_differ(spec->rope_at_attention, pos, n);
    int n_tiles = (n + QUERY_TILE - 1) / QUERY_TILE;
    AttentionJob job = {spec, scratch, cache, layer, pos, n, n_tiles,
                        per_query ? n : n_tiles * spec->n_kv_heads, QUERY_TILE, per_query, q, out};
    /* an item reads (pos + n) keys and values per head it serves */
    double heads_per_item = per_query ? spec->n_heads : (double)spec->n_heads / spec->n_kv_heads;
    double cost = (double)(pos + n) * spec->head_dim * 2.0 * heads_per_item *
                  (per_query ? 1 : QUERY_TILE < n ? QUERY_TILE : n);
    int min_chunk = min_chunk_for_cost(cost), share = one_share_per_thread(pool, job.n_items);
    parallel_for(pool, job.n_items, min_chunk > share ? min_chunk : share, attention_items, &job);
}
