/* test_dequant.c — one block of every GGML block type the engine reads, built byte by byte
 * here, decoded by dequantize_row and dotted by matrix_row_dot. Each block's bytes are chosen
 * so that every value follows from the layout of ggml-common.h's block struct in one line
 * (the `expected` functions below, written from that layout and not from engine/), and four
 * values of each are worked out by hand in the comments. A row of two blocks, the second
 * with its f16 factors doubled, checks the stride from block to block. The K-quants' dot
 * kernels (AVX2 and portable) are then checked on random rows against the layout's values. */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <string.h>

#include "../engine/bf16_gemm.h"
#include "../engine/ops.h"
#include "../engine/quant.h"
#include "../util/half.h"
#include "../engine/weight_rows.h"
#include "harness.h"

enum { MAX_VALUES = 256, MAX_BLOCK_BYTES = 210 };

typedef struct {
    TensorType type;
    int values, bytes;
    unsigned char block[MAX_BLOCK_BYTES];
    float (*expected)(const unsigned char *block, int e);
    int hand_index[4];
    float hand_value[4];
    int factor_offsets[2]; /* where the f16 factors sit (-1: none), doubled in block 2 */
} BlockCase;

static void put_half(unsigned char *p, uint16_t h) { p[0] = h & 0xff, p[1] = h >> 8; }

/* f16 1.0 = 0x3C00, 0.5 = 0x3800, 0.25 = 0x3400, 0.125 = 0x3000, -1.0 = 0xBC00, 2.0 = 0x4000;
 * adding 0x0400 to a normal f16 doubles it. */
static float f16_at(const unsigned char *p) {
    uint16_t h = (uint16_t)(p[0] | p[1] << 8);
    return ldexpf((float)(1024 + (h & 0x3ff)), ((h >> 10) & 31) - 25) * (h & 0x8000 ? -1 : 1);
}

/* ---- the 32-value types: value j < 16 in the low nibble of byte j, j + 16 in its high ---- */

static int nibble_code(const unsigned char *qs, int e) {
    return e < 16 ? qs[e] & 15 : qs[e - 16] >> 4;
}
static int fifth_bit(const unsigned char *qh, int e) { return (qh[e / 8] >> (e % 8)) & 1; }

