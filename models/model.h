/* model.h — the format-free view of a llama-family model that the engine runs:
 * Config (hyper-parameters, RoPE defaults stored in the file), Weights (pointers into the
 * mapped file, or into buffers the reader owns) and the model's own vocabulary.
 * Readers for each file format fill a Model; model_validate() checks it once for all. */
#ifndef ROPEWALK_MODEL_H
#define ROPEWALK_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "tensor_types.h" /* TensorType: GGML's type ids, so GGUF files map straight on */

/* A row-major matrix of `rows` x `cols` (out x in: y = W x has `rows` outputs).
 * For quantised types each row is cols / block_values blocks (tensor_types.h). */
typedef struct {
    const void *data;
    TensorType type;
    int rows, cols;
    const void *interleaved; /* the rows repacked at load for a faster kernel (engine/repack.h),
                                or NULL: data stays the reference */
} Matrix;

/* How the two members of a RoPE pair sit inside a head. */
typedef enum {
    ROPE_LAYOUT_INTERLEAVED = 0, /* (x[2k], x[2k+1]): llama2.c, GGUF 'llama' */
    ROPE_LAYOUT_HALF_SPLIT = 1   /* (x[k], x[k + d/2]): HF checkpoints, GGUF 'neox' */
} RopeLayout;

/* RoPE settings a model file may carry; the command line overrides them. */
typedef struct {
    char scaling_type[16];      /* "" when absent, else e.g. "linear", "yarn", "llama3" */
    double freq_base;           /* theta base (10000 when the file is silent) */
    double scaling_factor;      /* 0 when absent */
    int original_context;       /* 0 when absent */
    double attn_factor;         /* 0 when absent */
    double low_freq_factor, high_freq_factor; /* 0 when absent */
    double beta_fast, beta_slow; /* 0 when absent */
    /* Per-pair factors stored as tensors (rotary_dim/2 floats each), NULL when absent. */
    const float *freq_factors;  /* rope_freqs.weight: theta_k / f_k (llama.cpp's llama3) */
    const float *long_factors;  /* rope_factors_long.weight (longrope) */
    const float *short_factors; /* rope_factors_short.weight (longrope) */
} RopeFileSettings;

typedef struct {
    int dim;            /* residual stream width */
    int hidden_dim;     /* feed-forward width */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int head_dim;       /* dim / n_heads unless the file says otherwise */
    int rotary_dim;     /* dimensions per head that RoPE rotates (<= head_dim) */
    int vocab_size;
    int context_length; /* the training context the file declares */
    float rms_eps;
    RopeLayout rope_layout;
    RopeFileSettings rope;
} Config;

typedef struct {
    const float *rms_att;   /* [dim] */
    const float *rms_ffn;   /* [dim] */
    Matrix wq;              /* n_heads*head_dim x dim */
    Matrix wk;              /* n_kv_heads*head_dim x dim */
    Matrix wv;              /* n_kv_heads*head_dim x dim */
    Matrix wo;              /* dim x n_heads*head_dim */
    Matrix w1;              /* gate: hidden x dim */
    Matrix w2;              /* down: dim x hidden */
    Matrix w3;              /* up: hidden x dim */
    /* optional biases (NULL when the file has none): added to q, k, v after their
     * projections (Qwen2 has them), and to the attention output (llama.cpp's llama allows) */
    const float *bq, *bk, *bv, *bo;
} LayerWeights;

typedef struct {
    Matrix token_embedding; /* vocab x dim */
    LayerWeights *layers;   /* [n_layers] */
    const float *rms_final; /* [dim] */
    Matrix classifier;      /* vocab x dim; may alias token_embedding */
} Weights;

/* Token types as GGUF numbers them (tokenizer.ggml.token_type). */
typedef enum {
    TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3,
    TOKEN_USER_DEFINED = 4, TOKEN_UNUSED = 5, TOKEN_BYTE = 6
} TokenType;

/* The vocabulary a model file carries (GGUF tokenizer.ggml.*); n_tokens == 0 if none. */
typedef struct {
    int n_tokens;
    char **pieces;      /* NUL-terminated copies, SentencePiece spelling (U+2581 for space) */
    int *piece_lengths; /* bytes, since a piece could contain NUL */
    float *scores;
    int *types;         /* TokenType, or NULL when the file has none */
    int bos_id, eos_id, unk_id; /* -1 when absent */
    int eot_id, eom_id;         /* end of turn / of message (tokenizer.ggml.eot_token_id,
                                   eom_token_id), -1 when absent */
    char model_name[32];        /* tokenizer.ggml.model, e.g. "llama" */
    /* SentencePiece's whitespace rules: tokenizer.ggml.add_space_prefix (default 1) and
     * tokenizer.ggml.remove_extra_whitespaces (default 0), llama.cpp's defaults. */
    int add_space_prefix, remove_extra_whitespaces;
    int add_bos;                /* tokenizer.ggml.add_bos_token (default: 1 for "llama",
                                   0 for "gpt2", as llama.cpp) */
    /* byte-level BPE ("gpt2"): tokenizer.ggml.merges and tokenizer.ggml.pre */
    int n_merges;
    char **merges;              /* n_merges pointers into merge_bytes, "left right" */
    int *merge_lengths;
    char *merge_bytes;
    char pre_tokenizer[32];
} ModelVocab;

typedef enum { MODEL_FORMAT_GGUF, MODEL_FORMAT_LLAMA2C } ModelFormat;

typedef struct {
    ModelFormat format;
    Config config;
    Weights weights;
    ModelVocab vocab;
    char name[64];           /* general.name, or the file's base name */
    size_t file_bytes;       /* size of the mapped file */
    size_t weight_bytes;     /* bytes of all weight tensors as stored */
    size_t owned_bytes;      /* bytes the reader allocated (converted tensors, vocab) */
    void *repacked;          /* engine/repack.h's copies of matrices, freed by model_close */
    size_t repacked_bytes;
    /* private to the readers */
    void *mapping;
    size_t mapping_size;
    void *owned;             /* reader's private allocations, freed by model_close */
} Model;

/* Opens a model file, choosing the reader by its magic ("GGUF" or a llama2.c header).
 * On failure returns -1 with a one-line message in err; the Model is left closed. */
int model_open(Model *model, const char *path, char *err, size_t err_size);
void model_close(Model *model);
/* Frees a ModelVocab's arrays (pieces one by one, merges as one block) and zeroes it. */
void model_vocab_free(ModelVocab *vocab);
/* Opens only what tokenizing needs: a GGUF's vocabulary (the file may hold no tensors;
 * config.vocab_size is the vocabulary's own size, nothing else in config is set), or any
 * other model file in full. */
int model_open_vocabulary(Model *model, const char *path, char *err, size_t err_size);

/* Checks every hyper-parameter and tensor shape; called by model_open. */
int model_validate(const Model *model, char *err, size_t err_size);

/* Bytes of a rows x cols tensor of the given type; 0 if cols is not a multiple of the block. */
size_t tensor_bytes(TensorType type, int64_t rows, int64_t cols);
const char *tensor_type_name(TensorType type);

/* Format readers (used by model_open; exposed for tests and tools). */
int gguf_open_model(Model *model, const char *path, char *err, size_t err_size);
int gguf_open_vocabulary(Model *model, const char *path, char *err, size_t err_size);
int llama2c_open_model(Model *model, const char *path, char *err, size_t err_size);

#endif
