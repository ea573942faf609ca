/* test_gguf_writer.c — the GGUF writer (models/gguf_writer.c): exact bytes of a tiny file
 * derived by hand from the GGUF v3 layout, a round trip of every value and tensor type
 * through the project's reader (models/gguf.c), Q8_0 blocks worked out by hand, and bad
 * inputs. */
#include "harness.h"

#include "../models/gguf.h"
#include "../models/gguf_writer.h"
#include "../util/errors.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint32_t u32_at(const char *bytes, size_t at) {
    uint32_t v;
    memcpy(&v, bytes + at, 4);
    return v;
}

static uint64_t u64_at(const char *bytes, size_t at) {
    uint64_t v;
    memcpy(&v, bytes + at, 8);
    return v;
}

/* One key, no tensors.  By hand: magic 4 + version 4 + n_tensors 8 + n_kv 8 = 24 bytes,
 * then the key: length 8 + "a" 1 + type 4 + value 4 = 17, so 41 bytes, padded to 64. */
static void test_tiny_file_bytes(TestContext *t) {
    char err[ERR_LEN] = "";
    GgufWriter *w = gguf_writer_new(err, sizeof err);
    REQUIRE(t, w, "new: %s", err);
    CHECK(t, gguf_writer_add_u32(w, "a", 7, err, sizeof err) == 0, "add: %s", err);
    const char *path = temp_path("tiny.gguf");
    REQUIRE(t, gguf_writer_write(w, path, err, sizeof err) == 0, "write: %s", err);
    gguf_writer_free(w);
    size_t size = 0;
    char *bytes = read_file(path, &size);
    REQUIRE(t, bytes, "cannot read back %s", path);
    CHECK(t, size == 64, "size %zu, expected 41 padded to 64", size);
    CHECK(t, memcmp(bytes, "GGUF", 4) == 0, "magic");
    CHECK(t, u32_at(bytes, 4) == 3, "version %u", u32_at(bytes, 4));
    CHECK(t, u64_at(bytes, 8) == 0 && u64_at(bytes, 16) == 1, "counts");
    CHECK(t, u64_at(bytes, 24) == 1 && bytes[32] == 'a', "key");
    CHECK(t, u32_at(bytes, 33) == 4 && u32_at(bytes, 37) == 7, "type UINT32 (4), value 7");
    for (size_t i = 41; i < size; i++) CHECK(t, bytes[i] == 0, "padding byte %zu", i);
    free(bytes);
}

/* x_j = j - 16: max|x| = 16, d = 16/127 = 0.12598..., as binary16 2^-3 * (1 + 8/1024) =
 * 0x3008; q_j = round((j - 16) * 127/16): q_0 = -127, q_16 = 0, q_17 = round(7.9375) = 8,
 * q_31 = round(119.06) = 119. */
static void test_q8_0_block_by_hand(TestContext *t) {
    float x[32];
    for (int j = 0; j < 32; j++) x[j] = (float)(j - 16);
    uint8_t block[34];
    gguf_quantize_q8_0_block(x, block);
    uint16_t d;
    memcpy(&d, block, 2);
    CHECK(t, d == 0x3008, "scale 0x%04x, expected 0x3008", d);
    const int8_t *q = (const int8_t *)(block + 2);
    CHECK(t, q[0] == -127 && q[16] == 0 && q[17] == 8 && q[31] == 119,
          "q = %d %d %d %d, expected -127 0 8 119", q[0], q[16], q[17], q[31]);
    float zeros[32] = {0};
    gguf_quantize_q8_0_block(zeros, block);
    for (int j = 0; j < 34; j++) CHECK(t, block[j] == 0, "all-zero block byte %d", j);
}

static const float F32_VALUES[3] = {1.5f, -2.0f, 0.25f};
static const int32_t I32_VALUES[2] = {-5, 1 << 20};
static const char *const STRINGS[3] = {"\xE2\x96\x81the", "<0x0A>", ""};