static float q4_1_expected(const unsigned char *b, int e) { /* d, m, qs[16] */
    return f16_at(b) * (float)nibble_code(b + 4, e) + f16_at(b + 2);
}
static float q5_0_expected(const unsigned char *b, int e) { /* d, qh[4], qs[16] */
    return f16_at(b) * (float)((nibble_code(b + 6, e) | fifth_bit(b + 2, e) << 4) - 16);
}
static float q5_1_expected(const unsigned char *b, int e) { /* d, m, qh[4], qs[16] */
    return f16_at(b) * (float)(nibble_code(b + 8, e) | fifth_bit(b + 4, e) << 4) + f16_at(b + 2);
}
static float bf16_expected(const unsigned char *b, int e) {
    uint32_t bits = (uint32_t)(b[2 * e] | b[2 * e + 1] << 8) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* ---- K-quants ---- */

/* Q4_K / Q5_K scale and min of sub-block j (6 bits each, packed in 12 bytes). */
static void k4_pair(const unsigned char *s, int j, int *sc, int *m) {
    *sc = j < 4 ? s[j] & 63 : (s[j + 4] & 15) | (s[j - 4] >> 6) << 4;
    *m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | (s[j] >> 6) << 4;
}
/* Sub-block j = e / 32 of Q4_K / Q5_K: its codes are the low (j even) or high (j odd)
 * nibbles of bytes 32 (j / 2) .. + 31. */
static int k4_low_code(const unsigned char *qs, int e) {
    int j = e / 32, l = e % 32, byte = qs[32 * (j / 2) + l];
    return j % 2 ? byte >> 4 : byte & 15;
}
static float q4_k_expected(const unsigned char *b, int e) { /* d, dmin, scales[12], qs[128] */
    int sc, m;
    k4_pair(b + 4, e / 32, &sc, &m);
    return f16_at(b) * (float)sc * (float)k4_low_code(b + 16, e) - f16_at(b + 2) * (float)m;
}
static float q5_k_expected(const unsigned char *b, int e) { /* d, dmin, scales, qh[32], qs */
    int sc, m, j = e / 32, code = k4_low_code(b + 48, e) | ((b[16 + e % 32] >> j) & 1) << 4;
    k4_pair(b + 4, j, &sc, &m);
    return f16_at(b) * (float)sc * (float)code - f16_at(b + 2) * (float)m;
}
/* Q6_K: ql[128], qh[64], scales[16] (int8), d. Value e: half h = e / 128, r = e % 128,
 * k = r / 32, l = r % 32. */
static float q6_k_expected(const unsigned char *b, int e) {
    int h = e / 128, k = e % 128 / 32, l = e % 32;
    int low = b[64 * h + l + 32 * (k % 2)], nibble = k < 2 ? low & 15 : low >> 4;
    int code = nibble | ((b[128 + 32 * h + l] >> (2 * k)) & 3) << 4;
    int scale = (int8_t)b[192 + 8 * h + 2 * k + l / 16];
    return f16_at(b + 208) * (float)scale * (float)(code - 32);
}
/* Q2_K / Q3_K: value e: half h = e / 128, pass p = r / 32 (r = e % 128), the sub-block of 16
 * is 8 h + 2 p + (r % 32) / 16, the code byte k = r % 32 (of the half's 32 bytes), bits 2p. */
static int k2_code(const unsigned char *qs, int e, int *sub, int *k, int *pass) {
    int h = e / 128, r = e % 128;
    *pass = r / 32, *k = r % 32, *sub = 8 * h + 2 * *pass + *k / 16;
    return (qs[32 * h + *k] >> (2 * *pass)) & 3;
}
static float q2_k_expected(const unsigned char *b, int e) { /* scales[16], qs[64], d, dmin */
    int sub, k, pass, code = k2_code(b + 16, e, &sub, &k, &pass);
    return f16_at(b + 80) * (float)(b[sub] & 15) * (float)code - f16_at(b + 82) * (float)(b[sub] >> 4);
}
/* Q3_K's 6-bit scale i (stored + 32): low 4 bits in nibble i / 8 of byte i % 8, top 2 bits
 * at bits 2 (i / 4) of byte 8 + i % 4. */
static int q3_scale(const unsigned char *s, int i) {
    int low = i < 8 ? s[i] & 15 : s[i - 8] >> 4;
    return (low | ((s[8 + i % 4] >> (2 * (i / 4))) & 3) << 4) - 32;
}
static float q3_k_expected(const unsigned char *b, int e) { /* hmask[32], qs[64], scales, d */
    int sub, k, pass, code = k2_code(b + 32, e, &sub, &k, &pass);
    int high = (b[k] >> (4 * (e / 128) + pass)) & 1;
    return f16_at(b + 108) * (float)q3_scale(b + 96, sub) * (float)(code - (high ? 0 : 4));
}

/* Q3_K scales v_i = i + 24 (scale i - 8), packed as q3_scale reads them. */
static void pack_q3_scales(unsigned char *s) {
    memset(s, 0, 12);
    for (int i = 0; i < 16; i++) {
        int v = i + 24;
        s[i % 8] |= (unsigned char)((v & 15) << (i < 8 ? 0 : 4));
        s[8 + i % 4] |= (unsigned char)((v >> 4) << (2 * (i / 4)));
    }
}

/* Q4_K / Q5_K scales: (sc, m) = (1, 10), (2, 11), (3, 12), (4, 13) for sub-blocks 0-3 (low
 * 6 bits of bytes 0-3 and 4-7); sub-blocks 4-7 take sc = 16 + j from bits 6-7 of bytes 0-3
 * (= 1) and the low nibble j of bytes 8-11, m = 33 from bits 6-7 of bytes 4-7 (= 2) and the
 * high nibble 1 of bytes 8-11. */
static const unsigned char k4_scales[12] = {0x41, 0x42, 0x43, 0x44, 0x8A, 0x8B, 0x8C, 0x8D,
                                            0x14, 0x15, 0x16, 0x17};

static void build_cases(BlockCase *c) {
    memset(c, 0, 9 * sizeof *c);
    /* Q4_1: d 0.5, m -1, byte j = j | (15 - j) << 4. e 3: 0.5*3 - 1 = 0.5; e 16: 0.5*15 - 1
     * = 6.5; e 31: 0.5*0 - 1 = -1; e 10: 0.5*10 - 1 = 4. */
    c[0] = (BlockCase){TENSOR_Q4_1, 32, 20, {0}, q4_1_expected, {3, 16, 31, 10},
                       {0.5f, 6.5f, -1.0f, 4.0f}, {0, 2}};
    put_half(c[0].block, 0x3800), put_half(c[0].block + 2, 0xBC00);
    for (int j = 0; j < 16; j++) c[0].block[4 + j] = (unsigned char)(j | (15 - j) << 4);
    /* Q5_0: d 0.25, qh = 0xAAAA5555 (bits 0-15: even j; 16-31: odd j), nibbles as Q4_1.
     * e 0: 0 | 16 -> 0.25*(16-16) = 0; e 1: 1 -> 0.25*(1-16) = -3.75; e 16: 15 (bit 16 clear)
     * -> -0.25; e 17: 14 | 16 = 30 -> 3.5. */
    c[1] = (BlockCase){TENSOR_Q5_0, 32, 22, {0}, q5_0_expected, {0, 1, 16, 17},
                       {0.0f, -3.75f, -0.25f, 3.5f}, {0, -1}};
    put_half(c[1].block, 0x3400);
    memcpy(c[1].block + 2, "\x55\x55\xAA\xAA", 4);
    for (int j = 0; j < 16; j++) c[1].block[6 + j] = (unsigned char)(j | (15 - j) << 4);
    /* Q5_1: d 0.125, m 2, the same bits: e 0: 16*0.125 + 2 = 4; e 1: 2.125; e 16: 3.875;
     * e 17: 30*0.125 + 2 = 5.75. */
    c[2] = (BlockCase){TENSOR_Q5_1, 32, 24, {0}, q5_1_expected, {0, 1, 16, 17},
                       {4.0f, 2.125f, 3.875f, 5.75f}, {0, 2}};
    put_half(c[2].block, 0x3000), put_half(c[2].block + 2, 0x4000);
    memcpy(c[2].block + 4, "\x55\x55\xAA\xAA", 4);
    for (int j = 0; j < 16; j++) c[2].block[8 + j] = (unsigned char)(j | (15 - j) << 4);
    /* BF16 (a block of one value; 32 of them here): 0x3F80 = 1.0, 0xC049 = -(1 + 73/128) * 2
     * = -3.140625, 0x0001 = 2^-133 (a subnormal), 0x7F80 = +inf. */
    c[3] = (BlockCase){TENSOR_BF16, 32, 64, {0}, bf16_expected, {0, 1, 2, 3},
                       {1.0f, -3.140625f, 0x1p-133f, INFINITY}, {-1, -1}};
    const uint16_t bf[4] = {0x3F80, 0xC049, 0x0001, 0x7F80};
    for (int i = 0; i < 32; i++) put_half(c[3].block + 2 * i, i < 4 ? bf[i] : (uint16_t)(0x3C00 + 97 * i));
    /* Q4_K: d 1, dmin 0.25, scales k4_scales, code byte 32 g + l = (l & 15) | (15 - (l & 15))
     * << 4. e 0: sub 0 (sc 1, m 10), code 0: -2.5; e 33: sub 1 (2, 11), l 1, high nibble 14:
     * 28 - 2.75 = 25.25; e 200: sub 6 (22, 33), l 8, low nibble 8: 176 - 8.25 = 167.75;
     * e 255: sub 7 (23, 33), l 31, high nibble 0: -8.25. */
    c[4] = (BlockCase){TENSOR_Q4_K, 256, 144, {0}, q4_k_expected, {0, 33, 200, 255},
                       {-2.5f, 25.25f, 167.75f, -8.25f}, {0, 2}};
    put_half(c[4].block, 0x3C00), put_half(c[4].block + 2, 0x3400);
    memcpy(c[4].block + 4, k4_scales, 12);
    for (int i = 0; i < 128; i++) c[4].block[16 + i] = (unsigned char)((i & 15) | (15 - (i & 15)) << 4);
    /* Q5_K: d 0.5, dmin 1, the same scales and nibbles, fifth bits qh[l] = 0x55 (l even: subs
     * 0, 2, 4, 6) or 0xF0 (l odd: subs 4-7). e 0: 16 -> 0.5*1*16 - 10 = -2; e 33: 14 ->
     * 0.5*2*14 - 11 = 3; e 200: 8 | 16 -> 0.5*22*24 - 33 = 231; e 255: 0 | 16 -> 0.5*23*16 -
     * 33 = 151. */
    c[5] = (BlockCase){TENSOR_Q5_K, 256, 176, {0}, q5_k_expected, {0, 33, 200, 255},
                       {-2.0f, 3.0f, 231.0f, 151.0f}, {0, 2}};
    put_half(c[5].block, 0x3800), put_half(c[5].block + 2, 0x3C00);
    memcpy(c[5].block + 4, k4_scales, 12);
    for (int l = 0; l < 32; l++) c[5].block[16 + l] = l % 2 ? 0xF0 : 0x55;
    for (int i = 0; i < 128; i++) c[5].block[48 + i] = (unsigned char)((i & 15) | (15 - (i & 15)) << 4);
    /* Q6_K: ql[i] = i, qh[i] = i, scales[i] = i - 8, d 0.5. e 0: code 0 -> -32, scale -8:
     * 128; e 37: ql[37] low 5, qh[5] bits 2-3 = 1: 21 - 32 = -11, scale 2 -> -6: 33; e 200:
     * ql[72] high 4, qh[40] bits 4-5 = 2: 36 - 32 = 4, scale 12 -> 4: 8; e 255: ql[127] high 7,
     * qh[63] bits 6-7 = 0: -25, scale 15 -> 7: -87.5. */
    c[6] = (BlockCase){TENSOR_Q6_K, 256, 210, {0}, q6_k_expected, {0, 37, 200, 255},
                       {128.0f, 33.0f, 8.0f, -87.5f}, {208, -1}};
    for (int i = 0; i < 192; i++) c[6].block[i] = (unsigned char)(i < 128 ? i : i - 128);
    for (int i = 0; i < 16; i++) c[6].block[192 + i] = (unsigned char)(int8_t)(i - 8);
    put_half(c[6].block + 208, 0x3800);
    /* Q2_K: scales[i] = ((i + 1) & 15) | (15 - i) << 4, qs[i] = i, d 0.5, dmin 0.25. e 0: sub 0
     * (1, min 15), code 0: -3.75; e 53: sub 3 (4, 12), qs[21] bits 2-3 = 1: 2 - 3 = -1;
     * e 200: sub 12 (13, 3), qs[40] bits 4-5 = 2: 13 - 0.75 = 12.25; e 255: sub 15 (0, 0): 0. */
    c[7] = (BlockCase){TENSOR_Q2_K, 256, 84, {0}, q2_k_expected, {0, 53, 200, 255},
                       {-3.75f, -1.0f, 12.25f, 0.0f}, {80, 82}};
    for (int i = 0; i < 16; i++) c[7].block[i] = (unsigned char)(((i + 1) & 15) | (15 - i) << 4);
    for (int i = 0; i < 64; i++) c[7].block[16 + i] = (unsigned char)i;
    put_half(c[7].block + 80, 0x3800), put_half(c[7].block + 82, 0x3400);
    /* Q3_K: hmask[k] = k, qs[i] = i, scales i - 8, d 0.5. e 0: code 0, mask bit 0 of 0 clear:
     * -4, scale -8: 16; e 53: k 21, qs[21] bits 2-3 = 1, bit 1 of 21 clear: -3, scale -5: 7.5;
     * e 200: k 8, qs[40] bits 4-5 = 2, bit 6 of 8 clear: -2, scale 4: -4; e 255: k 31, qs[63]
     * bits 6-7 = 0, bit 7 of 31 clear: -4, scale 7: -14. */
    c[8] = (BlockCase){TENSOR_Q3_K, 256, 110, {0}, q3_k_expected, {0, 53, 200, 255},
                       {16.0f, 7.5f, -4.0f, -14.0f}, {108, -1}};
    for (int k = 0; k < 32; k++) c[8].block[k] = (unsigned char)k;
    for (int i = 0; i < 64; i++) c[8].block[32 + i] = (unsigned char)i;
    pack_q3_scales(c[8].block + 96);
    put_half(c[8].block + 108, 0x3800);
}

static void check_case(TestContext *t, const BlockCase *c) {
    const char *name = tensor_type_name(c->type);
    unsigned char row[2 * 64 * 2 + 2 * MAX_BLOCK_BYTES];
    memcpy(row, c->block, (size_t)c->bytes);
    memcpy(row + c->bytes, c->block, (size_t)c->bytes);
    for (int f = 0; f < 2; f++) /* block 2: each f16 factor doubled (exponent + 1) */
        if (c->factor_offsets[f] >= 0) {
            unsigned char *p = row + c->bytes + c->factor_offsets[f];
            put_half(p, (uint16_t)((p[0] | p[1] << 8) + 0x0400));
        }
    int n = 2 * c->values;
    Matrix m = {row, c->type, 1, n, NULL};
    float got[2 * MAX_VALUES], ones[2 * MAX_VALUES];
    dequantize_row(&m, 0, got);
    for (int i = 0; i < 4; i++)
        CHECK(t, got[c->hand_index[i]] == c->hand_value[i], "%s value %d: %g, by hand %g", name,
              c->hand_index[i], got[c->hand_index[i]], c->hand_value[i]);
    double sum = 0.0;
    int wrong = 0;
    for (int e = 0; e < n; e++) {
        float want = c->expected(row + (e / c->values) * c->bytes, e % c->values);
        if (got[e] != want && wrong++ < 3)
            test_fail_at(t, __FILE__, __LINE__, "%s value %d: %g, layout says %g", name, e,
                         got[e], want);
        ones[e] = 1.0f;
        if (isfinite(want)) sum += want;
    }
    if (c->type == TENSOR_BF16) return; /* its row holds an infinity: no finite dot */
    float dot = matrix_row_dot(&m, 0, ones);
    CHECK(t, fabs(dot - sum) <= 1e-6 * fabs(sum) + 1e-6, "%s dot with ones %g, sum %g", name,
          dot, sum);
}

static void blocks_by_hand(TestContext *t) {
    BlockCase cases[9];
    build_cases(cases);
    for (int i = 0; i < 9; i++) check_case(t, &cases[i]);
}

/* Every doubled factor really doubles: block 2 of Q4_K is block 1 times 2 throughout. */
static void second_block_doubles(TestContext *t) {
    BlockCase cases[9];
    build_cases(cases);
    for (int i = 0; i < 9; i++) {
        const BlockCase *c = &cases[i];
        if (c->factor_offsets[0] < 0) continue;
        unsigned char row[2 * MAX_BLOCK_BYTES];
        memcpy(row, c->block, (size_t)c->bytes);
        memcpy(row + c->bytes, c->block, (size_t)c->bytes);
        for (int f = 0; f < 2; f++)
            if (c->factor_offsets[f] >= 0) {
                unsigned char *p = row + c->bytes + c->factor_offsets[f];
                put_half(p, (uint16_t)((p[0] | p[1] << 8) + 0x0400));
            }
        Matrix m = {row, c->type, 1, 2 * c->values, NULL};
        float got[2 * MAX_VALUES];
        dequantize_row(&m, 0, got);
        int wrong = 0;
        for (int e = 0; e < c->values; e++) wrong += got[c->values + e] != 2.0f * got[e];
        CHECK(t, wrong == 0, "%s: %d values of block 2 are not twice block 1's", 
              tensor_type_name(c->type), wrong);
    }
}

enum { ROW_BLOCKS = 4, ROW_VALUES = ROW_BLOCKS * 256, MAX_TOKENS = 65 };

static uint32_t next_random(uint32_t *state) { return *state = *state * 1664525u + 1013904223u; }

/* Random bytes, then the f16 factors set to 2^-4 and 2^-5 (finite, one block scale each). */
static void random_k_row(const BlockCase *c, unsigned char *row, uint32_t *state) {
    for (int b = 0; b < ROW_BLOCKS; b++) {
        unsigned char *block = row + b * c->bytes;
        for (int i = 0; i < c->bytes; i++) block[i] = (unsigned char)(next_random(state) >> 24);
        for (int f = 0; f < 2; f++)
            if (c->factor_offsets[f] >= 0) put_half(block + c->factor_offsets[f], f ? 0x2800 : 0x2C00);
    }
}

/* w . x in double from the layout (c->expected) and Q8_K's own layout: float d at byte 0,
 * 256 int8 codes from byte 4, value = d * code. bound gets sum |w_i x_i|. */
static double reference_dot(const BlockCase *c, const unsigned char *row,
                            const unsigned char *xq, double *bound) {
    double dot = 0.0;
    *bound = 0.0;
    for (int b = 0; b < ROW_BLOCKS; b++) {
        const unsigned char *x = xq + b * Q8_K_BYTES;
        float d;
        memcpy(&d, x, sizeof d);
        for (int e = 0; e < 256; e++) {
            double term = (double)c->expected(row + b * c->bytes, e) * d * (signed char)x[4 + e];
            dot += term;
            *bound += fabs(term);
        }
    }
    return dot;
}

/* dots_k_q8_k over random rows and 1, 3, 64 and 65 tokens (the AVX2 kernels take up to 64,
 * the portable path the rest): each out[t] is the exact dot of the decoded values, up to
 * float rounding of the per-block terms: the integer sums are exact, and adding up the 32
 * sub-block terms of a row in float costs at most 32 * 2^-24 (1.9e-6) of sum |w_i x_i|
 * (seen: 1.8e-8). */
static void k_dots_many_tokens(TestContext *t) {
    BlockCase cases[9];
    build_cases(cases);
    static unsigned char xq[MAX_TOKENS * ROW_BLOCKS * Q8_K_BYTES];
    unsigned char row[ROW_BLOCKS * MAX_BLOCK_BYTES];
    float x[ROW_VALUES], out[MAX_TOKENS];
    uint32_t state = 12345;
    const int token_counts[] = {1, 3, 64, 65};
    size_t stride = ROW_BLOCKS * Q8_K_BYTES;
    for (int i = 0; i < 9; i++) {
        const BlockCase *c = &cases[i];
        if (c->values != 256 || c->type == TENSOR_BF16) continue;
        random_k_row(c, row, &state);
        for (int k = 0; k < 4; k++) {
            int n_tokens = token_counts[k], wrong = 0;
            for (int tok = 0; tok < n_tokens; tok++) {
                for (int e = 0; e < ROW_VALUES; e++)
                    x[e] = (float)((int)(next_random(&state) >> 16) - 32768) / 32768.0f;
                quantize_row_q8_k(x, ROW_VALUES, xq + tok * stride);
            }
            dots_k_q8_k(c->type, row, xq, stride, n_tokens, ROW_VALUES, out);
            for (int tok = 0; tok < n_tokens; tok++) {
                double bound, want = reference_dot(c, row, xq + tok * stride, &bound);
                if (fabs(out[tok] - want) > 2e-6 * bound && wrong++ < 2)
                    test_fail_at(t, __FILE__, __LINE__, "%s, %d tokens, token %d: %.6g, "
                                 "reference %.6g", tensor_type_name(c->type), n_tokens, tok,
                                 out[tok], want);
            }
        }
    }
}

/* The 32-value types' codes and factors, read from ggml-common.h's layouts: Q4_1 {d, m,
 * qs[16]}, Q5_0 {d, qh[4], qs[16]}, Q5_1 {d, m, qh[4], qs[16]}; value e < 16 in the low
 * nibble of qs[e], e >= 16 in the high nibble of qs[e - 16], bit e of qh its fifth bit. */
static int legacy_code(TensorType type, const unsigned char *b, int e) {
    const unsigned char *qs = b + (type == TENSOR_Q4_1 ? 4 : type == TENSOR_Q5_0 ? 6 : 8);
    int code = e < 16 ? qs[e] & 15 : qs[e - 16] >> 4;
    if (type == TENSOR_Q4_1) return code;
    const unsigned char *qh = b + (type == TENSOR_Q5_0 ? 2 : 4);
    return code | ((qh[e / 8] >> (e % 8)) & 1) << 4;
}

static double half_value(const unsigned char *p) { return half_to_float((uint16_t)(p[0] | p[1] << 8)); }

/* ggml's q5_0_q8_0, q4_1_q8_1 and q5_1_q8_1 in double: per block d_w d_x sum (c - 16) q for
 * Q5_0 (Q8_0 blocks: d, 32 int8), d_w d_x sum c q + m_w s_x for the _1 types (Q8_1 blocks:
 * d, s = d sum q as stored, 32 int8). bound gets the sum of the terms' magnitudes. */
static double legacy_reference(TensorType type, const unsigned char *row, int blocks,
                               int w_bytes, const unsigned char *xq, double *bound) {
    double dot = 0.0;
    *bound = 0.0;
    int x_bytes = type == TENSOR_Q5_0 ? 34 : Q8_1_BYTES, q_at = type == TENSOR_Q5_0 ? 2 : 4;
    for (int b = 0; b < blocks; b++) {
        const unsigned char *w = row + b * w_bytes, *x = xq + b * x_bytes;
        double scale = half_value(w) * half_value(x);
        for (int e = 0; e < QK_BLOCK; e++) {
            int code = legacy_code(type, w, e) - (type == TENSOR_Q5_0 ? 16 : 0);
            double term = scale * code * (signed char)x[q_at + e];
            dot += term, *bound += fabs(term);
        }
        if (type != TENSOR_Q5_0) {
            double term = half_value(w + 2) * half_value(x + 2);
            dot += term, *bound += fabs(term);
        }
    }
    return dot;
}

/* dots_legacy_q8 (AVX2 up to 64 tokens, portable past that) and dot_bf16_f32 over random
 * rows of 32 blocks against the layout's arithmetic in double, to float rounding of the
 * block terms (at most 64 terms: 64 * 2^-24 = 3.8e-6 of their magnitudes). */
static void legacy_dots_many_tokens(TestContext *t) {
    enum { BLOCKS = 32, VALUES = BLOCKS * QK_BLOCK };
    static const struct { TensorType type; int bytes; } types[] = {
        {TENSOR_Q4_1, 20}, {TENSOR_Q5_0, 22}, {TENSOR_Q5_1, 24}};
    static unsigned char xq[MAX_TOKENS * BLOCKS * Q8_1_BYTES];
    unsigned char row[BLOCKS * 24];
    float x[VALUES], out[MAX_TOKENS];
    uint32_t state = 777;
    const int token_counts[] = {1, 3, 64, 65};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        TensorType type = types[i].type;
        size_t stride = type == TENSOR_Q5_0 ? BLOCKS * 34 : BLOCKS * Q8_1_BYTES;
        for (int b = 0; b < BLOCKS; b++) {
            unsigned char *block = row + b * types[i].bytes;
            for (int k = 0; k < types[i].bytes; k++) block[k] = (unsigned char)(next_random(&state) >> 24);
            put_half(block, 0x2C00); /* d = 2^-4; m (the _1 types) = -2^-5 */
            if (type != TENSOR_Q5_0) put_half(block + 2, 0xA800);
        }
        for (int k = 0; k < 4; k++) {
            int n_tokens = token_counts[k], wrong = 0;
            for (int tok = 0; tok < n_tokens; tok++) {
                for (int e = 0; e < VALUES; e++)
                    x[e] = (float)((int)(next_random(&state) >> 16) - 32768) / 32768.0f;
                if (type == TENSOR_Q5_0) quantize_row_q8_0(x, VALUES, xq + tok * stride);
                else quantize_row_q8_1(x, VALUES, xq + tok * stride);
            }
            dots_legacy_q8(type, row, xq, stride, n_tokens, VALUES, out);
            for (int tok = 0; tok < n_tokens; tok++) {
                double bound, want = legacy_reference(type, row, BLOCKS, types[i].bytes,
                                                      xq + tok * stride, &bound);
                if (fabs(out[tok] - want) > 4e-6 * bound && wrong++ < 2)
                    test_fail_at(t, __FILE__, __LINE__, "%s, %d tokens, token %d: %.6g, "
                                 "reference %.6g", tensor_type_name(type), n_tokens, tok,
                                 out[tok], want);
            }
        }
    }
    /* BF16: every product of two bfloat16 is exact in float, so the float sum of 1000 terms
     * is within 1000 * 2^-24 of their magnitudes */
    unsigned char w[2 * 1000];
    double want = 0.0, bound = 0.0;
    for (int e = 0; e < 1000; e++) {
        uint16_t h = (uint16_t)(0x3C00 + (next_random(&state) >> 22)) ^ (e % 3 ? 0 : 0x8000);
        w[2 * e] = (unsigned char)(h & 0xff), w[2 * e + 1] = (unsigned char)(h >> 8);
        x[e] = (float)((int)(next_random(&state) >> 16) - 32768) / 32768.0f;
    }
    round_row_to_bf16_floats(x, 1000, x);
    for (int e = 0; e < 1000; e++) {
        uint32_t bits = (uint32_t)(w[2 * e] | w[2 * e + 1] << 8) << 16;
        float wf;
        memcpy(&wf, &bits, 4);
        want += (double)wf * x[e], bound += fabs((double)wf * x[e]);
    }
    float got = dot_bf16_f32(w, x, 1000);
    CHECK(t, fabs(got - want) <= 1000 * 0x1p-24 * bound, "BF16 dot %.8g, reference %.8g", got,
          want);
}

