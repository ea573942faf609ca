/* test_quantize.c — the quantize tool (tools/quantize.c, included here with its main left
 * out): a small hand-made llama GGUF (F32, and F16) is re-encoded as Q8_0, Q4_0 and F16 and
 * read back with model_open; blocks are checked byte by byte against values worked out by
 * hand from GGML's formulas, every element against the round-trip bound, untouched tensors
 * bit for bit, metadata copied, bad inputs refused with a message and no output file. */
#define QUANTIZE_NO_MAIN
#include "../tools/quantize.c"

#include "engine_fixture.h"
#include "../engine/qgemm.h"
#include "harness.h"
#include "../util/json.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The hand-made model: dim 32, 2 heads of 16, 2 kv heads, hidden 48, 1 layer, vocab 4.
 * ffn_down has rows of 48 values (not a multiple of 32): it must stay as it is. */
enum { DIM = 32, HIDDEN = 48, VOCAB = 4, PAIRS = 8 };

typedef struct {
    float embedding[VOCAB * DIM];
    float square[4][DIM * DIM];   /* attn_q, attn_k, attn_v, attn_output */
    float up[2][HIDDEN * DIM];    /* ffn_gate, ffn_up: 48 rows of 32 */
    float down[DIM * HIDDEN];     /* ffn_down: 32 rows of 48 */
    float ones[DIM];
    float freqs[PAIRS];
} HandModel;

static float pseudo_random(unsigned *state) { /* uniform in [-1, 1) */
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

/* token_embd rows: 0: x_j = j - 16; 1: x_j = 16 - j; 2: zeros; 3: pseudo-random with
 * x_0 = 0.1.  Everything else pseudo-random (rope_freqs: all 1). */
static void fill_hand_model(HandModel *m) {
    unsigned state = 7;
    for (int j = 0; j < DIM; j++) {
        m->embedding[j] = (float)(j - 16);
        m->embedding[DIM + j] = (float)(16 - j);
        m->embedding[2 * DIM + j] = 0.0f;
        m->embedding[3 * DIM + j] = pseudo_random(&state);
        m->ones[j] = 1.0f;
    }
    m->embedding[3 * DIM] = 0.1f;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < DIM * DIM; i++) m->square[k][i] = 0.05f * pseudo_random(&state);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < HIDDEN * DIM; i++) m->up[k][i] = 0.05f * pseudo_random(&state);
    for (int i = 0; i < DIM * HIDDEN; i++) m->down[i] = 0.05f * pseudo_random(&state);
    for (int k = 0; k < PAIRS; k++) m->freqs[k] = 1.0f;
}

static int add_keys(GgufWriter *w, char *err, size_t n) {
    static const char *const tokens[VOCAB] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81hi"};
    static const int32_t ids[3] = {5, -6, 7};
    return gguf_writer_add_string(w, "general.architecture", "llama", err, n) ||
           gguf_writer_add_string(w, "general.name", "hand-made", err, n) ||
           gguf_writer_add_u32(w, "general.file_type", 0, err, n) || /* F32: rewritten */
           gguf_writer_add_u32(w, "llama.context_length", 64, err, n) ||
           gguf_writer_add_u32(w, "llama.embedding_length", DIM, err, n) ||
           gguf_writer_add_u32(w, "llama.feed_forward_length", HIDDEN, err, n) ||
           gguf_writer_add_u32(w, "llama.block_count", 1, err, n) ||
           gguf_writer_add_u32(w, "llama.attention.head_count", 2, err, n) ||
           gguf_writer_add_u32(w, "llama.attention.head_count_kv", 2, err, n) ||
           gguf_writer_add_f32(w, "llama.rope.freq_base", 500000.0f, err, n) ||
           gguf_writer_add_i32_array(w, "test.i32s", ids, 3, err, n) ||
           gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", tokens, NULL, VOCAB, err, n)
               ? -1 : 0;
}

static int add_matrix(GgufWriter *w, const char *name, const float *data, int rows, int cols,
                      TensorType type, char *err, size_t n) {
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    return gguf_writer_add_tensor(w, name, data, 2, ne, type, err, n);
}

static int add_vector(GgufWriter *w, const char *name, const float *data, int length, char *err,
                      size_t n) {
    uint64_t ne[1] = {(uint64_t)length};
    return gguf_writer_add_tensor(w, name, data, 1, ne, TENSOR_F32, err, n);
}

/* Writes the hand model with its matrices in `type` (F32 or F16). */
static int write_hand_model(const HandModel *m, const char *path, TensorType type, char *err,
                            size_t n) {
    static const char *const squares[4] = {"blk.0.attn_q.weight", "blk.0.attn_k.weight",
                                           "blk.0.attn_v.weight", "blk.0.attn_output.weight"};
    GgufWriter *w = gguf_writer_new(err, n);
    int rc = !w || add_keys(w, err, n) ||
             add_matrix(w, "token_embd.weight", m->embedding, VOCAB, DIM, type, err, n) ||
             add_vector(w, "output_norm.weight", m->ones, DIM, err, n) ||
             add_vector(w, "blk.0.attn_norm.weight", m->ones, DIM, err, n) ||
             add_vector(w, "blk.0.ffn_norm.weight", m->ones, DIM, err, n) ||
             add_vector(w, "rope_freqs.weight", m->freqs, PAIRS, err, n);
    for (int k = 0; k < 4 && !rc; k++)
        rc = add_matrix(w, squares[k], m->square[k], DIM, DIM, type, err, n);
    if (!rc)
        rc = add_matrix(w, "blk.0.ffn_gate.weight", m->up[0], HIDDEN, DIM, type, err, n) ||
             add_matrix(w, "blk.0.ffn_up.weight", m->up[1], HIDDEN, DIM, type, err, n) ||
             add_matrix(w, "blk.0.ffn_down.weight", m->down, DIM, HIDDEN, type, err, n) ||
             gguf_writer_write(w, path, err, n);
    gguf_writer_free(w);
    return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- decoding by the formulas */

static float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return half_to_float_portable(h);
}