static int write_everything(const char *path, const float *matrix, const float *q8_rows,
                            char *err, size_t n) {
    GgufWriter *w = gguf_writer_new(err, n);
    uint64_t ne_vector[1] = {3}, ne_matrix[2] = {3, 2}, ne_q8[2] = {32, 2};
    int status = !w ||
        gguf_writer_add_string(w, "general.architecture", "llama", err, n) ||
        gguf_writer_add_i32(w, "test.i32", -42, err, n) ||
        gguf_writer_add_f32(w, "test.f32", 0.1f, err, n) ||
        gguf_writer_add_string_array(w, "test.strings", STRINGS, NULL, 3, err, n) ||
        gguf_writer_add_f32_array(w, "test.f32s", F32_VALUES, 3, err, n) ||
        gguf_writer_add_i32_array(w, "test.i32s", I32_VALUES, 2, err, n) ||
        gguf_writer_add_tensor(w, "vector", F32_VALUES, 1, ne_vector, TENSOR_F32, err, n) ||
        gguf_writer_add_tensor(w, "matrix", matrix, 2, ne_matrix, TENSOR_F16, err, n) ||
        gguf_writer_add_tensor(w, "q8", q8_rows, 2, ne_q8, TENSOR_Q8_0, err, n) ||
        gguf_writer_write(w, path, err, n);
    gguf_writer_free(w);
    return status ? -1 : 0;
}

static void check_round_trip_values(TestContext *t, const GgufFile *f) {
    char err[ERR_LEN] = "";
    int64_t i = 0;
    double x = 0;
    GgufString s = {0};
    CHECK(t, f->version == 3 && f->n_kv == 6 && f->n_tensors == 3, "counts");
    CHECK(t, gguf_kv_string(gguf_find_kv(f, "general.architecture"), &s, err, sizeof err) == 0
          && s.length == 5 && memcmp(s.bytes, "llama", 5) == 0, "architecture: %s", err);
    CHECK(t, gguf_kv_int(gguf_find_kv(f, "test.i32"), &i, err, sizeof err) == 0 && i == -42,
          "i32 %lld %s", (long long)i, err);
    CHECK(t, gguf_kv_float(gguf_find_kv(f, "test.f32"), &x, err, sizeof err) == 0 &&
          x == (double)0.1f, "f32 %g %s", x, err);
    const GgufKv *strings = gguf_find_kv(f, "test.strings");
    REQUIRE(t, strings && strings->value.array.count == 3, "string array");
    const uint8_t *cursor = strings->value.array.data;
    for (int k = 0; k < 3; k++) {
        s = gguf_next_array_string(&cursor);
        CHECK(t, s.length == strlen(STRINGS[k]) && memcmp(s.bytes, STRINGS[k], s.length) == 0,
              "string %d", k);
    }
    const GgufKv *floats = gguf_find_kv(f, "test.f32s"), *ints = gguf_find_kv(f, "test.i32s");
    REQUIRE(t, floats && ints, "arrays present");
    CHECK(t, memcmp(floats->value.array.data, F32_VALUES, sizeof F32_VALUES) == 0, "f32 array");
    CHECK(t, memcmp(ints->value.array.data, I32_VALUES, sizeof I32_VALUES) == 0, "i32 array");
}

/* F16 by hand: 1.0 = 0x3C00, -2.0 = 0xC000, 0.5 = 0x3800, 65504 = 0x7BFF, 2^-24 = 0x0001,
 * 0 = 0x0000. */
static void check_round_trip_tensors(TestContext *t, const GgufFile *f) {
    const GgufTensorInfo *v = gguf_find_tensor(f, "vector"), *m = gguf_find_tensor(f, "matrix");
    const GgufTensorInfo *q = gguf_find_tensor(f, "q8");
    REQUIRE(t, v && m && q, "tensors present");
    CHECK(t, f->data_offset % 32 == 0, "data section at %llu", (unsigned long long)f->data_offset);
    CHECK(t, v->type == 0 && v->n_dims == 1 && v->ne[0] == 3 && v->offset == 0, "vector info");
    CHECK(t, memcmp(v->data, F32_VALUES, sizeof F32_VALUES) == 0, "vector data");
    CHECK(t, m->type == 1 && m->n_dims == 2 && m->ne[0] == 3 && m->ne[1] == 2 &&
          m->offset == 32, "matrix info (12 bytes of vector padded to 32)");
    static const uint16_t halves[6] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0000};
    CHECK(t, memcmp(m->data, halves, sizeof halves) == 0, "matrix F16 data");
    CHECK(t, q->type == 8 && q->ne[0] == 32 && q->ne[1] == 2 && q->offset == 64 &&
          q->n_bytes == 68, "q8 info: offset %llu, bytes %llu", (unsigned long long)q->offset,
          (unsigned long long)q->n_bytes);
    const uint8_t *block = (const uint8_t *)q->data + 34; /* second row: x_j = j - 16 */
    uint16_t d;
    memcpy(&d, block, 2);
    CHECK(t, d == 0x3008 && (int8_t)block[2] == -127 && (int8_t)block[33] == 119, "q8 row 1");
}

