/* test_tokenize.c — ./run MODEL --tokenize and --detokenize as a user runs them (issue 21).
 *   - ids against SentencePiece's own output (libsentencepiece on the model's .model, run
 *     here in-process): `--tokenize -f FILE --ids --no-bos` on whole files, for the built-in
 *     tokenizer of models/kjv.gguf and of ../shared's stories260K.gguf, and for the
 *     SentencePiece shim behind --tokenizer;
 *   - the default listing (id, TAB, piece; count line) and --json against the same ids;
 *   - --detokenize of those ids gives the text back, byte for byte;
 *   - a GGUF holding only kjv.gguf's vocabulary (written with models/gguf_writer.h) gives
 *     the same ids, and is refused for generation and --ppl;
 *   - llama.cpp's llama-tokenize (tests/llamacpp/tokenize.json, made by
 *     make_tokenize_reference.sh): id count and FNV-1a hash of the ids of whole texts, and the
 *     ids of each hard case in tests/llamacpp/tokenize-cases.txt (with and without
 *     --no-parse-special), on kjv.gguf, the Llama 3 vocabulary and model and ../shared's
 *     stories260K.gguf and llama-2-tiny-random.gguf. stories260K.gguf does not record
 *     SentencePiece's remove_extra_whitespaces (its tok512.model sets it), so there the
 *     built-in tokenizer follows llama.cpp's default, as llama-tokenize does, and not
 *     SentencePiece: a text's leading space is a token of its own.
 * Under TEST_QUICK (the sanitizer builds) each file is cut to its first 16 KiB for the
 * SentencePiece checks, and the llama.cpp checks take models/kjv-heldout.txt alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/gguf_writer.h"
#include "../models/model.h"
#include "../tokenizer/tokenizer.h"
#include "harness.h"
#include "../util/json.h"

#define KJV "models/kjv.gguf"
#define KJV_SPM "models/kjv.model"
#define KJV_TEXT "models/kjv-heldout.txt"
#define OUT_BYTES (8u << 20)
#define QUICK_BYTES 16384
#define LLAMACPP_REFERENCE "tests/llamacpp/tokenize.json"

typedef struct {
    int code;
    char *out, err[4096];
} Output;

static void run(Output *r, const char *const args[]) {
    const char *argv[16];
    int n = 0;
    argv[n++] = run_binary();
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    if (!r->out) r->out = malloc(OUT_BYTES);
    r->code = r->out ? run_command(argv, r->out, OUT_BYTES, r->err, sizeof r->err, 300) : -1;
}

/* The text under test: the file, or its first QUICK_BYTES written to a temp file. */
static const char *text_file(const char *path, const char *temp_name) {
    size_t size;
    char *text = read_file(path, &size);
    if (!text) return NULL;
    if (!test_quick() || size <= QUICK_BYTES) { free(text); return path; }
    const char *cut = temp_path(temp_name);
    int rc = write_file(cut, text, QUICK_BYTES);
    free(text);
    return rc == 0 ? cut : NULL;
}

/* SentencePiece's ids for the file, without BOS; *n their count. Caller frees. */
static int *sentencepiece_ids(TestContext *t, const char *spm_path, const char *path, int *n) {
    char err[256] = "";
    size_t size;
    char *text = read_file(path, &size);
    Tokenizer *spm = tokenizer_open_sentencepiece(spm_path, err, sizeof err);
    int *ids = text ? malloc((size + 2) * sizeof *ids) : NULL;
    *n = spm && ids ? tokenizer_encode(spm, text, size, 0, ids, (int)size + 2, err, sizeof err) : -1;
    if (*n < 0) test_fail_at(t, __FILE__, __LINE__, "SentencePiece on %s: %s", path, err);
    tokenizer_free(spm);
    free(text);
    if (*n < 0) { free(ids); return NULL; }
    return ids;
}

/* Parses "1 2 3\n"; the count, or -1 when the line holds anything else. */
static int parse_ids(const char *line, int *ids, int max) {
    int n = 0;
    for (const char *p = line; *p && *p != '\n';) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || n == max) return -1;
        ids[n++] = (int)v;
        p = *end == ' ' ? end + 1 : end;
    }
    return n;
}

