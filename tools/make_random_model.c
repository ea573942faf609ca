/* make_random_model.c — the `make_random_model` tool: writes a llama GGUF of a given shape
 * with RANDOM weights, for speed measurements and for comparing engines on the same file.
 * Its outputs are noise: never use them for a claim about a model (general.name and
 * general.description say so in the file). Weights are approximately N(0, 0.02) (another
 * --stddev may be given) from a seeded generator (one stream per tensor, so the same seed
 * gives the same values in every --type); the arithmetic is exact IEEE additions and
 * multiplications, so a seed gives the same file on every machine. RMSNorm gains are 1 and
 * stay F32. The vocabulary is minimal but valid (<unk>, <s>, </s>, the 256 byte pieces
 * <0x00>..<0xFF>, then filler), or that of another GGUF (--vocab-from: Llama 3's, say).
 * --rope-freqs llama3 writes rope_freqs.weight as llama.cpp's converter does for Llama 3.1+.
 *   make_random_model OUT.gguf [--shape 110M|42M|1B] [--dim N] [--hidden N] [--layers N]
 *       [--heads N] [--kv-heads N] [--vocab N | --vocab-from FILE.gguf] [--context N]
 *       [--type f32|f16|q8_0|q4_0] [--seed N] [--stddev S] [--freq-base F]
 *       [--rope-freqs llama3[:FACTOR:LOW:HIGH:ORIGINAL]] [--tied] [--arch llama|qwen2]
 *       [--pre NAME]                                                                      */
#include "../models/gguf_vocab_writer.h"
#include "../models/gguf_writer.h"
#include "../models/model.h"
#include "../util/errors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WEIGHT_STDDEV 0.02
#define SPECIAL_TOKENS 3 /* <unk>, <s>, </s> */
#define BYTE_TOKENS 256

typedef struct {
    const char *output;
    const char *shape_name; /* "" for a custom shape */
    int dim, hidden, layers, heads, kv_heads, vocab, context;
    TensorType type;
    unsigned long long seed;
    int tied; /* no output.weight: the classifier is token_embd.weight */
    double stddev, freq_base;
    const char *vocab_from; /* NULL: the minimal vocabulary */
    const char *arch;       /* "llama" or "qwen2" (q/k/v biases, half-split RoPE pairs) */
    const char *pre;        /* tokenizer.ggml.pre to write instead of --vocab-from's */
    int llama3_freqs;       /* write rope_freqs.weight from the four numbers below */
    double rope_factor, low_freq_factor, high_freq_factor, original_context;
} Options;

static const char USAGE[] =
    "usage: make_random_model OUT.gguf [--shape 110M|42M|1B] [--dim N] [--hidden N] [--layers N]\n"
    "           [--heads N] [--kv-heads N] [--vocab N | --vocab-from FILE.gguf] [--context N]\n"
    "           [--type f32|f16|q8_0|q4_0] [--seed N] [--stddev S] [--freq-base F]\n"
    "           [--rope-freqs llama3[:FACTOR:LOW:HIGH:ORIGINAL]] [--tied] [--arch llama|qwen2]\n"
    "           [--pre NAME]\n"
    "  random ~N(0, 0.02) weights in a llama GGUF, for speed and engine-against-engine checks\n"
    "  --shape 110M   dim 768, hidden 2048, 12 layers, 12 heads, 12 kv heads, vocab 32000\n"
    "  --shape 42M    dim 512, hidden 1376, 8 layers, 8 heads, 8 kv heads, vocab 32000\n"
    "  --shape 1B     Llama-3.2-1B: dim 2048, hidden 8192, 16 layers, 32 heads, 8 kv heads,\n"
    "                 vocab 128256, freq base 500000, tied\n"
    "                 (flags after --shape override single values)\n"
    "  --vocab-from   the vocabulary of that GGUF (any family), and its size\n"
    "  --context      llama.context_length to declare (default 1024)\n"
    "  --type         weight matrices' type; norm vectors stay f32 (default f32)\n"
    "  --seed         generator seed (default 1); same seed, same weights in every type\n"
    "  --stddev       the weights' standard deviation (default 0.02)\n"
    "  --freq-base    llama.rope.freq_base (default 10000)\n"
    "  --rope-freqs   rope_freqs.weight with Llama 3's scaling baked in, as llama.cpp's\n"
    "                 converter writes it (default numbers: Llama 3.2's 32:1:4:8192)\n"
    "  --tied         no separate output matrix (default: output.weight is written)\n"
    "  --arch         llama (default) or qwen2: qwen2.* keys, random q/k/v biases (llama.cpp\n"
    "                 then rotates half-split pairs)\n"
    "  --pre          tokenizer.ggml.pre to write with --vocab-from's vocabulary\n";

