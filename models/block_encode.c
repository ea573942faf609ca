/* block_encode.c — ggml's reference encoders of the 32-value block types and of bfloat16.
 * Each follows ggml-quants.c's quantize_row_*_ref step for step (the same float operations
 * in the same order, the same truncating casts), so that a file written here is the file
 * llama-quantize writes. */
#include "block_encode.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "../util/half.h"
#include "gguf_writer.h"

static void put_half(uint8_t *p, float value) {
    uint16_t h = float_to_half(value);
    memcpy(p, &h, 2);
}

static void block_min_max(const float *x, float *min, float *max) {
    *min = FLT_MAX, *max = -FLT_MAX;
    for (int j = 0; j < QK_BLOCK; j++) {
        if (x[j] < *min) *min = x[j];
        if (x[j] > *max) *max = x[j];
    }
}

/* Q4_1: d = (max - min) / 15, m = min; code = min(15, trunc((x - min) / d + 0.5)). */
static void encode_q4_1(const float *x, uint8_t *out) {
    float min, max;
    block_min_max(x, &min, &max);
    float d = (max - min) / 15.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_half(out, d), put_half(out + 2, min);
    for (int j = 0; j < QK_BLOCK / 2; j++) {
        int low = (int8_t)((x[j] - min) * id + 0.5f), high = (int8_t)((x[j + 16] - min) * id + 0.5f);
        out[4 + j] = (uint8_t)((low < 15 ? low : 15) | (high < 15 ? high : 15) << 4);
    }
}

/* The nibbles and the fifth bits of 32 five-bit codes, as Q5_0 / Q5_1 store them. */
static void pack_five_bits(const int codes[QK_BLOCK], uint8_t *high_bits, uint8_t *nibbles) {
    uint32_t high = 0;
    for (int j = 0; j < QK_BLOCK / 2; j++) {
        nibbles[j] = (uint8_t)((codes[j] & 0x0f) | (codes[j + 16] & 0x0f) << 4);
        high |= (uint32_t)((codes[j] >> 4) & 1) << j | (uint32_t)((codes[j + 16] >> 4) & 1) << (j + 16);
    }
    for (int b = 0; b < 4; b++) high_bits[b] = (uint8_t)(high >> (8 * b));
}

/* Q5_0: m = the value of largest magnitude (with its sign), d = m / -16,
 * code = min(31, trunc(x / d + 16.5)). */
static void encode_q5_0(const float *x, uint8_t *out) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < QK_BLOCK; j++)
        if (amax < fabsf(x[j])) amax = fabsf(x[j]), max = x[j];
    float d = max / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int codes[QK_BLOCK];
    for (int j = 0; j < QK_BLOCK; j++) {
        int code = (int8_t)(x[j] * id + 16.5f);
        codes[j] = code < 31 ? code : 31;
    }
    put_half(out, d);
    pack_five_bits(codes, out + 2, out + 6);
}

/* Q5_1: d = (max - min) / 31, m = min; code = trunc((x - min) / d + 0.5) (at most 31). */
static void encode_q5_1(const float *x, uint8_t *out) {
    float min, max;
    block_min_max(x, &min, &max);
    float d = (max - min) / 31.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    int codes[QK_BLOCK];
    for (int j = 0; j < QK_BLOCK; j++) codes[j] = (uint8_t)((x[j] - min) * id + 0.5f);
    put_half(out, d), put_half(out + 2, min);
    pack_five_bits(codes, out + 4, out + 8);
}

/* bfloat16: round to nearest even on the low 16 bits; a NaN stays a quiet NaN. */
static void encode_bf16(const float *x, int n, uint8_t *out) {
    for (int i = 0; i < n; i++) {
        uint16_t h = float_to_bf16(x[i]);
        memcpy(out + 2 * i, &h, 2);
    }
}

int can_encode(TensorType type) {
    return type == TENSOR_F16 || type == TENSOR_BF16 || type == TENSOR_Q4_0 ||
           type == TENSOR_Q4_1 || type == TENSOR_Q5_0 || type == TENSOR_Q5_1 || type == TENSOR_Q8_0 ||
           type == TENSOR_Q2_K || type == TENSOR_Q3_K || type == TENSOR_Q4_K || type == TENSOR_Q5_K ||
           type == TENSOR_Q6_K;
}

void encode_row(TensorType type, const float *x, int n, uint8_t *out) {
    if (type == TENSOR_F16) {
        for (int j = 0; j < n; j++) put_half(out + 2 * j, x[j]);
        return;
    }
    if (type == TENSOR_BF16) {
        encode_bf16(x, n, out);
        return;
    }
    if (encode_row_k(type, x, n, out)) return;
    const TensorTypeInfo *info = tensor_type_info(type);
    for (int b = 0; b < n / QK_BLOCK; b++, x += QK_BLOCK, out += info->block_bytes) {
        switch (type) {
        case TENSOR_Q4_0: gguf_quantize_q4_0_block(x, out); break;
        case TENSOR_Q4_1: encode_q4_1(x, out); break;
        case TENSOR_Q5_0: encode_q5_0(x, out); break;
        case TENSOR_Q5_1: encode_q5_1(x, out); break;
        default: gguf_quantize_q8_0_block(x, out); break;
        }
    }
}
