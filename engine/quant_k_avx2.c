/* quant_k_avx2.c — AVX2 dot products of Q2_K ... Q6_K rows with Q8_K activations,
 * straight from the packed blocks: the codes of 32 values are split out of their nibbles
 * (and high bits) in registers, multiplied by the activations with vpmaddubsw (unsigned
 * codes 0..63 by signed int8, pairs summed in int16 without saturation: 2 * 63 * 127 <
 * 32767) and by their sub-block's scale with vpmaddwd. The integer sums are the ones
 * quant_k.c's portable path forms (the same exact isum and msum per super-block); only
 * the order in which the float per-block terms are added differs. */
#include <string.h>

#include "../util/half.h"
#include "quant.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#include "simd.h"

enum { Q2_K_BYTES = 84, Q3_K_BYTES = 110, Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q6_K_BYTES = 210 };


/* Byte shuffles that broadcast one 16-bit lane of each 128-bit half: LANES(low, high) puts
 * lane `low` in every lane of the low half and lane `high` in every lane of the high half. */
#define LANE_PAIR(l) 2 * (l), 2 * (l) + 1
#define LANE_HALF(l) LANE_PAIR(l), LANE_PAIR(l), LANE_PAIR(l), LANE_PAIR(l), \
                     LANE_PAIR(l), LANE_PAIR(l), LANE_PAIR(l), LANE_PAIR(l)
#define LANES(low, high) {LANE_HALF(low), LANE_HALF(high)}
/* Q4_K / Q5_K: run v's scale (lane v of both halves); Q6_K: its two runs of 16 (lanes 2s and
 * 2s + 1 of a half of 8 scales). */
static const char K4_SCALE_LANES[8][32] = {LANES(0, 0), LANES(1, 1), LANES(2, 2), LANES(3, 3),
                                           LANES(4, 4), LANES(5, 5), LANES(6, 6), LANES(7, 7)};
static const char Q6_K_SCALE_LANES[4][32] = {LANES(0, 1), LANES(2, 3), LANES(4, 5), LANES(6, 7)};

/* Inlined into each caller, so that the callers below specialise on constant arguments. */
#define SPECIALISED static inline __attribute__((always_inline))
#define UNROLLED _Pragma("GCC unroll 8")

SPECIALISED __m256i lanes(const char table[32]) { return _mm256_loadu_si256((const __m256i *)table); }

/* A block's 8 runs of 32 codes and their scales, as the token loops read them: with
 * AVX-512BW two runs share a 512-bit register, which halves the multiplies per token (the
 * codes are split out in 256-bit halves first, once per block). */
#if defined(__AVX512BW__)
typedef struct {
    __m512i codes[4], scales[4];
} Runs;

SPECIALISED void runs_of(const __m256i cv[8], const __m256i sv[8], Runs *r) {
    UNROLLED
    for (int v = 0; v < 4; v++) {
        r->codes[v] = _mm512_inserti64x4(_mm512_castsi256_si512(cv[2 * v]), cv[2 * v + 1], 1);
        r->scales[v] = _mm512_inserti64x4(_mm512_castsi256_si512(sv[2 * v]), sv[2 * v + 1], 1);
    }
}

/* The runs times a Q8_K block's 256 int8 (q), each pair of products summed in int16 and
 * multiplied by its run's scales into int32 lanes, folded to 8 lanes. */
SPECIALISED __m256i run_sums(const Runs *r, const int8_t *q) {
    __m512i isum = _mm512_setzero_si512();
    UNROLLED
    for (int v = 0; v < 4; v++) {
        __m512i p = _mm512_maddubs_epi16(r->codes[v], _mm512_loadu_si512((const void *)(q + 64 * v)));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, r->scales[v]));
    }
    return _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
}
#else
typedef struct {
    __m256i codes[8], scales[8];
} Runs;

