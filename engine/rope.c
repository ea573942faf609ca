/* rope.c — rotary position embeddings: one function per scaling mode from (base
 * frequencies, parameters, current length) to the per-pair inverse frequencies theta'_k
 * and the attention factor, all in double with HF transformers' modeling_rope_utils.py
 * semantics; the cos/sin table of one position; the rotation in both pair layouts.
 *
 * Decisions the header leaves open:
 * - factor: > 0 for linear (s < 1 compresses positions, which is meaningful); >= 1 for
 *   ntk, dynamic, yarn, llama3 and longrope, whose formulas assume an extension. Unused
 *   (and unchecked) for none.
 * - base must be > 1 (yarn divides by ln b; b <= 1 reverses or flattens the spectrum).
 * - an explicit attention_factor > 0 wins in every mode (HF honours it for yarn and
 *   longrope only; the others are 1 there); 0 means the mode's default.
 * - seq_len <= 0 means "unknown": dynamic then behaves as at the original length (plain
 *   RoPE) and longrope picks its long factors when max_position > original_context (HF's
 *   behaviour at initialisation).
 * - freq_factors (llama.cpp rope_freqs.weight) divide theta'_k after the mode. */
#include "rope.h"

#include <math.h>
#include <string.h>
#include <strings.h>

#include "../util/errors.h"

#define ROPE_TWO_PI 6.283185307179586476925286766559

static const char *const scaling_names[ROPE_SCALING_COUNT] = {
    "none", "linear", "ntk", "dynamic", "yarn", "llama3", "longrope"};

const char *rope_scaling_name(RopeScaling mode) {
    int m = (int)mode;
    return (m >= 0 && m < ROPE_SCALING_COUNT) ? scaling_names[m] : "unknown";
}

int rope_scaling_from_name(const char *name, RopeScaling *mode) {
    static const struct { const char *name; RopeScaling mode; } aliases[] = {
        {"default", ROPE_SCALING_NONE},  /* HF rope_type */
        {"su", ROPE_SCALING_LONGROPE},   /* early Phi-3 configs */
        {"llama-3", ROPE_SCALING_LLAMA3},
    };
    if (!name || !mode) return -1;
    for (int m = 0; m < ROPE_SCALING_COUNT; m++)
        if (strcasecmp(name, scaling_names[m]) == 0) { *mode = (RopeScaling)m; return 0; }
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].name) == 0) { *mode = aliases[i].mode; return 0; }
    return -1;
}

void rope_config_init(RopeConfig *cfg, RopeScaling mode, int head_dim, double base) {
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = mode;
    cfg->head_dim = head_dim;
    cfg->rotary_dim = head_dim;
    cfg->base = base;
    cfg->factor = 1.0;
    cfg->beta_fast = 32.0;
    cfg->beta_slow = 1.0;
    cfg->truncate = 1;
    cfg->low_freq_factor = 1.0;
    cfg->high_freq_factor = 4.0;
}

int rope_depends_on_length(const RopeConfig *cfg) {
    return cfg->mode == ROPE_SCALING_DYNAMIC || cfg->mode == ROPE_SCALING_LONGROPE;
}

/* ---- validation ---------------------------------------------------------------------- */

static int needs_original_context(RopeScaling mode) {
    return mode == ROPE_SCALING_DYNAMIC || mode == ROPE_SCALING_YARN ||
           mode == ROPE_SCALING_LLAMA3 || mode == ROPE_SCALING_LONGROPE;
}

/* longrope's s: the extended over the original length, or the factor when no length. */
static double longrope_scale(const RopeConfig *cfg) {
    if (cfg->max_position > 0 && cfg->original_context > 0)
        return (double)cfg->max_position / cfg->original_context;
    return cfg->factor;
}

static int validate_shape(const RopeConfig *cfg, char *err, size_t n) {
    int m = (int)cfg->mode;
    if (m < 0 || m >= ROPE_SCALING_COUNT) return fail(err, n, "rope: unknown scaling mode %d", m);
    if (cfg->head_dim <= 0)
        return fail(err, n, "rope: head_dim must be positive, got %d", cfg->head_dim);
    if (cfg->rotary_dim <= 0)
        return fail(err, n, "rope: rotary_dim must be positive, got %d", cfg->rotary_dim);
    if (cfg->rotary_dim % 2)
        return fail(err, n, "rope: rotary_dim %d must be even (dimensions rotate in pairs)",
                    cfg->rotary_dim);
    if (cfg->rotary_dim > cfg->head_dim)
        return fail(err, n, "rope: rotary_dim %d exceeds head_dim %d", cfg->rotary_dim,
                    cfg->head_dim);
    if (cfg->rotary_dim / 2 > ROPE_MAX_PAIRS)
        return fail(err, n, "rope: rotary_dim %d exceeds the limit of %d", cfg->rotary_dim,
                    2 * ROPE_MAX_PAIRS);
    if (!(cfg->base > 1.0) || !isfinite(cfg->base))
        return fail(err, n, "rope: base (rope_theta) must be a finite number > 1, got %g",
                    cfg->base);
    if (!(cfg->attention_factor >= 0.0) || !isfinite(cfg->attention_factor))
        return fail(err, n, "rope: attention_factor must be >= 0 (0 = the mode's default), got %g",
                    cfg->attention_factor);
    return 0;
}

