/* test_rope.c — RoPE: every case of ../shared/refs/rope_vectors.json (HF semantics), the
 * properties the rotation must have (relative-position invariance, position scaling ==
 * frequency scaling, NTK's lowest pair, llama3's untouched high frequencies, norms,
 * layouts, partial rotary), hand-derived rotations, bad configurations, and the command
 * line side (tools/run_rope.c): flag parsing, resolution against model defaults, printing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/rope.h"
#include "../tools/run_rope.h"
#include "../util/errors.h"
#include "harness.h"
#include "../util/json.h"

#define PI 3.14159265358979323846

/* ---- helpers ------------------------------------------------------------------------- */

typedef struct { unsigned long long state; } Rng;

static float rng_uniform(Rng *r) { /* in [-1, 1) */
    r->state = r->state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((r->state >> 40) * (1.0 / (1ULL << 24)) * 2.0 - 1.0);
}

static void fill_random(Rng *r, float *x, int n) {
    for (int i = 0; i < n; i++) x[i] = rng_uniform(r);
}


static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static const double long16[8] = {1, 1.5, 2, 3, 4, 6, 8, 8};
static const double short16[8] = {1, 1, 1, 1.1, 1.2, 1.3, 1.4, 1.5};

/* A head of 16 under each mode, trained at 64, extended 4x. */
static void mode_config(RopeConfig *cfg, RopeScaling mode) {
    rope_config_init(cfg, mode, 16, 10000.0);
    cfg->factor = 4.0;
    cfg->original_context = 64;
    cfg->max_position = 256;
    cfg->long_factors = long16;
    cfg->short_factors = short16;
}

/* ---- reference vectors ----------------------------------------------------------------- */

typedef struct {
    RopeConfig cfg;
    int seq_len;
    double long_f[ROPE_MAX_PAIRS], short_f[ROPE_MAX_PAIRS];
} VectorCase;

/* Maps one case (HF parameter names) onto a RopeConfig; 0 on success. */
static int load_case(const JsonValue *c, VectorCase *vc) {
    const JsonValue *mode_v = json_get(c, "mode"), *p = json_get(c, "params");
    RopeScaling mode;
    if (!mode_v || mode_v->kind != JSON_STRING || !p) return -1;
    if (rope_scaling_from_name(mode_v->string, &mode)) return -1;
    rope_config_init(&vc->cfg, mode, (int)json_number(c, "head_dim", 0), json_number(c, "base", 0));
    RopeConfig *cfg = &vc->cfg;
    cfg->rotary_dim = (int)json_number(c, "rotary_dim", cfg->head_dim);
    vc->seq_len = (int)json_number(c, "seq_len", 0); /* null -> 0: not given */
    cfg->factor = json_number(p, "factor", 1.0);
    cfg->original_context = (int)json_number(p, "original_max_position_embeddings", 0);
    if (mode == ROPE_SCALING_DYNAMIC) /* HF: max_position_embeddings is the original length */
        cfg->original_context = (int)json_number(p, "max_position_embeddings", 0);
    if (mode == ROPE_SCALING_LONGROPE)
        cfg->max_position = (int)json_number(p, "max_position_embeddings", 0);
    cfg->beta_fast = json_number(p, "beta_fast", 32.0);
    cfg->beta_slow = json_number(p, "beta_slow", 1.0);
    cfg->low_freq_factor = json_number(p, "low_freq_factor", 1.0);
    cfg->high_freq_factor = json_number(p, "high_freq_factor", 4.0);
    cfg->attention_factor = json_number(p, "attention_factor", 0.0);
    cfg->mscale = json_number(p, "mscale", 0.0);
    cfg->mscale_all_dim = json_number(p, "mscale_all_dim", 0.0);
    cfg->truncate = (int)json_number(p, "truncate", 1.0);
    if (json_get(p, "long_factor")) {
        json_numbers(json_get(p, "long_factor"), vc->long_f, ROPE_MAX_PAIRS);
        json_numbers(json_get(p, "short_factor"), vc->short_f, ROPE_MAX_PAIRS);
        cfg->long_factors = vc->long_f;
        cfg->short_factors = vc->short_f;
    }
    return 0;
}

/* Checks one case; returns its largest relative error. */
static double check_case(TestContext *t, const JsonValue *c, const char *name) {
    VectorCase vc;
    double ref[ROPE_MAX_PAIRS], got[ROPE_MAX_PAIRS], worst = 0;
    char err[ERR_LEN] = "";
    if (load_case(c, &vc)) { CHECK(t, 0, "%s: unreadable case", name); return 1; }
    CHECK(t, rope_config_validate(&vc.cfg, err, sizeof err) == 0, "%s: %s", name, err);
    int n = json_numbers(json_get(c, "inv_freq"), ref, ROPE_MAX_PAIRS);
    CHECK(t, n == vc.cfg.rotary_dim / 2, "%s: %d reference values for rotary_dim %d", name, n,
          vc.cfg.rotary_dim);
    double af = rope_inv_freq(&vc.cfg, vc.seq_len, got);
    for (int k = 0; k < n && k < vc.cfg.rotary_dim / 2; k++) {
        double e = rel_diff(got[k], ref[k]);
        worst = e > worst ? e : worst;
        CHECK(t, e < 1e-6, "%s: inv_freq[%d] = %.17g, reference %.17g", name, k, got[k], ref[k]);
    }
    double ref_af = json_number(c, "attention_factor", NAN), e = rel_diff(af, ref_af);
    CHECK(t, e < 1e-6, "%s: attention factor %.17g, reference %.17g", name, af, ref_af);
    return e > worst ? e : worst;
}

