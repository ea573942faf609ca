/* test_tokenizer.c — both tokenizer back ends against outside references: SentencePiece's
 * own output for tok512 quoted in ../shared/models/PROVENANCE.md, libsentencepiece itself
 * (the built-in tokenizer must give its ids on every TinyStories paragraph and on edge
 * cases), ids derived by hand from tok512's layout, and bad inputs. */
#include "harness.h"

#include "../tokenizer/tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_FILE "models/tok512.model"
#define BIN_FILE "models/tok512.bin"
#define STORIES_FILE "data/tinystories_valid_first232.txt"
#define VOCAB 512

/* tok512 layout (PROVENANCE.md): 0 <unk>, 1 BOS, 2 EOS, 3 + b = <0xbb>, then BPE merges. */
enum { UNK = 0, BOS = 1, EOS = 2, BYTE0 = 3 };

/* SentencePiece 0.1.97 on tok512.model, quoted in PROVENANCE.md. */
static const char ONCE_TEXT[] = "Once upon a time, there was a little girl named Lily.";
static const int ONCE_IDS[] = {403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315, 421, 395, 317, 426};
static const char HELLO_TEXT[] = "hello \xE4\xBD\xA0"; /* "hello 你" */
static const int HELLO_IDS[] = {281, 306, 414, 410, 231, 192, 163};
enum { SPACE_PIECE = 410 }; /* "▁": the 4th piece of HELLO_IDS (▁he ll o ▁ <0xE4> <0xBD> <0xA0>) */

static Tokenizer *open_sentencepiece(TestContext *t) {
    const char *path = shared_path(MODEL_FILE);
    if (!path) return NULL;
    char err[256] = "";
    Tokenizer *tok = tokenizer_open_sentencepiece(path, err, sizeof err);
    CHECK(t, tok != NULL, "open %s: %s", path, err);
    return tok;
}

static Tokenizer *open_builtin(TestContext *t) {
    const char *path = shared_path(BIN_FILE);
    if (!path) return NULL;
    char err[256] = "";
    Tokenizer *tok = tokenizer_open_llama2c(path, VOCAB, err, sizeof err);
    CHECK(t, tok != NULL, "open %s: %s", path, err);
    return tok;
}

/* Encodes into a fresh array (caller frees): asks for the count first, then the ids;
 * *n gets the count, -1 on error. */
static int *encode(TestContext *t, const Tokenizer *tok, const char *text, size_t len, int add_bos, int *n) {
    char err[256] = "";
    int count = tokenizer_encode(tok, text, len, add_bos, NULL, 0, err, sizeof err);
    int *ids = malloc((size_t)(count > 0 ? count : 1) * sizeof *ids);
    *n = ids && count >= 0 ? tokenizer_encode(tok, text, len, add_bos, ids, count, err, sizeof err) : -1;
    CHECK(t, *n >= 0 && *n == count, "%s encode of %zu bytes failed: %s", tokenizer_backend_name(tok), len, err);
    return ids;
}

static void check_ids(TestContext *t, const Tokenizer *tok, const char *text, size_t len, int add_bos,
                      const int *want, int n_want) {
    int n;
    int *got = encode(t, tok, text, len, add_bos, &n);
    CHECK(t, n == n_want, "%s: '%s' gives %d ids, want %d", tokenizer_backend_name(tok), text, n, n_want);
    for (int i = 0; i < n && i < n_want; i++)
        CHECK(t, got[i] == want[i], "%s: '%s' id %d is %d, want %d", tokenizer_backend_name(tok), text, i, got[i], want[i]);
    free(got);
}

