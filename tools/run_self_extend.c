/* run_self_extend.c — resolution and settings line of Self-Extend for ./run
 * (run_self_extend.h). */
#include "run_self_extend.h"

#include "../util/errors.h"

int self_extend_resolve(const RopeOptions *o, int trained, int context, SelfExtend *out,
                        char *err, size_t n) {
    out->group = out->window = 0;
    int on = o->self_extend || (o->has_grp_attn_n && o->grp_attn_n > 1);
    if (!on) {
        if (o->has_grp_attn_w)
            return fail(err, n, "--grp-attn-w is Self-Extend's window: add --rope-scaling "
                        "self-extend (or --grp-attn-n G > 1)");
        return 0;
    }
    out->window = o->has_grp_attn_w ? o->grp_attn_w : (trained / 2 > 0 ? trained / 2 : 1);
    if (o->has_grp_attn_n) {
        out->group = o->grp_attn_n;
        return 0;
    }
    out->group = self_extend_group_for(out->window, trained, context);
    if (out->group == 0)
        return fail(err, n, "self-extend: the window %d is not below the trained context %d, so "
                    "no group size keeps distances inside it; give --grp-attn-n", out->window,
                    trained);
    return 0;
}

void self_extend_print_settings(FILE *out, const SelfExtend *se, int trained, int context) {
    if (!self_extend_on(se)) return;
    int reach = self_extend_max_distance(se, context);
    fprintf(out, "self-extend: group %d, neighbour window %d: distances below %d keep their "
            "positions, farther keys are grouped; the largest distance at %d tokens is %d "
            "(trained %d)%s\n", se->group, se->window, se->window, context, reach, trained,
            reach >= trained ? " - past the trained context" : "");
}
