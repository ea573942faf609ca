/* q4_0_interleaved.c — Q4_0 rows 16 at a time, laid out for AVX-512 VNNI (as
 * k_interleaved.c does for Q4_K: one 512-bit register holds 4 consecutive codes of each of
 * 16 rows, one row per 32-bit lane, and vpdpbusd multiplies them by 4 activation bytes
 * broadcast from memory). A Q4_0 block is 32 values, f16 d and 16 bytes of nibbles (low
 * nibble value i, high nibble value i + 16), value = d (code - 8).
 *
 * Per group of 16 rows and block (288 bytes, the file's 18 a row): for c = 0..3, 64 bytes
 * whose byte 4 r + i holds row r's code of value 4 c + i in its low nibble and of value
 * 16 + 4 c + i in its high one; then d, 32 bytes, [r] as f16. The groups follow each other,
 * blocks in order inside a group. Per block and token the integer is
 * sum codes x q_x - 8 sum q_x (the second term qgemm_quantize's offsets), scaled by d_w d_x. */
#include "q4_0_interleaved.h"

#include <stdint.h>
#include <string.h>

enum { Q4_0_BYTES = 18, Q8_0_BYTES = 34, DS = 256, GROUP_BYTES = DS + 32 };

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VNNI__)
#define HAVE_KERNEL 1
#endif

size_t q4_0_interleaved_bytes(const Matrix *m) {
#ifdef HAVE_KERNEL
    if (m->type == TENSOR_Q4_0 && m->rows % Q4_0_GROUP_ROWS == 0 && m->cols % QK_BLOCK == 0)
        return (size_t)(m->rows / Q4_0_GROUP_ROWS) * (size_t)(m->cols / QK_BLOCK) * GROUP_BYTES;
#else
    (void)m;
#endif
    return 0;
}

void q4_0_interleave(const Matrix *m, void *out) {
    int blocks = m->cols / QK_BLOCK;
    size_t row_bytes = (size_t)blocks * Q4_0_BYTES;
    unsigned char *group = out;
    for (int g = 0; g < m->rows / Q4_0_GROUP_ROWS; g++)
        for (int b = 0; b < blocks; b++, group += GROUP_BYTES)
            for (int r = 0; r < Q4_0_GROUP_ROWS; r++) {
                const unsigned char *src = (const unsigned char *)m->data +
                                           (size_t)(Q4_0_GROUP_ROWS * g + r) * row_bytes + (size_t)b * Q4_0_BYTES;
                const unsigned char *q = src + 2;
                for (int c = 0; c < 4; c++)
                    for (int i = 0; i < 4; i++) /* q[k]: codes k (low) and k + 16 (high) */
                        group[64 * c + 4 * r + i] = q[4 * c + i];
                memcpy(group + DS + 2 * r, src, 2);
            }
}

#ifdef HAVE_KERNEL
#include <immintrin.h>

#define SPECIALISED static inline __attribute__((always_inline))
/* Code lines prefetched 8 KB ahead, as k_interleaved.c measured for Q4_K. */
enum { TOKEN_TILE = 4, PREFETCH_AHEAD = 8192 };

SPECIALISED __m512i broadcast_4_bytes(const unsigned char *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

/* One group against n (1..TOKEN_TILE) tokens starting at token t0 of qa, into y. */
SPECIALISED void tile_rows(const unsigned char *w, int blocks, const QuantizedActivations *qa, int t0, int n,
                           float *y, size_t y_stride, int accumulate) {
    const __m512i low = _mm512_set1_epi8(0x0f);
    size_t x_row = (size_t)blocks * Q8_0_BYTES;
    __m512 acc[TOKEN_TILE];
    for (int t = 0; t < n; t++) acc[t] = _mm512_setzero_ps();
    for (int b = 0; b < blocks; b++, w += GROUP_BYTES) {
        __m512i s[TOKEN_TILE];
        for (int t = 0; t < n; t++) s[t] = _mm512_set1_epi32(qa->offsets[(size_t)(t0 + t) * blocks + b]);
        for (int c = 0; c < 4; c++) {
            __m512i packed = _mm512_loadu_si512((const void *)(w + 64 * c));
            _mm_prefetch((const char *)(w + PREFETCH_AHEAD + 64 * c), _MM_HINT_T0);
            __m512i lo = _mm512_and_si512(packed, low), hi = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low);
            for (int t = 0; t < n; t++) {
                const unsigned char *q = qa->blocks + (size_t)(t0 + t) * x_row + (size_t)b * Q8_0_BYTES + 2 + 4 * c;
                s[t] = _mm512_dpbusd_epi32(s[t], lo, broadcast_4_bytes(q));
                s[t] = _mm512_dpbusd_epi32(s[t], hi, broadcast_4_bytes(q + 16));
            }
        }
        __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + DS)));
        for (int t = 0; t < n; t++) {
            __m512 scale = _mm512_mul_ps(d, _mm512_set1_ps(qa->sums[(size_t)(t0 + t) * 2 * blocks + 2 * b]));
            acc[t] = _mm512_fmadd_ps(scale, _mm512_cvtepi32_ps(s[t]), acc[t]);
        }
    }
    for (int t = 0; t < n; t++) {
        float *out = y + (size_t)(t0 + t) * y_stride;
        _mm512_storeu_ps(out, accumulate ? _mm512_add_ps(_mm512_loadu_ps(out), acc[t]) : acc[t]);
    }
}

void q4_0_interleaved_rows(const Matrix *m, const QuantizedActivations *qa, int group_begin,
                           int group_end, float *y, size_t y_stride, int accumulate) {
    int blocks = m->cols / QK_BLOCK;
    for (int g = group_begin; g < group_end; g++) {
        const unsigned char *w = (const unsigned char *)m->interleaved + (size_t)g * blocks * GROUP_BYTES;
        float *rows = y + (size_t)g * Q4_0_GROUP_ROWS;
        int t = 0;
        for (; t + TOKEN_TILE <= qa->n_tokens; t += TOKEN_TILE)
            tile_rows(w, blocks, qa, t, TOKEN_TILE, rows, y_stride, accumulate);
        switch (qa->n_tokens - t) {
        case 3: tile_rows(w, blocks, qa, t, 3, rows, y_stride, accumulate); break;
        case 2: tile_rows(w, blocks, qa, t, 2, rows, y_stride, accumulate); break;
        case 1: tile_rows(w, blocks, qa, t, 1, rows, y_stride, accumulate); break;
        default: break;
        }
    }
}
#else
/* No kernel in this build, so no matrix is interleaved; were one given, its rows go through
 * qgemm's own path. */
void q4_0_interleaved_rows(const Matrix *m, const QuantizedActivations *qa, int group_begin,
                           int group_end, float *y, size_t y_stride, int accumulate) {
    qgemm_rows(m, qa, group_begin * Q4_0_GROUP_ROWS, group_end * Q4_0_GROUP_ROWS, y, y_stride, accumulate);
}
#endif
