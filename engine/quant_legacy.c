/* quant_legacy.c — the 32-value block types of GGML: Q4_0, Q4_1, Q5_0, Q5_1 (llama.cpp's
 * "legacy" quants, still what llama-quantize falls back to for rows whose length is not a
 * multiple of 256). In every one, value j < 16 of a block sits in the low
 * nibble of byte j, value j + 16 in its high nibble; the _1 types add a minimum m:
 * x = d q + m, the others are symmetric: x = d (q - 8) or d (q - 16). (bfloat16: bf16.c) */
#include <math.h>
#include <string.h>

#include "../models/tensor_types.h"
#include "../util/half.h"
#include "quant.h"

enum { Q4_0_BYTES = 18, Q4_1_BYTES = 20, Q5_0_BYTES = 22, Q5_1_BYTES = 24, HALF = QK_BLOCK / 2 };

static float half_at(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float(h);
}

static uint32_t u32_at(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Q4_0: d (f16), 16 bytes of nibbles; x = d (q - 8). */
void dequantize_q4_0(const unsigned char *b, int n, float *out) {
    for (int i = 0; i < n / QK_BLOCK; i++, b += Q4_0_BYTES, out += QK_BLOCK) {
        float d = half_at(b);
        const unsigned char *q = b + 2;
        for (int j = 0; j < HALF; j++) {
            out[j] = d * (float)((q[j] & 0x0f) - 8);
            out[j + HALF] = d * (float)((q[j] >> 4) - 8);
        }
    }
}

/* Q4_1: d (f16), m (f16), 16 bytes of nibbles; x = d q + m. */
void dequantize_q4_1(const unsigned char *b, int n, float *out) {
    for (int i = 0; i < n / QK_BLOCK; i++, b += Q4_1_BYTES, out += QK_BLOCK) {
        float d = half_at(b), m = half_at(b + 2);
        const unsigned char *q = b + 4;
        for (int j = 0; j < HALF; j++) {
            out[j] = (float)(q[j] & 0x0f) * d + m;
            out[j + HALF] = (float)(q[j] >> 4) * d + m;
        }
    }
}

/* The 5-bit codes of a Q5 block: the nibbles, with bit j of the little-endian u32 `high`
 * as bit 4 of value j. */
static void five_bit_codes(const unsigned char *nibbles, uint32_t high, int codes[QK_BLOCK]) {
    for (int j = 0; j < HALF; j++) {
        codes[j] = (nibbles[j] & 0x0f) | (int)((high >> j) & 1) << 4;
        codes[j + HALF] = (nibbles[j] >> 4) | (int)((high >> (j + HALF)) & 1) << 4;
    }
}

/* Q5_0: d (f16), 4 bytes of fifth bits, 16 bytes of nibbles; x = d (q - 16). */
void dequantize_q5_0(const unsigned char *b, int n, float *out) {
    int codes[QK_BLOCK];
    for (int i = 0; i < n / QK_BLOCK; i++, b += Q5_0_BYTES, out += QK_BLOCK) {
        float d = half_at(b);
        five_bit_codes(b + 6, u32_at(b + 2), codes);
        for (int j = 0; j < QK_BLOCK; j++) out[j] = d * (float)(codes[j] - 16);
    }
}

/* Q5_1: d (f16), m (f16), 4 bytes of fifth bits, 16 bytes of nibbles; x = d q + m. */
void dequantize_q5_1(const unsigned char *b, int n, float *out) {
    int codes[QK_BLOCK];
    for (int i = 0; i < n / QK_BLOCK; i++, b += Q5_1_BYTES, out += QK_BLOCK) {
        float d = half_at(b), m = half_at(b + 2);
        five_bit_codes(b + 8, u32_at(b + 4), codes);
        for (int j = 0; j < QK_BLOCK; j++) out[j] = (float)codes[j] * d + m;
    }
}

void quantize_row_q8_1(const float *x, int n, unsigned char *out) {
    for (int i = 0; i < n / QK_BLOCK; i++, x += QK_BLOCK, out += Q8_1_BYTES) {
        float max = 0.0f;
        for (int j = 0; j < QK_BLOCK; j++) max = fabsf(x[j]) > max ? fabsf(x[j]) : max;
        float d = max / 127.0f, inv = max != 0.0f ? 127.0f / max : 0.0f;
        int8_t *q = (int8_t *)(out + 4);
        int32_t total = 0;
        for (int j = 0; j < QK_BLOCK; j++) total += q[j] = (int8_t)lrintf(x[j] * inv);
        uint16_t dh = float_to_half(d), sh = float_to_half(d * (float)total);
        memcpy(out, &dh, 2);
        memcpy(out + 2, &sh, 2);
    }
}

/* A block of the 32-value types as unsigned codes: x = d (code - offset) + m. */
typedef struct {
    float d, m;
    int offset;
    uint8_t codes[QK_BLOCK];
} LegacyBlock;

static void unpack_legacy(TensorType type, const unsigned char *b, LegacyBlock *k) {
    int codes[QK_BLOCK];
    switch (type) {
    case TENSOR_Q5_0:
        k->d = half_at(b), k->m = 0.0f, k->offset = 16;
        five_bit_codes(b + 6, u32_at(b + 2), codes);
        break;
    case TENSOR_Q5_1:
        k->d = half_at(b), k->m = half_at(b + 2), k->offset = 0;
        five_bit_codes(b + 8, u32_at(b + 4), codes);
        break;
    default: /* Q4_1 */
        k->d = half_at(b), k->m = half_at(b + 2), k->offset = 0;
        for (int j = 0; j < HALF; j++) codes[j] = b[4 + j] & 0x0f, codes[j + HALF] = b[4 + j] >> 4;
        break;
    }
    for (int j = 0; j < QK_BLOCK; j++) k->codes[j] = (uint8_t)codes[j];
}

/* codes . q and sum q over one block, exact in int32. */
#if defined(__AVX2__)
#include <immintrin.h>

static int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static int32_t code_dot(const uint8_t *codes, const int8_t *q, int32_t *q_total) {
    __m256i ones = _mm256_set1_epi16(1), x = _mm256_loadu_si256((const __m256i *)q);
    __m256i pairs = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)codes), x);
    *q_total = hsum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), x), ones));
    return hsum_i32(_mm256_madd_epi16(pairs, ones));
}
#else
static int32_t code_dot(const uint8_t *codes, const int8_t *q, int32_t *q_total) {
    int32_t sum = 0, total = 0;
    for (int j = 0; j < QK_BLOCK; j++) sum += codes[j] * q[j], total += q[j];
    *q_total = total;
    return sum;
}
#endif

