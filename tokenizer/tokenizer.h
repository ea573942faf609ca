/* tokenizer.h — one C API for the tokenizer back ends:
 *   - SentencePiece .model files, through libsentencepiece (sentencepiece_shim.cc);
 *   - a built-in SentencePiece-BPE tokenizer over a vocabulary of pieces + scores
 *     (from a GGUF's tokenizer.ggml.* or a llama2.c tokenizer.bin), with byte fallback;
 *   - a built-in byte-level BPE tokenizer over a vocabulary and its merge list (GGUF
 *     tokenizer.ggml.model "gpt2": Llama 3), with its pre-tokenizer.
 * The tokenizer knows nothing of model files: callers hand it a TokenizerVocab. */
#ifndef ROPEWALK_TOKENIZER_H
#define ROPEWALK_TOKENIZER_H

#include <stddef.h>

typedef struct Tokenizer Tokenizer;

/* SentencePiece's whitespace rules (its NormalizerSpec), which a GGUF records as
 * tokenizer.ggml.add_space_prefix and tokenizer.ggml.remove_extra_whitespaces. */
typedef struct {
    int add_space_prefix;         /* add_dummy_prefix: a U+2581 is put before the text */
    int remove_extra_whitespaces; /* leading/trailing spaces dropped, runs of spaces -> one */
} TokenizerNormalizer;

/* How a vocabulary's pieces are made and merged. */
typedef enum {
    TOKENIZER_SENTENCEPIECE_BPE, /* pieces in SentencePiece spelling, merged by score */
    TOKENIZER_BYTE_LEVEL_BPE     /* pieces in GPT-2's byte alphabet, merged by merge rank */
} TokenizerFamily;

/* A vocabulary described by arrays the caller owns for the duration of the call only. */
typedef struct {
    int n_tokens;
    const char *const *pieces;  /* SentencePiece spelling: U+2581 stands for a space */
    const int *piece_lengths;   /* bytes of each piece */
    const float *scores;        /* merge priority: higher merges first (SentencePiece only;
                                   may be NULL for byte-level BPE) */
    const int *types;           /* GGUF token types (1 normal, 2 unknown, 3 control,
                                   4 user-defined, 6 byte, ...), or NULL to infer from spelling */
    int bos_id, eos_id, unk_id; /* -1 when the vocabulary has none */
    TokenizerNormalizer normalizer;
    /* byte-level BPE only (family TOKENIZER_BYTE_LEVEL_BPE): */
    TokenizerFamily family;
    int n_merges;
    const char *const *merges;  /* "left right", best first (GGUF tokenizer.ggml.merges) */
    const int *merge_lengths;
    const char *pre_tokenizer;  /* GGUF tokenizer.ggml.pre: only "llama-bpe" is known */
} TokenizerVocab;

Tokenizer *tokenizer_open_sentencepiece(const char *model_path, char *err, size_t err_size);
Tokenizer *tokenizer_from_vocab(const TokenizerVocab *vocab, char *err, size_t err_size);
/* llama2.c's tokenizer.bin; vocab_size is the model's (the file does not say it). */
Tokenizer *tokenizer_open_llama2c(const char *path, int vocab_size, char *err, size_t err_size);
void tokenizer_free(Tokenizer *tok);

int tokenizer_vocab_size(const Tokenizer *tok);
int tokenizer_bos(const Tokenizer *tok);
int tokenizer_eos(const Tokenizer *tok);
/* "sentencepiece", "builtin" or "byte-level-bpe" */
const char *tokenizer_backend_name(const Tokenizer *tok);
TokenizerNormalizer tokenizer_normalizer(const Tokenizer *tok);

/* Encodes text (len bytes; not necessarily NUL-terminated) as SentencePiece (or, for
 * byte-level BPE, as Hugging Face's tokenizers) would, with BOS first when add_bos. Text
 * that spells a control token ("</s>", "<|eot_id|>") stays text; user-defined tokens are
 * matched first, as llama.cpp does. Writes at most max_ids ids; returns the number of ids
 * the full encoding has (which may exceed max_ids: call again with a bigger buffer), or -1
 * with a message in err. */
int tokenizer_encode(const Tokenizer *tok, const char *text, size_t len, int add_bos,
                     int *ids, int max_ids, char *err, size_t err_size);

enum {
    TOKENIZE_ADD_BOS = 1,       /* BOS first */
    TOKENIZE_PARSE_SPECIAL = 2  /* text spelling a control token becomes that token
                                   (llama.cpp's parse_special, llama-tokenize's default) */
};
/* tokenizer_encode with TOKENIZE_* flags. With TOKENIZE_PARSE_SPECIAL the text is first cut
 * at every control, unknown or user-defined token's spelling (longest spellings first),
 * as llama.cpp's tokenizer_st_partition does, and the parts between are encoded alone; a
 * SentencePiece vocabulary that adds a space prefix adds it again after each such token.
 * The SentencePiece library back end (tokenizer_open_sentencepiece) parses nothing. */
int tokenizer_encode_text(const Tokenizer *tok, const char *text, size_t len, int flags,
                          int *ids, int max_ids, char *err, size_t err_size);

/* The bytes token `id` stands for when it follows `prev_id` in a stream: byte pieces
 * become their byte, U+2581 becomes a space, and the leading space of the first piece after
 * BOS (or at the start, prev_id < 0) is dropped when the normalizer adds a space prefix or
 * removes extra whitespace (as SentencePiece's decoder does). Control tokens give
 * "". Returns the number of bytes written to out (at most out_size - 1, NUL-terminated). */
int tokenizer_decode_piece(const Tokenizer *tok, int prev_id, int id, char *out, size_t out_size);

/* Token `id` as a reader wants to see it listed: control and unknown tokens by their
 * spelling ("<s>"), others by their bytes with any leading space kept. Returns the bytes
 * written (at most out_size - 1, NUL-terminated); -1 when id is out of range. */
int tokenizer_piece_display(const Tokenizer *tok, int id, char *out, size_t out_size);

/* Decodes a whole id sequence into out (NUL-terminated, truncated to out_size - 1);
 * returns the full byte length. */
size_t tokenizer_decode(const Tokenizer *tok, const int *ids, int n_ids, char *out, size_t out_size);

#endif