static void test_reference_vectors(TestContext *t) {
    REQUIRE_SHARED(t, path, "refs/rope_vectors.json");
    JsonValue *doc = json_parse_file(path);
    REQUIRE(t, doc, "cannot parse %s", path);
    const JsonValue *cases = json_get(doc, "cases");
    REQUIRE(t, cases && cases->kind == JSON_ARRAY, "no cases array");
    CHECK(t, cases->n_items == 22, "expected the 22 published cases, found %d", cases->n_items);
    int seen[ROPE_SCALING_COUNT] = {0};
    double worst = 0;
    for (int i = 0; i < cases->n_items; i++) {
        const JsonValue *c = &cases->items[i], *name = json_get(c, "name");
        RopeScaling mode;
        if (rope_scaling_from_name(json_get(c, "mode")->string, &mode) == 0) seen[mode]++;
        double e = check_case(t, c, name ? name->string : "?");
        worst = e > worst ? e : worst;
    }
    for (int m = 0; m < ROPE_SCALING_COUNT; m++)
        CHECK(t, seen[m] > 0, "no reference case for mode %s", rope_scaling_name((RopeScaling)m));
    CHECK(t, worst < 1e-6, "largest relative error %g", worst);
    if (getenv("TEST_VERBOSE")) printf("     rope vectors: largest relative error %.3g\n", worst);
    json_free(doc);
}

/* ---- properties --------------------------------------------------------------------- */

/* q_m . k_n must depend on m - n only, in every mode, for both layouts. */
static void test_relative_position_invariance(TestContext *t) {
    Rng rng = {12345};
    float q[16], k[16], qm[16], kn[16];
    static const int at[][2] = {{7, 3}, {107, 103}, {250, 246}, {5004, 5000}};
    for (int m = 0; m < ROPE_SCALING_COUNT; m++) {
        RopeConfig cfg;
        mode_config(&cfg, (RopeScaling)m);
        for (int layout = 0; layout < 2; layout++) {
            fill_random(&rng, q, 16);
            fill_random(&rng, k, 16);
            double first = 0;
            for (int i = 0; i < 4; i++) {
                rope_rotate_to(&cfg, (RopeLayout)layout, 256, at[i][0], q, qm);
                rope_rotate_to(&cfg, (RopeLayout)layout, 256, at[i][1], k, kn);
                double d = dot(qm, kn, 16);
                if (i == 0) first = d;
                CHECK(t, fabs(d - first) < 2e-5, "%s layout %d: q_%d.k_%d = %.9g but "
                      "q_7.k_3 = %.9g", rope_scaling_name((RopeScaling)m), layout, at[i][0],
                      at[i][1], d, first);
            }
            rope_rotate_to(&cfg, (RopeLayout)layout, 256, 5005, q, qm); /* offset 5 differs */
            CHECK(t, fabs(dot(qm, kn, 16) - first) > 1e-3, "%s: offsets 4 and 5 give the same "
                  "q.k", rope_scaling_name((RopeScaling)m));
        }
    }
}

/* Ro(x, (m L/m') theta) == Ro(x, m theta/s) with s = m'/L: PI rescales positions or
 * frequencies, the same thing. */
static void test_linear_positions_equal_frequencies(TestContext *t) {
    RopeConfig plain, linear;
    rope_config_init(&plain, ROPE_SCALING_NONE, 64, 10000.0);
    rope_config_init(&linear, ROPE_SCALING_LINEAR, 64, 10000.0);
    const int L = 512, extended = 2048;
    linear.factor = (double)extended / L;
    Rng rng = {7};
    float x[64], a[64], b[64];
    fill_random(&rng, x, 64);
    static const int positions[] = {0, 1, 37, 1000, 2047};
    for (int i = 0; i < 5; i++) {
        int m = positions[i];
        rope_rotate_to(&plain, ROPE_LAYOUT_INTERLEAVED, 0, (double)m * L / extended, x, a);
        rope_rotate_to(&linear, ROPE_LAYOUT_INTERLEAVED, 0, m, x, b);
        for (int j = 0; j < 64; j++)
            CHECK(t, fabsf(a[j] - b[j]) < 1e-6f, "m=%d dim %d: %.9g vs %.9g", m, j, a[j], b[j]);
    }
}

/* NTK: b' = b s^(d/(d-2)); lowest pair k = d/2-1 has theta' = b'^(-(d-2)/d)
 * = b^(-(d-2)/d) * s^(-1) = theta/s, the lowest pair of linear interpolation. The highest
 * pair (k = 0, theta = 1) is not touched, unlike under linear interpolation. */
static void test_ntk_lowest_pair_matches_linear(TestContext *t) {
    static const int dims[] = {8, 64, 128};
    static const double factors[] = {2, 4, 16};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            RopeConfig ntk, lin;
            double a[ROPE_MAX_PAIRS], b[ROPE_MAX_PAIRS];
            rope_config_init(&ntk, ROPE_SCALING_NTK, dims[i], 10000.0);
            rope_config_init(&lin, ROPE_SCALING_LINEAR, dims[i], 10000.0);
            ntk.factor = lin.factor = factors[j];
            rope_inv_freq(&ntk, 0, a);
            rope_inv_freq(&lin, 0, b);
            int last = dims[i] / 2 - 1;
            CHECK(t, rel_diff(a[last], b[last]) < 1e-12, "d=%d s=%g: ntk %.17g, linear %.17g",
                  dims[i], factors[j], a[last], b[last]);
            CHECK(t, a[0] == 1.0 && rel_diff(b[0], 1.0 / factors[j]) < 1e-15,
                  "d=%d s=%g: pair 0 ntk %.17g linear %.17g", dims[i], factors[j], a[0], b[0]);
        }
}

/* Llama 3.1 (b 500000, d 128, L 8192, s 8, low 1, high 4): pairs with wavelength
 * 2 pi b^(2k/d) < L/4 = 2048 are kept: k < 64 ln(2048/2pi)/ln(500000) = 28.2, so 29
 * pairs (0..28) equal plain RoPE bit for bit; wavelength > 8192 for k > 34.98: pairs 35..63
 * (29 pairs) are divided by 8. */
