/* test_long_context.c — what long sequences cost and how the engine survives them:
 * KV cache types against f32 (random data with bounds derived from the formats, and the real
 * model), the memory plan against the bytes actually allocated, streaming with attention
 * sinks, and llama.cpp-style context shift. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/kvcache.h"
#include "../engine/transformer.h"
#include "../tokenizer/tokenizer.h"
#include "../tools/run_ppl.h"
#include "engine_fixture.h"
#include "harness.h"

#define VOCAB 512

/* Random rows through each KV type: f16 keeps 11 significant bits, so each element is within
 * |x| 2^-11; q8_0 rounds to the nearest multiple of d = max|block| / 127 (plus d's own f16
 * rounding), so within d/2 + |x| 2^-11. */
static void test_kv_types_round_trip_within_format_bounds(TestContext *t) {
    enum { DIM = 64 };
    char err[256];
    srand(11);
    float row[DIM], back[DIM];
    for (int i = 0; i < DIM; i++) row[i] = ((float)rand() / RAND_MAX - 0.5f) * (i % 7 + 1);
    for (int type = KV_F32; type <= KV_Q8_0; type++) {
        KvCache c;
        REQUIRE(t, kvcache_init(&c, (KvType)type, 1, 4, DIM, err, sizeof err) == 0, "%s", err);
        kvcache_reset(&c, 0);
        kvcache_store(&c, 0, 2, row, row);
        kvcache_load_key(&c, 0, 2, back);
        for (int b = 0; b < DIM / 32; b++) {
            float amax = 0;
            for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(row[b * 32 + i]));
            for (int i = b * 32; i < b * 32 + 32; i++) {
                double bound = type == KV_F32 ? 0.0
                             : type == KV_F16 ? fabs(row[i]) * ldexp(1, -11)
                             : amax / 127.0 / 2.0 * (1 + ldexp(1, -10)) + fabs(row[i]) * ldexp(1, -11);
                CHECK(t, fabs(back[i] - row[i]) <= bound, "%s element %d: %g vs %g (bound %g)",
                      kv_type_name((KvType)type), i, back[i], row[i], bound);
            }
        }
        kvcache_free(&c);
    }
    KvCache c;
    CHECK(t, kvcache_init(&c, KV_Q8_0, 1, 4, 40, err, sizeof err) != 0 && strstr(err, "multiple of 32"),
          "q8_0 with a kv width of 40 accepted");
}

/* stories260K with options o; layers > 0 keeps only the first blocks: with one layer every
 * cached key and value is a function of its own token alone, so a cache surgery (eviction,
 * shift) can be compared exactly with a fresh run over the surviving tokens. Returns -2 when
 * the model is absent. */
static int open_engine_layers(TestContext *t, Engine *e, EngineOptions o, int layers) {
    const char *path = shared_path("models/stories260K.bin");
    memset(e, 0, sizeof *e);
    if (!path) return -2;
    return engine_fixture_open(t, e, path, o, layers);
}

static int open_engine(TestContext *t, Engine *e, EngineOptions o) {
    return open_engine_layers(t, e, o, 0);
}

static void close_engine(Engine *e) { engine_fixture_close(e); }

static int token_at(int i) { return i == 0 ? 1 : 259 + (i * 131 + i / 7) % 253; }

/* Appends n tokens one block at a time; copies the last block's logits of the final call. */
static const float *feed(TestContext *t, Engine *e, int first, int n, int block) {
    const float *logits = NULL;
    char err[256];
    int ids[512];
    for (int i = first; i < first + n; i += block) {
        int m = first + n - i < block ? first + n - i : block;
        for (int k = 0; k < m; k++) ids[k] = token_at(i + k);
        logits = transformer_append(e->t, ids, m, 0, err, sizeof err);
        if (!logits) { test_fail_at(t, __FILE__, __LINE__, "append at %d: %s", i, err); return NULL; }
    }
    return logits;
}

static double logit_gap(TestContext *t, KvType type) {
    Engine a, b;
    EngineOptions o = {.context = 512, .kv_type = KV_F32};
    if (open_engine(t, &a, o) != 0) return -1;
    o.kv_type = type;
    if (open_engine(t, &b, o) != 0) { close_engine(&a); return -1; }
    float ref[VOCAB];
    const float *la = feed(t, &a, 0, 400, 64), *lb;
    if (la) memcpy(ref, la, sizeof ref);
    lb = la ? feed(t, &b, 0, 400, 64) : NULL;
    double worst = -1;
    for (int v = 0; lb && v < VOCAB; v++) worst = fmax(worst, fabs(lb[v] - ref[v]));
    close_engine(&a);
    close_engine(&b);
    return worst;
}

