/* test_cli.c — ./run as a user runs it. Bad files and bad flags: each must exit 1 with
 * exactly one line on stderr, "error: ..." naming the problem, nothing on stdout and no
 * crash (under `make sanitize` the same cases run the sanitized ./run through RUN_BIN, so a
 * leak or an out-of-bounds read turns into extra stderr lines and fails the case).
 * Positive checks: --help lists every flag and the parser knows every flag it lists,
 * greedy and seeded generation repeat themselves, --print-rope --json parses to the
 * hand-derived frequencies.  Malformed files are built here: models/kjv.gguf patched in
 * memory (offsets found with gguf_parse), llama2.c checkpoints and tokenizer.bin from scratch.
 * With ROPEWALK_CLI_TABLE=FILE every refusal appends a markdown row (input -> message) to
 * FILE: that is how the table in tests/README.md is made. */
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/matmul.h"
#include "../models/gguf.h"
#include "../models/gguf_writer.h"
#include "../tools/run_args.h"
#include "../util/errors.h"
#include "harness.h"
#include "../util/json.h"

#define KJV "models/kjv.gguf"
#define KJV_SPM "models/kjv.model"
#define KJV_TEXT "models/kjv-heldout.txt"
#define MAX_ARGS 32
#define TIMEOUT_SECONDS 120 /* generous: the sanitized ./run is several times slower */

/* ---- running ./run ------------------------------------------------------------------- */

typedef struct {
    int code;
    char out[1 << 16];
    char err[1 << 14];
} RunResult;

/* Runs ./run with the NULL-terminated argument list (not counting argv[0]). */
static void run_va(RunResult *r, const char *first, va_list ap) {
    const char *argv[MAX_ARGS + 2];
    int n = 0;
    argv[n++] = run_binary();
    for (const char *a = first; a && n <= MAX_ARGS; a = va_arg(ap, const char *)) argv[n++] = a;
    argv[n] = NULL;
    r->code = run_command(argv, r->out, sizeof r->out, r->err, sizeof r->err, TIMEOUT_SECONDS);
}

static void run_args(RunResult *r, const char *first, ...) {
    va_list ap;
    va_start(ap, first);
    run_va(r, first, ap);
    va_end(ap);
}

static int count_lines(const char *text) {
    int lines = 0;
    for (const char *p = text; *p; p++) lines += *p == '\n';
    return lines;
}

static void append_table_row(const char *what, const char *message) {
    const char *table = getenv("ROPEWALK_CLI_TABLE");
    if (!table || !*table) return;
    FILE *f = fopen(table, "a");
    if (!f) return;
    fprintf(f, "| %s | `", what);
    for (const char *p = message; *p && *p != '\n'; p++) fputc(*p == '|' ? '/' : *p, f);
    fprintf(f, "` |\n");
    fclose(f);
}

/* The refusal contract: exit 1 (no signal, no time-out), stdout empty, stderr exactly one
 * line "error: ..." containing `word`. */
static void check_refusal(TestContext *t, const char *what, const char *word, const RunResult *r) {
    CHECK(t, r->code != -1, "%s: ./run timed out or could not start", what);
    CHECK(t, r->code < 128, "%s: ./run was killed by signal %d", what, r->code - 128);
    CHECK(t, r->code == 1, "%s: exit code %d, expected 1 (stderr: %.300s)", what, r->code, r->err);
    CHECK(t, strncmp(r->err, "error: ", 7) == 0, "%s: stderr does not start with 'error: ': %.300s",
          what, r->err);
    CHECK(t, count_lines(r->err) == 1 && r->err[strlen(r->err) - 1] == '\n',
          "%s: stderr is %d lines, expected exactly one: %.600s", what, count_lines(r->err), r->err);
    CHECK(t, strstr(r->err, word) != NULL, "%s: message lacks '%s': %.300s", what, word, r->err);
    CHECK(t, r->out[0] == 0, "%s: stdout not empty: %.200s", what, r->out);
    append_table_row(what, r->err);
}

/* refuse(t, "what the input is", "word the message must contain", arg1, arg2, ..., NULL) */
static void refuse(TestContext *t, const char *what, const char *word, ...) {
    static RunResult r;
    va_list ap;
    va_start(ap, word);
    run_va(&r, va_arg(ap, const char *), ap);
    va_end(ap);
    check_refusal(t, what, word, &r);
}

static int need_kjv(TestContext *t) {
    if (access(KJV, R_OK) == 0 && access(KJV_SPM, R_OK) == 0) return 1;
    test_skip(t, "%s or %s is absent (the project's default model)", KJV, KJV_SPM);
    return 0;
}

/* ---- kjv.gguf patched in memory ------------------------------------------------------- */

typedef struct {
    unsigned char *bytes;
    size_t size;
    GgufFile gguf;
} Gguf;

static int load_kjv(TestContext *t, Gguf *g) {
    memset(g, 0, sizeof *g);
    g->bytes = (unsigned char *)read_file(KJV, &g->size);
    if (!g->bytes) { CHECK(t, 0, "cannot read %s", KJV); return 0; }
    char err[ERR_LEN];
    if (gguf_parse(&g->gguf, g->bytes, g->size, err, sizeof err) != 0) {
        CHECK(t, 0, "%s does not parse: %s", KJV, err);
        free(g->bytes);
        return 0;
    }
    return 1;
}

static void free_kjv(Gguf *g) {
    gguf_free(&g->gguf);
    free(g->bytes);
}

/* Offset of a key's value (after the key string and its u32 type); 0 when absent. */
static size_t kv_value_at(const Gguf *g, const char *key) {
    const GgufKv *kv = gguf_find_kv(&g->gguf, key);
    return kv ? (size_t)((const unsigned char *)kv->key.bytes - g->bytes) + kv->key.length + 4 : 0;
}

static size_t kv_type_at(const Gguf *g, const char *key) { return kv_value_at(g, key) - 4; }

/* Offset of a tensor's n_dims field (just after its name); 0 when absent. */
static size_t tensor_info_at(const Gguf *g, const char *name) {
    const GgufTensorInfo *ti = gguf_find_tensor(&g->gguf, name);
    return ti ? (size_t)((const unsigned char *)ti->name.bytes - g->bytes) + ti->name.length : 0;
}

static size_t tensor_type_at(const Gguf *g, const char *name) {
    const GgufTensorInfo *ti = gguf_find_tensor(&g->gguf, name);
    return tensor_info_at(g, name) + 4 + 8 * ti->n_dims;
}

static size_t tensor_data_at(const Gguf *g, const char *name) {
    const GgufTensorInfo *ti = gguf_find_tensor(&g->gguf, name);
    return (size_t)((const unsigned char *)ti->data - g->bytes);
}

/* Writes the file with `n` bytes at `at` replaced (restored afterwards); its path. */
static const char *write_patched(TestContext *t, Gguf *g, const char *name, size_t at,
                                 const void *patch, size_t n) {
    unsigned char saved[1024];
    const char *path = temp_path(name);
    if (at == 0 || n > sizeof saved || at + n > g->size) {
        CHECK(t, 0, "%s: patch at %zu (+%zu) is outside the file", name, at, n);
        return path;
    }
    memcpy(saved, g->bytes + at, n);
    memcpy(g->bytes + at, patch, n);
    CHECK(t, write_file(path, g->bytes, g->size) == 0, "cannot write %s", path);
    memcpy(g->bytes + at, saved, n);
    return path;
}

