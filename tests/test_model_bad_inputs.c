/* test_model_bad_inputs.c — malformed model files, built in code by copying the real files
 * in ../shared/models and corrupting one field: model_open must return -1 with a message that
 * names the problem, leave the Model closed, and leak nothing (checked under LeakSanitizer). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../models/model.h"
#include "../util/errors.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#define LEAKS_FOUND() __lsan_do_recoverable_leak_check()
#else
#define LEAKS_FOUND() 0
#endif

#define BIN_PATH "models/stories260K.bin"
#define GGUF_PATH "models/stories260K.gguf"

typedef struct {
    unsigned char *bytes;
    size_t size;
} Blob;

static int load_shared(TestContext *t, const char *relative, Blob *out) {
    const char *path = shared_path(relative);
    if (!path) {
        test_skip(t, "../shared/%s is absent", relative);
        return 0;
    }
    out->bytes = (unsigned char *)read_file(path, &out->size);
    CHECK(t, out->bytes != NULL, "cannot read %s", path);
    return out->bytes != NULL;
}

/* Offset just past the first GGUF string (u64 length, bytes) equal to `text`; 0 if absent.
 * The length prefix keeps "output.weight" from matching inside "attn_output.weight". */
static size_t after(const Blob *b, const char *text) {
    uint64_t n = strlen(text);
    unsigned char needle[128];
    memcpy(needle, &n, 8);
    memcpy(needle + 8, text, n);
    for (size_t i = 0; i + 8 + n <= b->size; i++)
        if (memcmp(b->bytes + i, needle, 8 + n) == 0) return i + 8 + n;
    return 0;
}

static void set_u32(Blob *b, size_t at, uint32_t v) { memcpy(b->bytes + at, &v, 4); }
static void set_u64(Blob *b, size_t at, uint64_t v) { memcpy(b->bytes + at, &v, 8); }
static uint64_t get_u64(const Blob *b, size_t at) {
    uint64_t v;
    memcpy(&v, b->bytes + at, 8);
    return v;
}

/* Writes size bytes and expects model_open to fail with `expected` in the message. */
static void expect_failure(TestContext *t, const void *bytes, size_t size, const char *expected) {
    const char *path = temp_path("bad.model");
    REQUIRE(t, write_file(path, bytes, size) == 0, "cannot write %s", path);
    Model m;
    memset(&m, 0x5a, sizeof m); /* model_open must not rely on a zeroed Model */
    char err[ERR_LEN] = "";
    int rc = model_open(&m, path, err, sizeof err);
    CHECK(t, rc == -1, "model_open returned %d for a bad file (expected '%s')", rc, expected);
    if (rc == 0) model_close(&m);
    CHECK(t, err[0] != 0, "empty error message");
    CHECK(t, strstr(err, expected) != NULL, "message '%s' lacks '%s'", err, expected);
    CHECK(t, m.mapping == NULL && m.weights.layers == NULL && m.vocab.pieces == NULL &&
             m.owned == NULL, "Model not left closed");
    CHECK(t, LEAKS_FOUND() == 0, "memory leaked on failure ('%s')", err);
}

/* The blob with one u32/u64 patched at `at`, expected to fail; frees the blob. */
static void expect_patched_u32(TestContext *t, Blob *b, size_t at, uint32_t v, const char *expected) {
    REQUIRE(t, at > 0 && at + 4 <= b->size, "patch position not found");
    set_u32(b, at, v);
    expect_failure(t, b->bytes, b->size, expected);
}

static void expect_patched_u64(TestContext *t, Blob *b, size_t at, uint64_t v, const char *expected) {
    REQUIRE(t, at > 0 && at + 8 <= b->size, "patch position not found");
    set_u64(b, at, v);
    expect_failure(t, b->bytes, b->size, expected);
}

/* ---- any file ---- */

