/* quant_k.c — GGML's K-quants: super-blocks of 256 values with one or two f16 factors and
 * small per-sub-block scales, as llama.cpp's Q2_K ... Q6_K files store them (the _S / _M / _L
 * file types are mixes of these per tensor, not types of their own).
 *   Q2_K  16 sub-blocks of 16, 4-bit scale and 4-bit min each, 2-bit codes:  x = d s q - dmin m
 *   Q3_K  16 sub-blocks of 16, signed 6-bit scales, 3-bit codes:            x = d s (q - 4)
 *   Q4_K   8 sub-blocks of 32, 6-bit scale and 6-bit min each, 4-bit codes:  x = d s q - dmin m
 *   Q5_K   the same with a fifth bit per code
 *   Q6_K  16 sub-blocks of 16, int8 scales, 6-bit codes:                     x = d s (q - 32)
 * The codes of one sub-block are not contiguous: each function walks its layout. */
#include <string.h>

#include "../models/tensor_types.h"
#include "../util/half.h"
#include "dequant.h"

enum { Q2_K_BYTES = 84, Q3_K_BYTES = 110, Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q6_K_BYTES = 210 };

static float half_at(const unsigned char *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float(h);
}

/* Q4_K / Q5_K pack 8 (scale, min) pairs of 6 bits into 12 bytes: pairs 0-3 are the low 6
 * bits of bytes 0-3 (scales) and 4-7 (mins); pairs 4-7 take their low 4 bits from the
 * nibbles of bytes 8-11 and their top 2 bits from the spare bits 6-7 of bytes 0-7. */
