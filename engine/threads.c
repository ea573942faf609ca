/* threads.c — the pool. A parallel_for publishes the job and bumps a generation counter;
 * workers spin briefly on the counter (a decode step issues dozens of small jobs, and a
 * condition-variable wake-up per job would cost more than the job) and then sleep on a
 * condition variable. The caller runs slice 0 itself and waits for the others. */
#include "threads.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "../util/errors.h"

/* Polling rounds before sleeping. Each round pauses the core (x86 PAUSE: tens of cycles),
 * so 20000 rounds last roughly half a millisecond: longer than any gap between the jobs of
 * one decode step, so a worker only sleeps between steps or when the pool is idle. */
enum { SPIN_ROUNDS = 20000 };

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

struct ThreadPool {
    int n_threads;
    pthread_t *workers;
    pthread_mutex_t lock;
    pthread_cond_t work_ready;
    /* the current job: written by the caller before generation is bumped */
    RangeFn fn;
    void *ctx;
    int n_items, chunk;
    atomic_ulong generation;
    atomic_int pending;   /* workers still running the current generation */
    atomic_int stopping;
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

/* Waits until the generation differs from `seen` (or the pool stops); returns it. */
static unsigned long await_generation(ThreadPool *pool, unsigned long seen) {
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned long g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen || atomic_load(&pool->stopping)) return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->lock);
    unsigned long g;
    while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stopping))
        pthread_cond_wait(&pool->work_ready, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    return g;
}

static void *worker_main(void *arg) {
    WorkerArg *wa = arg;
    ThreadPool *pool = wa->pool;
    int index = wa->index;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        seen = await_generation(pool, seen);
        if (atomic_load(&pool->stopping)) break;
        run_slice(index, pool->fn, pool->ctx, pool->n_items, pool->chunk);
        atomic_fetch_sub_explicit(&pool->pending, 1, memory_order_release);
    }
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
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->pending, 0);
    atomic_init(&pool->stopping, 0);
    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    for (int i = 1; i < n_threads && pool->workers; i++) {
        WorkerArg *wa = malloc(sizeof *wa);
        if (!wa) { pool->n_threads = i; break; }
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
    atomic_store(&pool->stopping, 1);
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i < pool->n_threads && pool->workers; i++) pthread_join(pool->workers[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->work_ready);
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
    pool->fn = fn;
    pool->ctx = ctx;
    pool->n_items = n;
    pool->chunk = chunk;
    atomic_store_explicit(&pool->pending, pool->n_threads - 1, memory_order_relaxed);
    pthread_mutex_lock(&pool->lock);
    atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
    pthread_cond_broadcast(&pool->work_ready);
    pthread_mutex_unlock(&pool->lock);
    run_slice(0, fn, ctx, n, chunk);
    for (long spins = 0; atomic_load_explicit(&pool->pending, memory_order_acquire) > 0; spins++) {
        cpu_relax();
        if (spins > SPIN_ROUNDS) sched_yield();
    }
}

int min_chunk_for_cost(double cost_per_item) {
    enum { MIN_WORK_PER_THREAD = 40000 }; /* multiply-adds: ~10 microseconds */
    if (cost_per_item <= 0) return 1;
    double items = MIN_WORK_PER_THREAD / cost_per_item;
    return items < 1 ? 1 : items > 1e9 ? 1000000000 : (int)items;
}