static uint16_t bits_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return h;
}

/* Q8_0 block: f16 d, then 32 int8 q; x = q * d. */
static float q8_0_value(const uint8_t *block, int j) {
    return (float)(int8_t)block[2 + j] * f16_at(block);
}

/* Q4_0 block: f16 d, then byte i = q[i] | q[i+16] << 4; x = (q - 8) * d. */
static int q4_0_code(const uint8_t *block, int j) {
    return j < 16 ? block[2 + j] & 0x0F : block[2 + j - 16] >> 4;
}

static float q4_0_value(const uint8_t *block, int j) {
    return (float)(q4_0_code(block, j) - 8) * f16_at(block);
}

/* ---------------------------------------------------------------- helpers */

static int quantize_hand_model(TestContext *t, HandModel *m, TensorType in_type,
                               TensorType target, const char *in_name, const char *out_name,
                               Model *out) {
    char err[ERR_LEN] = "";
    fill_hand_model(m);
    const char *in = temp_path(in_name), *path = temp_path(out_name);
    if (write_hand_model(m, in, in_type, err, sizeof err)) {
        test_fail_at(t, __FILE__, __LINE__, "writing the hand model: %s", err);
        return -1;
    }
    if (quantize_file(in, path, target, NULL, err, sizeof err)) {
        test_fail_at(t, __FILE__, __LINE__, "quantize_file: %s", err);
        return -1;
    }
    if (model_open(out, path, err, sizeof err)) {
        test_fail_at(t, __FILE__, __LINE__, "model_open of the output: %s", err);
        return -1;
    }
    return 0;
}

static const uint8_t *row_bytes(const Matrix *m, int row) {
    return (const uint8_t *)m->data + tensor_bytes(m->type, 1, m->cols) * (size_t)row;
}

/* Tensors that must not change: ffn_down (rows of 48) and the 1-D vectors. */
static void check_untouched(TestContext *t, const Model *m, const HandModel *hand) {
    const Matrix *down = &m->weights.layers[0].w2;
    CHECK(t, down->type == TENSOR_F32, "ffn_down (rows of 48) is %s, expected F32 as it was",
          tensor_type_name(down->type));
    CHECK(t, down->type != TENSOR_F32 ||
          memcmp(down->data, hand->down, sizeof hand->down) == 0, "ffn_down not bit-identical");
    CHECK(t, memcmp(m->weights.layers[0].rms_att, hand->ones, sizeof hand->ones) == 0 &&
          memcmp(m->weights.rms_final, hand->ones, sizeof hand->ones) == 0, "norms changed");
    CHECK(t, m->config.rope.freq_factors &&
          memcmp(m->config.rope.freq_factors, hand->freqs, sizeof hand->freqs) == 0,
          "rope_freqs.weight changed");
}

/* ---------------------------------------------------------------- tests */

/* Row 0, x_j = j - 16.  Q8_0: d = max|x|/127 = 16/127 = 0.125984...; as binary16
 * 2^-3 * (1 + m/1024) with m = round(0.0078740 * 1024) = round(8.06) = 8, so bits
 * (12 << 10) | 8 = 0x3008 and d16 = 0.1259765625.  q_j = round((j - 16) * 127/16):
 * q_0 = round(-127) = -127, q_16 = 0, q_17 = round(7.9375) = 8, q_19 = round(23.8125) = 24,
 * q_24 = round(63.5) = 64 (a tie: roundf goes away from zero), q_31 = round(119.0625) = 119.
 * Decoded: q_0 * d16 = -15.9990234375, q_24 * d16 = 8.0625.
 * Row 1 (x_j = 16 - j) gives the same d and q negated; row 2 (zeros) d = 0, q = 0. */