static void check_references(TestContext *t, const Tokenizer *tok) {
    check_ids(t, tok, ONCE_TEXT, strlen(ONCE_TEXT), 0, ONCE_IDS, 15);
    check_ids(t, tok, HELLO_TEXT, strlen(HELLO_TEXT), 0, HELLO_IDS, 7);
    int with_bos[16] = {BOS};
    memcpy(with_bos + 1, ONCE_IDS, sizeof ONCE_IDS);
    check_ids(t, tok, ONCE_TEXT, strlen(ONCE_TEXT), 1, with_bos, 16);
    CHECK(t, tokenizer_vocab_size(tok) == VOCAB, "vocab size %d", tokenizer_vocab_size(tok));
    CHECK(t, tokenizer_bos(tok) == BOS && tokenizer_eos(tok) == EOS, "bos %d eos %d", tokenizer_bos(tok), tokenizer_eos(tok));
}

static void sentencepiece_matches_provenance(TestContext *t) {
    REQUIRE_SHARED(t, path, MODEL_FILE);
    Tokenizer *tok = open_sentencepiece(t);
    REQUIRE(t, tok, "no tokenizer");
    CHECK(t, strcmp(tokenizer_backend_name(tok), "sentencepiece") == 0, "backend %s", tokenizer_backend_name(tok));
    check_references(t, tok);
    tokenizer_free(tok);
}

static void builtin_matches_provenance(TestContext *t) {
    REQUIRE_SHARED(t, path, BIN_FILE);
    Tokenizer *tok = open_builtin(t);
    REQUIRE(t, tok, "no tokenizer");
    CHECK(t, strcmp(tokenizer_backend_name(tok), "builtin") == 0, "backend %s", tokenizer_backend_name(tok));
    check_references(t, tok);
    tokenizer_free(tok);
}

/* tok512.bin read here independently, with GGUF token types set as PROVENANCE.md gives them:
 * 0 unknown (2), 1-2 control (3), 3..258 byte (6), the rest normal (1). */
typedef struct {
    char *pieces[VOCAB];
    int lengths[VOCAB], types[VOCAB];
    float scores[VOCAB];
} TypedVocab;

static int read_typed_vocab(const char *path, TypedVocab *v) {
    size_t size, at = 4;
    unsigned char *data = (unsigned char *)read_file(path, &size);
    if (!data) return -1;
    for (int i = 0; i < VOCAB; i++) {
        int32_t len;
        memcpy(&v->scores[i], data + at, 4);
        memcpy(&len, data + at + 4, 4);
        at += 8;
        v->pieces[i] = malloc(3 * (size_t)len + 1);
        int n = 0;
        for (int k = 0; k < len; k++) {
            if (data[at + k] == ' ') memcpy(v->pieces[i] + n, "\xE2\x96\x81", 3), n += 3; /* ' ' -> U+2581 */
            else v->pieces[i][n++] = (char)data[at + k];
        }
        at += (size_t)len;
        v->lengths[i] = n;
        v->types[i] = i == 0 ? 2 : i <= 2 ? 3 : i <= 258 ? 6 : 1;
    }
    free(data);
    return 0;
}

static void builtin_with_token_types(TestContext *t) {
    REQUIRE_SHARED(t, path, BIN_FILE);
    TypedVocab *v = calloc(1, sizeof *v);
    REQUIRE(t, v && read_typed_vocab(path, v) == 0, "cannot read %s", path);
    TokenizerVocab vocab = {.n_tokens = VOCAB, .pieces = (const char *const *)v->pieces,
                            .piece_lengths = v->lengths, .scores = v->scores, .types = v->types,
                            .bos_id = BOS, .eos_id = EOS, .unk_id = UNK,
                            .normalizer = {1, 1}}; /* tok512.model's normalizer_spec */
    char err[256] = "";
    Tokenizer *tok = tokenizer_from_vocab(&vocab, err, sizeof err);
    for (int i = 0; i < VOCAB; i++) free(v->pieces[i]);
    free(v);
    REQUIRE(t, tok, "tokenizer_from_vocab: %s", err);
    check_references(t, tok);
    char out[64];
    /* The control pieces here are still spelled "\n<s>\n": typed CONTROL, they decode to "". */
    CHECK(t, tokenizer_decode_piece(tok, -1, BOS, out, sizeof out) == 0, "BOS decodes to '%s'", out);
    CHECK(t, tokenizer_decode_piece(tok, 5, BYTE0 + 'A', out, sizeof out) == 1 && out[0] == 'A', "byte piece <0x41>");
    tokenizer_free(tok);
}

