/* run_passkey_trials.c — passkey trials on an open session: each trial draws (or takes) a
 * key, a junk count and a position, builds llama-passkey's prompt, prefills it from an empty
 * cache, answers greedily and checks the answer's first digits against the key. */
#include "run_passkey_trials.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/sampler.h"
#include "../util/errors.h"
#include "run_generate.h"
#include "run_passkey.h"
#include "run_ppl.h"

typedef struct {
    int key, junk, pos, prompt_tokens, correct;
    char answer[PASSKEY_ANSWER_TOKENS * 64];
} PasskeyTrial;

/* splitmix64: the trials' keys and positions, reproducible from --seed */
static uint64_t next_random(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Tokens of the prompt for (junk, pos, key) with the run's flags; -1 on failure. */
static int prompt_length(const Session *s, int flags, int junk, int pos, int key, char *err,
                         size_t n) {
    char *text = passkey_prompt(junk, pos, key);
    if (!text) return fail(err, n, "out of memory for the passkey prompt");
    int tokens = tokenizer_encode_text(s->tokenizer, text, strlen(text), flags, NULL, 0, err, n);
    free(text);
    return tokens;
}

/* The most junk repetitions whose prompt leaves 16 tokens of the context for the answer
 * (the length grows with the junk count: a binary search). */
static int junk_that_fits(const Session *s, int flags, int key, int context, int *junk,
                          char *err, size_t n) {
    int budget = context - PASSKEY_ANSWER_TOKENS;
    int one = prompt_length(s, flags, 1, 0, key, err, n);
    if (one < 0) return -1;
    if (one > budget)
        return fail(err, n, "the passkey prompt with one junk repetition is %d tokens; with %d "
                    "for the answer it needs -c %d (the context is %d)", one,
                    PASSKEY_ANSWER_TOKENS, one + PASSKEY_ANSWER_TOKENS, context);
    int lo = 1, hi = context; /* prompt(lo) fits; prompt(hi) does not (a repetition > 1 token) */
    while (hi - lo > 1) {
        int mid = lo + (hi - lo) / 2, tokens = prompt_length(s, flags, mid, 0, key, err, n);
        if (tokens < 0) return -1;
        if (tokens <= budget) lo = mid;
        else hi = mid;
    }
    *junk = lo;
    return 0;
}

/* Key, junk count and position of one trial: the flags', else drawn. */
static int choose_trial(const Session *s, const RunOptions *o, int flags, uint64_t *rng,
                        PasskeyTrial *trial, char *err, size_t n) {
    const PasskeyOptions *p = &o->passkey;
    int context = transformer_context(s->transformer);
    trial->key = p->key ? p->key : 1 + (int)(next_random(rng) % PASSKEY_MAX_KEY);
    if (p->junk) trial->junk = p->junk;
    else if (junk_that_fits(s, flags, trial->key, context, &trial->junk, err, n) != 0) return -1;
    if (p->pos >= trial->junk)
        return fail(err, n, "--passkey-pos %d is outside 0..%d (the junk count %d)", p->pos,
                    trial->junk - 1, trial->junk);
    if (p->pos >= 0) trial->pos = p->pos;
    else if (p->depth >= 0.0) trial->pos = (int)lround(p->depth * (trial->junk - 1));
    else trial->pos = (int)(next_random(rng) % (uint64_t)trial->junk);
    return 0;
}

/* Greedy answer of up to 16 tokens after the prompt, its text into trial->answer. */
static int answer(Session *s, const float *logits, int prev, PasskeyTrial *trial, char *err,
                  size_t n) {
    size_t used = 0;
    for (int i = 0; i < PASSKEY_ANSWER_TOKENS; i++) {
        int next = argmax(logits, transformer_vocab_size(s->transformer));
        if (end_tokens_contains(&s->end_tokens, next)) break;
        int len = tokenizer_decode_piece(s->tokenizer, prev, next, trial->answer + used,
                                         sizeof trial->answer - used);
        if (len > 0) used += (size_t)len;
        prev = next;
        if (i + 1 == PASSKEY_ANSWER_TOKENS) break;
        if (!(logits = transformer_append(s->transformer, &next, 1, 0, err, n))) return -1;
    }
    trial->answer[used] = '\0';
    return 0;
}

/* Correct when the answer, after leading blanks, is the key's digits and no more digits. */
static int answer_is_key(const char *answer, int key) {
    char digits[16];
    snprintf(digits, sizeof digits, "%d", key);
    while (*answer == ' ' || *answer == '\t' || *answer == '\n') answer++;
    size_t len = strlen(digits);
    return strncmp(answer, digits, len) == 0 && !isdigit((unsigned char)answer[len]);
}

/* Draws the trial and checks that its prompt and answer fit the context. */
static int plan_trial(const Session *s, const RunOptions *o, int flags, uint64_t *rng,
                      PasskeyTrial *trial, char *err, size_t n) {
    if (choose_trial(s, o, flags, rng, trial, err, n) != 0) return -1;
    int context = transformer_context(s->transformer);
    int tokens = prompt_length(s, flags, trial->junk, trial->pos, trial->key, err, n);
    if (tokens < 0) return -1;
    if (tokens + PASSKEY_ANSWER_TOKENS > context)
        return fail(err, n, "a passkey prompt of %d junk repetitions is %d tokens; with %d for "
                    "the answer it needs -c %d (the context is %d)", trial->junk, tokens,
                    PASSKEY_ANSWER_TOKENS, tokens + PASSKEY_ANSWER_TOKENS, context);
    return 0;
}

static int run_trial(Session *s, const RunOptions *o, int flags, uint64_t *rng,
                     PasskeyTrial *trial, char *err, size_t n) {
    if (plan_trial(s, o, flags, rng, trial, err, n) != 0) return -1;
    char *text = passkey_prompt(trial->junk, trial->pos, trial->key);
    int *ids = NULL, rc = -1;
    if (!text) return fail(err, n, "out of memory for the passkey prompt");
    if (encode_prompt(s, text, strlen(text), flags, &ids, &trial->prompt_tokens, err, n) == 0) {
        transformer_reset(s->transformer);
        const float *logits = prefill(s, ids, trial->prompt_tokens, err, n);
        rc = logits ? answer(s, logits, ids[trial->prompt_tokens - 1], trial, err, n) : -1;
    }
    free(ids);
    free(text);
    if (rc == 0) trial->correct = answer_is_key(trial->answer, trial->key);
    return rc;
}

static void print_trial_line(const PasskeyTrial *trial, int index, int trials) {
    printf("trial %d/%d: key %d before junk %d of %d, prompt %d tokens: answer \"", index + 1,
           trials, trial->key, trial->pos, trial->junk, trial->prompt_tokens);
    for (const char *c = trial->answer; *c; c++)
        if (*c == '\n') printf("\\n");
        else putchar(*c);
    printf("\" %s\n", trial->correct ? "correct" : "wrong");
    fflush(stdout);
}

static void print_json_trial(const PasskeyTrial *trial, int first) {
    printf("%s\n    {\"key\": %d, \"junk\": %d, \"pos\": %d, \"prompt_tokens\": %d, "
           "\"answer\": ", first ? "" : ",", trial->key, trial->junk, trial->pos,
           trial->prompt_tokens);
    print_json_bytes(stdout, trial->answer, strlen(trial->answer));
    printf(", \"correct\": %s}", trial->correct ? "true" : "false");
}

static void print_json_settings(const Session *s, const RunOptions *o, uint64_t seed) {
    const EngineOptions *e = &s->engine;
    printf("{\"model\": ");
    print_json_bytes(stdout, o->model_path, strlen(o->model_path));
    printf(", \"context\": %d, \"rope_scaling\": \"%s\", \"rope_factor\": %.17g, "
           "\"self_extend\": {\"group\": %d, \"window\": %d}, \"kv_type\": \"%s\", "
           "\"seed\": %llu, \"junk\": %d, \"pos\": %d, \"depth\": %g, \"key\": %d,\n"
           "  \"trials\": [",
           e->context, rope_scaling_name(e->rope.mode),
           e->rope.mode == ROPE_SCALING_NONE ? 1.0 : e->rope.factor, e->self_extend.group,
           e->self_extend.window, kv_type_name(e->kv_type), (unsigned long long)seed,
           o->passkey.junk, o->passkey.pos, o->passkey.depth, o->passkey.key);
}

int run_passkey(Session *s, const RunOptions *o, char *err, size_t n) {
    int json = o->ppl.format == PPL_FORMAT_JSON, flags = session_encode_flags(s, o);
    uint64_t seed = choose_seed(o), rng = seed;
    PasskeyTrial trial;
    int correct = 0;
    uint64_t preflight = rng; /* the first trial's checks, before anything is printed */
    if (plan_trial(s, o, flags, &preflight, &trial, err, n) != 0) return -1;
    session_announce(s);
    if (json) print_json_settings(s, o, seed);
    for (int i = 0; i < o->passkey.trials; i++) {
        memset(&trial, 0, sizeof trial);
        if (run_trial(s, o, flags, &rng, &trial, err, n) != 0) {
            if (json) printf("\n");
            return -1;
        }
        correct += trial.correct;
        if (json) print_json_trial(&trial, i == 0);
        else print_trial_line(&trial, i, o->passkey.trials);
    }
    double accuracy = (double)correct / o->passkey.trials;
    if (json)
        printf("\n  ],\n  \"correct\": %d, \"accuracy\": %.6g}\n", correct, accuracy);
    else
        printf("accuracy: %d of %d = %.3f (seed %llu)\n", correct, o->passkey.trials, accuracy,
               (unsigned long long)seed);
    return 0;
}
