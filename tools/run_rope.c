/* run_rope.c — the RoPE flags of ./run: a table of flags parsed into RopeOptions, their
 * resolution against the model file's defaults into one validated RopeConfig, and the
 * printed forms (effective settings, per-pair table, JSON). Knows nothing else of ./run. */
#include "run_rope.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"

#define TWO_PI 6.283185307179586476925286766559
#define LIST_FILE_MAX (1 << 20) /* bytes read from a --rope-*-factors @FILE */

typedef enum {
    VALUE_MODE,      /* a scaling mode name */
    VALUE_POSITIVE,  /* double > 0 */
    VALUE_NONNEG,    /* double >= 0 */
    VALUE_INVERSE,   /* double > 0, stored as 1/value (--rope-freq-scale) */
    VALUE_COUNT,     /* int >= 1 */
    VALUE_SWITCH,    /* no value: sets the int field to 1 */
    VALUE_LIST       /* comma-separated doubles > 0, or @FILE */
} ValueKind;

typedef struct {
    const char *name;
    ValueKind kind;
    size_t field;     /* offset of the value (or list array) in RopeOptions */
    size_t given;     /* offset of the has_* flag (or the list's count) */
    const char *meta; /* value placeholder in the help */
    const char *help;
} RopeFlag;

#define AT(f) offsetof(RopeOptions, f)
static const RopeFlag rope_flags[] = {
    {"--rope-scaling", VALUE_MODE, AT(mode), AT(has_mode), "MODE",
     "none linear ntk dynamic yarn llama3 longrope, or self-extend (default: model's)"},
    {"--grp-attn-n", VALUE_COUNT, AT(grp_attn_n), AT(has_grp_attn_n), "G",
     "self-extend: group size (default: the least that keeps distances in the trained context)"},
    {"--grp-attn-w", VALUE_COUNT, AT(grp_attn_w), AT(has_grp_attn_w), "W",
     "self-extend: neighbour window (default: half the trained context)"},
    {"--rope-scale", VALUE_POSITIVE, AT(scale), AT(has_scale), "S",
     "factor s (default: model's, else context / original context)"},
    {"--rope-freq-scale", VALUE_INVERSE, AT(scale), AT(has_scale), "F", "the same as 1/s"},
    {"--rope-freq-base", VALUE_POSITIVE, AT(base), AT(has_base), "B",
     "theta base b (default: model's, else 10000)"},
    {"--yarn-orig-ctx", VALUE_COUNT, AT(original_context), AT(has_original_context), "L",
     "original (training) context (default: model's)"},
    {"--rope-orig-ctx", VALUE_COUNT, AT(original_context), AT(has_original_context), "L",
     "alias of --yarn-orig-ctx"},
    {"--yarn-beta-fast", VALUE_POSITIVE, AT(beta_fast), AT(has_beta_fast), "B",
     "yarn: rotations where the ramp starts (default 32)"},
    {"--yarn-beta-slow", VALUE_POSITIVE, AT(beta_slow), AT(has_beta_slow), "B",
     "yarn: rotations where the ramp ends (default 1)"},
    {"--yarn-attn-factor", VALUE_POSITIVE, AT(attention_factor), AT(has_attention_factor), "F",
     "attention factor on cos/sin, any mode (default: mode's)"},
    {"--yarn-mscale", VALUE_NONNEG, AT(mscale), AT(has_mscale), "M",
     "yarn: mscale (with --yarn-mscale-all-dim; default unset)"},
    {"--yarn-mscale-all-dim", VALUE_NONNEG, AT(mscale_all_dim), AT(has_mscale_all_dim), "M",
     "yarn: mscale_all_dim (default unset)"},
    {"--yarn-no-truncate", VALUE_SWITCH, AT(no_truncate), AT(no_truncate), NULL,
     "yarn: do not floor/ceil the correction range (HF truncate=False)"},
    {"--rope-low-freq-factor", VALUE_POSITIVE, AT(low_freq_factor), AT(has_low_freq_factor), "F",
     "llama3: low_freq_factor (default 1)"},
    {"--rope-high-freq-factor", VALUE_POSITIVE, AT(high_freq_factor), AT(has_high_freq_factor),
     "F", "llama3: high_freq_factor (default 4)"},
    {"--rope-long-factors", VALUE_LIST, AT(long_factors), AT(n_long_factors), "a,b,..|@FILE",
     "longrope: per-pair factors past the original context"},
    {"--rope-short-factors", VALUE_LIST, AT(short_factors), AT(n_short_factors), "a,b,..|@FILE",
     "longrope: per-pair factors up to the original context"},
    {"--rope-max-pos", VALUE_COUNT, AT(max_position), AT(has_max_position), "N",
     "longrope: extended length, s = N/L (default: model's or context)"},
    {"--rope-dim", VALUE_COUNT, AT(rotary_dim), AT(has_rotary_dim), "R",
     "rotary dimensions per head (default: model's)"},
    {"--rope-seq-len", VALUE_COUNT, AT(seq_len), AT(has_seq_len), "N",
     "current length for --print-rope (default: the context)"},
    {"--head-dim", VALUE_COUNT, AT(head_dim), AT(has_head_dim), "D",
     "head dimension when there is no model"},
};
#undef AT
#define N_ROPE_FLAGS (int)(sizeof rope_flags / sizeof rope_flags[0])

