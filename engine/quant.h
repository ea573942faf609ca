/* quant.h — the kernels of GGML's block types beyond F32/F16/Q8_0 (whose kernels live in
 * ops.c): stored blocks back to floats, and, as llama.cpp computes a matrix product, the
 * dot product of a weight row with activations quantised to the type's partner format
 * (Q8_0 for Q4_0/Q5_0, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants). Every function takes
 * `n` values' worth of consecutive blocks (n a multiple of the type's block_values,
 * tensor_types.h). The layouts are ggml-common.h's block structs. */
#ifndef ROPEWALK_QUANT_H
#define ROPEWALK_QUANT_H

#include <stdint.h>

#include "../models/tensor_types.h"

enum { Q8_1_BYTES = 36, Q8_K_BYTES = 292 };

/* the 32-value types (quant_legacy.c) */
void dequantize_q4_0(const unsigned char *blocks, int n, float *out);
void dequantize_q4_1(const unsigned char *blocks, int n, float *out);
void dequantize_q5_0(const unsigned char *blocks, int n, float *out);
void dequantize_q5_1(const unsigned char *blocks, int n, float *out);
/* Q8_1 (36 bytes per 32 values): f16 d = max|x| / 127, f16 s = d * sum q, 32 int8
 * q = round(x 127 / max|x|), as ggml's x86 quantize_row_q8_1. */
void quantize_row_q8_1(const float *x, int n, unsigned char *out);
/* A Q5_0 weight row with Q8_0 activations, or a Q4_1 / Q5_1 row with Q8_1 activations, of
 * n_tokens tokens xq_stride bytes apart: out[t] = w . x_t (as dots_k_q8_k). */
void dots_legacy_q8(TensorType type, const unsigned char *w, const unsigned char *xq,
                    size_t xq_stride, int n_tokens, int n, float *out);
/* The same with the AVX2 kernels of quant_legacy_avx2.c: 1 (and out filled) for at most 64
 * tokens where the build has AVX2, else 0 (dots_legacy_q8's own path). */
int dots_legacy_q8_avx2(TensorType type, const unsigned char *w, const unsigned char *xq,
                        size_t xq_stride, int n_tokens, int n, float *out);

/* bfloat16 (bf16.c), the high half of an IEEE float32. llama.cpp multiplies BF16 weights
 * with activations rounded to bfloat16; each product of two bfloat16 is exact in float, so
 * the engine takes such activations as floats and any float kernel (row dots, sgemm over
 * converted rows) forms the same products. */
void dequantize_bf16(const unsigned char *values, int n, float *out);
/* Rounds floats to bfloat16 as ggml does (util/half.h's float_to_bf16), kept as floats (out
 * may be x). */
void round_row_to_bf16_floats(const float *x, int n, float *out);
/* A BF16 weight row with float activations, products and sum in float. */
float dot_bf16_f32(const unsigned char *w, const float *x, int n);

/* the 256-value super-blocks (quant_k.c) */
void dequantize_q2_k(const unsigned char *blocks, int n, float *out);
void dequantize_q3_k(const unsigned char *blocks, int n, float *out);
void dequantize_q4_k(const unsigned char *blocks, int n, float *out);
void dequantize_q5_k(const unsigned char *blocks, int n, float *out);
void dequantize_q6_k(const unsigned char *blocks, int n, float *out);
/* Q8_K (292 bytes per 256 values): float d, 256 int8, 16 int16 sums of 16 (ggml's
 * quantize_row_q8_K). */
void quantize_row_q8_k(const float *x, int n, unsigned char *out);
/* A K-quant weight row (type Q2_K ... Q6_K, n values) with the Q8_K activations of
 * n_tokens tokens, xq_stride bytes apart: out[t] = w . x_t. Each super-block of the row is
 * unpacked once for all the tokens. */
void dots_k_q8_k(TensorType type, const unsigned char *w, const unsigned char *xq,
                 size_t xq_stride, int n_tokens, int n, float *out);

/* The same with the AVX2 kernels of quant_k_avx2.c: 1 (and out filled) for at most 64
 * tokens where the build has AVX2, else 0 (dots_k_q8_k's own path). */
int dots_k_q8_k_avx2(TensorType type, const unsigned char *w, const unsigned char *xq,
                     size_t xq_stride, int n_tokens, int n, float *out);

#endif
