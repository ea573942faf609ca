/* repack.c — which matrices of a model are repacked, how many bytes that takes, and the one
 * buffer that holds the copies. */
#include "repack.h"

#include <stdlib.h>

#include "../util/errors.h"
#include "k_interleaved.h"
#include "legacy_interleaved.h"

enum { ALIGN = 64 };

static size_t aligned(size_t bytes) { return (bytes + ALIGN - 1) / ALIGN * ALIGN; }

/* One matrix: the bytes of its copy, and with `buffer`, the copy itself at buffer + at. */
static size_t repack_matrix(Matrix *w, unsigned char *buffer, size_t at) {
    size_t k_bytes = k_interleaved_bytes(w), legacy_bytes = legacy_interleaved_bytes(w);
    size_t bytes = k_bytes + legacy_bytes; /* at most one of them */
    if (bytes && buffer) {
        (k_bytes ? k_interleave : legacy_interleave)(w, buffer + at);
        w->interleaved = buffer + at;
    }
    return aligned(bytes);
}

/* The matrices a forward pass multiplies by (the embedding table is only looked up, so a tied
 * classifier is its own Matrix over the same data): their total copy size, and with `buffer`,
 * the copies themselves. */
static size_t walk(Model *m, unsigned char *buffer) {
    size_t total = 0;
    for (int l = 0; l < m->config.n_layers; l++) {
        LayerWeights *w = &m->weights.layers[l];
        Matrix *layer[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w1, &w->w2, &w->w3};
        for (size_t i = 0; i < sizeof layer / sizeof *layer; i++) total += repack_matrix(layer[i], buffer, total);
    }
    return total + repack_matrix(&m->weights.classifier, buffer, total);
}

size_t repack_plan_bytes(const Model *m) {
    if (!m->weights.layers) return 0;
    return walk((Model *)m, NULL);
}

int repack_weights(Model *m, char *err, size_t err_size) {
    size_t bytes = repack_plan_bytes(m);
    if (bytes == 0) return 0;
    m->repacked = aligned_alloc(ALIGN, bytes);
    if (!m->repacked) return fail(err, err_size, "out of memory for %zu bytes of repacked weights", bytes);
    m->repacked_bytes = bytes;
    walk(m, m->repacked);
    return 0;
}
