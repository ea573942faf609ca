/* test_tokenizer_normalizer.c — the built-in tokenizer follows each model's own whitespace
 * rules (SentencePiece's normalizer_spec, recorded in GGUF as tokenizer.ggml.add_space_prefix
 * and tokenizer.ggml.remove_extra_whitespaces).  References from outside: libsentencepiece
 * itself on the same .model (ids must be identical on every paragraph and every whole file
 * of ../shared/data, on models/kjv-heldout.txt and on hand-made whitespace cases), the
 * training commands that fixed the flags (tools/train.py passes
 * --remove_extra_whitespaces=false for kjv.model; llama2.c trains tok512 with
 * SentencePiece's defaults, both flags on), and llama.cpp's defaults for files without the
 * keys (llama-vocab.cpp: add_space_prefix true for SPM, remove_extra_whitespaces false). */
#include "harness.h"

#include "../models/gguf.h"
#include "../models/gguf_writer.h"
#include "../tokenizer/model_vocab.h"
#include "../tokenizer/tokenizer.h"
#include "../tokenizer/vocab_export.h"
#include "../util/errors.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KJV_GGUF "models/kjv.gguf"
#define KJV_MODEL "models/kjv.model"
#define KJV_HELDOUT "models/kjv-heldout.txt"
#define TOK512_MODEL "models/tok512.model" /* under ../shared */

/* Runs of spaces, leading/trailing spaces, tabs, blank lines, CRLF and their mixtures. */
static const char *const WHITESPACE_CASES[] = {
    "", " ", "  ", "     ", "\t", "\n", "\r\n", " \n ", "\n\n\n",
    "two  spaces", "three   spaces", "many          spaces", "  leading two", " leading one",
    "trailing one ", "trailing two  ", "  both ends  ", "tab\tinside", "\ttab first",
    "tab last\t", " \t mixed \t ", "blank\n\nlines\n\n\nhere", "crlf\r\nline\r\n",
    "crlf blank\r\n\r\nline", "\r\n  indented after crlf", "space before newline \nnext",
    "newline\n  then spaces", "In the beginning  God created\tthe heaven\r\nand the earth. ",
    "a b  c   d    e     f", "  \xE2\x96\x81 literal U+2581  ", "nbsp\xC2\xA0is not a space",
};
#define N_WHITESPACE_CASES ((int)(sizeof WHITESPACE_CASES / sizeof WHITESPACE_CASES[0]))

typedef struct {
    int compared, agreeing;
} Agreement;

static int same_ids(const Tokenizer *a, const Tokenizer *b, const char *text, size_t len) {
    char err[ERR_LEN] = "";
    int na = tokenizer_encode(a, text, len, 1, NULL, 0, err, sizeof err);
    int nb = tokenizer_encode(b, text, len, 1, NULL, 0, err, sizeof err);
    if (na < 0 || na != nb) return 0;
    int *ia = malloc((size_t)na * sizeof *ia), *ib = malloc((size_t)nb * sizeof *ib);
    int same = ia && ib && tokenizer_encode(a, text, len, 1, ia, na, err, sizeof err) == na &&
               tokenizer_encode(b, text, len, 1, ib, nb, err, sizeof err) == nb &&
               memcmp(ia, ib, (size_t)na * sizeof *ia) == 0;
    free(ia), free(ib);
    return same;
}

/* Every non-empty line of the file, then the whole file as one text. */
static Agreement compare_file(const Tokenizer *sp, const Tokenizer *bt, const char *path) {
    Agreement a = {0, 0};
    size_t size;
    char *text = read_file(path, &size);
    if (!text) return a;
    for (size_t at = 0; at < size;) {
        const char *end = memchr(text + at, '\n', size - at);
        size_t len = end ? (size_t)(end - (text + at)) : size - at;
        if (len > 0) a.compared++, a.agreeing += same_ids(sp, bt, text + at, len);
        at += len + 1;
    }
    a.compared++, a.agreeing += same_ids(sp, bt, text, size);
    free(text);
    return a;
}