static const char *patch_u32(TestContext *t, Gguf *g, const char *name, size_t at, uint32_t v) {
    return write_patched(t, g, name, at, &v, 4);
}

static const char *patch_u64(TestContext *t, Gguf *g, const char *name, size_t at, uint64_t v) {
    return write_patched(t, g, name, at, &v, 8);
}

static const char *write_prefix(TestContext *t, const Gguf *g, const char *name, size_t n) {
    const char *path = temp_path(name);
    CHECK(t, write_file(path, g->bytes, n) == 0, "cannot write %s", path);
    return path;
}

/* ---- llama2.c files built from scratch ------------------------------------------------ */

typedef struct {
    int dim, hidden, layers, heads, kv_heads, vocab, seq_len;
} TinyShape;

static const TinyShape tiny = {8, 16, 1, 2, 2, 32, 16};

/* Floats a legacy llama2.c checkpoint holds after its 7-int header (shared classifier):
 * embedding, attention norms, wq wk wv wo, ffn norms, w1 w2 w3, final norm, and the
 * freq_cis real/imaginary tables of seq_len x head_dim/2 each. */
static size_t tiny_floats(const TinyShape *s) {
    size_t d = (size_t)s->dim, l = (size_t)s->layers, h = (size_t)s->hidden;
    size_t head = d / (size_t)s->heads, kv = head * (size_t)s->kv_heads;
    return (size_t)s->vocab * d + l * d + l * d * d + 2 * l * d * kv + l * d * d + l * d +
           3 * l * d * h + d + (size_t)s->seq_len * head;
}

/* A legacy llama2.c file with the header `header` and the weights of shape `s` (small
 * pseudo-random values; `poison` >= 0 puts a NaN at that float), cut by `cut` bytes. */
static const char *write_llama2c(TestContext *t, const char *name, const int header[7],
                                 const TinyShape *s, long poison, size_t extra, size_t cut) {
    size_t floats = tiny_floats(s), size = 28 + 4 * floats + extra;
    unsigned char *bytes = calloc(size, 1);
    const char *path = temp_path(name);
    if (!bytes) { CHECK(t, 0, "out of memory"); return path; }
    memcpy(bytes, header, 28);
    uint32_t state = 12345;
    for (size_t i = 0; i < floats; i++) {
        state = state * 1664525u + 1013904223u;
        float v = (long)i == poison ? NAN : ((float)(state >> 8) / 16777216.0f - 0.5f) * 0.2f;
        if (i >= floats - (size_t)s->seq_len * (size_t)(s->dim / s->heads)) v = 0; /* freq_cis */
        memcpy(bytes + 28 + 4 * i, &v, 4);
    }
    CHECK(t, write_file(path, bytes, size - cut) == 0, "cannot write %s", path);
    free(bytes);
    return path;
}

static const char *write_tiny(TestContext *t, const char *name, long poison) {
    const int header[7] = {tiny.dim, tiny.hidden, tiny.layers, tiny.heads, tiny.kv_heads,
                           tiny.vocab, tiny.seq_len};
    return write_llama2c(t, name, header, &tiny, poison, 0, 0);
}

/* A llama2.c tokenizer.bin of n (<= 56) tokens: <unk>, <s>, </s>, U+2581, a..z, az..zz. Each
 * record is float score, int length, bytes; the file starts with max_token_length. */
static const char *write_tokenizer_bin(TestContext *t, const char *name, int n) {
    unsigned char bytes[4096];
    size_t at = 0;
    int max_length = 5;
    memcpy(bytes, &max_length, 4);
    at += 4;
    for (int i = 0; i < n && at + 16 < sizeof bytes; i++) {
        char piece[8];
        if (i == 0) strcpy(piece, "<unk>");
        else if (i == 1) strcpy(piece, "<s>");
        else if (i == 2) strcpy(piece, "</s>");
        else if (i == 3) strcpy(piece, "\xe2\x96\x81");
        else if (i < 30) piece[0] = (char)('a' + i - 4), piece[1] = 0;
        else piece[0] = (char)('a' + (i - 30) % 26), piece[1] = 'z', piece[2] = 0;
        float score = -(float)i;
        int len = (int)strlen(piece);
        memcpy(bytes + at, &score, 4);
        memcpy(bytes + at + 4, &len, 4);
        memcpy(bytes + at + 8, piece, (size_t)len);
        at += 8 + (size_t)len;
    }
    const char *path = temp_path(name);
    CHECK(t, write_file(path, bytes, at) == 0, "cannot write %s", path);
    return path;
}

static const char *write_bytes(TestContext *t, const char *name, const char *text, size_t n) {
    const char *path = temp_path(name);
    CHECK(t, write_file(path, text, n) == 0, "cannot write %s", path);
    return path;
}

/* ---- bad model files -------------------------------------------------------------------- */

static void test_model_file_missing_empty_dir(TestContext *t) {
    refuse(t, "model file does not exist", "No such file", "/nonexistent/model.gguf", NULL);
    refuse(t, "model file is empty", "empty", write_bytes(t, "empty.gguf", "", 0), NULL);
    refuse(t, "model path is a directory", "directory", "tests", NULL);
    refuse(t, "model path is the empty string", "no model path", "", NULL);
    refuse(t, "model file of 3 bytes", "too small", write_bytes(t, "three.gguf", "GGU", 3), NULL);
    refuse(t, "text file given as the model", "not a GGUF file",
           write_bytes(t, "text.gguf", "In the beginning God created the heaven and the earth.\n"
                       "And the earth was without form, and void.\n", 97), NULL);
}

static void test_gguf_header(TestContext *t) {
    if (!need_kjv(t)) return;
    Gguf g;
    if (!load_kjv(t, &g)) return;
    refuse(t, "GGUF cut after 10 bytes", "truncated", write_prefix(t, &g, "cut10.gguf", 10), NULL);
    refuse(t, "GGUF cut after its 24-byte header", "metadata count",
           write_prefix(t, &g, "cut24.gguf", 24), NULL);
    refuse(t, "GGUF cut inside the metadata (100 bytes)", "more than the file could hold",
           write_prefix(t, &g, "cut100.gguf", 100), NULL);
    refuse(t, "GGUF with the magic 'GGUX'", "not a GGUF file",
           write_patched(t, &g, "magic.gguf", 3, "X", 1), NULL);
    refuse(t, "GGUF version 1", "version 1", patch_u32(t, &g, "v1.gguf", 4, 1), NULL);
    refuse(t, "GGUF tensor count 2^60", "tensor count",
           patch_u64(t, &g, "ntensors.gguf", 8, 1ULL << 60), NULL);
    refuse(t, "GGUF metadata count 2^60", "metadata count",
           patch_u64(t, &g, "nkv.gguf", 16, 1ULL << 60), NULL);
    free_kjv(&g);
}

