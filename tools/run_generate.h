/* run_generate.h — text generation for ./run: prefill the prompt, then sample and stream
 * tokens, with a one-line speed summary on stderr. Also --print-rope. */
#ifndef ROPEWALK_RUN_GENERATE_H
#define ROPEWALK_RUN_GENERATE_H

#include "run_args.h"
#include "run_session.h"

double monotonic_seconds(void);
/* -s/--seed when given, else one from the clock. */
uint64_t choose_seed(const RunOptions *o);

/* Encodes the prompt's len bytes with TOKENIZE_* flags and refuses one that does not fit
 * the context. *ids is malloc'd. */
int encode_prompt(const Session *s, const char *prompt, size_t len, int flags, int **ids,
                  int *n_ids, char *err, size_t err_size);
/* Appends ids[0..n) to the cached sequence in blocks of the engine's batch; returns the
 * last token's logits. */
const float *prefill(Session *s, const int *ids, int n, char *err, size_t err_size);

int run_generate(Session *s, const RunOptions *o, char *err, size_t err_size);
int run_print_rope(const RunOptions *o, char *err, size_t err_size);

#endif
