/* run_passkey.c — the passkey flags of ./run and llama-passkey's prompt, sentence for
 * sentence as examples/passkey/passkey.cpp writes it (llama.cpp, the source node-llama-cpp
 * bundles). */
#include "run_passkey.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"

static const char PREFIX[] =
    "There is an important info hidden inside a lot of irrelevant text. Find it and memorize "
    "them. I will quiz you about the important information there.";
static const char JUNK[] =
    " The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.";
static const char KEY_SENTENCE[] = " The pass key is %d. Remember it. %d is the pass key.";
static const char SUFFIX[] = " What is the pass key? The pass key is";

void passkey_options_init(PasskeyOptions *o) {
    memset(o, 0, sizeof *o);
    o->pos = -1;
    o->depth = -1.0;
    o->trials = 1;
}

static int parse_bounded(const char *flag, const char *text, long lo, long hi, int *out,
                         char *err, size_t n) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end) return fail(err, n, "%s: '%s' is not an integer", flag, text);
    if (v < lo || v > hi) return fail(err, n, "%s: %ld is out of range %ld..%ld", flag, v, lo, hi);
    *out = (int)v;
    return 0;
}

int passkey_flag_parse(PasskeyOptions *o, int argc, char **argv, int *i, char *err, size_t n) {
    static const struct { const char *name; long lo, hi; size_t field; } valued[] = {
        {"--passkey-junk", 1, 1L << 24, offsetof(PasskeyOptions, junk)},
        {"--passkey-pos", 0, 1L << 24, offsetof(PasskeyOptions, pos)},
        {"--passkey-key", 1, PASSKEY_MAX_KEY, offsetof(PasskeyOptions, key)},
        {"--passkey-trials", 1, 1L << 20, offsetof(PasskeyOptions, trials)},
    };
    const char *arg = argv[*i];
    if (!strcmp(arg, "--passkey")) {
        o->enabled = 1;
        return 1;
    }
    if (!strcmp(arg, "--passkey-depth")) {
        char *end;
        if (*i + 1 >= argc) return fail(err, n, "%s needs a value", arg);
        errno = 0;
        o->depth = strtod(argv[*i + 1], &end);
        if (errno || end == argv[*i + 1] || *end || !(o->depth >= 0.0 && o->depth <= 1.0))
            return fail(err, n, "--passkey-depth: '%s' is not a number in 0..1", argv[*i + 1]);
        *i += 1;
        return 1;
    }
    for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) {
        if (strcmp(arg, valued[k].name) != 0) continue;
        if (*i + 1 >= argc) return fail(err, n, "%s needs a value", arg);
        int *field = (int *)((char *)o + valued[k].field);
        if (parse_bounded(arg, argv[*i + 1], valued[k].lo, valued[k].hi, field, err, n) != 0)
            return -1;
        *i += 1;
        return 1;
    }
    return 0;
}

void passkey_flags_help(FILE *out) {
    fprintf(out,
        "passkey retrieval (llama.cpp's llama-passkey prompt; greedy answer of <= 16 tokens):\n"
        "  --passkey              run the test; one line per trial and the accuracy (--json: one object)\n"
        "  --passkey-junk N       junk repetitions (default: the most that fit -c with 16 tokens left)\n"
        "  --passkey-pos I        the key sentence goes before repetition I, 0..N-1 (default random)\n"
        "  --passkey-depth D      or at depth D in 0..1: I = round(D (N - 1))\n"
        "  --passkey-key K        the key, 1..50000 (default random)\n"
        "  --passkey-trials T     trials (default 1); --seed S fixes the random keys and positions\n");
}

char *passkey_prompt(int n_junk, int pos, int key) {
    char key_text[sizeof KEY_SENTENCE + 24];
    snprintf(key_text, sizeof key_text, KEY_SENTENCE, key, key);
    size_t size = sizeof PREFIX + (size_t)n_junk * (sizeof JUNK - 1) + strlen(key_text) +
                  sizeof SUFFIX;
    char *text = malloc(size), *at = text;
    if (!text) return NULL;
    at += sprintf(at, "%s", PREFIX);
    for (int i = 0; i < n_junk; i++) {
        if (i == pos) at += sprintf(at, "%s", key_text);
        at += sprintf(at, "%s", JUNK);
    }
    sprintf(at, "%s", SUFFIX);
    return text;
}
