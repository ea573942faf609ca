/* quantize.c — the `quantize` tool: re-encodes the 2-D weight matrices of a llama GGUF
 * (F32 or F16) as F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0 or Q5_1, or as one of llama-quantize's
 * K-quant mixes Q2_K, Q3_K_M, Q4_K_S, Q4_K_M, Q5_K_S, Q5_K_M, Q6_K (GGML's block layouts,
 * encoded as ggml's reference quantisers do: models/block_encode.h; which matrix gets which
 * type: models/quant_recipe.h).
 * 1-D tensors (norm gains, RoPE factors) are copied as they are; so are, for the one-type
 * targets, matrices whose rows are not a multiple of 32 values (with a note), while the
 * mixes fall back as llama-quantize does.  Every metadata key is copied byte for byte,
 * whatever its type, except general.file_type, which names the new type.
 *   quantize IN.gguf OUT.gguf --type f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|...|q6_k
 * The conversion is quantize_file(); tests/test_quantize.c includes this file with
 * QUANTIZE_NO_MAIN defined to call it directly. */
#include "../models/block_encode.h"
#include "../models/gguf.h"
#include "../models/gguf_writer.h"
#include "../models/model.h"
#include "../models/quant_recipe.h"
#include "../util/errors.h"
#include "../util/half.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define GGUF_OUTPUT_VERSION 3u

typedef struct {
    void *data;
    size_t size;
} MappedFile;

/* What happens to one tensor. */
typedef struct {
    TensorType type; /* output type */
    int converted;   /* 0: bytes copied as they are */
    uint64_t n_bytes, offset;
} TensorPlan;

typedef struct {
    FILE *file;
    int failed; /* sticky write error */
} Output;

/* ---------------------------------------------------------------- input */

static int map_file(const char *path, MappedFile *m, char *err, size_t err_size) {
    memset(m, 0, sizeof *m);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fail(err, err_size, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) {
        close(fd);
        return fail(err, err_size, "'%s' is empty or cannot be read", path);
    }
    m->size = (size_t)st.st_size;
    m->data = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m->data == MAP_FAILED) {
        m->data = NULL;
        return fail(err, err_size, "cannot map '%s': %s", path, strerror(errno));
    }
    return 0;
}

static void unmap_file(MappedFile *m) {
    if (m->data) munmap(m->data, m->size);
    memset(m, 0, sizeof *m);
}

static int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* ---------------------------------------------------------------- plan */

static uint64_t align_to(uint64_t n, uint64_t alignment) {
    return (n + alignment - 1) / alignment * alignment;
}

static int is_weight_matrix(const GgufTensorInfo *t) {
    return t->n_dims == 2 && t->ne[1] > 1;
}

/* Decides the output type of one tensor; notes (on `notes`, if any) what stays as it is. */
static int plan_tensor(const GgufTensorInfo *t, const QuantRecipe *recipe,
                       const RecipeModel *model, TensorPlan *p, FILE *notes, char *err,
                       size_t err_size) {
    int n = t->name.length > 80 ? 80 : (int)t->name.length;
    p->type = (TensorType)t->type;
    p->converted = 0;
    p->n_bytes = t->n_bytes;
    if (!is_weight_matrix(t) || t->type == (uint32_t)recipe->base) return 0;
    if (t->type != TENSOR_F32 && t->type != TENSOR_F16)
        return fail(err, err_size, "tensor '%.*s' is %s: quantize reads F32 or F16 matrices "
                    "only (re-quantising would lose precision twice)", n, t->name.bytes,
                    tensor_type_name((TensorType)t->type));
    TensorType target = recipe_tensor_type(recipe, model, t->name.bytes, (size_t)t->name.length,
                                           (int64_t)t->ne[0], (TensorType)t->type);
    if (target == (TensorType)t->type) {
        if (notes)
            fprintf(notes, "quantize: %.*s has rows of %llu values (not a multiple of %d): "
                    "kept as %s\n", n, t->name.bytes, (unsigned long long)t->ne[0],
                    tensor_type_info(recipe->base)->block_values,
                    tensor_type_name((TensorType)t->type));
        return 0;
    }
    p->type = target;
    p->converted = 1;
    p->n_bytes = tensor_bytes(target, (int64_t)t->ne[1], (int64_t)t->ne[0]);
    return 0;
}

static int plan_tensors(const GgufFile *in, const QuantRecipe *recipe, const RecipeModel *model,
                        TensorPlan *plans, FILE *notes, char *err, size_t err_size) {
    uint64_t offset = 0;
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        if (plan_tensor(&in->tensors[i], recipe, model, &plans[i], notes, err, err_size))
            return -1;
        plans[i].offset = offset;
        offset = align_to(offset + plans[i].n_bytes, in->alignment);
    }
    return 0;
}

/* ---------------------------------------------------------------- output */

static void put(Output *o, const void *data, size_t n) {
    if (!o->failed && n > 0 && fwrite(data, 1, n, o->file) != n) o->failed = 1;
}

