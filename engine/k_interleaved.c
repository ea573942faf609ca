/* k_interleaved.c — Q4_K and Q6_K rows 16 at a time, laid out for AVX-512 VNNI.
 *
 * Taken row by row (quant_k_avx2.c), a K-quant super-block of 256 values costs 45-60
 * instructions, most of them spent putting each sub-block's scale in front of its codes:
 * decode of the 1B shape then reads its Q4_K weights at about half the machine's bandwidth.
 * Interleaved, one 512-bit register holds 4 consecutive codes of each of 16 rows (one row per
 * 32-bit lane): vpdpbusd multiplies them by 4 activation bytes broadcast from memory and sums
 * them into the row's lane, and one vector of 16 scales weighs a sub-block for all the rows
 * at once. The integers per super-block are quant_k.c's (exact); only the order of the float
 * terms differs.
 *
 * Per group of 16 rows and super-block, "unit k of sub-block j" being the 64 bytes whose
 * byte 4 r + i is row r's code of value V(j, k) + i:
 *   Q4_K (2368 bytes, 148 a row against the file's 144): sub-blocks of 32 (V = 32 j + 4 k);
 *     codes 2048 bytes: for j and c = 0..3, 64 bytes holding unit c in the low nibbles and
 *     unit c + 4 in the high ones; scales, mins: 128 bytes each, [j][r] unpacked to bytes;
 *     d, dmin: 32 bytes each, [r] as f16.
 *   Q6_K (3360 bytes, the file's 210 a row): sub-blocks of 16 (V = 16 j + 4 k), codes 6 bits;
 *     for each j, 192 bytes: units 0 | 1 << 4 (low nibbles), units 2 | 3 << 4, and the top
 *     two bits of units 0..3 in bits 0-1, 2-3, 4-5, 6-7; then scales 256 bytes [j][r] int8,
 *     d 32 bytes [r] f16.
 * The groups follow each other, super-blocks in order inside a group. */
#include "k_interleaved.h"

#include <stdint.h>
#include <string.h>

#include "interleaved_simd.h"
#include "quant.h"

enum {
    Q4_K_BYTES = 144, Q6_K_BYTES = 210,
    K4_SCALES = 2048, K4_MINS = K4_SCALES + 128, K4_DS = K4_MINS + 128, K4_DMINS = K4_DS + 32,
    K4_GROUP_BYTES = K4_DMINS + 32,
    K6_SUB_BYTES = 192, K6_SCALES = 16 * K6_SUB_BYTES, K6_DS = K6_SCALES + 256, K6_GROUP_BYTES = K6_DS + 32,
    Q8_K_QS = 4, Q8_K_BSUMS = 4 + QK_K /* offsets in a Q8_K block: after d; after the codes */
};

static size_t group_bytes(TensorType type) {
    return type == TENSOR_Q4_K ? K4_GROUP_BYTES : type == TENSOR_Q6_K ? K6_GROUP_BYTES : 0;
}

size_t k_interleaved_bytes(const Matrix *m) {
#ifdef INTERLEAVED_KERNELS
    if (group_bytes(m->type) && m->rows % REPACK_GROUP_ROWS == 0 && m->cols % QK_K == 0)
        return (size_t)(m->rows / REPACK_GROUP_ROWS) * (size_t)(m->cols / QK_K) * group_bytes(m->type);
#else
    (void)m;
#endif
    return 0;
}

/* Q4_K's 8 (scale, min) pairs of 6 bits in 12 bytes (quant_k.c's k4_scales_mins). */
static void scales_mins(const unsigned char *s, uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)(j < 4 ? s[j] & 63 : (s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4);
        mn[j] = (uint8_t)(j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
}

/* One row's Q4_K super-block (src, the file's 144 bytes) into slot r of its group's. */
static void put_q4_k_row(const unsigned char *src, int r, unsigned char *group) {
    uint8_t codes[QK_K], sc[8], mn[8];
    const unsigned char *q = src + 16;
    for (int g = 0; g < 4; g++, q += 32)
        for (int l = 0; l < 32; l++) codes[64 * g + l] = q[l] & 0x0f, codes[64 * g + 32 + l] = q[l] >> 4;
    for (int j = 0; j < 8; j++)
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 4; i++)
                group[(4 * j + c) * 64 + 4 * r + i] =
                    (uint8_t)(codes[32 * j + 4 * c + i] | codes[32 * j + 16 + 4 * c + i] << 4);
    scales_mins(src + 4, sc, mn);
    for (int j = 0; j < 8; j++) group[K4_SCALES + 16 * j + r] = sc[j], group[K4_MINS + 16 * j + r] = mn[j];
    memcpy(group + K4_DS + 2 * r, src, 2);
    memcpy(group + K4_DMINS + 2 * r, src + 2, 2);
}

