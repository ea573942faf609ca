/* test_rope_engine.c — the RoPE modes inside the real decoder (stories260K, trained at 512):
 * every mode at factor 1 reproduces the reference logits; every mode runs a 4096-token
 * sequence without NaN/Inf; and the exact key policy for dynamic NTK means each token sees
 * the frequencies of its own length (checked against a fixed NTK run with the equivalent
 * factor), while caching rotated keys does not. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/transformer.h"
#include "../tokenizer/tokenizer.h"
#include "engine_fixture.h"
#include "harness.h"
#include "../util/json.h"

#define VOCAB 512
#define TRAINED 512

/* layers > 0 keeps only the first `layers` blocks of the model. */
static int engine_open_layers(TestContext *t, Engine *e, const char *path, int context,
                              const RopeConfig *rope, KeyRotationPolicy policy, int layers) {
    EngineOptions o = {.context = context, .max_batch = 512, .threads = 2, .rope = *rope,
                       .kv_type = KV_F32, .key_policy = policy};
    return engine_fixture_open(t, e, path, o, layers);
}

static int engine_open(TestContext *t, Engine *e, const char *path, int context,
                       const RopeConfig *rope, KeyRotationPolicy policy) {
    return engine_open_layers(t, e, path, context, rope, policy, 0);
}

static void engine_close(Engine *e) { engine_fixture_close(e); }

/* A mode at factor 1 with its other parameters at their defaults, original context 512. */
static RopeConfig unit_factor(RopeScaling mode, double *ones) {
    RopeConfig r;
    rope_config_init(&r, mode, 8, 10000.0);
    r.original_context = TRAINED;
    if (mode == ROPE_SCALING_LONGROPE) {
        for (int k = 0; k < 4; k++) ones[k] = 1.0;
        r.long_factors = r.short_factors = ones;
        r.max_position = TRAINED; /* s = 1: attention factor sqrt(1 + ln 1 / ln 512) = 1 */
    }
    return r;
}

static void test_factor_one_reproduces_reference(TestContext *t) {
    REQUIRE_SHARED(t, model_path, "models/stories260K.bin");
    REQUIRE_SHARED(t, ref_path, "refs/stories260K_ref.json");
    JsonValue *ref = json_parse_file(ref_path);
    REQUIRE(t, ref, "cannot parse the reference");
    const JsonValue *prompt = &json_get(ref, "prompts")->items[0];
    double id_values[64];
    int n = json_numbers(json_get(prompt, "ids"), id_values, 64), ids[64];
    for (int i = 0; i < n; i++) ids[i] = (int)id_values[i];
    const JsonValue *rows = json_get(prompt, "logits");
    for (int m = 0; m < ROPE_SCALING_COUNT; m++) {
        double ones[4];
        RopeConfig rope = unit_factor((RopeScaling)m, ones);
        for (int policy = 0; policy < 2; policy++) {
            Engine e;
            if (engine_open(t, &e, model_path, TRAINED, &rope, (KeyRotationPolicy)policy) != 0) break;
            char err[256];
            const float *logits = transformer_forward(e.t, ids, n, 0, 1, err, sizeof err);
            double worst = logits ? 0.0 : INFINITY;
            for (int i = 0; logits && i < n; i++)
                for (int v = 0; v < VOCAB; v++)
                    worst = fmax(worst, fabs(logits[i * VOCAB + v] - rows->items[i].items[v].number));
            CHECK(t, worst < 1e-4, "%s (keys %s) at factor 1: max logit error %.3g",
                  rope_scaling_name(rope.mode), policy ? "at attention" : "at store", worst);
            engine_close(&e);
        }
    }
    json_free(ref);
}

/* The first n ids of the evaluation text, BOS first. */
static int text_ids(TestContext *t, int *ids, int n) {
    const char *model = shared_path("models/tok512.model");
    const char *text_path = shared_path("data/tinystories_valid_hf_export_head.txt");
    if (!model || !text_path) return -2;
    char err[256];
    Tokenizer *tok = tokenizer_open_sentencepiece(model, err, sizeof err);
    size_t len;
    char *text = read_file(text_path, &len);
    if (len > 100000) len = 100000; /* ~48k tokens: plenty */
    int got = tok && text ? tokenizer_encode(tok, text, len, 1, ids, n, err, sizeof err) : -1;
    free(text);
    tokenizer_free(tok);
    if (got < n) test_fail_at(t, __FILE__, __LINE__, "could not tokenize %d ids: %s", n, err);
    return got < n ? -1 : 0;
}

