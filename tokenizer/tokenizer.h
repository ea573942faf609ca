/* tokenizer.h — one C API for both tokenizer back ends:
 *   - SentencePiece .model files, through libsentencepiece (sentencepiece_shim.cc);
 *   - a built-in SentencePiece-BPE tokenizer over a vocabulary of pieces + scores
 *     (from a GGUF's tokenizer.ggml.* or a llama2.c tokenizer.bin), with byte fallback.
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

/* A vocabulary described by arrays the caller owns for the duration of the call only. */
typedef struct {
    int n_tokens;
    const char *const *pieces;  /* SentencePiece spelling: U+2581 stands for a space */
    const int *piece_lengths;   /* bytes of each piece */
    const float *scores;        /* merge priority: higher merges first */
    const int *types;           /* GGUF token types (1 normal, 2 unknown, 3 control,
                                   6 byte, ...), or NULL to infer from spelling */
    int bos_id, eos_id, unk_id; /* -1 when the vocabulary has none */
    TokenizerNormalizer normalizer;
} TokenizerVocab;

Tokenizer *tokenizer_open_sentencepiece(const char *model_path, char *err, size_t err_size);
Tokenizer *tokenizer_from_vocab(const TokenizerVocab *vocab, char *err, size_t err_size);
/* llama2.c's tokenizer.bin; vocab_size is the model's (the file does not say it). */
Tokenizer *tokenizer_open_llama2c(const char *path, int vocab_size, char *err, size_t err_size);
void tokenizer_free(Tokenizer *tok);

int tokenizer_vocab_size(const Tokenizer *tok);
int tokenizer_bos(const Tokenizer *tok);
int tokenizer_eos(const Tokenizer *tok);
const char *tokenizer_backend_name(const Tokenizer *tok); /* "sentencepiece" or "builtin" */
TokenizerNormalizer tokenizer_normalizer(const Tokenizer *tok);

/* Encodes text (len bytes; not necessarily NUL-terminated) as SentencePiece would,
 * with BOS first when add_bos. Writes at most max_ids ids; returns the number of ids the
 * full encoding has (which may exceed max_ids: call again with a bigger buffer), or -1
 * with a message in err. */
int tokenizer_encode(const Tokenizer *tok, const char *text, size_t len, int add_bos,
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
