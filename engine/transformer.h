/* transformer.h — the forward pass of a llama-family decoder for a block of tokens:
 * prefill is a block of many tokens, decode is a block of one. Owns the KV cache, the
 * activation buffers and the RoPE tables for one sequence. */
#ifndef ROPEWALK_TRANSFORMER_H
#define ROPEWALK_TRANSFORMER_H

#include <stddef.h>

#include "../models/model.h"
#include "kvcache.h"
#include "rope.h"
#include "self_extend.h"

typedef struct Transformer Transformer;

typedef enum {
    KEYS_ROTATED_AT_STORE = 0,  /* rotate once when cached: cheap; stale for dynamic modes */
    KEYS_ROTATED_AT_ATTENTION   /* cache raw keys, rotate with the current theta': exact */
} KeyRotationPolicy;

/* What transformer_append does when the cache is full. */
typedef enum {
    OVERFLOW_STOP = 0,  /* refuse: the sequence ends at the context */
    OVERFLOW_STREAM,    /* StreamingLLM: keep `keep` sink tokens and the most recent ones;
                           positions re-assigned inside the window (needs raw keys) */
    OVERFLOW_SHIFT      /* llama.cpp context shift: keep `keep` tokens, drop half of the
                           rest, re-rotate the survivors' cached keys */
} OverflowPolicy;

typedef struct {
    int context;               /* positions the KV cache holds (the window when streaming) */
    int max_batch;             /* most tokens one forward call may take (default 512) */
    int threads;               /* worker threads (>= 1) */
    RopeConfig rope;           /* effective RoPE settings (mode, factors, ...) */
    KvType kv_type;
    KeyRotationPolicy key_policy;
    OverflowPolicy overflow;
    int keep;                  /* sink / kept tokens for OVERFLOW_STREAM / OVERFLOW_SHIFT */
    SelfExtend self_extend;    /* group 0: off; on, it needs KEYS_ROTATED_AT_ATTENTION and
                                  a mode whose frequencies do not depend on the length */
} EngineOptions;

/* Bytes the engine will allocate for these options (KV cache, activations, RoPE tables),
 * split for the memory plan. */
typedef struct {
    size_t kv_cache;
    size_t activations;        /* activations, matmul tile, attention scratch */
    size_t total;
} EngineMemory;
/* The largest block the engine takes for these options: max_batch, cut to the context. */
int transformer_block_limit(const EngineOptions *options);
void transformer_memory_plan(const Config *config, const EngineOptions *options,
                             EngineMemory *plan);

int transformer_create(Transformer **out, const Model *model, const EngineOptions *options,
                       char *err, size_t err_size);
void transformer_free(Transformer *t);

/* Bytes transformer_create actually allocated (equals the plan's total). */
size_t transformer_allocated_bytes(const Transformer *t);

/* Runs tokens[0..n) at positions pos..pos+n-1 after the first `pos` cached positions (later
 * ones are forgotten). n <= max_batch and pos + n <= context. Returns the logits: n rows of vocab_size when all_logits, else the
 * last token's row; the buffer belongs to the transformer and is valid until the next call.
 * Returns NULL with a message in err on failure (bad arguments, NaN/Inf). */
const float *transformer_forward(Transformer *t, const int *tokens, int n, int pos,
                                 int all_logits, char *err, size_t err_size);
/* The same, with the logits of tokens first..n-1 only (0 <= first < n), row 0 being token
 * first's: the classifier, most of a small model's work when its vocabulary is large, then
 * runs on the rows a caller scores and no others (perplexity's second half of a chunk). */
const float *transformer_forward_from(Transformer *t, const int *tokens, int n, int pos,
                                      int first, char *err, size_t err_size);

/* Appends tokens to the cached sequence, applying the overflow policy when the cache is
 * full; n <= max_batch (and, when streaming, n <= context - keep). Returns logits as
 * transformer_forward, NULL with a message when the policy is OVERFLOW_STOP and the tokens
 * do not fit. */
const float *transformer_append(Transformer *t, const int *tokens, int n, int all_logits,
                                char *err, size_t err_size);
/* Forgets the cached sequence. */
void transformer_reset(Transformer *t);
/* Forgets every cached position from n on (n <= transformer_cached). */
void transformer_truncate(Transformer *t, int n);
/* Positions currently cached, and tokens evicted so far by the overflow policy. */
int transformer_cached(const Transformer *t);
long transformer_evicted(const Transformer *t);

int transformer_vocab_size(const Transformer *t);
int transformer_context(const Transformer *t);
int transformer_max_batch(const Transformer *t);

#endif
