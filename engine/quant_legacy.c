/* quant_legacy.c — the 32-value block types of GGML: Q4_0, Q4_1, Q5_0, Q5_1 (llama.cpp's
 * "legacy" quants, still what llama-quantize falls back to for rows whose length is not a
 * multiple of 256), and bfloat16 rows. In every one, value j < 16 of a block sits in the low
 * nibble of byte j, value j + 16 in its high nibble; the _1 types add a minimum m:
 * x = d q + m, the others are symmetric: x = d (q - 8) or d (q - 16). */
#include <string.h>

#include "../models/tensor_types.h"
#include "../util/half.h"
#include "dequant.h"

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

void dequantize_bf16(const unsigned char *v, int n, float *out) {
    for (int i = 0; i < n; i++) {
        uint32_t bits = ((uint32_t)v[2 * i] | (uint32_t)v[2 * i + 1] << 8) << 16;
        memcpy(&out[i], &bits, 4);
    }
}
