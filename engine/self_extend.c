/* self_extend.c — Self-Extend's position maps and the merge of neighbour and grouped
 * scores (self_extend.h has the formula and the paper). */
#include "self_extend.h"

#include <string.h>

#include "../util/errors.h"

int self_extend_query_position(const SelfExtend *se, int p) {
    return p / se->group + se->window - se->window / se->group;
}

int self_extend_key_position(const SelfExtend *se, int p) { return p / se->group; }

int self_extend_max_distance(const SelfExtend *se, int length) {
    int last = length - 1;
    if (last < se->window) return last < 0 ? 0 : last; /* no key is far yet */
    int grouped = self_extend_query_position(se, last); /* against the key at 0 */
    return grouped > se->window - 1 ? grouped : se->window - 1;
}

int self_extend_group_for(int window, int trained, int length) {
    if (window >= trained) return 0;
    for (int g = 1; g < length; g++) {
        SelfExtend se = {g, window};
        if (self_extend_max_distance(&se, length) <= trained - 1) return g;
    }
    return length > 1 ? length : 1;
}

int self_extend_validate(const SelfExtend *se, char *err, size_t err_size) {
    if (se->group < 1)
        return fail(err, err_size, "self-extend: group size (--grp-attn-n) must be >= 1, got %d",
                    se->group);
    if (se->window < 1)
        return fail(err, err_size, "self-extend: neighbour window (--grp-attn-w) must be >= 1, "
                    "got %d", se->window);
    return 0;
}

void self_extend_merge_scores(float *scores, const float *grouped_scores, int p_q,
                              const SelfExtend *se) {
    int far = p_q - se->window + 1; /* keys 0..p_q-W are far */
    if (far > 0) memcpy(scores, grouped_scores, (size_t)far * sizeof *scores);
}
