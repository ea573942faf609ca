/* bpe_merge.h — the merge loop both BPE families share: the text starts as its UTF-8
 * characters, and the adjacent pair with the best priority is merged until no pair may be;
 * on a tie the leftmost pair goes first. A binary heap with lazy deletion makes it
 * O(n log n). What "may merge" and "priority" mean is the family's (a callback):
 * SentencePiece asks for the score of the merged piece, byte-level BPE for the rank of
 * the pair in its merge list. Private to tokenizer/. */
#ifndef ROPEWALK_BPE_MERGE_H
#define ROPEWALK_BPE_MERGE_H

typedef struct {
    int start, length; /* bytes of the text; length 0 once merged away */
    int prev, next;    /* neighbours, -1 at the ends */
} BpeSymbol;

/* Whether text[start .. start + left_length + right_length) may be merged from its two
 * halves; if so, 1 with *priority set (higher goes first), else 0. */
typedef int (*BpePairPriority)(const void *context, const char *text, int start,
                               int left_length, int right_length, float *priority);

/* Merges text[0..n_bytes) (n_bytes > 0) into symbols[], which must hold n_bytes entries;
 * the survivors are a list from symbols[0] along .next. Returns 0, or -1 out of memory. */
int bpe_merge(const char *text, int n_bytes, BpePairPriority priority, const void *context,
              BpeSymbol *symbols);

#endif
