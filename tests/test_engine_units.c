/* test_engine_units.c — kernels checked against values derived by hand (each derivation is
 * in the comment beside it): half floats, RMSNorm, softmax, SwiGLU, quantised rows, the
 * sampler's distribution, the KV cache's storage and the thread pool's coverage. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/kvcache.h"
#include "../engine/matmul.h"
#include "../engine/ops.h"
#include "../engine/weight_rows.h"
#include "../engine/qgemm.h"
#include "../engine/sampler.h"
#include "../engine/threads.h"
#include "../models/block_encode.h"
#include "../models/gguf_writer.h"
#include "../util/half.h"
#include "harness.h"

static void test_half_conversion(TestContext *t) {
    /* binary16: sign 1, exponent 5 (bias 15), mantissa 10 bits */
    CHECK(t, float_to_half(1.0f) == 0x3C00, "1.0 -> %04x", float_to_half(1.0f));     /* 15<<10 */
    CHECK(t, float_to_half(-2.0f) == 0xC000, "-2.0 -> %04x", float_to_half(-2.0f));  /* sign|16<<10 */
    CHECK(t, float_to_half(65504.0f) == 0x7BFF, "max -> %04x", float_to_half(65504.0f));
    CHECK(t, float_to_half(65520.0f) == 0x7C00, "65520 rounds to inf");
    CHECK(t, float_to_half(5.9604645e-8f) == 0x0001, "2^-24 is the smallest subnormal");
    /* 0.1 = 1.6 * 2^-4: mantissa 0.6 * 1024 = 614.4 -> 614 = 0x266; exponent 11 -> 0x2E66 */
    CHECK(t, float_to_half(0.1f) == 0x2E66, "0.1 -> %04x", float_to_half(0.1f));
    CHECK(t, half_to_float(0x2E66) == 0.0999755859375f, "0x2E66 = 1638/16384");
    CHECK(t, half_to_float(0x0001) == ldexpf(1.0f, -24), "subnormal decode");
    CHECK(t, isinf(half_to_float(0x7C00)) && isnan(half_to_float(0x7E00)), "inf/nan decode");
}

/* The portable conversions against the hardware's (x86 F16C), for every half and a sweep
 * of floats; on a build without F16C both names are the same code and this is trivial. */
static void test_half_portable_matches_hardware(TestContext *t) {
    for (uint32_t h = 0; h < 65536; h++) {
        float a = half_to_float_portable((uint16_t)h), b = half_to_float((uint16_t)h);
        if (memcmp(&a, &b, sizeof a) != 0 && !(isnan(a) && isnan(b))) {
            CHECK(t, 0, "half %04x: portable %g, hardware %g", h, a, b);
            return;
        }
    }
    for (int i = 0; i < 200000; i++) {
        float f = ldexpf((float)(i % 9973) / 9973.0f + 1.0f, i % 40 - 28) * (i % 2 ? -1.0f : 1.0f);
        if (float_to_half_portable(f) != float_to_half(f)) {
            CHECK(t, 0, "float %.9g: portable %04x, hardware %04x", f, float_to_half_portable(f),
                  float_to_half(f));
            return;
        }
    }
}

static void test_rmsnorm_by_hand(TestContext *t) {
    /* x = (3, 4): mean square 12.5, rms 3.5355339; with weights (1, 2): (0.8485281, 2.2627417) */
    float x[2] = {3, 4}, w[2] = {1, 2}, out[2];
    rmsnorm(out, x, w, 2, 0.0f);
    CHECK(t, fabsf(out[0] - 0.8485281f) < 1e-6f && fabsf(out[1] - 2.2627417f) < 1e-6f,
          "rmsnorm gave (%g, %g)", out[0], out[1]);
}

static void test_softmax_and_swiglu_by_hand(TestContext *t) {
    float x[2] = {0.0f, logf(3.0f)}; /* exp: 1 and 3 -> 1/4 and 3/4 */
    softmax(x, 2);
    CHECK(t, fabsf(x[0] - 0.25f) < 1e-7f && fabsf(x[1] - 0.75f) < 1e-7f, "softmax (%g, %g)", x[0], x[1]);
    float with_nan[3] = {0.0f, NAN, 1.0f}; /* a NaN must come out, not vanish */
    softmax(with_nan, 3);
    CHECK(t, isnan(with_nan[1]), "softmax hid a NaN: %g", with_nan[1]);
    float far[2] = {0.0f, -200.0f}; /* e^-200 underflows to 0: (1, 0) */
    softmax(far, 2);
    CHECK(t, far[0] == 1.0f && far[1] < 1e-37f, "softmax of (0, -200) = (%g, %g)", far[0], far[1]);
    float big[2] = {1000.0f, 1000.0f}; /* must not overflow: 1/2 each */
    softmax(big, 2);
    CHECK(t, big[0] == 0.5f, "softmax of large equal logits %g", big[0]);
    /* silu(1) = 1 / (1 + e^-1) = 0.7310586; times up 2 = 1.4621172; silu(0) = 0 */
    float gate[2] = {1.0f, 0.0f}, up[2] = {2.0f, 5.0f};
    swiglu(gate, up, 2);
    CHECK(t, fabsf(gate[0] - 1.4621172f) < 1e-6f && gate[1] == 0.0f, "swiglu (%g, %g)", gate[0], gate[1]);
    /* -log softmax of 4 equal logits is ln 4 = 1.3862943611 (exp(0) = 1 exactly) */
    float flat[4] = {2, 2, 2, 2};
    double nll = 0;
    CHECK(t, negative_log_softmax(flat, 4, 3, &nll) == 0 && fabs(nll - 1.3862943611) < 1e-9,
          "negative_log_softmax %.10f", nll);
}

