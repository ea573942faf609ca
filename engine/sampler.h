/* sampler.h — choosing the next token from logits: greedy (temperature 0), or temperature
 * with nucleus (top-p) truncation, from a seeded generator so runs are reproducible. */
#ifndef ROPEWALK_SAMPLER_H
#define ROPEWALK_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    float prob;
    int index;
} Candidate;

typedef struct {
    int vocab_size;
    float temperature;   /* 0 = greedy */
    float top_p;         /* 1 = no truncation */
    uint64_t rng_state;
    /* scratch for top-p */
    Candidate *candidates;
    float *probs;
} Sampler;

int sampler_init(Sampler *s, int vocab_size, float temperature, float top_p, uint64_t seed,
                 char *err, size_t err_size);
void sampler_free(Sampler *s);
/* logits are not modified. */
int sampler_next(Sampler *s, const float *logits);
int argmax(const float *x, int n);

#endif
