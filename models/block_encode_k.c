/* block_encode_k.c — floats to GGML's K-quant super-blocks (Q2_K ... Q6_K) as llama-quantize
 * writes them when it has no importance matrix (ggml-quants.c's quantize_row_q*_K_ref):
 *   1. each sub-block gets a scale (and, for Q2_K / Q4_K / Q5_K, a min) from a small search:
 *      a few trial scales, each scored by a weighted least-squares fit of the codes it gives;
 *   2. those per-sub-block scales are themselves quantised (4, 6 or 8 bits) against one f16
 *      factor per super-block;
 *   3. the codes are recomputed from the scales as stored, then packed.
 * The float operations are ggml's, in the same order (the file is compiled, like the rest of
 * the project, as ISO C, so without FMA contraction), and the bytes are llama-quantize's:
 * tests/test_quantize.c compares every block with files llama-quantize wrote. */
#include "block_encode.h"

#include <math.h>
#include <string.h>

#include "../util/half.h"
#include "tensor_types.h"

enum { Q2_K_BYTES = 84, Q3_K_BYTES = 110, Q4_K_BYTES = 144, Q5_K_BYTES = 176, Q6_K_BYTES = 210 };
#define TINY_GROUP 1e-15f /* ggml's GROUP_MAX_EPS: a sub-block this small is all zeros */

/* Round to nearest, ties to even, by the float-addition trick ggml uses (|v| < 2^22). */
static int round_to_int(float v) {
    float biased = v + 12582912.0f; /* 1.5 * 2^23: the integer lands in the low mantissa bits */
    int32_t bits;
    memcpy(&bits, &biased, sizeof bits);
    return (bits & 0x007fffff) - 0x00400000;
}

static int clamp_int(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static void put_half(uint8_t *p, float value) {
    uint16_t h = float_to_half(value);
    memcpy(p, &h, 2);
}

static float get_half(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float(h);
}

/* ------------------------------------------------- step 1: a scale per sub-block */

/* How the asymmetric search tries scales: nmax + rmin + rdelta k for k = 0..steps, errors
 * squared or absolute. */
typedef struct {
    float rmin, rdelta;
    int steps, absolute_error;
} ScaleSearch;

/* The weighted error of x ~ scale code + min over n values. */
static float fit_error(int n, const float *x, const float *w, const uint8_t *codes, float scale,
                       float min, int absolute) {
    float error = 0;
    for (int i = 0; i < n; i++) {
        float diff = scale * codes[i] + min - x[i];
        diff = absolute ? fabsf(diff) : diff * diff;
        error += w[i] * diff;
    }
    return error;
}

/* x ~ scale code + min with codes 0..nmax and min <= 0 (ggml's make_qkx2_quants): starts from
 * the range [min(x, 0), max(x)], then for each trial scale fits scale and min to its codes by
 * weighted least squares and keeps the fit of least error. Returns the scale, -min in *neg_min. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *codes,
                           float *neg_min, ScaleSearch search) {
    float min = x[0], max = x[0], sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(codes, 0, (size_t)n);
        *neg_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale;
    for (int i = 0; i < n; i++)
        codes[i] = (uint8_t)clamp_int(round_to_int(iscale * (x[i] - min)), 0, nmax);
    float best_error = fit_error(n, x, w, codes, scale, min, search.absolute_error);
    uint8_t trial[32];
    for (int k = 0; k <= search.steps; k++) {
        iscale = (search.rmin + search.rdelta * k + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(round_to_int(iscale * (x[i] - min)), 0, nmax);
            trial[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue; /* as ggml's `if (D > 0)`, NaN included */
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float error = fit_error(n, x, w, trial, this_scale, this_min, search.absolute_error);
        if (error < best_error) {
            memcpy(codes, trial, (size_t)n);
            best_error = error;
            scale = this_scale;
            min = this_min;
        }
    }
    *neg_min = -min;
    return scale;
}

/* The signed element of largest magnitude (the first one on ties), and that magnitude. */
static float extreme(int n, const float *x, float *magnitude) {
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]), max = x[i];
    *magnitude = amax;
    return max;
}

/* Sums of x^2-weighted x l and l^2 for the codes of scale 1 / iscale (l in -nmax..nmax-1). */
static void symmetric_sums(int n, int nmax, const float *x, float iscale, int8_t *codes,
                           float *sum_lx, float *sum_l2) {
    float lx = 0, l2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(round_to_int(iscale * x[i]), -nmax, nmax - 1);
        if (codes) codes[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        lx += w * x[i] * l;
        l2 += w * l * l;
    }
    *sum_lx = lx, *sum_l2 = l2;
}

