/* run_bench.h — ./run --bench: prefill and decode speed at a given cache depth, measured
 * like llama-bench (synthetic token ids, median of repeats). Reports; never judges. */
#ifndef ROPEWALK_RUN_BENCH_H
#define ROPEWALK_RUN_BENCH_H

#include "run_args.h"
#include "run_session.h"

int run_bench(Session *s, const RunOptions *o, char *err, size_t err_size);

#endif