static void test_llama3_keeps_high_frequencies(TestContext *t) {
    RopeConfig plain, l3;
    double a[64], b[64];
    rope_config_init(&plain, ROPE_SCALING_NONE, 128, 500000.0);
    rope_config_init(&l3, ROPE_SCALING_LLAMA3, 128, 500000.0);
    l3.factor = 8.0;
    l3.original_context = 8192;
    rope_inv_freq(&plain, 0, a);
    rope_inv_freq(&l3, 0, b);
    CHECK(t, memcmp(a, b, 29 * sizeof a[0]) == 0, "pairs 0..28 differ from plain RoPE");
    CHECK(t, a[29] != b[29], "pair 29 (wavelength %.1f) should be in the smoothed band",
          2 * PI / a[29]);
    for (int k = 35; k < 64; k++)
        CHECK(t, rel_diff(b[k], a[k] / 8.0) < 1e-15, "pair %d: %.17g, expected theta/8 = %.17g", k,
              b[k], a[k] / 8.0);
    CHECK(t, b[34] > a[34] / 8.0 && b[34] < a[34], "pair 34 must be a blend");
}

/* With factor 1 (and dynamic below L, longrope with unit lists at max = L) every mode is
 * plain RoPE: theta_k = b^(-2k/d), attention factor 1. Hand values for d = 4, b = 10000:
 * theta_0 = 1, theta_1 = 10000^(-1/2) = 0.01. */
static void test_factor_one_is_plain(TestContext *t) {
    static const double ones[2] = {1, 1};
    for (int m = 0; m < ROPE_SCALING_COUNT; m++) {
        RopeConfig cfg;
        double inv[2];
        rope_config_init(&cfg, (RopeScaling)m, 4, 10000.0);
        cfg.original_context = cfg.max_position = 512;
        cfg.long_factors = cfg.short_factors = ones;
        double af = rope_inv_freq(&cfg, 256, inv);
        const char *name = rope_scaling_name((RopeScaling)m);
        CHECK(t, inv[0] == 1.0, "%s: theta_0 = %.17g, expected 1", name, inv[0]);
        CHECK(t, rel_diff(inv[1], 0.01) < 1e-15, "%s: theta_1 = %.17g, expected 0.01", name,
              inv[1]);
        CHECK(t, af == 1.0, "%s: attention factor %.17g, expected 1", name, af);
    }
}

static void test_rotation_preserves_norms(TestContext *t) {
    Rng rng = {99};
    RopeConfig cfg;
    mode_config(&cfg, ROPE_SCALING_YARN);
    cfg.attention_factor = 1.0; /* a pure rotation */
    float x[16], y[16];
    for (int trial = 0; trial < 50; trial++) {
        fill_random(&rng, x, 16);
        double position = trial * 997.0;
        for (int layout = 0; layout < 2; layout++) {
            rope_rotate_to(&cfg, (RopeLayout)layout, 256, position, x, y);
            double nx = sqrt(dot(x, x, 16)), ny = sqrt(dot(y, y, 16));
            CHECK(t, rel_diff(ny, nx) < 1e-6, "position %g layout %d: |x| %.9g -> %.9g", position,
                  layout, nx, ny);
        }
    }
}

/* Interleaved pair k is (2k, 2k+1); half-split pair k is (k, k+d/2). Moving dimension 2k to
 * k and 2k+1 to k+d/2 maps one layout onto the other, before and after the rotation. */
static void test_half_split_is_permuted_interleaved(TestContext *t) {
    Rng rng = {5};
    RopeConfig cfg;
    mode_config(&cfg, ROPE_SCALING_LLAMA3);
    float x[16], xh[16], yi[16], yh[16];
    fill_random(&rng, x, 16);
    for (int k = 0; k < 8; k++) { xh[k] = x[2 * k]; xh[k + 8] = x[2 * k + 1]; }
    rope_rotate_to(&cfg, ROPE_LAYOUT_INTERLEAVED, 256, 123, x, yi);
    rope_rotate_to(&cfg, ROPE_LAYOUT_HALF_SPLIT, 256, 123, xh, yh);
    for (int k = 0; k < 8; k++)
        CHECK(t, yh[k] == yi[2 * k] && yh[k + 8] == yi[2 * k + 1],
              "pair %d: half-split (%g, %g) vs interleaved (%g, %g)", k, yh[k], yh[k + 8],
              yi[2 * k], yi[2 * k + 1]);
}

/* rotary_dim 8 of head_dim 16, two heads: dims 8..15 of each head are not touched, and
 * dims 0..7 rotate as a whole head of 8 would. */
static void test_partial_rotary_leaves_tail(TestContext *t) {
    Rng rng = {11};
    float x[32], y[32], head8[8];
    double inv[4];
    float cs[8];
    RopeConfig full8;
    rope_config_init(&full8, ROPE_SCALING_NONE, 8, 10000.0);
    fill_random(&rng, x, 32);
    for (int layout = 0; layout < 2; layout++) {
        memcpy(y, x, sizeof x);
        double af = rope_inv_freq(&full8, 0, inv);
        rope_cos_sin(inv, 4, af, 77.0, cs);
        rope_rotate(y, 2, 16, 8, (RopeLayout)layout, cs);
        for (int h = 0; h < 2; h++) {
            CHECK(t, memcmp(y + 16 * h + 8, x + 16 * h + 8, 8 * sizeof(float)) == 0,
                  "head %d layout %d: tail dims changed", h, layout);
            rope_rotate_to(&full8, (RopeLayout)layout, 0, 77.0, x + 16 * h, head8);
            CHECK(t, memcmp(y + 16 * h, head8, sizeof head8) == 0,
                  "head %d layout %d: rotary part differs from a head of 8", h, layout);
        }
    }
}

