/* simd.h — the small AVX2 pieces more than one kernel file needs (ops.c, qgemm.c, the
 * quant_*_avx2.c): a horizontal sum of 8 floats, a block's f16 factor as a float, 16 bytes
 * of nibbles as 32 bytes in value order, and Q5_0 / Q5_1's fifth bits. Included only where __AVX2__ is defined. */
#ifndef ROPEWALK_SIMD_H
#define ROPEWALK_SIMD_H

#include <immintrin.h>
#include <string.h>

#include "../util/half.h"

static inline float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* The f16 at p (a block's factor), as a float. */
static inline float half_at(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float(h);
}

/* A Q4_0 block's 16 bytes as its 32 codes 0..15 in order: low nibbles are values 0..15,
 * high nibbles 16..31. Unsigned, they go straight into vpmaddubsw / vpdpbusd against the
 * signed activations. */
static inline __m256i q4_0_codes(const unsigned char *nibbles) {
    __m128i packed = _mm_loadu_si128((const __m128i *)nibbles);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

/* Bit j of the little-endian u32 at p as 0x10 in byte j (the fifth bit of code j), else 0. */
static inline __m256i fifth_bits(const unsigned char *p) {
    uint32_t bits;
    memcpy(&bits, p, 4);
    /* byte j takes byte j / 8 of the word, then keeps bit j % 8 */
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)bits), spread);
    __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

#endif