SPECIALISED void runs_of(const __m256i cv[8], const __m256i sv[8], Runs *r) {
    UNROLLED
    for (int v = 0; v < 8; v++) r->codes[v] = cv[v], r->scales[v] = sv[v];
}

SPECIALISED __m256i run_sums(const Runs *r, const int8_t *q) {
    __m256i isum = _mm256_setzero_si256();
    UNROLLED
    for (int v = 0; v < 8; v++) {
        __m256i p = _mm256_maddubs_epi16(r->codes[v], _mm256_loadu_si256((const __m256i *)(q + 32 * v)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, r->scales[v]));
    }
    return isum;
}
#endif

/* Q4_K / Q5_K's 12 bytes of 6-bit (scale, min) pairs (quant_k.c's k4_scales_mins) as two
 * 32-bit words of 8 scales and two of 8 mins, by whole-word masks and shifts. */
SPECIALISED void k4_words(const unsigned char *s, uint32_t scales[2], uint32_t mins[2]) {
    uint32_t u[3];
    memcpy(u, s, 12);
    scales[0] = u[0] & 0x3f3f3f3f;
    scales[1] = (u[2] & 0x0f0f0f0f) | ((u[0] >> 6) & 0x03030303) << 4;
    mins[0] = u[1] & 0x3f3f3f3f;
    mins[1] = ((u[2] >> 4) & 0x0f0f0f0f) | ((u[1] >> 6) & 0x03030303) << 4;
}

/* The 16 block sums of a Q8_K block, summed in pairs: the sums of its 8 runs of 32. */
SPECIALISED __m128i bsums_of_32(const unsigned char *bsums) {
    return _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                          _mm_loadu_si128((const __m128i *)(bsums + 16)));
}

/* Q4_K / Q5_K rows: per super-block d_x (d isum - dmin msum); isum from the codes of each
 * run of 32 (low nibbles, then high nibbles of each 32 bytes, the fifth bit from `high`)
 * times its scale, msum from the mins and the block sums. */
SPECIALISED void k4_dots(const unsigned char *w, const unsigned char *xq, size_t stride,
                         int n_tokens, int blocks, int has_high, float *out) {
    enum { MAX_TOKENS = 64 };
    const __m256i low_mask = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc[MAX_TOKENS];
    float minimums[MAX_TOKENS];
    for (int t = 0; t < n_tokens; t++) acc[t] = _mm256_setzero_ps(), minimums[t] = 0.0f;
    int bytes = has_high ? Q5_K_BYTES : Q4_K_BYTES;
    for (int i = 0; i < blocks; i++, w += bytes) {
        uint32_t sc[2], mn[2];
        k4_words(w + 4, sc, mn);
        __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)sc[1], (int)sc[0])));
        __m128i mins = _mm_cvtepu8_epi16(_mm_set_epi32(0, 0, (int)mn[1], (int)mn[0]));
        __m256i sv[8];
        UNROLLED
        for (int v = 0; v < 8; v++) sv[v] = _mm256_shuffle_epi8(scales, lanes(K4_SCALE_LANES[v]));
        float d = half_at(w), dmin = half_at(w + 2);
        const unsigned char *codes = w + (has_high ? 48 : 16);
        __m256i high = has_high ? _mm256_loadu_si256((const __m256i *)(w + 16)) : _mm256_setzero_si256();
        __m256i cv[8]; /* the codes of the 8 runs of 32, split out once for all tokens */
        UNROLLED
        for (int g = 0; g < 4; g++) {
            __m256i packed = _mm256_loadu_si256((const __m256i *)(codes + 32 * g));
            cv[2 * g] = _mm256_and_si256(packed, low_mask);
            cv[2 * g + 1] = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low_mask);
            if (has_high) {
                cv[2 * g] = _mm256_or_si256(cv[2 * g], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2 * g), one), 4));
                cv[2 * g + 1] = _mm256_or_si256(cv[2 * g + 1], _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(high, 2 * g + 1), one), 4));
            }
        }
        Runs runs;
        runs_of(cv, sv, &runs);
        const unsigned char *x = xq + (size_t)i * Q8_K_BYTES;
        for (int t = 0; t < n_tokens; t++, x += stride) {
            __m256i isum = run_sums(&runs, (const int8_t *)(x + 4));
            float dx;
            memcpy(&dx, x, 4);
            __m128i m = _mm_madd_epi16(bsums_of_32(x + 4 + QK_K), mins);
            m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0x4e));
            m = _mm_add_epi32(m, _mm_shuffle_epi32(m, 0xb1));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * d), _mm256_cvtepi32_ps(isum), acc[t]);
            minimums[t] += dx * dmin * (float)_mm_cvtsi128_si32(m);
        }
    }
    for (int t = 0; t < n_tokens; t++) out[t] = horizontal_sum(acc[t]) - minimums[t];
}

