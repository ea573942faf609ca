/* transformer.c — the forward pass for a block of tokens through every layer:
 * RMSNorm, Q/K/V projections (plus their biases where the file has them), RoPE, KV cache,
 * grouped-query attention, output projection, SwiGLU feed-forward, final norm and classifier. */
#include "transformer.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../util/errors.h"
#include "attention.h"
#include "matmul.h"
#include "ops.h"
#include "threads.h"
#include "weight_rows.h"

typedef struct {
    float *x, *xb, *q, *k, *v, *att, *gate, *up, *logits;
    float *cos_sin; /* per token of the block: rotary_dim/2 (cos, sin) pairs */
} Activations;

struct Transformer {
    const Model *model;
    Config config;
    EngineOptions options;
    ThreadPool *pool;
    Matmul matmul;
    KvCache cache;
    AttentionSpec attention;
    AttentionScratch attention_scratch;
    Activations act;
    float *act_block;               /* one allocation behind act */
    double fixed_inv_freq[ROPE_MAX_PAIRS];
    double fixed_attention_factor;  /* when theta' does not depend on the length */
    size_t activation_bytes;        /* behind act_block */
    float *key_angles;              /* see AttentionSpec.key_angles */
    long evicted;                   /* tokens dropped by the overflow policy */
};

static size_t activation_floats(const Config *c, int batch) {
    size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    size_t per_token = 2 * (size_t)c->dim + 2 * q_dim + 2 * kv_dim + 2 * (size_t)c->hidden_dim +
                       (size_t)c->vocab_size + (size_t)c->head_dim;
    return per_token * (size_t)batch;
}

static int max_cols(const Config *c) {
    int widest = c->dim > c->hidden_dim ? c->dim : c->hidden_dim;
    int q_dim = c->n_heads * c->head_dim;
    return widest > q_dim ? widest : q_dim;
}

static AttentionSpec attention_spec(const Config *c, const EngineOptions *o) {
    AttentionSpec spec = {c->n_heads, c->n_kv_heads, c->head_dim, c->rope_layout, NULL, NULL, {0, 0}};
    if (o->key_policy == KEYS_ROTATED_AT_ATTENTION) spec.rope_at_attention = &o->rope;
    spec.self_extend = o->self_extend;
    return spec;
}

/* Raw keys with frequencies that do not depend on the length: one cos/sin table for every
 * position, computed once (bytes; 0 when not used). */
static size_t key_angle_bytes(const EngineOptions *o) {
    if (o->key_policy != KEYS_ROTATED_AT_ATTENTION || rope_depends_on_length(&o->rope)) return 0;
    return (size_t)o->context * (size_t)o->rope.rotary_dim * sizeof(float);
}

static int build_key_angles(Transformer *t) {
    size_t bytes = key_angle_bytes(&t->options);
    if (bytes == 0) return 0;
    int rot = t->options.rope.rotary_dim;
    t->key_angles = malloc(bytes);
    if (!t->key_angles) return -1;
    for (int p = 0; p < t->options.context; p++)
        rope_cos_sin(t->fixed_inv_freq, rot / 2, t->fixed_attention_factor, p,
                     t->key_angles + (size_t)p * rot);
    t->attention.key_angles = t->key_angles;
    return 0;
}

int transformer_block_limit(const EngineOptions *options) {
    return options->max_batch < options->context ? options->max_batch : options->context;
}

void transformer_memory_plan(const Config *config, const EngineOptions *options,
                             EngineMemory *plan) {
    AttentionSpec spec = attention_spec(config, options);
    int batch = transformer_block_limit(options);
    plan->kv_cache = kvcache_bytes(options->kv_type, config->n_layers, options->context,
                                   config->n_kv_heads * config->head_dim);
    plan->activations = activation_floats(config, batch) * sizeof(float) +
                        matmul_scratch_bytes(max_cols(config), batch, options->threads) +
                        attention_scratch_bytes(&spec, options->context, options->threads) +
                        key_angle_bytes(options);
    plan->total = plan->kv_cache + plan->activations;
}

