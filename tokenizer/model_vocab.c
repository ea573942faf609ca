/* model_vocab.c — tokenizer_from_model_vocab(): a ModelVocab seen as a TokenizerVocab. */
#include "model_vocab.h"

Tokenizer *tokenizer_from_model_vocab(const ModelVocab *v, char *err, size_t err_size) {
    TokenizerVocab tv = {v->n_tokens, (const char *const *)v->pieces, v->piece_lengths,
                         v->scores, v->types, v->bos_id, v->eos_id, v->unk_id,
                         {v->add_space_prefix, v->remove_extra_whitespaces}};
    return tokenizer_from_vocab(&tv, err, err_size);
}
