/* threads.c — the pool: workers sleep on a condition variable, wake for each parallel_for
 * generation, run their slice, and the caller waits until every slice is done. */
#include "threads.h"

#include <pthread.h>
#include <stdlib.h>

#include "../util/errors.h"

struct ThreadPool {
    int n_threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    pthread_cond_t work_done;
    /* the current job, guarded by lock */
    RangeFn fn;
    void *ctx;
    int n_items, chunk;
    unsigned long generation;
    int pending;   /* workers still running the current generation */
    int stopping;
};

typedef struct {
    ThreadPool *pool;
    int index;
} WorkerArg;

static void run_slice(int thread, RangeFn fn, void *ctx, int n, int chunk) {
    int begin = thread * chunk;
    int end = begin + chunk < n ? begin + chunk : n;
    if (begin < end) fn(ctx, begin, end, thread);
}

static void *worker_main(void *arg) {
    WorkerArg *wa = arg;
    ThreadPool *pool = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->stopping && pool->generation == seen)
            pthread_cond_wait(&pool->work_ready, &pool->lock);
        if (pool->stopping) break;
        seen = pool->generation;
        RangeFn fn = pool->fn;
        void *ctx = pool->ctx;
        int n = pool->n_items, chunk = pool->chunk;
        pthread_mutex_unlock(&pool->lock);
        run_slice(index, fn, ctx, n, chunk);
        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0) pthread_cond_signal(&pool->work_done);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

ThreadPool *thread_pool_create(int n_threads, char *err, size_t err_size) {
    if (n_threads < 1 || n_threads > 1024) {
        fail(err, err_size, "thread count %d is out of range 1..1024", n_threads);
        return NULL;
    }
    ThreadPool *pool = calloc(1, sizeof *pool);
    if (!pool) { fail(err, err_size, "out of memory for the thread pool"); return NULL; }
    pool->n_threads = n_threads;
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->work_ready, NULL);
    pthread_cond_init(&pool->work_done, NULL);
    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    for (int i = 1; i < n_threads && pool->workers; i++) {
        WorkerArg *wa = malloc(sizeof *wa);
        if (!wa) break;
        *wa = (WorkerArg){pool, i};
        if (pthread_create(&pool->workers[i], NULL, worker_main, wa) != 0) {
            free(wa);
            pool->n_threads = i; /* keep the ones that started */
            break;
        }
    }
    if (!pool->workers) { thread_pool_free(pool); fail(err, err_size, "out of memory"); return NULL; }
    return pool;
}

void thread_pool_free(ThreadPool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->lock);
    pool->stopping = 1;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->n_threads && pool->workers; i++) pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_ready);
    pthread_cond_destroy(&pool->work_done);
    free(pool->workers);
    free(pool);
}

int thread_pool_size(const ThreadPool *pool) { return pool ? pool->n_threads : 1; }

void parallel_for(ThreadPool *pool, int n, int min_chunk, RangeFn fn, void *ctx) {
    if (n <= 0) return;
    if (min_chunk < 1) min_chunk = 1;
    int threads = pool ? pool->n_threads : 1;
    if (threads > 1 && n / threads < min_chunk) threads = (n + min_chunk - 1) / min_chunk;
    if (threads <= 1) { fn(ctx, 0, n, 0); return; }
    int chunk = (n + threads - 1) / threads;
    pthread_mutex_lock(&pool->lock);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_items = n;
    pool->chunk = chunk;
    pool->pending = pool->n_threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    run_slice(0, fn, ctx, n, chunk);
    pthread_mutex_lock(&pool->lock);
    while (pool->pending > 0) pthread_cond_wait(&pool->work_done, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}
