/* run.c — the ./run command: parse the command line, open what the mode needs, and run
 * generation, perplexity, the RoPE table or the benchmark. Every failure ends here as one
 * line on stderr and exit status 1. */
#include <stdio.h>
#include <stdlib.h>

#include "../util/errors.h"
#include "run_args.h"
#include "run_bench.h"
#include "run_generate.h"
#include "run_passkey_trials.h"
#include "run_ppl.h"
#include "run_session.h"
#include "run_tokenize.h"

static int run_perplexity(Session *s, const RunOptions *o, char *err, size_t err_size) {
    int *ids = NULL, n_ids = 0;
    if (ppl_tokenize_file(s->tokenizer, o->ppl.text_path, &ids, &n_ids, err, err_size) != 0)
        return -1;
    PplOptions ppl = o->ppl;
    if (ppl.band_width == 0) ppl.band_width = s->engine.rope.original_context > 0
                                                  ? s->engine.rope.original_context
                                                  : s->model.config.context_length;
    FILE *positions = NULL;
    if (ppl_check(s->transformer, n_ids, &ppl, err, err_size) != 0 ||
        (ppl.positions_path &&
         !(positions = ppl_open_positions(ppl.positions_path, err, err_size)))) {
        free(ids);
        return -1;
    }
    session_announce(s);
    PplResult result = {0};
    int rc = ppl_run(s->transformer, ids, n_ids, tokenizer_bos(s->tokenizer), &ppl, &result,
                     err, err_size);
    if (rc == 0) ppl_print(stdout, &result, &ppl, &s->engine.rope);
    if (positions) {
        if (rc == 0) rc = ppl_write_positions(positions, ppl.positions_path, &result, err, err_size);
        else fclose(positions);
    }
    ppl_result_free(&result);
    free(ids);
    return rc;
}

static int run_mode(const RunOptions *o, char *err, size_t err_size) {
    if (o->mode == RUN_PRINT_ROPE) return run_print_rope(o, err, err_size);
    if (o->mode == RUN_TOKENIZE) return run_tokenize(o, err, err_size);
    if (o->mode == RUN_DETOKENIZE) return run_detokenize(o, err, err_size);
    Session session;
    if (session_open(&session, o, o->mode != RUN_BENCH, err, err_size) != 0) return -1;
    int rc;
    switch (o->mode) {
    case RUN_PERPLEXITY: rc = run_perplexity(&session, o, err, err_size); break;
    case RUN_BENCH: rc = run_bench(&session, o, err, err_size); break;
    case RUN_PASSKEY: rc = run_passkey(&session, o, err, err_size); break;
    default: rc = run_generate(&session, o, err, err_size); break;
    }
    session_close(&session);
    return rc;
}

int main(int argc, char **argv) {
    RunOptions options;
    char err[ERR_LEN] = "";
    int rc = run_args_parse(&options, argc, argv, err, sizeof err);
    if (rc > 0) return 0;
    if (rc == 0) rc = run_mode(&options, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "error: %s\n", err[0] ? err : "unknown failure");
        return 1;
    }
    return 0;
}
