/* run_self_extend.h — the command-line side of Self-Extend for ./run: --rope-scaling
 * self-extend with --grp-attn-n G and --grp-attn-w W (llama.cpp's names) resolved into the
 * engine's SelfExtend, with defaults drawn from the training context, and its settings line. */
#ifndef ROPEWALK_RUN_SELF_EXTEND_H
#define ROPEWALK_RUN_SELF_EXTEND_H

#include <stdio.h>

#include "../engine/self_extend.h"
#include "run_rope.h"

/* Off unless --rope-scaling self-extend or --grp-attn-n G > 1 (llama.cpp turns it on so).
 * Defaults: W = trained / 2; G = the least that keeps every distance a logit sees below
 * `trained` at `context` tokens. 0, or -1 with a message (W without the mode, W >= trained
 * with no G). */
int self_extend_resolve(const RopeOptions *o, int trained, int context, SelfExtend *out,
                        char *err, size_t err_size);

/* "self-extend: group G, neighbour window W, ..." when on; nothing when off. */
void self_extend_print_settings(FILE *out, const SelfExtend *se, int trained, int context);

#endif
