/* model_vocab.c — tokenizer_from_model_vocab(): a ModelVocab seen as a TokenizerVocab, its
 * family chosen by tokenizer.ggml.model ("llama": SentencePiece-BPE, "gpt2": byte-level
 * BPE; other families are refused by name). */
#include "model_vocab.h"

#include "../util/errors.h"

#include <string.h>

Tokenizer *tokenizer_from_model_vocab(const ModelVocab *v, char *err, size_t err_size) {
    int byte_level = strcmp(v->model_name, "gpt2") == 0;
    if (!byte_level && v->model_name[0] && strcmp(v->model_name, "llama") != 0) {
        fail(err, err_size, "tokenizer.ggml.model '%s' is not supported (only 'llama', "
             "SentencePiece, and 'gpt2', byte-level BPE)", v->model_name);
        return NULL;
    }
    TokenizerVocab tv = {
        .n_tokens = v->n_tokens, .pieces = (const char *const *)v->pieces,
        .piece_lengths = v->piece_lengths, .scores = v->scores, .types = v->types,
        .bos_id = v->bos_id, .eos_id = v->eos_id, .unk_id = v->unk_id,
        .normalizer = {v->add_space_prefix, v->remove_extra_whitespaces},
        .family = byte_level ? TOKENIZER_BYTE_LEVEL_BPE : TOKENIZER_SENTENCEPIECE_BPE,
        .n_merges = v->n_merges, .merges = (const char *const *)v->merges,
        .merge_lengths = v->merge_lengths, .pre_tokenizer = v->pre_tokenizer[0] ? v->pre_tokenizer : NULL,
    };
    return tokenizer_from_vocab(&tv, err, err_size);
}