static void carve_activations(Transformer *t) {
    const Config *c = &t->config;
    size_t b = (size_t)t->options.max_batch;
    size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    float *p = t->act_block;
    Activations *a = &t->act;
    a->x = p; p += b * c->dim;
    a->xb = p; p += b * c->dim;
    a->q = p; p += b * q_dim;
    a->att = p; p += b * q_dim;
    a->k = p; p += b * kv_dim;
    a->v = p; p += b * kv_dim;
    a->gate = p; p += b * c->hidden_dim;
    a->up = p; p += b * c->hidden_dim;
    a->logits = p; p += b * c->vocab_size;
    a->cos_sin = p;
}

static int check_overflow(const EngineOptions *o, char *err, size_t n) {
    if (o->overflow == OVERFLOW_STOP) return 0;
    if (o->keep < 0 || o->keep >= o->context)
        return fail(err, n, "%d kept/sink tokens leave no room in a context of %d", o->keep,
                    o->context);
    if (o->overflow == OVERFLOW_STREAM && o->key_policy != KEYS_ROTATED_AT_ATTENTION)
        return fail(err, n, "streaming re-assigns positions inside the window, so keys must be "
                    "cached raw and rotated at attention (--rope-keys attention)");
    return 0;
}

/* Self-Extend rotates raw keys to two positions with one fixed table (self_extend.h). */
static int check_self_extend(const EngineOptions *o, char *err, size_t n) {
    if (!self_extend_on(&o->self_extend)) return 0;
    if (self_extend_validate(&o->self_extend, err, n) != 0) return -1;
    if (o->key_policy != KEYS_ROTATED_AT_ATTENTION)
        return fail(err, n, "self-extend rotates keys to two positions, so they must be cached "
                    "raw (--rope-keys attention)");
    if (rope_depends_on_length(&o->rope))
        return fail(err, n, "self-extend needs frequencies that do not change with the length; "
                    "%s's do", rope_scaling_name(o->rope.mode));
    return 0;
}

static int check_options(const Config *c, const EngineOptions *o, char *err, size_t n) {
    if (o->context < 1) return fail(err, n, "context %d must be at least 1", o->context);
    if (check_overflow(o, err, n) != 0) return -1;
    if (o->max_batch < 1) return fail(err, n, "batch size %d must be at least 1", o->max_batch);
    if (o->threads < 1) return fail(err, n, "thread count %d must be at least 1", o->threads);
    if (o->rope.head_dim != c->head_dim)
        return fail(err, n, "RoPE settings are for head_dim %d, the model has %d",
                    o->rope.head_dim, c->head_dim);
    if (check_self_extend(o, err, n) != 0) return -1;
    return rope_config_validate(&o->rope, err, n);
}

int transformer_create(Transformer **out, const Model *model, const EngineOptions *options,
                       char *err, size_t err_size) {
    *out = NULL;
    if (check_options(&model->config, options, err, err_size) != 0) return -1;
    Transformer *t = calloc(1, sizeof *t);
    if (!t) return fail(err, err_size, "out of memory");
    t->model = model;
    t->config = model->config;
    t->options = *options;
    t->config.rotary_dim = options->rope.rotary_dim; /* --rope-dim may override the file */
    t->options.max_batch = transformer_block_limit(options);
    t->attention = attention_spec(&t->config, &t->options);
    t->fixed_attention_factor = rope_inv_freq(&t->options.rope, 1, t->fixed_inv_freq);
    if (build_key_angles(t) != 0) {
        transformer_free(t);
        return fail(err, err_size, "out of memory for the key angle table");
    }
    openblas_set_num_threads(1); /* the pool splits every sgemm; OpenBLAS must not add threads */
    const Config *c = &t->config;
    t->activation_bytes = activation_floats(c, t->options.max_batch) * sizeof(float);
    t->act_block = malloc(t->activation_bytes);
    if (!t->act_block) { transformer_free(t); return fail(err, err_size, "out of memory for activations"); }
    carve_activations(t);
    if (!(t->pool = thread_pool_create(options->threads, err, err_size)) ||
        matmul_init(&t->matmul, t->pool, max_cols(c), t->options.max_batch, err, err_size) != 0 ||
        kvcache_init(&t->cache, options->kv_type, c->n_layers, t->options.context,
                     c->n_kv_heads * c->head_dim, err, err_size) != 0) {
        transformer_free(t);
        return -1;
    }
    if (attention_scratch_init(&t->attention_scratch, &t->attention, t->options.context,
                               options->threads) != 0) {
        transformer_free(t);
        return fail(err, err_size, "out of memory for attention scratch");
    }
    kvcache_reset(&t->cache, t->options.overflow == OVERFLOW_STOP ? 0 : t->options.keep);
    *out = t;
    return 0;
}

