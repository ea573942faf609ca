/* run_generate.c — the generate mode: the prompt is echoed, the continuation streamed one
 * token at a time (flushed), and the speed of each phase reported. */
#include "run_generate.h"
#include "run_tokenize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../engine/sampler.h"
#include "../tokenizer/utf8.h"
#include "../util/errors.h"

double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int encode_prompt(const Session *s, const char *prompt, size_t len, int flags, int **ids,
                  int *n_ids, char *err, size_t n) {
    int needed = tokenizer_encode_text(s->tokenizer, prompt, len, flags, NULL, 0, err, n);
    if (needed < 0) return -1;
    int context = transformer_context(s->transformer);
    if (needed >= context)
        return fail(err, n, "the prompt is %d tokens%s but the context is %d: "
                    "raise -c or shorten the prompt", needed,
                    (flags & TOKENIZE_ADD_BOS) ? " (with BOS)" : "", context);
    *ids = malloc((size_t)needed * sizeof **ids);
    if (!*ids) return fail(err, n, "out of memory for the prompt");
    *n_ids = tokenizer_encode_text(s->tokenizer, prompt, len, flags, *ids, needed, err, n);
    if (*n_ids < 0) { free(*ids); *ids = NULL; return -1; }
    return 0;
}

const float *prefill(Session *s, const int *ids, int n, char *err, size_t err_size) {
    const float *logits = NULL;
    int batch = transformer_max_batch(s->transformer);
    for (int done = 0; done < n; done += batch) {
        int m = n - done < batch ? n - done : batch;
        logits = transformer_append(s->transformer, ids + done, m, 0, err, err_size);
        if (!logits) return NULL;
    }
    return logits;
}

/* Output held back while it ends inside a UTF-8 character: a byte-level token can be a
 * part of one, and a terminal shown half a character shows garbage. */
typedef struct {
    char held[4];
    size_t n_held;
} Utf8Stream;

static void emit(const Session *s, Utf8Stream *stream, int prev, int token) {
    char piece[260];
    memcpy(piece, stream->held, stream->n_held);
    int len = tokenizer_decode_piece(s->tokenizer, prev, token, piece + stream->n_held,
                                     sizeof piece - stream->n_held);
    size_t total = stream->n_held + (size_t)(len > 0 ? len : 0);
    size_t ready = utf8_complete_prefix((const unsigned char *)piece, total);
    fwrite(piece, 1, ready, stdout);
    stream->n_held = total - ready; /* at most 3 bytes */
    memcpy(stream->held, piece + ready, stream->n_held);
    fflush(stdout);
}

/* Whatever is still held at the end of the stream, complete or not. */
static void end_stream(Utf8Stream *stream) {
    fwrite(stream->held, 1, stream->n_held, stdout);
    stream->n_held = 0;
    fflush(stdout);
}

uint64_t choose_seed(const RunOptions *o) {
    if (o->seed_given) return o->seed;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
}

/* Samples up to n_predict tokens after the prompt; returns how many were produced. With
 * no overflow policy the sequence ends at the context. */
static int decode_loop(Session *s, const RunOptions *o, Sampler *sampler, const float *logits,
                       int prev, Utf8Stream *stream, char *err, size_t err_size) {
    int context = transformer_context(s->transformer);
    int bounded = s->engine.overflow == OVERFLOW_STOP;
    int produced = 0;
    while (produced < o->n_predict) {
        int next = sampler_next(sampler, logits);
        if (end_tokens_contains(&s->end_tokens, next)) break;
        emit(s, stream, prev, next);
        produced++;
        prev = next;
        if (produced == o->n_predict) break;
        if (bounded && transformer_cached(s->transformer) >= context) {
            fprintf(stderr, "\n[context of %d tokens is full: stopping]\n", context);
            break;
        }
        logits = transformer_append(s->transformer, &next, 1, 0, err, err_size);
        if (!logits) return -1;
    }
    return produced;
}

int run_generate(Session *s, const RunOptions *o, char *err, size_t err_size) {
    int *ids = NULL, n_ids = 0;
    size_t len;
    char *owned;
    const char *prompt = prompt_bytes(o, &len, &owned, err, err_size);
    int encoded = prompt ? encode_prompt(s, prompt, len, session_encode_flags(s, o), &ids, &n_ids, err, err_size) : -1;
    free(owned);
    if (encoded != 0) return -1;
    Sampler sampler;
    if (sampler_init(&sampler, transformer_vocab_size(s->transformer), o->temperature, o->top_p,
                     choose_seed(o), err, err_size) != 0) {
        free(ids);
        return -1;
    }
    session_announce(s);
    Utf8Stream stream = {{0}, 0};
    for (int i = 0; i < n_ids; i++) emit(s, &stream, i > 0 ? ids[i - 1] : -1, ids[i]); /* BOS: "" */
    double t0 = monotonic_seconds();
    const float *logits = prefill(s, ids, n_ids, err, err_size);
    double t1 = monotonic_seconds();
    int produced = logits ? decode_loop(s, o, &sampler, logits, ids[n_ids - 1], &stream, err,
                                        err_size)
                          : -1;
    double t2 = monotonic_seconds();
    sampler_free(&sampler);
    free(ids);
    if (produced < 0) return -1;
    end_stream(&stream);
    printf("\n");
    fprintf(stderr, "prompt: %d tokens in %.3f s (%.1f tok/s); generated: %d tokens in %.3f s "
            "(%.1f tok/s); cache %d positions, %ld evicted\n", n_ids, t1 - t0,
            n_ids / (t1 - t0 > 0 ? t1 - t0 : 1e-9), produced, t2 - t1,
            produced / (t2 - t1 > 0 ? t2 - t1 : 1e-9), transformer_cached(s->transformer),
            transformer_evicted(s->transformer));
    return 0;
}

int run_print_rope(const RunOptions *o, char *err, size_t err_size) {
    Model model = {0};
    const Config *config = NULL;
    if (o->model_path) {
        if (model_open(&model, o->model_path, err, err_size) != 0) return -1;
        config = &model.config;
    }
    int context = o->context > 0 ? o->context : config ? config->context_length : 0;
    if (!config && !o->rope.has_head_dim)
        return fail(err, err_size, "--print-rope without a model needs --head-dim D (and -c N)");
    if (context <= 0)
        return fail(err, err_size, "--print-rope without a model needs -c N (the context length)");
    RopeConfig rope;
    RopeFactorStorage storage;
    int rc = rope_options_resolve(&o->rope, config, context, &rope, &storage, err, err_size);
    if (rc == 0) {
        int seq_len = o->rope.has_seq_len ? o->rope.seq_len : context;
        rc = rope_print_table(stdout, &rope, seq_len, o->ppl.format == PPL_FORMAT_JSON);
        if (rc != 0) fail(err, err_size, "could not print the RoPE table");
    }
    model_close(&model);
    return rc;
}
