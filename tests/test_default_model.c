/* test_default_model.c — the project's own default model (models/kjv.gguf, trained by
 * tools/train.py, issue 8).  Needs nothing from ../shared, so these always run: the GGUF
 * has the documented shape; SentencePiece and the built-in tokenizer agree on every line
 * of the held-out text; the engine's held-out NLL at the training context matches what
 * PyTorch computed for the same model and protocol, and is far below a unigram baseline. */
#include "harness.h"

#include "../engine/sampler.h"
#include "../engine/transformer.h"
#include "../models/model.h"
#include "../tokenizer/model_vocab.h"
#include "../util/errors.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_PATH "models/kjv.gguf"
#define SPM_PATH "models/kjv.model"
#define HELDOUT_PATH "models/kjv-heldout.txt"
#define CONTEXT 256
#define CHUNKS 4

/* `tools/train.py --evaluate build/train/kjv.bin` (PyTorch, float32 weights): mean NLL of
 * the first 4 chunks of 256 of models/kjv-heldout.txt under ./run --ppl's protocol (BOS +
 * the file tokenized once; each chunk's first token replaced by BOS; 255 predictions each). */
#define PYTORCH_MEAN_NLL_FIRST4 2.75141
/* The GGUF stores F16 weights: the engine may differ from float32 PyTorch by this much. */
#define NLL_TOLERANCE 0.01

static Tokenizer *builtin_from_model(const Model *m, char *err, size_t err_size) {
    return tokenizer_from_model_vocab(&m->vocab, err, err_size);
}

static void test_shape_is_documented(TestContext *t) {
    char err[ERR_LEN] = "";
    Model m;
    REQUIRE(t, model_open(&m, MODEL_PATH, err, sizeof err) == 0, "%s: %s", MODEL_PATH, err);
    const Config *c = &m.config;
    /* models/MODEL_CARD.md: dim 256, hidden 688, 4 layers, 4 heads of 64, 2 KV heads,
     * vocab 1024, trained at 256, RMS eps 1e-5, RoPE base 10000 on interleaved pairs. */
    CHECK(t, c->dim == 256 && c->hidden_dim == 688 && c->n_layers == 4, "dim %d hidden %d "
          "layers %d", c->dim, c->hidden_dim, c->n_layers);
    CHECK(t, c->n_heads == 4 && c->n_kv_heads == 2 && c->head_dim == 64 &&
          c->rotary_dim == 64, "heads %d kv %d head_dim %d rotary %d", c->n_heads,
          c->n_kv_heads, c->head_dim, c->rotary_dim);
    CHECK(t, c->vocab_size == 1024 && c->context_length == 256, "vocab %d context %d",
          c->vocab_size, c->context_length);
    CHECK(t, fabsf(c->rms_eps - 1e-5f) < 1e-9f && c->rope.freq_base == 10000.0 &&
          c->rope_layout == ROPE_LAYOUT_INTERLEAVED, "eps %g base %g layout %d",
          c->rms_eps, c->rope.freq_base, c->rope_layout);
    CHECK(t, m.weights.layers[0].wq.type == TENSOR_F16 &&
          m.weights.token_embedding.type == TENSOR_F16 &&
          m.weights.classifier.data != m.weights.token_embedding.data,
          "F16 matrices and a separate classifier expected");
    CHECK(t, m.vocab.n_tokens == 1024 && m.vocab.unk_id == 0 && m.vocab.bos_id == 1 &&
          m.vocab.eos_id == 2, "vocab %d unk %d bos %d eos %d", m.vocab.n_tokens,
          m.vocab.unk_id, m.vocab.bos_id, m.vocab.eos_id);
    CHECK(t, m.file_bytes < 8u * 1000 * 1000, "%zu bytes: the budget is 8 MB", m.file_bytes);
    model_close(&m);
}

/* Encodes [text, text+len) with both tokenizers; 1 when the ids agree. */
static int same_ids(TestContext *t, Tokenizer *a, Tokenizer *b, const char *text, size_t len,
                    int *ids_a, int *ids_b, int max_ids) {
    char err[ERR_LEN] = "";
    int na = tokenizer_encode(a, text, len, 0, ids_a, max_ids, err, sizeof err);
    int nb = tokenizer_encode(b, text, len, 0, ids_b, max_ids, err, sizeof err);
    if (na < 0 || nb < 0 || na > max_ids || nb > max_ids) {
        test_fail_at(t, __FILE__, __LINE__, "encode failed or overflowed: %d %d %s", na, nb, err);
        return 0;
    }
    return na == nb && memcmp(ids_a, ids_b, (size_t)na * sizeof *ids_a) == 0;
}