static void test_gguf_metadata(TestContext *t) {
    if (!need_kjv(t)) return;
    Gguf g;
    if (!load_kjv(t, &g)) return;
    refuse(t, "GGUF first key length 2^64-1", "runs past the end",
           patch_u64(t, &g, "keylen.gguf", 24, UINT64_MAX), NULL);
    refuse(t, "GGUF value type 77 for llama.context_length", "unknown value type",
           patch_u32(t, &g, "kvtype.gguf", kv_type_at(&g, "llama.context_length"), 77), NULL);
    refuse(t, "GGUF tokenizer.ggml.tokens count 2^40", "array count",
           patch_u64(t, &g, "tokcount.gguf", kv_value_at(&g, "tokenizer.ggml.tokens") + 4,
                     1ULL << 40), NULL);
    refuse(t, "GGUF array of arrays (tokens' element type 9)", "nested arrays",
           patch_u32(t, &g, "nested.gguf", kv_value_at(&g, "tokenizer.ggml.tokens"), 9), NULL);
    refuse(t, "GGUF tokenizer.ggml.add_space_prefix stored as uint8, not bool", "must be a bool",
           patch_u32(t, &g, "prefix_type.gguf", kv_type_at(&g, "tokenizer.ggml.add_space_prefix"),
                     0), NULL);
    refuse(t, "GGUF general.architecture 'gpt2x'", "architecture",
           write_patched(t, &g, "arch.gguf", kv_value_at(&g, "general.architecture") + 8,
                         "gpt2x", 5), NULL);
    refuse(t, "GGUF without general.architecture (key renamed)", "missing key",
           write_patched(t, &g, "noarch.gguf", kv_type_at(&g, "general.architecture") - 1, "X",
                         1), NULL);
    refuse(t, "GGUF ropewalk.rope.layout 'zzzzzleaved'", "layout",
           write_patched(t, &g, "layout.gguf", kv_value_at(&g, "ropewalk.rope.layout") + 8,
                         "zzzzz", 5), NULL);
    free_kjv(&g);
}

static void test_gguf_hyper_parameters(TestContext *t) {
    if (!need_kjv(t)) return;
    Gguf g;
    if (!load_kjv(t, &g)) return;
    refuse(t, "GGUF embedding_length 10^9 (tensors say 256)", "expected [1000000000",
           patch_u32(t, &g, "dim.gguf", kv_value_at(&g, "llama.embedding_length"), 1000000000),
           NULL);
    refuse(t, "GGUF block_count 100000", "exceeds the limit",
           patch_u32(t, &g, "layers.gguf", kv_value_at(&g, "llama.block_count"), 100000), NULL);
    refuse(t, "GGUF block_count 5 (file has 4 layers)", "missing tensor 'blk.4",
           patch_u32(t, &g, "layers5.gguf", kv_value_at(&g, "llama.block_count"), 5), NULL);
    refuse(t, "GGUF head_count 3 (does not divide 256)", "does not divide",
           patch_u32(t, &g, "heads.gguf", kv_value_at(&g, "llama.attention.head_count"), 3), NULL);
    refuse(t, "GGUF context_length 0", "context_length",
           patch_u32(t, &g, "ctx0.gguf", kv_value_at(&g, "llama.context_length"), 0), NULL);
    refuse(t, "GGUF rope.dimension_count 63", "rotary_dim 63",
           patch_u32(t, &g, "rotary.gguf", kv_value_at(&g, "llama.rope.dimension_count"), 63),
           NULL);
    float minus_one = -1.0f, nan = NAN;
    refuse(t, "GGUF rope.freq_base -1", "freq_base",
           write_patched(t, &g, "base.gguf", kv_value_at(&g, "llama.rope.freq_base"), &minus_one,
                         4), NULL);
    refuse(t, "GGUF rms epsilon NaN", "rms_eps",
           write_patched(t, &g, "eps.gguf",
                         kv_value_at(&g, "llama.attention.layer_norm_rms_epsilon"), &nan, 4),
           NULL);
    refuse(t, "GGUF bos_token_id 5000 (vocabulary 1024)", "bos_token_id",
           patch_u32(t, &g, "bos.gguf", kv_value_at(&g, "tokenizer.ggml.bos_token_id"), 5000),
           NULL);
    free_kjv(&g);
}

/* llama-quantize's Q4_K_M of kjv.gguf (tests/llamacpp) cut in the middle of the data of its
 * last tensor, a Q4_K matrix: half a row of super-blocks is missing. */
static void refuse_truncated_k_quant(TestContext *t) {
    const char *q4km = "tests/llamacpp/kjv-q4_k_m.gguf";
    Gguf g = {0};
    char err[ERR_LEN];
    g.bytes = (unsigned char *)read_file(q4km, &g.size);
    if (!g.bytes || gguf_parse(&g.gguf, g.bytes, g.size, err, sizeof err) != 0) {
        CHECK(t, 0, "cannot read %s", q4km);
        free(g.bytes);
        return;
    }
    const GgufTensorInfo *last = &g.gguf.tensors[0];
    for (uint64_t i = 1; i < g.gguf.n_tensors; i++)
        if (g.gguf.tensors[i].offset > last->offset) last = &g.gguf.tensors[i];
    size_t cut = (size_t)((const unsigned char *)last->data - g.bytes) + 144 * 8 + 72;
    CHECK(t, last->type == TENSOR_Q4_K, "the last tensor of %s is not Q4_K", q4km);
    refuse(t, "Q4_K_M GGUF cut in the middle of a Q4_K super-block", "extends past the end",
           write_prefix(t, &g, "q4km-cut.gguf", cut), NULL);
    gguf_free(&g.gguf);
    free(g.bytes);
}

static void test_gguf_tensors(TestContext *t) {
    if (!need_kjv(t)) return;
    Gguf g;
    if (!load_kjv(t, &g)) return;
    const char *embd = "token_embd.weight";
    refuse(t, "GGUF tensor of type 9 (Q8_1, activations only)", "does not compute",
           patch_u32(t, &g, "q8_1.gguf", tensor_type_at(&g, embd), 9), NULL);
    refuse_truncated_k_quant(t);
    refuse(t, "GGUF tensor of unknown type 1000", "unsupported type 1000",
           patch_u32(t, &g, "type1000.gguf", tensor_type_at(&g, embd), 1000), NULL);
    refuse(t, "GGUF tensor with n_dims 7", "n_dims 7",
           patch_u32(t, &g, "ndims.gguf", tensor_info_at(&g, embd), 7), NULL);
    refuse(t, "GGUF tensor offset 3 (misaligned)", "not aligned",
           patch_u64(t, &g, "misaligned.gguf", tensor_type_at(&g, embd) + 4, 3), NULL);
    refuse(t, "GGUF tensor offset 2^63", "extends past the end",
           patch_u64(t, &g, "offset.gguf", tensor_type_at(&g, embd) + 4, 1ULL << 63), NULL);
    refuse(t, "GGUF two tensors at the same offset", "overlap",
           patch_u64(t, &g, "overlap.gguf", tensor_type_at(&g, "output_norm.weight") + 4, 0),
           NULL);
    refuse(t, "GGUF output.weight with 1023 rows", "shape",
           patch_u64(t, &g, "rows.gguf", tensor_info_at(&g, "output.weight") + 4 + 8, 1023),
           NULL);
    refuse(t, "GGUF with two tensors named blk.0.attn_q.weight", "duplicate tensor",
           write_patched(t, &g, "dup.gguf", tensor_info_at(&g, "blk.0.attn_k.weight") - 8, "q",
                         1), NULL);
    refuse(t, "GGUF cut inside the tensor data (3 MB of 6.9)", "extends past the end",
           write_prefix(t, &g, "cutdata.gguf", 3000000), NULL);
    refuse(t, "GGUF with the metadata and no tensor data", "truncated",
           write_prefix(t, &g, "nodata.gguf", (size_t)g.gguf.data_offset), NULL);
    free_kjv(&g);
}

