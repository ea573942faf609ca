/* ops.c — scalar kernels written so the compiler vectorises them (-O2 -march=native). */
#include "ops.h"

#include <math.h>
#include <string.h>

#include "../util/half.h"

/* The AVX2 kernels need FMA and F16C too; one switch for all of them, so that no function
 * is left without either form. */
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>

#include "simd.h"
#define HAVE_AVX2_KERNELS 1

/* 8 int8 -> 8 floats */
static inline __m256 int8x8_to_float(const int8_t *q) {
    __m128i bytes = _mm_loadl_epi64((const __m128i *)q);
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(bytes));
}
#endif

void rmsnorm(float *out, const float *x, const float *weight, int n, float eps) {
    double sum_sq = 0.0;
#pragma omp simd reduction(+ : sum_sq)
    for (int i = 0; i < n; i++) sum_sq += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(sum_sq / n + eps));
#pragma omp simd /* out may be x itself: element i reads only x[i] */
    for (int i = 0; i < n; i++) out[i] = weight[i] * (scale * x[i]);
}

/* exp(x) for x <= 0, branch-free so that loops over it vectorise: x = n ln2 + r with
 * |r| <= ln2/2 (ln2 split in two parts for exactness), e^r by its degree-6 Taylor polynomial
 * (truncation error < (ln2/2)^7/7! = 1.2e-7 relative), and 2^n put in the exponent bits.
 * The argument is clamped to [-87.3, 0] (e^-87.3 is about FLT_MIN) so the exponent
 * arithmetic stays defined for any input; a NaN argument gives NaN back, so that a NaN in
 * the scores is reported, not hidden. */
static inline float exp_nonpositive(float x) {
    float c = x > -87.3f ? x : -87.3f; /* a NaN compares false: clamped too */
    c = c < 0.0f ? c : 0.0f;
    /* round to nearest by adding and removing 1.5 * 2^23 (no library call in the loop) */
    float n = (c * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = c - n * 0.693145752f - n * 1.42860677e-6f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.66666667e-1f + r * (4.16666667e-2f +
              r * (8.33333333e-3f + r * 1.38888889e-3f)))));
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x == x ? p * scale : x;
}

float max_of(const float *x, int n) {
    float max = x[0];
#pragma omp simd reduction(max : max)
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    return max;
}

#ifdef HAVE_AVX2_KERNELS
/* exp_nonpositive on 8 lanes, the same steps (GCC does not vectorise the scalar one). */
static inline __m256 exp_nonpositive8(__m256 x) {
    __m256 c = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_setzero_ps());
    __m256 n = _mm256_round_ps(_mm256_mul_ps(c, _mm256_set1_ps(1.44269504f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), c);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.38888889e-3f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.33333333e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.16666667e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.66666667e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i exponent = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127));
    __m256i bits = _mm256_slli_epi32(exponent, 23);
    __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN stays NaN */
}

float exp_shifted(float *x, int n, float shift) {
    __m256 sum8 = _mm256_setzero_ps(), s = _mm256_set1_ps(shift);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp_nonpositive8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        _mm256_storeu_ps(x + i, e);
        sum8 = _mm256_add_ps(sum8, e);
    }
    float sum = horizontal_sum(sum8);
    for (; i < n; i++) {
        x[i] = exp_nonpositive(x[i] - shift);
        sum += x[i];
    }
    return sum;
}
#else
float exp_shifted(float *x, int n, float shift) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = exp_nonpositive(x[i] - shift);
        sum += x[i];
    }
    return sum;
}
#endif

void softmax(float *x, int n) {
    float sum = exp_shifted(x, n, max_of(x, n));
    float inv = 1.0f / sum;
#pragma omp simd
    for (int i = 0; i < n; i++) x[i] *= inv;
}

/* silu(g) = g * sigmoid(g), with sigmoid from e = exp(-|g|) <= 1 (no overflow either way):
 * 1 / (1 + e) for g >= 0, e / (1 + e) for g < 0. */
static inline float silu(float g) {
    float e = exp_nonpositive(g < 0.0f ? g : -g);
    return g * (g < 0.0f ? e : 1.0f) / (1.0f + e);
}

