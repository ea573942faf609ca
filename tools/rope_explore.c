/* rope_explore.c — RoPE's two textbook properties, measured with the engine's own rotation
 * (engine/rope.c) for the guide (docs/GUIDE.md):
 *
 *   build/tools/rope_explore relative [--head-dim D] [--base B] [--orig L] [--context C]
 *       q_m . k_n for pairs (m, n) of one distance far apart, per mode and pair layout: the
 *       dot product depends on m - n only (a markdown table; the spread is float rounding).
 *   build/tools/rope_explore decay [--head-dim D] [--base B] [--orig L] [--context C]
 *       the long-range decay: q . k of q = k = (1, ..., 1) rotated to distance d, divided by
 *       its value at d = 0, i.e. the mean over pairs of cos(d theta'_k), per mode (CSV);
 *       for self-extend (W = L/2, G the least that keeps distances inside L) the distance a
 *       query at C - 1 sees for a key d before it.
 *
 * Scaled modes use s = C / L. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/rope.h"
#include "../engine/self_extend.h"

typedef struct {
    int head_dim, orig, context;
    double base;
} Shape;

static const RopeScaling MODES[] = {ROPE_SCALING_NONE, ROPE_SCALING_LINEAR, ROPE_SCALING_NTK,
                                    ROPE_SCALING_DYNAMIC, ROPE_SCALING_YARN, ROPE_SCALING_LLAMA3};
#define N_MODES (int)(sizeof MODES / sizeof MODES[0])

static RopeConfig mode_config(const Shape *s, RopeScaling mode) {
    RopeConfig cfg;
    rope_config_init(&cfg, mode, s->head_dim, s->base);
    cfg.original_context = s->orig;
    if (mode != ROPE_SCALING_NONE) cfg.factor = (double)s->context / s->orig;
    return cfg;
}

static double dot(const float *a, const float *b, int n) {
    double s = 0;
    for (int i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

static void relative(const Shape *s) {
    static const int at[][2] = {{7, 3}, {107, 103}, {1007, 1003}, {4004, 4000}};
    float q[ROPE_MAX_PAIRS * 2], k[ROPE_MAX_PAIRS * 2], qm[ROPE_MAX_PAIRS * 2], kn[ROPE_MAX_PAIRS * 2];
    unsigned state = 12345u;
    for (int i = 0; i < s->head_dim; i++) {
        state = state * 1664525u + 1013904223u;
        q[i] = (float)((state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
        state = state * 1664525u + 1013904223u;
        k[i] = (float)((state >> 8) & 0xFFFF) / 32768.0f - 1.0f;
    }
    printf("| mode | layout | q_7.k_3 | q_107.k_103 | q_1007.k_1003 | q_4004.k_4000 | spread | q_8.k_3 |\n");
    printf("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (int m = 0; m < N_MODES; m++)
        for (int layout = 0; layout < 2; layout++) {
            RopeConfig cfg = mode_config(s, MODES[m]);
            double lo = INFINITY, hi = -INFINITY;
            printf("| %s | %s |", rope_scaling_name(MODES[m]), layout ? "half-split" : "interleaved");
            for (int i = 0; i < 4; i++) {
                rope_rotate_to(&cfg, (RopeLayout)layout, s->context, at[i][0], q, qm);
                rope_rotate_to(&cfg, (RopeLayout)layout, s->context, at[i][1], k, kn);
                double d = dot(qm, kn, s->head_dim);
                lo = fmin(lo, d);
                hi = fmax(hi, d);
                printf(" %.6f |", d);
            }
            rope_rotate_to(&cfg, (RopeLayout)layout, s->context, 8, q, qm);
            rope_rotate_to(&cfg, (RopeLayout)layout, s->context, 3, k, kn);
            printf(" %.1e | %.6f |\n", hi - lo, dot(qm, kn, s->head_dim));
        }
}

/* Mean over pairs of cos(distance * theta'_k). */
static double mean_cos(const double *inv_freq, int pairs, double distance) {
    double sum = 0;
    for (int k = 0; k < pairs; k++) sum += cos(distance * inv_freq[k]);
    return sum / pairs;
}

static void decay(const Shape *s) {
    double freq[N_MODES][ROPE_MAX_PAIRS];
    int pairs = s->head_dim / 2;
    for (int m = 0; m < N_MODES; m++) {
        RopeConfig cfg = mode_config(s, MODES[m]);
        rope_inv_freq(&cfg, s->context, freq[m]);
    }
    SelfExtend se = {0, s->orig / 2};
    se.group = self_extend_group_for(se.window, s->orig, s->context);
    printf("distance");
    for (int m = 0; m < N_MODES; m++) printf(",%s", rope_scaling_name(MODES[m]));
    printf(",self-extend\n");
    for (int d = 0; d < s->context; d++) {
        printf("%d", d);
        for (int m = 0; m < N_MODES; m++) printf(",%.6f", mean_cos(freq[m], pairs, d));
        int query = s->context - 1, key = query - d;
        int seen = d < se.window ? d : self_extend_query_position(&se, query) -
                                           self_extend_key_position(&se, key);
        printf(",%.6f\n", mean_cos(freq[0], pairs, seen));
    }
}

static int parse(int argc, char **argv, Shape *s) {
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--head-dim")) s->head_dim = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--base")) s->base = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--orig")) s->orig = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--context")) s->context = atoi(argv[i + 1]);
        else return -1;
    }
    if ((argc - 2) % 2 || s->head_dim < 4 || s->head_dim % 2 || s->head_dim > 2 * ROPE_MAX_PAIRS ||
        !(s->base > 1) || s->orig < 2 || s->context < s->orig)
        return -1;
    return 0;
}

int main(int argc, char **argv) {
    Shape s = {64, 256, 4096, 10000.0};
    int ok = argc >= 2 && (!strcmp(argv[1], "relative") || !strcmp(argv[1], "decay"));
    if (!ok || parse(argc, argv, &s) != 0) {
        fprintf(stderr, "usage: rope_explore relative|decay [--head-dim D (even, >= 4)] [--base B "
                "(> 1)] [--orig L (>= 2)] [--context C (>= L)]\n");
        return 2;
    }
    if (!strcmp(argv[1], "relative")) relative(&s);
    else decay(&s);
    return 0;
}
