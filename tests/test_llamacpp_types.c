/* test_llamacpp_types.c — ./run on GGUF files made by llama.cpp's llama-quantize, against
 * llama.cpp's own figures on them (tests/llamacpp/: the files, reference.json, and
 * make_reference.sh, the script that made both from models/kjv.gguf; llama.cpp is not needed
 * here). The files cover every block type the engine reads: kjv-q4_k_m.gguf (Q4_K, Q6_K),
 * kjv-q6_k.gguf, and kjv-mix.gguf (Q2_K, Q3_K, Q4_0, Q4_1, Q5_0, Q5_1, Q5_K, BF16).
 *   - perplexity of models/kjv-heldout.txt, -c 256, second half of each chunk scored, f16 KV,
 *     within 1e-3 of llama-perplexity's (the issue asks 0.2 %). Measured on the whole text:
 *     1.7e-4 at worst (kjv-mix; tests/llamacpp/README.md has the table); on the first 16 chunks (the sanitizer builds' run) 2.4e-4 at worst,
 *     the level every type shows there, Q8_0 and BF16 included (llama.cpp rounds q and the
 *     attention weights to f16 in its attention, ./run keeps them in float);
 *   - 32 greedy tokens from three prompts on each file: the same text as llama-completion's,
 *     or, where the two part, a near-tie: fed llama.cpp's text, the engine rates each of its
 *     tokens within NEAR_TIE of its own best (float sums in another order, as on another
 *     CPU's OpenBLAS or the portable kernels, may flip a tie that close, and the texts part
 *     from there on).
 * Both llama.cpp runs use -fa off: its flash-attention kernel rounds queries to f16, which
 * on this under-trained model turns two of the nine continuations at near-ties. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_fixture.h"
#include "harness.h"
#include "../util/json.h"

#define REFERENCE "tests/llamacpp/reference.json"
#define HELDOUT "models/kjv-heldout.txt"

static const char *file_path(const char *name) {
    static char paths[4][256];
    static int slot;
    char *p = paths[slot++ % 4];
    snprintf(p, 256, strcmp(name, "kjv.gguf") == 0 ? "models/%s" : "tests/llamacpp/%s", name);
    return p;
}

/* ./run's ppl of `model` under llama-perplexity's protocol, from its --json report. */
static double run_ppl(TestContext *t, const char *model, int chunks) {
    char chunk_text[16], out[4096], err[4096];
    snprintf(chunk_text, sizeof chunk_text, "%d", chunks);
    const char *argv[] = {run_binary(), model, "--ppl", HELDOUT, "-c", "256",
                          "--ppl-score-from", "128", "--kv-type", "f16", "-t", "2",
                          "--json", chunks > 0 ? "--ppl-chunks" : NULL, chunk_text, NULL};
    /* chunks == 0: the NULL ends argv before --ppl-chunks, and the whole text is scored */
    int status = run_command(argv, out, sizeof out, err, sizeof err, 600);
    JsonValue *report = status == 0 ? json_parse(out) : NULL;
    double ppl = report ? json_number(report, "ppl", NAN) : NAN;
    if (!report) test_fail_at(t, __FILE__, __LINE__, "%s: exit %d, %s", model, status, err);
    json_free(report);
    return ppl;
}

static void ppl_matches_llamacpp(TestContext *t) {
    JsonValue *ref = json_parse_file(REFERENCE);
    REQUIRE(t, ref, "cannot read %s", REFERENCE);
    const JsonValue *rows = json_get(ref, "ppl");
    int quick = test_quick(), checked = 0;
    for (int i = 0; rows && i < rows->n_items; i++) {
        const JsonValue *row = &rows->items[i];
        const char *name = json_get(row, "file")->string;
        if (strcmp(name, "kjv-bf16.gguf") == 0) continue; /* test_quantize.c makes that one */
        double want = json_number(row, quick ? "ppl_16_chunks" : "ppl", NAN);
        double got = run_ppl(t, file_path(name), quick ? 16 : 0);
        CHECK(t, fabs(got - want) <= 1e-3 * want, "%s: ppl %.4f, llama.cpp %.4f (%.2g apart)",
              name, got, want, fabs(got - want) / want);
        checked++;
    }
    CHECK(t, checked == 4, "%d reference files checked, expected 4", checked);
    json_free(ref);
}

static void trim_newlines(char *s) {
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '\n') s[--n] = '\0';
}

/* Logits apart at which two greedy choices count as a tie. Logits of this model reach 10.7,
 * whose f16 step is 5e-3 (the F16 and f16-KV paths round there), and the Q6_K file's "And
 * the LORD said unto Moses" has " of" and "," 0.011 apart at its 23rd token: the portable
 * kernels on another CPU took " of" where llama.cpp and the AVX2 build here take ",". */
/* llama.cpp rounds q and the attention weights to f16 in its attention (-fa off too), ./run
 * keeps them in float; the retrained default model's sharper distributions turn that into
 * gaps of 0.035 (Q4_K_M, "And the LORD said unto Moses") and 0.022 (Q6_K, "Blessed are")
 * where the texts part; the limit leaves room over the worst. */
#define NEAR_TIE 0.06

static void greedy_matches_llamacpp(TestContext *t) {
    JsonValue *ref = json_parse_file(REFERENCE);
    REQUIRE(t, ref, "cannot read %s", REFERENCE);
    const JsonValue *rows = json_get(ref, "greedy");
    int n = rows ? rows->n_items : 0;
    for (int i = 0; i < n; i++) {
        const JsonValue *row = &rows->items[i];
        const char *name = json_get(row, "file")->string, *prompt = json_get(row, "prompt")->string;
        char want[4096], out[4096], err[4096];
        snprintf(want, sizeof want, "%s", json_get(row, "text")->string);
        const char *argv[] = {run_binary(), file_path(name), "-p", prompt, "-n", "32", "--temp",
                              "0", "-t", "2", NULL};
        int status = run_command(argv, out, sizeof out, err, sizeof err, 120);
        trim_newlines(want);
        trim_newlines(out);
        if (status != 0) {
            test_fail_at(t, __FILE__, __LINE__, "%s: exit %d, %s", name, status, err);
            continue;
        }
        if (strcmp(out, want) == 0) continue;
        double gap = greedy_worst_gap(t, file_path(name), prompt, want);
        CHECK(t, gap >= 0 && gap <= NEAR_TIE, "%s, \"%s\": got \"%s\", llama.cpp \"%s\", whose "
              "tokens the engine rates up to %.3g below its best (limit %g)", name, prompt, out,
              want, gap, NEAR_TIE);
    }
    CHECK(t, n == 9, "%d greedy references, expected 9", n);
    json_free(ref);
}

static const TestCase llamacpp_tests[] = {
    {"ppl_matches_llamacpp", ppl_matches_llamacpp},
    {"greedy_matches_llamacpp", greedy_matches_llamacpp},
    {NULL, NULL},
};

TEST_SUITE(llamacpp_types, llamacpp_tests)