static void put_u32(Output *o, uint32_t v) { put(o, &v, sizeof v); }
static void put_u64(Output *o, uint64_t v) { put(o, &v, sizeof v); }

static void put_padding(Output *o, uint64_t n) {
    static const uint8_t zeros[64];
    while (n > 0) {
        size_t chunk = n > sizeof zeros ? sizeof zeros : (size_t)n;
        put(o, zeros, chunk);
        n -= chunk;
    }
}

static int is_key(const GgufKv *kv, const char *key) {
    return kv->key.length == strlen(key) && memcmp(kv->key.bytes, key, kv->key.length) == 0;
}

static void put_file_type(Output *o, const QuantRecipe *target) {
    static const char key[] = "general.file_type";
    put_u64(o, sizeof key - 1);
    put(o, key, sizeof key - 1);
    put_u32(o, GGUF_UINT32);
    put_u32(o, target->file_type);
}

/* Metadata records are copied raw, in their order: record i spans from its key's length
 * field to the next record (the last one ends where the tensor directory starts).
 * general.file_type is rewritten in place, or appended when the input has none. */
static void put_metadata(Output *o, const GgufFile *in, const QuantRecipe *target) {
    const char *directory = in->tensors[0].name.bytes - 8;
    int wrote_file_type = 0;
    for (uint64_t i = 0; i < in->n_kv; i++) {
        const GgufKv *kv = &in->kvs[i];
        if (is_key(kv, "general.file_type")) {
            put_file_type(o, target);
            wrote_file_type = 1;
            continue;
        }
        const char *start = kv->key.bytes - 8;
        const char *end = i + 1 < in->n_kv ? in->kvs[i + 1].key.bytes - 8 : directory;
        put(o, start, (size_t)(end - start));
    }
    if (!wrote_file_type) put_file_type(o, target);
}

static void put_header(Output *o, const GgufFile *in, const TensorPlan *plans,
                       const QuantRecipe *target) {
    int has_file_type = gguf_find_kv(in, "general.file_type") != NULL;
    put(o, "GGUF", 4);
    put_u32(o, GGUF_OUTPUT_VERSION);
    put_u64(o, in->n_tensors);
    put_u64(o, in->n_kv + (has_file_type ? 0 : 1));
    put_metadata(o, in, target);
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const GgufTensorInfo *t = &in->tensors[i];
        put_u64(o, t->name.length);
        put(o, t->name.bytes, (size_t)t->name.length);
        put_u32(o, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) put_u64(o, t->ne[d]);
        put_u32(o, (uint32_t)plans[i].type);
        put_u64(o, plans[i].offset);
    }
}

/* One row of n values (F32 or F16 in) encoded as `type` into out. */
static void encode_tensor_row(const GgufTensorInfo *t, uint64_t row, TensorType type,
                              float *values, uint8_t *out) {
    size_t n = (size_t)t->ne[0];
    if (t->type == TENSOR_F32) memcpy(values, (const float *)t->data + row * n, n * sizeof *values);
    else half_to_float_row((const uint16_t *)t->data + row * n, values, (int)n);
    encode_row(type, values, (int)n, out);
}

static int put_tensor(Output *o, const GgufTensorInfo *t, const TensorPlan *p) {
    if (!p->converted) {
        put(o, t->data, (size_t)t->n_bytes);
        return 0;
    }
    size_t row_bytes = tensor_bytes(p->type, 1, (int64_t)t->ne[0]);
    float *values = malloc((size_t)t->ne[0] * sizeof *values);
    uint8_t *encoded = malloc(row_bytes);
    if (!values || !encoded) {
        free(values);
        free(encoded);
        return -1;
    }
    for (uint64_t r = 0; r < t->ne[1] && !o->failed; r++) {
        encode_tensor_row(t, r, p->type, values, encoded);
        put(o, encoded, row_bytes);
    }
    free(values);
    free(encoded);
    return 0;
}

static int write_output(const char *path, const GgufFile *in, const TensorPlan *plans,
                        const QuantRecipe *target, char *err, size_t err_size) {
    Output o = {fopen(path, "wb"), 0};
    if (!o.file) return fail(err, err_size, "cannot create '%s': %s", path, strerror(errno));
    int out_of_memory = 0;
    put_header(&o, in, plans, target);
    put_padding(&o, align_to((uint64_t)ftell(o.file), in->alignment) - (uint64_t)ftell(o.file));
    for (uint64_t i = 0; i < in->n_tensors && !o.failed && !out_of_memory; i++) {
        out_of_memory = put_tensor(&o, &in->tensors[i], &plans[i]) != 0;
        put_padding(&o, align_to(plans[i].n_bytes, in->alignment) - plans[i].n_bytes);
    }
    int saved_errno = errno;
    if (fclose(o.file) != 0 && !o.failed) { o.failed = 1; saved_errno = errno; }
    if (!o.failed && !out_of_memory) return 0;
    remove(path);
    return fail(err, err_size, "cannot write '%s': %s", path,
                out_of_memory ? "out of memory" : strerror(saved_errno));
}

/* ---------------------------------------------------------------- the conversion */