/* ---- parsing ------------------------------------------------------------------------ */

static int parse_double(const char *flag, const char *text, double *value, char *err, size_t n) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v))
        return fail(err, n, "%s: '%s' is not a number", flag, text);
    *value = v;
    return 0;
}

static int parse_count(const char *flag, const char *text, int *value, char *err, size_t n) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0')
        return fail(err, n, "%s: '%s' is not a whole number", flag, text);
    if (v < 1) return fail(err, n, "%s: must be at least 1, got %s", flag, text);
    if (errno == ERANGE || v > INT_MAX) return fail(err, n, "%s: %s is too large", flag, text);
    *value = (int)v;
    return 0;
}

/* Splits text on commas and white space into up to ROPE_MAX_PAIRS positive numbers. */
static int parse_list_text(const char *flag, char *text, double *list, int *count, char *err,
                           size_t n) {
    int k = 0;
    for (char *save = NULL, *tok = strtok_r(text, ", \t\r\n", &save); tok;
         tok = strtok_r(NULL, ", \t\r\n", &save)) {
        if (k == ROPE_MAX_PAIRS)
            return fail(err, n, "%s: more than %d values", flag, ROPE_MAX_PAIRS);
        if (parse_double(flag, tok, &list[k], err, n)) return -1;
        if (!(list[k] > 0.0))
            return fail(err, n, "%s: value %d is %s; must be positive", flag, k, tok);
        k++;
    }
    if (k == 0) return fail(err, n, "%s: empty list", flag);
    *count = k;
    return 0;
}

/* Reads @FILE (when value starts with '@') or copies value, then parses the list. */
static int parse_list(const char *flag, const char *value, double *list, int *count, char *err,
                      size_t n) {
    char *text = NULL;
    if (value[0] == '@') {
        FILE *f = fopen(value + 1, "rb");
        if (!f) return fail(err, n, "%s: cannot open '%s': %s", flag, value + 1, strerror(errno));
        text = malloc(LIST_FILE_MAX + 1);
        size_t got = text ? fread(text, 1, LIST_FILE_MAX + 1, f) : 0;
        int bad = ferror(f) || got > LIST_FILE_MAX;
        fclose(f);
        if (!text) return fail(err, n, "%s: out of memory", flag);
        if (bad) {
            free(text);
            return fail(err, n, "%s: cannot read '%s' (or over 1 MiB)", flag, value + 1);
        }
        text[got] = '\0';
    } else {
        text = strdup(value);
        if (!text) return fail(err, n, "%s: out of memory", flag);
    }
    int rc = parse_list_text(flag, text, list, count, err, n);
    free(text);
    return rc;
}

