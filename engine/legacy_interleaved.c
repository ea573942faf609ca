/* legacy_interleaved.c — Q4_0 and Q8_0 rows 16 at a time, laid out for AVX-512 VNNI (as
 * k_interleaved.c does for the K-quants: one 512-bit register holds 4 consecutive codes of
 * each of 16 rows, one row per 32-bit lane, and vpdpbusd multiplies them by 4 activation
 * bytes broadcast from memory). Blocks of 32 values with an f16 d: Q4_0 has 16 bytes of
 * nibbles (low nibble value i, high nibble value i + 16), value = d (code - 8); Q8_0 32
 * int8, value = d q.
 *
 * Per group of 16 rows and block (the file's bytes, moved), "unit c" being the 64 bytes
 * whose byte 4 r + i is row r's code of value 4 c + i:
 *   Q4_0 (288 bytes): for c = 0..3, unit c in the low nibbles and unit c + 4 in the high
 *        ones; then d, 32 bytes, [r] as f16;
 *   Q8_0 (544 bytes): units 0..7 as unsigned bytes q + 128; then d as for Q4_0.
 * The groups follow each other, blocks in order inside a group. Per block and token the
 * integer is sum codes x q_x - offset sum q_x (offset 8 or 128: qgemm_quantize's offsets),
 * scaled by d_w d_x. */
#include "legacy_interleaved.h"

#include <stdint.h>
#include <string.h>

#include "interleaved_simd.h"

enum { Q4_0_BYTES = 18, Q8_0_BYTES = 34, Q4_0_DS = 256, Q8_0_DS = 512 };

static size_t group_bytes(TensorType type) { return (type == TENSOR_Q4_0 ? Q4_0_DS : Q8_0_DS) + 32; }

size_t legacy_interleaved_bytes(const Matrix *m) {
#ifdef INTERLEAVED_KERNELS
    if ((m->type == TENSOR_Q4_0 || m->type == TENSOR_Q8_0) && m->rows % REPACK_GROUP_ROWS == 0 &&
        m->cols % QK_BLOCK == 0)
        return (size_t)(m->rows / REPACK_GROUP_ROWS) * (size_t)(m->cols / QK_BLOCK) * group_bytes(m->type);
#else
    (void)m;
#endif
    return 0;
}

/* One row's block (src, as the file has it) into slot r of its group's. */
static void put_row(TensorType type, const unsigned char *src, int r, unsigned char *group) {
    const unsigned char *q = src + 2;
    if (type == TENSOR_Q4_0)
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 4; i++) group[64 * c + 4 * r + i] = q[4 * c + i]; /* codes k, k + 16 */
    else
        for (int c = 0; c < 8; c++)
            for (int i = 0; i < 4; i++) group[64 * c + 4 * r + i] = (uint8_t)(q[4 * c + i] ^ 0x80); /* q + 128 */
    memcpy(group + (type == TENSOR_Q4_0 ? Q4_0_DS : Q8_0_DS) + 2 * r, src, 2);
}

void legacy_interleave(const Matrix *m, void *out) {
    int blocks = m->cols / QK_BLOCK;
    size_t block_bytes = m->type == TENSOR_Q4_0 ? Q4_0_BYTES : Q8_0_BYTES, row_bytes = (size_t)blocks * block_bytes;
    unsigned char *group = out;
    for (int g = 0; g < m->rows / REPACK_GROUP_ROWS; g++)
        for (int b = 0; b < blocks; b++, group += group_bytes(m->type))
            for (int r = 0; r < REPACK_GROUP_ROWS; r++)
                put_row(m->type, (const unsigned char *)m->data + (size_t)(REPACK_GROUP_ROWS * g + r) * row_bytes +
                                     (size_t)b * block_bytes, r, group);
}

#ifdef INTERLEAVED_KERNELS
/* A block's units against the tokens' activation bytes q[t] (32 each): Q4_0's 4 registers
 * split into their nibbles, Q8_0's 8 registers as they are. */
