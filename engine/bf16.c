/* bf16.c — bfloat16 rows: to floats and back, and their dot product with float activations
 * (quant.h says why float activations rounded to bfloat16 give llama.cpp's products). */
#include <string.h>

#include "../util/half.h"
#include "quant.h"

static uint16_t bf16_at(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }

void dequantize_bf16(const unsigned char *v, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = bf16_to_float(bf16_at(v + 2 * i));
}

void round_row_to_bf16_floats(const float *x, int n, float *out) {
    for (int i = 0; i < n; i++) out[i] = bf16_to_float(float_to_bf16(x[i]));
}

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

/* 8 bfloat16 to 8 floats: each shifted into the high half of a 32-bit lane. */
static __m256 load8_bf16(const unsigned char *p) {
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

float dot_bf16_f32(const unsigned char *w, const float *x, int n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(load8_bf16(w + 2 * i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(load8_bf16(w + 2 * i + 16), _mm256_loadu_ps(x + i + 8), a1);
    }
    __m256 a = _mm256_add_ps(a0, a1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    float sum = _mm_cvtss_f32(s);
    for (; i < n; i++) sum += bf16_to_float(bf16_at(w + 2 * i)) * x[i];
    return sum;
}
#else
float dot_bf16_f32(const unsigned char *w, const float *x, int n) {
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += bf16_to_float(bf16_at(w + 2 * i)) * x[i];
    return sum;
}
#endif