/* x ~ scale (code - nmax), codes 0..2 nmax - 1, weights x^2 (ggml's make_qx_quants with
 * rmse_type 1): 19 trial scales around nmax / max|x|, each with its least-squares scale; the
 * one that explains the most of x wins. */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *codes) {
    float amax, max = extreme(n, x, &amax);
    if (amax < TINY_GROUP) {
        memset(codes, 0, (size_t)n);
        return 0.0f;
    }
    float sum_lx, sum_l2;
    symmetric_sums(n, nmax, x, -nmax / max, codes, &sum_lx, &sum_l2);
    float scale = sum_l2 ? sum_lx / sum_l2 : 0.0f, best = scale * sum_lx;
    for (int k = -9; k <= 9; k++) {
        if (k == 0) continue;
        float iscale = -(nmax + 0.1f * k) / max;
        symmetric_sums(n, nmax, x, iscale, NULL, &sum_lx, &sum_l2);
        if (sum_l2 > 0 && sum_lx * sum_lx > best * sum_l2) {
            symmetric_sums(n, nmax, x, iscale, codes, &sum_lx, &sum_l2);
            scale = sum_lx / sum_l2;
            best = scale * sum_lx;
        }
    }
    return scale;
}

/* Q3_K's search (ggml's make_q3_quants with do_rmse): codes of nmax / max|x|, then up to five
 * passes that move single codes to their best value while the x^2-weighted fit improves. */
