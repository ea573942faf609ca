/* bf16_gemm.h — BF16 weights times a block of tokens whose activations are already rounded
 * to bfloat16 (kept as floats), where the build has AVX-512 BF16: llama.cpp's BF16 products
 * on such CPUs (ggml_vec_dot_bf16's vdpbf16ps), twice the multiplies per instruction of the
 * float sgemm path the other builds take. */
#ifndef ROPEWALK_BF16_GEMM_H
#define ROPEWALK_BF16_GEMM_H

#include <stddef.h>

#include "../models/model.h"

/* Rows per tile: callers that split the rows split them at multiples of this. */
enum { BF16_GEMM_ROW_UNIT = 4 };

typedef struct {
    const Matrix *w;  /* BF16, rows x cols */
    const float *x;   /* n_tokens x cols, each a bfloat16 value */
    int n_tokens;
    float *y;         /* y[t * y_stride + r] */
    size_t y_stride;
    int accumulate;   /* add into y instead of overwriting it */
} Bf16Gemm;

/* 1 when the kernels are built in and take rows of `cols` values (a multiple of 32). */
int bf16_gemm_available(int cols);
/* Rows [row_begin, row_end) of g->w against every token. */
void bf16_gemm_rows(const Bf16Gemm *g, int row_begin, int row_end);

#endif
