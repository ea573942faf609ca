/* quant_k.c — GGML's K-quants: super-blocks of 256 values with one or two f16 factors and
 * small per-sub-block scales, as llama.cpp's Q2_K ... Q6_K files store them (the _S / _M / _L
 * file types are mixes of these per tensor, not types of their own).
 *   Q2_K  16 sub-blocks of 16, 4-bit scale and 4-bit min each, 2-bit codes:  x = d s q - dmin m
 *   Q3_K  16 sub-blocks of 16, signed 6-bit scales, 3-bit codes:            x = d s (q - 4)
 *   Q4_K   8 sub-blocks of 32, 6-bit scale and 6-bit min each, 4-bit codes:  x = d s q - dmin m
 *   Q5_K   the same with a fifth bit per code
 *   Q6_K  16 sub-blocks of 16, int8 scales, 6-bit codes:                     x = d s (q - 32)
 * The codes of one sub-block are not contiguous: each unpack_ function walks its layout into
 * a KBlock (codes in value order, integer scales and mins), from which both the floats and
 * llama.cpp's integer dot product with Q8_K activations follow. */
#include <math.h>
#include <string.h>

#include "../util/half.h"
#include "quant.h"

enum { Q2_K_BYTES = 84, Q3_K_BYTES = 110, Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q6_K_BYTES = 210 };

typedef struct {
    float d, dmin;        /* the block's factors (dmin 0 for the symmetric types) */
    int sub_values;       /* values per sub-block: 16 or 32 */
    int offset;           /* codes are stored + offset, so that all are 0..63 */
    uint8_t codes[QK_K];  /* in value order */
    int16_t scales[16];   /* per sub-block: x = d scale (code - offset) - dmin min */
    int16_t mins[16];
} KBlock;

static float half_at(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float(h);
}

/* Q4_K / Q5_K pack 8 (scale, min) pairs of 6 bits into 12 bytes: pairs 0-3 are the low 6
 * bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take their low 4 bits from the
 * nibbles of bytes 8-11 and their top 2 bits from the spare bits 6-7 of bytes 0-7. */
