/* weight_rows.c — a weight row of any stored type, to floats or dotted with floats. F32,
 * F16 and Q8_0 rows have kernels of their own (ops.c); the other block types are decoded a
 * chunk of at most 256 values at a time into a buffer on the stack, which stays in L1, and
 * dotted from there. */
#include "weight_rows.h"

#include <string.h>

#include "../util/half.h"
#include "k_interleaved.h"
#include "quant.h"
#include "ops.h"

typedef void (*BlockDecoder)(const unsigned char *blocks, int n, float *out);

enum { CHUNK_VALUES = QK_K };

static BlockDecoder decoder_of(TensorType type) {
    switch (type) {
    case TENSOR_Q4_0: return dequantize_q4_0;
    case TENSOR_Q4_1: return dequantize_q4_1;
    case TENSOR_Q5_0: return dequantize_q5_0;
    case TENSOR_Q5_1: return dequantize_q5_1;
    case TENSOR_BF16: return dequantize_bf16;
    case TENSOR_Q2_K: return dequantize_q2_k;
    case TENSOR_Q3_K: return dequantize_q3_k;
    case TENSOR_Q4_K: return dequantize_q4_k;
    case TENSOR_Q5_K: return dequantize_q5_k;
    case TENSOR_Q6_K: return dequantize_q6_k;
    case TENSOR_F32: case TENSOR_F16: case TENSOR_Q8_0: break;
    }
    return NULL;
}

static const unsigned char *row_pointer(const Matrix *m, int row) {
    return (const unsigned char *)m->data + tensor_bytes(m->type, row, m->cols);
}

void dequantize_row(const Matrix *m, int row, float *out) {
    const unsigned char *p = row_pointer(m, row);
    switch (m->type) {
    case TENSOR_F32: memcpy(out, p, (size_t)m->cols * sizeof(float)); return;
    case TENSOR_F16: half_to_float_row((const uint16_t *)p, out, m->cols); return;
    case TENSOR_Q8_0: dequantize_row_q8_0(p, m->cols, out); return;
    default: decoder_of(m->type)(p, m->cols, out); return;
    }
}

/* Chunks of CHUNK_VALUES values: a whole number of blocks of every type (32 or 256 values,
 * or 1 for BF16), and cols is a whole number of blocks. */
static float chunked_dot(const Matrix *m, const unsigned char *p, const float *x) {
    const TensorTypeInfo *info = tensor_type_info(m->type);
    BlockDecoder decode = decoder_of(m->type);
    size_t chunk_bytes = (size_t)CHUNK_VALUES / info->block_values * info->block_bytes;
    float values[CHUNK_VALUES];
    float sum = 0.0f;
    for (int c = 0; c < m->cols; c += CHUNK_VALUES, p += chunk_bytes) {
        int n = m->cols - c < CHUNK_VALUES ? m->cols - c : CHUNK_VALUES;
        decode(p, n, values);
        sum += dot_f32(values, x + c, n);
    }
    return sum;
}

float matrix_row_dot(const Matrix *m, int row, const float *x) {
    const unsigned char *p = row_pointer(m, row);
    switch (m->type) {
    case TENSOR_F32: return dot_f32((const float *)p, x, m->cols);
    case TENSOR_F16: return dot_f16((const uint16_t *)p, x, m->cols);
    case TENSOR_Q8_0: return dot_q8_0(p, x, m->cols);
    case TENSOR_BF16: return dot_bf16_f32(p, x, m->cols);
    default: return chunked_dot(m, p, x);
    }
}

int takes_quantised_activations(TensorType type) {
    return decoder_of(type) != NULL && type != TENSOR_Q4_0 && type != TENSOR_BF16;
}

size_t quantised_activation_bytes(TensorType type, int cols) {
    switch (type) {
    case TENSOR_Q5_0: return (size_t)cols / QK_BLOCK * 34;
    case TENSOR_Q4_1: case TENSOR_Q5_1: return (size_t)cols / QK_BLOCK * Q8_1_BYTES;
    case TENSOR_Q2_K: case TENSOR_Q3_K: case TENSOR_Q4_K: case TENSOR_Q5_K: case TENSOR_Q6_K:
        return (size_t)cols / QK_K * Q8_K_BYTES;
    default: return 0;
    }
}

/* a bound: the most per value is Q8_K's 292 bytes per 256 */
size_t max_quantised_activation_bytes(int cols) { return (size_t)cols * 2; }

void quantize_activations(TensorType type, const float *x, int cols, unsigned char *out) {
    switch (type) {
    case TENSOR_Q5_0: quantize_row_q8_0(x, cols, out); return;
    case TENSOR_Q4_1: case TENSOR_Q5_1: quantize_row_q8_1(x, cols, out); return;
    default: quantize_row_q8_k(x, cols, out); return;
    }
}

/* One row of `type` (cols values at p) against n_tokens tokens' partner activations. */
static void row_dots_quantised(TensorType type, const unsigned char *p, const unsigned char *xq,
                               size_t stride, int n_tokens, int cols, float *out) {
    switch (type) {
    case TENSOR_Q5_0: case TENSOR_Q4_1: case TENSOR_Q5_1:
        dots_legacy_q8(type, p, xq, stride, n_tokens, cols, out);
        return;
    default: dots_k_q8_k(type, p, xq, stride, n_tokens, cols, out); return;
    }
}

void matrix_rows_dots_quantised(const Matrix *m, int row_begin, int row_end,
                                const unsigned char *xq, int n_tokens, float *out) {
    size_t stride = quantised_activation_bytes(m->type, m->cols);
    /* whole groups of interleaved rows take their kernel (the rest: the file's rows) */
    for (; m->interleaved && row_begin % REPACK_GROUP_ROWS == 0 && row_end - row_begin >= REPACK_GROUP_ROWS;
         row_begin += REPACK_GROUP_ROWS, out += (size_t)REPACK_GROUP_ROWS * n_tokens)
        k_interleaved_dots(m, row_begin / REPACK_GROUP_ROWS, xq, stride, n_tokens, out);
    const unsigned char *p = row_pointer(m, row_begin);
    size_t row_bytes = tensor_bytes(m->type, 1, m->cols);
    for (int r = row_begin; r < row_end; r++, p += row_bytes, out += n_tokens)
        row_dots_quantised(m->type, p, xq, stride, n_tokens, m->cols, out);
}
