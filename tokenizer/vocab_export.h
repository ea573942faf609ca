/* vocab_export.h — the full vocabulary of a SentencePiece .model as plain arrays (piece
 * text, score, GGUF token type by id, special ids), for tools that write it into a model
 * file (tools/convert_llama2c.c).  Reads the .model through libsentencepiece; independent
 * of the Tokenizer object. */
#ifndef ROPEWALK_VOCAB_EXPORT_H
#define ROPEWALK_VOCAB_EXPORT_H

#include <stddef.h>

#include "normalizer_spec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int n_tokens;
    char **pieces;      /* NUL-terminated copies, SentencePiece spelling (U+2581 for space) */
    int *piece_lengths; /* bytes of each piece */
    float *scores;
    int *types;         /* GGUF numbering: 1 normal, 2 unknown, 3 control, 5 unused, 6 byte */
    int bos_id, eos_id, unk_id; /* -1 when the model has none */
    SpmNormalizerSpec normalizer; /* the .model's normalizer_spec */
} ExportedVocab;

/* Loads every piece of the SentencePiece model at path.  0, or -1 with a message (and
 * `vocab` left empty).  Free with exported_vocab_free. */
int exported_vocab_load(const char *path, ExportedVocab *vocab, char *err, size_t err_size);
void exported_vocab_free(ExportedVocab *vocab);

#ifdef __cplusplus
}
#endif

#endif