/* ---------------------------------------------------------------- random numbers */

/* SplitMix64: a small, well-mixed 64-bit generator; one state per tensor. */
static unsigned long long next_u64(unsigned long long *state) {
    unsigned long long z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so log() below is finite. */
static double next_unit(unsigned long long *state) {
    return ((next_u64(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* n values of approximately N(0, stddev): the sum of four uniforms (Irwin-Hall, variance
 * 4/12), centred and scaled. Only exact IEEE operations (and one correctly rounded sqrt),
 * unlike libm's log/cos, whose last bit may change with the CPU: the same seed gives the
 * same bits everywhere, which matters for files that reference figures were made on. */
static void fill_normal(float *out, size_t n, double stddev, unsigned long long seed) {
    unsigned long long state = seed;
    const double scale = stddev * sqrt(3.0);
    for (size_t i = 0; i < n; i++) {
        double sum = next_unit(&state) + next_unit(&state) + next_unit(&state) + next_unit(&state);
        out[i] = (float)((sum - 2.0) * scale);
    }
}

/* ---------------------------------------------------------------- command line */

static int apply_shape(Options *o, const char *name, char *err, size_t err_size) {
    if (strcmp(name, "110M") == 0) {
        o->dim = 768, o->hidden = 2048, o->layers = 12, o->heads = 12, o->kv_heads = 12;
        o->vocab = 32000, o->shape_name = "110M";
    } else if (strcmp(name, "42M") == 0) {
        o->dim = 512, o->hidden = 1376, o->layers = 8, o->heads = 8, o->kv_heads = 8;
        o->vocab = 32000, o->shape_name = "42M";
    } else if (strcmp(name, "1B") == 0) { /* Llama-3.2-1B */
        o->dim = 2048, o->hidden = 8192, o->layers = 16, o->heads = 32, o->kv_heads = 8;
        o->vocab = 128256, o->freq_base = 500000, o->tied = 1, o->shape_name = "1B";
    } else {
        return fail(err, err_size, "--shape '%s' is not one of 110M, 42M, 1B", name);
    }
    return 0;
}

/* --rope-freqs llama3[:FACTOR:LOW:HIGH:ORIGINAL] */
static int parse_rope_freqs(Options *o, const char *value, char *err, size_t err_size) {
    o->llama3_freqs = 1;
    o->rope_factor = 32, o->low_freq_factor = 1, o->high_freq_factor = 4, o->original_context = 8192;
    if (strcmp(value, "llama3") == 0) return 0;
    char tail;
    if (sscanf(value, "llama3:%lf:%lf:%lf:%lf%c", &o->rope_factor, &o->low_freq_factor,
               &o->high_freq_factor, &o->original_context, &tail) != 4 || o->rope_factor < 1 ||
        o->low_freq_factor <= 0 || o->high_freq_factor <= o->low_freq_factor || o->original_context < 1)
        return fail(err, err_size, "--rope-freqs '%s' is not llama3 or llama3:FACTOR:LOW:HIGH:ORIGINAL "
                    "(factor >= 1, 0 < low < high, original >= 1)", value);
    return 0;
}

/* A positive finite number for --stddev or --freq-base. */
static int parse_positive(const char *flag, const char *value, double *out, char *err, size_t err_size) {
    char *end = NULL;
    double v = strtod(value, &end);
    if (end == value || *end != '\0' || !(v > 0) || v > 1e12)
        return fail(err, err_size, "%s '%s' is not a positive number", flag, value);
    *out = v;
    return 0;
}

static int parse_type(const char *text, TensorType *type, char *err, size_t err_size) {
    if (strcmp(text, "f32") == 0) *type = TENSOR_F32;
    else if (strcmp(text, "f16") == 0) *type = TENSOR_F16;
    else if (strcmp(text, "q8_0") == 0) *type = TENSOR_Q8_0;
    else if (strcmp(text, "q4_0") == 0) *type = TENSOR_Q4_0;
    else return fail(err, err_size, "--type '%s' is not one of f32, f16, q8_0, q4_0", text);
    return 0;
}

static int parse_int(const char *flag, const char *text, long min, long max, long *out,
                     char *err, size_t err_size) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < min || value > max)
        return fail(err, err_size, "%s '%s' is not a whole number in %ld..%ld", flag, text,
                    min, max);
    *out = value;
    return 0;
}

/* The integer flags: name, destination, largest value. */
static int parse_size_flag(Options *o, const char *flag, const char *value, char *err,
                           size_t err_size) {
    struct { const char *name; int *field; long max; } flags[] = {
        {"--dim", &o->dim, 1 << 16},        {"--hidden", &o->hidden, 1 << 18},
        {"--layers", &o->layers, 1024},     {"--heads", &o->heads, 1024},
        {"--kv-heads", &o->kv_heads, 1024}, {"--vocab", &o->vocab, 1 << 22},
        {"--context", &o->context, 1 << 24},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        if (strcmp(flag, flags[i].name) != 0) continue;
        long parsed;
        if (parse_int(flag, value, 1, flags[i].max, &parsed, err, err_size)) return -1;
        *flags[i].field = (int)parsed;
        o->shape_name = "";
        return 0;
    }
    return fail(err, err_size, "unknown option '%s'", flag);
}

static int parse_flag(Options *o, const char *flag, const char *value, char *err,
                      size_t err_size) {
    if (!value) return fail(err, err_size, "%s needs a value", flag);
    if (strcmp(flag, "--shape") == 0) return apply_shape(o, value, err, err_size);
    if (strcmp(flag, "--type") == 0) return parse_type(value, &o->type, err, err_size);
    if (strcmp(flag, "--seed") == 0) {
        char *end = NULL;
        o->seed = strtoull(value, &end, 10);
        if (end == value || *end != '\0' || value[0] == '-')
            return fail(err, err_size, "--seed '%s' is not a whole number >= 0", value);
        return 0;
    }
    if (strcmp(flag, "--stddev") == 0) return parse_positive(flag, value, &o->stddev, err, err_size);
    if (strcmp(flag, "--freq-base") == 0) return parse_positive(flag, value, &o->freq_base, err, err_size);
    if (strcmp(flag, "--rope-freqs") == 0) return parse_rope_freqs(o, value, err, err_size);
    if (strcmp(flag, "--vocab-from") == 0) {
        o->vocab_from = value;
        return 0;
    }
    if (strcmp(flag, "--arch") == 0) {
        if (strcmp(value, "llama") != 0 && strcmp(value, "qwen2") != 0)
            return fail(err, err_size, "--arch '%s' is not llama or qwen2", value);
        o->arch = value;
        return 0;
    }
    if (strcmp(flag, "--pre") == 0) {
        o->pre = value;
        return 0;
    }
    if (strcmp(flag, "--context") == 0) { /* does not make a preset custom */
        long parsed;
        if (parse_int(flag, value, 1, 1 << 24, &parsed, err, err_size)) return -1;
        o->context = (int)parsed;
        return 0;
    }
    return parse_size_flag(o, flag, value, err, err_size);
}

static int check_shape(const Options *o, char *err, size_t err_size) {
    if (!o->dim || !o->hidden || !o->layers || !o->heads || (!o->vocab && !o->vocab_from))
        return fail(err, err_size, "the shape is incomplete: give --shape, or all of --dim "
                    "--hidden --layers --heads --vocab");
    if (o->dim % o->heads != 0 || (o->dim / o->heads) % 2 != 0)
        return fail(err, err_size, "--dim %d must be --heads %d times an even head size",
                    o->dim, o->heads);
    if (o->heads % o->kv_heads != 0)
        return fail(err, err_size, "--heads %d is not a multiple of --kv-heads %d", o->heads,
                    o->kv_heads);
    if (!o->vocab_from && o->vocab < SPECIAL_TOKENS + BYTE_TOKENS)
        return fail(err, err_size, "--vocab %d is below %d (3 special + 256 byte tokens)",
                    o->vocab, SPECIAL_TOKENS + BYTE_TOKENS);
    int kv_dim = o->dim / o->heads * o->kv_heads;
    if (o->type != TENSOR_F32 && o->type != TENSOR_F16 &&
        (o->dim % QK_BLOCK || o->hidden % QK_BLOCK || kv_dim % QK_BLOCK))
        return fail(err, err_size, "--type %s needs dim, hidden and kv dim divisible by %d",
                    tensor_type_name(o->type), QK_BLOCK);
    return 0;
}

static int parse_options(int argc, char **argv, Options *o, char *err, size_t err_size) {
    memset(o, 0, sizeof *o);
    o->shape_name = "";
    o->context = 1024;
    o->type = TENSOR_F32;
    o->seed = 1;
    o->stddev = WEIGHT_STDDEV;
    o->freq_base = 10000;
    o->arch = "llama";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tied") == 0) {
            o->tied = 1;
        } else if (strncmp(argv[i], "--", 2) == 0) {
            if (parse_flag(o, argv[i], i + 1 < argc ? argv[i + 1] : NULL, err, err_size))
                return -1;
            i++;
        } else if (!o->output) {
            o->output = argv[i];
        } else {
            return fail(err, err_size, "unexpected extra argument '%s'", argv[i]);
        }
    }
    if (!o->output) return fail(err, err_size, "expected OUT.gguf");
    if (o->pre && !o->vocab_from) return fail(err, err_size, "--pre needs --vocab-from");
    if (!o->kv_heads) o->kv_heads = o->heads;
    return check_shape(o, err, err_size);
}

/* ---------------------------------------------------------------- metadata */

static uint32_t file_type(TensorType type) { /* llama.cpp's general.file_type */
    return type == TENSOR_F32 ? 0 : type == TENSOR_F16 ? 1 : type == TENSOR_Q4_0 ? 2 : 7;
}

static int add_model_keys(GgufWriter *w, const Options *o, char *err, size_t err_size) {
    char name[128];
    snprintf(name, sizeof name, "random weights, %s shape%s, seed %llu, stddev %g (not a model)",
             o->shape_name[0] ? o->shape_name : "custom", o->tied ? ", tied output" : "",
             o->seed, o->stddev);
    uint32_t head_dim = (uint32_t)(o->dim / o->heads);
    char k[11][64];
    static const char *const suffixes[11] = {
        "context_length", "embedding_length", "feed_forward_length", "block_count",
        "attention.head_count", "attention.head_count_kv", "rope.dimension_count",
        "attention.layer_norm_rms_epsilon", "rope.freq_base"};
    for (int i = 0; i < 9; i++) snprintf(k[i], sizeof k[i], "%s.%s", o->arch, suffixes[i]);
    return gguf_writer_add_string(w, "general.architecture", o->arch, err, err_size) ||
           gguf_writer_add_string(w, "general.name", name, err, err_size) ||
           gguf_writer_add_string(w, "general.description", "random weights from "
                                  "tools/make_random_model: for speed measurements and engine "
                                  "comparisons only, never for a claim about a model", err, err_size) ||
           gguf_writer_add_u32(w, "general.file_type", file_type(o->type), err, err_size) ||
           gguf_writer_add_u32(w, k[0], (uint32_t)o->context, err, err_size) ||
           gguf_writer_add_u32(w, k[1], (uint32_t)o->dim, err, err_size) ||
           gguf_writer_add_u32(w, k[2], (uint32_t)o->hidden, err, err_size) ||
           gguf_writer_add_u32(w, k[3], (uint32_t)o->layers, err, err_size) ||
           gguf_writer_add_u32(w, k[4], (uint32_t)o->heads, err, err_size) ||
           gguf_writer_add_u32(w, k[5], (uint32_t)o->kv_heads, err, err_size) ||
           gguf_writer_add_u32(w, k[6], head_dim, err, err_size) ||
           gguf_writer_add_f32(w, k[7], 1e-5f, err, err_size) ||
           gguf_writer_add_f32(w, k[8], (float)o->freq_base, err, err_size)
               ? -1 : 0;
}

/* The minimal vocabulary: specials, byte pieces, then unique filler pieces. */
typedef struct {
    char **pieces;
    float *scores;
    int32_t *types;
    int n;
} Vocab;

static void vocab_free(Vocab *v) {
    for (int i = 0; v->pieces && i < v->n; i++) free(v->pieces[i]);
    free(v->pieces);
    free(v->scores);
    free(v->types);
}

static int vocab_build(Vocab *v, int n, char *err, size_t err_size) {
    v->n = n;
    v->pieces = calloc((size_t)n, sizeof *v->pieces);
    v->scores = malloc((size_t)n * sizeof *v->scores);
    v->types = malloc((size_t)n * sizeof *v->types);
    if (!v->pieces || !v->scores || !v->types) return fail(err, err_size, "out of memory");
    static const char *const specials[SPECIAL_TOKENS] = {"<unk>", "<s>", "</s>"};
    static const int32_t special_types[SPECIAL_TOKENS] = {TOKEN_UNKNOWN, TOKEN_CONTROL,
                                                         TOKEN_CONTROL};
    for (int i = 0; i < n; i++) {
        char piece[32];
        if (i < SPECIAL_TOKENS) snprintf(piece, sizeof piece, "%s", specials[i]);
        else if (i < SPECIAL_TOKENS + BYTE_TOKENS)
            snprintf(piece, sizeof piece, "<0x%02X>", i - SPECIAL_TOKENS);
        else snprintf(piece, sizeof piece, "\xe2\x96\x81w%d", i); /* U+2581 + a number */
        v->types[i] = i < SPECIAL_TOKENS ? special_types[i]
                      : i < SPECIAL_TOKENS + BYTE_TOKENS ? TOKEN_BYTE : TOKEN_NORMAL;
        v->scores[i] = i < SPECIAL_TOKENS + BYTE_TOKENS ? 0.0f : (float)-i;
        if (!(v->pieces[i] = strdup(piece))) return fail(err, err_size, "out of memory");
    }
    return 0;
}

static int add_vocab_keys(GgufWriter *w, const Vocab *v, char *err, size_t err_size) {
    return gguf_writer_add_string(w, "tokenizer.ggml.model", "llama", err, err_size) ||
           gguf_writer_add_string_array(w, "tokenizer.ggml.tokens",
                                        (const char *const *)v->pieces, NULL, v->n, err,
                                        err_size) ||
           gguf_writer_add_f32_array(w, "tokenizer.ggml.scores", v->scores, v->n, err,
                                     err_size) ||
           gguf_writer_add_i32_array(w, "tokenizer.ggml.token_type", v->types, v->n, err,
                                     err_size) ||
           gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0, err, err_size) ||
           gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1, err, err_size) ||
           gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2, err, err_size)
               ? -1 : 0;
}