/* Compares on every *.txt of ../shared/data (when present), extra_file and the cases. */
static void compare_everywhere(TestContext *t, const Tokenizer *sp, const Tokenizer *bt,
                               const char *label, const char *extra_file) {
    const char *data_dir = shared_path("data");
    DIR *dir = data_dir ? opendir(data_dir) : NULL;
    int files = 0;
    for (struct dirent *e; dir && (e = readdir(dir));) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".txt") != 0) continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", data_dir, e->d_name);
        Agreement a = compare_file(sp, bt, path);
        CHECK(t, a.compared > 1 && a.agreeing == a.compared, "%s on %s: %d of %d texts agree",
              label, e->d_name, a.agreeing, a.compared);
        files++;
    }
    if (dir) closedir(dir);
    CHECK(t, !data_dir || files >= 3, "%s: only %d files in %s", label, files, data_dir);
    if (extra_file) {
        Agreement a = compare_file(sp, bt, extra_file);
        CHECK(t, a.compared > 100 && a.agreeing == a.compared, "%s on %s: %d of %d texts agree",
              label, extra_file, a.agreeing, a.compared);
    }
    for (int i = 0; i < N_WHITESPACE_CASES; i++)
        CHECK(t, same_ids(sp, bt, WHITESPACE_CASES[i], strlen(WHITESPACE_CASES[i])),
              "%s: whitespace case %d ('%s') differs from SentencePiece", label, i,
              WHITESPACE_CASES[i]);
}

static void normalizer_specs_of_the_models(TestContext *t) {
    char err[ERR_LEN] = "";
    ExportedVocab v;
    REQUIRE(t, exported_vocab_load(KJV_MODEL, &v, err, sizeof err) == 0, "%s", err);
    const SpmNormalizerSpec *s = &v.normalizer;
    CHECK(t, strcmp(s->name, "identity") == 0 && s->charsmap_bytes == 0 && s->escape_whitespaces &&
          s->flags.add_space_prefix == 1 && s->flags.remove_extra_whitespaces == 0,
          "kjv.model: '%s' charsmap %zu escape %d prefix %d remove %d", s->name,
          s->charsmap_bytes, s->escape_whitespaces, s->flags.add_space_prefix,
          s->flags.remove_extra_whitespaces);
    exported_vocab_free(&v);
    Tokenizer *sp = tokenizer_open_sentencepiece(KJV_MODEL, err, sizeof err);
    REQUIRE(t, sp, "%s", err);
    TokenizerNormalizer rules = tokenizer_normalizer(sp);
    CHECK(t, rules.add_space_prefix == 1 && rules.remove_extra_whitespaces == 0,
          "the shim reads prefix %d remove %d", rules.add_space_prefix, rules.remove_extra_whitespaces);
    tokenizer_free(sp);
    REQUIRE_SHARED(t, tok512, TOK512_MODEL);
    REQUIRE(t, exported_vocab_load(tok512, &v, err, sizeof err) == 0, "%s", err);
    CHECK(t, strcmp(s->name, "identity") == 0 && s->flags.add_space_prefix == 1 &&
          s->flags.remove_extra_whitespaces == 1, "tok512.model: '%s' prefix %d remove %d",
          s->name, s->flags.add_space_prefix, s->flags.remove_extra_whitespaces);
    exported_vocab_free(&v);
}

/* A malformed ModelProto is a clear error, not a guess. */
static void malformed_normalizer_spec(TestContext *t) {
    SpmNormalizerSpec spec;
    char err[ERR_LEN] = "";
    /* field 3 (normalizer_spec), length 5, but only 2 bytes follow */
    static const unsigned char cut[] = {0x1A, 0x05, 0x18, 0x00};
    CHECK(t, spm_read_normalizer_spec(cut, sizeof cut, &spec, err, sizeof err) == -1 &&
          strstr(err, "protobuf"), "cut message: '%s'", err);
    /* normalizer_spec {add_dummy_prefix: 0, remove_extra_whitespaces: 0} and nothing else */
    static const unsigned char flags_off[] = {0x1A, 0x04, 0x18, 0x00, 0x20, 0x00};
    REQUIRE(t, spm_read_normalizer_spec(flags_off, sizeof flags_off, &spec, err, sizeof err) == 0,
            "%s", err);
    CHECK(t, spec.flags.add_space_prefix == 0 && spec.flags.remove_extra_whitespaces == 0 &&
          spec.escape_whitespaces == 1, "flags read as %d %d %d", spec.flags.add_space_prefix,
          spec.flags.remove_extra_whitespaces, spec.escape_whitespaces);
    /* wire type 7 does not exist */
    static const unsigned char bad_wire[] = {0x1F, 0x00};
    CHECK(t, spm_read_normalizer_spec(bad_wire, sizeof bad_wire, &spec, err, sizeof err) == -1,
          "wire type 7 accepted");
}

static int kv_bool(const GgufFile *f, const char *key) {
    const GgufKv *kv = gguf_find_kv(f, key);
    return kv && kv->type == GGUF_BOOL ? (int)kv->value.u : -1;
}