static void test_q8_0_by_hand(TestContext *t) {
    HandModel hand;
    Model m;
    if (quantize_hand_model(t, &hand, TENSOR_F32, TENSOR_Q8_0, "hand.gguf", "hand-q8.gguf", &m))
        return;
    const Matrix *e = &m.weights.token_embedding;
    CHECK(t, e->type == TENSOR_Q8_0, "token_embd is %s", tensor_type_name(e->type));
    const uint8_t *b0 = row_bytes(e, 0), *b1 = row_bytes(e, 1), *b2 = row_bytes(e, 2);
    CHECK(t, bits_at(b0) == 0x3008, "d bits 0x%04x, expected 0x3008", bits_at(b0));
    const int js[6] = {0, 16, 17, 19, 24, 31}, qs[6] = {-127, 0, 8, 24, 64, 119};
    for (int k = 0; k < 6; k++) {
        CHECK(t, (int8_t)b0[2 + js[k]] == qs[k], "row 0 q_%d = %d, expected %d", js[k],
              (int8_t)b0[2 + js[k]], qs[k]);
        CHECK(t, (int8_t)b1[2 + js[k]] == -qs[k], "row 1 q_%d = %d, expected %d", js[k],
              (int8_t)b1[2 + js[k]], -qs[k]);
    }
    CHECK(t, q8_0_value(b0, 0) == -15.9990234375f && q8_0_value(b0, 24) == 8.0625f,
          "decoded %.10g %.10g", q8_0_value(b0, 0), q8_0_value(b0, 24));
    CHECK(t, bits_at(b2) == 0, "zero block: d bits 0x%04x", bits_at(b2));
    for (int j = 0; j < 32; j++) CHECK(t, b2[2 + j] == 0, "zero block q_%d = %d", j, b2[2 + j]);
    check_untouched(t, &m, &hand);
    model_close(&m);
}

/* Row 0, x_j = j - 16.  Q4_0: the value of largest magnitude is x_0 = -16, d = -16 / -8 = 2
 * (binary16 0x4000).  q_j = floor(x_j/d + 8.5) = floor(j/2 + 0.5), i.e. j/2 for even j and
 * (j+1)/2 for odd j (x_j/d = -7.5, -6.5, ... are ties: GGML rounds them up), clamped to
 * 15: q_0 = 0, q_1 = 1, q_8 = 4, q_15 = 8, q_16 = 8, q_17 = 9, q_24 = 12, q_31 = 16 -> 15.
 * Bytes: byte i = q_i | q_{i+16} << 4: byte 0 = 0 | 8<<4 = 0x80, byte 1 = 1 | 9<<4 = 0x91,
 * byte 8 = 4 | 12<<4 = 0xC4, byte 15 = 8 | 15<<4 = 0xF8.  Decoded (q - 8) * 2: x_1 = -15 ->
 * -14, x_31 = 15 -> 14.  Row 1 (x_j = 16 - j): largest magnitude +16, d = -2 (0xC000),
 * x/d is the same as in row 0, so the same bytes.  Row 2 (zeros): the largest-magnitude
 * value is 0, d = 0 / -8 = -0 (0x8000), q = floor(0 + 8.5) = 8: bytes 0x88. */
static void test_q4_0_by_hand(TestContext *t) {
    HandModel hand;
    Model m;
    if (quantize_hand_model(t, &hand, TENSOR_F32, TENSOR_Q4_0, "hand.gguf", "hand-q4.gguf", &m))
        return;
    const Matrix *e = &m.weights.token_embedding;
    CHECK(t, e->type == TENSOR_Q4_0, "token_embd is %s", tensor_type_name(e->type));
    const uint8_t *b0 = row_bytes(e, 0), *b1 = row_bytes(e, 1), *b2 = row_bytes(e, 2);
    CHECK(t, bits_at(b0) == 0x4000 && bits_at(b1) == 0xC000 && bits_at(b2) == 0x8000,
          "d bits 0x%04x 0x%04x 0x%04x", bits_at(b0), bits_at(b1), bits_at(b2));
    const int bytes[4] = {0, 1, 8, 15}, expected[4] = {0x80, 0x91, 0xC4, 0xF8};
    for (int k = 0; k < 4; k++)
        CHECK(t, b0[2 + bytes[k]] == expected[k] && b1[2 + bytes[k]] == expected[k],
              "byte %d: 0x%02x / 0x%02x, expected 0x%02x", bytes[k], b0[2 + bytes[k]],
              b1[2 + bytes[k]], expected[k]);
    for (int j = 0; j < 32; j++) CHECK(t, j >= 16 || b2[2 + j] == 0x88, "zero block byte %d", j);
    CHECK(t, q4_0_value(b0, 1) == -14.0f && q4_0_value(b0, 31) == 14.0f &&
          q4_0_value(b1, 1) == 14.0f && q4_0_value(b2, 5) == 0.0f, "decoded %g %g %g %g",
          q4_0_value(b0, 1), q4_0_value(b0, 31), q4_0_value(b1, 1), q4_0_value(b2, 5));
    check_untouched(t, &m, &hand);
    model_close(&m);
}

/* Every element of a quantised matrix against its original.  Q8_0: with the exact
 * d = max|x|/127, |x - q d| <= d/2 (q = round(x/d), |x/d| <= 127, no clamping); d is stored
 * as binary16 d16, which adds |q| |d16 - d|.  Q4_0: |x/d| <= 8 and x/d = -8 at the
 * largest-magnitude value; q - 8 = round(x/d) lies in -8..7, so |x - (q-8) d| <= |d|/2 except
 * where x/d > 7.5 is clamped to 7 (error up to |d|: the known asymmetry of Q4_0); plus
 * |q - 8| |d16 - d| for the stored scale. */