static void k4_scale_min(const unsigned char *s, int j, float d, float dmin, float *scale,
                         float *min) {
    int sc, m;
    if (j < 4) {
        sc = s[j] & 63;
        m = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4;
        m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
    *scale = d * (float)sc;
    *min = dmin * (float)m;
}

/* Q4_K (144 bytes): d, dmin (f16), 12 bytes of scales, 128 bytes of nibbles. Each 32 bytes
 * of nibbles hold two sub-blocks: 32 low nibbles, then 32 high nibbles. */
void dequantize_q4_k(const unsigned char *b, int n, float *out) {
    for (int i = 0; i < n / QK_K; i++, b += Q4_K_BYTES) {
        float d = half_at(b), dmin = half_at(b + 2);
        const unsigned char *q = b + 16;
        for (int j = 0; j < 8; j += 2, q += 32) {
            float s0, m0, s1, m1;
            k4_scale_min(b + 4, j, d, dmin, &s0, &m0);
            k4_scale_min(b + 4, j + 1, d, dmin, &s1, &m1);
            for (int l = 0; l < 32; l++) *out++ = s0 * (float)(q[l] & 0x0f) - m0;
            for (int l = 0; l < 32; l++) *out++ = s1 * (float)(q[l] >> 4) - m1;
        }
    }
}

/* Q5_K (176 bytes): d, dmin, 12 bytes of scales, 32 bytes of fifth bits, 128 of nibbles, as
 * Q4_K; sub-block j takes bit j of high[l] as bit 4 of its code l. */
void dequantize_q5_k(const unsigned char *b, int n, float *out) {
    for (int i = 0; i < n / QK_K; i++, b += Q5_K_BYTES) {
        float d = half_at(b), dmin = half_at(b + 2);
        const unsigned char *high = b + 16, *q = b + 48;
        for (int j = 0; j < 8; j += 2, q += 32) {
            float s0, m0, s1, m1;
            k4_scale_min(b + 4, j, d, dmin, &s0, &m0);
            k4_scale_min(b + 4, j + 1, d, dmin, &s1, &m1);
            for (int l = 0; l < 32; l++)
                *out++ = s0 * (float)((q[l] & 0x0f) | ((high[l] >> j) & 1) << 4) - m0;
            for (int l = 0; l < 32; l++)
                *out++ = s1 * (float)((q[l] >> 4) | ((high[l] >> (j + 1)) & 1) << 4) - m1;
        }
    }
}

/* Q6_K (210 bytes): 128 bytes of low nibbles, 64 of 2-bit high parts, 16 int8 scales, d.
 * Each half of 128 values uses 64 low bytes and 32 high bytes: value l + 32 k (k = 0..3,
 * l = 0..31) has the low (k < 2) or high (k >= 2) nibble of low[l + 32 (k % 2)] and bits
 * 2k..2k+1 of high[l]; its scale is the half's scale 2k + l / 16. */
void dequantize_q6_k(const unsigned char *b, int n, float *out) {
    for (int i = 0; i < n / QK_K; i++, b += Q6_K_BYTES) {
        float d = half_at(b + 208);
        for (int h = 0; h < 2; h++, out += 128) {
            const unsigned char *low = b + 64 * h, *high = b + 128 + 32 * h;
            const int8_t *scales = (const int8_t *)(b + 192) + 8 * h;
            for (int k = 0; k < 4; k++)
                for (int l = 0; l < 32; l++) {
                    int byte = low[l + 32 * (k % 2)], nibble = k < 2 ? byte & 0x0f : byte >> 4;
                    int code = nibble | ((high[l] >> (2 * k)) & 3) << 4;
                    out[32 * k + l] = d * (float)scales[2 * k + l / 16] * (float)(code - 32);
                }
        }
    }
}

/* Q2_K (84 bytes): 16 bytes of (scale | min << 4), 64 bytes of 2-bit codes, d, dmin. Each
 * half of 128 values reads 32 code bytes four times, two bits further each time; every pass
 * gives two sub-blocks of 16 (bytes 0-15, then 16-31). */
void dequantize_q2_k(const unsigned char *b, int n, float *out) {
    for (int i = 0; i < n / QK_K; i++, b += Q2_K_BYTES) {
        float d = half_at(b + 80), dmin = half_at(b + 82);
        const unsigned char *scales = b;
        for (int h = 0; h < 2; h++) {
            const unsigned char *q = b + 16 + 32 * h;
            for (int shift = 0; shift < 8; shift += 2)
                for (int half = 0; half < 2; half++) {
                    unsigned char s = *scales++;
                    float scale = d * (float)(s & 0x0f), min = dmin * (float)(s >> 4);
                    for (int l = 0; l < 16; l++)
                        *out++ = scale * (float)((q[16 * half + l] >> shift) & 3) - min;
                }
        }
    }
}

/* Q3_K's 16 scales: 6 bits each, stored minus 32; the low 4 bits of scale i are the low
 * (i < 8) or high (i >= 8) nibble of byte i % 8, the top 2 bits are bits 2 (i / 4) of
 * byte 8 + i % 4. */
static void q3_k_scales(const unsigned char *s, int out[16]) {
    for (int i = 0; i < 16; i++) {
        int low = i < 8 ? s[i] & 0x0f : s[i - 8] >> 4;
        int top = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
        out[i] = (low | top << 4) - 32;
    }
}

/* Q3_K (110 bytes): 32 bytes of high-bit masks, 64 bytes of 2-bit codes, 12 bytes of scales,
 * d. Codes are walked as Q2_K's; the pass p (0..7 over both halves) takes bit p of mask[l]
 * as the code's third bit, and a clear bit means q - 4. */
void dequantize_q3_k(const unsigned char *b, int n, float *out) {
    for (int i = 0; i < n / QK_K; i++, b += Q3_K_BYTES) {
        float d = half_at(b + 108);
        int scales[16], s = 0;
        q3_k_scales(b + 96, scales);
        for (int h = 0; h < 2; h++) {
            const unsigned char *q = b + 32 + 32 * h;
            for (int pass = 0; pass < 4; pass++) {
                int bit = 4 * h + pass;
                for (int half = 0; half < 2; half++) {
                    float scale = d * (float)scales[s++];
                    for (int l = 0; l < 16; l++) {
                        int k = 16 * half + l;
                        int code = ((q[k] >> (2 * pass)) & 3) - ((b[k] >> bit) & 1 ? 0 : 4);
                        *out++ = scale * (float)code;
                    }
                }
            }
        }
    }
}