/* The 16 scales of the types with sub-blocks of 16 (16 int16 lanes of sc16) as the scale
 * vectors of their 8 runs of 32: run 4h + s takes scale 8h + 2s for its first 16 values (the
 * low 128-bit half of the products) and 8h + 2s + 1 for the rest. */
SPECIALISED void sixteen_scale_vectors(__m256i sc16, __m256i sv[8]) {
    /* the permute's selector must be an immediate, even where the loop is not unrolled */
    __m256i halves[2] = {_mm256_permute2x128_si256(sc16, sc16, 0x00),
                         _mm256_permute2x128_si256(sc16, sc16, 0x11)};
    UNROLLED
    for (int h = 0; h < 2; h++)
        UNROLLED
        for (int s = 0; s < 4; s++)
            sv[4 * h + s] = _mm256_shuffle_epi8(halves[h], lanes(Q6_K_SCALE_LANES[s]));
}

/* Q2_K / Q3_K's 2-bit codes: value l + 32 s of half h is bits 2s..2s+1 of q[32 h + l]; for
 * Q3_K bit 4h + s of mask[l] adds 4. Runs in value order. */
SPECIALISED void two_bit_codes(const unsigned char *q, const unsigned char *mask, __m256i cv[8]) {
    const __m256i two_bits = _mm256_set1_epi8(3), one = _mm256_set1_epi8(1);
    __m256i high = mask ? _mm256_loadu_si256((const __m256i *)mask) : _mm256_setzero_si256();
    UNROLLED
    for (int h = 0; h < 2; h++) {
        __m256i packed = _mm256_loadu_si256((const __m256i *)(q + 32 * h));
        UNROLLED
        for (int s = 0; s < 4; s++) {
            cv[4 * h + s] = _mm256_and_si256(_mm256_srli_epi16(packed, 2 * s), two_bits);
            if (mask) {
                __m256i bit = _mm256_and_si256(_mm256_srli_epi16(high, 4 * h + s), one);
                cv[4 * h + s] = _mm256_or_si256(cv[4 * h + s], _mm256_slli_epi16(bit, 2));
            }
        }
    }
}

/* Q2_K rows: per super-block d_x (d isum - dmin msum), isum from the codes and 4-bit scales
 * (low nibbles of bytes 0-15), msum from the 4-bit mins (high nibbles) and Q8_K's 16 block
 * sums; the min terms are kept in a vector of their own until the end. */