/* `./run model [--tokenizer tok] --tokenize -f file --ids --no-bos` equals SentencePiece's
 * ids for the file; 1 when it does. */
static int ids_match(TestContext *t, const char *model, const char *tokenizer, const char *spm,
                     const char *file) {
    int n_want, ok = 0;
    int *want = sentencepiece_ids(t, spm, file, &n_want);
    Output r = {0};
    const char *with[] = {model, "--tokenizer", tokenizer, "--tokenize", "-f", file, "--ids",
                          "--no-bos", NULL};
    const char *without[] = {model, "--tokenize", "-f", file, "--ids", "--no-bos", NULL};
    run(&r, tokenizer ? with : without);
    int *got = want ? malloc(((size_t)n_want + 1) * sizeof *got) : NULL;
    int n_got = got && r.code == 0 ? parse_ids(r.out, got, n_want + 1) : -1;
    if (r.code != 0) test_fail_at(t, __FILE__, __LINE__, "%s --tokenize %s: exit %d, %s", model, file, r.code, r.err);
    else if (want && got) {
        int first = 0;
        while (first < n_got && first < n_want && got[first] == want[first]) first++;
        ok = n_got == n_want && first == n_want;
        CHECK(t, ok, "%s on %s: %d ids, SentencePiece %d; first difference at %d", model, file,
              n_got, n_want, first);
    }
    free(got);
    free(want);
    free(r.out);
    return ok;
}

static void kjv_ids_match_sentencepiece(TestContext *t) {
    const char *files[] = {KJV_TEXT, "data/alice_in_wonderland_pg11.txt",
                           "data/tinystories_valid_first232.txt",
                           "data/tinystories_valid_hf_export_head.txt"};
    int agree = 0;
    for (int i = 0; i < 4; i++) {
        const char *path = i == 0 ? files[0] : shared_path(files[i]);
        if (!path) continue;
        char name[32];
        snprintf(name, sizeof name, "kjv-%d.txt", i);
        const char *file = text_file(path, name);
        agree += file && ids_match(t, KJV, NULL, KJV_SPM, file);
    }
    CHECK(t, agree >= 1, "no file checked");
}

static void stories_ids_match_sentencepiece(TestContext *t) {
    REQUIRE_SHARED(t, gguf, "models/stories260K.gguf");
    REQUIRE_SHARED(t, bin, "models/stories260K.bin");
    REQUIRE_SHARED(t, spm, "models/tok512.model");
    REQUIRE_SHARED(t, text, "data/tinystories_valid_first232.txt");
    const char *file = text_file(text, "stories.txt");
    REQUIRE(t, file, "cannot read %s", text);
    ids_match(t, bin, spm, spm, file); /* libsentencepiece through the shim */
    (void)gguf; /* its built-in tokenizer is checked against llama-tokenize below */
}

/* A reference's path: the project's own, or ../shared's (NULL when absent). */
static const char *reference_path(const char *path) {
    return strncmp(path, "../shared/", 10) == 0 ? shared_path(path + 10) : path;
}