/* Q5_0 x Q8_0 (34-byte blocks: d, 32 int8): (d_w d_x) sum (code - 16) q. Q4_1 / Q5_1 x Q8_1:
 * x = d_w code + m_w, so the sum is (d_w d_x) sum code q + m_w s_x, with s_x = d_x sum q the
 * Q8_1 block's own. As ggml's q5_0_q8_0, q4_1_q8_1, q5_1_q8_1. */
static float block_dot(TensorType type, const LegacyBlock *k, const unsigned char *xq) {
    int32_t q_total;
    if (type == TENSOR_Q5_0) {
        int32_t sum = code_dot(k->codes, (const int8_t *)(xq + 2), &q_total);
        return k->d * half_at(xq) * (float)(sum - k->offset * q_total);
    }
    int32_t sum = code_dot(k->codes, (const int8_t *)(xq + 4), &q_total);
    return k->d * half_at(xq) * (float)sum + k->m * half_at(xq + 2);
}

void dots_legacy_q8(TensorType type, const unsigned char *w, const unsigned char *xq,
                    size_t xq_stride, int n_tokens, int n, float *out) {
    if (dots_legacy_q8_avx2(type, w, xq, xq_stride, n_tokens, n, out)) return;
    int w_bytes = type == TENSOR_Q5_0 ? Q5_0_BYTES : type == TENSOR_Q5_1 ? Q5_1_BYTES : Q4_1_BYTES;
    int x_bytes = type == TENSOR_Q5_0 ? 34 : Q8_1_BYTES;
    LegacyBlock k;
    for (int t = 0; t < n_tokens; t++) out[t] = 0.0f;
    for (int i = 0; i < n / QK_BLOCK; i++, w += w_bytes) {
        unpack_legacy(type, w, &k);
        const unsigned char *x = xq + (size_t)i * x_bytes;
        for (int t = 0; t < n_tokens; t++, x += xq_stride) out[t] += block_dot(type, &k, x);
    }
}