static void check_matrix_bound(TestContext *t, const Matrix *m, const float *x,
                               const char *name) {
    for (int r = 0; r < m->rows; r++) {
        for (int b = 0; b < m->cols / 32; b++) {
            const float *xs = x + (size_t)r * m->cols + b * 32;
            const uint8_t *block = row_bytes(m, r) + (size_t)b * tensor_bytes(m->type, 1, 32);
            float max_abs = 0, max_value = 0;
            for (int j = 0; j < 32; j++)
                if (fabsf(xs[j]) > max_abs) max_abs = fabsf(xs[j]), max_value = xs[j];
            int q8 = m->type == TENSOR_Q8_0;
            double d = q8 ? max_abs / 127.0 : max_value / -8.0, d16 = f16_at(block);
            for (int j = 0; j < 32; j++) {
                double value = q8 ? q8_0_value(block, j) : q4_0_value(block, j);
                double code = q8 ? (int8_t)block[2 + j] : q4_0_code(block, j) - 8;
                int is_clamped = !q8 && d != 0 && xs[j] / d > 7.5;
                double bound = (is_clamped ? fabs(d) : fabs(d) / 2) + fabs(code) * fabs(d16 - d)
                               + 1e-7 * fabs(d);
                if (fabs(value - xs[j]) > bound) {
                    test_fail_at(t, __FILE__, __LINE__, "%s [%d][%d]: %.9g decoded as %.9g, "
                                 "error above the bound %.3g", name, r, b * 32 + j, xs[j],
                                 value, bound);
                    return;
                }
            }
        }
    }
}

static void check_all_bounds(TestContext *t, TensorType target) {
    HandModel hand;
    Model m;
    if (quantize_hand_model(t, &hand, TENSOR_F32, target, "hand.gguf", "hand-bound.gguf", &m))
        return;
    const LayerWeights *l = &m.weights.layers[0];
    const Matrix *matrices[7] = {&m.weights.token_embedding, &l->wq, &l->wk, &l->wv, &l->wo,
                                 &l->w1, &l->w3};
    const float *originals[7] = {hand.embedding, hand.square[0], hand.square[1],
                                 hand.square[2], hand.square[3], hand.up[0], hand.up[1]};
    static const char *const names[7] = {"token_embd", "attn_q", "attn_k", "attn_v",
                                         "attn_output", "ffn_gate", "ffn_up"};
    for (int k = 0; k < 7; k++) {
        CHECK(t, matrices[k]->type == target, "%s is %s", names[k],
              tensor_type_name(matrices[k]->type));
        if (matrices[k]->type == target)
            check_matrix_bound(t, matrices[k], originals[k], names[k]);
    }
    model_close(&m);
}

static void test_q8_0_round_trip_bound(TestContext *t) { check_all_bounds(t, TENSOR_Q8_0); }
static void test_q4_0_round_trip_bound(TestContext *t) { check_all_bounds(t, TENSOR_Q4_0); }

/* F16 target: 0.1 = 2^-4 * 1.6; mantissa 0.6 * 1024 = 614.4 -> 614 = 0x266, exponent
 * -4 + 15 = 11 -> 0x2C00: bits 0x2E66 (0.0999755859375).  j - 16 is exact in binary16. */
static void test_f16_target(TestContext *t) {
    HandModel hand;
    Model m;
    if (quantize_hand_model(t, &hand, TENSOR_F32, TENSOR_F16, "hand.gguf", "hand-f16.gguf", &m))
        return;
    const Matrix *e = &m.weights.token_embedding;
    REQUIRE(t, e->type == TENSOR_F16, "token_embd is %s", tensor_type_name(e->type));
    const uint8_t *row3 = row_bytes(e, 3), *row0 = row_bytes(e, 0);
    CHECK(t, bits_at(row3) == 0x2E66, "0.1 as 0x%04x, expected 0x2E66", bits_at(row3));
    for (int j = 0; j < 32; j++)
        CHECK(t, f16_at(row0 + 2 * j) == (float)(j - 16), "row 0 [%d] = %g", j,
              f16_at(row0 + 2 * j));
    /* with F16 every row length is fine: ffn_down is converted too */
    CHECK(t, m.weights.layers[0].w2.type == TENSOR_F16, "ffn_down is %s",
          tensor_type_name(m.weights.layers[0].w2.type));
    model_close(&m);
}

/* An F16 input: j - 16 is exact in binary16, so the Q8_0 bytes equal the F32 input's. */
static void test_f16_input(TestContext *t) {
    HandModel hand;
    Model m;
    if (quantize_hand_model(t, &hand, TENSOR_F16, TENSOR_Q8_0, "hand16.gguf", "hand16-q8.gguf",
                            &m))
        return;
    const uint8_t *b0 = row_bytes(&m.weights.token_embedding, 0);
    CHECK(t, bits_at(b0) == 0x3008 && (int8_t)b0[2] == -127 && (int8_t)b0[2 + 24] == 64,
          "d 0x%04x q_0 %d q_24 %d", bits_at(b0), (int8_t)b0[2], (int8_t)b0[26]);
    CHECK(t, m.weights.layers[0].w2.type == TENSOR_F16, "ffn_down (rows of 48) stays F16, is %s",
          tensor_type_name(m.weights.layers[0].w2.type));
    model_close(&m);
}

