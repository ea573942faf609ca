/* run_bench.c — timing of prefill (a block of bench_prompt tokens after bench_depth cached
 * ones) and decode (bench_gen single tokens after bench_depth), repeated, median reported;
 * and the work each does, so that a rate reads against the machine's limits (tools/membw):
 * bytes a decoded token reads (GB/s) and arithmetic of the prefill (GFLOP/s). */
#include "run_bench.h"

#include <stdio.h>
#include <stdlib.h>

#include "../engine/kvcache.h"
#include "../engine/matmul.h"
#include "../util/errors.h"
#include "run_generate.h"

typedef struct {
    double prefill_tps, decode_tps;
} BenchRun;

/* Bytes one decoded token reads: every weight once (a tied classifier is the embedding
 * table, read whole; an untied table gives one row), and the K and V rows of every layer at
 * every cached position, counted at the mean position of the timed tokens. Activations and
 * the KV row written are not counted: they are a few KB against hundreds of MB. */
static double decode_bytes_per_token(const Session *s, const RunOptions *o) {
    const Config *c = &s->model.config;
    const Matrix *embedding = &s->model.weights.token_embedding;
    double weights = (double)s->model.weight_bytes;
    if (s->model.weights.classifier.data != embedding->data)
        weights -= (double)tensor_bytes(embedding->type, embedding->rows - 1, embedding->cols);
    double positions = o->bench_depth + (o->bench_gen + 1) / 2.0;
    double kv_per_position = (double)kvcache_bytes(s->engine.kv_type, c->n_layers, 1, c->n_kv_heads * c->head_dim);
    return weights + positions * kv_per_position;
}

/* Multiply-adds x 2 of prefilling `tokens` after `depth`: every matrix of every layer per
 * token, attention's q.k and weights x values over the positions each token sees, and the
 * classifier once per batch (prefill asks logits of a batch's last token only). */
static double prefill_flops(const Session *s, int depth, int tokens) {
    const Config *c = &s->model.config;
    const LayerWeights *l = &s->model.weights.layers[0];
    const Matrix *per_layer[] = {&l->wq, &l->wk, &l->wv, &l->wo, &l->w1, &l->w2, &l->w3};
    double layer_params = 0;
    for (size_t i = 0; i < sizeof per_layer / sizeof *per_layer; i++)
        layer_params += (double)per_layer[i]->rows * per_layer[i]->cols;
    double seen = (double)tokens * depth + (double)tokens * (tokens + 1) / 2.0;
    int batch = transformer_max_batch(s->transformer), batches = (tokens + batch - 1) / batch;
    const Matrix *out = &s->model.weights.classifier;
    return 2.0 * tokens * layer_params * c->n_layers + 4.0 * c->n_heads * c->head_dim * seen * c->n_layers +
           2.0 * batches * (double)out->rows * out->cols;
}

static void fill_ids(int *ids, int n, int vocab) {
    for (int i = 0; i < n; i++) ids[i] = 3 + (int)((1103515245u * (unsigned)i + 12345u) % (unsigned)(vocab - 3));
}

/* The depth is prefilled once per repeat; decode is timed first, then the cache is cut back
 * to the depth and the prompt's prefill is timed. */
static int bench_once(Session *s, const RunOptions *o, int *ids, BenchRun *r, char *err, size_t n) {
    int depth = o->bench_depth;
    transformer_reset(s->transformer);
    if (depth > 0 && !prefill(s, ids, depth, err, n)) return -1;
    double t0 = monotonic_seconds();
    for (int i = 0; i < o->bench_gen; i++)
        if (!transformer_append(s->transformer, &ids[depth + i], 1, 0, err, n)) return -1;
    double t1 = monotonic_seconds();
    transformer_truncate(s->transformer, depth);
    double t2 = monotonic_seconds();
    if (o->bench_prompt > 0 && !prefill(s, ids + depth, o->bench_prompt, err, n)) return -1;
    double t3 = monotonic_seconds();
    r->decode_tps = o->bench_gen > 0 ? o->bench_gen / (t1 - t0) : 0.0;
    r->prefill_tps = o->bench_prompt > 0 ? o->bench_prompt / (t3 - t2) : 0.0;
    return 0;
}

static int compare_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run_bench(Session *s, const RunOptions *o, char *err, size_t n) {
    int context = transformer_context(s->transformer);
    int needed = o->bench_depth + (o->bench_prompt > o->bench_gen ? o->bench_prompt : o->bench_gen);
    if (needed > context)
        return fail(err, n, "bench needs %d positions (depth %d + %d) but the context is %d: raise -c",
                    needed, o->bench_depth, needed - o->bench_depth, context);
    session_announce(s);
    int *ids = malloc((size_t)needed * sizeof *ids);
    double *prefill_tps = malloc((size_t)o->bench_repeats * sizeof(double));
    double *decode_tps = malloc((size_t)o->bench_repeats * sizeof(double));
    int rc = ids && prefill_tps && decode_tps ? 0 : fail(err, n, "out of memory");
    if (rc == 0) fill_ids(ids, needed, transformer_vocab_size(s->transformer));
    for (int r = 0; r < o->bench_repeats && rc == 0; r++) {
        BenchRun run = {0, 0};
        rc = bench_once(s, o, ids, &run, err, n);
        prefill_tps[r] = run.prefill_tps;
        decode_tps[r] = run.decode_tps;
    }
    if (rc == 0) {
        double p = median(prefill_tps, o->bench_repeats), d = median(decode_tps, o->bench_repeats);
        double bytes = decode_bytes_per_token(s, o), flops = prefill_flops(s, o->bench_depth, o->bench_prompt);
        double gbps = d * bytes * 1e-9, gflops = o->bench_prompt > 0 ? p * flops / o->bench_prompt * 1e-9 : 0;
        if (o->ppl.format == PPL_FORMAT_JSON)
            printf("{\"prefill_tps\": %.2f, \"decode_tps\": %.2f, \"depth\": %d, \"threads\": %d, "
                   "\"prompt\": %d, \"gen\": %d, \"kv_type\": \"%s\", \"model_bytes\": %zu, "
                   "\"decode_bytes_per_token\": %.0f, \"decode_gbps\": %.2f, \"prefill_flops\": %.0f, "
                   "\"prefill_gflops\": %.2f, \"kernels\": \"%s\"}\n",
                   p, d, o->bench_depth, s->engine.threads, o->bench_prompt, o->bench_gen,
                   kv_type_name(s->engine.kv_type), s->model.weight_bytes, bytes, gbps, flops, gflops,
                   matmul_kernels());
        else
            printf("prefill %d tokens: %.1f tok/s (%.1f GFLOP/s) | decode %d tokens at depth %d: %.1f tok/s "
                   "(%.2f ms/token, %.1f MB read per token: %.1f GB/s) | %d threads, median of %d\n",
                   o->bench_prompt, p, gflops, o->bench_gen, o->bench_depth, d, d > 0 ? 1000.0 / d : 0.0,
                   bytes * 1e-6, gbps, s->engine.threads, o->bench_repeats);
    }
    free(ids);
    free(prefill_tps);
    free(decode_tps);
    return rc;
}
