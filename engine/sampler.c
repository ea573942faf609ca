/* sampler.c — greedy, temperature and top-p sampling. Top-p avoids sorting the whole
 * vocabulary: only tokens above a probability cut-off are candidates (as llama2.c does). */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>

#include "../util/errors.h"

int sampler_init(Sampler *s, int vocab_size, float temperature, float top_p, uint64_t seed,
                 char *err, size_t err_size) {
    if (!(temperature >= 0.0f) || !isfinite(temperature))
        return fail(err, err_size, "temperature %g must be >= 0", temperature);
    if (!(top_p > 0.0f && top_p <= 1.0f))
        return fail(err, err_size, "top-p %g must be in (0, 1]", top_p);
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->top_p = top_p;
    s->rng_state = seed ? seed : 0x9E3779B97F4A7C15ull;
    s->candidates = malloc((size_t)vocab_size * sizeof *s->candidates);
    s->probs = malloc((size_t)vocab_size * sizeof *s->probs);
    if (!s->candidates || !s->probs) {
        sampler_free(s);
        return fail(err, err_size, "out of memory for the sampler");
    }
    return 0;
}

void sampler_free(Sampler *s) {
    free(s->candidates);
    free(s->probs);
    s->candidates = NULL;
    s->probs = NULL;
}

int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* xorshift64*, uniform in [0, 1) with 24 bits */
static float random_unit(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (float)((*state * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

static int compare_by_prob(const void *a, const void *b) {
    float pa = ((const Candidate *)a)->prob, pb = ((const Candidate *)b)->prob;
    return pa < pb ? 1 : pa > pb ? -1 : 0;
}

int sampler_next(Sampler *s, const float *logits) {
    int n = s->vocab_size;
    if (s->temperature == 0.0f) return argmax(logits, n);
    float max = logits[argmax(logits, n)];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        s->probs[i] = expf((logits[i] - max) / s->temperature);
        sum += s->probs[i];
    }
    for (int i = 0; i < n; i++) s->probs[i] = (float)(s->probs[i] / sum);
    float r = random_unit(&s->rng_state);
    if (s->top_p >= 1.0f) {
        float cdf = 0.0f;
        for (int i = 0; i < n; i++) {
            cdf += s->probs[i];
            if (r < cdf) return i;
        }
        return n - 1;
    }
    /* tokens below (1 - p) / (n - 1) cannot be in the nucleus */
    float cutoff = (1.0f - s->top_p) / (float)(n > 1 ? n - 1 : 1);
    int n_cand = 0;
    for (int i = 0; i < n; i++)
        if (s->probs[i] >= cutoff) s->candidates[n_cand++] = (Candidate){s->probs[i], i};
    qsort(s->candidates, (size_t)n_cand, sizeof *s->candidates, compare_by_prob);
    float cumulative = 0.0f;
    int last = n_cand - 1;
    for (int i = 0; i < n_cand; i++) {
        cumulative += s->candidates[i].prob;
        if (cumulative > s->top_p) { last = i; break; }
    }
    float target = r * cumulative, cdf = 0.0f;
    for (int i = 0; i <= last; i++) {
        cdf += s->candidates[i].prob;
        if (target < cdf) return s->candidates[i].index;
    }
    return s->candidates[last].index;
}
