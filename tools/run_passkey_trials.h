/* run_passkey_trials.h — running passkey trials on an open session (run_passkey.h has the
 * test and its flags). */
#ifndef ROPEWALK_RUN_PASSKEY_TRIALS_H
#define ROPEWALK_RUN_PASSKEY_TRIALS_H

#include "run_args.h"
#include "run_session.h"

/* Runs o->passkey.trials trials and prints one line each and the accuracy (or, with --json,
 * one object). 0, or -1 with a message (junk that does not fit, pos outside 0..junk-1). */
int run_passkey(Session *s, const RunOptions *o, char *err, size_t err_size);

#endif