static void test_round_trip_through_reader(TestContext *t) {
    char err[ERR_LEN] = "";
    const float matrix[6] = {1.0f, -2.0f, 0.5f, 65504.0f, 5.9604645e-8f, 0.0f};
    float q8_rows[64] = {0};
    for (int j = 0; j < 32; j++) q8_rows[32 + j] = (float)(j - 16);
    const char *path = temp_path("round_trip.gguf");
    REQUIRE(t, write_everything(path, matrix, q8_rows, err, sizeof err) == 0, "write: %s", err);
    size_t size = 0;
    char *bytes = read_file(path, &size);
    REQUIRE(t, bytes, "cannot read back %s", path);
    GgufFile file;
    if (gguf_parse(&file, bytes, size, err, sizeof err) != 0) {
        free(bytes);
        REQUIRE(t, 0, "reader rejects the writer's file: %s", err);
    }
    check_round_trip_values(t, &file);
    check_round_trip_tensors(t, &file);
    gguf_free(&file);
    free(bytes);
}

static void test_bad_inputs(TestContext *t) {
    char err[ERR_LEN] = "";
    GgufWriter *w = gguf_writer_new(err, sizeof err);
    REQUIRE(t, w, "new: %s", err);
    float data[48] = {0};
    uint64_t ne48[1] = {48}, ne1[1] = {1};
    CHECK(t, gguf_writer_add_u32(w, "k", 1, err, sizeof err) == 0, "first key");
    CHECK(t, gguf_writer_add_u32(w, "k", 2, err, sizeof err) == -1 && strstr(err, "twice"),
          "duplicate key: '%s'", err);
    CHECK(t, gguf_writer_add_f32(w, "", 1, err, sizeof err) == -1 && strstr(err, "empty"),
          "empty key: '%s'", err);
    CHECK(t, gguf_writer_add_string(w, "s", NULL, err, sizeof err) == -1, "NULL string");
    CHECK(t, gguf_writer_add_f32_array(w, "a", NULL, 2, err, sizeof err) == -1, "NULL array");
    CHECK(t, gguf_writer_add_tensor(w, "q", data, 1, ne48, TENSOR_Q8_0, err, sizeof err) == -1
          && strstr(err, "divisible"), "Q8_0 of 48: '%s'", err);
    CHECK(t, gguf_writer_add_tensor(w, "x", data, 0, ne1, TENSOR_F32, err, sizeof err) == -1,
          "0 dimensions");
    CHECK(t, gguf_writer_add_tensor(w, "x", data, 1, ne1, TENSOR_Q4_0, err, sizeof err) == -1
          && strstr(err, "cannot produce"), "Q4_0: '%s'", err);
    CHECK(t, gguf_writer_add_tensor(w, "x", NULL, 1, ne1, TENSOR_F32, err, sizeof err) == -1,
          "NULL data");
    CHECK(t, gguf_writer_add_tensor(w, "x", data, 1, ne1, TENSOR_F32, err, sizeof err) == 0,
          "good tensor: %s", err);
    CHECK(t, gguf_writer_add_tensor(w, "x", data, 1, ne1, TENSOR_F32, err, sizeof err) == -1
          && strstr(err, "twice"), "duplicate tensor: '%s'", err);
    const char *bad_path = "/nonexistent-dir/out.gguf";
    CHECK(t, gguf_writer_write(w, bad_path, err, sizeof err) == -1 && strstr(err, bad_path),
          "unwritable path: '%s'", err);
    CHECK(t, access(bad_path, F_OK) != 0, "no partial file");
    gguf_writer_free(w);
}

static const TestCase gguf_writer_tests[] = {
    {"tiny_file_bytes", test_tiny_file_bytes},
    {"q8_0_block_by_hand", test_q8_0_block_by_hand},
    {"round_trip_through_reader", test_round_trip_through_reader},
    {"bad_inputs", test_bad_inputs},
    {NULL, NULL},
};

TEST_SUITE(gguf_writer, gguf_writer_tests)