static int validate_factor(const RopeConfig *cfg, char *err, size_t n) {
    const char *name = rope_scaling_name(cfg->mode);
    if (cfg->mode == ROPE_SCALING_NONE) return 0;
    if (!(cfg->factor > 0.0) || !isfinite(cfg->factor))
        return fail(err, n, "rope: %s scaling factor must be a positive number, got %g", name,
                    cfg->factor);
    if (cfg->mode != ROPE_SCALING_LINEAR && cfg->mode != ROPE_SCALING_LONGROPE &&
        cfg->factor < 1.0)
        return fail(err, n, "rope: %s scaling factor must be >= 1 (it extends the context), "
                    "got %g; linear accepts factors below 1", name, cfg->factor);
    if (needs_original_context(cfg->mode) && cfg->original_context <= 0)
        return fail(err, n, "rope: %s scaling needs the original (training) context > 0, got %d",
                    name, cfg->original_context);
    if ((cfg->mode == ROPE_SCALING_NTK || cfg->mode == ROPE_SCALING_DYNAMIC) && cfg->rotary_dim < 4)
        return fail(err, n, "rope: %s scaling needs rotary_dim >= 4 (exponent d/(d-2)), got %d",
                    name, cfg->rotary_dim);
    return 0;
}

static int validate_yarn(const RopeConfig *cfg, char *err, size_t n) {
    if (!(cfg->beta_slow > 0.0) || !(cfg->beta_fast > cfg->beta_slow) || !isfinite(cfg->beta_fast))
        return fail(err, n, "rope: yarn needs beta_fast > beta_slow > 0, got beta_fast %g, "
                    "beta_slow %g", cfg->beta_fast, cfg->beta_slow);
    if (!(cfg->mscale >= 0.0) || !(cfg->mscale_all_dim >= 0.0) || !isfinite(cfg->mscale) ||
        !isfinite(cfg->mscale_all_dim))
        return fail(err, n, "rope: yarn mscale and mscale_all_dim must be >= 0 (0 = unset), "
                    "got %g and %g", cfg->mscale, cfg->mscale_all_dim);
    return 0;
}

static int validate_llama3(const RopeConfig *cfg, char *err, size_t n) {
    if (!(cfg->low_freq_factor > 0.0) || !(cfg->high_freq_factor > cfg->low_freq_factor) ||
        !isfinite(cfg->high_freq_factor))
        return fail(err, n, "rope: llama3 needs 0 < low_freq_factor < high_freq_factor, got "
                    "low %g, high %g", cfg->low_freq_factor, cfg->high_freq_factor);
    return 0;
}

/* Every value of a per-pair list must be a positive finite number. */
static int validate_list(const double *list, int n_pairs, const char *what, char *err, size_t n) {
    for (int k = 0; k < n_pairs; k++)
        if (!(list[k] > 0.0) || !isfinite(list[k]))
            return fail(err, n, "rope: %s[%d] is %g; per-pair factors must be positive", what, k,
                        list[k]);
    return 0;
}

static int validate_longrope(const RopeConfig *cfg, char *err, size_t n) {
    int pairs = cfg->rotary_dim / 2;
    if (!cfg->long_factors || !cfg->short_factors)
        return fail(err, n, "rope: longrope needs both long and short factor lists "
                    "(rotary_dim/2 = %d values each)", pairs);
    if (cfg->original_context < 2)
        return fail(err, n, "rope: longrope needs an original context >= 2 (its attention "
                    "factor divides by ln L), got %d", cfg->original_context);
    double s = longrope_scale(cfg);
    if (!(s >= 1.0) || !isfinite(s))
        return fail(err, n, "rope: longrope needs max_position (%d) >= original context (%d)",
                    cfg->max_position, cfg->original_context);
    if (validate_list(cfg->long_factors, pairs, "long_factors", err, n)) return -1;
    return validate_list(cfg->short_factors, pairs, "short_factors", err, n);
}