/* ---- llama2.c checkpoints and tokenizers ---------------------------------------------- */

static void test_llama2c_files(TestContext *t) {
    refuse(t, "llama2.c file without --tokenizer (no vocabulary inside)", "no vocabulary",
           write_tiny(t, "tiny.bin", -1), NULL);
    const int absurd[7] = {1000000, 16, 1, 2, 2, 32, 16};
    refuse(t, "llama2.c header dim 10^6", "exceeds the limit",
           write_llama2c(t, "absurd.bin", absurd, &tiny, -1, 0, 0), NULL);
    const int heads3[7] = {8, 16, 1, 3, 3, 32, 16};
    refuse(t, "llama2.c header 3 heads for dim 8", "does not divide",
           write_llama2c(t, "heads.bin", heads3, &tiny, -1, 0, 0), NULL);
    const int layers[7] = {8, 16, -1, 2, 2, 32, 16};
    refuse(t, "llama2.c header n_layers -1", "n_layers",
           write_llama2c(t, "layers.bin", layers, &tiny, -1, 0, 0), NULL);
    const int kv0[7] = {8, 16, 1, 2, 0, 32, 16};
    refuse(t, "llama2.c header n_kv_heads 0", "n_kv_heads",
           write_llama2c(t, "kv0.bin", kv0, &tiny, -1, 0, 0), NULL);
    const int shape[7] = {8, 16, 1, 2, 2, 32, 16};
    refuse(t, "llama2.c file 100 bytes short", "truncated",
           write_llama2c(t, "short.bin", shape, &tiny, -1, 0, 100), NULL);
    refuse(t, "llama2.c file 100 bytes too long", "longer than expected",
           write_llama2c(t, "long.bin", shape, &tiny, -1, 100, 0), NULL);
}

static void test_tokenizers(TestContext *t) {
    if (!need_kjv(t)) return;
    const char *tiny_model = write_tiny(t, "tiny.bin", -1);
    refuse(t, "llama2.c model (vocab 32) with kjv.model (1024 tokens)", "do not belong",
           tiny_model, "--tokenizer", KJV_SPM, NULL);
    refuse(t, "kjv.gguf (vocab 1024) with a 32-token tokenizer.bin", "truncated at token 32",
           KJV, "--tokenizer", write_tokenizer_bin(t, "tok32.bin", 32), NULL);
    refuse(t, "vocab-32 model with a 40-token tokenizer.bin", "wrong vocab_size",
           tiny_model, "--tokenizer", write_tokenizer_bin(t, "tok40.bin", 40), NULL);
    refuse(t, "--tokenizer .model that does not exist", "does not exist", KJV, "--tokenizer",
           "/nonexistent/tok.model", NULL);
    refuse(t, "--tokenizer .bin that does not exist", "cannot open", KJV, "--tokenizer",
           "/nonexistent/tok.bin", NULL);
    static const char garbage[] = "\x7f\x45\x4c\x46 this is not a protobuf \xff\xfe\x00\x01";
    refuse(t, "--tokenizer .model of garbage bytes", "not a valid SentencePiece model", KJV,
           "--tokenizer", write_bytes(t, "garbage.model", garbage, sizeof garbage), NULL);
    refuse(t, "--tokenizer tokenizer.bin of garbage bytes", "corrupt", KJV, "--tokenizer",
           write_bytes(t, "garbage.bin", garbage, sizeof garbage), NULL);
}

/* A GGUF with only the given string array under tokenizer.ggml.tokens (count may be 0). */
static const char *write_token_array(TestContext *t, const char *name, const char *const *tokens,
                                     int count) {
    char err[ERR_LEN] = "";
    const char *path = temp_path(name);
    GgufWriter *w = gguf_writer_new(err, sizeof err);
    int rc = !w || gguf_writer_add_string(w, "general.architecture", "llama", err, sizeof err) ||
             gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", tokens, NULL, count, err,
                                          sizeof err) ||
             gguf_writer_write(w, path, err, sizeof err);
    CHECK(t, rc == 0, "cannot write %s: %s", path, err);
    gguf_writer_free(w);
    return path;
}

static void test_tokenize_refusals(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "--detokenize of an id outside the vocabulary", "outside the vocabulary", KJV,
           "--detokenize", "--ids", "1 1024", NULL);
    refuse(t, "--detokenize without --ids", "needs --ids", KJV, "--detokenize", NULL);
    refuse(t, "--tokenize -f of a file that does not exist", "cannot open", KJV, "--tokenize",
           "-f", "/nonexistent/prompt.txt", NULL);
    static const char *const none[] = {NULL};
    refuse(t, "GGUF whose tokenizer.ggml.tokens is empty", "non-empty array", "--tokenize",
           write_token_array(t, "empty-vocab.gguf", none, 0), "-p", "x", NULL);
    static const char *const two[] = {"<unk>", "a"};
    refuse(t, "vocabulary-only GGUF, for generation", "no weights",
           write_token_array(t, "vocab-only.gguf", two, 2), "-p", "a", NULL);
    Gguf g;
    if (!load_kjv(t, &g)) return;
    size_t at = kv_type_at(&g, "tokenizer.ggml.tokens") - 1; /* the key's last byte */
    /* tokenizer.ggml.tokenz: weights, and no vocabulary */
    refuse(t, "GGUF with weights and no tokenizer.ggml.tokens, --tokenize", "no vocabulary",
           write_patched(t, &g, "no-vocab.gguf", at, "z", 1), "--tokenize", "-p", "x", NULL);
    free_kjv(&g);
}

static void test_shared_mismatches(TestContext *t) {
    if (!need_kjv(t)) return;
    REQUIRE_SHARED(t, stories, "models/stories260K.gguf");
    REQUIRE_SHARED(t, stories_bin, "models/stories260K.bin");
    REQUIRE_SHARED(t, tok512, "models/tok512.model");
    refuse(t, "kjv.gguf (1024) with stories' tok512.model", "do not belong", KJV, "--tokenizer",
           tok512, NULL);
    refuse(t, "stories260K.gguf (512) with kjv.model", "do not belong", stories, "--tokenizer",
           KJV_SPM, NULL);
    refuse(t, "stories260K.bin (512) with kjv.model", "do not belong", stories_bin,
           "--tokenizer", KJV_SPM, NULL);
}

/* ---- bad flags ---------------------------------------------------------------------------- */