/* -log softmax over a vocabulary-sized row against the same in double with libm's exp: 32000
 * logits spread over [-20, 15], target the largest and a small one; within 1e-6 (the bound
 * in ops.h). A NaN or an infinity anywhere is refused. */
static void test_negative_log_softmax(TestContext *t) {
    enum { N = 32000 };
    static float logits[N];
    srand(13);
    for (int i = 0; i < N; i++) logits[i] = (float)rand() / RAND_MAX * 35.0f - 20.0f;
    int big = 0;
    for (int i = 1; i < N; i++) big = logits[i] > logits[big] ? i : big;
    const int targets[2] = {big, big == 7 ? 8 : 7};
    for (int k = 0; k < 2; k++) {
        double max = logits[big], sum = 0.0, nll = 0.0;
        for (int i = 0; i < N; i++) sum += exp((double)logits[i] - max);
        double want = max + log(sum) - logits[targets[k]];
        CHECK(t, negative_log_softmax(logits, N, targets[k], &nll) == 0 && fabs(nll - want) < 1e-6,
              "target %d: %.9f, want %.9f", targets[k], nll, want);
    }
    double nll;
    logits[123] = NAN;
    CHECK(t, negative_log_softmax(logits, N, 0, &nll) == -1, "a NaN logit was accepted");
    logits[123] = -INFINITY;
    CHECK(t, negative_log_softmax(logits, N, 0, &nll) == -1, "a -Inf logit was accepted");
}

static void test_q8_0_row(TestContext *t) {
    /* one block: scale 0.5 (half 0x3800), q[i] = i - 16 -> value 0.5 * (i - 16) */
    unsigned char block[34];
    uint16_t scale = 0x3800;
    memcpy(block, &scale, 2);
    for (int i = 0; i < 32; i++) block[2 + i] = (unsigned char)(int8_t)(i - 16);
    Matrix m = {block, TENSOR_Q8_0, 1, 32, NULL};
    float row[32], ones[32];
    dequantize_row(&m, 0, row);
    for (int i = 0; i < 32; i++) {
        CHECK(t, row[i] == 0.5f * (float)(i - 16), "q8_0 value %d is %g", i, row[i]);
        ones[i] = 1.0f;
    }
    /* sum of 0.5 * (i - 16) for i < 32 = 0.5 * (496 - 512) = -8 */
    CHECK(t, matrix_row_dot(&m, 0, ones) == -8.0f, "q8_0 dot %g", matrix_row_dot(&m, 0, ones));
}

static void test_q4_0_row(TestContext *t) {
    /* scale 2 (0x4000); byte j holds value j in its low nibble and value j+16 in its high
     * nibble, each minus 8: low = j & 15 -> 2*(j-8); high = 15 - j -> 2*(7-j) */
    unsigned char block[18];
    uint16_t scale = 0x4000;
    memcpy(block, &scale, 2);
    for (int j = 0; j < 16; j++) block[2 + j] = (unsigned char)(j | ((15 - j) << 4));
    Matrix m = {block, TENSOR_Q4_0, 1, 32, NULL};
    float row[32];
    dequantize_row(&m, 0, row);
    for (int j = 0; j < 16; j++) {
        CHECK(t, row[j] == 2.0f * (float)(j - 8), "q4_0 low %d: %g", j, row[j]);
        CHECK(t, row[j + 16] == 2.0f * (float)(7 - j), "q4_0 high %d: %g", j, row[j + 16]);
    }
}

static void test_f16_row_dot(TestContext *t) {
    uint16_t h[4] = {0x3C00, 0xC000, 0x3800, 0x0000}; /* 1, -2, 0.5, 0 */
    float x[4] = {4, 1, 2, 9};                         /* 4 - 2 + 1 + 0 = 3 */
    Matrix m = {h, TENSOR_F16, 1, 4, NULL};
    CHECK(t, matrix_row_dot(&m, 0, x) == 3.0f, "f16 dot %g", matrix_row_dot(&m, 0, x));
}

/* Long rows through the (SIMD) dot kernels against a double-precision sum of the
 * dequantised values (dequantisation itself is checked by hand above). */
