/* engine_fixture.h — a model file opened with an engine on top, for the tests that run the
 * real decoder. Optionally keeps only the first layers (with one layer every cached key and
 * value depends on its own token alone, which makes cache surgery exactly checkable). */
#ifndef ROPEWALK_ENGINE_FIXTURE_H
#define ROPEWALK_ENGINE_FIXTURE_H

#include "../engine/transformer.h"
#include "harness.h"

typedef struct {
    Model model;
    Transformer *t;
    int file_layers; /* restored before the model is closed */
    double freq_factors[ROPE_MAX_PAIRS]; /* the file's rope_freqs.weight, as the engine reads it */
} Engine;

/* Opens path and an engine with options o; with no RoPE in o (head_dim 0), the file's own:
 * no scaling, its freq_base and its rope_freqs.weight if any, as ./run sets it up without
 * RoPE flags. layers > 0 truncates the model to that many
 * blocks. Unset fields get defaults: RoPE none at the model's head size and base, batch 64,
 * 2 threads. On failure records a test failure and returns -1. */
int engine_fixture_open(TestContext *t, Engine *e, const char *path, EngineOptions o, int layers);
void engine_fixture_close(Engine *e);

/* Where another engine's greedy text parts from ours: feeds prompt + that engine's
 * continuation `text` (which starts with the prompt) through path's model (f16 KV, the
 * file's RoPE) and returns the widest gap between our best logit and that of the token the
 * other engine chose, over the continuation; -1 (a failure recorded) when it cannot. */
double greedy_worst_gap(TestContext *t, const char *path, const char *prompt, const char *text);

/* max |a[i] - b[i]| over n logits; infinity when either holds a NaN. */
double max_abs_diff(const float *a, const float *b, size_t n);
/* The largest |a[i]|. */
double max_abs_value(const float *a, size_t n);

#endif
