/* qgemm.c — integer block products of Q8_0 / Q4_0 (and, tiled, Q5_0) weights with Q8_0
 * activations, tiled over rows and tokens where AVX-512 VNNI is built in (see qgemm.h). */
#include "qgemm.h"

#include <string.h>

#include "../util/half.h"
#include "ops.h"

enum { Q8_0_BYTES = 34, Q4_0_BYTES = 18, Q5_0_BYTES = 22, TILE_ROWS = QGEMM_ROW_UNIT, TILE_TOKENS = 4 };

/* Tokens taken together against a run of row tiles, so that the run's weight rows are
 * read from cache rather than memory for every group of TILE_TOKENS tokens. */
enum { TOKEN_RUN = 64 };

static size_t x_row_bytes(int cols) { return (size_t)(cols / QK_BLOCK) * Q8_0_BYTES; }

size_t qgemm_activation_bytes(int max_tokens, int max_cols) {
    size_t blocks = (size_t)max_tokens * (size_t)(max_cols / QK_BLOCK);
    return blocks * (Q8_0_BYTES + 2 * sizeof(float) + sizeof(int32_t));
}

void qgemm_activations_init(QuantizedActivations *qa, void *buffer, int max_tokens,
                            int max_cols) {
    size_t blocks = (size_t)max_tokens * (size_t)(max_cols / QK_BLOCK);
    /* floats first (aligned as malloc's buffer), then the int32 offsets, then the bytes */
    qa->sums = buffer;
    qa->offsets = (int32_t *)(qa->sums + 2 * blocks);
    qa->blocks = (unsigned char *)(qa->offsets + blocks);
    qa->n_tokens = 0;
    qa->cols = max_cols;
    qa->weights = TENSOR_Q8_0;
}

void qgemm_quantize(QuantizedActivations *qa, const float *x, int begin, int end) {
    int blocks = qa->cols / QK_BLOCK;
    int32_t offset = qa->weights == TENSOR_Q4_0 ? 8 : qa->weights == TENSOR_Q5_0 ? 16 : 128;
    for (int t = begin; t < end; t++) {
        unsigned char *xq = qa->blocks + (size_t)t * x_row_bytes(qa->cols);
        int32_t *offsets = qa->offsets + (size_t)t * blocks;
        quantize_row_q8_0(x + (size_t)t * qa->cols, qa->cols, xq);
        q8_0_block_sums(xq, qa->cols, qa->sums + (size_t)t * 2 * blocks, offsets);
        for (int b = 0; b < blocks; b++) offsets[b] *= -offset; /* the sums, made corrections */
    }
}

static void put(float *y, int accumulate, float value) { *y = accumulate ? *y + value : value; }

/* A decode step reads every weight row once: ask for the row PREFETCH_AHEAD rows on before
 * its use. Measured with the pair kernels on AVX2 (110M Q8_0 decode): 86.7 -> 95.1 tok/s on 1
 * thread, 143.6 -> 149.8 on 2. */
enum { PREFETCH_AHEAD = 4 };

static void prefetch_rows(const Matrix *w, size_t row_bytes, int r, int n_rows) {
    const unsigned char *rows = (const unsigned char *)w->data + (size_t)r * row_bytes;
    for (size_t offset = 0; offset < (size_t)n_rows * row_bytes; offset += 64)
        __builtin_prefetch(rows + offset);
}

#if defined(__AVX512VNNI__) && defined(__AVX512VL__) && defined(__F16C__)
#include "simd.h"

int qgemm_has_tiles(void) { return 1; }

/* The weight layouts the tiles read (constant where inlined). */
enum { KIND_Q8_0, KIND_Q4_0, KIND_Q5_0 };

static int kind_of(TensorType type) {
    return type == TENSOR_Q4_0 ? KIND_Q4_0 : type == TENSOR_Q5_0 ? KIND_Q5_0 : KIND_Q8_0;
}

static int kind_bytes(int kind) {
    return kind == KIND_Q4_0 ? Q4_0_BYTES : kind == KIND_Q5_0 ? Q5_0_BYTES : Q8_0_BYTES;
}

/* A weight block's 32 values as unsigned bytes: Q8_0's int8 plus 128 (flipping the sign
 * bit), Q4_0's codes 0..15 and Q5_0's 0..31 in value order (low nibbles are values 0..15,
 * high 16..31; Q5_0's fifth bits from the u32 after d). */