/* ---------------------------------------------------------------- tensors */

/* All float buffers live until the file is written (the writer keeps pointers). */
typedef struct {
    float **buffers;
    int n, capacity;
    float *ones; /* shared by every norm vector */
} TensorStore;

static void store_free(TensorStore *s) {
    for (int i = 0; i < s->n; i++) free(s->buffers[i]);
    free(s->buffers);
    free(s->ones);
}

static float *store_alloc(TensorStore *s, size_t n) {
    if (s->n == s->capacity) {
        int capacity = s->capacity ? 2 * s->capacity : 64;
        float **grown = realloc(s->buffers, (size_t)capacity * sizeof *grown);
        if (!grown) return NULL;
        s->buffers = grown;
        s->capacity = capacity;
    }
    float *buffer = malloc(n * sizeof *buffer);
    if (buffer) s->buffers[s->n++] = buffer;
    return buffer;
}

/* A rows x cols matrix (ne = [cols, rows]) of N(0, 0.02); tensor number `index` draws
 * from its own stream, seeded from (seed, index). */
static int add_random_matrix(GgufWriter *w, TensorStore *s, const Options *o, int index,
                             const char *name, int rows, int cols, char *err, size_t err_size) {
    float *data = store_alloc(s, (size_t)rows * cols);
    if (!data) return fail(err, err_size, "out of memory for '%s' (%d x %d)", name, rows, cols);
    unsigned long long stream = o->seed * 0x100000001B3ull + (unsigned long long)index;
    fill_normal(data, (size_t)rows * cols, o->stddev, next_u64(&stream));
    uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    if (o->type == TENSOR_Q4_0)
        return gguf_writer_add_q4_0_tensor(w, name, data, 2, ne, err, err_size);
    return gguf_writer_add_tensor(w, name, data, 2, ne, o->type, err, err_size);
}