static void test_long_row_dots(TestContext *t) {
    enum { COLS = 160 }; /* 5 Q8_0 blocks; 10 f16 vectors of 16 */
    uint16_t h[COLS];
    unsigned char q8[5 * 34];
    float x[COLS], w[COLS];
    srand(3);
    for (int i = 0; i < COLS; i++) {
        x[i] = (float)rand() / RAND_MAX - 0.5f;
        h[i] = float_to_half((float)rand() / RAND_MAX - 0.5f);
    }
    for (int b = 0; b < 5; b++) {
        uint16_t d = float_to_half(0.01f * (float)(b + 1));
        memcpy(q8 + b * 34, &d, 2);
        for (int i = 0; i < 32; i++) q8[b * 34 + 2 + i] = (unsigned char)(int8_t)(rand() % 255 - 127);
    }
    Matrix mh = {h, TENSOR_F16, 1, COLS, NULL}, mq = {q8, TENSOR_Q8_0, 1, COLS, NULL};
    const Matrix *ms[2] = {&mh, &mq};
    for (int k = 0; k < 2; k++) {
        dequantize_row(ms[k], 0, w);
        double ref = 0;
        for (int i = 0; i < COLS; i++) ref += (double)w[i] * x[i];
        float got = matrix_row_dot(ms[k], 0, x);
        CHECK(t, fabs(got - ref) < 1e-5, "%s dot %.8g vs %.8g", tensor_type_name(ms[k]->type), got, ref);
    }
}

/* Q8_0 x Q8_0: equal to the double sum over dequantised weights and dequantised quantised
 * activations (the block products are exact integers), and within the activation rounding
 * bound of the float dot: each x_i moves by at most d_x / 2 = max|x| / 254 per block. */
static void test_q8_activation_dot(TestContext *t) {
    enum { COLS = 96 };
    unsigned char w[3 * 34], xq[3 * 34];
    float x[COLS], wf[COLS], xf[COLS];
    srand(5);
    for (int i = 0; i < COLS; i++) wf[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < COLS; i++) x[i] = (float)rand() / RAND_MAX * 4.0f - 2.0f;
    quantize_row_q8_0(wf, COLS, w);
    quantize_row_q8_0(x, COLS, xq);
    Matrix mw = {w, TENSOR_Q8_0, 1, COLS, NULL}, mx = {xq, TENSOR_Q8_0, 1, COLS, NULL};
    dequantize_row(&mw, 0, wf);
    dequantize_row(&mx, 0, xf);
    double exact = 0, with_float_x = 0, bound = 0;
    for (int i = 0; i < COLS; i++) {
        exact += (double)wf[i] * xf[i];
        with_float_x += (double)wf[i] * x[i];
        bound += fabs(wf[i]) * (2.0 / 254.0 + fabs(x[i]) * ldexp(1, -11));
    }
    float got = dot_q8_0_q8_0(w, xq, COLS);
    CHECK(t, fabs(got - exact) < 1e-5, "q8 x q8 dot %.8g vs %.8g", got, exact);
    CHECK(t, fabs(got - with_float_x) <= bound, "q8 x q8 dot %.6g vs float x %.6g (bound %.3g)",
          got, with_float_x, bound);
}

/* quantize_row_q8_0 against GGML's Q8_0 formula: d = max|x| / 127, q = round(x / d) to the
 * nearest, ties to even, as x * (1 / d). Block 0 by hand: max 127 (x_0 = -127) gives d = 1,
 * and 2.5, -3.5, 0.5, 126.5 round to 2, -4, 0, 126. Block 1 is zeros (d = 0, q = 0). Blocks
 * 2-5 random, against the formula evaluated here one value at a time. */
static void test_quantize_row_q8_0(TestContext *t) {
    enum { BLOCKS = 6, N = BLOCKS * 32 };
    float x[N] = {0};
    unsigned char out[BLOCKS * 34];
    x[0] = -127.0f, x[1] = 2.5f, x[2] = -3.5f, x[3] = 0.5f, x[4] = 126.5f, x[31] = 1.0f;
    srand(9);
    for (int i = 64; i < N; i++) x[i] = ((float)rand() / RAND_MAX - 0.5f) * (float)(i % 7 + 1);
    quantize_row_q8_0(x, N, out);
    const signed char by_hand[5] = {-127, 2, -4, 0, 126};
    uint16_t d0;
    memcpy(&d0, out, 2);
    CHECK(t, d0 == 0x3C00, "block 0 scale %#x, want 1.0 (0x3c00)", d0);
    for (int i = 0; i < 5; i++)
        CHECK(t, (signed char)out[2 + i] == by_hand[i], "block 0 value %d: %d, want %d", i,
              (signed char)out[2 + i], by_hand[i]);
    CHECK(t, (signed char)out[2 + 31] == 1, "block 0 value 31: %d", (signed char)out[2 + 31]);
    for (int i = 0; i < 34; i++) CHECK(t, out[34 + i] == 0, "zero block byte %d: %d", i, out[34 + i]);
    int wrong = 0;
    for (int b = 2; b < BLOCKS; b++) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fabsf(x[b * 32 + i]) > amax ? fabsf(x[b * 32 + i]) : amax;
        float d = amax / 127.0f, inv = 1.0f / d;
        uint16_t dh = float_to_half(d), got;
        memcpy(&got, out + b * 34, 2);
        wrong += got != dh;
        for (int i = 0; i < 32; i++)
            wrong += (signed char)out[b * 34 + 2 + i] != (signed char)lrintf(x[b * 32 + i] * inv);
    }
    CHECK(t, wrong == 0, "%d bytes of the random blocks differ from the formula", wrong);
}