#ifdef HAVE_AVX2_KERNELS
void swiglu(float *gate, const float *up, int n) {
    __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = exp_nonpositive8(_mm256_or_ps(g, sign)); /* exp(-|g|) */
        __m256 numerator = _mm256_blendv_ps(one, e, g);     /* sign bit of g picks e */
        __m256 sigmoid = _mm256_div_ps(numerator, _mm256_add_ps(one, e));
        __m256 silu = _mm256_mul_ps(g, sigmoid);
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) gate[i] = silu(gate[i]) * up[i];
}
#else
void swiglu(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) gate[i] = silu(gate[i]) * up[i];
}
#endif

#ifndef HAVE_AVX2_KERNELS
float dot_f32(const float *restrict a, const float *restrict b, int n) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}
#endif

void axpy_f32(float *restrict y, float a, const float *restrict x, int n) {
#pragma omp simd
    for (int i = 0; i < n; i++) y[i] += a * x[i];
}

/* Q8_0 block: f16 scale, 32 int8. Q4_0 block: f16 scale, 16 bytes of nibbles where byte j
 * holds value j (low nibble) and value j + 16 (high nibble), each minus 8. */
enum { Q8_0_BLOCK_BYTES = 34, Q4_0_BLOCK_BYTES = 18 };

static uint16_t read_u16(const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

void dequantize_row_q8_0(const unsigned char *row, int cols, float *restrict out) {
    for (int b = 0; b < cols / QK_BLOCK; b++, row += Q8_0_BLOCK_BYTES) {
        float scale = half_to_float(read_u16(row));
        const int8_t *restrict q = (const int8_t *)(row + 2);
        float *restrict o = out + b * QK_BLOCK;
#ifdef HAVE_AVX2_KERNELS
        /* int8 is a character type: GCC assumes the plain loop may alias out, and keeps it
         * scalar */
        __m256 s = _mm256_set1_ps(scale);
        for (int i = 0; i < QK_BLOCK; i += 8)
            _mm256_storeu_ps(o + i, _mm256_mul_ps(s, int8x8_to_float(q + i)));
#else
        for (int i = 0; i < QK_BLOCK; i++) o[i] = scale * q[i];
#endif
    }
}

#ifdef HAVE_AVX2_KERNELS

float dot_q8_0(const unsigned char *row, const float *x, int cols) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < cols / QK_BLOCK; b++, row += Q8_0_BLOCK_BYTES) {
        const int8_t *q = (const int8_t *)(row + 2);
        const float *xb = x + b * QK_BLOCK;
        __m256 block = _mm256_mul_ps(int8x8_to_float(q), _mm256_loadu_ps(xb));
        block = _mm256_fmadd_ps(int8x8_to_float(q + 8), _mm256_loadu_ps(xb + 8), block);
        block = _mm256_fmadd_ps(int8x8_to_float(q + 16), _mm256_loadu_ps(xb + 16), block);
        block = _mm256_fmadd_ps(int8x8_to_float(q + 24), _mm256_loadu_ps(xb + 24), block);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(read_u16(row))), block, acc);
    }
    return horizontal_sum(acc);
}

float dot_f16(const uint16_t *restrict h, const float *restrict x, int cols) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= cols; i += 16) {
        __m256 w0 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)));
        __m256 w1 = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i + 8)));
        acc0 = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i), acc0);
        acc1 = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i + 8), acc1);
    }
    float sum = horizontal_sum(_mm256_add_ps(acc0, acc1));
    for (; i < cols; i++) sum += half_to_float(h[i]) * x[i];
    return sum;
}

/* Four accumulators: decode's F32 matrix-vector products stream the weights, and a single
 * FMA chain (what the compiler makes of the plain loop) leaves loads waiting on latency. */
float dot_f32(const float *restrict a, const float *restrict b, int n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 32 <= n; i += 32) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
        acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), acc2);
        acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), acc3);
    }
    for (; i + 8 <= n; i += 8)
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
    float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

/* The 32 products of two int8 blocks summed into 8 lanes: |x| . (y * sign x) with unsigned
 * x signed bytes -> 16-bit pairs -> 32-bit sums */
