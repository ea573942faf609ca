/* run_ppl.h — the perplexity mode of ./run (--ppl FILE): its flags, the chunked
 * (llama.cpp llama-perplexity) and sliding-window (PI/YaRN papers) protocols over a token
 * id array, per-band and per-position NLL bookkeeping, and the table/JSON/CSV reports.
 * Tokenization stays with the caller (tokenizer/tokenizer.h); ppl_tokenize_file is a
 * convenience that does it the way the protocol requires (BOS + the whole file at once). */
#ifndef ROPEWALK_RUN_PPL_H
#define ROPEWALK_RUN_PPL_H

#include <stddef.h>
#include <stdio.h>

#include "../engine/rope.h"
#include "../engine/transformer.h"
#include "../tokenizer/tokenizer.h"

typedef enum { PPL_FORMAT_TABLE = 0, PPL_FORMAT_JSON, PPL_FORMAT_CSV } PplFormat;

typedef struct {
    const char *text_path;      /* --ppl FILE; NULL when perplexity was not asked for */
    const char *positions_path; /* --ppl-positions FILE: per-position mean NLL; NULL = none */
    int ctx;                    /* tokens per chunk/window; 0 = the engine's context */
    int score_from;             /* K: first scored logit position (chunked only); c/2 =
                                   llama.cpp's llama-perplexity */
    int stride;                 /* S: sliding windows every S tokens; 0 = chunked */
    int stream_length;          /* N: streams of N tokens appended through the engine's
                                   overflow policy (--stream-window / --context-shift), all
                                   predictions scored; 0 = chunked or sliding */
    int max_chunks;             /* N: at most N chunks/windows; 0 = all */
    int band_width;             /* L: report ppl per band of L positions (the training
                                   context); 0 = one band over the whole context */
    PplFormat format;
    int progress;               /* progress bar on stderr (only when it is a terminal) */
} PplOptions;

typedef struct {
    int ctx;                    /* the effective chunk/window length */
    int band_width;             /* the effective L (ctx when the options said 0) */
    int chunks;                 /* chunks or windows run */
    long scored;                /* predictions scored */
    double total_nll;           /* sum of -log p(token) over the scored predictions */
    int n_bands;                /* ceil(ctx / band_width) */
    double *band_nll;           /* [n_bands]: band of the PREDICTED token's position */
    long *band_scored;          /* [n_bands] */
    double *position_nll;       /* [ctx]: indexed by the predicted token's position */
    long *position_scored;      /* [ctx] */
    double seconds;             /* wall time of the forward passes */
} PplResult;

/* Defaults: chunked, K = 0, all chunks, one band, table output, progress on. */
void ppl_options_init(PplOptions *o);

/* Parses the perplexity flag at argv[*i] (advancing *i past its value):
 *   --ppl FILE  --ppl-score-from K  --ppl-stride S  --ppl-chunks N  --ppl-band L
 *   --ppl-positions FILE  --ppl-no-progress  --json  --csv
 * Returns 1 when consumed, 0 when argv[*i] is not one of these, -1 on a bad or missing
 * value (message in err). Cross-flag checks (K < ctx - 1, S <= ctx) happen in ppl_run. */
int ppl_flag_parse(PplOptions *o, int argc, char **argv, int *i, char *err, size_t err_size);
void ppl_flags_help(FILE *out);

/* Reads a whole file into a NUL-terminated buffer (caller frees); NULL with a message
 * when it cannot be opened or read, or is empty. */
/* n bytes of s as a JSON string literal (quotes, backslashes and control bytes escaped). */
void print_json_bytes(FILE *out, const char *s, size_t n);
char *ppl_read_text(const char *path, size_t *len, char *err, size_t err_size);

/* ids = [BOS] + encode(whole file) in one call, as llama.cpp and the references do.
 * *ids is malloc'd (caller frees). Returns 0, or -1 with a message. */
int ppl_tokenize_file(const Tokenizer *tok, const char *path, int **ids, int *n_ids,
                      char *err, size_t err_size);

/* Runs the protocol the options select over ids[0..n_ids) (BOS first) and fills r (free
 * with ppl_result_free, also after a failure). Returns 0, or -1 with a one-line message:
 * too few tokens for one chunk, ctx < 2 or above the engine's, K or S out of range, an
 * id outside the vocabulary, NaN/Inf logits, an engine error. */
int ppl_run(Transformer *t, const int *ids, int n_ids, int bos_id, const PplOptions *o,
            PplResult *r, char *err, size_t err_size);
/* The checks ppl_run starts with (options against the engine's context, enough tokens),
 * without running anything: 0, or -1 with the same message ppl_run would give. */
int ppl_check(const Transformer *t, int n_ids, const PplOptions *o, char *err, size_t err_size);
void ppl_result_free(PplResult *r);

double ppl_mean_nll(const PplResult *r);  /* total_nll / scored (NaN when none) */
double ppl_value(const PplResult *r);     /* exp(mean NLL) */
double ppl_band_value(const PplResult *r, int band); /* NaN for an empty band */

/* Prints the result in o->format to out. rope (may be NULL = "none") is echoed in the
 * report: mode name, base, factor, original context, attention factor, ... */
void ppl_print(FILE *out, const PplResult *r, const PplOptions *o, const RopeConfig *rope);

/* Opens the --ppl-positions file before the run, so that a path that cannot be written
 * fails at once instead of after the whole evaluation. NULL with a message on failure. */
FILE *ppl_open_positions(const char *path, char *err, size_t err_size);
/* Writes "position,mean_nll,count" rows (header first) for every position with a scored
 * prediction to f (from ppl_open_positions) and closes it. Returns 0, or -1 with a message
 * when the file cannot be written. */
int ppl_write_positions(FILE *f, const char *path, const PplResult *r, char *err,
                        size_t err_size);

#endif
