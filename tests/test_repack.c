/* test_repack.c — weights repacked at load (engine/repack.h) against the file's own rows:
 * Q4_K, Q6_K, Q4_0 and Q8_0 rows interleaved 16 at a time and their VNNI kernels, against the row
 * paths (quant_k.c, qgemm.c) and against double sums over the dequantised rows and activations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/k_interleaved.h"
#include "../engine/legacy_interleaved.h"
#include "../engine/qgemm.h"
#include "../engine/quant.h"
#include "../engine/weight_rows.h"
#include "../models/block_encode.h"
#include "harness.h"

enum { ROWS = 48, COLS = 768, TOKENS = 9 }; /* 3 groups of 16 rows, 3 super-blocks a row */

/* sum_i w_i x_i in double over the dequantised row and the Q8_K activations (d q_i). */
static double double_dot(const Matrix *m, int row, const unsigned char *xq) {
    float w[COLS], d;
    dequantize_row(m, row, w);
    double sum = 0;
    for (int b = 0; b < COLS / QK_K; b++) {
        const unsigned char *block = xq + (size_t)b * Q8_K_BYTES;
        memcpy(&d, block, sizeof d);
        for (int i = 0; i < QK_K; i++) sum += (double)w[b * QK_K + i] * d * (int8_t)block[4 + i];
    }
    return sum;
}

/* Rows 0..47 through the kernel (whole groups), rows 5..40 (unaligned: the row path for
 * all), rows 16..47 (two groups): each against the row path, within float rounding (the
 * integers per super-block are the same; the float terms are added in another order), and
 * against the double sums. A layout mistake (a code, a scale or a row in the wrong place)
 * moves a dot of size ~5 by ~0.1 or more. */
