/* run_args.c — parsing and help for ./run's own flags; numbers are checked strictly
 * (the whole argument must be a number in range) so a typo is an error, not a zero. */
#include "run_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/transformer.h"
#include "../util/errors.h"

static void defaults(RunOptions *o) {
    memset(o, 0, sizeof *o);
    o->mode = RUN_GENERATE;
    o->prompt = "";
    o->n_predict = 256;
    o->temperature = 0.8f;
    o->top_p = 0.9f;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = cores > 0 ? (int)cores : 1;
    o->batch = 512;
    o->kv_type = KV_F16;
    o->key_policy = KEY_POLICY_AUTO;
    o->bench_prompt = 512;
    o->bench_gen = 128;
    o->bench_repeats = 3;
    ppl_options_init(&o->ppl);
    passkey_options_init(&o->passkey);
}

static int parse_long(const char *flag, const char *text, long lo, long hi, long *out,
                      char *err, size_t n) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end)
        return fail(err, n, "%s: '%s' is not an integer", flag, text);
    if (v < lo || v > hi) return fail(err, n, "%s: %ld is out of range %ld..%ld", flag, v, lo, hi);
    *out = v;
    return 0;
}

static int parse_int(const char *flag, const char *text, long lo, long hi, int *out, char *err,
                     size_t n) {
    long v;
    if (parse_long(flag, text, lo, hi, &v, err, n) != 0) return -1;
    *out = (int)v;
    return 0;
}

static int parse_float(const char *flag, const char *text, double lo, double hi, float *out,
                       char *err, size_t n) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || v != v)
        return fail(err, n, "%s: '%s' is not a number", flag, text);
    if (v < lo || v > hi) return fail(err, n, "%s: %g is out of range %g..%g", flag, v, lo, hi);
    *out = (float)v;
    return 0;
}

static int parse_key_policy(const char *text, int *out, char *err, size_t n) {
    if (!strcmp(text, "store")) *out = KEYS_ROTATED_AT_STORE;
    else if (!strcmp(text, "attention")) *out = KEYS_ROTATED_AT_ATTENTION;
    else if (!strcmp(text, "auto")) *out = KEY_POLICY_AUTO;
    else return fail(err, n, "--rope-keys: '%s' is not one of store, attention, auto", text);
    return 0;
}

/* Flags that take a value: returns 1 if handled (ok or error in *rc). */
static int parse_valued(RunOptions *o, const char *flag, const char *v, int *rc, char *err,
                        size_t n) {
    long seed;
    if (!strcmp(flag, "-p") || !strcmp(flag, "--prompt")) o->prompt = v;
    else if (!strcmp(flag, "-f") || !strcmp(flag, "--file")) o->prompt_file = v;
    else if (!strcmp(flag, "-m") || !strcmp(flag, "--model")) o->model_path = v;
    else if (!strcmp(flag, "--tokenizer")) o->tokenizer_path = v;
    else if (!strcmp(flag, "-n") || !strcmp(flag, "--n-predict"))
        *rc = parse_int(flag, v, 0, 1L << 30, &o->n_predict, err, n);
    else if (!strcmp(flag, "--temp")) *rc = parse_float(flag, v, 0, 100, &o->temperature, err, n);
    else if (!strcmp(flag, "--top-p")) *rc = parse_float(flag, v, 1e-6, 1, &o->top_p, err, n);
    else if (!strcmp(flag, "-s") || !strcmp(flag, "--seed")) {
        *rc = parse_long(flag, v, 0, 0x7fffffffffffffffL, &seed, err, n);
        o->seed = (uint64_t)seed;
        o->seed_given = 1;
    } else if (!strcmp(flag, "-c") || !strcmp(flag, "--ctx-size"))
        *rc = parse_int(flag, v, 0, 1 << 28, &o->context, err, n);
    else if (!strcmp(flag, "-t") || !strcmp(flag, "--threads"))
        *rc = parse_int(flag, v, 1, 1024, &o->threads, err, n);
    else if (!strcmp(flag, "-b") || !strcmp(flag, "--batch-size"))
        *rc = parse_int(flag, v, 1, 1 << 20, &o->batch, err, n);
    else if (!strcmp(flag, "--kv-type")) {
        if (kv_type_from_name(v, &o->kv_type) != 0)
            *rc = fail(err, n, "--kv-type: '%s' is not one of f32, f16, q8_0", v);
    } else if (!strcmp(flag, "--rope-keys")) *rc = parse_key_policy(v, &o->key_policy, err, n);
    else if (!strcmp(flag, "--stream-window"))
        *rc = parse_int(flag, v, 2, 1 << 28, &o->stream_window, err, n);
    else if (!strcmp(flag, "--sinks")) *rc = parse_int(flag, v, 0, 1 << 28, &o->sinks, err, n);
    else if (!strcmp(flag, "--keep")) *rc = parse_int(flag, v, 0, 1 << 28, &o->keep, err, n);
    else if (!strcmp(flag, "--bench-prompt"))
        *rc = parse_int(flag, v, 0, 1 << 24, &o->bench_prompt, err, n);
    else if (!strcmp(flag, "--bench-gen")) *rc = parse_int(flag, v, 0, 1 << 24, &o->bench_gen, err, n);
    else if (!strcmp(flag, "--bench-depth"))
        *rc = parse_int(flag, v, 0, 1 << 28, &o->bench_depth, err, n);
    else if (!strcmp(flag, "--bench-repeats"))
        *rc = parse_int(flag, v, 1, 1000, &o->bench_repeats, err, n);
    else return 0;
    return 1;
}