static void k4_scales_mins(const unsigned char *s, KBlock *k) {
    for (int j = 0; j < 8; j++) {
        k->scales[j] = (int16_t)(j < 4 ? s[j] & 63 : (s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4);
        k->mins[j] = (int16_t)(j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

/* Q4_K (144 bytes): d, dmin (f16), 12 bytes of scales, 128 bytes of nibbles. Each 32 bytes
 * of nibbles hold two sub-blocks: 32 low nibbles, then 32 high nibbles. */
static void unpack_q4_k(const unsigned char *b, KBlock *k) {
    k->d = half_at(b), k->dmin = half_at(b + 2), k->sub_values = 32, k->offset = 0;
    k4_scales_mins(b + 4, k);
    const unsigned char *q = b + 16;
    for (int j = 0; j < 8; j += 2, q += 32)
        for (int l = 0; l < 32; l++) {
            k->codes[32 * j + l] = q[l] & 0x0f;
            k->codes[32 * j + 32 + l] = q[l] >> 4;
        }
}

/* Q5_K (176 bytes): d, dmin, 12 bytes of scales, 32 bytes of fifth bits, 128 of nibbles, as
 * Q4_K; sub-block j takes bit j of high[l] as bit 4 of its code l. */
static void unpack_q5_k(const unsigned char *b, KBlock *k) {
    k->d = half_at(b), k->dmin = half_at(b + 2), k->sub_values = 32, k->offset = 0;
    k4_scales_mins(b + 4, k);
    const unsigned char *high = b + 16, *q = b + 48;
    for (int j = 0; j < 8; j += 2, q += 32)
        for (int l = 0; l < 32; l++) {
            k->codes[32 * j + l] = (uint8_t)((q[l] & 0x0f) | ((high[l] >> j) & 1) << 4);
            k->codes[32 * j + 32 + l] = (uint8_t)((q[l] >> 4) | ((high[l] >> (j + 1)) & 1) << 4);
        }
}

/* Q6_K (210 bytes): 128 bytes of low nibbles, 64 of 2-bit high parts, 16 int8 scales, d.
 * Each half of 128 values uses 64 low bytes and 32 high bytes: value l + 32 k (k = 0..3,
 * l = 0..31) has the low (k < 2) or high (k >= 2) nibble of low[l + 32 (k % 2)] and bits
 * 2k..2k+1 of high[l]; its scale is the half's scale 2k + l / 16. */
static void unpack_q6_k(const unsigned char *b, KBlock *k) {
    k->d = half_at(b + 208), k->dmin = 0.0f, k->sub_values = 16, k->offset = 32;
    for (int i = 0; i < 16; i++) k->scales[i] = (int8_t)b[192 + i], k->mins[i] = 0;
    for (int h = 0; h < 2; h++) {
        const unsigned char *low = b + 64 * h, *high = b + 128 + 32 * h;
        for (int s = 0; s < 4; s++)
            for (int l = 0; l < 32; l++) {
                int byte = low[l + 32 * (s % 2)], nibble = s < 2 ? byte & 0x0f : byte >> 4;
                k->codes[128 * h + 32 * s + l] = (uint8_t)(nibble | ((high[l] >> (2 * s)) & 3) << 4);
            }
    }
}

/* Q2_K (84 bytes): 16 bytes of (scale | min << 4), 64 bytes of 2-bit codes, d, dmin. Each
 * half of 128 values reads 32 code bytes four times, two bits further each time; every pass
 * gives two sub-blocks of 16 (bytes 0-15, then 16-31). */
static void unpack_q2_k(const unsigned char *b, KBlock *k) {
    k->d = half_at(b + 80), k->dmin = half_at(b + 82), k->sub_values = 16, k->offset = 0;
    for (int i = 0; i < 16; i++) k->scales[i] = b[i] & 0x0f, k->mins[i] = b[i] >> 4;
    for (int h = 0; h < 2; h++) {
        const unsigned char *q = b + 16 + 32 * h;
        for (int pass = 0; pass < 4; pass++)
            for (int l = 0; l < 32; l++)
                k->codes[128 * h + 32 * pass + l] = (q[l] >> (2 * pass)) & 3;
    }
}

/* Q3_K (110 bytes): 32 bytes of high-bit masks, 64 bytes of 2-bit codes, 12 bytes of scales,
 * d. Codes are walked as Q2_K's; the pass p (0..7 over both halves) takes bit p of mask[l]
 * as the code's third bit (stored: q | bit << 2, offset 4, so a clear bit means q - 4,
 * as ggml's "hmask ? 0 : 4"). The 16 scales are 6 bits each,
 * stored plus 32: the low 4 bits of scale i are the low (i < 8) or high (i >= 8) nibble of
 * byte i % 8, the top 2 bits are bits 2 (i / 4) of byte 8 + i % 4. */
static void unpack_q3_k(const unsigned char *b, KBlock *k) {
    const unsigned char *mask = b, *s = b + 96;
    k->d = half_at(b + 108), k->dmin = 0.0f, k->sub_values = 16, k->offset = 4;
    for (int i = 0; i < 16; i++) {
        int low = i < 8 ? s[i] & 0x0f : s[i - 8] >> 4;
        k->scales[i] = (int16_t)((low | ((s[8 + i % 4] >> (2 * (i / 4))) & 3) << 4) - 32);
        k->mins[i] = 0;
    }
    for (int h = 0; h < 2; h++) {
        const unsigned char *q = b + 32 + 32 * h;
        for (int pass = 0; pass < 4; pass++)
            for (int l = 0; l < 32; l++) {
                int bit = (mask[l] >> (4 * h + pass)) & 1;
                k->codes[128 * h + 32 * pass + l] = (uint8_t)(((q[l] >> (2 * pass)) & 3) | bit << 2);
            }
    }
}

typedef void (*Unpacker)(const unsigned char *block, KBlock *out);

static Unpacker unpacker_of(TensorType type, int *block_bytes) {
    switch (type) {
    case TENSOR_Q2_K: *block_bytes = Q2_K_BYTES; return unpack_q2_k;
    case TENSOR_Q3_K: *block_bytes = Q3_K_BYTES; return unpack_q3_k;
    case TENSOR_Q4_K: *block_bytes = Q4_K_BYTES; return unpack_q4_k;
    case TENSOR_Q5_K: *block_bytes = Q5_K_BYTES; return unpack_q5_k;
    case TENSOR_Q6_K: *block_bytes = Q6_K_BYTES; return unpack_q6_k;
    default: *block_bytes = 0; return NULL;
    }
}

/* x = (d scale) code - dmin min, the factors multiplied first as llama.cpp does. */
static void dequantize_k(TensorType type, const unsigned char *b, int n, float *out) {
    int bytes;
    Unpacker unpack = unpacker_of(type, &bytes);
    KBlock k;
    for (int i = 0; i < n / QK_K; i++, b += bytes) {
        unpack(b, &k);
        for (int s = 0; s < QK_K / k.sub_values; s++) {
            float scale = k.d * (float)k.scales[s], min = k.dmin * (float)k.mins[s];
            for (int l = 0; l < k.sub_values; l++, out++)
                *out = scale * (float)(k.codes[s * k.sub_values + l] - k.offset) - min;
        }
    }
}

void dequantize_q2_k(const unsigned char *b, int n, float *out) { dequantize_k(TENSOR_Q2_K, b, n, out); }
void dequantize_q3_k(const unsigned char *b, int n, float *out) { dequantize_k(TENSOR_Q3_K, b, n, out); }
void dequantize_q4_k(const unsigned char *b, int n, float *out) { dequantize_k(TENSOR_Q4_K, b, n, out); }
void dequantize_q5_k(const unsigned char *b, int n, float *out) { dequantize_k(TENSOR_Q5_K, b, n, out); }
void dequantize_q6_k(const unsigned char *b, int n, float *out) { dequantize_k(TENSOR_Q6_K, b, n, out); }

/* sum over sub-blocks of scale * (codes . q): the unsigned codes against one Q8_K block's
 * signed values, exact in int32 (codes <= 63, |q| <= 127, |scale| <= 127). */
#if defined(__AVX2__)
#include <immintrin.h>

static int32_t scaled_code_dot(const KBlock *k, const int8_t *q) {
    __m256i acc = _mm256_setzero_si256();
    for (int i = 0; i < QK_K; i += 32) {
        __m256i c = _mm256_loadu_si256((const __m256i *)(k->codes + i));
        __m256i x = _mm256_loadu_si256((const __m256i *)(q + i));
        __m256i pairs = _mm256_maddubs_epi16(c, x); /* <= 2 * 63 * 127: no saturation */
        __m256i scale = k->sub_values == 32
                            ? _mm256_set1_epi16(k->scales[i / 32])
                            : _mm256_set_m128i(_mm_set1_epi16(k->scales[i / 16 + 1]),
                                               _mm_set1_epi16(k->scales[i / 16]));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, scale));
    }
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}
#else
static int32_t scaled_code_dot(const KBlock *k, const int8_t *q) {
    int32_t total = 0;
    for (int s = 0; s < QK_K / k->sub_values; s++) {
        int32_t sum = 0;
        for (int l = 0; l < k->sub_values; l++)
            sum += k->codes[s * k->sub_values + l] * q[s * k->sub_values + l];
        total += k->scales[s] * sum;
    }
    return total;
}
#endif

/* One super-block against one Q8_K block: isum = sum over sub-blocks of scale * ((codes -
 * offset) . q), an exact integer (the offset taken back through the block sums of q), and
 * msum = sum of min * (the sub-block's sum of q); then d_x (d isum - dmin msum) in float, as
 * ggml's q*_K x q8_K dot products. */
static float block_dot(const KBlock *k, const unsigned char *xq) {
    float dx;
    int16_t bsums[16];
    memcpy(&dx, xq, 4);
    memcpy(bsums, xq + 4 + QK_K, sizeof bsums);
    int32_t isum = scaled_code_dot(k, (const int8_t *)(xq + 4)), msum = 0, qsum_scaled = 0;
    int per_sum = k->sub_values / 16;
    for (int s = 0; s < QK_K / k->sub_values; s++) {
        int32_t qsum = bsums[s * per_sum] + (per_sum == 2 ? bsums[s * per_sum + 1] : 0);
        msum += k->mins[s] * qsum;
        qsum_scaled += k->scales[s] * qsum;
    }
    isum -= k->offset * qsum_scaled;
    return dx * k->d * (float)isum - dx * k->dmin * (float)msum;
}

void dots_k_q8_k(TensorType type, const unsigned char *w, const unsigned char *xq,
                 size_t xq_stride, int n_tokens, int n, float *out) {
    if (dots_k_q8_k_avx2(type, w, xq, xq_stride, n_tokens, n, out)) return;
    int bytes;
    Unpacker unpack = unpacker_of(type, &bytes);
    KBlock k;
    for (int t = 0; t < n_tokens; t++) out[t] = 0.0f;
    for (int i = 0; i < n / QK_K; i++, w += bytes) {
        unpack(w, &k);
        const unsigned char *x = xq + (size_t)i * Q8_K_BYTES;
        for (int t = 0; t < n_tokens; t++, x += xq_stride) out[t] += block_dot(&k, x);
    }
}

/* Q8_K (292 bytes per 256 values): float d, 256 int8, 16 int16 sums of 16. As ggml's
 * quantize_row_q8_K: the scale comes from the element of largest magnitude m (with its
 * sign), iscale = -127 / m, q = round-to-nearest-even(iscale x) capped at 127, d = 1 / iscale. */
void quantize_row_q8_k(const float *x, int n, unsigned char *out) {
    for (int i = 0; i < n / QK_K; i++, x += QK_K, out += Q8_K_BYTES) {
        float max = 0.0f, amax = 0.0f;
        for (int j = 0; j < QK_K; j++)
            if (fabsf(x[j]) > amax) amax = fabsf(x[j]), max = x[j];
        int8_t *q = (int8_t *)(out + 4);
        int16_t bsums[16] = {0};
        float d = 0.0f;
        if (amax > 0.0f) {
            float iscale = -127.0f / max;
            for (int j = 0; j < QK_K; j++) {
                long v = lrintf(iscale * x[j]);
                q[j] = (int8_t)(v > 127 ? 127 : v);
                bsums[j / 16] = (int16_t)(bsums[j / 16] + q[j]);
            }
            d = 1.0f / iscale;
        } else {
            memset(q, 0, QK_K);
        }
        memcpy(out, &d, 4);
        memcpy(out + 4 + QK_K, bsums, sizeof bsums);
    }
}