SPECIALISED void block_sums(TensorType type, const unsigned char *w, const unsigned char *const q[], int n,
                            __m512i s[]) {
    const __m512i low = _mm512_set1_epi8(0x0f);
    if (type == TENSOR_Q4_0)
        for (int c = 0; c < 4; c++) {
            __m512i packed = _mm512_loadu_si512((const void *)(w + 64 * c));
            _mm_prefetch((const char *)(w + PREFETCH_AHEAD + 64 * c), _MM_HINT_T0);
            __m512i lo = _mm512_and_si512(packed, low), hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low);
            UNROLLED
            for (int t = 0; t < n; t++) {
                s[t] = _mm512_dpbusd_epi32(s[t], lo, broadcast_4_bytes(q[t] + 4 * c));
                s[t] = _mm512_dpbusd_epi32(s[t], hi, broadcast_4_bytes(q[t] + 16 + 4 * c));
            }
        }
    else
        for (int c = 0; c < 8; c++) {
            __m512i unit = _mm512_loadu_si512((const void *)(w + 64 * c));
            _mm_prefetch((const char *)(w + PREFETCH_AHEAD + 64 * c), _MM_HINT_T0);
            UNROLLED
            for (int t = 0; t < n; t++) s[t] = _mm512_dpbusd_epi32(s[t], unit, broadcast_4_bytes(q[t] + 4 * c));
        }
}

/* One group against n (1..TOKEN_TILE) tokens starting at token t0 of qa, into y. */
SPECIALISED void tile_rows(TensorType type, const unsigned char *w, int blocks, const QuantizedActivations *qa,
                           int t0, int n, float *y, size_t y_stride, int accumulate) {
    size_t x_row = (size_t)blocks * Q8_0_BYTES, ds = type == TENSOR_Q4_0 ? Q4_0_DS : Q8_0_DS;
    __m512 acc[TOKEN_TILE];
    UNROLLED
    for (int t = 0; t < n; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++, w += group_bytes(type)) {
        __m512i s[TOKEN_TILE];
        const unsigned char *q[TOKEN_TILE];
        UNROLLED
        for (int t = 0; t < n; t++) {
            s[t] = _mm512_set1_epi32(qa->offsets[(size_t)(t0 + t) * blocks + b]);
            q[t] = qa->blocks + (size_t)(t0 + t) * x_row + (size_t)b * Q8_0_BYTES + 2;
        }
        block_sums(type, w, q, n, s);
        __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + ds)));
        UNROLLED
        for (int t = 0; t < n; t++) {
            __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(qa->sums[(size_t)(t0 + t) * 2 * blocks + 2 * b]));
            acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(s[t]), acc[t]);
        }
    }
    UNROLLED
    for (int t = 0; t < n; t++) {
        float *out = y + (size_t)(t0 + t) * y_stride;
        _mm512_storeu_ps(out, accumulate ? _mm512_add_ps(_mm512_loadu_ps(out), acc[t]) : acc[t]);
    }
}

/* A group's tiles for one type: whole tiles of TOKEN_TILE tokens, then the rest. */
SPECIALISED void group_rows(TensorType type, const unsigned char *w, int blocks, const QuantizedActivations *qa,
                            float *rows, size_t y_stride, int accumulate) {
    int t = 0;
    for (; t + TOKEN_TILE <= qa->n_tokens; t += TOKEN_TILE)
        tile_rows(type, w, blocks, qa, t, TOKEN_TILE, rows, y_stride, accumulate);
    switch (qa->n_tokens - t) {
    case 3: tile_rows(type, w, blocks, qa, t, 3, rows, y_stride, accumulate); break;
    case 2: tile_rows(type, w, blocks, qa, t, 2, rows, y_stride, accumulate); break;
    case 1: tile_rows(type, w, blocks, qa, t, 1, rows, y_stride, accumulate); break;
    default: break;
    }
}

void legacy_interleaved_rows(const Matrix *m, const QuantizedActivations *qa, int group_begin,
                             int group_end, float *y, size_t y_stride, int accumulate) {
    int blocks = m->cols / QK_BLOCK;
    for (int g = group_begin; g < group_end; g++) {
        const unsigned char *w = (const unsigned char *)m->interleaved + (size_t)g * blocks * group_bytes(m->type);
        float *rows = y + (size_t)g * REPACK_GROUP_ROWS;
        if (m->type == TENSOR_Q4_0) group_rows(TENSOR_Q4_0, w, blocks, qa, rows, y_stride, accumulate);
        else group_rows(TENSOR_Q8_0, w, blocks, qa, rows, y_stride, accumulate);
    }
}
#else
/* No kernel in this build, so no matrix is interleaved; were one given, its rows go through
 * qgemm's own path. */
void legacy_interleaved_rows(const Matrix *m, const QuantizedActivations *qa, int group_begin,
                             int group_end, float *y, size_t y_stride, int accumulate) {
    qgemm_rows(m, qa, group_begin * REPACK_GROUP_ROWS, group_end * REPACK_GROUP_ROWS, y, y_stride, accumulate);
}
#endif