/* The AVX-512 BF16 tiles (where built) on 6 rows x 7 tokens x 96 values, so that whole tiles,
 * the tail tokens and the tail rows all run: each output within 96 * 2^-24 of the sum of
 * its products' magnitudes of the double dot of the same bfloat16 values; with
 * accumulate set, the outputs add to what y held. */
static void bf16_tiles(TestContext *t) {
    enum { ROWS = 6, TOKENS = 7, COLS = 96 };
    if (!bf16_gemm_available(COLS)) {
        fprintf(stderr, "      (no AVX-512 BF16 in this build: the float kernels serve BF16)\n");
        return;
    }
    unsigned char w[ROWS * COLS * 2];
    float x[TOKENS * COLS], y[TOKENS * ROWS];
    uint32_t state = 99;
    for (int i = 0; i < ROWS * COLS; i++) {
        uint16_t h = (uint16_t)(0x3C00 + (next_random(&state) >> 22)) ^ (i % 5 ? 0 : 0x8000);
        w[2 * i] = (unsigned char)(h & 0xff), w[2 * i + 1] = (unsigned char)(h >> 8);
    }
    for (int i = 0; i < TOKENS * COLS; i++)
        x[i] = (float)((int)(next_random(&state) >> 16) - 32768) / 32768.0f;
    round_row_to_bf16_floats(x, TOKENS * COLS, x);
    Matrix m = {w, TENSOR_BF16, ROWS, COLS, NULL};
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < TOKENS * ROWS; i++) y[i] = pass ? 1.0f : -7.0f;
        Bf16Gemm g = {&m, x, TOKENS, y, ROWS, pass};
        bf16_gemm_rows(&g, 0, ROWS);
        int wrong = 0;
        for (int tok = 0; tok < TOKENS; tok++)
            for (int r = 0; r < ROWS; r++) {
                double want = pass ? 1.0 : 0.0, bound = 1.0;
                for (int c = 0; c < COLS; c++) {
                    int i = r * COLS + c;
                    uint32_t bits = (uint32_t)(w[2 * i] | w[2 * i + 1] << 8) << 16;
                    float wf;
                    memcpy(&wf, &bits, 4);
                    want += (double)wf * x[tok * COLS + c], bound += fabs((double)wf * x[tok * COLS + c]);
                }
                if (fabs(y[tok * ROWS + r] - want) > COLS * 0x1p-24 * bound && wrong++ < 2)
                    test_fail_at(t, __FILE__, __LINE__, "row %d token %d (accumulate %d): %.7g, "
                                 "reference %.7g", r, tok, pass, y[tok * ROWS + r], want);
            }
    }
}

static const TestCase dequant_tests[] = {
    {"blocks_by_hand", blocks_by_hand},
    {"second_block_doubles", second_block_doubles},
    {"k_dots_many_tokens", k_dots_many_tokens},
    {"legacy_dots_many_tokens", legacy_dots_many_tokens},
    {"bf16_tiles", bf16_tiles},
    {NULL, NULL},
};

TEST_SUITE(dequant, dequant_tests)