/* SentencePiece's whitespace normalisation (remove_extra_whitespaces, tok512's default):
 * leading and trailing spaces dropped, runs of spaces collapsed. What decode gives back. */
static size_t collapse_spaces(const char *text, size_t len, char *out) {
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' || (n > 0 && out[n - 1] != ' ')) out[n++] = text[i];
    while (n > 0 && out[n - 1] == ' ') n--;
    return n;
}

/* Both back ends give the same ids and decode back to the (space-normalised) text. */
static int compare_backends(TestContext *t, const Tokenizer *sp, const Tokenizer *bt, const char *text,
                            size_t len, const char *label) {
    int n_sp, n_bt, same = 1;
    int *ids_sp = encode(t, sp, text, len, 1, &n_sp), *ids_bt = encode(t, bt, text, len, 1, &n_bt);
    if (n_sp != n_bt || memcmp(ids_sp, ids_bt, (size_t)(n_sp > 0 ? n_sp : 0) * sizeof(int)) != 0) {
        CHECK(t, 0, "%s: built-in ids differ from SentencePiece (%d vs %d ids)", label, n_bt, n_sp);
        same = 0;
    }
    char *want = malloc(len + 1), *got = malloc(3 * len + 8);
    size_t want_len = collapse_spaces(text, len, want);
    const Tokenizer *both[2] = {sp, bt};
    const int *ids[2] = {ids_sp, ids_bt}, n[2] = {n_sp, n_bt};
    for (int k = 0; k < 2; k++) {
        size_t got_len = tokenizer_decode(both[k], ids[k], n[k], got, 3 * len + 8);
        if (got_len != want_len || memcmp(got, want, want_len) != 0) {
            CHECK(t, 0, "%s: %s decode(encode(text)) differs from the text", label, tokenizer_backend_name(both[k]));
            same = 0;
        }
    }
    free(want), free(got), free(ids_sp), free(ids_bt);
    return same;
}

static void every_paragraph_matches_sentencepiece(TestContext *t) {
    REQUIRE_SHARED(t, model_path, MODEL_FILE);
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    REQUIRE_SHARED(t, stories, STORIES_FILE);
    size_t size;
    char *text = read_file(stories, &size);
    Tokenizer *sp = open_sentencepiece(t), *bt = open_builtin(t);
    REQUIRE(t, text && sp && bt, "cannot open the inputs");
    int paragraphs = 0, agreeing = 0;
    for (size_t at = 0; at < size;) {
        const char *end = memchr(text + at, '\n', size - at);
        size_t len = end ? (size_t)(end - (text + at)) : size - at;
        if (len > 0) {
            char label[64];
            snprintf(label, sizeof label, "paragraph %d", paragraphs);
            agreeing += compare_backends(t, sp, bt, text + at, len, label);
            paragraphs++;
        }
        at += len + 1;
    }
    CHECK(t, paragraphs == 1346, "%d paragraphs, the file has 1346 non-empty lines", paragraphs);
    CHECK(t, agreeing == paragraphs, "%d of %d paragraphs agree", agreeing, paragraphs);
    tokenizer_free(sp), tokenizer_free(bt), free(text);
}

/* A whole book-sized file (newlines and all) as one text: same ids as SentencePiece, and
 * fast enough (an O(n log n) merge) to finish well inside the time budget. */