/* Metadata: every key of the input, same values, general.file_type now 7 (Q8_0). */
static void test_metadata_copied(TestContext *t) {
    HandModel hand;
    Model m;
    if (quantize_hand_model(t, &hand, TENSOR_F32, TENSOR_Q8_0, "hand.gguf", "hand-meta.gguf", &m))
        return;
    model_close(&m);
    size_t size = 0;
    char *bytes = read_file(temp_path("hand-meta.gguf"), &size);
    REQUIRE(t, bytes, "cannot read the output back");
    GgufFile f;
    char err[ERR_LEN] = "";
    if (gguf_parse(&f, bytes, size, err, sizeof err)) {
        free(bytes);
        REQUIRE(t, 0, "gguf_parse: %s", err);
    }
    CHECK(t, f.version == 3 && f.n_kv == 12 && f.n_tensors == 12, "version %u, %llu keys "
          "(12, file_type rewritten in place), %llu tensors", f.version, (unsigned long long)f.n_kv,
          (unsigned long long)f.n_tensors);
    const GgufKv *file_type = gguf_find_kv(&f, "general.file_type");
    const GgufKv *base = gguf_find_kv(&f, "llama.rope.freq_base");
    const GgufKv *ids = gguf_find_kv(&f, "test.i32s");
    const GgufKv *name = gguf_find_kv(&f, "general.name");
    CHECK(t, file_type && file_type->type == GGUF_UINT32 && file_type->value.u == 7,
          "general.file_type");
    CHECK(t, base && base->value.f == 500000.0, "freq_base");
    int32_t values[3] = {0, 0, 0};
    if (ids && ids->type == GGUF_ARRAY && ids->value.array.count == 3)
        memcpy(values, ids->value.array.data, sizeof values);
    CHECK(t, values[0] == 5 && values[1] == -6 && values[2] == 7, "test.i32s");
    CHECK(t, name && name->value.s.length == 9 && memcmp(name->value.s.bytes, "hand-made", 9) == 0,
          "general.name");
    const GgufKv *tokens = gguf_find_kv(&f, "tokenizer.ggml.tokens");
    const uint8_t *cursor = tokens ? tokens->value.array.data : NULL;
    GgufString last = {0, 0};
    for (int i = 0; cursor && i < VOCAB; i++) last = gguf_next_array_string(&cursor);
    CHECK(t, last.length == 5 && memcmp(last.bytes, "\xe2\x96\x81hi", 5) == 0, "tokens");
    gguf_free(&f);
    free(bytes);
}

static void expect_refusal(TestContext *t, const char *in, const char *out, TensorType type,
                           const char *needle) {
    char err[ERR_LEN] = "";
    int existed = access(out, F_OK) == 0;
    CHECK(t, quantize_file(in, out, type, NULL, err, sizeof err) == -1 && strstr(err, needle),
          "expected a message with '%s', got '%s'", needle, err);
    CHECK(t, existed == (access(out, F_OK) == 0), "the output file was %s for '%s'",
          existed ? "removed" : "left behind", needle);
}

static void test_bad_inputs(TestContext *t) {
    HandModel hand;
    Model m;
    if (quantize_hand_model(t, &hand, TENSOR_F32, TENSOR_Q8_0, "hand.gguf", "hand-q8.gguf", &m))
        return;
    model_close(&m);
    const char *in = temp_path("hand.gguf"), *q8 = temp_path("hand-q8.gguf");
    const char *out = temp_path("refused.gguf"), *text = temp_path("text.gguf");
    REQUIRE(t, write_file(text, "not a model at all", 18) == 0, "write");
    expect_refusal(t, temp_path("missing.gguf"), out, TENSOR_Q8_0, "missing.gguf");
    expect_refusal(t, text, out, TENSOR_Q8_0, "not a GGUF");
    expect_refusal(t, q8, out, TENSOR_Q4_0, "F32 or F16");
    expect_refusal(t, in, in, TENSOR_Q8_0, "both input and output"); /* input kept */
    expect_refusal(t, in, out, TENSOR_F32, "not one of");
    expect_refusal(t, in, "/nonexistent-dir/x.gguf", TENSOR_Q8_0, "cannot create");
    REQUIRE_SHARED(t, bin, "models/stories260K.bin");
    expect_refusal(t, bin, out, TENSOR_Q8_0, "llama2.c checkpoint");
}

/* The real small model: Q8_0 keeps its perplexity-relevant numbers close; here only that
 * the file opens and the matrices of rows of 64 are Q8_0 while ffn_down (rows of 172)
 * stays F32, with the note on the notes stream. */
static void test_stories260k(TestContext *t) {
    REQUIRE_SHARED(t, path, "models/stories260K.gguf");
    const char *out = temp_path("s260k-q8.gguf"), *notes_path = temp_path("notes.txt");
    FILE *notes = fopen(notes_path, "w");
    REQUIRE(t, notes, "notes file");
    char err[ERR_LEN] = "";
    int rc = quantize_file(path, out, TENSOR_Q8_0, notes, err, sizeof err);
    fclose(notes);
    REQUIRE(t, rc == 0, "quantize_file: %s", err);
    Model m;
    REQUIRE(t, model_open(&m, out, err, sizeof err) == 0, "model_open: %s", err);
    CHECK(t, m.weights.layers[0].wq.type == TENSOR_Q8_0 && m.weights.layers[0].w2.type ==
          TENSOR_F32, "types %s / %s", tensor_type_name(m.weights.layers[0].wq.type),
          tensor_type_name(m.weights.layers[0].w2.type));
    model_close(&m);
    char *text = read_file(notes_path, NULL);
    CHECK(t, text && strstr(text, "blk.4.ffn_down.weight has rows of 172"), "notes: %s",
          text ? text : "(none)");
    free(text);
}