static int parse_switch(RunOptions *o, const char *flag) {
    if (!strcmp(flag, "--print-rope")) o->mode = RUN_PRINT_ROPE;
    else if (!strcmp(flag, "--bench")) o->mode = RUN_BENCH;
    else if (!strcmp(flag, "-v") || !strcmp(flag, "--verbose")) o->verbose = 1;
    else if (!strcmp(flag, "--context-shift")) o->context_shift = 1;
    else if (!strcmp(flag, "--no-repack")) o->no_repack = 1;
    else if (!strcmp(flag, "--tokenize")) o->mode = RUN_TOKENIZE;
    else if (!strcmp(flag, "--detokenize")) o->mode = RUN_DETOKENIZE;
    else if (!strcmp(flag, "--no-bos")) o->no_bos = 1;
    else if (!strcmp(flag, "--no-parse-special")) o->no_parse_special = 1;
    else return 0;
    return 1;
}

static int is_valued_flag(const char *flag) {
    static const char *const valued[] = {
        "-p", "--prompt", "-f", "--file", "-m", "--model", "--tokenizer", "-n", "--n-predict", "--temp",
        "--top-p", "-s", "--seed", "-c", "--ctx-size", "-t", "--threads", "-b",
        "--batch-size", "--kv-type", "--rope-keys", "--stream-window", "--sinks", "--keep",
        "--bench-prompt", "--bench-gen",
        "--bench-depth", "--bench-repeats", NULL};
    for (int i = 0; valued[i]; i++)
        if (!strcmp(flag, valued[i])) return 1;
    return 0;
}

/* An id list: digits, separated by spaces or commas. */
static int looks_like_ids(const char *s) {
    int digits = 0;
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') digits++;
        else if (*s != ' ' && *s != ',' && *s != '-') return 0;
    }
    return digits > 0;
}

/* --ids: with an id list after it, the ids --detokenize reads; alone, --tokenize's "ids only". */
static void parse_ids_flag(RunOptions *o, int argc, char **argv, int *i) {
    if (*i + 1 < argc && looks_like_ids(argv[*i + 1])) o->id_list = argv[++*i];
    else o->ids_only = 1;
}

static int parse_one(RunOptions *o, int argc, char **argv, int *i, char *err, size_t n) {
    const char *arg = argv[*i];
    if (!strcmp(arg, "--ids")) {
        parse_ids_flag(o, argc, argv, i);
        return 0;
    }
    int rc = rope_flag_parse(&o->rope, argc, argv, i, err, n);
    if (rc != 0) return rc < 0 ? -1 : 0;
    rc = ppl_flag_parse(&o->ppl, argc, argv, i, err, n);
    if (rc != 0) return rc < 0 ? -1 : 0;
    rc = passkey_flag_parse(&o->passkey, argc, argv, i, err, n);
    if (rc != 0) return rc < 0 ? -1 : 0;
    if (parse_switch(o, arg)) return 0;
    if (is_valued_flag(arg)) {
        if (*i + 1 >= argc) return fail(err, n, "%s needs a value", arg);
        rc = 0;
        parse_valued(o, arg, argv[++*i], &rc, err, n);
        return rc;
    }
    if (arg[0] == '-' && arg[1]) return fail(err, n, "unknown option '%s' (see --help)", arg);
    if (o->model_path) return fail(err, n, "unexpected argument '%s' (the model is '%s')", arg, o->model_path);
    o->model_path = arg;
    return 0;
}