void transformer_free(Transformer *t) {
    if (!t) return;
    attention_scratch_free(&t->attention_scratch);
    free(t->key_angles);
    kvcache_free(&t->cache);
    matmul_free(&t->matmul);
    thread_pool_free(t->pool);
    free(t->act_block);
    free(t);
}

size_t transformer_allocated_bytes(const Transformer *t) {
    return t->activation_bytes + t->cache.bytes +
           matmul_scratch_bytes(t->matmul.max_cols, t->matmul.max_tokens, t->matmul.threads) +
           key_angle_bytes(&t->options) +
           t->attention_scratch.floats_per_thread * (size_t)t->attention_scratch.threads *
               sizeof(float);
}

int transformer_vocab_size(const Transformer *t) { return t->config.vocab_size; }
int transformer_cached(const Transformer *t) { return t->cache.n_cached; }
long transformer_evicted(const Transformer *t) { return t->evicted; }
int transformer_context(const Transformer *t) { return t->options.context; }
int transformer_max_batch(const Transformer *t) { return t->options.max_batch; }

/* cos/sin for each token of the block, with the frequencies of that token's own length. */
static void fill_rope_tables(Transformer *t, int n, int pos) {
    const RopeConfig *rope = &t->options.rope;
    int pairs = rope->rotary_dim / 2;
    int per_length = rope_depends_on_length(rope);
    double inv_freq[ROPE_MAX_PAIRS];
    for (int i = 0; i < n; i++) {
        const double *freq = t->fixed_inv_freq;
        double factor = t->fixed_attention_factor;
        if (per_length) {
            factor = rope_inv_freq(rope, pos + i + 1, inv_freq);
            freq = inv_freq;
        }
        rope_cos_sin(freq, pairs, factor, pos + i, t->act.cos_sin + (size_t)i * 2 * pairs);
    }
}

static void embed_tokens(Transformer *t, const int *tokens, int n) {
    for (int i = 0; i < n; i++)
        dequantize_row(&t->model->weights.token_embedding, tokens[i],
                       t->act.x + (size_t)i * t->config.dim);
}

/* The per-token steps of a layer (norms, RoPE and the cache store, SwiGLU) run over token
 * ranges split across the pool: in a prefill they would otherwise leave the other cores idle
 * between the matrix products. A step over few tokens stays on the caller. The residual adds
 * happen inside the output products (matmul_add). */
typedef struct {
    Transformer *t;
    const float *norm_weight;
    const LayerWeights *weights;
    int layer, pos;
} TokenStep;

/* x[0..n) += bias, when there is one. */
static void add_bias(float *x, const float *bias, size_t n) {
    if (!bias) return;
    for (size_t i = 0; i < n; i++) x[i] += bias[i];
}

static void for_token_ranges(Transformer *t, int n, RangeFn step, TokenStep *ctx) {
    const Config *c = &t->config;
    double cost = 4.0 * (c->dim > c->hidden_dim ? c->dim : c->hidden_dim);
    parallel_for(t->pool, n, min_chunk_for_cost(cost), step, ctx);
}

static void norm_tokens(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const TokenStep *s = ctx;
    size_t dim = (size_t)s->t->config.dim;
    for (int i = begin; i < end; i++)
        rmsnorm(s->t->act.xb + i * dim, s->t->act.x + i * dim, s->norm_weight, (int)dim,
                s->t->config.rms_eps);
}

