/* qgemm.h — Q8_0 / Q4_0 (and, where tiled, Q5_0) weight rows times activations quantised to
 * Q8_0, for any number of
 * tokens: llama.cpp's arithmetic (each block's 32 products an exact integer, scaled by
 * d_w d_x and summed in float), the same whether one token is decoded or a block of 512 is
 * prefilled. Where the build has AVX-512 VNNI, tiles of 4 rows x up to 4 tokens share
 * every load and take each block's integer products in one vpdpbusd per pair (unsigned
 * weight bytes against signed activations, the weights' offset taken back from the block
 * sums of the activations); elsewhere each pair is one dot_q8_0_q8_0 / dot_q4_0_q8_0. */
#ifndef ROPEWALK_QGEMM_H
#define ROPEWALK_QGEMM_H

#include <stddef.h>
#include <stdint.h>

#include "../models/model.h"

/* Rows per tile: callers that split the rows split them at multiples of this. */
enum { QGEMM_ROW_UNIT = 4 };

/* 1 when the tiled kernels are built in: then a block of tokens is cheaper here than as
 * sgemm over dequantised rows (matmul.c chooses by it). */
int qgemm_has_tiles(void);

/* The activations of n_tokens tokens, quantised once for every matrix that reads them. */
typedef struct {
    unsigned char *blocks; /* [token][cols / 32] Q8_0 blocks (quantize_row_q8_0) */
    float *sums;           /* [token][cols / 32][2]: q8_0_block_sums (d_x, 8 d_x sum q_x) */
    int32_t *offsets;      /* [token][cols / 32]: -offset * sum q_x, offset 128 (Q8_0
                            * weights read unsigned as w + 128), 8 (Q4_0 codes c = w + 8) or
                            * 16 (Q5_0 codes c = w + 16) */
    int n_tokens, cols;
    TensorType weights;    /* the weight type the offsets are for */
} QuantizedActivations;

/* Bytes of the three arrays for max_tokens tokens of max_cols values. */
size_t qgemm_activation_bytes(int max_tokens, int max_cols);
/* Carves the arrays out of `buffer` (qgemm_activation_bytes(max_tokens, max_cols) bytes). */
void qgemm_activations_init(QuantizedActivations *qa, void *buffer, int max_tokens, int max_cols);
/* Quantises tokens [begin, end) of x (cols floats each) for weights of type `weights`;
 * n_tokens and cols must already be set. */
void qgemm_quantize(QuantizedActivations *qa, const float *x, int begin, int end);

/* y[t * y_stride + r] = (or += when accumulate) W[r] . x_t, for rows [row_begin, row_end)
 * and every token t of qa. */
void qgemm_rows(const Matrix *w, const QuantizedActivations *qa, int row_begin, int row_end,
                float *y, size_t y_stride, int accumulate);

#endif