static void test_missing_file(TestContext *t) {
    Model m;
    char err[ERR_LEN] = "";
    CHECK(t, model_open(&m, temp_path("does-not-exist.gguf"), err, sizeof err) == -1, "rc");
    CHECK(t, strstr(err, "cannot open") != NULL, "message '%s'", err);
}

static void test_empty_file(TestContext *t) { expect_failure(t, "", 0, "empty"); }
static void test_three_byte_file(TestContext *t) { expect_failure(t, "GGU", 3, "too small"); }

static void test_wrong_magic(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    memcpy(b.bytes, "GGUX", 4);
    expect_failure(t, b.bytes, b.size, "not a GGUF file");
    free(b.bytes);
}

/* ---- GGUF header and metadata ---- */

static void test_gguf_version_1(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u32(t, &b, 4, 1, "unsupported GGUF version 1");
    free(b.bytes);
}

static void test_gguf_truncated_header(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_failure(t, b.bytes, 20, "truncated");
    free(b.bytes);
}

static void test_gguf_truncated_metadata(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    size_t cut = after(&b, "llama.context_length"); /* in the middle of the KV section */
    REQUIRE(t, cut > 0, "key not found");
    expect_failure(t, b.bytes, cut + 2, "truncated");
    free(b.bytes);
}

static void test_gguf_string_past_eof(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u64(t, &b, 24, 1ull << 40, "string length"); /* first key's length */
    free(b.bytes);
}

static void test_gguf_array_count_absurd(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    /* key bytes, u32 type 9 (array), u32 element type 8 (string), u64 count */
    expect_patched_u64(t, &b, after(&b, "tokenizer.ggml.tokens") + 8, 1ull << 60, "array count");
    free(b.bytes);
}

static void test_gguf_tensor_count_absurd(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u64(t, &b, 8, 1ull << 60, "tensor count");
    free(b.bytes);
}

static void test_gguf_kv_count_absurd(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u64(t, &b, 16, UINT64_MAX, "metadata count");
    free(b.bytes);
}

static void test_gguf_unsupported_architecture(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    size_t at = after(&b, "general.architecture") + 4 + 8; /* type, length, "llama" */
    REQUIRE(t, at > 12 && memcmp(b.bytes + at, "llama", 5) == 0, "architecture value");
    memcpy(b.bytes + at, "mamba", 5);
    expect_failure(t, b.bytes, b.size, "unsupported architecture 'mamba'");
    free(b.bytes);
}

static void test_gguf_heads_not_dividing_dim(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    /* key, u32 type 4, u32 value 8 -> 7 */
    expect_patched_u32(t, &b, after(&b, "llama.attention.head_count") + 4, 7,
                       "n_heads 7 does not divide dim 64");
    free(b.bytes);
}

static void test_gguf_kv_heads_not_dividing_heads(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u32(t, &b, after(&b, "llama.attention.head_count_kv") + 4, 3,
                       "n_kv_heads 3 does not divide n_heads 8");
    free(b.bytes);
}

/* ---- GGUF tensor directory and data ---- */

/* Tensor info after the name: u32 n_dims, u64 ne[n_dims], u32 type, u64 offset. */
#define NDIMS_AT(name_end) (name_end)
#define NE_AT(name_end, d) ((name_end) + 4 + 8 * (d))
#define TYPE_AT_2D(name_end) ((name_end) + 4 + 16)
#define OFFSET_AT_2D(name_end) ((name_end) + 4 + 16 + 4)

static void test_gguf_truncated_tensor_data(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_failure(t, b.bytes, b.size - 100, "truncated");
    free(b.bytes);
}

static void test_gguf_tensor_offset_unaligned(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    size_t at = OFFSET_AT_2D(after(&b, "blk.0.attn_q.weight"));
    expect_patched_u64(t, &b, at, get_u64(&b, at) + 4, "not aligned");
    free(b.bytes);
}

static void test_gguf_tensor_offset_out_of_file(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u64(t, &b, OFFSET_AT_2D(after(&b, "blk.0.attn_q.weight")), 1ull << 40,
                       "past the end of the file");
    free(b.bytes);
}