int rope_config_validate(const RopeConfig *cfg, char *err, size_t err_size) {
    if (!cfg) return fail(err, err_size, "rope: no configuration");
    if (validate_shape(cfg, err, err_size) || validate_factor(cfg, err, err_size)) return -1;
    if (cfg->mode == ROPE_SCALING_YARN && validate_yarn(cfg, err, err_size)) return -1;
    if (cfg->mode == ROPE_SCALING_LLAMA3 && validate_llama3(cfg, err, err_size)) return -1;
    if (cfg->mode == ROPE_SCALING_LONGROPE && validate_longrope(cfg, err, err_size)) return -1;
    if (cfg->freq_factors &&
        validate_list(cfg->freq_factors, cfg->rotary_dim / 2, "freq_factors", err, err_size))
        return -1;
    return 0;
}

/* ---- the modes --------------------------------------------------------------------- */

/* theta_k = b^(-2k/d) for k < d/2 */
static void plain_inv_freq(int d, double base, double *inv_freq) {
    for (int k = 0; k < d / 2; k++) inv_freq[k] = pow(base, -2.0 * k / d);
}

static double linear_inv_freq(const RopeConfig *cfg, double *inv_freq) {
    plain_inv_freq(cfg->rotary_dim, cfg->base, inv_freq);
    for (int k = 0; k < cfg->rotary_dim / 2; k++) inv_freq[k] /= cfg->factor;
    return 1.0;
}

/* b' = b s^(d/(d-2)): the lowest pair then turns exactly as under linear interpolation. */
static double ntk_inv_freq(const RopeConfig *cfg, double *inv_freq) {
    double d = cfg->rotary_dim;
    plain_inv_freq(cfg->rotary_dim, cfg->base * pow(cfg->factor, d / (d - 2.0)), inv_freq);
    return 1.0;
}

/* HF: n = max(seq_len, L); b' = b ((s n / L) - (s - 1))^(d/(d-2)); plain RoPE up to L. */
static double dynamic_inv_freq(const RopeConfig *cfg, int seq_len, double *inv_freq) {
    double d = cfg->rotary_dim, s = cfg->factor, L = cfg->original_context;
    double len = seq_len > cfg->original_context ? seq_len : L;
    double base = cfg->base * pow(s * len / L - (s - 1.0), d / (d - 2.0));
    plain_inv_freq(cfg->rotary_dim, base, inv_freq);
    return 1.0;
}

/* YaRN's pair index at which a wavelength makes `rotations` turns over L. */
static double yarn_correction_dim(double rotations, int d, double base, int L) {
    return d * log(L / (rotations * ROPE_TWO_PI)) / (2.0 * log(base));
}

/* 0.1 * mscale * ln s + 1 for s > 1, else 1 (HF get_mscale). */
static double yarn_get_mscale(double s, double mscale) {
    return s <= 1.0 ? 1.0 : 0.1 * mscale * log(s) + 1.0;
}

static double yarn_attention_factor(const RopeConfig *cfg) {
    if (cfg->mscale > 0.0 && cfg->mscale_all_dim > 0.0)
        return yarn_get_mscale(cfg->factor, cfg->mscale) /
               yarn_get_mscale(cfg->factor, cfg->mscale_all_dim);
    return yarn_get_mscale(cfg->factor, 1.0);
}

/* NTK-by-parts: theta/s below pair `low`, theta above `high`, a linear ramp between. */
static double yarn_inv_freq(const RopeConfig *cfg, double *inv_freq) {
    int d = cfg->rotary_dim;
    double low = yarn_correction_dim(cfg->beta_fast, d, cfg->base, cfg->original_context);
    double high = yarn_correction_dim(cfg->beta_slow, d, cfg->base, cfg->original_context);
    if (cfg->truncate) { low = floor(low); high = ceil(high); }
    low = fmax(low, 0.0);
    high = fmin(high, d - 1.0);
    if (low == high) high += 0.001; /* HF: avoid a zero-width ramp */
    plain_inv_freq(d, cfg->base, inv_freq);
    for (int k = 0; k < d / 2; k++) {
        double ramp = fmin(fmax((k - low) / (high - low), 0.0), 1.0);
        double keep = 1.0 - ramp; /* HF's inv_freq_extrapolation_factor */
        inv_freq[k] = inv_freq[k] / cfg->factor * (1.0 - keep) + inv_freq[k] * keep;
    }
    return yarn_attention_factor(cfg);
}

