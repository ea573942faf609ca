/* matmul.c — dispatch between sgemm (blocks of tokens) and threaded row dots (decode and
 * short blocks).
 * Both split the weight rows across the pool; OpenBLAS itself runs single-threaded (set by
 * the engine), so its threads never compete with the pool's. */
#include "matmul.h"

#include <cblas.h>
#include <stdlib.h>

#include "../util/errors.h"
#include "../util/half.h"
#include "ops.h"
#include "weight_rows.h"
#include "bf16_gemm.h"
#include "legacy_interleaved.h"
#include "repack.h"
#include "qgemm.h"
#include "quant.h"

/* Tokens from which a block goes to sgemm, by weight type (see sgemm_min_tokens); Q8_0 and
 * Q4_0 weights never do where the tiled integer kernels are built in. */
enum { SGEMM_FROM_FLOAT = 4, SGEMM_FROM_Q8_0 = 16, SGEMM_FROM_Q4_0 = 32, TILE_ROWS = 256 };
/* Tokens whose partner-format activations a row's dots take at once: their Q8_K rows of a
 * 2048-wide matrix (64 x 2.3 KB) stay in L2 while the row is walked. */
enum { PARTNER_TOKENS = 64 };

static size_t tile_bytes(int max_cols, int threads) {
    return (size_t)TILE_ROWS * (size_t)max_cols * (size_t)threads * sizeof(float);
}

/* Tokens whose activations are quantised at once: every block with the tiled integer
 * kernels, only the blocks below sgemm without them. */
static int quantised_tokens(int max_tokens) {
    return qgemm_has_tiles() ? max_tokens : SGEMM_FROM_Q4_0 - 1;
}

/* The partner formats, or the f16-rounded floats of F16 weights (4 bytes a value). */
static size_t partner_bytes(int max_cols, int max_tokens) {
    size_t per_token = max_quantised_activation_bytes(max_cols);
    if (per_token < (size_t)max_cols * sizeof(float)) per_token = (size_t)max_cols * sizeof(float);
    return (size_t)max_tokens * per_token;
}

size_t matmul_scratch_bytes(int max_cols, int max_tokens, int threads) {
    return tile_bytes(max_cols, threads) +
           qgemm_activation_bytes(quantised_tokens(max_tokens), max_cols) +
           partner_bytes(max_cols, max_tokens);
}

int matmul_init(Matmul *mm, ThreadPool *pool, int max_cols, int max_tokens, char *err,
                size_t err_size) {
    mm->pool = pool;
    mm->max_cols = max_cols;
    mm->max_tokens = max_tokens;
    mm->threads = thread_pool_size(pool);
    mm->tile = malloc(tile_bytes(max_cols, mm->threads));
    mm->quantised = malloc(qgemm_activation_bytes(quantised_tokens(max_tokens), max_cols));
    mm->partner = malloc(partner_bytes(max_cols, max_tokens));
    if (mm->quantised)
        qgemm_activations_init(&mm->qa, mm->quantised, quantised_tokens(max_tokens), max_cols);
    if (!mm->tile || !mm->quantised || !mm->partner) {
        matmul_free(mm);
        return fail(err, err_size, "out of memory for the matmul scratch");
    }
    return 0;
}

void matmul_free(Matmul *mm) {
    free(mm->tile);
    free(mm->quantised);
    free(mm->partner);
    mm->tile = NULL;
    mm->quantised = NULL;
    mm->partner = NULL;
}

typedef struct {
    const Matrix *w;
    const float *x;
    float *y;
    int n_tokens;
    float *tile;     /* sgemm of quantised weights: TILE_ROWS x cols floats per thread */
    int accumulate;  /* add into y instead of overwriting it */
    const QuantizedActivations *qa; /* Q8_0 / Q4_0 weights: the quantised x */
    unsigned char *partner;         /* other block types: x in the partner format */
} RowJob;

static void put(const RowJob *job, int t, int r, float value) {
    float *y = job->y + (size_t)t * job->w->rows + r;
    *y = job->accumulate ? *y + value : value;
}

