/* backends.h — private to tokenizer/: what the dispatcher (tokenizer.c) needs from each
 * back end (sentencepiece_shim.cc, vocab.c, byte_bpe.c). Not part of the public API. */
#ifndef ROPEWALK_TOKENIZER_BACKENDS_H
#define ROPEWALK_TOKENIZER_BACKENDS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "tokenizer.h"

/* How a piece turns back into bytes. */
typedef enum { PIECE_NORMAL, PIECE_BYTE, PIECE_CONTROL, PIECE_UNKNOWN, PIECE_USER_DEFINED } PieceKind;

typedef struct {
    const char *text; /* SentencePiece spelling (U+2581 for a space); not NUL-terminated */
    size_t length;
    PieceKind kind;
    int byte_value; /* PIECE_BYTE only: 0..255 */
} PieceView;

/* Parses SentencePiece's byte-piece spelling "<0xXX>" (upper-case hex); the byte or -1. */
int byte_piece_value(const char *text, size_t length);

/* SentencePiece's identity normalizer under the given whitespace rules (normalize.c):
 * writes the normalized text to out, which must hold 3 * len + 3 bytes; returns its length. */
size_t spm_normalize(const char *text, size_t len, TokenizerNormalizer rules, char *out);

/* SentencePiece through libsentencepiece (sentencepiece_shim.cc). */
typedef struct SentencePieceModel SentencePieceModel;
SentencePieceModel *spm_load(const char *path, char *err, size_t err_size);
void spm_free(SentencePieceModel *model);
int spm_vocab_size(const SentencePieceModel *model);
int spm_bos(const SentencePieceModel *model);
int spm_eos(const SentencePieceModel *model);
TokenizerNormalizer spm_normalizer(const SentencePieceModel *model); /* from the .model */
/* Encodes without BOS; writes at most max_ids; returns the full count or -1. */
int spm_encode(const SentencePieceModel *model, const char *text, size_t len, int *ids,
               int max_ids, char *err, size_t err_size);
PieceView spm_piece(const SentencePieceModel *model, int id); /* id must be in range */

/* The built-in SentencePiece-BPE tokenizer over a TokenizerVocab (vocab.c). */
typedef struct BuiltinVocab BuiltinVocab;
BuiltinVocab *builtin_create(const TokenizerVocab *vocab, char *err, size_t err_size);
void builtin_free(BuiltinVocab *vocab);
int builtin_vocab_size(const BuiltinVocab *vocab);
int builtin_bos(const BuiltinVocab *vocab);
int builtin_eos(const BuiltinVocab *vocab);
TokenizerNormalizer builtin_normalizer(const BuiltinVocab *vocab);
/* Encodes without BOS; the vocabulary's space prefix is added only when prefix_allowed
 * (the text starts the input or follows a special token). */
int builtin_encode(const BuiltinVocab *vocab, const char *text, size_t len, int prefix_allowed,
                   int *ids, int max_ids, char *err, size_t err_size);
PieceView builtin_piece(const BuiltinVocab *vocab, int id); /* id must be in range */

/* The built-in byte-level BPE tokenizer over a TokenizerVocab with merges (byte_bpe.c). */
typedef struct ByteBpeVocab ByteBpeVocab;
ByteBpeVocab *byte_bpe_create(const TokenizerVocab *vocab, char *err, size_t err_size);
void byte_bpe_free(ByteBpeVocab *vocab);
int byte_bpe_vocab_size(const ByteBpeVocab *vocab);
int byte_bpe_bos(const ByteBpeVocab *vocab);
int byte_bpe_eos(const ByteBpeVocab *vocab);
int byte_bpe_encode(const ByteBpeVocab *vocab, const char *text, size_t len, int *ids,
                    int max_ids, char *err, size_t err_size);
PieceView byte_bpe_piece(const ByteBpeVocab *vocab, int id); /* spelled in the byte alphabet */
/* The bytes piece id stands for (its byte alphabet undone): writes up to avail bytes,
 * returns the full count. */
size_t byte_bpe_piece_bytes(const ByteBpeVocab *vocab, int id, char *out, size_t avail);

#ifdef __cplusplus
}
#endif

#endif
