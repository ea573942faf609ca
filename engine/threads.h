/* threads.h — a small pthread pool for data-parallel loops: parallel_for splits a range
 * of independent items (matrix rows, attention heads, runs of cached positions) across the
 * workers and the caller. */
#ifndef ROPEWALK_THREADS_H
#define ROPEWALK_THREADS_H

#include <stddef.h>

typedef struct ThreadPool ThreadPool;

/* fn processes items [begin, end); `thread` is 0..n_threads-1, for per-thread scratch. */
typedef void (*RangeFn)(void *ctx, int begin, int end, int thread);

/* n_threads >= 1 (the caller counts as one); NULL with a message on failure. */
ThreadPool *thread_pool_create(int n_threads, char *err, size_t err_size);
void thread_pool_free(ThreadPool *pool);
int thread_pool_size(const ThreadPool *pool);

/* Runs fn over [0, n) in contiguous chunks of at least min_chunk items (a few per thread,
 * taken by whichever thread is free), and returns when all are done. A NULL pool runs
 * everything on the caller. */
void parallel_for(ThreadPool *pool, int n, int min_chunk, RangeFn fn, void *ctx);

/* The min_chunk that makes one contiguous share of n items per thread, for jobs whose
 * items are cheaper done in one run per thread (each sgemm call repacks its operands). */
int one_share_per_thread(const ThreadPool *pool, int n);

/* The min_chunk that gives each thread enough work to be worth waking, for items that
 * cost about cost_per_item multiply-adds each. */
int min_chunk_for_cost(double cost_per_item);

#endif
