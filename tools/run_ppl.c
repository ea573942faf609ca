/* run_ppl.c — perplexity of a token stream under the engine: the chunked protocol of
 * llama.cpp's llama-perplexity (and ../shared/refs/stories260K_ref.json), the sliding-window
 * protocol of the PI/YaRN papers, per-band/per-position NLL, the --ppl flags and reports.
 *
 * Chunked: chunk i = ids[i*c .. (i+1)*c) with its first token replaced by BOS; the logits at
 * positions K..c-2 predict tokens K+1..c-1. n_chunks = n_ids / c (floor), capped by N.
 * Sliding (stride S): window w = ids[w*S .. w*S+c), first token replaced by BOS too (so every
 * window starts the way the model saw its training sequences, and S = c reproduces the
 * chunked K = 0 numbers); window 0 scores all c-1 predictions, later windows the last
 * min(S, c-1), so each token after the first window's is predicted exactly once with at
 * least c-1-S tokens of context. Only whole windows are run (the tail past the last one
 * is not scored). The band of a prediction is the PREDICTED token's position / L. */
#include "run_ppl.h"

#include "../util/read_file.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../engine/ops.h"
#include "../util/errors.h"

void ppl_options_init(PplOptions *o) {
    memset(o, 0, sizeof *o);
    o->format = PPL_FORMAT_TABLE;
    o->progress = 1;
}

/* ---- flags ------------------------------------------------------------------------ */

static int parse_count(const char *flag, const char *text, int min, int *out, char *err,
                       size_t err_size) {
    char *end = NULL;
    errno = 0;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || value > INT_MAX)
        return fail(err, err_size, "%s: '%s' is not a whole number", flag, text);
    if (value < min)
        return fail(err, err_size, "%s must be >= %d (got %ld)", flag, min, value);
    *out = (int)value;
    return 0;
}