static void check_whole_file(TestContext *t, const char *relative, int min_ids) {
    const char *path = shared_path(relative);
    if (!path) return;
    size_t size;
    char *text = read_file(path, &size);
    Tokenizer *sp = open_sentencepiece(t), *bt = open_builtin(t);
    REQUIRE(t, text && sp && bt, "cannot open the inputs for %s", relative);
    int n_sp, n_bt;
    int *ids_sp = encode(t, sp, text, size, 0, &n_sp), *ids_bt = encode(t, bt, text, size, 0, &n_bt);
    CHECK(t, n_sp > min_ids && n_sp == n_bt, "%s: %d built-in ids vs %d SentencePiece ids", relative, n_bt, n_sp);
    int first_diff = -1;
    for (int i = 0; i < n_sp && i < n_bt && first_diff < 0; i++)
        if (ids_sp[i] != ids_bt[i]) first_diff = i;
    CHECK(t, first_diff < 0, "%s: ids differ first at %d", relative, first_diff);
    free(ids_sp), free(ids_bt), free(text);
    tokenizer_free(sp), tokenizer_free(bt);
}

static void whole_files_match_sentencepiece(TestContext *t) {
    REQUIRE_SHARED(t, model_path, MODEL_FILE);
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    REQUIRE_SHARED(t, stories, STORIES_FILE);
    check_whole_file(t, STORIES_FILE, 100000);                       /* 207 KB: 101,936 ids */
    check_whole_file(t, "data/alice_in_wonderland_pg11.txt", 80000); /* curly quotes as bytes */
}

typedef struct {
    const char *text;
    size_t len;
} Sample;
#define SAMPLE(s) {s, sizeof(s) - 1}

static void edge_cases_match_sentencepiece(TestContext *t) {
    REQUIRE_SHARED(t, model_path, MODEL_FILE);
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    static const Sample samples[] = {
        SAMPLE(""), SAMPLE(" "), SAMPLE("    "), SAMPLE("  leading"), SAMPLE("trailing  "),
        SAMPLE("double  space   triple"), SAMPLE(" a b  c   "), SAMPLE("tab\there\t"), SAMPLE("\t"),
        SAMPLE("line\nbreak\n\n"), SAMPLE("\n"), SAMPLE(" \n "), SAMPLE("digits 1234567890 3.14"),
        SAMPLE("emoji \xF0\x9F\x98\x80 and \xE2\x9C\xA8!"), SAMPLE("bad \xFF byte"), SAMPLE("\x80\xBF"),
        SAMPLE("cut \xE4\xBD"), SAMPLE("overlong \xC0\x80 surrogate \xED\xA0\x80 big \xF4\x90\x80\x80"),
        SAMPLE("nul\0inside"), SAMPLE("\0"), SAMPLE("\xE2\x96\x81 literal U+2581 \xE2\x96\x81"),
        SAMPLE("\xE2\x96\x81"), SAMPLE("\xEF\xBF\xBD replacement char"), SAMPLE("<s> </s> <unk> <0x41>"),
        SAMPLE("Once upon a time.  \"Hello!\" she said, (and) [it] {was} ~fun~ #1 @2 $3 %4 ^5 &6 *7"),
        /* Ties between equal merges ("ll", "pp", "oo" twice in a row): the leftmost goes first. */
        SAMPLE("xlll ylll zppp qooo ooooo lllll"),
        SAMPLE("\xE2\x80\x9C" "curly\xE2\x80\x9D \xE2\x80\x99 caf\xC3\xA9 na\xC3\xAF" "ve \xE4\xBD\xA0\xE5\xA5\xBD"),
    };
    Tokenizer *sp = open_sentencepiece(t), *bt = open_builtin(t);
    REQUIRE(t, sp && bt, "cannot open the tokenizers");
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        int n_sp, n_bt;
        int *ids_sp = encode(t, sp, samples[i].text, samples[i].len, 0, &n_sp);
        int *ids_bt = encode(t, bt, samples[i].text, samples[i].len, 0, &n_bt);
        int same = n_sp == n_bt && memcmp(ids_sp, ids_bt, (size_t)(n_sp > 0 ? n_sp : 0) * sizeof(int)) == 0;
        CHECK(t, same, "sample %zu ('%s'): built-in gives %d ids, SentencePiece %d, or they differ", i,
              samples[i].text, n_bt, n_sp);
        free(ids_sp), free(ids_bt);
    }
    tokenizer_free(sp), tokenizer_free(bt);
}

