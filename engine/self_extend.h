/* self_extend.h — Self-Extend (Jin et al. 2024, "LLM Maybe LongLM"): a training-free way
 * past the training context that works through RoPE positions, not frequencies.
 *
 * For a query at p_q and a key at p_k, d = p_q - p_k:
 *   d <  W  (neighbours): the ordinary positions p_q and p_k;
 *   d >= W  (far keys):   grouped positions floor(p_q/G) + W - floor(W/G) for the query and
 *                         floor(p_k/G) for the key;
 * both kinds of logits go into one softmax. G is the group size, W the neighbour window
 * (llama.cpp's --grp-attn-n and --grp-attn-w). With G = 1 it is plain RoPE.
 *
 * How the engine computes it exactly (attention.c): keys are cached raw, queries reach the
 * attention raw, and each query tile rotates both with the shared cos/sin table of every
 * position: neighbour keys at j, far keys at floor(j/G) — two rotated copies of the keys
 * per tile, no second cache — and the two score matrices are merged column by column before
 * the softmax. This costs one more key tile and one more score product per head; the
 * alternative of caching keys rotated at both positions would double the KV cache. */
#ifndef ROPEWALK_SELF_EXTEND_H
#define ROPEWALK_SELF_EXTEND_H

#include <stddef.h>

typedef struct {
    int group;  /* G >= 1; 0 = Self-Extend off */
    int window; /* W >= 1: distances below W keep their ordinary positions */
} SelfExtend;

static inline int self_extend_on(const SelfExtend *se) { return se && se->group > 0; }

/* The grouped position of a query at p: floor(p/G) + W - floor(W/G). */
int self_extend_query_position(const SelfExtend *se, int p);
/* The grouped position of a key at p: floor(p/G). */
int self_extend_key_position(const SelfExtend *se, int p);
/* The largest relative distance (query position - key position) any logit of a sequence of
 * `length` tokens sees: below W for neighbours, the last query's grouped position for the
 * far keys. Plain RoPE would see length - 1. */
int self_extend_max_distance(const SelfExtend *se, int length);
/* The smallest G with which a sequence of `length` tokens and window W < trained never sees
 * a distance past trained - 1, i.e. stays inside the training context; 0 when W >= trained. */
int self_extend_group_for(int window, int trained, int length);

/* G >= 1, W >= 1. 0, or -1 with a message. */
int self_extend_validate(const SelfExtend *se, char *err, size_t err_size);

/* Row of scores of a query at p_q over keys 0..p_q: the far keys' columns (j <= p_q - W)
 * take the grouped scores. */
void self_extend_merge_scores(float *scores, const float *grouped_scores, int p_q,
                              const SelfExtend *se);

#endif