static inline __m256i unsigned_weights(const unsigned char *block, int kind) {
    if (kind == KIND_Q4_0) return q4_0_codes(block + 2);
    if (kind == KIND_Q5_0) return _mm256_or_si256(q4_0_codes(block + 6), fifth_bits(block + 2));
    return _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(block + 2)),
                            _mm256_set1_epi8((char)0x80));
}

/* A block's f16 scale as a float (half_to_float: no dependency chain between blocks). */
static inline float block_scale(const unsigned char *block) {
    uint16_t d;
    memcpy(&d, block, 2);
    return half_to_float(d);
}

typedef struct {
    const Matrix *w;
    const QuantizedActivations *qa;
    float *y;
    size_t y_stride;
    int accumulate;
} TileJob;

/* Rows r0..r0+3 against tokens t0..t0+nt-1 (nt and kind constant where it is inlined). Per
 * block and pair: the integer sum starts from the token's offset correction in lane 0, so
 * the lanes add up to sum w q_x exactly; then acc += d_w (d_x lanes). */
static inline __attribute__((always_inline)) void
tile(const TileJob *job, int r0, int t0, const int nr, const int nt, const int kind,
     const float *row_scales) {
    const Matrix *w = job->w;
    const QuantizedActivations *qa = job->qa;
    int blocks = w->cols / QK_BLOCK, block_bytes = kind_bytes(kind);
    size_t row_bytes = (size_t)blocks * block_bytes, x_bytes = x_row_bytes(qa->cols);
    const unsigned char *rows = (const unsigned char *)w->data + (size_t)r0 * row_bytes;
    const unsigned char *x = qa->blocks + (size_t)t0 * x_bytes;
    const float *sums = qa->sums + (size_t)t0 * 2 * blocks;
    const int32_t *offsets = qa->offsets + (size_t)t0 * blocks;
    __m256 acc[TILE_ROWS][TILE_TOKENS];
    /* the loops over the tile are unrolled, so that acc, wv and dw stay in registers */
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) acc[i][j] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        __m256i wv[TILE_ROWS];
        __m256 dw[TILE_ROWS];
#pragma GCC unroll 4
        for (int i = 0; i < nr; i++) {
            const unsigned char *block = rows + i * row_bytes + (size_t)b * block_bytes;
            wv[i] = unsigned_weights(block, kind);
            dw[i] = _mm256_set1_ps(row_scales ? row_scales[i * blocks + b] : block_scale(block));
        }
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++) {
            __m256i xv = _mm256_loadu_si256((const __m256i *)(x + j * x_bytes + b * Q8_0_BYTES + 2));
            __m256i start = _mm256_zextsi128_si256(_mm_cvtsi32_si128(offsets[j * blocks + b]));
            __m256 dx = _mm256_set1_ps(sums[(size_t)j * 2 * blocks + 2 * b]);
#pragma GCC unroll 4
            for (int i = 0; i < nr; i++) {
                __m256 products = _mm256_cvtepi32_ps(_mm256_dpbusd_epi32(start, wv[i], xv));
                acc[i][j] = _mm256_fmadd_ps(_mm256_mul_ps(dw[i], dx), products, acc[i][j]);
            }
        }
    }
#pragma GCC unroll 4
    for (int i = 0; i < nr; i++)
#pragma GCC unroll 4
        for (int j = 0; j < nt; j++)
            put(job->y + (size_t)(t0 + j) * job->y_stride + r0 + i, job->accumulate,
                horizontal_sum(acc[i][j]));
}

static void full_tile(const TileJob *job, int r0, int t0, const float *row_scales) {
    switch (kind_of(job->w->type)) {
    case KIND_Q4_0: tile(job, r0, t0, TILE_ROWS, TILE_TOKENS, KIND_Q4_0, row_scales); break;
    case KIND_Q5_0: tile(job, r0, t0, TILE_ROWS, TILE_TOKENS, KIND_Q5_0, row_scales); break;
    default: tile(job, r0, t0, TILE_ROWS, TILE_TOKENS, KIND_Q8_0, row_scales); break;
    }
}

/* The block scales of a tile's rows as floats, converted once for all its tokens rather
 * than once per group of 4 (NULL when the rows are too long for the buffer: then each
 * group converts them). */