/* Logits of SEQ tokens through the engine, `block` tokens per forward: short blocks and
 * single tokens go to the row kernels; the whole sequence to the tiled integer kernels where
 * they are built in (qgemm_has_tiles), else to sgemm over dequantised weights with float
 * activations. */
enum { SEQ = 40 };
static int quantised_logits(TestContext *t, const char *path, int block, float *out) {
    EngineOptions o = {.context = 256, .max_batch = SEQ, .threads = 2, .kv_type = KV_F32,
                       .key_policy = KEYS_ROTATED_AT_STORE};
    Engine e;
    if (engine_fixture_open(t, &e, path, o, 0) != 0) return -1;
    int vocab = transformer_vocab_size(e.t), ids[SEQ], rc = 0;
    for (int i = 0; i < SEQ; i++) ids[i] = 1 + (i * 37) % (vocab - 1);
    char err[ERR_LEN];
    for (int i = 0; i < SEQ && rc == 0; i += block) {
        int n = SEQ - i < block ? SEQ - i : block;
        const float *l = transformer_forward(e.t, ids + i, n, i, 1, err, sizeof err);
        if (!l) { test_fail_at(t, __FILE__, __LINE__, "forward: %s", err); rc = -1; break; }
        memcpy(out + (size_t)i * vocab, l, (size_t)n * vocab * sizeof *out);
    }
    engine_fixture_close(&e);
    return rc;
}

/* Decode of Q8_0 and Q4_0 weights quantises the activations to Q8_0 per block of 32 (as
 * llama.cpp does); without the tiled integer kernels the block path multiplies the
 * dequantised weights by float activations, with them it quantises them too (then the
 * figure called the weights' rounding below includes the activations', and the two paths
 * may agree exactly). The project's own model (models/kjv.gguf, F32) quantised both ways, logits of
 * 40 positions: the activation rounding is set against what the weights' own rounding does
 * to the logits (block path of the quantised file vs the F32 file). For Q8_0 the two are the
 * same 8-bit rounding of one operand or the other, so of one size: at most twice (measured
 * 0.096 against 0.100). Q4_0 weights are rounded 16 times coarser (4 bits): at most a
 * quarter (measured 0.077 against 1.32). A misread block (wrong nibble order, wrong scale)
 * moves logits by whole units. The paths must also differ: the activations are rounded.
 * Blocks of 5 tokens take the same row kernels as single tokens and only their attention
 * differs, by float rounding; but that can carry an activation across a rounding boundary
 * of its Q8_0 block (measured 0.039 for Q4_0), so the limit is the same one, not 1e-4. A
 * token of the block read in place of another moves logits by whole units. */
static void test_quantised_decode_near_block_path(TestContext *t) {
    const char *f32 = "models/kjv.gguf";
    size_t n = (size_t)SEQ * 1024;
    float *ref = malloc(n * sizeof *ref), *block = malloc(n * sizeof *block),
          *decode = malloc(n * sizeof *decode), *short_blocks = malloc(n * sizeof *short_blocks);
    REQUIRE(t, ref && block && decode && short_blocks, "out of memory");
    const TensorType types[2] = {TENSOR_Q8_0, TENSOR_Q4_0};
    if (quantised_logits(t, f32, SEQ, ref) == 0)
        for (int k = 0; k < 2; k++) {
            const char *path = temp_path(k ? "kjv-q4_0.gguf" : "kjv-q8_0.gguf");
            char err[ERR_LEN] = "";
            FILE *notes = fopen("/dev/null", "w");
            int rc = quantize_file(f32, path, types[k], notes, err, sizeof err);
            if (notes) fclose(notes);
            if (rc != 0) { test_fail_at(t, __FILE__, __LINE__, "quantize: %s", err); break; }
            if (quantised_logits(t, path, SEQ, block) || quantised_logits(t, path, 1, decode) ||
                quantised_logits(t, path, 5, short_blocks))
                break;
            double weights = max_abs_diff(ref, block, n);
            double activations = max_abs_diff(block, decode, n);
            double limit = types[k] == TENSOR_Q8_0 ? 2.0 * weights : weights / 4.0;
            int must_differ = !qgemm_has_tiles();
            CHECK(t, (activations > 0 || !must_differ) && activations <= limit,
                  "%s: decode vs block path %.3g, "
                  "limit %.3g (weight quantisation moves logits by %.3g)",
                  tensor_type_name(types[k]), activations, limit, weights);
            double rows = max_abs_diff(decode, short_blocks, n);
            CHECK(t, rows <= limit, "%s: blocks of 5 through the row kernels vs one by one: "
                  "%.3g (limit %.3g)", tensor_type_name(types[k]), rows, limit);
        }
    free(ref);
    free(block);
    free(decode);
    free(short_blocks);
}