/* A vector of n values of N(0, stddev), F32, from its own stream like the matrices. */
static int add_random_vector(GgufWriter *w, TensorStore *s, const Options *o, int index,
                             const char *name, int n, char *err, size_t err_size) {
    float *data = store_alloc(s, (size_t)n);
    if (!data) return fail(err, err_size, "out of memory for '%s'", name);
    unsigned long long stream = o->seed * 0x100000001B3ull + (unsigned long long)index;
    fill_normal(data, (size_t)n, o->stddev, next_u64(&stream));
    uint64_t ne[1] = {(uint64_t)n};
    return gguf_writer_add_tensor(w, name, data, 1, ne, TENSOR_F32, err, err_size);
}

static int add_norm(GgufWriter *w, const TensorStore *s, const char *name, int dim, char *err,
                    size_t err_size) {
    uint64_t ne[1] = {(uint64_t)dim};
    return gguf_writer_add_tensor(w, name, s->ones, 1, ne, TENSOR_F32, err, err_size);
}

static int add_layer(GgufWriter *w, TensorStore *s, const Options *o, int layer, char *err,
                     size_t err_size) {
    int head_dim = o->dim / o->heads, q_dim = o->dim, kv_dim = head_dim * o->kv_heads;
    static const char *const parts[7] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                         "ffn_gate", "ffn_down", "ffn_up"};
    const int rows[7] = {q_dim, kv_dim, kv_dim, o->dim, o->hidden, o->dim, o->hidden};
    const int cols[7] = {o->dim, o->dim, o->dim, q_dim, o->dim, o->hidden, o->dim};
    char name[64];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", layer);
    if (add_norm(w, s, name, o->dim, err, err_size)) return -1;
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", layer);
    if (add_norm(w, s, name, o->dim, err, err_size)) return -1;
    for (int k = 0; k < 7; k++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", layer, parts[k]);
        if (add_random_matrix(w, s, o, 2 + 7 * layer + k, name, rows[k], cols[k], err,
                              err_size))
            return -1;
    }
    for (int k = 0; strcmp(o->arch, "qwen2") == 0 && k < 3; k++) { /* q, k, v biases */
        snprintf(name, sizeof name, "blk.%d.%s.bias", layer, parts[k]);
        if (add_random_vector(w, s, o, 1000000 + 3 * layer + k, name, rows[k], err, err_size))
            return -1;
    }
    return 0;
}