/* On the real model after 400 tokens: f16 moves logits (magnitude ~10) by well under 0.05,
 * q8_0 (7-bit mantissa per block) by under 0.5; neither is identical to f32. */
static void test_kv_types_on_real_model(TestContext *t) {
    if (!shared_path("models/stories260K.bin")) SKIP(t, "../shared/models/stories260K.bin is absent");
    double f16 = logit_gap(t, KV_F16), q8 = logit_gap(t, KV_Q8_0);
    CHECK(t, f16 > 0 && f16 < 0.05, "f16 KV: max logit gap %.4g", f16);
    CHECK(t, q8 > 0 && q8 < 0.5, "q8_0 KV: max logit gap %.4g", q8);
}

static void test_memory_plan_equals_allocation(TestContext *t) {
    if (!shared_path("models/stories260K.bin")) SKIP(t, "../shared/models/stories260K.bin is absent");
    /* the second shape asks for blocks longer than the context, which the engine cuts */
    const int contexts[2] = {3000, 64}, batches[2] = {100, 512};
    for (int shape = 0; shape < 2; shape++)
    for (int type = KV_F32; type <= KV_Q8_0; type++)
        for (int policy = 0; policy < 2; policy++) {
            EngineOptions o = {.context = contexts[shape], .kv_type = (KvType)type,
                               .max_batch = batches[shape], .threads = 2,
                               .key_policy = (KeyRotationPolicy)policy};
            Engine e;
            if (open_engine(t, &e, o) != 0) return;
            rope_config_init(&o.rope, ROPE_SCALING_NONE, 8, 10000.0);
            EngineMemory plan;
            transformer_memory_plan(&e.model.config, &o, &plan);
            CHECK(t, plan.total == transformer_allocated_bytes(e.t),
                  "%s: plan %zu bytes, allocated %zu", kv_type_name((KvType)type), plan.total,
                  transformer_allocated_bytes(e.t));
            /* 2 x 5 layers x context x 32 x {4, 2, 34/32} bytes: 3840000, 1920000, 1020000
             * at 3000 positions, 81920, 40960, 21760 at 64 */
            size_t expected_kv = (size_t)(type == KV_F32 ? 1280 : type == KV_F16 ? 640 : 340) *
                                 (size_t)contexts[shape];
            CHECK(t, plan.kv_cache == expected_kv, "%s KV bytes %zu, expected %zu",
                  kv_type_name((KvType)type), plan.kv_cache, expected_kv);
            close_engine(&e);
        }
}

/* While the sequence fits in the window, streaming changes nothing. */
static void test_sinks_change_nothing_inside_window(TestContext *t) {
    Engine plain, stream;
    EngineOptions o = {.context = 256, .kv_type = KV_F32, .key_policy = KEYS_ROTATED_AT_ATTENTION};
    int rc = open_engine(t, &plain, o);
    if (rc == -2) SKIP(t, "../shared/models/stories260K.bin is absent");
    if (rc != 0) return;
    o.overflow = OVERFLOW_STREAM;
    o.keep = 4;
    if (open_engine(t, &stream, o) != 0) { close_engine(&plain); return; }
    float ref[VOCAB];
    const float *a = feed(t, &plain, 0, 250, 50);
    if (a) memcpy(ref, a, sizeof ref);
    const float *b = a ? feed(t, &stream, 0, 250, 50) : NULL;
    for (int v = 0; b && v < VOCAB; v++)
        if (b[v] != ref[v]) { CHECK(t, 0, "logit %d differs: %g vs %g", v, b[v], ref[v]); break; }
    close_engine(&plain);
    close_engine(&stream);
}