/* Our encoders against llama-quantize's (de3ff81, tests/llamacpp/make_reference.sh): models/kjv.gguf
 * re-encoded here as Q4_1, Q5_0, Q5_1 and BF16 must give, byte for byte, the tensors that
 * llama-quantize wrote in those types into tests/llamacpp/kjv-mix.gguf (attn_v Q4_1,
 * attn_output Q5_0, ffn_gate Q5_1, blk.0.ffn_up BF16); and ./run on our BF16 file must
 * give llama-perplexity's figure for its own BF16 file (reference.json). */
static int same_tensor_bytes(TestContext *t, const GgufFile *ours, const GgufFile *theirs,
                             const char *name, TensorType type) {
    const GgufTensorInfo *a = gguf_find_tensor(ours, name), *b = gguf_find_tensor(theirs, name);
    if (!a || !b || a->type != (uint32_t)type || b->type != (uint32_t)type) {
        test_fail_at(t, __FILE__, __LINE__, "%s: not %s in both files", name,
                     tensor_type_name(type));
        return 0;
    }
    int same = a->n_bytes == b->n_bytes && memcmp(a->data, b->data, (size_t)a->n_bytes) == 0;
    CHECK(t, same, "%s (%s): our bytes differ from llama-quantize's", name, tensor_type_name(type));
    return same;
}

static int parse_file(TestContext *t, const char *path, char **bytes, GgufFile *f) {
    size_t size;
    char err[ERR_LEN];
    *bytes = read_file(path, &size);
    if (!*bytes || gguf_parse(f, *bytes, size, err, sizeof err)) {
        test_fail_at(t, __FILE__, __LINE__, "%s: %s", path, *bytes ? err : "cannot read");
        free(*bytes);
        return -1;
    }
    return 0;
}

static void test_matches_llama_quantize(TestContext *t) {
    static const struct { TensorType type; const char *file, *family; } cases[] = {
        {TENSOR_Q4_1, "kjv-q4_1.gguf", "attn_v"},
        {TENSOR_Q5_0, "kjv-q5_0.gguf", "attn_output"},
        {TENSOR_Q5_1, "kjv-q5_1.gguf", "ffn_gate"},
        {TENSOR_BF16, "kjv-bf16.gguf", "ffn_up"},
    };
    char *mix_bytes, err[ERR_LEN] = "";
    GgufFile mix;
    if (parse_file(t, "tests/llamacpp/kjv-mix.gguf", &mix_bytes, &mix)) return;
    int same = 0, compared = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const char *out = temp_path(cases[c].file);
        if (quantize_file("models/kjv.gguf", out, cases[c].type, NULL, err, sizeof err)) {
            test_fail_at(t, __FILE__, __LINE__, "quantize_file: %s", err);
            continue;
        }
        char *bytes;
        GgufFile ours;
        if (parse_file(t, out, &bytes, &ours)) continue;
        for (int layer = 0; layer < (cases[c].type == TENSOR_BF16 ? 1 : 4); layer++) {
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s.weight", layer, cases[c].family);
            same += same_tensor_bytes(t, &ours, &mix, name, cases[c].type);
            compared++;
        }
        gguf_free(&ours);
        free(bytes);
    }
    CHECK(t, compared == 13 && same == compared, "%d of %d tensors byte-identical", same, compared);
    gguf_free(&mix);
    free(mix_bytes);
}

/* The K-quant encoders and mixes against llama-quantize: our q4_k_m and q6_k files of
 * models/kjv.gguf must hold every tensor of tests/llamacpp/kjv-q4_k_m.gguf and kjv-q6_k.gguf
 * in the same type with the same bytes (Q4_K, Q6_K, the layers' attn_v and ffn_down rule,
 * the F16 fallback of ffn_down's rows of 688); and the Q2_K, Q3_K and Q5_K tensors of
 * kjv-mix.gguf (attn_q, attn_k, token_embd, ffn_up) must be what encode_row makes of the same rows. */
static void test_k_mixes_match_llama_quantize(TestContext *t) {
    static const char *const mixes[] = {"q4_k_m", "q6_k"};
    char err[ERR_LEN] = "";
    int same = 0, compared = 0;
    for (size_t c = 0; c < sizeof mixes / sizeof mixes[0]; c++) {
        char theirs_path[64], *theirs_bytes, *our_bytes;
        snprintf(theirs_path, sizeof theirs_path, "tests/llamacpp/kjv-%s.gguf", mixes[c]);
        const char *out = temp_path(mixes[c]);
        if (quantize_file_as("models/kjv.gguf", out, quant_recipe_named(mixes[c]), NULL, err,
                             sizeof err)) {
            test_fail_at(t, __FILE__, __LINE__, "quantize %s: %s", mixes[c], err);
            continue;
        }
        GgufFile theirs, ours;
        if (parse_file(t, theirs_path, &theirs_bytes, &theirs)) continue;
        if (parse_file(t, out, &our_bytes, &ours) == 0) {
            for (uint64_t i = 0; i < theirs.n_tensors; i++, compared++) {
                char name[96];
                const GgufTensorInfo *b = &theirs.tensors[i];
                snprintf(name, sizeof name, "%.*s", (int)b->name.length, b->name.bytes);
                same += same_tensor_bytes(t, &ours, &theirs, name, (TensorType)b->type);
            }
            gguf_free(&ours);
            free(our_bytes);
        }
        gguf_free(&theirs);
        free(theirs_bytes);
    }
    CHECK(t, compared == 2 * 39 && same == compared, "%d of %d tensors byte-identical", same,
          compared);
}

