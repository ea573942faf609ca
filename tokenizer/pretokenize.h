/* pretokenize.h — the pre-tokenizer of byte-level BPE vocabularies: the regex split that
 * cuts text into words before any merge. Private to tokenizer/. */
#ifndef ROPEWALK_PRETOKENIZE_H
#define ROPEWALK_PRETOKENIZE_H

#include <stddef.h>

/* Splits text[0..len) as the pre-tokenizer regex of Llama 3 (GGUF "llama-bpe") does:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} |
 *    ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * with max_digits 3; Qwen2's ("qwen2") is the same with \p{N} alone, max_digits 1.
 * Writes the byte offset at which each word ends to ends[] (which must hold len entries)
 * and returns the number of words. A byte that is not valid UTF-8 counts as a character
 * of no class (like punctuation). */
size_t pretokenize(const char *text, size_t len, int max_digits, size_t *ends);

/* The digit run of a GGUF tokenizer.ggml.pre name: 3 for "llama-bpe", 1 for "qwen2", 0 for a
 * pre-tokenizer this file does not know. */
int pretokenizer_digit_run(const char *name);

#endif
