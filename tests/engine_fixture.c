/* engine_fixture.c — opening and closing a model + engine pair for the tests. */
#include "engine_fixture.h"

#include <math.h>
#include <string.h>

int engine_fixture_open(TestContext *t, Engine *e, const char *path, EngineOptions o, int layers) {
    char err[256];
    memset(e, 0, sizeof *e);
    if (model_open(&e->model, path, err, sizeof err) != 0) {
        test_fail_at(t, __FILE__, __LINE__, "model_open(%s): %s", path, err);
        return -1;
    }
    e->file_layers = e->model.config.n_layers;
    if (layers > 0 && layers < e->file_layers) e->model.config.n_layers = layers;
    if (o.rope.head_dim == 0)
        rope_config_init(&o.rope, ROPE_SCALING_NONE, e->model.config.head_dim,
                         e->model.config.rope.freq_base);
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