/* Every line on its own, then the whole file at once (as ./run --ppl tokenizes it). */
static void compare_lines(TestContext *t, Tokenizer *spm, Tokenizer *builtin, char *text,
                          size_t size) {
    int max_ids = (int)size + 16; /* byte fallback: at most a token per byte, + prefix */
    int *ids_a = malloc((size_t)max_ids * sizeof *ids_a);
    int *ids_b = malloc((size_t)max_ids * sizeof *ids_b);
    if (!ids_a || !ids_b) { free(ids_a); free(ids_b); }
    REQUIRE(t, ids_a && ids_b, "out of memory");
    int lines = 0, differing = 0;
    for (char *line = text; line < text + size; lines++) {
        char *end = memchr(line, '\n', (size_t)(text + size - line));
        size_t len = end ? (size_t)(end - line) : (size_t)(text + size - line);
        if (!same_ids(t, spm, builtin, line, len, ids_a, ids_b, max_ids) && differing++ < 3)
            CHECK(t, 0, "line %d differs: %.*s", lines + 1, (int)(len < 80 ? len : 80), line);
        line += len + 1;
    }
    CHECK(t, differing == 0, "%d of %d lines tokenized differently", differing, lines);
    CHECK(t, lines >= 600, "only %d lines in %s", lines, HELDOUT_PATH); /* wc -l: 680 */
    CHECK(t, same_ids(t, spm, builtin, text, size, ids_a, ids_b, max_ids),
          "the whole file is tokenized differently");
    free(ids_a);
    free(ids_b);
}

static void test_tokenizers_agree_on_heldout_lines(TestContext *t) {
    char err[ERR_LEN] = "";
    size_t size = 0;
    char *text = read_file(HELDOUT_PATH, &size);
    REQUIRE(t, text && size > 0, "cannot read %s", HELDOUT_PATH);
    Model m;
    Tokenizer *spm = tokenizer_open_sentencepiece(SPM_PATH, err, sizeof err);
    if (!spm || model_open(&m, MODEL_PATH, err, sizeof err) != 0) {
        tokenizer_free(spm);
        free(text);
        REQUIRE(t, 0, "%s", err);
    }
    Tokenizer *builtin = builtin_from_model(&m, err, sizeof err);
    if (builtin) compare_lines(t, spm, builtin, text, size);
    else CHECK(t, 0, "built-in tokenizer from %s: %s", MODEL_PATH, err);
    tokenizer_free(builtin);
    tokenizer_free(spm);
    model_close(&m);
    free(text);
}

/* BOS + the held-out text tokenized once by SentencePiece; *n_ids set.  Caller frees. */
static int *heldout_ids(TestContext *t, int *n_ids) {
    char err[ERR_LEN] = "";
    size_t size = 0;
    char *text = read_file(HELDOUT_PATH, &size);
    Tokenizer *tok = tokenizer_open_sentencepiece(SPM_PATH, err, sizeof err);
    int need = text && tok ? tokenizer_encode(tok, text, size, 1, NULL, 0, err, sizeof err) : -1;
    int *ids = need > 0 ? malloc((size_t)need * sizeof *ids) : NULL;
    *n_ids = ids ? tokenizer_encode(tok, text, size, 1, ids, need, err, sizeof err) : -1;
    if (!ids || *n_ids != need) {
        test_fail_at(t, __FILE__, __LINE__, "tokenizing %s: %s", HELDOUT_PATH, err);
        free(ids);
        ids = NULL;
    }
    tokenizer_free(tok);
    free(text);
    return ids;
}

static double log_softmax_at(const float *logits, int vocab, int target) {
    double max = logits[0], sum = 0;
    for (int v = 1; v < vocab; v++) if (logits[v] > max) max = logits[v];
    for (int v = 0; v < vocab; v++) sum += exp(logits[v] - max);
    return logits[target] - max - log(sum);
}

/* Mean NLL of the engine over the first CHUNKS chunks (protocol of ./run --ppl, K = 0). */
static double engine_mean_nll(TestContext *t, const int *ids) {
    char err[ERR_LEN] = "";
    Model m;
    Transformer *tr = NULL;
    EngineOptions o = {.context = CONTEXT, .max_batch = CONTEXT, .threads = 2,
                       .kv_type = KV_F32, .key_policy = KEYS_ROTATED_AT_STORE};
    if (model_open(&m, MODEL_PATH, err, sizeof err) != 0) {
        test_fail_at(t, __FILE__, __LINE__, "%s: %s", MODEL_PATH, err);
        return NAN;
    }
    rope_config_init(&o.rope, ROPE_SCALING_NONE, m.config.head_dim, m.config.rope.freq_base);
    double nll = 0;
    if (transformer_create(&tr, &m, &o, err, sizeof err) != 0) nll = NAN;
    for (int j = 0; j < CHUNKS && !isnan(nll); j++) {
        int chunk[CONTEXT];
        memcpy(chunk, ids + j * CONTEXT, sizeof chunk);
        chunk[0] = m.vocab.bos_id;
        const float *logits = transformer_forward(tr, chunk, CONTEXT, 0, 1, err, sizeof err);
        if (!logits) { nll = NAN; break; }
        for (int i = 0; i + 1 < CONTEXT; i++)
            nll -= log_softmax_at(logits + (size_t)i * m.config.vocab_size, m.config.vocab_size,
                                  chunk[i + 1]);
    }
    if (isnan(nll)) test_fail_at(t, __FILE__, __LINE__, "engine: %s", err);
    transformer_free(tr);
    model_close(&m);
    return nll / (CHUNKS * (CONTEXT - 1));
}

