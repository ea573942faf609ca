/* weight_rows.h — one row of a weight matrix of any stored type (tensor_types.h): as floats,
 * or its dot product with a vector of floats. The matmul's row kernels and sgemm tiles, and
 * the embedding lookup, go through these two. */
#ifndef ROPEWALK_WEIGHT_ROWS_H
#define ROPEWALK_WEIGHT_ROWS_H

#include "../models/model.h"

/* Converts row `row` of a matrix (any computed type) to cols floats. */
void dequantize_row(const Matrix *m, int row, float *out);
/* Dot product of row `row` of m with x (cols values). */
float matrix_row_dot(const Matrix *m, int row, const float *x);

/* The block types other than Q8_0 / Q4_0 (which qgemm.h computes, as it does Q5_0 blocks of
 * tokens where it has tiles) and BF16 (float kernels
 * over activations rounded to bfloat16: quant.h) multiply as llama.cpp's CPU backend does:
 * each token's activations are first quantised to the weight type's partner format (Q8_0
 * for Q5_0, Q8_1 for Q4_1 / Q5_1, Q8_K for the K-quants), and each row's dot product is
 * integer arithmetic per block. 1 for those types. */
int takes_quantised_activations(TensorType type);
/* Bytes of one token's activations of `cols` values in the partner format of `type`, and
 * a bound on what any type needs (2 per value). */
size_t quantised_activation_bytes(TensorType type, int cols);
size_t max_quantised_activation_bytes(int cols);
/* x (cols floats) in the partner format of `type`, into out. */
void quantize_activations(TensorType type, const float *x, int cols, unsigned char *out);
/* Rows row_begin..row_end-1 of m against the activations of n_tokens tokens quantised for
 * its type, each quantised_activation_bytes(m->type, m->cols) bytes:
 * out[(r - row_begin) n_tokens + t] = W[r] . x_t. */
void matrix_rows_dots_quantised(const Matrix *m, int row_begin, int row_end,
                                const unsigned char *xq, int n_tokens, float *out);

#endif
