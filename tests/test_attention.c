/* test_attention.c — attention_block against a direct double-precision evaluation of
 * out_h = sum_j softmax_j(q_h . k_j / sqrt(hd)) v_j written here, over the values the cache
 * actually holds (read back with kvcache_load_key/value, so f16 and q8_0 rounding is the
 * same on both sides). Covers the two paths (a block of queries through the sgemm tiles,
 * one query through the key blocks split across threads), every KV type (q8_0 both with
 * whole blocks per head and with blocks shared by heads of 8), head sizes 64, 40 and 8,
 * groups of 1, 2 and 4 query heads per kv head, 1 to 3 threads, depths that span many key
 * blocks, and a ring that has wrapped after evictions. Self-Extend's attention is checked
 * against numpy outputs of the paper's formula (tests/self_extend/make_reference.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/attention.h"
#include "../engine/kvcache.h"
#include "../engine/threads.h"
#include "../util/json.h"
#include "harness.h"

typedef struct {
    int n_heads, n_kv_heads, head_dim, threads;
    KvType kv;
} Shape;

/* deterministic values in [-1, 1) */
static float next_value(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* The reference for query head h of a query that sees `length` cached positions. */
static void reference_head(const KvCache *cache, const Shape *s, const float *q, int h,
                           int length, double *out) {
    int hd = s->head_dim, g = h / (s->n_heads / s->n_kv_heads);
    double *scores = malloc((size_t)length * sizeof *scores), max = -INFINITY, sum = 0.0;
    float *row = malloc((size_t)cache->kv_dim * sizeof *row);
    for (int j = 0; j < length; j++) {
        kvcache_load_key(cache, 0, j, row);
        double dot = 0.0;
        for (int d = 0; d < hd; d++) dot += (double)q[d] * row[g * hd + d];
        scores[j] = dot / sqrt((double)hd);
        if (scores[j] > max) max = scores[j];
    }
    for (int j = 0; j < length; j++) sum += (scores[j] = exp(scores[j] - max));
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int j = 0; j < length; j++) {
        kvcache_load_value(cache, 0, j, row);
        for (int d = 0; d < hd; d++) out[d] += scores[j] / sum * row[g * hd + d];
    }
    free(scores);
    free(row);
}

/* Fills `count` positions from `first` with keys and values, then runs n queries at
 * position pos (= cached - n) and compares every output with the reference. */
static double run_case(TestContext *t, const Shape *s, KvCache *cache, int pos, int n,
                       unsigned seed) {
    int q_dim = s->n_heads * s->head_dim, kv_dim = cache->kv_dim;
    float *kv = malloc(2 * (size_t)kv_dim * sizeof *kv);
    for (int j = 0; j < pos + n; j++) {
        for (int i = 0; i < 2 * kv_dim; i++) kv[i] = next_value(&seed);
        kvcache_store(cache, 0, j, kv, kv + kv_dim);
    }
    cache->n_cached = pos + n;
    float *q = malloc((size_t)n * q_dim * sizeof *q);
    float *out = malloc((size_t)n * q_dim * sizeof *out);
    /* a scale of 3 makes the softmax peaked enough that a wrong key would show */
    for (int i = 0; i < n * q_dim; i++) q[i] = 3.0f * next_value(&seed);
    AttentionSpec spec = {s->n_heads, s->n_kv_heads, s->head_dim, ROPE_LAYOUT_INTERLEAVED, NULL,
                          NULL, {0, 0}};
    AttentionScratch scratch;
    char err[256];
    ThreadPool *pool = thread_pool_create(s->threads, err, sizeof err);
    double worst = -1.0;
    if (pool && attention_scratch_init(&scratch, &spec, cache->capacity, s->threads) == 0) {
        attention_block(pool, &spec, &scratch, cache, 0, q, n, pos, out);
        double *expected = malloc((size_t)s->head_dim * sizeof *expected);
        worst = 0.0;
        for (int i = 0; i < n; i++)
            for (int h = 0; h < s->n_heads; h++) {
                size_t at = (size_t)i * q_dim + (size_t)h * s->head_dim;
                reference_head(cache, s, q + at, h, pos + i + 1, expected);
                for (int d = 0; d < s->head_dim; d++)
                    worst = fmax(worst, fabs(out[at + d] - expected[d]));
            }
        free(expected);
        attention_scratch_free(&scratch);
    } else {
        CHECK(t, 0, "cannot set up threads %d: %s", s->threads, pool ? "scratch" : err);
    }
    thread_pool_free(pool);
    free(kv);
    free(q);
    free(out);
    return worst;
}

