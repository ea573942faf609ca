/* ops.h — the elementwise and reduction kernels of the forward pass: RMSNorm, softmax,
 * SwiGLU, dot products, F16 and Q8_0 rows to float (a matrix row of any type: weight_rows.h). */
#ifndef ROPEWALK_OPS_H
#define ROPEWALK_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "../models/model.h"

/* out = x / rms(x) * weight, over n values (out may alias x). */
void rmsnorm(float *out, const float *x, const float *weight, int n, float eps);
/* In place: x = exp(x - max) / sum. */
void softmax(float *x, int n);
/* The largest of x[0..n), n >= 1 (a NaN in x[0] makes it NaN, later NaNs are skipped). */
float max_of(const float *x, int n);
/* In place: x = exp(x - shift) for x <= shift; returns the sum of the new values. */
float exp_shifted(float *x, int n, float shift);
/* In place: gate = silu(gate) * up. */
void swiglu(float *gate, const float *up, int n);
float dot_f32(const float *restrict a, const float *restrict b, int n);
/* y += a * x */
void axpy_f32(float *restrict y, float a, const float *restrict x, int n);

/* The same with f16 elements in x (the second operand). */
float dot_f16(const uint16_t *restrict h, const float *restrict x, int n);
void axpy_f16(float *restrict y, float a, const uint16_t *restrict x, int n);

/* Decode attention over one cached row of kv heads of hd elements, query head h reading kv
 * head h / group: scores[h * stride] = scale * q_h . k_(h/group) for h < n_heads, and
 * out_h += p[h * stride] * v_(h/group). */
void row_scores_f32(const float *q, const float *row, int n_heads, int group, int hd,
                    float scale, float *scores, size_t stride);
void row_scores_f16(const float *q, const uint16_t *row, int n_heads, int group, int hd,
                    float scale, float *scores, size_t stride);
void row_accumulate_f32(float *out, const float *p, size_t stride, const float *row,
                        int n_heads, int group, int hd);
void row_accumulate_f16(float *out, const float *p, size_t stride, const uint16_t *row,
                        int n_heads, int group, int hd);
/* The same over a Q8_0 row; hd must be a multiple of 32 (each head whole blocks). The
 * scores take each query head as 16-bit integers, q_h = q_scale[h] * q16_h (from
 * quantize_head_i16), so that each block's dot product is integer arithmetic; that rounding
 * (2^-16 of the head's largest element) is far below the cache's own (2^-8 of a block's). */
float quantize_head_i16(const float *q, int n, int16_t *out); /* returns the scale */
void row_scores_q8_0(const int16_t *q16, const float *q_scale, const unsigned char *row,
                     int n_heads, int group, int hd, float scale, float *scores, size_t stride);
void row_accumulate_q8_0(float *out, const float *p, size_t stride, const unsigned char *row,
                         int n_heads, int group, int hd);

/* Q8_0 blocks (cols a multiple of 32) back to floats, and their dot product with floats. */
void dequantize_row_q8_0(const unsigned char *row, int cols, float *restrict out);
float dot_q8_0(const unsigned char *row, const float *x, int cols);
/* GGML's Q8_0 encoding of n floats (n a multiple of 32): per block an f16 scale
 * d = max|x| / 127 and 32 int8 round(x / d). */
void quantize_row_q8_0(const float *x, int n, unsigned char *out);
/* Dot product of a Q8_0 weight row with activations already quantised to Q8_0 (integer
 * products per block, as llama.cpp computes it). */
float dot_q8_0_q8_0(const unsigned char *w, const unsigned char *xq, int cols);
/* A Q4_0 weight row (values (c - 8) d_w, codes c of 0..15) with activations quantised to
 * Q8_0: per block d_w (d_x sum c q_x - 8 d_x sum q_x), the products exact integers. x_sums
 * holds for each activation block d_x and 8 d_x sum q_x (q8_0_block_sums), computed once per
 * token rather than once per row. */
float dot_q4_0_q8_0(const unsigned char *w, const unsigned char *xq, const float *x_sums,
                    int cols);
/* ... and, when totals is not NULL, each block's integer sum q_x there too. */
void q8_0_block_sums(const unsigned char *xq, int cols, float *x_sums, int32_t *totals);

/* 1 when none of x[0..n) is NaN or infinite (one vectorised pass). */
int all_finite(const float *x, size_t n);
/* Zeroes `rows` rows of `cols` floats, `stride` floats apart. */
void zero_rows(float *x, int rows, int cols, size_t stride);

/* -log softmax(logits)[target] over n logits, into *nll; -1 when a logit is NaN or infinite.
 * The exponentials of (logit - max) are float (exp_nonpositive: relative error below 1.2e-7,
 * and the float difference rounds by at most 2^-24 of itself, which matters only for terms
 * far below the largest), summed in double: the result is within about 1e-6 of the same in
 * double throughout, far below what the float logits themselves carry. */
int negative_log_softmax(const float *logits, int n, int target, double *nll);

#endif