#define LONG 4096

/* 4096 positions, 8x the training context (1024 under make sanitize: still 2x). */
static void test_every_mode_runs_4096_without_nan(TestContext *t) {
    REQUIRE_SHARED(t, model_path, "models/stories260K.bin");
    const int length = test_quick() ? 1024 : LONG;
    int *ids = malloc(LONG * sizeof *ids);
    int rc = text_ids(t, ids, length);
    if (rc == -2) { free(ids); SKIP(t, "../shared tokenizer or text is absent"); }
    double long_factors[4] = {1.0, 2.0, 4.0, 8.0}, short_factors[4] = {1, 1, 1, 1};
    for (int m = 0; m < ROPE_SCALING_COUNT && rc == 0; m++) {
        RopeConfig rope;
        rope_config_init(&rope, (RopeScaling)m, 8, 10000.0);
        rope.original_context = TRAINED;
        rope.factor = m == ROPE_SCALING_NONE ? 1.0 : 8.0;
        rope.long_factors = long_factors;
        rope.short_factors = short_factors;
        rope.max_position = length;
        Engine e;
        KeyRotationPolicy policy = rope_depends_on_length(&rope) ? KEYS_ROTATED_AT_ATTENTION
                                                                 : KEYS_ROTATED_AT_STORE;
        if (engine_open(t, &e, model_path, length, &rope, policy) != 0) break;
        char err[256] = "";
        int ok = 1;
        for (int pos = 0; pos < length && ok; pos += 512)
            ok = transformer_forward(e.t, ids + pos, 512, pos, 1, err, sizeof err) != NULL;
        CHECK(t, ok, "%s at %d: %s", rope_scaling_name(rope.mode), length, err);
        engine_close(&e);
    }
    free(ids);
}

/* Last-position logits of ids[0..n) under one engine configuration. */
static int last_logits(TestContext *t, const char *path, const RopeConfig *rope,
                       KeyRotationPolicy policy, int layers, const int *ids, int n, int block,
                       float *out) {
    Engine e;
    if (engine_open_layers(t, &e, path, n, rope, policy, layers) != 0) return -1;
    char err[256];
    const float *logits = NULL;
    for (int pos = 0; pos < n; pos += block) {
        int m = n - pos < block ? n - pos : block;
        logits = transformer_forward(e.t, ids + pos, m, pos, 0, err, sizeof err);
        if (!logits) break;
    }
    if (logits) memcpy(out, logits, VOCAB * sizeof *out);
    else test_fail_at(t, __FILE__, __LINE__, "forward: %s", err);
    engine_close(&e);
    return logits ? 0 : -1;
}

/* Dynamic NTK at length n > L uses base b * (s n / L - (s - 1))^(d/(d-2)), which is the fixed
 * NTK base for factor s' = s n / L - (s - 1). With keys rotated at attention, the last token's
 * query and every key it sees are rotated with exactly those frequencies, so with ONE layer
 * (where the values and keys do not depend on earlier attention) its logits equal an NTK(s')
 * run. With more layers the earlier tokens' hidden states were computed at their own lengths,
 * as in any KV-cached decoder; keys cached with their old rotation differ from both. */
