/* gguf_vocab_writer.c — tokenizer.ggml.* keys from a ModelVocab (see gguf_vocab_writer.h). */
#include "gguf_vocab_writer.h"

#include <string.h>

static int add_special_ids(GgufWriter *w, const ModelVocab *v, char *err, size_t err_size) {
    const char *keys[] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                          "tokenizer.ggml.unknown_token_id"};
    const int ids[] = {v->bos_id, v->eos_id, v->unk_id};
    for (int i = 0; i < 3; i++)
        if (ids[i] >= 0 && gguf_writer_add_u32(w, keys[i], (uint32_t)ids[i], err, err_size)) return -1;
    return gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", v->add_bos, err, err_size);
}

int gguf_writer_add_model_vocab(GgufWriter *w, const ModelVocab *v, char *err, size_t err_size) {
    int byte_level = strcmp(v->model_name, "gpt2") == 0;
    if (gguf_writer_add_string(w, "tokenizer.ggml.model", v->model_name, err, err_size) ||
        (byte_level && gguf_writer_add_string(w, "tokenizer.ggml.pre", v->pre_tokenizer, err, err_size)) ||
        gguf_writer_add_string_array(w, "tokenizer.ggml.tokens", (const char *const *)v->pieces,
                                     v->piece_lengths, v->n_tokens, err, err_size) ||
        (v->types && gguf_writer_add_i32_array(w, "tokenizer.ggml.token_type", (const int32_t *)v->types,
                                               v->n_tokens, err, err_size)))
        return -1;
    if (byte_level)
        return gguf_writer_add_string_array(w, "tokenizer.ggml.merges", (const char *const *)v->merges,
                                            v->merge_lengths, v->n_merges, err, err_size) ||
               add_special_ids(w, v, err, err_size) ? -1 : 0;
    return gguf_writer_add_f32_array(w, "tokenizer.ggml.scores", v->scores, v->n_tokens, err, err_size) ||
           add_special_ids(w, v, err, err_size) ||
           gguf_writer_add_bool(w, "tokenizer.ggml.add_space_prefix", v->add_space_prefix, err, err_size) ||
           gguf_writer_add_bool(w, "tokenizer.ggml.remove_extra_whitespaces",
                                v->remove_extra_whitespaces, err, err_size) ? -1 : 0;
}