static unsigned long long fnv1a64(const char *s, size_t n) {
    unsigned long long h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

/* Whole texts: the count and hash of `--ids --no-bos` against llama-tokenize's. */
static void files_match_llamacpp(TestContext *t, const JsonValue *files, int *agree, int *total) {
    Output r = {0};
    for (int i = 0; files && i < files->n_items; i++) {
        const JsonValue *row = &files->items[i];
        const char *model = reference_path(json_get(row, "model")->string);
        const char *text = reference_path(json_get(row, "text")->string);
        if (!model || !text || (test_quick() && strcmp(text, KJV_TEXT) != 0)) continue;
        run(&r, (const char *[]){model, "--tokenize", "-f", text, "--ids", "--no-bos", NULL});
        size_t len = r.code == 0 ? strcspn(r.out, "\n") : 0;
        int count = 0;
        for (size_t k = 0; k < len; k++) count += r.out[k] == ' ';
        count += len > 0;
        char hash[17];
        snprintf(hash, sizeof hash, "%016llx", fnv1a64(r.out, len));
        int want = (int)json_number(row, "count", -1);
        int same = r.code == 0 && count == want && !strcmp(hash, json_get(row, "fnv1a64")->string);
        CHECK(t, same, "%s on %s: %d ids (hash %s), llama-tokenize %d (hash %s); exit %d %s",
              model, text, count, hash, want, json_get(row, "fnv1a64")->string, r.code, r.err);
        *agree += same;
        (*total)++;
    }
    free(r.out);
}

/* The hard cases, one prompt each: the ids themselves. */
static void cases_match_llamacpp(TestContext *t, const JsonValue *cases, int *agree, int *total) {
    Output r = {0};
    for (int i = 0; cases && i < cases->n_items; i++) {
        const JsonValue *row = &cases->items[i];
        const char *model = reference_path(json_get(row, "model")->string);
        if (!model) continue;
        const char *prompt = json_get(row, "prompt")->string;
        const JsonValue *parse = json_get(row, "parse_special");
        const char *no_parse = parse && parse->kind == JSON_BOOL && !parse->number ? "--no-parse-special" : NULL;
        run(&r, (const char *[]){model, "--tokenize", "-p", prompt, "--ids", "--no-bos", no_parse, NULL});
        double want[512];
        int got[512], n_want = json_numbers(json_get(row, "ids"), want, 512);
        int n_got = r.code == 0 ? parse_ids(r.out, got, 512) : -1, same = n_got == n_want;
        for (int k = 0; same && k < n_got; k++) same = got[k] == (int)want[k];
        CHECK(t, same, "%s, \"%s\"%s: ./run %.200s, llama-tokenize differs (%d ids against %d)",
              model, prompt, no_parse ? " (no parse special)" : "", r.out, n_got, n_want);
        *agree += same;
        (*total)++;
    }
    free(r.out);
}

static void ids_match_llamacpp(TestContext *t) {
    JsonValue *ref = json_parse_file(LLAMACPP_REFERENCE);
    REQUIRE(t, ref, "cannot read " LLAMACPP_REFERENCE);
    int agree = 0, total = 0;
    files_match_llamacpp(t, json_get(ref, "files"), &agree, &total);
    cases_match_llamacpp(t, json_get(ref, "cases"), &agree, &total);
    CHECK(t, total >= 15, "only %d references checked", total); /* kjv.gguf alone: 1 text, 14 cases */
    json_free(ref);
}

/* The default listing and --json carry the ids of --ids, with the pieces --detokenize
 * joins back into the prompt. */
static void listing_json_and_round_trip(TestContext *t) {
    const char *prompt = "In the beginning\n\tGod  created <s> \xc3\xa9t\xc3\xa9";
    Output ids = {0}, list = {0}, json = {0}, back = {0};
    /* "<s>" stays text: by default it would become BOS, which decodes to nothing */
    run(&ids, (const char *[]){KJV, "--tokenize", "-p", prompt, "--ids", "--no-parse-special", NULL});
    run(&list, (const char *[]){KJV, "--tokenize", "-p", prompt, "--no-parse-special", NULL});
    run(&json, (const char *[]){KJV, "--tokenize", "-p", prompt, "--json", "--no-parse-special", NULL});
    int want[256], n = ids.code == 0 ? parse_ids(ids.out, want, 256) : -1;
    REQUIRE(t, n > 2 && want[0] == 1, "--ids: exit %d, '%.200s' %s", ids.code, ids.out, ids.err);
    /* the listing: n lines "id\tpiece", then "n tokens" */
    int lines = 0, same = list.code == 0;
    for (char *p = list.out; same && lines < n; lines++) {
        same = atoi(p) == want[lines] && strchr(p, '\t') && strchr(p, '\n');
        p = same ? strchr(p, '\n') + 1 : p;
        if (lines == n - 1 && same) {
            char count[32];
            snprintf(count, sizeof count, "%d tokens\n", n);
            same = strcmp(p, count) == 0;
        }
    }
    CHECK(t, same, "listing does not follow the ids: %.400s", list.out);
    CHECK(t, strstr(list.out, "1\t<s>\n") == list.out, "BOS is listed as: %.40s", list.out);
    JsonValue *doc = json.code == 0 ? json_parse(json.out) : NULL;
    const JsonValue *jids = doc ? json_get(doc, "ids") : NULL, *pieces = doc ? json_get(doc, "pieces") : NULL;
    int json_same = jids && pieces && jids->n_items == n && pieces->n_items == n;
    for (int i = 0; json_same && i < n; i++) json_same = (int)jids->items[i].number == want[i];
    CHECK(t, json_same, "--json ids differ from --ids: %.300s", json.out);
    json_free(doc);
    char list_text[2048] = "";
    for (int i = 1; i < n; i++) snprintf(list_text + strlen(list_text), 16, "%s%d", i > 1 ? " " : "", want[i]);
    run(&back, (const char *[]){KJV, "--detokenize", "--ids", list_text, NULL});
    CHECK(t, back.code == 0 && strcmp(back.out, prompt) == 0, "--detokenize gave '%s' (exit %d, %s)",
          back.out, back.code, back.err);
    free(ids.out), free(list.out), free(json.out), free(back.out);
}

/* kjv.gguf's vocabulary keys, and nothing else, in a new GGUF. */
static const char *write_vocabulary_only(TestContext *t) {
    char err[256] = "";
    Model m;
    if (model_open(&m, KJV, err, sizeof err) != 0) { test_fail_at(t, __FILE__, __LINE__, "%s", err); return NULL; }
    const ModelVocab *v = &m.vocab;
    GgufWriter *w = gguf_writer_new(err, sizeof err);
    int32_t *types = malloc((size_t)v->n_tokens * sizeof *types);
    int rc = w && types ? 0 : -1;
    for (int i = 0; rc == 0 && i < v->n_tokens; i++) types[i] = v->types ? v->types[i] : TOKEN_NORMAL;
    const char *path = temp_path("kjv-vocab.gguf");
    if (rc == 0)
        rc = gguf_writer_add_string(w, "general.architecture", "llama", err, sizeof err) ||
             gguf_writer_add_string(w, "tokenizer.ggml.model", "llama", err, sizeof err) ||
             gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", (const char *const *)v->pieces,
                                          v->piece_lengths, v->n_tokens, err, sizeof err) ||
             gguf_writer_add_f32_array(w, "tokenizer.ggml.scores", v->scores, v->n_tokens, err, sizeof err) ||
             gguf_writer_add_i32_array(w, "tokenizer.ggml.token_type", types, v->n_tokens, err, sizeof err) ||
             gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)v->bos_id, err, sizeof err) ||
             gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)v->eos_id, err, sizeof err) ||
             gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)v->unk_id, err, sizeof err) ||
             gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix, err, sizeof err) ||
             gguf_writer_add_bool(w, "tokenizer.ggml.remove_extra_whitespaces", v->remove_extra_whitespaces, err, sizeof err) ||
             gguf_writer_write(w, path, err, sizeof err) ? -1 : 0;
    if (rc != 0) test_fail_at(t, __FILE__, __LINE__, "writing %s: %s", path, err);
    gguf_writer_free(w);
    free(types);
    model_close(&m);
    return rc == 0 ? path : NULL;
}

