/* matmul.h — weight x activations for a block of tokens: OpenBLAS sgemm for F32 weights
 * (and F16 weights, dequantised a tile of rows at a time) when the block is large, the
 * pool's own row-parallel kernels when it is one or a few tokens; Q8_0/Q4_0 weights take
 * the integer kernels of qgemm.c for every block where they are tiled (AVX-512 VNNI), and
 * sgemm over dequantised tiles for large blocks elsewhere; the other block types (Q4_1,
 * Q5_0, Q5_1, K-quants, BF16) take llama.cpp's arithmetic at every block size: activations
 * quantised to the partner format, integer row dots (weight_rows.h). The pool
 * splits the weight rows: one contiguous share per thread for F32 sgemm (each call repacks
 * the activations), tiles handed out one at a time for quantised sgemm, a few chunks per
 * thread for the row kernels. */
#ifndef ROPEWALK_MATMUL_H
#define ROPEWALK_MATMUL_H

#include <stddef.h>

#include "../models/model.h"
#include "qgemm.h"
#include "threads.h"

typedef struct {
    ThreadPool *pool;
    float *tile;          /* dequantisation buffers: 256 rows x max_cols floats per thread */
    void *quantised;      /* behind qa */
    QuantizedActivations qa; /* the activations of Q8_0/Q4_0 products, quantised to Q8_0 */
    unsigned char *partner;  /* the activations of the other block types in their partner
                              * format (weight_rows.h): max_tokens rows of
                              * max_quantised_activation_bytes(max_cols) */
    int max_cols, max_tokens, threads;
} Matmul;

/* max_cols: the widest matrix (max of dim, hidden, q_dim); max_tokens: the largest block. */
int matmul_init(Matmul *mm, ThreadPool *pool, int max_cols, int max_tokens, char *err,
                size_t err_size);
void matmul_free(Matmul *mm);
size_t matmul_scratch_bytes(int max_cols, int max_tokens, int threads);

/* The kernel set this build runs: "avx512-vnni" (integer tiles for Q8_0/Q4_0 at every block
 * size), "avx2" (AVX2/F16C row kernels; quantised blocks as sgemm over dequantised tiles) or
 * "portable"; and a sentence saying what each weight type takes. */
const char *matmul_kernels(void);
const char *matmul_kernels_description(void);

/* y[t * w->rows + r] = sum_c W[r][c] * x[t * w->cols + c] for t < n_tokens. */
void matmul(Matmul *mm, const Matrix *w, const float *x, int n_tokens, float *y);
/* matmul of `count` matrices over the same x into ys[i] (a layer's wq/wk/wv, or w1/w3):
 * for Q8_0/Q4_0 weights of one type and width x is quantised once for all of them. */
void matmul_shared_input(Matmul *mm, const Matrix *const ws[], float *const ys[], int count,
                         const float *x, int n_tokens);
/* The same added into y (the residual stream: no separate pass to add it). */
void matmul_add(Matmul *mm, const Matrix *w, const float *x, int n_tokens, float *y);

#endif