/* Other block types: each token's activations in the weight type's partner format ... */
static void quantise_partner(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const RowJob *job = ctx;
    const Matrix *w = job->w;
    size_t bytes = quantised_activation_bytes(w->type, w->cols);
    for (int t = begin; t < end; t++)
        quantize_activations(w->type, job->x + (size_t)t * w->cols, w->cols,
                             job->partner + (size_t)t * bytes);
}

/* Rows a partner job takes at a time: a group of repacked rows, so the pool hands out whole
 * groups. */
enum { ROW_RUN = REPACK_GROUP_ROWS };

/* ... and every row's integer dot products with them, ROW_RUN rows at a time. */
static void partner_dots(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const RowJob *job = ctx;
    const Matrix *w = job->w;
    begin *= ROW_RUN;
    end = end * ROW_RUN < w->rows ? end * ROW_RUN : w->rows;
    size_t bytes = quantised_activation_bytes(w->type, w->cols);
    float dots[ROW_RUN * PARTNER_TOKENS];
    for (int t0 = 0; t0 < job->n_tokens; t0 += PARTNER_TOKENS) {
        int n = job->n_tokens - t0 < PARTNER_TOKENS ? job->n_tokens - t0 : PARTNER_TOKENS;
        for (int r0 = begin; r0 < end; r0 += ROW_RUN) {
            int r1 = end - r0 < ROW_RUN ? end : r0 + ROW_RUN;
            matrix_rows_dots_quantised(w, r0, r1, job->partner + (size_t)t0 * bytes, n, dots);
            /* token by token: a token's outputs for the run are one cache line, where row
             * by row each store went to another token's line (at 2048 rows, 8 KB apart: the
             * same L1 set), which took a fifth of Q4_K_M prefill */
            for (int t = 0; t < n; t++)
                for (int r = r0; r < r1; r++) put(job, t0 + t, r, dots[(r - r0) * n + t]);
        }
    }
}

/* F16 / BF16 weights: each token's activations rounded to that type, kept as floats. */
static void round_tokens(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const RowJob *job = ctx;
    size_t cols = (size_t)job->w->cols;
    float *out = (float *)(void *)job->partner;
    for (int t = begin; t < end; t++) {
        if (job->w->type == TENSOR_BF16)
            round_row_to_bf16_floats(job->x + t * cols, (int)cols, out + t * cols);
        else
            round_row_to_half(job->x + t * cols, out + t * cols, (int)cols);
    }
}

static void row_dots(void *ctx, int begin, int end, int thread) {
    (void)thread;
    RowJob *job = ctx;
    const Matrix *w = job->w;
    for (int r = begin; r < end; r++)
        for (int t = 0; t < job->n_tokens; t++)
            put(job, t, r, matrix_row_dot(w, r, job->x + (size_t)t * w->cols));
}

/* Rows per unit of the pool's work for Q8_0 / Q4_0 weights: qgemm's tiles, or the groups of
 * rows repacked at load. */
static int integer_row_unit(const Matrix *w) { return w->interleaved ? REPACK_GROUP_ROWS : QGEMM_ROW_UNIT; }

/* Quantised weights: tiles of rows against every token of the block (qgemm.c), or groups of
 * interleaved rows (legacy_interleaved.c). */
static void row_tiles_q8(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const RowJob *job = ctx;
    if (job->w->interleaved) {
        legacy_interleaved_rows(job->w, job->qa, begin, end, job->y, (size_t)job->w->rows, job->accumulate);
        return;
    }
    int rows = job->w->rows;
    int last = end * QGEMM_ROW_UNIT < rows ? end * QGEMM_ROW_UNIT : rows;
    qgemm_rows(job->w, job->qa, begin * QGEMM_ROW_UNIT, last, job->y, (size_t)rows,
               job->accumulate);
}

/* BF16 rows in units of BF16_GEMM_ROW_UNIT against the block's bf16-rounded tokens. */
static void row_tiles_bf16(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const RowJob *job = ctx;
    int rows = job->w->rows, unit = BF16_GEMM_ROW_UNIT;
    int last = end * unit < rows ? end * unit : rows;
    Bf16Gemm g = {job->w, job->x, job->n_tokens, job->y, (size_t)rows, job->accumulate};
    bf16_gemm_rows(&g, begin * unit, last);
}

