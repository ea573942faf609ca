/* rope.h — rotary position embeddings and their scaling modes.
 * Every scaling mode is one function of (base frequencies, parameters, current length)
 * giving the per-pair frequencies theta'_k and an attention factor (DESIGN.md, "RoPE").
 * The rotation itself works on either pair layout and on a partial rotary dimension. */
#ifndef ROPEWALK_ROPE_H
#define ROPEWALK_ROPE_H

#include <stddef.h>

#include "../models/model.h" /* RopeLayout */

typedef enum {
    ROPE_SCALING_NONE = 0,
    ROPE_SCALING_LINEAR,
    ROPE_SCALING_NTK,
    ROPE_SCALING_DYNAMIC,
    ROPE_SCALING_YARN,
    ROPE_SCALING_LLAMA3,
    ROPE_SCALING_LONGROPE,
    ROPE_SCALING_COUNT
} RopeScaling;

#define ROPE_MAX_PAIRS 512 /* rotary_dim / 2 upper bound */

/* Everything that decides theta' and the attention factor. Fields a mode does not use are
 * ignored. HF rope_parameters names in brackets. */
typedef struct {
    RopeScaling mode;
    int head_dim;
    int rotary_dim;             /* <= head_dim, even (partial_rotary_factor * head_dim) */
    double base;                /* rope_theta */
    double factor;              /* s [factor]; 1 = no scaling */
    int original_context;       /* L [original_max_position_embeddings]; for dynamic
                                   this is HF's max_position_embeddings */
    /* yarn */
    double beta_fast, beta_slow;/* [beta_fast]=32, [beta_slow]=1 */
    double attention_factor;    /* [attention_factor]; 0 = the mode's default */
    double mscale, mscale_all_dim; /* [mscale], [mscale_all_dim]; 0 = unset */
    int truncate;               /* [truncate]: floor/ceil the correction range (default 1) */
    /* llama3 */
    double low_freq_factor, high_freq_factor; /* 1 and 4 in Llama 3.1 */
    /* longrope: rotary_dim/2 factors each; the caller owns the arrays */
    const double *long_factors, *short_factors;
    int max_position;           /* [max_position_embeddings]: the extended length, s = max/L */
    /* llama.cpp's rope_freqs.weight: theta_k divided by freq_factors[k]; NULL = none */
    const double *freq_factors;
} RopeConfig;

/* Defaults for a mode (beta 32/1, llama3 1/4, truncate on, factor 1). */
void rope_config_init(RopeConfig *cfg, RopeScaling mode, int head_dim, double base);

/* Checks parameters: positive scale and base, even rotary_dim <= head_dim, low < high freq
 * factor, beta_fast > beta_slow, factor lists present for longrope, ... */
int rope_config_validate(const RopeConfig *cfg, char *err, size_t err_size);

const char *rope_scaling_name(RopeScaling mode);      /* "none", "linear", ... */
int rope_scaling_from_name(const char *name, RopeScaling *mode); /* 0 ok, -1 unknown;
                                   also accepts HF's "default" and llama.cpp's names */

/* The mode's frequencies at current sequence length seq_len (only dynamic and longrope
 * look at it): inv_freq[k] for k < rotary_dim/2, in double; returns the attention factor. */
double rope_inv_freq(const RopeConfig *cfg, int seq_len, double *inv_freq);

/* Does theta' depend on the current length (dynamic, longrope)? */
int rope_depends_on_length(const RopeConfig *cfg);

/* cos/sin of position * inv_freq[k], each multiplied by attention_factor:
 * cos_sin[2k] = af * cos, cos_sin[2k+1] = af * sin, for k < n_pairs. Angles in double. */
void rope_cos_sin(const double *inv_freq, int n_pairs, double attention_factor, double position,
                  float *cos_sin);

/* A copy of one head x (head_dim floats) rotated to `position` with the mode's frequencies
 * at length seq_len, attention factor included, into out. */
void rope_rotate_to(const RopeConfig *cfg, RopeLayout layout, int seq_len, double position,
                    const float *x, float *out);

/* Rotates n_heads heads of x (each head_dim long, contiguous) by the table cos_sin of
 * rotary_dim/2 pairs; dimensions past rotary_dim are left alone. */
void rope_rotate(float *x, int n_heads, int head_dim, int rotary_dim, RopeLayout layout,
                 const float *cos_sin);

#endif
