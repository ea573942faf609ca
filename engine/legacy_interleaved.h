/* legacy_interleaved.h — Q4_0 and Q8_0 matrices repacked at load with 16 rows interleaved,
 * and their products with Q8_0 activations in AVX-512 VNNI (layouts and arithmetic in
 * legacy_interleaved.c): llama.cpp's integers per block (exact), scaled by d_w d_x and
 * summed in float as qgemm.c does. Builds without AVX-512 VNNI repack nothing. */
#ifndef ROPEWALK_LEGACY_INTERLEAVED_H
#define ROPEWALK_LEGACY_INTERLEAVED_H

#include <stddef.h>

#include "../models/model.h"
#include "qgemm.h"
#include "repack.h" /* REPACK_GROUP_ROWS */

/* Bytes of m repacked, or 0 when it is not: not Q4_0 / Q8_0, rows not a multiple of 16, or
 * no kernel in this build. */
size_t legacy_interleaved_bytes(const Matrix *m);
/* Writes m's rows in the interleaved layout into out (legacy_interleaved_bytes(m) bytes). */
void legacy_interleave(const Matrix *m, void *out);
/* y[t * y_stride + r] = (or += when accumulate) W[r] . x_t for the rows of groups
 * [group_begin, group_end) of m (m->interleaved set) and every token of qa (quantised for
 * m's type: qgemm_quantize). */
void legacy_interleaved_rows(const Matrix *m, const QuantizedActivations *qa, int group_begin,
                             int group_end, float *y, size_t y_stride, int accumulate);

#endif