static void quantise_tokens(void *ctx, int begin, int end, int thread) {
    (void)thread;
    const RowJob *job = ctx;
    qgemm_quantize((QuantizedActivations *)job->qa, job->x, begin, end);
}

/* y (+)= x w_rows^T. sgemm always adds into y (beta 1); to overwrite, the rows are zeroed here
 * first: with beta 0 OpenBLAS clears the block with its own strided pass (sgemm_beta), 6 % of
 * a 2-thread 42M F16 prefill, against 2 % for memset. */
static void sgemm_rows(const RowJob *job, const float *w_rows, int first_row, int n_rows) {
    int cols = job->w->cols, y_stride = job->w->rows;
    float *y = job->y + first_row;
    if (!job->accumulate) zero_rows(y, job->n_tokens, n_rows, (size_t)y_stride);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, job->n_tokens, n_rows, cols, 1.0f,
                job->x, cols, w_rows, cols, 1.0f, y, y_stride);
}

/* A thread's share of rows: one sgemm over F32 rows in place, or, for quantised weights,
 * tiles of rows dequantised into the thread's own buffer, each followed by its sgemm. */
static void sgemm_slice(void *ctx, int begin, int end, int thread) {
    RowJob *job = ctx;
    const Matrix *w = job->w;
    if (w->type == TENSOR_F32) {
        sgemm_rows(job, (const float *)w->data + (size_t)begin * w->cols, begin, end - begin);
        return;
    }
    float *tile = job->tile + (size_t)thread * TILE_ROWS * (size_t)w->cols;
    for (int row0 = begin; row0 < end; row0 += TILE_ROWS) {
        int n_rows = end - row0 < TILE_ROWS ? end - row0 : TILE_ROWS;
        for (int r = 0; r < n_rows; r++) dequantize_row(w, row0 + r, tile + (size_t)r * w->cols);
        sgemm_rows(job, tile, row0, n_rows);
    }
}

/* Rows per chunk of quantised weights: at most one tile, and the same whole number of
 * chunks for every thread. Chunks are handed out one at a time, so a thread that runs late
 * leaves its last tiles to the others (F32 rows go in one sgemm per thread instead: there
 * is no tile to fill, and every extra call repacks the activations). */
static int tile_chunk(int rows, int threads) {
    int tiles_per_thread = (rows + threads * TILE_ROWS - 1) / (threads * TILE_ROWS);
    int chunks = threads * tiles_per_thread;
    int chunk = (rows + chunks - 1) / chunks;
    return (chunk + 7) / 8 * 8;
}

/* Tokens from which a block goes to sgemm. Below it the row kernels read each weight row once
 * for all the block's tokens; sgemm of quantised weights first dequantises every row, which
 * only pays off over more tokens. Measured on the 110M shape, 2 threads (tok/s, row kernels
 * against sgemm): F32 and F16 even up to 8 tokens, sgemm ahead from 16; Q8_0 even at 16;
 * Q4_0 198 against 166 at 16 tokens, 224 against 253 at 32. */
static int sgemm_min_tokens(TensorType type) {
    return type == TENSOR_Q4_0 ? SGEMM_FROM_Q4_0 : type == TENSOR_Q8_0 ? SGEMM_FROM_Q8_0
                                                                   : SGEMM_FROM_FLOAT;
}

/* Q8_0 / Q4_0 weights take the integer kernels: for every block where they are tiled, and
 * for blocks below sgemm elsewhere. Q5_0 blocks of 4 tokens and more do too where they are
 * tiled (its decode rows stay with the partner kernels, which read a row once). */
enum { Q5_0_TILES_FROM = 4 };

static int takes_integer_kernels(const Matrix *w, int n_tokens) {
    if (w->type == TENSOR_Q5_0) return qgemm_has_tiles() && n_tokens >= Q5_0_TILES_FROM;
    int quantised = w->type == TENSOR_Q8_0 || w->type == TENSOR_Q4_0;
    return quantised && (n_tokens < sgemm_min_tokens(w->type) || qgemm_has_tiles());
}