static int parse_value(RopeOptions *o, const RopeFlag *f, const char *v, char *err, size_t n) {
    char *base = (char *)o;
    double x;
    switch (f->kind) {
    case VALUE_MODE:
        if (strcmp(v, "self-extend") == 0) { /* positions, not frequencies: the file's stay */
            o->self_extend = 1;
            return 1;
        }
        if (rope_scaling_from_name(v, (RopeScaling *)(base + f->field)) == 0) return 0;
        return fail(err, n, "%s: unknown mode '%s' (none, linear, ntk, dynamic, yarn, llama3, "
                    "longrope, self-extend)", f->name, v);
    case VALUE_COUNT: return parse_count(f->name, v, (int *)(base + f->field), err, n);
    case VALUE_LIST:
        return parse_list(f->name, v, (double *)(base + f->field), (int *)(base + f->given),
                          err, n);
    default: break;
    }
    if (parse_double(f->name, v, &x, err, n)) return -1;
    if (f->kind == VALUE_NONNEG && x < 0.0)
        return fail(err, n, "%s: must not be negative, got %s", f->name, v);
    if (f->kind != VALUE_NONNEG && !(x > 0.0))
        return fail(err, n, "%s: must be positive, got %s", f->name, v);
    *(double *)(base + f->field) = f->kind == VALUE_INVERSE ? 1.0 / x : x;
    return 0;
}

int rope_flag_parse(RopeOptions *o, int argc, char **argv, int *i, char *err, size_t err_size) {
    const char *arg = argv[*i];
    for (int k = 0; k < N_ROPE_FLAGS; k++) {
        const RopeFlag *f = &rope_flags[k];
        if (strcmp(arg, f->name) != 0) continue;
        if (f->kind == VALUE_SWITCH) { *(int *)((char *)o + f->field) = 1; return 1; }
        if (*i + 1 >= argc) return fail(err, err_size, "%s: missing value (%s)", f->name, f->meta);
        int rc = parse_value(o, f, argv[*i + 1], err, err_size);
        if (rc < 0) return -1;
        if (rc == 0 && f->kind != VALUE_LIST) *(int *)((char *)o + f->given) = 1;
        *i += 1;
        return 1;
    }
    return 0;
}

void rope_flags_help(FILE *out) {
    fprintf(out, "RoPE (model file settings are the defaults; flags override):\n");
    for (int k = 0; k < N_ROPE_FLAGS; k++) {
        char left[64];
        const RopeFlag *f = &rope_flags[k];
        snprintf(left, sizeof left, "%s%s%s", f->name, f->meta ? " " : "", f->meta ? f->meta : "");
        fprintf(out, "  %-34s %s\n", left, f->help);
    }
}

/* ---- resolution --------------------------------------------------------------------- */

static int resolve_shape(const RopeOptions *o, const Config *model, RopeConfig *out, char *err,
                         size_t n) {
    if (!model && !o->has_head_dim)
        return fail(err, n, "rope: without a model, --head-dim is required");
    if (model && o->has_head_dim && o->head_dim != model->head_dim)
        return fail(err, n, "--head-dim %d disagrees with the model's head dimension %d",
                    o->head_dim, model->head_dim);
    out->head_dim = model ? model->head_dim : o->head_dim;
    out->rotary_dim = model && model->rotary_dim > 0 ? model->rotary_dim : out->head_dim;
    if (o->has_rotary_dim) out->rotary_dim = o->rotary_dim;
    return 0;
}

static int resolve_mode(const RopeOptions *o, const Config *model, RopeScaling *mode, char *err,
                        size_t n) {
    *mode = ROPE_SCALING_NONE;
    if (model && model->rope.scaling_type[0] &&
        rope_scaling_from_name(model->rope.scaling_type, mode) != 0)
        return fail(err, n, "model file: unknown rope scaling type '%.16s'",
                    model->rope.scaling_type);
    if (o->has_mode) *mode = o->mode;
    return 0;
}