/* float scores and sums over up to ~1500 keys against double: a few 1e-6 observed, up to
 * 8.3e-6 with a q8_0 cache, whose decode scores take q rounded to 16 bits per head (a step
 * of max|q_h| / 32767 = 9e-5 here, |q| < 3: a score moves by ~sqrt(64) * 0.5 * 4.6e-5 / 8,
 * about 1e-5); a key read from the wrong position or head moves outputs by O(0.1) */
#define LIMIT 1e-4

static void check_case(TestContext *t, Shape s, int capacity, int pos, int n) {
    KvCache cache;
    char err[256];
    REQUIRE(t, kvcache_init(&cache, s.kv, 1, capacity, s.n_kv_heads * s.head_dim, err,
                            sizeof err) == 0, "%s", err);
    kvcache_reset(&cache, 0);
    double d = run_case(t, &s, &cache, pos, n, 12345u + (unsigned)pos);
    CHECK(t, d >= 0 && d < LIMIT,
          "%s heads %d/%d of %d, %d threads, %d queries at %d: off by %.3g (limit %g)",
          kv_type_name(s.kv), s.n_heads, s.n_kv_heads, s.head_dim, s.threads, n, pos, d, LIMIT);
    kvcache_free(&cache);
}

static void test_decode_matches_reference(TestContext *t) {
    static const int depths[] = {0, 5, 127, 128, 129, 700, 1500};
    for (int kv = KV_F32; kv <= KV_Q8_0; kv++)
        for (int threads = 1; threads <= 3; threads++)
            for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
                check_case(t, (Shape){4, 2, 64, threads, (KvType)kv}, 1600, depths[i], 1);
                check_case(t, (Shape){4, 1, 64, threads, (KvType)kv}, 1600, depths[i], 1);
            }
    /* a head size that is not a multiple of the SIMD width (kv width 80 for q8_0's blocks
     * of 32 is not possible, so f32 and f16 only) */
    for (int kv = KV_F32; kv <= KV_F16; kv++)
        check_case(t, (Shape){6, 6, 40, 2, (KvType)kv}, 800, 700, 1);
    /* heads of 8 share q8_0 blocks of 32 (stories260K's shape): the dequantising path */
    check_case(t, (Shape){8, 4, 8, 2, KV_Q8_0}, 800, 700, 1);
}

static void test_block_matches_reference(TestContext *t) {
    for (int kv = KV_F32; kv <= KV_Q8_0; kv++)
        for (int threads = 1; threads <= 2; threads++) {
            check_case(t, (Shape){4, 2, 64, threads, (KvType)kv}, 600, 0, 70);
            check_case(t, (Shape){8, 2, 64, threads, (KvType)kv}, 600, 500, 45);
        }
    check_case(t, (Shape){6, 6, 40, 2, KV_F16}, 300, 200, 33);
}

/* After evictions the ring maps logical positions to wrapped slots; the reference reads the
 * same logical positions through kvcache_load_*, so both must see identical sequences. */
static void test_wrapped_ring_matches_reference(TestContext *t) {
    Shape s = {4, 2, 64, 2, KV_F16};
    KvCache cache;
    char err[256];
    REQUIRE(t, kvcache_init(&cache, s.kv, 1, 400, 128, err, sizeof err) == 0, "%s", err);
    kvcache_reset(&cache, 4);
    cache.n_cached = 400;
    kvcache_evict(&cache, 250); /* ring head moves 250 slots on */
    double d = run_case(t, &s, &cache, 399, 1, 777u);
    CHECK(t, d >= 0 && d < LIMIT, "wrapped ring, decode: off by %.3g", d);
    d = run_case(t, &s, &cache, 360, 40, 778u);
    CHECK(t, d >= 0 && d < LIMIT, "wrapped ring, block: off by %.3g", d);
    kvcache_free(&cache);
}