static void interleaved_matches_rows(TestContext *t, TensorType type, size_t group_bytes) {
    unsigned char *w = malloc(tensor_bytes(type, ROWS, COLS));
    unsigned char *xq = malloc((size_t)TOKENS * Q8_K_BYTES * (COLS / QK_K));
    float *wf = malloc(sizeof(float) * COLS), x[COLS];
    float got[ROWS * TOKENS], want[ROWS * TOKENS];
    REQUIRE(t, w && xq && wf, "out of memory");
    srand(21);
    size_t row_bytes = tensor_bytes(type, 1, COLS), xq_bytes = (size_t)Q8_K_BYTES * (COLS / QK_K);
    for (int r = 0; r < ROWS; r++) {
        for (int i = 0; i < COLS; i++) wf[i] = (float)rand() / RAND_MAX - 0.5f + (r % 3) * 0.2f;
        encode_row(type, wf, COLS, w + (size_t)r * row_bytes);
    }
    for (int k = 0; k < TOKENS; k++) {
        for (int i = 0; i < COLS; i++) x[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
        quantize_row_q8_k(x, COLS, xq + (size_t)k * xq_bytes);
    }
    Matrix file = {w, type, ROWS, COLS, NULL}, packed = file;
    size_t bytes = k_interleaved_bytes(&file);
    if (bytes == 0) { /* no kernel in this build: the group function reads the file's rows */
        for (int g = 0; g < ROWS / 16; g++) {
            k_interleaved_dots(&file, g, xq, xq_bytes, TOKENS, got);
            matrix_rows_dots_quantised(&file, 16 * g, 16 * g + 16, xq, TOKENS, want);
            CHECK(t, !memcmp(got, want, sizeof(float) * 16 * TOKENS), "%s group %d: not the row path",
                  tensor_type_name(type), g);
        }
        free(w), free(xq), free(wf);
        return;
    }
    CHECK(t, bytes == (size_t)ROWS / 16 * (COLS / QK_K) * group_bytes, "%s: %zu bytes repacked",
          tensor_type_name(type), bytes);
    void *copy = malloc(bytes);
    REQUIRE(t, copy != NULL, "out of memory");
    k_interleave(&file, copy);
    packed.interleaved = copy;
    const int ranges[3][2] = {{0, ROWS}, {5, 40}, {16, ROWS}};
    for (int tokens = 1; tokens <= TOKENS; tokens++)
        for (int c = 0; c < 3; c++) {
            int lo = ranges[c][0], hi = ranges[c][1];
            matrix_rows_dots_quantised(&file, lo, hi, xq, tokens, want);
            matrix_rows_dots_quantised(&packed, lo, hi, xq, tokens, got);
            double worst_rows = 0, worst_double = 0;
            for (int r = lo; r < hi; r++)
                for (int k = 0; k < tokens; k++) {
                    size_t at = (size_t)(r - lo) * tokens + k;
                    worst_rows = fmax(worst_rows, fabs(got[at] - want[at]));
                    worst_double = fmax(worst_double, fabs(got[at] - double_dot(&file, r, xq + (size_t)k * xq_bytes)));
                }
            CHECK(t, worst_rows < 1e-4 && worst_double < 1e-4, "%s rows %d..%d, %d tokens: interleaved vs rows "
                  "%.3g, vs double sums %.3g", tensor_type_name(type), lo, hi - 1, tokens, worst_rows, worst_double);
        }
    free(copy), free(w), free(xq), free(wf);
}

/* Q4_0 and Q8_0 rows 16 at a time against qgemm's own rows (its products are llama.cpp's
 * exact block integers scaled by d_w d_x: the same here, summed in another order) and double
 * sums over the dequantised rows and Q8_0 activations, 1-9 tokens, written and added into y;
 * a group's block is the file's bytes moved: 16 x 18 = 288 (Q4_0), 16 x 34 = 544 (Q8_0). */
static void legacy_matches_rows(TestContext *t, TensorType type, size_t group_bytes) {
    float *wf = malloc(sizeof(float) * ROWS * COLS), *x = malloc(sizeof(float) * TOKENS * COLS);
    float got[TOKENS * ROWS], want[TOKENS * ROWS], row[COLS];
    size_t row_bytes = tensor_bytes(type, 1, COLS);
    unsigned char *w = malloc(row_bytes * ROWS), *act = malloc(qgemm_activation_bytes(TOKENS, COLS));
    REQUIRE(t, wf && x && w && act, "out of memory");
    srand(23);
    for (int i = 0; i < ROWS * COLS; i++) wf[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < TOKENS * COLS; i++) x[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
    for (int r = 0; r < ROWS; r++) encode_row(type, wf + (size_t)r * COLS, COLS, w + (size_t)r * row_bytes);
    Matrix file = {w, type, ROWS, COLS, NULL}, packed = file;
    QuantizedActivations qa;
    qgemm_activations_init(&qa, act, TOKENS, COLS);
    qa.cols = COLS, qa.weights = type;
    size_t bytes = legacy_interleaved_bytes(&file);
    void *copy = bytes ? malloc(bytes) : NULL;
    CHECK(t, bytes == 0 || bytes == (size_t)ROWS / 16 * (COLS / 32) * group_bytes, "%s: %zu bytes repacked",
          tensor_type_name(type), bytes);
    if (copy) legacy_interleave(&file, copy);
    packed.interleaved = copy; /* without a kernel the group function is qgemm's rows */
    for (int tokens = 1; tokens <= TOKENS; tokens++)
        for (int add = 0; add < 2; add++) {
            qa.n_tokens = tokens;
            qgemm_quantize(&qa, x, 0, tokens);
            for (int i = 0; i < tokens * ROWS; i++) got[i] = want[i] = add ? 1.0f : 0.0f;
            qgemm_rows(&file, &qa, 0, ROWS, want, ROWS, add);
            legacy_interleaved_rows(&packed, &qa, 0, ROWS / 16, got, ROWS, add);
            double worst_rows = 0, worst_double = 0;
            for (int r = 0; r < ROWS; r++) {
                dequantize_row(&file, r, row);
                for (int k = 0; k < tokens; k++) {
                    Matrix xm = {qa.blocks + (size_t)k * (COLS / 32) * 34, TENSOR_Q8_0, 1, COLS, NULL};
                    float xr[COLS];
                    dequantize_row(&xm, 0, xr);
                    double ref = add;
                    for (int i = 0; i < COLS; i++) ref += (double)row[i] * xr[i];
                    size_t at = (size_t)k * ROWS + r;
                    worst_rows = fmax(worst_rows, fabs(got[at] - want[at]));
                    worst_double = fmax(worst_double, fabs(got[at] - ref));
                }
            }
            CHECK(t, worst_rows < 1e-4 && worst_double < 1e-4, "%s, %d tokens%s: interleaved vs qgemm rows %.3g, "
                  "vs double sums %.3g", tensor_type_name(type), tokens, add ? " added" : "", worst_rows, worst_double);
        }
    free(copy), free(wf), free(x), free(w), free(act);
}

/* Group sizes: Q4_K 16 x 148 bytes (codes 128, unpacked scales and mins 16, d and dmin 4),
 * Q6_K 16 x 210 (the file's own size: its codes and int8 scales are only moved). */
static void q4_0_matches_rows(TestContext *t) { legacy_matches_rows(t, TENSOR_Q4_0, 288); }
static void q8_0_matches_rows(TestContext *t) { legacy_matches_rows(t, TENSOR_Q8_0, 544); }
static void q4_k_matches_rows(TestContext *t) { interleaved_matches_rows(t, TENSOR_Q4_K, 2368); }
static void q6_k_matches_rows(TestContext *t) { interleaved_matches_rows(t, TENSOR_Q6_K, 3360); }

static const TestCase repack_tests[] = {
    {"q4_k_interleaved_matches_rows", q4_k_matches_rows},
    {"q6_k_interleaved_matches_rows", q6_k_matches_rows},
    {"q4_0_interleaved_matches_rows", q4_0_matches_rows},
    {"q8_0_interleaved_matches_rows", q8_0_matches_rows},
    {NULL, NULL},
};
TEST_SUITE(repack, repack_tests)