static void test_dynamic_exact_policy_equals_ntk_at_length(TestContext *t) {
    REQUIRE_SHARED(t, model_path, "models/stories260K.bin");
    enum { N = 1200 };
    int ids[N];
    int rc = text_ids(t, ids, N);
    if (rc == -2) SKIP(t, "../shared tokenizer or text is absent");
    REQUIRE(t, rc == 0, "no ids");
    RopeConfig dynamic, ntk;
    rope_config_init(&dynamic, ROPE_SCALING_DYNAMIC, 8, 10000.0);
    dynamic.factor = 2.0;
    dynamic.original_context = TRAINED;
    rope_config_init(&ntk, ROPE_SCALING_NTK, 8, 10000.0);
    ntk.factor = 2.0 * N / TRAINED - 1.0; /* s n / L - (s - 1) = 3.6875 */
    float exact[VOCAB], cached[VOCAB], reference[VOCAB], decoded[VOCAB], full_exact[VOCAB];
    REQUIRE(t, last_logits(t, model_path, &ntk, KEYS_ROTATED_AT_STORE, 1, ids, N, 512, reference) == 0, "ntk");
    REQUIRE(t, last_logits(t, model_path, &dynamic, KEYS_ROTATED_AT_ATTENTION, 1, ids, N, 512, exact) == 0, "exact");
    REQUIRE(t, last_logits(t, model_path, &dynamic, KEYS_ROTATED_AT_STORE, 1, ids, N, 512, cached) == 0, "cached");
    CHECK(t, max_abs_diff(exact, reference, VOCAB) < 1e-4, "exact dynamic vs NTK(3.6875), 1 layer: %.3g",
          max_abs_diff(exact, reference, VOCAB));
    CHECK(t, max_abs_diff(cached, reference, VOCAB) > 1e-3,
          "keys cached with older frequencies should differ from the exact result (%.3g)",
          max_abs_diff(cached, reference, VOCAB));
    /* all layers: prefill and token-by-token decode give the same exact result */
    REQUIRE(t, last_logits(t, model_path, &dynamic, KEYS_ROTATED_AT_ATTENTION, 0, ids, N, 512, full_exact) == 0, "full");
    REQUIRE(t, last_logits(t, model_path, &dynamic, KEYS_ROTATED_AT_ATTENTION, 0, ids, N, 1, decoded) == 0, "decode");
    CHECK(t, max_abs_diff(decoded, full_exact, VOCAB) < 1e-4, "exact dynamic, decode vs prefill: %.3g",
          max_abs_diff(decoded, full_exact, VOCAB));
}

/* Below the original length dynamic is plain RoPE, and both policies agree. */
static void test_dynamic_policies_agree_within_original_length(TestContext *t) {
    REQUIRE_SHARED(t, model_path, "models/stories260K.bin");
    int ids[TRAINED];
    int rc = text_ids(t, ids, TRAINED);
    if (rc == -2) SKIP(t, "../shared tokenizer or text is absent");
    REQUIRE(t, rc == 0, "no ids");
    RopeConfig dynamic, none;
    rope_config_init(&dynamic, ROPE_SCALING_DYNAMIC, 8, 10000.0);
    dynamic.factor = 4.0;
    dynamic.original_context = TRAINED;
    rope_config_init(&none, ROPE_SCALING_NONE, 8, 10000.0);
    float a[VOCAB], b[VOCAB], c[VOCAB];
    REQUIRE(t, last_logits(t, model_path, &dynamic, KEYS_ROTATED_AT_ATTENTION, 0, ids, TRAINED, 100, a) == 0, "a");
    REQUIRE(t, last_logits(t, model_path, &dynamic, KEYS_ROTATED_AT_STORE, 0, ids, TRAINED, 100, b) == 0, "b");
    REQUIRE(t, last_logits(t, model_path, &none, KEYS_ROTATED_AT_STORE, 0, ids, TRAINED, 100, c) == 0, "c");
    CHECK(t, max_abs_diff(a, c, VOCAB) < 1e-4 && max_abs_diff(b, c, VOCAB) < 1e-4, "dynamic within L differs from none: %.3g / %.3g",
          max_abs_diff(a, c, VOCAB), max_abs_diff(b, c, VOCAB));
}

static const TestCase rope_engine_tests[] = {
    {"factor_one_reproduces_reference", test_factor_one_reproduces_reference},
    {"every_mode_runs_4096_without_nan", test_every_mode_runs_4096_without_nan},
    {"dynamic_exact_policy_equals_ntk_at_length", test_dynamic_exact_policy_equals_ntk_at_length},
    {"dynamic_policies_agree_within_original_length", test_dynamic_policies_agree_within_original_length},
    {NULL, NULL},
};

TEST_SUITE(rope_engine, rope_engine_tests)