/* Seeded random byte strings (spaces, letters, raw high bytes, NUL, newlines): same ids as
 * SentencePiece, and no crash on arbitrary bytes. */
static void random_bytes_match_sentencepiece(TestContext *t) {
    REQUIRE_SHARED(t, model_path, MODEL_FILE);
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    Tokenizer *sp = open_sentencepiece(t), *bt = open_builtin(t);
    REQUIRE(t, sp && bt, "cannot open the tokenizers");
    static const char alphabet[] = "  aelop\n\t\0.\xE2\x96\x81\xE4\xBD\xA0\xFF\x80\xC3";
    uint32_t state = 12345;
    int agreeing = 0;
    for (int round = 0; round < 500; round++) {
        char text[48];
        size_t len = (size_t)(round % 48);
        for (size_t i = 0; i < len; i++) {
            state = state * 1664525u + 1013904223u; /* Numerical Recipes LCG */
            text[i] = alphabet[(state >> 16) % (sizeof alphabet - 1)];
        }
        int n_sp, n_bt;
        int *ids_sp = encode(t, sp, text, len, 0, &n_sp), *ids_bt = encode(t, bt, text, len, 0, &n_bt);
        agreeing += n_sp == n_bt && memcmp(ids_sp, ids_bt, (size_t)(n_sp > 0 ? n_sp : 0) * sizeof(int)) == 0;
        free(ids_sp), free(ids_bt);
    }
    CHECK(t, agreeing == 500, "%d of 500 random strings agree with SentencePiece", agreeing);
    tokenizer_free(sp), tokenizer_free(bt);
}

/* Ids derived by hand from tok512's layout and SentencePiece's normaliser. */
static void edge_cases_by_hand(TestContext *t) {
    REQUIRE_SHARED(t, model_path, MODEL_FILE);
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    Tokenizer *both[2] = {open_sentencepiece(t), open_builtin(t)};
    REQUIRE(t, both[0] && both[1], "cannot open the tokenizers");
    for (int k = 0; k < 2; k++) {
        const Tokenizer *tok = both[k];
        /* Empty and all-space text normalise to nothing: no ids, not even the dummy "▁". */
        check_ids(t, tok, "", 0, 0, NULL, 0);
        check_ids(t, tok, "   ", 3, 0, NULL, 0);
        static const int bos_only[] = {BOS};
        check_ids(t, tok, "  ", 2, 1, bos_only, 1);
        /* " \n" -> "▁\n": "▁" is a piece (410), "\n" has none -> <0x0A> = 3 + 10. */
        static const int newline[] = {SPACE_PIECE, BYTE0 + 0x0A};
        check_ids(t, tok, " \n", 2, 0, newline, 2);
        /* 0xFF is not UTF-8: SentencePiece replaces it by U+FFFD = EF BF BD, then byte pieces. */
        static const int invalid[] = {SPACE_PIECE, BYTE0 + 0xEF, BYTE0 + 0xBF, BYTE0 + 0xBD};
        check_ids(t, tok, "\xFF", 1, 0, invalid, 4);
        /* NUL is a valid character with no piece: <0x00> = 3. */
        static const int nul[] = {SPACE_PIECE, BYTE0 + 0x00};
        check_ids(t, tok, "\0", 1, 0, nul, 2);
    }
    tokenizer_free(both[0]), tokenizer_free(both[1]);
}