static void vocabulary_only_file(TestContext *t) {
    const char *vocab = write_vocabulary_only(t);
    if (!vocab) return;
    const char *file = text_file(KJV_TEXT, "kjv-vocab.txt");
    REQUIRE(t, file, "cannot read " KJV_TEXT);
    ids_match(t, vocab, NULL, KJV_SPM, file);
    Output r = {0};
    run(&r, (const char *[]){vocab, "-p", "In the", "-n", "4", NULL});
    CHECK(t, r.code == 1 && strstr(r.err, "no weights"), "generation on a vocabulary: exit %d, %s",
          r.code, r.err);
    run(&r, (const char *[]){vocab, "--ppl", KJV_TEXT, NULL});
    CHECK(t, r.code == 1 && strstr(r.err, "no weights"), "--ppl on a vocabulary: exit %d, %s",
          r.code, r.err);
    free(r.out);
}

static const TestCase tokenize_tests[] = {
    {"kjv_ids_match_sentencepiece", kjv_ids_match_sentencepiece},
    {"stories_ids_match_sentencepiece", stories_ids_match_sentencepiece},
    {"listing_json_and_round_trip", listing_json_and_round_trip},
    {"vocabulary_only_file", vocabulary_only_file},
    {"ids_match_llamacpp", ids_match_llamacpp},
    {NULL, NULL},
};

TEST_SUITE(tokenize, tokenize_tests)
