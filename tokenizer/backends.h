/* backends.h — private to tokenizer/: what the dispatcher (tokenizer.c) needs from each
 * back end (sentencepiece_shim.cc, vocab.c). Not part of the public API. */
#ifndef ROPEWALK_TOKENIZER_BACKENDS_H
#define ROPEWALK_TOKENIZER_BACKENDS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "tokenizer.h"

/* How a piece turns back into bytes. */
typedef enum { PIECE_NORMAL, PIECE_BYTE, PIECE_CONTROL, PIECE_UNKNOWN } PieceKind;

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
int builtin_encode(const BuiltinVocab *vocab, const char *text, size_t len, int *ids,
                   int max_ids, char *err, size_t err_size);
PieceView builtin_piece(const BuiltinVocab *vocab, int id); /* id must be in range */

#ifdef __cplusplus
}
#endif

#endif