/* By hand: head_dim 2 has the single pair theta_0 = b^0 = 1; at position pi/2 the angle is
 * pi/2, cos = 0, sin = 1, so (x0, x1) = (1, 0) -> (1*0 - 0*1, 1*1 + 0*0) = (0, 1).
 * head_dim 4, b = 10000: theta_1 = 0.01, so position 50 pi turns pair 1 by pi/2:
 * interleaved (0, 0, 1, 0) -> (0, 0, 0, 1); pair 0 turns by 50 pi = 25 full turns: unchanged.
 * With attention factor 2 the result is scaled: (0, 0, 0, 2). */
static void test_hand_rotation(TestContext *t) {
    RopeConfig d2, d4;
    rope_config_init(&d2, ROPE_SCALING_NONE, 2, 10000.0);
    rope_config_init(&d4, ROPE_SCALING_NONE, 4, 10000.0);
    float x2[2] = {1, 0}, y2[2], x4[4] = {0.5f, 0, 1, 0}, y4[4];
    rope_rotate_to(&d2, ROPE_LAYOUT_INTERLEAVED, 0, PI / 2, x2, y2);
    CHECK(t, fabsf(y2[0]) < 1e-7f && fabsf(y2[1] - 1) < 1e-7f, "(1,0) -> (%g,%g), want (0,1)",
          y2[0], y2[1]);
    rope_rotate_to(&d4, ROPE_LAYOUT_INTERLEAVED, 0, 50 * PI, x4, y4);
    CHECK(t, fabsf(y4[0] - 0.5f) < 1e-6f && fabsf(y4[1]) < 1e-6f && fabsf(y4[2]) < 1e-6f &&
          fabsf(y4[3] - 1) < 1e-6f, "got (%g,%g,%g,%g), want (0.5,0,0,1)", y4[0], y4[1], y4[2],
          y4[3]);
    d4.attention_factor = 2.0;
    rope_rotate_to(&d4, ROPE_LAYOUT_INTERLEAVED, 0, 50 * PI, x4, y4);
    CHECK(t, fabsf(y4[2]) < 2e-6f && fabsf(y4[3] - 2) < 2e-6f, "af 2: pair 1 (%g,%g), want (0,2)",
          y4[2], y4[3]);
}

/* Dynamic NTK by hand, d = 4, b = 10000, s = 2, L = 512, n = 2048:
 * b' = b (2*2048/512 - 1)^(4/2) = 10000 * 7^2 = 490000; theta_1 = 490000^(-1/2) = 1/700.
 * And frequencies follow the length (rope_depends_on_length). */
static void test_dynamic_follows_length(TestContext *t) {
    RopeConfig cfg;
    double inv[2];
    rope_config_init(&cfg, ROPE_SCALING_DYNAMIC, 4, 10000.0);
    cfg.factor = 2.0;
    cfg.original_context = 512;
    rope_inv_freq(&cfg, 2048, inv);
    CHECK(t, rel_diff(inv[1], 1.0 / 700.0) < 1e-14, "theta_1 = %.17g, expected 1/700", inv[1]);
    rope_inv_freq(&cfg, 512, inv);
    CHECK(t, rel_diff(inv[1], 0.01) < 1e-15, "at L: theta_1 = %.17g, expected 0.01", inv[1]);
    CHECK(t, rope_depends_on_length(&cfg), "dynamic depends on length");
    cfg.mode = ROPE_SCALING_YARN;
    CHECK(t, !rope_depends_on_length(&cfg), "yarn does not depend on length");
}

/* yarn with mscale/mscale_all_dim (DeepSeek style), s = 40, mscale 0.707, all_dim 0.707:
 * equal mscales give get_mscale/get_mscale = 1. With mscale 1, all_dim 0.5:
 * (0.1 ln 40 + 1) / (0.05 ln 40 + 1) = 1.368888 / 1.184444 = 1.155722... */
static void test_yarn_mscale(TestContext *t) {
    RopeConfig cfg;
    double inv[8];
    mode_config(&cfg, ROPE_SCALING_YARN);
    cfg.factor = 40.0;
    cfg.mscale = cfg.mscale_all_dim = 0.707;
    CHECK(t, rel_diff(rope_inv_freq(&cfg, 0, inv), 1.0) < 1e-15, "equal mscales must give 1");
    cfg.mscale = 1.0;
    cfg.mscale_all_dim = 0.5;
    double want = (0.1 * log(40.0) + 1) / (0.05 * log(40.0) + 1);
    CHECK(t, rel_diff(rope_inv_freq(&cfg, 0, inv), want) < 1e-15, "mscale ratio");
    CHECK(t, fabs(want - 1.155722) < 1e-6, "hand value %.9g", want);
}

typedef struct {
    const char *what;
    void (*spoil)(RopeConfig *);
    const char *message;
} BadCase;

static void bad_base(RopeConfig *c) { c->base = 0; }
static void bad_neg_base(RopeConfig *c) { c->base = -10000; }
static void bad_factor(RopeConfig *c) { c->factor = 0; }
static void bad_factor_below_one(RopeConfig *c) { c->factor = 0.5; }
static void bad_odd_dim(RopeConfig *c) { c->rotary_dim = 7; }
static void bad_big_dim(RopeConfig *c) { c->rotary_dim = 32; }
static void bad_low_high(RopeConfig *c) { c->mode = ROPE_SCALING_LLAMA3; c->low_freq_factor = 4; }
static void bad_betas(RopeConfig *c) { c->beta_fast = 1; c->beta_slow = 32; }
static void bad_lists(RopeConfig *c) { c->mode = ROPE_SCALING_LONGROPE; c->long_factors = NULL; }
static void bad_original(RopeConfig *c) { c->original_context = 0; }
static void bad_nan_factor(RopeConfig *c) { c->factor = NAN; }
static void bad_attention(RopeConfig *c) { c->attention_factor = -1; }
static void bad_mode(RopeConfig *c) { c->mode = (RopeScaling)42; }

