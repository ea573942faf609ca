/* run_session.c — opening a model, its tokenizer and the engine for one command, with
 * the memory plan said before anything large is allocated. */
#include "run_session.h"
#include "run_self_extend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/matmul.h"
#include "../engine/repack.h"
#include "../tokenizer/model_vocab.h"
#include "../util/errors.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static Tokenizer *open_tokenizer(const Model *m, const char *path, char *err, size_t n) {
    if (path && ends_with(path, ".model")) return tokenizer_open_sentencepiece(path, err, n);
    if (path) return tokenizer_open_llama2c(path, m->config.vocab_size, err, n);
    const ModelVocab *v = &m->vocab;
    if (v->n_tokens == 0) {
        fail(err, n, "the model file has no vocabulary: give --tokenizer FILE "
             "(a SentencePiece .model or a llama2.c tokenizer.bin)");
        return NULL;
    }
    return tokenizer_from_model_vocab(v, err, n);
}

/* The end-of-generation set from the file's vocabulary and the tokenizer's eos. */
static void find_end_tokens(Session *s) {
    const ModelVocab *v = &s->model.vocab;
    end_tokens_init(&s->end_tokens, v->n_tokens, (const char *const *)v->pieces, v->piece_lengths,
                    tokenizer_eos(s->tokenizer), v->eot_id, v->eom_id);
}

static int check_tokenizer(const Session *s, char *err, size_t n) {
    int tv = tokenizer_vocab_size(s->tokenizer), mv = s->model.config.vocab_size;
    if (tv != mv)
        return fail(err, n, "tokenizer has %d tokens but the model's vocabulary is %d: "
                    "they do not belong together", tv, mv);
    return 0;
}

size_t available_memory_bytes(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    size_t kib = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %zu kB", &kib) == 1) break;
    fclose(f);
    return kib * 1024;
}

static double mib(size_t bytes) { return (double)bytes / (1024.0 * 1024.0); }

/* The largest context whose plan fits in `budget` bytes with this KV type. */
static int largest_context(const Config *c, EngineOptions o, KvType type, size_t budget) {
    int lo = 0, hi = 1 << 28;
    o.kv_type = type;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        EngineMemory plan;
        o.context = mid;
        transformer_memory_plan(c, &o, &plan);
        if (plan.total <= budget) lo = mid; else hi = mid - 1;
    }
    return lo;
}

static int check_memory_plan(const Session *s, FILE *out, char *err, size_t n) {
    EngineMemory plan;
    const Config *c = &s->model.config;
    transformer_memory_plan(c, &s->engine, &plan);
    size_t repacked = s->no_repack ? 0 : repack_plan_bytes(&s->model);
    size_t weights = s->model.file_bytes + s->model.owned_bytes + repacked;
    size_t total = weights + plan.total;
    size_t available = available_memory_bytes();
    if (available != 0 && total > available) {
        size_t budget = available > weights ? available - weights : 0;
        return fail(err, n, "context %d needs %.0f MiB but only %.0f MiB is available: the "
                    "largest -c that fits is %d with --kv-type f32, %d with f16, %d with q8_0",
                    s->engine.context, mib(total), mib(available),
                    largest_context(c, s->engine, KV_F32, budget),
                    largest_context(c, s->engine, KV_F16, budget),
                    largest_context(c, s->engine, KV_Q8_0, budget));
    }
    fprintf(out, "memory: weights %.1f MiB (mapped file %.1f + converted %.1f + repacked %.1f), "
            "KV cache %.1f MiB (%s, 2 x %d layers x %d positions x %d), "
            "activations %.1f MiB, total %.1f MiB\n",
            mib(weights), mib(s->model.file_bytes), mib(s->model.owned_bytes), mib(repacked), mib(plan.kv_cache),
            kv_type_name(s->engine.kv_type), c->n_layers, s->engine.context,
            c->n_kv_heads * c->head_dim, mib(plan.activations), mib(total));
    return 0;
}

static int engine_options(Session *s, const RunOptions *o, char *err, size_t n) {
    const Config *c = &s->model.config;
    EngineOptions *e = &s->engine;
    memset(e, 0, sizeof *e);
    e->context = o->context > 0 ? o->context : c->context_length;
    if (o->stream_window) {
        e->context = o->stream_window;
        e->overflow = OVERFLOW_STREAM;
        e->keep = o->sinks;
    } else if (o->context_shift) {
        e->overflow = OVERFLOW_SHIFT;
        e->keep = o->keep;
    }
    e->max_batch = o->batch;
    e->max_batch = transformer_block_limit(e); /* as printed: what the engine will take */
    e->threads = o->threads;
    e->kv_type = o->kv_type;
    if (rope_options_resolve(&o->rope, c, e->context, &e->rope, &s->rope_storage, err, n) != 0)
        return -1;
    int trained = e->rope.original_context > 0 ? e->rope.original_context : c->context_length;
    if (self_extend_resolve(&o->rope, trained, e->context, &e->self_extend, err, n) != 0)
        return -1;
    e->key_policy = (KeyRotationPolicy)o->key_policy;
    if (o->key_policy == KEY_POLICY_AUTO)
        e->key_policy = rope_depends_on_length(&e->rope) || e->overflow == OVERFLOW_STREAM ||
                                self_extend_on(&e->self_extend)
                            ? KEYS_ROTATED_AT_ATTENTION : KEYS_ROTATED_AT_STORE;
    return 0;
}