static void test_flag_syntax(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "unknown flag --bogus", "unknown option '--bogus'", KJV, "--bogus", NULL);
    refuse(t, "-n without its value", "-n needs a value", KJV, "-n", NULL);
    refuse(t, "--rope-scale without its value", "missing value", KJV, "--rope-scale", NULL);
    refuse(t, "--ppl without its value", "--ppl needs a value", KJV, "--ppl", NULL);
    refuse(t, "no model at all", "no model file given", "-n", "5", NULL);
    refuse(t, "two model files", "unexpected argument", KJV, KJV, NULL);
    refuse(t, "model path with a newline in it", "'/nonexistent/a?b'", "/nonexistent/a\nb",
           NULL);
}

static void test_flag_numbers(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "-n abc", "not an integer", KJV, "-n", "abc", NULL);
    refuse(t, "-n 99999999999", "out of range", KJV, "-n", "99999999999", NULL);
    refuse(t, "-c -5", "out of range", KJV, "-c", "-5", NULL);
    refuse(t, "-c 12abc", "not an integer", KJV, "-c", "12abc", NULL);
    refuse(t, "-t 0", "-t: 0 is out of range", KJV, "-t", "0", NULL);
    refuse(t, "-b 0", "-b: 0 is out of range", KJV, "-b", "0", NULL);
    refuse(t, "--temp -1", "--temp: -1 is out of range", KJV, "--temp", "-1", NULL);
    refuse(t, "--temp inf", "--temp", KJV, "--temp", "inf", NULL);
    refuse(t, "--top-p 2", "--top-p: 2 is out of range", KJV, "--top-p", "2", NULL);
    refuse(t, "--top-p nan", "not a number", KJV, "--top-p", "nan", NULL);
    refuse(t, "--seed x", "--seed: 'x' is not an integer", KJV, "--seed", "x", NULL);
    refuse(t, "--kv-type bogus", "--kv-type: 'bogus'", KJV, "--kv-type", "bogus", NULL);
    refuse(t, "--rope-keys bogus", "--rope-keys", KJV, "--rope-keys", "bogus", NULL);
}

static void test_flag_cache_policies(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "--stream-window 1", "--stream-window: 1 is out of range", KJV, "--stream-window",
           "1", NULL);
    refuse(t, "--stream-window with --context-shift", "choose one", KJV, "--stream-window", "64",
           "--context-shift", NULL);
    refuse(t, "--sinks 8 in --stream-window 8", "no room", KJV, "--stream-window", "8",
           "--sinks", "8", NULL);
    refuse(t, "--bench deeper than the context", "bench needs", KJV, "--bench", "--bench-depth",
           "300", NULL);
}

static void test_flag_rope(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "--rope-scaling foo", "unknown mode 'foo'", KJV, "--rope-scaling", "foo", NULL);
    refuse(t, "--rope-scale -2", "must be positive", KJV, "--rope-scaling", "linear",
           "--rope-scale", "-2", NULL);
    refuse(t, "--rope-scale 1e400", "not a number", KJV, "--rope-scaling", "ntk",
           "--rope-scale", "1e400", NULL);
    refuse(t, "--rope-scale with mode none", "scaling mode is none", KJV, "--rope-scale", "2",
           NULL);
    refuse(t, "--rope-freq-base 0", "--rope-freq-base: must be positive", KJV,
           "--rope-freq-base", "0", NULL);
    refuse(t, "llama3 with low_freq_factor 4 >= high_freq_factor 1", "low_freq_factor < high",
           KJV, "--rope-scaling", "llama3", "--rope-scale", "8", "--rope-low-freq-factor", "4",
           "--rope-high-freq-factor", "1", NULL);
    refuse(t, "yarn with beta_fast 1 <= beta_slow 32", "beta_fast > beta_slow", KJV,
           "--rope-scaling", "yarn", "--rope-scale", "4", "--yarn-beta-fast", "1",
           "--yarn-beta-slow", "32", NULL);
    refuse(t, "yarn with beta_fast == beta_slow", "beta_fast > beta_slow", KJV, "--rope-scaling",
           "yarn", "--rope-scale", "4", "--yarn-beta-fast", "32", "--yarn-beta-slow", "32", NULL);
    refuse(t, "--yarn-orig-ctx 0", "--yarn-orig-ctx: must be at least 1", KJV,
           "--yarn-orig-ctx", "0", NULL);
    refuse(t, "--rope-dim 63", "must be even", KJV, "--rope-dim", "63", NULL);
    refuse(t, "--head-dim 32 for a model with head 64", "disagrees", KJV, "--head-dim", "32",
           NULL);
}

static void test_flag_longrope(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "longrope lists of 3 values (32 pairs needed)", "has 3 values", KJV,
           "--rope-scaling", "longrope", "--rope-long-factors", "1,2,3", "--rope-short-factors",
           "1,2,3", "-c", "512", NULL);
    refuse(t, "longrope without factor lists", "longrope needs", KJV, "--rope-scaling",
           "longrope", "-c", "512", NULL);
    refuse(t, "--rope-long-factors 1,x", "'x' is not a number", KJV, "--rope-long-factors",
           "1,x", NULL);
    refuse(t, "--rope-long-factors 1,-2", "must be positive", KJV, "--rope-long-factors", "1,-2",
           NULL);
    refuse(t, "--rope-long-factors @missing-file", "cannot open", KJV, "--rope-long-factors",
           "@/nonexistent/factors.txt", NULL);
}

static void test_print_rope_refusals(TestContext *t) {
    refuse(t, "--print-rope without a model and without --head-dim", "--head-dim",
           "--print-rope", NULL);
    refuse(t, "--print-rope --head-dim 64 without a model and without -c", "-c N",
           "--print-rope", "--head-dim", "64", NULL);
    refuse(t, "--print-rope --rope-seq-len 0", "--rope-seq-len", "--print-rope", "--head-dim",
           "64", "-c", "4096", "--rope-seq-len", "0", NULL);
}

/* ---- the prompt, perplexity and memory -------------------------------------------------- */

static void test_prompt_longer_than_context(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "-c 8 with a 22-token prompt", "raise -c or shorten the prompt", KJV, "-c", "8",
           "-p", "In the beginning God created the heaven and the earth. And the earth was",
           NULL);
}

static void test_ppl_refusals(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "--ppl with an empty file", "is empty", KJV, "--ppl",
           write_bytes(t, "empty.txt", "", 0), NULL);
    refuse(t, "--ppl with a file that does not exist", "cannot open text file", KJV, "--ppl",
           "/nonexistent/text.txt", NULL);
    refuse(t, "--ppl with a directory", "Is a directory", KJV, "--ppl", "tests", NULL);
    refuse(t, "--ppl with an empty file name", "file name is empty", KJV, "--ppl", "", NULL);
    refuse(t, "--ppl with 5 tokens of text (ctx 256)", "needs 256", KJV, "--ppl",
           write_bytes(t, "short.txt", "In the\n", 7), NULL);
    refuse(t, "--ppl -c 1", "at least 2 tokens", KJV, "--ppl", KJV_TEXT, "-c", "1", NULL);
    refuse(t, "--ppl-score-from 64 with -c 64", "--ppl-score-from 64 is outside 0..62", KJV,
           "--ppl", KJV_TEXT, "-c", "64", "--ppl-score-from", "64", NULL);
    refuse(t, "--ppl-score-from -1", "--ppl-score-from must be >= 0", KJV, "--ppl", KJV_TEXT,
           "--ppl-score-from", "-1", NULL);
    refuse(t, "--ppl-stride 1000 with -c 64", "--ppl-stride 1000 is outside", KJV, "--ppl",
           KJV_TEXT, "-c", "64", "--ppl-stride", "1000", NULL);
    refuse(t, "--ppl-stride with --ppl-score-from", "not to --ppl-stride", KJV, "--ppl",
           KJV_TEXT, "-c", "64", "--ppl-stride", "8", "--ppl-score-from", "2", NULL);
    refuse(t, "--ppl-band 0", "--ppl-band must be >= 1", KJV, "--ppl", KJV_TEXT, "--ppl-band",
           "0", NULL);
    /* refused before the evaluation: stdout (where the result would go) stays empty */
    refuse(t, "--ppl-positions in a directory that does not exist", "cannot write --ppl-positions",
           KJV, "--ppl", KJV_TEXT, "--ppl-positions", "/nonexistent/positions.csv", NULL);
}

