/* test_llama3_model.c — ./run on a Llama-3-shaped GGUF, and on a Qwen2-shaped one, against
 * llama.cpp on the same files (tests/llama3/llamacpp.json and tests/qwen2/llamacpp.json, made
 * by tests/llama3/make_llamacpp_reference.sh; llama.cpp is not needed here). The file, tests/llama3/llama3-tiny.gguf, is built by `make` with the project's
 * tools/make_random_model: the real Llama 3 vocabulary (byte-level BPE, 128256 tokens),
 * freq_base 500000, GQA (8 query heads, 2 kv heads), rope_freqs.weight holding Llama 3.2's
 * scaling as llama.cpp's converter bakes it, tied embeddings, Q8_0 random weights.
 *   - the file is byte for byte the one llama.cpp was measured on (its FNV-1a hash);
 *   - perplexity of models/kjv-heldout.txt, -c 256, second half of each chunk scored, f16
 *     KV, within 1e-3 of llama-perplexity's (the issue asks 0.2 %); measured 1.1e-4;
 *   - the same with --rope-scaling llama3 --rope-scale 32 --yarn-orig-ctx 8192, which
 *     replaces the file's divisors by the mode's own (the same numbers: the same ppl), and
 *     with --rope-scaling none, which drops them: then ppl moves away by more than the
 *     tolerance (5e-3 measured), so the check sees whether the divisors are applied, once;
 *   - 32 greedy tokens on three prompts: llama-completion's text (1 of 3 identical), or
 *     parting at a near-tie (tests/engine_fixture.h's greedy_worst_gap, limit near_tie);
 *   - the tokens that end generation, as ./run's settings name them: llama.cpp's
 *     end-of-generation set for the same file (its load log's "EOG" list).
 * The Qwen2-shaped file (suite qwen2_model; QWEN2_TINY_FLAGS in the Makefile) has the
 * architecture qwen2: random q/k/v biases, RoPE on half-split pairs (llama.cpp's NEOX type,
 * which it takes from the architecture name), freq_base 10^6, the "qwen2" pre-tokenizer (its
 * ids against llama-tokenize's are in tests/llamacpp/tokenize.json). The same checks but the
 * RoPE-mode ones, which are about rope_freqs.weight: the biases and the pair layout move a
 * random model's ppl by far more than the tolerance, so its agreement shows both applied.
 * Under TEST_QUICK (the sanitizer builds) the perplexity runs take the first 16 chunks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tokenizer/utf8.h"
#include "../util/json.h"
#include "engine_fixture.h"
#include "harness.h"

/* near_tie: how far llama.cpp's chosen tokens may sit below our best logit where the texts
 * part. llama.cpp multiplies q by the f16 key cache in f16 (q rounded to f16) and the
 * attention weights by the f16 values in f16, even with -fa off; ./run keeps both in float;
 * and ./run's kernel families round differently among themselves (the AVX-512 tiles quantise
 * activations to Q8_0 as llama.cpp does; the portable build sends a block of 16 tokens or
 * more, as the near-tie check feeds, to sgemm on float activations). With these
 * models' peaked random attention that moves logits by several 1e-2 or more.
 *   Llama-3-shaped: worst gap over llama.cpp's continuation 0.0021 ("The capital of France
 *   is") and 0.0395 ("In the beginning God created") with the AVX-512 kernels, 0.0000 and
 *   0.0759 with the portable ones; the limit, 0.15, leaves twice the worst.
 *   Qwen2-shaped (random q/k/v biases make attention more peaked still): on llama.cpp's
 *   continuation of "The capital of France is" ./run's own AVX-512 and portable logits are
 *   up to 0.31 apart (rms 0.05), and two logits can move apart by twice that; llama.cpp's
 *   token there sits 0.0000 below our best with AVX-512 and 0.2495 with the portable
 *   kernels. The limit, 0.5, is that spread; a wrong bias or pair layout moves logits by
 *   whole units (their sd is 2.3) and the ppl check sees it by orders of magnitude.
 * The perplexities agree to 1.1e-4 (Llama 3) and 3.1e-4 (Qwen2) all the same. */
typedef struct {
    const char *model, *reference;
    int rope_freqs; /* the file carries rope_freqs.weight: check the mode flags against it */
    double near_tie;
} ModelCase;

static const ModelCase LLAMA3 = {"tests/llama3/llama3-tiny.gguf", "tests/llama3/llamacpp.json", 1, 0.15};
static const ModelCase QWEN2 = {"tests/qwen2/qwen2-tiny.gguf", "tests/qwen2/llamacpp.json", 0, 0.5};
#define HELDOUT "models/kjv-heldout.txt"
#define PPL_TOLERANCE 1e-3