SPECIALISED void q2_k_dots(const unsigned char *w, const unsigned char *xq, size_t stride,
                           int n_tokens, int blocks, float *out) {
    enum { MAX_TOKENS = 64 };
    const __m128i low_mask = _mm_set1_epi8(0x0f);
    __m256 acc[MAX_TOKENS], acc_min[MAX_TOKENS];
    for (int t = 0; t < n_tokens; t++) acc[t] = acc_min[t] = _mm256_setzero_ps();
    for (int i = 0; i < blocks; i++, w += Q2_K_BYTES) {
        __m128i packed = _mm_loadu_si128((const __m128i *)w);
        __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(packed, low_mask));
        __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(packed, 4), low_mask));
        __m256i sv[8], cv[8];
        sixteen_scale_vectors(sc16, sv);
        two_bit_codes(w + 16, NULL, cv);
        float d = half_at(w + 80), dmin = half_at(w + 82);
        Runs runs;
        runs_of(cv, sv, &runs);
        const unsigned char *x = xq + (size_t)i * Q8_K_BYTES;
        for (int t = 0; t < n_tokens; t++, x += stride) {
            __m256i isum = run_sums(&runs, (const int8_t *)(x + 4));
            __m256i msum = _mm256_madd_epi16(mn16, _mm256_loadu_si256((const __m256i *)(x + 4 + QK_K)));
            float dx;
            memcpy(&dx, x, 4);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * d), _mm256_cvtepi32_ps(isum), acc[t]);
            acc_min[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * dmin), _mm256_cvtepi32_ps(msum), acc_min[t]);
        }
    }
    for (int t = 0; t < n_tokens; t++) out[t] = horizontal_sum(acc[t]) - horizontal_sum(acc_min[t]);
}

/* Q3_K's 12 bytes of 16 six-bit scales (quant_k.c's unpack_q3_k) as 16 int8, by whole-word
 * masks and shifts: low nibbles from bytes 0-7, top 2 bits from bytes 8-11, minus 32. */
SPECIALISED __m128i q3_k_scales(const unsigned char *s) {
    uint32_t u[3], v[4];
    memcpy(u, s, 12);
    const uint32_t nibbles = 0x0f0f0f0f, two = 0x03030303;
    v[0] = (u[0] & nibbles) | (u[2] & two) << 4;
    v[1] = (u[1] & nibbles) | ((u[2] >> 2) & two) << 4;
    v[2] = ((u[0] >> 4) & nibbles) | ((u[2] >> 4) & two) << 4;
    v[3] = ((u[1] >> 4) & nibbles) | ((u[2] >> 6) & two) << 4;
    __m128i stored = _mm_loadu_si128((const __m128i *)v);
    return _mm_sub_epi8(stored, _mm_set1_epi8(32));
}

/* Q6_K's codes: value l + 32 s of half h is the low (s < 2) or high nibble of
 * low[l + 32 (s % 2)] with bits 2s..2s+1 of high[l] on top, stored 0..63; its two runs of 16
 * take scales 8h + 2s and 8h + 2s + 1. */
SPECIALISED void q6_k_codes(const unsigned char *w, __m256i cv[8]) {
    const __m256i low_mask = _mm256_set1_epi8(0x0f), two_bits = _mm256_set1_epi8(3);
    UNROLLED
    for (int h = 0; h < 2; h++) {
        __m256i high = _mm256_loadu_si256((const __m256i *)(w + 128 + 32 * h));
        __m256i l0 = _mm256_loadu_si256((const __m256i *)(w + 64 * h));
        __m256i l1 = _mm256_loadu_si256((const __m256i *)(w + 64 * h + 32));
        UNROLLED
        for (int s = 0; s < 4; s++) {
            __m256i bytes = s % 2 ? l1 : l0;
            __m256i nib = s < 2 ? _mm256_and_si256(bytes, low_mask)
                                : _mm256_and_si256(_mm256_srli_epi16(bytes, 4), low_mask);
            __m256i top = _mm256_and_si256(_mm256_srli_epi16(high, 2 * s), two_bits);
            cv[4 * h + s] = _mm256_or_si256(nib, _mm256_slli_epi16(top, 4));
        }
    }
}

/* Q3_K and Q6_K rows (q6 constant where inlined): symmetric codes stored plus an offset (4 or
 * 32), so isum = sum scale code q - offset sum scale block_sum, the second from Q8_K's
 * block sums; per super-block d_x d isum. */