/* Passkey and Self-Extend inputs: one line each, before any trial runs. */
static void test_passkey_refusals(TestContext *t) {
    if (!need_kjv(t)) return;
    refuse(t, "--passkey-junk 10 with -c 256 (a 493-token prompt)", "needs -c", KJV,
           "--passkey", "--passkey-junk", "10", "-c", "256", NULL);
    refuse(t, "--passkey -c 64 (not even one junk repetition fits)", "one junk repetition", KJV,
           "--passkey", "-c", "64", NULL);
    refuse(t, "--passkey-pos 3 with --passkey-junk 3", "outside 0..2", KJV, "--passkey",
           "--passkey-junk", "3", "--passkey-pos", "3", NULL);
    refuse(t, "--passkey-key 50001", "out of range 1..50000", KJV, "--passkey", "--passkey-key",
           "50001", NULL);
    refuse(t, "--passkey-key 0", "out of range 1..50000", KJV, "--passkey", "--passkey-key", "0",
           NULL);
    refuse(t, "--passkey-trials 0", "out of range", KJV, "--passkey", "--passkey-trials", "0", NULL);
    refuse(t, "--passkey-depth 1.5", "not a number in 0..1", KJV, "--passkey", "--passkey-depth",
           "1.5", NULL);
    refuse(t, "--passkey-pos with --passkey-depth", "choose one", KJV, "--passkey",
           "--passkey-pos", "1", "--passkey-depth", "0.5", NULL);
    refuse(t, "--passkey with --ppl", "mode of its own", KJV, "--passkey", "--ppl", KJV_TEXT, NULL);
    refuse(t, "--grp-attn-n 0 (self-extend group)", "--grp-attn-n", KJV, "--rope-scaling",
           "self-extend", "--grp-attn-n", "0", NULL);
    refuse(t, "--grp-attn-w 0 (self-extend window)", "--grp-attn-w", KJV, "--rope-scaling",
           "self-extend", "--grp-attn-w", "0", NULL);
    refuse(t, "--grp-attn-w without self-extend", "add --rope-scaling self-extend", KJV,
           "--grp-attn-w", "64", NULL);
    refuse(t, "self-extend window 300 >= the trained 256, no group given", "give --grp-attn-n",
           KJV, "-c", "1024", "--rope-scaling", "self-extend", "--grp-attn-w", "300", NULL);
    refuse(t, "self-extend with keys rotated when stored", "cached raw", KJV, "--rope-scaling",
           "self-extend", "--rope-keys", "store", NULL);
    refuse(t, "self-extend with dynamic NTK (length-dependent frequencies)", "do not change",
           KJV, "-c", "1024", "--rope-scaling", "dynamic", "--grp-attn-n", "4", NULL);
}

/* -c 2^28 with an f32 cache needs 2 x 4 layers x 2^28 x 128 x 4 bytes = 1 TiB of KV alone:
 * the memory plan must refuse it (not the kernel's OOM killer) and name what fits. */
static void test_context_larger_than_memory(TestContext *t) {
    if (!need_kjv(t)) return;
    static RunResult r;
    run_args(&r, KJV, "-c", "268435456", "--kv-type", "f32", NULL);
    check_refusal(t, "-c 268435456 --kv-type f32 (1 TiB of KV cache)", "largest -c that fits",
                  &r);
    const char *named = strstr(r.err, "fits is ");
    long largest = named ? strtol(named + 8, NULL, 10) : -1;
    CHECK(t, largest > 0 && largest < 268435456, "largest -c named is %ld: %s", largest, r.err);
}

/* ---- failures found while running --------------------------------------------------- */

/* A run that fails after it started may have printed its settings; the error must still
 * be exactly one line, the last, with the exit code 1. */
static void check_runtime_error(TestContext *t, const char *what, const char *word,
                                const RunResult *r) {
    CHECK(t, r->code == 1, "%s: exit code %d, expected 1", what, r->code);
    const char *last = r->err, *p = r->err;
    int errors = 0;
    for (; *p; p++)
        if (p[0] == '\n' && p[1]) last = p + 1;
    for (p = r->err; (p = strstr(p, "error: ")) != NULL; p++) errors++;
    CHECK(t, errors == 1 && strncmp(last, "error: ", 7) == 0,
          "%s: expected one 'error: ' line, last on stderr: %.600s", what, r->err);
    CHECK(t, strstr(last, word) != NULL, "%s: '%s' missing from: %.300s", what, word, last);
    append_table_row(what, last);
}

static void test_non_finite_weights(TestContext *t) {
    if (!need_kjv(t)) return;
    Gguf g;
    if (!load_kjv(t, &g)) return;
    float inf[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
    static RunResult r;
    run_args(&r, write_patched(t, &g, "inf.gguf", tensor_data_at(&g, "blk.0.attn_norm.weight"),
                               inf, sizeof inf), "-n", "4", "-p", "In the", NULL);
    check_runtime_error(t, "GGUF with Inf in blk.0.attn_norm.weight", "after layer 0", &r);
    float nan[2] = {NAN, NAN};
    run_args(&r, write_patched(t, &g, "nan.gguf", tensor_data_at(&g, "output_norm.weight"), nan,
                               sizeof nan), "-n", "4", "-p", "In the", NULL);
    check_runtime_error(t, "GGUF with NaN in output_norm.weight", "NaN or Inf", &r);
    free_kjv(&g);
    /* float 256 = vocab 32 x dim 8: the first attention norm weight */
    run_args(&r, write_tiny(t, "tinynan.bin", 256), "--tokenizer",
             write_tokenizer_bin(t, "tok.bin", 32), "-n", "4", NULL);
    check_runtime_error(t, "llama2.c file with a NaN in layer 0's attention norm", "layer 0", &r);
}

/* Inputs the fuzzers found (tests/regressions/README.md says what each one broke): ./run
 * on each must end normally, or with one 'error: ' line, and never with a sanitizer report. */
static void check_regression(TestContext *t, const char *path, const char *tokenizer) {
    static RunResult r;
    if (tokenizer) run_args(&r, path, "--tokenizer", tokenizer, "-n", "4", "-p", "In the", NULL);
    else run_args(&r, path, "-n", "4", "-p", "In the", "--temp", "0", NULL);
    CHECK(t, r.code == 0 || r.code == 1, "%s: exit code %d: %.400s", path, r.code, r.err);
    CHECK(t, !strstr(r.err, "runtime error") && !strstr(r.err, "Sanitizer"),
          "%s: sanitizer report: %.600s", path, r.err);
    if (r.code == 1) check_runtime_error(t, path, "error: ", &r);
}

static void test_regression_files(TestContext *t) {
    DIR *dir = opendir("tests/regressions");
    if (!dir) SKIP(t, "tests/regressions is absent (run from the project root)");
    const char *tokenizer = write_tokenizer_bin(t, "tok.bin", 32); /* the .bin files: vocab 32 */
    int checked = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t n = strlen(e->d_name);
        int gguf = n > 5 && !strcmp(e->d_name + n - 5, ".gguf");
        int bin = n > 4 && !strcmp(e->d_name + n - 4, ".bin");
        if (!gguf && !bin) continue;
        char path[512];
        snprintf(path, sizeof path, "tests/regressions/%s", e->d_name);
        check_regression(t, path, bin ? tokenizer : NULL);
        checked++;
    }
    closedir(dir);
    CHECK(t, checked >= 3, "only %d regression files found", checked);
}

