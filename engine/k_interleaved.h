/* k_interleaved.h — Q4_K and Q6_K matrices repacked at load with 16 rows interleaved, and
 * their dot products with Q8_K activations in AVX-512 VNNI (the layouts and the arithmetic
 * are in k_interleaved.c). Same integers as quant_k.c's row path (exact per super-block
 * sums), floats summed in another order. Builds without AVX-512 VNNI repack nothing. */
#ifndef ROPEWALK_K_INTERLEAVED_H
#define ROPEWALK_K_INTERLEAVED_H

#include <stddef.h>

#include "../models/model.h"
#include "repack.h" /* REPACK_GROUP_ROWS */

/* Bytes of m repacked, or 0 when it is not repacked: not Q4_K / Q6_K, rows not a multiple
 * of 16, or no kernel in this build. */
size_t k_interleaved_bytes(const Matrix *m);
/* Writes m's rows in the interleaved layout into out (k_interleaved_bytes(m) bytes). */
void k_interleave(const Matrix *m, void *out);
/* Rows 16 g .. 16 g + 15 of m (m->interleaved set) against n_tokens tokens' Q8_K activations,
 * xq_stride bytes apart: out[r * n_tokens + t] = W[16 g + r] . x_t. */
void k_interleaved_dots(const Matrix *m, int group, const unsigned char *xq, size_t xq_stride,
                        int n_tokens, float *out);

#endif
