/* fuzz_args.c — libFuzzer harness for ./run's command line: the input split at newlines
 * into argv (at most 48 words), parsed by run_args_parse; a command line that parses is
 * resolved into RoPE settings for a llama-like model and its frequency table printed to
 * /dev/null, as ./run would before running. --help/-h are skipped (they print the help). */
#include "fuzz_common.h"

#include "../../tools/run_args.h"

#define MAX_WORDS 48

static int split(char *text, char **argv) {
    int argc = 0;
    argv[argc++] = "run";
    for (char *word = text; word && argc < MAX_WORDS;) {
        char *next = strchr(word, '\n');
        if (next) *next++ = 0;
        if (!strcmp(word, "-h") || !strcmp(word, "--help")) return -1;
        argv[argc++] = word;
        word = next;
    }
    argv[argc] = NULL;
    return argc;
}

static void resolve(const RunOptions *o) {
    Config c;
    memset(&c, 0, sizeof c);
    c.dim = 256, c.hidden_dim = 688, c.n_layers = 4, c.n_heads = 4, c.n_kv_heads = 2;
    c.head_dim = 64, c.rotary_dim = 64, c.vocab_size = 1024, c.context_length = 256;
    c.rms_eps = 1e-5f, c.rope.freq_base = 10000;
    int context = o->context > 0 ? o->context : c.context_length;
    RopeConfig rope;
    RopeFactorStorage storage;
    char err[ERR_LEN] = "";
    const Config *model = o->model_path ? &c : NULL;
    if (rope_options_resolve(&o->rope, model, context, &rope, &storage, err, sizeof err) != 0) {
        fuzz_check_message(err);
        return;
    }
    FILE *sink = fopen("/dev/null", "w");
    if (!sink) return;
    int seq_len = o->rope.has_seq_len ? o->rope.seq_len : context;
    FUZZ_ASSERT(rope_print_table(sink, &rope, seq_len, 1) == 0, "a validated config did not print");
    rope_print_settings(sink, &rope, context, 0);
    fclose(sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *text = malloc(size + 1), *argv[MAX_WORDS + 1];
    memcpy(text, data, size);
    text[size] = 0;
    int argc = split(text, argv);
    if (argc > 0) {
        RunOptions o;
        char err[ERR_LEN] = "";
        int rc = run_args_parse(&o, argc, argv, err, sizeof err);
        FUZZ_ASSERT(rc == 0 || rc == -1, "run_args_parse returned %d", rc);
        if (rc == 0) resolve(&o);
        else fuzz_check_message(err);
    }
    free(text);
    return 0;
}