/* Q4_0 x Q8_0 by hand. The Q4_0 block of test_q4_0_row (scale 2): w_j = 2 (j - 8) and
 * w_(16+j) = 2 (7 - j) for j < 16. Against x = 1 (Q8_0 scale 1, int8 1): sum of w =
 * 2 ((120 - 128) + (112 - 120)) = -32. Against x_i = (i - 16) / 2 (scale 0.5, int8 i - 16):
 * sum (j - 8)(j - 16) + sum (7 - j) j = 408 - 400 = 8. The block sums of those x: (1, 8 * 32)
 * and (0.5, 8 * 0.5 * -16). Then three random blocks against the double sum over both rows
 * dequantised (the block products are exact integers). */
static void test_q4_0_activation_dot(TestContext *t) {
    unsigned char w[3 * 18], xq[3 * 34];
    uint16_t two = 0x4000, one = 0x3C00, half = 0x3800;
    memcpy(w, &two, 2);
    for (int j = 0; j < 16; j++) w[2 + j] = (unsigned char)(j | ((15 - j) << 4));
    float sums[2 * 3];
    memcpy(xq, &one, 2);
    memset(xq + 2, 1, 32);
    q8_0_block_sums(xq, 32, sums, NULL);
    CHECK(t, sums[0] == 1.0f && sums[1] == 256.0f, "sums of ones %g %g", sums[0], sums[1]);
    CHECK(t, dot_q4_0_q8_0(w, xq, sums, 32) == -32.0f, "q4 x ones %g",
          dot_q4_0_q8_0(w, xq, sums, 32));
    memcpy(xq, &half, 2);
    for (int i = 0; i < 32; i++) xq[2 + i] = (unsigned char)(int8_t)(i - 16);
    q8_0_block_sums(xq, 32, sums, NULL);
    CHECK(t, sums[0] == 0.5f && sums[1] == -64.0f, "sums of the ramp %g %g", sums[0], sums[1]);
    CHECK(t, dot_q4_0_q8_0(w, xq, sums, 32) == 8.0f, "q4 x ramp %g",
          dot_q4_0_q8_0(w, xq, sums, 32));
    enum { COLS = 96 };
    float x[COLS], wf[COLS], xf[COLS];
    srand(7);
    for (int b = 0; b < 3; b++) {
        uint16_t d = float_to_half(0.02f * (float)(b + 1));
        memcpy(w + b * 18, &d, 2);
        for (int j = 0; j < 16; j++) w[b * 18 + 2 + j] = (unsigned char)(rand() & 0xff);
    }
    for (int i = 0; i < COLS; i++) x[i] = (float)rand() / RAND_MAX * 4.0f - 2.0f;
    quantize_row_q8_0(x, COLS, xq);
    Matrix mw = {w, TENSOR_Q4_0, 1, COLS, NULL}, mx = {xq, TENSOR_Q8_0, 1, COLS, NULL};
    dequantize_row(&mw, 0, wf);
    dequantize_row(&mx, 0, xf);
    double exact = 0;
    for (int i = 0; i < COLS; i++) exact += (double)wf[i] * xf[i];
    q8_0_block_sums(xq, COLS, sums, NULL);
    float got = dot_q4_0_q8_0(w, xq, sums, COLS);
    CHECK(t, fabs(got - exact) < 1e-5, "q4 x q8 dot %.8g vs %.8g", got, exact);
}

/* A query head as 16-bit integers: scale max|q| / 32767, values round(q / scale) (ties to
 * even: -0.5 / (1 / 32767) = -16383.5 -> -16384). Then the scores of a q8_0 row: two kv heads
 * of 32, each one block; head 1 holds d = 2^-7 (exact in f16) and int8 1..32, so its key is
 * (1..32) / 128, and q = (1, -0.5, 0.25, 0, ...) over it gives (1 - 1 + 0.75) / 128 = 0.75/128
 * with q's rounding (at most 2^-16 relative) far below 1e-6. */
static void test_q8_0_scores_with_integer_query(TestContext *t) {
    float q[2 * 32] = {0};
    q[32] = 1.0f, q[33] = -0.5f, q[34] = 0.25f;
    q[0] = -2.0f;
    int16_t q16[2 * 32];
    float scales[2];
    scales[0] = quantize_head_i16(q, 32, q16);
    scales[1] = quantize_head_i16(q + 32, 32, q16 + 32);
    CHECK(t, scales[1] == 1.0f / 32767.0f && q16[32] == 32767 && q16[33] == -16384 &&
          q16[34] == 8192 && q16[35] == 0, "q16 %d %d %d %d scale %.9g", q16[32], q16[33],
          q16[34], q16[35], scales[1]);
    unsigned char row[2 * 34] = {0};
    uint16_t d = float_to_half(1.0f / 128.0f);
    memcpy(row + 34, &d, 2);
    for (int i = 0; i < 32; i++) row[34 + 2 + i] = (unsigned char)(int8_t)(i + 1);
    float scores[2] = {-1.0f, -1.0f};
    row_scores_q8_0(q16, scales, row, 2, 1, 32, 1.0f, scores, 1);
    CHECK(t, scores[0] == 0.0f, "head 0 over a zero block: %g", scores[0]);
    CHECK(t, fabs(scores[1] - 0.75 / 128) < 1e-6, "head 1: %.9g, want %.9g", scores[1], 0.75 / 128);
}