/* Unigram baseline over the same scored tokens: -mean log(count(id) / n) with counts taken
 * from all scored held-out tokens (a unigram fitted to the test text itself, so it is an
 * optimistic baseline). */
static double unigram_mean_nll(const int *ids, int n_ids, int vocab) {
    int n_chunks = n_ids / CONTEXT;
    double *counts = calloc((size_t)vocab, sizeof *counts), total = 0, nll = 0;
    if (!counts) return NAN;
    for (int j = 0; j < n_chunks; j++)
        for (int i = 1; i < CONTEXT; i++, total++) counts[ids[j * CONTEXT + i]]++;
    for (int j = 0; j < CHUNKS; j++)
        for (int i = 1; i < CONTEXT; i++) nll -= log(counts[ids[j * CONTEXT + i]] / total);
    free(counts);
    return nll / (CHUNKS * (CONTEXT - 1));
}

static void test_heldout_perplexity_at_training_context(TestContext *t) {
    int n_ids = 0;
    int *ids = heldout_ids(t, &n_ids);
    REQUIRE(t, ids, "no held-out ids");
    REQUIRE(t, n_ids >= 8 * CONTEXT, "only %d held-out tokens", n_ids);
    double model = engine_mean_nll(t, ids);
    double unigram = unigram_mean_nll(ids, n_ids, 1024);
    free(ids);
    REQUIRE(t, !isnan(model), "no model NLL");
    CHECK(t, fabs(model - PYTORCH_MEAN_NLL_FIRST4) < NLL_TOLERANCE,
          "engine mean NLL %.5f, PyTorch %.5f (tolerance %.3f)", model,
          PYTORCH_MEAN_NLL_FIRST4, NLL_TOLERANCE);
    /* "far below": at most a third of the unigram perplexity */
    CHECK(t, exp(model) < exp(unigram) / 3, "held-out ppl %.2f vs unigram %.2f", exp(model),
          exp(unigram));
}

/* How many 8-grams of ids[0..n) occur earlier in it too. */
static int repeated_8grams(const int *ids, int n) {
    int repeats = 0;
    for (int i = 1; i + 8 <= n; i++)
        for (int j = 0; j < i; j++)
            if (memcmp(ids + i, ids + j, 8 * sizeof *ids) == 0) {
                repeats++;
                break;
            }
    return repeats;
}

/* models/MODEL_CARD.md: greedy decoding of "In the beginning" runs 64 tokens without a
 * repeated 8-gram (the earlier, briefly trained model looped at once). */
static void test_greedy_does_not_loop(TestContext *t) {
    char err[ERR_LEN] = "";
    Model m;
    Transformer *tr = NULL;
    Tokenizer *tok = tokenizer_open_sentencepiece(SPM_PATH, err, sizeof err);
    REQUIRE(t, tok && model_open(&m, MODEL_PATH, err, sizeof err) == 0, "%s", err);
    EngineOptions o = {.context = CONTEXT, .max_batch = CONTEXT, .threads = 2,
                       .kv_type = KV_F16, .key_policy = KEYS_ROTATED_AT_STORE};
    rope_config_init(&o.rope, ROPE_SCALING_NONE, m.config.head_dim, m.config.rope.freq_base);
    int ids[CONTEXT], n = tokenizer_encode(tok, "In the beginning", 16, 1, ids, CONTEXT, err,
                                           sizeof err);
    int prompt = n, ok = n > 0 && transformer_create(&tr, &m, &o, err, sizeof err) == 0;
    const float *logits = ok ? transformer_forward(tr, ids, n, 0, 0, err, sizeof err) : NULL;
    while (logits && n < prompt + 64) {
        ids[n] = argmax(logits, m.config.vocab_size);
        logits = transformer_forward(tr, ids + n, 1, n, 0, err, sizeof err);
        n++;
    }
    CHECK(t, n == prompt + 64, "greedy decoding stopped at %d tokens: %s", n - prompt, err);
    int repeats = repeated_8grams(ids + prompt, n - prompt);
    CHECK(t, repeats == 0, "%d of the 64 greedy tokens start an 8-gram seen before", repeats);
    transformer_free(tr);
    model_close(&m);
    tokenizer_free(tok);
}

static const TestCase default_model_tests[] = {
    {"greedy_does_not_loop", test_greedy_does_not_loop},
    {"shape_is_documented", test_shape_is_documented},
    {"tokenizers_agree_on_heldout_lines", test_tokenizers_agree_on_heldout_lines},
    {"heldout_perplexity_at_training_context", test_heldout_perplexity_at_training_context},
    {NULL, NULL},
};

TEST_SUITE(default_model, default_model_tests)
