/* block_encode.h — floats to the GGML block types a writer can produce beyond Q8_0 / Q4_0
 * (gguf_writer.h): Q4_1, Q5_0, Q5_1 and BF16, bit for bit as ggml's reference quantisers
 * (quantize_row_*_ref, ggml_fp32_to_bf16) encode them, which is what llama-quantize writes
 * when it has no importance matrix; and the K-quants Q2_K ... Q6_K (block_encode_k.c). */
#ifndef ROPEWALK_BLOCK_ENCODE_H
#define ROPEWALK_BLOCK_ENCODE_H

#include <stdint.h>

#include "tensor_types.h"

/* Bytes of one encoded row of n values of `type` (n a multiple of its block). */
void encode_row(TensorType type, const float *x, int n, uint8_t *out);
/* 1 when encode_row handles `type`: F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K ... Q6_K. */
int can_encode(TensorType type);
/* encode_row for the K-quants (n a multiple of 256): 1, or 0 when `type` is not one. */
int encode_row_k(TensorType type, const float *x, int n, uint8_t *out);

#endif