static int quantize_mapped(const MappedFile *m, const char *output, const QuantRecipe *target,
                           RecipeModel model, FILE *notes, char *err, size_t err_size) {
    GgufFile in;
    if (gguf_parse(&in, m->data, m->size, err, err_size)) return -1;
    TensorPlan *plans = calloc((size_t)in.n_tensors + 1, sizeof *plans);
    int status = plans ? 0 : fail(err, err_size, "out of memory");
    if (status == 0 && in.n_tensors == 0) status = fail(err, err_size, "the input has no tensors");
    model.tied = gguf_find_tensor(&in, "output.weight") == NULL;
    if (status == 0) status = plan_tensors(&in, target, &model, plans, notes, err, err_size);
    if (status == 0) status = write_output(output, &in, plans, target, err, err_size);
    free(plans);
    gguf_free(&in);
    return status;
}

/* IN (a llama GGUF that model_open accepts) -> OUT with its matrices typed by `recipe`.
 * Notes go to `notes` (NULL: none). 0, or -1 with a message; on failure no output file is
 * left behind. */
int quantize_file_as(const char *input, const char *output, const QuantRecipe *recipe,
                     FILE *notes, char *err, size_t err_size) {
    if (same_file(input, output))
        return fail(err, err_size, "'%s' is both input and output: write to another file",
                    output);
    Model model; /* validates the input as a llama model, with the readers' messages */
    if (model_open(&model, input, err, err_size)) return -1;
    int is_gguf = model.format == MODEL_FORMAT_GGUF;
    RecipeModel shape = {model.config.n_layers, model.config.n_heads / model.config.n_kv_heads, 0};
    model_close(&model);
    if (!is_gguf)
        return fail(err, err_size, "'%s' is a llama2.c checkpoint, not a GGUF: convert it "
                    "first (tools/convert_llama2c)", input);
    MappedFile m;
    if (map_file(input, &m, err, err_size)) return -1;
    int status = quantize_mapped(&m, output, recipe, shape, notes, err, err_size);
    unmap_file(&m);
    return status;
}

/* The same with the recipe whose base type is `target` (q6_k for Q6_K). */
int quantize_file(const char *input, const char *output, TensorType target, FILE *notes,
                  char *err, size_t err_size) {
    const QuantRecipe *recipe = quant_recipe_of_type(target);
    if (!recipe)
        return fail(err, err_size, "target type %d is not one of %s", (int)target,
                    quant_recipe_names());
    return quantize_file_as(input, output, recipe, notes, err, err_size);
}

/* ---------------------------------------------------------------- command line */

#ifndef QUANTIZE_NO_MAIN

static const char USAGE[] =
    "usage: quantize IN.gguf OUT.gguf --type TYPE\n"
    "  re-encodes the 2-D weight matrices (F32 or F16) of a llama GGUF; 1-D tensors are\n"
    "  copied, as are matrices whose rows are not a multiple of 32 for the one-type TYPEs;\n"
    "  all metadata is copied. TYPE: one type for every matrix (f16, bf16, q8_0, q4_0,\n"
    "  q4_1, q5_0, q5_1) or llama-quantize's mixes (q2_k, q3_k_m, q4_k_s, q4_k_m, q5_k_s,\n"
    "  q5_k_m, q6_k), tensor for tensor and byte for byte as llama-quantize writes them\n";

static int parse_type(const char *text, const QuantRecipe **recipe, char *err, size_t err_size) {
    *recipe = quant_recipe_named(text);
    if (*recipe) return 0;
    return fail(err, err_size, "--type '%s' is not one of %s", text, quant_recipe_names());
}

static int parse_arguments(int argc, char **argv, const char **input, const char **output,
                           const QuantRecipe **type, char *err, size_t err_size) {
    int have_type = 0, n_positional = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0) {
            if (i + 1 >= argc) return fail(err, err_size, "--type needs a value");
            if (parse_type(argv[++i], type, err, err_size)) return -1;
            have_type = 1;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            return fail(err, err_size, "unknown option '%s'", argv[i]);
        } else if (n_positional < 2) {
            *(n_positional++ == 0 ? input : output) = argv[i];
        } else {
            return fail(err, err_size, "unexpected extra argument '%s'", argv[i]);
        }
    }
    if (n_positional < 2)
        return fail(err, err_size, "expected IN.gguf OUT.gguf, got %d of them", n_positional);
    if (!have_type) return fail(err, err_size, "--type is required");
    return 0;
}

int main(int argc, char **argv) {
    char err[ERR_LEN] = "";
    const char *input = NULL, *output = NULL;
    const QuantRecipe *type = NULL;
    if (parse_arguments(argc, argv, &input, &output, &type, err, sizeof err)) {
        fprintf(stderr, "quantize: %s\n%s", err, USAGE);
        return 2;
    }
    if (quantize_file_as(input, output, type, stderr, err, sizeof err)) {
        fprintf(stderr, "quantize: %s\n", err);
        return 1;
    }
    fprintf(stderr, "quantize: wrote %s (%s)\n", output, type->name);
    return 0;
}

#endif