static void test_gguf_tensor_type_q4_k(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    /* Q4_K has 256-value blocks, so a 64-wide row cannot be Q4_K at all. */
    expect_patched_u32(t, &b, TYPE_AT_2D(after(&b, "blk.0.attn_q.weight")), 12, "type 12");
    free(b.bytes);
}

static void test_gguf_tensor_type_q8_1(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    /* Q8_1 (9) is a valid GGML type of the right block size that the engine does not run
     * (llama.cpp uses it only for activations). */
    expect_patched_u32(t, &b, TYPE_AT_2D(after(&b, "blk.0.attn_q.weight")), 9,
                       "tensor 'blk.0.attn_q.weight' has type Q8_1, which the engine does not "
                       "compute");
    free(b.bytes);
}

static void test_gguf_tensor_type_unknown(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u32(t, &b, TYPE_AT_2D(after(&b, "blk.0.attn_q.weight")), 99,
                       "unsupported type 99");
    free(b.bytes);
}

static void test_gguf_norm_not_float(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    /* a 1-d tensor: u32 n_dims, u64 ne0 = 64, u32 type -> Q8_0 (8): 64 = 2 whole blocks */
    expect_patched_u32(t, &b, after(&b, "blk.2.ffn_norm.weight") + 4 + 8, 8,
                       "tensor 'blk.2.ffn_norm.weight' has unsupported type 8");
    free(b.bytes);
}

static void test_gguf_missing_tensor(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    size_t at = after(&b, "blk.3.ffn_up.weight");
    REQUIRE(t, at > 0, "tensor name not found");
    b.bytes[at - 8] = 'X'; /* blk.3.ffn_uX.weight */
    expect_failure(t, b.bytes, b.size, "missing tensor 'blk.3.ffn_up.weight'");
    free(b.bytes);
}

/* output.weight is optional: renamed, it is a tensor the model would silently ignore. */
static void test_gguf_unused_tensor(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    size_t at = after(&b, "output.weight");
    REQUIRE(t, at > 0, "tensor name not found");
    memcpy(b.bytes + at - 6, "bias_x", 6); /* output.bias_x */
    expect_failure(t, b.bytes, b.size, "tensor 'output.bias_x' is not part of a llama model");
    free(b.bytes);
}

static void test_gguf_duplicate_tensor(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    size_t at = after(&b, "blk.4.ffn_up.weight");
    REQUIRE(t, at > 0, "tensor name not found");
    b.bytes[at - 15] = '3'; /* blk.3.ffn_up.weight, twice */
    expect_failure(t, b.bytes, b.size, "duplicate tensor 'blk.3.ffn_up.weight'");
    free(b.bytes);
}

static void test_gguf_wrong_shape(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    size_t name_end = after(&b, "blk.1.attn_k.weight"); /* [64,32] -> [32,64], same bytes */
    REQUIRE(t, name_end > 0, "tensor not found");
    set_u64(&b, NE_AT(name_end, 0), 32);
    expect_patched_u64(t, &b, NE_AT(name_end, 1), 64, "has shape [32,64,1,1], expected [64,32]");
    free(b.bytes);
}

static void test_gguf_five_dims(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    expect_patched_u32(t, &b, NDIMS_AT(after(&b, "blk.0.attn_q.weight")), 5, "n_dims 5");
    free(b.bytes);
}

static void test_gguf_dims_overflow(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    /* 64 x 2^60 elements: the product overflows 64 bits */
    expect_patched_u64(t, &b, NE_AT(after(&b, "blk.0.attn_q.weight"), 1), 1ull << 60,
                       "overflows");
    free(b.bytes);
}

static void test_gguf_vocab_mismatch(TestContext *t) {
    Blob b;
    if (!load_shared(t, GGUF_PATH, &b)) return;
    /* token_embd and output say 511 rows (smaller data still fits); the vocab has 512 */
    size_t embd = after(&b, "token_embd.weight"), output = after(&b, "output.weight");
    REQUIRE(t, embd > 0 && output > 0, "tensors not found");
    set_u64(&b, NE_AT(embd, 1), 511);
    expect_patched_u64(t, &b, NE_AT(output, 1), 511,
                       "vocabulary has 512 tokens but token_embd.weight has 511 rows");
    free(b.bytes);
}

