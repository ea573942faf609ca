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

#endif
