/* quant_legacy_avx2.c — AVX2 dot products of Q4_1, Q5_0 and Q5_1 rows with their partner
 * activations (Q8_1 for the _1 types, Q8_0 for Q5_0), straight from the packed blocks: the
 * 32 codes of a block are split out of their nibbles (and fifth bits) into one register once
 * for all the tokens, multiplied by each token's int8 values with vpmaddubsw and summed in
 * int32; the integer sums are those of quant_legacy.c's portable path, only the order in
 * which the float per-block terms are added differs. */
#include <string.h>

#include "../util/half.h"
#include "quant.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "simd.h"

enum { Q4_1_BYTES = 20, Q5_0_BYTES = 22, Q5_1_BYTES = 24, Q8_0_BYTES = 34 };

#define SPECIALISED static inline __attribute__((always_inline))

/* The eight int32 lane sums of codes (unsigned) times 32 int8 at x. */
SPECIALISED __m256i code_products(__m256i codes, const unsigned char *x) {
    __m256i pairs = _mm256_maddubs_epi16(codes, _mm256_loadu_si256((const __m256i *)x));
    return _mm256_madd_epi16(pairs, _mm256_set1_epi16(1));
}

/* Q4_1 / Q5_1 rows (has_high: Q5_1) against Q8_1 activations (d, s = d sum q, 32 int8):
 * per block d_w d_x sum code q + m_w s_x. */
SPECIALISED void dots_with_min(const unsigned char *w, const unsigned char *xq, size_t stride,
                               int n_tokens, int blocks, int has_high, float *out) {
    enum { MAX_TOKENS = 64 };
    __m256 acc[MAX_TOKENS];
    float minimums[MAX_TOKENS];
    for (int t = 0; t < n_tokens; t++) acc[t] = _mm256_setzero_ps(), minimums[t] = 0.0f;
    int bytes = has_high ? Q5_1_BYTES : Q4_1_BYTES;
    for (int i = 0; i < blocks; i++, w += bytes) {
        __m256i codes = q4_0_codes(w + (has_high ? 8 : 4));
        if (has_high) codes = _mm256_or_si256(codes, fifth_bits(w + 4));
        float d = half_at(w), m = half_at(w + 2);
        const unsigned char *x = xq + (size_t)i * Q8_1_BYTES;
        for (int t = 0; t < n_tokens; t++, x += stride) {
            __m256 sum = _mm256_cvtepi32_ps(code_products(codes, x + 4));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * half_at(x)), sum, acc[t]);
            minimums[t] += m * half_at(x + 2);
        }
    }
    for (int t = 0; t < n_tokens; t++) out[t] = horizontal_sum(acc[t]) + minimums[t];
}

/* Q5_0 rows against Q8_0 activations (d, 32 int8): per block d_w d_x sum (code - 16) q, the
 * signed codes taken as |c| times q with c's sign (vpsignb), as vpmaddubsw needs. */
SPECIALISED void dots_q5_0(const unsigned char *w, const unsigned char *xq, size_t stride,
                           int n_tokens, int blocks, float *out) {
    enum { MAX_TOKENS = 64 };
    __m256 acc[MAX_TOKENS];
    for (int t = 0; t < n_tokens; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < blocks; i++, w += Q5_0_BYTES) {
        __m256i codes = _mm256_or_si256(q4_0_codes(w + 6), fifth_bits(w + 2));
        __m256i value = _mm256_sub_epi8(codes, _mm256_set1_epi8(16));
        __m256i magnitude = _mm256_sign_epi8(value, value);
        float d = half_at(w);
        const unsigned char *x = xq + (size_t)i * Q8_0_BYTES;
        for (int t = 0; t < n_tokens; t++, x += stride) {
            __m256i q = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)(x + 2)), value);
            __m256i pairs = _mm256_maddubs_epi16(magnitude, q);
            __m256 sum = _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * half_at(x)), sum, acc[t]);
        }
    }
    for (int t = 0; t < n_tokens; t++) out[t] = horizontal_sum(acc[t]);
}

/* Compiled once more for one token (decode), so that a block's codes stay in registers. */
int dots_legacy_q8_avx2(TensorType type, const unsigned char *w, const unsigned char *xq,
                        size_t xq_stride, int n_tokens, int n, float *out) {
    int blocks = n / QK_BLOCK;
    if (n_tokens > 64) return 0;
    switch (type) {
    case TENSOR_Q4_1:
        if (n_tokens == 1) dots_with_min(w, xq, xq_stride, 1, blocks, 0, out);
        else dots_with_min(w, xq, xq_stride, n_tokens, blocks, 0, out);
        return 1;
    case TENSOR_Q5_1:
        if (n_tokens == 1) dots_with_min(w, xq, xq_stride, 1, blocks, 1, out);
        else dots_with_min(w, xq, xq_stride, n_tokens, blocks, 1, out);
        return 1;
    case TENSOR_Q5_0:
        if (n_tokens == 1) dots_q5_0(w, xq, xq_stride, 1, blocks, out);
        else dots_q5_0(w, xq, xq_stride, n_tokens, blocks, out);
        return 1;
    default: return 0;
    }
}
#else
int dots_legacy_q8_avx2(TensorType type, const unsigned char *w, const unsigned char *xq,
                        size_t xq_stride, int n_tokens, int n, float *out) {
    (void)type, (void)w, (void)xq, (void)xq_stride, (void)n_tokens, (void)n, (void)out;
    return 0;
}
#endif