static __m256 block_dot_i8v(__m256i x, __m256i y) {
    __m256i pairs = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

static __m256 block_dot_i8(const int8_t *a, const int8_t *b) {
    return block_dot_i8v(_mm256_loadu_si256((const __m256i *)a),
                         _mm256_loadu_si256((const __m256i *)b));
}

float dot_q4_0_q8_0(const unsigned char *w, const unsigned char *xq, const float *x_sums,
                    int cols) {
    __m256 acc = _mm256_setzero_ps();
    float offsets = 0.0f;
    for (int b = 0; b < cols / QK_BLOCK; b++, w += Q4_0_BLOCK_BYTES, xq += Q8_0_BLOCK_BYTES) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(xq + 2));
        __m256i pairs = _mm256_maddubs_epi16(q4_0_codes(w + 2), x);
        __m256 products = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
        float dw = half_to_float(read_u16(w));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * x_sums[2 * b]), products, acc);
        offsets += dw * x_sums[2 * b + 1];
    }
    return horizontal_sum(acc) - offsets;
}

float dot_q8_0_q8_0(const unsigned char *w, const unsigned char *xq, int cols) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < cols / QK_BLOCK; b++, w += Q8_0_BLOCK_BYTES, xq += Q8_0_BLOCK_BYTES) {
        float d = half_to_float(read_u16(w)) * half_to_float(read_u16(xq));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d),
                              block_dot_i8((const int8_t *)(w + 2), (const int8_t *)(xq + 2)), acc);
    }
    return horizontal_sum(acc);
}

void axpy_f16(float *restrict y, float a, const uint16_t *restrict x, int n) {
    __m256 va = _mm256_set1_ps(a);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 xv = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, xv, _mm256_loadu_ps(y + i)));
    }
    for (; i < n; i++) y[i] += a * half_to_float(x[i]);
}

/* y += a * d_b * q_b over Q8_0 blocks (a head of a q8_0 cache row). */
static void q8_blocks_axpy(float *y, float a, const unsigned char *v, int blocks) {
    for (int b = 0; b < blocks; b++, v += Q8_0_BLOCK_BYTES, y += QK_BLOCK) {
        __m256 s = _mm256_set1_ps(a * half_to_float(read_u16(v)));
        const int8_t *w = (const int8_t *)(v + 2);
        for (int i = 0; i < QK_BLOCK; i += 8)
            _mm256_storeu_ps(y + i,
                             _mm256_fmadd_ps(s, int8x8_to_float(w + i), _mm256_loadu_ps(y + i)));
    }
}

#else /* portable kernels */

static void q8_blocks_axpy(float *y, float a, const unsigned char *v, int blocks) {
    for (int b = 0; b < blocks; b++, v += Q8_0_BLOCK_BYTES, y += QK_BLOCK) {
        float s = a * half_to_float(read_u16(v));
        for (int i = 0; i < QK_BLOCK; i++) y[i] += s * (int8_t)v[2 + i];
    }
}

void axpy_f16(float *restrict y, float a, const uint16_t *restrict x, int n) {
    for (int i = 0; i < n; i++) y[i] += a * half_to_float(x[i]);
}

float dot_q8_0_q8_0(const unsigned char *w, const unsigned char *xq, int cols) {
    float sum = 0.0f;
    for (int b = 0; b < cols / QK_BLOCK; b++, w += Q8_0_BLOCK_BYTES, xq += Q8_0_BLOCK_BYTES) {
        int32_t block = 0;
        for (int i = 0; i < QK_BLOCK; i++) block += (int8_t)w[2 + i] * (int8_t)xq[2 + i];
        sum += half_to_float(read_u16(w)) * half_to_float(read_u16(xq)) * (float)block;
    }
    return sum;
}

float dot_q4_0_q8_0(const unsigned char *w, const unsigned char *xq, const float *x_sums,
                    int cols) {
    float sum = 0.0f;
    for (int b = 0; b < cols / QK_BLOCK; b++, w += Q4_0_BLOCK_BYTES, xq += Q8_0_BLOCK_BYTES) {
        int32_t block = 0;
        for (int j = 0; j < QK_BLOCK / 2; j++)
            block += (w[2 + j] & 0x0f) * (int8_t)xq[2 + j] +
                     (w[2 + j] >> 4) * (int8_t)xq[2 + j + QK_BLOCK / 2];
        float dw = half_to_float(read_u16(w));
        sum += dw * x_sums[2 * b] * (float)block - dw * x_sums[2 * b + 1];
    }
    return sum;
}

