/* repack.c — which matrices of a model are repacked, how many bytes that takes, and the one
 * buffer that holds the copies. */
#include "repack.h"

#include <stdlib.h>

#include "../util/errors.h"
#include "k_interleaved.h"
#include "legacy_interleaved.h"

enum { MATRICES_PER_LAYER = 7, ALIGN = 64 };

/* The matrices a forward pass multiplies by (the embedding table is only looked up, so a
 * tied classifier is its own Matrix over the same data), at most n of them, into out. */
static int multiplied_matrices(Model *m, Matrix **out, int n) {
    int count = 0;
    for (int l = 0; l < m->config.n_layers; l++) {
        LayerWeights *w = &m->weights.layers[l];
        Matrix *layer[MATRICES_PER_LAYER] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w1, &w->w2, &w->w3};
        for (int i = 0; i < MATRICES_PER_LAYER && count < n; i++) out[count++] = layer[i];
    }
    if (count < n) out[count++] = &m->weights.classifier;
    return count;
}

static size_t aligned(size_t bytes) { return (bytes + ALIGN - 1) / ALIGN * ALIGN; }

/* Walks the matrices: their total copy size, and with `buffer`, the copies themselves. */
static size_t walk(Model *m, unsigned char *buffer) {
    int n = m->config.n_layers * MATRICES_PER_LAYER + 1;
    Matrix **all = malloc((size_t)n * sizeof *all);
    if (!all) return 0;
    size_t total = 0;
    n = multiplied_matrices(m, all, n);
    for (int i = 0; i < n; i++) {
        size_t k_bytes = k_interleaved_bytes(all[i]), legacy_bytes = legacy_interleaved_bytes(all[i]);
        size_t bytes = k_bytes + legacy_bytes; /* at most one of them */
        if (bytes == 0) continue;
        if (buffer) {
            (k_bytes ? k_interleave : legacy_interleave)(all[i], buffer + total);
            all[i]->interleaved = buffer + total;
        }
        total += aligned(bytes);
    }
    free(all);
    return total;
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
