/* gguf_vocab_writer.h — a ModelVocab written as a GGUF's tokenizer.ggml.* keys, in either
 * family (llama.cpp's key names and conventions), for the tools that make GGUF files. */
#ifndef ROPEWALK_GGUF_VOCAB_WRITER_H
#define ROPEWALK_GGUF_VOCAB_WRITER_H

#include <stddef.h>

#include "gguf_writer.h"
#include "model.h"

/* tokenizer.ggml.model (v->model_name), tokens, token_type, scores (SentencePiece only),
 * merges and pre (byte-level BPE only), the special ids that are set, add_bos_token and,
 * for SentencePiece, the two whitespace flags. 0, or -1 with a message. */
int gguf_writer_add_model_vocab(GgufWriter *w, const ModelVocab *v, char *err, size_t err_size);

#endif