/* The tokens' activations quantised to Q8_0 for weights like w (across the pool when there
 * are many), into mm->qa. */
static void quantise_activations(Matmul *mm, const Matrix *w, const float *x, int n_tokens) {
    mm->qa.n_tokens = n_tokens;
    mm->qa.cols = w->cols;
    mm->qa.weights = w->type;
    RowJob job = {w, x, NULL, n_tokens, NULL, 0, &mm->qa, NULL};
    parallel_for(mm->pool, n_tokens, min_chunk_for_cost(4.0 * w->cols), quantise_tokens, &job);
}

/* Tiles of w's rows against the activations in mm->qa. */
static void multiply_quantised(Matmul *mm, const Matrix *w, int n_tokens, float *y,
                               int accumulate) {
    RowJob job = {w, NULL, y, n_tokens, NULL, accumulate, &mm->qa, NULL};
    int unit = integer_row_unit(w), units = (w->rows + unit - 1) / unit;
    parallel_for(mm->pool, units, min_chunk_for_cost((double)unit * w->cols * n_tokens), row_tiles_q8,
                 &job);
}

static void quantise_for_partner(Matmul *mm, const Matrix *w, const float *x, int n_tokens) {
    RowJob job = {w, x, NULL, n_tokens, NULL, 0, NULL, mm->partner};
    parallel_for(mm->pool, n_tokens, min_chunk_for_cost(4.0 * w->cols), quantise_partner, &job);
}

static void multiply_partner(Matmul *mm, const Matrix *w, int n_tokens, float *y,
                             int accumulate) {
    RowJob job = {w, NULL, y, n_tokens, NULL, accumulate, NULL, mm->partner};
    parallel_for(mm->pool, (w->rows + ROW_RUN - 1) / ROW_RUN,
                 min_chunk_for_cost((double)ROW_RUN * w->cols * n_tokens), partner_dots, &job);
}

/* F16 and BF16 weights read their activations rounded to f16 / bf16, as llama.cpp's CPU
 * backend does (its vec_dot_type for those types): mm->partner holds them. */
static int reads_rounded(TensorType type) { return type == TENSOR_F16 || type == TENSOR_BF16; }

static const float *rounded_for(Matmul *mm, const Matrix *w, const float *x, int n_tokens) {
    RowJob job = {w, x, NULL, n_tokens, NULL, 0, NULL, mm->partner};
    parallel_for(mm->pool, n_tokens, min_chunk_for_cost(2.0 * w->cols), round_tokens, &job);
    return (const float *)(void *)mm->partner;
}

/* w times x, where x is already what w's type reads (rounded_for F16 / BF16). */
static void multiply_prepared(Matmul *mm, const Matrix *w, const float *x, int n_tokens,
                              float *y, int accumulate) {
    if (takes_integer_kernels(w, n_tokens)) {
        quantise_activations(mm, w, x, n_tokens);
        multiply_quantised(mm, w, n_tokens, y, accumulate);
        return;
    }
    if (takes_quantised_activations(w->type)) {
        quantise_for_partner(mm, w, x, n_tokens);
        multiply_partner(mm, w, n_tokens, y, accumulate);
        return;
    }
    if (w->type == TENSOR_BF16 && n_tokens >= sgemm_min_tokens(w->type) &&
        bf16_gemm_available(w->cols)) {
        RowJob job = {w, x, y, n_tokens, NULL, accumulate, NULL, NULL};
        parallel_for(mm->pool, (w->rows + BF16_GEMM_ROW_UNIT - 1) / BF16_GEMM_ROW_UNIT,
                     min_chunk_for_cost((double)BF16_GEMM_ROW_UNIT * w->cols * n_tokens),
                     row_tiles_bf16, &job);
        return;
    }
    if (n_tokens < sgemm_min_tokens(w->type)) {
        RowJob job = {w, x, y, n_tokens, NULL, accumulate, NULL, NULL};
        parallel_for(mm->pool, w->rows, min_chunk_for_cost((double)w->cols * n_tokens), row_dots,
                     &job);
        return;
    }
    RowJob job = {w, x, y, n_tokens, mm->tile, accumulate, NULL, NULL};
    int chunk = w->type == TENSOR_F32 ? one_share_per_thread(mm->pool, w->rows)
                                      : tile_chunk(w->rows, mm->threads);
    parallel_for(mm->pool, w->rows, chunk, sgemm_slice, &job);
}