int run_args_parse(RunOptions *o, int argc, char **argv, char *err, size_t err_size) {
    defaults(o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            run_args_help(stdout);
            return 1;
        }
        if (parse_one(o, argc, argv, &i, err, err_size) != 0) return -1;
    }
    if (o->ppl.text_path && o->mode == RUN_GENERATE) o->mode = RUN_PERPLEXITY;
    if (o->passkey.enabled) {
        if (o->mode != RUN_GENERATE)
            return fail(err, err_size, "--passkey is a mode of its own: it does not combine with "
                        "--ppl, --bench, --print-rope or --tokenize");
        o->mode = RUN_PASSKEY;
        if (o->passkey.pos >= 0 && o->passkey.depth >= 0.0)
            return fail(err, err_size, "--passkey-pos and --passkey-depth both place the key: "
                        "choose one");
    }
    if (o->mode == RUN_DETOKENIZE && !o->id_list)
        return fail(err, err_size, "--detokenize needs --ids \"ID ID ...\"");
    if (o->stream_window && o->context_shift)
        return fail(err, err_size, "--stream-window and --context-shift are two answers to a full "
                    "cache: choose one");
    if (o->stream_window && o->sinks >= o->stream_window)
        return fail(err, err_size, "--sinks %d leaves no room in --stream-window %d", o->sinks,
                    o->stream_window);
    if (!o->model_path && o->mode != RUN_PRINT_ROPE)
        return fail(err, err_size, "no model file given (usage: ./run MODEL [options]; see --help)");
    return 0;
}

void run_args_help(FILE *out) {
    fprintf(out,
        "usage: ./run MODEL [options]          generate text (streams tokens to stdout)\n"
        "       ./run MODEL --ppl FILE [...]   perplexity of a text\n"
        "       ./run [MODEL] --print-rope     the RoPE frequency table\n"
        "       ./run MODEL --bench [...]      prefill/decode speed\n"
        "       ./run MODEL --tokenize [-p TEXT | -f FILE] [--ids] [--no-bos] [--json]\n"
        "       ./run MODEL --detokenize --ids \"ID ID ...\"\n"
        "       ./run MODEL --passkey [...]    passkey retrieval (llama-passkey's test)\n"
        "MODEL is a GGUF (v2/v3, llama) or a llama2.c .bin checkpoint; --tokenize and\n"
        "--detokenize also open a GGUF that holds only a vocabulary.\n\n"
        "generation:\n"
        "  -p, --prompt TEXT      prompt (default: empty, i.e. BOS only)\n"
        "  -f, --file FILE        prompt from a file, its bytes exactly (nothing trimmed)\n"
        "  -n, --n-predict N      tokens to generate (default 256)\n"
        "  --temp T               temperature, 0 = greedy (default 0.8)\n"
        "  --top-p P              nucleus sampling threshold (default 0.9)\n"
        "  -s, --seed S           sampler seed (default: from the clock)\n"
        "  --tokenizer FILE       SentencePiece .model or llama2.c tokenizer.bin\n"
        "                         (default: the GGUF's own vocabulary)\n"
        "engine:\n"
        "  -c, --ctx-size N       context length (default: the model's training context)\n"
        "  -t, --threads N        threads (default: number of cores)\n"
        "  -b, --batch-size N     most tokens per forward pass in prefill (default 512)\n"
        "  --kv-type T            KV cache type: f32, f16, q8_0 (default f16)\n"
        "  --rope-keys P          store: cache keys rotated (fast); attention: cache raw keys\n"
        "                         and rotate with the current frequencies (exact for dynamic);\n"
        "                         auto: attention for dynamic/longrope, else store (default)\n"
        "  --stream-window W      StreamingLLM: a cache of W positions; when full, keep the\n"
        "                         sinks and the most recent tokens, positions re-assigned\n"
        "                         inside the window (generation runs without end)\n"
        "  --sinks S              attention-sink tokens kept at the start (default 0)\n"
        "  --context-shift        llama.cpp's answer to a full cache: keep --keep tokens, drop\n"
        "                         half of the rest, re-rotate the cached keys (default off)\n"
        "  --keep N               tokens kept by --context-shift (default 0)\n"
        "  --no-repack            multiply Q4_0/Q8_0/Q4_K/Q6_K weights from the file's rows, not\n"
        "                         from a copy interleaved 16 rows at a time at load (AVX-512 VNNI)\n"
        "  -v, --verbose          more detail on stderr\n"
        "bench:\n"
        "  --bench-prompt N       prompt tokens to prefill (default 512)\n"
        "  --bench-gen N          tokens to decode (default 128)\n"
        "  --bench-depth D        tokens already in the cache before measuring (default 0)\n"
        "  --bench-repeats R      runs; the median is reported (default 3)\n"
        "tokenize:\n"
        "  --tokenize             print the ids the prompt is fed as: \"id<TAB>piece\" lines\n"
        "                         (piece bytes escaped), then a count line\n"
        "  --ids                  --tokenize: the ids alone, on one line\n"
        "  --no-bos               leave out the BOS the vocabulary adds (tokenizer.ggml.add_bos_token)\n"
        "  --no-parse-special     text spelling a control token (\"</s>\", \"<|eot_id|>\") in the\n"
        "                         prompt stays text (default: it becomes that token, as llama.cpp)\n"
        "  --detokenize --ids L   the text of the ids in L (spaces or commas between)\n");
    rope_flags_help(out);
    ppl_flags_help(out);
    passkey_flags_help(out);
}