float dot_q8_0(const unsigned char *row, const float *x, int cols) {
    float sum = 0.0f;
    for (int b = 0; b < cols / QK_BLOCK; b++, row += Q8_0_BLOCK_BYTES) {
        const int8_t *q = (const int8_t *)(row + 2);
        const float *xb = x + b * QK_BLOCK;
        float block = 0.0f;
#pragma omp simd reduction(+ : block)
        for (int i = 0; i < QK_BLOCK; i++) block += q[i] * xb[i];
        sum += half_to_float(read_u16(row)) * block;
    }
    return sum;
}

float dot_f16(const uint16_t *restrict h, const float *restrict x, int cols) {
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < cols; i++) sum += half_to_float(h[i]) * x[i];
    return sum;
}

#endif

/* The largest |x_i| (a NaN is skipped). */
static float abs_max(const float *x, int n) {
    float amax = 0.0f;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        amax = a > amax ? a : amax; /* fmaxf is a library call without -ffast-math */
    }
    return amax;
}

float quantize_head_i16(const float *q, int n, int16_t *out) {
    float amax = abs_max(q, n);
    float inv = amax > 0.0f ? 32767.0f / amax : 0.0f;
    for (int i = 0; i < n; i++) out[i] = (int16_t)lrintf(q[i] * inv);
    return amax / 32767.0f;
}

#ifdef HAVE_AVX2_KERNELS
/* The 32 int8 of a block times 32 int16, as 8 int32 partial sums: |sum| <= 32 * 127 * 32767. */
static inline __m256i block_dot_i8_i16(const int8_t *k, const int16_t *q) {
    __m256i k0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)k));
    __m256i k1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(k + 16)));
    return _mm256_add_epi32(_mm256_madd_epi16(k0, _mm256_loadu_si256((const __m256i *)q)),
                            _mm256_madd_epi16(k1, _mm256_loadu_si256((const __m256i *)(q + 16))));
}

static float q8_head_dot_i16(const unsigned char *k, const int16_t *q, int blocks) {
    __m256 acc = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++, k += Q8_0_BLOCK_BYTES, q += QK_BLOCK)
        acc = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(read_u16(k))),
                              _mm256_cvtepi32_ps(block_dot_i8_i16((const int8_t *)(k + 2), q)),
                              acc);
    return horizontal_sum(acc);
}
#else
static float q8_head_dot_i16(const unsigned char *k, const int16_t *q, int blocks) {
    float sum = 0.0f;
    for (int b = 0; b < blocks; b++, k += Q8_0_BLOCK_BYTES, q += QK_BLOCK) {
        int32_t block = 0;
        for (int i = 0; i < QK_BLOCK; i++) block += (int8_t)k[2 + i] * q[i];
        sum += half_to_float(read_u16(k)) * (float)block;
    }
    return sum;
}
#endif

/* Decode attention over a Q8_0 row whose heads are whole blocks (hd a multiple of 32). The
 * kv head of query head h is h / group, walked as (g, member) pairs as the f32/f16 forms do,
 * with no division per head (perf put a tenth of this loop's samples by its idiv, though
 * whole runs showed no change beyond the noise). */
void row_scores_q8_0(const int16_t *q16, const float *q_scale, const unsigned char *row,
                     int n_heads, int group, int hd, float scale, float *scores, size_t stride) {
    int blocks = hd / QK_BLOCK;
    size_t head_bytes = (size_t)blocks * Q8_0_BLOCK_BYTES;
    for (int g = 0, h = 0; h < n_heads; g++)
        for (int member = 0; member < group; member++, h++)
            scores[(size_t)h * stride] =
                scale * q_scale[h] *
                q8_head_dot_i16(row + (size_t)g * head_bytes, q16 + (size_t)h * hd, blocks);
}

void row_accumulate_q8_0(float *out, const float *p, size_t stride, const unsigned char *row,
                         int n_heads, int group, int hd) {
    int blocks = hd / QK_BLOCK;
    size_t head_bytes = (size_t)blocks * Q8_0_BLOCK_BYTES;
    for (int g = 0, h = 0; h < n_heads; g++)
        for (int member = 0; member < group; member++, h++)
            q8_blocks_axpy(out + (size_t)h * hd, p[(size_t)h * stride],
                           row + (size_t)g * head_bytes, blocks);
}