/* One row's Q6_K super-block (ql 128 bytes, qh 64, scales 16, d) into slot r of its group's.
 * Value 128 h + 32 s + l has the nibble of ql[64 h + l + 32 (s % 2)] (low for s < 2) and the
 * two bits 2 s of qh[32 h + l] (quant_k.c's unpack_q6_k). */
static void put_q6_k_row(const unsigned char *src, int r, unsigned char *group) {
    uint8_t codes[QK_K];
    for (int h = 0; h < 2; h++)
        for (int s = 0; s < 4; s++)
            for (int l = 0; l < 32; l++) {
                int byte = src[64 * h + l + 32 * (s % 2)], nibble = s < 2 ? byte & 0x0f : byte >> 4;
                codes[128 * h + 32 * s + l] = (uint8_t)(nibble | ((src[128 + 32 * h + l] >> (2 * s)) & 3) << 4);
            }
    for (int j = 0; j < 16; j++) {
        unsigned char *sub = group + j * K6_SUB_BYTES;
        for (int i = 0; i < 4; i++) {
            const uint8_t *u = codes + 16 * j + i; /* u[4 k]: unit k's code */
            sub[4 * r + i] = (uint8_t)((u[0] & 0x0f) | (u[4] & 0x0f) << 4);
            sub[64 + 4 * r + i] = (uint8_t)((u[8] & 0x0f) | (u[12] & 0x0f) << 4);
            sub[128 + 4 * r + i] = (uint8_t)(u[0] >> 4 | (u[4] >> 4) << 2 | (u[8] >> 4) << 4 | (u[12] >> 4) << 6);
        }
        group[K6_SCALES + 16 * j + r] = src[192 + j];
    }
    memcpy(group + K6_DS + 2 * r, src + 208, 2);
}

void k_interleave(const Matrix *m, void *out) {
    int blocks = m->cols / QK_K, q4 = m->type == TENSOR_Q4_K;
    size_t block_bytes = q4 ? Q4_K_BYTES : Q6_K_BYTES, row_bytes = (size_t)blocks * block_bytes;
    unsigned char *group = out;
    for (int g = 0; g < m->rows / REPACK_GROUP_ROWS; g++)
        for (int b = 0; b < blocks; b++, group += group_bytes(m->type))
            for (int r = 0; r < REPACK_GROUP_ROWS; r++) {
                const unsigned char *src = (const unsigned char *)m->data +
                                           (size_t)(REPACK_GROUP_ROWS * g + r) * row_bytes + (size_t)b * block_bytes;
                (q4 ? put_q4_k_row : put_q6_k_row)(src, r, group);
            }
}

#ifdef INTERLEAVED_KERNELS
SPECIALISED int16_t activation_sum16(const unsigned char *x, int i) { /* Q8_K's bsums[i] */
    int16_t b;
    memcpy(&b, x + Q8_K_BSUMS + 2 * i, 2);
    return b;
}

SPECIALISED __m512i bytes_to_lanes(const unsigned char *p, int is_signed) {
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    return is_signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v);
}

