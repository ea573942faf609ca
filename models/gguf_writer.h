/* gguf_writer.h — a small GGUF v3 writer: key/value metadata (u32, i32, bool, f32, string,
 * arrays of strings / f32 / i32), a tensor directory with 32-byte alignment, and tensor
 * data converted from float32 to F32, F16, Q8_0 (or Q4_0) as the file is written.
 * Keys and tensors are written in the order they were added.  The writer copies keys,
 * names and metadata values, but only keeps a pointer to each tensor's float data: it
 * must stay valid until gguf_writer_write() returns. */
#ifndef ROPEWALK_GGUF_WRITER_H
#define ROPEWALK_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h" /* TensorType: GGML type ids */

#define GGUF_WRITER_ALIGNMENT 32

typedef struct GgufWriter GgufWriter;

GgufWriter *gguf_writer_new(char *err, size_t err_size);
void gguf_writer_free(GgufWriter *writer);

/* Metadata.  Each returns 0, or -1 with a message (duplicate or empty key, NULL data,
 * out of memory). */
int gguf_writer_add_u32(GgufWriter *writer, const char *key, uint32_t value, char *err,
                        size_t err_size);
int gguf_writer_add_i32(GgufWriter *writer, const char *key, int32_t value, char *err,
                        size_t err_size);
int gguf_writer_add_bool(GgufWriter *writer, const char *key, int value, char *err,
                         size_t err_size);
int gguf_writer_add_f32(GgufWriter *writer, const char *key, float value, char *err,
                        size_t err_size);
int gguf_writer_add_string(GgufWriter *writer, const char *key, const char *value, char *err,
                           size_t err_size);
/* strings[i] has lengths[i] bytes (lengths NULL: NUL-terminated strings). */
int gguf_writer_add_string_array(GgufWriter *writer, const char *key,
                                 const char *const *strings, const int *lengths, int count,
                                 char *err, size_t err_size);
int gguf_writer_add_f32_array(GgufWriter *writer, const char *key, const float *values,
                              int count, char *err, size_t err_size);
int gguf_writer_add_i32_array(GgufWriter *writer, const char *key, const int32_t *values,
                              int count, char *err, size_t err_size);

/* A tensor of n_dims (1..4) dimensions in GGML order: ne[0] is the row length (the
 * number of inputs of a row-major out x in matrix), ne[1] the number of rows.  `data`
 * holds the product of ne float32 values; `type` is TENSOR_F32, TENSOR_F16 or TENSOR_Q8_0
 * (Q8_0 needs ne[0] divisible by 32). */
int gguf_writer_add_tensor(GgufWriter *writer, const char *name, const float *data,
                           int n_dims, const uint64_t *ne, TensorType type, char *err,
                           size_t err_size);

/* Writes the whole file to path (replacing it).  0, or -1 with a message; on failure a
 * partial file is removed. */
int gguf_writer_write(const GgufWriter *writer, const char *path, char *err, size_t err_size);

/* Q8_0 of one block of 32 floats as GGML quantises it: d = max|x| / 127 stored as F16,
 * then 32 int8 round(x / d) (all 0 when d is 0).  Writes 34 bytes to out. */
void gguf_quantize_q8_0_block(const float *x, uint8_t *out);

/* Q4_0, kept apart from gguf_writer_add_tensor (which refuses TENSOR_Q4_0): the same
 * checks, ne[0] divisible by 32, data quantised by gguf_quantize_q4_0_block on writing. */
int gguf_writer_add_q4_0_tensor(GgufWriter *writer, const char *name, const float *data,
                                int n_dims, const uint64_t *ne, char *err, size_t err_size);

/* Q4_0 of one block of 32 floats as GGML quantises it (quantize_row_q4_0_ref): m = the
 * value of largest magnitude (with its sign), d = m / -8 stored as F16, q = floor(x/d +
 * 8.5) clamped to 0..15 (round half up of x/d, plus 8); byte j holds q[j] in its low nibble
 * and q[j+16] in its high nibble.  Writes 18 bytes to out; x = (q - 8) * d decodes it. */
void gguf_quantize_q4_0_block(const float *x, uint8_t *out);

#endif