static float fit_q3(int n, int nmax, const float *x, int8_t *codes) {
    float amax, max = extreme(n, x, &amax);
    if (amax < TINY_GROUP) {
        memset(codes, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max, sum_lx = 0, sum_l2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(round_to_int(iscale * x[i]), -nmax, nmax - 1);
        codes[i] = (int8_t)l;
        float w = x[i] * x[i];
        sum_lx += w * x[i] * l;
        sum_l2 += w * l * l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sum_lx - w * x[i] * codes[i];
            if (!(slx > 0)) continue;
            float sl2 = sum_l2 - w * codes[i] * codes[i];
            int l = clamp_int(round_to_int(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == codes[i]) continue;
            slx += w * x[i] * l;
            sl2 += w * l * l;
            if (sl2 > 0 && slx * slx * sum_l2 > sum_lx * sum_lx * sl2) {
                codes[i] = (int8_t)l, sum_lx = slx, sum_l2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++) codes[i] = (int8_t)(codes[i] + nmax);
    return sum_l2 > 0.0f ? sum_lx / sum_l2 : 0.0f;
}

/* ------------------------------------------------- the five block types */

/* Q2_K (84 bytes): 16 bytes of (4-bit scale | 4-bit min << 4), 64 bytes of 2-bit codes
 * (value l + 32 k of each half of 128 in bits 2k..2k+1 of byte l), f16 d, f16 dmin. */
static void pack_two_bit_codes(const uint8_t *codes, uint8_t *q) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            q[j / 4 + l] = (uint8_t)(codes[j + l] | codes[j + l + 32] << 2 |
                                     codes[j + l + 64] << 4 | codes[j + l + 96] << 6);
}

static void encode_q2_k(const float *x, uint8_t *out) {
    uint8_t codes[QK_K];
    float weights[16], scales[16], mins[16], max_scale = 0, max_min = 0;
    const ScaleSearch search = {-0.5f, 0.1f, 15, 1};
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++) weights[l] = fabsf(x[16 * j + l]);
        scales[j] = fit_scale_min(16, 3, x + 16 * j, weights, codes + 16 * j, &mins[j], search);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    uint8_t *packed = out;
    for (int j = 0; j < 16; j++) packed[j] = 0;
    if (max_scale > 0)
        for (int j = 0; j < 16; j++) packed[j] = (uint8_t)round_to_int(15.f / max_scale * scales[j]);
    put_half(out + 80, max_scale > 0 ? max_scale / 15.f : 0.f);
    if (max_min > 0)
        for (int j = 0; j < 16; j++) packed[j] |= (uint8_t)(round_to_int(15.f / max_min * mins[j]) << 4);
    put_half(out + 82, max_min > 0 ? max_min / 15.f : 0.f);
    for (int j = 0; j < 16; j++) {
        float d = get_half(out + 80) * (packed[j] & 0xF);
        if (!d) continue;
        float dm = get_half(out + 82) * (packed[j] >> 4);
        for (int l = 0; l < 16; l++)
            codes[16 * j + l] = (uint8_t)clamp_int(round_to_int((x[16 * j + l] + dm) / d), 0, 3);
    }
    pack_two_bit_codes(codes, out + 16);
}

/* Q3_K (110 bytes): 32 bytes of high bits (bit k of byte m: value 32 k + m), 64 bytes of the
 * low 2 bits (as Q2_K), 12 bytes of 16 six-bit scales stored + 32 (low nibbles in bytes 0-7,
 * top 2 bits in bytes 8-11), f16 d. */
static int q3_k_scale(const uint8_t *s, int j) {
    int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    return (low | ((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32;
}

/* The 16 sub-blocks of 16 fitted symmetrically by `fit` (codes 0..2 nmax - 1): their scales,
 * and the one of largest magnitude (the first on ties), with that magnitude in *max_abs. */
static float fit_sixteen(const float *x, int nmax, float (*fit)(int, int, const float *, int8_t *),
                         int8_t codes[QK_K], float scales[16], float *max_abs) {
    float max_scale = 0;
    *max_abs = 0;
    for (int j = 0; j < 16; j++) {
        scales[j] = fit(16, nmax, x + 16 * j, codes + 16 * j);
        if (fabsf(scales[j]) > *max_abs) *max_abs = fabsf(scales[j]), max_scale = scales[j];
    }
    return max_scale;
}

static void encode_q3_k(const float *x, uint8_t *out) {
    int8_t codes[QK_K];
    float scales[16], amax;
    float max_scale = fit_sixteen(x, 4, fit_q3, codes, scales, &amax);
    uint8_t *s = out + 96;
    memset(s, 0, 12);
    float iscale = max_scale ? -32.f / max_scale : 0.f;
    if (max_scale)
        for (int j = 0; j < 16; j++) {
            int l = (int8_t)round_to_int(iscale * scales[j]);
            l = clamp_int(l, -32, 31) + 32;
            if (j < 8) s[j] = (uint8_t)(l & 0xF);
            else s[j - 8] |= (uint8_t)((l & 0xF) << 4);
            s[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
        }
    put_half(out + 108, max_scale ? 1 / iscale : 0.f);
    for (int j = 0; j < 16; j++) {
        float d = get_half(out + 108) * (float)(int8_t)q3_k_scale(s, j);
        if (!d) continue;
        for (int l = 0; l < 16; l++)
            codes[16 * j + l] = (int8_t)(clamp_int(round_to_int(x[16 * j + l] / d), -4, 3) + 4);
    }
    uint8_t low[QK_K];
    memset(out, 0, 32);
    for (int j = 0; j < QK_K; j++) {
        int code = codes[j];
        if (code > 3) out[j % 32] |= (uint8_t)(1 << (j / 32)), code -= 4;
        low[j] = (uint8_t)code;
    }
    pack_two_bit_codes(low, out + 32);
}

/* Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scales and mins (12 bytes: pairs 0-3 in the low
 * 6 bits of bytes 0-3 / 4-7, pairs 4-7 in the nibbles of bytes 8-11 with their top 2 bits in
 * bits 6-7 of bytes 0-7), after f16 d and dmin. Fills those 16 bytes and the codes. */
static void k4_scales_and_codes(const float *x, int nmax, ScaleSearch search, uint8_t *head,
                                uint8_t codes[QK_K]) {
    float weights[32], scales[8], mins[8], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
        float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
        scales[j] = fit_scale_min(32, nmax, x + 32 * j, weights, codes + 32 * j, &mins[j], search);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t *s = head + 4, ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)round_to_int(inv_scale * scales[j]);
        lm[j] = (uint8_t)round_to_int(inv_min * mins[j]);
        if (ls[j] > 63) ls[j] = 63;
        if (lm[j] > 63) lm[j] = 63;
    }
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)(ls[j] | (ls[j + 4] >> 4) << 6);
        s[j + 4] = (uint8_t)(lm[j] | (lm[j + 4] >> 4) << 6);
        s[j + 8] = (uint8_t)((ls[j + 4] & 0xF) | (lm[j + 4] & 0xF) << 4);
    }
    put_half(head, max_scale / 63.f);
    put_half(head + 2, max_min / 63.f);
    for (int j = 0; j < 8; j++) {
        float d = get_half(head) * ls[j];
        if (!d) continue;
        float dm = get_half(head + 2) * lm[j];
        for (int l = 0; l < 32; l++)
            codes[32 * j + l] = (uint8_t)clamp_int(round_to_int((x[32 * j + l] + dm) / d), 0, nmax);
    }
}

/* Q4_K (144 bytes): the 16-byte head, 128 bytes of nibbles (each 32 bytes: sub-block 2i in
 * the low nibbles, 2i + 1 in the high). */
static void encode_q4_k(const float *x, uint8_t *out) {
    uint8_t codes[QK_K];
    k4_scales_and_codes(x, 15, (ScaleSearch){-1.f, 0.1f, 20, 0}, out, codes);
    for (int j = 0; j < QK_K; j += 64)
        for (int l = 0; l < 32; l++)
            out[16 + j / 2 + l] = (uint8_t)(codes[j + l] | codes[j + l + 32] << 4);
}

/* Q5_K (176 bytes): the head, 32 bytes of fifth bits (bit j of byte l: sub-block j's value
 * l), 128 bytes of nibbles as Q4_K. */
static void encode_q5_k(const float *x, uint8_t *out) {
    uint8_t codes[QK_K];
    k4_scales_and_codes(x, 31, (ScaleSearch){-0.5f, 0.1f, 15, 0}, out, codes);
    uint8_t *high = out + 16, *nibbles = out + 48;
    memset(high, 0, 32);
    for (int j = 0; j < QK_K; j += 64)
        for (int l = 0; l < 32; l++) {
            int a = codes[j + l], b = codes[j + l + 32], sub = j / 32;
            if (a > 15) a -= 16, high[l] |= (uint8_t)(1 << sub);
            if (b > 15) b -= 16, high[l] |= (uint8_t)(2 << sub);
            nibbles[j / 2 + l] = (uint8_t)(a | b << 4);
        }
}

/* Q6_K (210 bytes): 128 bytes of low nibbles, 64 of 2-bit high parts (quant_k.c describes the
 * walk), 16 int8 scales, f16 d. */
static void encode_q6_k(const float *x, uint8_t *out) {
    int8_t codes[QK_K];
    float scales[16], max_abs;
    float max_scale = fit_sixteen(x, 32, fit_symmetric, codes, scales, &max_abs);
    memset(out, 0, Q6_K_BYTES);
    if (max_abs < TINY_GROUP) return;
    float iscale = -128.f / max_scale;
    put_half(out + 208, 1 / iscale);
    int8_t *s = (int8_t *)(out + 192);
    for (int j = 0; j < 16; j++) {
        int l = round_to_int(iscale * scales[j]);
        s[j] = (int8_t)(l < 127 ? l : 127);
    }
    for (int j = 0; j < 16; j++) {
        float d = get_half(out + 208) * s[j];
        if (!d) continue;
        for (int l = 0; l < 16; l++)
            codes[16 * j + l] = (int8_t)(clamp_int(round_to_int(x[16 * j + l] / d), -32, 31) + 32);
    }
    for (int h = 0; h < 2; h++) {
        const int8_t *c = codes + 128 * h;
        uint8_t *low = out + 64 * h, *high = out + 128 + 32 * h;
        for (int l = 0; l < 32; l++) {
            low[l] = (uint8_t)((c[l] & 0xF) | (c[l + 64] & 0xF) << 4);
            low[l + 32] = (uint8_t)((c[l + 32] & 0xF) | (c[l + 96] & 0xF) << 4);
            high[l] = (uint8_t)(c[l] >> 4 | (c[l + 32] >> 4) << 2 | (c[l + 64] >> 4) << 4 |
                                (c[l + 96] >> 4) << 6);
        }
    }
}

int encode_row_k(TensorType type, const float *x, int n, uint8_t *out) {
    void (*encode)(const float *, uint8_t *);
    int bytes;
    switch (type) {
    case TENSOR_Q2_K: encode = encode_q2_k, bytes = Q2_K_BYTES; break;
    case TENSOR_Q3_K: encode = encode_q3_k, bytes = Q3_K_BYTES; break;
    case TENSOR_Q4_K: encode = encode_q4_k, bytes = Q4_K_BYTES; break;
    case TENSOR_Q5_K: encode = encode_q5_k, bytes = Q5_K_BYTES; break;
    case TENSOR_Q6_K: encode = encode_q6_k, bytes = Q6_K_BYTES; break;
    default: return 0;
    }
    for (int b = 0; b < n / QK_K; b++) encode(x + (size_t)b * QK_K, out + (size_t)b * bytes);
    return 1;
}