SPECIALISED void offset_k_dots(const unsigned char *w, const unsigned char *xq, size_t stride,
                               int n_tokens, int blocks, const int q6, float *out) {
    enum { MAX_TOKENS = 64 };
    __m256 acc[MAX_TOKENS];
    for (int t = 0; t < n_tokens; t++) acc[t] = _mm256_setzero_ps();
    for (int i = 0; i < blocks; i++, w += q6 ? Q6_K_BYTES : Q3_K_BYTES) {
        __m256i sc16, sv[8], cv[8];
        if (q6) sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 192)));
        else sc16 = _mm256_cvtepi8_epi16(q3_k_scales(w + 96));
        if (q6) q6_k_codes(w, cv);
        else two_bit_codes(w + 32, w, cv);
        sixteen_scale_vectors(sc16, sv);
        float d = half_at(w + (q6 ? 208 : 108));
        Runs runs;
        runs_of(cv, sv, &runs);
        const unsigned char *x = xq + (size_t)i * Q8_K_BYTES;
        for (int t = 0; t < n_tokens; t++, x += stride) {
            __m256i isum = run_sums(&runs, (const int8_t *)(x + 4));
            __m256i offset = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)(x + 4 + QK_K)));
            isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(offset, q6 ? 5 : 2));
            float dx;
            memcpy(&dx, x, 4);
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(dx * d), _mm256_cvtepi32_ps(isum), acc[t]);
        }
    }
    for (int t = 0; t < n_tokens; t++) out[t] = horizontal_sum(acc[t]);
}

/* The kernels above, compiled once more for one token (decode) and each Q4_K / Q5_K layout,
 * so that the codes and scales of a block stay in registers instead of arrays. */
static void dots_k4(const unsigned char *w, const unsigned char *xq, size_t stride, int n_tokens,
                    int blocks, int has_high, float *out) {
    if (n_tokens > 1) k4_dots(w, xq, stride, n_tokens, blocks, has_high, out);
    else if (has_high) k4_dots(w, xq, stride, 1, blocks, 1, out);
    else k4_dots(w, xq, stride, 1, blocks, 0, out);
}

static void dots_offset_k(const unsigned char *w, const unsigned char *xq, size_t stride,
                          int n_tokens, int blocks, int q6, float *out) {
    if (n_tokens > 1 && q6) offset_k_dots(w, xq, stride, n_tokens, blocks, 1, out);
    else if (n_tokens > 1) offset_k_dots(w, xq, stride, n_tokens, blocks, 0, out);
    else if (q6) offset_k_dots(w, xq, stride, 1, blocks, 1, out);
    else offset_k_dots(w, xq, stride, 1, blocks, 0, out);
}

int dots_k_q8_k_avx2(TensorType type, const unsigned char *w, const unsigned char *xq,
                     size_t xq_stride, int n_tokens, int n, float *out) {
    if (n_tokens > 64) return 0;
    switch (type) {
    case TENSOR_Q4_K: dots_k4(w, xq, xq_stride, n_tokens, n / QK_K, 0, out); return 1;
    case TENSOR_Q5_K: dots_k4(w, xq, xq_stride, n_tokens, n / QK_K, 1, out); return 1;
    case TENSOR_Q6_K: dots_offset_k(w, xq, xq_stride, n_tokens, n / QK_K, 1, out); return 1;
    case TENSOR_Q2_K:
        if (n_tokens > 1) q2_k_dots(w, xq, xq_stride, n_tokens, n / QK_K, out);
        else q2_k_dots(w, xq, xq_stride, 1, n / QK_K, out);
        return 1;
    case TENSOR_Q3_K: dots_offset_k(w, xq, xq_stride, n_tokens, n / QK_K, 0, out); return 1;
    default: return 0;
    }
}
#else
int dots_k_q8_k_avx2(TensorType type, const unsigned char *w, const unsigned char *xq,
                     size_t xq_stride, int n_tokens, int n, float *out) {
    (void)type, (void)w, (void)xq, (void)xq_stride, (void)n_tokens, (void)n, (void)out;
    return 0;
}
#endif