static void test_bad_values_give_errors(TestContext *t) {
    static const BadCase cases[] = {
        {"base 0", bad_base, "base"}, {"negative base", bad_neg_base, "base"},
        {"factor 0", bad_factor, "factor must be a positive"},
        {"factor 0.5 for yarn", bad_factor_below_one, ">= 1"},
        {"odd rotary_dim", bad_odd_dim, "must be even"},
        {"rotary_dim > head_dim", bad_big_dim, "exceeds head_dim"},
        {"low >= high", bad_low_high, "low_freq_factor < high_freq_factor"},
        {"beta_fast <= beta_slow", bad_betas, "beta_fast > beta_slow"},
        {"missing longrope lists", bad_lists, "long and short factor lists"},
        {"original context 0", bad_original, "original (training) context"},
        {"NaN factor", bad_nan_factor, "factor"},
        {"negative attention", bad_attention, "attention_factor"},
        {"unknown mode", bad_mode, "unknown scaling mode"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RopeConfig cfg;
        char err[ERR_LEN] = "";
        double inv[ROPE_MAX_PAIRS];
        mode_config(&cfg, ROPE_SCALING_YARN);
        cases[i].spoil(&cfg);
        CHECK(t, rope_config_validate(&cfg, err, sizeof err) == -1, "%s accepted", cases[i].what);
        CHECK(t, strstr(err, cases[i].message) && !strchr(err, '\n'), "%s: message '%s' lacks '%s'",
              cases[i].what, err, cases[i].message);
        CHECK(t, isnan(rope_inv_freq(&cfg, 100, inv)), "%s: rope_inv_freq must give NaN",
              cases[i].what);
    }
    RopeConfig linear;
    mode_config(&linear, ROPE_SCALING_LINEAR);
    linear.factor = 0.5; /* compression is allowed for linear */
    CHECK(t, rope_config_validate(&linear, NULL, 0) == 0, "linear factor 0.5 must be accepted");
}

static void test_scaling_names(TestContext *t) {
    RopeScaling m;
    for (int i = 0; i < ROPE_SCALING_COUNT; i++)
        CHECK(t, rope_scaling_from_name(rope_scaling_name((RopeScaling)i), &m) == 0 && (int)m == i,
              "name of mode %d does not round-trip", i);
    CHECK(t, rope_scaling_from_name("default", &m) == 0 && m == ROPE_SCALING_NONE, "default");
    CHECK(t, rope_scaling_from_name("su", &m) == 0 && m == ROPE_SCALING_LONGROPE, "su");
    CHECK(t, rope_scaling_from_name("YaRN", &m) == 0 && m == ROPE_SCALING_YARN, "YaRN");
    CHECK(t, rope_scaling_from_name("bogus", &m) == -1, "bogus accepted");
    CHECK(t, rope_scaling_from_name(NULL, &m) == -1, "NULL accepted");
}

/* ---- the command line (tools/run_rope.c) -------------------------------------------- */

/* Parses all of args as RoPE flags: 0, -1 (message in err) or -2 if one is not a RoPE flag. */
static int parse_flags(RopeOptions *o, const char *const *args, char *err) {
    char *argv[32];
    int argc = 0;
    while (args[argc] && argc < 32) { argv[argc] = (char *)args[argc]; argc++; }
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        int r = rope_flag_parse(o, argc, argv, &i, err, ERR_LEN);
        if (r <= 0) return r == 0 ? -2 : -1;
    }
    return 0;
}

/* A stories260K-like model: head 8, trained at 512, no scaling in the file. */
static Config tiny_model(void) {
    Config c;
    memset(&c, 0, sizeof c);
    c.dim = 64;
    c.n_heads = c.n_kv_heads = 8;
    c.head_dim = c.rotary_dim = 8;
    c.context_length = 512;
    c.rope.freq_base = 10000.0;
    return c;
}

static int resolve(const char *const *args, const Config *model, int context, RopeConfig *out,
                   RopeFactorStorage *st, char *err) {
    RopeOptions o;
    if (parse_flags(&o, args, err)) return -9;
    return rope_options_resolve(&o, model, context, out, st, err, ERR_LEN);
}