/* rope_freqs.weight as llama.cpp's convert_hf_to_gguf.py writes it for rope_type llama3:
 * for pair k, theta_k = base^(-2k/d) has wavelength 2 pi / theta_k; shorter than
 * original/high: divisor 1; longer than original/low: the factor; between, the smooth
 * blend 1 / ((1 - s) / factor + s) with s = (original / wavelength - low) / (high - low). */
static int add_llama3_freqs(GgufWriter *w, TensorStore *s, const Options *o, char *err, size_t err_size) {
    int pairs = o->dim / o->heads / 2;
    float *divisors = store_alloc(s, (size_t)pairs);
    if (!divisors) return fail(err, err_size, "out of memory");
    double high_wavelength = o->original_context / o->high_freq_factor;
    double low_wavelength = o->original_context / o->low_freq_factor;
    for (int k = 0; k < pairs; k++) {
        double wavelength = 2 * M_PI * pow(o->freq_base, 2.0 * k / (2.0 * pairs));
        double smooth = (o->original_context / wavelength - o->low_freq_factor) /
                        (o->high_freq_factor - o->low_freq_factor);
        divisors[k] = wavelength < high_wavelength ? 1.0f
                    : wavelength > low_wavelength  ? (float)o->rope_factor
                    : (float)(1.0 / ((1 - smooth) / o->rope_factor + smooth));
    }
    uint64_t ne[1] = {(uint64_t)pairs};
    return gguf_writer_add_tensor(w, "rope_freqs.weight", divisors, 1, ne, TENSOR_F32, err, err_size);
}