static void rotate_and_store_tokens(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const TokenStep *s = ctx;
    Transformer *t = s->t;
    const Config *c = &t->config;
    size_t q_dim = (size_t)c->n_heads * c->head_dim, kv_dim = (size_t)c->n_kv_heads * c->head_dim;
    int rotate_keys = t->options.key_policy == KEYS_ROTATED_AT_STORE;
    int rotate_queries = !self_extend_on(&t->options.self_extend); /* else attention does */
    const LayerWeights *w = s->weights;
    for (int i = begin; i < end; i++) {
        const float *cs = t->act.cos_sin + (size_t)i * c->rotary_dim;
        float *k = t->act.k + i * kv_dim;
        add_bias(t->act.q + i * q_dim, w->bq, q_dim);
        add_bias(k, w->bk, kv_dim);
        add_bias(t->act.v + i * kv_dim, w->bv, kv_dim);
        if (rotate_queries)
            rope_rotate(t->act.q + i * q_dim, c->n_heads, c->head_dim, c->rotary_dim,
                        c->rope_layout, cs);
        if (rotate_keys)
            rope_rotate(k, c->n_kv_heads, c->head_dim, c->rotary_dim, c->rope_layout, cs);
        kvcache_store(&t->cache, s->layer, s->pos + i, k, t->act.v + i * kv_dim);
    }
}

static void swiglu_tokens(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const TokenStep *s = ctx;
    size_t hidden = (size_t)s->t->config.hidden_dim;
    swiglu(s->t->act.gate + begin * hidden, s->t->act.up + begin * hidden,
           (int)((size_t)(end - begin) * hidden));
}

static void attention_layer(Transformer *t, const LayerWeights *w, int layer, int n, int pos) {
    Activations *a = &t->act;
    TokenStep step = {t, w->rms_att, w, layer, pos};
    for_token_ranges(t, n, norm_tokens, &step);
    const Matrix *qkv[3] = {&w->wq, &w->wk, &w->wv};
    float *const qkv_out[3] = {a->q, a->k, a->v};
    matmul_shared_input(&t->matmul, qkv, qkv_out, 3, a->xb, n);
    for_token_ranges(t, n, rotate_and_store_tokens, &step);
    attention_block(t->pool, &t->attention, &t->attention_scratch, &t->cache, layer, a->q, n,
                    pos, a->att);
    matmul_add(&t->matmul, &w->wo, a->att, n, a->x);
    for (int i = 0; w->bo && i < n; i++) add_bias(a->x + (size_t)i * t->config.dim, w->bo, t->config.dim);
}

static void ffn_layer(Transformer *t, const LayerWeights *w, int n) {
    Activations *a = &t->act;
    TokenStep step = {t, w->rms_ffn, w, 0, 0};
    for_token_ranges(t, n, norm_tokens, &step);
    const Matrix *gate_up[2] = {&w->w1, &w->w3};
    float *const gate_up_out[2] = {a->gate, a->up};
    matmul_shared_input(&t->matmul, gate_up, gate_up_out, 2, a->xb, n);
    for_token_ranges(t, n, swiglu_tokens, &step);
    matmul_add(&t->matmul, &w->w2, a->gate, n, a->x);
}

/* A vectorised pass finds out whether any value is NaN or infinite, and only then the scalar
 * one says where (the logits of a perplexity block are millions of floats). */
static long first_non_finite(const float *x, size_t n) {
    if (all_finite(x, n)) return -1;
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

/* The residual stream after each layer is checked (n x dim floats, cheap next to the layer
 * itself), so a NaN or Inf is reported where it first appears. */
static int check_layer(const Transformer *t, int layer, int n, int pos, char *err, size_t size) {
    long bad = first_non_finite(t->act.x, (size_t)n * t->config.dim);
    if (bad < 0) return 0;
    return fail(err, size, "non-finite activation (NaN or Inf) after layer %d at position %ld",
                layer, pos + bad / t->config.dim);
}

const float *transformer_forward_from(Transformer *t, const int *tokens, int n, int pos,
                                      int first, char *err, size_t err_size) {
    const Config *c = &t->config;
    if (n < 1 || n > t->options.max_batch || pos < 0 || pos + n > t->options.context ||
        pos > t->cache.n_cached || first < 0 || first >= n) {
        fail(err, err_size, "forward of %d tokens at position %d, logits from token %d, does not "
             "fit (context %d, batch %d, %d cached)", n, pos, first, t->options.context,
             t->options.max_batch, t->cache.n_cached);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab_size) {
            fail(err, err_size, "token id %d is outside the vocabulary (0..%d)", tokens[i], c->vocab_size - 1);
            return NULL;
        }
    if (pos == 0) kvcache_reset(&t->cache, t->cache.n_pinned);
    t->cache.n_cached = pos + n;
    embed_tokens(t, tokens, n);
    fill_rope_tables(t, n, pos);
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *w = &t->model->weights.layers[l];
        attention_layer(t, w, l, n, pos);
        ffn_layer(t, w, n);
        if (check_layer(t, l, n, pos, err, err_size) != 0) return NULL;
    }
    int rows = n - first;
    float *xf = t->act.xb + (size_t)first * c->dim;
    for (int i = 0; i < rows; i++)
        rmsnorm(xf + (size_t)i * c->dim, t->act.x + (size_t)(first + i) * c->dim,
                t->model->weights.rms_final, c->dim, c->rms_eps);
    matmul(&t->matmul, &t->model->weights.classifier, xf, rows, t->act.logits);
    long bad = first_non_finite(t->act.logits, (size_t)rows * c->vocab_size);
    if (bad >= 0) {
        fail(err, err_size, "non-finite logit (NaN or Inf) in the classifier at position %ld",
             pos + first + bad / c->vocab_size);
        return NULL;
    }
    return t->act.logits;
}

