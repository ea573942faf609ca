/* normalizer_spec.h — reads the NormalizerSpec of a serialized SentencePiece ModelProto
 * (the bytes of a .model file), without protobuf: the whitespace flags the built-in
 * tokenizer follows, and whether the normalizer does anything beyond them. */
#ifndef ROPEWALK_NORMALIZER_SPEC_H
#define ROPEWALK_NORMALIZER_SPEC_H

#include <stddef.h>

#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    TokenizerNormalizer flags;  /* add_dummy_prefix, remove_extra_whitespaces */
    int escape_whitespaces;     /* ' ' written as U+2581 */
    char name[32];              /* normalization rule name, e.g. "identity", "nmt_nfkc" */
    size_t charsmap_bytes;      /* precompiled_charsmap: 0 for the identity rule */
} SpmNormalizerSpec;

/* Fills spec from size bytes of a ModelProto, with SentencePiece's defaults (every flag
 * true) for fields the message leaves out.  0, or -1 with a message when the bytes are not
 * a well-formed protobuf message. */
int spm_read_normalizer_spec(const unsigned char *proto, size_t size, SpmNormalizerSpec *spec,
                             char *err, size_t err_size);

#ifdef __cplusplus
}
#endif

#endif
