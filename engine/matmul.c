/* matmul.c — dispatch between sgemm (blocks of tokens) and threaded row dots (decode). */
#include "matmul.h"

#include <cblas.h>
#include <stdlib.h>

#include "../util/errors.h"
#include "ops.h"

enum {
    SGEMM_MIN_TOKENS = 4, /* below this, row dots beat the sgemm call overhead */
    TILE_ROWS = 128
};

static size_t xq_bytes(int max_cols) {
    return (size_t)SGEMM_MIN_TOKENS * (size_t)(max_cols / QK_BLOCK + 1) * 34;
}

size_t matmul_scratch_bytes(int max_cols) {
    return (size_t)TILE_ROWS * (size_t)max_cols * sizeof(float) + xq_bytes(max_cols);
}

int matmul_init(Matmul *mm, ThreadPool *pool, int max_cols, char *err, size_t err_size) {
    mm->pool = pool;
    mm->tile_rows = TILE_ROWS;
    mm->max_cols = max_cols;
    mm->tile = malloc((size_t)TILE_ROWS * (size_t)max_cols * sizeof(float));
    mm->xq = malloc(xq_bytes(max_cols));
    if (!mm->tile || !mm->xq) {
        matmul_free(mm);
        return fail(err, err_size, "out of memory for the matmul scratch");
    }
    return 0;
}

void matmul_free(Matmul *mm) {
    free(mm->tile);
    free(mm->xq);
    mm->tile = NULL;
    mm->xq = NULL;
}

typedef struct {
    const Matrix *w;
    const float *x;
    float *y;
    int n_tokens;
    int row0;      /* for tiles: first matrix row of the tile */
    float *tile;
} RowJob;

static void row_dots(void *ctx, int begin, int end, int thread) {
    (void)thread;
    RowJob *job = ctx;
    const Matrix *w = job->w;
    for (int t = 0; t < job->n_tokens; t++) {
        const float *x = job->x + (size_t)t * w->cols;
        float *y = job->y + (size_t)t * w->rows;
        for (int r = begin; r < end; r++) y[r] = matrix_row_dot(w, r, x);
    }
}

/* Q8_0 weights times Q8_0-quantised activations (llama.cpp's decode arithmetic). */
static void row_dots_q8(void *ctx, int begin, int end, int thread) {
    (void)thread;
    RowJob *job = ctx;
    const Matrix *w = job->w;
    size_t row_bytes = tensor_bytes(TENSOR_Q8_0, 1, w->cols);
    const unsigned char *xq = (const unsigned char *)job->x;
    for (int t = 0; t < job->n_tokens; t++) {
        float *y = job->y + (size_t)t * w->rows;
        for (int r = begin; r < end; r++)
            y[r] = dot_q8_0_q8_0((const unsigned char *)w->data + (size_t)r * row_bytes,
                                 xq + (size_t)t * row_bytes, w->cols);
    }
}

static void dequantize_tile_rows(void *ctx, int begin, int end, int thread) {
    (void)thread;
    RowJob *job = ctx;
    for (int r = begin; r < end; r++)
        dequantize_row(job->w, job->row0 + r, job->tile + (size_t)r * job->w->cols);
}

static void sgemm_rows(const float *x, int n_tokens, const float *w_rows, int n_rows, int cols,
                       float *y, int y_stride) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tokens, n_rows, cols, 1.0f, x, cols,
                w_rows, cols, 0.0f, y, y_stride);
}

void matmul(Matmul *mm, const Matrix *w, const float *x, int n_tokens, float *y) {
    if (n_tokens < SGEMM_MIN_TOKENS && w->type == TENSOR_Q8_0) {
        size_t row_bytes = tensor_bytes(TENSOR_Q8_0, 1, w->cols);
        for (int t = 0; t < n_tokens; t++)
            quantize_row_q8_0(x + (size_t)t * w->cols, w->cols, mm->xq + (size_t)t * row_bytes);
        RowJob job = {w, (const float *)mm->xq, y, n_tokens, 0, NULL};
        parallel_for(mm->pool, w->rows, min_chunk_for_cost((double)w->cols * n_tokens),
                     row_dots_q8, &job);
        return;
    }
    if (n_tokens < SGEMM_MIN_TOKENS) {
        RowJob job = {w, x, y, n_tokens, 0, NULL};
        parallel_for(mm->pool, w->rows, min_chunk_for_cost((double)w->cols * n_tokens), row_dots,
                     &job);
        return;
    }
    if (w->type == TENSOR_F32) {
        sgemm_rows(x, n_tokens, w->data, w->rows, w->cols, y, w->rows);
        return;
    }
    for (int row0 = 0; row0 < w->rows; row0 += mm->tile_rows) {
        int n_rows = w->rows - row0 < mm->tile_rows ? w->rows - row0 : mm->tile_rows;
        RowJob job = {w, x, y, n_tokens, row0, mm->tile};
        parallel_for(mm->pool, n_rows, min_chunk_for_cost(w->cols), dequantize_tile_rows, &job);
        sgemm_rows(x, n_tokens, mm->tile, n_rows, w->cols, y + row0, w->rows);
    }
}