/* 10x the window with all layers: the cache stays at W positions and nothing is NaN. */
static void test_streaming_ten_windows(TestContext *t) {
    enum { W = 64, S = 4, TOTAL = 10 * W };
    Engine stream;
    EngineOptions o = {.context = W, .kv_type = KV_F16, .key_policy = KEYS_ROTATED_AT_ATTENTION,
                       .overflow = OVERFLOW_STREAM, .keep = S};
    int rc = open_engine(t, &stream, o);
    if (rc == -2) SKIP(t, "../shared/models/stories260K.bin is absent");
    if (rc != 0) return;
    const float *l = feed(t, &stream, 0, TOTAL, 1);
    REQUIRE(t, l, "streaming failed");
    CHECK(t, transformer_cached(stream.t) == W, "cache holds %d positions, window %d",
          transformer_cached(stream.t), W);
    CHECK(t, transformer_evicted(stream.t) == TOTAL - W, "evicted %ld, expected %d",
          transformer_evicted(stream.t), TOTAL - W);
    for (int v = 0; v < VOCAB; v++)
        if (!isfinite(l[v])) { CHECK(t, 0, "non-finite logit %d after streaming", v); break; }
    close_engine(&stream);
}

/* Last logits after `total` tokens through a one-layer engine with overflow policy o, and
 * after a fresh one-layer run over survivors[0..n): their max difference. */
static double surgery_vs_fresh(TestContext *t, EngineOptions o, int total, const int *survivors,
                               int n, Engine *kept) {
    Engine fresh;
    if (open_engine_layers(t, kept, o, 1) != 0) return -1;
    const float *l = feed(t, kept, 0, total, 1);
    if (!l) return -1;
    float last[VOCAB];
    memcpy(last, l, sizeof last);
    o.overflow = OVERFLOW_STOP;
    o.keep = 0;
    if (open_engine_layers(t, &fresh, o, 1) != 0) return -1;
    char err[256];
    const float *f = transformer_append(fresh.t, survivors, n, 0, err, sizeof err);
    double worst = f ? 0 : -1;
    for (int v = 0; f && v < VOCAB; v++) worst = fmax(worst, fabs(last[v] - f[v]));
    close_engine(&fresh);
    return worst;
}

/* Streaming: the last token sees exactly [sinks] + [the most recent W - S tokens] at
 * positions 0..W-1, as a fresh run over that reconstructed window does. */
static void test_streamed_window_equals_fresh_window(TestContext *t) {
    enum { W = 64, S = 4, TOTAL = 10 * W };
    if (!shared_path("models/stories260K.bin")) SKIP(t, "../shared/models/stories260K.bin is absent");
    int ids[W];
    for (int i = 0; i < S; i++) ids[i] = token_at(i);
    for (int i = S; i < W; i++) ids[i] = token_at(TOTAL - W + i);
    EngineOptions o = {.context = W, .kv_type = KV_F32, .key_policy = KEYS_ROTATED_AT_ATTENTION,
                       .overflow = OVERFLOW_STREAM, .keep = S};
    Engine stream;
    double d = surgery_vs_fresh(t, o, TOTAL, ids, W, &stream);
    CHECK(t, d >= 0 && d < 1e-4, "streamed window vs fresh window (1 layer): %.3g", d);
    close_engine(&stream);
}

/* Context shift with keys cached rotated: the survivors' keys are re-rotated to their new
 * positions, so (one layer) the logits equal a fresh run over [kept] + [survivors]. */
static void test_context_shift_rerotates_keys(TestContext *t) {
    enum { C = 64, KEEP = 4, TOTAL = C + 1 };
    if (!shared_path("models/stories260K.bin")) SKIP(t, "../shared/models/stories260K.bin is absent");
    /* full at 64: drop (64 - 4) / 2 = 30, then token 64 lands at position 34 */
    int ids[35];
    for (int i = 0; i < KEEP; i++) ids[i] = token_at(i);
    for (int i = KEEP; i < 35; i++) ids[i] = token_at(i + 30);
    EngineOptions o = {.context = C, .kv_type = KV_F32, .key_policy = KEYS_ROTATED_AT_STORE,
                       .overflow = OVERFLOW_SHIFT, .keep = KEEP};
    Engine shift;
    double d = surgery_vs_fresh(t, o, TOTAL, ids, 35, &shift);
    CHECK(t, d >= 0 && d < 1e-4, "shifted vs fresh (1 layer): %.3g", d);
    CHECK(t, transformer_evicted(shift.t) == 30 && transformer_cached(shift.t) == 35,
          "evicted %ld, cached %d (expected 30, 35)", transformer_evicted(shift.t),
          transformer_cached(shift.t));
    close_engine(&shift);
}

