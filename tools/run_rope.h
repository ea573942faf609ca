/* run_rope.h — the command-line side of RoPE for ./run: parsing the RoPE flags (llama.cpp
 * names where llama.cpp has them, HF names otherwise), resolving them against the defaults
 * a model file carries into one validated RopeConfig, and printing the effective settings
 * and the per-pair frequency table (--print-rope). */
#ifndef ROPEWALK_RUN_ROPE_H
#define ROPEWALK_RUN_ROPE_H

#include <stddef.h>
#include <stdio.h>

#include "../engine/rope.h"
#include "../models/model.h"

/* The RoPE flags as given; has_* says which ones were. Zero-initialise before parsing:
 * RopeOptions o = {0}; */
typedef struct {
    int has_mode, has_scale, has_base, has_original_context, has_beta_fast, has_beta_slow;
    int has_attention_factor, has_low_freq_factor, has_high_freq_factor, has_rotary_dim;
    int has_mscale, has_mscale_all_dim, has_max_position, has_seq_len, has_head_dim;
    int no_truncate;                   /* --yarn-no-truncate */
    int self_extend;                   /* --rope-scaling self-extend (run_self_extend.h) */
    int has_grp_attn_n, has_grp_attn_w;
    int grp_attn_n, grp_attn_w;        /* --grp-attn-n G, --grp-attn-w W */
    RopeScaling mode;                  /* --rope-scaling */
    double scale;                      /* --rope-scale S, or 1 / --rope-freq-scale F */
    double base;                       /* --rope-freq-base */
    int original_context;              /* --yarn-orig-ctx, --rope-orig-ctx */
    double beta_fast, beta_slow;       /* --yarn-beta-fast, --yarn-beta-slow */
    double attention_factor;           /* --yarn-attn-factor */
    double low_freq_factor, high_freq_factor; /* --rope-low/high-freq-factor */
    int rotary_dim;                    /* --rope-dim */
    double mscale, mscale_all_dim;     /* --yarn-mscale, --yarn-mscale-all-dim */
    int max_position;                  /* --rope-max-pos (longrope's extended length) */
    int seq_len;                       /* --rope-seq-len: length for --print-rope (0 = context) */
    int head_dim;                      /* --head-dim: required when there is no model */
    int n_long_factors, n_short_factors; /* --rope-long-factors, --rope-short-factors */
    double long_factors[ROPE_MAX_PAIRS], short_factors[ROPE_MAX_PAIRS];
} RopeOptions;

/* Where a resolved RopeConfig's per-pair lists live; must outlive the RopeConfig. */
typedef struct {
    double long_factors[ROPE_MAX_PAIRS];
    double short_factors[ROPE_MAX_PAIRS];
    double freq_factors[ROPE_MAX_PAIRS];
    int file_divisors_replaced; /* the model's rope_freqs.weight, set aside for --rope-scaling */
} RopeFactorStorage;

/* If argv[*i] is a RoPE flag, consumes it and its value (advancing *i to the last argument
 * used) and returns 1; returns 0 (and leaves *i) when it is not a RoPE flag; -1 with a
 * one-line message for a missing or bad value. */
int rope_flag_parse(RopeOptions *o, int argc, char **argv, int *i, char *err, size_t err_size);

/* The help lines for the RoPE flags, with their defaults. */
void rope_flags_help(FILE *out);

/* Builds the effective RopeConfig for a run at `context` positions: the model file's
 * settings (model_config may be NULL, then --head-dim is required) overridden by the flags.
 * The original context defaults to the file's rope original context, else its
 * context_length; a scaling mode with no factor from file or flags gets context / original.
 * Lists are copied into *storage, which out points into. Validated; 0 or -1 + message. */
int rope_options_resolve(const RopeOptions *o, const Config *model_config, int context,
                         RopeConfig *out, RopeFactorStorage *storage, char *err, size_t err_size);

/* "Effective settings" lines for stderr before a run, and a warning line when the context
 * exceeds the original one with no scaling (none when positions_grouped: Self-Extend keeps
 * the distances inside, and says so in its own line). */
void rope_print_settings(FILE *out, const RopeConfig *cfg, int context, int positions_grouped);

/* Per pair: theta, theta', wavelengths 2 pi / theta before and after, their ratio, and the
 * attention factor; json != 0 prints one JSON object instead. 0, or -1 if cfg is invalid
 * (validate it first for the message) or the write fails. */
int rope_print_table(FILE *out, const RopeConfig *cfg, int seq_len, int json);

#endif