static const char *flag_value(int argc, char **argv, int *i, const char *what, char *err,
                              size_t err_size) {
    if (*i + 1 >= argc || argv[*i + 1] == NULL) {
        fail(err, err_size, "%s needs a value (%s)", argv[*i], what);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

static int parse_count_flag(int argc, char **argv, int *i, int min, int *out, char *err,
                            size_t err_size) {
    const char *flag = argv[*i];
    const char *value = flag_value(argc, argv, i, "a whole number", err, err_size);
    if (!value) return -1;
    return parse_count(flag, value, min, out, err, err_size) < 0 ? -1 : 1;
}

int ppl_flag_parse(PplOptions *o, int argc, char **argv, int *i, char *err, size_t err_size) {
    const char *flag = argv[*i];
    if (strcmp(flag, "--json") == 0) { o->format = PPL_FORMAT_JSON; return 1; }
    if (strcmp(flag, "--csv") == 0) { o->format = PPL_FORMAT_CSV; return 1; }
    if (strcmp(flag, "--ppl-no-progress") == 0) { o->progress = 0; return 1; }
    if (strcmp(flag, "--ppl") == 0 || strcmp(flag, "--ppl-positions") == 0) {
        const char *path = flag_value(argc, argv, i, "a file name", err, err_size);
        if (!path) return -1;
        if (!*path) return fail(err, err_size, "%s: the file name is empty", flag);
        if (flag[5] == '\0') o->text_path = path; else o->positions_path = path;
        return 1;
    }
    if (strcmp(flag, "--ppl-score-from") == 0)
        return parse_count_flag(argc, argv, i, 0, &o->score_from, err, err_size);
    if (strcmp(flag, "--ppl-stride") == 0)
        return parse_count_flag(argc, argv, i, 1, &o->stride, err, err_size);
    if (strcmp(flag, "--ppl-chunks") == 0)
        return parse_count_flag(argc, argv, i, 0, &o->max_chunks, err, err_size);
    if (strcmp(flag, "--ppl-band") == 0)
        return parse_count_flag(argc, argv, i, 1, &o->band_width, err, err_size);
    if (strcmp(flag, "--ppl-stream") == 0)
        return parse_count_flag(argc, argv, i, 2, &o->stream_length, err, err_size);
    return 0;
}

void ppl_flags_help(FILE *out) {
    fputs("Perplexity (--ppl):\n"
          "  --ppl FILE            perplexity of FILE: BOS + the whole file tokenized once,\n"
          "                        cut into chunks of -c tokens, first token of each -> BOS\n"
          "  --ppl-score-from K    score logits at positions K..c-2 (default 0 = all;\n"
          "                        c/2 = llama.cpp's llama-perplexity)\n"
          "  --ppl-stride S        sliding windows of c tokens every S tokens instead of\n"
          "                        chunks, scoring the last S predictions (PI/YaRN papers)\n"
          "  --ppl-chunks N        at most N chunks/windows (default: all)\n"
          "  --ppl-stream N        streams of N tokens (BOS first) appended through the\n"
          "                        cache's overflow policy (--stream-window W --sinks S, or\n"
          "                        --context-shift), in blocks of 16; every prediction scored\n"
          "  --ppl-band L          ppl per band of L positions (default: the original\n"
          "                        context, --yarn-orig-ctx)\n"
          "  --ppl-positions FILE  write position,mean_nll,count rows for a plot\n"
          "  --ppl-no-progress     no progress bar (it is only drawn on a terminal anyway)\n"
          "  --json | --csv        report as one JSON object / CSV rows (default: a table)\n",
          out);
}

/* ---- input ------------------------------------------------------------------------ */

char *ppl_read_text(const char *path, size_t *len, char *err, size_t err_size) {
    size_t n = 0;
    char *text = read_whole_file(path, "text file", &n, err, err_size);
    if (text && n == 0) {
        fail(err, err_size, "text file %s is empty", path);
        free(text);
        return NULL;
    }
    if (len) *len = n;
    return text;
}

int ppl_tokenize_file(const Tokenizer *tok, const char *path, int **ids, int *n_ids,
                      char *err, size_t err_size) {
    size_t len = 0;
    char *text = ppl_read_text(path, &len, err, err_size);
    if (!text) return -1;
    /* SentencePiece gives at most one token per byte (byte fallback), plus BOS */
    int capacity = len < (size_t)INT_MAX - 2 ? (int)len + 2 : INT_MAX;
    int *buffer = malloc((size_t)capacity * sizeof *buffer);
    int need = buffer ? tokenizer_encode(tok, text, len, 1, buffer, capacity, err, err_size)
                      : fail(err, err_size, "out of memory for %d tokens", capacity);
    if (need > capacity) { /* a tokenizer that breaks the bound: ask again */
        int *grown = realloc(buffer, (size_t)need * sizeof *buffer);
        if (grown) buffer = grown;
        need = grown ? tokenizer_encode(tok, text, len, 1, buffer, need, err, err_size)
                     : fail(err, err_size, "out of memory for %d tokens", need);
    }
    free(text);
    if (need <= 0) {
        free(buffer);
        return need == 0 ? fail(err, err_size, "%s gives no tokens", path) : -1;
    }
    *ids = buffer;
    *n_ids = need;
    return 0;
}

/* ---- the protocol ------------------------------------------------------------------- */

typedef struct {
    int ctx, first_scored, stride, n_sequences, vocab, max_batch;
    int streaming; /* ctx is a stream length, fed through transformer_append */
} Plan;

enum { STREAM_BLOCK = 16 }; /* tokens per append while streaming: eviction happens between
                               blocks, so a block's early queries may see up to 15 fewer
                               old tokens than strict token-by-token streaming */

static int make_stream_plan(const Transformer *t, int n_ids, const PplOptions *o, Plan *p,
                            char *err, size_t err_size) {
    p->ctx = o->stream_length;
    p->streaming = 1;
    p->vocab = transformer_vocab_size(t);
    p->max_batch = transformer_max_batch(t) < STREAM_BLOCK ? transformer_max_batch(t)
                                                           : STREAM_BLOCK;
    if (o->stride > 0 || o->score_from > 0)
        return fail(err, err_size, "--ppl-stream scores every prediction: it takes neither "
                    "--ppl-stride nor --ppl-score-from");
    if (n_ids < p->ctx)
        return fail(err, err_size, "the text has %d tokens (BOS included) but one stream of "
                    "%d needs %d", n_ids, p->ctx, p->ctx);
    p->n_sequences = n_ids / p->ctx;
    if (o->max_chunks > 0 && o->max_chunks < p->n_sequences) p->n_sequences = o->max_chunks;
    return 0;
}

static int make_plan(const Transformer *t, int n_ids, const PplOptions *o, Plan *p,
                     char *err, size_t err_size) {
    if (o->stream_length > 0) return make_stream_plan(t, n_ids, o, p, err, err_size);
    int engine_ctx = transformer_context(t);
    p->ctx = o->ctx > 0 ? o->ctx : engine_ctx;
    p->stride = o->stride;
    p->vocab = transformer_vocab_size(t);
    p->max_batch = transformer_max_batch(t);
    if (o->ctx < 0 || p->ctx < 2)
        return fail(err, err_size, "perplexity needs a context of at least 2 tokens (got %d)",
                    o->ctx < 0 ? o->ctx : p->ctx);
    if (p->ctx > engine_ctx)
        return fail(err, err_size, "perplexity context %d exceeds the engine's context %d",
                    p->ctx, engine_ctx);
    if (o->score_from < 0 || o->score_from > p->ctx - 2)
        return fail(err, err_size, "--ppl-score-from %d is outside 0..%d (ctx %d - 2)",
                    o->score_from, p->ctx - 2, p->ctx);
    if (o->stride < 0 || o->stride > p->ctx)
        return fail(err, err_size, "--ppl-stride %d is outside 1..%d (the context)",
                    o->stride, p->ctx);
    if (o->stride > 0 && o->score_from > 0)
        return fail(err, err_size, "--ppl-score-from applies to chunks, not to --ppl-stride");
    if (o->max_chunks < 0 || o->band_width < 0 || p->max_batch < 1)
        return fail(err, err_size, "negative chunk count or band width");
    if (n_ids < p->ctx)
        return fail(err, err_size, "the text has %d tokens (BOS included) but one chunk of "
                    "ctx %d needs %d", n_ids, p->ctx, p->ctx);
    p->first_scored = o->score_from;
    p->n_sequences = p->stride > 0 ? (n_ids - p->ctx) / p->stride + 1 : n_ids / p->ctx;
    if (o->max_chunks > 0 && o->max_chunks < p->n_sequences) p->n_sequences = o->max_chunks;
    return 0;
}

static int check_ids(const int *ids, int n_ids, int bos_id, int vocab, char *err,
                     size_t err_size) {
    if (bos_id < 0 || bos_id >= vocab)
        return fail(err, err_size, "BOS id %d is outside the vocabulary 0..%d", bos_id,
                    vocab - 1);
    for (int i = 0; i < n_ids; i++)
        if (ids[i] < 0 || ids[i] >= vocab)
            return fail(err, err_size, "token id %d at index %d is outside the vocabulary "
                        "0..%d", ids[i], i, vocab - 1);
    return 0;
}

static int alloc_result(PplResult *r, int ctx, int band_width, char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->band_width = band_width > 0 && band_width < ctx ? band_width : ctx;
    r->n_bands = (ctx + r->band_width - 1) / r->band_width;
    r->band_nll = calloc((size_t)r->n_bands, sizeof *r->band_nll);
    r->band_scored = calloc((size_t)r->n_bands, sizeof *r->band_scored);
    r->position_nll = calloc((size_t)ctx, sizeof *r->position_nll);
    r->position_scored = calloc((size_t)ctx, sizeof *r->position_scored);
    if (!r->band_nll || !r->band_scored || !r->position_nll || !r->position_scored)
        return fail(err, err_size, "out of memory for perplexity bookkeeping (ctx %d)", ctx);
    return 0;
}

void ppl_result_free(PplResult *r) {
    if (!r) return;
    free(r->band_nll);
    free(r->band_scored);
    free(r->position_nll);
    free(r->position_scored);
    memset(r, 0, sizeof *r);
}

static void record(PplResult *r, int predicted_position, double nll) {
    r->total_nll += nll;
    r->scored++;
    r->band_nll[predicted_position / r->band_width] += nll;
    r->band_scored[predicted_position / r->band_width]++;
    r->position_nll[predicted_position] += nll;
    r->position_scored[predicted_position]++;
}

/* Runs one chunk/window (tokens[0..ctx), tokens[0] already BOS) in blocks of max_batch and
 * scores the logits at positions first..ctx-2. Position ctx-1 predicts nothing: not run. */
static int score_sequence(Transformer *t, const int *tokens, const Plan *p, int first,
                          int sequence, PplResult *r, char *err, size_t err_size) {
    char engine_err[ERR_LEN];
    if (p->streaming) transformer_reset(t);
    for (int start = 0; start < p->ctx - 1; start += p->max_batch) {
        int n = p->ctx - 1 - start < p->max_batch ? p->ctx - 1 - start : p->max_batch;
        int wanted = start + n - 1 >= first;
        /* the batch's first scored token, whose logits are row 0 (the last token's when none
           is scored: the forward needs one row); streaming scores from 0 */
        int from = first <= start ? 0 : wanted ? first - start : n - 1;
        const float *logits =
            p->streaming ? transformer_append(t, tokens + start, n, 1, engine_err, sizeof engine_err)
                         : transformer_forward_from(t, tokens + start, n, start, from, engine_err,
                                                    sizeof engine_err);
        if (!logits)
            return fail(err, err_size, "chunk %d, positions %d..%d: %s", sequence, start,
                        start + n - 1, engine_err);
        for (int i = from; wanted && i < n; i++) {
            int pos = start + i;
            double nll;
            if (negative_log_softmax(logits + (size_t)(i - from) * p->vocab, p->vocab, tokens[pos + 1],
                                     &nll) < 0)
                return fail(err, err_size, "NaN or Inf in the logits of chunk %d at position "
                            "%d", sequence, pos);
            record(r, pos + 1, nll);
        }
    }
    return 0;
}

/* ---- progress (stderr, terminals only) ---------------------------------------------- */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void draw_progress(int done, int total, double elapsed, const PplResult *r) {
    enum { WIDTH = 30 };
    int filled = total > 0 ? done * WIDTH / total : WIDTH;
    char bar[WIDTH + 1];
    for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[WIDTH] = '\0';
    double eta = done > 0 ? elapsed / done * (total - done) : 0.0;
    double ppl = r->scored > 0 ? exp(r->total_nll / (double)r->scored) : 0.0;
    fprintf(stderr, "\rppl [%s] %d/%d  ppl %.4f  %.0fs elapsed, ETA %.0fs ", bar, done,
            total, ppl, elapsed, eta);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
}

/* ---- entry point ------------------------------------------------------------------- */

static int run_all(Transformer *t, const int *ids, int bos_id, const Plan *p,
                   int show_progress, PplResult *r, char *err, size_t err_size) {
    int *tokens = malloc((size_t)p->ctx * sizeof *tokens);
    if (!tokens) return fail(err, err_size, "out of memory for a chunk of %d tokens", p->ctx);
    double started = now_seconds();
    int status = 0;
    for (int s = 0; s < p->n_sequences && status == 0; s++) {
        int offset = p->stride > 0 ? s * p->stride : s * p->ctx;
        int first = p->stride > 0 && s > 0 && p->stride < p->ctx - 1 ? p->ctx - 1 - p->stride
                                                                      : p->first_scored;
        memcpy(tokens, ids + offset, (size_t)p->ctx * sizeof *tokens);
        tokens[0] = bos_id;
        status = score_sequence(t, tokens, p, first, s, r, err, err_size);
        if (status == 0) r->chunks++;
        if (show_progress) draw_progress(s + 1, p->n_sequences, now_seconds() - started, r);
    }
    r->seconds = now_seconds() - started;
    free(tokens);
    return status;
}

int ppl_run(Transformer *t, const int *ids, int n_ids, int bos_id, const PplOptions *o,
            PplResult *r, char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    Plan plan = {0};
    if (!t || !o || (!ids && n_ids > 0))
        return fail(err, err_size, "ppl_run: missing transformer, options or ids");
    if (make_plan(t, n_ids, o, &plan, err, err_size) < 0) return -1;
    if (check_ids(ids, n_ids, bos_id, plan.vocab, err, err_size) < 0) return -1;
    if (alloc_result(r, plan.ctx, o->band_width, err, err_size) < 0) return -1;
    int show_progress = o->progress && isatty(STDERR_FILENO);
    return run_all(t, ids, bos_id, &plan, show_progress, r, err, err_size);
}

int ppl_check(const Transformer *t, int n_ids, const PplOptions *o, char *err, size_t err_size) {
    Plan plan = {0};
    if (!t || !o) return fail(err, err_size, "ppl_check: missing transformer or options");
    return make_plan(t, n_ids, o, &plan, err, err_size) < 0 ? -1 : 0;
}

double ppl_mean_nll(const PplResult *r) {
    return r->scored > 0 ? r->total_nll / (double)r->scored : NAN;
}

double ppl_value(const PplResult *r) { return exp(ppl_mean_nll(r)); }

double ppl_band_value(const PplResult *r, int band) {
    if (band < 0 || band >= r->n_bands || r->band_scored[band] == 0) return NAN;
    return exp(r->band_nll[band] / (double)r->band_scored[band]);
}

/* ---- reports ------------------------------------------------------------------------ */

typedef struct {
    const char *mode;
    double base, factor, attention_factor, beta_fast, beta_slow, low_freq, high_freq;
    int original_context;
} RopeEcho;

static RopeEcho rope_echo(const RopeConfig *rope, int ctx) {
    RopeEcho e = {"none", 0, 1, 1, 0, 0, 0, 0, 0};
    if (!rope) return e;
    e.mode = rope_scaling_name(rope->mode);
    e.base = rope->base;
    e.factor = rope->factor;
    e.original_context = rope->original_context;
    e.beta_fast = rope->beta_fast;
    e.beta_slow = rope->beta_slow;
    e.low_freq = rope->low_freq_factor;
    e.high_freq = rope->high_freq_factor;
    e.attention_factor = rope->attention_factor;
    char err[ERR_LEN];
    if (rope_config_validate(rope, err, sizeof err) == 0) {
        double inv_freq[ROPE_MAX_PAIRS];
        e.attention_factor = rope_inv_freq(rope, ctx, inv_freq);
    }
    return e;
}

static const char *protocol_name(const PplOptions *o) {
    return o->stream_length > 0 ? "streamed" : o->stride > 0 ? "sliding" : "chunked";
}

static void print_number_or_null(FILE *out, double value) {
    if (isfinite(value)) fprintf(out, "%.10g", value); else fputs("null", out);
}

void print_json_bytes(FILE *out, const char *s, size_t n) {
    fputc('"', out);
    for (size_t i = 0; s && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(out, "\\%c", c);
        else if (c < 0x20) fprintf(out, "\\u%04x", c);
        else fputc(c, out);
    }
    fputc('"', out);
}

static void print_json_string(FILE *out, const char *s) {
    print_json_bytes(out, s, s ? strlen(s) : 0);
}

static void band_range(const PplResult *r, int band, int *from, int *to) {
    *from = band * r->band_width;
    *to = (band + 1) * r->band_width < r->ctx ? (band + 1) * r->band_width - 1 : r->ctx - 1;
}

static void print_table(FILE *out, const PplResult *r, const PplOptions *o, const RopeEcho *e) {
    fprintf(out, "perplexity: %s, ctx %d, ", protocol_name(o), r->ctx);
    if (o->stride > 0) fprintf(out, "stride %d, ", o->stride);
    else fprintf(out, "scoring logits %d..%d, ", o->score_from, r->ctx - 2);
    fprintf(out, "%d %s, %ld predictions, %.1f s\n", r->chunks,
            o->stride > 0 ? "windows" : "chunks", r->scored, r->seconds);
    fprintf(out, "rope: %s, base %g, factor %g, original context %d, attention factor %.6g\n",
            e->mode, e->base, e->factor, e->original_context, e->attention_factor);
    fprintf(out, "ppl %.4f   mean NLL %.6f\n\n", ppl_value(r), ppl_mean_nll(r));
    fprintf(out, "%6s %9s %9s %9s %12s\n", "band", "from_pos", "to_pos", "scored", "ppl");
    for (int b = 0; b < r->n_bands; b++) {
        int from, to;
        band_range(r, b, &from, &to);
        fprintf(out, "%6d %9d %9d %9ld %12.4f\n", b, from, to, r->band_scored[b],
                ppl_band_value(r, b));
    }
}

static void print_json_rope(FILE *out, const RopeEcho *e) {
    fprintf(out, "\"rope\":{\"scaling\":");
    print_json_string(out, e->mode);
    fprintf(out, ",\"base\":%.10g,\"factor\":%.10g,\"original_context\":%d,"
            "\"attention_factor\":%.10g,\"beta_fast\":%.10g,\"beta_slow\":%.10g,"
            "\"low_freq_factor\":%.10g,\"high_freq_factor\":%.10g}",
            e->base, e->factor, e->original_context, e->attention_factor, e->beta_fast,
            e->beta_slow, e->low_freq, e->high_freq);
}

static void print_json(FILE *out, const PplResult *r, const PplOptions *o, const RopeEcho *e) {
    fputs("{\"ppl\":", out);
    print_number_or_null(out, ppl_value(r));
    fputs(",\"mean_nll\":", out);
    print_number_or_null(out, ppl_mean_nll(r));
    fprintf(out, ",\"chunks\":%d,\"scored\":%ld,\"ctx\":%d,\"mode\":", r->chunks, r->scored,
            r->ctx);
    print_json_string(out, e->mode);
    fprintf(out, ",\"protocol\":\"%s\",\"score_from\":%d,\"stride\":%d,\"band_width\":%d,"
            "\"seconds\":%.3f,\"text\":", protocol_name(o), o->score_from, o->stride,
            r->band_width, r->seconds);
    print_json_string(out, o->text_path ? o->text_path : "");
    fputc(',', out);
    print_json_rope(out, e);
    fputs(",\"bands\":[", out);
    for (int b = 0; b < r->n_bands; b++) {
        int from, to;
        band_range(r, b, &from, &to);
        fprintf(out, "%s{\"from_pos\":%d,\"to_pos\":%d,\"scored\":%ld,\"ppl\":",
                b ? "," : "", from, to, r->band_scored[b]);
        print_number_or_null(out, ppl_band_value(r, b));
        fputc('}', out);
    }
    fputs("]}\n", out);
}

static void print_csv(FILE *out, const PplResult *r, const PplOptions *o, const RopeEcho *e) {
    fputs("mode,factor,original_context,ctx,protocol,score_from,stride,chunks,row,"
          "from_pos,to_pos,scored,mean_nll,ppl\n", out);
    const char *prefix_fmt = "%s,%g,%d,%d,%s,%d,%d,%d,";
    fprintf(out, prefix_fmt, e->mode, e->factor, e->original_context, r->ctx,
            protocol_name(o), o->score_from, o->stride, r->chunks);
    fprintf(out, "total,0,%d,%ld,%.10g,%.10g\n", r->ctx - 1, r->scored, ppl_mean_nll(r),
            ppl_value(r));
    for (int b = 0; b < r->n_bands; b++) {
        int from, to;
        band_range(r, b, &from, &to);
        double mean = r->band_scored[b] ? r->band_nll[b] / (double)r->band_scored[b] : NAN;
        fprintf(out, prefix_fmt, e->mode, e->factor, e->original_context, r->ctx,
                protocol_name(o), o->score_from, o->stride, r->chunks);
        fprintf(out, "band,%d,%d,%ld,%.10g,%.10g\n", from, to, r->band_scored[b], mean,
                ppl_band_value(r, b));
    }
}

void ppl_print(FILE *out, const PplResult *r, const PplOptions *o, const RopeConfig *rope) {
    RopeEcho echo = rope_echo(rope, r->ctx);
    if (o->format == PPL_FORMAT_JSON) print_json(out, r, o, &echo);
    else if (o->format == PPL_FORMAT_CSV) print_csv(out, r, o, &echo);
    else print_table(out, r, o, &echo);
}

FILE *ppl_open_positions(const char *path, char *err, size_t err_size) {
    FILE *f = fopen(path, "w");
    if (!f) fail(err, err_size, "cannot write --ppl-positions %s: %s", path, strerror(errno));
    return f;
}

int ppl_write_positions(FILE *f, const char *path, const PplResult *r, char *err,
                        size_t err_size) {
    fputs("position,mean_nll,count\n", f);
    for (int pos = 0; pos < r->ctx; pos++)
        if (r->position_scored[pos] > 0)
            fprintf(f, "%d,%.8g,%ld\n", pos,
                    r->position_nll[pos] / (double)r->position_scored[pos],
                    r->position_scored[pos]);
    if (fclose(f) != 0) return fail(err, err_size, "cannot write %s: %s", path, strerror(errno));
    return 0;
}