/* models/kjv.gguf records kjv.model's flags; a file without the keys (../shared's
 * stories260K.gguf, converted by llama.cpp's tools) gets llama.cpp's defaults. */
static void gguf_records_and_defaults(TestContext *t) {
    char err[ERR_LEN] = "";
    size_t size;
    char *bytes = read_file(KJV_GGUF, &size);
    GgufFile f;
    REQUIRE(t, bytes && gguf_parse(&f, bytes, size, err, sizeof err) == 0, "%s", err);
    CHECK(t, kv_bool(&f, "tokenizer.ggml.add_space_prefix") == 1 &&
          kv_bool(&f, "tokenizer.ggml.remove_extra_whitespaces") == 0,
          "kjv.gguf records add_space_prefix %d remove_extra_whitespaces %d",
          kv_bool(&f, "tokenizer.ggml.add_space_prefix"),
          kv_bool(&f, "tokenizer.ggml.remove_extra_whitespaces"));
    gguf_free(&f), free(bytes);
    REQUIRE_SHARED(t, stories, "models/stories260K.gguf");
    Model m;
    REQUIRE(t, model_open(&m, stories, err, sizeof err) == 0, "%s", err);
    CHECK(t, m.vocab.add_space_prefix == 1 && m.vocab.remove_extra_whitespaces == 0,
          "stories260K.gguf (no keys): prefix %d remove %d", m.vocab.add_space_prefix,
          m.vocab.remove_extra_whitespaces);
    model_close(&m);
}

/* kjv.model keeps extra whitespace: the default path (the GGUF's own vocabulary) must
 * tokenize exactly as SentencePiece does everywhere. */
static void kjv_builtin_matches_sentencepiece(TestContext *t) {
    char err[ERR_LEN] = "";
    Model m;
    REQUIRE(t, model_open(&m, KJV_GGUF, err, sizeof err) == 0, "%s", err);
    Tokenizer *bt = tokenizer_from_model_vocab(&m.vocab, err, sizeof err);
    model_close(&m);
    Tokenizer *sp = tokenizer_open_sentencepiece(KJV_MODEL, err, sizeof err);
    REQUIRE(t, sp && bt, "%s", err);
    compare_everywhere(t, sp, bt, "kjv", KJV_HELDOUT);
    tokenizer_free(sp), tokenizer_free(bt);
}

/* tok512.model removes extra whitespace: its vocabulary as the converter exports it (the
 * flags from the .model) must tokenize as SentencePiece does. */
static void tok512_export_matches_sentencepiece(TestContext *t) {
    REQUIRE_SHARED(t, path, TOK512_MODEL);
    char err[ERR_LEN] = "";
    ExportedVocab v;
    REQUIRE(t, exported_vocab_load(path, &v, err, sizeof err) == 0, "%s", err);
    TokenizerVocab tv = {.n_tokens = v.n_tokens, .pieces = (const char *const *)v.pieces,
                         .piece_lengths = v.piece_lengths, .scores = v.scores, .types = v.types,
                         .bos_id = v.bos_id, .eos_id = v.eos_id, .unk_id = v.unk_id,
                         .normalizer = v.normalizer.flags};
    Tokenizer *bt = tokenizer_from_vocab(&tv, err, sizeof err);
    exported_vocab_free(&v);
    Tokenizer *sp = tokenizer_open_sentencepiece(path, err, sizeof err);
    REQUIRE(t, sp && bt, "%s", err);
    compare_everywhere(t, sp, bt, "tok512", KJV_HELDOUT);
    tokenizer_free(sp), tokenizer_free(bt);
}

/* Hand-derived: "  a  b " under each rule set, over pieces ▁ (1), a (2), b (3), ▁a (4):
 * the normalized text is then merged greedily, and only "▁a" merges.
 *   prefix 1, remove 1: "▁a▁b"       -> ▁a ▁ b
 *   prefix 1, remove 0: "▁▁▁a▁▁b▁"   -> ▁ ▁ ▁a ▁ ▁ b ▁
 *   prefix 0, remove 0: "▁▁a▁▁b▁"    -> ▁ ▁a ▁ ▁ b ▁
 *   prefix 0, remove 1: "a▁b"        -> a ▁ b                                        */