/* ---- llama2.c ---- */

/* Header ints: 0 dim, 1 hidden_dim, 2 n_layers, 3 n_heads, 4 n_kv_heads, 5 vocab, 6 seq_len */
static void expect_bin_header(TestContext *t, int field, int32_t value, const char *expected) {
    Blob b;
    if (!load_shared(t, BIN_PATH, &b)) return;
    memcpy(b.bytes + 4 * field, &value, 4);
    expect_failure(t, b.bytes, b.size, expected);
    free(b.bytes);
}

static void test_llama2c_dim_zero(TestContext *t) { expect_bin_header(t, 0, 0, "dim must be > 0"); }
static void test_llama2c_layers_negative(TestContext *t) {
    expect_bin_header(t, 2, -5, "n_layers must be > 0 (got -5)");
}
static void test_llama2c_seq_len_zero(TestContext *t) {
    expect_bin_header(t, 6, 0, "context_length must be > 0");
}
static void test_llama2c_heads_not_dividing(TestContext *t) {
    expect_bin_header(t, 3, 7, "n_heads 7 does not divide dim 64");
}
static void test_llama2c_kv_heads_not_dividing(TestContext *t) {
    expect_bin_header(t, 4, 3, "n_kv_heads 3 does not divide n_heads 8");
}
static void test_llama2c_vocab_int_min(TestContext *t) {
    expect_bin_header(t, 5, INT32_MIN, "vocab_size");
}

static void test_llama2c_huge_dims(TestContext *t) {
    int32_t header[7] = {INT32_MAX, INT32_MAX, INT32_MAX, 1, 1, INT32_MAX, INT32_MAX};
    expect_failure(t, header, sizeof header, "dim 2147483647 exceeds the limit");
}

/* The largest header the limits allow: the size is computed in 64 bits without overflow.
 * dim 65536, hidden 2^20, 1024 layers, 4096 heads (head 16), kv 4096, vocab 10^7, seq 2^24:
 * floats = 10^7*2^16 + 2*2^10*2^16 + 2^16 + 2^10*4*2^32 + 3*2^10*2^20*2^16 + 2^24*16
 *        = 229,354,181,296,128; bytes = 28 + 4 * that = 917,416,725,184,540. */
static void test_llama2c_size_product_no_overflow(TestContext *t) {
    int32_t header[7] = {65536, 1 << 20, 1024, 4096, 4096, 10000000, 1 << 24};
    expect_failure(t, header, sizeof header,
                   "truncated: expected 917416725184540 bytes, file has 28");
}

static void test_llama2c_truncated_weights(TestContext *t) {
    Blob b;
    if (!load_shared(t, BIN_PATH, &b)) return;
    expect_failure(t, b.bytes, b.size - 4, "truncated: expected 1056540 bytes, file has 1056536");
    free(b.bytes);
}

static void test_llama2c_too_long(TestContext *t) {
    Blob b;
    if (!load_shared(t, BIN_PATH, &b)) return;
    unsigned char *longer = calloc(1, b.size + 4);
    memcpy(longer, b.bytes, b.size);
    expect_failure(t, longer, b.size + 4, "longer than expected: 1056544 bytes");
    free(longer);
    free(b.bytes);
}

static void test_llama2c_unshared_classifier_but_positive_vocab(TestContext *t) {
    Blob b;
    if (!load_shared(t, BIN_PATH, &b)) return;
    size_t extra = 512 * 64 * 4;
    unsigned char *longer = calloc(1, b.size + extra);
    memcpy(longer, b.bytes, b.size);
    expect_failure(t, longer, b.size + extra, "header says it is shared");
    free(longer);
    free(b.bytes);
}