static void multiply(Matmul *mm, const Matrix *w, const float *x, int n_tokens, float *y,
                     int accumulate) {
    if (reads_rounded(w->type)) x = rounded_for(mm, w, x, n_tokens);
    multiply_prepared(mm, w, x, n_tokens, y, accumulate);
}

/* Matrices of one type and width over the same activations share their quantisation. */
static int share_quantisation(const Matrix *const ws[], int count, int n_tokens) {
    for (int i = 0; i < count; i++)
        if (!takes_integer_kernels(ws[i], n_tokens) || ws[i]->type != ws[0]->type ||
            ws[i]->cols != ws[0]->cols)
            return 0;
    return 1;
}

/* Matrices of one type and width that all read partner-format (or f16/bf16-rounded) x. */
static int share_partner(const Matrix *const ws[], int count) {
    for (int i = 0; i < count; i++)
        if (!(takes_quantised_activations(ws[i]->type) || reads_rounded(ws[i]->type)) ||
            ws[i]->type != ws[0]->type || ws[i]->cols != ws[0]->cols)
            return 0;
    return 1;
}

void matmul_shared_input(Matmul *mm, const Matrix *const ws[], float *const ys[], int count,
                         const float *x, int n_tokens) {
    if (count > 0 && share_quantisation(ws, count, n_tokens)) {
        quantise_activations(mm, ws[0], x, n_tokens);
        for (int i = 0; i < count; i++) multiply_quantised(mm, ws[i], n_tokens, ys[i], 0);
        return;
    }
    if (count > 0 && share_partner(ws, count) && reads_rounded(ws[0]->type)) {
        const float *rounded = rounded_for(mm, ws[0], x, n_tokens);
        for (int i = 0; i < count; i++) multiply_prepared(mm, ws[i], rounded, n_tokens, ys[i], 0);
        return;
    }
    if (count > 0 && share_partner(ws, count) && takes_quantised_activations(ws[0]->type)) {
        quantise_for_partner(mm, ws[0], x, n_tokens);
        for (int i = 0; i < count; i++) multiply_partner(mm, ws[i], n_tokens, ys[i], 0);
        return;
    }
    for (int i = 0; i < count; i++) multiply(mm, ws[i], x, n_tokens, ys[i], 0);
}

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#define ROW_KERNELS "AVX2/F16C"
#define ROW_KERNELS_NAME "avx2"
#else
#define ROW_KERNELS "portable C"
#define ROW_KERNELS_NAME "portable"
#endif

const char *matmul_kernels(void) { return qgemm_has_tiles() ? "avx512-vnni" : ROW_KERNELS_NAME; }

const char *matmul_kernels_description(void) {
    if (qgemm_has_tiles())
        return "Q8_0/Q4_0 (and Q5_0 prefill) x Q8_0 activations as AVX-512 VNNI integer tiles "
               "for every block, over rows repacked 16 at a time (and Q4_K/Q6_K x Q8_K) unless "
               "--no-repack; "
               "F32/F16 " ROW_KERNELS " row kernels below 4 tokens, OpenBLAS sgemm from 4";
    return "Q8_0/Q4_0 x Q8_0 activations in " ROW_KERNELS " row kernels below 16/32 tokens, "
           "then sgemm over dequantised tiles; F32/F16 row kernels below 4 tokens, sgemm from 4";
}

void matmul(Matmul *mm, const Matrix *w, const float *x, int n_tokens, float *y) {
    multiply(mm, w, x, n_tokens, y, 0);
}

void matmul_add(Matmul *mm, const Matrix *w, const float *x, int n_tokens, float *y) {
    multiply(mm, w, x, n_tokens, y, 1);
}