/* Decode's parts go to whichever thread is free, so which thread runs which part changes
 * from call to call; the parts' own states, merged in part order, must still give the
 * same bits every time (a state kept per thread would sum in a varying order). */
static void test_decode_is_reproducible(TestContext *t) {
    enum { HEADS = 8, HD = 64, DEPTH = 3000, CALLS = 40 };
    KvCache cache;
    char err[256];
    REQUIRE(t, kvcache_init(&cache, KV_F16, 1, DEPTH, HEADS * HD, err, sizeof err) == 0, "%s",
            err);
    kvcache_reset(&cache, 0);
    unsigned seed = 99u;
    static float kv[2 * HEADS * HD], q[HEADS * HD], first[HEADS * HD], out[HEADS * HD];
    for (int j = 0; j < DEPTH; j++) {
        for (int i = 0; i < 2 * HEADS * HD; i++) kv[i] = next_value(&seed);
        kvcache_store(&cache, 0, j, kv, kv + HEADS * HD);
    }
    cache.n_cached = DEPTH;
    for (int i = 0; i < HEADS * HD; i++) q[i] = 3.0f * next_value(&seed);
    AttentionSpec spec = {HEADS, HEADS, HD, ROPE_LAYOUT_INTERLEAVED, NULL, NULL, {0, 0}};
    AttentionScratch scratch;
    ThreadPool *pool = thread_pool_create(2, err, sizeof err);
    if (pool && attention_scratch_init(&scratch, &spec, DEPTH, 2) == 0) {
        int differing = 0;
        attention_block(pool, &spec, &scratch, &cache, 0, q, 1, DEPTH - 1, first);
        for (int call = 1; call < CALLS; call++) {
            attention_block(pool, &spec, &scratch, &cache, 0, q, 1, DEPTH - 1, out);
            differing += memcmp(out, first, sizeof out) != 0;
        }
        CHECK(t, differing == 0, "%d of %d decode calls gave other bits than the first",
              differing, CALLS - 1);
        attention_scratch_free(&scratch);
    } else {
        CHECK(t, 0, "cannot set up 2 threads: %s", pool ? "scratch" : err);
    }
    thread_pool_free(pool);
    kvcache_free(&cache);
}

/* ---- Self-Extend against tests/self_extend/reference.json -------------------------------- */

typedef struct {
    int n, n_heads, n_kv_heads, head_dim;
    SelfExtend self_extend;
    RopeConfig rope;
    RopeLayout layout;
    float *q, *k, *v;
    double *expected;
} SelfExtendCase;

static float *json_floats(const JsonValue *array, int count) {
    double *values = malloc((size_t)count * sizeof *values);
    float *out = malloc((size_t)count * sizeof *out);
    int got = array ? json_numbers(array, values, count) : -1;
    for (int i = 0; i < count; i++) out[i] = got == count ? (float)values[i] : NAN;
    free(values);
    return out;
}

static void read_self_extend_case(const JsonValue *c, SelfExtendCase *e) {
    e->n = (int)json_number(c, "positions", 0);
    e->n_heads = (int)json_number(c, "n_heads", 0);
    e->n_kv_heads = (int)json_number(c, "n_kv_heads", 0);
    e->head_dim = (int)json_number(c, "head_dim", 0);
    e->self_extend = (SelfExtend){(int)json_number(c, "group", 0), (int)json_number(c, "window", 0)};
    rope_config_init(&e->rope, ROPE_SCALING_NONE, e->head_dim, json_number(c, "base", 0));
    e->layout = strcmp(json_get(c, "layout")->string, "interleaved") == 0
                    ? ROPE_LAYOUT_INTERLEAVED : ROPE_LAYOUT_HALF_SPLIT;
    int q_count = e->n * e->n_heads * e->head_dim, kv_count = e->n * e->n_kv_heads * e->head_dim;
    e->q = json_floats(json_get(c, "q"), q_count);
    e->k = json_floats(json_get(c, "k"), kv_count);
    e->v = json_floats(json_get(c, "v"), kv_count);
    e->expected = malloc((size_t)q_count * sizeof *e->expected);
    json_numbers(json_get(c, "out"), e->expected, q_count);
}