/* Llama 3.1: keep short wavelengths, divide long ones by s, blend in between. */
static double llama3_inv_freq(const RopeConfig *cfg, double *inv_freq) {
    double L = cfg->original_context, s = cfg->factor;
    double low = cfg->low_freq_factor, high = cfg->high_freq_factor;
    plain_inv_freq(cfg->rotary_dim, cfg->base, inv_freq);
    for (int k = 0; k < cfg->rotary_dim / 2; k++) {
        double wavelength = ROPE_TWO_PI / inv_freq[k];
        if (wavelength < L / high) continue;
        if (wavelength > L / low) { inv_freq[k] /= s; continue; }
        double smooth = (L / wavelength - low) / (high - low);
        inv_freq[k] = (1.0 - smooth) * inv_freq[k] / s + smooth * inv_freq[k];
    }
    return 1.0;
}

/* LongRoPE: theta_k / f_k, short factors up to L and long ones past it. */
static double longrope_inv_freq(const RopeConfig *cfg, int seq_len, double *inv_freq) {
    double s = longrope_scale(cfg);
    int use_long = seq_len > 0 ? seq_len > cfg->original_context : s > 1.0;
    const double *f = use_long ? cfg->long_factors : cfg->short_factors;
    plain_inv_freq(cfg->rotary_dim, cfg->base, inv_freq);
    for (int k = 0; k < cfg->rotary_dim / 2; k++) inv_freq[k] /= f[k];
    return s <= 1.0 ? 1.0 : sqrt(1.0 + log(s) / log((double)cfg->original_context));
}

static double mode_inv_freq(const RopeConfig *cfg, int seq_len, double *inv_freq) {
    switch (cfg->mode) {
    case ROPE_SCALING_LINEAR: return linear_inv_freq(cfg, inv_freq);
    case ROPE_SCALING_NTK: return ntk_inv_freq(cfg, inv_freq);
    case ROPE_SCALING_DYNAMIC: return dynamic_inv_freq(cfg, seq_len, inv_freq);
    case ROPE_SCALING_YARN: return yarn_inv_freq(cfg, inv_freq);
    case ROPE_SCALING_LLAMA3: return llama3_inv_freq(cfg, inv_freq);
    case ROPE_SCALING_LONGROPE: return longrope_inv_freq(cfg, seq_len, inv_freq);
    default: plain_inv_freq(cfg->rotary_dim, cfg->base, inv_freq); return 1.0;
    }
}

/* An invalid configuration yields NaN (never a crash): validate first to get a message. */
double rope_inv_freq(const RopeConfig *cfg, int seq_len, double *inv_freq) {
    if (rope_config_validate(cfg, NULL, 0) != 0) {
        int pairs = cfg ? cfg->rotary_dim / 2 : 0;
        for (int k = 0; k < pairs && k < ROPE_MAX_PAIRS; k++) inv_freq[k] = NAN;
        return NAN;
    }
    double attention = mode_inv_freq(cfg, seq_len, inv_freq);
    if (cfg->freq_factors)
        for (int k = 0; k < cfg->rotary_dim / 2; k++) inv_freq[k] /= cfg->freq_factors[k];
    return cfg->attention_factor > 0.0 ? cfg->attention_factor : attention;
}

/* ---- the rotation ------------------------------------------------------------------ */

void rope_cos_sin(const double *inv_freq, int n_pairs, double attention_factor, double position,
                  float *cos_sin) {
    for (int k = 0; k < n_pairs; k++) {
        double angle = position * inv_freq[k];
        cos_sin[2 * k] = (float)(attention_factor * cos(angle));
        cos_sin[2 * k + 1] = (float)(attention_factor * sin(angle));
    }
}

void rope_rotate(float *x, int n_heads, int head_dim, int rotary_dim, RopeLayout layout,
                 const float *cos_sin) {
    int n_pairs = rotary_dim / 2;
    int half = layout == ROPE_LAYOUT_HALF_SPLIT;
    for (int h = 0; h < n_heads; h++) {
        float *head = x + (size_t)h * (size_t)head_dim;
        for (int k = 0; k < n_pairs; k++) {
            float *a = half ? &head[k] : &head[2 * k];
            float *b = half ? &head[k + n_pairs] : &head[2 * k + 1];
            float c = cos_sin[2 * k], s = cos_sin[2 * k + 1];
            float x0 = *a, x1 = *b;
            *a = x0 * c - x1 * s;
            *b = x0 * s + x1 * c;
        }
    }
}

void rope_rotate_to(const RopeConfig *cfg, RopeLayout layout, int seq_len, double position,
                    const float *x, float *out) {
    double inv_freq[ROPE_MAX_PAIRS];
    float cos_sin[2 * ROPE_MAX_PAIRS];
    double factor = rope_inv_freq(cfg, seq_len, inv_freq);
    rope_cos_sin(inv_freq, cfg->rotary_dim / 2, factor, position, cos_sin);
    memcpy(out, x, (size_t)cfg->head_dim * sizeof *x);
    rope_rotate(out, 1, cfg->head_dim, cfg->rotary_dim, layout, cos_sin);
}