/* ---- positive checks ------------------------------------------------------------------ */

/* Every flag ./run has: the help must list each one. */
static const char *const all_flags[] = {
    "-p", "--prompt", "-n", "--n-predict", "--temp", "--top-p", "-s", "--seed", "--tokenizer",
    "-c", "--ctx-size", "-t", "--threads", "-b", "--batch-size", "--kv-type", "--rope-keys",
    "--stream-window", "--sinks", "--context-shift", "--keep", "-v", "--verbose", "--bench",
    "--bench-prompt", "--bench-gen", "--bench-depth", "--bench-repeats", "--print-rope",
    "--rope-scaling", "--rope-scale", "--rope-freq-scale", "--rope-freq-base", "--yarn-orig-ctx",
    "--rope-orig-ctx", "--yarn-beta-fast", "--yarn-beta-slow", "--yarn-attn-factor",
    "--yarn-mscale", "--yarn-mscale-all-dim", "--yarn-no-truncate", "--rope-low-freq-factor",
    "--rope-high-freq-factor", "--rope-long-factors", "--rope-short-factors", "--rope-max-pos",
    "--rope-dim", "--rope-seq-len", "--head-dim", "--ppl", "--ppl-score-from", "--ppl-stride",
    "--ppl-chunks", "--ppl-band", "--ppl-positions", "--ppl-no-progress", "--json", "--csv",
    "-f", "--file", "--tokenize", "--detokenize", "--ids", "--no-bos",
    "-h", "--help", NULL};

static int help_lists(const char *help, const char *flag) {
    size_t n = strlen(flag);
    for (const char *p = strstr(help, flag); p; p = strstr(p + 1, flag)) {
        int starts = p == help || p[-1] == ' ' || p[-1] == '\n' || p[-1] == ',' || p[-1] == '|';
        int ends = p[n] == ' ' || p[n] == ',' || p[n] == '\n';
        if (starts && ends) return 1;
    }
    return 0;
}

/* Every word of the help that looks like a flag must be one the parser knows. */
static void check_help_flags_parse(TestContext *t, const char *help) {
    char *copy = strdup(help);
    REQUIRE(t, copy != NULL, "out of memory");
    int checked = 0;
    for (char *w = strtok(copy, " \n,;:|[]()"); w; w = strtok(NULL, " \n,;:|[]()")) {
        if (w[0] != '-' || !(w[1] == '-' || (w[1] >= 'a' && w[1] <= 'z'))) continue;
        if (!strcmp(w, "-h") || !strcmp(w, "--help")) continue;
        char *argv[] = {"run", "model.gguf", w, "1", NULL};
        RunOptions o;
        char err[ERR_LEN] = "";
        run_args_parse(&o, 4, argv, err, sizeof err);
        CHECK(t, strstr(err, "unknown option") == NULL, "help lists '%s' but: %s", w, err);
        checked++;
    }
    CHECK(t, checked >= 50, "only %d flag words found in the help", checked);
    free(copy);
}

static void test_help(TestContext *t) {
    static RunResult r;
    run_args(&r, "--help", NULL);
    CHECK(t, r.code == 0, "--help exit code %d", r.code);
    CHECK(t, r.err[0] == 0, "--help wrote to stderr: %.200s", r.err);
    CHECK(t, strncmp(r.out, "usage: ./run MODEL", 18) == 0, "help starts: %.80s", r.out);
    for (int i = 0; all_flags[i]; i++)
        if (strcmp(all_flags[i], "-h") && strcmp(all_flags[i], "--help"))
            CHECK(t, help_lists(r.out, all_flags[i]), "--help does not list %s", all_flags[i]);
    check_help_flags_parse(t, r.out);
    static RunResult short_form;
    run_args(&short_form, KJV, "-h", NULL);
    CHECK(t, short_form.code == 0 && !strcmp(short_form.out, r.out), "-h differs from --help");
}

static void test_greedy_repeats(TestContext *t) {
    if (!need_kjv(t)) return;
    static RunResult a, b, c;
    const char *prompt = "In the beginning";
    run_args(&a, KJV, "-p", prompt, "-n", "24", "--temp", "0", "-s", "1", NULL);
    run_args(&b, KJV, "-p", prompt, "-n", "24", "--temp", "0", "-s", "2", NULL);
    CHECK(t, a.code == 0 && b.code == 0, "exit codes %d, %d: %.300s", a.code, b.code, a.err);
    CHECK(t, strncmp(a.out, prompt, strlen(prompt)) == 0, "the prompt is not echoed: %.100s",
          a.out);
    CHECK(t, strlen(a.out) > strlen(prompt) + 24, "too little text: '%s'", a.out);
    CHECK(t, !strcmp(a.out, b.out), "greedy runs differ (seed must not matter):\n%s\n%s", a.out,
          b.out);
    run_args(&a, KJV, "-p", prompt, "-n", "24", "--temp", "0.9", "-s", "42", NULL);
    run_args(&c, KJV, "-p", prompt, "-n", "24", "--temp", "0.9", "-s", "42", NULL);
    CHECK(t, a.code == 0 && !strcmp(a.out, c.out), "seed 42 twice differs:\n%s\n%s", a.out,
          c.out);
}

static void test_tiny_llama2c_runs(TestContext *t) {
    static RunResult r;
    run_args(&r, write_tiny(t, "tiny.bin", -1), "--tokenizer",
             write_tokenizer_bin(t, "tok.bin", 32), "-n", "6", "--temp", "0", NULL);
    CHECK(t, r.code == 0, "a valid 8-dim llama2.c model failed (%d): %.300s", r.code, r.err);
    CHECK(t, strstr(r.err, "model: ") && strstr(r.err, "llama2.c"), "settings not printed: %.300s",
          r.err);
    CHECK(t, strstr(r.err, "error") == NULL, "error on success: %.300s", r.err);
}

/* --bench --json on the project's model: one object with the fields issue 5 asks for, the
 * settings it was asked for, and the kernel set of this build (the same library as the
 * tests: matmul_kernels), which the settings on stderr name too. */