static void decode_rules(TestContext *t) {
    REQUIRE_SHARED(t, model_path, MODEL_FILE);
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    Tokenizer *both[2] = {open_sentencepiece(t), open_builtin(t)};
    REQUIRE(t, both[0] && both[1], "cannot open the tokenizers");
    for (int k = 0; k < 2; k++) {
        const Tokenizer *tok = both[k];
        const char *name = tokenizer_backend_name(tok);
        char out[64];
        /* 403 = "▁Once", 407 = "▁upon" (PROVENANCE.md): the space goes after BOS/at the start only. */
        CHECK(t, tokenizer_decode_piece(tok, BOS, 403, out, sizeof out) == 4 && strcmp(out, "Once") == 0, "%s: '%s'", name, out);
        CHECK(t, tokenizer_decode_piece(tok, -1, 403, out, sizeof out) == 4 && strcmp(out, "Once") == 0, "%s: '%s'", name, out);
        CHECK(t, tokenizer_decode_piece(tok, 403, 407, out, sizeof out) == 5 && strcmp(out, " upon") == 0, "%s: '%s'", name, out);
        CHECK(t, tokenizer_decode_piece(tok, 403, BYTE0 + 0x0A, out, sizeof out) == 1 && strcmp(out, "\n") == 0, "%s: byte", name);
        CHECK(t, tokenizer_decode_piece(tok, 403, BOS, out, sizeof out) == 0 && out[0] == '\0', "%s: BOS gave '%s'", name, out);
        CHECK(t, tokenizer_decode_piece(tok, 403, EOS, out, sizeof out) == 0, "%s: EOS gave '%s'", name, out);
        CHECK(t, tokenizer_decode_piece(tok, 403, VOCAB, out, sizeof out) == 0, "%s: out-of-range id", name);
        CHECK(t, tokenizer_decode_piece(tok, 403, -7, out, sizeof out) == 0, "%s: negative id", name);
        /* Truncation: " upon" into 3 bytes keeps " u". */
        CHECK(t, tokenizer_decode_piece(tok, 403, 407, out, 3) == 2 && strcmp(out, " u") == 0, "%s: '%s'", name, out);
        /* Whole sequence: BOS ▁Once ▁upon ▁a ▁time , -> "Once upon a time,"; total length
         * reported even when the buffer is short. */
        const int ids[] = {BOS, 403, 407, 261, 378, 432};
        CHECK(t, tokenizer_decode(tok, ids, 6, out, sizeof out) == 17 && strcmp(out, "Once upon a time,") == 0, "%s: '%s'", name, out);
        CHECK(t, tokenizer_decode(tok, ids, 6, out, 5) == 17 && strcmp(out, "Once") == 0, "%s: '%s'", name, out);
        CHECK(t, tokenizer_decode(tok, ids, 6, NULL, 0) == 17, "%s: length only", name);
    }
    tokenizer_free(both[0]), tokenizer_free(both[1]);
}

/* A short id buffer: the full count comes back and the prefix is written. */
static void encode_short_buffer(TestContext *t) {
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    REQUIRE_SHARED(t, model_path, MODEL_FILE);
    Tokenizer *both[2] = {open_sentencepiece(t), open_builtin(t)};
    REQUIRE(t, both[0] && both[1], "cannot open the tokenizers");
    for (int k = 0; k < 2; k++) {
        int ids[4] = {-9, -9, -9, -9};
        char err[256] = "";
        int n = tokenizer_encode(both[k], ONCE_TEXT, strlen(ONCE_TEXT), 1, ids, 3, err, sizeof err);
        CHECK(t, n == 16, "%s: count %d (%s)", tokenizer_backend_name(both[k]), n, err);
        CHECK(t, ids[0] == BOS && ids[1] == 403 && ids[2] == 407 && ids[3] == -9, "%s: prefix %d %d %d %d",
              tokenizer_backend_name(both[k]), ids[0], ids[1], ids[2], ids[3]);
        CHECK(t, tokenizer_encode(both[k], ONCE_TEXT, strlen(ONCE_TEXT), 1, NULL, 0, err, sizeof err) == 16, "count only");
        CHECK(t, tokenizer_encode(both[k], NULL, 5, 0, ids, 4, err, sizeof err) == -1 && strstr(err, "NULL"), "NULL text: %s", err);
        CHECK(t, tokenizer_encode(both[k], "a", 1, 0, ids, -1, err, sizeof err) == -1 && strstr(err, "negative"), "%s", err);
    }
    tokenizer_free(both[0]), tokenizer_free(both[1]);
}