/* sgemm and row-dot paths both equal a double-precision triple loop */
static void test_matmul_paths(TestContext *t) {
    enum { ROWS = 9, COLS = 70, TOKENS = 6 };
    float w[ROWS * COLS], x[TOKENS * COLS], y[TOKENS * ROWS];
    srand(7);
    for (int i = 0; i < ROWS * COLS; i++) w[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < TOKENS * COLS; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    char err[256];
    ThreadPool *pool = thread_pool_create(2, err, sizeof err);
    Matmul mm;
    REQUIRE(t, pool && matmul_init(&mm, pool, COLS, TOKENS, err, sizeof err) == 0, "%s", err);
    Matrix m = {w, TENSOR_F32, ROWS, COLS, NULL};
    for (int tokens = 1; tokens <= TOKENS; tokens += TOKENS - 1) {
        matmul(&mm, &m, x, tokens, y);
        for (int tk = 0; tk < tokens; tk++)
            for (int r = 0; r < ROWS; r++) {
                double ref = 0;
                for (int c = 0; c < COLS; c++) ref += (double)w[r * COLS + c] * x[tk * COLS + c];
                CHECK(t, fabs(y[tk * ROWS + r] - ref) < 1e-5, "tokens %d y[%d][%d] %g vs %g",
                      tokens, tk, r, y[tk * ROWS + r], ref);
            }
    }
    matmul_free(&mm);
    thread_pool_free(pool);
}

/* Weights of `type` from the floats wf (ROWS x COLS) into wq. */
static void encode_rows(TensorType type, const float *wf, int rows, int cols, unsigned char *wq) {
    size_t row_bytes = tensor_bytes(type, 1, cols);
    for (int r = 0; r < rows; r++) {
        unsigned char *dst = wq + (size_t)r * row_bytes;
        const float *src = wf + (size_t)r * cols;
        if (type == TENSOR_F16)
            for (int c = 0; c < cols; c++) {
                uint16_t h = float_to_half(src[c]);
                memcpy(dst + 2 * c, &h, 2);
            }
        else if (type == TENSOR_Q8_0) quantize_row_q8_0(src, cols, dst);
        else if (type == TENSOR_Q5_0) encode_row(type, src, cols, dst);
        else
            for (int b = 0; b < cols / 32; b++) gguf_quantize_q4_0_block(src + 32 * b, dst + 18 * b);
    }
}

/* The activations a product of `type` weights sees: F16 weights take them rounded to f16 (as
 * llama.cpp does: its vec_dot_type for F16), Q8_0 and Q4_0 weights quantised to Q8_0 (always
 * in the row kernels, and in blocks too where the tiled integer kernels are built in), Q5_0
 * weights always (row kernels and tiles alike), as dequantised here. */
static void activations_seen(TensorType type, int tokens, const float *x, int cols, float *xr) {
    int quantised = type == TENSOR_Q5_0 || (type != TENSOR_F16 &&
                    (qgemm_has_tiles() || tokens < (type == TENSOR_Q4_0 ? 32 : 16)));
    unsigned char xq[34 * 16];
    for (int tk = 0; tk < tokens; tk++) {
        const float *in = x + (size_t)tk * cols;
        float *out = xr + (size_t)tk * cols;
        if (type == TENSOR_F16) {
            for (int i = 0; i < cols; i++)
                out[i] = half_to_float_portable(float_to_half_portable(in[i]));
            continue;
        }
        if (!quantised) { memcpy(out, in, (size_t)cols * sizeof(float)); continue; }
        quantize_row_q8_0(in, cols, xq);
        Matrix mx = {xq, TENSOR_Q8_0, 1, cols, NULL};
        dequantize_row(&mx, 0, out);
    }
}

/* Blocks of tokens over F16, Q8_0, Q4_0 and Q5_0 weights against a double-precision sum over the
 * dequantised rows (dequantisation is checked by hand above) and the activations each path
 * sees: 2102 rows (chunks longer than a tile, a short last tile, two rows past the last
 * whole tile of 4), 1 to 70 tokens (past the integer kernels' runs of 64 tokens, and every
 * remainder of a group of 4), written and added into y. The block products of Q8_0/Q4_0
 * against Q8_0 activations are exact integers, the float sums of 320 products below 0.25
 * in size differ from the double ones by a few 1e-6. */
static void test_matmul_quantised_blocks(TestContext *t) {
    enum { ROWS = 2102, COLS = 320, TOKENS = 70 };
    float *wf = malloc(sizeof(float) * ROWS * COLS), *x = malloc(sizeof(float) * TOKENS * COLS);
    float *xr = malloc(sizeof(float) * TOKENS * COLS);
    float *y = malloc(sizeof(float) * TOKENS * ROWS), *row = malloc(sizeof(float) * COLS);
    unsigned char *wq = malloc((size_t)ROWS * COLS * 2);
    char err[256];
    ThreadPool *pool = thread_pool_create(2, err, sizeof err);
    Matmul mm;
    REQUIRE(t, wf && x && xr && y && row && wq && pool &&
               matmul_init(&mm, pool, COLS, TOKENS, err, sizeof err) == 0, "%s", err);
    srand(11);
    for (int i = 0; i < ROWS * COLS; i++) wf[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < TOKENS * COLS; i++) x[i] = (float)rand() / RAND_MAX - 0.5f;
    const TensorType types[4] = {TENSOR_F16, TENSOR_Q8_0, TENSOR_Q4_0, TENSOR_Q5_0};
    const int token_counts[] = {1, 3, 5, 17, 40, TOKENS};
    for (int k = 0; k < 4; k++) {
        encode_rows(types[k], wf, ROWS, COLS, wq);
        Matrix m = {wq, types[k], ROWS, COLS, NULL};
        for (size_t c = 0; c < sizeof token_counts / sizeof *token_counts; c++) {
            int tokens = token_counts[c], add = c % 2; /* every other count adds into y = 1 */
            if (add) for (int i = 0; i < tokens * ROWS; i++) y[i] = 1.0f;
            (add ? matmul_add : matmul)(&mm, &m, x, tokens, y);
            activations_seen(types[k], tokens, x, COLS, xr);
            double worst = 0;
            for (int r = 0; r < ROWS; r++) {
                dequantize_row(&m, r, row);
                for (int tk = 0; tk < tokens; tk++) {
                    double ref = add;
                    for (int i = 0; i < COLS; i++) ref += (double)row[i] * xr[tk * COLS + i];
                    worst = fmax(worst, fabs(y[(size_t)tk * ROWS + r] - ref));
                }
            }
            CHECK(t, worst < 1e-5, "%s, %d tokens%s: worst |y - ref| %.3g",
                  tensor_type_name(types[k]), tokens, add ? " added" : "", worst);
        }
    }
    matmul_free(&mm);
    thread_pool_free(pool);
    free(wf), free(x), free(xr), free(y), free(row), free(wq);
}

/* matmul_shared_input: a layer's wq/wk/wv (or w1/w3) over one x. When they are quantised
 * alike, x is quantised once for all; the products are then the ones matmul gives each
 * matrix alone (checked against double sums in matmul_quantised_blocks), bit for bit. A
 * mix of types takes each matrix its own way, with the same result. 1 and 9 tokens. */
static void test_matmul_shared_input(TestContext *t) {
    enum { COLS = 96, TOKENS = 9, MATS = 3 };
    const int rows[MATS] = {40, 17, 8};
    float wf[40 * COLS], x[TOKENS * COLS], alone[TOKENS * 40], shared[MATS][TOKENS * 40];
    unsigned char wq[MATS][40 * COLS * 2];
    srand(13);
    for (int i = 0; i < 40 * COLS; i++) wf[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < TOKENS * COLS; i++) x[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
    char err[256];
    ThreadPool *pool = thread_pool_create(2, err, sizeof err);
    Matmul mm;
    REQUIRE(t, pool && matmul_init(&mm, pool, COLS, TOKENS, err, sizeof err) == 0, "%s", err);
    const TensorType sets[3][MATS] = {{TENSOR_Q8_0, TENSOR_Q8_0, TENSOR_Q8_0},
                                      {TENSOR_Q4_0, TENSOR_Q4_0, TENSOR_Q4_0},
                                      {TENSOR_Q8_0, TENSOR_F16, TENSOR_Q4_0}};
    for (int set = 0; set < 3; set++) {
        Matrix m[MATS];
        const Matrix *ms[MATS];
        float *ys[MATS];
        for (int k = 0; k < MATS; k++) {
            encode_rows(sets[set][k], wf, rows[k], COLS, wq[k]);
            m[k] = (Matrix){wq[k], sets[set][k], rows[k], COLS, NULL};
            ms[k] = &m[k];
            ys[k] = shared[k];
        }
        for (int tokens = 1; tokens <= TOKENS; tokens += TOKENS - 1) {
            matmul_shared_input(&mm, ms, ys, MATS, x, tokens);
            for (int k = 0; k < MATS; k++) {
                matmul(&mm, &m[k], x, tokens, alone);
                CHECK(t, !memcmp(alone, shared[k], sizeof(float) * (size_t)tokens * rows[k]),
                      "set %d, matrix %d (%s), %d tokens: shared input differs from alone",
                      set, k, tensor_type_name(m[k].type), tokens);
            }
        }
    }
    matmul_free(&mm);
    thread_pool_free(pool);
}

/* Q8_0 and Q4_0 weights at the ends of their ranges (int8 -128 and 127, codes 0 and 15)
 * against activations at +-127, every scale 1: the products are integers, exact in float
 * (|y| <= 128 * 127 * 64 < 2^24), so y must equal the integer sum. Row 0 x token 0 by hand:
 * -128 * 127 * 64 = -1040384 (Q8_0) and -8 * 127 * 64 = -65024 (Q4_0). Five rows and five
 * tokens: a whole tile of 4 x 4 and the single rows and tokens past it, each token alone
 * too (a decode step). */
enum { EXT_ROWS = 5, EXT_COLS = 64, EXT_TOKENS = 5 };

static int extreme_weight(int r, int i, int q4) { /* the integer value, -128/127 or -8/7 */
    int low = q4 ? -8 : -128, high = q4 ? 7 : 127;
    switch (r) {
    case 0: return low;
    case 1: return high;
    case 2: return i % 2 ? high : low;
    case 3: return i < 32 ? low : high;
    default: return (i * 7) % 3 == 0 ? low : 0;
    }
}

static float extreme_activation(int t, int i) {
    switch (t) {
    case 0: return 127.0f;
    case 1: return -127.0f;
    case 2: return i % 2 ? -127.0f : 127.0f;
    case 3: return i % 32 == 31 ? 127.0f : (float)(i % 32 - 16);
    default: return i == 0 ? 127.0f : i == 32 ? -127.0f : 0.0f;
    }
}

static void encode_extreme_rows(int q4, unsigned char *w) {
    uint16_t one = 0x3C00;
    int block_bytes = q4 ? 18 : 34;
    for (int r = 0; r < EXT_ROWS; r++)
        for (int b = 0; b < EXT_COLS / 32; b++) {
            unsigned char *block = w + (size_t)(r * (EXT_COLS / 32) + b) * block_bytes;
            memcpy(block, &one, 2);
            for (int j = 0; j < (q4 ? 16 : 32); j++) {
                int v = extreme_weight(r, b * 32 + j, q4);
                if (!q4) { block[2 + j] = (unsigned char)(int8_t)v; continue; }
                int high = extreme_weight(r, b * 32 + j + 16, q4);
                block[2 + j] = (unsigned char)((v + 8) | ((high + 8) << 4));
            }
        }
}

static void test_quantised_extremes(TestContext *t) {
    unsigned char w[EXT_ROWS * (EXT_COLS / 32) * 34];
    float x[EXT_TOKENS * EXT_COLS], y[EXT_TOKENS * EXT_ROWS];
    for (int tk = 0; tk < EXT_TOKENS; tk++)
        for (int i = 0; i < EXT_COLS; i++) x[tk * EXT_COLS + i] = extreme_activation(tk, i);
    char err[256];
    ThreadPool *pool = thread_pool_create(2, err, sizeof err);
    Matmul mm;
    REQUIRE(t, pool && matmul_init(&mm, pool, EXT_COLS, EXT_TOKENS, err, sizeof err) == 0,
            "%s", err);
    for (int q4 = 0; q4 <= 1; q4++) {
        encode_extreme_rows(q4, w);
        Matrix m = {w, q4 ? TENSOR_Q4_0 : TENSOR_Q8_0, EXT_ROWS, EXT_COLS, NULL};
        for (int alone = 0; alone <= 1; alone++) {
            if (alone)
                for (int tk = 0; tk < EXT_TOKENS; tk++)
                    matmul(&mm, &m, x + tk * EXT_COLS, 1, y + tk * EXT_ROWS);
            else matmul(&mm, &m, x, EXT_TOKENS, y);
            int wrong = 0;
            for (int tk = 0; tk < EXT_TOKENS; tk++)
                for (int r = 0; r < EXT_ROWS; r++) {
                    long sum = 0;
                    for (int i = 0; i < EXT_COLS; i++)
                        sum += (long)extreme_weight(r, i, q4) * (long)extreme_activation(tk, i);
                    wrong += y[tk * EXT_ROWS + r] != (float)sum;
                }
            CHECK(t, wrong == 0, "%s%s: %d of %d products differ from the integer sums",
                  q4 ? "Q4_0" : "Q8_0", alone ? ", one token at a time" : "", wrong,
                  EXT_ROWS * EXT_TOKENS);
            float by_hand = q4 ? -65024.0f : -1040384.0f;
            CHECK(t, y[0] == by_hand, "%s row 0 x token 0: %.1f, want %.1f",
                  q4 ? "Q4_0" : "Q8_0", y[0], by_hand);
        }
    }
    matmul_free(&mm);
    thread_pool_free(pool);
}

static void test_sampler_distribution(TestContext *t) {
    char err[256];
    Sampler s;
    REQUIRE(t, sampler_init(&s, 2, 1.0f, 1.0f, 42, err, sizeof err) == 0, "%s", err);
    float logits[2] = {0.0f, logf(3.0f)}; /* p = (1/4, 3/4) */
    int ones = 0, draws = 20000;
    for (int i = 0; i < draws; i++) ones += sampler_next(&s, logits);
    /* binomial sd = sqrt(0.1875 / 20000) = 0.0031: allow 5 sd */
    CHECK(t, fabs(ones / (double)draws - 0.75) < 0.016, "token 1 drawn %.4f of the time", ones / (double)draws);
    sampler_free(&s);
    /* top-p 0.5: the nucleus is {token 1} alone since 0.75 > 0.5 */
    REQUIRE(t, sampler_init(&s, 2, 1.0f, 0.5f, 42, err, sizeof err) == 0, "%s", err);
    int zeros = 0;
    for (int i = 0; i < 1000; i++) zeros += sampler_next(&s, logits) == 0;
    CHECK(t, zeros == 0, "top-p 0.5 drew the excluded token %d times", zeros);
    sampler_free(&s);
    REQUIRE(t, sampler_init(&s, 2, 0.0f, 1.0f, 1, err, sizeof err) == 0, "%s", err);
    CHECK(t, sampler_next(&s, logits) == 1, "greedy must pick the argmax");
    sampler_free(&s);
    CHECK(t, sampler_init(&s, 2, -1.0f, 1.0f, 1, err, sizeof err) != 0 && strstr(err, "temperature"),
          "negative temperature accepted");
}

static void test_kvcache_storage(TestContext *t) {
    /* 2 (K and V) x 5 layers x 512 positions x 32 values x 2 bytes = 327680 */
    CHECK(t, kvcache_bytes(KV_F16, 5, 512, 32) == 327680, "f16 bytes");
    CHECK(t, kvcache_bytes(KV_F32, 5, 512, 32) == 655360, "f32 bytes");
    char err[256];
    KvCache c;
    REQUIRE(t, kvcache_init(&c, KV_F16, 2, 3, 4, err, sizeof err) == 0, "%s", err);
    CHECK(t, c.bytes == kvcache_bytes(KV_F16, 2, 3, 4), "allocated bytes %zu", c.bytes);
    float k[4] = {1.0f, 0.1f, -2.0f, 0.0f}, v[4] = {3, 4, 5, 6}, back[4];
    kvcache_store(&c, 1, 2, k, v);
    kvcache_load_key(&c, 1, 2, back);
    CHECK(t, back[0] == 1.0f && back[1] == 0.0999755859375f && back[2] == -2.0f, "f16 key round trip");
    kvcache_load_value(&c, 1, 2, back);
    CHECK(t, back[3] == 6.0f, "f16 value round trip");
    kvcache_free(&c);
}

typedef struct {
    int *hits;
} CoverJob;

static void mark(void *ctx, int begin, int end, int thread) {
    (void)thread;
    CoverJob *job = ctx;
    for (int i = begin; i < end; i++) __atomic_add_fetch(&job->hits[i], 1, __ATOMIC_RELAXED);
}

static void test_parallel_for_covers_once(TestContext *t) {
    static const int sizes[] = {0, 1, 7, 1000};
    char err[256];
    for (int threads = 1; threads <= 3; threads++) {
        ThreadPool *pool = thread_pool_create(threads, err, sizeof err);
        REQUIRE(t, pool, "%s", err);
        for (int s = 0; s < 4; s++)
            for (int repeat = 0; repeat < 50; repeat++) {
                int hits[1000] = {0};
                CoverJob job = {hits};
                parallel_for(pool, sizes[s], 1, mark, &job);
                for (int i = 0; i < sizes[s]; i++)
                    if (hits[i] != 1) {
                        CHECK(t, 0, "threads %d n %d: item %d run %d times", threads, sizes[s], i, hits[i]);
                        break;
                    }
            }
        thread_pool_free(pool);
    }
    CHECK(t, thread_pool_create(0, err, sizeof err) == NULL && strstr(err, "thread"), "0 threads accepted");
}

static const TestCase engine_unit_tests[] = {
    {"half_conversion", test_half_conversion},
    {"half_portable_matches_hardware", test_half_portable_matches_hardware},
    {"rmsnorm_by_hand", test_rmsnorm_by_hand},
    {"softmax_and_swiglu_by_hand", test_softmax_and_swiglu_by_hand},
    {"q8_0_row", test_q8_0_row},
    {"q4_0_row", test_q4_0_row},
    {"f16_row_dot", test_f16_row_dot},
    {"long_row_dots", test_long_row_dots},
    {"q8_activation_dot", test_q8_activation_dot},
    {"quantize_row_q8_0", test_quantize_row_q8_0},
    {"negative_log_softmax", test_negative_log_softmax},
    {"q4_0_activation_dot", test_q4_0_activation_dot},
    {"matmul_quantised_blocks", test_matmul_quantised_blocks},
    {"quantised_extremes", test_quantised_extremes},
    {"matmul_shared_input", test_matmul_shared_input},
    {"q8_0_scores_with_integer_query", test_q8_0_scores_with_integer_query},
    {"matmul_paths", test_matmul_paths},
    {"sampler_distribution", test_sampler_distribution},
    {"kvcache_storage", test_kvcache_storage},
    {"parallel_for_covers_once", test_parallel_for_covers_once},
    {NULL, NULL},
};

TEST_SUITE(engine_units, engine_unit_tests)
