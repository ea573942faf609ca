/* engine_fixture.c — opening and closing a model + engine pair for the tests. */
#include "engine_fixture.h"

#include <math.h>
#include <string.h>

#include "../tokenizer/model_vocab.h"

int engine_fixture_open(TestContext *t, Engine *e, const char *path, EngineOptions o, int layers) {
    char err[256];
    memset(e, 0, sizeof *e);
    if (model_open(&e->model, path, err, sizeof err) != 0) {
        test_fail_at(t, __FILE__, __LINE__, "model_open(%s): %s", path, err);
        return -1;
    }
    e->file_layers = e->model.config.n_layers;
    if (layers > 0 && layers < e->file_layers) e->model.config.n_layers = layers;
    const RopeFileSettings *file_rope = &e->model.config.rope;
    if (o.rope.head_dim == 0) {
        rope_config_init(&o.rope, ROPE_SCALING_NONE, e->model.config.head_dim, file_rope->freq_base);
        for (int k = 0; file_rope->freq_factors && k < o.rope.rotary_dim / 2; k++)
            e->freq_factors[k] = file_rope->freq_factors[k];
        if (file_rope->freq_factors) o.rope.freq_factors = e->freq_factors;
    }
    if (o.max_batch == 0) o.max_batch = 64;
    if (o.threads == 0) o.threads = 2;
    if (transformer_create(&e->t, &e->model, &o, err, sizeof err) != 0) {
        test_fail_at(t, __FILE__, __LINE__, "transformer_create (%s): %s",
                     rope_scaling_name(o.rope.mode), err);
        engine_fixture_close(e);
        return -1;
    }
    return 0;
}

void engine_fixture_close(Engine *e) {
    transformer_free(e->t);
    e->t = NULL;
    e->model.config.n_layers = e->file_layers;
    model_close(&e->model);
}

double max_abs_diff(const float *a, const float *b, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (d != d) return INFINITY;
        if (d > worst) worst = d;
    }
    return worst;
}

double max_abs_value(const float *a, size_t n) {
    double worst = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i]) > worst) worst = fabs((double)a[i]);
    return worst;
}

#define MAX_IDS 256 /* the context: a passkey prompt and its answer fit */

double greedy_worst_gap(TestContext *t, const char *path, const char *prompt, const char *text) {
    char err[256] = "";
    Engine e;
    EngineOptions o = {.context = 256, .max_batch = MAX_IDS, .kv_type = KV_F16};
    if (engine_fixture_open(t, &e, path, o, 0) != 0) return -1;
    Tokenizer *tok = tokenizer_from_model_vocab(&e.model.vocab, err, sizeof err);
    int ids[MAX_IDS], prompt_ids[MAX_IDS], vocab = transformer_vocab_size(e.t);
    int n = tok ? tokenizer_encode(tok, text, strlen(text), 1, ids, MAX_IDS, err, sizeof err) : -1;
    int n_prompt = tok ? tokenizer_encode(tok, prompt, strlen(prompt), 1, prompt_ids, MAX_IDS, err,
                                          sizeof err) : -1;
    double worst = -1;
    const float *logits = n > 0 && n <= MAX_IDS && n_prompt > 0 && n_prompt <= n
                              ? transformer_forward(e.t, ids, n, 0, 1, err, sizeof err) : NULL;
    for (int p = n_prompt - 1; logits && p + 1 < n; p++) {
        const float *row = logits + (size_t)p * vocab;
        float best = row[0];
        for (int v = 1; v < vocab; v++) best = row[v] > best ? row[v] : best;
        double gap = best - row[ids[p + 1]];
        worst = gap > worst ? gap : worst;
    }
    if (worst < 0) test_fail_at(t, __FILE__, __LINE__, "%s: cannot score \"%s\": %s", path, text, err);
    tokenizer_free(tok);
    engine_fixture_close(&e);
    return worst;
}