const float *transformer_forward(Transformer *t, const int *tokens, int n, int pos,
                                 int all_logits, char *err, size_t err_size) {
    return transformer_forward_from(t, tokens, n, pos, all_logits ? 0 : n - 1, err, err_size);
}

/* Rotates the cached keys of positions first..n_cached-1 back by delta positions:
 * R(theta (p - delta)) = R(-theta delta) R(theta p) for fixed frequencies. */
static void rerotate_keys(Transformer *t, int first, int delta) {
    const Config *c = &t->config;
    float cos_sin[2 * ROPE_MAX_PAIRS], *row = t->act.k;
    rope_cos_sin(t->fixed_inv_freq, c->rotary_dim / 2, 1.0, -(double)delta, cos_sin);
    for (int l = 0; l < c->n_layers; l++)
        for (int p = first; p < t->cache.n_cached; p++) {
            kvcache_load_key(&t->cache, l, p, row);
            kvcache_load_value(&t->cache, l, p, t->act.v);
            rope_rotate(row, c->n_kv_heads, c->head_dim, c->rotary_dim, c->rope_layout, cos_sin);
            kvcache_store(&t->cache, l, p, row, t->act.v);
        }
}

/* Makes room for n tokens under the overflow policy. */
static int make_room(Transformer *t, int n, char *err, size_t size) {
    KvCache *cache = &t->cache;
    int free_slots = cache->capacity - cache->n_cached;
    if (n <= free_slots) return 0;
    int evictable = cache->n_cached - cache->n_pinned;
    int needed = n - free_slots;
    switch (t->options.overflow) {
    case OVERFLOW_STOP:
        return fail(err, size, "the context of %d tokens is full (use -c, --stream-window or "
                    "--context-shift)", cache->capacity);
    case OVERFLOW_STREAM:
        break;
    case OVERFLOW_SHIFT:
        if (needed < evictable / 2) needed = evictable / 2;
        break;
    }
    if (needed > evictable)
        return fail(err, size, "a block of %d tokens does not fit beside %d kept tokens in a "
                    "cache of %d", n, cache->n_pinned, cache->capacity);
    kvcache_evict(cache, needed);
    t->evicted += needed;
    if (t->options.key_policy == KEYS_ROTATED_AT_STORE)
        rerotate_keys(t, cache->n_pinned, needed);
    return 0;
}

const float *transformer_append(Transformer *t, const int *tokens, int n, int all_logits,
                                char *err, size_t err_size) {
    if (n < 1 || n > t->options.max_batch) {
        fail(err, err_size, "append of %d tokens (batch %d)", n, t->options.max_batch);
        return NULL;
    }
    if (make_room(t, n, err, err_size) != 0) return NULL;
    int pos = t->cache.n_cached;
    return transformer_forward(t, tokens, n, pos, all_logits, err, err_size);
}

void transformer_truncate(Transformer *t, int n) {
    if (n >= 0 && n < t->cache.n_cached) t->cache.n_cached = n;
}

void transformer_reset(Transformer *t) {
    kvcache_reset(&t->cache, t->cache.n_pinned);
    t->evicted = 0;
}