/* Runs the case's queries in blocks of `block` tokens (1 = decode step by step) after the
 * raw keys of each block are cached; the largest error against numpy. */
static double run_self_extend(const SelfExtendCase *e, int block, int threads) {
    int q_dim = e->n_heads * e->head_dim, kv_dim = e->n_kv_heads * e->head_dim;
    int rot = e->head_dim;
    KvCache cache;
    char err[256];
    if (kvcache_init(&cache, KV_F32, 1, e->n, kv_dim, err, sizeof err) != 0) return INFINITY;
    kvcache_reset(&cache, 0);
    double inv_freq[ROPE_MAX_PAIRS];
    double factor = rope_inv_freq(&e->rope, 1, inv_freq);
    float *angles = malloc((size_t)e->n * rot * sizeof *angles);
    for (int p = 0; p < e->n; p++) rope_cos_sin(inv_freq, rot / 2, factor, p, angles + (size_t)p * rot);
    AttentionSpec spec = {e->n_heads, e->n_kv_heads, e->head_dim, e->layout, &e->rope, angles,
                          e->self_extend};
    AttentionScratch scratch;
    ThreadPool *pool = thread_pool_create(threads, err, sizeof err);
    float *out = malloc((size_t)e->n * q_dim * sizeof *out);
    double worst = INFINITY;
    if (pool && attention_scratch_init(&scratch, &spec, e->n, threads) == 0) {
        for (int pos = 0; pos < e->n; pos += block) {
            int n = pos + block < e->n ? block : e->n - pos;
            for (int j = pos; j < pos + n; j++)
                kvcache_store(&cache, 0, j, e->k + (size_t)j * kv_dim, e->v + (size_t)j * kv_dim);
            cache.n_cached = pos + n;
            attention_block(pool, &spec, &scratch, &cache, 0, e->q + (size_t)pos * q_dim, n, pos,
                            out + (size_t)pos * q_dim);
        }
        worst = 0.0;
        for (int i = 0; i < e->n * q_dim; i++) worst = fmax(worst, fabs(out[i] - e->expected[i]));
        attention_scratch_free(&scratch);
    }
    thread_pool_free(pool);
    kvcache_free(&cache);
    free(angles);
    free(out);
    return worst;
}

/* float scores against float64 over at most 70 keys: a few 1e-7 expected; a far key scored
 * at its ordinary position (or the window off by one) moves outputs by O(0.1). */
static void test_self_extend_matches_numpy(TestContext *t) {
    JsonValue *doc = json_parse_file("tests/self_extend/reference.json");
    REQUIRE(t, doc, "cannot parse tests/self_extend/reference.json");
    const JsonValue *cases = json_get(doc, "cases");
    REQUIRE(t, cases && cases->n_items == 3, "expected 3 cases");
    for (int i = 0; i < cases->n_items; i++) {
        SelfExtendCase e;
        read_self_extend_case(&cases->items[i], &e);
        static const int blocks[] = {1000, 1, 7}, threads[] = {1, 2, 3};
        for (int b = 0; b < 3; b++) {
            double worst = run_self_extend(&e, blocks[b], threads[b]);
            if (getenv("TEST_VERBOSE")) printf("     %s blocks %d: %.3g\n", json_get(&cases->items[i], "name")->string, blocks[b], worst);
            CHECK(t, worst < 2e-5, "%s, blocks of %d, %d threads: off by %.3g",
                  json_get(&cases->items[i], "name")->string, blocks[b], threads[b], worst);
        }
        free(e.q);
        free(e.k);
        free(e.v);
        free(e.expected);
    }
    json_free(doc);
}

static const TestCase attention_tests[] = {
    {"self_extend_matches_numpy", test_self_extend_matches_numpy},
    {"decode_is_reproducible", test_decode_is_reproducible},
    {"decode_matches_reference", test_decode_matches_reference},
    {"block_matches_reference", test_block_matches_reference},
    {"wrapped_ring_matches_reference", test_wrapped_ring_matches_reference},
    {NULL, NULL},
};

TEST_SUITE(attention, attention_tests)
