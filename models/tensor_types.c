/* tensor_types.c — the table of GGML storage types (block sizes from ggml-common.h's block
 * structs; ids from ggml.h's enum ggml_type). */
#include "tensor_types.h"

static const TensorTypeInfo tensor_types[] = {
    {0, "F32", 4, 1, 1},       {1, "F16", 2, 1, 1},       {2, "Q4_0", 18, 32, 1},
    {3, "Q4_1", 20, 32, 1},    {6, "Q5_0", 22, 32, 1},    {7, "Q5_1", 24, 32, 1},
    {8, "Q8_0", 34, 32, 1},    {9, "Q8_1", 36, 32, 0},    {10, "Q2_K", 84, 256, 1},
    {11, "Q3_K", 110, 256, 1}, {12, "Q4_K", 144, 256, 1}, {13, "Q5_K", 176, 256, 1},
    {14, "Q6_K", 210, 256, 1}, {15, "Q8_K", 292, 256, 0}, {24, "I8", 1, 1, 0},
    {25, "I16", 2, 1, 0},      {26, "I32", 4, 1, 0},      {27, "I64", 8, 1, 0},
    {28, "F64", 8, 1, 0},      {30, "BF16", 2, 1, 1},
};

const TensorTypeInfo *tensor_type_info(uint32_t id) {
    for (size_t i = 0; i < sizeof tensor_types / sizeof tensor_types[0]; i++)
        if (tensor_types[i].id == id) return &tensor_types[i];
    return NULL;
}

const char *tensor_types_computed(void) {
    return "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K";
}