enum { MAX_SCALED_BLOCKS = 512 };

static const float *tile_scales(const Matrix *w, int r0, float *out) {
    int blocks = w->cols / QK_BLOCK, block_bytes = kind_bytes(kind_of(w->type));
    if (blocks > MAX_SCALED_BLOCKS) return NULL;
    const unsigned char *rows = (const unsigned char *)w->data + tensor_bytes(w->type, r0, w->cols);
    for (int k = 0; k < TILE_ROWS * blocks; k++) out[k] = block_scale(rows + (size_t)k * block_bytes);
    return out;
}

/* One row against one token. Decode takes this, row after row, rather than tiles of 4 rows
 * read in step: those ran 110M Q8_0 decode at 64 tok/s against 157 (1 thread). */
static void one_row(const TileJob *job, int r, int t) {
    switch (kind_of(job->w->type)) {
    case KIND_Q4_0: tile(job, r, t, 1, 1, KIND_Q4_0, NULL); break;
    case KIND_Q5_0: tile(job, r, t, 1, 1, KIND_Q5_0, NULL); break;
    default: tile(job, r, t, 1, 1, KIND_Q8_0, NULL); break;
    }
}

void qgemm_rows(const Matrix *w, const QuantizedActivations *qa, int row_begin, int row_end,
                float *y, size_t y_stride, int accumulate) {
    TileJob job = {w, qa, y, y_stride, accumulate};
    float scales[TILE_ROWS * MAX_SCALED_BLOCKS];
    size_t row_bytes = tensor_bytes(w->type, 1, w->cols);
    int tiled_end = row_begin + (row_end - row_begin) / TILE_ROWS * TILE_ROWS;
    for (int t0 = 0; t0 < qa->n_tokens; t0 += TOKEN_RUN) {
        int t1 = t0 + TOKEN_RUN < qa->n_tokens ? t0 + TOKEN_RUN : qa->n_tokens;
        int full_end = t0 + (t1 - t0) / TILE_TOKENS * TILE_TOKENS;
        for (int r = row_begin; r < tiled_end && t0 < full_end; r += TILE_ROWS) {
            const float *row_scales = tile_scales(w, r, scales);
            for (int t = t0; t < full_end; t += TILE_TOKENS) full_tile(&job, r, t, row_scales);
        }
        /* one row at a time: the run's last few tokens (every token of a decode step), and
         * every token for the rows past the last whole tile */
        for (int r = full_end < t1 ? row_begin : tiled_end; r < row_end; r++) {
            int first = r < tiled_end ? full_end : t0;
            if (r + PREFETCH_AHEAD < row_end) prefetch_rows(w, row_bytes, r + PREFETCH_AHEAD, 1);
            for (int t = first; t < t1; t++) one_row(&job, r, t);
        }
    }
}

#else /* no VNNI: one pair at a time */

int qgemm_has_tiles(void) { return 0; }

/* One (row, token) pair by the per-pair kernels of ops.c. */
static float pair_dot(const Matrix *w, const QuantizedActivations *qa, int r, int t) {
    const unsigned char *row = (const unsigned char *)w->data + tensor_bytes(w->type, r, w->cols);
    const unsigned char *x = qa->blocks + (size_t)t * x_row_bytes(qa->cols);
    if (w->type == TENSOR_Q4_0)
        return dot_q4_0_q8_0(row, x, qa->sums + (size_t)t * 2 * (qa->cols / QK_BLOCK), w->cols);
    return dot_q8_0_q8_0(row, x, w->cols);
}

static void pairs(const Matrix *w, const QuantizedActivations *qa, int r0, int r1, float *y,
                  size_t y_stride, int accumulate) {
    size_t row_bytes = tensor_bytes(w->type, 1, w->cols);
    for (int r = r0; r < r1; r++) {
        if (r + PREFETCH_AHEAD < r1) prefetch_rows(w, row_bytes, r + PREFETCH_AHEAD, 1);
        for (int t = 0; t < qa->n_tokens; t++)
            put(y + (size_t)t * y_stride + r, accumulate, pair_dot(w, qa, r, t));
    }
}

void qgemm_rows(const Matrix *w, const QuantizedActivations *qa, int row_begin, int row_end,
                float *y, size_t y_stride, int accumulate) {
    pairs(w, qa, row_begin, row_end, y, y_stride, accumulate);
}

#endif