static void test_bench_json(TestContext *t) {
    if (!need_kjv(t)) return;
    static RunResult r;
    run_args(&r, KJV, "--bench", "--bench-prompt", "8", "--bench-gen", "3", "--bench-depth", "5",
             "--bench-repeats", "1", "-t", "1", "--kv-type", "q8_0", "--json", NULL);
    REQUIRE(t, r.code == 0, "--bench --json failed (%d): %.300s", r.code, r.err);
    JsonValue *doc = json_parse(r.out);
    REQUIRE(t, doc != NULL, "--bench --json is not JSON: %.300s", r.out);
    CHECK(t, json_number(doc, "prefill_tps", 0) > 0 && json_number(doc, "decode_tps", 0) > 0,
          "speeds: %.300s", r.out);
    CHECK(t, json_number(doc, "depth", -1) == 5 && json_number(doc, "threads", 0) == 1 &&
          json_number(doc, "prompt", 0) == 8 && json_number(doc, "gen", 0) == 3,
          "settings: %.300s", r.out);
    CHECK(t, json_number(doc, "model_bytes", 0) == 6857728, "model_bytes: %.300s", r.out);
    /* The work behind the rates, by hand for kjv.gguf (dim 256, hidden 688, 4 layers, 4 heads,
     * 2 KV heads of 64, vocab 1024, F16 matrices, untied F16 embedding):
     *   a layer's matrices hold 256*256*2 + 128*256*2 + 688*256*3 = 724992 weights, 1449984
     *   bytes; the file's 6857728 weight bytes less the embedding table but one row (1023 rows
     *   of 512 bytes) are read per token: 6333952; q8_0 K and V rows of 128 values are 136 bytes
     *   each, 1088 per position over 4 layers, at the timed tokens' mean position 5 + (3+1)/2 = 7:
     *   7616 more, 6341568 in all.
     *   prefill of 8 tokens after 5: 2*8*724992*4 = 46399488 for the matrices, attention over
     *   8*5 + 8*9/2 = 76 (token, position) pairs: 4*4*64*76*4 = 311296, and one classifier row:
     *   2*1024*256 = 524288; 47235072 in all. */
    CHECK(t, json_number(doc, "decode_bytes_per_token", 0) == 6341568, "decode bytes: %.300s", r.out);
    CHECK(t, json_number(doc, "prefill_flops", 0) == 47235072, "prefill flops: %.300s", r.out);
    const JsonValue *kv = json_get(doc, "kv_type"), *kernels = json_get(doc, "kernels");
    CHECK(t, kv && kv->kind == JSON_STRING && !strcmp(kv->string, "q8_0"), "kv_type: %.300s",
          r.out);
    CHECK(t, kernels && kernels->kind == JSON_STRING && !strcmp(kernels->string, matmul_kernels()),
          "kernels: %.300s (this build: %s)", r.out, matmul_kernels());
    char line[64];
    snprintf(line, sizeof line, "kernels: %s (", matmul_kernels());
    CHECK(t, strstr(r.err, line) != NULL, "settings do not name the kernels: %.400s", r.err);
    json_free(doc);
}

/* --print-rope --json: theta_k = 10000^(-2k/64) (k = 0..31), by hand: pair 1 is
 * exp(-ln(10000)/32) = 0.7498942093324559, pair 16 is 10000^(-1/2) = 0.01, pair 31 is
 * 10^(-3.875) = 1.333521432163324e-4; linear scaling by 4 divides each by 4. */
static void test_print_rope_json(TestContext *t) {
    static RunResult r;
    run_args(&r, "--print-rope", "--head-dim", "64", "-c", "4096", "--json", NULL);
    REQUIRE(t, r.code == 0, "--print-rope --json failed (%d): %.300s", r.code, r.err);
    JsonValue *doc = json_parse(r.out);
    REQUIRE(t, doc != NULL, "--print-rope --json is not JSON: %.300s", r.out);
    CHECK(t, json_number(doc, "head_dim", 0) == 64, "head_dim");
    CHECK(t, json_number(doc, "base", 0) == 10000, "base");
    double inv[64];
    int n = json_numbers(json_get(doc, "inv_freq"), inv, 64);
    CHECK(t, n == 32, "inv_freq has %d entries, expected 32", n);
    if (n == 32) {
        CHECK(t, inv[0] == 1.0, "pair 0: %.17g", inv[0]);
        CHECK(t, rel_diff(inv[1], 0.7498942093324559) < 1e-12, "pair 1: %.17g", inv[1]);
        CHECK(t, rel_diff(inv[16], 0.01) < 1e-12, "pair 16: %.17g", inv[16]);
        CHECK(t, rel_diff(inv[31], 1.333521432163324e-4) < 1e-12, "pair 31: %.17g", inv[31]);
    }
    json_free(doc);
    if (!need_kjv(t)) return;
    run_args(&r, KJV, "--print-rope", "--json", "--rope-scaling", "linear", "--rope-scale", "4",
             "-c", "1024", NULL);
    REQUIRE(t, r.code == 0, "--print-rope with the model failed: %.300s", r.err);
    doc = json_parse(r.out);
    REQUIRE(t, doc != NULL, "not JSON: %.300s", r.out);
    n = json_numbers(json_get(doc, "inv_freq"), inv, 64);
    CHECK(t, n == 32 && rel_diff(inv[1], 0.7498942093324559 / 4) < 1e-12,
          "linear x4 pair 1: %.17g (%d pairs)", inv[1], n);
    CHECK(t, json_number(doc, "original_context", 0) == 256, "original context from the model");
    json_free(doc);
}

static const TestCase cli_tests[] = {
    {"model_file_missing_empty_dir", test_model_file_missing_empty_dir},
    {"gguf_header", test_gguf_header},
    {"gguf_metadata", test_gguf_metadata},
    {"gguf_hyper_parameters", test_gguf_hyper_parameters},
    {"gguf_tensors", test_gguf_tensors},
    {"llama2c_files", test_llama2c_files},
    {"tokenizers", test_tokenizers},
    {"tokenize_refusals", test_tokenize_refusals},
    {"shared_mismatches", test_shared_mismatches},
    {"flag_syntax", test_flag_syntax},
    {"flag_numbers", test_flag_numbers},
    {"flag_cache_policies", test_flag_cache_policies},
    {"flag_rope", test_flag_rope},
    {"flag_longrope", test_flag_longrope},
    {"print_rope_refusals", test_print_rope_refusals},
    {"prompt_longer_than_context", test_prompt_longer_than_context},
    {"ppl_refusals", test_ppl_refusals},
    {"passkey_refusals", test_passkey_refusals},
    {"context_larger_than_memory", test_context_larger_than_memory},
    {"non_finite_weights", test_non_finite_weights},
    {"regression_files", test_regression_files},
    {"help", test_help},
    {"greedy_repeats", test_greedy_repeats},
    {"tiny_llama2c_runs", test_tiny_llama2c_runs},
    {"print_rope_json", test_print_rope_json},
    {"bench_json", test_bench_json},
    {NULL, NULL},
};

TEST_SUITE(cli, cli_tests)