/* Perplexity of the first 2 streams/chunks of the TinyStories text under engine options o. */
static double stream_ppl(TestContext *t, EngineOptions o, int stream, const int *ids, int n_ids,
                         long *scored) {
    Engine e;
    if (open_engine(t, &e, o) != 0) return -1;
    PplOptions po;
    ppl_options_init(&po);
    po.max_chunks = 2;
    po.progress = 0;
    if (stream) po.stream_length = stream; else po.ctx = o.context;
    PplResult r;
    char err[256];
    double ppl = -1;
    if (ppl_run(e.t, ids, n_ids, 1, &po, &r, err, sizeof err) == 0) {
        ppl = ppl_value(&r);
        *scored = r.scored;
        CHECK(t, !stream || transformer_cached(e.t) <= o.context, "cache grew past the window");
    } else {
        test_fail_at(t, __FILE__, __LINE__, "ppl_run: %s", err);
    }
    ppl_result_free(&r);
    close_engine(&e);
    return ppl;
}

/* A stream that fits the window is the chunked protocol; a stream 8x the window, with sinks
 * or without, stays near the in-window perplexity (measured on stories260K over 4 streams: 4.007 in-window,
 * 3.997 streamed with 4 sinks, 4.010 without, against 32 when the 4096 tokens are simply
 * extrapolated), and every prediction is scored once. */
static void test_streamed_perplexity(TestContext *t) {
    const char *tok_path = shared_path("models/tok512.model");
    const char *text = shared_path("data/tinystories_valid_hf_export_head.txt");
    if (!tok_path || !text || !shared_path("models/stories260K.bin"))
        SKIP(t, "../shared stories260K, tok512.model or the TinyStories text is absent");
    char err[256];
    Tokenizer *tok = tokenizer_open_sentencepiece(tok_path, err, sizeof err);
    REQUIRE(t, tok, "%s", err);
    int *ids = NULL, n_ids = 0;
    REQUIRE(t, ppl_tokenize_file(tok, text, &ids, &n_ids, err, sizeof err) == 0, "%s", err);
    long scored_chunked = 0, scored_fit = 0, scored_sinks = 0, scored_plain = 0;
    EngineOptions window = {.context = 512, .kv_type = KV_F32, .key_policy = KEYS_ROTATED_AT_ATTENTION};
    double chunked = stream_ppl(t, window, 0, ids, n_ids, &scored_chunked);
    double fit = stream_ppl(t, window, 512, ids, n_ids, &scored_fit);
    window.overflow = OVERFLOW_STREAM;
    window.keep = 4;
    double sinks = stream_ppl(t, window, 4096, ids, n_ids, &scored_sinks);
    window.keep = 0;
    double plain = stream_ppl(t, window, 4096, ids, n_ids, &scored_plain);
    CHECK(t, rel_diff(fit, chunked) < 1e-4 && scored_fit == scored_chunked,
          "stream within the window %.6f (%ld) vs chunked %.6f (%ld)", fit, scored_fit, chunked,
          scored_chunked);
    CHECK(t, scored_sinks == 2 * 4095 && scored_plain == 2 * 4095, "scored %ld / %ld, expected %d",
          scored_sinks, scored_plain, 2 * 4095);
    CHECK(t, rel_diff(sinks, chunked) < 0.1 && rel_diff(plain, chunked) < 0.1,
          "streamed ppl %.4f (sinks) / %.4f (none) far from in-window %.4f", sinks, plain, chunked);
    free(ids);
    tokenizer_free(tok);
}

static const TestCase long_context_tests[] = {
    {"kv_types_round_trip_within_format_bounds", test_kv_types_round_trip_within_format_bounds},
    {"kv_types_on_real_model", test_kv_types_on_real_model},
    {"memory_plan_equals_allocation", test_memory_plan_equals_allocation},
    {"sinks_change_nothing_inside_window", test_sinks_change_nothing_inside_window},
    {"streaming_ten_windows", test_streaming_ten_windows},
    {"streamed_window_equals_fresh_window", test_streamed_window_equals_fresh_window},
    {"context_shift_rerotates_keys", test_context_shift_rerotates_keys},
    {"streamed_perplexity", test_streamed_perplexity},
    {NULL, NULL},
};

TEST_SUITE(long_context, long_context_tests)