/* The decode-attention kernels over one cached row of n_heads / group kv heads: the generic
 * forms, and AVX2 forms for head sizes that are a multiple of 8. */
static void row_scores_generic(const float *q, const float *row32, const uint16_t *row16,
                               int n_heads, int group, int hd, float scale, float *scores,
                               size_t stride) {
    for (int h = 0; h < n_heads; h++) {
        size_t at = (size_t)(h / group) * hd;
        float dot = row32 ? dot_f32(q + (size_t)h * hd, row32 + at, hd)
                          : dot_f16(row16 + at, q + (size_t)h * hd, hd);
        scores[(size_t)h * stride] = scale * dot;
    }
}

static void row_accumulate_generic(float *out, const float *p, size_t stride, const float *row32,
                                   const uint16_t *row16, int n_heads, int group, int hd) {
    for (int h = 0; h < n_heads; h++) {
        size_t at = (size_t)(h / group) * hd;
        if (row32) axpy_f32(out + (size_t)h * hd, p[(size_t)h * stride], row32 + at, hd);
        else axpy_f16(out + (size_t)h * hd, p[(size_t)h * stride], row16 + at, hd);
    }
}

#ifdef HAVE_AVX2_KERNELS
/* 8 elements of a row as floats: f32 when row32 is set, else f16 */
static inline __m256 load8(const float *row32, const uint16_t *row16, size_t i) {
    return row32 ? _mm256_loadu_ps(row32 + i)
                 : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(row16 + i)));
}

/* Inlined into the f32 and f16 wrappers below, where row32 is a constant: the type test in
 * load8 then disappears from the inner loops. */
static inline __attribute__((always_inline)) void
row_scores(const float *q, const float *row32, const uint16_t *row16, int n_heads, int group,
           int hd, float scale, float *scores, size_t stride) {
    if (hd % 8 != 0) {
        row_scores_generic(q, row32, row16, n_heads, group, hd, scale, scores, stride);
        return;
    }
    for (int g = 0, h = 0; h < n_heads; g++)
        for (int member = 0; member < group; member++, h++) {
            const float *k = row32 ? row32 + (size_t)g * hd : NULL; /* kv head g = h / group */
            const uint16_t *k16 = row16 ? row16 + (size_t)g * hd : NULL;
            const float *qh = q + (size_t)h * hd;
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
            int d = 0;
            for (; d + 16 <= hd; d += 16) {
                acc0 = _mm256_fmadd_ps(load8(k, k16, d), _mm256_loadu_ps(qh + d), acc0);
                acc1 = _mm256_fmadd_ps(load8(k, k16, d + 8), _mm256_loadu_ps(qh + d + 8), acc1);
            }
            if (d < hd) acc0 = _mm256_fmadd_ps(load8(k, k16, d), _mm256_loadu_ps(qh + d), acc0);
            scores[(size_t)h * stride] = scale * horizontal_sum(_mm256_add_ps(acc0, acc1));
        }
}

static inline __attribute__((always_inline)) void
row_accumulate(float *out, const float *p, size_t stride, const float *row32,
               const uint16_t *row16, int n_heads, int group, int hd) {
    if (hd % 8 != 0) {
        row_accumulate_generic(out, p, stride, row32, row16, n_heads, group, hd);
        return;
    }
    for (int g = 0, h = 0; h < n_heads; g++)
        for (int member = 0; member < group; member++, h++) {
            size_t at = (size_t)g * hd;
            float *oh = out + (size_t)h * hd;
            __m256 weight = _mm256_set1_ps(p[(size_t)h * stride]);
            for (int d = 0; d < hd; d += 8)
                _mm256_storeu_ps(oh + d, _mm256_fmadd_ps(weight, load8(row32, row16, at + d),
                                                         _mm256_loadu_ps(oh + d)));
        }
}
#else
#define row_scores row_scores_generic
#define row_accumulate row_accumulate_generic
#endif

void row_scores_f32(const float *q, const float *row, int n_heads, int group, int hd,
                    float scale, float *scores, size_t stride) {
    row_scores(q, row, NULL, n_heads, group, hd, scale, scores, stride);
}

void row_scores_f16(const float *q, const uint16_t *row, int n_heads, int group, int hd,
                    float scale, float *scores, size_t stride) {
    row_scores(q, NULL, row, n_heads, group, hd, scale, scores, stride);
}

