/* dequant.h — stored weight blocks back to floats, one function per GGML block type beyond
 * F32/F16/Q8_0 (whose kernels live in ops.c). Each takes `n` values' worth of consecutive
 * blocks (n a multiple of the type's block_values, tensor_types.h) and writes n floats.
 * The layouts are ggml-common.h's block structs; every function says its layout. */
#ifndef ROPEWALK_DEQUANT_H
#define ROPEWALK_DEQUANT_H

#include <stdint.h>

/* the 32-value types (quant_legacy.c) */
void dequantize_q4_0(const unsigned char *blocks, int n, float *out);
void dequantize_q4_1(const unsigned char *blocks, int n, float *out);
void dequantize_q5_0(const unsigned char *blocks, int n, float *out);
void dequantize_q5_1(const unsigned char *blocks, int n, float *out);
/* bfloat16: the high half of an IEEE float32 */
void dequantize_bf16(const unsigned char *values, int n, float *out);

/* the 256-value super-blocks (quant_k.c) */
void dequantize_q2_k(const unsigned char *blocks, int n, float *out);
void dequantize_q3_k(const unsigned char *blocks, int n, float *out);
void dequantize_q4_k(const unsigned char *blocks, int n, float *out);
void dequantize_q5_k(const unsigned char *blocks, int n, float *out);
void dequantize_q6_k(const unsigned char *blocks, int n, float *out);

#endif