static void test_llama2c_version_2(TestContext *t) {
    unsigned char header[256] = {0};
    uint32_t magic = 0x616b3432, version = 2;
    memcpy(header, &magic, 4);
    memcpy(header + 4, &version, 4);
    expect_failure(t, header, sizeof header, "unsupported llama2.c version 2");
}

static void test_llama2c_version_1_truncated_header(TestContext *t) {
    unsigned char header[100] = {0};
    uint32_t magic = 0x616b3432, version = 1;
    memcpy(header, &magic, 4);
    memcpy(header + 4, &version, 4);
    expect_failure(t, header, sizeof header, "truncated");
}

static const TestCase bad_input_tests[] = {
    {"missing_file", test_missing_file},
    {"empty_file", test_empty_file},
    {"three_byte_file", test_three_byte_file},
    {"wrong_magic", test_wrong_magic},
    {"gguf_version_1", test_gguf_version_1},
    {"gguf_truncated_header", test_gguf_truncated_header},
    {"gguf_truncated_metadata", test_gguf_truncated_metadata},
    {"gguf_string_past_eof", test_gguf_string_past_eof},
    {"gguf_array_count_absurd", test_gguf_array_count_absurd},
    {"gguf_tensor_count_absurd", test_gguf_tensor_count_absurd},
    {"gguf_kv_count_absurd", test_gguf_kv_count_absurd},
    {"gguf_unsupported_architecture", test_gguf_unsupported_architecture},
    {"gguf_heads_not_dividing_dim", test_gguf_heads_not_dividing_dim},
    {"gguf_kv_heads_not_dividing_heads", test_gguf_kv_heads_not_dividing_heads},
    {"gguf_truncated_tensor_data", test_gguf_truncated_tensor_data},
    {"gguf_tensor_offset_unaligned", test_gguf_tensor_offset_unaligned},
    {"gguf_tensor_offset_out_of_file", test_gguf_tensor_offset_out_of_file},
    {"gguf_tensor_type_q4_k", test_gguf_tensor_type_q4_k},
    {"gguf_tensor_type_q8_1", test_gguf_tensor_type_q8_1},
    {"gguf_tensor_type_unknown", test_gguf_tensor_type_unknown},
    {"gguf_norm_not_float", test_gguf_norm_not_float},
    {"gguf_missing_tensor", test_gguf_missing_tensor},
    {"gguf_unused_tensor", test_gguf_unused_tensor},
    {"gguf_duplicate_tensor", test_gguf_duplicate_tensor},
    {"gguf_wrong_shape", test_gguf_wrong_shape},
    {"gguf_five_dims", test_gguf_five_dims},
    {"gguf_dims_overflow", test_gguf_dims_overflow},
    {"gguf_vocab_mismatch", test_gguf_vocab_mismatch},
    {"llama2c_dim_zero", test_llama2c_dim_zero},
    {"llama2c_layers_negative", test_llama2c_layers_negative},
    {"llama2c_seq_len_zero", test_llama2c_seq_len_zero},
    {"llama2c_heads_not_dividing", test_llama2c_heads_not_dividing},
    {"llama2c_kv_heads_not_dividing", test_llama2c_kv_heads_not_dividing},
    {"llama2c_vocab_int_min", test_llama2c_vocab_int_min},
    {"llama2c_huge_dims", test_llama2c_huge_dims},
    {"llama2c_size_product_no_overflow", test_llama2c_size_product_no_overflow},
    {"llama2c_truncated_weights", test_llama2c_truncated_weights},
    {"llama2c_too_long", test_llama2c_too_long},
    {"llama2c_unshared_classifier_but_positive_vocab",
     test_llama2c_unshared_classifier_but_positive_vocab},
    {"llama2c_version_2", test_llama2c_version_2},
    {"llama2c_version_1_truncated_header", test_llama2c_version_1_truncated_header},
    {NULL, NULL},
};

TEST_SUITE(model_bad_inputs, bad_input_tests)