/* Copies a per-pair float list of the file (rotary_dim/2 values) into double storage. */
static const double *copy_file_list(const float *list, int pairs, double *storage) {
    if (!list) return NULL;
    for (int k = 0; k < pairs; k++) storage[k] = list[k];
    return storage;
}

static int apply_file_settings(const Config *model, RopeConfig *out, RopeFactorStorage *st,
                               char *err, size_t n) {
    const RopeFileSettings *r = &model->rope;
    int file_pairs = (model->rotary_dim > 0 ? model->rotary_dim : model->head_dim) / 2;
    int has_lists = r->freq_factors || r->long_factors || r->short_factors;
    if (has_lists && file_pairs != out->rotary_dim / 2)
        return fail(err, n, "--rope-dim %d: the model's per-pair RoPE factors have %d entries",
                    out->rotary_dim, file_pairs);
    out->original_context = r->original_context > 0 ? r->original_context : model->context_length;
    if (r->scaling_factor > 0) out->factor = r->scaling_factor;
    if (r->attn_factor > 0) out->attention_factor = r->attn_factor;
    if (r->low_freq_factor > 0) out->low_freq_factor = r->low_freq_factor;
    if (r->high_freq_factor > 0) out->high_freq_factor = r->high_freq_factor;
    if (r->beta_fast > 0) out->beta_fast = r->beta_fast;
    if (r->beta_slow > 0) out->beta_slow = r->beta_slow;
    out->freq_factors = copy_file_list(r->freq_factors, file_pairs, st->freq_factors);
    out->long_factors = copy_file_list(r->long_factors, file_pairs, st->long_factors);
    out->short_factors = copy_file_list(r->short_factors, file_pairs, st->short_factors);
    return 0;
}

static int apply_flag_list(const char *flag, const double *list, int count, int pairs,
                           double *storage, const double **target, char *err, size_t n) {
    if (count == 0) return 0;
    if (count != pairs)
        return fail(err, n, "%s has %d values; rotary_dim %d needs %d", flag, count, 2 * pairs,
                    pairs);
    memcpy(storage, list, (size_t)count * sizeof *list);
    *target = storage;
    return 0;
}

static int apply_flags(const RopeOptions *o, RopeConfig *out, RopeFactorStorage *st, char *err,
                       size_t n) {
    int pairs = out->rotary_dim / 2;
    if (o->has_scale) out->factor = o->scale;
    if (o->has_original_context) out->original_context = o->original_context;
    if (o->has_beta_fast) out->beta_fast = o->beta_fast;
    if (o->has_beta_slow) out->beta_slow = o->beta_slow;
    if (o->has_attention_factor) out->attention_factor = o->attention_factor;
    if (o->has_low_freq_factor) out->low_freq_factor = o->low_freq_factor;
    if (o->has_high_freq_factor) out->high_freq_factor = o->high_freq_factor;
    if (o->has_mscale) out->mscale = o->mscale;
    if (o->has_mscale_all_dim) out->mscale_all_dim = o->mscale_all_dim;
    if (o->no_truncate) out->truncate = 0;
    if (o->has_max_position) out->max_position = o->max_position;
    if (apply_flag_list("--rope-long-factors", o->long_factors, o->n_long_factors, pairs,
                        st->long_factors, &out->long_factors, err, n))
        return -1;
    return apply_flag_list("--rope-short-factors", o->short_factors, o->n_short_factors, pairs,
                           st->short_factors, &out->short_factors, err, n);
}

/* Defaults that depend on the context: s = context/L for a scaling mode without a factor,
 * longrope's extended length. */
static void apply_context_defaults(const RopeOptions *o, const Config *model, int context,
                                   RopeConfig *out) {
    int L = out->original_context;
    int explicit_factor = o->has_scale || (model && model->rope.scaling_factor > 0);
    if (out->mode != ROPE_SCALING_NONE && !explicit_factor && L > 0 && context > L)
        out->factor = (double)context / L;
    if (out->mode != ROPE_SCALING_LONGROPE || L <= 0) return;
    if (out->max_position <= 0) {
        if (model && model->context_length > L) out->max_position = model->context_length;
        else if (explicit_factor) out->max_position = (int)lround(out->factor * L);
        else out->max_position = context > L ? context : L;
    }
    out->factor = (double)out->max_position / L;
}