static void rules_by_hand(TestContext *t) {
    const char *pieces[] = {"<unk>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a"};
    const int lengths[] = {5, 3, 1, 1, 4};
    const float scores[] = {0, -1, -1, -1, -0.5f};
    const int types[] = {2, 1, 1, 1, 1};
    static const struct { TokenizerNormalizer rules; int n; int ids[8]; } cases[] = {
        {{1, 1}, 3, {4, 1, 3}},
        {{1, 0}, 7, {1, 1, 4, 1, 1, 3, 1}},
        {{0, 0}, 6, {1, 4, 1, 1, 3, 1}},
        {{0, 1}, 3, {2, 1, 3}},
    };
    for (int k = 0; k < 4; k++) {
        TokenizerVocab tv = {.n_tokens = 5, .pieces = pieces, .piece_lengths = lengths, .scores = scores,
                             .types = types, .bos_id = -1, .eos_id = -1, .unk_id = 0,
                             .normalizer = cases[k].rules};
        char err[ERR_LEN] = "";
        Tokenizer *tok = tokenizer_from_vocab(&tv, err, sizeof err);
        REQUIRE(t, tok, "%s", err);
        int ids[16];
        int n = tokenizer_encode(tok, "  a  b ", 7, 0, ids, 16, err, sizeof err);
        CHECK(t, n == cases[k].n && memcmp(ids, cases[k].ids, (size_t)n * sizeof(int)) == 0,
              "rules prefix %d remove %d: %d ids (want %d), first %d",
              cases[k].rules.add_space_prefix, cases[k].rules.remove_extra_whitespaces, n,
              cases[k].n, n > 0 ? ids[0] : -1);
        tokenizer_free(tok);
    }
}

/* Offset of the value type that follows key's name in a GGUF's metadata, or 0. */
static size_t type_offset_of(const char *bytes, size_t size, const char *key) {
    size_t n = strlen(key);
    for (size_t at = 8; at + n + 5 <= size; at++)
        if (memcmp(bytes + at, key, n) == 0 && memcmp(bytes + at - 8, &(uint64_t){n}, 8) == 0)
            return at + n;
    return 0;
}

/* kjv.gguf patched in place: the flag flipped to true takes effect (runs of spaces then
 * tokenize as one), and a key of the wrong type is refused with a line naming it. */
static void gguf_flags_patched(TestContext *t) {
    static const char KEY[] = "tokenizer.ggml.remove_extra_whitespaces";
    char err[ERR_LEN] = "";
    size_t size;
    char *bytes = read_file(KJV_GGUF, &size);
    size_t at = bytes ? type_offset_of(bytes, size, KEY) : 0;
    REQUIRE(t, at > 0 && bytes[at] == GGUF_BOOL && bytes[at + 4] == 0, "no false bool %s", KEY);
    const char *path = temp_path("flags.gguf");
    bytes[at + 4] = 1;
    Model m;
    REQUIRE(t, write_file(path, bytes, size) == 0 && model_open(&m, path, err, sizeof err) == 0,
            "%s", err);
    Tokenizer *tok = tokenizer_from_model_vocab(&m.vocab, err, sizeof err);
    model_close(&m);
    REQUIRE(t, tok, "%s", err);
    int spaced[32], single[32];
    int n1 = tokenizer_encode(tok, "  In  the   beginning ", 22, 0, spaced, 32, err, sizeof err);
    int n2 = tokenizer_encode(tok, "In the beginning", 16, 0, single, 32, err, sizeof err);
    CHECK(t, n1 > 0 && n1 == n2 && memcmp(spaced, single, (size_t)n1 * sizeof(int)) == 0,
          "with remove_extra_whitespaces true: %d ids vs %d", n1, n2);
    tokenizer_free(tok);
    bytes[at] = GGUF_UINT8; /* same one-byte payload, wrong type */
    REQUIRE(t, write_file(path, bytes, size) == 0, "cannot write %s", path);
    CHECK(t, model_open(&m, path, err, sizeof err) == -1 && strstr(err, KEY) &&
          strstr(err, "must be a bool"), "wrong type: '%s'", err);
    free(bytes);
}

static const TestCase normalizer_tests[] = {
    {"normalizer_specs_of_the_models", normalizer_specs_of_the_models},
    {"malformed_normalizer_spec", malformed_normalizer_spec},
    {"gguf_records_and_defaults", gguf_records_and_defaults},
    {"rules_by_hand", rules_by_hand},
    {"kjv_builtin_matches_sentencepiece", kjv_builtin_matches_sentencepiece},
    {"tok512_export_matches_sentencepiece", tok512_export_matches_sentencepiece},
    {"gguf_flags_patched", gguf_flags_patched},
    {NULL, NULL},
};

TEST_SUITE(tokenizer_normalizer, normalizer_tests)
