/* pretokenize.h — the pre-tokenizer of byte-level BPE vocabularies: the regex split that
 * cuts text into words before any merge. Private to tokenizer/. */
#ifndef ROPEWALK_PRETOKENIZE_H
#define ROPEWALK_PRETOKENIZE_H

#include <stddef.h>

/* Splits text[0..len) as Llama 3's pre-tokenizer regex (GGUF "llama-bpe") does:
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d) | [^\r\n\p{L}\p{N}]?\p{L}+ | \p{N}{1,3} |
 *    ?[^\s\p{L}\p{N}]+[\r\n]* | \s*[\r\n]+ | \s+(?!\S) | \s+
 * Writes the byte offset at which each word ends to ends[] (which must hold len entries)
 * and returns the number of words. A byte that is not valid UTF-8 counts as a character
 * of no class (like punctuation). */
size_t pretokenize_llama3(const char *text, size_t len, size_t *ends);

#endif
