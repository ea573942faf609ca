/* special_split.h — cutting text at the spellings of a vocabulary's special tokens (control,
 * unknown and user-defined ones) before the rest is tokenized, as llama.cpp's
 * tokenizer_st_partition does. Private to tokenizer/. */
#ifndef ROPEWALK_SPECIAL_SPLIT_H
#define ROPEWALK_SPECIAL_SPLIT_H

#include <stddef.h>

#include "backends.h"

typedef struct {
    size_t offset, length; /* bytes of the text */
    int id;                /* the special token these bytes spell, or -1 for plain text */
} TextSegment;

typedef struct {
    int count;
    int *ids;               /* longest spelling first, then the lowest id */
    const char **texts;     /* spellings (owned by the back end) */
    size_t *lengths;
    unsigned char *is_user_defined; /* matched even when control tokens are not parsed */
} SpecialTokens;

typedef PieceView (*PieceLookup)(const void *context, int id);

/* Collects the special tokens among ids 0..n_tokens-1. Returns 0, or -1 out of memory. */
int special_tokens_init(SpecialTokens *s, int n_tokens, PieceLookup piece, const void *context);
void special_tokens_free(SpecialTokens *s);

/* Cuts text[0..len) into segments (*out, malloc'd; free it): each spelling of a special
 * token becomes its own segment, user-defined ones always, control and unknown ones only
 * when parse_control. Longer spellings are matched first. Returns the number of segments,
 * or -1 out of memory. */
int special_split(const SpecialTokens *s, const char *text, size_t len, int parse_control,
                  TextSegment **out);

#endif
