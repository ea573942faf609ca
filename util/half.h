/* half.h — IEEE 754 binary16 <-> float32 conversion, shared by the model readers
 * (F16 tensors) and the engine (F16 weights and KV cache); and bfloat16 <-> float32, shared by
 * the BF16 encoder (models/block_encode.c) and the engine's BF16 kernels (engine/bf16.c). */
#ifndef ROPEWALK_HALF_H
#define ROPEWALK_HALF_H

#include <stdint.h>
#include <string.h>

#if defined(__F16C__)
#include <immintrin.h>
#endif

static inline float half_to_float_portable(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    uint32_t bits;
    if (exponent == 0) {
        if (mantissa == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exponent = 127 - 15 + 1;
            while (!(mantissa & 0x400)) { mantissa <<= 1; exponent--; }
            mantissa &= 0x3ff;
            bits = sign | (exponent << 23) | (mantissa << 13);
        }
    } else if (exponent == 31) {
        bits = sign | 0x7f800000u | (mantissa << 13);
    } else {
        bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Round-to-nearest-even float32 -> binary16, with overflow to infinity. */
static inline uint16_t float_to_half_portable(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t abs_bits = x & 0x7fffffff;
    if (abs_bits >= 0x7f800000u) /* inf or nan */
        return (uint16_t)(sign | 0x7c00 | (abs_bits > 0x7f800000u ? 0x200 : 0));
    if (abs_bits >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return (uint16_t)(sign | 0x7c00);
    if (abs_bits < 0x38800000u) { /* subnormal or zero in half */
        if (abs_bits < 0x33000000u) return (uint16_t)sign;
        uint32_t exponent = abs_bits >> 23;
        uint32_t mantissa = (abs_bits & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - exponent; /* 14 .. 24 */
        uint32_t half_m = mantissa >> shift;
        uint32_t rest = mantissa & ((1u << shift) - 1);
        uint32_t halfway = 1u << (shift - 1);
        if (rest > halfway || (rest == halfway && (half_m & 1))) half_m++;
        return (uint16_t)(sign | half_m);
    }
    uint32_t rounded = abs_bits + 0xfff + ((abs_bits >> 13) & 1);
    return (uint16_t)(sign | ((rounded - 0x38000000u) >> 13));
}

/* The hardware conversion where the build target has it (x86 F16C); same results. The
 * value goes in with vmovd, which zero-extends: _cvtsh_ss compiles to a vpinsrw into
 * whatever register held an earlier value, which chains each conversion in a loop to the
 * load before it (the quantised kernels then ran at memory latency, not bandwidth). */
static inline float half_to_float(uint16_t h) {
#if defined(__F16C__)
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
#else
    return half_to_float_portable(h);
#endif
}

static inline uint16_t float_to_half(float f) {
#if defined(__F16C__)
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
    return float_to_half_portable(f);
#endif
}

/* n halves to floats. */
static inline void half_to_float_row(const uint16_t *in, float *out, int n) {
    int i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
#endif
    for (; i < n; i++) out[i] = half_to_float(in[i]);
}

/* n floats rounded to the nearest f16 (ties to even) and back. */
static inline void round_row_to_half(const float *in, float *out, int n) {
    int i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(in + i),
                                                                  _MM_FROUND_TO_NEAREST_INT)));
#endif
    for (; i < n; i++) out[i] = half_to_float(float_to_half(in[i]));
}

/* bfloat16: the high half of a float32. */
static inline float bf16_to_float(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ggml's fp32 -> bf16: NaN made quiet, otherwise round to nearest, ties to even. */
static inline uint16_t float_to_bf16(float x) {
    uint32_t bits;
    memcpy(&bits, &x, 4);
    if ((bits & 0x7fffffff) > 0x7f800000) return (uint16_t)((bits >> 16) | 64);
    return (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
}

#endif