/* Opening must fail with a message containing `expect`. */
static void expect_llama2c_error(TestContext *t, const void *data, size_t size, int vocab, const char *expect) {
    const char *path = temp_path("tokenizer.bin");
    REQUIRE(t, write_file(path, data, size) == 0, "cannot write %s", path);
    char err[256] = "";
    Tokenizer *tok = tokenizer_open_llama2c(path, vocab, err, sizeof err);
    CHECK(t, tok == NULL, "a bad tokenizer.bin (%s) was accepted", expect);
    CHECK(t, strstr(err, expect) != NULL, "error '%s' does not mention '%s'", err, expect);
    tokenizer_free(tok);
}

static void bad_llama2c_files(TestContext *t) {
    REQUIRE_SHARED(t, bin_path, BIN_FILE);
    size_t size;
    char *good = read_file(bin_path, &size);
    REQUIRE(t, good && size == 6227, "tok512.bin has %zu bytes", size);
    char err[256] = "";
    CHECK(t, tokenizer_open_llama2c("/nonexistent/tokenizer.bin", VOCAB, err, sizeof err) == NULL &&
          strstr(err, "cannot open"), "missing file: '%s'", err);
    CHECK(t, tokenizer_open_llama2c(bin_path, 0, err, sizeof err) == NULL && strstr(err, "vocab_size"), "%s", err);
    expect_llama2c_error(t, good, 2, VOCAB, "too short");
    expect_llama2c_error(t, good, size - 3, VOCAB, "truncated");
    expect_llama2c_error(t, good, size, VOCAB - 1, "wrong vocab_size");
    expect_llama2c_error(t, good, size, VOCAB + 1, "truncated");
    /* Token 0 is the first record: score at byte 4, length at byte 8. */
    char *bad = malloc(size);
    int32_t negative = -5, huge = 0x7fffff00;
    memcpy(bad, good, size), memcpy(bad + 8, &negative, 4);
    expect_llama2c_error(t, bad, size, VOCAB, "length -5");
    memcpy(bad, good, size), memcpy(bad + 8, &huge, 4);
    expect_llama2c_error(t, bad, size, VOCAB, "length");
    memcpy(bad, good, size), memcpy(bad, &huge, 4); /* a huge max_token_length in the header */
    expect_llama2c_error(t, bad, size, VOCAB, "max_token_length");
    int32_t big = 60000; /* plausible header, but the piece runs past the end of the file */
    memcpy(bad, &big, 4), memcpy(bad + 8, &big, 4);
    expect_llama2c_error(t, bad, size, VOCAB, "truncated");
    free(bad), free(good);
}

static void bad_sentencepiece_files(TestContext *t) {
    char err[256] = "";
    CHECK(t, tokenizer_open_sentencepiece("/nonexistent/tok.model", err, sizeof err) == NULL &&
          strstr(err, "does not exist"), "missing model: '%s'", err);
    const char *garbage_path = temp_path("garbage.model");
    const char garbage[] = "this is not a protobuf \xFF\xFF\xFF\xFF\x01\x02";
    REQUIRE(t, write_file(garbage_path, garbage, sizeof garbage) == 0, "cannot write");
    err[0] = '\0';
    CHECK(t, tokenizer_open_sentencepiece(garbage_path, err, sizeof err) == NULL && strlen(err) > 10,
          "garbage model accepted or no message: '%s'", err);
    const char *empty_path = temp_path("empty.model");
    REQUIRE(t, write_file(empty_path, "", 0) == 0, "cannot write");
    err[0] = '\0';
    CHECK(t, tokenizer_open_sentencepiece(empty_path, err, sizeof err) == NULL && strlen(err) > 10,
          "empty model accepted or no message: '%s'", err);
    err[0] = '\0';
    CHECK(t, tokenizer_open_sentencepiece("/tmp", err, sizeof err) == NULL && strstr(err, "regular file"), "'%s'", err);
}