static int check_combinations(const RopeOptions *o, const RopeConfig *out, char *err, size_t n) {
    const char *mode = rope_scaling_name(out->mode);
    if (out->mode == ROPE_SCALING_NONE && o->has_scale)
        return fail(err, n, "rope: a scale was given but the scaling mode is none; "
                    "add --rope-scaling linear (or ntk, yarn, ...)");
    if (out->mode != ROPE_SCALING_NONE && out->mode != ROPE_SCALING_LINEAR &&
        out->mode != ROPE_SCALING_NTK && out->original_context <= 0)
        return fail(err, n, "rope: %s scaling needs the original context: give --yarn-orig-ctx",
                    mode);
    if (out->mode == ROPE_SCALING_LONGROPE && (!out->long_factors || !out->short_factors))
        return fail(err, n, "rope: longrope needs --rope-long-factors and --rope-short-factors "
                    "(%d values each) when the model has none", out->rotary_dim / 2);
    return 0;
}

int rope_options_resolve(const RopeOptions *o, const Config *model_config, int context,
                         RopeConfig *out, RopeFactorStorage *storage, char *err, size_t err_size) {
    RopeScaling mode;
    if (context <= 0) return fail(err, err_size, "rope: context must be positive, got %d", context);
    double base = model_config && model_config->rope.freq_base > 0 ? model_config->rope.freq_base
                                                                   : 10000.0;
    if (o->has_base) base = o->base;
    if (resolve_mode(o, model_config, &mode, err, err_size)) return -1;
    rope_config_init(out, mode, 0, base);
    if (resolve_shape(o, model_config, out, err, err_size)) return -1;
    if (out->rotary_dim <= 0 || out->rotary_dim / 2 > ROPE_MAX_PAIRS || out->rotary_dim % 2)
        return rope_config_validate(out, err, err_size); /* shape message before any copy */
    if (model_config && apply_file_settings(model_config, out, storage, err, err_size)) return -1;
    /* A file's rope_freqs.weight is its scaling (llama.cpp bakes llama3's into it); a mode
     * named on the command line replaces it: never both at once. */
    storage->file_divisors_replaced = o->has_mode && out->freq_factors;
    if (o->has_mode) out->freq_factors = NULL;
    if (apply_flags(o, out, storage, err, err_size)) return -1;
    apply_context_defaults(o, model_config, context, out);
    if (check_combinations(o, out, err, err_size)) return -1;
    return rope_config_validate(out, err, err_size);
}

/* ---- printing ----------------------------------------------------------------------- */

static void print_mode_details(FILE *out, const RopeConfig *cfg, int context) {
    switch (cfg->mode) {
    case ROPE_SCALING_YARN:
        fprintf(out, "rope: yarn beta_fast %g, beta_slow %g, truncate %s", cfg->beta_fast,
                cfg->beta_slow, cfg->truncate ? "on" : "off");
        if (cfg->mscale > 0 && cfg->mscale_all_dim > 0)
            fprintf(out, ", mscale %g, mscale_all_dim %g", cfg->mscale, cfg->mscale_all_dim);
        fprintf(out, "\n");
        break;
    case ROPE_SCALING_LLAMA3:
        fprintf(out, "rope: llama3 low_freq_factor %g, high_freq_factor %g\n",
                cfg->low_freq_factor, cfg->high_freq_factor);
        break;
    case ROPE_SCALING_LONGROPE:
        fprintf(out, "rope: longrope max_position %d; %s factors at context %d\n",
                cfg->max_position, context > cfg->original_context ? "long" : "short", context);
        break;
    case ROPE_SCALING_DYNAMIC:
        fprintf(out, "rope: dynamic: frequencies follow the current length (plain up to %d)\n",
                cfg->original_context);
        break;
    default: break;
    }
}