static void print_settings(const Session *s, FILE *out) {
    const Config *c = &s->model.config;
    fprintf(out, "model: %s (%s), dim %d, hidden %d, %d layers, %d heads (%d kv), "
            "head %d, vocab %d, trained context %d, RoPE pairs %s%s\n",
            s->model.name, s->model.format == MODEL_FORMAT_GGUF ? "GGUF" : "llama2.c",
            c->dim, c->hidden_dim, c->n_layers, c->n_heads, c->n_kv_heads, c->head_dim,
            c->vocab_size, c->context_length,
            c->rope_layout == ROPE_LAYOUT_HALF_SPLIT ? "half-split" : "interleaved",
            s->model.weights.layers && s->model.weights.layers[0].bq ? ", q/k/v biases" : "");
    rope_print_settings(out, &s->engine.rope, s->engine.context,
                        self_extend_on(&s->engine.self_extend));
    self_extend_print_settings(out, &s->engine.self_extend,
                               s->engine.rope.original_context > 0
                                   ? s->engine.rope.original_context : c->context_length,
                               s->engine.context);
    if (s->rope_storage.file_divisors_replaced)
        fprintf(out, "rope: --rope-scaling %s replaces the model's rope_freqs.weight (its baked-in "
                "scaling is not applied)\n", rope_scaling_name(s->engine.rope.mode));
    static const char *const overflow_names[] = {
        "stop at the context", "streaming window with attention sinks", "context shift"};
    fprintf(out, "engine: context %d, batch %d, %d threads, KV %s, keys rotated %s, "
            "when full: %s", s->engine.context, s->engine.max_batch, s->engine.threads,
            kv_type_name(s->engine.kv_type),
            s->engine.key_policy == KEYS_ROTATED_AT_STORE ? "when stored"
                                                          : "at attention (exact)",
            overflow_names[s->engine.overflow]);
    if (s->engine.overflow != OVERFLOW_STOP) fprintf(out, " (keep %d)", s->engine.keep);
    fprintf(out, "\n");
    fprintf(out, "kernels: %s (%s)\n", matmul_kernels(), matmul_kernels_description());
    if (s->tokenizer && s->end_tokens.n > 0) {
        fprintf(out, "generation stops at: ");
        end_tokens_describe(&s->end_tokens,
                            s->model.vocab.n_tokens ? (const char *const *)s->model.vocab.pieces : NULL,
                            out);
        fprintf(out, "\n");
    }
}

/* The settings and the memory plan, into s->settings_text; -1 with a message when the
 * plan does not fit in memory. */
static int write_settings(Session *s, char *err, size_t n) {
    size_t size = 0;
    FILE *out = open_memstream(&s->settings_text, &size);
    if (!out) return fail(err, n, "out of memory for the settings report");
    print_settings(s, out);
    int rc = check_memory_plan(s, out, err, n);
    fclose(out);
    return rc;
}

int session_open(Session *s, const RunOptions *o, int need_tokenizer, char *err, size_t n) {
    memset(s, 0, sizeof *s);
    if (model_open(&s->model, o->model_path, err, n) != 0) return -1;
    if (need_tokenizer) {
        s->tokenizer = open_tokenizer(&s->model, o->tokenizer_path, err, n);
        if (!s->tokenizer || check_tokenizer(s, err, n) != 0) goto fail;
        find_end_tokens(s);
    }
    if (engine_options(s, o, err, n) != 0) goto fail;
    s->no_repack = o->no_repack;
    if (write_settings(s, err, n) != 0) goto fail;
    if (!s->no_repack && repack_weights(&s->model, err, n) != 0) goto fail;
    if (transformer_create(&s->transformer, &s->model, &s->engine, err, n) != 0) goto fail;
    return 0;
fail:
    session_close(s);
    return -1;
}

int session_open_tokenizer(Session *s, const RunOptions *o, char *err, size_t n) {
    memset(s, 0, sizeof *s);
    if (model_open_vocabulary(&s->model, o->model_path, err, n) != 0) return -1;
    s->tokenizer = open_tokenizer(&s->model, o->tokenizer_path, err, n);
    if (!s->tokenizer || check_tokenizer(s, err, n) != 0) {
        session_close(s);
        return -1;
    }
    return 0;
}

int session_encode_flags(const Session *s, const RunOptions *o) {
    int vocab_adds_bos = o->tokenizer_path || s->model.vocab.n_tokens == 0 || s->model.vocab.add_bos;
    return (vocab_adds_bos && !o->no_bos ? TOKENIZE_ADD_BOS : 0) |
           (o->no_parse_special ? 0 : TOKENIZE_PARSE_SPECIAL);
}

void session_announce(Session *s) {
    if (!s->settings_text) return;
    fputs(s->settings_text, stderr);
    fflush(stderr);
    free(s->settings_text);
    s->settings_text = NULL;
}

void session_close(Session *s) {
    transformer_free(s->transformer);
    tokenizer_free(s->tokenizer);
    model_close(&s->model);
    free(s->settings_text);
    memset(s, 0, sizeof *s);
}
