/* transformer.h — the forward pass of a llama-family decoder for a block of tokens:
 * prefill is a block of many tokens, decode is a block of one. Owns the KV cache, the
 * activation buffers and the RoPE tables for one sequence. */
#ifndef ROPEWALK_TRANSFORMER_H
#define ROPEWALK_TRANSFORMER_H

#include <stddef.h>

#include "../models/model.h"
#include "kvcache.h"
#include "rope.h"

typedef struct Transformer Transformer;

typedef enum {
    KEYS_ROTATED_AT_STORE = 0,  /* rotate once when cached: cheap; stale for dynamic modes */
    KEYS_ROTATED_AT_ATTENTION   /* cache raw keys, rotate with the current theta': exact */
} KeyRotationPolicy;

typedef struct {
    int context;               /* positions the KV cache holds */
    int max_batch;             /* most tokens one forward call may take (default 512) */
    int threads;               /* worker threads (>= 1) */
    RopeConfig rope;           /* effective RoPE settings (mode, factors, ...) */
    KvType kv_type;
    KeyRotationPolicy key_policy;
} EngineOptions;

/* Bytes the engine will allocate for these options (KV cache, activations, RoPE tables),
 * split for the memory plan. */
typedef struct {
    size_t kv_cache;
    size_t activations;
    size_t total;
} EngineMemory;
void transformer_memory_plan(const Config *config, const EngineOptions *options,
                             EngineMemory *plan);

int transformer_create(Transformer **out, const Model *model, const EngineOptions *options,
                       char *err, size_t err_size);
void transformer_free(Transformer *t);

/* Runs tokens[0..n) at positions pos..pos+n-1, after the first `pos` cached positions (the
 * cache keeps positions >= pos only until they are overwritten). n <= max_batch and
 * pos + n <= context. Returns the logits: n rows of vocab_size when all_logits, else the
 * last token's row; the buffer belongs to the transformer and is valid until the next call.
 * Returns NULL with a message in err on failure (bad arguments, NaN/Inf). */
const float *transformer_forward(Transformer *t, const int *tokens, int n, int pos,
                                 int all_logits, char *err, size_t err_size);

int transformer_vocab_size(const Transformer *t);
int transformer_context(const Transformer *t);
int transformer_max_batch(const Transformer *t);

#endif