static int add_tensors(GgufWriter *w, TensorStore *s, const Options *o, char *err,
                       size_t err_size) {
    if (o->llama3_freqs && add_llama3_freqs(w, s, o, err, err_size)) return -1;
    if (!(s->ones = malloc((size_t)o->dim * sizeof *s->ones)))
        return fail(err, err_size, "out of memory");
    for (int i = 0; i < o->dim; i++) s->ones[i] = 1.0f;
    if (add_random_matrix(w, s, o, 0, "token_embd.weight", o->vocab, o->dim, err, err_size) ||
        add_norm(w, s, "output_norm.weight", o->dim, err, err_size))
        return -1;
    if (!o->tied &&
        add_random_matrix(w, s, o, 1, "output.weight", o->vocab, o->dim, err, err_size))
        return -1;
    for (int layer = 0; layer < o->layers; layer++)
        if (add_layer(w, s, o, layer, err, err_size)) return -1;
    return 0;
}

/* ---------------------------------------------------------------- main */

/* The vocabulary keys: another file's (--vocab-from), whose size becomes the model's, or
 * the minimal one. */
static int add_vocabulary(GgufWriter *w, Options *o, Vocab *minimal, char *err, size_t err_size) {
    if (!o->vocab_from)
        return vocab_build(minimal, o->vocab, err, err_size) || add_vocab_keys(w, minimal, err, err_size) ? -1 : 0;
    Model source;
    if (model_open_vocabulary(&source, o->vocab_from, err, err_size)) return -1;
    o->vocab = source.vocab.n_tokens;
    if (o->pre)
        snprintf(source.vocab.pre_tokenizer, sizeof source.vocab.pre_tokenizer, "%s", o->pre);
    int rc = gguf_writer_add_model_vocab(w, &source.vocab, err, err_size);
    model_close(&source);
    return rc;
}

static int make_model(Options *o, char *err, size_t err_size) {
    Vocab vocab = {0};
    TensorStore store = {0};
    GgufWriter *w = gguf_writer_new(err, err_size);
    int status = !w || add_vocabulary(w, o, &vocab, err, err_size) ||
                 add_model_keys(w, o, err, err_size) ||
                 add_tensors(w, &store, o, err, err_size) ||
                 gguf_writer_write(w, o->output, err, err_size) ? -1 : 0;
    gguf_writer_free(w);
    store_free(&store);
    vocab_free(&vocab);
    return status;
}

int main(int argc, char **argv) {
    char err[ERR_LEN] = "";
    Options options;
    if (parse_options(argc, argv, &options, err, sizeof err)) {
        fprintf(stderr, "make_random_model: %s\n%s", err, USAGE);
        return 2;
    }
    if (make_model(&options, err, sizeof err)) {
        fprintf(stderr, "make_random_model: %s\n", err);
        return 1;
    }
    fprintf(stderr, "make_random_model: wrote %s (random weights: not a model)\n",
            options.output);
    return 0;
}
