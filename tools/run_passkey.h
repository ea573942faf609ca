/* run_passkey.h — passkey retrieval (./run MODEL --passkey): llama.cpp's llama-passkey test
 * (examples/passkey/passkey.cpp) in ./run, with every RoPE flag. A key sentence is hidden in
 * repeated junk text, the model is asked for it and answers greedily (up to 16 tokens); a
 * trial is correct when the answer's first digits are the key. */
#ifndef ROPEWALK_RUN_PASSKEY_H
#define ROPEWALK_RUN_PASSKEY_H

#include <stddef.h>
#include <stdio.h>

#define PASSKEY_ANSWER_TOKENS 16 /* llama-passkey's n_predict */
#define PASSKEY_MAX_KEY 50000    /* keys are drawn from 1..50000, as llama-passkey's */

typedef struct {
    int enabled;  /* --passkey */
    int junk;     /* --passkey-junk N: repetitions of the junk text; 0 = the most that fit
                     in the context with 16 tokens left for the answer */
    int pos;      /* --passkey-pos I: the key goes before junk repetition I; -1 = random */
    double depth; /* --passkey-depth D in 0..1: pos = round(D (junk - 1)); < 0 = unset */
    int key;      /* --passkey-key K in 1..50000; 0 = random */
    int trials;   /* --passkey-trials T (default 1) */
} PasskeyOptions;

void passkey_options_init(PasskeyOptions *o);
/* 1 when argv[*i] was a passkey flag (consumed with its value), 0 when not one, -1 on a bad
 * value (message in err). */
int passkey_flag_parse(PasskeyOptions *o, int argc, char **argv, int *i, char *err,
                       size_t err_size);
void passkey_flags_help(FILE *out);

/* llama-passkey's prompt for n_junk repetitions with the key before repetition pos:
 * malloc'd text (caller frees), NULL when out of memory. */
char *passkey_prompt(int n_junk, int pos, int key);

#endif
