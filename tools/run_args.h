/* run_args.h — the command line of ./run: every option with its default, parsed in one
 * place. RoPE and perplexity flags are delegated to run_rope and run_ppl. */
#ifndef ROPEWALK_RUN_ARGS_H
#define ROPEWALK_RUN_ARGS_H

#include <stdint.h>
#include <stdio.h>

#include "../engine/kvcache.h"
#include "run_passkey.h"
#include "run_ppl.h"
#include "run_rope.h"

typedef enum {
    RUN_GENERATE, RUN_PERPLEXITY, RUN_PRINT_ROPE, RUN_BENCH, RUN_TOKENIZE, RUN_DETOKENIZE,
    RUN_PASSKEY
} RunMode;

typedef enum { KEY_POLICY_AUTO = -1 } KeyPolicyChoice; /* else a KeyRotationPolicy */

typedef struct {
    RunMode mode;
    const char *model_path;     /* NULL allowed only for --print-rope */
    const char *prompt;
    const char *prompt_file;    /* -f FILE: the prompt is the file's bytes, exactly */
    const char *id_list;        /* --ids "1 2 3" for --detokenize */
    int ids_only, no_bos;       /* --tokenize's --ids; --no-bos: no BOS even if the vocabulary adds one */
    int no_parse_special;       /* --no-parse-special: "<|eot_id|>" in a prompt stays text */
    const char *tokenizer_path; /* NULL: the model's own vocabulary */
    int n_predict;              /* -n */
    float temperature, top_p;
    uint64_t seed;
    int seed_given;
    int context;                /* -c; 0 = the model's training context */
    int threads;                /* -t */
    int batch;                  /* -b: most tokens per forward call */
    KvType kv_type;
    int key_policy;             /* KEY_POLICY_AUTO or a KeyRotationPolicy */
    int stream_window, sinks;   /* --stream-window W --sinks S (0: off) */
    int context_shift, keep;    /* --context-shift, --keep N */
    int no_repack;              /* --no-repack: no engine/repack.h copies */
    int bench_prompt, bench_gen, bench_depth, bench_repeats;
    int verbose;
    RopeOptions rope;
    PplOptions ppl;
    PasskeyOptions passkey;
} RunOptions;

/* Fills o from argv. Returns 0 to go on, 1 when --help was printed, -1 on a bad command
 * line (message in err). */
int run_args_parse(RunOptions *o, int argc, char **argv, char *err, size_t err_size);
void run_args_help(FILE *out);

#endif