/* Q4_K sub-block j (32 values): per row and token, sum of 32 code x activation products. */
SPECIALISED void q4_k_sums(const unsigned char *w, int j, const unsigned char *const x[], int n, __m512i s[]) {
    const __m512i low = _mm512_set1_epi8(0x0f);
    UNROLLED
    for (int t = 0; t < n; t++) s[t] = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
        __m512i packed = _mm512_loadu_si512((const void *)(w + (4 * j + c) * 64));
        _mm_prefetch((const char *)(w + PREFETCH_AHEAD + (4 * j + c) * 64), _MM_HINT_T0);
        __m512i lo = _mm512_and_si512(packed, low), hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low);
        UNROLLED
        for (int t = 0; t < n; t++) {
            const unsigned char *q = x[t] + Q8_K_QS + 32 * j + 4 * c;
            s[t] = _mm512_dpbusd_epi32(s[t], lo, broadcast_4_bytes(q));
            s[t] = _mm512_dpbusd_epi32(s[t], hi, broadcast_4_bytes(q + 16));
        }
    }
}

/* Per super-block the exact integers isum = sum_j sc_j (codes . x)_j and msum = sum_j m_j
 * (sum x)_j; acc += d_x d isum - d_x dmin msum. */
SPECIALISED void q4_k_block(const unsigned char *w, const unsigned char *const x[], int n, __m512 acc[]) {
    __m512i isum[TOKEN_TILE], msum[TOKEN_TILE], s[TOKEN_TILE];
    UNROLLED
    for (int t = 0; t < n; t++) isum[t] = msum[t] = _mm512_setzero_si512();
    for (int j = 0; j < 8; j++) {
        __m512i sc = bytes_to_lanes(w + K4_SCALES + 16 * j, 0), mn = bytes_to_lanes(w + K4_MINS + 16 * j, 0);
        q4_k_sums(w, j, x, n, s);
        UNROLLED
        for (int t = 0; t < n; t++) {
            int32_t sum_x = activation_sum16(x[t], 2 * j) + activation_sum16(x[t], 2 * j + 1);
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], sc));
            msum[t] = _mm512_add_epi32(msum[t], _mm512_mullo_epi32(mn, _mm512_set1_epi32(sum_x)));
        }
    }
    __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + K4_DS)));
    __m512 dmin = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + K4_DMINS)));
    UNROLLED
    for (int t = 0; t < n; t++) {
        float dx;
        memcpy(&dx, x[t], sizeof dx);
        __m512 scale = _mm512_set1_ps(dx);
        acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(scale, d), _mm512_cvtepi32_ps(isum[t]), acc[t]);
        acc[t] = _mm512_fnmadd_ps(_mm512_mul_ps(scale, dmin), _mm512_cvtepi32_ps(msum[t]), acc[t]);
    }
}

/* Q6_K sub-block j (16 values): the four units' 6-bit codes, from the two nibble registers
 * and the register of top bits (16-bit shifts; the 0x30 mask keeps each byte's own bits). */
SPECIALISED void q6_k_units(const unsigned char *sub, __m512i u[4]) {
    const __m512i low = _mm512_set1_epi8(0x0f), top = _mm512_set1_epi8(0x30);
    __m512i n0 = _mm512_loadu_si512((const void *)sub), n1 = _mm512_loadu_si512((const void *)(sub + 64));
    __m512i h = _mm512_loadu_si512((const void *)(sub + 128));
    for (int line = 0; line < K6_SUB_BYTES; line += 64)
        _mm_prefetch((const char *)(sub + PREFETCH_AHEAD + line), _MM_HINT_T0);
    u[0] = _mm512_or_si512(_mm512_and_si512(n0, low), _mm512_and_si512(_mm512_slli_epi16(h, 4), top));
    u[1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(n0, 4), low), _mm512_and_si512(_mm512_slli_epi16(h, 2), top));
    u[2] = _mm512_or_si512(_mm512_and_si512(n1, low), _mm512_and_si512(h, top));
    u[3] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(n1, 4), low), _mm512_and_si512(_mm512_srli_epi16(h, 2), top));
}

/* isum = sum_j sc_j ((codes . x)_j - 32 (sum x)_j), the codes' offset of 32 taken out with
 * Q8_K's sums; acc += d_x d isum. */
