/* tensor_types.h — the storage types of GGML tensors: their ids (as GGUF files write them),
 * names, block layouts, and which of them the engine computes with. One table for the
 * GGUF parser (which must size every tensor it meets), the model readers and the kernels. */
#ifndef ROPEWALK_TENSOR_TYPES_H
#define ROPEWALK_TENSOR_TYPES_H

#include <stddef.h>
#include <stdint.h>

/* The types a weight matrix may have; the numbers are GGML's type ids. */
typedef enum {
    TENSOR_F32 = 0,
    TENSOR_F16 = 1,
    TENSOR_Q4_0 = 2,
    TENSOR_Q4_1 = 3,
    TENSOR_Q5_0 = 6,
    TENSOR_Q5_1 = 7,
    TENSOR_Q8_0 = 8,
    TENSOR_Q2_K = 10,
    TENSOR_Q3_K = 11,
    TENSOR_Q4_K = 12,
    TENSOR_Q5_K = 13,
    TENSOR_Q6_K = 14,
    TENSOR_BF16 = 30
} TensorType;

#define QK_BLOCK 32 /* values per block of the 32-value types (Q4_0 ... Q8_0) */
#define QK_K 256    /* values per super-block of the K-quants */

typedef struct {
    uint32_t id;
    const char *name;      /* as llama.cpp prints it: "Q4_K", "BF16" */
    uint16_t block_bytes;  /* bytes of one block */
    uint16_t block_values; /* values in one block (1 for F32 / F16 / BF16) */
    int computed;          /* 1 when the engine multiplies matrices of this type */
} TensorTypeInfo;

/* The type with GGML id `id`, or NULL when GGML has no such type this parser can size. */
const TensorTypeInfo *tensor_type_info(uint32_t id);
/* "F32, F16, BF16, Q4_0, ..." : the computed types, for error messages. */
const char *tensor_types_computed(void);

#endif