static void bad_vocabularies(TestContext *t) {
    const char *pieces[] = {"<unk>", "<s>", "a", "<0x41>", "b"};
    const int lengths[] = {5, 3, 1, 6, 1};
    const float scores[] = {0, 0, -1, 0, -2};
    int types[] = {2, 3, 1, 6, 1};
    char err[256] = "";
    TokenizerVocab ok = {.n_tokens = 5, .pieces = pieces, .piece_lengths = lengths, .scores = scores,
                         .types = types, .bos_id = 1, .eos_id = -1, .unk_id = 0, .normalizer = {1, 1}};
    Tokenizer *tok = tokenizer_from_vocab(&ok, err, sizeof err);
    CHECK(t, tok != NULL, "a small good vocabulary was refused: %s", err);
    /* "AB": no pieces for "▁", "A" or "B"; A has <0x41>, the rest has no byte piece -> unknown. */
    int ids[8];
    int n = tok ? tokenizer_encode(tok, "AB", 2, 0, ids, 8, err, sizeof err) : -1;
    CHECK(t, n == 3 && ids[0] == 0 && ids[1] == 3 && ids[2] == 0, "n=%d ids %d %d %d", n, ids[0], ids[1], ids[2]);
    tokenizer_free(tok);

    CHECK(t, tokenizer_from_vocab(NULL, err, sizeof err) == NULL && strstr(err, "NULL"), "%s", err);
    TokenizerVocab bad = ok;
    bad.n_tokens = 0;
    CHECK(t, tokenizer_from_vocab(&bad, err, sizeof err) == NULL && strstr(err, "0 tokens"), "%s", err);
    bad = ok, bad.bos_id = 5;
    CHECK(t, tokenizer_from_vocab(&bad, err, sizeof err) == NULL && strstr(err, "BOS"), "%s", err);
    bad = ok, bad.scores = NULL;
    CHECK(t, tokenizer_from_vocab(&bad, err, sizeof err) == NULL && strstr(err, "scores"), "%s", err);
    types[2] = 9;
    CHECK(t, tokenizer_from_vocab(&ok, err, sizeof err) == NULL && strstr(err, "type 9"), "%s", err);
    types[2] = 6; /* a byte token spelled "a" */
    CHECK(t, tokenizer_from_vocab(&ok, err, sizeof err) == NULL && strstr(err, "<0xXX>"), "%s", err);
    types[2] = 1;
    const int bad_lengths[] = {5, 3, -1, 6, 1};
    bad = ok, bad.piece_lengths = bad_lengths;
    CHECK(t, tokenizer_from_vocab(&bad, err, sizeof err) == NULL && strstr(err, "token 2"), "%s", err);
    /* Without a BOS id, asking for BOS is an error, not a silent -1 in the ids. */
    bad = ok, bad.bos_id = -1;
    tok = tokenizer_from_vocab(&bad, err, sizeof err);
    CHECK(t, tok && tokenizer_encode(tok, "a", 1, 1, ids, 8, err, sizeof err) == -1 && strstr(err, "BOS"), "%s", err);
    tokenizer_free(tok);
}

static const TestCase tokenizer_tests[] = {
    {"sentencepiece_matches_provenance", sentencepiece_matches_provenance},
    {"builtin_matches_provenance", builtin_matches_provenance},
    {"builtin_with_token_types", builtin_with_token_types},
    {"every_paragraph_matches_sentencepiece", every_paragraph_matches_sentencepiece},
    {"whole_files_match_sentencepiece", whole_files_match_sentencepiece},
    {"edge_cases_match_sentencepiece", edge_cases_match_sentencepiece},
    {"random_bytes_match_sentencepiece", random_bytes_match_sentencepiece},
    {"edge_cases_by_hand", edge_cases_by_hand},
    {"decode_rules", decode_rules},
    {"encode_short_buffer", encode_short_buffer},
    {"bad_llama2c_files", bad_llama2c_files},
    {"bad_sentencepiece_files", bad_sentencepiece_files},
    {"bad_vocabularies", bad_vocabularies},
    {NULL, NULL},
};

TEST_SUITE(tokenizer, tokenizer_tests)