SPECIALISED void q6_k_block(const unsigned char *w, const unsigned char *const x[], int n, __m512 acc[]) {
    __m512i isum[TOKEN_TILE];
    UNROLLED
    for (int t = 0; t < n; t++) isum[t] = _mm512_setzero_si512();
    for (int j = 0; j < 16; j++) {
        __m512i u[4], sc = bytes_to_lanes(w + K6_SCALES + 16 * j, 1);
        q6_k_units(w + j * K6_SUB_BYTES, u);
        UNROLLED
        for (int t = 0; t < n; t++) {
            const unsigned char *q = x[t] + Q8_K_QS + 16 * j;
            __m512i s = _mm512_set1_epi32(-32 * activation_sum16(x[t], j));
            for (int k = 0; k < 4; k++) s = _mm512_dpbusd_epi32(s, u[k], broadcast_4_bytes(q + 4 * k));
            isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s, sc));
        }
    }
    __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + K6_DS)));
    UNROLLED
    for (int t = 0; t < n; t++) {
        float dx;
        memcpy(&dx, x[t], sizeof dx);
        acc[t] = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(dx), d), _mm512_cvtepi32_ps(isum[t]), acc[t]);
    }
}

/* One group's rows against n (1..TOKEN_TILE) tokens, every super-block. */
SPECIALISED void tile_dots(TensorType type, const unsigned char *w, int blocks, const unsigned char *xq,
                           size_t stride, int n, float *out, int out_stride) {
    __m512 acc[TOKEN_TILE];
    const unsigned char *x[TOKEN_TILE];
    UNROLLED
    for (int t = 0; t < n; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++, w += group_bytes(type)) {
        UNROLLED
        for (int t = 0; t < n; t++) x[t] = xq + (size_t)t * stride + (size_t)b * Q8_K_BYTES;
        if (type == TENSOR_Q4_K) q4_k_block(w, x, n, acc);
        else q6_k_block(w, x, n, acc);
    }
    UNROLLED
    for (int t = 0; t < n; t++) {
        float rows[REPACK_GROUP_ROWS];
        _mm512_storeu_ps(rows, acc[t]);
        for (int r = 0; r < REPACK_GROUP_ROWS; r++) out[r * out_stride + t] = rows[r];
    }
}

/* The tiles of a group for one type: whole tiles of TOKEN_TILE tokens, then the rest. */
SPECIALISED void group_dots(TensorType type, const unsigned char *w, int blocks, const unsigned char *xq,
                            size_t stride, int n_tokens, float *out) {
    int t = 0;
    for (; t + TOKEN_TILE <= n_tokens; t += TOKEN_TILE)
        tile_dots(type, w, blocks, xq + (size_t)t * stride, stride, TOKEN_TILE, out + t, n_tokens);
    switch (n_tokens - t) {
    case 3: tile_dots(type, w, blocks, xq + (size_t)t * stride, stride, 3, out + t, n_tokens); break;
    case 2: tile_dots(type, w, blocks, xq + (size_t)t * stride, stride, 2, out + t, n_tokens); break;
    case 1: tile_dots(type, w, blocks, xq + (size_t)t * stride, stride, 1, out + t, n_tokens); break;
    default: break;
    }
}

void k_interleaved_dots(const Matrix *m, int group, const unsigned char *xq, size_t xq_stride,
                        int n_tokens, float *out) {
    int blocks = m->cols / QK_K;
    const unsigned char *w = (const unsigned char *)m->interleaved + (size_t)group * blocks * group_bytes(m->type);
    if (m->type == TENSOR_Q4_K) group_dots(TENSOR_Q4_K, w, blocks, xq, xq_stride, n_tokens, out);
    else group_dots(TENSOR_Q6_K, w, blocks, xq, xq_stride, n_tokens, out);
}
#else
/* No kernel in this build, so no matrix is interleaved; were one given, its rows are taken
 * from the file's layout, one by one. */
void k_interleaved_dots(const Matrix *m, int group, const unsigned char *xq, size_t xq_stride,
                        int n_tokens, float *out) {
    size_t row_bytes = tensor_bytes(m->type, 1, m->cols);
    const unsigned char *row = (const unsigned char *)m->data + (size_t)group * REPACK_GROUP_ROWS * row_bytes;
    for (int r = 0; r < REPACK_GROUP_ROWS; r++, row += row_bytes, out += n_tokens)
        dots_k_q8_k(m->type, row, xq, xq_stride, n_tokens, m->cols, out);
}
#endif
