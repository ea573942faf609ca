/* model_vocab.h — the one bridge from a model file's vocabulary (models/model.h's
 * ModelVocab: pieces, scores, types, special ids, whitespace rules) to the built-in
 * tokenizer, so that every caller builds it the same way. */
#ifndef ROPEWALK_MODEL_VOCAB_H
#define ROPEWALK_MODEL_VOCAB_H

#include <stddef.h>

#include "../models/model.h"
#include "tokenizer.h"

/* The built-in tokenizer over v (which must have n_tokens > 0); NULL with a message. */
Tokenizer *tokenizer_from_model_vocab(const ModelVocab *v, char *err, size_t err_size);

#endif