/* ./run's ppl of the model under llama-perplexity's protocol, with extra RoPE flags. */
static double run_ppl(TestContext *t, const ModelCase *m, const char *const *rope_flags) {
    static char out[1 << 16], err[1 << 14];
    const char *argv[24] = {run_binary(), m->model, "--ppl", HELDOUT, "-c", "256", "--ppl-score-from",
                            "128", "--kv-type", "f16", "-t", "2", "--json"};
    int n = 13;
    if (test_quick()) argv[n++] = "--ppl-chunks", argv[n++] = "16";
    for (int i = 0; rope_flags && rope_flags[i] && n < 23; i++) argv[n++] = rope_flags[i];
    argv[n] = NULL;
    int code = run_command(argv, out, sizeof out, err, sizeof err, 300);
    JsonValue *report = code == 0 ? json_parse(out) : NULL;
    double ppl = report ? json_number(report, "ppl", NAN) : NAN;
    if (!report) test_fail_at(t, __FILE__, __LINE__, "--ppl: exit %d, %s", code, err);
    json_free(report);
    return ppl;
}

static JsonValue *reference(TestContext *t, const ModelCase *m) {
    JsonValue *ref = json_parse_file(m->reference);
    if (!ref) test_fail_at(t, __FILE__, __LINE__, "cannot read %s", m->reference);
    return ref;
}

static void file_is_the_measured_one(TestContext *t, const ModelCase *m) {
    JsonValue *ref = reference(t, m);
    if (!ref) return;
    char hash[17];
    REQUIRE(t, file_fnv1a64(m->model, hash) == 0, "cannot read %s: `make` builds it", m->model);
    CHECK(t, !strcmp(hash, json_get(ref, "fnv1a64")->string), "%s hashes to %s, llama.cpp measured %s: "
          "make_random_model no longer writes the same bytes", m->model, hash, json_get(ref, "fnv1a64")->string);
    json_free(ref);
}

static void ppl_matches_llamacpp(TestContext *t, const ModelCase *m) {
    JsonValue *ref = reference(t, m);
    if (!ref) return;
    double want = json_number(ref, test_quick() ? "ppl_16_chunks" : "ppl", NAN);
    double file = run_ppl(t, m, NULL);
    CHECK(t, fabs(file - want) <= PPL_TOLERANCE * want, "the file's RoPE: ppl %.1f, llama.cpp %.1f (%.2g apart)",
          file, want, fabs(file - want) / want);
    if (getenv("TEST_VERBOSE")) printf("     %s: ppl %.4f, llama.cpp %.4f (%.2g apart)\n", m->model,
                                       file, want, fabs(file - want) / want);
    if (!m->rope_freqs) {
        json_free(ref);
        return;
    }
    static const char *const llama3[] = {"--rope-scaling", "llama3", "--rope-scale", "32", "--yarn-orig-ctx", "8192", NULL};
    static const char *const none[] = {"--rope-scaling", "none", NULL};
    double mode = run_ppl(t, m, llama3), plain = run_ppl(t, m, none);
    CHECK(t, fabs(mode - want) <= PPL_TOLERANCE * want, "--rope-scaling llama3: ppl %.1f, llama.cpp %.1f (%.2g apart)",
          mode, want, fabs(mode - want) / want);
    CHECK(t, fabs(plain - want) > PPL_TOLERANCE * want, "--rope-scaling none: ppl %.1f is as close to llama.cpp's "
          "%.1f as the file's: the check cannot see the divisors", plain, want);
    json_free(ref);
}

/* Bytes of text before its first byte that is not valid UTF-8. There llama.cpp sampled a
 * token that ends inside a character; re-encoding its text cannot recover that token (the
 * tokenizer splits the bytes canonically), so the near-tie check stops before it. */
static size_t valid_utf8_prefix(const char *text, size_t n) {
    size_t at = 0, len;
    while (at < n && (len = utf8_char_length((const unsigned char *)text + at, n - at, NULL)))
        at += len;
    return at;
}

