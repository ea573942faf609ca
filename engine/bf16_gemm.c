/* bf16_gemm.c — BF16 weight rows times a block of tokens with AVX-512 BF16 (vdpbf16ps), in
 * tiles of 4 rows x 4 tokens (bf16_gemm.h). Each instruction multiplies 16 pairs of bfloat16
 * and adds both products of a pair into a float lane; the activations arrive as floats that
 * are already bfloat16 values (matmul.c rounds them), so packing them back is exact. */
#include "bf16_gemm.h"

#if defined(__AVX512BF16__) && defined(__AVX512F__)
#include <immintrin.h>

enum { TILE_ROWS = BF16_GEMM_ROW_UNIT, TILE_TOKENS = 4, TOKEN_RUN = 64, STEP = 32 };

int bf16_gemm_available(int cols) { return cols % STEP == 0; }

static float hsum512(__m512 v) { return _mm512_reduce_add_ps(v); }

/* Rows r0.. (nr of them) against tokens t0.. (nt), nr and nt constant where inlined. */
static inline __attribute__((always_inline)) void
tile(const Bf16Gemm *g, int r0, int t0, const int nr, const int nt) {
    const unsigned char *rows = (const unsigned char *)g->w->data + (size_t)r0 * g->w->cols * 2;
    const float *x = g->x + (size_t)t0 * g->w->cols;
    size_t cols = (size_t)g->w->cols;
    __m512 acc[TILE_ROWS][TILE_TOKENS];
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) acc[i][j] = _mm512_setzero_ps();
    for (size_t c = 0; c < cols; c += STEP) {
        __m512bh wv[TILE_ROWS];
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++)
            wv[i] = (__m512bh)_mm512_loadu_si512((const void *)(rows + (i * cols + c) * 2));
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) {
            const float *xj = x + j * cols + c;
            __m512bh xv = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(xj + 16), _mm512_loadu_ps(xj));
#pragma GCC unroll 4
            for (int i = 0; i < nr; i++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], wv[i], xv);
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) {
            float *y = g->y + (size_t)(t0 + j) * g->y_stride + r0 + i;
            float value = hsum512(acc[i][j]);
            *y = g->accumulate ? *y + value : value;
        }
}

void bf16_gemm_rows(const Bf16Gemm *g, int row_begin, int row_end) {
    int tiled_end = row_begin + (row_end - row_begin) / TILE_ROWS * TILE_ROWS;
    for (int t0 = 0; t0 < g->n_tokens; t0 += TOKEN_RUN) {
        int t1 = t0 + TOKEN_RUN < g->n_tokens ? t0 + TOKEN_RUN : g->n_tokens;
        int full_end = t0 + (t1 - t0) / TILE_TOKENS * TILE_TOKENS;
        for (int r = row_begin; r < tiled_end; r += TILE_ROWS) {
            for (int t = t0; t < full_end; t += TILE_TOKENS) tile(g, r, t, TILE_ROWS, TILE_TOKENS);
            for (int t = full_end; t < t1; t++) tile(g, r, t, TILE_ROWS, 1);
        }
        for (int r = tiled_end; r < row_end; r++)
            for (int t = t0; t < t1; t++) tile(g, r, t, 1, 1);
    }
}
#else
int bf16_gemm_available(int cols) {
    (void)cols;
    return 0;
}

void bf16_gemm_rows(const Bf16Gemm *g, int row_begin, int row_end) {
    (void)g, (void)row_begin, (void)row_end;
}
#endif
