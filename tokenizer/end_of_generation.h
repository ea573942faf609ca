/* end_of_generation.h — the tokens at which generation stops, chosen as llama.cpp chooses them
 * (llama_vocab's end-of-generation set): the end-of-sequence token, the file's end-of-turn and
 * end-of-message tokens (tokenizer.ggml.eot_token_id / eom_token_id), and every token spelt
 * like one of the end markers llama.cpp knows by name (<|eot_id|>, <|eom_id|>,
 * <|end_of_text|>, </s>, <|im_end|>, <end_of_turn>, ...). A Llama 3 instruct reply thus ends
 * at <|eot_id|> even in a file whose eos is <|end_of_text|>. */
#ifndef ROPEWALK_END_OF_GENERATION_H
#define ROPEWALK_END_OF_GENERATION_H

#include <stdio.h>

enum { MAX_END_TOKENS = 16 };

typedef struct {
    int n;
    int ids[MAX_END_TOKENS];
} EndTokens;

/* From a vocabulary of n_tokens pieces (NULL, 0: none; then only the ids given) and the
 * special ids (-1 when absent). */
void end_tokens_init(EndTokens *e, int n_tokens, const char *const *pieces,
                     const int *piece_lengths, int eos_id, int eot_id, int eom_id);
int end_tokens_contains(const EndTokens *e, int id);
/* "</s> (2), <|eot_id|> (128009)" into out (with the pieces, when there are any). */
void end_tokens_describe(const EndTokens *e, const char *const *pieces, FILE *out);

#endif
