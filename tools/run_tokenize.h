/* run_tokenize.h — ./run MODEL --tokenize and --detokenize: the ids a prompt is fed to the
 * model as, and the text of ids (llama.cpp's llama-tokenize, for this engine's tokenizers).
 * Both open only the vocabulary, so a GGUF without tensors is enough. */
#ifndef ROPEWALK_RUN_TOKENIZE_H
#define ROPEWALK_RUN_TOKENIZE_H

#include <stddef.h>

#include "run_args.h"

/* The prompt's bytes: -f FILE's contents exactly, else -p's text. *owned is what to free. */
const char *prompt_bytes(const RunOptions *o, size_t *len, char **owned, char *err,
                         size_t err_size);

int run_tokenize(const RunOptions *o, char *err, size_t err_size);
int run_detokenize(const RunOptions *o, char *err, size_t err_size);

#endif