void rope_print_settings(FILE *out, const RopeConfig *cfg, int context, int positions_grouped) {
    char err[ERR_LEN];
    double inv_freq[ROPE_MAX_PAIRS];
    if (rope_config_validate(cfg, err, sizeof err)) { fprintf(out, "%s\n", err); return; }
    double af = rope_inv_freq(cfg, context, inv_freq);
    fprintf(out, "rope: mode %s, factor %g, base %g, rotary dim %d of head dim %d\n",
            rope_scaling_name(cfg->mode), cfg->mode == ROPE_SCALING_NONE ? 1.0 : cfg->factor,
            cfg->base, cfg->rotary_dim, cfg->head_dim);
    fprintf(out, "rope: context %d, original context %d\n", context, cfg->original_context);
    print_mode_details(out, cfg, context);
    if (cfg->freq_factors) fprintf(out, "rope: per-pair frequency divisors from the model file\n");
    fprintf(out, "rope: attention factor %.6g (q.k scaled by %.6g)\n", af, af * af);
    int past_training = cfg->original_context > 0 && context > cfg->original_context;
    if (cfg->mode == ROPE_SCALING_NONE && past_training && !positions_grouped)
        fprintf(out, "rope: warning: context %d > original context %d: running past the training "
                "context without scaling (baseline)\n", context, cfg->original_context);
}

static void print_table_json(FILE *out, const RopeConfig *cfg, int seq_len, const double *scaled,
                             double af) {
    fprintf(out, "{\"mode\":\"%s\",\"head_dim\":%d,\"rotary_dim\":%d,\"base\":%.17g,"
            "\"factor\":%.17g,\"original_context\":%d,\"seq_len\":%d,\"inv_freq\":[",
            rope_scaling_name(cfg->mode), cfg->head_dim, cfg->rotary_dim, cfg->base, cfg->factor,
            cfg->original_context, seq_len);
    for (int k = 0; k < cfg->rotary_dim / 2; k++) fprintf(out, "%s%.17g", k ? "," : "", scaled[k]);
    fprintf(out, "],\"attention_factor\":%.17g}\n", af);
}

static void print_table_text(FILE *out, const RopeConfig *cfg, int seq_len, const double *plain,
                             const double *scaled, double af) {
    fprintf(out, "# rope %s: head_dim %d, rotary_dim %d, base %g, factor %g, original context %d, "
            "seq_len %d\n", rope_scaling_name(cfg->mode), cfg->head_dim, cfg->rotary_dim,
            cfg->base, cfg->factor, cfg->original_context, seq_len);
    fprintf(out, "# %4s %14s %14s %14s %14s %10s\n", "pair", "theta", "theta'", "wavelength",
            "wavelength'", "ratio");
    for (int k = 0; k < cfg->rotary_dim / 2; k++)
        fprintf(out, "  %4d %14.6e %14.6e %14.6g %14.6g %10.6g\n", k, plain[k], scaled[k],
                TWO_PI / plain[k], TWO_PI / scaled[k], plain[k] / scaled[k]);
    fprintf(out, "# attention factor %.9g (q.k scaled by %.9g)\n", af, af * af);
}

int rope_print_table(FILE *out, const RopeConfig *cfg, int seq_len, int json) {
    double plain[ROPE_MAX_PAIRS], scaled[ROPE_MAX_PAIRS];
    if (rope_config_validate(cfg, NULL, 0)) return -1;
    RopeConfig unscaled = *cfg;
    unscaled.mode = ROPE_SCALING_NONE;
    unscaled.freq_factors = NULL;
    unscaled.attention_factor = 0.0;
    rope_inv_freq(&unscaled, seq_len, plain);
    double af = rope_inv_freq(cfg, seq_len, scaled);
    if (json) print_table_json(out, cfg, seq_len, scaled, af);
    else print_table_text(out, cfg, seq_len, plain, scaled, af);
    return ferror(out) ? -1 : 0;
}