static void greedy_matches_llamacpp(TestContext *t, const ModelCase *m) {
    JsonValue *ref = reference(t, m);
    if (!ref) return;
    const JsonValue *rows = json_get(ref, "greedy");
    int n = rows ? rows->n_items : 0, identical = 0;
    for (int i = 0; i < n; i++) {
        const char *prompt = json_get(&rows->items[i], "prompt")->string;
        const char *want = json_get(&rows->items[i], "text")->string;
        static char out[8192], err[8192];
        const char *argv[] = {run_binary(), m->model, "-p", prompt, "-n", "32", "--temp", "0", "-t", "2", NULL};
        int code = run_command(argv, out, sizeof out, err, sizeof err, 120);
        size_t w = strlen(want), o = strlen(out);
        while (w > 0 && want[w - 1] == '\n') w--;
        while (o > 0 && out[o - 1] == '\n') o--;
        if (code != 0) { test_fail_at(t, __FILE__, __LINE__, "\"%s\": exit %d, %s", prompt, code, err); continue; }
        if (w == o && memcmp(out, want, w) == 0) { identical++; continue; }
        char text[8192];
        snprintf(text, sizeof text, "%.*s", (int)valid_utf8_prefix(want, w), want);
        double gap = greedy_worst_gap(t, m->model, prompt, text);
        fprintf(stderr, "      \"%s\": parts from llama.cpp; its tokens within %.4f of our best\n", prompt, gap);
        CHECK(t, gap >= 0 && gap <= m->near_tie, "\"%s\": got \"%.*s\", llama.cpp \"%s\", whose tokens the engine "
              "rates up to %.3g below its best (limit %g)", prompt, (int)o, out, text, gap, m->near_tie);
    }
    CHECK(t, n == 3, "%d greedy references, expected 3", n);
    fprintf(stderr, "      %d of %d greedy texts identical to llama.cpp's\n", identical, n);
    json_free(ref);
}

/* The ids in "(N)" after "generation stops at: " in ./run's settings, in ids (at most max). */
static int stop_ids(const char *settings, int *ids, int max) {
    const char *p = strstr(settings, "generation stops at: ");
    const char *end = p ? strchr(p, '\n') : NULL;
    int n = 0;
    while (p && (p = strchr(p, '(')) != NULL && (!end || p < end) && n < max)
        if (sscanf(++p, "%d)", &ids[n]) == 1) n++;
    return n;
}

static void end_of_generation_matches_llamacpp(TestContext *t, const ModelCase *m) {
    JsonValue *ref = reference(t, m);
    if (!ref) return;
    const JsonValue *eog = json_get(ref, "eog");
    static char out[4096], err[1 << 14];
    const char *argv[] = {run_binary(), m->model, "-p", "Hi", "-n", "1", "--temp", "0", NULL};
    int code = run_command(argv, out, sizeof out, err, sizeof err, 120), ids[32];
    int n = stop_ids(err, ids, 32), found = 0;
    for (int i = 0; eog && i < eog->n_items; i++)
        for (int j = 0; j < n; j++) found += ids[j] == (int)eog->items[i].number;
    CHECK(t, code == 0 && eog && n == eog->n_items && found == n,
          "./run stops at %d tokens, llama.cpp at %d, %d in common (exit %d, %s)", n,
          eog ? eog->n_items : -1, found, code, code ? err : "");
    json_free(ref);
}

#define FOR_MODEL(name, check, model) \
    static void name(TestContext *t) { check(t, &model); }
FOR_MODEL(llama3_file, file_is_the_measured_one, LLAMA3)
FOR_MODEL(llama3_ppl, ppl_matches_llamacpp, LLAMA3)
FOR_MODEL(llama3_greedy, greedy_matches_llamacpp, LLAMA3)
FOR_MODEL(llama3_eog, end_of_generation_matches_llamacpp, LLAMA3)
FOR_MODEL(qwen2_file, file_is_the_measured_one, QWEN2)
FOR_MODEL(qwen2_ppl, ppl_matches_llamacpp, QWEN2)
FOR_MODEL(qwen2_greedy, greedy_matches_llamacpp, QWEN2)
FOR_MODEL(qwen2_eog, end_of_generation_matches_llamacpp, QWEN2)

static const TestCase llama3_model_tests[] = {
    {"file_is_the_measured_one", llama3_file},
    {"ppl_matches_llamacpp", llama3_ppl},
    {"greedy_matches_llamacpp", llama3_greedy},
    {"end_of_generation_matches_llamacpp", llama3_eog},
    {NULL, NULL},
};
TEST_SUITE(llama3_model, llama3_model_tests)

static const TestCase qwen2_model_tests[] = {
    {"file_is_the_measured_one", qwen2_file},
    {"ppl_matches_llamacpp", qwen2_ppl},
    {"greedy_matches_llamacpp", qwen2_greedy},
    {"end_of_generation_matches_llamacpp", qwen2_eog},
    {NULL, NULL},
};
TEST_SUITE(qwen2_model, qwen2_model_tests)