void row_accumulate_f32(float *out, const float *p, size_t stride, const float *row,
                        int n_heads, int group, int hd) {
    row_accumulate(out, p, stride, row, NULL, n_heads, group, hd);
}

void row_accumulate_f16(float *out, const float *p, size_t stride, const uint16_t *row,
                        int n_heads, int group, int hd) {
    row_accumulate(out, p, stride, NULL, row, n_heads, group, hd);
}

#ifdef HAVE_AVX2_KERNELS
/* The same arithmetic eight lanes at a time: vcvtps2dq rounds like lrintf (to nearest, ties
 * to even, under the default rounding mode), and |x * inv| <= 127 never saturates the packs. */
static float block_abs_max(const float *x) {
    __m256 sign = _mm256_set1_ps(-0.0f), m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
    for (int i = 8; i < QK_BLOCK; i += 8)
        m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + i)));
    __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
}

static void round_block(const float *x, float inv, unsigned char *out) {
    __m256 s = _mm256_set1_ps(inv);
    __m256i q[4];
    for (int k = 0; k < 4; k++)
        q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), s));
    __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]),
                                       _mm256_packs_epi32(q[2], q[3]));
    /* the packs work within 128-bit lanes: put the 4-value groups back in order */
    bytes = _mm256_permutevar8x32_epi32(bytes, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)out, bytes);
}
#else
static float block_abs_max(const float *x) { return abs_max(x, QK_BLOCK); }

static void round_block(const float *x, float inv, unsigned char *out) {
    for (int i = 0; i < QK_BLOCK; i++) out[i] = (unsigned char)(int8_t)lrintf(x[i] * inv);
}
#endif

void quantize_row_q8_0(const float *x, int n, unsigned char *out) {
    for (int b = 0; b < n / QK_BLOCK; b++, out += Q8_0_BLOCK_BYTES, x += QK_BLOCK) {
        /* 127 / max rather than 1 / d: ggml's x86 quantize_row_q8_0, to the last bit */
        float max = block_abs_max(x), d = max / 127.0f, inv = max > 0.0f ? 127.0f / max : 0.0f;
        uint16_t dh = float_to_half(d);
        memcpy(out, &dh, 2);
        round_block(x, inv, out + 2);
    }
}

void q8_0_block_sums(const unsigned char *xq, int cols, float *x_sums, int32_t *totals) {
    for (int b = 0; b < cols / QK_BLOCK; b++, xq += Q8_0_BLOCK_BYTES) {
        float d = half_to_float(read_u16(xq));
        int32_t total = 0;
        for (int i = 0; i < QK_BLOCK; i++) total += (int8_t)xq[2 + i];
        x_sums[2 * b] = d;
        x_sums[2 * b + 1] = 8.0f * d * (float)total;
        if (totals) totals[b] = total;
    }
}

/* sum of exp(x_i - shift) for x_i <= shift, each term by exp_nonpositive, added in double. */
#ifdef HAVE_AVX2_KERNELS
static double sum_exp_shifted(const float *x, int n, float shift) {
    __m256 s = _mm256_set1_ps(shift);
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp_nonpositive8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(acc0, acc1));
    double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; i < n; i++) sum += exp_nonpositive(x[i] - shift);
    return sum;
}
#else
static double sum_exp_shifted(const float *x, int n, float shift) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += exp_nonpositive(x[i] - shift);
    return sum;
}
#endif

int all_finite(const float *x, size_t n) {
    float zeros = 0.0f; /* x * 0 is NaN exactly when x is NaN or infinite */
#pragma omp simd reduction(+ : zeros)
    for (size_t i = 0; i < n; i++) zeros += x[i] * 0.0f;
    return zeros == 0.0f;
}

void zero_rows(float *x, int rows, int cols, size_t stride) {
    for (int r = 0; r < rows; r++) memset(x + (size_t)r * stride, 0, (size_t)cols * sizeof(float));
}

int negative_log_softmax(const float *logits, int n, int target, double *nll) {
    if (!all_finite(logits, (size_t)n)) return -1;
    float max = max_of(logits, n);
    *nll = (double)max + log(sum_exp_shifted(logits, n, max)) - (double)logits[target];
    return 0;
}