static void test_k_blocks_match_llama_quantize(TestContext *t) {
    char *mix_bytes, *source_bytes;
    GgufFile mix, source;
    if (parse_file(t, "tests/llamacpp/kjv-mix.gguf", &mix_bytes, &mix)) return;
    if (parse_file(t, "models/kjv.gguf", &source_bytes, &source) == 0) {
        int same = 0, blocks = 0, types_seen = 0;
        for (uint64_t i = 0; i < mix.n_tensors; i++) {
            const GgufTensorInfo *q = &mix.tensors[i];
            TensorType type = (TensorType)q->type;
            if (type < TENSOR_Q2_K || type > TENSOR_Q6_K) continue;
            types_seen |= 1 << (type - TENSOR_Q2_K);
            char name[96];
            snprintf(name, sizeof name, "%.*s", (int)q->name.length, q->name.bytes);
            const GgufTensorInfo *f = gguf_find_tensor(&source, name);
            int cols = (int)q->ne[0];
            size_t row_bytes = tensor_bytes(type, 1, cols), block = row_bytes / (cols / QK_K);
            float *row = malloc((size_t)cols * sizeof *row);
            uint8_t *encoded = malloc(row_bytes);
            for (uint64_t r = 0; f && row && encoded && r < q->ne[1]; r++) {
                half_to_float_row((const uint16_t *)f->data + r * cols, row, cols);
                encode_row(type, row, cols, encoded);
                for (int b = 0; b < cols / QK_K; b++, blocks++)
                    same += memcmp(encoded + b * block,
                                   (const uint8_t *)q->data + r * row_bytes + b * block, block) == 0;
            }
            free(row);
            free(encoded);
        }
        /* Q2_K (attn_q: 4 x 256 rows of 1 block), Q3_K (attn_k: 4 x 128), Q5_K (token_embd:
         * 1024 rows; the ffn_up of layers 1-3: 688 each) */
        int want = 4 * 256 + 4 * 128 + 1024 + 3 * 688, q2_q3_q5 = 1 | 2 | 8;
        CHECK(t, types_seen == q2_q3_q5 && blocks == want && same == blocks,
              "%d of %d Q2_K / Q3_K / Q5_K blocks byte-identical (types seen %#x)", same, blocks,
              types_seen);
        gguf_free(&source);
        free(source_bytes);
    }
    gguf_free(&mix);
    free(mix_bytes);
}

static void test_bf16_ppl_matches_llamacpp(TestContext *t) {
    char err[ERR_LEN] = "", out[4096], errs[4096];
    const char *path = temp_path("kjv-bf16-ppl.gguf");
    REQUIRE(t, quantize_file("models/kjv.gguf", path, TENSOR_BF16, NULL, err, sizeof err) == 0,
            "quantize_file: %s", err);
    JsonValue *ref = json_parse_file("tests/llamacpp/reference.json");
    REQUIRE(t, ref, "cannot read tests/llamacpp/reference.json");
    const JsonValue *rows = json_get(ref, "ppl");
    double want = NAN;
    for (int i = 0; rows && i < rows->n_items; i++)
        if (strcmp(json_get(&rows->items[i], "file")->string, "kjv-bf16.gguf") == 0)
            want = json_number(&rows->items[i], test_quick() ? "ppl_16_chunks" : "ppl", NAN);
    json_free(ref);
    const char *argv[] = {run_binary(), path, "--ppl", "models/kjv-heldout.txt", "-c", "256",
                          "--ppl-score-from", "128", "-t", "2", "--json",
                          test_quick() ? "--ppl-chunks" : NULL, "16", NULL};
    int status = run_command(argv, out, sizeof out, errs, sizeof errs, 600);
    JsonValue *report = status == 0 ? json_parse(out) : NULL;
    double got = report ? json_number(report, "ppl", NAN) : NAN;
    json_free(report);
    CHECK(t, fabs(got - want) <= 1e-3 * want, "BF16 ppl %.4f, llama.cpp %.4f (%s)", got, want,
          status == 0 ? "" : errs);
}

static const TestCase quantize_tests[] = {
    {"q8_0_by_hand", test_q8_0_by_hand},
    {"q4_0_by_hand", test_q4_0_by_hand},
    {"q8_0_round_trip_bound", test_q8_0_round_trip_bound},
    {"q4_0_round_trip_bound", test_q4_0_round_trip_bound},
    {"f16_target", test_f16_target},
    {"f16_input", test_f16_input},
    {"metadata_copied", test_metadata_copied},
    {"bad_inputs", test_bad_inputs},
    {"stories260k", test_stories260k},
    {"quantised_decode_near_block_path", test_quantised_decode_near_block_path},
    {"matches_llama_quantize", test_matches_llama_quantize},
    {"bf16_ppl_matches_llamacpp", test_bf16_ppl_matches_llamacpp},
    {"k_mixes_match_llama_quantize", test_k_mixes_match_llama_quantize},
    {"k_blocks_match_llama_quantize", test_k_blocks_match_llama_quantize},
    {NULL, NULL},
};

TEST_SUITE(quantize, quantize_tests)