static void test_resolve_file_defaults(TestContext *t) {
    static RopeFactorStorage st;
    static const float freqs[4] = {1, 2, 4, 8};
    Config m = tiny_model();
    RopeConfig r;
    char err[ERR_LEN] = "";
    strcpy(m.rope.scaling_type, "yarn");
    m.rope.scaling_factor = 4;
    m.rope.original_context = 256; /* wins over context_length 512 */
    m.rope.freq_base = 50000;
    m.rope.freq_factors = freqs;
    const char *none[] = {NULL};
    REQUIRE(t, resolve(none, &m, 4096, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.mode == ROPE_SCALING_YARN && r.factor == 4 && r.original_context == 256 &&
          r.base == 50000, "got %s x%g L %d b %g", rope_scaling_name(r.mode), r.factor,
          r.original_context, r.base);
    CHECK(t, r.beta_fast == 32 && r.beta_slow == 1 && r.truncate == 1, "yarn defaults");
    CHECK(t, r.freq_factors && r.freq_factors[3] == 8.0, "file freq_factors not copied");
}

static void test_resolve_flags_override(TestContext *t) {
    static RopeFactorStorage st;
    Config m = tiny_model();
    RopeConfig r;
    char err[ERR_LEN] = "";
    strcpy(m.rope.scaling_type, "yarn");
    m.rope.scaling_factor = 4;
    const char *args[] = {"--rope-scaling", "linear", "--rope-scale", "2", "--rope-freq-base",
                          "5e5", "--rope-orig-ctx", "256", "--yarn-attn-factor", "1.5", NULL};
    REQUIRE(t, resolve(args, &m, 1024, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.mode == ROPE_SCALING_LINEAR && r.factor == 2 && r.base == 500000 &&
          r.original_context == 256 && r.attention_factor == 1.5, "got %s x%g b %g L %d af %g",
          rope_scaling_name(r.mode), r.factor, r.base, r.original_context, r.attention_factor);
    const char *inverse[] = {"--rope-freq-scale", "0.25", "--rope-scaling", "ntk", NULL};
    REQUIRE(t, resolve(inverse, &m, 1024, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.factor == 4.0 && r.mode == ROPE_SCALING_NTK, "freq-scale 0.25 -> factor %g",
          r.factor);
    const char *yarn[] = {"--yarn-beta-fast", "16", "--yarn-beta-slow", "2", "--yarn-no-truncate",
                          "--yarn-mscale", "1", "--yarn-mscale-all-dim", "0.5", NULL};
    REQUIRE(t, resolve(yarn, &m, 1024, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.beta_fast == 16 && r.beta_slow == 2 && r.truncate == 0 && r.mscale == 1 &&
          r.mscale_all_dim == 0.5, "yarn flags not applied");
}

/* A scaling mode with no factor anywhere: s = context / L, e.g. 2048 / 512 = 4 and
 * 1536 / 512 = 3; none keeps factor 1; at or below L the factor stays 1. */
static void test_resolve_default_scale(TestContext *t) {
    static RopeFactorStorage st;
    Config m = tiny_model();
    RopeConfig r;
    char err[ERR_LEN] = "";
    const char *yarn[] = {"--rope-scaling", "yarn", NULL}, *ntk[] = {"--rope-scaling", "ntk", NULL};
    REQUIRE(t, resolve(yarn, &m, 2048, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.factor == 4.0 && r.original_context == 512, "yarn at 2048: factor %g L %d", r.factor,
          r.original_context);
    REQUIRE(t, resolve(ntk, &m, 1536, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.factor == 3.0, "ntk at 1536: factor %g", r.factor);
    REQUIRE(t, resolve(ntk, &m, 256, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.factor == 1.0, "ntk at 256: factor %g", r.factor);
    const char *none[] = {NULL};
    REQUIRE(t, resolve(none, &m, 2048, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.mode == ROPE_SCALING_NONE, "no scaling asked, got %s", rope_scaling_name(r.mode));
}

static void test_resolve_without_model(TestContext *t) {
    static RopeFactorStorage st;
    RopeConfig r;
    char err[ERR_LEN] = "";
    const char *bare[] = {"--rope-scaling", "linear", NULL};
    CHECK(t, resolve(bare, NULL, 2048, &r, &st, err) == -1 && strstr(err, "--head-dim"),
          "missing --head-dim: '%s'", err);
    const char *yarn[] = {"--head-dim", "64", "--rope-scaling", "yarn", NULL};
    CHECK(t, resolve(yarn, NULL, 2048, &r, &st, err) == -1 && strstr(err, "--yarn-orig-ctx"),
          "yarn without original context: '%s'", err);
    const char *ok[] = {"--head-dim", "64", "--rope-dim", "32", "--rope-scaling", "yarn",
                        "--yarn-orig-ctx", "512", NULL};
    REQUIRE(t, resolve(ok, NULL, 2048, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.head_dim == 64 && r.rotary_dim == 32 && r.base == 10000 && r.factor == 4,
          "got head %d rotary %d base %g factor %g", r.head_dim, r.rotary_dim, r.base, r.factor);
}

/* longrope lists from flags and @FILE; s = max_position / L = 4096 / 512 = 8. */
static void test_resolve_longrope_lists(TestContext *t) {
    static RopeFactorStorage st;
    Config m = tiny_model();
    RopeConfig r;
    char err[ERR_LEN] = "", at_file[600];
    const char *path = temp_path("short.txt");
    REQUIRE(t, write_file(path, "1, 1\n1.5 2\n", 11) == 0, "cannot write %s", path);
    snprintf(at_file, sizeof at_file, "@%s", path);
    const char *args[] = {"--rope-scaling", "longrope", "--rope-long-factors", "1,2,4,8",
                          "--rope-short-factors", at_file, "--rope-max-pos", "4096", NULL};
    REQUIRE(t, resolve(args, &m, 2048, &r, &st, err) == 0, "%s", err);
    CHECK(t, r.long_factors && r.long_factors[3] == 8 && r.short_factors && r.short_factors[3] == 2,
          "lists not taken");
    CHECK(t, r.max_position == 4096 && r.factor == 8, "max %d factor %g", r.max_position, r.factor);
    const char *three[] = {"--rope-scaling", "longrope", "--rope-long-factors", "1,2,4",
                           "--rope-short-factors", "1,1,1,1", NULL};
    CHECK(t, resolve(three, &m, 2048, &r, &st, err) == -1 && strstr(err, "has 3 values"),
          "wrong length: '%s'", err);
    const char *missing[] = {"--rope-scaling", "longrope", NULL};
    CHECK(t, resolve(missing, &m, 2048, &r, &st, err) == -1 && strstr(err, "--rope-long-factors"),
          "no lists: '%s'", err);
}

/* ../shared/refs/stories260K_ref.json runs the tiny model at context 2048 with each mode
 * at factor 4 from an original context of 512. Resolving "--rope-scaling MODE
 * --yarn-orig-ctx 512" for a GGUF-like model (head 8, context_length 2048) at context 2048
 * must give the same frequencies: factor 2048/512 = 4, yarn's betas 32/1, llama3's 1/4. */
static void check_stories_entry(TestContext *t, const JsonValue *entry) {
    static RopeFactorStorage st;
    const JsonValue *mode = json_get(entry, "mode");
    double ref[8], got[8];
    char err[ERR_LEN] = "";
    RopeConfig r;
    Config m = tiny_model();
    m.context_length = 2048; /* what the GGUF declares */
    const char *args[] = {"--rope-scaling", mode->string, "--yarn-orig-ctx", "512", NULL};
    REQUIRE(t, resolve(args, &m, 2048, &r, &st, err) == 0, "%s: %s", mode->string, err);
    int n = json_numbers(json_get(entry, "inv_freq"), ref, 8);
    double af = rope_inv_freq(&r, 2048, got);
    REQUIRE(t, n == 4, "%s: %d reference values", mode->string, n);
    for (int k = 0; k < n; k++)
        CHECK(t, rel_diff(got[k], ref[k]) < 1e-6, "%s: inv_freq[%d] %.17g, reference %.17g",
              mode->string, k, got[k], ref[k]);
    CHECK(t, rel_diff(af, json_number(entry, "attention_factor", NAN)) < 1e-6,
          "%s: attention factor %.17g", mode->string, af);
}

static void test_resolve_matches_stories_refs(TestContext *t) {
    REQUIRE_SHARED(t, path, "refs/stories260K_ref.json");
    JsonValue *doc = json_parse_file(path);
    REQUIRE(t, doc, "cannot parse %s", path);
    const JsonValue *ppl = json_get(doc, "ppl");
    int checked = 0;
    for (int i = 0; ppl && i < ppl->n_items; i++) {
        const JsonValue *e = &ppl->items[i], *mode = json_get(e, "mode");
        if (json_number(e, "ctx", 0) != 2048 || !json_get(e, "inv_freq") || !mode) continue;
        check_stories_entry(t, e);
        checked++;
    }
    CHECK(t, checked >= 5, "only %d context-2048 entries with inv_freq", checked);
    json_free(doc);
}

typedef struct {
    const char *args[4];
    const char *message;
} BadFlags;

static void test_bad_flags(TestContext *t) {
    static const BadFlags cases[] = {
        {{"--rope-scale", "abc"}, "--rope-scale: 'abc' is not a number"},
        {{"--rope-scale"}, "--rope-scale: missing value"},
        {{"--rope-scale", "-2"}, "must be positive"},
        {{"--rope-freq-base", "0"}, "must be positive"},
        {{"--rope-scaling", "bogus"}, "unknown mode 'bogus'"},
        {{"--yarn-orig-ctx", "1.5"}, "not a whole number"},
        {{"--yarn-orig-ctx", "0"}, "at least 1"},
        {{"--rope-long-factors", "1,x"}, "'x' is not a number"},
        {{"--rope-long-factors", "1,-1"}, "must be positive"},
        {{"--rope-short-factors", "@/nonexistent/list"}, "cannot open"},
        {{"--yarn-mscale", "-1"}, "must not be negative"},
        {{"--rope-scale", "1e999"}, "not a number"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        RopeOptions o;
        char err[ERR_LEN] = "";
        CHECK(t, parse_flags(&o, cases[i].args, err) == -1 && strstr(err, cases[i].message),
              "%s %s: message '%s', want '%s'", cases[i].args[0],
              cases[i].args[1] ? cases[i].args[1] : "", err, cases[i].message);
    }
    RopeOptions o;
    char err[ERR_LEN] = "";
    char *argv[] = {"-c", "2048"};
    int i = 0;
    CHECK(t, rope_flag_parse(&o, 2, argv, &i, err, sizeof err) == 0 && i == 0, "-c taken as RoPE");
}

static void test_resolve_rejects_bad_combinations(TestContext *t) {
    static RopeFactorStorage st;
    static const float freqs[4] = {1, 2, 4, 8};
    Config m = tiny_model();
    RopeConfig r;
    char err[ERR_LEN] = "";
    m.rope.freq_factors = freqs;
    /* rope_freqs.weight applies by default; a mode on the command line replaces it */
    const char *plain[] = {NULL};
    CHECK(t, resolve(plain, &m, 2048, &r, &st, err) == 0 && r.freq_factors && r.freq_factors[3] == 8 &&
          !st.file_divisors_replaced, "the file's divisors: '%s'", err);
    const char *l3[] = {"--rope-scaling", "llama3", NULL};
    CHECK(t, resolve(l3, &m, 2048, &r, &st, err) == 0 && !r.freq_factors && st.file_divisors_replaced,
          "--rope-scaling llama3 with rope_freqs: '%s'", err);
    const char *odd[] = {"--rope-dim", "7", NULL};
    m.rope.freq_factors = NULL;
    CHECK(t, resolve(odd, &m, 2048, &r, &st, err) == -1 && strstr(err, "even"), "'%s'", err);
    const char *head[] = {"--head-dim", "16", NULL};
    CHECK(t, resolve(head, &m, 2048, &r, &st, err) == -1 && strstr(err, "disagrees"), "'%s'", err);
    const char *hl[] = {"--rope-scaling", "llama3", "--rope-low-freq-factor", "4", NULL};
    CHECK(t, resolve(hl, &m, 2048, &r, &st, err) == -1 && strstr(err, "low_freq_factor"), "'%s'",
          err);
    const char *scale_only[] = {"--rope-scale", "4", NULL};
    CHECK(t, resolve(scale_only, &m, 2048, &r, &st, err) == -1 && strstr(err, "mode is none"),
          "'%s'", err);
    const char *none[] = {NULL};
    strcpy(m.rope.scaling_type, "weird");
    CHECK(t, resolve(none, &m, 2048, &r, &st, err) == -1 && strstr(err, "'weird'"), "'%s'", err);
}

static char *capture(void (*print)(FILE *, const RopeConfig *, int, int), const RopeConfig *cfg,
                     int context) {
    const char *path = temp_path("capture.txt");
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    print(f, cfg, context, 0);
    fclose(f);
    return read_file(path, NULL);
}

static void test_print_settings(TestContext *t) {
    RopeConfig cfg;
    rope_config_init(&cfg, ROPE_SCALING_NONE, 8, 10000.0);
    cfg.original_context = 512;
    char *text = capture(rope_print_settings, &cfg, 2048);
    REQUIRE(t, text, "no output");
    CHECK(t, strstr(text, "mode none") && strstr(text, "without scaling (baseline)"), "%s", text);
    free(text);
    /* yarn x4: attention factor 0.1 ln 4 + 1 = 1.138629 */
    mode_config(&cfg, ROPE_SCALING_YARN);
    text = capture(rope_print_settings, &cfg, 256);
    REQUIRE(t, text, "no output");
    CHECK(t, strstr(text, "mode yarn") && strstr(text, "attention factor 1.13863") &&
          !strstr(text, "warning"), "%s", text);
    free(text);
}

static void print_json(FILE *f, const RopeConfig *cfg, int seq_len, int unused) {
    (void)unused;
    rope_print_table(f, cfg, seq_len, 1);
}
static void print_text(FILE *f, const RopeConfig *cfg, int seq_len, int unused) {
    (void)unused;
    rope_print_table(f, cfg, seq_len, 0);
}

/* linear x2, d 4, b 10000: theta = (1, 0.01) -> theta' = (0.5, 0.005), wavelengths
 * 2 pi -> 4 pi, ratio 2. */
static void test_print_table(TestContext *t) {
    RopeConfig cfg;
    double inv[2];
    rope_config_init(&cfg, ROPE_SCALING_LINEAR, 4, 10000.0);
    cfg.factor = 2;
    char *text = capture(print_json, &cfg, 100);
    REQUIRE(t, text, "no output");
    JsonValue *doc = json_parse(text);
    REQUIRE(t, doc, "not JSON: %s", text);
    const JsonValue *mode = json_get(doc, "mode");
    CHECK(t, mode && mode->kind == JSON_STRING && strcmp(mode->string, "linear") == 0, "mode");
    CHECK(t, json_number(doc, "rotary_dim", 0) == 4 && json_number(doc, "head_dim", 0) == 4,
          "dims");
    CHECK(t, json_numbers(json_get(doc, "inv_freq"), inv, 2) == 2 && inv[0] == 0.5 &&
          rel_diff(inv[1], 0.005) < 1e-15, "inv_freq %s", text);
    CHECK(t, json_number(doc, "attention_factor", 0) == 1.0, "attention factor");
    json_free(doc);
    free(text);
    text = capture(print_text, &cfg, 100);
    REQUIRE(t, text, "no output");
    CHECK(t, strstr(text, "5.000000e-01") && strstr(text, "12.5664") &&
          strstr(text, "attention factor 1"), "%s", text);
    free(text);
    cfg.base = -1;
    FILE *f = fopen(temp_path("bad.txt"), "w");
    REQUIRE(t, f, "temp file");
    CHECK(t, rope_print_table(f, &cfg, 100, 0) == -1, "invalid config printed");
    fclose(f);
}

static void test_flags_help(TestContext *t) {
    const char *path = temp_path("help.txt");
    FILE *f = fopen(path, "w");
    REQUIRE(t, f, "temp file");
    rope_flags_help(f);
    fclose(f);
    char *text = read_file(path, NULL);
    REQUIRE(t, text, "no help");
    static const char *flags[] = {"--rope-scaling", "--rope-scale", "--rope-freq-base",
        "--rope-freq-scale", "--yarn-orig-ctx", "--yarn-beta-fast", "--yarn-beta-slow",
        "--yarn-attn-factor", "--rope-low-freq-factor", "--rope-high-freq-factor", "--rope-dim",
        "--yarn-no-truncate", "--rope-long-factors", "--rope-max-pos", "--head-dim", "default 32"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        CHECK(t, strstr(text, flags[i]) != NULL, "help lacks %s", flags[i]);
    free(text);
}

static const TestCase rope_tests[] = {
    {"reference_vectors", test_reference_vectors},
    {"relative_position_invariance", test_relative_position_invariance},
    {"linear_positions_equal_frequencies", test_linear_positions_equal_frequencies},
    {"ntk_lowest_pair_matches_linear", test_ntk_lowest_pair_matches_linear},
    {"llama3_keeps_high_frequencies", test_llama3_keeps_high_frequencies},
    {"factor_one_is_plain", test_factor_one_is_plain},
    {"rotation_preserves_norms", test_rotation_preserves_norms},
    {"half_split_is_permuted_interleaved", test_half_split_is_permuted_interleaved},
    {"partial_rotary_leaves_tail", test_partial_rotary_leaves_tail},
    {"hand_rotation", test_hand_rotation},
    {"dynamic_follows_length", test_dynamic_follows_length},
    {"yarn_mscale", test_yarn_mscale},
    {"bad_values_give_errors", test_bad_values_give_errors},
    {"scaling_names", test_scaling_names},
    {"resolve_file_defaults", test_resolve_file_defaults},
    {"resolve_flags_override", test_resolve_flags_override},
    {"resolve_default_scale", test_resolve_default_scale},
    {"resolve_without_model", test_resolve_without_model},
    {"resolve_longrope_lists", test_resolve_longrope_lists},
    {"resolve_matches_stories_refs", test_resolve_matches_stories_refs},
    {"bad_flags", test_bad_flags},
    {"resolve_rejects_bad_combinations", test_resolve_rejects_bad_combinations},
    {"print_settings", test_print_settings},
    {"print_table", test_print_table},
    {"flags_help", test_flags_help},
    {NULL, NULL},
};

TEST_SUITE(rope, rope_tests)
